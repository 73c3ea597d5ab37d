#include "record.h"

#include <algorithm>

#include "hash.h"
#include "names.h"
#include "ndjson.h"
#include "pep440.h"

namespace pm {

static bool str_member(const rapidjson::Value &o, const char *k, std::string &out, bool required, std::string &error,
                       size_t max = 4096)
{
	auto *m = member(o, k);
	if (!m || m->IsNull()) {
		if (required) error = std::string("missing \"") + k + "\"";
		return !required;
	}
	if (!m->IsString()) {
		error = std::string("\"") + k + "\" is not a string";
		return false;
	}
	if (m->GetStringLength() > max) {
		error = std::string("\"") + k + "\" is too long";
		return false;
	}
	out.assign(m->GetString(), m->GetStringLength());
	if (out.find('\0') != std::string::npos) {
		error = std::string("\"") + k + "\" contains NUL";
		return false;
	}
	return true;
}

static bool parse_file(const rapidjson::Value &v, FileEntry &f, std::string &error)
{
	if (!v.IsObject()) {
		error = "a file entry is not an object";
		return false;
	}
	if (!str_member(v, "filename", f.filename, true, error, 255)) return false;
	std::string why;
	if (!safe_filename(f.filename, &why)) {
		error = "file " + f.filename + ": " + why;
		return false;
	}
	auto fail = [&](const std::string &w) {
		error = "file " + f.filename + ": " + w;
		return false;
	};
	std::string e;
	if (!str_member(v, "version", f.version, false, e, 256)) return fail(e);
	if (!str_member(v, "url", f.url, true, e, 8192)) return fail(e);
	if (!str_member(v, "path", f.path, true, e, 1024)) return fail(e);
	if (!valid_package_path(f.path, &why)) return fail(why);
	if (f.path.substr(f.path.rfind('/') + 1) != f.filename) return fail("path does not end in the file name");
	if (!str_member(v, "sha256", f.sha256, true, e, 64)) return fail(e);
	if (!is_sha256_hex(f.sha256)) return fail("sha256 is not 64 lower-case hex digits");
	auto *sz = member(v, "size");
	if (!sz || !sz->IsInt64() || sz->GetInt64() < 0) return fail("size is missing or not a non-negative integer");
	f.size = sz->GetInt64();
	if (!str_member(v, "upload_time", f.upload_time, false, e, 64)) return fail(e);
	auto *rp = member(v, "requires_python");
	f.has_requires_python = rp && rp->IsString();
	if (!str_member(v, "requires_python", f.requires_python, false, e, 1024)) return fail(e);
	f.yanked = get_bool(v, "yanked", false);
	if (!str_member(v, "yanked_reason", f.yanked_reason, false, e, 4096)) return fail(e);
	if (!str_member(v, "core_metadata", f.core_metadata, false, e, 64)) return fail(e);
	if (!f.core_metadata.empty() && !is_sha256_hex(f.core_metadata)) return fail("core_metadata is not a sha256");
	if (!str_member(v, "packagetype", f.packagetype, false, e, 64)) return fail(e);
	if (!str_member(v, "provenance", f.provenance, false, e, 8192)) return fail(e);
	// Pages link it as it is: only an absolute http(s) URL, no markup breakers.
	if (!f.provenance.empty() && f.provenance.compare(0, 8, "https://") != 0 &&
	    f.provenance.compare(0, 7, "http://") != 0)
		return fail("provenance is not an http(s) URL");
	for (unsigned char c : f.provenance)
		if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>') return fail("provenance URL has a bad character");
	return true;
}

bool parse_record(const rapidjson::Value &v, ProjectRecord &r, std::string &error)
{
	r = ProjectRecord();
	if (!v.IsObject()) {
		error = "record is not an object";
		return false;
	}
	if (!str_member(v, "type", r.type, false, error, 32)) return false;
	if (r.type.empty()) r.type = "project";
	// problem and verified: mirror-verify(1)'s findings and summary, passed
	// through by every tool so the end of a repair pipeline sees them.
	static const char *known[] = {"project", "removal", "error", "stale", "target", "synced", "problem", "verified"};
	if (std::find_if(std::begin(known), std::end(known), [&](const char *k) { return r.type == k; }) == std::end(known)) {
		error = "unknown record type \"" + r.type + "\"";
		return false;
	}
	auto *s = member(v, "serial");
	if (s && !s->IsNull()) {
		if (!s->IsInt64() || s->GetInt64() < 0) {
			error = "\"serial\" is not a non-negative integer";
			return false;
		}
		r.serial = s->GetInt64();
	}
	if (r.type == "target" || r.type == "problem" || r.type == "verified") return true; // may name no project
	std::string name;
	if (!str_member(v, "name", name, true, error, 256)) return false;
	if (!valid_project_name(name)) {
		error = "\"" + name.substr(0, 80) + "\" is not a valid project name";
		return false;
	}
	r.name = normalize_name(name);
	if (!str_member(v, "display_name", r.display_name, false, error, 256)) return false;
	if (r.display_name.empty() || !valid_project_name(r.display_name) || normalize_name(r.display_name) != r.name)
		r.display_name = name;
	auto *ls = member(v, "last_serial");
	if (ls && ls->IsInt64()) r.last_serial = ls->GetInt64();
	std::string st;
	if (!str_member(v, "status", st, false, error, 32)) return false;
	if (!st.empty()) {
		if (st != "active" && st != "archived" && st != "quarantined" && st != "deprecated") {
			error = "\"status\" \"" + st + "\" is not a PEP 792 project status";
			return false;
		}
		r.status = st;
	}
	if (!str_member(v, "json_file", r.json_file, false, error, 4096)) return false;
	if (!str_member(v, "reason", r.reason, false, error, 4096)) return false;
	auto *files = member(v, "files");
	// A synced record's "files" is a count (pypi-mirror-records(7)), not a list.
	if (r.type == "synced" && files && files->IsNumber()) files = nullptr;
	if (files && !files->IsNull()) {
		if (!files->IsArray()) {
			error = "\"files\" is not an array";
			return false;
		}
		r.resolved = true;
		r.files.reserve(files->Size());
		for (auto &fv : files->GetArray()) {
			FileEntry f;
			if (!parse_file(fv, f, error)) {
				error = "project " + r.name + ": " + error;
				return false;
			}
			r.files.push_back(std::move(f));
		}
	}
	return true;
}

void file_to_json(const FileEntry &f, rapidjson::Value &o, rapidjson::Document::AllocatorType &a)
{
	using rapidjson::StringRef;
	using rapidjson::Value;
	o.SetObject();
	auto str = [&](const std::string &s) { return Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a); };
	o.AddMember("filename", str(f.filename), a);
	o.AddMember("version", str(f.version), a);
	o.AddMember("url", str(f.url), a);
	o.AddMember("path", str(f.path), a);
	o.AddMember("sha256", str(f.sha256), a);
	o.AddMember("size", Value(static_cast<int64_t>(f.size)), a);
	o.AddMember("upload_time", str(f.upload_time), a);
	if (f.has_requires_python)
		o.AddMember("requires_python", str(f.requires_python), a);
	else
		o.AddMember("requires_python", Value(), a);
	o.AddMember("yanked", Value(f.yanked), a);
	if (f.yanked && !f.yanked_reason.empty())
		o.AddMember("yanked_reason", str(f.yanked_reason), a);
	else
		o.AddMember("yanked_reason", Value(), a);
	if (!f.core_metadata.empty())
		o.AddMember("core_metadata", str(f.core_metadata), a);
	else
		o.AddMember("core_metadata", Value(), a);
	o.AddMember("packagetype", str(f.packagetype), a);
	// Only when upstream names one, so records from the JSON API (which has
	// no provenance) stay as they were.
	if (!f.provenance.empty()) o.AddMember("provenance", str(f.provenance), a);
}

