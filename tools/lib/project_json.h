// Conversion of an upstream JSON API document (GET /pypi/<name>/json) into
// the file list of a project record. The document is untrusted: every file
// entry is checked (name, URL host and shape, hash, size, text fields) and
// one bad entry refuses the whole project, so a partial list is never
// published. Used by pkg-resolve(1); kept here so it can be unit-tested.
#pragma once
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "record.h"

namespace pm {

struct ProjectJsonPolicy {
	// Hosts file URLs may point at: "host" (any port) or "host:port",
	// lower-case. IPv6 literals in brackets, as in a URL.
	std::vector<std::string> allowed_hosts;
	bool allow_http = false;            // accept http:// file URLs (tests, private indexes)
	long long max_file_size = 1LL << 40; // a size above this is taken as hostile
};

// The policy for an upstream base URL: its own host:port is allowed and, for
// https://pypi.org, files.pythonhosted.org as well; extra_hosts are added.
ProjectJsonPolicy project_json_policy(const std::string &upstream, const std::vector<std::string> &extra_hosts,
                                      bool allow_http);

struct ProjectJson {
	std::string display_name;   // info.name, empty if absent or not a string
	long long last_serial = -1; // the body's last_serial, -1 if absent
	std::vector<FileEntry> files;
	// Set when conversion fails: the reason, and the file and URL it
	// concerns when it concerns one (made printable, bounded).
	std::string error, error_file, error_url;
	bool syntax_error = false; // the text is not JSON at all (worth fetching again)
};

// Parses text in place (it is overwritten) with UTF-8 validation and no
// recursion, then converts. Returns false with out.error set.
bool parse_project_json(std::string &text, const ProjectJsonPolicy &policy, ProjectJson &out);

// Converts an already parsed document.
bool convert_project_json(const rapidjson::Value &doc, const ProjectJsonPolicy &policy, ProjectJson &out);

// Checks one file URL against the policy and derives the mirror path
// ("packages/xx/yy/<hash>/<filename>"). Sets why when it is refused.
bool check_file_url(const std::string &url, const std::string &filename, const ProjectJsonPolicy &policy,
                    std::string &path, std::string *why);

} // namespace pm
