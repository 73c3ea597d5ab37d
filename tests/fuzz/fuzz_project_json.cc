// libFuzzer harness: an upstream /pypi/<name>/json document turned into a
// record's file list, then rendered into the pages index-write publishes.
// Invariants: every accepted file has a safe mirror path; the HTML page
// carries no raw '<' from upstream strings; the JSON page parses.
#include <cstdlib>
#include <string>

#include "names.h"
#include "project_json.h"
#include "render_check.h"

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
	check_rendered(r);
	return 0;
}
