// mirror-state: the state a pypi-mirror run keeps between runs, and the rules
// that move it. pypi-mirror(1) runs it between the phases of a run: begin
// (where to start listing), plan (what to take up), collect (what the records
// say the run achieved: the next failed and deferred lists, DIR/status, the
// summary, last-run file and metrics). The rules live in run_state.h.
#include <cctype>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "extsort.h"
#include "fsutil.h"
#include "layout.h"
#include "log.h"
#include "mirror_store.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "run_state.h"

using namespace pm;

static const char kProg[] = "mirror-state";

namespace {

// --upstream none: an upstream that publishes no serials.
constexpr long long kNoSerials = -2;

// -d, --config (a bucket's [s3]) and --fsync as every tool takes them.
struct Opts : pm::MirrorOptions {
	std::string filters, held, metrics, command = "mirror", master, phase = "sync", max_deletions, backoff = "2";
	std::string local; // --local-dir (scratch space)
	std::string log_file;      // log --file
	bool warnings_only = false, clear = false; // log
	std::shared_ptr<MirrorStore> store; // where the state is: the mirror directory or its bucket
	bool sync = false, purge = false, shell = false, json = false, run = false, prepare = false;
	long long start = -1, exit_code = -1, upstream = -1, round = 0, max_rounds = 3;
	RunFiles files;
	std::vector<std::string> args;
};

[[noreturn]] void usage_error(const std::string &msg) { pm::usage_error(kProg, "%s", msg.c_str()); }

int fail(const std::string &what)
{
	LOG_ERROR("%s: %s", kProg, what.c_str());
	return kExitFatal;
}

// Disk space prepare sets aside for collect (see cmd_collect).
constexpr long long kReserveBytes = 262144;

// rm -rf: symbolic links are removed, never followed.
bool remove_tree(const std::string &path)
{
	auto rm = [](const char *p, const struct stat *, int, struct FTW *) { return remove(p) == 0 || errno == ENOENT ? 0 : -1; };
	return nftw(path.c_str(), rm, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT;
}

// A hidden download temporary (.NAME.PID.XXXXXXXX.tmp) under web/.
int remove_hidden_tmp(const char *p, const struct stat *, int type, struct FTW *f)
{
	std::string_view leaf(p + f->base);
	if (type == FTW_F && leaf.size() > 4 && leaf[0] == '.' && leaf.substr(leaf.size() - 4) == ".tmp") remove(p);
	return 0;
}

// A run that ends cleanly removes its work directory, so finding one means
// the last run was killed or crashed. It leaves its work files, temporaries
// of atomic writes and hidden download temporaries next to files that may
// since have landed. The wrapper holds the lock, so no writer is alive: they
// are swept, only after such a run (a full walk would cost an idle run
// seconds on a large mirror). Then the scratch space, the reserve, and the
// generation file bandersnatch wants (it resets a mirror without one).
int cmd_prepare(const Opts &o)
{
	// On a bucket only the scratch space is local: the state objects need
	// no sweep (each is one PUT: there or not), the disk no reserve.
	MirrorStore &st = *o.store;
	if (!st.on_disk() && o.local.empty()) usage_error("a mirror in a bucket needs --local-dir for its scratch space");
	const Layout &m = st.local_layout();
	std::string work = m.work_dir(), running = m.dir() + "/.pypi-mirror.running", err;
	if (!st.on_disk()) {
		if (file_exists(work)) {
			LOG_WARN("the previous run did not finish; removing its work files");
			if (!remove_tree(work)) return fail("cannot remove " + work + ": " + strerror(errno));
		}
		if (!remove_tree(m.spool_dir())) return fail("cannot remove " + m.spool_dir() + ": " + strerror(errno));
		for (auto &d : {work, o.json ? m.spool_dir() : work})
			if (!mkdir_p(d)) return fail("cannot create " + d + ": " + strerror(errno));
	} else if (file_exists(work) || file_exists(running)) {
		LOG_WARN("the previous run did not finish; removing its temporary files");
		std::vector<std::string> gone = {work, m.spool_dir(), running};
		for (const char *pat : {"/.status.*.*", "/.generation.*.*", "/.pypi-mirror.*.*.*", "/web/.last-modified.*.*"}) {
			glob_t g;
			if (glob((o.dir + pat).c_str(), GLOB_NOSORT, nullptr, &g) == 0)
				for (size_t i = 0; i < g.gl_pathc; i++) gone.push_back(g.gl_pathv[i]);
			globfree(&g);
		}
		for (auto &path : gone)
			if (!remove_tree(path)) return fail("cannot remove " + path + ": " + strerror(errno));
		nftw(m.web().c_str(), remove_hidden_tmp, 16, FTW_PHYS);
	}
	for (auto &d : {work, m.web(), o.json ? m.spool_dir() : work})
		if (st.on_disk() && !mkdir_p(d)) return fail("cannot create " + d + ": " + strerror(errno));
	if (st.on_disk() && !file_exists(m.reserve())) {
		int fd = open(m.reserve().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		int e = fd < 0 ? errno : posix_fallocate(fd, 0, kReserveBytes);
		if (e == EOPNOTSUPP || e == EINVAL) { // no fallocate here: write the bytes
			static const char zeros[kReserveBytes] = {};
			e = write(fd, zeros, sizeof zeros) == static_cast<ssize_t>(sizeof zeros) ? 0 : errno;
		}
		if (fd >= 0 && close(fd) != 0 && e == 0) e = errno;
		if (e != 0) {
			remove_file(m.reserve());
			LOG_WARN("cannot set aside %lld bytes of disk space in %s: %s; a run that fills the disk may not record "
			         "its state",
			         kReserveBytes, m.reserve().c_str(), strerror(e));
		}
	}
	// The stamp's time is when the run began (diff-file); results start empty.
	for (const char *f : {"/stamp", "/results.ndjson"}) {
		int fd = open((work + f).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || close(fd) != 0) return fail("cannot create " + work + f + ": " + strerror(errno));
	}
	std::string text;
	bool found;
	if (!st.read(st.layout().generation(), text, found, err)) return fail(err);
	if (!found && !st.write(st.layout().generation(), "5", o.fsync, err)) return fail(err);
	return kExitOk;
}

// bandersnatch's diff-file: every file under web/ this run wrote, absolute
// paths, sorted. Found by change time against the stamp prepare made
// (downloaded files carry their upload time as mtime, so mtime would not
// do); sorted on disk, as a first sync writes millions.
struct Written {
	static inline struct timespec since;
	static inline ExternalSorter *out;
	static inline bool ok = true;
	static int visit(const char *p, const struct stat *st, int type, struct FTW *f)
	{
		if (type != FTW_F || p[f->base] == '.') return 0;
		if (st->st_ctim.tv_sec > since.tv_sec || (st->st_ctim.tv_sec == since.tv_sec && st->st_ctim.tv_nsec > since.tv_nsec))
			ok = out->add(p) && ok;
		return 0;
	}
};

int cmd_diff_file(const Opts &o)
{
	if (o.args.size() != 1) usage_error("diff-file needs one PATH");
	if (!o.store->on_disk()) return fail("diff-file lists files on a filesystem; " + o.dir + " is a bucket");
	const Layout &m = o.store->local_layout();
	const std::string &path = o.args[0];
	struct stat st;
	if (stat((m.work_dir() + "/stamp").c_str(), &st) != 0) return fail("no run started: " + m.work_dir() + "/stamp");
	ExternalSorter sorter(m.work_dir(), "diff-file");
	Written::since = st.st_mtim;
	Written::out = &sorter;
	nftw(m.web().c_str(), Written::visit, 16, FTW_PHYS);
	std::string chunk, line, err;
	if (!Written::ok || !sorter.finish()) return fail("cannot sort the written files: " + sorter.error());
	AtomicFile out;
	if (!out.open(path, &err)) return fail(err);
	bool ok = true;
	while (ok && sorter.next(line)) {
		chunk += line + "\n";
		if (chunk.size() >= (64u << 10)) ok = out.write(chunk), chunk.clear();
	}
	if (!sorter.error().empty()) return fail("cannot sort the written files: " + sorter.error());
	if (!ok || !out.write(chunk) || !out.commit(o.fsync, &err)) return fail("cannot write " + path + ": " + err);
	LOG_INFO("Wrote the list of written files to %s (%llu files)", path.c_str(),
	         static_cast<unsigned long long>(sorter.count()));
	return kExitOk;
}

// The last-run file (a line for people, then the summary record) and, for a
// mirror run, the metrics. Neither is state a later run depends on: a
// failure is a warning.
void report(const Opts &o, Summary &s)
{
	long long now = time(nullptr);
	if (s.started > 0) s.seconds = now - s.started;
	LOG_INFO("Run summary: %s", s.human().c_str());
	StatePaths p(o.store);
	std::string when = pm::format_time(now, "%Y-%m-%d %H:%M:%S", false); // local time: for people
	std::string text = when + " " + s.command + " " + s.human() + " exit=" + std::to_string(s.exit_code) +
	                   "\n" + s.to_json() + "\n", err;
	if (!p.store->write(p.last_run, text, o.fsync, err)) LOG_ERROR("cannot write %s", err.c_str());
	if (o.metrics.empty() || s.command != "mirror") return;
	long long last_success = -1;
	if (s.exit_code <= 1) {
		last_success = now;
	} else {
		std::string old;
		if (read_file(o.metrics, old, 1 << 20)) last_success = metrics_last_success(old);
	}
	if (!write_file_atomic(o.metrics, metrics_text(s, last_success, now), o.fsync, &err))
		LOG_WARN("cannot write metrics to %s: %s", o.metrics.c_str(), err.c_str());
}

// A line of the held list ({"name":N,"serial":S}, what read_name_list reads).
std::string held_record(const std::string &name, long long serial)
{
	return "{\"name\":\"" + name + "\",\"serial\":" + std::to_string(serial) + "}\n";
}

int cmd_begin(const Opts &o)
{
	// --prepare: a run's first two steps in one process (an idle run from
	// cron is mostly process start-ups).
	if (o.prepare)
		if (int rc = cmd_prepare(o); rc != kExitOk) return rc;
	Begin b;
	std::string err;
	if (!begin_run(StatePaths(o.store), o.filters, b, err)) return fail(err);
	long long nheld = 0;
	if (!b.full_reason.empty() && !o.held.empty()) {
		// Streamed into the file, one project at a time: a full pass over a
		// mirror of 700,000 projects holds no map of them.
		AtomicFile f;
		if (!f.open(o.held, &err)) return fail(err);
		f.buffer(64 << 10);
		if (!each_held_project(*o.store, [&](const std::string &n, long long s) {
			    f.write(held_record(n, s));
			    nheld++;
		    }, err))
			return fail("cannot list the projects the mirror holds: " + err);
		if (!f.commit(false, &err)) return fail(err);
	}
	// With --master, the run's opening lines for the log. (A new mirror
	// lists everything anyway: no full pass to announce.)
	if (!o.master.empty()) {
		std::string cap = "at most " + (o.max_deletions.empty() ? "10000" : o.max_deletions) + " files deleted";
		if (o.max_deletions == "0") cap = "no deletion cap";
		if (!b.full_reason.empty() && (nheld > 0 || b.status > 0))
			LOG_INFO("Full pass: %s: listing every upstream project and checking the %lld projects the mirror holds "
			         "against the filters (%s)",
			         b.full_reason.c_str(), nheld, cap.c_str());
		LOG_INFO("Starting mirror run: status %lld, listing changes since %lld from %s", b.status, b.since,
		         o.master.c_str());
	}
	printf("status=%lld since=%lld full=%d held=%lld why=%s\n", b.status, b.since, b.full_reason.empty() ? 0 : 1,
	       nheld, shell_quote(b.full_reason).c_str());
	return kExitOk;
}

int cmd_plan(const Opts &o)
{
	StatePaths p(o.store);
	NameMap failed, held, deferred;
	std::string err;
	if (!read_name_list(*p.store, p.failed, failed, err) || !read_name_list(*p.store, p.deferred, deferred, err) ||
	    (!o.held.empty() && !read_name_list(o.held, held, err)))
		return fail(err);
	PlanCounts c;
	if (!plan_input(stdin, stdout, failed, held, deferred, c, err)) return fail(err);
	if (!c.have_target) return fail("the changes carry no target serial; nothing done");
	if (c.retried) LOG_INFO("Retrying %lld projects that failed before", c.retried);
	if (c.deferred) LOG_INFO("Looking again at %lld projects with releases held back by [min_age]", c.deferred);
	if (!c.work()) {
		LOG_INFO("Nothing to sync");
		return kExitSomeFailed;
	}
	return kExitOk;
}

int cmd_held(const Opts &o)
{
	std::string err;
	if (!each_held_project(*o.store, [](const std::string &n, long long s) { fputs(held_record(n, s).c_str(), stdout); },
	                       err))
		return fail(err);
	return fflush(stdout) == 0 ? kExitOk : fail(std::string("cannot write: ") + strerror(errno));
}

int cmd_sync_input(const Opts &o)
{
	if (o.args.empty()) usage_error("sync-input needs at least one project name");
	NameMap failed;
	std::string err;
	if (!read_name_list(*o.store, StatePaths(o.store).failed, failed, err)) return fail(err);
	std::string out;
	for (auto &a : o.args) {
		if (!valid_project_name(a)) {
			LOG_ERROR("not a project name: '%s'", a.c_str());
			return kExitUsage;
		}
		// A project waiting in the failed list keeps its serial, so that a
		// stale CDN answer cannot take it off the list; the others expect
		// nothing in particular (serial 0).
		std::string n = normalize_name(a);
		auto it = failed.find(n);
		out += "{\"type\":\"project\",\"name\":\"" + n + "\",\"serial\":" +
		       std::to_string(it == failed.end() ? 0 : it->second.serial) + "}\n";
	}
	fputs(out.c_str(), stdout);
	return fflush(stdout) == 0 ? kExitOk : fail(std::string("cannot write: ") + strerror(errno));
}

void print_summary(const Opts &o, const Summary &s)
{
	if (!o.shell) {
		printf("%s\n", s.to_json().c_str());
		return;
	}
	printf("serial=%lld previous_serial=%lld projects=%lld failed=%lld unnamed=%lld exit=%d\n", s.serial,
	       s.previous_serial, s.projects, s.failed, s.unnamed, s.exit_code);
}

// The state files of a mirror run, in the order that is safe to die between:
// the failed list first (it covers every change up to the processed serial),
// then the processed serial, then status.
bool record_mirror(const Opts &o, const StatePaths &p, const Begin &b, Summary &s, const NameMap &failed,
                   const std::vector<std::string> &deferred, std::string &err)
{
	MirrorStore &st = *p.store;
	if (!failed.empty()) {
		if (!st.write(p.failed, failed_list_text(failed), o.fsync, err)) return false;
	} else if (!st.remove(p.failed, err)) {
		return false;
	}
	// Releases the cooldown held back: their projects' records will not
	// change when they come of age, so they are looked at again next run.
	if (!o.filters.empty() && !deferred.empty()) {
		if (!st.write(p.deferred, deferred_list_text(deferred), o.fsync, err)) return false;
	} else if (!st.remove(p.deferred, err)) {
		return false;
	}
	if (s.target < b.since)
		LOG_WARN("upstream's serial (%lld) is below the one this mirror already processed (%lld)", s.target, b.since);
	s.serial = next_status(s.previous_serial, s.target, s.min_first, s.unnamed);
	if (s.unnamed == 0) {
		long long processed = std::max(s.target, b.since);
		std::string line = std::to_string(processed) + " " + std::to_string(s.serial) + "\n";
		if (!st.write(p.synced, line, o.fsync, err)) return false;
		// The mirror is now pruned to these rules: every project of the full
		// pass landed, or waits in the failed list, which later runs retry
		// under the same rules.
		if (!o.filters.empty()) {
			if (!st.write(p.filters, o.filters + "\n", o.fsync, err)) return false;
			if (!b.full_reason.empty()) LOG_INFO("Filter rules %s recorded in %s", o.filters.c_str(), p.filters.c_str());
		} else if (!b.stored_filters.empty() && !st.remove(p.filters, err)) {
			return false;
		}
	}
	std::string stamp = pm::format_time(s.started > 0 ? s.started : time(nullptr), "%Y%m%dT%H:%M:%S\n", true);
	std::string lm_err;
	if (!st.write(p.last_modified, stamp, o.fsync, lm_err)) LOG_ERROR("cannot write %s", lm_err.c_str());
	// status last: everything it covers is stored before it moves.
	if (s.serial != s.previous_serial) {
		if (!write_status(st, s.serial, o.fsync, &err)) return false;
		LOG_INFO("Mirror serial %lld -> %lld", s.previous_serial, s.serial);
	}
	if (s.failed > 0) {
		std::string names = failed_summary(failed);
		LOG_WARN("%lld projects failed and will be retried next run: %s", s.failed,
		         names.substr(names.find(':') + 2).c_str());
	}
	return true;
}

int cmd_collect(const Opts &given)
{
	Opts o = given; // --run fills in its files
	if (o.run) o.files = run_files(o.store->local_layout());
	if (o.files.input.empty()) usage_error("collect needs --input or --run");
	StatePaths p(o.store);
	Begin b;
	NameMap prev, failed;
	std::vector<std::string> deferred;
	std::string err;
	if (!begin_run(p, o.filters, b, err) || !read_name_list(*p.store, p.failed, prev, err)) return fail(err);
	Summary s;
	s.command = o.sync ? "sync" : "mirror";
	s.previous_serial = s.serial = b.status;
	s.started = o.start;
	if (!collect_run(o.files, prev, o.purge, s, failed, deferred, err)) return fail(err);
	if (s.lost) LOG_ERROR("records that never reached the end of the pipeline (retried next run):%s", s.lost_names.c_str());
	if (s.unnamed) LOG_ERROR("%lld error records name no project; status is not advanced", s.unnamed);
	NameMap merged; // sync: only the named projects change in the failed list
	if (o.sync) {
		// Dropped when they landed, updated when they failed again.
		NameMap named;
		if (!read_name_list(o.files.input[0], named, err)) return fail(err);
		merged = merge_sync_failed(prev, named, failed);
	} else if (s.target < 0) {
		return fail("the run's input carries no target serial; nothing recorded");
	}
	auto write = [&] {
		if (!o.sync) return record_mirror(o, p, b, s, failed, deferred, err);
		if (merged.empty()) return p.store->remove(p.failed, err);
		return p.store->write(p.failed, failed_list_text(merged), o.fsync, err);
	};
	// On a full disk, the space prepare set aside is given back once, and
	// the state written again.
	bool ok = write();
	const Layout &local = p.store->local_layout();
	if (!ok && p.store->on_disk() && file_exists(local.reserve())) {
		LOG_WARN("cannot record this run's state in %s (%s): giving back the %lld bytes reserved in %s, and trying again",
		         p.dir.c_str(), err.c_str(), kReserveBytes, local.reserve().c_str());
		remove_file(local.reserve());
		ok = write();
	}
	if (!ok) {
		LOG_ERROR("cannot record this run's state in %s: %s; status and the failed list are left as they were (the "
		          "next run redoes this work)",
		          p.dir.c_str(), err.c_str());
		return kExitFatal;
	}
	s.exit_code = s.failed > 0 || s.unnamed > 0 ? kExitSomeFailed : kExitOk;
	report(o, s);
	print_summary(o, s);
	return s.exit_code;
}

int cmd_finish(const Opts &given)
{
	Opts o = given; // --run fills in its files
	if (o.exit_code < 0) usage_error("finish needs --exit");
	if (o.run) o.files.input = run_files(o.store->local_layout()).input;
	Summary s;
	s.command = o.command;
	s.exit_code = static_cast<int>(o.exit_code);
	s.started = o.start;
	std::string err;
	if (!read_status(*o.store, s.serial, &err)) LOG_WARN("%s", err.c_str());
	s.previous_serial = s.serial;
	for (auto &f : o.files.input) { // the target, when the run got that far
		RunFiles only;
		only.input = {f};
		Summary t;
		NameMap none, out;
		std::vector<std::string> d;
		if (collect_run(only, none, false, t, out, d, err)) s.target = t.target;
	}
	report(o, s);
	return kExitOk;
}

// The next stale round: stale.ndjson becomes stale.ROUND.ndjson, and the
// wait before it is printed (delay=SECONDS). Exit 1: no round (nothing
// stale, or the rounds are used up, which is logged).
int cmd_stale_round(const Opts &o)
{
	const Layout &m = o.store->local_layout();
	const std::string stale = stale_file(m), taken = stale_round_file(m, o.round);
	struct stat st;
	if (stat(stale.c_str(), &st) != 0 || st.st_size == 0) return kExitSomeFailed;
	if (o.round >= o.max_rounds + 1) {
		LOG_ERROR("stale projects left after %lld rounds; they will be retried next run", o.round);
		return kExitSomeFailed;
	}
	if (rename(stale.c_str(), taken.c_str()) != 0) return fail("cannot rename " + stale + ": " + strerror(errno));
	long long n = 0;
	FILE *f = fopen(taken.c_str(), "r");
	if (!f) return fail("cannot read " + taken + ": " + strerror(errno));
	NdjsonReader in(f);
	rapidjson::Document d;
	std::string err;
	while (in.next(d, err))
		if (err.empty()) n++;
	fclose(f);
	std::string delay = stale_delay(o.backoff, o.round);
	LOG_INFO("Stale round %lld: %lld projects, after %ss", o.round + 1, n, delay.c_str());
	printf("delay=%s\n", delay.c_str());
	return kExitOk;
}

int cmd_tally(const Opts &o)
{
	long long records = 0, errors = 0, bust = 0, projects = 0;
	for (auto &path : o.args) {
		FILE *f = fopen(path.c_str(), "r");
		if (!f) {
			if (errno == ENOENT) continue;
			return fail("cannot read " + path + ": " + strerror(errno));
		}
		NdjsonReader in(f);
		rapidjson::Document d;
		std::string err;
		while (in.next(d, err)) {
			if (!err.empty()) continue;
			records++;
			std::string t = get_string(d, "type", "project");
			if (t == "error") errors++;
			if (t == "project") projects++;
			if (get_bool(d, "cache_bust")) bust++;
		}
		fclose(f);
	}
	printf("records=%lld errors=%lld cache_bust=%lld projects=%lld\n", records, errors, bust, projects);
	return kExitOk;
}

// A line on the terminal for the whole pass (phase, projects done of total,
// files, bytes, rate) over the records index-write writes, which pass
// through unchanged. Silent when standard error is not a terminal.
int cmd_progress(const Opts &o)
{
	bool tty = isatty(2);
	long long total = 0, done = 0, files = 0, bytes = 0;
	for (auto &path : o.files.input) {
		FILE *f = fopen(path.c_str(), "r");
		if (!f) continue;
		NdjsonReader in(f);
		rapidjson::Document d;
		std::string err;
		while (in.next(d, err))
			if (err.empty() && get_string(d, "type", "project") != "target") total++;
		fclose(f);
	}
	auto t0 = std::chrono::steady_clock::now(), last = t0 - std::chrono::seconds(1);
	auto draw = [&](bool force) {
		auto now = std::chrono::steady_clock::now();
		if (!tty || (!force && now - last < std::chrono::milliseconds(250))) return;
		last = now;
		double secs = std::chrono::duration<double>(now - t0).count();
		fprintf(stderr, "\r\033[K%s: %lld/%lld projects, %lld files, %.1f MiB, %.1f MiB/s", o.phase.c_str(), done,
		        total, files, static_cast<double>(bytes) / 1048576.0,
		        secs > 0 ? static_cast<double>(bytes) / 1048576.0 / secs : 0.0);
		fflush(stderr);
	};
	draw(true);
	NdjsonReader in(stdin);
	NdjsonWriter out(stdout);
	rapidjson::Document d;
	std::string err;
	while (in.next(d, err)) {
		if (!out.write_raw(in.line())) {
			if (tty) fputs("\r\033[K", stderr);
			return fail(std::string("cannot write: ") + strerror(errno));
		}
		if (!err.empty()) continue;
		std::string t = get_string(d, "type", "project");
		if (t == "synced" || (t == "error" && !get_string(d, "name").empty())) done++;
		files += get_int(d, "files_fetched", 0);
		bytes += get_int(d, "bytes_fetched", 0);
		draw(false);
	}
	draw(true);
	if (tty) fputs("\n", stderr); // the last figures stay on screen
	return kExitOk;
}

// write(2) until all of it is out; false on an error (EPIPE: the reader left).
bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			return false;
		}
		p += w;
		n -= static_cast<size_t>(w);
	}
	return true;
}

