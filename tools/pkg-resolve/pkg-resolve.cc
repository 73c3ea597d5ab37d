// pkg-resolve: turns project records into resolved ones by asking upstream
// for every file of every release: its JSON API (GET /pypi/<name>/json) or
// its Simple API project page (GET /simple/<name>/, PEP 691 JSON or PEP 503
// HTML), as --source says.
// Many projects are fetched at once; input is read only when a transfer slot
// is free and each record is written the moment its project is done, so
// memory does not grow with the length of the input and a slow or large
// document holds up nobody else.
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "cli.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "project_json.h"
#include "record.h"
#include "record_loop.h"
#include "url.h"
#include "url_policy.h"

using namespace pm;

namespace {

enum class Source { Json, Simple, Auto };

struct Job : HeldRecord { // rec: the input record, written back with what was learnt
	std::string json_url, fetch_url;
	long long serial = 0;
	// The serial is the mirror's own count (changelog-fetch's local_serial:
	// an upstream without serials), so a serial on the page is of another
	// numbering: the record's is taken as reached.
	bool local_serial = false;
	int refetches = 0; // fetches repeated because the body did not parse
	bool simple = false; // this fetch is of the Simple page
	bool json_404 = false; // auto: the JSON API did not know it
	// Simple HTML pages have no sizes: HEAD requests fill them in.
	ProjectJson pj;
	long long last_serial = -1;
	int heads_pending = 0;
	std::string head_error, head_error_file, head_error_url;
};

// What the Simple API answered in: its media type decides the parser.
enum class PageKind { Json, Html, Other };
PageKind page_kind(const std::string &content_type, const std::string &body)
{
	std::string t = content_type.substr(0, content_type.find(';'));
	while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
	for (auto &c : t) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
	if (t == "application/vnd.pypi.simple.v1+json" || t == "application/vnd.pypi.simple.latest+json" ||
	    t == "application/json")
		return PageKind::Json;
	if (t == "text/html" || t == "application/vnd.pypi.simple.v1+html" ||
	    t == "application/vnd.pypi.simple.latest+html" || t == "application/xhtml+xml")
		return PageKind::Html;
	if (!t.empty()) return PageKind::Other;
	// No Content-Type at all (some static servers): the first byte tells.
	size_t i = body.find_first_not_of(" \t\r\n");
	if (i == std::string::npos) return PageKind::Other;
	return body[i] == '{' ? PageKind::Json : body[i] == '<' ? PageKind::Html : PageKind::Other;
}

std::string random_hex(std::mt19937_64 &rng)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v = rng();
	std::string s;
	for (int i = 0; i < 12; i++, v >>= 4) s.push_back(hex[v & 15]);
	return s;
}

// X-PyPI-Last-Serial: ASCII digits only; -1 if absent or anything else.
long long serial_header(const std::string &h)
{
	if (h.empty() || h.size() > 18) return -1;
	long long v = 0;
	for (char c : h) {
		if (c < '0' || c > '9') return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}

void remove_member(rapidjson::Value &obj, const char *name)
{
	if (obj.IsObject()) obj.RemoveMember(name);
}

} // namespace

