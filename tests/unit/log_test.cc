// Unit tests for tools/lib/log.{h,cc}: the operators' log line format.
#include "log.h"

#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {

// Restores the process-wide threshold after each test.
class LogTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		saved = pm::log_level();
		pm::log_set_level(pm::Level::Info);
	}
	void TearDown() override { pm::log_set_level(saved); }
	pm::Level saved{};
};

// True if line is "YYYY-MM-DD HH:MM:SS,mmm " followed by rest and a newline.
// (A hand matcher: std::regex trips GCC 12 warnings under the sanitizers.)
bool stamped(const std::string &line, const std::string &rest)
{
	const std::string shape = "dddd-dd-dd dd:dd:dd,ddd ";
	if (line.size() != shape.size() + rest.size() + 1 || line.back() != '\n') return false;
	for (size_t i = 0; i < shape.size(); i++) {
		if (shape[i] == 'd' ? !isdigit(static_cast<unsigned char>(line[i])) : line[i] != shape[i]) return false;
	}
	return line.compare(shape.size(), rest.size(), rest) == 0;
}

std::string capture(void (*fn)())
{
	testing::internal::CaptureStderr();
	fn();
	return testing::internal::GetCapturedStderr();
}

TEST_F(LogTest, Format)
{
	std::string out = capture([] { LOG_INFO("Syncing package: %s (serial %d)", "foo", 1154164); });
	EXPECT_TRUE(stamped(out, "INFO: Syncing package: foo (serial 1154164)")) << out;

	out = capture([] {
		LOG_WARN("w");
		LOG_ERROR("e");
	});
	size_t nl = out.find('\n');
	ASSERT_NE(nl, std::string::npos) << out;
	EXPECT_TRUE(stamped(out.substr(0, nl + 1), "WARNING: w")) << out;
	EXPECT_TRUE(stamped(out.substr(nl + 1), "ERROR: e")) << out;

	// The matcher itself refuses near misses.
	EXPECT_FALSE(stamped("2026-11-23 01:30:04.592 INFO: x\n", "INFO: x"));
	EXPECT_FALSE(stamped("2026-11-23 01:30:04,59 INFO: x\n", "INFO: x"));
	EXPECT_FALSE(stamped("2026-11-23 01:30:04,592 INFO: x", "INFO: x"));
	EXPECT_TRUE(stamped("2026-11-23 01:30:04,592 INFO: x\n", "INFO: x"));
}

TEST_F(LogTest, Threshold)
{
	EXPECT_EQ(capture([] { LOG_DEBUG("hidden"); }), "");
	pm::log_set_level(pm::Level::Debug);
	EXPECT_EQ(pm::log_level(), pm::Level::Debug);
	EXPECT_NE(capture([] { LOG_DEBUG("shown"); }).find(" DEBUG: shown\n"), std::string::npos);

	pm::log_set_level(pm::Level::Error);
	EXPECT_EQ(capture([] {
		          LOG_INFO("i");
		          LOG_WARN("w");
	          }),
	          "");
	EXPECT_NE(capture([] { LOG_ERROR("e"); }).find(" ERROR: e\n"), std::string::npos);
}

TEST_F(LogTest, Adjust)
{
	pm::log_adjust(-1); // -v
	EXPECT_EQ(pm::log_level(), pm::Level::Debug);
	pm::log_adjust(-5); // clamped
	EXPECT_EQ(pm::log_level(), pm::Level::Debug);
	pm::log_adjust(+2); // -qq
	EXPECT_EQ(pm::log_level(), pm::Level::Warning);
	pm::log_adjust(+9);
	EXPECT_EQ(pm::log_level(), pm::Level::Error);
	EXPECT_EQ(capture([] { LOG_WARN("w"); }), "");
}

TEST_F(LogTest, ControlCharactersReplaced)
{
	std::string out = capture([] { LOG_INFO("name=%s", "evil\n2026-01-01 00:00:00,000 ERROR: forged\r\x1b[31m\ttab"); });
	// Exactly one line: the newline inside the message cannot forge another.
	ASSERT_FALSE(out.empty());
	EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
	EXPECT_EQ(out.find('\r'), std::string::npos);
	EXPECT_EQ(out.find('\x1b'), std::string::npos);
	EXPECT_NE(out.find("name=evil?2026-01-01 00:00:00,000 ERROR: forged??[31m\ttab\n"), std::string::npos) << out;
}

TEST_F(LogTest, LongMessageTruncatedToOneLine)
{
	std::string out = capture([] { LOG_INFO("%s", std::string(10000, 'x').c_str()); });
	EXPECT_EQ(out.find('\n'), out.size() - 1);
	EXPECT_GT(out.size(), 4000u);
	EXPECT_LT(out.size(), 4200u);
}

