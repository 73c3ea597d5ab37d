// The state a mirror run keeps between runs, and the rules that move it:
// which projects a run takes up (plan), what its records say it achieved
// (collect), how far DIR/status may advance, and the summary, last-run file
// and metrics that report it. mirror-state(1) is the command line over it;
// pypi-mirror(1) only runs it. The files (under the mirror directory):
//   status                     bandersnatch's serial: every change up to it is on disk
//   pypi-mirror.failed         {"name","serial","first"} per project still to land
//   pypi-mirror.deferred       {"name"} per project with releases held back by [min_age]
//   pypi-mirror.synced-serial  "TARGET STATUS": changes up to TARGET were processed
//                              when status was STATUS
//   pypi-mirror.filters        fingerprint of the filter rules the mirror was pruned to
//   pypi-mirror.last-run       the last run's summary: a line for people, then the
//                              summary record
#pragma once
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layout.h"
#include "mirror_store.h"

namespace pm {

// The state files, as the layout names them, and the storage they are on
// (mirror_store.h): the mirror directory, or the mirror's bucket.
struct StatePaths {
	explicit StatePaths(const std::string &dir);
	explicit StatePaths(std::shared_ptr<MirrorStore> s);
	std::shared_ptr<MirrorStore> store;
	Layout m;
	std::string dir, status, failed, deferred, synced, filters, last_run, last_modified;
};

// name -> serial (the serial the mirror must reach for it) and, for the
// failed list, first (the earliest serial it still misses; bounds status;
// 0 for a project taken up for no change of upstream's, which bounds nothing).
struct Pending {
	long long serial = 0;
	long long first = 0;
};
using NameMap = std::map<std::string, Pending>;

// Reads a list of {"name":...,"serial":...[,"first":...]} records (the failed,
// deferred and held lists). A missing file is an empty list. Of several
// records for one name the highest serial wins. Lines that are not records
// of a valid normalized name are an error (the file is ours: it is damaged).
bool read_name_list(const std::string &path, NameMap &out, std::string &error);
// The same, of a state file on the mirror's storage.
bool read_name_list(MirrorStore &s, const std::string &path, NameMap &out, std::string &error);

// The projects the mirror holds, with the serial their pages were written at:
// from the root index.v1_json when it is usable, else from the page
// directories. The one place that asks; see index_root.h.
bool held_projects(const std::string &mirror_dir, NameMap &out, std::string &error);
bool held_projects(MirrorStore &s, NameMap &out, std::string &error);
// The same one project at a time, in name order (normalized name, serial),
// with no map of them all: the compact list the layout reads is all that
// is held (~25 bytes a project against ~100 in a NameMap).
bool each_held_project(MirrorStore &s, const std::function<void(const std::string &, long long)> &each,
                       std::string &error);

// Where a mirror run starts listing changes: DIR/status, or the processed
// serial when it was written with this status; 0 for a full pass.
struct Begin {
	long long status = 0;
	long long since = 0;
	std::string stored_filters; // fingerprint in pypi-mirror.filters ("" when none)
	std::string full_reason;    // why this run is a full pass ("" when it is not)
};
bool begin_run(const StatePaths &p, const std::string &filters, Begin &b, std::string &error);

// plan: the changes (changelog-fetch's records, target last) merged with the
// failed list, the held projects (full pass) and the deferred list, one record
// per name with the highest serial (0 for the deferred ones); the target last.
// A refused change that names a project becomes an error record (refused: the
// run has it to record); one that names none fails the plan.
struct PlanCounts {
	long long projects = 0, retried = 0, held = 0, deferred = 0, refused = 0;
	bool have_target = false;
	long long target = 0;
	bool work() const { return projects + retried + held + deferred + refused > 0; }
};
bool plan_input(FILE *changes, FILE *out, const NameMap &failed, const NameMap &held, const NameMap &deferred,
                PlanCounts &c, std::string &error);

// collect: what a run's files say it did.
struct RunFiles {
	std::vector<std::string> input;      // what went into the pipeline (project records, target)
	std::vector<std::string> results;    // what came out of index-write (synced, error, target)
	std::vector<std::string> dropped;    // pkg-filter's --dropped records
	std::vector<std::string> stale_seen; // the stale records of each round (stale.N)
	std::vector<std::string> stale_left; // stale records no round took up
	std::vector<std::string> purged;     // cdn-purge's output of each round
};

// The files of a mirror run in its work directory (Layout::work_dir), as
// pypi-mirror(1) names them: input.ndjson, results.ndjson, dropped.ndjson and
// closure-dropped.ndjson, stale.N.ndjson and purged.N.ndjson for each stale
// round N = 0, 1, ... that was taken up, stale.ndjson for what no round took.
// Lists them whether or not they exist (a missing file holds no record); the
// rounds stop at the first N without a stale.N.ndjson.
RunFiles run_files(const Layout &m);
// Where the next stale round's records go: stale.ndjson renamed to
// stale.ROUND.ndjson (see run_files).
std::string stale_file(const Layout &m);
std::string stale_round_file(const Layout &m, long long round);

// How long stale round ROUND (0 first) waits: backoff * 2^round seconds,
// as sleep(1) reads it ("2", "0.25", "1e+03" never: plain decimals).
std::string stale_delay(const std::string &backoff, long long round);

struct Summary {
	std::string command = "mirror";
	long long previous_serial = 0, serial = 0, target = -1; // -1: no target known
	long long projects = 0, files_fetched = 0, bytes_fetched = 0, deleted = 0;
	long long stale = 0, purged = 0, failed = 0, unnamed = 0, lost = 0;
	long long min_first = -1; // -1: nothing failed
	long long started = 0, seconds = 0;
	int exit_code = 0;
	std::string lost_names; // " a b c"
	std::string to_json() const;
	std::string human() const; // "projects=... serial=A->B seconds=N"
};

// Counts the run's records into s and computes the next failed list (out),
// from the old one (prev) and the run's files. deferred gets the projects
// pkg-filter held back for [min_age]. purging: PURGE was on, so a purged
// record without cache_bust counts as purged.
bool collect_run(const RunFiles &f, const NameMap &prev, bool purging, Summary &s, NameMap &out,
                 std::vector<std::string> &deferred, std::string &error);

// Status after a mirror run: the target when nothing failed, else just
// before the earliest change still missing; never back, and not at all when
// an error record named no project.
long long next_status(long long old_status, long long target, long long min_first, long long unnamed);

// The failed list for `sync`: only the named projects change.
NameMap merge_sync_failed(const NameMap &prev, const NameMap &named, const NameMap &now_failed);

// File text of a failed list (sorted, one record per line) and of a deferred list.
std::string failed_list_text(const NameMap &m);
std::string deferred_list_text(const std::vector<std::string> &names);
// "N: a (serial S), b (serial T)" or "none".
std::string failed_summary(const NameMap &m);

// The Prometheus text exposition of a summary. last_success: when a run
// last ended with status 0 or 1 (-1: never known); now: when this one ended.
std::string metrics_text(const Summary &s, long long last_success, long long now);
// The last-success time in an existing metrics file (-1 when none).
long long metrics_last_success(const std::string &text);

// A value quoted for the shell ('...'), for NAME=VALUE lines a shell evals.
std::string shell_quote(const std::string &s);

} // namespace pm
