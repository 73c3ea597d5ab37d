// serial-check: lets through resolved project records whose upstream answer
// is at least as new as the serial the changelog promised, and sends the
// stale ones (a CDN copy older than the change) aside as "stale" records for
// cdn-purge(1) and another pkg-resolve(1) round, up to a limit of rounds.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "ndjson.h"
#include "options.h"
#include "record.h"
#include "record_loop.h"

using namespace pm;

int main(int argc, char **argv)
{
	std::string stale_path;
	long long stale_fd = -1, max_rounds = 3;
	log_set_prog("serial-check");
	parse_options("serial-check", kCommandLine, argc, argv, [&](int c) {
		switch (c) {
		case kOptStaleFile: stale_path = optarg; break;
		case kOptStaleFd: stale_fd = parse_count("serial-check", "--stale-fd", optarg, 0, 1 << 20); break;
		case kOptMaxRounds: max_rounds = parse_count("serial-check", "--max-rounds", optarg, 0, 1000); break;
		}
	});
	if (!stale_path.empty() && stale_fd >= 0) {
		usage_error("serial-check", "--stale-file and --stale-fd exclude each other");
	}
	FILE *stale = nullptr;
	if (!stale_path.empty()) {
		stale = fopen(stale_path.c_str(), "a");
		if (!stale) {
			LOG_TOOL_ERROR("cannot open %s: %s", stale_path.c_str(), strerror(errno));
			return kExitUsage;
		}
	} else if (stale_fd >= 0) {
		if (stale_fd <= 2 || fcntl(static_cast<int>(stale_fd), F_GETFD) < 0 ||
		    !(stale = fdopen(static_cast<int>(stale_fd), "a"))) {
			usage_error("serial-check", "--stale-fd %lld is not an open file descriptor above 2", stale_fd);
		}
	}

	RecordLoop loop("serial-check", {"project"});
	NdjsonWriter stale_out(stale ? stale : stdout);
	long long fresh = 0, stale_n = 0, dropped = 0, gave_up = 0;

	loop.run([&](ProjectRecord &r, rapidjson::Document &doc) {
		if (r.last_serial >= r.serial) {
			fresh++;
			loop.emit_raw(loop.line());
			return;
		}
		if (r.last_serial < 0) {
			// Not resolved: nothing to compare. Let the next tool decide.
			LOG_TOOL_WARN("input line %zu: project %s has no last_serial (not resolved?); passed on",
			              loop.line_number(), r.name.c_str());
			loop.emit_raw(loop.line());
			return;
		}
		loop.mark_failed();
		std::string json_url = get_string(doc, "json_url");
		long long round = get_int(doc, "round", 0);
		if (round < 0) round = 0;
		LOG_WARN("Expected PyPI serial %lld for request %s but got %lld", r.serial,
		         json_url.empty() ? r.name.c_str() : json_url.c_str(), r.last_serial);
		if (round >= max_rounds) {
			LOG_ERROR("Stale serial for %s (%lld) not updating. Giving up.", r.display_name.c_str(), r.serial);
			gave_up++;
			std::string reason = "stale serial: expected " + std::to_string(r.serial) + ", got " +
			                     std::to_string(r.last_serial) + " after " + std::to_string(round) + " rounds";
			loop.emit_error(r.name, r.serial, reason, "", json_url);
			return;
		}
		stale_n++;
		if (!stale) {
			dropped++;
			LOG_TOOL_INFO("%s is stale and no --stale-file was given: dropped", r.name.c_str());
			return;
		}
		// The record keeps what it carried (unknown fields too) but not the
		// stale answer's file list and spooled document.
		for (const char *m : {"files", "status", "json_file", "cache_bust", "reason"}) doc.RemoveMember(m);
		set_string(doc, doc, "type", "stale");
		set_string(doc, doc, "name", r.name);
		set_string(doc, doc, "display_name", r.display_name);
		set_int(doc, doc, "serial", r.serial);
		set_int(doc, doc, "last_serial", r.last_serial);
		if (json_url.empty()) doc.RemoveMember("json_url");
		set_int(doc, doc, "round", round);
		if (!stale_out.write(doc)) {
			LOG_TOOL_ERROR("cannot write stale record: %s", strerror(errno));
			exit(kExitFatal);
		}
	});
	int status = loop.finish();
	if (status == kExitFatal) return status;
	if (stale && fclose(stale) != 0) {
		LOG_TOOL_ERROR("cannot write stale records: %s", strerror(errno));
		return kExitFatal;
	}
	LOG_TOOL_INFO("%lld fresh, %lld stale%s, %lld given up", fresh, stale_n,
	         dropped ? " (dropped: no stale output)" : "", gave_up);
	return status;
}
