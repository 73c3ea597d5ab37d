#include "project_json.h"

#include <cctype>
#include <cstring>
#include <strings.h>
#include <unordered_set>

#include <gumbo.h>
#include <rapidjson/error/en.h>

#include "fsutil.h"
#include "hash.h"
#include "http.h"
#include "names.h"
#include "ndjson.h"
#include "record.h"
#include "text.h"
#include "url_policy.h"

namespace pm {

namespace {

// Limits match what parse_record() accepts, so every record written from a
// converted document is readable by the next tool.
constexpr size_t kMaxVersion = 256, kMaxUrl = 8192, kMaxTime = 64, kMaxRequiresPython = 1024,
                 kMaxYankedReason = 4096, kMaxPackagetype = 64;

// Text from the document made fit for a message: control characters
// replaced, cut at a UTF-8 character boundary.
std::string printable(const std::string &s, size_t max = 200)
{
	std::string out;
	for (size_t i = 0; i < s.size(); i++) {
		unsigned char c = static_cast<unsigned char>(s[i]);
		if (out.size() >= max && (c & 0xC0) != 0x80) {
			out += "...";
			break;
		}
		out.push_back(c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));
	}
	return out;
}

bool has_control(const std::string &s)
{
	for (unsigned char c : s)
		if (c < 0x20 || c == 0x7f) return true;
	return false;
}

// The path of a URL as written (before libcurl folds "/../"), with every
// %XX decoded, so both literal and encoded dot segments can be seen.
std::string decoded_written_path(const std::string &url)
{
	size_t start = url.find("://");
	start = start == std::string::npos ? 0 : url.find('/', start + 3);
	if (start == std::string::npos) return "";
	size_t end = url.find_first_of("?#", start);
	std::string raw = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
	std::string out;
	for (size_t i = 0; i < raw.size(); i++) {
		int h, l;
		if (raw[i] == '%' && i + 2 < raw.size() && (h = hexval(raw[i + 1])) >= 0 && (l = hexval(raw[i + 2])) >= 0) {
			out.push_back(static_cast<char>(h * 16 + l));
			i += 2;
		} else {
			out.push_back(raw[i]);
		}
	}
	return out;
}

// Optional string member: absent or null leaves out untouched and succeeds;
// anything but a string, an over-long value or NUL fails with why.
bool opt_string(const rapidjson::Value &o, const char *k, std::string &out, size_t max, std::string &why)
{
	auto *m = member(o, k);
	if (!m || m->IsNull()) return true;
	if (!m->IsString()) {
		why = std::string(k) + " is not a string";
		return false;
	}
	if (m->GetStringLength() > max) {
		why = std::string(k) + " is longer than " + std::to_string(max) + " bytes";
		return false;
	}
	out.assign(m->GetString(), m->GetStringLength());
	if (out.find('\0') != std::string::npos) {
		why = std::string(k) + " contains NUL";
		return false;
	}
	return true;
}

// A sha256 as the document gives it: 64 hex digits (folded to lower case).
bool sha256_value(const rapidjson::Value *v, std::string &out)
{
	if (!v || !v->IsString() || v->GetStringLength() != 64) return false;
	out.assign(v->GetString(), 64);
	lower_in_place(out);
	return is_sha256_hex(out);
}

bool host_allowed(const UrlParts &u, const ProjectJsonPolicy &policy)
{
	std::string hp = u.host + ":" + u.port;
	for (auto &h : policy.allowed_hosts)
		if (h == u.host || h == hp) return true;
	return false;
}

// Converts one file object. version is the release it is listed under.
bool convert_file(const rapidjson::Value &v, const std::string &version, const ProjectJsonPolicy &policy,
                  FileEntry &f, ProjectJson &out)
{
	if (!v.IsObject()) {
		out.error = "release " + printable(version) + ": a file entry is not an object";
		return false;
	}
	auto *fn = member(v, "filename");
	if (!fn || !fn->IsString()) {
		out.error = "release " + printable(version) + ": a file entry has no filename";
		return false;
	}
	f.filename.assign(fn->GetString(), fn->GetStringLength());
	out.error_file = printable(f.filename);
	auto fail = [&](const std::string &why) {
		out.error = "file " + out.error_file + ": " + why;
		return false;
	};
	std::string why;
	if (!safe_filename(f.filename, &why)) return fail(why);
	f.version = version;

	if (!opt_string(v, "url", f.url, kMaxUrl, why)) return fail(why);
	out.error_url = printable(f.url, 1024);
	if (f.url.empty()) return fail("no url");
	if (!check_file_url(f.url, f.filename, policy, f.path, &why)) return fail(why);

	auto *digests = member(v, "digests");
	if (!digests || !sha256_value(member(*digests, "sha256"), f.sha256))
		return fail("digests.sha256 is missing or not 64 hex digits");

	auto *sz = member(v, "size");
	if (!sz || !sz->IsNumber()) return fail("size is missing or not a number");
	if (!sz->IsInt64() || sz->GetInt64() < 0) return fail("size is not a non-negative integer");
	if (sz->GetInt64() > policy.max_file_size)
		return fail("size " + std::to_string(sz->GetInt64()) + " is larger than " +
		            std::to_string(policy.max_file_size) + " bytes");
	f.size = sz->GetInt64();

	std::string t;
	if (!opt_string(v, "upload_time_iso_8601", t, kMaxTime, why)) return fail(why);
	if (t.empty()) {
		if (!opt_string(v, "upload_time", t, kMaxTime - 1, why)) return fail(why);
		// upload_time has no zone but is UTC (PEP 700 wants the Z).
		if (!t.empty() && t.back() != 'Z' && t.back() != 'z') t += "Z";
	}
	if (!t.empty() && parse_iso8601(t) < 0) return fail("upload time '" + printable(t) + "' is not ISO 8601");
	f.upload_time = t;

	if (!opt_string(v, "requires_python", f.requires_python, kMaxRequiresPython, why)) return fail(why);
	if (has_control(f.requires_python)) return fail("requires_python contains a control character");
	f.has_requires_python = !f.requires_python.empty();

	auto *y = member(v, "yanked");
	if (y && !y->IsNull() && !y->IsBool()) return fail("yanked is not a boolean");
	f.yanked = y && y->IsBool() && y->GetBool();
	if (!opt_string(v, "yanked_reason", f.yanked_reason, kMaxYankedReason, why)) return fail(why);
	if (!f.yanked) f.yanked_reason.clear();

	// PEP 658/714: "core-metadata", older documents "data-dist-info-metadata";
	// false (or absent) means no .metadata file. true carries no hash to
	// verify the file with, so it counts as none.
	auto *cm = member(v, "core-metadata");
	if (!cm) cm = member(v, "data-dist-info-metadata");
	if (cm && cm->IsObject()) {
		if (!sha256_value(member(*cm, "sha256"), f.core_metadata))
			return fail("core-metadata sha256 is missing or not 64 hex digits");
	} else if (cm && !cm->IsBool() && !cm->IsNull()) {
		return fail("core-metadata is neither false nor an object");
	}

	if (!opt_string(v, "packagetype", f.packagetype, kMaxPackagetype, why)) return fail(why);
	if (has_control(f.packagetype)) return fail("packagetype contains a control character");

	out.error_file.clear();
	out.error_url.clear();
	return true;
}

bool check_version(const std::string &version, ProjectJson &out)
{
	std::string why;
	if (version.size() > kMaxVersion)
		why = "is longer than " + std::to_string(kMaxVersion) + " bytes";
	else if (has_control(version))
		why = "contains a control character";
	if (why.empty()) return true;
	out.error = "release " + printable(version) + ": version " + why;
	return false;
}

// Adds f unless a file of that name is listed already (an error then).
bool add_unique(ProjectJson &out, std::unordered_set<std::string> &seen, FileEntry &&f)
{
	if (!seen.insert(f.filename).second) {
		out.error_file = printable(f.filename);
		out.error_url = printable(f.url, 1024);
		out.error = "file " + out.error_file + ": listed more than once";
		return false;
	}
	out.files.push_back(std::move(f));
	return true;
}

} // namespace

