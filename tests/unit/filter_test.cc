// Unit tests for the partial-mirror filter rules (tools/lib/filter_config).
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>

#include "filter_config.h"

using namespace pm;

namespace {

std::string write_config(const std::string &text)
{
	char path[] = "/tmp/pm-filter-test-XXXXXX";
	int fd = mkstemp(path);
	EXPECT_GE(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs(text.c_str(), f);
	fclose(f);
	return path;
}

FileEntry file(const std::string &name, const std::string &version, const std::string &time = "2024-01-01T00:00:00Z",
               long long size = 10)
{
	FileEntry f;
	f.filename = name;
	f.version = version;
	f.upload_time = time;
	f.size = size;
	return f;
}

std::vector<std::string> names(const ProjectRecord &r)
{
	std::vector<std::string> v;
	for (auto &f : r.files) v.push_back(f.filename);
	return v;
}

FilterConfig load(const std::string &text)
{
	FilterConfig cfg;
	std::string err, path = write_config(text);
	EXPECT_TRUE(load_filter_config(path, cfg, err)) << err;
	remove(path.c_str());
	return cfg;
}

} // namespace

TEST(Filter, WheelTags)
{
	WheelTags t;
	ASSERT_TRUE(parse_wheel_tags("foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", t));
	EXPECT_EQ(t.python, std::vector<std::string>{"cp311"});
	EXPECT_EQ(t.platform.size(), 2u);
	ASSERT_TRUE(parse_wheel_tags("foo-1.0-1build-py2.py3-none-any.whl", t));
	EXPECT_EQ(t.python, (std::vector<std::string>{"py2", "py3"}));
	EXPECT_FALSE(parse_wheel_tags("foo-1.0.tar.gz", t));
	EXPECT_FALSE(parse_wheel_tags("foo-1.0.whl", t));
}

TEST(Filter, SizeParsing)
{
	EXPECT_EQ(parse_size("1024"), 1024);
	EXPECT_EQ(parse_size("1K"), 1024);
	EXPECT_EQ(parse_size("2G"), 2LL << 30);
	EXPECT_EQ(parse_size("1.5MB"), 1572864);
	EXPECT_EQ(parse_size("lots"), -1);
}

TEST(Filter, BandersnatchProjectLists)
{
	auto cfg = load("[plugins]\nenabled =\n    allowlist_project\n    blacklist_project\n"
	                "[allowlist]\npackages =\n    Requests\n    numpy>=2\n    Foo_Bar\n"
	                "[blacklist]\npackages =\n    foo-bar\n");
	EXPECT_FALSE(filter_project_name(cfg, "requests").drop_project);
	EXPECT_FALSE(filter_project_name(cfg, "numpy").drop_project); // named with a specifier: still allowed
	EXPECT_TRUE(filter_project_name(cfg, "django").drop_project);
	EXPECT_TRUE(filter_project_name(cfg, "foo-bar").drop_project); // blocklist wins
}

TEST(Filter, ReleaseSpecifiersAndPrereleases)
{
	auto cfg = load("[plugins]\nenabled =\n allowlist_release\n prerelease_release\n"
	                "[allowlist]\npackages =\n numpy>=2,<3\n");
	ProjectRecord r;
	r.name = "numpy";
	r.files = {file("numpy-1.26.tar.gz", "1.26"), file("numpy-2.0.tar.gz", "2.0"), file("numpy-2.1rc1.tar.gz", "2.1rc1"),
	           file("numpy-3.0.tar.gz", "3.0")};
	auto res = filter_project(cfg, r, 2000000000);
	EXPECT_FALSE(res.drop_project);
	EXPECT_EQ(names(r), std::vector<std::string>{"numpy-2.0.tar.gz"});
	EXPECT_EQ(res.dropped_files.size(), 3u);
}

TEST(Filter, PrereleaseOnlyForListedProjects)
{
	auto cfg = load("[plugins]\nenabled = prerelease_release\n[filter_prerelease]\npackages =\n duckdb\n");
	ProjectRecord a, b;
	a.name = "duckdb";
	a.files = {file("duckdb-1.0.dev1.tar.gz", "1.0.dev1"), file("duckdb-0.9.tar.gz", "0.9")};
	b.name = "other";
	b.files = {file("other-1.0b1.tar.gz", "1.0b1")};
	filter_project(cfg, a, 0);
	filter_project(cfg, b, 0);
	EXPECT_EQ(names(a), std::vector<std::string>{"duckdb-0.9.tar.gz"});
	EXPECT_EQ(b.files.size(), 1u);
}

TEST(Filter, LatestByVersionAndTime)
{
	auto cfg = load("[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\n");
	ProjectRecord r;
	r.name = "p";
	r.files = {file("p-1.10.tar.gz", "1.10", "2024-01-01T00:00:00Z"), file("p-1.9.tar.gz", "1.9", "2024-06-01T00:00:00Z"),
	           file("p-1.2.tar.gz", "1.2", "2024-07-01T00:00:00Z")};
	filter_project(cfg, r, 0);
	EXPECT_EQ(names(r), (std::vector<std::string>{"p-1.10.tar.gz", "p-1.9.tar.gz"}));

	auto bytime = load("[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 1\nsort_by = time\n");
	ProjectRecord s;
	s.name = "p";
	// 1.10 yanked, so 1.2 is current and the time order alone decides.
	s.files = {file("p-1.10.tar.gz", "1.10", "2024-01-01T00:00:00Z"), file("p-1.2.tar.gz", "1.2", "2024-07-01T00:00:00Z")};
	s.files[0].yanked = true;
	filter_project(bytime, s, 0);
	EXPECT_EQ(names(s), std::vector<std::string>{"p-1.2.tar.gz"});
}

TEST(Filter, LatestKeepsTheCurrentVersion)
{
	// bandersnatch never drops the current (stable) version: it takes the
	// place of the oldest of the latest N.
	auto cfg = load("[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\n");
	ProjectRecord r;
	r.name = "p";
	r.files = {file("p-1.0.tar.gz", "1.0"), file("p-1.1.tar.gz", "1.1"), file("p-2.0a1.tar.gz", "2.0a1"),
	           file("p-2.0b1.tar.gz", "2.0b1")};
	EXPECT_EQ(current_version(r), "1.1");
	filter_project(cfg, r, 0);
	EXPECT_EQ(names(r), (std::vector<std::string>{"p-1.1.tar.gz", "p-2.0b1.tar.gz"}));

	// The document's info.version wins over what the files suggest.
	ProjectRecord d;
	d.name = "p";
	d.files = {file("p-1.0.tar.gz", "1.0"), file("p-1.1.tar.gz", "1.1"), file("p-1.2.tar.gz", "1.2")};
	rapidjson::Document doc;
	doc.Parse(R"({"info":{"version":"1.0"}})");
	filter_project(cfg, d, 0, &doc);
	EXPECT_EQ(names(d), (std::vector<std::string>{"p-1.0.tar.gz", "p-1.2.tar.gz"}));

	// A current version another rule dropped stays dropped.
	auto block = load("[plugins]\nenabled =\n latest_release\n blocklist_release\n[blocklist]\npackages = p==1.1\n"
	                  "[latest_release]\nkeep = 1\n");
	ProjectRecord b;
	b.name = "p";
	b.files = {file("p-1.0.tar.gz", "1.0"), file("p-1.1.tar.gz", "1.1"), file("p-2.0a1.tar.gz", "2.0a1")};
	filter_project(block, b, 0);
	EXPECT_EQ(names(b), std::vector<std::string>{"p-2.0a1.tar.gz"});

	// Every file of the newest final yanked: the newest with a live file.
	ProjectRecord y;
	y.files = {file("p-1.0.tar.gz", "1.0"), file("p-1.1.tar.gz", "1.1")};
	y.files[1].yanked = true;
	EXPECT_EQ(current_version(y), "1.0");
}

TEST(Filter, VersionsCount)
{
	auto cfg = load("[plugins]\nenabled = versions_count_project_metadata\n[versions_count_project_metadata]\n"
	                "min_versions = 2\nmax_versions = 3\n[allowlist]\npackages = big\n");
	auto with = [](int n, const char *name) {
		ProjectRecord r;
		r.name = name;
		for (int i = 0; i < n; i++) r.files.push_back(file(std::string(name) + "-" + std::to_string(i) + ".tar.gz",
		                                                   std::to_string(i) + ".0"));
		return r;
	};
	auto one = with(1, "p"), two = with(2, "p"), three = with(3, "p"), four = with(4, "p"), big = with(4, "big");
	EXPECT_TRUE(filter_project(cfg, one, 0).drop_project);
	EXPECT_FALSE(filter_project(cfg, two, 0).drop_project);
	EXPECT_FALSE(filter_project(cfg, three, 0).drop_project);
	EXPECT_TRUE(filter_project(cfg, four, 0).drop_project);
	EXPECT_FALSE(filter_project(cfg, big, 0).drop_project); // allowlisted: exempt
	// The document counts releases without files too.
	rapidjson::Document doc;
	doc.Parse(R"({"info":{},"releases":{"0.0":[],"1.0":[],"2.0":[]}})");
	auto only_one = with(1, "p");
	EXPECT_FALSE(filter_project(cfg, only_one, 0, &doc).drop_project);
	// min above max: off, as bandersnatch leaves it.
	auto off = load("[plugins]\nenabled = versions_count_project_metadata\n[versions_count_project_metadata]\n"
	                "min_versions = 5\nmax_versions = 3\n");
	auto lone = with(1, "p");
	EXPECT_FALSE(filter_project(off, lone, 0).drop_project);
	FilterConfig bad;
	std::string err, path = write_config("[versions_count_project_metadata]\nmax_versions = many\n");
	EXPECT_FALSE(load_filter_config(path, bad, err));
	EXPECT_NE(err.find("max_versions"), std::string::npos) << err;
	remove(path.c_str());
}

TEST(Filter, RegexProjectMetadata)
{
	// Keys carry colons: the INI reader splits at the first ":" and the
	// config puts them back together, continuation lines included.
	auto cfg = load("[plugins]\nenabled = regex_project_metadata\n[regex_project_metadata]\n"
	                "not-null:info.classifiers =\n    .*Programming Language :: Python :: 3\n"
	                "    .*License :: OSI Approved :: MIT.*\n"
	                "none:info.license = GPL.*\n");
	ASSERT_EQ(cfg.project_metadata.size(), 2u);
	EXPECT_TRUE(cfg.needs_project_json());
	auto judge = [&](const char *json) {
		ProjectRecord r;
		r.name = "p";
		r.files = {file("p-1.0.tar.gz", "1.0")};
		rapidjson::Document d;
		d.Parse(json);
		return filter_project(cfg, r, 0, &d).drop_project;
	};
	EXPECT_FALSE(judge(R"({"info":{"classifiers":["Programming Language :: Python :: 3"],"license":"MIT"}})"));
	EXPECT_FALSE(judge(R"({"info":{"classifiers":["Foo","License :: OSI Approved :: MIT License"],"license":"MIT"}})"));
	EXPECT_TRUE(judge(R"({"info":{"classifiers":["Programming Language :: Python :: 2"]}})"));
	EXPECT_TRUE(judge(R"({"info":{"classifiers":[]}})"));     // not-null: an empty list fails
	EXPECT_TRUE(judge(R"({"info":{"license":"MIT"}})"));      // ... and so does an absent one
	EXPECT_TRUE(judge(R"({"info":{"classifiers":["Programming Language :: Python :: 3"],"license":"GPLv3"}})"));
	EXPECT_TRUE(judge(R"({"info":{"classifiers":["Programming Language :: Python :: 3"],"license":null}})"));

	auto all = load("[plugins]\nenabled = regex_project_metadata\n[regex_project_metadata]\n"
	                "all:info.keywords =\n    a.*\n    b.*\n");
	auto judge_all = [&](const char *json) {
		ProjectRecord r;
		r.name = "p";
		rapidjson::Document d;
		d.Parse(json);
		return filter_project(all, r, 0, &d).drop_project;
	};
	EXPECT_FALSE(judge_all(R"({"info":{"keywords":["alpha","beta"]}})"));
	EXPECT_TRUE(judge_all(R"({"info":{"keywords":["alpha"]}})"));
	EXPECT_FALSE(judge_all(R"({"info":{}})")); // match-null by default

	// No document: an error, not a silent pass.
	ProjectRecord r;
	r.name = "p";
	auto res = filter_project(cfg, r, 0, nullptr);
	EXPECT_FALSE(res.error.empty());
	EXPECT_FALSE(res.drop_project);
}

TEST(Filter, VersionRangeReleaseFileMetadata)
{
	auto cfg = load("[plugins]\nenabled = version_range_release_file_metadata\n"
	                "[version_range_release_file_metadata]\nrelease_file.requires_python =\n    3.8\n    3.12\n");
	EXPECT_FALSE(cfg.needs_project_json());
	ProjectRecord r;
	r.name = "p";
	r.files = {file("p-1.0.tar.gz", "1.0"), file("p-2.0.tar.gz", "2.0"), file("p-3.0.tar.gz", "3.0"),
	           file("p-4.0.tar.gz", "4.0"), file("p-5.0.tar.gz", "5.0")};
	auto rp = [&](size_t i, const char *v) {
		r.files[i].requires_python = v;
		r.files[i].has_requires_python = true;
	};
	rp(1, ">=3.6");     // admits 3.8
	rp(2, ">=3.13");    // admits neither
	rp(3, ">=3.9,<3.12"); // neither
	rp(4, "");          // empty: null, passes
	auto res = filter_project(cfg, r, 0);
	EXPECT_EQ(names(r), (std::vector<std::string>{"p-1.0.tar.gz", "p-2.0.tar.gz", "p-5.0.tar.gz"}));
	ASSERT_EQ(res.dropped_files.size(), 2u);
	EXPECT_NE(res.dropped_files[0].second.find(">=3.13"), std::string::npos);

	auto strict = load("[plugins]\nenabled = version_range_release_file_metadata\n"
	                   "[version_range_release_file_metadata]\nnot-null:release_file.requires_python = 3.8\n");
	ProjectRecord s;
	s.name = "p";
	s.files = {file("p-1.0.tar.gz", "1.0")};
	filter_project(strict, s, 0);
	EXPECT_TRUE(s.files.empty());

	FilterConfig bad;
	std::string err, path = write_config("[version_range_release_file_metadata]\nrelease_file.requires_python = x.y\n");
	EXPECT_FALSE(load_filter_config(path, bad, err));
	EXPECT_NE(err.find("PEP 440"), std::string::npos) << err;
	remove(path.c_str());
}

TEST(Filter, Platforms)
{
	auto cfg = load("[plugins]\nenabled = exclude_platform\n[blocklist]\nplatforms =\n windows\n macos\n py2\n");
	ProjectRecord r;
	r.name = "x";
	r.files = {file("x-1.0-cp311-cp311-win_amd64.whl", "1.0"),
	           file("x-1.0-cp311-cp311-macosx_11_0_arm64.whl", "1.0"),
	           file("x-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "1.0"),
	           file("x-1.0-py2-none-any.whl", "1.0"),
	           file("x-1.0-py2.py3-none-any.whl", "1.0"),
	           file("x-1.0.win32.exe", "1.0"),
	           file("x-1.0.tar.gz", "1.0")};
	filter_project(cfg, r, 0);
	EXPECT_EQ(names(r), (std::vector<std::string>{"x-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
	                                              "x-1.0-py2.py3-none-any.whl", "x-1.0.tar.gz"}));
	auto musl = load("[plugins]\nenabled = exclude_platform\n[blocklist]\nplatforms = musllinux linux_armv7l\n");
	ProjectRecord m;
	m.name = "x";
	m.files = {file("x-1.0-cp311-cp311-musllinux_1_1_x86_64.whl", "1.0"),
	           file("x-1.0-cp311-cp311-linux_armv7l.whl", "1.0"),
	           file("x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "1.0")};
	filter_project(musl, m, 0);
	EXPECT_EQ(names(m), std::vector<std::string>{"x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"});
}

TEST(Filter, RegexesAreAnchoredAndLinear)
{
	auto cfg = load("[plugins]\nenabled =\n regex_project\n regex_release\n regex_release_file\n"
	                "[filter_regex]\npackages =\n .+-evil$\nreleases =\n .+alpha\\d$\nfiles =\n .*\\.egg$\n");
	EXPECT_TRUE(filter_project_name(cfg, "very-evil").drop_project);
	EXPECT_FALSE(filter_project_name(cfg, "evil-not").drop_project);
	ProjectRecord r;
	r.name = "p";
	r.files = {file("p-1.0alpha1.tar.gz", "1.0alpha1"), file("p-1.0-py2.7.egg", "1.0"), file("p-1.0.tar.gz", "1.0")};
	filter_project(cfg, r, 0);
	EXPECT_EQ(names(r), std::vector<std::string>{"p-1.0.tar.gz"});
	FilterConfig bad;
	std::string err, path = write_config("[plugins]\nenabled = regex_project\n[filter_regex]\npackages = (unclosed\n");
	EXPECT_FALSE(load_filter_config(path, bad, err));
	EXPECT_NE(err.find("[filter_regex] packages"), std::string::npos);
	remove(path.c_str());
}

TEST(Filter, MinAgeAndMaxSize)
{
	auto cfg = load("[plugins]\nenabled =\n min_age_release\n size_project_metadata\n"
	                "[min_age]\nhours = 48\n[size_project_metadata]\nmax_package_size = 1K\n");
	ProjectRecord r;
	r.name = "p";
	long long now = 1704067200 + 24 * 3600; // one day after 2024-01-01
	r.files = {file("p-1.0.tar.gz", "1.0", "2023-12-01T00:00:00Z"), file("p-1.1.tar.gz", "1.1", "2024-01-01T00:00:00Z")};
	auto res = filter_project(cfg, r, now);
	EXPECT_FALSE(res.drop_project);
	EXPECT_EQ(names(r), std::vector<std::string>{"p-1.0.tar.gz"});
	ProjectRecord big;
	big.name = "big";
	big.files = {file("big-1.0.tar.gz", "1.0", "2020-01-01T00:00:00Z", 4096)};
	EXPECT_TRUE(filter_project(cfg, big, now).drop_project);
}

TEST(Filter, NothingEnabledKeepsEverything)
{
	auto cfg = load("[mirror]\ndirectory = /srv\n[blocklist]\npackages = foo\n");
	EXPECT_FALSE(cfg.any());
	EXPECT_FALSE(filter_project_name(cfg, "foo").drop_project);
}

TEST(Filter, RegexReleaseFileMetadata)
{
	auto cfg = load("[plugins]\nenabled = regex_release_file_metadata\n[regex_release_file_metadata]\n"
	                "release_file.packagetype = bdist_wheel\nnone:release = .*\\.dev\n");
	ProjectRecord r;
	r.name = "p";
	r.files = {file("p-1.0.tar.gz", "1.0"), file("p-1.0-py3-none-any.whl", "1.0"),
	           file("p-1.1.dev0-py3-none-any.whl", "1.1.dev0")};
	r.files[0].packagetype = "sdist";
	r.files[1].packagetype = r.files[2].packagetype = "bdist_wheel";
	filter_project(cfg, r, 0);
	EXPECT_EQ(names(r), std::vector<std::string>{"p-1.0-py3-none-any.whl"});
}
