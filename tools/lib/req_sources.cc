// Requirement sources: requirements files, pyproject.toml, pylock.toml.
#include "req_sources.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <toml++/toml.h>

namespace pm {

namespace {

constexpr int kMaxIncludeDepth = 16;
constexpr size_t kMaxFileBytes = 16 << 20;

std::string trim(const std::string &s)
{
	size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
	return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool slurp(const std::string &path, std::string &text, std::string &error)
{
	std::ostringstream ss;
	if (path == "-") {
		ss << std::cin.rdbuf();
	} else {
		std::ifstream in(path, std::ios::binary);
		if (!in) {
			error = path + ": cannot open";
			return false;
		}
		ss << in.rdbuf();
	}
	text = ss.str();
	if (text.size() > kMaxFileBytes) {
		error = path + ": larger than 16 MiB";
		return false;
	}
	return true;
}

std::string dir_of(const std::string &path)
{
	auto s = path.rfind('/');
	return s == std::string::npos ? std::string() : path.substr(0, s + 1);
}

// pip's comment rule: "#" at the start of a line or after whitespace.
std::string strip_comment(const std::string &line)
{
	for (size_t i = 0; i < line.size(); i++)
		if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return line.substr(0, i);
	return line;
}

// Splits on whitespace outside quotes (options after a requirement).
std::vector<std::string> words(const std::string &s)
{
	std::vector<std::string> out;
	std::string cur;
	char q = 0;
	for (char c : s) {
		if (q) {
			cur += c;
			if (c == q) q = 0;
		} else if (c == '\'' || c == '"') {
			cur += c;
			q = c;
		} else if (c == ' ' || c == '\t') {
			if (!cur.empty()) out.push_back(cur), cur.clear();
		} else {
			cur += c;
		}
	}
	if (!cur.empty()) out.push_back(cur);
	return out;
}

bool read_req_file(const std::string &path, RequirementSet &out, bool constraint, int depth,
                   std::string &error)
{
	if (depth > kMaxIncludeDepth) {
		error = path + ": includes nested more than 16 deep (a loop?)";
		return false;
	}
	std::string text;
	if (!slurp(path, text, error)) return false;
	std::istringstream in(text);
	std::string raw, line;
	size_t lineno = 0, start = 0;
	while (std::getline(in, raw)) {
		lineno++;
		if (line.empty()) start = lineno;
		if (!raw.empty() && raw.back() == '\r') raw.pop_back();
		// A continuation joins the next line, but not across a comment.
		bool cont = !raw.empty() && raw.back() == '\\';
		if (cont) raw.pop_back();
		line += raw;
		if (cont && !in.eof()) continue;
		std::string l = trim(strip_comment(line));
		line.clear();
		if (l.empty()) continue;
		std::string where = path + ":" + std::to_string(start);
		auto fail = [&](const std::string &why) {
			error = where + ": " + why;
			return false;
		};
		auto w = words(l);
		// An option and its argument: "-r x", "-rx", "--requirement=x", "--requirement x".
		auto opt_arg = [&](const std::string &s, const std::string &l2, std::string &val) {
			if (w[0] == s || w[0] == l2) {
				if (w.size() < 2) return false;
				val = w[1];
				return true;
			}
			if (w[0].rfind(l2 + "=", 0) == 0) {
				val = w[0].substr(l2.size() + 1);
				return true;
			}
			if (w[0].size() > 2 && w[0].rfind(s, 0) == 0 && s.size() == 2) {
				val = w[0].substr(2);
				return true;
			}
			return false;
		};
		std::string val;
		if (l[0] == '-') {
			if (opt_arg("-r", "--requirement", val) || opt_arg("-c", "--constraint", val)) {
				bool c = constraint || w[0].rfind("-c", 0) == 0 || w[0].rfind("--constraint", 0) == 0;
				std::string inc = val[0] == '/' ? val : dir_of(path) + val;
				if (!read_req_file(inc, out, c, depth + 1, error)) {
					error = where + ": " + error;
					return false;
				}
				continue;
			}
			if (w[0] == "-e" || w[0].rfind("--editable", 0) == 0)
				return fail("editable requirements (-e) are not supported: a mirror serves only what the index has");
			out.warnings.push_back(where + ": ignoring option " + w[0]);
			continue;
		}
		// The requirement is everything before the first " --option".
		std::string req_text = l;
		std::set<std::string> hashes;
		size_t opt = std::string::npos;
		for (size_t i = 0; i + 2 < l.size(); i++)
			if ((l[i] == ' ' || l[i] == '\t') && l[i + 1] == '-' && l[i + 2] == '-') {
				opt = i;
				break;
			}
		if (opt != std::string::npos) {
			req_text = trim(l.substr(0, opt));
			for (auto &o : words(l.substr(opt))) {
				if (o.rfind("--hash=", 0) == 0) {
					std::string h = o.substr(7);
					if (h.rfind("sha256:", 0) != 0 || h.size() != 7 + 64 ||
					    h.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
						return fail("--hash must be sha256:<64 lower-case hex digits>, not '" + h + "'");
					hashes.insert(h.substr(7));
				} else {
					out.warnings.push_back(where + ": ignoring option " + o);
				}
			}
		}
		if (req_text.find("://") != std::string::npos || req_text.rfind("./", 0) == 0 || req_text.rfind("/", 0) == 0)
			return fail("URL and path requirements are not supported: '" + req_text + "'");
		std::string perr;
		auto r = pep508::parse_requirement(req_text, &perr);
		if (!r) return fail(perr);
		SourcedRequirement sr{std::move(*r), where, std::move(hashes)};
		(constraint ? out.constraints : out.requirements).push_back(std::move(sr));
	}
	return true;
}

std::string line_of(const toml::node &n)
{
	return std::to_string(n.source().begin.line);
}

bool add_toml_list(const std::string &path, const toml::node *node, const std::string &what, RequirementSet &out,
                   std::string &error)
{
	if (!node) return true;
	auto *arr = node->as_array();
	if (!arr) {
		error = path + ":" + line_of(*node) + ": " + what + " is not an array";
		return false;
	}
	for (auto &el : *arr) {
		std::string where = path + ":" + line_of(el);
		if (el.is_table()) continue; // PEP 735 {include-group = "..."}: its group is read anyway
		auto s = el.value<std::string>();
		if (!s) {
			error = where + ": " + what + ": not a string";
			return false;
		}
		std::string perr;
		auto r = pep508::parse_requirement(*s, &perr);
		if (!r) {
			error = where + ": " + what + ": " + perr;
			return false;
		}
		out.requirements.push_back({std::move(*r), where + " (" + what + ")", {}});
	}
	return true;
}

bool parse_toml(const std::string &path, toml::table &tbl, std::string &error)
{
	std::string text;
	if (!slurp(path, text, error)) return false;
	try {
		tbl = toml::parse(text, path);
	} catch (const toml::parse_error &e) {
		error = path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
		return false;
	}
	return true;
}

} // namespace

bool read_requirements_file(const std::string &path, RequirementSet &out, std::string &error)
{
	return read_req_file(path, out, false, 0, error);
}

bool read_pyproject(const std::string &path, const std::set<std::string> &extras, RequirementSet &out,
                    std::string &error)
{
	toml::table tbl;
	if (!parse_toml(path, tbl, error)) return false;
	auto *project = tbl["project"].as_table();
	if (project) {
		if (!add_toml_list(path, project->get("dependencies"), "[project] dependencies", out, error)) return false;
		if (auto *opt = project->get("optional-dependencies")) {
			auto *t = opt->as_table();
			if (!t) {
				error = path + ":" + line_of(*opt) + ": [project.optional-dependencies] is not a table";
				return false;
			}
			for (auto &[k, v] : *t) {
				std::string name = pep440::normalize_name(std::string(k.str()));
				if (!extras.empty() && !extras.count(name)) continue;
				if (!add_toml_list(path, &v, "[project.optional-dependencies] " + std::string(k.str()), out, error))
					return false;
			}
		}
	}
	if (auto *groups = tbl["dependency-groups"].as_table())
		for (auto &[k, v] : *groups)
			if (!add_toml_list(path, &v, "[dependency-groups] " + std::string(k.str()), out, error)) return false;
	if (!project && !tbl["dependency-groups"]) {
		error = path + ": no [project] table and no [dependency-groups]";
		return false;
	}
	return true;
}

bool read_pylock(const std::string &path, RequirementSet &out, std::string &error)
{
	toml::table tbl;
	if (!parse_toml(path, tbl, error)) return false;
	auto *pkgs = tbl["packages"].as_array();
	if (!pkgs) {
		error = path + ": no [[packages]] (not a PEP 751 lock file)";
		return false;
	}
	for (auto &el : *pkgs) {
		std::string where = path + ":" + line_of(el);
		auto *p = el.as_table();
		if (!p) {
			error = where + ": [[packages]] entry is not a table";
			return false;
		}
		auto name = (*p)["name"].value<std::string>();
		auto version = (*p)["version"].value<std::string>();
		if (!name || pep508::parse_requirement(*name) == std::nullopt || name->find_first_of(" [;(<>=!~") != std::string::npos) {
			error = where + ": package without a valid name";
			return false;
		}
		LockedPackage lp;
		lp.name = pep440::normalize_name(*name);
		lp.version = version.value_or("");
		lp.origin = where;
		auto add_file = [&](const toml::table &f) -> bool {
			std::string fw = path + ":" + std::to_string(f.source().begin.line);
			std::string fname = f["name"].value_or(std::string());
			std::string url = f["url"].value_or(std::string());
			if (fname.empty() && !url.empty()) {
				std::string u = url.substr(0, url.find_first_of("?#"));
				fname = u.substr(u.rfind('/') + 1);
			}
			if (fname.empty()) {
				error = fw + ": " + lp.name + ": a file with neither name nor url";
				return false;
			}
			std::string sha = f["hashes"]["sha256"].value_or(std::string());
			for (auto &c : sha) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
			if (!sha.empty() && (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos)) {
				error = fw + ": " + fname + ": hashes.sha256 is not 64 hex digits";
				return false;
			}
			lp.files.push_back({fname, sha, fw});
			return true;
		};
		if (auto *sd = (*p)["sdist"].as_table())
			if (!add_file(*sd)) return false;
		if (auto *wh = (*p)["wheels"].as_array())
			for (auto &w : *wh) {
				if (!w.as_table()) {
					error = where + ": wheels entry is not a table";
					return false;
				}
				if (!add_file(*w.as_table())) return false;
			}
		if (lp.files.empty()) {
			error = where + ": " + lp.name + " pins no sdist or wheel (VCS, directory and archive entries are not supported)";
			return false;
		}
		out.locked.push_back(std::move(lp));
	}
	return true;
}

} // namespace pm
