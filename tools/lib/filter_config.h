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

#include <rapidjson/document.h>
#include <re2/re2.h>

#include "pep440.h"
#include "record.h"

namespace pm {

// A key of [regex_project_metadata] or [version_range_release_file_metadata]:
// "tag:tag:dotted.path", tags any|all|none (regex only) and match-null|not-null.
struct MetadataRule {
	std::string key;  // as configured (lower case, as configparser folds it)
	std::vector<std::string> path;
	enum Match { Any, All, None } match = Any;
	bool nulls_match = true;
	std::vector<std::unique_ptr<RE2>> patterns;    // regex rules
	std::vector<pep440::Version> versions;         // version range rules
	std::vector<std::string> texts;                // the values, for describe
};

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
	// [versions_count_project_metadata]: 0 is off; min > max turns it off with a warning.
	long long min_versions = 0, max_versions = 0;
	std::vector<MetadataRule> project_metadata;    // [regex_project_metadata]
	std::vector<MetadataRule> file_version_ranges; // [version_range_release_file_metadata]
	std::vector<MetadataRule> file_metadata;       // [regex_release_file_metadata]
	// A rule reads the JSON API document (info.*, releases.*): the record
	// must name it (json_file, pkg-resolve --save-json).
	bool needs_project_json() const;

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
	// Set when a rule could not be evaluated (the JSON document it reads is
	// missing): the project is neither kept nor dropped.
	std::string error;
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
// project_json: upstream's JSON API document for the project, when the
// record names one; the metadata rules read it.
FilterResult filter_project(const FilterConfig &cfg, ProjectRecord &r, long long now,
                            const rapidjson::Value *project_json = nullptr);

// The version PyPI calls current (the JSON API's info.version): the
// document's, else the newest final release with a file not yanked, else
// the newest release with such a file, else the newest. Empty if no files.
std::string current_version(const ProjectRecord &r, const rapidjson::Value *project_json = nullptr);

// Wheel filename tags (PEP 427), for platform rules. False if not a wheel.
struct WheelTags {
	std::vector<std::string> python, abi, platform;
};
bool parse_wheel_tags(const std::string &filename, WheelTags &tags);

// "1G", "500M", "1024" -> bytes; -1 if it does not parse.
long long parse_size(const std::string &s);

} // namespace pm
