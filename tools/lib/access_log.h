// The web server's access log, read for demand (pkg-demand(1)): one line of
// nginx's "combined" (or "common") format, the project a request asks for,
// and the durations the demand options take. Pure functions over text, so
// that every hostile byte a client can put in a log is tested here.
#pragma once
#include <string>
#include <string_view>

namespace pm {

// One request, as nginx logs it:
//   ADDR - USER [10/Oct/2026:13:55:36 +0200] "GET /simple/foo/ HTTP/1.1" 200 1234 "REF" "UA"
// Whatever follows the byte count (referer, user agent, custom fields) is
// ignored, so a format that starts like "common" parses too.
struct AccessLine {
	long long time = -1;     // POSIX seconds (the zone offset applied)
	int status = 0;          // 100..599
	std::string_view method; // "" when the request field is not METHOD TARGET [PROTOCOL]
	std::string_view target; // raw, as logged (nginx's \xHH escapes, %XX, query)
};

// Parses one line (without its newline). False, with why set, when it is not
// in the format above; the views point into line.
bool parse_access_line(std::string_view line, AccessLine &out, const char **why = nullptr);

// "10/Oct/2026:13:55:36 +0200" -> POSIX seconds; -1 when it does not parse.
long long parse_log_time(std::string_view s);

// Whether a request with this status is demand: 2xx and 3xx (served, sent to
// upstream by the miss path, or not modified), 404 and 410 (asked for and
// not there: a miss). Other client errors (400, 401, 403, 405, 429, ...)
// and server errors are not counted: they say nothing about the project.
bool demand_status(int status);

enum class Ask {
	None,    // not a project URL (/, /simple/, /favicon.ico, a file of no project)
	Project, // name is set: the normalized project name
	Hostile, // a project URL whose name or path is not acceptable; why is set
};

// The project a request target asks for:
//   /simple/<name>/ (also without the slash, and its index.html, index.v1_html,
//   index.v1_json), /pypi/<name>/json, /pypi/<name>/<version>/json,
//   /json/<name>, and /packages/.../<file> (the file name mapped to its project
//   by project_from_filename). nginx's \xHH escapes and %XX are decoded first,
//   a query string is dropped, runs of "/" count as one (as nginx merges
//   them), and an absolute-form target (http://host/path) is reduced to its
//   path. A "." or ".." segment, a NUL or control byte, a bad escape, a
//   target over 8 KiB or a name that is not a project name is Hostile.
Ask project_from_target(std::string_view target, std::string &name, std::string *why = nullptr);

// The project a distribution file belongs to, by the file name conventions:
// a wheel or egg is NAME-VERSION-..., where NAME holds no "-"; an sdist (and
// the old bdist_wininst/msi/rpm formats) is NAME-VERSION.EXT, where NAME may
// hold "-" (old sdists: python-dateutil-2.8.2.tar.gz) and VERSION starts at
// the first "-" followed by a digit (or "v" and a digit). A trailing
// ".metadata" (PEP 658) is ignored. Heuristic: an old sdist of a project
// whose name has "-" and a digit ("py-3to2-1.0.tar.gz") is taken for "py".
// Sets name (normalized); true when the file has a distribution's extension
// and the result is a valid project name.
bool project_from_filename(std::string_view filename, std::string &name);

// "30d", "12h", "90m", "45s", "2w", or plain seconds; whitespace around is
// allowed, one unit only. -1 when it does not parse or passes 100 years.
long long parse_duration(std::string_view s);
// The shortest exact spelling: 2592000 -> "30d", 5400 -> "90m", 61 -> "61s".
std::string format_duration(long long seconds);

} // namespace pm
