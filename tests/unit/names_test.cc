// Unit tests for tools/lib/names.{h,cc}: PEP 503 names and the checks that
// keep every file the mirror writes inside packages/.
#include "names.h"
#include "text.h"
#include "url_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace {

const std::string kHash = "4f0c6e1b5b3e0a2f1d9c8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f"; // 60 hex
const std::string kPath = "packages/ab/cd/" + kHash + "/demo_pkg-1.0-py3-none-any.whl";
const std::string kFile = "demo_pkg-1.0-py3-none-any.whl";

TEST(Names, HashFixtureIs60Hex) { ASSERT_EQ(kHash.size(), 60u); }

// compare_normalized agrees in sign with comparing normalize_name's
// results, for every pair of a set of names that differ in case, in
// separator runs and where they end.
TEST(Names, CompareNormalizedAsNormalizeName)
{
	const char *names[] = {"", "-", "a", "A", "a-", "a_", "a.-_", "a-b", "A__B", "a.b", "ab", "a0", "a-0", "-a",
	                       "._a", "zope.interface", "Zope_Interface", "zope-interfaces", "x._", "x", "b", "B-", "~"};
	for (const char *a : names)
		for (const char *b : names) {
			int want = pm::normalize_name(a).compare(pm::normalize_name(b));
			int got = pm::compare_normalized(a, b);
			EXPECT_EQ((want > 0) - (want < 0), (got > 0) - (got < 0)) << "'" << a << "' vs '" << b << "'";
		}
}

TEST(Names, NormalizePep503)
{
	EXPECT_EQ(pm::normalize_name("Foo.Bar-baz"), "foo-bar-baz");
	EXPECT_EQ(pm::normalize_name("zope.interface"), "zope-interface");
	EXPECT_EQ(pm::normalize_name("A__B"), "a-b");
	EXPECT_EQ(pm::normalize_name("friendly-bard"), "friendly-bard");
	EXPECT_EQ(pm::normalize_name("Friendly-Bard"), "friendly-bard");
	EXPECT_EQ(pm::normalize_name("FRIENDLY-BARD"), "friendly-bard");
	EXPECT_EQ(pm::normalize_name("friendly.bard"), "friendly-bard");
	EXPECT_EQ(pm::normalize_name("friendly_bard"), "friendly-bard");
	EXPECT_EQ(pm::normalize_name("friendly--bard"), "friendly-bard");
	EXPECT_EQ(pm::normalize_name("FrIeNdLy-._.-bArD"), "friendly-bard");
	// re.sub(r"[-_.]+", "-", name).lower() keeps leading/trailing runs as one "-".
	EXPECT_EQ(pm::normalize_name("--x--"), "-x-");
	EXPECT_EQ(pm::normalize_name("._x"), "-x");
	EXPECT_EQ(pm::normalize_name("x._"), "x-");
	EXPECT_EQ(pm::normalize_name("-"), "-");
	EXPECT_EQ(pm::normalize_name(""), "");
	EXPECT_EQ(pm::normalize_name("Django2"), "django2");
}

TEST(Names, ValidProjectName)
{
	for (const char *ok : {"a", "A", "9", "requests", "Foo.Bar-baz", "zope.interface", "A__B", "x1-2_3.4"})
		EXPECT_TRUE(pm::valid_project_name(ok)) << ok;
	for (const char *bad : {"", "-x", "x-", ".x", "x.", "_x", "a b", "a/b", "../x", "<script>", "caf\xc3\xa9", "a+b",
	                        "a\tb"})
		EXPECT_FALSE(pm::valid_project_name(bad)) << bad;
	EXPECT_TRUE(pm::valid_project_name(std::string(200, 'a')));
	EXPECT_FALSE(pm::valid_project_name(std::string(201, 'a')));
	EXPECT_FALSE(pm::valid_project_name(std::string("a\0b", 3)));
}

