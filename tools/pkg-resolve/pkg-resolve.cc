// pkg-resolve: turns project records into resolved ones by asking the JSON
// API of upstream (GET /pypi/<name>/json) for every file of every release.
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
#include "project_json.h"
#include "record.h"
#include "record_loop.h"
#include "url.h"
#include "url_policy.h"

using namespace pm;

static const char usage[] =
    "usage: pkg-resolve [-u URL] [--allow-non-https] [-j N] [--cache-bust]\n"
    "                   [--save-json DIR] [--allow-host HOST]... [-v|-q]\n"
    "\n"
    "Reads project records on stdin ({\"name\":\"requests\"} is enough), fetches\n"
    "URL/pypi/<name>/json for each, several at a time, and writes each record\n"
    "with its file list (files, last_serial, json_url, display_name, status)\n"
    "on stdout as soon as it is resolved. A project upstream does not know\n"
    "(404) becomes a removal record; one that cannot be fetched, or whose\n"
    "document lists a hostile or malformed file, becomes an error record.\n"
    "\n"
    "  -u, --upstream URL     upstream index (default $PYPI_MIRROR_UPSTREAM or\n"
    "                         https://pypi.org)\n"
    "      --allow-non-https  accept an http:// upstream and http:// file URLs\n"
    "  -j, --concurrency N    projects fetched at once (default 10)\n"
    "      --cache-bust       always add a unique query string (?_=SERIAL-RANDOM),\n"
    "                         so the CDN cannot answer from a stale copy\n"
    "      --save-json DIR    keep each JSON document as DIR/<name>.<serial>.json\n"
    "                         and name it in the record's json_file\n"
    "      --allow-host HOST  file URLs may also point at HOST (or HOST:PORT);\n"
    "                         repeatable. files.pythonhosted.org is allowed with\n"
    "                         the default upstream\n"
    PM_HTTP_USAGE
    "  -v, --verbose          more log output; -q, --quiet less\n"
    "  -h, --help             this help;  -V, --version  the version\n";

namespace {

struct Job {
	rapidjson::Document rec; // the input record, written back with what was learnt
	std::string name, display, json_url, fetch_url;
	long long serial = 0;
	int refetches = 0; // fetches repeated because the body did not parse
};

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
	enum { kAllowHttp = 1000, kCacheBust, kSaveJson, kAllowHost };
	static const option longopts[] = {{"upstream", required_argument, nullptr, 'u'},
	                                  {"allow-non-https", no_argument, nullptr, kAllowHttp},
	                                  {"concurrency", required_argument, nullptr, 'j'},
	                                  {"cache-bust", no_argument, nullptr, kCacheBust},
	                                  {"save-json", required_argument, nullptr, kSaveJson},
	                                  {"allow-host", required_argument, nullptr, kAllowHost},
	                                  PM_HTTP_LONGOPTS,
	    PM_COMMON_LONGOPTS,
	                                  {nullptr, 0, nullptr, 0}};
	const char *upstream_arg = nullptr;
	bool allow_http = false, cache_bust_all = false;
	int concurrency = 10;
	std::string save_dir;
	std::vector<std::string> extra_hosts;
	log_set_prog("pkg-resolve");
	int c;
	while ((c = getopt_long(argc, argv, "u:j:" PM_COMMON_SHORTOPTS, longopts, nullptr)) != -1) {
		if (common_option(c, "pkg-resolve", usage)) continue;
		if (pm::http_option(c, "pkg-resolve", optarg)) continue;
		switch (c) {
		case 'u': upstream_arg = optarg; break;
		case kAllowHttp: allow_http = true; break;
		case 'j': concurrency = static_cast<int>(parse_count("pkg-resolve", "--concurrency", optarg, 1, 1000)); break;
		case kCacheBust: cache_bust_all = true; break;
		case kSaveJson: save_dir = optarg; break;
		case kAllowHost:
			if (!*optarg || strpbrk(optarg, "/@?# ")) {
				usage_error("pkg-resolve", "--allow-host wants a host name (or HOST:PORT), not '%s'", optarg);
			}
			extra_hosts.push_back(optarg);
			break;
		}
	}
	no_operands("pkg-resolve", argc, argv);
	// File URLs follow the same rule as the upstream.
	if (allow_non_https_env()) allow_http = true;
	const std::string upstream = upstream_or_exit("pkg-resolve", upstream_arg, allow_http);
	const ProjectJsonPolicy policy = project_json_policy(upstream, extra_hosts, allow_http);

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

	std::function<void(std::shared_ptr<Job>)> start;
	auto done = [&](std::shared_ptr<Job> j, Response &resp) {
		if (resp.error.empty() && resp.status == 404) {
			LOG_INFO("%s no longer exists upstream (404): removing it", j->display.c_str());
			auto &r = j->rec;
			set_string(r, r, "type", "removal");
			set_string(r, r, "name", j->name);
			set_int(r, r, "serial", j->serial);
			set_string(r, r, "reason", "404 from upstream");
			for (const char *m : {"files", "json_file", "last_serial", "status"}) remove_member(r, m);
			removed++;
			loop.emit(r);
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
		long long last_serial = hdr_serial >= 0 ? hdr_serial : pj.last_serial;
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
		set_string(r, r, "status", "active");
		remove_member(r, "reason");
		if (!save_dir.empty())
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

	start = [&](std::shared_ptr<Job> j) {
		Request req;
		req.url = j->fetch_url;
		req.what = "project " + j->name;
		req.compressed = true;
		req.headers.push_back("Accept: application/json");
		http.add(std::move(req), [&done, j](Request &, Response &resp) { done(j, resp); });
	};

	auto feed = [&]() -> bool {
		if (!loop.next()) return false;
		const ProjectRecord &r = loop.record();
		auto j = std::make_shared<Job>();
		j->rec.Swap(loop.doc());
		j->name = r.name;
		j->display = r.display_name;
		j->serial = r.serial;
		j->json_url = upstream + "/pypi/" + url_escape(r.name) + "/json";
		j->fetch_url = j->json_url;
		if (cache_bust_all || get_bool(j->rec, "cache_bust"))
			// PyPI's CDN keeps query strings on /pypi/ URLs: this one is a new object.
			j->fetch_url += "?_=" + std::to_string(r.serial) + "-" + random_hex(rng);
		LOG_INFO("Syncing package: %s (serial %lld)", j->display.c_str(), j->serial);
		LOG_DEBUG("Getting /pypi/%s/json (serial %lld)", j->name.c_str(), j->serial);
		start(j);
		return true;
	};

	http.run(concurrency, feed);
	return loop.finish("%lld resolved, %lld removed, %lld failed", resolved, removed, failed);
}
