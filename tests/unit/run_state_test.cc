// Unit tests for tools/lib/run_state.{h,cc}: the rules that move a mirror's
// state (plan, collect, status), over real files in a temporary directory.
#include "run_state.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ftw.h>
#include <string>
#include <sys/stat.h>

#include "fsutil.h"
#include "layout.h"

using namespace pm;

namespace {

class RunStateTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/pm-run-state-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir = tmpl;
	}
	void TearDown() override
	{
		auto rm = [](const char *p, const struct stat *, int, struct FTW *) { return remove(p); };
		nftw(dir.c_str(), rm, 16, FTW_DEPTH | FTW_PHYS);
	}
	std::string put(const std::string &leaf, const std::string &text)
	{
		std::string p = dir + "/" + leaf;
		EXPECT_TRUE(write_file_atomic(p, text, false));
		return p;
	}
	// plan over changes text; returns the output.
	std::string plan(const std::string &changes, const NameMap &failed, const NameMap &held,
	                 const NameMap &deferred, PlanCounts &c, bool expect_ok = true)
	{
		FILE *in = fmemopen(const_cast<char *>(changes.data()), changes.size(), "r");
		char *buf = nullptr;
		size_t n = 0;
		FILE *out = open_memstream(&buf, &n);
		std::string err;
		EXPECT_EQ(plan_input(in, out, failed, held, deferred, c, err), expect_ok) << err;
		fclose(in);
		fclose(out);
		std::string s(buf, n);
		free(buf);
		return s;
	}
	std::string dir;
};

NameMap names(std::initializer_list<std::pair<const char *, long long>> l)
{
	NameMap m;
	for (auto &[n, s] : l) m[n].serial = s;
	return m;
}

TEST_F(RunStateTest, PlanMergesFailedHeldDeferredTargetLast)
{
	std::string changes = "{\"type\":\"project\",\"name\":\"a\",\"display_name\":\"A\",\"serial\":5}\n"
	                      "{\"type\":\"project\",\"name\":\"b\",\"serial\":9}\n"
	                      "{\"type\":\"target\",\"serial\":10,\"since\":1,\"projects\":2}\n";
	PlanCounts c;
	std::string out = plan(changes, names({{"a", 7}, {"c", 3}}), names({{"b", 2}, {"d", 4}, {"c", 8}}),
	                       names({{"e", 0}, {"d", 0}}), c);
	// a: the failed list's higher serial wins, other fields kept; b: its own;
	// c: failed, at the held serial (higher); d: held; e: deferred (0).
	EXPECT_EQ(out, "{\"type\":\"project\",\"name\":\"a\",\"display_name\":\"A\",\"serial\":7}\n"
	               "{\"type\":\"project\",\"name\":\"b\",\"serial\":9}\n"
	               "{\"type\":\"project\",\"name\":\"c\",\"serial\":8}\n"
	               "{\"type\":\"project\",\"name\":\"d\",\"serial\":4}\n"
	               "{\"type\":\"project\",\"name\":\"e\",\"serial\":0}\n"
	               "{\"type\":\"target\",\"serial\":10,\"since\":1,\"projects\":2}\n");
	EXPECT_EQ(c.projects, 2);
	EXPECT_EQ(c.retried, 1);
	EXPECT_EQ(c.held, 1);
	EXPECT_EQ(c.deferred, 1);
	EXPECT_TRUE(c.have_target);
	EXPECT_EQ(c.target, 10);
}

TEST_F(RunStateTest, PlanWithOnlyTheTargetHasNothingToDo)
{
	PlanCounts c;
	std::string out = plan("{\"type\":\"target\",\"serial\":10}\n", {}, {}, {}, c);
	EXPECT_EQ(out, "{\"type\":\"target\",\"serial\":10}\n");
	EXPECT_FALSE(c.work());
	EXPECT_TRUE(c.have_target);
	PlanCounts d;
	plan("", {}, {}, {}, d);
	EXPECT_FALSE(d.have_target);
	PlanCounts e;
	plan("not json\n", {}, {}, {}, e, false);
}

