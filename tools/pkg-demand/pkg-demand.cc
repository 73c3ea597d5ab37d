// pkg-demand: a partial mirror of what its clients ask for. Reads the web
// server's access logs from where the last run stopped, counts requests per
// project, and filters the change list: changes of projects the mirror holds
// or that clients asked for pass, the others are dropped; projects newly
// asked for enough come in as project records, projects nobody asked for in
// a long time go out as removal records. With --learn it reads a run's
// results instead and remembers the names upstream does not know.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <zlib.h>

#include "access_log.h"
#include "cli.h"
#include "fsutil.h"
#include "hash.h"
#include "index_root.h"
#include "log.h"
#include "mirror_store.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "record.h"
#include "record_loop.h"

using namespace pm;

namespace {

const char *kProg = "pkg-demand";

constexpr size_t kMaxLine = 64 * 1024;  // longer log lines are skipped
constexpr size_t kHeadBytes = 1024;      // a log file is recognized by its first bytes
constexpr int kShownPerKind = 10;        // warnings per kind and run; the rest are counted
constexpr int kMaxRotated = 1000;

enum State { kPending = 0, kWanted = 1, kAbsent = 2, kExpired = 3 };
const char *state_name(int s)
{
	static const char *n[] = {"pending", "wanted", "absent", "expired"};
	return n[s];
}

struct Entry {
	int state = kPending;
	long long first = 0;  // when it became wanted (or was first seen held)
	long long last = 0;   // last request (log time); 0: never asked
	long long count = 0;  // requests counted, all time
	long long until = 0;  // absent: until then
	std::vector<long long> recent; // pending: the newest request times, at most min_requests
};

struct LogPos {
	std::string path;
	unsigned long long dev = 0, ino = 0; // ino 0: no file (start the next one from 0)
	long long offset = 0;
	long long head_len = 0;
	std::string head; // sha256 of the first head_len bytes
};

LogPos pos_for(const std::string &path)
{
	LogPos p;
	p.path = path;
	return p;
}

struct Options {
	std::string dir, state_path, config;
	// The mirror -d names (a directory or a bucket), and where the state is
	// read and written: the mirror's own pypi-mirror.demand, or --state on
	// local disk.
	std::unique_ptr<MirrorStore> store, local_state;
	MirrorStore *state = nullptr;
	std::vector<std::string> logs;
	std::set<std::string> keep;
	long long min_requests = 1, window = 7 * 86400, expire = 30 * 86400, absent_ttl = 86400;
	long long max_new = 100, max_tracked = 100000;
	long long now = 0;
	bool learn = false, fsync = false;
};

struct Counters {
	long long lines = 0, malformed = 0, overlong = 0, hostile = 0, requests = 0, other = 0, refused = 0;
	long long unreadable = 0, lost = 0;
	int shown_malformed = 0, shown_hostile = 0;
};

// A log excerpt fit for our own log: printable ASCII, the rest as \xHH.
std::string excerpt(std::string_view s, size_t max = 160)
{
	std::string o;
	for (unsigned char c : s) {
		if (o.size() >= max) {
			o += "...";
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			o += static_cast<char>(c);
		} else {
			char b[8];
			snprintf(b, sizeof b, "\\x%02x", c);
			o += b;
		}
	}
	return o;
}

class Demand {
public:
	explicit Demand(Options &o) : o_(o) {}

	// ------------------------------------------------------------ state
	// false: the file exists and cannot be read (nothing may be written).
	bool load()
	{
		std::string text, why;
		bool found = false;
		if (!o_.state->read(o_.state_path, text, found, why)) {
			LOG_ERROR("%s: cannot read the demand state: %s", kProg, why.c_str());
			return false;
		}
		if (!found) return true;
		size_t pos = 0, lineno = 0, bad = 0;
		while (pos < text.size()) {
			size_t nl = text.find('\n', pos);
			if (nl == std::string::npos) nl = text.size();
			std::string line = text.substr(pos, nl - pos);
			pos = nl + 1;
			lineno++;
			if (line.empty()) continue;
			rapidjson::Document d;
			std::string err;
			if (!parse_json_object(line, d, err) || !load_line(d)) {
				if (bad++ < 5) LOG_WARN("%s: %s line %zu is not a demand record; ignored", kProg, o_.state_path.c_str(), lineno);
			}
		}
		if (bad) LOG_WARN("%s: %zu lines of %s ignored", kProg, bad, o_.state_path.c_str());
		return true;
	}

