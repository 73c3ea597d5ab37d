// Requirement sources: requirements files, pyproject.toml, pylock.toml.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "req_sources.h"

namespace {

struct TmpDir {
	std::string path;
	TmpDir()
	{
		char t[] = "/tmp/req-sources-test.XXXXXX";
		path = mkdtemp(t);
	}
	~TmpDir() { std::system(("rm -rf '" + path + "'").c_str()); }
	std::string write(const std::string &name, const std::string &text) const
	{
		std::string p = path + "/" + name;
		std::ofstream(p) << text;
		return p;
	}
};

} // namespace

TEST(ReqSources, RequirementsFile)
{
	TmpDir d;
	std::string sha(64, 'a');
	std::system(("mkdir -p '" + d.path + "/sub'").c_str());
	d.write("sub/inc.txt", "# included\nincluded>=1  # trailing comment\n-c cons.txt\n");
	d.write("sub/cons.txt", "included<3\n");
	auto top = d.write("req.txt", "first \\\n  >=2 ; python_version >= '3' --hash=sha256:" + sha +
	                                  "\n\n-r sub/inc.txt\n--index-url https://x.invalid/\nthird[a,b]\r\n");
	pm::RequirementSet rs;
	std::string err;
	ASSERT_TRUE(pm::read_requirements_file(top, rs, err)) << err;
	ASSERT_EQ(rs.requirements.size(), 3u);
	EXPECT_EQ(rs.requirements[0].req.str(), "first>=2; python_version >= \"3\"");
	EXPECT_EQ(rs.requirements[0].origin, top + ":1");
	EXPECT_EQ(rs.requirements[0].hashes.count(sha), 1u);
	EXPECT_EQ(rs.requirements[1].req.name, "included");
	EXPECT_EQ(rs.requirements[1].origin, d.path + "/sub/inc.txt:2");
	EXPECT_EQ(rs.requirements[2].req.extras.size(), 2u);
	ASSERT_EQ(rs.constraints.size(), 1u);
	EXPECT_EQ(rs.constraints[0].req.str(), "included<3");
	ASSERT_EQ(rs.warnings.size(), 1u);
	EXPECT_EQ(rs.warnings[0], top + ":5: ignoring option --index-url");
}

TEST(ReqSources, RequirementsFileErrorsNameFileAndLine)
{
	TmpDir d;
	pm::RequirementSet rs;
	std::string err;
	auto f = d.write("bad.txt", "ok\nbad ;; x\n");
	EXPECT_FALSE(pm::read_requirements_file(f, rs, err));
	EXPECT_EQ(err.rfind(f + ":2: invalid marker", 0), 0u) << err;
	f = d.write("e.txt", "-e git+https://x.invalid/r.git\n");
	EXPECT_FALSE(pm::read_requirements_file(f, rs, err));
	EXPECT_NE(err.find(":1: editable"), std::string::npos) << err;
	f = d.write("h.txt", "x --hash=md5:abc\n");
	EXPECT_FALSE(pm::read_requirements_file(f, rs, err));
	EXPECT_NE(err.find("--hash must be sha256"), std::string::npos) << err;
	f = d.write("loop.txt", "-r loop.txt\n");
	EXPECT_FALSE(pm::read_requirements_file(f, rs, err));
	EXPECT_NE(err.find("nested more than 16 deep"), std::string::npos) << err;
	EXPECT_FALSE(pm::read_requirements_file(d.path + "/missing.txt", rs, err));
	EXPECT_NE(err.find("cannot open"), std::string::npos);
}

TEST(ReqSources, Pyproject)
{
	TmpDir d;
	auto f = d.write("pyproject.toml", "[project]\nname = \"x\"\ndependencies = [\"a>=1\", \"b; os_name == 'nt'\"]\n"
	                                   "[project.optional-dependencies]\nTest = [\"c\"]\ndocs = [\"d\"]\n"
	                                   "[dependency-groups]\ndev = [\"e\", {include-group = \"docs\"}]\n");
	pm::RequirementSet rs;
	std::string err;
	ASSERT_TRUE(pm::read_pyproject(f, {}, rs, err)) << err;
	std::string names;
	for (auto &r : rs.requirements) names += r.req.name + " ";
	EXPECT_EQ(names, "a b c d e ");
	EXPECT_EQ(rs.requirements[0].origin, f + ":3 ([project] dependencies)");
	pm::RequirementSet only;
	ASSERT_TRUE(pm::read_pyproject(f, {"test"}, only, err)) << err;
	names.clear();
	for (auto &r : only.requirements) names += r.req.name + " ";
	EXPECT_EQ(names, "a b c e ");
	auto bad = d.write("bad.toml", "[project]\ndependencies = [\"a >= \"]\n");
	EXPECT_FALSE(pm::read_pyproject(bad, {}, rs, err));
	EXPECT_EQ(err.rfind(bad + ":2: [project] dependencies: ", 0), 0u) << err;
	auto syntax = d.write("syntax.toml", "a = 1\n[project\n");
	EXPECT_FALSE(pm::read_pyproject(syntax, {}, rs, err));
	EXPECT_EQ(err.rfind(syntax + ":2: ", 0), 0u) << err;
}

TEST(ReqSources, Pylock)
{
	TmpDir d;
	std::string sha(64, 'b');
	auto f = d.write("pylock.toml", "lock-version = \"1.0\"\n[[packages]]\nname = \"Foo_Bar\"\nversion = \"1.0\"\n"
	                                "sdist = { name = \"foo_bar-1.0.tar.gz\", hashes = { sha256 = \"" + std::string(64, 'C') +
	                                    "\" } }\n"
	                                    "wheels = [{ url = \"https://f.invalid/p/foo_bar-1.0-py3-none-any.whl?x=1\", "
	                                    "hashes = { sha256 = \"" + sha + "\" } }]\n");
	pm::RequirementSet rs;
	std::string err;
	ASSERT_TRUE(pm::read_pylock(f, rs, err)) << err;
	ASSERT_EQ(rs.locked.size(), 1u);
	EXPECT_EQ(rs.locked[0].name, "foo-bar");
	ASSERT_EQ(rs.locked[0].files.size(), 2u);
	EXPECT_EQ(rs.locked[0].files[0].filename, "foo_bar-1.0.tar.gz");
	EXPECT_EQ(rs.locked[0].files[0].sha256, std::string(64, 'c'));
	EXPECT_EQ(rs.locked[0].files[1].filename, "foo_bar-1.0-py3-none-any.whl");
	EXPECT_EQ(rs.locked[0].files[1].sha256, sha);
	auto vcs = d.write("vcs.toml", "[[packages]]\nname = \"x\"\nvcs = { type = \"git\" }\n");
	EXPECT_FALSE(pm::read_pylock(vcs, rs, err));
	EXPECT_NE(err.find(vcs + ":1: x pins no sdist or wheel"), std::string::npos) << err;
	auto badhash = d.write("h.toml", "[[packages]]\nname = \"x\"\nwheels = [{name = \"x-1-py3-none-any.whl\", hashes = {sha256 = \"zz\"}}]\n");
	EXPECT_FALSE(pm::read_pylock(badhash, rs, err));
	EXPECT_NE(err.find("not 64 hex digits"), std::string::npos) << err;
	auto notlock = d.write("n.toml", "[project]\n");
	EXPECT_FALSE(pm::read_pylock(notlock, rs, err));
	EXPECT_NE(err.find("no [[packages]]"), std::string::npos) << err;
}