TEST_F(RunStateTest, PlanTurnsARefusedChangeIntoAnErrorRecord)
{
	// A change naming a project but refused (a negative serial) is an error
	// record for that project, and a reason to run; one that names no project
	// fails the plan: the run would pass it by.
	PlanCounts c;
	std::string out = plan("{\"type\":\"project\",\"name\":\"Bad.Serial\",\"serial\":-4}\n"
	                       "{\"type\":\"target\",\"serial\":10}\n",
	                       {}, {}, {}, c);
	EXPECT_NE(out.find("{\"type\":\"error\",\"name\":\"bad-serial\",\"serial\":0,"), std::string::npos) << out;
	EXPECT_NE(out.find("not a non-negative integer"), std::string::npos) << out;
	EXPECT_EQ(out.substr(out.size() - 30), "{\"type\":\"target\",\"serial\":10}\n");
	EXPECT_EQ(c.projects, 0);
	EXPECT_TRUE(c.work());
	PlanCounts d;
	plan("{\"type\":\"project\",\"name\":\"../x\",\"serial\":1}\n{\"type\":\"target\",\"serial\":10}\n", {}, {}, {}, d,
	     false);
}

TEST_F(RunStateTest, NameListsKeepTheHighestSerialAndEarliestFirst)
{
	std::string p = put("failed", "{\"name\":\"a\",\"serial\":3,\"first\":2}\n{\"name\":\"a\",\"serial\":5,\"first\":4}\n"
	                              "{\"name\":\"Foo.Bar\",\"serial\":1}\n");
	NameMap m;
	std::string err;
	ASSERT_TRUE(read_name_list(p, m, err)) << err;
	EXPECT_EQ(m.size(), 2u);
	EXPECT_EQ(m["a"].serial, 5);
	EXPECT_EQ(m["a"].first, 2);
	EXPECT_EQ(m["foo-bar"].serial, 1);
	NameMap none;
	EXPECT_TRUE(read_name_list(dir + "/absent", none, err));
	EXPECT_TRUE(none.empty());
	std::string bad = put("bad", "{\"serial\":3}\n");
	EXPECT_FALSE(read_name_list(bad, none, err));
	EXPECT_NE(err.find("line 1 names no project"), std::string::npos) << err;
}

TEST_F(RunStateTest, CollectCountsAndFindsFailedLostAndStale)
{
	RunFiles f;
	f.input = {put("input", "{\"type\":\"project\",\"name\":\"a\",\"serial\":5}\n"
	                        "{\"type\":\"project\",\"name\":\"b\",\"serial\":6}\n"
	                        "{\"type\":\"project\",\"name\":\"c\",\"serial\":7}\n"
	                        "{\"type\":\"project\",\"name\":\"d\",\"serial\":8}\n"
	                        "{\"type\":\"project\",\"name\":\"e\",\"serial\":9}\n"
	                        "{\"type\":\"project\",\"name\":\"f\",\"serial\":9}\n"
	                        "{\"type\":\"target\",\"serial\":20}\n")};
	f.results = {put("results",
	                 "{\"type\":\"synced\",\"name\":\"a\",\"serial\":5,\"files_listed\":2,\"files_fetched\":2,"
	                 "\"bytes_fetched\":100,\"deleted\":1,\"removed\":false}\n"
	                 "{\"type\":\"error\",\"name\":\"b\",\"serial\":6,\"tool\":\"artifact-get\",\"reason\":\"x\"}\n"
	                 "{\"type\":\"error\",\"name\":\"e\",\"serial\":9,\"tool\":\"pkg-resolve\",\"reason\":\"x\"}\n"
	                 "{\"type\":\"synced\",\"name\":\"e\",\"serial\":9,\"files_listed\":1,\"files_fetched\":1,"
	                 "\"bytes_fetched\":50,\"deleted\":0,\"removed\":false}\n"
	                 "{\"type\":\"target\",\"serial\":20}\n")};
	f.dropped = {put("dropped", "{\"type\":\"dropped\",\"name\":\"f\",\"deferred\":true}\n")};
	f.stale_seen = {put("stale.0", "{\"type\":\"stale\",\"name\":\"c\",\"serial\":7}\n")};
	f.stale_left = {put("stale", "{\"type\":\"stale\",\"name\":\"c\",\"serial\":7}\n")};
	f.purged = {put("purged.0", "{\"type\":\"stale\",\"name\":\"c\",\"serial\":7}\n")};
	NameMap prev;
	prev["b"] = Pending{6, 3}; // failed before, since serial 3
	Summary s;
	NameMap out;
	std::vector<std::string> deferred;
	std::string err;
	ASSERT_TRUE(collect_run(f, prev, true, s, out, deferred, err)) << err;
	EXPECT_EQ(s.target, 20);
	EXPECT_EQ(s.projects, 2);
	EXPECT_EQ(s.files_fetched, 3);
	EXPECT_EQ(s.bytes_fetched, 150);
	EXPECT_EQ(s.deleted, 1);
	EXPECT_EQ(s.stale, 1);
	EXPECT_EQ(s.purged, 1);
	EXPECT_EQ(s.lost, 1); // d went in and never came out
	EXPECT_EQ(s.lost_names, " d");
	// b (error; first from the old list), c (still stale), d (lost); e
	// failed in one round and synced in a later one; f was dropped.
	ASSERT_EQ(out.size(), 3u);
	EXPECT_EQ(out["b"].serial, 6);
	EXPECT_EQ(out["b"].first, 3);
	EXPECT_EQ(out["c"].first, 7);
	EXPECT_EQ(out["d"].first, 8);
	EXPECT_EQ(s.failed, 3);
	EXPECT_EQ(s.min_first, 3);
	EXPECT_EQ(deferred, std::vector<std::string>{"f"});
	EXPECT_EQ(next_status(1, s.target, s.min_first, s.unnamed), 2);
}