	bool save()
	{
		std::string out;
		for (auto &p : positions_) {
			rapidjson::Document d(rapidjson::kObjectType);
			set_string(d, d, "type", "log");
			set_string(d, d, "path", p.path);
			set_int(d, d, "dev", static_cast<long long>(p.dev));
			set_int(d, d, "inode", static_cast<long long>(p.ino));
			set_int(d, d, "offset", p.offset);
			set_int(d, d, "head_len", p.head_len);
			set_string(d, d, "head", p.head);
			out += to_json(d) + "\n";
		}
		std::vector<const std::string *> names;
		names.reserve(projects_.size());
		for (auto &[n, e] : projects_) names.push_back(&n);
		std::sort(names.begin(), names.end(), [](auto a, auto b) { return *a < *b; });
		char buf[256];
		for (auto *n : names) {
			const Entry &e = projects_[*n];
			// Names are normalized project names: nothing to escape.
			out += "{\"type\":\"demand\",\"name\":\"" + *n + "\",\"state\":\"" + state_name(e.state) + "\"";
			snprintf(buf, sizeof buf, ",\"first\":%lld,\"last\":%lld,\"count\":%lld", e.first, e.last, e.count);
			out += buf;
			if (e.state == kAbsent) {
				snprintf(buf, sizeof buf, ",\"until\":%lld", e.until);
				out += buf;
			}
			if (!e.recent.empty()) {
				out += ",\"recent\":[";
				for (size_t i = 0; i < e.recent.size(); i++) out += (i ? "," : "") + std::to_string(e.recent[i]);
				out += "]";
			}
			out += "}\n";
		}
		std::string err;
		if (!o_.state->write(o_.state_path, out, o_.fsync, err)) {
			LOG_ERROR("%s: cannot write the demand state: %s", kProg, err.c_str());
			return false;
		}
		return true;
	}

	// ------------------------------------------------------------ held
	bool list_held()
	{
		// What the mirror holds, by the one definition every tool uses
		// (its root index, else its page directories; a bucket's root).
		RootList held;
		std::string why;
		if (!o_.store->held_projects(held, why)) {
			LOG_ERROR("%s: cannot list the projects %s holds: %s", kProg, o_.dir.c_str(), why.c_str());
			return false;
		}
		for (size_t i = 0; i < held.size(); i++)
			if (!held.removed(i)) held_.insert(normalize_name(held.display(i)));
		return true;
	}
	bool held(const std::string &n) const { return held_.count(n) > 0; }

	// ------------------------------------------------------------ logs
	void read_logs()
	{
		std::set<std::string> seen;
		for (auto &path : o_.logs) {
			if (!seen.insert(path).second) continue; // named twice: read once
			LogPos *old = nullptr;
			for (auto &p : loaded_pos_)
				if (p.path == path) old = &p;
			// Unreadable: where it was stays as it was, and the next run
			// takes up from there (read_log moves it past what it did read).
			LogPos now = old ? *old : pos_for(path);
			if (!read_log(path, old, now)) {
				c_.unreadable++;
				failed_ = true;
			}
			positions_.push_back(now);
		}
	}