// An INFO or DEBUG line of the tools' log format (log.h):
// "2026-11-23 01:30:04,592 INFO: ...".
bool info_or_debug(const char *p, const char *end)
{
	const char *q = p;
	while (q < end && (isdigit(static_cast<unsigned char>(*q)) || *q == '-')) q++;
	if (q == p || q == end || *q++ != ' ') return false;
	p = q;
	while (q < end && (isdigit(static_cast<unsigned char>(*q)) || *q == ':' || *q == ',')) q++;
	if (q == p || q == end || *q++ != ' ') return false;
	auto starts = [&](const char *w) {
		size_t n = strlen(w);
		return static_cast<size_t>(end - q) >= n && memcmp(q, w, n) == 0;
	};
	return starts("INFO: ") || starts("DEBUG: ");
}

// The wrapper's log writer: what every tool of a run writes on standard
// error, on standard input here, appended to --file (everything) and
// copied to standard output, the terminal (--warnings-only: pypi-mirror
// -q, only what is not an INFO or DEBUG line). It reads what is there
// (read(2) returns as soon as a line arrives: a line is in the file as soon
// as it is written), and writes whole lines, as many as one read brought, in
// one write to each side: the tools write the lines of a turn of their
// event loop together (log.h), so a file downloaded costs no system call
// here of its own. (awk, its predecessor, wrote each line on its own; and
// mawk reads a pipe in blocks unless told to go line by line.) Lines keep
// the order each tool wrote them in. A failing side does not stop the
// other: the tools must never block on a log nobody reads.
int cmd_log(const Opts &o)
{
	signal(SIGPIPE, SIG_IGN); // a closed terminal: EPIPE, and the file goes on
	int file = -1;
	if (!o.log_file.empty()) {
		file = open(o.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (file < 0) LOG_WARN("%s: cannot open the log file %s: %s", kProg, o.log_file.c_str(), strerror(errno));
	}
	bool terminal = true;
	const std::string clear = o.clear ? "\r\033[K" : "";
	std::string shown;
	auto out = [&](const char *p, size_t n) {
		if (file >= 0 && !write_all(file, p, n)) {
			LOG_WARN("%s: cannot write the log file %s: %s", kProg, o.log_file.c_str(), strerror(errno));
			close(file);
			file = -1;
		}
		if (!terminal) return;
		shown.assign(clear);
		if (!o.warnings_only) {
			shown.append(p, n);
		} else {
			for (const char *l = p, *end = p + n; l < end;) {
				const char *nl = static_cast<const char *>(memchr(l, '\n', static_cast<size_t>(end - l)));
				const char *next = nl ? nl + 1 : end;
				if (!info_or_debug(l, next)) shown.append(l, static_cast<size_t>(next - l));
				l = next;
			}
		}
		if (shown.size() > clear.size() && !write_all(1, shown.data(), shown.size())) terminal = false;
	};
	// A line longer than this without its newline is passed on in pieces.
	constexpr size_t kMaxPending = 1 << 20;
	std::string pending;
	static char buf[1 << 16];
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		pending.append(buf, static_cast<size_t>(n));
		size_t whole = pending.rfind('\n') + 1; // 0: no newline yet
		if (whole == 0 && pending.size() >= kMaxPending) whole = pending.size();
		if (whole == 0) continue;
		out(pending.data(), whole);
		pending.erase(0, whole);
	}
	if (!pending.empty()) { // a last line without its newline gets one
		pending += '\n';
		out(pending.data(), pending.size());
	}
	return kExitOk;
}

