// The pieces of mirror-verify(1) that must be right on their own: the
// external sort (order, spills, many runs), the path order a sorted walk
// shares with it, page link resolution, temporary names, printable paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "extsort.h"
#include "verify_check.h"

namespace {

struct TmpDir {
	std::string path;
	TmpDir()
	{
		char t[] = "/tmp/verify_test.XXXXXX";
		path = mkdtemp(t);
	}
	~TmpDir() { (void)!system(("rm -rf '" + path + "'").c_str()); }
};

size_t files_in(const std::string &dir)
{
	std::string cmd = "ls -A '" + dir + "' | wc -l";
	FILE *p = popen(cmd.c_str(), "r");
	size_t n = 0;
	if (fscanf(p, "%zu", &n) != 1) n = 999;
	pclose(p);
	return n;
}

TEST(PathOrder, SlashSortsFirstThenTab)
{
	// Component-wise: "ab/x" before "ab-x/y" although '-' < '/' in ASCII.
	EXPECT_TRUE(pm::path_less("packages/ab/x", "packages/ab-x/y"));
	EXPECT_TRUE(pm::path_less("f", "f.metadata"));
	EXPECT_TRUE(pm::path_less("name\t5", "name-b\t1"));
	EXPECT_FALSE(pm::path_less("a", "a"));
	EXPECT_EQ(pm::path_compare("a/b", "a/b"), 0);
}

TEST(ExternalSorter, InMemoryAndSpilledGiveTheSameOrder)
{
	TmpDir t;
	std::mt19937 rng(7);
	std::vector<std::string> recs;
	for (int i = 0; i < 20000; i++) {
		std::string s = "packages/" + std::to_string(rng() % 1000) + "/" + std::to_string(rng());
		if (i % 97 == 0) s += std::string("\0\n\xff", 3); // any bytes
		recs.push_back(s);
	}
	recs.push_back(recs[5]); // duplicates are kept
	auto want = recs;
	std::sort(want.begin(), want.end(), pm::path_less);
	for (size_t mem : {size_t(64) << 20, size_t(8192)}) {
		pm::ExternalSorter s(t.path, "x", mem);
		for (auto &r : recs) ASSERT_TRUE(s.add(r));
		ASSERT_TRUE(s.finish());
		if (mem == 8192) {
			EXPECT_GT(s.runs(), 1u);
		}
		std::vector<std::string> got;
		std::string r;
		while (s.next(r)) got.push_back(r);
		EXPECT_TRUE(s.error().empty());
		EXPECT_EQ(got, want);
	}
	EXPECT_EQ(files_in(t.path), 0u); // run files removed
}

TEST(ExternalSorter, MoreRunsThanTheFanInAreMergedInPasses)
{
	TmpDir t;
	pm::ExternalSorter s(t.path, "many", 4096); // ~150 runs of 4 KiB
	std::vector<std::string> want;
	for (int i = 0; i < 30000; i++) {
		std::string k = std::to_string((i * 7919) % 30000);
		want.push_back(k);
		ASSERT_TRUE(s.add(k));
	}
	ASSERT_TRUE(s.finish());
	EXPECT_LE(s.runs(), 64u);
	std::sort(want.begin(), want.end(), pm::path_less);
	std::string r;
	size_t i = 0;
	while (s.next(r)) ASSERT_EQ(r, want[i++]);
	EXPECT_EQ(i, want.size());
}

TEST(PageLink, RelativeAndAbsoluteLinksIntoPackages)
{
	std::string h(60, 'a'), p, why;
	std::string rel = "packages/12/34/" + h + "/demo-1.0.tar.gz";
	EXPECT_TRUE(pm::page_link_path("../../" + rel + "#sha256=00", "demo-1.0.tar.gz", p, &why)) << why;
	EXPECT_EQ(p, rel);
	EXPECT_TRUE(pm::page_link_path("https://mirror.example/pypi/" + rel, "demo-1.0.tar.gz", p, &why)) << why;
	EXPECT_TRUE(pm::page_link_path("/" + rel, "demo-1.0.tar.gz", p, &why)) << why;
	// Percent-encoded file names decode to the file name.
	EXPECT_TRUE(pm::page_link_path("../../packages/12/34/" + h + "/a%2Bb-1.0.tar.gz", "a+b-1.0.tar.gz", p, &why));
}

TEST(PageLink, RefusesWhatLeavesPackagesOrHidesDotSegments)
{
	std::string h(60, 'a'), p, why;
	std::string rel = "packages/12/34/" + h + "/demo-1.0.tar.gz";
	EXPECT_FALSE(pm::page_link_path("../../../../etc/passwd", "passwd", p, &why));
	EXPECT_FALSE(pm::page_link_path("../../../" + rel, "demo-1.0.tar.gz", p, &why));
	EXPECT_FALSE(pm::page_link_path("../../packages/../" + rel, "demo-1.0.tar.gz", p, &why));
	EXPECT_FALSE(pm::page_link_path("../" + rel, "demo-1.0.tar.gz", p, &why));
	EXPECT_FALSE(pm::page_link_path("https://x/a/../" + rel, "demo-1.0.tar.gz", p, &why));
	EXPECT_FALSE(pm::page_link_path("../../" + rel + "?x=1", "demo-1.0.tar.gz", p, &why));
	EXPECT_FALSE(pm::page_link_path("../../packages/12/34/" + h + "/x%2F..%2Fy", "x/../y", p, &why));
	EXPECT_FALSE(pm::page_link_path("../../" + rel, "other-1.0.tar.gz", p, &why));
	EXPECT_FALSE(pm::page_link_path("file:///" + rel, "demo-1.0.tar.gz", p, &why));
	EXPECT_FALSE(pm::page_link_path("../../packages/12/34/" + h + "/%2e%2e", "..", p, &why));
	EXPECT_FALSE(why.empty());
}

TEST(TempName, TheShapeAtomicFileGives)
{
	long pid = 0;
	std::string target;
	EXPECT_TRUE(pm::parse_temp_name(".demo-1.0.tar.gz.1234.0123abcd.tmp", pid, &target));
	EXPECT_EQ(pid, 1234);
	EXPECT_EQ(target, "demo-1.0.tar.gz");
	EXPECT_TRUE(pm::parse_temp_name(".x.metadata.77.deadbeef.tmp", pid, &target));
	EXPECT_EQ(target, "x.metadata");
	EXPECT_FALSE(pm::parse_temp_name("demo.1234.0123abcd.tmp", pid));   // not hidden
	EXPECT_FALSE(pm::parse_temp_name(".demo.12x4.0123abcd.tmp", pid));  // pid not digits
	EXPECT_FALSE(pm::parse_temp_name(".demo.1234.0123abc.tmp", pid));   // 7 hex
	EXPECT_FALSE(pm::parse_temp_name(".demo.1234.0123abcd.tmpx", pid)); // suffix
	EXPECT_FALSE(pm::parse_temp_name("..1234.0123abcd.tmp", pid));      // no target
}

TEST(PidAlive, OwnAndDead)
{
	EXPECT_TRUE(pm::pid_alive(getpid()));
	EXPECT_FALSE(pm::pid_alive(0));
	EXPECT_FALSE(pm::pid_alive(-5));
}

TEST(PrintablePath, OddBytesEscapedUtf8Kept)
{
	EXPECT_EQ(pm::printable_path("a\xff\n"
	                             "b"),
	          "a\\xff\\x0ab");
	EXPECT_EQ(pm::printable_path("caf\xc3\xa9"), "caf\xc3\xa9");
	EXPECT_EQ(pm::printable_path("x\\y"), "x\\\\y");
	EXPECT_EQ(pm::printable_path("\xed\xa0\x80"), "\\xed\\xa0\\x80"); // a surrogate is not UTF-8
}

} // namespace
