// cdn-purge: asks the CDN in front of upstream to drop its copies of a stale
// project's JSON document and simple pages (HTTP PURGE), then writes the
// project back as a record for another pkg-resolve(1) round. PyPI refuses
// anonymous PURGE nowadays; then the records ask pkg-resolve to bust the
// cache with a query string instead, which PyPI's CDN cannot answer from an
// old copy.
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <thread>

#include "cli.h"
#include "http.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "record.h"
#include "record_loop.h"
#include "url.h"
#include "url_policy.h"

using namespace pm;

namespace {

struct Item : HeldRecord {
	std::vector<std::string> urls;
	size_t next = 0;       // index of the next URL to send
	int outstanding = 0;   // PURGEs sent and not yet answered
	size_t purged = 0;     // answered 2xx
	bool refused = false;  // refused, or not sent because PURGE is unavailable
	bool failed = false;
};

} // namespace

int main(int argc, char **argv)
{
	UpstreamOptions up(4, 100);
	bool no_purge = false;
	long long rate = 10;
	log_set_prog("cdn-purge");
	parse_options("cdn-purge", kCommandLine, argc, argv, [&](int c) {
		if (up.option(c, "cdn-purge", optarg)) return;
		switch (c) {
		case kOptRate: rate = parse_count("cdn-purge", "--rate", optarg, 0, 10000); break;
		case kOptNoPurge: no_purge = true; break;
		}
	});
	const std::string upstream = up.resolve("cdn-purge");
	const std::string origin = url_origin(upstream);

	Http http;
	RecordLoop loop("cdn-purge", {"stale"});
	bool unavailable = false; // upstream refused PURGE: send no more this run
	long long n_purged = 0, n_refused = 0, n_failed = 0;
	std::shared_ptr<Item> cur; // the record whose URLs are being sent

	using clock = std::chrono::steady_clock;
	const auto interval = rate > 0 ? std::chrono::duration_cast<clock::duration>(
	                                     std::chrono::duration<double>(1.0 / static_cast<double>(rate)))
	                               : clock::duration::zero();
	auto next_slot = clock::now();

	auto finish = [&](const std::shared_ptr<Item> &it) {
		if (it->next < it->urls.size() || it->outstanding > 0) return;
		bool all = !no_purge && !it->urls.empty() && it->purged == it->urls.size();
		if (!no_purge) {
			if (all)
				n_purged++;
			else if (it->refused)
				n_refused++;
			else
				n_failed++;
		}
		auto &r = it->rec;
		long long round = get_int(r, "round", 0);
		set_string(r, r, "type", "project");
		set_string(r, r, "name", it->name);
		set_string(r, r, "display_name", it->display);
		set_int(r, r, "round", (round < 0 ? 0 : round) + 1);
		// Purged: an ordinary request now reaches origin. Otherwise only a
		// URL the CDN has never seen is sure to.
		set_bool(r, r, "cache_bust", !all);
		// What the stale answer said is no longer the question.
		r.RemoveMember("last_serial");
		r.RemoveMember("json_url");
		LOG_DEBUG("%s: %s, round %lld next", it->name.c_str(), all ? "purged" : "to be cache-busted", round + 1);
		loop.emit(r);
	};

	auto feed = [&]() -> bool {
		if (loop.broken()) return false;
		if (cur) {
			auto it = cur;
			if (unavailable) {
				// Refused for one project means refused for all: do not ask again.
				it->refused = true;
				it->next = it->urls.size();
				cur = nullptr;
				finish(it);
				return true;
			}
			if (rate > 0) {
				auto now = clock::now();
				if (next_slot > now) {
					pm::log_flush(); // the records held (record_loop.h) go out before the wait
					std::this_thread::sleep_for(next_slot - now);
				}
				next_slot = std::max(next_slot, now) + interval;
			}
			Request req;
			req.method = "PURGE";
			req.url = it->urls[it->next++];
			req.what = "purge for " + it->name;
			if (it->next == it->urls.size()) cur = nullptr;
			it->outstanding++;
			LOG_DEBUG("PURGE %s", req.url.c_str());
			http.add(std::move(req), [&, it](Request &rq, Response &resp) {
				it->outstanding--;
				if (resp.error.empty() && resp.status >= 200 && resp.status < 300) {
					it->purged++;
				} else if (resp.error.empty() && (resp.status == 401 || resp.status == 403)) {
					it->refused = true;
					if (!unavailable) {
						LOG_WARN("PURGE refused by upstream (HTTP %ld): falling back to cache-busting re-resolution",
						         resp.status);
						if (!resp.header("fastly-purge-requires-auth").empty())
							LOG_DEBUG("upstream says Fastly-Purge-Requires-Auth: %s",
							          resp.header("fastly-purge-requires-auth").c_str());
					}
					unavailable = true;
				} else {
					it->failed = true;
					LOG_WARN("PURGE %s failed: %s; %s will be re-resolved with cache busting", rq.url.c_str(),
					         resp.describe().c_str(), it->name.c_str());
				}
				finish(it);
			});
			return true;
		}

		if (!loop.ready_for(http)) return true; // the purges go on until input comes
		if (!loop.next()) return false;
		const ProjectRecord &r = loop.record();
		auto it = std::make_shared<Item>();
		loop.take(*it);
		if (!no_purge) {
			// Only URLs of our upstream: a record must not aim PURGE elsewhere.
			std::string json_url = get_string(it->rec, "json_url");
			std::string own = upstream + "/pypi/" + url_escape(r.name) + "/json";
			if (json_url.empty() || url_origin(json_url) != origin) {
				if (!json_url.empty())
					LOG_TOOL_WARN("input line %zu: json_url %s is not on %s; purging %s", loop.line_number(),
					         json_url.c_str(), upstream.c_str(), own.c_str());
				json_url = own;
			}
			it->urls.push_back(json_url);
			it->urls.push_back(upstream + "/simple/" + url_escape(r.name) + "/");
			if (r.display_name != r.name) it->urls.push_back(upstream + "/simple/" + url_escape(r.display_name) + "/");
			if (unavailable) {
				it->refused = true;
				it->next = it->urls.size();
				finish(it);
				return true;
			}
			LOG_INFO("Purging %s (serial %lld, upstream answered %lld)", r.display_name.c_str(), r.serial,
			         r.last_serial);
			cur = it;
		} else {
			finish(it);
		}
		return true;
	};

	http.run(up.concurrency, feed);
	return loop.finish("%lld purged, %lld refused, %lld failed", n_purged, n_refused, n_failed);
}
