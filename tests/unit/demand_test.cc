// Unit tests for tools/lib/access_log.{h,cc}: the access-log line parser and
// the project a request names, hostile cases first among them.
#include "access_log.h"

#include <gtest/gtest.h>

#include <string>

namespace {

const char *kLine =
    R"(192.0.2.7 - - [23/Nov/2026:01:30:04 +0000] "GET /simple/Foo_Bar/ HTTP/1.1" 200 1534 "-" "pip/24.0 {\x22ci\x22:null}")";

pm::Ask ask(const std::string &target, std::string &name)
{
	std::string why;
	return pm::project_from_target(target, name, &why);
}

std::string project(const std::string &target)
{
	std::string name;
	return ask(target, name) == pm::Ask::Project ? name : "<" + std::to_string(static_cast<int>(ask(target, name))) + ">";
}

const std::string kNone = "<0>", kHostile = "<2>";

TEST(AccessLog, ParsesCombined)
{
	pm::AccessLine a;
	const char *why = nullptr;
	ASSERT_TRUE(pm::parse_access_line(kLine, a, &why)) << why;
	EXPECT_EQ(a.status, 200);
	EXPECT_EQ(a.method, "GET");
	EXPECT_EQ(a.target, "/simple/Foo_Bar/");
	EXPECT_EQ(a.time, 1795397404); // date -d '2026-11-23 01:30:04Z' +%s
}

TEST(AccessLog, ParsesCommonAndOffsets)
{
	pm::AccessLine a;
	ASSERT_TRUE(pm::parse_access_line(R"(::1 - alice [23/Nov/2026:03:30:04 +0200] "HEAD /pypi/x/json HTTP/2.0" 304 -)", a));
	EXPECT_EQ(a.time, 1795397404);
	EXPECT_EQ(a.status, 304);
	EXPECT_EQ(a.method, "HEAD");
	ASSERT_TRUE(pm::parse_access_line(R"(h - - [22/Nov/2026:20:30:04 -0500] "GET /a" 200 1)", a)); // HTTP/0.9: no protocol
	EXPECT_EQ(a.time, 1795397404);
	EXPECT_EQ(a.target, "/a");
}

TEST(AccessLog, RequestFieldThatIsNoRequest)
{
	pm::AccessLine a;
	// nginx logs what a client sent; a TLS handshake to a plain port is bytes.
	ASSERT_TRUE(pm::parse_access_line(R"(h - - [23/Nov/2026:01:30:04 +0000] "\x16\x03\x01\x02\x00\x01" 400 157 "-" "-")", a));
	EXPECT_EQ(a.status, 400);
	EXPECT_TRUE(a.target.empty());
	ASSERT_TRUE(pm::parse_access_line(R"(h - - [23/Nov/2026:01:30:04 +0000] "-" 400 0 "-" "-")", a));
	EXPECT_TRUE(a.target.empty());
	ASSERT_TRUE(pm::parse_access_line(R"(h - - [23/Nov/2026:01:30:04 +0000] "get /simple/x/ HTTP/1.1" 200 0)", a));
	EXPECT_TRUE(a.method.empty()); // methods are upper case
}

TEST(AccessLog, RefusesMalformedLines)
{
	pm::AccessLine a;
	const char *why = nullptr;
	for (const char *bad : {
	         "",
	         "garbage",
	         "h - - [23/Nov/2026:01:30:04 +0000]",                                 // no request
	         R"(h - - [23/Nov/2026:01:30:04 +0000] "GET / HTTP/1.1)",              // not closed
	         R"(h - - [23/Nov/2026:01:30:04 +0000] "GET / HTTP/1.1" 2000 1)",      // 4-digit status
	         R"(h - - [23/Nov/2026:01:30:04 +0000] "GET / HTTP/1.1" 20x 1)",       // not digits
	         R"(h - - [23/Nov/2026:01:30:04 +0000] "GET / HTTP/1.1" 099 1)",       // out of range
	         R"(h - - [23/Xyz/2026:01:30:04 +0000] "GET / HTTP/1.1" 200 1)",       // no such month
	         R"(h - - [32/Nov/2026:01:30:04 +0000] "GET / HTTP/1.1" 200 1)",       // day
	         R"(h - - [23/Nov/2026:25:30:04 +0000] "GET / HTTP/1.1" 200 1)",       // hour
	         R"(h - - [23/Nov/2026:01:30:04 0000] "GET / HTTP/1.1" 200 1)",        // zone sign
	         R"(h - - [23/Nov/2026:01:30:04 +0000 "GET / HTTP/1.1" 200 1)",        // bracket
	         R"(h - - 23/Nov/2026:01:30:04 +0000] "GET / HTTP/1.1" 200 1)",
	     }) {
		why = nullptr;
		EXPECT_FALSE(pm::parse_access_line(bad, a, &why)) << bad;
		EXPECT_NE(why, nullptr) << bad;
	}
}