	// ------------------------------------------------------------ decisions
	void decide()
	{
		const long long now = o_.now;
		for (auto &k : o_.keep) projects_.try_emplace(k); // made wanted below
		for (auto &n : held_) {
			auto [it, fresh] = projects_.try_emplace(n);
			// Held, but never seen: it gets the whole --expire from now.
			if (fresh) it->second.first = now;
		}
		struct Cand {
			std::string name;
			long long n, count, last;
		};
		std::vector<Cand> cands;
		for (auto it = projects_.begin(); it != projects_.end();) {
			const std::string &n = it->first;
			Entry &e = it->second;
			bool h = held(n), kept = o_.keep.count(n) > 0;
			if (e.state == kAbsent && e.until <= now) e.state = kPending;
			if (kept && e.state == kPending) {
				e.state = kWanted;
				e.first = now;
				e.recent.clear();
			}
			long long asked = std::max(e.last, e.first);
			bool stale = !kept && o_.expire > 0 && now - asked >= o_.expire;
			switch (e.state) {
			case kExpired:
				if (!h) { // its removal landed
					it = projects_.erase(it);
					continue;
				}
				if (!stale) {
					e.state = kWanted; // asked for again before it went
					break;
				}
				expired_.push_back(n);
				break;
			case kAbsent:
				if (h) { // synced by hand since: the mirror has it
					e.state = kWanted;
					e.first = now;
				}
				break;
			case kWanted:
				if (h && stale) {
					e.state = kExpired;
					expired_.push_back(n);
				} else if (!h && stale) {
					LOG_INFO("Giving up on %s: asked for, never mirrored, not asked for in %s", n.c_str(),
					         format_duration(o_.expire).c_str());
					it = projects_.erase(it);
					continue;
				} else if (!h) {
					wanted_missing_.push_back(n); // admitted before, not landed yet
				}
				break;
			case kPending: {
				if (h) {
					e.state = kWanted;
					e.first = now;
					e.recent.clear();
					break;
				}
				long long within = 0;
				for (long long t : e.recent)
					if (t > now - o_.window) within++;
				if (within == 0) {
					it = projects_.erase(it); // nothing recent: forgotten
					continue;
				}
				if (within >= o_.min_requests) cands.push_back({n, within, e.count, e.last});
				else waiting_++;
				break;
			}
			}
			++it;
		}
		std::sort(cands.begin(), cands.end(), [](const Cand &a, const Cand &b) {
			if (a.n != b.n) return a.n > b.n;
			if (a.count != b.count) return a.count > b.count;
			if (a.last != b.last) return a.last > b.last;
			return a.name < b.name;
		});
		for (size_t i = 0; i < cands.size(); i++) {
			if (o_.max_new > 0 && static_cast<long long>(i) >= o_.max_new) {
				held_back_++;
				continue;
			}
			Entry &e = projects_[cands[i].name];
			e.state = kWanted;
			e.first = now;
			e.recent.clear();
			new_.push_back(cands[i].name);
			LOG_INFO("Demanded: %s (%lld requests in %s)", cands[i].name.c_str(), cands[i].n,
			         format_duration(o_.window).c_str());
		}
		if (held_back_)
			LOG_WARN("%s: %lld more projects were asked for enough; --max-new %lld admits them in later runs", kProg,
			         held_back_, o_.max_new);
		std::sort(new_.begin(), new_.end());
		std::sort(wanted_missing_.begin(), wanted_missing_.end());
		std::sort(expired_.begin(), expired_.end());
	}

