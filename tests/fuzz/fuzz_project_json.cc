// libFuzzer harness: an upstream /pypi/<name>/json document turned into a
// record's file list, then rendered into the pages index-write publishes.
// Invariants: every accepted file has a safe mirror path; the HTML page
// carries no raw '<' from upstream strings; the JSON page parses.
#include <cstdlib>
#include <string>

#include "names.h"
#include "ndjson.h"
#include "project_json.h"
#include "simple_page.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	std::string text(reinterpret_cast<const char *>(data), size);
	static const pm::ProjectJsonPolicy policy = pm::project_json_policy("https://pypi.org", {}, false);
	pm::ProjectJson pj;
	if (!pm::parse_project_json(text, policy, pj)) return 0;
	pm::ProjectRecord r;
	r.name = "fuzz";
	r.display_name = "Fuzz";
	r.resolved = true;
	r.files = pj.files;
	for (auto &f : r.files)
		if (!pm::valid_package_path(f.path) || !pm::safe_filename(f.filename)) abort();
	std::string html = pm::render_project_html(r, 1, "");
	std::string json = pm::render_project_json(r, 1, "");
	rapidjson::Document d;
	std::string err;
	if (!pm::parse_json_object(json, d, err)) abort();
	// Only the page's own markup may open tags: one per link plus the template.
	size_t lt = 0;
	for (char c : html) lt += c == '<';
	if (lt > 40 + 3 * r.files.size()) abort();
	return 0;
}
