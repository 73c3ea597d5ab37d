#include "url_policy.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include <curl/curl.h>

#include "cli.h"
#include "http.h"
#include "names.h"
#include "text.h"

namespace pm {

bool parse_url(const std::string &url, UrlParts &out, std::string *error)
{
	http_global_init();
	CURLU *u = curl_url();
	CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
	if (rc != CURLUE_OK) {
		if (error) *error = std::string("bad URL: ") + curl_url_strerror(rc);
		curl_url_cleanup(u);
		return false;
	}
	auto get = [&](CURLUPart part, unsigned flags) {
		char *s = nullptr;
		std::string v;
		if (curl_url_get(u, part, &s, flags) == CURLUE_OK && s) v = s;
		curl_free(s);
		return v;
	};
	out.scheme = get(CURLUPART_SCHEME, 0);
	out.host = get(CURLUPART_HOST, 0);
	out.port = get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
	out.raw_path = get(CURLUPART_PATH, 0);
	out.path = get(CURLUPART_PATH, CURLU_URLDECODE);
	out.query = get(CURLUPART_QUERY, 0);
	lower_in_place(out.scheme);
	lower_in_place(out.host);
	curl_url_cleanup(u);
	return true;
}

bool resolve_url(const std::string &page_url, const std::string &ref, std::string &out)
{
	http_global_init();
	CURLU *u = curl_url();
	bool ok = curl_url_set(u, CURLUPART_URL, page_url.c_str(), 0) == CURLUE_OK &&
	          curl_url_set(u, CURLUPART_URL, ref.c_str(), 0) == CURLUE_OK;
	char *s = nullptr;
	if (ok) ok = curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK && s;
	if (ok) out = s;
	curl_free(s);
	curl_url_cleanup(u);
	return ok;
}

std::string url_origin(const std::string &url)
{
	UrlParts p;
	if (!parse_url(url, p)) return "";
	return p.scheme + "://" + p.host + ":" + p.port;
}

bool allow_non_https_env()
{
	const char *e = getenv("PYPI_MIRROR_ALLOW_NON_HTTPS");
	return e && (!strcmp(e, "1") || !strcasecmp(e, "true") || !strcasecmp(e, "yes"));
}

bool check_scheme(const UrlParts &u, bool allow_http, std::string *error)
{
	if (u.scheme == "https" || (u.scheme == "http" && allow_http)) return true;
	if (error) *error = u.scheme == "http" ? "not https (use --allow-non-https to permit it)" : "not an http(s) URL";
	return false;
}

namespace {

// user[:password]@ in a URL: it would be printed wherever the URL is.
bool has_userinfo(const std::string &url)
{
	http_global_init();
	CURLU *u = curl_url();
	bool has = false;
	if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
		char *s = nullptr;
		has = curl_url_get(u, CURLUPART_USER, &s, 0) == CURLUE_OK && s;
		curl_free(s);
	}
	curl_url_cleanup(u);
	return has;
}

} // namespace

std::string base_url_or_exit(const char *prog, const char *what, std::string url, bool allow_http)
{
	// Not echoed: the URL holds a secret.
	if (has_userinfo(url))
		usage_error(prog, "%s carries credentials (user@host): logs and records would show them; give them in "
		                  "the environment or a netrc file (see pypi-mirror.conf(5))",
		            what);
	UrlParts p;
	std::string why = "not an http(s) URL";
	if (!parse_url(url, p) || p.host.empty() || !check_scheme(p, allow_http || allow_non_https_env(), &why)) {
		usage_error(prog, "%s '%s' is %s", what, url.c_str(), why.c_str());
	}
	while (!url.empty() && url.back() == '/') url.pop_back();
	return url;
}

std::string upstream_or_exit(const char *prog, const char *arg, bool allow_http)
{
	std::string u = arg && *arg ? arg : "";
	if (u.empty()) {
		const char *e = getenv("PYPI_MIRROR_UPSTREAM");
		u = e && *e ? e : "https://pypi.org";
	}
	u = base_url_or_exit(prog, "upstream", u, allow_http);
	http_set_upstream(u); // the origin credentials go to
	return u;
}

bool UpstreamOptions::option(int c, const char *prog, const char *arg)
{
	switch (c) {
	case 'u': upstream = arg; return true;
	case kOptAllowNonHttps: allow_http = true; return true;
	case 'j': concurrency = static_cast<int>(parse_count(prog, "--concurrency", arg, 1, max_concurrency)); return true;
	case kOptAllowHost:
		// A host for a same-origin check: nothing of a URL but the authority.
		if (!*arg || strpbrk(arg, "/@?# "))
			usage_error(prog, "--allow-host wants a host name (or HOST:PORT), not '%s'", arg);
		extra_hosts.push_back(arg);
		return true;
	default: return http_option(c, prog, arg);
	}
}

std::string UpstreamOptions::resolve(const char *prog)
{
	if (allow_non_https_env()) allow_http = true;
	return upstream_or_exit(prog, upstream, allow_http);
}

bool package_path_from_url(const std::string &url, const std::string &filename, std::string &path,
                           std::string *why)
{
	UrlParts u;
	std::string err;
	if (!parse_url(url, u, &err)) {
		if (why) *why = err;
		return false;
	}
	return package_path_from_url(u, filename, path, why);
}

bool package_path_from_url(const UrlParts &u, const std::string &filename, std::string &path, std::string *why)
{
	if (!check_scheme(u, true)) {
		if (why) *why = "URL scheme " + u.scheme + " is not http(s)";
		return false;
	}
	// An encoded "/" would make decoded segments that upstream does not have
	// (".../<hash>%2Ffile" is one segment there, two here): refuse it.
	for (size_t i = 0; i + 2 < u.raw_path.size(); i++) {
		if (u.raw_path[i] == '%' && u.raw_path[i + 1] == '2' && (u.raw_path[i + 2] == 'F' || u.raw_path[i + 2] == 'f')) {
			if (why) *why = "URL path contains an encoded slash: " + u.raw_path;
			return false;
		}
	}
	// Only the decoded path counts: "%2e%2e" is ".." by then, and refused.
	auto pos = u.path.rfind("/packages/");
	// The packages part must be the last 5 segments; find it by counting.
	size_t cut = std::string::npos;
	int slashes = 0;
	for (size_t i = u.path.size(); i-- > 0;) {
		if (u.path[i] == '/' && ++slashes == 5) {
			cut = i;
			break;
		}
	}
	if (cut == std::string::npos || pos == std::string::npos || cut != pos) {
		if (why) *why = "URL path is not /packages/xx/yy/<hash>/<file>: " + u.path;
		return false;
	}
	path = u.path.substr(cut + 1);
	if (!valid_package_path(path, why)) return false;
	if (path.substr(path.rfind('/') + 1) != filename) {
		if (why) *why = "URL names a different file than " + filename;
		return false;
	}
	return true;
}

} // namespace pm
