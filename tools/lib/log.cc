#include "log.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>
#include <sys/time.h>
#include <unistd.h>

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

namespace {

// The held lines (see log_hold in log.h): room for a busy turn of an event
// loop (a few hundred lines); a line that does not fit sends the rest first.
constexpr size_t kHeldBytes = 64 << 10;
char held[kHeldBytes];
// The bytes of whole lines in held. A line is copied in before the length
// covers it, so a signal handler writing held[0, held_len) never sends half
// a line. (A lock-free atomic is safe to read in a handler.)
std::atomic<size_t> held_len{0};
std::mutex held_mu; // appends and flushes (threads); the handler does not lock
thread_local int hold_depth = 0;
// log_flush_also(): per thread, as the output they flush is that thread's.
struct FlushAlso {
	void (*fn)(void *);
	void *arg;
};
thread_local std::vector<FlushAlso> flush_also;

// stderr is unbuffered, so nothing of ours waits in stdio: write(2) directly.
void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(2, p, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			return; // stderr is gone: there is nobody left to tell
		}
		p += w;
		n -= static_cast<size_t>(w);
	}
}

void flush_locked()
{
	size_t n = held_len.load();
	if (n == 0) return;
	write_all(held, n);
	held_len.store(0);
}

// Signals that end the process: the held lines go out first. A signal the
// process ignores (the wrapper's log writer ignores INT and TERM) stays
// ignored; the handler that was there before (the default, or a
// sanitizer's) is put back and gets the signal next.
const int kFatalSignals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT, SIGHUP};
struct sigaction previous[NSIG];

void on_fatal(int sig, siginfo_t *info, void *)
{
	int saved = errno;
	size_t n = held_len.exchange(0);
	if (n > 0) write_all(held, n);
	sigaction(sig, &previous[sig], nullptr);
	errno = saved;
	// A fault the kernel raised happens again when the handler returns, now
	// handled as before (a sanitizer reports it where it happened); any
	// other signal is raised again.
	bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
	if (!fault || info->si_code <= 0) raise(sig);
}

void install_once()
{
	static std::once_flag once;
	std::call_once(once, [] {
		atexit([] {
			std::lock_guard<std::mutex> g(held_mu);
			flush_locked();
		});
		for (int sig : kFatalSignals) {
			struct sigaction old;
			if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) continue;
			previous[sig] = old;
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_sigaction = on_fatal;
			sa.sa_flags = SA_SIGINFO | SA_ONSTACK; // a sanitizer's stack for a stack overflow
			sigemptyset(&sa.sa_mask);
			sigaction(sig, &sa, nullptr);
		}
	});
}

} // namespace

void log_hold()
{
	install_once();
	hold_depth++;
}

void log_release()
{
	if (hold_depth > 0 && --hold_depth == 0) log_flush();
}

void log_flush()
{
	if (held_len.load() != 0) { // the common case skips the lock
		std::lock_guard<std::mutex> g(held_mu);
		flush_locked();
	}
	for (size_t i = 0; i < flush_also.size(); i++) flush_also[i].fn(flush_also[i].arg);
}

void log_flush_also(void (*fn)(void *), void *arg) { flush_also.push_back({fn, arg}); }

void log_flush_also_remove(void *arg)
{
	for (size_t i = 0; i < flush_also.size(); i++)
		if (flush_also[i].arg == arg) {
			flush_also.erase(flush_also.begin() + static_cast<long>(i));
			return;
		}
}

static void vlog_prefixed(Level l, bool with_prog, const char *fmt, va_list ap)
{
	if (l < threshold) return;
	int saved_errno = errno; // a caller may still want it after logging
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
	// The whole line in one buffer and one write: concurrent tools sharing
	// stderr do not interleave mid-line.
	char line[sizeof msg + 64];
	int n = snprintf(line, sizeof line, "%s,%03d %s: %s\n", stamp.c_str(), static_cast<int>(tv.tv_usec / 1000),
	                 names[static_cast<int>(l)], msg);
	size_t len = n < 0 ? 0 : std::min(static_cast<size_t>(n), sizeof line - 1);
	{
		std::lock_guard<std::mutex> g(held_mu);
		size_t h = held_len.load();
		if (hold_depth > 0 && l < Level::Warning) {
			if (h + len > kHeldBytes) {
				flush_locked();
				h = 0;
			}
			memcpy(held + h, line, len);
			held_len.store(h + len);
		} else {
			flush_locked(); // what was held comes first
			write_all(line, len);
		}
	}
	errno = saved_errno;
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
