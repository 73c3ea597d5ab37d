// Unit tests for tools/lib/cli.{h,cc}: the options several tools share,
// parsed and checked in one place.
#include "cli.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace {

TEST(Cli, MirrorOptions)
{
	pm::MirrorOptions mo;
	EXPECT_TRUE(mo.option('d', "t", "/srv/mirror//"));
	EXPECT_EQ(mo.dir, "/srv/mirror");
	EXPECT_TRUE(mo.option('d', "t", "/"));
	EXPECT_EQ(mo.dir, "/");
	EXPECT_TRUE(mo.option(pm::kOptConfig, "t", "/etc/pypi-mirror.conf"));
	EXPECT_EQ(mo.config, "/etc/pypi-mirror.conf");
	EXPECT_FALSE(mo.fsync);
	EXPECT_TRUE(mo.option(pm::kOptFsync, "t", nullptr));
	EXPECT_TRUE(mo.fsync);
	EXPECT_FALSE(mo.option('j', "t", "3")); // not one of them: the tool's own
	EXPECT_EXIT(mo.option('d', "t", ""), ::testing::ExitedWithCode(2), "t: -d wants a directory");

	pm::MirrorOptions none;
	EXPECT_EXIT(none.require("t"), ::testing::ExitedWithCode(2), "t: -d/--directory DIR is required");
	none.config = "/etc/pypi-mirror.conf"; // its [mirror] directory names the mirror
	none.require("t");
}

TEST(Cli, NowFromTheEnvironmentOrTheOption)
{
	setenv("PYPI_MIRROR_NOW", "1700000000", 1);
	EXPECT_EQ(pm::now_from_env("t"), 1700000000);
	setenv("PYPI_MIRROR_NOW", "soon", 1);
	EXPECT_EXIT(pm::now_from_env("t"), ::testing::ExitedWithCode(2), "PYPI_MIRROR_NOW wants a whole number");
	unsetenv("PYPI_MIRROR_NOW");
	long long before = time(nullptr);
	long long now = pm::now_from_env("t");
	EXPECT_GE(now, before);
	EXPECT_LE(now, static_cast<long long>(time(nullptr)));
	EXPECT_TRUE(pm::now_option(pm::kOptNow, "t", "42", now));
	EXPECT_EQ(now, 42);
	EXPECT_FALSE(pm::now_option('d', "t", "7", now));
	EXPECT_EQ(now, 42);
	EXPECT_EXIT(pm::now_option(pm::kOptNow, "t", "-1", now), ::testing::ExitedWithCode(2), "--now wants");
}

} // namespace
