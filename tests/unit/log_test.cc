// Unit tests for tools/lib/log.{h,cc}: the operators' log line format.
#include "log.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

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

} // namespace
