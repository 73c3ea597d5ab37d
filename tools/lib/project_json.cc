#include "project_json.h"

#include <cctype>
#include <unordered_set>

#include <rapidjson/error/en.h>

#include "fsutil.h"
#include "hash.h"
#include "http.h"
#include "names.h"
#include "ndjson.h"
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
                    std::string &path, std::string *why)
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
	if (!package_path_from_url(url, filename, path, &w)) return fail(w);
	return true;
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
		if (!convert_file(file, version, policy, f, out)) return false;
		if (!seen.insert(f.filename).second) {
			out.error_file = printable(f.filename);
			out.error_url = printable(f.url, 1024);
			out.error = "file " + out.error_file + ": listed more than once";
			return false;
		}
		out.files.push_back(std::move(f));
		return true;
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

bool parse_project_json(std::string &text, const ProjectJsonPolicy &policy, ProjectJson &out)
{
	if (text.find('\0') != std::string::npos) {
		out = ProjectJson();
		out.error = "JSON does not parse: it contains a NUL byte";
		out.syntax_error = true;
		return false;
	}
	rapidjson::Document doc;
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
		out = ProjectJson();
		out.error = std::string("JSON does not parse: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
		            " at offset " + std::to_string(doc.GetErrorOffset());
		out.syntax_error = true;
		return false;
	}
	return convert_project_json(doc, policy, out);
}

} // namespace pm