	// ------------------------------------------------------------ filter
	int filter(FILE *in_f, FILE *out_f)
	{
		// The one record loop: change records it does not act on pass
		// through, a refused one naming a project becomes an error record,
		// targets come last (after the removals below).
		RecordLoop loop(kProg, {"project"}, in_f, out_f);
		long long passed = 0, dropped = 0;
		std::unordered_set<std::string> passed_names, gone(expired_.begin(), expired_.end());
		while (loop.next()) {
			const ProjectRecord &r = loop.record();
			auto it = projects_.find(r.name);
			bool want = !gone.count(r.name) && it != projects_.end() && it->second.state == kWanted;
			if (!want) {
				dropped++;
				LOG_DEBUG("Not demanded: %s (serial %lld)", r.name.c_str(), r.serial);
				continue;
			}
			passed++;
			passed_names.insert(r.name);
			loop.emit_raw(loop.line());
		}
		auto add = [&](const std::string &n) {
			if (passed_names.count(n)) return; // its change passed already
			loop.emit_raw("{\"type\":\"project\",\"name\":\"" + n + "\",\"serial\":0}");
		};
		for (auto &n : new_) add(n);
		for (auto &n : wanted_missing_) add(n);
		std::string reason = "not requested for " + format_duration(o_.expire);
		long long target_serial = std::max(0LL, loop.target_serial());
		for (auto &n : expired_) {
			LOG_INFO("Not requested for %s: removing %s", format_duration(o_.expire).c_str(), n.c_str());
			loop.emit_raw("{\"type\":\"removal\",\"name\":\"" + n + "\",\"serial\":" + std::to_string(target_serial) +
			              ",\"reason\":\"" + reason + "\"}");
		}
		if (failed_) loop.mark_failed(); // a log that could not be read
		return loop.finish("%lld log lines read: %lld requests for projects, %lld malformed, %lld hostile, "
		                   "%lld logs unreadable; %zu newly demanded, %zu still to mirror, %lld waiting for more "
		                   "requests, %zu expired; changes: %lld passed, %lld dropped (not demanded)",
		                   c_.lines, c_.requests, c_.malformed + c_.overlong, c_.hostile, c_.unreadable, new_.size(),
		                   wanted_missing_.size(), waiting_ + held_back_, expired_.size(), passed, dropped);
	}

	// ------------------------------------------------------------ learn
	int learn(FILE *in_f)
	{
		NdjsonReader in(in_f);
		rapidjson::Document doc;
		std::string err;
		long long absent = 0, gone = 0;
		while (in.next(doc, err)) {
			if (!err.empty()) {
				LOG_ERROR("%s: input %s", kProg, err.c_str());
				failed_ = true;
				continue;
			}
			std::string type = get_string(doc, "type", "project"), name = get_string(doc, "name");
			bool removed = (type == "synced" && get_bool(doc, "removed")) || type == "removal";
			if (!removed) continue;
			if (!valid_project_name(name) || normalize_name(name) != name) {
				LOG_ERROR("%s: input line %zu: not a normalized project name", kProg, in.line_number());
				failed_ = true;
				continue;
			}
			auto it = projects_.find(name);
			if (it != projects_.end() && it->second.state == kExpired) {
				projects_.erase(it); // our own removal landed
				gone++;
				continue;
			}
			Entry &e = projects_[name];
			e.state = kAbsent;
			e.until = o_.now + o_.absent_ttl;
			e.recent.clear();
			absent++;
			LOG_INFO("%s is not on upstream: not asking for it again for %s", name.c_str(),
			         format_duration(o_.absent_ttl).c_str());
		}
		positions_ = loaded_pos_;
		LOG_INFO("%s: learnt %lld names absent upstream, %lld removals done", kProg, absent, gone);
		return failed_ ? kExitSomeFailed : kExitOk;
	}

	bool failed() const { return failed_; }

private:
	bool load_line(const rapidjson::Value &d)
	{
		std::string type = get_string(d, "type");
		if (type == "log") {
			LogPos p;
			p.path = get_string(d, "path");
			p.dev = static_cast<unsigned long long>(get_int(d, "dev"));
			p.ino = static_cast<unsigned long long>(get_int(d, "inode"));
			p.offset = get_int(d, "offset");
			p.head_len = get_int(d, "head_len");
			p.head = get_string(d, "head");
			if (p.path.empty() || p.offset < 0 || p.head_len < 0 || p.head_len > static_cast<long long>(kHeadBytes))
				return false;
			loaded_pos_.push_back(p);
			return true;
		}
		if (type != "demand") return false;
		std::string n = get_string(d, "name"), s = get_string(d, "state");
		if (!valid_project_name(n) || normalize_name(n) != n) return false;
		Entry e;
		int st = -1;
		for (int i = 0; i < 4; i++)
			if (s == state_name(i)) st = i;
		if (st < 0) return false;
		e.state = st;
		e.first = get_int(d, "first");
		e.last = get_int(d, "last");
		e.count = get_int(d, "count");
		e.until = get_int(d, "until");
		if (auto *r = member(d, "recent"); r && r->IsArray())
			for (auto &t : r->GetArray())
				if (t.IsInt64()) e.recent.push_back(t.GetInt64());
		if (e.recent.size() > static_cast<size_t>(o_.min_requests))
			e.recent.erase(e.recent.begin(), e.recent.end() - o_.min_requests);
		projects_[n] = std::move(e);
		return true;
	}

