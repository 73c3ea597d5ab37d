// The one reader of INI files (pypi-mirror.conf, bandersnatch.conf, filter
// sections): libinih set up to read as Python's configparser does, which is
// how bandersnatch reads the same files.
#pragma once
#include <functional>
#include <string>

namespace pm {

// Called once per value line: a multi-line (continued) value comes as
// several calls with the same section and name, as does a repeated key. A
// key before any [section] header comes with section "".
using IniValue = std::function<void(const char *section, const char *name, const char *value)>;

// Reads path: ";" later in a line is part of the value, continuation lines
// continue a value, and lines (long regular expressions, requirement lists)
// have no length limit. Returns 0, -1 when the file cannot be opened (errno
// set), or the number of the first line that does not parse.
int read_ini(const std::string &path, const IniValue &on_value);

} // namespace pm