int main(int argc, char **argv)
{
	UpstreamOptions up(10, 1000);
	bool cache_bust_all = false;
	Source source = Source::Auto;
	std::string save_dir;
	log_set_prog("pkg-resolve");
	parse_options("pkg-resolve", kCommandLine, argc, argv, [&](int c) {
		if (up.option(c, "pkg-resolve", optarg)) return;
		switch (c) {
		case kOptCacheBust: cache_bust_all = true; break;
		case kOptSaveJson: save_dir = optarg; break;
		case kOptSource:
			if (!strcmp(optarg, "json")) source = Source::Json;
			else if (!strcmp(optarg, "simple")) source = Source::Simple;
			else if (!strcmp(optarg, "auto")) source = Source::Auto;
			else usage_error("pkg-resolve", "--source wants json, simple or auto, not '%s'", optarg);
			break;
		}
	});
	// File URLs follow the same rule as the upstream.
	const std::string upstream = up.resolve("pkg-resolve");
	const ProjectJsonPolicy policy = project_json_policy(upstream, up.extra_hosts, up.allow_http);

	if (!save_dir.empty()) {
		if (!mkdir_p(save_dir)) {
			LOG_TOOL_ERROR("cannot create %s: %s", save_dir.c_str(), strerror(errno));
			return kExitFatal;
		}
		// The record names the file for a later tool that may run elsewhere: absolute.
		char buf[PATH_MAX];
		if (realpath(save_dir.c_str(), buf)) save_dir = buf;
	}

	Http http;
	const int max_refetches = http.options().retries;
	RecordLoop loop("pkg-resolve", {"project"});
	std::mt19937_64 rng{std::random_device{}()};
	long long resolved = 0, removed = 0, failed = 0;

	auto fail = [&](const Job &j, const std::string &reason, const std::string &file = "",
	                const std::string &url = "") {
		failed++;
		loop.emit_error(j.name, j.serial, reason, file, url);
	};

	// Writes the resolved record (both sources end here).
	auto emit_resolved = [&](std::shared_ptr<Job> j, ProjectJson &pj, long long last_serial,
	                         const std::string &spool_path) {
		std::string display = j->display;
		if (!pj.display_name.empty()) {
			if (valid_project_name(pj.display_name) && normalize_name(pj.display_name) == j->name)
				display = pj.display_name;
			else
				LOG_WARN("%s: upstream calls it '%s', which is not the same project name; keeping '%s'",
				         j->name.c_str(), pj.display_name.c_str(), display.c_str());
		}

		auto &r = j->rec;
		auto &a = r.GetAllocator();
		set_string(r, r, "type", "project");
		set_string(r, r, "name", j->name);
		set_string(r, r, "display_name", display);
		set_int(r, r, "serial", j->serial);
		set_int(r, r, "last_serial", last_serial);
		set_string(r, r, "json_url", j->json_url);
		set_string(r, r, "status", pj.status.empty() ? "active" : pj.status);
		remove_member(r, "reason");
		if (!spool_path.empty())
			set_string(r, r, "json_file", spool_path);
		else
			remove_member(r, "json_file");
		remove_member(r, "files");
		rapidjson::Value files(rapidjson::kArrayType);
		files.Reserve(static_cast<rapidjson::SizeType>(pj.files.size()), a);
		for (auto &f : pj.files) {
			rapidjson::Value fv;
			file_to_json(f, fv, a);
			files.PushBack(fv, a);
		}
		r.AddMember("files", files, a);
		LOG_DEBUG("Resolved %s: %zu files, last serial %lld", j->name.c_str(), pj.files.size(), last_serial);
		resolved++;
		loop.emit(r);

	};

	auto removal = [&](std::shared_ptr<Job> j, const char *why) {
		LOG_INFO("%s no longer exists upstream (%s): removing it", j->display.c_str(), why);
		auto &r = j->rec;
		set_string(r, r, "type", "removal");
		set_string(r, r, "name", j->name);
		set_int(r, r, "serial", j->serial);
		set_string(r, r, "reason", std::string(why) + " from upstream");
		for (const char *m : {"files", "json_file", "last_serial", "status"}) remove_member(r, m);
		removed++;
		loop.emit(r);
	};

	std::function<void(std::shared_ptr<Job>)> start;
	std::function<void(std::shared_ptr<Job>, Response &)> done_simple;
	auto done = [&](std::shared_ptr<Job> j, Response &resp) {
		if (j->simple) {
			done_simple(j, resp);
			return;
		}
		if (resp.error.empty() && resp.status == 404 && source == Source::Auto) {
			// A quarantined project, or an index without a JSON API: ask
			// its Simple page before calling the project gone.
			LOG_DEBUG("%s: the JSON API does not know it (404); asking the Simple API", j->name.c_str());
			j->simple = true;
			j->json_404 = true;
			j->refetches = 0;
			start(j);
			return;
		}
		if (resp.error.empty() && resp.status == 404) {
			removal(j, "404");
			return;
		}
		if (!resp.ok()) {
			LOG_ERROR("Error fetching %s for %s: %s (after %d attempt%s)", j->fetch_url.c_str(), j->name.c_str(),
			          resp.describe().c_str(), resp.attempts, resp.attempts == 1 ? "" : "s");
			fail(*j, "cannot fetch " + j->fetch_url + ": " + resp.describe(), "", j->fetch_url);
			return;
		}
		long long hdr_serial = serial_header(resp.header("x-pypi-last-serial"));

		// The document is parsed in place, so a copy to spool is taken
		// first: straight into its temporary file when the serial (and so
		// the file name) is already known from the header.
		std::unique_ptr<AtomicFile> spool;
		std::string spool_copy, spool_path, err;
		auto spool_target = [&](long long s) { return save_dir + "/" + j->name + "." + std::to_string(s) + ".json"; };
		if (!save_dir.empty()) {
			if (hdr_serial >= 0) {
				spool_path = spool_target(hdr_serial);
				spool = std::make_unique<AtomicFile>();
				if (!spool->open(spool_path, &err) || !spool->write(resp.body)) {
					LOG_TOOL_ERROR("%s: cannot spool JSON: %s", j->name.c_str(),
					          err.empty() ? strerror(errno) : err.c_str());
					fail(*j, "cannot spool JSON to " + spool_path + ": " + (err.empty() ? strerror(errno) : err));
					return;
				}
			} else {
				spool_copy = resp.body;
			}
		}

		ProjectJson pj;
		bool ok = parse_project_json(resp.body, policy, pj);
		std::string().swap(resp.body); // done with the text: free it before writing
		if (!ok && pj.syntax_error && j->refetches < max_refetches) {
			// A body cut short or garbled in a way the transport did not notice.
			j->refetches++;
			LOG_WARN("%s: %s; fetching it again", j->fetch_url.c_str(), pj.error.c_str());
			start(j);
			return;
		}
		if (!ok) {
			LOG_ERROR("Refusing %s from %s: %s", j->name.c_str(), j->fetch_url.c_str(), pj.error.c_str());
			fail(*j, pj.error, pj.error_file, pj.error_url.empty() ? j->fetch_url : pj.error_url);
			return;
		}
		long long last_serial = j->local_serial ? j->serial : hdr_serial >= 0 ? hdr_serial : pj.last_serial;
		if (last_serial < 0) {
			LOG_ERROR("%s: no X-PyPI-Last-Serial header and no last_serial in the document", j->fetch_url.c_str());
			fail(*j, "no X-PyPI-Last-Serial header and no last_serial in the document", "", j->fetch_url);
			return;
		}
		if (!save_dir.empty()) {
			bool saved;
			if (spool) {
				saved = spool->commit(false, &err);
			} else {
				spool_path = spool_target(last_serial);
				saved = write_file_atomic(spool_path, spool_copy, false, &err);
			}
			if (!saved) {
				LOG_TOOL_ERROR("%s: cannot spool JSON: %s", j->name.c_str(), err.c_str());
				fail(*j, "cannot spool JSON to " + spool_path + ": " + err);
				return;
			}
		}
		emit_resolved(j, pj, last_serial, spool_path);
	};

	// The HEAD answers for an HTML page's files are in: emit or fail.
	auto heads_done = [&](std::shared_ptr<Job> j) {
		if (!j->head_error.empty()) {
			LOG_ERROR("Refusing %s: %s", j->name.c_str(), j->head_error.c_str());
			fail(*j, j->head_error, j->head_error_file, j->head_error_url);
			return;
		}
		emit_resolved(j, j->pj, j->last_serial, "");
	};

	done_simple = [&](std::shared_ptr<Job> j, Response &resp) {
		const std::string &url = j->fetch_url;
		if (resp.error.empty() && resp.status == 404) {
			removal(j, "404");
			return;
		}
		if (resp.error.empty() && (resp.status == 401 || resp.status == 403)) {
			std::string why = "upstream refused access to " + url + " (HTTP " + std::to_string(resp.status) +
			                  (resp.status == 401 ? "): it wants credentials, or they are wrong"
			                                      : "): these credentials may not read it");
			LOG_ERROR("%s: %s", j->name.c_str(), why.c_str());
			fail(*j, why, "", url);
			return;
		}
		if (!resp.ok()) {
			LOG_ERROR("Error fetching %s for %s: %s (after %d attempt%s)", url.c_str(), j->name.c_str(),
			          resp.describe().c_str(), resp.attempts, resp.attempts == 1 ? "" : "s");
			fail(*j, "cannot fetch " + url + ": " + resp.describe(), "", url);
			return;
		}
		long long hdr_serial = serial_header(resp.header("x-pypi-last-serial"));
		std::string ctype = resp.header("content-type");
		PageKind kind = page_kind(ctype, resp.body);
		ProjectJson &pj = j->pj;
		bool ok;
		if (kind == PageKind::Json) {
			ok = parse_simple_json(resp.body, j->name, resp.url.empty() ? url : resp.url, policy, pj);
		} else if (kind == PageKind::Html) {
			ok = parse_simple_html(resp.body, j->name, resp.url.empty() ? url : resp.url, policy, pj);
		} else {
			pj = ProjectJson();
			pj.error = "the Simple page is neither HTML nor JSON (Content-Type: " +
			           (ctype.empty() ? std::string("none") : ctype.substr(0, 100)) + ")";
			ok = false;
		}
		std::string().swap(resp.body);
		if (!ok && pj.syntax_error && j->refetches < max_refetches) {
			j->refetches++;
			LOG_WARN("%s: %s; fetching it again", url.c_str(), pj.error.c_str());
			start(j);
			return;
		}
		if (!ok) {
			LOG_ERROR("Refusing %s from %s: %s", j->name.c_str(), url.c_str(), pj.error.c_str());
			fail(*j, pj.error, pj.error_file, pj.error_url.empty() ? url : pj.error_url);
			return;
		}
		// An index without serials (a static or private one): the serial the
		// record asks for is taken as reached, so serial-check passes it.
		j->last_serial = j->local_serial ? j->serial
		                 : hdr_serial >= 0 ? hdr_serial
		                 : pj.last_serial >= 0 ? pj.last_serial
		                                       : j->serial;
		// The page's title carries the display name (JSON has only the normalized one).
		if (kind == PageKind::Html && !pj.page_name.empty()) pj.display_name = pj.page_name;
		if (pj.status == "quarantined" && !pj.files.empty()) {
			// PEP 792: a quarantined project's files must not be offered.
			LOG_WARN("%s is quarantined upstream but its page lists %zu files: not offering them", j->name.c_str(),
			         pj.files.size());
			pj.files.clear();
		}
		if (!pj.sizes_missing) {
			emit_resolved(j, pj, j->last_serial, "");
			return;
		}
		// PEP 503 HTML carries no sizes, and records (and PEP 700 pages)
		// need them: ask for each file's Content-Length.
		for (auto &f : pj.files) {
			if (f.size >= 0) continue;
			j->heads_pending++;
			Request req;
			req.method = "HEAD";
			req.url = f.url;
			req.what = "size of " + f.filename;
			FileEntry *fp = &f;
			http.add(std::move(req), [&heads_done, &policy, j, fp](Request &, Response &hr) {
				long long len = -1;
				std::string cl = hr.header("content-length");
				if (hr.ok() && !cl.empty() && cl.size() < 19 && cl.find_first_not_of("0123456789") == std::string::npos)
					len = std::stoll(cl);
				if (len >= 0 && len <= policy.max_file_size) {
					fp->size = len;
				} else if (j->head_error.empty()) {
					j->head_error = "file " + fp->filename + ": cannot learn its size (HEAD " +
					                (hr.ok() ? std::string("without a usable Content-Length") : hr.describe()) + ")";
					j->head_error_file = fp->filename;
					j->head_error_url = fp->url;
				}
				if (--j->heads_pending == 0) heads_done(j);
			});
		}
		if (j->heads_pending == 0) emit_resolved(j, pj, j->last_serial, "");
	};

	start = [&](std::shared_ptr<Job> j) {
		Request req;
		req.what = "project " + j->name;
		req.compressed = true;
		if (j->simple) {
			j->json_url = upstream + "/simple/" + url_escape(j->name) + "/";
			// PEP 691: JSON preferred, HTML accepted (an index that only has
			// HTML, or a static mirror's index.html).
			req.url = j->fetch_url = upstream + "/simple/" + url_escape(j->name) + "/";
			req.headers.push_back("Accept: application/vnd.pypi.simple.v1+json, "
			                      "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01");
		} else {
			req.url = j->fetch_url;
			req.headers.push_back("Accept: application/json");
		}
		http.add(std::move(req), [&done, j](Request &, Response &resp) { done(j, resp); });
	};

	auto feed = [&]() -> bool {
		if (!loop.ready_for(http)) return true; // the fetches go on until input comes
		if (!loop.next()) return false;
		const ProjectRecord &r = loop.record();
		auto j = std::make_shared<Job>();
		loop.take(*j);
		j->serial = r.serial;
		j->local_serial = get_bool(j->rec, "local_serial");
		j->json_url = upstream + "/pypi/" + url_escape(r.name) + "/json";
		j->fetch_url = j->json_url;
		j->simple = source == Source::Simple;
		if (j->simple && (cache_bust_all || get_bool(j->rec, "cache_bust")))
			// PyPI's CDN strips query strings on /simple/: nothing busts it.
			LOG_DEBUG("%s: a Simple page cannot be fetched past the CDN; asking again as it is", j->name.c_str());
		else if (cache_bust_all || get_bool(j->rec, "cache_bust"))
			// PyPI's CDN keeps query strings on /pypi/ URLs: this one is a new object.
			j->fetch_url += "?_=" + std::to_string(r.serial) + "-" + random_hex(rng);
		LOG_INFO("Syncing package: %s (serial %lld)", j->display.c_str(), j->serial);
		LOG_DEBUG("Getting /%s/%s%s (serial %lld)", j->simple ? "simple" : "pypi", j->name.c_str(),
		          j->simple ? "/" : "/json", j->serial);
		start(j);
		return true;
	};

	http.run(up.concurrency, feed);
	return loop.finish("%lld resolved, %lld removed, %lld failed", resolved, removed, failed);
}
