// pkg-closure: the set of files a list of requirements (and lock files)
// needs in a list of target environments, resolved to a fixpoint through
// the Requires-Dist of every selected version, read from PEP 658 .metadata
// files (never whole wheels). Writes one resolved project record per
// project in the closure, its files trimmed to those some target installs.
//
// Everything is fetched concurrently over one libcurl multi handle: a
// project's JSON document when a requirement first names it, a version's
// .metadata when a requirement first selects it. Each (project, env,
// specifier, extras) is expanded once, so cycles end. Records are written
// only at the fixpoint: a closure that exceeds --max-projects writes none.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unistd.h>

#include "cli.h"
#include "filter_config.h"
#include "fsutil.h"
#include "hash.h"
#include "http.h"
#include "index_root.h"
#include "layout.h"
#include "log.h"
#include "mirror_store.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "pep440.h"
#include "pep508.h"
#include "project_json.h"
#include "record.h"
#include "record_loop.h"
#include "req_sources.h"
#include "target_env.h"
#include "url.h"
#include "url_policy.h"

using namespace pm;

namespace {

constexpr size_t kMaxMetadata = 8 << 20;

struct Need {
	std::string name;
	size_t env = 0;
	pep440::SpecifierSet specs;
	std::vector<std::string> extras;
	std::set<std::string> hashes;
	std::string origin; // what asked for it, for messages
};

struct VersionInfo {
	enum State { Unfetched, Fetching, Ready, Failed } state = Unfetched;
	std::vector<pep508::Requirement> requires_dist;
	std::vector<Need> waiting; // (env, extras, origin) to expand when ready
};

struct Project {
	enum State { Unfetched, Fetching, Ready, Failed } state = Unfetched;
	std::string name, display, json_url;
	long long serial = 0, last_serial = -1;
	std::vector<FileEntry> files;
	std::vector<Need> waiting;
	std::set<std::string> keep; // filenames in the closure
	std::map<std::string, VersionInfo> versions;
	bool locked = false; // named by a lock file: its files only
};

bool is_sdist(const FileEntry &f)
{
	auto ends = [&](const char *s) {
		size_t n = strlen(s);
		return f.filename.size() > n && f.filename.compare(f.filename.size() - n, n, s) == 0;
	};
	return f.packagetype == "sdist" || ends(".tar.gz") || ends(".zip");
}

bool is_wheel(const FileEntry &f)
{
	return f.filename.size() > 4 && f.filename.compare(f.filename.size() - 4, 4, ".whl") == 0;
}

// Requires-Dist values from a METADATA text (RFC 822 headers up to the
// first blank line; folded lines joined).
std::vector<std::string> requires_dist_lines(const std::string &meta)
{
	std::vector<std::string> out;
	std::string cur;
	bool in_rd = false;
	size_t i = 0;
	while (i < meta.size()) {
		size_t e = meta.find('\n', i);
		std::string line = meta.substr(i, e == std::string::npos ? std::string::npos : e - i);
		i = e == std::string::npos ? meta.size() : e + 1;
		if (!line.empty() && line.back() == '\r') line.pop_back();
		if (line.empty()) break;
		if ((line[0] == ' ' || line[0] == '\t')) {
			if (in_rd) cur += " " + line;
			continue;
		}
		if (in_rd) out.push_back(cur);
		in_rd = false;
		auto colon = line.find(':');
		if (colon == std::string::npos) continue;
		std::string key = line.substr(0, colon);
		for (auto &c : key) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
		if (key == "requires-dist") {
			in_rd = true;
			cur = line.substr(colon + 1);
		}
	}
	if (in_rd) out.push_back(cur);
	return out;
}

} // namespace