	// Makes room for a new name: forgets the pending and absent names asked
	// for longest ago. False when only wanted names are left.
	bool make_room()
	{
		std::vector<std::pair<long long, std::string>> v;
		for (auto &[n, e] : projects_)
			if (e.state == kPending || e.state == kAbsent) v.emplace_back(e.last, n);
		if (v.empty()) return false;
		size_t drop = std::max<size_t>(1, std::min(v.size(), static_cast<size_t>(o_.max_tracked / 10 + 1)));
		std::nth_element(v.begin(), v.begin() + static_cast<long>(drop - 1), v.end());
		for (size_t i = 0; i < drop; i++) projects_.erase(v[i].second);
		if (!warned_full_)
			LOG_WARN("%s: more than --max-tracked %lld names asked for; forgetting those asked for longest ago", kProg,
			         o_.max_tracked);
		warned_full_ = true;
		return true;
	}

	void count(const std::string &name, long long t)
	{
		auto it = projects_.find(name);
		if (it == projects_.end()) {
			if (static_cast<long long>(projects_.size()) >= o_.max_tracked && !make_room()) {
				c_.refused++;
				return;
			}
			it = projects_.emplace(name, Entry{}).first;
		}
		Entry &e = it->second;
		e.count++;
		if (t > e.last) e.last = t;
		if (e.state == kWanted) return;
		auto &r = e.recent;
		// Log lines come in time order, nearly: keep the newest min_requests.
		auto pos = std::upper_bound(r.begin(), r.end(), t);
		r.insert(pos, t);
		if (r.size() > static_cast<size_t>(o_.min_requests)) r.erase(r.begin());
	}

	void line(std::string_view l, const std::string &file, long long at)
	{
		c_.lines++;
		AccessLine a;
		const char *why = nullptr;
		if (!parse_access_line(l, a, &why)) {
			c_.malformed++;
			if (c_.shown_malformed++ < kShownPerKind)
				LOG_WARN("%s: %s at byte %lld: not an access log line (%s): %s", kProg, file.c_str(), at, why,
				         excerpt(l).c_str());
			return;
		}
		if (a.target.empty() || (a.method != "GET" && a.method != "HEAD")) {
			c_.other++;
			return;
		}
		std::string why_s;
		Ask k = project_from_target(a.target, name_buf_, &why_s);
		if (k == Ask::Hostile) {
			c_.hostile++;
			if (c_.shown_hostile++ < kShownPerKind)
				LOG_WARN("%s: %s at byte %lld: ignoring request %s: %s", kProg, file.c_str(), at,
				         excerpt(a.target).c_str(), why_s.c_str());
			return;
		}
		if (k == Ask::None || !demand_status(a.status)) {
			c_.other++;
			return;
		}
		c_.requests++;
		count(name_buf_, a.time);
	}

