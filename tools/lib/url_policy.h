// URLs the mirror fetches from, parsed with libcurl's URL parser, and the
// one policy they all follow: http or https only, and plain http only when
// the operator allows it (--allow-non-https, PYPI_MIRROR_ALLOW_NON_HTTPS).
#pragma once
#include <string>

namespace pm {

struct UrlParts {
	std::string scheme, host, port, path, query; // path percent-decoded
	std::string raw_path;                        // path as sent
};
bool parse_url(const std::string &url, UrlParts &out, std::string *error = nullptr);
// A link on a page (absolute, or relative to the page's URL as RFC 3986
// resolves it) made absolute; false if either does not parse.
bool resolve_url(const std::string &page_url, const std::string &ref, std::string &out);

// scheme://host[:port], lower-cased, for same-origin checks.
std::string url_origin(const std::string &url);

// PYPI_MIRROR_ALLOW_NON_HTTPS is set to 1, true or yes.
bool allow_non_https_env();

// Whether the policy lets a parsed URL be fetched; if not, error says why
// ("not an http(s) URL", "not https (use --allow-non-https to permit it)").
bool check_scheme(const UrlParts &u, bool allow_http, std::string *error = nullptr);

// An operator-given base URL (what names it: "upstream", "--download-mirror")
// under the policy (allow_http, or the environment's permission), without
// trailing slashes; exits with a usage error naming it otherwise.
std::string base_url_or_exit(const char *prog, const char *what, std::string url, bool allow_http);

// Upstream base URL from -u or PYPI_MIRROR_UPSTREAM, default https://pypi.org,
// through base_url_or_exit.
std::string upstream_or_exit(const char *prog, const char *arg, bool allow_http);

// Derives the mirror-relative path ("packages/...") from a file URL whose
// (percent-decoded) path ends in /packages/xx/yy/<hash>/<filename>, and
// checks that the last segment equals the expected filename.
bool package_path_from_url(const std::string &url, const std::string &filename, std::string &path,
                           std::string *why = nullptr);

} // namespace pm
