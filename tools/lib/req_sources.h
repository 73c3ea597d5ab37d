// Requirement sources for closures (pkg-closure(1)): requirements files as
// pip reads them, pyproject.toml's [project] tables and PEP 751 pylock.toml
// lock files, each turned into PEP 508 requirements or pinned files that
// remember the file and line they came from, for messages.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pep508.h"

namespace pm {

struct SourcedRequirement {
	pep508::Requirement req;
	std::string origin; // "FILE:LINE" (or "FILE: [project] dependencies")
	// --hash=sha256:H options: only files with one of these hashes qualify.
	std::set<std::string> hashes;
};

// One file a lock pins.
struct LockedFile {
	std::string filename;
	std::string sha256; // lower-case hex; empty when the lock has none
	std::string origin;
};

struct LockedPackage {
	std::string name; // normalized
	std::string version;
	std::vector<LockedFile> files;
	std::string origin;
};

struct RequirementSet {
	std::vector<SourcedRequirement> requirements;
	// -c constraints: restrict versions of a project the closure reaches,
	// never add one.
	std::vector<SourcedRequirement> constraints;
	std::vector<LockedPackage> locked;
	std::vector<std::string> warnings; // ignored pip options, with their origin
};

// Reads a requirements file (pip's format: comments, "\" continuations,
// -r/--requirement and -c/--constraint includes relative to the including
// file, --hash options; other global options are ignored with a warning).
// "-" reads standard input. False with error "FILE:LINE: reason".
bool read_requirements_file(const std::string &path, RequirementSet &out, std::string &error);

// [project] dependencies, and every [project.optional-dependencies] group
// (or only those named in extras, when not empty), and PEP 735
// [dependency-groups] lists.
bool read_pyproject(const std::string &path, const std::set<std::string> &extras, RequirementSet &out,
                    std::string &error);

// PEP 751 pylock.toml: [[packages]] with name, version, sdist and wheels
// (each with a name or url, and hashes.sha256).
bool read_pylock(const std::string &path, RequirementSet &out, std::string &error);

} // namespace pm
