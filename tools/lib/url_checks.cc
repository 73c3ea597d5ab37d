// Checks of URLs given on the command line or by upstream. They parse with
// libcurl's URL parser (parse_url, http.h), so they live apart from cli.cc
// and names.cc: a tool that never talks HTTP (index-write) links those
// without libcurl, whose loading (with the dozens of libraries it pulls in)
// costs tens of milliseconds at every start. See also url_text.cc.
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include "cli.h"
#include "http.h"
#include "names.h"

namespace pm {

std::string upstream_or_exit(const char *prog, const char *arg, bool allow_http)
{
	std::string u = arg && *arg ? arg : "";
	if (u.empty()) {
		const char *e = getenv("PYPI_MIRROR_UPSTREAM");
		u = e && *e ? e : "https://pypi.org";
	}
	const char *ah = getenv("PYPI_MIRROR_ALLOW_NON_HTTPS");
	if (ah && (!strcmp(ah, "1") || !strcasecmp(ah, "true") || !strcasecmp(ah, "yes"))) allow_http = true;
	UrlParts p;
	std::string err;
	if (!parse_url(u, p, &err) || (p.scheme != "https" && p.scheme != "http")) {
		fprintf(stderr, "%s: upstream '%s' is not an http(s) URL\n", prog, u.c_str());
		exit(kExitUsage);
	}
	if (p.scheme == "http" && !allow_http) {
		fprintf(stderr, "%s: upstream '%s' is not https (use --allow-non-https to permit it)\n", prog, u.c_str());
		exit(kExitUsage);
	}
	while (!u.empty() && u.back() == '/') u.pop_back();
	return u;
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
	if (u.scheme != "https" && u.scheme != "http") {
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
