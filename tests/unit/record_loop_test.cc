// Unit tests for tools/lib/record_loop.{h,cc}: the loop every record-reading
// tool runs (routing, refused records, held targets, exit status).
#include "record_loop.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <poll.h>
#include <string>
#include <unistd.h>
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
			loop.emit_raw(loop.line()); // held: the failure shows when it is written out
			loop.flush_output();        // as before the tool waits
			EXPECT_TRUE(loop.broken());
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
			loop.emit_raw(loop.line());
			loop.flush_output(); // fails, logged
		});
		EXPECT_EQ(n, 2); // went on
		EXPECT_FALSE(loop.broken());
		EXPECT_EQ(loop.finish(), pm::kExitSomeFailed);
	}
	fclose(in);
	fclose(out);
}

} // namespace

namespace {

// Records wait in the output's buffer while the tool works on input it has
// already read, and go out together before it would wait for more.
TEST(RecordLoop, RecordsAreHeldUntilTheToolWouldWaitForInput)
{
	std::string text = "{\"name\":\"a\",\"serial\":1}\n{\"name\":\"b\",\"serial\":2}\n";
	FILE *in = fmemopen(text.data(), text.size(), "r");
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	FILE *out = fdopen(fds[1], "w");
	ASSERT_TRUE(in && out);
	auto readable = [&] {
		pollfd p{fds[0], POLLIN, 0};
		return poll(&p, 1, 0) == 1;
	};
	{
		pm::RecordLoop loop("t-tool", {"project"}, in, out);
		int n = 0;
		loop.run([&](pm::ProjectRecord &, rapidjson::Document &) {
			n++;
			EXPECT_TRUE(loop.emit_raw(loop.line()));
			EXPECT_FALSE(readable()) << "record " << n << " written before the tool waits";
		});
		EXPECT_EQ(n, 2);
		// The input ran dry: both went out before the read that found its end.
		EXPECT_TRUE(readable());
		char buf[256];
		ssize_t got = read(fds[0], buf, sizeof buf);
		EXPECT_EQ(std::string(buf, got > 0 ? static_cast<size_t>(got) : 0), text);
		EXPECT_EQ(loop.finish(), pm::kExitOk);
	}
	fclose(in);
	fclose(out);
	close(fds[0]);
}

} // namespace