ProjectJsonPolicy project_json_policy(const std::string &upstream, const std::vector<std::string> &extra_hosts,
                                      bool allow_http)
{
	ProjectJsonPolicy p;
	p.allow_http = allow_http;
	UrlParts u;
	if (parse_url(upstream, u)) {
		p.allowed_hosts.push_back(u.host + ":" + u.port);
		// PyPI serves its files from a second host.
		if (u.scheme == "https" && u.host == "pypi.org") p.allowed_hosts.push_back("files.pythonhosted.org");
	}
	for (auto h : extra_hosts) {
		lower_in_place(h);
		if (!h.empty()) p.allowed_hosts.push_back(h);
	}
	return p;
}

bool check_file_url(const std::string &url, const std::string &filename, const ProjectJsonPolicy &policy,
                    std::string &path, std::string *why, const std::string &sha256)
{
	auto fail = [&](const std::string &w) {
		if (why) *why = w;
		return false;
	};
	if (url.find('\0') != std::string::npos || has_control(url)) return fail("URL contains a control character");
	UrlParts u;
	std::string err;
	if (!parse_url(url, u, &err)) return fail(err);
	if (!check_scheme(u, policy.allow_http))
		return fail("URL scheme " + printable(u.scheme) + " is not " + (policy.allow_http ? "http(s)" : "https"));
	if (!host_allowed(u, policy)) return fail("URL host " + printable(u.host) + " is not upstream's or allowed");
	// libcurl folds "/../" away before anyone sees it and leaves "%2e%2e"
	// for the decoder: look at the path as written, decoded.
	std::string written = decoded_written_path(url);
	if (written.find('\\') != std::string::npos) return fail("URL path contains a backslash");
	size_t start = 0;
	for (;;) {
		size_t slash = written.find('/', start);
		std::string seg = written.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
		if (seg == "." || seg == "..") return fail("URL path has a dot segment");
		if (slash == std::string::npos) break;
		start = slash + 1;
	}
	std::string w;
	if (package_path_from_url(u, filename, path, &w)) return true;
	if (sha256.empty()) return fail(w);
	// Another index's layout (devpi, Artifactory, Nexus, GitLab): the last
	// segment must be the file, and the sha256 (checked on download) places
	// it, so a path is never taken from such a URL.
	if (written.substr(written.rfind('/') + 1) != filename) return fail("URL names a different file than " + filename);
	if (!is_sha256_hex(sha256) || lower(sha256) != sha256) return fail(w);
	path = "packages/" + sha256.substr(0, 2) + "/" + sha256.substr(2, 2) + "/" + sha256.substr(4) + "/" + filename;
	return valid_package_path(path, why);
}