int cmd_status(const Opts &o)
{
	StatePaths p(o.store);
	long long serial = 0;
	std::string err, text, rerr;
	bool have_serial = read_status(*p.store, serial, &err), found;
	long long processed = -1;
	if (p.store->read(p.synced, text, found, rerr) && found) sscanf(text.c_str(), "%lld", &processed);
	std::string last_human, last_json;
	if (p.store->read(p.last_run, text, found, rerr) && found) {
		size_t nl = text.find('\n');
		last_human = text.substr(0, nl);
		if (nl != std::string::npos) {
			last_json = text.substr(nl + 1);
			while (!last_json.empty() && last_json.back() == '\n') last_json.pop_back();
			rapidjson::Document d;
			std::string perr;
			if (!parse_json_object(last_json, d, perr)) last_json.clear();
		}
	}
	NameMap failed;
	bool failed_ok = read_name_list(*p.store, p.failed, failed, err);
	if (o.json) {
		std::string j = "{\"serial\":" + (have_serial ? std::to_string(serial) : std::string("null"));
		j += ",\"upstream_serial\":" + (o.upstream >= 0 ? std::to_string(o.upstream) : std::string("null"));
		if (o.upstream == kNoSerials) j += ",\"upstream_serials\":false";
		j += ",\"lag\":" +
		     (o.upstream >= 0 && have_serial ? std::to_string(o.upstream - serial) : std::string("null"));
		j += ",\"processed_serial\":" + (processed >= 0 ? std::to_string(processed) : std::string("null"));
		j += ",\"last_run\":" + (last_json.empty() ? std::string("null") : last_json);
		j += ",\"failed\":[";
		const char *sep = "";
		for (auto &[n, f] : failed) {
			j += std::string(sep) + "{\"name\":\"" + n + "\",\"serial\":" + std::to_string(f.serial) +
			     ",\"first\":" + std::to_string(f.first) + "}";
			sep = ",";
		}
		j += "]}";
		printf("%s\n", j.c_str());
	} else {
		printf("mirror serial: %s\n", have_serial ? std::to_string(serial).c_str() : "unreadable");
		if (o.upstream >= 0) {
			printf("upstream serial: %lld\n", o.upstream);
			if (have_serial)
				printf("lag: %lld\n", o.upstream - serial);
			else
				printf("lag: unknown\n");
		} else if (o.upstream == kNoSerials) {
			// The mirror's serial then counts its own runs that found changes
			// (changelog-fetch(1)); there is nothing upstream to compare it with.
			printf("upstream serial: none (%s publishes no serials; the mirror's serial counts the runs that "
			       "found changes)\nlag: unknown (the next run's conditional requests tell)\n",
			       o.master.empty() ? "upstream" : o.master.c_str());
		} else {
			printf("upstream serial: unknown (%s unreachable)\nlag: unknown\n",
			       o.master.empty() ? "upstream" : o.master.c_str());
		}
		if (processed >= 0 && (!have_serial || processed != serial))
			printf("processed serial: %lld (changes up to it were handled; status waits for the failed "
			       "projects)\n",
			       processed);
		printf("last run: %s\n", last_human.empty() ? "never" : last_human.c_str());
		printf("failed projects: %s\n", failed_ok ? failed_summary(failed).c_str() : "unreadable");
	}
	if (!have_serial) LOG_ERROR("%s", err.c_str());
	if (!failed_ok) LOG_ERROR("%s", err.c_str());
	return fflush(stdout) == 0 ? kExitOk : kExitFatal;
}

} // namespace

