// Unit tests for tools/lib/ini_file.{h,cc}: the one INI reader, as
// configparser reads (no inline comments, continuation lines, long lines).
#include "ini_file.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <unistd.h>

#include "fsutil.h"

namespace {

std::string read(const std::string &text, int *rc)
{
	char tmpl[] = "/tmp/pm-ini-XXXXXX";
	int fd = mkstemp(tmpl);
	EXPECT_GE(fd, 0);
	close(fd);
	EXPECT_TRUE(pm::write_file_atomic(tmpl, text, false));
	std::string out;
	*rc = pm::read_ini(tmpl, [&](const char *s, const char *k, const char *v) {
		out += std::string("[") + s + "]" + k + "=" + v + "|";
	});
	unlink(tmpl);
	return out;
}

TEST(IniFile, ReadsAsConfigparserDoes)
{
	int rc;
	std::string longline(100000, 'x');
	EXPECT_EQ(read("k0 = orphan\n[mirror]\ndirectory = /srv ; not a comment\n# comment\n[blocklist]\npackages =\n"
	               "    a\n    b\nlong = " + longline + "\n",
	               &rc),
	          "[]k0=orphan|[mirror]directory=/srv ; not a comment|[blocklist]packages=|[blocklist]packages=a|"
	          "[blocklist]packages=b|[blocklist]long=" + longline + "|");
	EXPECT_EQ(rc, 0);
	read("[a]\nk = 1\nnot a key line\n", &rc);
	EXPECT_EQ(rc, 3);
	EXPECT_EQ(pm::read_ini("/nonexistent/x.conf", [](const char *, const char *, const char *) {}), -1);
	EXPECT_EQ(errno, ENOENT);
}

} // namespace
