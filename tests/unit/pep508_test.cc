// PEP 508 requirements and markers; target environments and wheel tags.
#include <gtest/gtest.h>

#include "pep508.h"
#include "target_env.h"

namespace p = pm::pep508;

namespace {

p::Environment linux311()
{
	pm::TargetEnv e;
	std::string err;
	EXPECT_TRUE(pm::parse_target_env("cp311-manylinux-x86_64", e, err)) << err;
	return e.markers;
}

bool marker(const char *text, const p::Environment &env, const char *extra = "")
{
	std::string err;
	auto m = p::parse_marker(text, &err);
	EXPECT_TRUE(m) << text << ": " << err;
	return m && m->evaluate(env, extra);
}

} // namespace

TEST(Pep508, ParsesNameExtrasSpecsMarker)
{
	std::string err;
	auto r = p::parse_requirement("Foo_Bar[Sec, tests ,sec] >=1.0,<2 ; python_version >= '3.8'", &err);
	ASSERT_TRUE(r) << err;
	EXPECT_EQ(r->name, "foo-bar");
	EXPECT_EQ(r->display_name, "Foo_Bar");
	EXPECT_EQ(r->extras, (std::vector<std::string>{"sec", "tests"}));
	EXPECT_EQ(r->specs.str(), ">=1.0,<2");
	EXPECT_EQ(r->marker.str(), "python_version >= \"3.8\"");
	r = p::parse_requirement("name (>=1, !=1.3.*)", &err);
	ASSERT_TRUE(r) << err;
	EXPECT_EQ(r->specs.specs.size(), 2u);
	r = p::parse_requirement("zope.interface", &err);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->name, "zope-interface");
	EXPECT_TRUE(r->marker.empty());
	r = p::parse_requirement("name[]>=1", &err);
	ASSERT_TRUE(r) << err;
	EXPECT_TRUE(r->extras.empty());
}

TEST(Pep508, RefusesBadLinesWithReasons)
{
	std::string err;
	EXPECT_FALSE(p::parse_requirement("pip @ https://example.invalid/pip.whl", &err));
	EXPECT_NE(err.find("URL requirements"), std::string::npos) << err;
	EXPECT_FALSE(p::parse_requirement("-foo", &err));
	EXPECT_NE(err.find("invalid project name"), std::string::npos);
	EXPECT_FALSE(p::parse_requirement("foo[bar", &err));
	EXPECT_NE(err.find("unterminated extras"), std::string::npos);
	EXPECT_FALSE(p::parse_requirement("foo[a,,b]", &err));
	EXPECT_FALSE(p::parse_requirement("foo >=> 1", &err));
	EXPECT_FALSE(p::parse_requirement("foo ; python_version >= ", &err));
	EXPECT_FALSE(p::parse_requirement("foo ; python_versio == '3'", &err));
	EXPECT_NE(err.find("unknown marker variable 'python_versio'"), std::string::npos) << err;
	EXPECT_FALSE(p::parse_requirement("foo ; (python_version == '3'", &err));
	EXPECT_FALSE(p::parse_requirement("foo ; os_name == 'nt' and", &err));
	EXPECT_FALSE(p::parse_requirement("foo ; os_name = 'nt'", &err));
	EXPECT_FALSE(p::parse_requirement("foo ; os_name == 'nt", &err));
	EXPECT_NE(err.find("unterminated string"), std::string::npos);
	EXPECT_FALSE(p::parse_requirement("", &err));
	std::string deep = "foo ; " + std::string(100, '(') + "os_name == 'nt'" + std::string(100, ')');
	EXPECT_FALSE(p::parse_requirement(deep, &err));
	EXPECT_NE(err.find("nested too deeply"), std::string::npos);
}

TEST(Pep508, VersionComparisons)
{
	auto env = linux311();
	EXPECT_TRUE(marker("python_version >= '3.8'", env));
	EXPECT_FALSE(marker("python_version < '3.8'", env));
	// 3.11 > 3.9 as versions, though "3.11" < "3.9" as strings.
	EXPECT_TRUE(marker("python_version > '3.9'", env));
	EXPECT_TRUE(marker("'3.9' < python_version", env));
	EXPECT_TRUE(marker("python_version == '3.11.*'", env));
	EXPECT_TRUE(marker("python_version ~= '3.10'", env));
	EXPECT_TRUE(marker("python_full_version >= '3.11.0'", env));
	EXPECT_FALSE(marker("python_full_version >= '3.11.1'", env));
	EXPECT_TRUE(marker("python_version != '2.7'", env));
}

TEST(Pep508, StringComparisonsAndInclusion)
{
	auto env = linux311();
	EXPECT_TRUE(marker("sys_platform == 'linux'", env));
	EXPECT_FALSE(marker("sys_platform == 'win32'", env));
	EXPECT_TRUE(marker("platform_machine in 'x86_64 AMD64'", env));
	EXPECT_TRUE(marker("'arm' not in platform_machine", env));
	EXPECT_TRUE(marker("implementation_name == \"cpython\" and os_name == 'posix'", env));
	EXPECT_TRUE(marker("sys_platform == 'win32' or platform_system == 'Linux'", env));
	EXPECT_FALSE(marker("(sys_platform == 'win32' or sys_platform == 'darwin') and python_version > '3'", env));
	EXPECT_TRUE(marker("sys.platform == 'linux' and python_implementation == 'CPython'", env));
	// ~= needs versions: false on strings, not an error.
	EXPECT_FALSE(marker("sys_platform ~= 'linux'", env));
	// and binds tighter than or.
	EXPECT_TRUE(marker("os_name == 'nt' and sys_platform == 'win32' or os_name == 'posix'", env));
}