int main(int argc, char **argv)
{
	log_set_prog(kProg);
	Opts o;
	// Options may come before or after the command (getopt permutes).
	parse_options(kProg, kCommandLine, argc, argv, [&](int c) {
		if (o.option(c, kProg, optarg)) return;
		switch (c) {
		case kOptFilters: o.filters = optarg; break;
		case kOptHeld: o.held = optarg; break;
		case kOptSync: o.sync = true; break;
		case kOptInput: o.files.input.push_back(optarg); break;
		case kOptResults: o.files.results.push_back(optarg); break;
		case kOptDropped: o.files.dropped.push_back(optarg); break;
		case kOptStaleSeen: o.files.stale_seen.push_back(optarg); break;
		case kOptStaleLeft: o.files.stale_left.push_back(optarg); break;
		case kOptPurged: o.files.purged.push_back(optarg); break;
		case kOptPurge: o.purge = true; break;
		case kOptStart: o.start = parse_count(kProg, "--start", optarg); break;
		case kOptMetrics: o.metrics = optarg; break;
		case kOptShell: o.shell = true; break;
		case kOptExit: o.exit_code = parse_count(kProg, "--exit", optarg, 0, 255); break;
		case kOptCommand: o.command = optarg; break;
		case kOptJson: o.json = true; break;
		case kOptUpstream:
			// "none": changelog-fetch --last-serial of an upstream without serials.
			o.upstream = strcmp(optarg, "none") == 0 ? kNoSerials : parse_count(kProg, "--upstream", optarg);
			break;
		case kOptMaster: o.master = optarg; break;
		case kOptPhase: o.phase = optarg; break;
		case kOptLocalDir: o.local = optarg; break;
		case kOptMaxDeletions: o.max_deletions = std::to_string(parse_count(kProg, "--max-deletions", optarg)); break;
		case kOptRun: o.run = true; break;
		case kOptRound: o.round = parse_count(kProg, "--round", optarg); break;
		case kOptMaxRounds: o.max_rounds = parse_count(kProg, "--max-rounds", optarg); break;
		case kOptBackoff: o.backoff = optarg; break;
		case kOptPrepare: o.prepare = true; break;
		case kOptFile: o.log_file = optarg; break;
		case kOptWarningsOnly: o.warnings_only = true; break;
		case kOptClear: o.clear = true; break;
		}
	});
	if (optind >= argc) usage_error("no command given");
	std::string cmd = argv[optind++];
	for (int i = optind; i < argc; i++) o.args.push_back(argv[i]);
	if (o.dir.empty()) usage_error("-d DIR is required");
	if (o.command != "mirror" && o.command != "sync") usage_error("--command is mirror or sync");
	// Each command, whether it takes operands, and whether it opens the
	// mirror's store (the others read only the files they are given).
	struct Command {
		const char *name;
		int (*run)(const Opts &);
		bool operands, store;
	};
	static const Command commands[] = {
	    {"begin", cmd_begin, false, true},       {"plan", cmd_plan, false, true},
	    {"held", cmd_held, false, true},         {"sync-input", cmd_sync_input, true, true},
	    {"collect", cmd_collect, false, true},   {"finish", cmd_finish, false, true},
	    {"prepare", cmd_prepare, false, true},   {"diff-file", cmd_diff_file, true, true},
	    {"tally", cmd_tally, true, false},       {"stale-round", cmd_stale_round, false, true},
	    {"status", cmd_status, false, true},     {"progress", cmd_progress, false, false},
	    {"log", cmd_log, false, false},
	};
	for (const Command &k : commands) {
		if (cmd != k.name) continue;
		if (!k.operands && !o.args.empty()) usage_error("unexpected argument '" + o.args[0] + "'");
		if (k.store) o.store = open_mirror_store(kProg, o.dir, o.config, o.local);
		return k.run(o);
	}
	usage_error("unknown command '" + cmd + "'");
}