TEST_F(RunStateTest, CollectCountsUnnamedErrorsAndCacheBusts)
{
	RunFiles f;
	f.input = {put("input", "{\"type\":\"target\",\"serial\":4}\n")};
	f.results = {put("results", "{\"type\":\"error\",\"tool\":\"x\",\"reason\":\"no name\"}\n")};
	f.purged = {put("purged", "{\"name\":\"a\",\"cache_bust\":true}\n")};
	Summary s;
	NameMap out;
	std::vector<std::string> d;
	std::string err;
	ASSERT_TRUE(collect_run(f, {}, true, s, out, d, err)) << err;
	EXPECT_EQ(s.unnamed, 1);
	EXPECT_EQ(s.purged, 0);
	EXPECT_TRUE(out.empty());
	EXPECT_EQ(next_status(2, 4, -1, s.unnamed), 2);
}

TEST_F(RunStateTest, CollectSkipsAHalfWrittenLineAndCountsItsProjectLost)
{
	// The disk filled up under index-write: its last record is half a line.
	// The run is still recorded; the project whose record was cut short
	// stays in the failed list (lost), so status cannot pass it.
	RunFiles f;
	f.input = {put("input", "{\"type\":\"project\",\"name\":\"a\",\"serial\":5}\n"
	                        "{\"type\":\"project\",\"name\":\"b\",\"serial\":6}\n"
	                        "{\"type\":\"target\",\"serial\":6}\n")};
	f.results = {put("results", "{\"type\":\"synced\",\"name\":\"a\",\"serial\":5,\"files_listed\":1}\n"
	                            "{\"type\":\"synced\",\"name\":\"b\",\"ser")};
	Summary s;
	NameMap out;
	std::vector<std::string> d;
	std::string err;
	ASSERT_TRUE(collect_run(f, {}, true, s, out, d, err)) << err;
	EXPECT_EQ(s.projects, 1);
	EXPECT_EQ(s.lost, 1);
	ASSERT_EQ(out.size(), 1u);
	EXPECT_EQ(out["b"].serial, 6);
	EXPECT_EQ(next_status(0, s.target, s.min_first, s.unnamed), 5);
}

