// Unit tests for tools/lib/layout.{h,cc}: where things are in the mirror
// directory, and the one answer to "which projects does it hold".
#include "layout.h"

#include <gtest/gtest.h>

#include <ftw.h>
#include <string>
#include <sys/stat.h>

#include "fsutil.h"
#include "index_root.h"
#include "mirror_store.h"

namespace {

class LayoutTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/pm-layout-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir = tmpl;
	}
	void TearDown() override
	{
		auto rm = [](const char *p, const struct stat *, int, struct FTW *) { return remove(p); };
		ASSERT_EQ(nftw(dir.c_str(), rm, 16, FTW_DEPTH | FTW_PHYS), 0);
	}
	void put(const std::string &rel, const std::string &text)
	{
		ASSERT_TRUE(pm::write_file_atomic(dir + "/" + rel, text, false)) << rel;
	}
	static std::string names(const pm::RootList &l)
	{
		std::string s;
		for (size_t i = 0; i < l.size(); i++)
			s += std::string(l.display(i)) + "@" + std::to_string(l.serial(i)) + " ";
		return s;
	}
	std::string dir;
};

TEST_F(LayoutTest, PathsAreSpelledInOnePlace)
{
	pm::Layout m("/srv/pypi//");
	EXPECT_EQ(m.dir(), "/srv/pypi");
	EXPECT_EQ(m.web(), "/srv/pypi/web");
	EXPECT_EQ(m.simple(), "/srv/pypi/web/simple");
	EXPECT_EQ(m.root_index(), "/srv/pypi/web/simple/index.v1_json");
	EXPECT_EQ(m.root_index("index.html"), "/srv/pypi/web/simple/index.html");
	EXPECT_EQ(m.project_dir("foo"), "/srv/pypi/web/simple/foo");
	EXPECT_EQ(m.file("packages/aa/bb/cc/f.whl"), "/srv/pypi/web/packages/aa/bb/cc/f.whl");
	EXPECT_EQ(m.json_api("foo"), "/srv/pypi/web/pypi/foo/json");
	EXPECT_EQ(m.json_copy("foo"), "/srv/pypi/web/json/foo");
	EXPECT_EQ(m.status(), "/srv/pypi/status");
	EXPECT_EQ(m.state_file("failed"), "/srv/pypi/pypi-mirror.failed");
	EXPECT_EQ(m.unlisted_journal("foo"), "/srv/pypi/.unlisted/foo");
	EXPECT_EQ(m.pending_deletions("foo"), "/srv/pypi/.pending-deletions/foo");
	EXPECT_EQ(pm::Layout("/").dir(), "/");
}

TEST_F(LayoutTest, AnEmptyOrMissingMirrorHoldsNothing)
{
	pm::RootList l;
	std::string why;
	EXPECT_TRUE(pm::Layout(dir + "/none").held_projects(l, why)) << why;
	EXPECT_TRUE(l.empty());
	EXPECT_TRUE(pm::Layout(dir).held_projects(l, why)) << why;
	EXPECT_TRUE(l.empty());
	ASSERT_TRUE(pm::mkdir_p(dir + "/web/simple/empty"));
	put("web/simple/index.v1_json", ""); // a root cut short: the directories tell
	EXPECT_TRUE(pm::Layout(dir).held_projects(l, why)) << why;
	EXPECT_TRUE(l.empty()) << names(l);
	EXPECT_FALSE(pm::Layout(dir).holds("empty")); // a directory without a page
}

TEST_F(LayoutTest, AProjectIsHeldWhenItHasAPage)
{
	pm::Layout m(dir);
	put("web/simple/a/index.html", "<html><head><title>Links for A</title></head></html>\n<!--SERIAL 7-->");
	put("web/simple/b/index.v1_json", R"({"meta":{"_last-serial":9},"name":"b","files":[]})");
	put("web/simple/c/index.v1_html", "<html></html>");
	ASSERT_TRUE(pm::mkdir_p(dir + "/web/simple/d"));
	EXPECT_TRUE(m.holds("a"));
	EXPECT_TRUE(m.holds("b"));
	EXPECT_TRUE(m.holds("c"));
	EXPECT_FALSE(m.holds("d"));
	EXPECT_FALSE(m.holds("e"));
	pm::RootList l;
	std::string why;
	ASSERT_TRUE(m.held_projects(l, why)) << why;
	EXPECT_EQ(names(l), "A@7 b@9 c@0 ");
}

