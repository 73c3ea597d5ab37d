#include "log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/time.h>

#include "fsutil.h"

namespace pm {

static Level threshold = [] {
	// PYPI_MIRROR_LOG_LEVEL lets the wrapper set every tool's level at once.
	const char *e = getenv("PYPI_MIRROR_LOG_LEVEL");
	if (e) {
		if (!strcasecmp(e, "debug")) return Level::Debug;
		if (!strcasecmp(e, "warning")) return Level::Warning;
		if (!strcasecmp(e, "error")) return Level::Error;
	}
	return Level::Info;
}();

void log_set_level(Level l) { threshold = l; }
Level log_level() { return threshold; }

void log_adjust(int delta)
{
	int v = static_cast<int>(threshold) + delta;
	if (v < 0) v = 0;
	if (v > 3) v = 3;
	threshold = static_cast<Level>(v);
}

static const char *names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

static const char *prog_name = nullptr;
void log_set_prog(const char *prog) { prog_name = prog; }
const char *log_prog() { return prog_name; }

static void vlog_prefixed(Level l, bool with_prog, const char *fmt, va_list ap)
{
	if (l < threshold) return;
	struct timeval tv;
	gettimeofday(&tv, nullptr);
	std::string stamp = format_time(tv.tv_sec, "%Y-%m-%d %H:%M:%S", false);
	char msg[4096];
	size_t at = 0;
	if (with_prog && prog_name) at = static_cast<size_t>(snprintf(msg, sizeof msg, "%s: ", prog_name));
	if (at < sizeof msg) vsnprintf(msg + at, sizeof msg - at, fmt, ap);
	// Control characters from upstream data must not forge log lines.
	for (char *p = msg; *p; p++)
		if (static_cast<unsigned char>(*p) < 0x20 && *p != '\t') *p = '?';
	// One fprintf call so concurrent tools sharing stderr do not interleave mid-line.
	fprintf(stderr, "%s,%03d %s: %s\n", stamp.c_str(), static_cast<int>(tv.tv_usec / 1000),
	        names[static_cast<int>(l)], msg);
}

void vlogf(Level l, const char *fmt, va_list ap) { vlog_prefixed(l, false, fmt, ap); }

void tool_logf(Level l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_prefixed(l, true, fmt, ap);
	va_end(ap);
}

void logf(Level l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlogf(l, fmt, ap);
	va_end(ap);
}

} // namespace pm
