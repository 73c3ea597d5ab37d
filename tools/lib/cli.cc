#include "cli.h"

#include <cerrno>
#include <cstdarg>
#include <cstring>

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

void no_operands(const char *prog, int argc, char **argv)
{
	if (optind < argc) usage_error(prog, "unexpected argument '%s'", argv[optind]);
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

} // namespace pm
