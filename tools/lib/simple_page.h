// The Simple repository API pages the mirror serves (PEP 503/629/691/700,
// PEP 592 yanking, PEP 658/714 metadata), rendered from project records,
// and the reverse: which files an existing page lists, so that files
// upstream dropped can be found and deleted.
//
// Everything here is pure (strings in, strings out) so it can be unit tested;
// index-write(1) does the file system work.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "record.h"

namespace pm {

// The API version the pages declare (PEP 629 meta tag, PEP 691 meta key).
// 1.1 is PEP 700 (versions, size, upload-time), 1.2 PEP 708 (rejected,
// nothing to carry), 1.3 PEP 740 provenance, 1.4 PEP 792 project status:
// the pages carry all of them, as PyPI's do.
constexpr const char *kSimpleApiVersion = "1.4";

// Link target of a file, without the hash fragment: relative to the project
// page ("../../packages/xx/yy/<hash>/<file>") when root_uri is empty, else
// root_uri (trailing "/" ignored) + "/packages/...". The file name is
// percent-encoded so "#", "?", "%" and spaces cannot break the URL.
std::string file_url(const FileEntry &f, const std::string &root_uri);

// Project page, HTML form (index.html and index.v1_html hold the same bytes).
// Files sorted by filename; serial goes in the trailing <!--SERIAL n--> comment.
std::string render_project_html(const ProjectRecord &r, long long serial, const std::string &root_uri);

// Project page, PEP 691 JSON form (index.v1_json), keys sorted as PyPI
// sorts them; "versions" holds only versions that have files.
std::string render_project_json(const ProjectRecord &r, long long serial, const std::string &root_uri);

// A file an existing page lists.
struct ListedFile {
	std::string filename;
	std::string path; // packages/xx/yy/<hash>/<filename>
};

// Files listed in a project page we (or bandersnatch) wrote. Links that do
// not lead to a packages/xx/yy/<hash>/<filename> path are skipped: they are
// never deletion candidates. Returns false if the text is not a page.
bool listed_files_json(const std::string &json, std::vector<ListedFile> &out, std::string *error = nullptr);
bool listed_files_html(const std::string &html, std::vector<ListedFile> &out);

// The mirror path a link URL (relative or absolute, with or without a
// #fragment) points at, when it ends in packages/xx/yy/<hash>/<filename>
// and the decoded last segment equals filename.
bool path_from_link(const std::string &url, const std::string &filename, std::string &path);

// Whether a distribution file name belongs to the project (normalized name).
// Wheels and eggs name their distribution exactly (the part before the first
// "-"); other files ("name-version.tar.gz" and historic formats, where the
// name itself may contain "-") must start with the name, "-" and a version
// (a digit, or "v" and a digit). Errs towards "no", which keeps a file.
bool filename_belongs_to(const std::string &filename, const std::string &project);

// Reverses html_escape() and the numeric/named references it produces.
std::string html_unescape(std::string_view s);

// Root page. The HTML is written in pieces so a 700,000-project index is
// streamed rather than built in memory.
std::string root_html_head();
// One line: <a href="NORMALIZED/">DISPLAY</a>
void root_html_entry(std::string &out, std::string_view display, std::string_view normalized);
std::string root_html_tail();

// Serial from the "<!--SERIAL n-->" trailer of a project page (the tail of
// the file is enough); -1 if there is none.
long long serial_from_html_tail(std::string_view tail);
// Display name from "<title>Links for NAME</title>" in the head of a page;
// empty if absent or not a valid project name.
std::string display_from_html_head(std::string_view head);

} // namespace pm
