#include "cli.h"

#include <cerrno>
#include <cstring>

#include "http.h"
#include "log.h"

namespace pm {

long long parse_count(const char *prog, const char *opt, const char *arg, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "%s: %s wants a whole number from %lld to %lld, not '%s'\n", prog, opt, min, max, arg);
		exit(kExitUsage);
	}
	return v;
}

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

} // namespace pm
