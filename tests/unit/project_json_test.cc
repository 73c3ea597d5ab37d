// Unit tests for tools/lib/project_json.{h,cc}: turning an upstream JSON API
// document into a record's file list, and refusing hostile documents whole.
#include "project_json.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "ndjson.h"
#include "record.h"

namespace {

using Doc = rapidjson::Document;
using Val = rapidjson::Value;

const std::string kHash = "4f0c6e1b5b3e0a2f1d9c8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f";
const std::string kSha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kMeta = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kFiles = "https://files.pythonhosted.org/packages/12/34/";

std::string file_json(const std::string &filename, const std::string &sha = kSha)
{
	return R"({"comment_text":"","core-metadata":{"sha256":")" + kMeta +
	       R"("},"digests":{"blake2b_256":"x","md5":"y","sha256":")" + sha + R"("},"downloads":-1,"filename":")" +
	       filename + R"(","has_sig":false,"md5_digest":"y","packagetype":"bdist_wheel","python_version":"py3",)" +
	       R"("requires_python":">=3.8","size":1234,"upload_time":"2024-01-02T03:04:05",)" +
	       R"("upload_time_iso_8601":"2024-01-02T03:04:05.123456Z","url":")" + kFiles + kHash + "/" + filename +
	       R"(","yanked":false,"yanked_reason":null})";
}

// A document with release 1.0 (a wheel and an sdist) and release 2.0 (a wheel).
std::string good_doc()
{
	return R"({"info":{"name":"Demo_Pkg","version":"2.0"},"last_serial":1154164,"releases":{"1.0":[)" +
	       file_json("demo_pkg-1.0-py3-none-any.whl") + "," + file_json("demo_pkg-1.0.tar.gz") + R"(],"2.0":[)" +
	       file_json("demo_pkg-2.0-py3-none-any.whl") + R"(]},"urls":[)" + file_json("demo_pkg-2.0-py3-none-any.whl") +
	       R"(],"vulnerabilities":[]})";
}

pm::ProjectJsonPolicy pypi_policy() { return pm::project_json_policy("https://pypi.org", {}, false); }

// Parses good_doc(), lets edit change the first file of release 1.0, converts.
bool convert_edited(const std::function<void(rapidjson::Value &, rapidjson::Document &)> &edit, pm::ProjectJson &out,
                    const pm::ProjectJsonPolicy &policy = pypi_policy())
{
	rapidjson::Document d;
	d.Parse(good_doc().c_str());
	EXPECT_FALSE(d.HasParseError());
	edit(d["releases"]["1.0"][0], d);
	return pm::convert_project_json(d, policy, out);
}

void set_str(rapidjson::Value &f, rapidjson::Document &d, const char *k, const std::string &v)
{
	f[k].SetString(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), d.GetAllocator());
}

// Expects conversion to fail with a reason containing want.
void expect_refused(const std::function<void(rapidjson::Value &, rapidjson::Document &)> &edit, const std::string &want)
{
	pm::ProjectJson pj;
	EXPECT_FALSE(convert_edited(edit, pj));
	EXPECT_NE(pj.error.find(want), std::string::npos) << "error was: " << pj.error;
	EXPECT_TRUE(pj.files.empty() || !pj.error.empty());
}

TEST(ProjectJson, ConvertsEveryFileOfEveryRelease)
{
	std::string text = good_doc();
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_project_json(text, pypi_policy(), pj)) << pj.error;
	EXPECT_EQ(pj.display_name, "Demo_Pkg");
	EXPECT_EQ(pj.last_serial, 1154164);
	ASSERT_EQ(pj.files.size(), 3u);
	const auto &f = pj.files[0];
	EXPECT_EQ(f.filename, "demo_pkg-1.0-py3-none-any.whl");
	EXPECT_EQ(f.version, "1.0");
	EXPECT_EQ(f.url, kFiles + kHash + "/demo_pkg-1.0-py3-none-any.whl");
	EXPECT_EQ(f.path, "packages/12/34/" + kHash + "/demo_pkg-1.0-py3-none-any.whl");
	EXPECT_EQ(f.sha256, kSha);
	EXPECT_EQ(f.size, 1234);
	EXPECT_EQ(f.upload_time, "2024-01-02T03:04:05.123456Z");
	EXPECT_TRUE(f.has_requires_python);
	EXPECT_EQ(f.requires_python, ">=3.8");
	EXPECT_FALSE(f.yanked);
	EXPECT_EQ(f.core_metadata, kMeta);
	EXPECT_EQ(f.packagetype, "bdist_wheel");
	EXPECT_EQ(pj.files[1].filename, "demo_pkg-1.0.tar.gz");
	EXPECT_EQ(pj.files[2].version, "2.0");
}

