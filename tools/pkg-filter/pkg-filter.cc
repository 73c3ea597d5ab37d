// pkg-filter: drops projects, releases and files by the rules of a
// partial mirror (bandersnatch-compatible filter configuration).
// Works before pkg-resolve (name rules only) and after it (every rule).
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include "cli.h"
#include "filter_config.h"
#include "fsutil.h"
#include "hash.h"
#include "layout.h"
#include "mirror_store.h"
#include "log.h"
#include "ndjson.h"
#include "options.h"
#include "record.h"
#include "record_loop.h"

using namespace pm;

int main(int argc, char **argv)
{
	// -c names the filter rules' file, which is the file --config names in
	// the other tools (its [s3] section too).
	MirrorOptions mo;
	std::string &config = mo.config;
	const std::string &dir = mo.dir;
	std::string dropped_path;
	// Pins the clock for the min_age cooldown (reproducible runs, tests);
	// the wrapper passes its environment on.
	long long now = now_from_env("pkg-filter");
	log_set_prog("pkg-filter");
	bool print_rules = false, print_fingerprint = false, needs_json = false;
	parse_options("pkg-filter", kCommandLine, argc, argv, [&](int c) {
		if (mo.option(c, "pkg-filter", optarg) || now_option(c, "pkg-filter", optarg, now)) return;
		switch (c) {
		case 'c': config = optarg; break;
		case kOptDropped: dropped_path = optarg; break;
		case kOptRules: print_rules = true; break;
		case kOptFingerprint: print_fingerprint = true; break;
		case kOptNeedsJson: needs_json = true; break;
		}
	});
	if (config.empty()) {
		usage_error("pkg-filter", "-c CONFIG is required");
	}
	FilterConfig cfg;
	std::string err;
	if (!load_filter_config(config, cfg, err)) {
		LOG_TOOL_ERROR("%s", err.c_str());
		return kExitUsage;
	}
	if (needs_json) return cfg.needs_project_json() ? kExitOk : 1;
	if (print_rules || print_fingerprint) {
		std::string rules = describe_filter_config(cfg);
		if (print_rules) fputs(rules.c_str(), stdout);
		if (print_fingerprint) {
			Digest d;
			d.update(rules.data(), rules.size());
			printf("%s\n", d.hex().c_str());
		}
		return fflush(stdout) == 0 ? kExitOk : kExitFatal;
	}
	if (!cfg.any()) LOG_TOOL_WARN("%s enables no filter plugins: every project passes", config.c_str());

	FILE *dropped = nullptr;
	if (!dropped_path.empty() && !(dropped = fopen(dropped_path.c_str(), "a"))) {
		LOG_TOOL_ERROR("cannot open %s: %s", dropped_path.c_str(), strerror(errno));
		return kExitUsage;
	}
	RecordLoop loop("pkg-filter", {"project"});
	NdjsonWriter drop_out(dropped ? dropped : stdout);
	long long projects = 0, dropped_projects = 0, dropped_files = 0, removals = 0;

	auto note_drop = [&](const std::string &name, const std::string &file, const std::string &why,
	                     bool deferred = false) {
		if (!dropped) return;
		rapidjson::Document d(rapidjson::kObjectType);
		set_string(d, d, "name", name);
		if (!file.empty()) set_string(d, d, "file", file);
		set_string(d, d, "reason", why);
		// Held back by the cooldown only: the wrapper looks at the project
		// again in later runs (its record will not change when the file
		// comes of age).
		if (deferred) set_bool(d, d, "deferred", true);
		drop_out.write(d);
	};
	// The mirror -d names, a directory or a bucket; -c gives a bucket's [s3].
	std::unique_ptr<MirrorStore> mirror;
	if (!dir.empty()) mirror = open_mirror_store("pkg-filter", dir, config);
	auto held_by_mirror = [&](const std::string &name) { return mirror && mirror->holds(name); };
	auto drop_project = [&](const ProjectRecord &r, const std::string &why) {
		dropped_projects++;
		note_drop(r.name, "", why);
		if (held_by_mirror(r.name)) {
			// Filters changed: what the mirror holds but no longer selects goes.
			rapidjson::Document d(rapidjson::kObjectType);
			set_string(d, d, "type", "removal");
			set_string(d, d, "name", r.name);
			set_int(d, d, "serial", r.serial);
			set_string(d, d, "reason", "filtered out: " + why);
			loop.emit(d);
			removals++;
			LOG_INFO("Filtered out %s (%s): removing it from the mirror", r.name.c_str(), why.c_str());
		} else {
			LOG_DEBUG("Filtered out %s (%s)", r.name.c_str(), why.c_str());
		}
	};

	loop.run([&](ProjectRecord &r, rapidjson::Document &doc) {
		projects++;
		if (!r.resolved) {
			FilterResult fr = filter_project_name(cfg, r.name);
			if (fr.drop_project)
				drop_project(r, fr.reason);
			else
				loop.emit_raw(loop.line());
			return;
		}
		size_t before = r.files.size();
		// The metadata rules read upstream's JSON API document, spooled by
		// pkg-resolve --save-json; parsed only when a rule reads it.
		rapidjson::Document pj;
		const rapidjson::Value *project_json = nullptr;
		if (cfg.needs_project_json() && !r.json_file.empty()) {
			std::string text;
			if (!read_file(r.json_file, text)) {
				loop.emit_error(r.name, r.serial, "cannot read " + r.json_file + ": " + strerror(errno), r.json_file);
				return;
			}
			if (pj.Parse(text.data(), text.size()).HasParseError() || !pj.IsObject()) {
				loop.emit_error(r.name, r.serial, r.json_file + " is not a JSON object", r.json_file);
				return;
			}
			project_json = &pj;
		}
		FilterResult fr = filter_project(cfg, r, now, project_json);
		if (!fr.error.empty()) {
			LOG_ERROR("%s: %s", r.name.c_str(), fr.error.c_str());
			loop.emit_error(r.name, r.serial, fr.error);
			return;
		}
		if (fr.drop_project) {
			drop_project(r, fr.reason);
			return;
		}
		if (fr.dropped_files.empty()) {
			loop.emit_raw(loop.line());
			return;
		}
		// Trim the file array in place, so unknown fields survive.
		std::set<std::string> gone;
		for (auto &[file, why] : fr.dropped_files) {
			gone.insert(file);
			note_drop(r.name, file, why, fr.too_young_files.count(file) > 0);
			LOG_DEBUG("Filtered %s: %s (%s)", r.name.c_str(), file.c_str(), why.c_str());
		}
		auto &files = doc["files"];
		for (auto it = files.Begin(); it != files.End();) {
			if (gone.count(get_string(*it, "filename")))
				it = files.Erase(it);
			else
				++it;
		}
		dropped_files += static_cast<long long>(gone.size());
		LOG_DEBUG("Filtered %s: kept %zu of %zu files", r.name.c_str(), r.files.size(), before);
		loop.emit(doc);
	});
	int status = loop.finish("%lld projects read, %lld dropped (%lld removed from the mirror), %lld files dropped",
	                         projects, dropped_projects, removals, dropped_files);
	if (dropped) fclose(dropped);
	return status;
}