TEST_F(LayoutTest, TheRootIndexListsTheHeldProjectsWhenItIsUsable)
{
	pm::Layout m(dir);
	put("web/simple/a/index.html", "<html></html>");
	put("web/simple/index.v1_json",
	    R"({"meta":{"_last-serial":5},"projects":[{"name":"Zed","_last-serial":4},{"name":"y","_last-serial":"3"}]})");
	pm::RootList l;
	std::string why;
	ASSERT_TRUE(m.held_projects(l, why)) << why;
	EXPECT_EQ(names(l), "y@3 Zed@4 ");
	// bandersnatch's root has no serials: the directories are asked instead.
	put("web/simple/index.v1_json", R"({"meta":{"_last-serial":5},"projects":[{"name":"Zed"}]})");
	ASSERT_TRUE(m.held_projects(l, why)) << why;
	EXPECT_EQ(names(l), "a@0 ");
}

TEST_F(LayoutTest, StatusAndUnlistedJournal)
{
	pm::Layout m(dir + "/mirror");
	long long serial = -1;
	std::string err;
	ASSERT_TRUE(pm::read_status(m, serial, &err)) << err;
	EXPECT_EQ(serial, 0);
	ASSERT_TRUE(pm::write_status(m, 42, &err)) << err;
	ASSERT_TRUE(pm::read_status(m, serial, &err)) << err;
	EXPECT_EQ(serial, 42);
	ASSERT_TRUE(pm::add_to_unlisted(m, "foo", {"packages/a", "packages/b"}, false, &err)) << err;
	ASSERT_TRUE(pm::add_to_unlisted(m, "foo", {"packages/b", "packages/c"}, false, &err)) << err;
	std::string text;
	ASSERT_TRUE(pm::read_file(m.unlisted_journal("foo"), text));
	EXPECT_EQ(text, "packages/a\npackages/b\npackages/c\n");
}

} // namespace

// The state interface over a mirror directory: the layout's names, status
// through it, a scratch directory of its own when asked.
TEST_F(LayoutTest, MirrorStoreOnDisk)
{
	auto st = pm::open_mirror_store("layout-test", dir + "/mirror", "", dir + "/local");
	ASSERT_TRUE(st->on_disk());
	EXPECT_EQ(st->layout().status(), dir + "/mirror/status");
	EXPECT_EQ(st->local_layout().work_dir(), dir + "/local/.pypi-mirror.work");
	EXPECT_EQ(pm::open_mirror_store("layout-test", dir, "")->local_layout().work_dir(), dir + "/.pypi-mirror.work");
	std::string text, why;
	bool found = true;
	ASSERT_TRUE(st->read(st->layout().state_file("failed"), text, found, why)) << why;
	EXPECT_FALSE(found);
	ASSERT_TRUE(st->write(st->layout().state_file("failed"), "{\"name\":\"a\"}\n", false, why)) << why;
	ASSERT_TRUE(st->read(st->layout().state_file("failed"), text, found, why)) << why;
	EXPECT_TRUE(found);
	EXPECT_EQ(text, "{\"name\":\"a\"}\n");
	ASSERT_TRUE(st->remove(st->layout().state_file("failed"), why)) << why;
	ASSERT_TRUE(st->remove(st->layout().state_file("failed"), why)) << why; // gone already: fine
	EXPECT_FALSE(pm::file_exists(dir + "/mirror/pypi-mirror.failed"));
	long long serial = -1;
	ASSERT_TRUE(pm::read_status(*st, serial, &why)) << why;
	EXPECT_EQ(serial, 0);
	ASSERT_TRUE(pm::write_status(*st, 7, false, &why)) << why;
	ASSERT_TRUE(pm::read_file(dir + "/mirror/status", text));
	EXPECT_EQ(text, "7");
	ASSERT_TRUE(st->write(st->layout().status(), "x1", false, why)) << why;
	EXPECT_FALSE(pm::read_status(*st, serial, &why));
	put("mirror/web/simple/foo/index.html", "<html></html>");
	EXPECT_TRUE(st->holds("foo"));
	EXPECT_FALSE(st->holds("bar"));
}