TEST(ProjectJson, RecordWrittenFromItReadsBack)
{
	std::string text = good_doc();
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_project_json(text, pypi_policy(), pj));
	rapidjson::Document d(rapidjson::kObjectType);
	pm::set_string(d, d, "name", "demo-pkg");
	rapidjson::Value files(rapidjson::kArrayType);
	for (auto &f : pj.files) {
		rapidjson::Value v;
		pm::file_to_json(f, v, d.GetAllocator());
		files.PushBack(v, d.GetAllocator());
	}
	d.AddMember("files", files, d.GetAllocator());
	pm::ProjectRecord r;
	std::string err;
	rapidjson::Document back;
	ASSERT_TRUE(pm::parse_json_object(pm::to_json(d), back, err)) << err;
	ASSERT_TRUE(pm::parse_record(back, r, err)) << err;
	ASSERT_EQ(r.files.size(), 3u);
	EXPECT_EQ(r.files[0].path, pj.files[0].path);
	EXPECT_EQ(r.files[0].core_metadata, kMeta);
	EXPECT_EQ(r.files[0].requires_python, ">=3.8");
}

TEST(ProjectJson, OptionalFieldsAndFallbacks)
{
	pm::ProjectJson pj;
	ASSERT_TRUE(convert_edited(
	    [](Val &f, Doc &d) {
		    f.RemoveMember("upload_time_iso_8601");
		    set_str(f, d, "requires_python", "");
		    f["yanked"].SetBool(true);
		    set_str(f, d, "yanked_reason", "broken <build> & \"more\"");
		    f.RemoveMember("core-metadata");
		    f.AddMember("data-dist-info-metadata", rapidjson::Value(rapidjson::kObjectType), d.GetAllocator());
		    f["data-dist-info-metadata"].AddMember("sha256", rapidjson::Value(kMeta.c_str(), d.GetAllocator()),
		                                           d.GetAllocator());
	    },
	    pj))
	    << pj.error;
	const auto &f = pj.files[0];
	EXPECT_EQ(f.upload_time, "2024-01-02T03:04:05Z"); // upload_time + "Z"
	EXPECT_FALSE(f.has_requires_python);              // empty is null
	EXPECT_TRUE(f.yanked);
	EXPECT_EQ(f.yanked_reason, "broken <build> & \"more\""); // verbatim: escaping is index-write's job
	EXPECT_EQ(f.core_metadata, kMeta);

	ASSERT_TRUE(convert_edited([](Val &f, Doc &) { f["core-metadata"].SetBool(false); },
	                           pj));
	EXPECT_EQ(pj.files[0].core_metadata, "");
	ASSERT_TRUE(convert_edited([](Val &f, Doc &) { f.RemoveMember("core-metadata"); }, pj));
	EXPECT_EQ(pj.files[0].core_metadata, "");
	// Upper-case hex is the same hash.
	ASSERT_TRUE(convert_edited(
	    [](Val &f, Doc &d) {
		    std::string up = kSha;
		    for (auto &c : up) c = static_cast<char>(toupper(c));
		    f["digests"]["sha256"].SetString(up.c_str(), d.GetAllocator());
	    },
	    pj));
	EXPECT_EQ(pj.files[0].sha256, kSha);
}

TEST(ProjectJson, HtmlInFieldsIsKeptVerbatim)
{
	std::string text = R"({"info":{"name":"<b>x</b>"},"last_serial":5,"releases":{"1.0<script>":[)" +
	                   file_json("demo_pkg-1.0.tar.gz") + "]}}";
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_project_json(text, pypi_policy(), pj)) << pj.error;
	EXPECT_EQ(pj.display_name, "<b>x</b>"); // the caller checks it against the project name
	EXPECT_EQ(pj.files[0].version, "1.0<script>");
}

