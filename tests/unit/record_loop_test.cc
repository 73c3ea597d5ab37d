// Unit tests for tools/lib/record_loop.{h,cc}: the loop every record-reading
// tool runs (routing, refused records, held targets, exit status).
#include "record_loop.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"

namespace {

struct Loop {
	explicit Loop(const std::string &text, std::initializer_list<const char *> acts_on = {"project"})
	    : in_text(text)
	{
		in = fmemopen(in_text.data(), in_text.size(), "r");
		out = open_memstream(&buf, &len);
		loop = std::make_unique<pm::RecordLoop>("t-tool", acts_on, in, out);
	}
	~Loop()
	{
		loop.reset();
		fclose(in);
		fclose(out);
		free(buf);
	}
	std::string output()
	{
		fflush(out);
		return std::string(buf, len);
	}
	std::string in_text;
	FILE *in, *out;
	char *buf = nullptr;
	size_t len = 0;
	std::unique_ptr<pm::RecordLoop> loop;
};

TEST(RecordLoop, HandsOverTheRecordsItActsOnAndRoutesTheRest)
{
	Loop l("{\"type\":\"target\",\"serial\":9}\n"
	       "{\"name\":\"A_b\",\"serial\":3,\"x\":1}\n"
	       "{\"type\":\"error\",\"name\":\"e\",\"serial\":1,\"tool\":\"z\",\"reason\":\"r\"}\n"
	       "\n"
	       "{\"type\":\"removal\",\"name\":\"r\",\"serial\":2}\n");
	std::vector<std::string> seen;
	l.loop->run([&](pm::ProjectRecord &r, rapidjson::Document &doc) {
		seen.push_back(r.name + "@" + std::to_string(r.serial) + " x=" + std::to_string(pm::get_int(doc, "x")));
		l.loop->emit_raw(l.loop->line());
	});
	EXPECT_EQ(l.loop->finish(), pm::kExitOk);
	ASSERT_EQ(seen.size(), 1u);
	EXPECT_EQ(seen[0], "a-b@3 x=1");
	EXPECT_EQ(l.output(), "{\"name\":\"A_b\",\"serial\":3,\"x\":1}\n"
	                      "{\"type\":\"error\",\"name\":\"e\",\"serial\":1,\"tool\":\"z\",\"reason\":\"r\"}\n"
	                      "{\"type\":\"removal\",\"name\":\"r\",\"serial\":2}\n"
	                      "{\"type\":\"target\",\"serial\":9}\n");
}

TEST(RecordLoop, ARefusedRecordThatNamesAProjectBecomesAnErrorRecord)
{
	Loop l("{\"name\":\"Bad.Pkg\",\"serial\":\"x\"}\n"
	       "not json\n"
	       "{\"name\":\"no/name\",\"serial\":1}\n"
	       "{\"type\":\"odd\",\"name\":\"o\",\"serial\":4}\n"
	       "{\"name\":\"good\",\"serial\":5}\n",
	       {"project", "removal"});
	int n = 0;
	l.loop->run([&](pm::ProjectRecord &r, rapidjson::Document &) {
		n++;
		EXPECT_EQ(r.name, "good");
		EXPECT_EQ(l.loop->line_number(), 5u);
	});
	EXPECT_EQ(n, 1);
	EXPECT_TRUE(l.loop->failed());
	EXPECT_EQ(l.loop->finish(), pm::kExitSomeFailed);
	EXPECT_EQ(l.output(),
	          "{\"type\":\"error\",\"name\":\"bad-pkg\",\"serial\":0,\"tool\":\"t-tool\",\"reason\":\"line 1: "
	          "\\\"serial\\\" is not a non-negative integer\"}\n"
	          "{\"type\":\"error\",\"name\":\"o\",\"serial\":4,\"tool\":\"t-tool\",\"reason\":\"line 4: unknown record "
	          "type \\\"odd\\\"\"}\n");
}

TEST(RecordLoop, NextAllowsTheToolToTakeTheDocument)
{
	Loop l("{\"name\":\"a\",\"serial\":1}\n{\"name\":\"b\",\"serial\":2}\n");
	std::vector<rapidjson::Document> taken;
	while (l.loop->next()) {
		taken.emplace_back();
		taken.back().Swap(l.loop->doc());
	}
	ASSERT_EQ(taken.size(), 2u);
	EXPECT_EQ(pm::get_string(taken[0], "name"), "a");
	EXPECT_EQ(pm::get_string(taken[1], "name"), "b");
	EXPECT_FALSE(l.loop->next()); // stays at the end
	EXPECT_EQ(l.loop->finish(), pm::kExitOk);
}

TEST(RecordLoop, ToolErrorsMakeErrorRecordsAndTheExitStatus)
{
	Loop l("{\"name\":\"a\",\"serial\":1}\n");
	l.loop->run([&](pm::ProjectRecord &r, rapidjson::Document &) {
		l.loop->emit_error(r.name, r.serial, "broken", "a-1.tar.gz", "https://x/a-1.tar.gz");
	});
	EXPECT_EQ(l.loop->finish(), pm::kExitSomeFailed);
	EXPECT_EQ(l.output(), "{\"type\":\"error\",\"name\":\"a\",\"serial\":1,\"tool\":\"t-tool\",\"reason\":\"broken\","
	                      "\"file\":\"a-1.tar.gz\",\"url\":\"https://x/a-1.tar.gz\"}\n");
}

TEST(RecordLoop, AClosedOutputStopsTheLoopAndIsFatal)
{
	std::string text = "{\"name\":\"a\",\"serial\":1}\n{\"name\":\"b\",\"serial\":2}\n";
	FILE *in = fmemopen(text.data(), text.size(), "r");
	FILE *out = fopen("/dev/full", "w");
	ASSERT_TRUE(in && out);
	{
		pm::RecordLoop loop("t-tool", {"project"}, in, out);
		int n = 0;
		loop.run([&](pm::ProjectRecord &, rapidjson::Document &) {
			n++;
			EXPECT_FALSE(loop.emit_raw(loop.line()));
		});
		EXPECT_EQ(n, 1);
		EXPECT_TRUE(loop.broken());
		EXPECT_EQ(loop.finish(), pm::kExitFatal);
	}
	fclose(in);
	fclose(out);
}

} // namespace

namespace {

TEST(RecordLoop, AnOutputFailureCanBeOnlyAFailure)
{
	std::string text = "{\"name\":\"a\",\"serial\":1}\n{\"name\":\"b\",\"serial\":2}\n";
	FILE *in = fmemopen(text.data(), text.size(), "r");
	FILE *out = fopen("/dev/full", "w");
	ASSERT_TRUE(in && out);
	{
		pm::RecordLoop loop("t-tool", {"project"}, in, out);
		loop.on_output_failure(pm::RecordLoop::OutputFailure::Continue);
		int n = 0;
		loop.run([&](pm::ProjectRecord &, rapidjson::Document &) {
			n++;
			EXPECT_FALSE(loop.emit_raw(loop.line()));
		});
		EXPECT_EQ(n, 2); // went on
		EXPECT_FALSE(loop.broken());
		EXPECT_EQ(loop.finish(), pm::kExitSomeFailed);
	}
	fclose(in);
	fclose(out);
}

} // namespace