TEST(Pep508, Extras)
{
	auto env = linux311();
	std::string err;
	auto r = p::parse_requirement("pysocks>=1.5 ; extra == 'SOCKS'", &err);
	ASSERT_TRUE(r) << err;
	EXPECT_FALSE(r->applies(env));
	EXPECT_TRUE(r->applies(env, {"socks"}));
	EXPECT_FALSE(r->applies(env, {"other"}));
	EXPECT_TRUE(r->applies(env, {"other", "socks"}));
	r = p::parse_requirement("win-only ; extra == 'a_b' and sys_platform == 'win32'", &err);
	ASSERT_TRUE(r);
	EXPECT_FALSE(r->applies(env, {"a-b"}));
	r = p::parse_requirement("always ; python_version >= '3'", &err);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->applies(env, {"x"}));
}

TEST(TargetEnv, LinuxTagsAndMarkers)
{
	pm::TargetEnv e;
	std::string err;
	ASSERT_TRUE(pm::parse_target_env("cp311-manylinux-x86_64", e, err)) << err;
	EXPECT_EQ(e.markers.at("python_version"), "3.11");
	EXPECT_EQ(e.markers.at("python_full_version"), "3.11.0");
	EXPECT_EQ(e.markers.at("sys_platform"), "linux");
	EXPECT_EQ(e.markers.at("platform_machine"), "x86_64");
	EXPECT_TRUE(e.accepts_wheel("a-1.0-py3-none-any.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-py2.py3-none-any.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp311-cp311-manylinux1_x86_64.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp38-abi3-manylinux_2_28_x86_64.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-1-cp311-cp311-manylinux_2_39_x86_64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp311-cp311-manylinux_2_40_x86_64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp311-cp311-musllinux_1_1_x86_64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp311-cp311-win_amd64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-py2-none-any.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0.tar.gz"));
	EXPECT_EQ(e.tags.front(), "cp311-cp311-manylinux_2_39_x86_64");
	EXPECT_EQ(e.tags.back(), "py30-none-any");
	EXPECT_TRUE(e.accepts_python(">=3.8"));
	EXPECT_FALSE(e.accepts_python(">=3.12"));
	EXPECT_TRUE(e.accepts_python(""));

	ASSERT_TRUE(pm::parse_target_env("cp312-manylinux-aarch64", e, err));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp312-cp312-manylinux1_aarch64.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp312-cp312-manylinux2014_aarch64.whl"));
	ASSERT_TRUE(pm::parse_target_env("cp312-musllinux-x86_64", e, err));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp312-cp312-musllinux_1_1_x86_64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp312-cp312-manylinux2014_x86_64.whl"));
}

TEST(TargetEnv, WindowsAndMacos)
{
	pm::TargetEnv e;
	std::string err;
	ASSERT_TRUE(pm::parse_target_env("cp3.12.4-win-amd64", e, err)) << err;
	EXPECT_EQ(e.spec, "cp3.12.4-win-amd64");
	EXPECT_EQ(e.markers.at("python_full_version"), "3.12.4");
	EXPECT_EQ(e.markers.at("sys_platform"), "win32");
	EXPECT_EQ(e.markers.at("platform_system"), "Windows");
	EXPECT_EQ(e.markers.at("os_name"), "nt");
	EXPECT_EQ(e.markers.at("platform_machine"), "AMD64");
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp312-cp312-win_amd64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp312-cp312-win32.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp311-cp311-win_amd64.whl"));

	ASSERT_TRUE(pm::parse_target_env("cp313-macos-arm64", e, err));
	EXPECT_EQ(e.markers.at("sys_platform"), "darwin");
	EXPECT_EQ(e.markers.at("platform_machine"), "arm64");
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp313-cp313-macosx_11_0_arm64.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp313-cp313-macosx_15_0_universal2.whl"));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp313-cp313-macosx_10_9_universal2.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp313-cp313-macosx_10_9_x86_64.whl"));
	EXPECT_FALSE(e.accepts_wheel("a-1.0-cp313-cp313-macosx_16_0_arm64.whl"));
	ASSERT_TRUE(pm::parse_target_env("cp313-macos-x86_64", e, err));
	EXPECT_TRUE(e.accepts_wheel("a-1.0-cp313-cp313-macosx_10_9_x86_64.whl"));
}

TEST(TargetEnv, RefusesBadSpellings)
{
	pm::TargetEnv e;
	std::string err;
	for (const char *bad : {"cp311", "cp311-linux-x86_64", "cp311-win-x86_64", "py311-win-amd64", "cp2-win-amd64",
	                        "cp27-win-amd64", "cp311-manylinux-x86_64-extra", "cpxy-win-amd64", "cp3.x-win-amd64"}) {
		EXPECT_FALSE(pm::parse_target_env(bad, e, err)) << bad;
		EXPECT_FALSE(err.empty());
	}
}