TEST(ProjectJson, UrlsWhenReleasesAbsent)
{
	std::string text = R"({"info":{"name":"Demo_Pkg","version":"2.0"},"last_serial":7,"urls":[)" +
	                   file_json("demo_pkg-2.0-py3-none-any.whl") + "]}";
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_project_json(text, pypi_policy(), pj)) << pj.error;
	ASSERT_EQ(pj.files.size(), 1u);
	EXPECT_EQ(pj.files[0].version, "2.0");

	text = R"({"info":{"name":"Demo_Pkg"},"last_serial":7})";
	EXPECT_FALSE(pm::parse_project_json(text, pypi_policy(), pj));
	EXPECT_NE(pj.error.find("neither"), std::string::npos);
}

TEST(ProjectJson, EmptyReleasesAreFine)
{
	std::string text = R"({"info":{"name":"x"},"last_serial":1,"releases":{"1.0":[]}})";
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_project_json(text, pypi_policy(), pj)) << pj.error;
	EXPECT_TRUE(pj.files.empty());
}

TEST(ProjectJson, HostileFilenames)
{
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "filename", "../../etc/passwd"); },
	               "starts with a dot");
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "filename", "x/../../etc/passwd"); },
	               "path separator");
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "filename", "/etc/passwd"); },
	               "path separator");
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "filename", ".."); },
	               "directory reference");
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "filename", "a\\b.whl"); },
	               "path separator");
	expect_refused(
	    [](Val &f, Doc &d) { set_str(f, d, "filename", std::string("a\0b.whl", 7)); },
	    "NUL");
	// The error names the file, made printable.
	pm::ProjectJson pj;
	convert_edited([](Val &f, Doc &d) { set_str(f, d, "filename", "../x\n.whl"); }, pj);
	EXPECT_EQ(pj.error_file, "../x?.whl");
}

TEST(ProjectJson, HostileUrls)
{
	auto url = [](const std::string &u) {
		return [u](Val &f, Doc &d) { set_str(f, d, "url", u); };
	};
	const std::string tail = "/" + kHash + "/demo_pkg-1.0-py3-none-any.whl";
	expect_refused(url("https://evil.example/packages/12/34" + tail), "not upstream's or allowed");
	expect_refused(url("https://files.pythonhosted.org.evil.example/packages/12/34" + tail),
	               "not upstream's or allowed");
	expect_refused(url("https://files.pythonhosted.org@evil.example/packages/12/34" + tail),
	               "not upstream's or allowed");
	expect_refused(url("file:///packages/12/34" + tail), "scheme");
	expect_refused(url("http://files.pythonhosted.org/packages/12/34" + tail), "not https");
	expect_refused(url("https://files.pythonhosted.org/x/%2e%2e/packages/12/34" + tail), "dot segment");
	expect_refused(url("https://files.pythonhosted.org/x/../packages/12/34" + tail), "dot segment");
	expect_refused(url("https://files.pythonhosted.org/packages/%2E%2E/34" + tail), "dot segment");
	expect_refused(url("https://files.pythonhosted.org/packages/12/34/%2e%2e/demo_pkg-1.0-py3-none-any.whl"),
	               "dot segment");
	expect_refused(url("https://files.pythonhosted.org/packages/12/34/" + kHash + "%2Fdemo_pkg-1.0-py3-none-any.whl"),
	               "");
	expect_refused(url("https://files.pythonhosted.org/elsewhere/demo_pkg-1.0-py3-none-any.whl"), "not /packages/");
	expect_refused(url("https://files.pythonhosted.org/packages/12/34" + tail + "x"), "different file");
	expect_refused(url("https://files.pythonhosted.org/packages/zz/34" + tail), "packages/xx/yy");
	expect_refused(url("not a url"), "URL");
	expect_refused(url(""), "no url");
	expect_refused([](Val &f, Doc &) { f["url"].SetInt(5); }, "url is not a string");
	// The error names the URL too.
	pm::ProjectJson pj;
	convert_edited(url("https://evil.example/packages/12/34" + tail), pj);
	EXPECT_EQ(pj.error_url, "https://evil.example/packages/12/34" + tail);
	EXPECT_EQ(pj.error_file, "demo_pkg-1.0-py3-none-any.whl");
}