bool convert_project_json(const rapidjson::Value &doc, const ProjectJsonPolicy &policy, ProjectJson &out)
{
	out = ProjectJson();
	if (!doc.IsObject()) {
		out.error = "document is not a JSON object";
		return false;
	}
	auto *info = member(doc, "info");
	std::string info_version;
	if (info && info->IsObject()) {
		std::string why;
		if (!opt_string(*info, "name", out.display_name, 256, why)) out.display_name.clear();
		if (!opt_string(*info, "version", info_version, kMaxVersion, why)) info_version.clear();
	}
	auto *ls = member(doc, "last_serial");
	if (ls && ls->IsInt64() && ls->GetInt64() >= 0) out.last_serial = ls->GetInt64();

	std::unordered_set<std::string> seen;
	auto add = [&](const rapidjson::Value &file, const std::string &version) {
		FileEntry f;
		return convert_file(file, version, policy, f, out) && add_unique(out, seen, std::move(f));
	};

	auto *releases = member(doc, "releases");
	if (releases && !releases->IsNull()) {
		if (!releases->IsObject()) {
			out.error = "\"releases\" is not an object";
			return false;
		}
		for (auto &rel : releases->GetObject()) {
			std::string version(rel.name.GetString(), rel.name.GetStringLength());
			if (!check_version(version, out)) return false;
			if (!rel.value.IsArray()) {
				out.error = "release " + printable(version) + ": file list is not an array";
				return false;
			}
			for (auto &file : rel.value.GetArray())
				if (!add(file, version)) return false;
		}
		return true;
	}
	// Versioned documents and trimmed-down indexes have only "urls": the
	// files of the release "info" describes.
	auto *urls = member(doc, "urls");
	if (!urls || !urls->IsArray()) {
		out.error = "document has neither \"releases\" nor \"urls\"";
		return false;
	}
	if (!check_version(info_version, out)) return false;
	for (auto &file : urls->GetArray())
		if (!add(file, info_version)) return false;
	return true;
}

