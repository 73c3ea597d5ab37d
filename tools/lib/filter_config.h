// Filter rules for partial mirrors, read from the same INI file as the
// wrapper, in bandersnatch's sections and keys so an existing filter
// configuration keeps working (bandersnatch's "[plugins] enabled" list).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <re2/re2.h>

#include "pep440.h"
#include "record.h"

namespace pm {

struct FilterConfig {
	std::set<std::string> enabled; // plugin names, old (whitelist/blacklist) spellings mapped
	bool all = false;              // "enabled = all"

	// Project level.
	std::set<std::string> allow_projects; // normalized names
	std::set<std::string> block_projects;
	std::vector<std::unique_ptr<RE2>> project_regexes; // [filter_regex] packages: drop matches
	// Release level, per project (from requirement lines such as "numpy>=2").
	std::map<std::string, std::vector<pep440::SpecifierSet>> allow_releases;
	// Projects pinned by specifiers in requirements files: with
	// project_requirements_pinned, a release they select bypasses the other
	// release rules (bandersnatch 6.5); min_age still applies.
	std::set<std::string> pinned_projects;
	std::map<std::string, std::vector<pep440::SpecifierSet>> block_releases;
	std::vector<std::unique_ptr<RE2>> release_regexes; // [filter_regex] releases: drop matching versions
	bool prerelease_all = true;                         // prerelease_release applies to every project...
	std::set<std::string> prerelease_projects;          // ...or only to these ([filter_prerelease] packages)
	long long keep_latest = 0;                          // [latest_release] keep
	bool latest_by_time = false;                        // [latest_release] sort_by = time
	double min_age_hours = 0;                           // [min_age] hours (our cooldown)
	// File level.
	std::vector<std::string> platforms; // [blocklist] platforms
	std::vector<std::unique_ptr<RE2>> file_regexes; // [filter_regex] files (ours)
	long long max_project_size = 0;                 // [size_project_metadata] max_package_size

	bool on(const char *plugin) const { return all || enabled.count(plugin); }
	bool any() const { return all || !enabled.empty(); }
};

// Reads path; false with error naming the file, section and key.
bool load_filter_config(const std::string &path, FilterConfig &cfg, std::string &error);

// The effective rules in a canonical text form (sorted, one rule a line):
// equal for configurations that select the same things however they are
// spelled (comments, order, old section names), different when a rule or a
// requirements file changes. The wrapper keeps its sha256 to know when the
// filters changed and the mirror must be pruned.
std::string describe_filter_config(const FilterConfig &cfg);

// What the filters decided about a project.
struct FilterResult {
	bool drop_project = false;
	std::string reason; // why the project was dropped
	// Files dropped, each with the rule that dropped it.
	std::vector<std::pair<std::string, std::string>> dropped_files;
	// Those of them dropped only for being younger than [min_age] hours: the
	// project's record will not change when they come of age, so the wrapper
	// looks at it again in later runs.
	std::set<std::string> too_young_files;
};

// Project-level rules only (name based): usable before resolution.
FilterResult filter_project_name(const FilterConfig &cfg, const std::string &name);
// All rules; removes dropped files from r.files. now: POSIX seconds.
FilterResult filter_project(const FilterConfig &cfg, ProjectRecord &r, long long now);

// Wheel filename tags (PEP 427), for platform rules. False if not a wheel.
struct WheelTags {
	std::vector<std::string> python, abi, platform;
};
bool parse_wheel_tags(const std::string &filename, WheelTags &tags);

// "1G", "500M", "1024" -> bytes; -1 if it does not parse.
long long parse_size(const std::string &s);

} // namespace pm
