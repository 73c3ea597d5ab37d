#include "cli.h"

#include <cerrno>
#include <cstring>

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

} // namespace pm