TEST(ProjectJson, OtherIndexLayouts)
{
	// devpi, Artifactory, Nexus: the URL names the file; its sha256 places it.
	auto p = pm::project_json_policy("https://devpi.example", {}, false);
	const std::string sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	std::string path, why;
	for (const std::string u : {"https://devpi.example/root/pypi/+f/012/3456789abcdef/a-1.0.tar.gz",
	                            "https://devpi.example/artifactory/api/pypi/pypi/packages/a/1.0/a-1.0.tar.gz",
	                            "https://devpi.example/repository/pypi-proxy/packages/a/1.0/a-1.0.tar.gz"}) {
		path.clear();
		EXPECT_TRUE(pm::check_file_url(u, "a-1.0.tar.gz", p, path, &why, sha)) << u << ": " << why;
		EXPECT_EQ(path, "packages/01/23/" + sha.substr(4) + "/a-1.0.tar.gz") << u;
	}
	const std::string devpi = "https://devpi.example/root/pypi/+f/012/3456789abcdef/a-1.0.tar.gz";
	// without a sha256 (the JSON API's check, before its digests are read): refused
	EXPECT_FALSE(pm::check_file_url(devpi, "a-1.0.tar.gz", p, path, &why));
	EXPECT_NE(why.find("not /packages/"), std::string::npos) << why;
	// the URL must name the file; the sha256 must be one; the host is still checked
	EXPECT_FALSE(pm::check_file_url(devpi, "b-1.0.tar.gz", p, path, &why, sha));
	EXPECT_NE(why.find("different file"), std::string::npos) << why;
	EXPECT_FALSE(pm::check_file_url(devpi, "a-1.0.tar.gz", p, path, &why, "0123"));
	EXPECT_FALSE(pm::check_file_url(devpi, "a-1.0.tar.gz", p, path, &why,
	                                "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"));
	EXPECT_FALSE(pm::check_file_url("https://evil.example/root/pypi/+f/012/345/a-1.0.tar.gz", "a-1.0.tar.gz", p, path,
	                                &why, sha));
	EXPECT_FALSE(pm::check_file_url("https://devpi.example/root/%2e%2e/+f/a-1.0.tar.gz", "a-1.0.tar.gz", p, path, &why,
	                                sha));
}

TEST(ProjectJson, HostPolicy)
{
	// Default upstream: PyPI and its file host.
	auto p = pm::project_json_policy("https://pypi.org", {}, false);
	std::string path, why;
	const std::string tail = "/packages/12/34/" + kHash + "/a.whl";
	EXPECT_TRUE(pm::check_file_url("https://files.pythonhosted.org" + tail, "a.whl", p, path, &why)) << why;
	EXPECT_TRUE(pm::check_file_url("https://pypi.org" + tail, "a.whl", p, path, &why)) << why;
	EXPECT_FALSE(pm::check_file_url("https://pypi.org:8443" + tail, "a.whl", p, path, &why));
	// Another upstream: only itself (host and port), unless told.
	p = pm::project_json_policy("http://127.0.0.1:8080", {}, true);
	EXPECT_TRUE(pm::check_file_url("http://127.0.0.1:8080" + tail, "a.whl", p, path, &why)) << why;
	EXPECT_FALSE(pm::check_file_url("http://127.0.0.1:8081" + tail, "a.whl", p, path, &why));
	EXPECT_FALSE(pm::check_file_url("https://files.pythonhosted.org" + tail, "a.whl", p, path, &why));
	p = pm::project_json_policy("http://127.0.0.1:8080", {"Files.Example", "cdn.example:9000"}, true);
	EXPECT_TRUE(pm::check_file_url("https://files.example" + tail, "a.whl", p, path, &why)) << why;
	EXPECT_TRUE(pm::check_file_url("http://cdn.example:9000" + tail, "a.whl", p, path, &why)) << why;
	EXPECT_FALSE(pm::check_file_url("http://cdn.example:9001" + tail, "a.whl", p, path, &why));
	EXPECT_EQ(path, "packages/12/34/" + kHash + "/a.whl");
}