TEST(Names, SafeFilename)
{
	std::string why;
	EXPECT_TRUE(pm::safe_filename(kFile, &why)) << why;
	EXPECT_TRUE(pm::safe_filename("demo-1.0.tar.gz"));
	EXPECT_TRUE(pm::safe_filename("a..b"));
	EXPECT_TRUE(pm::safe_filename("x.")); // only a leading dot hides a file
	EXPECT_TRUE(pm::safe_filename("caf\xc3\xa9.zip")); // UTF-8 is allowed
	EXPECT_TRUE(pm::safe_filename(std::string(255, 'a')));

	struct Case {
		std::string name;
		const char *reason_part;
	} bad[] = {
	    {"", "empty"},
	    {".", "directory"},
	    {"..", "directory"},
	    {".hidden", "dot"},
	    {".demo.whl.123.abc.tmp", "dot"},
	    {"a/b", "separator"},
	    {"/etc", "separator"},
	    {"a\\b", "separator"},
	    {std::string("a\0b", 3), "NUL"},
	    {std::string("ab\0", 3), "NUL"},
	    {"a\nb", "control"},
	    {"a\rb", "control"},
	    {"a\x1b[31mb", "control"},
	    {"a\x7f", "control"},
	    {"a\tb", "control"},
	    {std::string(256, 'a'), "255"},
	};
	for (auto &c : bad) {
		why.clear();
		EXPECT_FALSE(pm::safe_filename(c.name, &why)) << c.name;
		EXPECT_NE(why.find(c.reason_part), std::string::npos) << why;
	}
	EXPECT_FALSE(pm::safe_filename("..")); // why is optional
}

TEST(Names, ValidPackagePath)
{
	std::string why;
	EXPECT_TRUE(pm::valid_package_path(kPath, &why)) << why;
	EXPECT_TRUE(pm::valid_package_path("packages/00/ff/" + kHash + "/x.tar.gz"));

	const std::string bad[] = {
	    "",
	    "packages",
	    "packages/ab/cd/" + kHash,                          // no file
	    "packages/ab/cd/" + kHash + "/",                    // empty file
	    "packages/a/cd/" + kHash + "/" + kFile,             // 1 hex
	    "packages/abc/cd/" + kHash + "/" + kFile,           // 3 hex
	    "packages/ab/c/" + kHash + "/" + kFile,
	    "packages/ab/cd/" + kHash.substr(1) + "/" + kFile,  // 59 hex
	    "packages/ab/cd/" + kHash + "0/" + kFile,           // 61 hex
	    "packages/AB/cd/" + kHash + "/" + kFile,            // upper case
	    "packages/ab/cd/" + std::string(60, 'A') + "/" + kFile,
	    "packages/ab/cd/" + std::string(60, 'g') + "/" + kFile,
	    "packages/ab/cd/" + kHash + "/x/" + kFile,          // extra segment
	    "packages/ab/cd/ef/" + kHash + "/" + kFile,
	    "x/packages/ab/cd/" + kHash + "/" + kFile,
	    "/packages/ab/cd/" + kHash + "/" + kFile,           // absolute
	    "packages//ab/cd/" + kHash + "/" + kFile,
	    "Packages/ab/cd/" + kHash + "/" + kFile,
	    "packages/../..",
	    "packages/../../etc/passwd",
	    "packages/ab/cd/" + kHash + "/..",
	    "packages/ab/cd/" + kHash + "/.hidden",
	    "packages/ab/cd/" + kHash + "/a\\b",
	    std::string("packages/ab/cd/") + kHash + "/a" + std::string(1, '\0') + "b",
	    "packages/ab/cd/" + kHash + "/" + std::string(256, 'a'),
	};
	for (auto &p : bad) {
		why.clear();
		EXPECT_FALSE(pm::valid_package_path(p, &why)) << p;
		EXPECT_FALSE(why.empty()) << p;
	}
}

TEST(Names, PackagePathFromUrl)
{
	std::string path, why;
	const std::string tail = "/packages/ab/cd/" + kHash + "/" + kFile;

	EXPECT_TRUE(pm::package_path_from_url("https://files.pythonhosted.org" + tail, kFile, path, &why)) << why;
	EXPECT_EQ(path, kPath);
	path.clear();
	EXPECT_TRUE(pm::package_path_from_url("http://127.0.0.1:8080" + tail, kFile, path, &why)) << why;
	EXPECT_EQ(path, kPath);
	// A prefix before /packages/ (a mirror under a sub-path) is fine.
	EXPECT_TRUE(pm::package_path_from_url("https://example.org/pypi/files" + tail, kFile, path, &why)) << why;
	EXPECT_EQ(path, kPath);
	// Query strings and fragments are not part of the path.
	EXPECT_TRUE(pm::package_path_from_url("https://h" + tail + "?x=1/../../y#frag", kFile, path, &why)) << why;
	EXPECT_EQ(path, kPath);
	// Percent-encoding of ordinary characters is decoded.
	const std::string plus = "demo+pkg-1.0.tar.gz";
	EXPECT_TRUE(pm::package_path_from_url("https://h/packages/ab/cd/" + kHash + "/demo%2Bpkg-1.0.tar.gz", plus, path,
	                                      &why))
	    << why;
	EXPECT_EQ(path, "packages/ab/cd/" + kHash + "/" + plus);
}