std::string error_record(const std::string &tool, const std::string &name, long long serial, const std::string &reason,
                         const std::string &file, const std::string &url)
{
	rapidjson::Document d(rapidjson::kObjectType);
	set_string(d, d, "type", "error");
	set_string(d, d, "name", name);
	set_int(d, d, "serial", serial);
	set_string(d, d, "tool", tool);
	set_string(d, d, "reason", reason);
	if (!file.empty()) set_string(d, d, "file", file);
	if (!url.empty()) set_string(d, d, "url", url);
	return to_json(d);
}

void sort_versions(std::vector<std::string> &versions)
{
	std::vector<std::pair<std::optional<pep440::Version>, std::string>> keyed;
	keyed.reserve(versions.size());
	for (auto &v : versions) keyed.emplace_back(pep440::parse(v), v);
	std::stable_sort(keyed.begin(), keyed.end(), [](const auto &a, const auto &b) {
		if (a.first && b.first) {
			int c = pep440::compare(*a.first, *b.first);
			if (c != 0) return c < 0;
			return a.second < b.second;
		}
		if (a.first.has_value() != b.first.has_value()) return a.first.has_value(); // parseable first
		return a.second < b.second;
	});
	for (size_t i = 0; i < versions.size(); i++) versions[i] = std::move(keyed[i].second);
}

} // namespace pm