TEST(AccessLog, DemandStatuses)
{
	for (int s : {200, 204, 206, 301, 302, 304, 307, 308, 404, 410}) EXPECT_TRUE(pm::demand_status(s)) << s;
	for (int s : {100, 400, 401, 403, 405, 429, 499, 500, 502, 503}) EXPECT_FALSE(pm::demand_status(s)) << s;
}

TEST(AccessLog, ProjectUrls)
{
	EXPECT_EQ(project("/simple/Foo_Bar/"), "foo-bar");
	EXPECT_EQ(project("/simple/foo.bar"), "foo-bar");
	EXPECT_EQ(project("/simple/FOO--bar/index.html"), "foo-bar");
	EXPECT_EQ(project("/simple/foo/index.v1_json"), "foo");
	EXPECT_EQ(project("/simple/foo/?format=json"), "foo");
	EXPECT_EQ(project("//simple///foo//"), "foo"); // nginx merges slashes
	EXPECT_EQ(project("/simple/%46oo/"), "foo");
	EXPECT_EQ(project("/pypi/Django/json"), "django");
	EXPECT_EQ(project("/pypi/django/4.2/json"), "django");
	EXPECT_EQ(project("/json/zope.interface"), "zope-interface");
	EXPECT_EQ(project("http://mirror.example/simple/requests/"), "requests");
	EXPECT_EQ(project("/packages/ab/cd/0123/Demo_Pkg-1.0-py3-none-any.whl"), "demo-pkg");
	EXPECT_EQ(project("/packages/ab/cd/0123/demo_pkg-1.0-py3-none-any.whl.metadata"), "demo-pkg");
	EXPECT_EQ(project("/packages/source/p/python-dateutil/python-dateutil-2.8.2.tar.gz"), "python-dateutil");
}

TEST(AccessLog, NotProjectUrls)
{
	for (const char *t : {"/", "/simple/", "/simple", "/favicon.ico", "/simple/foo/bar", "/pypi/foo", "/pypi/foo/xml",
	                      "*", "/packages/", "/packages/ab/robots.txt", "/last-modified", "/simple/foo/a/b/c"})
		EXPECT_EQ(project(t), kNone) << t;
}

TEST(AccessLog, HostileTargets)
{
	for (const std::string &t : std::initializer_list<std::string>{
	         "/simple/../../etc/passwd", "/simple/./foo/", "/simple/%2e%2e/x/", "/simple/foo%2f..%2fbar/",
	         "/simple/fo%00o/", "/simple/foo%0a/", "/simple/%zz/", "/simple/%4/", "/simple/\\x00foo/",
	         "/simple/\\xzz/", "/simple/foo\\", "/simple/-foo-/", "/simple/foo bar/", "/simple/f\\xc3\\xa9/",
	         "/simple/caf%C3%A9/", "/simple/<script>/", "/simple/foo;rm/", "/pypi/$(id)/json", "/json/..",
	         "/packages/ab/cd/ef/.hidden-1.0.tar.gz", "/packages/ab/cd/ef/-1.0-py3-none-any.whl",
	         "/packages/ab/cd/ef/%00.whl", "/simple/" + std::string(201, 'a') + "/", "/simple/" + std::string(9000, 'a'),
	     })
		EXPECT_EQ(project(t), kHostile) << t;
	// 200 characters is the longest name we take.
	EXPECT_EQ(project("/simple/" + std::string(200, 'a') + "/"), std::string(200, 'a'));
}

