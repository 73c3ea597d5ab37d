#include "ini_file.h"

#include <cerrno>
#include <cstdio>

#include <ini.h>

namespace pm {

namespace {

int on_line(void *user, const char *section, const char *name, const char *value)
{
	(*static_cast<const IniValue *>(user))(section, name, value ? value : "");
	return 1;
}

} // namespace

int read_ini(const std::string &path, const IniValue &on_value)
{
	FILE *f = fopen(path.c_str(), "r");
	if (!f) return -1;
	// libinih's switches are globals: set for this parse only.
	const bool inline_comments = ini_allow_inline_comments, multiline = ini_allow_multiline,
	           use_stack = ini_use_stack, allow_realloc = ini_allow_realloc;
	const int max_line = ini_max_line;
	ini_allow_inline_comments = false;
	ini_allow_multiline = true;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 1 << 20;
	int rc = ini_parse_file(f, on_line, const_cast<IniValue *>(&on_value));
	ini_allow_inline_comments = inline_comments;
	ini_allow_multiline = multiline;
	ini_use_stack = use_stack;
	ini_allow_realloc = allow_realloc;
	ini_max_line = max_line;
	int saved = errno;
	fclose(f);
	errno = saved;
	return rc;
}

} // namespace pm