namespace {

// Parses text in place (it is overwritten), for every upstream JSON form.
bool parse_insitu(std::string &text, rapidjson::Document &doc, ProjectJson &out)
{
	if (text.find('\0') != std::string::npos) {
		out.error = "JSON does not parse: it contains a NUL byte";
		out.syntax_error = true;
		return false;
	}
	// In place: a large document is not copied a second time. Iterative: deep
	// nesting cannot exhaust the stack. Encoding validation: invalid UTF-8
	// is refused here instead of travelling on in records.
	constexpr unsigned flags =
	    rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
	// RapidJSON's UTF-8 validator takes up to four bytes of a multi-byte
	// sequence before it checks them, so a document that ends in a truncated
	// sequence ("\xf0a") would be read past its terminator (found by
	// tests/fuzz/fuzz_project_json). Pad with NULs, which end the parse.
	text.append(4, '\0');
	doc.ParseInsitu<flags>(text.data());
	if (doc.HasParseError()) {
		out.error = std::string("JSON does not parse: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
		            " at offset " + std::to_string(doc.GetErrorOffset());
		out.syntax_error = true;
		return false;
	}
	return true;
}

} // namespace

bool parse_project_json(std::string &text, const ProjectJsonPolicy &policy, ProjectJson &out)
{
	out = ProjectJson();
	rapidjson::Document doc;
	if (!parse_insitu(text, doc, out)) return false;
	return convert_project_json(doc, policy, out);
}

std::string version_from_filename(const std::string &filename, const std::string &project)
{
	auto ends_with = [&](const char *suf) {
		size_t n = strlen(suf);
		return filename.size() > n && strcasecmp(filename.c_str() + filename.size() - n, suf) == 0;
	};
	if (ends_with(".whl") || ends_with(".egg")) {
		size_t a = filename.find('-');
		if (a == std::string::npos) return "";
		size_t b = filename.find('-', a + 1);
		std::string v = filename.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
		if (b == std::string::npos && v.size() > 4) v.resize(v.size() - 4); // "name-1.0.egg"
		return v;
	}
	static const char *exts[] = {".tar.gz", ".tar.bz2", ".tar.xz", ".tar.Z", ".tgz", ".tbz", ".tar", ".zip",
	                             ".exe", ".msi", ".rpm", ".dmg", ".deb"};
	std::string stem;
	for (const char *e : exts)
		if (ends_with(e)) {
			stem = filename.substr(0, filename.size() - strlen(e));
			break;
		}
	if (stem.empty()) return "";
	// The name part may itself contain "-": the first split whose left side
	// normalizes to the project.
	for (size_t i = stem.find('-'); i != std::string::npos; i = stem.find('-', i + 1))
		if (normalize_name(stem.substr(0, i)) == project) return stem.substr(i + 1);
	return "";
}

namespace {

std::string packagetype_of(const std::string &filename)
{
	auto ends = [&](const char *suf) {
		size_t n = strlen(suf);
		return filename.size() > n && strcasecmp(filename.c_str() + filename.size() - n, suf) == 0;
	};
	if (ends(".whl")) return "bdist_wheel";
	if (ends(".egg")) return "bdist_egg";
	if (ends(".exe")) return "bdist_wininst";
	if (ends(".msi")) return "bdist_msi";
	if (ends(".rpm")) return "bdist_rpm";
	if (ends(".dmg")) return "bdist_dmg";
	return "sdist";
}

bool valid_status(const std::string &s)
{
	return s == "active" || s == "archived" || s == "quarantined" || s == "deprecated";
}

// PEP 629: a major version other than 1 is a format we cannot read.
bool api_version_ok(const std::string &v, ProjectJson &out)
{
	if (v.empty() || v.compare(0, 2, "1.") == 0 || v == "1") return true;
	out.error = "Simple API version " + printable(v) + " is not 1.x (PEP 629: refusing an unknown major version)";
	return false;
}

// What one Simple API file link says, in either form, before checking.
struct SimpleLink {
	std::string filename, url, sha256, requires_python, yanked_reason, core_metadata, provenance, upload_time;
	bool has_requires_python = false, yanked = false;
	long long size = -1;
};

// Shared checks of a Simple API file (JSON or HTML), the same as the JSON
// API's where the fields are the same.
bool convert_simple_link(SimpleLink &l, const std::string &project, const std::string &page_url,
                         const ProjectJsonPolicy &policy, FileEntry &f, ProjectJson &out)
{
	f.filename = l.filename;
	out.error_file = printable(f.filename);
	out.error_url = printable(l.url, 1024);
	auto fail = [&](const std::string &why) {
		out.error = "file " + out.error_file + ": " + why;
		return false;
	};
	std::string why;
	if (!safe_filename(f.filename, &why)) return fail(why);
	if (l.url.empty()) return fail("no url");
	if (l.url.size() > kMaxUrl) return fail("url is longer than " + std::to_string(kMaxUrl) + " bytes");
	if (has_control(l.url)) return fail("URL contains a control character");
	if (!resolve_url(page_url, l.url, f.url)) return fail("URL does not parse");
	out.error_url = printable(f.url, 1024);
	lower_in_place(l.sha256);
	if (!check_file_url(f.url, f.filename, policy, f.path, &why, is_sha256_hex(l.sha256) ? l.sha256 : ""))
		return fail(why);
	if (!is_sha256_hex(l.sha256)) return fail("no sha256 hash (64 hex digits) for the file");
	f.sha256 = l.sha256;
	if (l.size > policy.max_file_size)
		return fail("size " + std::to_string(l.size) + " is larger than " + std::to_string(policy.max_file_size) +
		            " bytes");
	f.size = l.size;
	if (f.size < 0) out.sizes_missing = true;
	if (!l.upload_time.empty() && (l.upload_time.size() > kMaxTime || parse_iso8601(l.upload_time) < 0))
		return fail("upload-time '" + printable(l.upload_time) + "' is not ISO 8601");
	f.upload_time = l.upload_time;
	if (l.requires_python.size() > kMaxRequiresPython || has_control(l.requires_python))
		return fail("requires-python is too long or contains a control character");
	f.requires_python = l.requires_python;
	f.has_requires_python = l.has_requires_python && !f.requires_python.empty();
	if (l.yanked_reason.size() > kMaxYankedReason) return fail("yanked reason is too long");
	f.yanked = l.yanked;
	f.yanked_reason = l.yanked ? l.yanked_reason : "";
	if (!l.core_metadata.empty()) {
		lower_in_place(l.core_metadata);
		if (!is_sha256_hex(l.core_metadata)) return fail("core-metadata sha256 is not 64 hex digits");
		f.core_metadata = l.core_metadata;
	}
	if (!l.provenance.empty()) {
		// Passed through to our pages as upstream's absolute URL.
		std::string abs;
		UrlParts u;
		if (l.provenance.size() > kMaxUrl || has_control(l.provenance) || !resolve_url(page_url, l.provenance, abs) ||
		    !parse_url(abs, u) || !check_scheme(u, policy.allow_http) ||
		    abs.find_first_of("\"<> ") != std::string::npos)
			return fail("provenance " + printable(l.provenance) + " is not an " +
			            (policy.allow_http ? "http(s)" : "https") + " URL");
		f.provenance = abs;
	}
	f.version = version_from_filename(f.filename, project);
	if (f.version.size() > kMaxVersion || has_control(f.version)) f.version.clear();
	f.packagetype = packagetype_of(f.filename);
	out.error_file.clear();
	out.error_url.clear();
	return true;
}

// A "sha256=<hex>" attribute value (PEP 658/714), or "true" with no hash.
std::string metadata_attr_hash(const std::string &v)
{
	if (v.compare(0, 7, "sha256=") == 0) return v.substr(7);
	return "";
}

// --- HTML (gumbo) ---

const char *attr(const GumboElement &e, const char *name)
{
	const GumboAttribute *a = gumbo_get_attribute(&e.attributes, name);
	return a ? a->value : nullptr;
}

void text_of(const GumboNode *n, std::string &out)
{
	if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
		out += n->v.text.text;
		return;
	}
	if (n->type != GUMBO_NODE_ELEMENT) return;
	const GumboVector &c = n->v.element.children;
	for (unsigned i = 0; i < c.length; i++) text_of(static_cast<const GumboNode *>(c.data[i]), out);
}

std::string trim(const std::string &s)
{
	size_t a = s.find_first_not_of(" \t\r\n\f"), b = s.find_last_not_of(" \t\r\n\f");
	return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

struct HtmlScan {
	std::vector<SimpleLink> links;
	std::string api_version, status, title, h1, base_href;
	long long serial = -1;
	bool bad_link = false;
	std::string bad_link_why;
};

// Walks the tree without recursion (a hostile page may nest deeply).
void scan_html(const GumboNode *root, HtmlScan &s)
{
	std::vector<const GumboNode *> stack{root};
	while (!stack.empty()) {
		const GumboNode *n = stack.back();
		stack.pop_back();
		if (n->type == GUMBO_NODE_COMMENT) {
			// Our pages and bandersnatch's end in <!--SERIAL n-->.
			std::string c = trim(n->v.text.text);
			if (c.compare(0, 7, "SERIAL ") == 0) {
				long long v = 0;
				size_t d = 0;
				for (size_t i = 7; i < c.size() && isdigit(static_cast<unsigned char>(c[i])) && d < 18; i++, d++)
					v = v * 10 + (c[i] - '0');
				if (d && d == c.size() - 7) s.serial = v;
			}
			continue;
		}
		const GumboVector *children = nullptr;
		if (n->type == GUMBO_NODE_DOCUMENT) {
			children = &n->v.document.children;
		} else if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE) {
			const GumboElement &e = n->v.element;
			children = &e.children;
			switch (e.tag) {
			case GUMBO_TAG_META: {
				const char *name = attr(e, "name"), *content = attr(e, "content");
				if (name && content) {
					if (!strcasecmp(name, "pypi:repository-version")) s.api_version = trim(content);
					if (!strcasecmp(name, "pypi:project-status")) s.status = trim(content);
				}
				break;
			}
			case GUMBO_TAG_TITLE: text_of(n, s.title); break;
			case GUMBO_TAG_H1:
				if (s.h1.empty()) text_of(n, s.h1);
				break;
			case GUMBO_TAG_BASE:
				if (const char *h = attr(e, "href")) s.base_href = h;
				break;
			case GUMBO_TAG_A: {
				const char *href = attr(e, "href");
				if (!href) break;
				SimpleLink l;
				text_of(n, l.filename);
				l.filename = trim(l.filename);
				std::string h = href;
				size_t hash = h.find('#');
				if (hash != std::string::npos) {
					std::string frag = h.substr(hash + 1);
					h.resize(hash);
					if (frag.compare(0, 7, "sha256=") == 0) l.sha256 = frag.substr(7);
				}
				l.url = h;
				if (const char *rp = attr(e, "data-requires-python")) {
					l.requires_python = rp; // gumbo has decoded the entities
					l.has_requires_python = true;
				}
				if (const char *y = attr(e, "data-yanked")) {
					l.yanked = true;
					l.yanked_reason = y;
				}
				const char *cm = attr(e, "data-core-metadata");
				if (!cm) cm = attr(e, "data-dist-info-metadata");
				if (cm) l.core_metadata = metadata_attr_hash(cm);
				if (const char *pv = attr(e, "data-provenance")) l.provenance = pv;
				s.links.push_back(std::move(l));
				break;
			}
			default: break;
			}
		}
		if (children)
			for (unsigned i = children->length; i-- > 0;) stack.push_back(static_cast<const GumboNode *>(children->data[i]));
	}
}

std::string name_from_heading(const std::string &t)
{
	static const std::string p = "Links for ";
	std::string s = trim(t);
	if (s.compare(0, p.size(), p) != 0) return "";
	return trim(s.substr(p.size()));
}

// The page's project against the one asked for.
bool check_page_name(const std::string &named, const std::string &project, ProjectJson &out)
{
	out.page_name = named;
	if (named.empty() || normalize_name(named) == project) return true;
	out.error = "the page is for project " + printable(named) + ", not " + project;
	return false;
}

} // namespace