	// Reads fd (gzip or plain) from byte start of its (decompressed) content.
	// live: the file is still being written, so a last line without its
	// newline is left for the next run. Sets end to the offset reached.
	// False when the file could not be read to its end.
	bool read_stream(int fd, bool gz, long long start, bool live, const std::string &file, long long &end)
	{
		gzFile g = nullptr;
		if (gz) {
			// gzdopen reads from the file offset, which a dup shares.
			lseek(fd, 0, SEEK_SET);
			int fd2 = dup(fd);
			if (fd2 < 0 || !(g = gzdopen(fd2, "rb"))) {
				if (fd2 >= 0) close(fd2);
				LOG_ERROR("%s: %s: cannot decompress: %s", kProg, file.c_str(), strerror(errno));
				return false;
			}
			gzbuffer(g, 1 << 17);
		}
		std::vector<char> buf(1 << 20);
		size_t have = 0;         // bytes in buf not yet split into lines
		long long pos = start;   // file offset of buf[0]
		long long skip = gz ? start : 0; // a gzip stream cannot seek: read and drop
		long long fpos = start;  // plain: where the next pread reads
		bool skipping_long = false, ok = true;
		for (;;) {
			if (have == buf.size()) {
				// A line longer than the buffer: drop it up to its newline.
				if (!skipping_long) {
					c_.overlong++;
					if (c_.shown_malformed++ < kShownPerKind)
						LOG_WARN("%s: %s at byte %lld: line longer than %zu bytes, skipped", kProg, file.c_str(), pos,
						         kMaxLine);
				}
				skipping_long = true;
				pos += static_cast<long long>(have);
				have = 0;
			}
			ssize_t r;
			if (gz) {
				size_t want = buf.size() - have;
				if (skip > 0) want = std::min<size_t>(want, static_cast<size_t>(skip));
				r = gzread(g, buf.data() + have, static_cast<unsigned>(want));
				if (r < 0) {
					int e;
					const char *m = gzerror(g, &e);
					LOG_ERROR("%s: %s: %s", kProg, file.c_str(), e == Z_ERRNO ? strerror(errno) : m);
					ok = false;
					break;
				}
				if (skip > 0 && r > 0) {
					skip -= r;
					continue;
				}
			} else {
				r = pread(fd, buf.data() + have, buf.size() - have, fpos);
				if (r < 0) {
					if (errno == EINTR) continue;
					LOG_ERROR("%s: cannot read %s: %s", kProg, file.c_str(), strerror(errno));
					ok = false;
					break;
				}
				fpos += r;
			}
			if (r == 0) {
				if (gz && !gzeof(g)) {
					int e;
					LOG_ERROR("%s: %s: %s", kProg, file.c_str(), gzerror(g, &e));
					ok = false;
				}
				if (gz && skip > 0) {
					// Shorter than where we stopped: not the file we read.
					LOG_WARN("%s: %s is shorter than the %lld bytes already read", kProg, file.c_str(), start);
					pos = start;
					have = 0;
				}
				break;
			}
			have += static_cast<size_t>(r);
			// Split the complete lines.
			size_t b = 0;
			for (;;) {
				char *nl = static_cast<char *>(memchr(buf.data() + b, '\n', have - b));
				if (!nl) break;
				size_t e = static_cast<size_t>(nl - buf.data());
				if (skipping_long) {
					skipping_long = false;
				} else if (e - b > kMaxLine) {
					c_.overlong++;
					if (c_.shown_malformed++ < kShownPerKind)
						LOG_WARN("%s: %s at byte %lld: line longer than %zu bytes, skipped", kProg, file.c_str(),
						         pos + static_cast<long long>(b), kMaxLine);
				} else {
					line(std::string_view(buf.data() + b, e - b), file, pos + static_cast<long long>(b));
				}
				b = e + 1;
			}
			if (b > 0) {
				memmove(buf.data(), buf.data() + b, have - b);
				have -= b;
				pos += static_cast<long long>(b);
			}
		}
		// The rest of a file no one writes to any more is a line too.
		if (ok && !live && have > 0 && !skipping_long) {
			line(std::string_view(buf.data(), have), file, pos);
			pos += static_cast<long long>(have);
			have = 0;
		}
		if (g) gzclose(g);
		end = (ok && !live) ? pos + static_cast<long long>(have) : pos;
		return ok;
	}

	static bool is_gzip(int fd)
	{
		unsigned char m[2];
		return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
	}

	// sha256 of the first n bytes of the (decompressed) file; "" if shorter.
	static std::string head_hash(int fd, long long n)
	{
		std::string data(static_cast<size_t>(n), '\0');
		long long got = 0;
		if (is_gzip(fd)) {
			lseek(fd, 0, SEEK_SET);
			int fd2 = dup(fd);
			gzFile g = fd2 >= 0 ? gzdopen(fd2, "rb") : nullptr;
			if (!g) {
				if (fd2 >= 0) close(fd2);
				return "";
			}
			while (got < n) {
				int r = gzread(g, data.data() + got, static_cast<unsigned>(n - got));
				if (r <= 0) break;
				got += r;
			}
			gzclose(g);
		} else {
			while (got < n) {
				ssize_t r = pread(fd, data.data() + got, static_cast<size_t>(n - got), got);
				if (r <= 0) break;
				got += r;
			}
		}
		if (got < n) return "";
		return sha256_hex(data);
	}