TEST_F(RunStateTest, PlanLetsARemovalWinOverTheFailedHeldAndDeferredLists)
{
	// pkg-demand (or upstream) removes a, b and c; each also sits in a list
	// the plan merges. One record per name: the removal, never a project
	// record that would sync the project back.
	std::string changes =
	    "{\"type\":\"removal\",\"name\":\"a\",\"serial\":10,\"reason\":\"not requested for 30d\"}\n"
	    "{\"type\":\"removal\",\"name\":\"B\",\"serial\":10}\n"
	    "{\"type\":\"removal\",\"name\":\"c\",\"serial\":10}\n"
	    "{\"type\":\"target\",\"serial\":10}\n";
	PlanCounts c;
	std::string out = plan(changes, names({{"a", 7}, {"x", 4}}), names({{"b", 2}}), names({{"c", 0}}), c);
	EXPECT_EQ(out, "{\"type\":\"removal\",\"name\":\"a\",\"serial\":10,\"reason\":\"not requested for 30d\"}\n"
	               "{\"type\":\"removal\",\"name\":\"B\",\"serial\":10}\n"
	               "{\"type\":\"removal\",\"name\":\"c\",\"serial\":10}\n"
	               "{\"type\":\"project\",\"name\":\"x\",\"serial\":4}\n"
	               "{\"type\":\"target\",\"serial\":10}\n");
	EXPECT_EQ(c.retried, 1);
	EXPECT_EQ(c.held, 0);
	EXPECT_EQ(c.deferred, 0);
}

TEST_F(RunStateTest, CollectLetsAFailureWithoutASerialNotHoldStatus)
{
	// d: newly demanded (serial 0), fails, and failed before at 0 too; it
	// is retried but must not freeze status. g: its error record has no
	// serial, but the plan gave it 12: it still bounds status.
	RunFiles f;
	f.input = {put("input", "{\"type\":\"project\",\"name\":\"d\",\"serial\":0}\n"
	                        "{\"type\":\"project\",\"name\":\"g\",\"serial\":12}\n"
	                        "{\"type\":\"target\",\"serial\":20}\n")};
	f.results = {put("results", "{\"type\":\"error\",\"name\":\"d\",\"serial\":0,\"tool\":\"artifact-get\",\"reason\":\"x\"}\n"
	                            "{\"type\":\"error\",\"name\":\"g\",\"tool\":\"pkg-resolve\",\"reason\":\"x\"}\n"
	                            "{\"type\":\"target\",\"serial\":20}\n")};
	NameMap prev;
	prev["d"] = Pending{0, 0};
	Summary s;
	NameMap out;
	std::vector<std::string> deferred;
	std::string err;
	ASSERT_TRUE(collect_run(f, prev, false, s, out, deferred, err)) << err;
	ASSERT_EQ(out.size(), 2u);
	EXPECT_EQ(out["d"].serial, 0);
	EXPECT_EQ(out["d"].first, 0);
	EXPECT_EQ(out["g"].first, 12);
	EXPECT_EQ(s.min_first, 12);
	EXPECT_EQ(next_status(5, s.target, s.min_first, s.unnamed), 11);

	// d alone: status reaches the target.
	f.input = {put("input2", "{\"type\":\"project\",\"name\":\"d\",\"serial\":0}\n{\"type\":\"target\",\"serial\":20}\n")};
	f.results = {put("results2", "{\"type\":\"error\",\"name\":\"d\",\"serial\":0,\"tool\":\"x\",\"reason\":\"x\"}\n")};
	Summary t;
	ASSERT_TRUE(collect_run(f, prev, false, t, out, deferred, err)) << err;
	EXPECT_EQ(t.failed, 1);
	EXPECT_EQ(t.min_first, -1);
	EXPECT_EQ(next_status(5, t.target, t.min_first, t.unnamed), 20);
}

TEST_F(RunStateTest, StatusNeverMovesBackNorPastTheTarget)
{
	EXPECT_EQ(next_status(5, 10, -1, 0), 10);
	EXPECT_EQ(next_status(5, 10, 8, 0), 7);
	EXPECT_EQ(next_status(5, 10, 3, 0), 5);
	EXPECT_EQ(next_status(5, 10, 20, 0), 10);
	EXPECT_EQ(next_status(5, 3, -1, 0), 5);
	EXPECT_EQ(next_status(5, 10, -1, 2), 5);
}