bool parse_simple_html(const std::string &text, const std::string &project, const std::string &page_url,
                       const ProjectJsonPolicy &policy, ProjectJson &out)
{
	out = ProjectJson();
	if (text.find('\0') != std::string::npos) {
		out.error = "HTML page contains a NUL byte";
		return false;
	}
	GumboOutput *g = gumbo_parse_with_options(&kGumboDefaultOptions, text.data(), text.size());
	if (!g) {
		out.error = "HTML does not parse";
		return false;
	}
	HtmlScan s;
	scan_html(g->document, s);
	gumbo_destroy_output(&kGumboDefaultOptions, g);
	if (!api_version_ok(s.api_version, out)) return false;
	if (!s.status.empty() && !valid_status(s.status)) {
		out.error = "project status " + printable(s.status) + " is not a PEP 792 status";
		return false;
	}
	out.status = s.status;
	out.last_serial = s.serial;
	std::string named = name_from_heading(s.title);
	if (named.empty()) named = name_from_heading(s.h1);
	if (!check_page_name(named, project, out)) return false;
	// A <base href> moves what relative links are relative to.
	std::string base = page_url;
	if (!s.base_href.empty() && !resolve_url(page_url, s.base_href, base)) base = page_url;
	std::unordered_set<std::string> seen;
	for (auto &l : s.links) {
		FileEntry f;
		if (!convert_simple_link(l, project, base, policy, f, out)) return false;
		if (!add_unique(out, seen, std::move(f))) return false;
	}
	return true;
}

