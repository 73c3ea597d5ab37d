// Pure checks mirror-verify(1) makes on what it reads from a mirror: where a
// page's link leads, whether a file name is a temporary a writer left, and
// how an arbitrary path is shown in a record. Kept here to be unit tested.
#pragma once
#include <string>
#include <string_view>

namespace pm {

// The mirror path (relative to web/, "packages/xx/yy/<hash>/<filename>") a
// link in the page of project NAME (web/simple/NAME/) leads to. Accepted:
// a relative link that climbs out of the page directory with a leading
// run of "../" and then goes down into packages/, or an absolute URL or path
// (a --root-uri mirror) ending in /packages/xx/yy/<hash>/<file>, with no "."
// or ".." segment anywhere else, no query, and a last segment that decodes to
// filename. Anything else is refused with why: verify reports it and never
// follows it.
bool page_link_path(const std::string &url, const std::string &filename, std::string &path, std::string *why);

// Whether name (one directory entry) is a temporary as pm::AtomicFile makes
// them: ".<target>.<pid>.<8 hex>.tmp". Sets pid and target.
bool parse_temp_name(std::string_view name, long &pid, std::string *target = nullptr);

// Whether the process pid is alive (EPERM counts as alive: another user's).
bool pid_alive(long pid);

// s as text fit for a JSON string and a log line: printable ASCII and valid
// UTF-8 stay, every other byte becomes \xNN (so odd names are shown, never
// passed through raw).
std::string printable_path(std::string_view s);

} // namespace pm
