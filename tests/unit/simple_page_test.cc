// Unit tests for tools/lib/simple_page.{h,cc} (project and root pages) and
// tools/lib/index_root.{h,cc} (the root list index-write keeps).
#include "simple_page.h"
#include "text.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>
#include <vector>

#include <rapidjson/document.h>

#include "fsutil.h"
#include "index_root.h"
#include "names.h"

namespace {

const std::string kHashPath = "packages/ab/cd/" + std::string(60, 'e') + "/";
const std::string kSha(64, 'a');
const std::string kMeta(64, 'c');

pm::FileEntry file(const std::string &name, const std::string &version)
{
	pm::FileEntry f;
	f.filename = name;
	f.version = version;
	f.path = kHashPath + name;
	f.url = "https://files.example/" + f.path;
	f.sha256 = kSha;
	f.size = 1234;
	f.upload_time = "2024-01-02T03:04:05.123456Z";
	return f;
}

pm::ProjectRecord demo()
{
	pm::ProjectRecord r;
	r.type = "project";
	r.name = "demo-pkg";
	r.display_name = "Demo_Pkg";
	r.serial = 100;
	r.resolved = true;
	auto whl = file("demo_pkg-1.0-py3-none-any.whl", "1.0");
	whl.requires_python = ">=3.8";
	whl.has_requires_python = true;
	whl.core_metadata = kMeta;
	auto sdist = file("demo_pkg-1.0.tar.gz", "1.0");
	auto old = file("demo_pkg-0.9.tar.gz", "0.9");
	old.yanked = true;
	old.yanked_reason = "bad \"<b>build</b>\" & 'worse'";
	auto older = file("demo_pkg-0.10.tar.gz", "0.10");
	older.yanked = true;
	r.files = {sdist, whl, old, older};
	return r;
}

rapidjson::Document parse(const std::string &s)
{
	rapidjson::Document d;
	d.Parse(s.c_str(), s.size());
	EXPECT_FALSE(d.HasParseError()) << s;
	return d;
}

std::string tmpdir()
{
	char t[] = "/tmp/simple_page_test.XXXXXX";
	EXPECT_NE(mkdtemp(t), nullptr);
	return t;
}

TEST(FileUrl, RelativeAndRootUri)
{
	auto f = file("demo_pkg-1.0.tar.gz", "1.0");
	EXPECT_EQ(pm::file_url(f, ""), "../../" + f.path);
	EXPECT_EQ(pm::file_url(f, "https://mirror.example/pypi/"), "https://mirror.example/pypi/" + f.path);
	EXPECT_EQ(pm::file_url(f, "https://mirror.example"), "https://mirror.example/" + f.path);
}

TEST(FileUrl, FileNameIsPercentEncoded)
{
	auto f = file("odd#name?x%.tar.gz", "1");
	EXPECT_EQ(pm::file_url(f, ""), "../../" + kHashPath + "odd%23name%3Fx%25.tar.gz");
}

TEST(ProjectHtml, Structure)
{
	std::string h = pm::render_project_html(demo(), 4242, "");
	EXPECT_EQ(h.rfind("<!DOCTYPE html>\n", 0), 0u);
	EXPECT_NE(h.find("<meta name=\"pypi:repository-version\" content=\"1.4\">"), std::string::npos);
	EXPECT_NE(h.find("<title>Links for Demo_Pkg</title>"), std::string::npos);
	EXPECT_NE(h.find("<h1>Links for Demo_Pkg</h1>"), std::string::npos);
	// Trailer like PyPI's.
	EXPECT_EQ(h.substr(h.size() - 18), "<!--SERIAL 4242-->");
	// Sorted by filename.
	size_t a = h.find(">demo_pkg-0.10.tar.gz<"), b = h.find(">demo_pkg-0.9.tar.gz<"),
	       c = h.find(">demo_pkg-1.0-py3-none-any.whl<"), d = h.find(">demo_pkg-1.0.tar.gz<");
	ASSERT_NE(a, std::string::npos);
	EXPECT_LT(a, b);
	EXPECT_LT(b, c);
	EXPECT_LT(c, d);
}

TEST(ProjectHtml, ExactLinkLines)
{
	std::string h = pm::render_project_html(demo(), 1, "");
	EXPECT_NE(h.find("<a href=\"../../" + kHashPath + "demo_pkg-1.0-py3-none-any.whl#sha256=" + kSha +
	                 "\" data-requires-python=\"&gt;=3.8\" data-dist-info-metadata=\"sha256=" + kMeta +
	                 "\" data-core-metadata=\"sha256=" + kMeta + "\">demo_pkg-1.0-py3-none-any.whl</a><br />\n"),
	          std::string::npos)
	    << h;
	EXPECT_NE(h.find("<a href=\"../../" + kHashPath + "demo_pkg-1.0.tar.gz#sha256=" + kSha +
	                 "\">demo_pkg-1.0.tar.gz</a><br />\n"),
	          std::string::npos);
	// Yanked without a reason: the attribute is there, empty.
	EXPECT_NE(h.find("demo_pkg-0.10.tar.gz#sha256=" + kSha + "\" data-yanked=\"\">"), std::string::npos);
}

TEST(ProjectHtml, EscapesHostileStrings)
{
	auto r = demo();
	r.display_name = "Demo_Pkg"; // display names are validated by parse_record; the title is escaped anyway
	r.files[0].requires_python = "<script>alert(1)</script>";
	r.files[0].has_requires_python = true;
	std::string h = pm::render_project_html(r, 1, "");
	EXPECT_EQ(h.find("<script>"), std::string::npos);
	EXPECT_NE(h.find("data-requires-python=\"&lt;script&gt;alert(1)&lt;/script&gt;\""), std::string::npos);
	EXPECT_NE(h.find("data-yanked=\"bad &#34;&lt;b&gt;build&lt;/b&gt;&#34; &amp; &#39;worse&#39;\""),
	          std::string::npos)
	    << h;
	EXPECT_EQ(h.find("<b>"), std::string::npos);

	pm::ProjectRecord t;
	t.name = "x";
	t.display_name = "<i>x</i>";
	EXPECT_NE(pm::render_project_html(t, 1, "").find("Links for &lt;i&gt;x&lt;/i&gt;"), std::string::npos);
}

TEST(ProjectHtml, HostileFilenameInTextAndHref)
{
	pm::ProjectRecord r;
	r.name = "x";
	r.files = {file("x-1.0<img src=a onerror=b>.tar.gz", "1.0")};
	std::string h = pm::render_project_html(r, 1, "");
	EXPECT_EQ(h.find("<img"), std::string::npos);
	EXPECT_NE(h.find(">x-1.0&lt;img src=a onerror=b&gt;.tar.gz</a>"), std::string::npos);
	EXPECT_NE(h.find("x-1.0%3Cimg%20src%3Da%20onerror%3Db%3E.tar.gz#sha256="), std::string::npos);
}

TEST(ProjectHtml, RootUri)
{
	std::string h = pm::render_project_html(demo(), 1, "https://m.example/root/");
	EXPECT_NE(h.find("href=\"https://m.example/root/" + kHashPath + "demo_pkg-1.0.tar.gz#sha256="), std::string::npos);
	EXPECT_EQ(h.find("../../"), std::string::npos);
}

TEST(ProjectJson, Pep691AndPep700)
{
	auto d = parse(pm::render_project_json(demo(), 4242, ""));
	ASSERT_TRUE(d.IsObject());
	EXPECT_STREQ(d["name"].GetString(), "demo-pkg");
	EXPECT_STREQ(d["meta"]["api-version"].GetString(), "1.4");
	ASSERT_TRUE(d["meta"]["_last-serial"].IsInt64());
	EXPECT_EQ(d["meta"]["_last-serial"].GetInt64(), 4242);
	auto &v = d["versions"];
	ASSERT_EQ(v.Size(), 3u);
	EXPECT_STREQ(v[0].GetString(), "0.9");
	EXPECT_STREQ(v[1].GetString(), "0.10");
	EXPECT_STREQ(v[2].GetString(), "1.0");
	auto &files = d["files"];
	ASSERT_EQ(files.Size(), 4u);
	EXPECT_STREQ(files[0]["filename"].GetString(), "demo_pkg-0.10.tar.gz");
	EXPECT_TRUE(files[0]["yanked"].IsBool() && files[0]["yanked"].GetBool());
	EXPECT_STREQ(files[1]["yanked"].GetString(), "bad \"<b>build</b>\" & 'worse'");
	auto &whl = files[2];
	EXPECT_STREQ(whl["filename"].GetString(), "demo_pkg-1.0-py3-none-any.whl");
	EXPECT_STREQ(whl["url"].GetString(), ("../../" + kHashPath + "demo_pkg-1.0-py3-none-any.whl").c_str());
	EXPECT_STREQ(whl["hashes"]["sha256"].GetString(), kSha.c_str());
	EXPECT_STREQ(whl["requires-python"].GetString(), ">=3.8");
	EXPECT_EQ(whl["size"].GetInt64(), 1234);
	EXPECT_STREQ(whl["upload-time"].GetString(), "2024-01-02T03:04:05.123456Z");
	EXPECT_STREQ(whl["core-metadata"]["sha256"].GetString(), kMeta.c_str());
	EXPECT_STREQ(whl["data-dist-info-metadata"]["sha256"].GetString(), kMeta.c_str());
	EXPECT_TRUE(whl["yanked"].IsFalse());
	auto &sdist = files[3];
	EXPECT_TRUE(sdist["core-metadata"].IsFalse());
	EXPECT_TRUE(sdist["data-dist-info-metadata"].IsFalse());
	EXPECT_TRUE(sdist["requires-python"].IsNull());
}

TEST(ProjectJson, VersionsOnlyWithFilesAndEmptyProject)
{
	pm::ProjectRecord r;
	r.name = "empty";
	auto d = parse(pm::render_project_json(r, 7, ""));
	EXPECT_EQ(d["files"].Size(), 0u);
	EXPECT_EQ(d["versions"].Size(), 0u);
}

TEST(ProjectJson, HostileStringsStayValidJson)
{
	auto r = demo();
	r.files[0].requires_python = "\"}]<script>\\\n\x01";
	r.files[0].has_requires_python = true;
	auto d = parse(pm::render_project_json(r, 1, ""));
	bool found = false;
	for (auto &f : d["files"].GetArray())
		if (f["requires-python"].IsString() && std::string(f["requires-python"].GetString()) == r.files[0].requires_python)
			found = true;
	EXPECT_TRUE(found);
}

TEST(PathFromLink, Shapes)
{
	std::string p, f = "demo_pkg-1.0.tar.gz";
	EXPECT_TRUE(pm::path_from_link("../../" + kHashPath + f + "#sha256=" + kSha, f, p));
	EXPECT_EQ(p, kHashPath + f);
	EXPECT_TRUE(pm::path_from_link("https://files.example/root/" + kHashPath + f, f, p));
	EXPECT_TRUE(pm::path_from_link("/" + kHashPath + f + "?x=1", f, p));
	EXPECT_TRUE(pm::path_from_link(kHashPath + f, f, p));
	EXPECT_TRUE(pm::path_from_link(kHashPath + "a%23b.tar.gz", "a#b.tar.gz", p));
	EXPECT_EQ(p, kHashPath + "a#b.tar.gz");
}

TEST(PathFromLink, RefusesOthers)
{
	std::string p, f = "demo_pkg-1.0.tar.gz";
	EXPECT_FALSE(pm::path_from_link("../../" + kHashPath + f, "other.tar.gz", p));
	EXPECT_FALSE(pm::path_from_link("../../xpackages/ab/cd/" + std::string(60, 'e') + "/" + f, f, p));
	EXPECT_FALSE(pm::path_from_link("../../packages/ab/cd/" + std::string(59, 'e') + "/" + f, f, p));
	EXPECT_FALSE(pm::path_from_link("../../packages/ab/cd/" + std::string(60, 'e') + "/..%2F..%2Fetc", "../../etc", p));
	EXPECT_FALSE(pm::path_from_link("../../packages/ab/cd/" + std::string(60, 'e') + "/%2e%2e", "..", p));
	EXPECT_FALSE(pm::path_from_link("../../packages/zz/cd/" + std::string(60, 'e') + "/" + f, f, p));
	EXPECT_FALSE(pm::path_from_link(f, f, p));
	EXPECT_FALSE(pm::path_from_link("", "", p));
	EXPECT_FALSE(pm::path_from_link(kHashPath + "bad%2", "bad%2", p));
}

TEST(ListedFiles, RoundTripBothForms)
{
	auto r = demo();
	r.files.push_back(file("demo_pkg-2.0 & <odd>#.tar.gz", "2.0"));
	for (std::string root : {"", "https://m.example"}) {
		std::vector<pm::ListedFile> j, h;
		ASSERT_TRUE(pm::listed_files_json(pm::render_project_json(r, 1, root), j));
		ASSERT_TRUE(pm::listed_files_html(pm::render_project_html(r, 1, root), h));
		ASSERT_EQ(j.size(), r.files.size());
		ASSERT_EQ(h.size(), r.files.size());
		for (size_t i = 0; i < j.size(); i++) {
			EXPECT_EQ(j[i].filename, h[i].filename);
			EXPECT_EQ(j[i].path, h[i].path);
			EXPECT_EQ(j[i].path, kHashPath + j[i].filename);
		}
	}
}

TEST(ListedFiles, BandersnatchStyleHtml)
{
	std::string html = "<!DOCTYPE html>\n<html>\n  <head>\n    <title>Links for foo</title>\n  </head>\n  <body>\n"
	                   "<a href=\"../../" + kHashPath + "foo-1.0.tar.gz#sha256=" + kSha +
	                   "\" data-requires-python=\"&gt;=3\">foo-1.0.tar.gz</a><br/>\n"
	                   "<a href=\"https://elsewhere.example/x.tar.gz\">x.tar.gz</a><br/>\n"
	                   "</body>\n</html>\n<!--SERIAL 7-->";
	std::vector<pm::ListedFile> v;
	ASSERT_TRUE(pm::listed_files_html(html, v));
	ASSERT_EQ(v.size(), 1u);
	EXPECT_EQ(v[0].path, kHashPath + "foo-1.0.tar.gz");
	EXPECT_EQ(pm::serial_from_html_tail(html.substr(html.size() - 30)), 7);
	EXPECT_EQ(pm::display_from_html_head(html), "foo");
}

TEST(ListedFiles, NotAPage)
{
	std::vector<pm::ListedFile> v;
	std::string why;
	EXPECT_FALSE(pm::listed_files_json("{\"x\":1}", v, &why));
	EXPECT_FALSE(pm::listed_files_json("nonsense", v, &why));
	EXPECT_FALSE(why.empty());
}

TEST(BelongsTo, WheelsAndSdists)
{
	EXPECT_TRUE(pm::filename_belongs_to("demo_pkg-1.0-py3-none-any.whl", "demo-pkg"));
	EXPECT_TRUE(pm::filename_belongs_to("Demo.Pkg-1.0-py3-none-any.whl", "demo-pkg"));
	EXPECT_TRUE(pm::filename_belongs_to("demo_pkg-1.0.tar.gz", "demo-pkg"));
	EXPECT_TRUE(pm::filename_belongs_to("demo-pkg-1.0.zip", "demo-pkg"));
	EXPECT_TRUE(pm::filename_belongs_to("demo_pkg-v2.tar.gz", "demo-pkg"));
	EXPECT_TRUE(pm::filename_belongs_to("python-dateutil-2.8.2.tar.gz", "python-dateutil"));
	EXPECT_TRUE(pm::filename_belongs_to("foo-1.0-py2.7.egg", "foo"));
	EXPECT_TRUE(pm::filename_belongs_to("foo-1.0.win32.exe", "foo"));
	// Another project's files.
	EXPECT_FALSE(pm::filename_belongs_to("foo_bar-1.0-py3-none-any.whl", "foo"));
	EXPECT_FALSE(pm::filename_belongs_to("foo_bar-1.0.tar.gz", "foo"));
	EXPECT_FALSE(pm::filename_belongs_to("foo-bar-1.0.tar.gz", "foo"));
	EXPECT_FALSE(pm::filename_belongs_to("other-1.0.tar.gz", "foo"));
	EXPECT_FALSE(pm::filename_belongs_to("foo.tar.gz", "foo"));
	EXPECT_FALSE(pm::filename_belongs_to("foo", "foo"));
	EXPECT_FALSE(pm::filename_belongs_to("fo-1.0.tar.gz", "foo"));
	EXPECT_FALSE(pm::filename_belongs_to("foo-1.0.tar.gz", ""));
}

TEST(HtmlUnescape, Entities)
{
	EXPECT_EQ(pm::html_unescape("a &amp; b &lt;c&gt; &#34;d&#39; &quot;&apos; &#x41;&#65;"), "a & b <c> \"d' \"' AA");
	EXPECT_EQ(pm::html_unescape("&unknown; & &amp"), "&unknown; & &amp");
	EXPECT_EQ(pm::html_unescape("&#233;"), "\xc3\xa9");
	std::string s = "x<y>&\"z'";
	EXPECT_EQ(pm::html_unescape(pm::html_escape(s)), s);
}

TEST(Trailer, SerialAndTitle)
{
	EXPECT_EQ(pm::serial_from_html_tail("</html>\n<!--SERIAL 123-->"), 123);
	EXPECT_EQ(pm::serial_from_html_tail("</html>\n"), -1);
	EXPECT_EQ(pm::serial_from_html_tail("<!--SERIAL x-->"), -1);
	EXPECT_EQ(pm::display_from_html_head("<title>Links for Zope.Interface</title>"), "Zope.Interface");
	EXPECT_EQ(pm::display_from_html_head("<title>Links for <b>x</title>"), "");
	EXPECT_EQ(pm::display_from_html_head("<title>Simple index</title>"), "");
}

TEST(RootHtml, Lines)
{
	std::string s = pm::root_html_head();
	pm::root_html_entry(s, "Demo_Pkg", "demo-pkg");
	s += pm::root_html_tail();
	EXPECT_NE(s.find("<meta name=\"pypi:repository-version\" content=\"1.4\">"), std::string::npos);
	EXPECT_NE(s.find("\n<a href=\"demo-pkg/\">Demo_Pkg</a>\n"), std::string::npos);
	EXPECT_EQ(s.substr(s.size() - 7), "</html>");
}

TEST(RootList, SortUniqueLastWins)
{
	pm::RootList l;
	l.add("b", 1);
	l.add("A_x", 2);
	l.add("a.X", 5);
	l.add("c", 3, true);
	l.sort_unique();
	ASSERT_EQ(l.size(), 3u);
	EXPECT_EQ(l.display(0), "a.X");
	EXPECT_EQ(l.serial(0), 5);
	EXPECT_EQ(l.display(1), "b");
	EXPECT_TRUE(l.removed(2));
	EXPECT_EQ(l.max_serial(), 5);
}

// Out of order (several projects in flight), a name several times in
// other spellings: sorted as normalized, the latest of each name kept.
TEST(RootList, SortUniqueOutOfOrderManyNames)
{
	pm::RootList l;
	for (int i = 999; i >= 0; i--) l.add("p" + std::to_string(i), i);
	l.add("P_5", 2000);
	l.add("p.5", 2001, true);
	l.add("P99", 2002);
	l.sort_unique();
	ASSERT_EQ(l.size(), 1001u); // p0..p999 and p-5
	std::string prev;
	for (size_t i = 0; i < l.size(); i++) {
		std::string n = pm::normalize_name(l.display(i));
		EXPECT_LT(prev, n);
		prev = n;
		if (n == "p-5") {
			EXPECT_EQ(l.display(i), "p.5");
			EXPECT_EQ(l.serial(i), 2001);
			EXPECT_TRUE(l.removed(i));
		} else if (n == "p99") {
			EXPECT_EQ(l.display(i), "P99");
			EXPECT_EQ(l.serial(i), 2002);
		} else {
			EXPECT_EQ(l.serial(i), std::stoll(n.substr(1)));
		}
	}
	EXPECT_EQ(l.max_serial(), 2002);
}

TEST(Root, WriteLoadMergeRoundTrip)
{
	std::string d = tmpdir();
	pm::RootList base, changes;
	base.add("alpha", 10);
	base.add("Beta", 20);
	base.add("gamma", 30);
	changes.add("beta", 25);
	changes.add("Delta.Pkg", 40);
	changes.add("gamma", 31, true);
	changes.sort_unique();
	bool changed = false;
	std::string err;
	ASSERT_TRUE(pm::write_root(d, base, changes, 40, {}, &changed, err)) << err;
	EXPECT_TRUE(changed);

	std::string json, html, v1html;
	ASSERT_TRUE(pm::read_file(d + "/index.v1_json", json));
	EXPECT_EQ(json, "{\"meta\":{\"_last-serial\":40,\"api-version\":\"1.4\"},\"projects\":["
	                "{\"_last-serial\":10,\"name\":\"alpha\"},{\"_last-serial\":25,\"name\":\"beta\"},"
	                "{\"_last-serial\":40,\"name\":\"Delta.Pkg\"}]}");
	ASSERT_TRUE(pm::read_file(d + "/index.html", html));
	ASSERT_TRUE(pm::read_file(d + "/index.v1_html", v1html));
	EXPECT_EQ(html, v1html);
	EXPECT_NE(html.find("<a href=\"alpha/\">alpha</a>\n<a href=\"beta/\">beta</a>\n<a href=\"delta-pkg/\">Delta.Pkg</a>\n"),
	          std::string::npos);
	EXPECT_EQ(html.find("gamma"), std::string::npos);

	pm::RootList loaded;
	long long meta = 0;
	std::string why;
	ASSERT_TRUE(pm::load_root_json(d + "/index.v1_json", loaded, meta, why)) << why;
	EXPECT_EQ(meta, 40);
	ASSERT_EQ(loaded.size(), 3u);
	EXPECT_EQ(loaded.display(2), "Delta.Pkg");
	EXPECT_EQ(loaded.serial(2), 40);

	// Writing the same again changes nothing on disk.
	struct stat before, after;
	ASSERT_EQ(stat((d + "/index.html").c_str(), &before), 0);
	pm::RootList none;
	ASSERT_TRUE(pm::write_root(d, loaded, none, 40, {}, &changed, err)) << err;
	EXPECT_FALSE(changed);
	ASSERT_EQ(stat((d + "/index.html").c_str(), &after), 0);
	EXPECT_EQ(before.st_ino, after.st_ino);
	std::string cmd = "rm -rf " + d;
	ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST(Root, LoadRefusesForeignLists)
{
	std::string d = tmpdir(), why;
	pm::RootList l;
	long long meta;
	bool missing = false;
	EXPECT_FALSE(pm::load_root_json(d + "/none.json", l, meta, why, &missing));
	EXPECT_TRUE(missing);
	ASSERT_TRUE(pm::write_file_atomic(d + "/b.json",
	                                  "{\"meta\":{\"_last-serial\":5,\"api-version\":\"1.0\"},\"projects\":[{\"name\":\"foo\"}]}",
	                                  false));
	EXPECT_FALSE(pm::load_root_json(d + "/b.json", l, meta, why, &missing));
	EXPECT_FALSE(missing);
	ASSERT_TRUE(pm::write_file_atomic(d + "/c.json", "{\"projects\":[{\"name\":\"foo\",\"_last-serial\":", false));
	EXPECT_FALSE(pm::load_root_json(d + "/c.json", l, meta, why, &missing));
	EXPECT_FALSE(missing);
	ASSERT_TRUE(pm::write_file_atomic(d + "/d.json", "[1,2]", false));
	EXPECT_FALSE(pm::load_root_json(d + "/d.json", l, meta, why, &missing));
	EXPECT_FALSE(missing);
	// String serials (bandersnatch's per-project form) and unknown keys are fine;
	// invalid names are skipped; out-of-order input is sorted.
	ASSERT_TRUE(pm::write_file_atomic(
	    d + "/e.json",
	    "{\"x\":{\"projects\":[]},\"projects\":[{\"name\":\"zz\",\"_last-serial\":\"9\",\"extra\":[{\"name\":\"no\"}]},"
	    "{\"name\":\"../evil\",\"_last-serial\":1},{\"name\":\"aa\",\"_last-serial\":3}],\"meta\":{\"_last-serial\":9}}",
	    false));
	std::string warning;
	ASSERT_TRUE(pm::load_root_json(d + "/e.json", l, meta, why, &missing, &warning)) << why;
	EXPECT_EQ(warning, "1 invalid project names skipped in " + d + "/e.json");
	ASSERT_EQ(l.size(), 2u);
	EXPECT_EQ(l.display(0), "aa");
	EXPECT_EQ(l.display(1), "zz");
	EXPECT_EQ(l.serial(1), 9);
	EXPECT_EQ(meta, 9);
	std::string cmd = "rm -rf " + d;
	ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST(Root, ScanSimpleDir)
{
	std::string d = tmpdir(), err;
	auto r = demo();
	ASSERT_TRUE(pm::write_file_atomic(d + "/demo-pkg/index.html", pm::render_project_html(r, 77, ""), false));
	ASSERT_TRUE(pm::write_file_atomic(d + "/jsononly/index.v1_json", "{\"meta\":{\"_last-serial\":\"12\"},\"files\":[]}",
	                                  false));
	ASSERT_TRUE(pm::mkdir_p(d + "/emptydir"));
	ASSERT_TRUE(pm::mkdir_p(d + "/Not_Normalized"));
	ASSERT_TRUE(pm::write_file_atomic(d + "/Not_Normalized/index.html", "x", false));
	ASSERT_TRUE(pm::write_file_atomic(d + "/index.html", "root", false));
	pm::RootList l;
	ASSERT_TRUE(pm::scan_simple_dir(d, l, err)) << err;
	ASSERT_EQ(l.size(), 2u);
	EXPECT_EQ(l.display(0), "Demo_Pkg");
	EXPECT_EQ(l.serial(0), 77);
	EXPECT_EQ(l.display(1), "jsononly");
	EXPECT_EQ(l.serial(1), 12);
	// Directories the caller has entries for are passed over.
	std::unordered_set<std::string> skip{"demo-pkg"};
	ASSERT_TRUE(pm::scan_simple_dir(d, l, err, &skip)) << err;
	ASSERT_EQ(l.size(), 1u);
	EXPECT_EQ(l.display(0), "jsononly");
	// A page shorter than the head read: head and tail come from one read.
	ASSERT_TRUE(pm::write_file_atomic(d + "/demo-pkg/index.html", "<title>Links for Demo.Pkg</title><!--SERIAL 5-->",
	                                  false));
	ASSERT_TRUE(pm::scan_simple_dir(d, l, err)) << err;
	ASSERT_EQ(l.size(), 2u);
	EXPECT_EQ(l.display(0), "Demo.Pkg");
	EXPECT_EQ(l.serial(0), 5);
	std::string cmd = "rm -rf " + d;
	ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST(ReplaceIfChanged, KeepsIdenticalFile)
{
	std::string d = tmpdir();
	pm::ReplaceIfChanged w;
	bool changed = false;
	ASSERT_TRUE(w.open(d + "/f"));
	ASSERT_TRUE(w.write("hello "));
	ASSERT_TRUE(w.write("world"));
	ASSERT_TRUE(w.commit(false, &changed));
	EXPECT_TRUE(changed);
	struct stat a, b;
	ASSERT_EQ(stat((d + "/f").c_str(), &a), 0);
	ASSERT_TRUE(w.open(d + "/f"));
	ASSERT_TRUE(w.write("hello world"));
	ASSERT_TRUE(w.commit(false, &changed));
	EXPECT_FALSE(changed);
	ASSERT_EQ(stat((d + "/f").c_str(), &b), 0);
	EXPECT_EQ(a.st_ino, b.st_ino);
	// A prefix of the old content is a change.
	ASSERT_TRUE(w.open(d + "/f"));
	ASSERT_TRUE(w.write("hello"));
	ASSERT_TRUE(w.commit(false, &changed));
	EXPECT_TRUE(changed);
	std::string s;
	ASSERT_TRUE(pm::read_file(d + "/f", s));
	EXPECT_EQ(s, "hello");
	std::string cmd = "rm -rf " + d;
	ASSERT_EQ(system(cmd.c_str()), 0);
}

} // namespace