TEST(ProjectJson, HostileHashesAndSizes)
{
	expect_refused([](Val &f, Doc &d) { f["digests"]["sha256"].SetString("abc", d.GetAllocator()); },
	               "digests.sha256");
	expect_refused(
	    [](Val &f, Doc &d) {
		    std::string bad(64, 'g');
		    f["digests"]["sha256"].SetString(bad.c_str(), d.GetAllocator());
	    },
	    "digests.sha256");
	expect_refused([](Val &f, Doc &) { f.RemoveMember("digests"); }, "digests.sha256");
	expect_refused(
	    [](Val &f, Doc &d) { f["core-metadata"]["sha256"].SetString("zz", d.GetAllocator()); },
	    "core-metadata");
	expect_refused([](Val &f, Doc &) { f["core-metadata"].SetInt(3); }, "core-metadata");
	expect_refused([](Val &f, Doc &) { f["size"].SetInt(-1); }, "non-negative");
	expect_refused([](Val &f, Doc &) { f["size"].SetDouble(1.5); }, "non-negative");
	expect_refused([](Val &f, Doc &) { f["size"].SetUint64(1ULL << 63); }, "non-negative");
	expect_refused([](Val &f, Doc &) { f["size"].SetInt64(1LL << 50); }, "larger than");
	expect_refused([](Val &f, Doc &d) { f["size"].SetString("12", d.GetAllocator()); },
	               "not a number");
	expect_refused([](Val &f, Doc &) { f.RemoveMember("size"); }, "size");
}

TEST(ProjectJson, HostileTextFields)
{
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "upload_time_iso_8601", "yesterday"); },
	               "ISO 8601");
	expect_refused([](Val &f, Doc &) { f["yanked"].SetInt(1); }, "yanked");
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "yanked_reason", std::string(5000, 'x')); },
	               "longer than");
	expect_refused([](Val &f, Doc &d) { set_str(f, d, "requires_python", ">=3\n<h1>"); },
	               "control character");
	expect_refused(
	    [](Val &f, Doc &d) { set_str(f, d, "packagetype", std::string("sd\0ist", 6)); },
	    "NUL");
	// A release key with a control character.
	std::string text = R"({"info":{},"last_serial":1,"releases":{"1.0\n":[)" + file_json("demo_pkg-1.0.tar.gz") + "]}}";
	pm::ProjectJson pj;
	EXPECT_FALSE(pm::parse_project_json(text, pypi_policy(), pj));
	EXPECT_NE(pj.error.find("control character"), std::string::npos) << pj.error;
}

TEST(ProjectJson, DuplicateFilenamesRefuseTheProject)
{
	std::string text = R"({"info":{},"last_serial":1,"releases":{"1.0":[)" + file_json("demo_pkg-1.0.tar.gz") +
	                   R"(],"1.0.0":[)" + file_json("demo_pkg-1.0.tar.gz") + "]}}";
	pm::ProjectJson pj;
	EXPECT_FALSE(pm::parse_project_json(text, pypi_policy(), pj));
	EXPECT_NE(pj.error.find("listed more than once"), std::string::npos) << pj.error;
	EXPECT_EQ(pj.error_file, "demo_pkg-1.0.tar.gz");
}

TEST(ProjectJson, OneBadFileRefusesTheWholeProject)
{
	// The bad file is the last one: nothing before it may be published.
	std::string text = R"({"info":{},"last_serial":1,"releases":{"1.0":[)" + file_json("demo_pkg-1.0.tar.gz") +
	                   R"(],"2.0":[)" + file_json("demo_pkg-2.0.tar.gz", "nothex") + "]}}";
	pm::ProjectJson pj;
	EXPECT_FALSE(pm::parse_project_json(text, pypi_policy(), pj));
	EXPECT_EQ(pj.error_file, "demo_pkg-2.0.tar.gz");
}

