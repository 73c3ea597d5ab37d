// Conversion of an upstream project document into the file list of a
// project record: the JSON API (GET /pypi/<name>/json), and the Simple API
// project page (GET /simple/<name>/) in its PEP 691 JSON and PEP 503 HTML
// forms. The document is untrusted: every file
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
	long long last_serial = -1; // the body's last_serial (Simple: _last-serial, <!--SERIAL n-->), -1 if absent
	// Simple API only: the project the page names (JSON "name", HTML
	// "Links for NAME"), empty if it names none; and its PEP 792 status,
	// empty if the page gives none (an index older than API 1.4).
	std::string page_name, status;
	// HTML only: the PEP 503 form has no size (PEP 700 is JSON-only); files
	// carry size -1 and the caller must learn it before writing records.
	bool sizes_missing = false;
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

// A Simple API project page, PEP 691 JSON, of project (normalized, for the
// versions of its files). page_url resolves relative file
// and provenance URLs. Parses in place like parse_project_json.
bool parse_simple_json(std::string &text, const std::string &project, const std::string &page_url, const ProjectJsonPolicy &policy,
                       ProjectJson &out);

// A Simple API project page, PEP 503 HTML (parsed with gumbo, an HTML5
// parser, so markup is read as browsers and pip read it).
bool parse_simple_html(const std::string &text, const std::string &project, const std::string &page_url, const ProjectJsonPolicy &policy,
                       ProjectJson &out);

// The version part of a distribution file name of the project (normalized
// name): wheels and eggs name it as their second field, sdists and older
// formats after the name; empty if it cannot be told.
std::string version_from_filename(const std::string &filename, const std::string &project);

// Checks one file URL against the policy and derives the mirror path
// ("packages/xx/yy/<hash>/<filename>"). Sets why when it is refused.
// A URL of another layout (devpi's /root/pypi/+f/abc/def.../FILE,
// Artifactory's or GitLab's paths) names only the file in its last
// segment: given the file's sha256 (64 lowercase hex digits), the path is
// then packages/<sha[0:2]>/<sha[2:4]>/<sha[4:]>/<filename>, the place PyPI's
// layout would give it with sha256 for its hash.
bool check_file_url(const std::string &url, const std::string &filename, const ProjectJsonPolicy &policy,
                    std::string &path, std::string *why, const std::string &sha256 = "");

} // namespace pm
