// Logging to stderr in the format mirror operators already grep for
// (bandersnatch's): "2026-11-23 01:30:04,592 INFO: Syncing package: foo".
#pragma once
#include <cstdarg>

#include "nocopy.h"

namespace pm {

enum class Level { Debug = 0, Info = 1, Warning = 2, Error = 3 };

// Threshold: messages below it are dropped. -v lowers it, -q raises it.
void log_set_level(Level l);
Level log_level();
// Adjust by a count of -v (negative) / -q (positive) flags.
void log_adjust(int delta);

// The tool's name, set once in main: LOG_TOOL_* lines start with it
// ("pkg-filter: 3 projects read"), the lines about a project do not, as in
// bandersnatch's log ("Syncing package: foo").
void log_set_prog(const char *prog);
const char *log_prog();

// Batching. A line is one write(2) to stderr, and a tool that logs a line
// per file paid one system call for each (and the wrapper's log writer a
// read and a write more). Between log_hold() and log_release() (a tool's
// event loop: pm::Http::run holds it), INFO and DEBUG lines are kept in a
// buffer instead and go out together at log_flush(), which the loop calls
// before it waits (poll, a read of its input): a line is never held while
// the tool sleeps, only for the rest of the turn that produced it. A
// WARNING or ERROR line goes out at once, after the held lines (order is
// kept). The held lines are also written when the buffer fills, at
// log_release(), at exit() and on a fatal signal (abort, a crash, SIGTERM,
// SIGINT, SIGHUP); only SIGKILL loses them, and then only the lines of the
// turn it cut short. Holds nest; they are per thread (another thread's
// lines go out at once).
void log_hold();
void log_release();
void log_flush();
// Other output a tool holds on the same terms (record_loop.h: its records
// in a stdio buffer): fn(arg) runs at every log_flush() of the thread that
// added it, after the held lines. arg is the key to remove it by.
void log_flush_also(void (*fn)(void *), void *arg);
void log_flush_also_remove(void *arg);
struct LogHold : NoCopy {
	LogHold() { log_hold(); }
	~LogHold() { log_release(); }
};

void logf(Level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vlogf(Level l, const char *fmt, va_list ap);

#define LOG_DEBUG(...) ::pm::logf(::pm::Level::Debug, __VA_ARGS__)
#define LOG_INFO(...) ::pm::logf(::pm::Level::Info, __VA_ARGS__)
#define LOG_WARN(...) ::pm::logf(::pm::Level::Warning, __VA_ARGS__)
#define LOG_ERROR(...) ::pm::logf(::pm::Level::Error, __VA_ARGS__)
// The same, prefixed with the tool's name.
void tool_logf(Level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOG_TOOL_DEBUG(...) ::pm::tool_logf(::pm::Level::Debug, __VA_ARGS__)
#define LOG_TOOL_INFO(...) ::pm::tool_logf(::pm::Level::Info, __VA_ARGS__)
#define LOG_TOOL_WARN(...) ::pm::tool_logf(::pm::Level::Warning, __VA_ARGS__)
#define LOG_TOOL_ERROR(...) ::pm::tool_logf(::pm::Level::Error, __VA_ARGS__)

} // namespace pm