TEST(ProjectJson, StructureErrors)
{
	pm::ProjectJson pj;
	std::string t = R"({"releases":[]})";
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_NE(pj.error.find("not an object"), std::string::npos);
	t = R"({"releases":{"1.0":{}}})";
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_NE(pj.error.find("not an array"), std::string::npos);
	t = R"({"releases":{"1.0":[5]}})";
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_NE(pj.error.find("not an object"), std::string::npos);
	t = R"([1,2])";
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_FALSE(pj.syntax_error);
}

TEST(ProjectJson, TextThatIsNotJson)
{
	pm::ProjectJson pj;
	std::string t = good_doc();
	t.resize(t.size() / 2); // truncated
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_TRUE(pj.syntax_error);
	EXPECT_NE(pj.error.find("does not parse"), std::string::npos);

	t = "<html>502 Bad Gateway</html>";
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_TRUE(pj.syntax_error);

	// Invalid UTF-8 inside a string.
	t = good_doc();
	t.replace(t.find("Demo_Pkg"), 1, "\xff");
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_TRUE(pj.syntax_error);

	// A raw NUL byte.
	t = good_doc();
	t.insert(t.size() - 1, std::string("\0", 1));
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
	EXPECT_TRUE(pj.syntax_error);

	// Deep nesting neither crashes nor passes.
	t = R"({"info":)" + std::string(200000, '[') + "}";
	EXPECT_FALSE(pm::parse_project_json(t, pypi_policy(), pj));
}

} // namespace

// ---- Simple API project pages (PEP 691 JSON, PEP 503 HTML) ----

namespace {

const std::string kPage = "https://pypi.org/simple/demo-pkg/";
const std::string kProv = "https://pypi.org/integrity/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/provenance";

std::string simple_json(const std::string &extra_file = "", const std::string &status = "active",
                        const std::string &name = "demo-pkg")
{
	return R"({"files":[{"core-metadata":{"sha256":")" + kMeta + R"("},"filename":"demo_pkg-1.0-py3-none-any.whl",)" +
	       R"("hashes":{"sha256":")" + kSha + R"("},"provenance":")" + kProv +
	       R"(","requires-python":">=3.8","size":1234,"upload-time":"2024-01-02T03:04:05.123456Z","url":")" + kFiles +
	       kHash + R"(/demo_pkg-1.0-py3-none-any.whl","yanked":"bad <build>"},{"core-metadata":false,)" +
	       R"("filename":"demo_pkg-1.0.tar.gz","hashes":{"sha256":")" + kSha +
	       R"("},"provenance":null,"requires-python":null,"size":999,"url":"../../packages/12/34/)" + kHash +
	       R"(/demo_pkg-1.0.tar.gz","yanked":false})" + extra_file + R"(],"meta":{"_last-serial":77,"api-version":"1.4"},)" +
	       R"("name":")" + name + R"(","project-status":{"status":")" + status + R"("},"versions":["1.0"]})";
}

std::string simple_html(const std::string &extra = "", const std::string &title = "Demo_Pkg")
{
	return "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta name=\"pypi:repository-version\" "
	       "content=\"1.4\">\n<meta name=\"pypi:project-status\" content=\"archived\">    <title>Links for " +
	       title + "</title>\n  </head>\n  <body>\n    <h1>Links for " + title + "</h1>\n<a href=\"" + kFiles + kHash +
	       "/demo_pkg-1.0-py3-none-any.whl#sha256=" + kSha +
	       "\" data-requires-python=\"&gt;=3.8\" data-yanked=\"bad &lt;build&gt;\" data-dist-info-metadata=\"sha256=" +
	       kMeta + "\" data-core-metadata=\"sha256=" + kMeta + "\" data-provenance=\"" + kProv +
	       "\">demo_pkg-1.0-py3-none-any.whl</a><br />\n<a href=\"../../packages/12/34/" + kHash +
	       "/demo_pkg-1.0.tar.gz#sha256=" + kSha + "\" >demo_pkg-1.0.tar.gz</a><br />\n" + extra +
	       "</body>\n</html>\n<!--SERIAL 88-->";
}

pm::ProjectJsonPolicy pypi() { return pm::project_json_policy("https://pypi.org", {}, false); }

} // namespace