// stderr into a file that can be read at any point (gtest's capture can
// only be read once, at its end).
class StderrFile {
public:
	StderrFile()
	{
		fflush(stderr);
		f_ = tmpfile();
		saved_ = dup(2);
		dup2(fileno(f_), 2);
	}
	~StderrFile()
	{
		dup2(saved_, 2);
		close(saved_);
		fclose(f_);
	}
	std::string text() const
	{
		std::string out;
		char buf[4096];
		ssize_t n;
		for (off_t at = 0; (n = pread(fileno(f_), buf, sizeof buf, at)) > 0; at += n) out.append(buf, static_cast<size_t>(n));
		return out;
	}

private:
	FILE *f_ = nullptr;
	int saved_ = -1;
};

size_t count(const std::string &s, const std::string &what)
{
	size_t n = 0;
	for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) n++;
	return n;
}

TEST_F(LogTest, HeldUntilFlush)
{
	StderrFile err;
	pm::log_hold();
	LOG_INFO("first");
	LOG_DEBUG("not shown at INFO");
	LOG_TOOL_INFO("second");
	EXPECT_EQ(err.text(), "");
	pm::log_flush();
	std::string out = err.text();
	size_t nl = out.find('\n');
	ASSERT_NE(nl, std::string::npos) << out;
	EXPECT_TRUE(stamped(out.substr(0, nl + 1), "INFO: first")) << out;
	EXPECT_EQ(out.find("not shown"), std::string::npos) << out;
	EXPECT_NE(out.find(" INFO: second\n"), std::string::npos) << out;
	pm::log_flush(); // nothing held: nothing written twice
	EXPECT_EQ(err.text(), out);
	LOG_INFO("third");
	EXPECT_EQ(err.text(), out);
	pm::log_release(); // the last release writes what is held
	EXPECT_NE(err.text().find(" INFO: third\n"), std::string::npos);
	LOG_INFO("fourth"); // no hold: at once
	EXPECT_NE(err.text().find(" INFO: fourth\n"), std::string::npos);
}

TEST_F(LogTest, WarningGoesOutAtOnceAfterTheHeldLines)
{
	StderrFile err;
	pm::LogHold hold;
	LOG_INFO("before");
	LOG_WARN("warned");
	std::string out = err.text();
	size_t b = out.find(" INFO: before\n"), w = out.find(" WARNING: warned\n");
	ASSERT_NE(b, std::string::npos) << out;
	ASSERT_NE(w, std::string::npos) << out;
	EXPECT_LT(b, w);
	LOG_ERROR("failed");
	EXPECT_NE(err.text().find(" ERROR: failed\n"), std::string::npos);
}

TEST_F(LogTest, NestedHoldsFlushAtTheOutermostRelease)
{
	StderrFile err;
	{
		pm::LogHold outer;
		{
			pm::LogHold inner;
			LOG_INFO("nested");
		}
		EXPECT_EQ(err.text(), "");
	}
	EXPECT_EQ(count(err.text(), " INFO: nested\n"), 1u);
}

TEST_F(LogTest, FullBufferWritesTheOlderLines)
{
	StderrFile err;
	pm::LogHold hold;
	// ~1 KiB lines: far more than the buffer holds.
	std::string pad(1000, 'x');
	for (int i = 0; i < 200; i++) LOG_INFO("line %03d %s", i, pad.c_str());
	std::string out = err.text();
	EXPECT_NE(out.find(" INFO: line 000 "), std::string::npos);
	EXPECT_EQ(out.find(" INFO: line 199 "), std::string::npos); // still held
	pm::log_flush();
	out = err.text();
	// Every line once, whole and in order.
	size_t at = 0;
	for (int i = 0; i < 200; i++) {
		char want[32];
		snprintf(want, sizeof want, " INFO: line %03d ", i);
		size_t p = out.find(want, at);
		ASSERT_NE(p, std::string::npos) << i;
		at = p + 1;
		EXPECT_EQ(count(out, want), 1u) << i;
	}
	EXPECT_EQ(count(out, "\n"), 200u);
}

// The held lines are not lost when the process ends other than by SIGKILL.
TEST(LogDeathTest, HeldLinesWrittenAtExit)
{
	EXPECT_EXIT(
	    {
		    pm::log_hold();
		    LOG_INFO("held at exit");
		    exit(0);
	    },
	    testing::ExitedWithCode(0), " INFO: held at exit\n");
}

TEST(LogDeathTest, HeldLinesWrittenAtAbort)
{
	EXPECT_EXIT(
	    {
		    pm::log_hold();
		    LOG_INFO("held at abort");
		    abort();
	    },
	    testing::KilledBySignal(SIGABRT), " INFO: held at abort\n");
}

TEST(LogDeathTest, HeldLinesWrittenAtSigterm)
{
	EXPECT_EXIT(
	    {
		    pm::log_hold();
		    LOG_INFO("held at SIGTERM");
		    raise(SIGTERM);
		    LOG_INFO("not reached");
	    },
	    testing::KilledBySignal(SIGTERM), " INFO: held at SIGTERM\n$");
}

} // namespace