int main(int argc, char **argv)
{
	UpstreamOptions up(10, 1000);
	MirrorOptions mo;
	bool stdin_is_requirements = false, input_roots = false;
	long long newest = 0, max_projects = 1000;
	std::string cache_dir, dropped_path;
	std::vector<TargetEnv> envs;
	std::set<std::string> extras_wanted;
	std::vector<std::pair<char, std::string>> sources; // 'r' 'c' 'p' 'l'
	parse_options("pkg-closure", kCommandLine, argc, argv, [&](int c) {
		if (up.option(c, "pkg-closure", optarg) || mo.option(c, "pkg-closure", optarg)) return;
		switch (c) {
		case 'r':
		case 'c':
			if (!strcmp(optarg, "-")) stdin_is_requirements = true;
			sources.push_back({static_cast<char>(c), optarg});
			break;
		case kOptPyproject: sources.push_back({'p', optarg}); break;
		case kOptLock: sources.push_back({'l', optarg}); break;
		case kOptExtra: extras_wanted.insert(pep440::normalize_name(optarg)); break;
		case 'e': {
			TargetEnv e;
			std::string err;
			if (!parse_target_env(optarg, e, err)) {
				fprintf(stderr, "pkg-closure: %s\n", err.c_str());
				exit(kExitUsage);
			}
			envs.push_back(std::move(e));
			break;
		}
		case kOptNewest: newest = parse_count("pkg-closure", "--newest", optarg, 1); break;
		case kOptMaxProjects: max_projects = parse_count("pkg-closure", "--max-projects", optarg, 1); break;
		case kOptCache: cache_dir = optarg; break;
		case kOptInputRoots: input_roots = true; break;
		case kOptDropped: dropped_path = optarg; break;
		}
	});
	const std::string &mirror_dir = mo.dir;
	if (input_roots && stdin_is_requirements) {
		fprintf(stderr, "pkg-closure: --input-roots reads records on standard input: it cannot be a requirements file too\n");
		return kExitUsage;
	}
	if (sources.empty() && !input_roots) {
		fprintf(stderr, "pkg-closure: no requirement source (-r, --pyproject or --lock)\n%s", kUsage);
		return kExitUsage;
	}
	bool has_reqs = false;
	for (auto &s : sources) has_reqs = has_reqs || s.first != 'l';
	has_reqs = has_reqs || input_roots;
	if (has_reqs && envs.empty()) {
		fprintf(stderr, "pkg-closure: requirements need at least one target environment (-e)\n");
		return kExitUsage;
	}
	if (!mo.config.empty() && mirror_dir.empty()) {
		fprintf(stderr, "pkg-closure: --config goes with -d (the mirror whose projects may be pruned)\n");
		return kExitUsage;
	}
	// The mirror -d names, a directory or a bucket: what it holds is read
	// at the end, through the one interface over both.
	std::unique_ptr<MirrorStore> mirror;
	if (!mirror_dir.empty()) mirror = open_mirror_store("pkg-closure", mirror_dir, mo.config);
	const std::string upstream = up.resolve("pkg-closure");
	const ProjectJsonPolicy policy = project_json_policy(upstream, up.extra_hosts, up.allow_http);
	if (!cache_dir.empty() && !mkdir_p(cache_dir)) {
		LOG_ERROR("pkg-closure: cannot create %s: %s", cache_dir.c_str(), strerror(errno));
		return kExitFatal;
	}
	// A metadata file is immutable and named by its sha256, so its
	// Requires-Dist, once read, is kept under that name: no expiry needed.
	auto cache_path = [&](const std::string &sha) { return cache_dir + "/" + sha.substr(0, 2) + "/" + sha; };

	// Requirement sources: a file that does not parse is a usage error
	// naming file and line; nothing is resolved from half a list.
	RequirementSet rs;
	for (auto &[kind, path] : sources) {
		std::string err;
		bool ok = kind == 'p'   ? read_pyproject(path, extras_wanted, rs, err)
		          : kind == 'l' ? read_pylock(path, rs, err)
		                        : [&] {
			                          RequirementSet tmp;
			                          if (!read_requirements_file(path, tmp, err)) return false;
			                          auto &dst = kind == 'c' ? rs.constraints : rs.requirements;
			                          for (auto &r : tmp.requirements) dst.push_back(std::move(r));
			                          for (auto &r : tmp.constraints) rs.constraints.push_back(std::move(r));
			                          for (auto &w : tmp.warnings) rs.warnings.push_back(std::move(w));
			                          return true;
		                          }();
		if (!ok) {
			LOG_ERROR("pkg-closure: %s", err.c_str());
			return kExitUsage;
		}
	}
	for (auto &w : rs.warnings) LOG_WARN("pkg-closure: %s", w.c_str());
	std::map<std::string, std::vector<const SourcedRequirement *>> constraints;
	for (auto &c2 : rs.constraints) constraints[c2.req.name].push_back(&c2);

	// Input through the shared record loop: malformed and refused lines,
	// other record types passed on, target records held for the end. The
	// closure's own records are written only at the fixpoint (a closure
	// past --max-projects writes none), through the same loop.
	RecordLoop loop("pkg-closure", {"project"}, stdin_is_requirements || isatty(0) ? nullptr : stdin);
	bool bad = false, broken_pipe = false;
	auto emit_raw = [&](const std::string &s) {
		if (!loop.emit_raw(s)) broken_pipe = true;
	};
	std::map<std::string, Project> projects;

	// Resolved records on standard input stand for their projects. They are
	// spooled to an unlinked file as read, only their names and offsets
	// kept: a full pass feeds every project upstream has, and only those
	// the closure reaches are ever parsed again.
	struct Spooled {
		long off;
		size_t len;
	};
	std::map<std::string, Spooled> spooled;
	std::set<std::string> input_names, answered; // answered: a record of theirs was written
	FILE *spool = nullptr;
	if (!stdin_is_requirements && !isatty(0)) {
		while (loop.next()) {
			ProjectRecord &r = loop.record();
			input_names.insert(r.name);
			if (input_roots) {
				// The project itself is wanted: a requirement with no specifier.
				SourcedRequirement sr;
				sr.req.name = r.name;
				sr.req.display_name = r.display_name.empty() ? r.name : r.display_name;
				sr.origin = "input line " + std::to_string(loop.line_number());
				rs.requirements.push_back(std::move(sr));
			}
			if (!r.resolved) continue; // fetched below if the closure needs it
			if (!spool && !(spool = tmpfile())) {
				LOG_ERROR("pkg-closure: cannot create a temporary file: %s", strerror(errno));
				return kExitFatal;
			}
			long off = ftell(spool);
			const std::string &line = loop.line();
			if (off < 0 || fwrite(line.data(), 1, line.size(), spool) != line.size()) {
				LOG_ERROR("pkg-closure: cannot write a temporary file: %s", strerror(errno));
				return kExitFatal;
			}
			spooled[r.name] = {off, line.size()};
		}
		if (spool && fflush(spool) != 0) {
			LOG_ERROR("pkg-closure: cannot write a temporary file: %s", strerror(errno));
			return kExitFatal;
		}
	}
	// A spooled record, read back when the closure first needs its project.
	auto load_spooled = [&](Project &p) {
		auto it = spooled.find(p.name);
		if (it == spooled.end()) return false;
		std::string line(it->second.len, '\0');
		rapidjson::Document doc;
		ProjectRecord r;
		std::string err;
		if (fseek(spool, it->second.off, SEEK_SET) != 0 || fread(line.data(), 1, line.size(), spool) != line.size() ||
		    !parse_json_object(line, doc, err) || !parse_record(doc, r, err)) {
			LOG_WARN("pkg-closure: cannot read back the input record of %s (%s): fetching it", p.name.c_str(),
			         err.empty() ? strerror(errno) : err.c_str());
			return false;
		}
		spooled.erase(it);
		p.display = r.display_name.empty() ? r.name : r.display_name;
		p.serial = r.serial;
		p.last_serial = r.last_serial;
		p.json_url = get_string(doc, "json_url");
		p.files = std::move(r.files);
		p.state = Project::Ready;
		return true;
	};

	Http http;
	long long fetched_json = 0, fetched_meta = 0, cached_meta = 0, errors = 0;
	bool exploded = false;
	// A fetch that failed leaves the closure short of what that project or
	// version would have pulled in: nothing is pruned from such a closure.
	bool incomplete = false;
	std::set<std::string> error_keys;
	auto error = [&](const std::string &name, long long serial, const std::string &reason,
	                 const std::string &file = "", const std::string &url = "") {
		answered.insert(name);
		if (!error_keys.insert(name + "\n" + reason + "\n" + file).second) return;
		LOG_ERROR("%s: %s%s%s", name.c_str(), reason.c_str(), file.empty() ? "" : ": ", file.c_str());
		errors++;
		bad = true;
		emit_raw(error_record("pkg-closure", name, serial, reason, file, url));
	};

	std::set<std::string> expanded; // need keys already expanded
	std::function<void(const Need &)> need;
	std::function<void(Project &)> fetch_project;
	std::function<void(Project &, const std::string &, const Need &)> need_deps;

	auto env_name = [&](size_t e) { return envs.empty() ? std::string("-") : envs[e].spec; };

	// A version's dependencies are known: add those that apply.
	auto apply_deps = [&](Project &p, const std::string &version, const Need &n) {
		auto &vi = p.versions[version];
		const auto &env = envs[n.env];
		for (auto &d : vi.requires_dist) {
			if (!d.applies(env.markers, n.extras)) continue;
			Need dn;
			dn.name = d.name;
			dn.env = n.env;
			dn.specs = d.specs;
			dn.extras = d.extras;
			dn.origin = p.name + " " + version;
			need(dn);
		}
	};

	auto expand = [&](Project &p, const Need &n) {
		const auto &env = envs[n.env];
		// Versions, newest first.
		std::map<std::string, std::vector<const FileEntry *>> by_version;
		for (auto &f : p.files) by_version[f.version].push_back(&f);
		std::vector<std::pair<pep440::Version, std::string>> vs;
		for (auto &[v, _] : by_version)
			if (auto pv = pep440::parse(v)) vs.push_back({*pv, v});
		std::sort(vs.begin(), vs.end(), [](auto &a, auto &b) { return pep440::compare(a.first, b.first) > 0; });
		bool pinned = false;
		for (auto &s : n.specs.specs) pinned = pinned || ((s.op == "==" && !s.wildcard) || s.op == "===");
		long long taken = 0;
		for (auto &[pv, v] : vs) {
			if (newest && taken >= newest) break;
			if (!n.specs.contains(pv)) continue;
			bool ok = true;
			for (auto *cs : constraints[p.name]) ok = ok && cs->req.specs.contains(pv);
			if (!ok) continue;
			auto &fs = by_version[v];
			// pip skips yanked releases unless pinned exactly.
			bool all_yanked = std::all_of(fs.begin(), fs.end(), [](auto *f) { return f->yanked; });
			if (all_yanked && !pinned) continue;
			std::vector<const FileEntry *> wheels, sdists;
			for (auto *f : fs) {
				if (!n.hashes.empty() && !n.hashes.count(f->sha256)) continue;
				if (!env.accepts_python(f->requires_python)) continue;
				if (is_wheel(*f) && env.accepts_wheel(f->filename)) wheels.push_back(f);
				if (is_sdist(*f)) sdists.push_back(f);
			}
			// The sdist is kept only for a version with no wheel this
			// environment installs: it is what pip would build from.
			auto &keep = wheels.empty() ? sdists : wheels;
			if (keep.empty()) continue;
			taken++;
			for (auto *f : keep) p.keep.insert(f->filename);
			need_deps(p, v, n);
		}
		if (!taken)
			error(p.name, p.last_serial,
			      "no version matches '" + p.name + n.specs.str() + "' for " + env_name(n.env) + " (required by " +
			          n.origin + ")");
	};

	auto lock_files = [&](Project &p) {
		for (auto &lp : rs.locked) {
			if (lp.name != p.name) continue;
			for (auto &lf : lp.files) {
				auto it = std::find_if(p.files.begin(), p.files.end(),
				                       [&](const FileEntry &f) { return f.filename == lf.filename; });
				if (it == p.files.end()) {
					error(p.name, p.last_serial, "locked file not found upstream (" + lf.origin + ")", lf.filename);
					continue;
				}
				if (!lf.sha256.empty() && lf.sha256 != it->sha256) {
					error(p.name, p.last_serial,
					      "the lock's sha256 " + lf.sha256 + " disagrees with upstream's " + it->sha256 + " (" +
					          lf.origin + "): file refused",
					      lf.filename, it->url);
					continue;
				}
				p.keep.insert(lf.filename);
			}
		}
	};

	auto project_ready = [&](Project &p) {
		if (p.locked) lock_files(p);
		auto waiting = std::move(p.waiting);
		p.waiting.clear();
		for (auto &n : waiting) expand(p, n);
	};

	auto get_project = [&](const std::string &name) -> Project & {
		auto &p = projects[name];
		if (p.name.empty()) p.name = name;
		if (p.display.empty()) p.display = name;
		if (!exploded && static_cast<long long>(projects.size()) > max_projects) {
			exploded = true;
			LOG_ERROR("pkg-closure: the closure grew past %lld projects (--max-projects) at %s: stopping, "
			          "nothing written",
			          max_projects, name.c_str());
		}
		return p;
	};

	need = [&](const Need &n) {
		if (exploded) return;
		std::string key = n.name + "\n" + std::to_string(n.env) + "\n" + n.specs.str() + "\n";
		for (auto &e : n.extras) key += e + ",";
		for (auto &h : n.hashes) key += h + ",";
		if (!expanded.insert(key).second) return;
		auto &p = get_project(n.name);
		if (exploded) return;
		if (p.state == Project::Unfetched && load_spooled(p)) {
			if (p.locked) lock_files(p);
		}
		switch (p.state) {
		case Project::Ready: expand(p, n); break;
		case Project::Failed: break;
		case Project::Unfetched:
			p.waiting.push_back(n);
			fetch_project(p);
			break;
		case Project::Fetching: p.waiting.push_back(n); break;
		}
	};

	fetch_project = [&](Project &p) {
		p.state = Project::Fetching;
		p.json_url = upstream + "/pypi/" + url_escape(p.name) + "/json";
		Request req;
		req.url = p.json_url;
		req.what = "project " + p.name;
		req.compressed = true;
		req.headers.push_back("Accept: application/json");
		LOG_INFO("Syncing package: %s (closure)", p.name.c_str());
		std::string name = p.name;
		http.add(std::move(req), [&, name](Request &, Response &resp) {
			auto &pp = projects[name];
			fetched_json++;
			if (resp.error.empty() && resp.status == 404) {
				pp.state = Project::Failed;
				std::string by;
				for (auto &n : pp.waiting) by += (by.empty() ? "" : ", ") + n.origin;
				error(name, 0, "no such project upstream (404), required by " + (by.empty() ? "a lock file" : by));
				pp.waiting.clear();
				return;
			}
			if (!resp.ok()) {
				pp.state = Project::Failed;
				incomplete = true;
				error(name, 0, "cannot fetch " + pp.json_url + ": " + resp.describe(), "", pp.json_url);
				pp.waiting.clear();
				return;
			}
			ProjectJson pj;
			if (!parse_project_json(resp.body, policy, pj)) {
				pp.state = Project::Failed;
				incomplete = true;
				error(name, 0, pj.error, pj.error_file, pj.error_url.empty() ? pp.json_url : pj.error_url);
				pp.waiting.clear();
				return;
			}
			long long hs = -1;
			std::string h = resp.header("x-pypi-last-serial");
			if (!h.empty() && h.size() < 18 && h.find_first_not_of("0123456789") == std::string::npos) hs = std::stoll(h);
			pp.last_serial = hs >= 0 ? hs : pj.last_serial;
			pp.serial = std::max(pp.last_serial, 0LL);
			if (!pj.display_name.empty() && pep440::normalize_name(pj.display_name) == name) pp.display = pj.display_name;
			pp.files = std::move(pj.files);
			pp.state = Project::Ready;
			project_ready(pp);
		});
	};

	auto parse_deps = [&](Project &p, const std::string &version, const std::vector<std::string> &lines) {
		auto &vi = p.versions[version];
		for (auto &l : lines) {
			std::string err;
			auto r = pep508::parse_requirement(l, &err);
			if (!r) {
				// Upstream's metadata, not ours: one bad line does not hide the others.
				LOG_WARN("%s %s: ignoring Requires-Dist: %s", p.name.c_str(), version.c_str(), err.c_str());
				continue;
			}
			vi.requires_dist.push_back(std::move(*r));
		}
		vi.state = VersionInfo::Ready;
		auto waiting = std::move(vi.waiting);
		vi.waiting.clear();
		for (auto &n : waiting) apply_deps(p, version, n);
	};

	need_deps = [&](Project &p, const std::string &version, const Need &n) {
		auto &vi = p.versions[version];
		if (vi.state == VersionInfo::Ready) {
			apply_deps(p, version, n);
			return;
		}
		if (vi.state == VersionInfo::Failed) return;
		vi.waiting.push_back(n);
		if (vi.state == VersionInfo::Fetching) return;
		vi.state = VersionInfo::Fetching;
		// One .metadata per version: from a wheel (PEP 658; PyPI has none
		// for sdists), else the version's JSON document's requires_dist.
		const FileEntry *src = nullptr;
		for (auto &f : p.files)
			if (f.version == version && !f.core_metadata.empty() && (!src || is_wheel(f))) src = &f;
		Request req;
		req.what = "metadata of " + p.name + " " + version;
		req.compressed = true;
		req.max_body = kMaxMetadata;
		std::string name = p.name, expect = src ? src->core_metadata : "";
		if (src) {
			req.url = src->url + ".metadata";
		} else {
			req.url = upstream + "/pypi/" + url_escape(p.name) + "/" + url_escape(version) + "/json";
			req.headers.push_back("Accept: application/json");
		}
		std::string url = req.url, file = src ? src->filename + ".metadata" : "";
		if (!cache_dir.empty() && is_sha256_hex(expect)) {
			std::string text;
			if (read_file(cache_path(expect), text, kMaxMetadata)) {
				cached_meta++;
				std::vector<std::string> lines;
				size_t i = 0;
				while (i < text.size()) {
					size_t e = text.find('\n', i);
					if (e == std::string::npos) e = text.size();
					if (e > i) lines.push_back(text.substr(i, e - i));
					i = e + 1;
				}
				parse_deps(p, version, lines);
				return;
			}
		}
		LOG_DEBUG("Getting %s", url.c_str());
		http.add(std::move(req), [&, name, version, expect, url, file](Request &, Response &resp) {
			auto &pp = projects[name];
			auto &v2 = pp.versions[version];
			fetched_meta++;
			auto failed = [&](const std::string &why) {
				v2.state = VersionInfo::Failed;
				incomplete = true;
				v2.waiting.clear();
				error(name, pp.last_serial, "cannot read the dependencies of " + version + ": " + why, file, url);
			};
			if (!resp.ok()) return failed("cannot fetch " + url + ": " + resp.describe());
			if (!expect.empty()) {
				std::string got = sha256_hex(resp.body);
				if (got != expect) return failed("metadata sha256 " + got + " is not the index's " + expect);
				auto lines = requires_dist_lines(resp.body);
				if (!cache_dir.empty() && is_sha256_hex(expect)) {
					std::string text, werr;
					for (auto &l : lines) text += l + "\n";
					std::string path = cache_path(expect);
					if (!mkdir_p(path.substr(0, path.rfind('/'))) || !write_file_atomic(path, text, false, &werr))
						LOG_WARN("pkg-closure: cannot cache %s: %s", path.c_str(), werr.empty() ? strerror(errno) : werr.c_str());
				}
				parse_deps(pp, version, lines);
				return;
			}
			rapidjson::Document doc;
			std::string err;
			if (!parse_json_object(resp.body, doc, err)) return failed("version JSON: " + err);
			std::vector<std::string> lines;
			if (auto *info = member(doc, "info"))
				if (auto *rd = member(*info, "requires_dist"); rd && rd->IsArray())
					for (auto &x : rd->GetArray())
						if (x.IsString()) lines.push_back(x.GetString());
			parse_deps(pp, version, lines);
		});
	};

	// Seed: every requirement in every environment; every locked package.
	for (auto &sr : rs.requirements)
		for (size_t e = 0; e < envs.size(); e++)
			if (sr.req.marker.evaluate(envs[e].markers, "")) {
				Need n;
				n.name = sr.req.name;
				n.env = e;
				n.specs = sr.req.specs;
				n.extras = sr.req.extras;
				n.hashes = sr.hashes;
				n.origin = sr.origin;
				need(n);
			}
	for (auto &lp : rs.locked) {
		auto &p = get_project(lp.name);
		if (exploded) break;
		p.locked = true;
		if (p.state == Project::Unfetched) load_spooled(p);
		if (p.state == Project::Ready)
			lock_files(p);
		else if (p.state == Project::Unfetched)
			fetch_project(p);
	}

	http.run(up.concurrency);

	if (exploded) {
		fprintf(stderr, "pkg-closure: the closure has more than %lld projects; raise --max-projects if that is "
		                "intended\n",
		        max_projects);
		return kExitFatal;
	}
	long long kept_files = 0, kept_projects = 0;
	for (auto &[name, p] : projects) {
		if (p.state != Project::Ready || p.keep.empty()) continue;
		rapidjson::Document r(rapidjson::kObjectType);
		auto &a = r.GetAllocator();
		set_string(r, r, "type", "project");
		set_string(r, r, "name", name);
		set_string(r, r, "display_name", p.display);
		set_int(r, r, "serial", p.serial);
		set_int(r, r, "last_serial", p.last_serial);
		if (!p.json_url.empty()) set_string(r, r, "json_url", p.json_url);
		set_string(r, r, "status", "active");
		rapidjson::Value files(rapidjson::kArrayType);
		for (auto &f : p.files) {
			if (!p.keep.count(f.filename)) continue;
			rapidjson::Value fv;
			file_to_json(f, fv, a);
			files.PushBack(fv, a);
			kept_files++;
		}
		r.AddMember("files", files, a);
		kept_projects++;
		LOG_DEBUG("Closure: %s, %zu of %zu files", name.c_str(), p.keep.size(), p.files.size());
		answered.insert(name);
		if (!loop.emit(r)) broken_pipe = true;
	}
	// Requirements dropped or narrowed: what the mirror holds and the
	// closure no longer needs goes, as a filter change prunes (index-write
	// deletes it within its --max-deletions cap).
	long long pruned = 0;
	if (!mirror_dir.empty()) {
		RootList held;
		std::string why;
		if (incomplete) {
			LOG_WARN("pkg-closure: some projects or metadata could not be fetched: nothing pruned from %s this run",
			         mirror_dir.c_str());
		} else if (!mirror->held_projects(held, why)) {
			LOG_ERROR("pkg-closure: cannot list the projects %s holds: %s", mirror_dir.c_str(), why.c_str());
			bad = true;
		} else {
			for (size_t i = 0; i < held.size(); i++) {
				std::string name = normalize_name(held.display(i));
				if (held.removed(i)) continue;
				auto it = projects.find(name);
				// In the closure, or wanted but not resolved this run (a
				// project upstream does not know, a specifier nothing
				// satisfies): kept.
				if (it != projects.end() && (!it->second.keep.empty() || it->second.state != Project::Ready)) continue;
				rapidjson::Document r(rapidjson::kObjectType);
				set_string(r, r, "type", "removal");
				set_string(r, r, "name", name);
				set_int(r, r, "serial", held.serial(i));
				set_string(r, r, "reason", "no longer in the requirement closure");
				answered.insert(name);
				if (!loop.emit(r)) broken_pipe = true;
				pruned++;
				LOG_INFO("%s is no longer in the requirement closure: removing it from the mirror", name.c_str());
			}
		}
	}
	// The input projects not passed on, for the wrapper's accounting
	// (pkg-filter's --dropped format): they were left out, not lost.
	if (!dropped_path.empty()) {
		FILE *df = fopen(dropped_path.c_str(), "a");
		bool ok = df != nullptr;
		for (auto &n : input_names) {
			if (!ok || answered.count(n)) continue;
			rapidjson::Document d(rapidjson::kObjectType);
			set_string(d, d, "name", n);
			set_string(d, d, "reason", "not in the requirement closure");
			std::string line = to_json(d) + "\n";
			ok = fwrite(line.data(), 1, line.size(), df) == line.size();
		}
		if (df && fclose(df) != 0) ok = false;
		if (!ok) {
			LOG_ERROR("pkg-closure: cannot write %s: %s", dropped_path.c_str(), strerror(errno));
			bad = true;
		}
	}
	if (spool) fclose(spool);
	int status = loop.finish(); // the held target records, last
	if (broken_pipe || status == kExitFatal) return kExitFatal;
	LOG_INFO("pkg-closure: %lld projects, %lld files in the closure for %zu environment%s; %lld JSON and %lld "
	         "metadata fetches, %lld metadata from the cache, %lld errors, %lld pruned",
	         kept_projects, kept_files, envs.size(), envs.size() == 1 ? "" : "s", fetched_json, fetched_meta,
	         cached_meta, errors, pruned);
	return bad || status != kExitOk ? kExitSomeFailed : kExitOk;
}
