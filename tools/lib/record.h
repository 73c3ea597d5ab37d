// The project record: what the tools pass each other, one per line.
// The format is documented in pypi-mirror-records(7); this is its one
// reader, so every tool validates records the same way.
#pragma once
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace pm {

struct FileEntry {
	std::string filename;
	std::string version;
	std::string url;
	std::string path; // mirror-relative: packages/xx/yy/<hash>/<filename>
	std::string sha256;
	long long size = -1;
	std::string upload_time; // ISO 8601 with Z, as PEP 700 has it
	std::string requires_python;
	bool has_requires_python = false;
	bool yanked = false;
	std::string yanked_reason;
	std::string core_metadata; // sha256 of the .metadata file, empty if none
	std::string packagetype;
	// PEP 740: absolute URL of the file's provenance object upstream, empty
	// if none (only the Simple API names it).
	std::string provenance;
};

struct ProjectRecord {
	std::string type; // project | removal | error | stale | target | synced | problem | verified
	std::string name; // PEP 503-normalized
	std::string display_name;
	long long serial = 0;      // the serial the mirror must reach for it
	long long last_serial = -1; // the serial upstream answered with
	bool resolved = false;     // has a "files" array
	std::string status = "active"; // PEP 792: active, archived, quarantined, deprecated
	std::vector<FileEntry> files;
	std::string json_file; // spooled JSON API document, when asked for
	std::string reason;    // for error/removal records
};

// Reads and validates a record. Hostile content (paths that leave the
// mirror, names that are not names, non-hex hashes) is refused with a reason.
bool parse_record(const rapidjson::Value &v, ProjectRecord &r, std::string &error);

// Writes a record's file list entry.
void file_to_json(const FileEntry &f, rapidjson::Value &out, rapidjson::Document::AllocatorType &a);

// An error record: {"type":"error","name":...,"serial":...,"tool":...,"reason":...,[file,url]}
std::string error_record(const std::string &tool, const std::string &name, long long serial,
                         const std::string &reason, const std::string &file = "", const std::string &url = "");

// Versions in PEP 440 order (unparseable ones last, by string).
void sort_versions(std::vector<std::string> &versions);

} // namespace pm
