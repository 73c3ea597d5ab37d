// Unit tests for tools/lib/record.{h,cc}: the one reader of project records,
// which must refuse hostile content from upstream.
#include "record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ndjson.h"

namespace {

const std::string kHash = "4f0c6e1b5b3e0a2f1d9c8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f";
const std::string kSha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kMeta = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kFile = "demo_pkg-1.0-py3-none-any.whl";

pm::FileEntry sample_file()
{
	pm::FileEntry f;
	f.filename = kFile;
	f.version = "1.0";
	f.path = "packages/12/34/" + kHash + "/" + kFile;
	f.url = "https://files.pythonhosted.org/" + f.path;
	f.sha256 = kSha;
	f.size = 1234;
	f.upload_time = "2024-01-02T03:04:05.123456Z";
	f.requires_python = ">=3.8";
	f.has_requires_python = true;
	f.yanked = true;
	f.yanked_reason = "bad <build>";
	f.core_metadata = kMeta;
	f.packagetype = "bdist_wheel";
	return f;
}

// A resolved project record with the given file entry as JSON text.
std::string project_with(const std::string &file_json)
{
	return "{\"type\":\"project\",\"name\":\"demo-pkg\",\"display_name\":\"Demo_Pkg\",\"serial\":1154164,"
	       "\"last_serial\":1154164,\"status\":\"active\",\"files\":[" +
	       file_json + "]}";
}

std::string file_json(const pm::FileEntry &f)
{
	rapidjson::Document d;
	rapidjson::Value v;
	pm::file_to_json(f, v, d.GetAllocator());
	return pm::to_json(v);
}

bool parse(const std::string &text, pm::ProjectRecord &r, std::string &err)
{
	rapidjson::Document d;
	if (!pm::parse_json_object(text, d, err)) {
		ADD_FAILURE() << "test input is not JSON: " << text << ": " << err;
		return false;
	}
	return pm::parse_record(d, r, err);
}

TEST(Record, FullResolvedRecordRoundTrip)
{
	pm::FileEntry f = sample_file();
	pm::ProjectRecord r;
	std::string err;
	ASSERT_TRUE(parse(project_with(file_json(f)), r, err)) << err;
	EXPECT_EQ(r.type, "project");
	EXPECT_EQ(r.name, "demo-pkg");
	EXPECT_EQ(r.display_name, "Demo_Pkg");
	EXPECT_EQ(r.serial, 1154164);
	EXPECT_EQ(r.last_serial, 1154164);
	EXPECT_EQ(r.status, "active");
	EXPECT_TRUE(r.resolved);
	ASSERT_EQ(r.files.size(), 1u);
	const auto &g = r.files[0];
	EXPECT_EQ(g.filename, f.filename);
	EXPECT_EQ(g.version, f.version);
	EXPECT_EQ(g.url, f.url);
	EXPECT_EQ(g.path, f.path);
	EXPECT_EQ(g.sha256, f.sha256);
	EXPECT_EQ(g.size, f.size);
	EXPECT_EQ(g.upload_time, f.upload_time);
	EXPECT_TRUE(g.has_requires_python);
	EXPECT_EQ(g.requires_python, f.requires_python);
	EXPECT_TRUE(g.yanked);
	EXPECT_EQ(g.yanked_reason, f.yanked_reason);
	EXPECT_EQ(g.core_metadata, f.core_metadata);
	EXPECT_EQ(g.packagetype, f.packagetype);
	// And writing it again gives the same text.
	EXPECT_EQ(file_json(g), file_json(f));
}

TEST(Record, FileToJsonNulls)
{
	pm::FileEntry f = sample_file();
	f.has_requires_python = false;
	f.requires_python.clear();
	f.yanked = false;
	f.yanked_reason = "ignored when not yanked";
	f.core_metadata.clear();
	std::string j = file_json(f);
	EXPECT_NE(j.find("\"requires_python\":null"), std::string::npos) << j;
	EXPECT_NE(j.find("\"yanked_reason\":null"), std::string::npos) << j;
	EXPECT_NE(j.find("\"core_metadata\":null"), std::string::npos) << j;
	EXPECT_NE(j.find("\"yanked\":false"), std::string::npos) << j;
	pm::ProjectRecord r;
	std::string err;
	ASSERT_TRUE(parse(project_with(j), r, err)) << err;
	ASSERT_EQ(r.files.size(), 1u);
	EXPECT_FALSE(r.files[0].has_requires_python);
	EXPECT_TRUE(r.files[0].core_metadata.empty());
	EXPECT_TRUE(r.files[0].yanked_reason.empty());

	// requires_python "" (present but empty) is not the same as null.
	f.has_requires_python = true;
	ASSERT_TRUE(parse(project_with(file_json(f)), r, err)) << err;
	EXPECT_TRUE(r.files[0].has_requires_python);
	EXPECT_EQ(r.files[0].requires_python, "");
}

TEST(Record, MinimalAndDefaults)
{
	pm::ProjectRecord r;
	std::string err;
	ASSERT_TRUE(parse("{\"name\":\"Requests\"}", r, err)) << err;
	EXPECT_EQ(r.type, "project"); // missing type means project
	EXPECT_EQ(r.name, "requests");
	EXPECT_EQ(r.display_name, "Requests");
	EXPECT_EQ(r.serial, 0);
	EXPECT_EQ(r.last_serial, -1);
	EXPECT_FALSE(r.resolved);
	EXPECT_EQ(r.status, "active");
	EXPECT_TRUE(r.files.empty());

	ASSERT_TRUE(parse("{\"type\":null,\"name\":\"x\",\"serial\":null,\"files\":null}", r, err)) << err;
	EXPECT_EQ(r.type, "project");
	EXPECT_FALSE(r.resolved);

	// An empty file list is still resolved (a project with no files).
	ASSERT_TRUE(parse("{\"name\":\"x\",\"files\":[]}", r, err)) << err;
	EXPECT_TRUE(r.resolved);
}

TEST(Record, UnknownFieldsIgnored)
{
	pm::ProjectRecord r;
	std::string err;
	EXPECT_TRUE(parse("{\"name\":\"x\",\"cache_bust\":true,\"round\":2,\"extra\":{\"a\":[1]}}", r, err)) << err;
}

TEST(Record, OtherTypes)
{
	pm::ProjectRecord r;
	std::string err;
	ASSERT_TRUE(parse("{\"type\":\"removal\",\"name\":\"old-pkg\",\"serial\":1154170,\"reason\":\"404 from upstream\"}",
	                  r, err))
	    << err;
	EXPECT_EQ(r.type, "removal");
	EXPECT_EQ(r.reason, "404 from upstream");
	ASSERT_TRUE(parse("{\"type\":\"stale\",\"name\":\"demo-pkg\",\"serial\":5,\"last_serial\":4,\"round\":0}", r, err))
	    << err;
	EXPECT_EQ(r.last_serial, 4);
	// synced records count their files: "files" is a number there (records(7)).
	ASSERT_TRUE(parse("{\"type\":\"synced\",\"name\":\"demo-pkg\",\"serial\":1154164,\"files\":2,\"deleted\":0,"
	                  "\"removed\":false}",
	                  r, err))
	    << err;
	EXPECT_EQ(r.type, "synced");
	EXPECT_FALSE(r.resolved);
}

TEST(Record, TargetNeedsNoName)
{
	pm::ProjectRecord r;
	std::string err;
	ASSERT_TRUE(parse("{\"type\":\"target\",\"serial\":1154170,\"since\":1154000,\"projects\":3}", r, err)) << err;
	EXPECT_EQ(r.type, "target");
	EXPECT_EQ(r.serial, 1154170);
	EXPECT_TRUE(r.name.empty());
}

TEST(Record, DisplayNameFallsBack)
{
	pm::ProjectRecord r;
	std::string err;
	ASSERT_TRUE(parse("{\"name\":\"demo-pkg\",\"display_name\":\"Other\"}", r, err)) << err;
	EXPECT_EQ(r.display_name, "demo-pkg");
	ASSERT_TRUE(parse("{\"name\":\"demo-pkg\",\"display_name\":\"<b>Demo_Pkg</b>\"}", r, err)) << err;
	EXPECT_EQ(r.display_name, "demo-pkg");
	ASSERT_TRUE(parse("{\"name\":\"Demo.Pkg\",\"display_name\":\"\"}", r, err)) << err;
	EXPECT_EQ(r.display_name, "Demo.Pkg");
	ASSERT_TRUE(parse("{\"name\":\"demo-pkg\",\"display_name\":\"DEMO__pkg\"}", r, err)) << err;
	EXPECT_EQ(r.display_name, "DEMO__pkg");
	EXPECT_FALSE(parse("{\"name\":\"demo-pkg\",\"display_name\":5}", r, err));
}

TEST(Record, RefusesBadRecords)
{
	struct Case {
		std::string json;
		const char *reason_part;
	} bad[] = {
	    {"{\"type\":\"bogus\",\"name\":\"x\"}", "unknown record type"},
	    {"{\"type\":\"Project\",\"name\":\"x\"}", "unknown record type"},
	    {"{\"type\":5,\"name\":\"x\"}", "type"},
	    {"{\"type\":\"project\"}", "name"},
	    {"{\"name\":null}", "name"},
	    {"{\"name\":\"\"}", "not a valid project name"},
	    {"{\"name\":\"../x\"}", "not a valid project name"},
	    {"{\"name\":\"<script>\"}", "not a valid project name"},
	    {"{\"name\":\"a/b\"}", "not a valid project name"},
	    {"{\"name\":\"x\\u0000y\"}", "NUL"},
	    {"{\"name\":42}", "not a string"},
	    {"{\"name\":\"x\",\"serial\":-1}", "serial"},
	    {"{\"name\":\"x\",\"serial\":\"12\"}", "serial"},
	    {"{\"name\":\"x\",\"serial\":1.5}", "serial"},
	    {"{\"name\":\"x\",\"files\":{}}", "files"},
	    {"{\"name\":\"x\",\"files\":[5]}", "not an object"},
	    {"{\"name\":\"x\",\"reason\":\"a\\u0000b\"}", "NUL"},
	    {"{\"type\":\"target\",\"serial\":-5}", "serial"},
	};
	for (auto &c : bad) {
		pm::ProjectRecord r;
		std::string err;
		EXPECT_FALSE(parse(c.json, r, err)) << c.json;
		EXPECT_NE(err.find(c.reason_part), std::string::npos) << c.json << " -> " << err;
	}
	pm::ProjectRecord r;
	std::string err;
	rapidjson::Value arr(rapidjson::kArrayType);
	EXPECT_FALSE(pm::parse_record(arr, r, err));
	EXPECT_EQ(pm::parse_record(rapidjson::Value("x"), r, err), false);
	// Names are bounded.
	EXPECT_FALSE(parse("{\"name\":\"" + std::string(300, 'a') + "\"}", r, err));
}

TEST(Record, RefusesHostileFiles)
{
	auto with = [](auto change) {
		pm::FileEntry f = sample_file();
		change(f);
		return project_with(file_json(f));
	};
	struct Case {
		std::string json;
		const char *reason_part;
	} bad[] = {
	    {with([](pm::FileEntry &f) { f.path = "packages/../../etc/passwd"; }), "path"},
	    {with([](pm::FileEntry &f) {
		     f.filename = "passwd";
		     f.path = "packages/../../etc/passwd";
	     }),
	     "path"},
	    {with([](pm::FileEntry &f) { f.path = "/etc/passwd"; }), "path"},
	    {with([](pm::FileEntry &f) { f.path = "/packages/12/34/" + kHash + "/" + kFile; }), "path"},
	    {with([](pm::FileEntry &f) { f.path = "packages/12/34/" + kHash + "/other.whl"; }), "file name"},
	    {with([](pm::FileEntry &f) { f.filename = "../" + kFile; }), "file name"},
	    {with([](pm::FileEntry &f) { f.filename = "a/" + kFile; }), "separator"},
	    {with([](pm::FileEntry &f) { f.filename = ".hidden"; }), "dot"},
	    {with([](pm::FileEntry &f) { f.filename = "a\\b.whl"; }), "separator"},
	    {with([](pm::FileEntry &f) { f.sha256 = std::string(64, 'z'); }), "sha256"},
	    {with([](pm::FileEntry &f) { f.sha256 = std::string(64, 'A'); }), "sha256"},
	    {with([](pm::FileEntry &f) { f.sha256 = kSha.substr(1); }), "sha256"},
	    {with([](pm::FileEntry &f) { f.sha256 = kSha + "0"; }), "sha256"},
	    {with([](pm::FileEntry &f) { f.size = -1; }), "size"},
	    {with([](pm::FileEntry &f) { f.core_metadata = "nothex"; }), "core_metadata"},
	    {with([](pm::FileEntry &f) { f.filename = std::string("a\0b.whl", 7); }), "NUL"},
	    {with([](pm::FileEntry &f) { f.url = std::string("https://x/\0", 11); }), "NUL"},
	    {with([](pm::FileEntry &f) { f.yanked_reason = std::string("r\0", 2); }), "NUL"},
	    {project_with("{\"filename\":\"" + kFile + "\",\"url\":\"u\",\"path\":\"packages/12/34/" + kHash + "/" + kFile +
	                  "\",\"sha256\":\"" + kSha + "\"}"),
	     "size"},
	    {project_with("{\"filename\":\"" + kFile + "\",\"url\":\"u\",\"path\":\"packages/12/34/" + kHash + "/" + kFile +
	                  "\",\"sha256\":\"" + kSha + "\",\"size\":\"12\"}"),
	     "size"},
	    {project_with("{\"filename\":\"" + kFile + "\",\"url\":\"u\",\"sha256\":\"" + kSha + "\",\"size\":1}"), "path"},
	    {project_with("{\"url\":\"u\"}"), "filename"},
	};
	for (auto &c : bad) {
		pm::ProjectRecord r;
		std::string err;
		EXPECT_FALSE(parse(c.json, r, err)) << c.json;
		EXPECT_NE(err.find(c.reason_part), std::string::npos) << c.json << " -> " << err;
		// The error names the project.
		EXPECT_NE(err.find("demo-pkg"), std::string::npos) << err;
	}
}

TEST(Record, ErrorRecordParsesBack)
{
	std::string line = pm::error_record("artifact-get", "demo-pkg", 1154164, "sha256 mismatch (got 1f, want a)",
	                                    kFile, "https://files.example/" + kFile);
	rapidjson::Document d;
	std::string err;
	ASSERT_TRUE(pm::parse_json_object(line, d, err)) << err;
	EXPECT_EQ(pm::get_string(d, "type"), "error");
	EXPECT_EQ(pm::get_string(d, "name"), "demo-pkg");
	EXPECT_EQ(pm::get_int(d, "serial"), 1154164);
	EXPECT_EQ(pm::get_string(d, "tool"), "artifact-get");
	EXPECT_EQ(pm::get_string(d, "reason"), "sha256 mismatch (got 1f, want a)");
	EXPECT_EQ(pm::get_string(d, "file"), kFile);
	EXPECT_EQ(pm::get_string(d, "url"), "https://files.example/" + kFile);
	pm::ProjectRecord r;
	ASSERT_TRUE(pm::parse_record(d, r, err)) << err;
	EXPECT_EQ(r.type, "error");
	EXPECT_EQ(r.name, "demo-pkg");
	EXPECT_EQ(r.reason, "sha256 mismatch (got 1f, want a)");

	// Without file/url those members are absent; hostile reasons stay one line.
	line = pm::error_record("pkg-resolve", "x", 1, "bad\n\"quote\"");
	EXPECT_EQ(line.find('\n'), std::string::npos);
	ASSERT_TRUE(pm::parse_json_object(line, d, err)) << err;
	EXPECT_EQ(pm::member(d, "file"), nullptr);
	EXPECT_EQ(pm::member(d, "url"), nullptr);
	EXPECT_EQ(pm::get_string(d, "reason"), "bad\n\"quote\"");
}

TEST(Record, SortVersions)
{
	std::vector<std::string> v = {"1.0", "zzz", "1.0rc1", "0.9", "1.0.post1", "2.0", "1.0a1", "1.0.dev0",
	                              "not a version", "1.10", "1.9", "1!0.1", "1.0+local"};
	pm::sort_versions(v);
	std::vector<std::string> want = {"0.9", "1.0.dev0", "1.0a1", "1.0rc1", "1.0", "1.0+local", "1.0.post1",
	                                 "1.9", "1.10", "2.0", "1!0.1", "not a version", "zzz"};
	EXPECT_EQ(v, want);

	// Equal versions spelled differently keep a stable, deterministic order.
	std::vector<std::string> eq = {"1.0.0", "1.0", "1"};
	pm::sort_versions(eq);
	EXPECT_EQ(eq, (std::vector<std::string>{"1", "1.0", "1.0.0"}));
	std::vector<std::string> empty;
	pm::sort_versions(empty);
	EXPECT_TRUE(empty.empty());
}

} // namespace