TEST(SimpleJson, AllFieldsIncludingStatusAndProvenance)
{
	std::string t = simple_json();
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_simple_json(t, "demo-pkg", kPage, pypi(), pj)) << pj.error;
	EXPECT_EQ(pj.status, "active");
	EXPECT_EQ(pj.last_serial, 77);
	EXPECT_FALSE(pj.sizes_missing);
	ASSERT_EQ(pj.files.size(), 2u);
	auto &w = pj.files[0];
	EXPECT_EQ(w.version, "1.0");
	EXPECT_EQ(w.path, "packages/12/34/" + kHash + "/demo_pkg-1.0-py3-none-any.whl");
	EXPECT_EQ(w.size, 1234);
	EXPECT_EQ(w.upload_time, "2024-01-02T03:04:05.123456Z");
	EXPECT_TRUE(w.has_requires_python);
	EXPECT_EQ(w.requires_python, ">=3.8");
	EXPECT_TRUE(w.yanked);
	EXPECT_EQ(w.yanked_reason, "bad <build>");
	EXPECT_EQ(w.core_metadata, kMeta);
	EXPECT_EQ(w.provenance, kProv);
	EXPECT_EQ(w.packagetype, "bdist_wheel");
	auto &s = pj.files[1];
	// A relative URL is resolved against the page.
	EXPECT_EQ(s.url, "https://pypi.org/packages/12/34/" + kHash + "/demo_pkg-1.0.tar.gz");
	EXPECT_EQ(s.packagetype, "sdist");
	EXPECT_EQ(s.version, "1.0");
	EXPECT_TRUE(s.provenance.empty());
	EXPECT_FALSE(s.has_requires_python);
	EXPECT_FALSE(s.yanked);
}

TEST(SimpleJson, RefusesOtherProjectBadStatusMajorVersionAndHostileFiles)
{
	pm::ProjectJson pj;
	std::string t = simple_json("", "active", "other-pkg");
	EXPECT_FALSE(pm::parse_simple_json(t, "demo-pkg", kPage, pypi(), pj));
	EXPECT_NE(pj.error.find("other-pkg"), std::string::npos) << pj.error;
	t = simple_json("", "gone");
	EXPECT_FALSE(pm::parse_simple_json(t, "demo-pkg", kPage, pypi(), pj));
	EXPECT_NE(pj.error.find("PEP 792"), std::string::npos) << pj.error;
	t = simple_json();
	t.replace(t.find("\"1.4\""), 5, "\"2.0\"");
	EXPECT_FALSE(pm::parse_simple_json(t, "demo-pkg", kPage, pypi(), pj));
	EXPECT_NE(pj.error.find("PEP 629"), std::string::npos) << pj.error;
	auto bad = [&](const std::string &file, const char *want) {
		std::string d = simple_json("," + file);
		pm::ProjectJson p;
		EXPECT_FALSE(pm::parse_simple_json(d, "demo-pkg", kPage, pypi(), p)) << file;
		EXPECT_NE(p.error.find(want), std::string::npos) << p.error;
	};
	bad(R"({"filename":"../evil.whl","hashes":{"sha256":")" + kSha + R"("},"url":"x"})", "evil");
	bad(R"({"filename":"demo_pkg-2.0.tar.gz","hashes":{"sha256":")" + kSha +
	        R"("},"url":"https://evil.example/packages/12/34/)" + kHash + R"(/demo_pkg-2.0.tar.gz"})",
	    "host");
	bad(R"({"filename":"demo_pkg-2.0.tar.gz","hashes":{"md5":"x"},"url":"../../packages/12/34/)" + kHash +
	        R"(/demo_pkg-2.0.tar.gz"})",
	    "sha256");
	bad(R"({"filename":"demo_pkg-2.0.tar.gz","hashes":{"sha256":")" + kSha +
	        R"("},"provenance":"http://pypi.org/x","url":"../../packages/12/34/)" + kHash + R"(/demo_pkg-2.0.tar.gz"})",
	    "provenance");
	t = "not json";
	EXPECT_FALSE(pm::parse_simple_json(t, "demo-pkg", kPage, pypi(), pj));
	EXPECT_TRUE(pj.syntax_error);
}

