// Unit tests for tools/lib/cli.{h,cc}: the options several tools share,
// parsed and checked in one place.
#include "cli.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

namespace {

// A tool's table as optgen.awk writes one: a shared option, options of its
// own with and without a short form, optional arguments.
enum { kOptRate = 0x800, kOptNetrc };
const option kTable[] = {
    PM_DIRECTORY_LONGOPT,
    {"dry-run", no_argument, nullptr, 'n'},
    {"rate", required_argument, nullptr, kOptRate},
    {"netrc", optional_argument, nullptr, kOptNetrc},
    {"level", optional_argument, nullptr, 'L'},
    PM_COMMON_LONGOPTS,
    {nullptr, 0, nullptr, 0},
};

// Runs parse_options over args (argv[0] is "t"), returning what handle saw.
std::vector<std::pair<int, std::string>> parse(std::vector<std::string> args, bool operands = false,
                                               std::string *first_operand = nullptr)
{
	args.insert(args.begin(), "t");
	std::vector<char *> argv;
	for (auto &a : args) argv.push_back(a.data());
	argv.push_back(nullptr);
	std::vector<std::pair<int, std::string>> seen;
	optind = 0; // getopt starts afresh
	pm::parse_options("t", {kTable, "usage: t [OPTION]...\n", operands}, static_cast<int>(args.size()), argv.data(),
	                  [&](int c) { seen.push_back({c, optarg ? optarg : "(none)"}); });
	if (first_operand) *first_operand = optind < static_cast<int>(args.size()) ? argv[optind] : "";
	return seen;
}

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

TEST(Cli, ParseOptionsHandsTheToolItsOptionsInOrder)
{
	using Seen = std::vector<std::pair<int, std::string>>;
	// The short forms come from the table: -d takes an argument, -n none,
	// -L an optional one (only attached); the common ones are not passed on.
	EXPECT_EQ(parse({"-d", "/srv", "--rate=3", "-n", "--netrc", "-Lx", "-v", "--netrc=f", "--dry-run", "-L"}),
	          (Seen{{'d', "/srv"},
	                {kOptRate, "3"},
	                {'n', "(none)"},
	                {kOptNetrc, "(none)"},
	                {'L', "x"},
	                {kOptNetrc, "f"},
	                {'n', "(none)"},
	                {'L', "(none)"}}));
	EXPECT_EQ(parse({"--directory", "/m", "--rate", "4"}), (Seen{{'d', "/m"}, {kOptRate, "4"}}));
	EXPECT_EQ(parse({}), Seen{});
}

TEST(Cli, ParseOptionsUsageErrors)
{
	EXPECT_EXIT(parse({"-n", "records.ndjson"}), ::testing::ExitedWithCode(2),
	            "t: unexpected argument 'records.ndjson'\nTry 't --help' for more information.");
	EXPECT_EXIT(parse({"--bogus"}), ::testing::ExitedWithCode(2), "Try 't --help' for more information.");
	EXPECT_EXIT(parse({"-x"}), ::testing::ExitedWithCode(2), "Try 't --help'");
	EXPECT_EXIT(parse({"--rate"}), ::testing::ExitedWithCode(2), "Try 't --help'");
	EXPECT_EXIT(parse({"-R", "3"}), ::testing::ExitedWithCode(2), "Try 't --help'"); // no short form
	EXPECT_EXIT(parse({"--help"}), ::testing::ExitedWithCode(0), "");
	EXPECT_EXIT(parse({"-V"}), ::testing::ExitedWithCode(0), "");
}

TEST(Cli, ParseOptionsLeavesOperandsToAToolThatTakesThem)
{
	std::string first;
	using Seen = std::vector<std::pair<int, std::string>>;
	// getopt permutes: options after the command are options still.
	EXPECT_EQ(parse({"begin", "-n", "--rate", "2", "x"}, true, &first), (Seen{{'n', "(none)"}, {kOptRate, "2"}}));
	EXPECT_EQ(first, "begin");
}

} // namespace
