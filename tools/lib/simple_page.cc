#include "simple_page.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "names.h"
#include "ndjson.h"
#include "text.h"
#include "url.h"

namespace pm {

std::string file_url(const FileEntry &f, const std::string &root_uri)
{
	// f.path was validated by parse_record: packages/xx/yy/<hash>/<filename>.
	std::string dir = f.path.substr(0, f.path.rfind('/') + 1);
	std::string rel = dir + url_escape(f.filename);
	if (root_uri.empty()) return "../../" + rel;
	std::string base = root_uri;
	while (!base.empty() && base.back() == '/') base.pop_back();
	return base + "/" + rel;
}

// The files of a record in page order (by filename), one per filename.
// PEP 792: a quarantined project's files are not offered (an archived or
// deprecated one's are).
static std::vector<const FileEntry *> page_files(const ProjectRecord &r)
{
	std::vector<const FileEntry *> v;
	if (r.status == "quarantined") return v;
	v.reserve(r.files.size());
	for (auto &f : r.files) v.push_back(&f);
	std::stable_sort(v.begin(), v.end(), [](auto *a, auto *b) { return a->filename < b->filename; });
	v.erase(std::unique(v.begin(), v.end(), [](auto *a, auto *b) { return a->filename == b->filename; }), v.end());
	return v;
}

static const std::string &display_of(const ProjectRecord &r)
{
	return r.display_name.empty() ? r.name : r.display_name;
}

// ` name="PREFIXvalue"`, the value escaped (the prefix is ours).
static void append_attribute(std::string &out, const char *name, const char *prefix, const std::string &value)
{
	out += ' ';
	out += name;
	out += "=\"";
	out += prefix;
	append_html_escaped(out, value);
	out += '"';
}

std::string render_project_html(const ProjectRecord &r, long long serial, const std::string &root_uri)
{
	std::string title;
	append_html_escaped(title, display_of(r));
	std::string out;
	out.reserve(400 + r.files.size() * 300);
	out += "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"";
	out += kSimpleApiVersion;
	out += "\">\n    <meta name=\"pypi:project-status\" content=\"";
	append_html_escaped(out, r.status.empty() ? std::string("active") : r.status);
	out += "\">\n    <title>Links for ";
	out += title;
	out += "</title>\n  </head>\n  <body>\n    <h1>Links for ";
	out += title;
	out += "</h1>\n";
	for (const FileEntry *f : page_files(r)) {
		out += "<a href=\"";
		append_html_escaped(out, file_url(*f, root_uri));
		out += "#sha256=";
		append_html_escaped(out, f->sha256);
		out += '"';
		if (f->has_requires_python && !f->requires_python.empty())
			append_attribute(out, "data-requires-python", "", f->requires_python);
		// PEP 592: the attribute is there, empty, when no reason was given.
		if (f->yanked) append_attribute(out, "data-yanked", "", f->yanked_reason);
		if (!f->core_metadata.empty()) {
			// PEP 714: the old attribute name too, for pip < 23.2.
			append_attribute(out, "data-dist-info-metadata", "sha256=", f->core_metadata);
			append_attribute(out, "data-core-metadata", "sha256=", f->core_metadata);
		}
		// PEP 740: upstream's URL, passed through (see pkg-resolve(1)).
		if (!f->provenance.empty()) append_attribute(out, "data-provenance", "", f->provenance);
		out += '>';
		append_html_escaped(out, f->filename);
		out += "</a><br />\n";
	}
	out += "  </body>\n</html>\n<!--SERIAL ";
	out += std::to_string(serial);
	out += "-->";
	return out;
}

std::string render_project_json(const ProjectRecord &r, long long serial, const std::string &root_uri)
{
	rapidjson::StringBuffer sb;
	rapidjson::Writer<rapidjson::StringBuffer> w(sb);
	auto str = [&](const std::string &s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
	auto metadata = [&](const FileEntry &f) {
		if (f.core_metadata.empty()) {
			w.Bool(false);
			return;
		}
		w.StartObject();
		w.Key("sha256");
		str(f.core_metadata);
		w.EndObject();
	};
	auto files = page_files(r);
	w.StartObject();
	w.Key("files");
	w.StartArray();
	for (const FileEntry *f : files) {
		w.StartObject();
		w.Key("core-metadata");
		metadata(*f);
		w.Key("data-dist-info-metadata");
		metadata(*f);
		w.Key("filename");
		str(f->filename);
		w.Key("hashes");
		w.StartObject();
		w.Key("sha256");
		str(f->sha256);
		w.EndObject();
		w.Key("provenance");
		if (f->provenance.empty())
			w.Null();
		else
			str(f->provenance);
		w.Key("requires-python");
		if (f->has_requires_python)
			str(f->requires_python);
		else
			w.Null();
		w.Key("size");
		w.Int64(f->size);
		if (!f->upload_time.empty()) {
			w.Key("upload-time");
			str(f->upload_time);
		}
		w.Key("url");
		str(file_url(*f, root_uri));
		w.Key("yanked");
		if (!f->yanked)
			w.Bool(false);
		else if (f->yanked_reason.empty())
			w.Bool(true);
		else
			str(f->yanked_reason);
		w.EndObject();
	}
	w.EndArray();
	w.Key("meta");
	w.StartObject();
	w.Key("_last-serial");
	w.Int64(serial);
	w.Key("api-version");
	w.String(kSimpleApiVersion);
	w.EndObject();
	w.Key("name");
	str(r.name);
	w.Key("project-status");
	w.StartObject();
	w.Key("status");
	str(r.status.empty() ? std::string("active") : r.status);
	w.EndObject();
	w.Key("versions");
	std::vector<std::string> versions;
	for (const FileEntry *f : files)
		if (!f->version.empty()) versions.push_back(f->version);
	std::sort(versions.begin(), versions.end());
	versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
	sort_versions(versions);
	w.StartArray();
	for (auto &v : versions) str(v);
	w.EndArray();
	w.EndObject();
	return std::string(sb.GetString(), sb.GetSize());
}

bool path_from_link(const std::string &url, const std::string &filename, std::string &path)
{
	std::string_view u(url);
	u = u.substr(0, u.find_first_of("#?"));
	// The last five segments must be packages/xx/yy/<hash>/<file>, and
	// "packages" must be a whole segment.
	size_t cut = std::string_view::npos;
	int slashes = 0;
	for (size_t i = u.size(); i-- > 0;) {
		if (u[i] == '/' && ++slashes == 4) {
			cut = i;
			break;
		}
	}
	if (cut == std::string_view::npos || cut < 8) return false;
	size_t start = cut - 8;
	if (u.substr(start, 8) != "packages" || (start > 0 && u[start - 1] != '/')) return false;
	std::string_view tail = u.substr(start);
	size_t last = tail.rfind('/');
	std::string name;
	if (!percent_decode(tail.substr(last + 1), name)) return false;
	std::string p = std::string(tail.substr(0, last + 1)) + name;
	if (!valid_package_path(p) || name != filename) return false;
	path = std::move(p);
	return true;
}

bool listed_files_json(const std::string &json, std::vector<ListedFile> &out, std::string *error)
{
	out.clear();
	rapidjson::Document d;
	std::string err;
	if (!parse_json_object(json, d, err)) {
		if (error) *error = err;
		return false;
	}
	auto *files = member(d, "files");
	if (!files || !files->IsArray()) {
		if (error) *error = "no \"files\" array";
		return false;
	}
	for (auto &f : files->GetArray()) {
		std::string name = get_string(f, "filename"), url = get_string(f, "url"), path;
		if (name.empty() || !path_from_link(url, name, path)) continue;
		out.push_back({name, path});
	}
	return true;
}

bool listed_files_html(const std::string &html, std::vector<ListedFile> &out)
{
	out.clear();
	if (html.find("<a ") == std::string::npos && html.find("<html") == std::string::npos) return false;
	size_t pos = 0;
	for (;;) {
		size_t a = html.find("<a ", pos);
		if (a == std::string::npos) break;
		size_t gt = html.find('>', a);
		if (gt == std::string::npos) break;
		size_t close = html.find("</a>", gt);
		if (close == std::string::npos) break;
		pos = close + 4;
		std::string_view tag(html.data() + a, gt - a);
		size_t h = tag.find(" href=\"");
		if (h == std::string_view::npos) continue;
		size_t hs = h + 7, he = tag.find('"', hs);
		if (he == std::string_view::npos) continue;
		std::string url = html_unescape(tag.substr(hs, he - hs));
		std::string name = html_unescape(std::string_view(html.data() + gt + 1, close - gt - 1));
		std::string path;
		if (path_from_link(url, name, path)) out.push_back({name, path});
	}
	return true;
}

static void put_utf8(std::string &out, unsigned long cp)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
	if (cp < 0x80) {
		out.push_back(static_cast<char>(cp));
	} else if (cp < 0x800) {
		out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
	} else {
		out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
	}
}

std::string html_unescape(std::string_view s)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
	std::string out;
	out.reserve(s.size());
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] != '&') {
			out.push_back(s[i]);
			continue;
		}
		size_t semi = s.find(';', i + 1);
		if (semi == std::string_view::npos || semi - i > 12) {
			out.push_back('&');
			continue;
		}
		std::string_view ent = s.substr(i + 1, semi - i - 1);
		bool done = false;
		if (ent.size() > 1 && ent[0] == '#') {
			unsigned long cp = 0;
			bool hex = ent[1] == 'x' || ent[1] == 'X';
			size_t j = hex ? 2 : 1;
			bool ok = j < ent.size();
			for (; ok && j < ent.size(); j++) {
				int d = hex ? hexval(ent[j]) : (isdigit(static_cast<unsigned char>(ent[j])) ? ent[j] - '0' : -1);
				if (d < 0 || cp > 0x10ffff) ok = false;
				else cp = cp * (hex ? 16 : 10) + static_cast<unsigned long>(d);
			}
			if (ok) {
				put_utf8(out, cp);
				done = true;
			}
		} else {
			for (auto &n : named)
				if (ent == n.name) {
					out.push_back(n.c);
					done = true;
					break;
				}
		}
		if (done)
			i = semi;
		else
			out.push_back('&');
	}
	return out;
}

