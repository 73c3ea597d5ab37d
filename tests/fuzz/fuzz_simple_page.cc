// libFuzzer harness: an upstream Simple API project page, PEP 503 HTML (gumbo)
// and PEP 691 JSON, turned into a record's file list, then rendered into the
// pages index-write publishes. Invariants as for fuzz_project_json: every
// accepted file has a safe mirror path and an https provenance URL (or
// none); the HTML page carries no raw '<' from upstream; the JSON page parses.
#include <cstdlib>
#include <string>

#include "names.h"
#include "project_json.h"
#include "render_check.h"

static void check(const pm::ProjectJson &pj)
{
	pm::ProjectRecord r;
	r.name = "fuzz";
	r.display_name = "Fuzz";
	r.resolved = true;
	r.status = pj.status.empty() ? "active" : pj.status;
	r.files = pj.files;
	for (auto &f : r.files) {
		if (!pm::valid_package_path(f.path) || !pm::safe_filename(f.filename)) abort();
		if (!f.provenance.empty() && f.provenance.compare(0, 8, "https://") != 0) abort();
		if (f.size < 0) f.size = 0; // pkg-resolve fills HTML sizes in by HEAD
	}
	check_rendered(r);
}

extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const pm::ProjectJsonPolicy policy = pm::project_json_policy("https://pypi.org", {}, false);
	const std::string page = "https://pypi.org/simple/fuzz/";
	std::string text(reinterpret_cast<const char *>(data), size);
	pm::ProjectJson pj;
	if (pm::parse_simple_html(text, "fuzz", page, policy, pj)) check(pj);
	if (pm::parse_simple_json(text, "fuzz", page, policy, pj)) check(pj);
	return 0;
}
