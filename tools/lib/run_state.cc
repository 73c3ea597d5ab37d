#include "run_state.h"

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <set>

#include "cli.h"
#include "fsutil.h"
#include "index_root.h"
#include "layout.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "record.h"
#include "record_loop.h"

namespace pm {

RunFiles run_files(const Layout &m)
{
	const std::string w = m.work_dir() + "/";
	RunFiles f;
	f.input = {w + "input.ndjson"};
	f.results = {w + "results.ndjson"};
	f.dropped = {w + "dropped.ndjson", w + "closure-dropped.ndjson"};
	for (long long n = 0; file_exists(stale_round_file(m, n)); n++) {
		f.stale_seen.push_back(stale_round_file(m, n));
		f.purged.push_back(w + "purged." + std::to_string(n) + ".ndjson");
	}
	f.stale_left = {stale_file(m)};
	return f;
}

std::string stale_file(const Layout &m) { return m.work_dir() + "/stale.ndjson"; }

std::string stale_round_file(const Layout &m, long long round)
{
	return m.work_dir() + "/stale." + std::to_string(round) + ".ndjson";
}

std::string stale_delay(const std::string &backoff, long long round)
{
	double d = strtod(backoff.c_str(), nullptr);
	for (long long i = 0; i < round; i++) d *= 2;
	char b[64];
	snprintf(b, sizeof b, "%.6f", d);
	std::string t = b; // no exponent; trailing zeros dropped
	while (t.back() == '0') t.pop_back();
	if (t.back() == '.') t.pop_back();
	return t;
}

StatePaths::StatePaths(const std::string &d) : StatePaths(open_mirror_store("mirror-state", d, "")) {}

StatePaths::StatePaths(std::shared_ptr<MirrorStore> s)
    : store(std::move(s)), m(store->layout()), dir(m.dir()), status(m.status()), failed(m.state_file("failed")), deferred(m.state_file("deferred")),
      synced(m.state_file("synced-serial")), filters(m.state_file("filters")), last_run(m.state_file("last-run")),
      last_modified(m.last_modified())
{
}

namespace {

// Calls fn for every record of the file; a missing file has none. A line
// that is not a JSON object is an error naming the file and line; with
// skip_bad, only a warning: a run's own record files can end in half a line
// when the disk filled up under a tool, and the records lost with it count
// as lost (their projects stay in the failed list), which is the truth.
template <class Fn> bool each_record_in(FILE *f, const std::string &path, Fn fn, std::string &error, bool skip_bad);

template <class Fn> bool each_record(const std::string &path, Fn fn, std::string &error, bool skip_bad = false)
{
	FILE *f = fopen(path.c_str(), "r");
	if (!f) {
		if (errno == ENOENT) return true;
		error = "cannot read " + path + ": " + strerror(errno);
		return false;
	}
	return each_record_in(f, path, fn, error, skip_bad);
}

// The same over an object's text (a state file on the mirror's storage).
template <class Fn> bool each_record_of(MirrorStore &s, const std::string &path, Fn fn, std::string &error)
{
	std::string text;
	bool found;
	if (!s.read(path, text, found, error)) return false;
	if (!found || text.empty()) return true;
	FILE *f = fmemopen(text.data(), text.size(), "r");
	if (!f) {
		error = "cannot read " + path + ": " + strerror(errno);
		return false;
	}
	return each_record_in(f, path, fn, error, false);
}

// Reads f to its end and closes it.
template <class Fn> bool each_record_in(FILE *f, const std::string &path, Fn fn, std::string &error, bool skip_bad)
{
	NdjsonReader in(f);
	rapidjson::Document doc;
	std::string err;
	bool ok = true;
	while (in.next(doc, err)) {
		if (!err.empty()) {
			if (skip_bad) {
				LOG_WARN("%s: %s; skipped", path.c_str(), err.c_str());
				continue;
			}
			error = path + ": " + err;
			ok = false;
			break;
		}
		fn(doc);
	}
	if (ok && ferror(f)) {
		error = "cannot read " + path + ": " + strerror(errno);
		ok = false;
	}
	fclose(f);
	return ok;
}

std::string type_of(const rapidjson::Value &v) { return get_string(v, "type", "project"); }

// A record's name, when it is a usable normalized project name ("" if not).
std::string name_of(const rapidjson::Value &v)
{
	std::string n = get_string(v, "name");
	if (n.empty() || !valid_project_name(n)) return "";
	return normalize_name(n);
}

void keep_max(NameMap &m, const std::string &n, long long s)
{
	auto it = m.find(n);
	if (it == m.end())
		m[n].serial = s;
	else if (s > it->second.serial)
		it->second.serial = s;
}

std::string project_record(const std::string &name, long long serial)
{
	return "{\"type\":\"project\",\"name\":\"" + name + "\",\"serial\":" + std::to_string(serial) + "}";
}

} // namespace

namespace {

// One record of a name list into out; false when it names no project.
bool add_name_record(const rapidjson::Document &d, NameMap &out)
{
	std::string n = name_of(d);
	if (n.empty()) return false;
	long long s = std::max(0LL, get_int(d, "serial", 0)), first = std::max(0LL, get_int(d, "first", 0));
	auto it = out.find(n);
	if (it == out.end()) {
		out[n] = Pending{s, first};
	} else {
		it->second.serial = std::max(it->second.serial, s);
		if (first > 0 && (it->second.first == 0 || first < it->second.first)) it->second.first = first;
	}
	return true;
}

} // namespace

namespace {
// A name list's records through each (a local file's reader or a store's):
// every line must name a project.
template <class Each> bool read_names_with(Each each, const std::string &path, NameMap &out, std::string &error)
{
	bool bad = false;
	size_t line = 0;
	bool ok = each([&](const rapidjson::Document &d) {
		line++;
		if (!add_name_record(d, out) && !bad) {
			error = path + ": line " + std::to_string(line) + " names no project";
			bad = true;
		}
	});
	return ok && !bad;
}
} // namespace

bool read_name_list(MirrorStore &st, const std::string &path, NameMap &out, std::string &error)
{
	return read_names_with([&](auto fn) { return each_record_of(st, path, fn, error); }, path, out, error);
}

bool read_name_list(const std::string &path, NameMap &out, std::string &error)
{
	return read_names_with([&](auto fn) { return each_record(path, fn, error); }, path, out, error);
}

bool held_projects(const std::string &mirror_dir, NameMap &out, std::string &error)
{
	return held_projects(*open_mirror_store("mirror-state", mirror_dir, ""), out, error);
}

bool each_held_project(MirrorStore &st, const std::function<void(const std::string &, long long)> &each,
                       std::string &error)
{
	// The one answer to which projects the mirror holds is the layout's
	// (the storage's, on a bucket): a list sorted by normalized name with
	// one entry per name (load_root_json and scan_simple_dir sort_unique it).
	RootList list;
	if (!st.held_projects(list, error)) return false;
	std::string d, n;
	for (size_t i = 0; i < list.size(); i++) {
		if (list.removed(i)) continue;
		d.assign(list.display(i));
		if (!valid_project_name(d)) continue;
		normalize_name_into(d, n);
		each(n, std::max(0LL, list.serial(i)));
	}
	return true;
}

bool held_projects(MirrorStore &st, NameMap &out, std::string &error)
{
	return each_held_project(st, [&](const std::string &n, long long s) { keep_max(out, n, s); }, error);
}

bool begin_run(const StatePaths &p, const std::string &filters, Begin &b, std::string &error)
{
	if (!read_status(*p.store, b.status, &error)) return false;
	b.since = b.status;
	std::string text;
	bool found;
	if (!p.store->read(p.synced, text, found, error)) return false;
	if (found) {
		// "TARGET STATUS", only valid with the status it was written with: a
		// status set back by hand (0 forces a full check) wins.
		long long t = -1, base = -1;
		char extra;
		if (sscanf(text.c_str(), "%lld %lld %c", &t, &base, &extra) == 2 && t >= 0 && base == b.status &&
		    t > b.status)
			b.since = t;
	}
	b.stored_filters.clear();
	if (!p.store->read(p.filters, text, found, error)) return false;
	if (found) {
		size_t nl = text.find('\n');
		b.stored_filters = text.substr(0, nl);
	}
	// Filters that changed since the mirror was last pruned to them (or a
	// first filtered run, or filters taken away) make this run a full pass.
	b.full_reason.clear();
	if (!filters.empty() && b.stored_filters.empty())
		b.full_reason = "first filtered run over this mirror";
	else if (!filters.empty() && b.stored_filters != filters)
		b.full_reason = "the filter configuration changed since the mirror was last pruned to it (" + p.filters + ")";
	else if (filters.empty() && !b.stored_filters.empty())
		b.full_reason = "the filters were removed since the last run";
	if (!b.full_reason.empty()) b.since = 0;
	return true;
}

bool plan_input(FILE *changes, FILE *out, const NameMap &failed, const NameMap &held, const NameMap &deferred,
                PlanCounts &c, std::string &error)
{
	// The one record loop: a refused record that names a project becomes an
	// error record in the run's input (collect keeps the project failed and
	// status short of it), records of other types pass through, targets last.
	RecordLoop loop(log_prog() ? log_prog() : "mirror-state", {"project", "removal"}, changes, out);
	std::set<std::string> seen;
	while (loop.next()) {
		ProjectRecord &r = loop.record();
		if (r.type == "removal") {
			// A removal (upstream's, pkg-filter's, pkg-demand's) wins over
			// the same name in the failed, held and deferred lists: a
			// project record for it too would sync the project back.
			seen.insert(r.name);
			loop.emit_raw(loop.line());
			continue;
		}
		long long s = r.serial;
		for (const NameMap *m : {&failed, &held}) {
			auto it = m->find(r.name);
			if (it != m->end() && it->second.serial > s) s = it->second.serial;
		}
		seen.insert(r.name);
		c.projects++;
		if (s != r.serial) {
			set_int(loop.doc(), loop.doc(), "serial", s);
			loop.emit(loop.doc());
		} else {
			loop.emit_raw(loop.line());
		}
	}
	// A line no error record names could be any project's change: the run
	// must not go on without it (status would pass it by).
	if (loop.unnamed()) {
		loop.finish();
		error = "changes: " + std::to_string(loop.unnamed()) + " records unread or naming no project; nothing done";
		return false;
	}
	c.refused = loop.failed() ? 1 : 0;
	for (auto &[n, p] : failed) {
		if (!seen.insert(n).second) continue;
		long long s = p.serial;
		auto h = held.find(n);
		if (h != held.end() && h->second.serial > s) s = h->second.serial;
		loop.emit_raw(project_record(n, s));
		c.retried++;
	}
	for (auto &[n, p] : held) {
		if (!seen.insert(n).second) continue;
		loop.emit_raw(project_record(n, p.serial));
		c.held++;
	}
	for (auto &[n, p] : deferred) {
		if (!seen.insert(n).second) continue;
		// Any answer will do: the releases are held back by age, not serial.
		loop.emit_raw(project_record(n, 0));
		c.deferred++;
	}
	c.have_target = loop.target_serial() >= 0;
	if (c.have_target) c.target = loop.target_serial();
	if (loop.finish() == kExitFatal) {
		error = "cannot write the plan"; // the loop logged why
		return false;
	}
	if (fflush(out) != 0) {
		error = std::string("cannot write the plan: ") + strerror(errno);
		return false;
	}
	return true;
}

bool collect_run(const RunFiles &f, const NameMap &prev, bool purging, Summary &s, NameMap &out,
                 std::vector<std::string> &deferred, std::string &error)
{
	NameMap in, err, left;
	std::set<std::string> dropped, stale, done, defer;
	auto each = [&](const std::vector<std::string> &files, auto fn) {
		for (auto &p : files)
			if (!each_record(p, fn, error, true)) return false;
		return true;
	};
	bool ok = each(f.input,
	               [&](const rapidjson::Document &d) {
		               std::string t = type_of(d), n = name_of(d);
		               if (t == "target") s.target = std::max(s.target, get_int(d, "serial", 0));
		               if (t == "project" && !n.empty()) keep_max(in, n, get_int(d, "serial", 0));
	               }) &&
	          each(f.dropped,
	               [&](const rapidjson::Document &d) {
		               std::string n = name_of(d);
		               if (n.empty()) return;
		               // A dropped file leaves its project in the run; a dropped project does not.
		               if (!member(d, "file")) dropped.insert(n);
		               if (get_bool(d, "deferred")) defer.insert(n);
	               }) &&
	          each(f.stale_seen,
	               [&](const rapidjson::Document &d) {
		               std::string n = name_of(d);
		               if (!n.empty() && stale.insert(n).second) s.stale++;
	               }) &&
	          each(f.stale_left,
	               [&](const rapidjson::Document &d) {
		               std::string n = name_of(d);
		               if (!n.empty()) left[n].serial = get_int(d, "serial", 0);
	               }) &&
	          each(f.purged,
	               [&](const rapidjson::Document &d) {
		               if (purging && !get_bool(d, "cache_bust")) s.purged++;
	               }) &&
	          each(f.results, [&](const rapidjson::Document &d) {
		          std::string t = type_of(d), n = name_of(d);
		          if (t == "synced") {
			          s.projects++;
			          s.deleted += get_int(d, "deleted", 0);
			          s.files_fetched += get_int(d, "files_fetched", 0);
			          s.bytes_fetched += get_int(d, "bytes_fetched", 0);
			          if (!n.empty()) done.insert(n);
		          } else if (t == "error") {
			          if (n.empty())
				          s.unnamed++;
			          else
				          keep_max(err, n, get_int(d, "serial", 0));
		          } else if (t == "target") {
			          s.target = std::max(s.target, get_int(d, "serial", 0));
		          }
	          });
	if (!ok) return false;
	// A stale project no round took up failed; so did one that went in and
	// never came out (a tool lost its record): status must not pass it.
	for (auto &[n, p] : left)
		if (!err.count(n) && !done.count(n)) err[n] = p;
	for (auto &[n, p] : in)
		if (!err.count(n) && !done.count(n) && !dropped.count(n) && !left.count(n)) {
			err[n] = p;
			s.lost++;
			s.lost_names += " " + n;
		}
	out.clear();
	for (auto &[n, p] : err) {
		if (done.count(n)) continue; // failed in one round, synced in a later one
		// An error record without a serial still misses the change the plan
		// gave its project.
		long long first = p.serial;
		auto i = in.find(n);
		if (first == 0 && i != in.end()) first = i->second.serial;
		auto o = prev.find(n);
		if (o != prev.end()) {
			long long pf = o->second.first > 0 ? o->second.first : o->second.serial;
			if (pf > 0 && (first == 0 || pf < first)) first = pf;
		}
		out[n] = Pending{p.serial, first};
		// Serial 0: synced by request or newly demanded, for no change of
		// upstream's; it is retried, but holds status at no serial (else
		// status would stay where it is for as long as it fails).
		if (first > 0 && (s.min_first < 0 || first < s.min_first)) s.min_first = first;
	}
	s.failed = static_cast<long long>(out.size());
	deferred.assign(defer.begin(), defer.end());
	return true;
}

long long next_status(long long old_status, long long target, long long min_first, long long unnamed)
{
	long long n = target;
	if (min_first >= 0 && min_first - 1 < n) n = min_first - 1;
	if (unnamed > 0) n = old_status;
	return n < old_status ? old_status : n;
}

NameMap merge_sync_failed(const NameMap &prev, const NameMap &named, const NameMap &now_failed)
{
	NameMap m;
	for (auto &[n, p] : prev)
		if (!named.count(n)) m[n] = p;
	for (auto &[n, p] : now_failed) m[n] = p;
	return m;
}

std::string failed_list_text(const NameMap &m)
{
	std::string s;
	for (auto &[n, p] : m)
		s += "{\"name\":\"" + n + "\",\"serial\":" + std::to_string(p.serial) + ",\"first\":" +
		     std::to_string(p.first) + "}\n";
	return s;
}

std::string deferred_list_text(const std::vector<std::string> &names)
{
	std::string s;
	for (auto &n : names) s += "{\"name\":\"" + n + "\"}\n";
	return s;
}

std::string failed_summary(const NameMap &m)
{
	if (m.empty()) return "none";
	std::string s = std::to_string(m.size()) + ":";
	const char *sep = " ";
	for (auto &[n, p] : m) {
		s += sep + n + " (serial " + std::to_string(p.serial) + ")";
		sep = ", ";
	}
	return s;
}

std::string Summary::to_json() const
{
	auto f = [](const char *k, long long v) { return std::string(",\"") + k + "\":" + std::to_string(v); };
	std::string j = "{\"type\":\"summary\",\"command\":\"" + command + "\"";
	j += f("previous_serial", previous_serial) + f("serial", serial);
	if (target >= 0) j += f("target", target);
	j += f("projects", projects) + f("files_fetched", files_fetched) + f("bytes_fetched", bytes_fetched) +
	     f("deleted", deleted) + f("stale", stale) + f("purged", purged) + f("failed", failed) +
	     f("unnamed", unnamed) + f("lost", lost);
	if (min_first >= 0) j += f("min_first", min_first);
	j += f("started", started) + f("seconds", seconds) + f("exit", exit_code) + "}";
	return j;
}

std::string Summary::human() const
{
	return "projects=" + std::to_string(projects) + " files=" + std::to_string(files_fetched) +
	       " bytes=" + std::to_string(bytes_fetched) + " deleted=" + std::to_string(deleted) +
	       " stale=" + std::to_string(stale) + " purged=" + std::to_string(purged) +
	       " failed=" + std::to_string(failed) + " serial=" + std::to_string(previous_serial) + "->" +
	       std::to_string(serial) + " seconds=" + std::to_string(seconds);
}

std::string metrics_text(const Summary &s, long long last_success, long long now)
{
	std::string t;
	auto m = [&](const char *name, long long v, const char *help) {
		t += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
		     std::to_string(v) + "\n";
	};
	if (last_success >= 0)
		m("pypi_mirror_last_success_timestamp_seconds", last_success,
		  "When a mirror run last completed (exit status 0 or 1), in seconds since the epoch.");
	m("pypi_mirror_last_run_timestamp_seconds", now, "When the last mirror run ended, in seconds since the epoch.");
	m("pypi_mirror_last_exit_code", s.exit_code, "Exit status of the last mirror run (see pypi-mirror(1)).");
	m("pypi_mirror_serial", s.serial, "The mirror's serial (DIR/status): every change up to it is on disk.");
	if (s.target >= 0) {
		m("pypi_mirror_upstream_serial", s.target, "Upstream's serial when the last run listed changes.");
		m("pypi_mirror_lag", s.target > s.serial ? s.target - s.serial : 0,
		  "Upstream serial minus the mirror's serial (changelog entries not yet on disk).");
	}
	m("pypi_mirror_run_projects", s.projects, "Projects synced (or removed) by the last run.");
	m("pypi_mirror_run_files", s.files_fetched, "Files downloaded by the last run.");
	m("pypi_mirror_run_bytes", s.bytes_fetched, "Bytes downloaded by the last run.");
	m("pypi_mirror_run_deleted_files", s.deleted, "Files deleted by the last run.");
	m("pypi_mirror_run_failed_projects", s.failed, "Projects that failed in the last run and will be retried.");
	m("pypi_mirror_run_stale_projects", s.stale, "Projects upstream's CDN answered stale for in the last run.");
	m("pypi_mirror_run_purged_projects", s.purged, "Projects whose stale CDN copies were purged in the last run.");
	m("pypi_mirror_run_duration_seconds", s.seconds, "How long the last run took.");
	return t;
}

long long metrics_last_success(const std::string &text)
{
	static const std::string key = "\npypi_mirror_last_success_timestamp_seconds ";
	std::string t = "\n" + text;
	size_t at = t.find(key);
	if (at == std::string::npos) return -1;
	long long v = -1;
	if (sscanf(t.c_str() + at + key.size(), "%lld", &v) != 1) return -1;
	return v;
}

std::string shell_quote(const std::string &s)
{
	std::string q = "'";
	for (char c : s) {
		if (c == '\'')
			q += "'\\''";
		else
			q += c;
	}
	return q + "'";
}

} // namespace pm
