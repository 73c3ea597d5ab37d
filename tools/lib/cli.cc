#include "cli.h"

#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <ctime>

#include "log.h"

namespace pm {

void usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	exit(kExitUsage);
}

void parse_options(const char *prog, const CommandLine &cl, int argc, char **argv,
                   const std::function<void(int c)> &handle)
{
	std::string shortopts;
	for (const option *o = cl.longopts; o->name; o++) {
		if (o->flag || o->val <= 0 || o->val > 127 || !isalnum(o->val)) continue;
		shortopts += static_cast<char>(o->val);
		if (o->has_arg == required_argument) shortopts += ':';
		if (o->has_arg == optional_argument) shortopts += "::";
	}
	int c;
	while ((c = getopt_long(argc, argv, shortopts.c_str(), cl.longopts, nullptr)) != -1) {
		switch (c) {
		case 'h': fputs(cl.usage, stdout); exit(kExitOk);
		case 'V': printf("%s (pypi-mirror) %s\n", prog, PM_VERSION); exit(kExitOk);
		case 'v': log_adjust(-1); break;
		case 'q': log_adjust(+1); break;
		case '?':
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			exit(kExitUsage);
		default: handle(c);
		}
	}
	if (!cl.operands && optind < argc) usage_error(prog, "unexpected argument '%s'", argv[optind]);
}

long long parse_count(const char *prog, const char *opt, const char *arg, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		usage_error(prog, "%s wants a whole number from %lld to %lld, not '%s'", opt, min, max, arg);
	}
	return v;
}

bool MirrorOptions::option(int c, const char *prog, const char *arg)
{
	switch (c) {
	case 'd':
		dir = arg;
		if (dir.empty()) usage_error(prog, "-d wants a directory");
		while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
		return true;
	case kOptConfig: config = arg; return true;
	case kOptFsync: fsync = true; return true;
	default: return false;
	}
}

void MirrorOptions::require(const char *prog) const
{
	if (dir.empty() && config.empty()) usage_error(prog, "-d/--directory DIR is required");
}

long long now_from_env(const char *prog)
{
	const char *e = getenv("PYPI_MIRROR_NOW");
	return e && *e ? parse_count(prog, "PYPI_MIRROR_NOW", e) : static_cast<long long>(time(nullptr));
}

bool now_option(int c, const char *prog, const char *arg, long long &now)
{
	if (c != kOptNow) return false;
	now = parse_count(prog, "--now", arg);
	return true;
}

} // namespace pm
