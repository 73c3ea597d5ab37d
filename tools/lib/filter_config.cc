#include "filter_config.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <glob.h>
#include <sstream>

#include "fsutil.h"
#include "ini_file.h"
#include "log.h"
#include "names.h"
#include "text.h"

namespace pm {

namespace {

using Sections = std::map<std::string, std::map<std::string, std::vector<std::string>>>;

// Every non-empty line of a value (and each word, for platform lists)
// becomes one entry.
// The metadata sections' keys hold colons ("not-null:info.classifiers"):
// bandersnatch's configparser splits at "=" only, the INI reader at the
// first ":" too, so "not-null" arrives as the name and "info.classifiers =
// REGEX" as the value. The key is put back together here; later lines of
// the value arrive under the same name and go to the key put together last.
bool metadata_section(const std::string &section)
{
	return section == "regex_project_metadata" || section == "version_range_release_file_metadata" ||
	       section == "regex_release_file_metadata";
}

void add_value(Sections &s, std::map<std::string, std::string> &rejoined, const char *section, const char *name,
               const std::string &value)
{
	// configparser folds option names to lower case: "Packages" is "packages".
	std::string key = name, v = value;
	lower_in_place(key);
	if (metadata_section(section)) {
		static const RE2 split(R"(^((?:[A-Za-z-]+:)*[A-Za-z0-9_.-]+)\s*=\s*(.*)$)");
		std::string rest, val;
		std::string &last = rejoined[std::string(section) + "\n" + key];
		if (RE2::FullMatch(v, split, &rest, &val)) {
			lower_in_place(rest);
			last = key + ":" + rest;
			key = last;
			v = val;
		} else if (!last.empty()) {
			key = last;
		}
	}
	auto &list = s[section][key];
	size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t");
	if (a != std::string::npos) list.push_back(v.substr(a, b - a + 1));
}

// Old plugin names (bandersnatch < 6) still found in configurations.
std::string canonical_plugin(std::string p)
{
	static const std::pair<const char *, const char *> renames[] = {
	    {"whitelist_project", "allowlist_project"}, {"blacklist_project", "blocklist_project"},
	    {"whitelist_release", "allowlist_release"}, {"blacklist_release", "blocklist_release"},
	};
	for (auto &r : renames)
		if (p == r.first) return r.second;
	return p;
}

const std::set<std::string> known_plugins = {
    "allowlist_project", "blocklist_project",       "regex_project",        "project_requirements",
    "allowlist_release", "blocklist_release",       "prerelease_release",   "regex_release",
    "latest_release",    "project_requirements_pinned", "exclude_platform", "size_project_metadata",
    "min_age_release",   "regex_release_file", "regex_project_metadata", "versions_count_project_metadata",
    "version_range_release_file_metadata", "regex_release_file_metadata",
};

// Lines of a key from a section, or from its pre-6.0 spelling.
std::vector<std::string> lines(const Sections &s, const char *section, const char *old_section, const char *key)
{
	std::vector<std::string> out;
	for (const char *sec : {section, old_section}) {
		if (!sec) continue;
		auto it = s.find(sec);
		if (it == s.end()) continue;
		auto k = it->second.find(key);
		if (k != it->second.end()) out.insert(out.end(), k->second.begin(), k->second.end());
	}
	return out;
}

std::string one(const Sections &s, const char *section, const char *key)
{
	auto v = lines(s, section, nullptr, key);
	return v.empty() ? "" : v.back();
}

bool add_regexes(const std::vector<std::string> &pats, std::vector<std::unique_ptr<RE2>> &out, const std::string &where,
                 std::string &error)
{
	for (auto &p : pats) {
		// Python's re.match anchors at the start only; so do we.
		RE2::Options o;
		o.set_log_errors(false);
		auto re = std::make_unique<RE2>("^(?:" + p + ")", o);
		if (!re->ok()) {
			error = where + ": bad regular expression '" + p + "': " + re->error();
			return false;
		}
		out.push_back(std::move(re));
	}
	return true;
}

// A requirement line: a bare name goes to names, one with specifiers to specs.
bool add_requirement_lines(const std::vector<std::string> &ls, std::set<std::string> *names,
                           std::map<std::string, std::vector<pep440::SpecifierSet>> *specs, const std::string &where,
                           std::string &error)
{
	for (auto &l : ls) {
		std::string err;
		auto req = pep440::parse_requirement(l, &err);
		if (!req) {
			if (!err.empty()) {
				error = where + ": '" + l + "': " + err;
				return false;
			}
			continue;
		}
		if (req->specs.specs.empty()) {
			if (names) names->insert(req->name);
		} else {
			if (specs) (*specs)[req->name].push_back(req->specs);
			// A project named with specifiers is still wanted as a project.
			if (names && !specs) names->insert(req->name);
		}
	}
	return true;
}

bool read_requirement_file(const std::string &path, std::vector<std::string> &out, std::string &error)
{
	std::ifstream in(path);
	if (!in) {
		error = "[allowlist] requirements: cannot read " + path;
		return false;
	}
	std::string line;
	while (std::getline(in, line)) {
		// pip options (-r, -e, --hash) are not requirements.
		auto a = line.find_first_not_of(" \t");
		if (a == std::string::npos || line[a] == '-') continue;
		out.push_back(line);
	}
	return true;
}

bool read_requirement_files(const Sections &s, std::vector<std::string> &out, std::string &error)
{
	std::string base = one(s, "allowlist", "requirements_path");
	if (base.empty()) base = one(s, "whitelist", "requirements_path");
	for (auto &f : lines(s, "allowlist", "whitelist", "requirements")) {
		if (f[0] == '#') continue;
		std::string path = f[0] == '/' || base.empty() ? f : base + "/" + f;
		if (path.find_first_of("*?[") == std::string::npos) {
			if (!read_requirement_file(path, out, error)) return false;
			continue;
		}
		// bandersnatch accepts glob patterns ("requirements-*.txt"); sorted,
		// so the same files always give the same rules.
		glob_t g{};
		int rc = glob(path.c_str(), 0, nullptr, &g);
		if (rc == GLOB_NOMATCH) LOG_WARN("[allowlist] requirements: %s matches no file", path.c_str());
		bool ok = rc == 0 || rc == GLOB_NOMATCH;
		if (!ok) error = "[allowlist] requirements: cannot expand " + path;
		for (size_t i = 0; ok && rc == 0 && i < g.gl_pathc; i++) ok = read_requirement_file(g.gl_pathv[i], out, error);
		globfree(&g);
		if (!ok) return false;
	}
	return true;
}

std::vector<std::string> split_on(const std::string &s, char c)
{
	std::vector<std::string> out;
	size_t a = 0;
	for (;;) {
		size_t b = s.find(c, a);
		out.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
		if (b == std::string::npos) return out;
		a = b + 1;
	}
}

// The keys of a metadata section, each "tag:tag:dotted.path = values".
bool add_metadata_rules(const Sections &s, const char *section, bool regex, std::vector<MetadataRule> &out,
                        std::string &error)
{
	auto it = s.find(section);
	if (it == s.end()) return true;
	for (auto &[key, values] : it->second) {
		MetadataRule r;
		r.key = key;
		std::string where = std::string("[") + section + "] " + key;
		std::vector<std::string> parts = split_on(key, ':');
		std::string path = parts.back();
		parts.pop_back();
		for (auto &tag : parts) {
			// Unknown tags are ignored, as bandersnatch does.
			if (tag == "not-null") r.nulls_match = false;
			else if (tag == "match-null") r.nulls_match = true;
			else if (regex && tag == "all") r.match = MetadataRule::All;
			else if (regex && tag == "any") r.match = MetadataRule::Any;
			else if (regex && tag == "none") r.match = MetadataRule::None;
			else LOG_WARN("%s: unknown tag '%s' ignored", where.c_str(), tag.c_str());
		}
		r.path = split_on(path, '.');
		for (auto &v : values) {
			if (regex) {
				if (!add_regexes({v}, r.patterns, where, error)) return false;
			} else {
				auto ver = pep440::parse(v);
				if (!ver) {
					error = where + ": '" + v + "' is not a PEP 440 version";
					return false;
				}
				r.versions.push_back(*ver);
			}
			r.texts.push_back(v);
		}
		out.push_back(std::move(r));
	}
	return true;
}

bool is_prerelease_version(const std::string &v)
{
	if (auto p = pep440::parse(v)) return p->is_prerelease();
	// Not PEP 440: bandersnatch's patterns.
	static const RE2 re(R"(.+(rc|a|alpha|b|beta|dev)\d+$)");
	return RE2::FullMatch(v, re);
}

} // namespace

long long parse_size(const std::string &s)
{
	if (s.empty()) return -1;
	char *end;
	double v = strtod(s.c_str(), &end);
	if (end == s.c_str() || v < 0) return -1;
	std::string unit(end);
	while (!unit.empty() && unit.back() == ' ') unit.pop_back();
	while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
	for (auto &c : unit) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
	if (!unit.empty() && unit.back() == 'B') unit.pop_back();
	if (!unit.empty() && unit.back() == 'I') unit.pop_back(); // GiB
	double m = 1;
	if (unit == "K") m = 1024.0;
	else if (unit == "M") m = 1024.0 * 1024;
	else if (unit == "G") m = 1024.0 * 1024 * 1024;
	else if (unit == "T") m = 1024.0 * 1024 * 1024 * 1024;
	else if (!unit.empty()) return -1;
	return static_cast<long long>(v * m);
}

bool load_filter_config(const std::string &path, FilterConfig &cfg, std::string &error)
{
	Sections sections;
	std::map<std::string, std::string> rejoined;
	int rc = read_ini(path, [&](const char *section, const char *name, const char *value) {
		add_value(sections, rejoined, section, name, value);
	});
	if (rc < 0) {
		error = "cannot read " + path;
		return false;
	}
	if (rc > 0) {
		error = path + ":" + std::to_string(rc) + ": cannot parse this line";
		return false;
	}
	const Sections &s = sections;
	for (auto &p : lines(s, "plugins", nullptr, "enabled")) {
		// One per line, but tolerate several on a line.
		size_t i = 0;
		while (i < p.size()) {
			size_t j = p.find_first_of(" \t,", i);
			std::string w = p.substr(i, j == std::string::npos ? std::string::npos : j - i);
			i = j == std::string::npos ? p.size() : j + 1;
			if (w.empty()) continue;
			if (w == "all") {
				cfg.all = true;
				continue;
			}
			w = canonical_plugin(w);
			if (!known_plugins.count(w))
				LOG_WARN("%s: [plugins] enabled: unknown filter plugin '%s' ignored", path.c_str(), w.c_str());
			cfg.enabled.insert(w);
		}
	}
	auto allow = lines(s, "allowlist", "whitelist", "packages");
	auto block = lines(s, "blocklist", "blacklist", "packages");
	if (!add_requirement_lines(allow, &cfg.allow_projects, nullptr, "[allowlist] packages", error)) return false;
	if (!add_requirement_lines(allow, nullptr, &cfg.allow_releases, "[allowlist] packages", error)) return false;
	if (!add_requirement_lines(block, &cfg.block_projects, &cfg.block_releases, "[blocklist] packages", error))
		return false;
	if (cfg.on("project_requirements") || cfg.on("project_requirements_pinned")) {
		std::vector<std::string> req;
		if (!read_requirement_files(s, req, error)) return false;
		if (cfg.on("project_requirements") &&
		    !add_requirement_lines(req, &cfg.allow_projects, nullptr, "[allowlist] requirements", error))
			return false;
		if (cfg.on("project_requirements_pinned")) {
			if (!add_requirement_lines(req, nullptr, &cfg.allow_releases, "[allowlist] requirements", error))
				return false;
			for (auto &l : req)
				if (auto r = pep440::parse_requirement(l); r && !r->specs.specs.empty())
					cfg.pinned_projects.insert(r->name);
		}
	}
	if (!add_regexes(lines(s, "filter_regex", nullptr, "packages"), cfg.project_regexes, "[filter_regex] packages", error))
		return false;
	if (!add_regexes(lines(s, "filter_regex", nullptr, "releases"), cfg.release_regexes, "[filter_regex] releases", error))
		return false;
	if (!add_regexes(lines(s, "filter_regex", nullptr, "files"), cfg.file_regexes, "[filter_regex] files", error))
		return false;
	auto pre = lines(s, "filter_prerelease", nullptr, "packages");
	if (!pre.empty()) {
		cfg.prerelease_all = false;
		for (auto &p : pre) cfg.prerelease_projects.insert(normalize_name(p));
	}
	std::string keep = one(s, "latest_release", "keep");
	if (!keep.empty()) {
		char *end;
		cfg.keep_latest = strtoll(keep.c_str(), &end, 10);
		if (*end || cfg.keep_latest < 0) {
			error = "[latest_release] keep: '" + keep + "' is not a whole number";
			return false;
		}
	}
	std::string sort_by = one(s, "latest_release", "sort_by");
	if (!sort_by.empty() && sort_by != "version" && sort_by != "time") {
		error = "[latest_release] sort_by: '" + sort_by + "' is neither version nor time";
		return false;
	}
	cfg.latest_by_time = sort_by == "time";
	std::string age = one(s, "min_age", "hours");
	if (!age.empty()) {
		char *end;
		cfg.min_age_hours = strtod(age.c_str(), &end);
		if (*end || cfg.min_age_hours < 0) {
			error = "[min_age] hours: '" + age + "' is not a number of hours";
			return false;
		}
	}
	for (auto &l : lines(s, "blocklist", "blacklist", "platforms")) {
		size_t i = 0;
		while (i < l.size()) {
			size_t j = l.find_first_of(" \t,", i);
			std::string w = l.substr(i, j == std::string::npos ? std::string::npos : j - i);
			i = j == std::string::npos ? l.size() : j + 1;
			if (!w.empty()) cfg.platforms.push_back(w);
		}
	}
	if ((cfg.on("allowlist_project") || cfg.on("project_requirements")) && cfg.allow_projects.empty())
		LOG_WARN("%s: allowlist_project is enabled but [allowlist] packages lists no project: every project is "
		         "dropped",
		         path.c_str());
	for (const char *k : {"min_versions", "max_versions"}) {
		std::string v = one(s, "versions_count_project_metadata", k);
		if (v.empty()) continue;
		char *end;
		long long n = strtoll(v.c_str(), &end, 10);
		if (*end || n < 0) {
			error = std::string("[versions_count_project_metadata] ") + k + ": '" + v + "' is not a whole number";
			return false;
		}
		(k[1] == 'i' ? cfg.min_versions : cfg.max_versions) = n;
	}
	if (cfg.min_versions && cfg.max_versions && cfg.min_versions > cfg.max_versions) {
		// bandersnatch leaves the plugin uninitialized: it filters nothing.
		LOG_WARN("%s: [versions_count_project_metadata] min_versions is greater than max_versions: the rule is off",
		         path.c_str());
		cfg.min_versions = cfg.max_versions = 0;
	}
	if (!add_metadata_rules(s, "regex_project_metadata", true, cfg.project_metadata, error)) return false;
	if (!add_metadata_rules(s, "version_range_release_file_metadata", false, cfg.file_version_ranges, error))
		return false;
	if (!add_metadata_rules(s, "regex_release_file_metadata", true, cfg.file_metadata, error)) return false;
	std::string size = one(s, "size_project_metadata", "max_package_size");
	if (!size.empty()) {
		cfg.max_project_size = parse_size(size);
		if (cfg.max_project_size < 0) {
			error = "[size_project_metadata] max_package_size: '" + size + "' is not a size";
			return false;
		}
	}
	return true;
}

bool parse_wheel_tags(const std::string &filename, WheelTags &tags)
{
	if (filename.size() < 5 || filename.compare(filename.size() - 4, 4, ".whl") != 0) return false;
	// name-version(-build)?-python-abi-platform, each tag a '.'-joined set.
	auto split = [](const std::string &s, char sep) {
		std::vector<std::string> out;
		size_t a = 0;
		for (;;) {
			size_t b = s.find(sep, a);
			out.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
			if (b == std::string::npos) break;
			a = b + 1;
		}
		return out;
	};
	std::vector<std::string> parts = split(filename.substr(0, filename.size() - 4), '-');
	if (parts.size() != 5 && parts.size() != 6) return false;
	size_t n = parts.size();
	tags.python = split(parts[n - 3], '.');
	tags.abi = split(parts[n - 2], '.');
	tags.platform = split(parts[n - 1], '.');
	return true;
}

namespace {

// Does keyword (a bandersnatch platform name or an explicit tag) exclude this platform tag?
bool platform_excluded(const std::string &kw, const std::string &tag)
{
	auto starts = [&](const char *p) { return tag.rfind(p, 0) == 0; };
	if (kw == "windows") return starts("win");
	if (kw == "macos") return starts("macosx");
	if (kw == "freebsd") return starts("freebsd");
	if (kw == "linux") return starts("linux") || starts("manylinux") || starts("musllinux");
	if (kw == "musllinux") return starts("musllinux");
	if (kw == "manylinux") return starts("manylinux");
	return tag == kw;
}

// Python keywords: "py2" (every 2.x), "py2.7", "py3.14", or an explicit tag ("cp36").
bool python_excluded(const std::string &kw, const std::string &tag)
{
	if (kw.rfind("py", 0) == 0 && kw.size() >= 3 && isdigit(static_cast<unsigned char>(kw[2]))) {
		std::string digits;
		for (char c : kw.substr(2))
			if (c != '.') digits.push_back(c);
		// The interpreter prefix (py, cp, pp, ...) does not matter, the version does.
		size_t k = 0;
		while (k < tag.size() && isalpha(static_cast<unsigned char>(tag[k]))) k++;
		std::string tv = tag.substr(k);
		if (tv.empty()) return false;
		if (kw.find('.') == std::string::npos) return tv.rfind(digits, 0) == 0; // py2 -> 2, 27, 2x
		return tv == digits;
	}
	return tag == kw;
}

bool file_excluded_by_platform(const FilterConfig &cfg, const FileEntry &f, std::string &why)
{
	if (cfg.platforms.empty()) return false;
	auto ends = [&](const char *sfx) {
		size_t n = strlen(sfx);
		return f.filename.size() >= n && f.filename.compare(f.filename.size() - n, n, sfx) == 0;
	};
	WheelTags t;
	bool wheel = parse_wheel_tags(f.filename, t);
	for (auto &kw : cfg.platforms) {
		if (kw == "windows" && (ends(".exe") || ends(".msi") || f.packagetype == "bdist_wininst" ||
		                        f.packagetype == "bdist_msi")) {
			why = "platform windows";
			return true;
		}
		if (kw == "macos" && (ends(".dmg") || f.packagetype == "bdist_dmg")) {
			why = "platform macos";
			return true;
		}
	}
	if (!wheel) {
		// Eggs carry their Python version: name-1.0-py2.7.egg
		auto p = f.filename.rfind("-py");
		if (ends(".egg") && p != std::string::npos) {
			std::string tag = "py";
			for (char c : f.filename.substr(p + 3, f.filename.size() - 4 - p - 3))
				if (c != '.') tag.push_back(c);
			for (auto &kw : cfg.platforms)
				if (python_excluded(kw, tag)) {
					why = "python " + kw;
					return true;
				}
		}
		return false;
	}
	// A wheel goes when every one of its platform tags is excluded, or every
	// one of its Python tags: "py2.py3" survives "py2".
	for (auto &kw : cfg.platforms) {
		bool all_plat = std::all_of(t.platform.begin(), t.platform.end(),
		                            [&](const std::string &tag) { return platform_excluded(kw, tag); });
		if (all_plat) {
			why = "platform " + kw;
			return true;
		}
	}
	bool all_py = std::all_of(t.python.begin(), t.python.end(), [&](const std::string &tag) {
		return std::any_of(cfg.platforms.begin(), cfg.platforms.end(),
		                   [&](const std::string &kw) { return python_excluded(kw, tag); });
	});
	if (all_py) {
		why = "python tags " + t.python.front();
		return true;
	}
	// Explicit ABI tags ("cp36m") too.
	bool all_abi = std::all_of(t.abi.begin(), t.abi.end(), [&](const std::string &tag) {
		return std::find(cfg.platforms.begin(), cfg.platforms.end(), tag) != cfg.platforms.end();
	});
	if (all_abi) {
		why = "abi " + t.abi.front();
		return true;
	}
	return false;
}

std::string join(const std::vector<std::string> &v, const char *sep)
{
	std::string out;
	for (auto &x : v) out += (out.empty() ? "" : sep) + x;
	return out;
}

// The node at a dotted path below node, null when a step is missing or
// null (bandersnatch's _find_element_by_dotted_path).
const rapidjson::Value *node_at(const rapidjson::Value *node, const std::vector<std::string> &path, size_t from = 0)
{
	for (size_t i = from; i < path.size(); i++) {
		if (!node || !node->IsObject()) return nullptr;
		auto m = node->FindMember(path[i].c_str());
		if (m == node->MemberEnd() || m->value.IsNull()) return nullptr;
		node = &m->value;
	}
	return node;
}

// A list stays a list, anything else is a list of one.
std::vector<const rapidjson::Value *> as_list(const rapidjson::Value *node)
{
	std::vector<const rapidjson::Value *> out;
	if (!node) return out;
	if (node->IsArray())
		for (auto &v : node->GetArray()) out.push_back(&v);
	else
		out.push_back(node);
	return out;
}

// re.match on one value; a value that is not a string matches nothing.
bool pattern_matches(const RE2 &re, const rapidjson::Value *v)
{
	return v->IsString() && RE2::PartialMatch(re2::StringPiece(v->GetString(), v->GetStringLength()), re);
}

bool match_any(const MetadataRule &r, const std::vector<const rapidjson::Value *> &vals, bool nulls_match)
{
	for (auto &re : r.patterns) {
		if (nulls_match && vals.empty()) return true;
		for (auto *v : vals)
			if (pattern_matches(*re, v)) return true;
	}
	return false;
}

// bandersnatch's RegexFilter: "any" (the default), "all" or "none" of the
// patterns; an absent or empty node passes unless tagged not-null. As in
// bandersnatch, "none" ignores the null tags: it is "not any, nulls
// matching", so an absent node fails it.
bool metadata_rule_passes(const MetadataRule &r, const rapidjson::Value *node)
{
	auto vals = as_list(node);
	switch (r.match) {
	case MetadataRule::All:
		for (auto &re : r.patterns) {
			if (r.nulls_match && vals.empty()) continue;
			if (!std::any_of(vals.begin(), vals.end(), [&](const rapidjson::Value *v) { return pattern_matches(*re, v); }))
				return false;
		}
		return true;
	case MetadataRule::None:
		return !match_any(r, vals, true);
	default:
		return match_any(r, vals, r.nulls_match);
	}
}

bool falsy(const rapidjson::Value *v)
{
	return !v || (v->IsString() && v->GetStringLength() == 0) || (v->IsArray() && v->Empty()) ||
	       (v->IsObject() && v->MemberCount() == 0) || (v->IsBool() && !v->GetBool()) ||
	       (v->IsNumber() && v->GetDouble() == 0);
}

// bandersnatch's VersionRangeFilter: the node (requires_python, say) read as
// a specifier set must admit one of the configured versions, pre-releases
// included. An empty node passes unless tagged not-null. A node that is not
// a specifier set cannot be judged, and pip ignores such a requires_python:
// the file stays (bandersnatch would stop with an exception).
bool version_range_passes(const MetadataRule &r, const rapidjson::Value *node, std::string &why)
{
	if (r.nulls_match && falsy(node)) return true;
	if (!node || !node->IsString()) {
		why = "[version_range_release_file_metadata] " + r.key + " is null";
		return false;
	}
	std::string text(node->GetString(), node->GetStringLength());
	auto specs = pep440::parse_specifiers(text);
	if (!specs) {
		LOG_DEBUG("[version_range_release_file_metadata] %s: '%s' is not a specifier set; kept", r.key.c_str(),
		          text.c_str());
		return true;
	}
	for (auto &v : r.versions)
		if (specs->contains(v, true)) return true;
	why = "[version_range_release_file_metadata] " + r.key + " '" + text + "' admits none of " + join(r.texts, " ");
	return false;
}

} // namespace

bool FilterConfig::needs_project_json() const
{
	if (on("regex_project_metadata") && !project_metadata.empty()) return true;
	if (on("version_range_release_file_metadata"))
		for (auto &r : file_version_ranges)
			if (r.path.front() == "info") return true;
	if (on("regex_release_file_metadata"))
		for (auto &r : file_metadata)
			if (r.path.front() == "info") return true;
	return false;
}

std::string current_version(const ProjectRecord &r, const rapidjson::Value *project_json)
{
	std::vector<std::string> p{"info", "version"};
	if (auto *v = node_at(project_json, p); v && v->IsString() && v->GetStringLength()) return v->GetString();
	// Warehouse's latest_version: releases not yanked, finals first.
	std::optional<pep440::Version> best_final, best_any;
	std::string final_text, any_text, newest_text;
	std::optional<pep440::Version> newest;
	for (auto &f : r.files) {
		auto v = pep440::parse(f.version);
		if (!v) continue;
		if (!newest || *newest < *v) newest = *v, newest_text = f.version;
		if (f.yanked) continue;
		if (!best_any || *best_any < *v) best_any = *v, any_text = f.version;
		if (!v->is_prerelease() && (!best_final || *best_final < *v)) best_final = *v, final_text = f.version;
	}
	return best_final ? final_text : best_any ? any_text : newest_text;
}

std::string describe_filter_config(const FilterConfig &cfg)
{
	// Sets are sorted already; lists are sorted here, since their order
	// does not change what is selected.
	std::vector<std::string> out;
	auto add = [&](const std::string &k, const std::string &v) { out.push_back(k + " " + v); };
	if (cfg.all) add("plugin", "all");
	for (auto &p : cfg.enabled) add("plugin", p);
	for (auto &n : cfg.allow_projects) add("allow-project", n);
	for (auto &n : cfg.block_projects) add("block-project", n);
	for (auto &n : cfg.pinned_projects) add("pinned-project", n);
	for (auto &[n, sets] : cfg.allow_releases)
		for (auto &set : sets) add("allow-release", n + " " + set.str());
	for (auto &[n, sets] : cfg.block_releases)
		for (auto &set : sets) add("block-release", n + " " + set.str());
	for (auto &re : cfg.project_regexes) add("regex-project", re->pattern());
	for (auto &re : cfg.release_regexes) add("regex-release", re->pattern());
	for (auto &re : cfg.file_regexes) add("regex-file", re->pattern());
	if (cfg.prerelease_all) add("prerelease", "*");
	for (auto &n : cfg.prerelease_projects) add("prerelease", n);
	if (cfg.keep_latest) add("latest", std::to_string(cfg.keep_latest) + (cfg.latest_by_time ? " time" : " version"));
	if (cfg.min_age_hours > 0) {
		std::ostringstream h;
		h << cfg.min_age_hours;
		add("min-age-hours", h.str());
	}
	for (auto &p : cfg.platforms) add("platform", p);
	if (cfg.max_project_size) add("max-project-size", std::to_string(cfg.max_project_size));
	if (cfg.min_versions) add("min-versions", std::to_string(cfg.min_versions));
	if (cfg.max_versions) add("max-versions", std::to_string(cfg.max_versions));
	for (auto &r : cfg.project_metadata)
		for (auto &t : r.texts) add("project-metadata", r.key + " " + t);
	for (auto &r : cfg.file_version_ranges)
		for (auto &t : r.texts) add("file-version-range", r.key + " " + t);
	for (auto &r : cfg.file_metadata)
		for (auto &t : r.texts) add("file-metadata", r.key + " " + t);
	std::sort(out.begin(), out.end());
	out.erase(std::unique(out.begin(), out.end()), out.end());
	std::string text;
	for (auto &l : out) text += l + "\n";
	return text;
}

FilterResult filter_project_name(const FilterConfig &cfg, const std::string &name)
{
	FilterResult r;
	auto drop = [&](const std::string &why) {
		r.drop_project = true;
		r.reason = why;
		return r;
	};
	if ((cfg.on("allowlist_project") || cfg.on("project_requirements")) && !cfg.allow_projects.count(name))
		return drop("not in the allowlist");
	if (cfg.on("blocklist_project") && cfg.block_projects.count(name)) return drop("in the blocklist");
	if (cfg.on("regex_project"))
		for (auto &re : cfg.project_regexes)
			if (RE2::PartialMatch(name, *re)) return drop("matches [filter_regex] packages " + re->pattern());
	return r;
}

FilterResult filter_project(const FilterConfig &cfg, ProjectRecord &rec, long long now,
                            const rapidjson::Value *project_json)
{
	FilterResult r = filter_project_name(cfg, rec.name);
	if (r.drop_project) return r;
	if (!project_json && cfg.needs_project_json()) {
		r.error = "the metadata filters read upstream's JSON API document (info, releases), and the record names "
		          "none (json_file, from pkg-resolve --save-json)";
		return r;
	}
	if (cfg.on("regex_project_metadata"))
		for (auto &rule : cfg.project_metadata)
			if (!metadata_rule_passes(rule, node_at(project_json, rule.path))) {
				r.drop_project = true;
				r.reason = "[regex_project_metadata] " + rule.key + " does not match";
				return r;
			}
	if (cfg.on("versions_count_project_metadata") && (cfg.min_versions || cfg.max_versions) &&
	    !cfg.allow_projects.count(rec.name)) {
		// Every release counts, with files or not, when the document lists them.
		std::set<std::string> versions;
		std::vector<std::string> rel{"releases"};
		if (auto *rels = node_at(project_json, rel); rels && rels->IsObject())
			for (auto &m : rels->GetObject()) versions.insert(m.name.GetString());
		else
			for (auto &f : rec.files) versions.insert(f.version);
		long long n = static_cast<long long>(versions.size());
		if ((cfg.min_versions && n < cfg.min_versions) || (cfg.max_versions && n > cfg.max_versions)) {
			r.drop_project = true;
			r.reason = std::to_string(n) + " releases, outside [versions_count_project_metadata] " +
			           std::to_string(cfg.min_versions) + ".." + std::to_string(cfg.max_versions);
			return r;
		}
	}
	if (cfg.on("size_project_metadata") && cfg.max_project_size > 0 && !cfg.allow_projects.count(rec.name)) {
		long long total = 0;
		for (auto &f : rec.files) total += f.size;
		if (total > cfg.max_project_size) {
			r.drop_project = true;
			r.reason = "project size " + std::to_string(total) + " exceeds max_package_size " +
			           std::to_string(cfg.max_project_size);
			return r;
		}
	}
	// Release rules decide per version.
	std::map<std::string, long long> first_upload; // version -> earliest upload
	for (auto &f : rec.files) {
		long long t = parse_iso8601(f.upload_time);
		auto it = first_upload.find(f.version);
		// An unparsable time (-1) must not stand for the earliest upload.
		if (it == first_upload.end() || (t >= 0 && (it->second < 0 || t < it->second))) first_upload[f.version] = t;
	}
	std::map<std::string, std::string> dropped_versions; // version -> rule
	// Pinned in a requirements file: what the pin selects is kept whatever
	// the other release rules say (as bandersnatch does since 6.5).
	const bool pinned = cfg.on("project_requirements_pinned") && cfg.pinned_projects.count(rec.name);
	std::set<std::string> young; // versions dropped by the cooldown
	auto too_young = [&](const std::string &ver, long long uploaded) {
		if (cfg.min_age_hours > 0 && cfg.on("min_age_release") && uploaded >= 0 &&
		    static_cast<double>(now - uploaded) < cfg.min_age_hours * 3600) {
			dropped_versions[ver] = "younger than " + std::to_string(static_cast<long long>(cfg.min_age_hours)) + " hours";
			young.insert(ver);
			return true;
		}
		return false;
	};
	for (auto &[ver, uploaded] : first_upload) {
		auto parsed = pep440::parse(ver);
		auto matches = [&](const std::vector<pep440::SpecifierSet> &sets) {
			return parsed && std::any_of(sets.begin(), sets.end(),
			                             [&](const pep440::SpecifierSet &s) { return s.contains(*parsed, true); });
		};
		auto al = cfg.allow_releases.find(rec.name);
		if (cfg.on("allowlist_release") || cfg.on("project_requirements_pinned")) {
			if (al != cfg.allow_releases.end() && !matches(al->second)) {
				dropped_versions[ver] = "not allowed by " + al->second.front().str();
				continue;
			}
		}
		if (pinned) {
			too_young(ver, uploaded); // the cooldown is a safety rule: it still applies
			continue;
		}
		auto bl = cfg.block_releases.find(rec.name);
		if (cfg.on("blocklist_release") && bl != cfg.block_releases.end() && matches(bl->second)) {
			dropped_versions[ver] = "blocked by " + bl->second.front().str();
			continue;
		}
		if (cfg.on("regex_release")) {
			bool hit = false;
			for (auto &re : cfg.release_regexes)
				if (RE2::PartialMatch(ver, *re)) {
					dropped_versions[ver] = "matches [filter_regex] releases " + re->pattern();
					hit = true;
					break;
				}
			if (hit) continue;
		}
		if (cfg.on("prerelease_release") && (cfg.prerelease_all || cfg.prerelease_projects.count(rec.name)) &&
		    is_prerelease_version(ver)) {
			dropped_versions[ver] = "pre-release";
			continue;
		}
		if (too_young(ver, uploaded)) continue;
	}
	if (cfg.on("latest_release") && cfg.keep_latest > 0 && !pinned) {
		std::vector<std::string> kept;
		for (auto &[ver, t] : first_upload)
			if (!dropped_versions.count(ver)) kept.push_back(ver);
		if (cfg.latest_by_time)
			std::stable_sort(kept.begin(), kept.end(),
			                 [&](const std::string &a, const std::string &b) { return first_upload[a] < first_upload[b]; });
		else
			sort_versions(kept);
		if (kept.size() > static_cast<size_t>(cfg.keep_latest)) {
			size_t first = kept.size() - static_cast<size_t>(cfg.keep_latest);
			// bandersnatch never removes the current (stable) version: it
			// takes the place of the oldest of the latest N. Only when the
			// other rules kept it: a blocklist still wins.
			std::string current = current_version(rec, project_json);
			auto cur = std::find(kept.begin(), kept.end(), current);
			if (!current.empty() && cur != kept.end() && static_cast<size_t>(cur - kept.begin()) < first) {
				std::swap(*cur, kept[first]);
			}
			for (size_t i = 0; i < first; i++)
				dropped_versions[kept[i]] = "older than the latest " + std::to_string(cfg.keep_latest);
		}
	}
	std::vector<FileEntry> keep;
	keep.reserve(rec.files.size());
	for (auto &f : rec.files) {
		auto dv = dropped_versions.find(f.version);
		std::string why;
		if (dv != dropped_versions.end()) {
			r.dropped_files.emplace_back(f.filename, "release " + f.version + ": " + dv->second);
			if (young.count(f.version)) r.too_young_files.insert(f.filename);
			continue;
		}
		const bool ranges = cfg.on("version_range_release_file_metadata") && !cfg.file_version_ranges.empty();
		const bool regexes = cfg.on("regex_release_file_metadata") && !cfg.file_metadata.empty();
		if (ranges || regexes) {
			// The metadata bandersnatch hands release-file filters:
			// {"info": ..., "release": version, "release_file": the file}.
			rapidjson::Document fd(rapidjson::kObjectType);
			file_to_json(f, fd, fd.GetAllocator());
			rapidjson::Value ver(f.version.c_str(), static_cast<rapidjson::SizeType>(f.version.size()));
			auto node_for = [&](const MetadataRule &rule) -> const rapidjson::Value * {
				const auto &root = rule.path.front();
				if (root == "info") return node_at(project_json, rule.path);
				if (root == "release_file") return node_at(&fd, rule.path, 1);
				if (root == "release" && rule.path.size() == 1) return &ver;
				return nullptr;
			};
			bool pass = true;
			for (auto &rule : cfg.file_version_ranges)
				if (ranges && !version_range_passes(rule, node_for(rule), why)) {
					pass = false;
					break;
				}
			for (auto &rule : cfg.file_metadata)
				if (pass && regexes && !metadata_rule_passes(rule, node_for(rule))) {
					why = "[regex_release_file_metadata] " + rule.key + " does not match";
					pass = false;
				}
			if (!pass) {
				r.dropped_files.emplace_back(f.filename, why);
				continue;
			}
		}
		if (cfg.on("exclude_platform") && file_excluded_by_platform(cfg, f, why)) {
			r.dropped_files.emplace_back(f.filename, why);
			continue;
		}
		if (cfg.on("regex_release_file")) {
			bool hit = false;
			for (auto &re : cfg.file_regexes)
				if (RE2::PartialMatch(f.filename, *re)) {
					r.dropped_files.emplace_back(f.filename, "matches [filter_regex] files " + re->pattern());
					hit = true;
					break;
				}
			if (hit) continue;
		}
		keep.push_back(std::move(f));
	}
	rec.files = std::move(keep);
	return r;
}

} // namespace pm