	// The file that held PATH when we last read it, after a rotation:
	// PATH.K or PATH.K.gz, found by inode or by its first bytes. Returns k
	// (0: not found) and leaves its fd open in fd.
	int find_rotated(const std::string &path, const LogPos &old, int &fd, std::string &found)
	{
		for (int k = 1; k <= kMaxRotated; k++) {
			bool any = false;
			for (const char *suf : {"", ".gz"}) {
				std::string p = path + "." + std::to_string(k) + suf;
				int f = open(p.c_str(), O_RDONLY | O_CLOEXEC);
				if (f < 0) continue;
				any = true;
				struct stat st;
				bool match = fstat(f, &st) == 0 && S_ISREG(st.st_mode) &&
				             ((st.st_dev == old.dev && st.st_ino == old.ino && !is_gzip(f)) ||
				              (old.head_len > 0 && head_hash(f, old.head_len) == old.head));
				if (match) {
					fd = f;
					found = p;
					return k;
				}
				close(f);
			}
			if (!any) break; // rotated files are numbered without gaps
		}
		return 0;
	}

	// Reads a whole rotated file (or from start); false if it cannot be read.
	bool read_whole(const std::string &p, int fd, long long start)
	{
		long long end;
		return read_stream(fd, is_gzip(fd), start, false, p, end);
	}

	bool read_log(const std::string &path, const LogPos *old, LogPos &pos)
	{
		int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
		int open_errno = errno;
		struct stat st{};
		if (fd >= 0 && fstat(fd, &st) != 0) {
			open_errno = errno;
			close(fd);
			fd = -1;
		}
		if (fd >= 0 && !S_ISREG(st.st_mode)) {
			LOG_ERROR("%s: %s: not a regular file", kProg, path.c_str());
			close(fd);
			return false;
		}
		if (fd < 0 && !(open_errno == ENOENT && old && old->ino)) {
			LOG_ERROR("%s: cannot read the log %s: %s", kProg, path.c_str(), strerror(open_errno));
			return false;
		}
		long long start = 0;
		bool same = false;
		if (old && old->ino && fd >= 0 && st.st_dev == old->dev && st.st_ino == old->ino &&
		    st.st_size >= old->offset && (old->head_len == 0 || head_hash(fd, old->head_len) == old->head))
			same = true;
		if (same) {
			start = old->offset;
		} else if (old && old->ino) {
			const char *what = fd < 0                                                ? "is gone"
			                   : (st.st_dev != old->dev || st.st_ino != old->ino)     ? "was rotated"
			                   : st.st_size < old->offset                           ? "was truncated"
			                                                                         : "was truncated (and written again)";
			int rfd = -1;
			std::string rpath;
			int k = find_rotated(path, *old, rfd, rpath);
			if (k > 0) {
				LOG_INFO("%s: %s %s since the last run: reading the rest of %s from byte %lld", kProg, path.c_str(),
				         what, rpath.c_str(), old->offset);
				bool ok = read_whole(rpath, rfd, old->offset);
				close(rfd);
				for (int j = k - 1; ok && j >= 1; j--) {
					// Rotated more than once: the files in between, whole.
					for (const char *suf : {"", ".gz"}) {
						std::string p = path + "." + std::to_string(j) + suf;
						int f = open(p.c_str(), O_RDONLY | O_CLOEXEC);
						if (f < 0) continue;
						LOG_INFO("%s: reading %s", kProg, p.c_str());
						ok = read_whole(p, f, 0);
						close(f);
						break;
					}
				}
				if (!ok) c_.lost++;
			} else if (old->offset > 0) {
				c_.lost++;
				LOG_WARN("%s: %s %s since the last run and its old content is in no %s.N or %s.N.gz: requests "
				         "logged after byte %lld of it are not counted",
				         kProg, path.c_str(), what, path.c_str(), path.c_str(), old->offset);
			}
		}
		if (fd < 0) { // rotated and not created again yet
			pos = pos_for(path);
			return true;
		}
		long long end = start;
		bool ok = read_stream(fd, is_gzip(fd), start, true, path, end);
		if (!ok && end == start && same) {
			close(fd);
			return false;
		}
		pos = pos_for(path);
		pos.dev = st.st_dev;
		pos.ino = st.st_ino;
		pos.offset = end;
		pos.head_len = std::min<long long>(end, kHeadBytes);
		pos.head = head_hash(fd, pos.head_len);
		close(fd);
		return ok;
	}