TEST_F(RunStateTest, SyncChangesOnlyTheNamedProjects)
{
	NameMap prev = names({{"a", 1}, {"b", 2}, {"c", 3}});
	NameMap m = merge_sync_failed(prev, names({{"a", 0}, {"b", 0}}), names({{"b", 5}}));
	ASSERT_EQ(m.size(), 2u);
	EXPECT_EQ(m["b"].serial, 5);
	EXPECT_EQ(m["c"].serial, 3);
}

TEST_F(RunStateTest, BeginUsesTheProcessedSerialOnlyWithItsStatus)
{
	StatePaths p(dir);
	Begin b;
	std::string err;
	ASSERT_TRUE(begin_run(p, "", b, err)) << err;
	EXPECT_EQ(b.status, 0);
	EXPECT_EQ(b.since, 0);
	put("status", "100");
	put("pypi-mirror.synced-serial", "150 100\n");
	ASSERT_TRUE(begin_run(p, "", b, err));
	EXPECT_EQ(b.since, 150);
	EXPECT_TRUE(b.full_reason.empty());
	put("status", "90"); // set back by hand: the processed serial no longer holds
	ASSERT_TRUE(begin_run(p, "", b, err));
	EXPECT_EQ(b.since, 90);
	ASSERT_TRUE(begin_run(p, "fp1", b, err));
	EXPECT_EQ(b.since, 0);
	EXPECT_EQ(b.full_reason, "first filtered run over this mirror");
	put("pypi-mirror.filters", "fp1\n");
	ASSERT_TRUE(begin_run(p, "fp1", b, err));
	EXPECT_TRUE(b.full_reason.empty());
	ASSERT_TRUE(begin_run(p, "fp2", b, err));
	EXPECT_NE(b.full_reason.find("changed"), std::string::npos);
	ASSERT_TRUE(begin_run(p, "", b, err));
	EXPECT_EQ(b.full_reason, "the filters were removed since the last run");
	put("status", "x");
	EXPECT_FALSE(begin_run(p, "", b, err));
}

TEST_F(RunStateTest, HeldProjectsFromTheRootIndexElseThePages)
{
	NameMap m;
	std::string err;
	ASSERT_TRUE(held_projects(dir, m, err)) << err; // no web/: none
	EXPECT_TRUE(m.empty());
	ASSERT_TRUE(mkdir_p(dir + "/web/simple/foo-bar"));
	put("web/simple/foo-bar/index.html", "<html><body></body></html>\n<!--SERIAL 12-->\n");
	ASSERT_TRUE(held_projects(dir, m, err)) << err;
	ASSERT_EQ(m.size(), 1u);
	EXPECT_EQ(m["foo-bar"].serial, 12);
	put("web/simple/index.v1_json", "{\"meta\":{\"api-version\":\"1.1\",\"_last-serial\":30},\"projects\":["
	                                "{\"name\":\"Zope.Interface\",\"_last-serial\":20},"
	                                "{\"name\":\"demo\",\"_last-serial\":7}]}");
	m.clear();
	ASSERT_TRUE(held_projects(dir, m, err)) << err;
	ASSERT_EQ(m.size(), 2u);
	EXPECT_EQ(m["zope-interface"].serial, 20);
	EXPECT_EQ(m["demo"].serial, 7);
}

TEST_F(RunStateTest, FailedSummaryAndListText)
{
	EXPECT_EQ(failed_summary({}), "none");
	NameMap m;
	m["a"] = Pending{5, 4};
	m["b"] = Pending{6, 6};
	EXPECT_EQ(failed_summary(m), "2: a (serial 5), b (serial 6)");
	EXPECT_EQ(failed_list_text(m), "{\"name\":\"a\",\"serial\":5,\"first\":4}\n{\"name\":\"b\",\"serial\":6,\"first\":6}\n");
	EXPECT_EQ(deferred_list_text({"x"}), "{\"name\":\"x\"}\n");
}