TEST(Names, PackagePathFromUrlRefused)
{
	const std::string tail = "/packages/ab/cd/" + kHash + "/" + kFile;
	struct Case {
		std::string url, filename;
	} bad[] = {
	    {"file://" + tail, kFile},
	    {"file:///srv" + tail, kFile},
	    {"gopher://h" + tail, kFile},
	    {"ftp://h" + tail, kFile},
	    {"not a url", kFile},
	    {"", kFile},
	    {"https://h" + tail, "other-1.0.tar.gz"},                                // filename mismatch
	    {"https://h/packages/ab/cd/" + kHash + "/%2e%2e", ".."},                   // encoded dot-dot file
	    {"https://h/packages/%2e%2e/%2e%2e/" + kHash + "/" + kFile, kFile},        // encoded traversal
	    {"https://h/packages/ab/cd/%2e%2e/" + kFile, kFile},
	    {"https://h/packages/ab/cd/" + kHash + "/a%2Fb.whl", "a/b.whl"},           // encoded slash in name
	    {"https://h/packages/ab/cd/" + kHash + "/a%2Fb.whl", "b.whl"},
	    {"https://h/packages/ab/cd/" + kHash + "/a%2fb.whl", "b.whl"},
	    {"https://h/x/packages/ab/cd/" + kHash + "%2F" + kFile, kFile},            // encoded slash makes a segment
	    {"https://h/packages/ab%2Fcd/" + kHash + "/" + kFile, kFile},
	    {"https://h/packages/ab/cd/" + kHash + "/a%5Cb.whl", "a\\b.whl"},          // encoded backslash
	    {"https://h/packages/ab/cd/" + kHash + "/" + kFile + "%00.txt", kFile},    // encoded NUL
	    {"https://h/packages/ab/cd/" + kHash + "/" + kFile + "%00", kFile},
	    {"https://h/packages/ab/cd/" + kHash + "/%0a" + kFile, "\n" + kFile},      // control char
	    {"https://h/packages/ab/cd/" + kHash + "/", ""},
	    {"https://h/ab/cd/" + kHash + "/" + kFile, kFile},                         // no packages/
	    {"https://h/packages/ab/cd/" + kHash + "/x/" + kFile, kFile},              // extra segment
	    {"https://h/packages/AB/cd/" + kHash + "/" + kFile, kFile},
	    {"https://h/packages/../../etc/passwd", "passwd"},
	};
	for (auto &c : bad) {
		std::string path = "unchanged", why;
		EXPECT_FALSE(pm::package_path_from_url(c.url, c.filename, path, &why)) << c.url << " -> " << path;
		EXPECT_FALSE(why.empty()) << c.url;
	}
}

TEST(Names, HtmlEscape)
{
	EXPECT_EQ(pm::html_escape("plain"), "plain");
	EXPECT_EQ(pm::html_escape(""), "");
	EXPECT_EQ(pm::html_escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&#34;e&#39;f");
	EXPECT_EQ(pm::html_escape("<script>alert('x')</script>"),
	          "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
	EXPECT_EQ(pm::html_escape("&amp;"), "&amp;amp;"); // not idempotent, by design
	EXPECT_EQ(pm::html_escape("caf\xc3\xa9"), "caf\xc3\xa9");
	EXPECT_EQ(pm::html_escape(">=3.8"), "&gt;=3.8");
}

} // namespace

namespace {

TEST(Text, TrimLowerHexval)
{
	EXPECT_EQ(pm::trim(" \t\r\n\f\va b\v "), "a b");
	EXPECT_EQ(pm::trim("   "), "");
	EXPECT_EQ(pm::trim_copy(" x "), "x");
	EXPECT_EQ(pm::lower("MiXeD-ÄSCII_1"), "mixed-Äscii_1");
	EXPECT_EQ(pm::hexval('0'), 0);
	EXPECT_EQ(pm::hexval('f'), 15);
	EXPECT_EQ(pm::hexval('F'), 15);
	EXPECT_EQ(pm::hexval('g'), -1);
	std::string out = "x";
	pm::append_html_escaped(out, "a<b");
	EXPECT_EQ(out, "xa&lt;b");
}

TEST(Names, NormalizeIntoAReusedBuffer)
{
	std::string buf = "left over";
	pm::normalize_name_into("Foo.._Bar-", buf);
	EXPECT_EQ(buf, "foo-bar-");
	EXPECT_EQ(pm::normalize_name("Foo.._Bar-"), "foo-bar-");
	pm::normalize_name_into("", buf);
	EXPECT_EQ(buf, "");
}

} // namespace
