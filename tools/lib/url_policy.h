// URLs the mirror fetches from, parsed with libcurl's URL parser, and the
// one policy they all follow: http or https only, and plain http only when
// the operator allows it (--allow-non-https, PYPI_MIRROR_ALLOW_NON_HTTPS).
#pragma once
#include <string>
#include <vector>

#include "http.h"

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

// The options of every tool that reads from upstream, one meaning in each:
// -u/--upstream URL, --allow-non-https (the policy above), -j/--concurrency
// N (requests in flight), the TLS and credential options of http.h
// (PM_HTTP_LONGOPTS) and, in a tool that follows file URLs, --allow-host
// HOST (another host those may name).
enum { kOptAllowNonHttps = 0x1200, kOptAllowHost };
#define PM_UPSTREAM_LONGOPTS                                                                                         \
	{"upstream", required_argument, nullptr, 'u'}, {"allow-non-https", no_argument, nullptr, pm::kOptAllowNonHttps}, \
	    {"concurrency", required_argument, nullptr, 'j'}, PM_HTTP_LONGOPTS
#define PM_ALLOW_HOST_LONGOPT {"allow-host", required_argument, nullptr, pm::kOptAllowHost}
struct UpstreamOptions {
	const char *upstream = nullptr;       // -u as given
	bool allow_http = false;              // --allow-non-https; resolve() adds the environment's
	std::vector<std::string> extra_hosts; // --allow-host: HOST or HOST:PORT
	int concurrency;                      // -j: the tool's default until given
	int max_concurrency;
	UpstreamOptions(int default_concurrency, int max) : concurrency(default_concurrency), max_concurrency(max) {}
	// Handles one of the options above (http_option's too) inside a
	// getopt_long loop; true if c was one.
	bool option(int c, const char *prog, const char *arg);
	// After the loop: allow_http takes PYPI_MIRROR_ALLOW_NON_HTTPS in (it
	// holds for file URLs too), and the upstream base URL is upstream_or_exit's.
	std::string resolve(const char *prog);
};

// Derives the mirror-relative path ("packages/...") from a file URL whose
// (percent-decoded) path ends in /packages/xx/yy/<hash>/<filename>, and
// checks that the last segment equals the expected filename.
bool package_path_from_url(const std::string &url, const std::string &filename, std::string &path,
                           std::string *why = nullptr);
// The same for a URL parse_url() has already taken apart (check_file_url:
// libcurl's URL parser is most of a file entry's cost, so once, not twice).
bool package_path_from_url(const UrlParts &u, const std::string &filename, std::string &path,
                           std::string *why = nullptr);

} // namespace pm