TEST_F(RunStateTest, MetricsHaveHelpTypeAndKeepTheLastSuccess)
{
	Summary s;
	s.serial = 7;
	s.target = 10;
	s.exit_code = 3;
	std::string t = metrics_text(s, 1234, 2000);
	EXPECT_NE(t.find("# HELP pypi_mirror_lag "), std::string::npos);
	EXPECT_NE(t.find("# TYPE pypi_mirror_lag gauge\npypi_mirror_lag 3\n"), std::string::npos);
	EXPECT_NE(t.find("pypi_mirror_last_exit_code 3\n"), std::string::npos);
	EXPECT_EQ(metrics_last_success(t), 1234);
	EXPECT_EQ(metrics_last_success(metrics_text(s, -1, 2000)), -1);
	s.target = -1;
	EXPECT_EQ(metrics_text(s, -1, 2000).find("upstream_serial"), std::string::npos);
}

TEST_F(RunStateTest, SummaryRecordAndShellQuote)
{
	Summary s;
	s.previous_serial = 1;
	s.serial = 2;
	s.target = 3;
	s.projects = 4;
	s.min_first = 3;
	EXPECT_EQ(s.to_json(), "{\"type\":\"summary\",\"command\":\"mirror\",\"previous_serial\":1,\"serial\":2,"
	                       "\"target\":3,\"projects\":4,\"files_fetched\":0,\"bytes_fetched\":0,\"deleted\":0,"
	                       "\"stale\":0,\"purged\":0,\"failed\":0,\"unnamed\":0,\"lost\":0,\"min_first\":3,"
	                       "\"started\":0,\"seconds\":0,\"exit\":0}");
	EXPECT_EQ(s.human(), "projects=4 files=0 bytes=0 deleted=0 stale=0 purged=0 failed=0 serial=1->2 seconds=0");
	EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}

TEST_F(RunStateTest, RunFilesAreTheWorkDirectorysRoundsInOrder)
{
	Layout m(dir);
	ASSERT_TRUE(mkdir_p(m.work_dir()));
	std::string w = m.work_dir() + "/";
	RunFiles none = run_files(m); // no round taken up: no stale.N, no purged.N
	EXPECT_EQ(none.input, std::vector<std::string>{w + "input.ndjson"});
	EXPECT_EQ(none.results, std::vector<std::string>{w + "results.ndjson"});
	EXPECT_EQ(none.dropped, (std::vector<std::string>{w + "dropped.ndjson", w + "closure-dropped.ndjson"}));
	EXPECT_TRUE(none.stale_seen.empty());
	EXPECT_TRUE(none.purged.empty());
	EXPECT_EQ(none.stale_left, std::vector<std::string>{w + "stale.ndjson"});
	put(".pypi-mirror.work/stale.0.ndjson", "");
	put(".pypi-mirror.work/stale.1.ndjson", "");
	put(".pypi-mirror.work/stale.3.ndjson", ""); // not after a gap
	RunFiles two = run_files(m);
	EXPECT_EQ(two.stale_seen, (std::vector<std::string>{w + "stale.0.ndjson", w + "stale.1.ndjson"}));
	EXPECT_EQ(two.purged, (std::vector<std::string>{w + "purged.0.ndjson", w + "purged.1.ndjson"}));
	EXPECT_EQ(stale_round_file(m, 2), w + "stale.2.ndjson");
	EXPECT_EQ(stale_file(m), w + "stale.ndjson");
}

TEST_F(RunStateTest, StaleDelayDoublesEachRoundInPlainDecimals)
{
	EXPECT_EQ(stale_delay("2", 0), "2");
	EXPECT_EQ(stale_delay("2", 1), "4");
	EXPECT_EQ(stale_delay("2", 3), "16");
	EXPECT_EQ(stale_delay("0.1", 0), "0.1");
	EXPECT_EQ(stale_delay("0.1", 2), "0.4");
	EXPECT_EQ(stale_delay("0", 5), "0");
	EXPECT_EQ(stale_delay("1000", 20), "1048576000"); // no exponent for sleep(1)
}

} // namespace