bool filename_belongs_to(const std::string &filename, const std::string &project)
{
	auto ends_with = [&](const char *suf) {
		size_t n = strlen(suf);
		if (filename.size() < n) return false;
		for (size_t i = 0; i < n; i++)
			if (tolower(static_cast<unsigned char>(filename[filename.size() - n + i])) != suf[i]) return false;
		return true;
	};
	if (project.empty()) return false;
	if (ends_with(".whl") || ends_with(".egg")) {
		size_t dash = filename.find('-');
		if (dash == std::string::npos || dash == 0) return false;
		return normalize_name(filename.substr(0, dash)) == project;
	}
	std::string n = normalize_name(filename);
	if (n.size() <= project.size() + 1 || n.compare(0, project.size(), project) != 0 || n[project.size()] != '-')
		return false;
	size_t v = project.size() + 1;
	auto digit = [&](size_t i) { return i < n.size() && isdigit(static_cast<unsigned char>(n[i])); };
	return digit(v) || (n[v] == 'v' && digit(v + 1));
}

std::string root_html_head()
{
	std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"";
	s += kSimpleApiVersion;
	s += "\">\n    <title>Simple index</title>\n  </head>\n  <body>\n";
	return s;
}

void root_html_entry(std::string &out, std::string_view display, std::string_view normalized)
{
	out += "<a href=\"";
	append_html_escaped(out, normalized);
	out += "/\">";
	append_html_escaped(out, display);
	out += "</a>\n";
}

std::string root_html_tail() { return "</body>\n</html>"; }

long long serial_from_html_tail(std::string_view tail)
{
	size_t p = tail.rfind("<!--SERIAL ");
	if (p == std::string_view::npos) return -1;
	p += 11;
	long long v = 0;
	size_t digits = 0;
	while (p < tail.size() && isdigit(static_cast<unsigned char>(tail[p])) && digits < 18) {
		v = v * 10 + (tail[p++] - '0');
		digits++;
	}
	if (!digits || tail.substr(p, 3) != "-->") return -1;
	return v;
}

std::string display_from_html_head(std::string_view head)
{
	static const std::string_view open = "<title>Links for ";
	size_t p = head.find(open);
	if (p == std::string_view::npos) return "";
	p += open.size();
	size_t e = head.find("</title>", p);
	if (e == std::string_view::npos) return "";
	std::string name = html_unescape(head.substr(p, e - p));
	return valid_project_name(name) ? name : "";
}

} // namespace pm
