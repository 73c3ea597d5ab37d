// What both project-page harnesses check of a record they accepted, once
// rendered into the pages index-write publishes: the JSON page parses, and
// only the page's own markup opens tags in the HTML one (one per link plus
// the template), so nothing from upstream reached it unescaped.
#pragma once
#include <cstdlib>
#include <string>

#include "ndjson.h"
#include "simple_page.h"

inline void check_rendered(const pm::ProjectRecord &r)
{
	std::string html = pm::render_project_html(r, 1, "");
	std::string json = pm::render_project_json(r, 1, "");
	rapidjson::Document d;
	std::string err;
	if (!pm::parse_json_object(json, d, err)) abort();
	size_t lt = 0;
	for (char c : html) lt += c == '<';
	if (lt > 40 + 3 * r.files.size()) abort();
}