bool parse_simple_json(std::string &text, const std::string &project, const std::string &page_url,
                       const ProjectJsonPolicy &policy, ProjectJson &out)
{
	out = ProjectJson();
	rapidjson::Document doc;
	if (!parse_insitu(text, doc, out)) return false;
	if (!doc.IsObject()) {
		out.error = "document is not a JSON object";
		return false;
	}
	std::string why;
	auto *meta = member(doc, "meta");
	if (meta && meta->IsObject()) {
		std::string v;
		if (!opt_string(*meta, "api-version", v, 32, why)) {
			out.error = "meta." + why;
			return false;
		}
		if (!api_version_ok(v, out)) return false;
		auto *ls = member(*meta, "_last-serial");
		if (ls && ls->IsInt64() && ls->GetInt64() >= 0) out.last_serial = ls->GetInt64();
	}
	std::string named;
	if (!opt_string(doc, "name", named, 256, why)) {
		out.error = why;
		return false;
	}
	if (!check_page_name(named, project, out)) return false;
	auto *ps = member(doc, "project-status");
	if (ps && ps->IsObject()) {
		if (!opt_string(*ps, "status", out.status, 32, why) || (!out.status.empty() && !valid_status(out.status))) {
			out.error = "project-status.status " + printable(out.status) + " is not a PEP 792 status";
			return false;
		}
	}
	auto *files = member(doc, "files");
	if (!files || !files->IsArray()) {
		out.error = "document has no \"files\" array";
		return false;
	}
	std::unordered_set<std::string> seen;
	for (auto &v : files->GetArray()) {
		if (!v.IsObject()) {
			out.error = "a file entry is not an object";
			return false;
		}
		SimpleLink l;
		auto fail = [&](const std::string &w) {
			out.error_file = printable(l.filename);
			out.error = "file " + out.error_file + ": " + w;
			return false;
		};
		if (!opt_string(v, "filename", l.filename, 255, why)) return fail(why);
		if (l.filename.empty()) {
			out.error = "a file entry has no filename";
			return false;
		}
		if (!opt_string(v, "url", l.url, kMaxUrl, why)) return fail(why);
		auto *hashes = member(v, "hashes");
		if (hashes && hashes->IsObject() && !opt_string(*hashes, "sha256", l.sha256, 64, why)) return fail(why);
		auto *rp = member(v, "requires-python");
		if (rp && !rp->IsNull() && !rp->IsString()) return fail("requires-python is not a string");
		if (rp && rp->IsString()) {
			l.has_requires_python = true;
			if (!opt_string(v, "requires-python", l.requires_python, kMaxRequiresPython, why)) return fail(why);
		}
		auto *y = member(v, "yanked");
		if (y && y->IsString()) {
			l.yanked = true;
			if (!opt_string(v, "yanked", l.yanked_reason, kMaxYankedReason, why)) return fail(why);
		} else if (y && y->IsBool()) {
			l.yanked = y->GetBool();
		} else if (y && !y->IsNull()) {
			return fail("yanked is neither a boolean nor a string");
		}
		const rapidjson::Value *cm = member(v, "core-metadata");
		if (!cm) cm = member(v, "dist-info-metadata");
		if (!cm) cm = member(v, "data-dist-info-metadata");
		if (cm && cm->IsObject()) {
			if (!opt_string(*cm, "sha256", l.core_metadata, 64, why)) return fail(why);
		} else if (cm && !cm->IsBool() && !cm->IsNull()) {
			return fail("core-metadata is neither a boolean nor an object");
		}
		auto *sz = member(v, "size");
		if (sz && !sz->IsNull()) {
			if (!sz->IsInt64() || sz->GetInt64() < 0) return fail("size is not a non-negative integer");
			l.size = sz->GetInt64();
		}
		if (!opt_string(v, "upload-time", l.upload_time, kMaxTime, why)) return fail(why);
		if (!opt_string(v, "provenance", l.provenance, kMaxUrl, why)) return fail(why);
		FileEntry f;
		if (!convert_simple_link(l, project, page_url, policy, f, out)) return false;
		if (!add_unique(out, seen, std::move(f))) return false;
	}
	return true;
}

} // namespace pm
