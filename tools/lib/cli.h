// What every tool shares on its command line: -h/--help, -V/--version,
// -v/--verbose, -q/--quiet, the exit statuses cron is told, and the one way
// tools/lib reports an error.
//
// Errors in tools/lib, one convention (most of the library already used it):
// a function that can fail returns bool and, when it returns false, puts one
// line saying what failed and why (naming the file, URL or project) in a
// std::string out-parameter: `std::string &error`, or `std::string *error =
// nullptr` where some callers have no use for the reason. It neither throws,
// nor exits, nor logs the failure: the tool decides whether it is an error
// record, a log line or the exit status. A class that wraps a stream (a
// reader, a sorter) returns false the same way and keeps the reason in
// error(). An outcome that is not a failure is its own out-parameter (a
// missing file: `bool *missing`; a warning: `std::string *warning`).
// Exceptions, by name or kind: *_or_exit and usage_error() check the command
// line at start-up and exit with kExitUsage; a misuse by the program itself (a
// digest name that does not exist) aborts; a warning that fails nothing (an
// unknown configuration key, a skipped bad line the caller asked to skip) is
// logged where it is found.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <getopt.h>
#include <string>

#include "log.h"

namespace pm {

enum Exit {
	kExitOk = 0,
	kExitSomeFailed = 1, // some records failed; the others went through
	kExitUsage = 2,      // bad options or configuration
	kExitFatal = 3,      // nothing could be done (upstream unreachable, disk)
};

// -h/--help, -V/--version, -v/--verbose, -q/--quiet: every tool takes them
// (optgen.awk ends each table with them) and parse_options handles them.
#define PM_COMMON_LONGOPTS                                                                                           \
	{"help", no_argument, nullptr, 'h'}, {"version", no_argument, nullptr, 'V'},                                   \
	    {"verbose", no_argument, nullptr, 'v'}, {                                                                  \
		"quiet", no_argument, nullptr, 'q'                                                                         \
	}

// A tool's command line, as its one declaration (tools/NAME/options) has it:
// tools/lib/optgen.awk makes build/gen/NAME/options.h of that file, whose
// kCommandLine the tool passes to parse_options.
struct CommandLine {
	// The getopt_long table, ending in an entry of zeros. An option whose
	// value is a letter has that letter as its short form: the short option
	// string is made of the table, so a letter has one owner.
	const option *longopts;
	const char *usage; // the --help text
	bool operands;     // the tool takes operands (else one is a usage error)
};

// Parses the command line: the common options here (-h prints usage and
// exits 0, -V the version; an unknown option or a missing argument is a
// usage error), every other option, in order, to handle(c), c being
// getopt_long's answer (its letter or its constant; its argument is in
// optarg). Then an operand is a usage error unless the tool takes operands
// (they start at optind).
void parse_options(const char *prog, const CommandLine &cl, int argc, char **argv,
                   const std::function<void(int c)> &handle);

// Options several tools take with one meaning, each parsed and checked in
// one place: a tool lists those it takes in its options file and passes
// parse_options' answer to the group's option() before its own switch.
enum { kOptConfig = 0x1100, kOptFsync, kOptNow };

// Where the mirror is and how it is written: -d/--directory DIR (a
// directory, or s3://BUCKET/PREFIX), --config FILE (its [s3] section, and
// with no -d its [mirror] directory: see s3_store_from_options), --fsync
// (what is written is on disk before it is renamed into place).
#define PM_DIRECTORY_LONGOPT {"directory", required_argument, nullptr, 'd'}
#define PM_CONFIG_LONGOPT {"config", required_argument, nullptr, pm::kOptConfig}
#define PM_FSYNC_LONGOPT {"fsync", no_argument, nullptr, pm::kOptFsync}
struct MirrorOptions {
	std::string dir; // without trailing slashes
	std::string config;
	bool fsync = false;
	// Handles -d, --config and --fsync inside a getopt_long loop; true if c
	// was one. An empty DIR is a usage error.
	bool option(int c, const char *prog, const char *arg);
	// For a tool that cannot work without the mirror: -d, or --config to
	// name it, else a usage error.
	void require(const char *prog) const;
};

// --now EPOCH: the time a tool takes for now; its default is
// $PYPI_MIRROR_NOW, else the clock (the variable pins it for a whole run).
#define PM_NOW_LONGOPT {"now", required_argument, nullptr, pm::kOptNow}
// $PYPI_MIRROR_NOW, else the clock; a malformed value is a usage error.
long long now_from_env(const char *prog);
// Handles --now inside a getopt_long loop (sets now); true if c was it.
bool now_option(int c, const char *prog, const char *arg, long long &now);

// A usage error, in the one style of every tool: "PROG: MESSAGE" and a
// pointer to --help on standard error, then exit status 2.
[[noreturn]] void usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Parses a non-negative integer option or exits with a usage error naming it.
long long parse_count(const char *prog, const char *opt, const char *arg, long long min = 0, long long max = 1LL << 60);

} // namespace pm