	Options &o_;
	Counters c_;
	std::unordered_map<std::string, Entry> projects_;
	std::unordered_set<std::string> held_;
	std::vector<LogPos> loaded_pos_, positions_;
	std::vector<std::string> new_, wanted_missing_, expired_;
	long long waiting_ = 0, held_back_ = 0;
	std::string name_buf_;
	bool failed_ = false, warned_full_ = false;
};

long long duration_or_exit(const char *opt, const char *arg)
{
	long long d = parse_duration(arg);
	if (d < 0) {
		usage_error(kProg, "%s wants a duration (45s, 90m, 12h, 30d, 2w or seconds), not '%s'", opt, arg);
	}
	return d;
}

} // namespace

int main(int argc, char **argv)
{
	log_set_prog(kProg);
	Options o;
	MirrorOptions mo;
	o.now = now_from_env(kProg);
	parse_options(kProg, kCommandLine, argc, argv, [&](int c) {
		if (mo.option(c, kProg, optarg) || now_option(c, kProg, optarg, o.now)) return;
		switch (c) {
		case kOptLog:
			if (!*optarg) usage_error(kProg, "--log wants a file");
			o.logs.push_back(optarg);
			break;
		case kOptMinRequests: o.min_requests = parse_count(kProg, "--min-requests", optarg, 1, 10000); break;
		case kOptWindow: o.window = duration_or_exit("--window", optarg); break;
		case kOptExpire: o.expire = duration_or_exit("--expire", optarg); break;
		case kOptKeep:
			if (!valid_project_name(optarg)) usage_error(kProg, "--keep wants a project name, not '%s'", optarg);
			o.keep.insert(normalize_name(optarg));
			break;
		case kOptAbsentTtl: o.absent_ttl = duration_or_exit("--absent-ttl", optarg); break;
		case kOptMaxNew: o.max_new = parse_count(kProg, "--max-new", optarg); break;
		case kOptMaxTracked: o.max_tracked = parse_count(kProg, "--max-tracked", optarg, 1, 100000000); break;
		case kOptState: o.state_path = optarg; break;
		case kOptLearn: o.learn = true; break;
		}
	});
	mo.require(kProg);
	o.dir = mo.dir;
	o.fsync = mo.fsync;
	if (o.window <= 0) usage_error(kProg, "--window must be longer than 0s");
	o.config = mo.config;
	o.store = open_mirror_store(kProg, o.dir, o.config);
	if (o.state_path.empty()) {
		o.state_path = o.store->layout().state_file("demand");
		o.state = o.store.get();
	} else {
		o.local_state = open_mirror_store(kProg, "/", ""); // a local file, whatever the mirror
		o.state = o.local_state.get();
	}

	Demand d(o);
	if (!d.load()) return kExitFatal;
	if (o.learn) {
		int rc = d.learn(stdin);
		if (!d.save()) return kExitFatal;
		return rc;
	}
	if (!d.list_held()) return kExitFatal;
	d.read_logs();
	d.decide();
	// The state first: what it records is derived again from it and from
	// the mirror at every run, so a pipeline that fails after us loses
	// nothing; a state that cannot be written stops us before any output.
	if (!d.save()) return kExitFatal;
	return d.filter(stdin, stdout);
}