TEST(AccessLog, NameIsAlwaysNormalizedAndValid)
{
	// Whatever the bytes, a Project answer carries a clean name.
	std::string name;
	for (int c = 0; c < 256; c++) {
		std::string t = "/simple/a" + std::string(1, static_cast<char>(c)) + "b/";
		if (pm::project_from_target(t, name) == pm::Ask::Project) {
			for (char ch : name) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-') << c;
		}
	}
}

TEST(AccessLog, FilenameToProject)
{
	std::string n;
	auto p = [&](const char *f) { return pm::project_from_filename(f, n) ? n : std::string("<none>"); };
	EXPECT_EQ(p("requests-2.31.0-py3-none-any.whl"), "requests");
	EXPECT_EQ(p("zope.interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl"), "zope-interface");
	EXPECT_EQ(p("Foo_Bar-1.0.tar.gz"), "foo-bar");
	EXPECT_EQ(p("python-dateutil-2.8.2.tar.gz"), "python-dateutil");
	EXPECT_EQ(p("pkg-v1.0.zip"), "pkg");
	EXPECT_EQ(p("setuptools-0.6c11-py2.7.egg"), "setuptools");
	EXPECT_EQ(p("foo-1.0.win32.exe"), "foo");
	EXPECT_EQ(p("foo-1.0.TAR.GZ"), "foo");
	EXPECT_EQ(p("foo-1.0-1.noarch.rpm"), "foo");
	EXPECT_EQ(p("foo-1.0.tar.gz.metadata"), "foo");
	EXPECT_EQ(p("foo.tar.gz"), "<none>");   // no version
	EXPECT_EQ(p("foo-bar.tar.gz"), "<none>"); // no digit after a dash
	EXPECT_EQ(p("foo-1.0.txt"), "<none>");  // not a distribution
	EXPECT_EQ(p("-1.0.tar.gz"), "<none>");
	EXPECT_EQ(p(".-1.0.tar.gz"), "<none>");
	EXPECT_EQ(p("a b-1.0.tar.gz"), "<none>");
	EXPECT_EQ(p("whl"), "<none>");
}

TEST(AccessLog, Durations)
{
	EXPECT_EQ(pm::parse_duration("30d"), 30 * 86400);
	EXPECT_EQ(pm::parse_duration(" 12h "), 12 * 3600);
	EXPECT_EQ(pm::parse_duration("90m"), 5400);
	EXPECT_EQ(pm::parse_duration("45s"), 45);
	EXPECT_EQ(pm::parse_duration("2w"), 14 * 86400);
	EXPECT_EQ(pm::parse_duration("3600"), 3600);
	EXPECT_EQ(pm::parse_duration("0"), 0);
	for (const char *bad : {"", "d", "-1d", "1.5d", "1 d", "1dd", "1y", "abc", "99999999999999d", "1d2h"})
		EXPECT_EQ(pm::parse_duration(bad), -1) << bad;
	EXPECT_EQ(pm::format_duration(30 * 86400), "30d");
	EXPECT_EQ(pm::format_duration(5400), "90m");
	EXPECT_EQ(pm::format_duration(7200), "2h");
	EXPECT_EQ(pm::format_duration(61), "61s");
	EXPECT_EQ(pm::format_duration(0), "0s");
}

} // namespace