TEST(SimpleHtml, ParsesPep503WithEntitiesStatusSerialAndProvenance)
{
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_simple_html(simple_html(), "demo-pkg", kPage, pypi(), pj)) << pj.error;
	EXPECT_EQ(pj.status, "archived");
	EXPECT_EQ(pj.last_serial, 88);
	EXPECT_EQ(pj.page_name, "Demo_Pkg");
	EXPECT_TRUE(pj.sizes_missing); // PEP 503 has no size
	ASSERT_EQ(pj.files.size(), 2u);
	auto &w = pj.files[0];
	EXPECT_EQ(w.sha256, kSha);
	EXPECT_EQ(w.requires_python, ">=3.8");
	EXPECT_EQ(w.yanked_reason, "bad <build>");
	EXPECT_EQ(w.core_metadata, kMeta);
	EXPECT_EQ(w.provenance, kProv);
	EXPECT_EQ(w.size, -1);
	EXPECT_TRUE(w.upload_time.empty());
	EXPECT_FALSE(pj.files[1].yanked);
	EXPECT_EQ(pj.files[1].url, "https://pypi.org/packages/12/34/" + kHash + "/demo_pkg-1.0.tar.gz");
}

TEST(SimpleHtml, MalformedMarkupIsReadAsBrowsersReadIt)
{
	// Unquoted attributes, upper-case tags, no </a>: an HTML5 parser copes.
	std::string h = "<HTML><title>Links for demo-pkg</title><A HREF=../../packages/12/34/" + kHash +
	                "/demo_pkg-1.0.tar.gz#sha256=" + kSha + " data-yanked>demo_pkg-1.0.tar.gz";
	pm::ProjectJson pj;
	ASSERT_TRUE(pm::parse_simple_html(h, "demo-pkg", kPage, pypi(), pj)) << pj.error;
	ASSERT_EQ(pj.files.size(), 1u);
	EXPECT_TRUE(pj.files[0].yanked);
	EXPECT_TRUE(pj.files[0].yanked_reason.empty());
	EXPECT_EQ(pj.status, "");
}

TEST(SimpleHtml, RefusesOtherProjectAndHostileLinks)
{
	pm::ProjectJson pj;
	EXPECT_FALSE(pm::parse_simple_html(simple_html("", "Other"), "demo-pkg", kPage, pypi(), pj));
	EXPECT_NE(pj.error.find("Other"), std::string::npos) << pj.error;
	std::string off = "<a href=\"https://evil.example/packages/12/34/" + kHash + "/demo_pkg-2.0.tar.gz#sha256=" + kSha +
	                  "\">demo_pkg-2.0.tar.gz</a>\n";
	EXPECT_FALSE(pm::parse_simple_html(simple_html(off), "demo-pkg", kPage, pypi(), pj));
	EXPECT_EQ(pj.error_file, "demo_pkg-2.0.tar.gz");
	EXPECT_NE(pj.error.find("host"), std::string::npos) << pj.error;
	std::string evil = "<a href=\"../../packages/12/34/" + kHash + "/..%2fx#sha256=" + kSha + "\">../x</a>\n";
	EXPECT_FALSE(pm::parse_simple_html(simple_html(evil), "demo-pkg", kPage, pypi(), pj));
	std::string mismatch = "<a href=\"../../packages/12/34/" + kHash + "/demo_pkg-3.0.tar.gz#sha256=" + kSha +
	                       "\">demo_pkg-9.0.tar.gz</a>\n";
	EXPECT_FALSE(pm::parse_simple_html(simple_html(mismatch), "demo-pkg", kPage, pypi(), pj));
}

TEST(VersionFromFilename, WheelsSdistsAndNamesWithDashes)
{
	EXPECT_EQ(pm::version_from_filename("demo_pkg-1.0-py3-none-any.whl", "demo-pkg"), "1.0");
	EXPECT_EQ(pm::version_from_filename("foo_bar_baz-2.0rc1.tar.gz", "foo-bar-baz"), "2.0rc1");
	EXPECT_EQ(pm::version_from_filename("Foo.Bar-baz-2.1.zip", "foo-bar-baz"), "2.1");
	EXPECT_EQ(pm::version_from_filename("demo-1.0-py2.7.egg", "demo"), "1.0");
	EXPECT_EQ(pm::version_from_filename("weird.bin", "weird"), "");
}
