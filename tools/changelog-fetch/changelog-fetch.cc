// changelog-fetch: asks upstream which projects changed since a serial and
// prints one project record per changed project, then a target record.
// The head of the pipeline; see changelog-fetch(1).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "body_stream.h"
#include "cli.h"
#include "fsutil.h"
#include "http.h"
#include "index_root.h"
#include "options.h"
#include "root_reader.h"
#include "layout.h"
#include "mirror_store.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "url_policy.h"
#include "xmlrpc.h"

namespace {

const char *const kProg = "changelog-fetch";

constexpr const char *kSimpleJson = "application/vnd.pypi.simple.v1+json";
// The Accept header for the root and project pages: PEP 691 JSON first, a
// PEP 503 page from an index (or a static mirror) that has no JSON.
const char *const kSimpleAccept =
    "Accept: application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
constexpr size_t kMaxRoot = size_t(1) << 30; // PyPI's JSON root is ~40 MB today

// Strings appended in 1 MiB blocks: growing never copies what is stored,
// where one string doubling its buffer holds twice its size for a moment.
class Arena {
public:
	static constexpr unsigned kShift = 20;
	static constexpr size_t kBlock = size_t(1) << kShift;
	// Stores a then b, side by side; returns where.
	uint64_t put(std::string_view a, std::string_view b)
	{
		size_t n = a.size() + b.size();
		if (blocks_.empty() || blocks_.back().size() + n > kBlock) {
			blocks_.emplace_back();
			blocks_.back().reserve(std::max(kBlock, n));
		}
		std::string &blk = blocks_.back();
		uint64_t off = (uint64_t(blocks_.size() - 1) << kShift) | blk.size();
		blk.append(a);
		blk.append(b);
		size_ += n;
		return off;
	}
	std::string_view at(uint64_t off, size_t n) const
	{
		return std::string_view(blocks_[off >> kShift]).substr(off & (kBlock - 1), n);
	}
	size_t size() const { return size_; }
	void clear()
	{
		blocks_.clear();
		size_ = 0;
	}
	void swap(Arena &o)
	{
		blocks_.swap(o.blocks_);
		std::swap(size_, o.size_);
	}

private:
	std::vector<std::string> blocks_;
	size_t size_ = 0;
};

// The changed projects, compactly: the names live in an arena and a
// project costs 16 bytes besides them, where a std::map node of two
// std::strings cost over 100 (an initial listing holds every project).
// Changes are appended as they come; sorting by name and keeping the newest
// change per name happens now and then (the journal repeats names) and once
// at the end. A deque, not a vector: it grows without copying.
class Changes {
public:
	void add(const std::string &name, const std::string &display, long long serial)
	{
		Rec r;
		r.nlen = static_cast<uint8_t>(name.size());
		r.dlen = display == name ? 0 : static_cast<uint8_t>(display.size());
		r.off = arena_.put(name, r.dlen ? std::string_view(display) : std::string_view());
		r.serial = serial;
		recs_.push_back(r);
		if (recs_.size() >= 2 * std::max(settled_, size_t(8192))) settle();
	}
	// Sorts by name and keeps one change per name: the newest serial, and of
	// equal serials the one added last (as a map updated in order would).
	void settle()
	{
		if (settled_ == recs_.size()) return;
		std::sort(recs_.begin(), recs_.end(), [this](const Rec &a, const Rec &b) {
			int c = name(a).compare(name(b));
			if (c != 0) return c < 0;
			if (a.serial != b.serial) return a.serial < b.serial;
			return a.off < b.off; // arena offsets grow with every add
		});
		size_t out = 0, dropped = 0;
		for (size_t i = 0; i < recs_.size(); i++) {
			if (i + 1 < recs_.size() && name(recs_[i]) == name(recs_[i + 1])) {
				dropped += size_t(recs_[i].nlen) + recs_[i].dlen;
				continue;
			}
			recs_[out++] = recs_[i];
		}
		recs_.resize(out);
		garbage_ += dropped;
		// The journal can name one project a million times: once most of the
		// arena is dropped names, copy the live ones out (in sorted order,
		// which keeps offsets growing with every later add).
		if (garbage_ > arena_.size() / 2) {
			Arena fresh;
			for (auto &r : recs_) r.off = fresh.put(name(r), r.dlen ? display(r) : std::string_view());
			arena_.swap(fresh);
			garbage_ = 0;
		}
		settled_ = recs_.size();
	}
	// After settle().
	bool has(std::string_view n) const
	{
		auto end = recs_.begin() + static_cast<long>(settled_);
		auto it = std::lower_bound(recs_.begin(), end, n,
		                           [this](const Rec &r, std::string_view v) { return name(r) < v; });
		return it != end && name(*it) == n;
	}
	size_t size() const { return recs_.size(); }
	void clear()
	{
		recs_.clear();
		arena_.clear();
		settled_ = garbage_ = 0;
	}
	// f(name, display, serial) in name order; after settle().
	template <class F> void each(F f) const
	{
		for (auto &r : recs_) f(name(r), display(r), r.serial);
	}

private:
	struct Rec {
		uint64_t off : 48; // in arena_: the name, then the display name unless the same
		uint64_t nlen : 8; // names are at most 200 bytes (valid_project_name)
		uint64_t dlen : 8; // 0: the display name is the name
		long long serial;
	};
	static_assert(sizeof(Rec) == 16);
	std::string_view name(const Rec &r) const { return arena_.at(r.off, r.nlen); }
	std::string_view display(const Rec &r) const { return r.dlen ? arena_.at(r.off + r.nlen, r.dlen) : name(r); }
	Arena arena_;
	std::deque<Rec> recs_;
	size_t settled_ = 0; // recs_[0, settled_) is sorted, one per name
	size_t garbage_ = 0; // arena bytes no record points at
};

// The whole state of a run: the changed projects, the highest serial seen,
// and (for removal detection) hashes of every name upstream listed.
struct Run {
	long long since = 0;
	long long max_serial = 0;
	Changes changed; // normalized name -> newest change
	bool collect_names = false;
	// FNV-1a hashes of the normalized upstream names, not the names: 8 bytes
	// a project instead of ~50. A collision can only hide a removal (never
	// invent one), and pkg-resolve corrects that on the project's next change.
	std::deque<uint64_t> upstream;
	size_t skipped = 0;
	// Upstream's own serial (the simple root's meta, or its header); -1 if
	// unknown (XML-RPC).
	long long upstream_serial = -1;
	// Root entries without a serial (a static mirror, a private index),
	// "normalized\0display" each: conditional requests tell which changed.
	std::vector<std::string> unserialed;
	// Our own serial for the changes of such a root (one past the mirror's
	// status), 0 when upstream's serials are used: the records then say
	// "local_serial", and a removal gets this serial too, so that the
	// mirror's status (and the root others chain from) moves with it.
	long long local_serial = 0;
};

uint64_t name_hash(std::string_view s)
{
	uint64_t h = 1469598103934665603ull;
	for (unsigned char c : s) {
		h ^= c;
		h *= 1099511628211ull;
	}
	return h;
}

// A change to one project at a serial. Keeps the newest serial per project
// and the display name upstream used with it.
void note(Run &run, const std::string &display, long long serial)
{
	run.max_serial = std::max(run.max_serial, serial);
	if (!pm::valid_project_name(display)) {
		LOG_WARN("Skipping invalid project name '%.200s' (serial %lld)", display.c_str(), serial);
		run.skipped++;
		return;
	}
	run.changed.add(pm::normalize_name(display), display, serial);
}

[[noreturn]] void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pm::vlogf(pm::Level::Error, fmt, ap);
	va_end(ap);
	exit(pm::kExitFatal);
}

// ---------------------------------------------------------------- XML-RPC

// One XML-RPC call; the response streams through parser as it arrives.
// restart runs when a retry starts the response over. Exits on any failure.
void xmlrpc_call(pm::Http &http, const std::string &endpoint, const std::string &method,
                 const std::vector<pm::xmlrpc::Value> &params, pm::xmlrpc::ResponseParser &parser,
                 const std::function<void()> &restart = nullptr)
{
	parser.reset();
	pm::Request req;
	req.method = "POST";
	req.url = endpoint;
	// Warehouse routes XML-RPC only when the Content-Type says text/xml.
	req.headers = {"Content-Type: text/xml"};
	req.body = pm::xmlrpc::method_call(method, params);
	req.compressed = true;
	req.what = "XML-RPC " + method;
	req.on_data = [&parser](const char *p, size_t n) { return parser.feed(p, n); };
	req.on_restart = [&parser, &restart] {
		parser.reset();
		if (restart) restart();
	};
	LOG_DEBUG("XML-RPC %s at %s", method.c_str(), endpoint.c_str());
	pm::Response r = http.fetch(req);
	std::string ct = r.header("content-type");
	if (!parser.error().empty())
		fatal("Cannot parse the XML-RPC %s response from %s: %s (Content-Type: %s)", method.c_str(),
		      endpoint.c_str(), parser.error().c_str(), ct.empty() ? "none" : ct.c_str());
	if (!r.ok()) {
		std::string body = r.body.substr(0, 200);
		for (auto &c : body)
			if (c == '\n' || c == '\r' || static_cast<unsigned char>(c) < 0x20) c = ' ';
		fatal("XML-RPC %s at %s failed after %d attempt%s: %s%s%s", method.c_str(), endpoint.c_str(), r.attempts,
		      r.attempts == 1 ? "" : "s", r.describe().c_str(), body.empty() ? "" : ": ", body.c_str());
	}
	if (!parser.finish()) {
		fatal("Cannot parse the XML-RPC %s response from %s: %s (Content-Type: %s)", method.c_str(),
		      endpoint.c_str(), parser.error().c_str(), ct.empty() ? "none" : ct.c_str());
	}
	if (parser.is_fault())
		fatal("XML-RPC %s at %s answered with fault %lld: %s", method.c_str(), endpoint.c_str(),
		      parser.fault_code(), parser.fault_string().c_str());
}

long long xmlrpc_last_serial(pm::Http &http, const std::string &endpoint)
{
	pm::xmlrpc::ResponseParser parser;
	xmlrpc_call(http, endpoint, "changelog_last_serial", {}, parser);
	if (!parser.result().is_int() || parser.result().i < 0)
		fatal("XML-RPC changelog_last_serial at %s answered a %s, not a serial", endpoint.c_str(),
		      pm::xmlrpc::type_name(parser.result().type));
	return parser.result().i;
}

// since 0: every project with its last serial, in one struct.
void xmlrpc_full(pm::Http &http, const std::string &endpoint, Run &run)
{
	pm::xmlrpc::ResponseParser parser;
	parser.set_member_sink([&run](const std::string &name, pm::xmlrpc::Value &v, std::string &) {
		if (run.collect_names) run.upstream.push_back(name_hash(pm::normalize_name(name)));
		if (!v.is_int() || v.i < 0) {
			LOG_WARN("Skipping project '%.200s': its serial is a %s, not an int", name.c_str(),
			         pm::xmlrpc::type_name(v.type));
			run.skipped++;
			return true;
		}
		note(run, name, v.i);
		return true;
	});
	// A retried response lists everything again; note() is idempotent, and
	// the name hashes are deduplicated later.
	xmlrpc_call(http, endpoint, "list_packages_with_serial", {}, parser);
	if (parser.result().type != pm::xmlrpc::Type::Struct)
		fatal("XML-RPC list_packages_with_serial at %s answered a %s, not a struct", endpoint.c_str(),
		      pm::xmlrpc::type_name(parser.result().type));
}

// since > 0: the journal, page by page. PyPI caps a page at 50,000 rows and
// the next page starts after the last serial of this one; an empty page
// ends it.
void xmlrpc_changelog(pm::Http &http, const std::string &endpoint, Run &run)
{
	long long cur = run.since;
	long long page_rows = 0, page_last = -1;
	pm::xmlrpc::ResponseParser parser;
	parser.set_item_sink([&](pm::xmlrpc::Value &row, std::string &) {
		page_rows++;
		// [name, version|nil, timestamp, action, serial]; the action is not
		// looked at: every kind of change (and any legacy or future action
		// string) means the project must be resolved again.
		if (row.type != pm::xmlrpc::Type::Array || row.items.size() < 5 || !row.items[0].is_string() ||
		    !row.items[4].is_int()) {
			LOG_WARN("Skipping a malformed changelog row after serial %lld", cur);
			run.skipped++;
			return true;
		}
		long long serial = row.items[4].i;
		page_last = std::max(page_last, serial);
		note(run, row.items[0].s, serial);
		return true;
	});
	for (int page = 1;; page++) {
		page_rows = 0;
		page_last = -1;
		xmlrpc_call(http, endpoint, "changelog_since_serial", {pm::xmlrpc::Value::make_int(cur)}, parser, [&] {
			page_rows = 0;
			page_last = -1;
		});
		if (parser.result().type != pm::xmlrpc::Type::Array)
			fatal("XML-RPC changelog_since_serial at %s answered a %s, not an array", endpoint.c_str(),
			      pm::xmlrpc::type_name(parser.result().type));
		LOG_DEBUG("Changelog page %d after serial %lld: %lld rows", page, cur, page_rows);
		if (page_rows == 0) break;
		// A page that does not move forward would loop for ever.
		if (page_last <= cur)
			fatal("XML-RPC changelog_since_serial(%lld) at %s answered %lld rows but none after serial %lld",
			      cur, endpoint.c_str(), page_rows, cur);
		cur = page_last;
	}
}

// ---------------------------------------------------------- simple (PEP 691)

std::string media_type(std::string ct)
{
	auto semi = ct.find(';');
	if (semi != std::string::npos) ct.resize(semi);
	while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.pop_back();
	for (auto &c : ct) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
	return ct;
}

// No string in a root is anywhere near this; a longer one (or as much
// whitespace) is a hostile answer, refused before the parser holds it.
constexpr size_t kMaxGap = size_t(8) << 20;

// Fetches upstream's root and parses it as it arrives (PEP 691 JSON, or
// PEP 503 HTML); entries go to h.entry. restart (if set) runs when a
// retried transfer starts the listing over.
void simple_root(pm::Http &http, const std::string &upstream, pm::RootReader &h, long long &meta_serial,
                 const std::function<void()> &restart = nullptr)
{
	std::string url = upstream + "/simple/";
	pm::Request req;
	req.url = url;
	req.headers = {kSimpleAccept};
	req.compressed = true;
	req.what = "the simple index root";
	std::string error;
	bool parsed = false, too_big = false, html = false;
	pm::StreamedFetch sf(http, std::move(req));
	pm::Response r = sf.run(
	    [&](pm::InStream &in) {
		    // The body says which form it is; the Content-Type must agree (below).
		    while (in.Peek() == ' ' || in.Peek() == '\t' || in.Peek() == '\r' || in.Peek() == '\n') in.Take();
		    html = in.Peek() == '<';
		    parsed = html ? h.parse_html(in, error) : h.parse_json(in, true, error);
		    too_big = in.too_big();
	    },
	    [&] {
		    if (restart) restart();
	    },
	    kMaxRoot, kMaxGap);
	if (!r.ok() && !sf.stopped_early()) fatal("Cannot fetch %s: %s", url.c_str(), r.describe().c_str());
	std::string ct = media_type(r.header("content-type"));
	bool html_ct = ct == "text/html" || ct == "application/vnd.pypi.simple.v1+html";
	if (!(html ? html_ct : ct == kSimpleJson))
		fatal("%s answered %s with %s, not the PEP 691 JSON index (%s) nor a PEP 503 HTML one; try --source xmlrpc",
		      url.c_str(), html ? "HTML" : "a body that is not HTML", ct.empty() ? "no Content-Type" : ct.c_str(),
		      kSimpleJson);
	if (too_big) fatal("Cannot fetch %s: %s", url.c_str(), error.c_str());
	if (!parsed) fatal("Cannot parse the %s root of %s: %s", html ? "HTML" : "JSON", url.c_str(), error.c_str());
	// PEP 629: an unknown major version is a hard failure.
	if (!h.api_version().empty() && h.api_version().rfind("1.", 0) != 0)
		fatal("%s speaks simple API version %s; only 1.x is understood", url.c_str(), h.api_version().c_str());
	meta_serial = h.meta_serial();
	if (meta_serial < 0) {
		// Fall back on the header Warehouse sends with the same value.
		std::string hs = r.header("x-pypi-last-serial");
		char *end;
		long long v = hs.empty() ? -1 : strtoll(hs.c_str(), &end, 10);
		if (v >= 0 && !*end) meta_serial = v;
	}
}

long long simple_last_serial(pm::Http &http, const std::string &upstream)
{
	pm::RootReader h;
	h.stop_at = std::numeric_limits<long long>::max(); // meta is all that is wanted
	long long serial;
	simple_root(http, upstream, h, serial);
	// No meta._last-serial and no X-PyPI-Last-Serial: an upstream without
	// serials (a static mirror, a private index), -1 ("none").
	return serial;
}

// serialless: the mirror follows an upstream without per-project serials
// (its validators file exists): a serial in the root's meta (bandersnatch
// writes one there and none per project) is of another numbering than the
// mirror's status, so it neither stops the listing nor becomes the target.
void simple_changes(pm::Http &http, const std::string &upstream, Run &run, bool serialless)
{
	pm::RootReader h;
	h.entry = [&run](const std::string *name, long long serial, size_t i) -> bool {
		if (name && run.collect_names) run.upstream.push_back(name_hash(pm::normalize_name(*name)));
		if (!name) {
			LOG_WARN("Skipping entry %zu of the simple index root: no \"name\" string", i);
			run.skipped++;
			return true;
		}
		if (serial < 0) {
			// No serial: conditional requests decide (see unserialed_changes).
			if (!pm::valid_project_name(*name)) {
				LOG_WARN("Skipping invalid project name '%.200s' (entry %zu)", name->c_str(), i);
				run.skipped++;
				return true;
			}
			run.unserialed.push_back(pm::normalize_name(*name) + '\0' + *name);
			return true;
		}
		if (serial > run.since) note(run, *name, serial);
		return true;
	};
	// Upstream's serial not past ours: no project can have changed since,
	// and none can have gone either (a removal or a quarantine is a journal
	// entry, which moves the serial), so the listing is not needed.
	h.stop_at = serialless ? -1 : run.since;
	const long long since = run.since;
	long long meta_serial;
	simple_root(http, upstream, h, meta_serial, [&run, since] {
		// A retry lists everything again: start from nothing.
		run.changed.clear();
		run.upstream.clear();
		run.unserialed.clear();
		run.skipped = 0;
		run.max_serial = since;
	});
	if (!run.unserialed.empty() || serialless) meta_serial = -1;
	run.upstream_serial = meta_serial;
	if (meta_serial >= 0) run.max_serial = std::max(run.max_serial, meta_serial);
	if (h.stopped()) {
		LOG_INFO("Upstream's serial %lld is not past %lld: nothing changed", meta_serial, run.since);
		return;
	}
	if (run.collect_names && h.entries() == 0)
		// An empty listing would turn the whole mirror into removals.
		fatal("%s/simple/ lists no projects; refusing to treat every mirrored project as removed",
		      upstream.c_str());
}

// ------------------------------------------------ upstreams without serials

// What the upstream said about a project page last time (ETag,
// Last-Modified), kept in DIR/pypi-mirror.validators: a "# target N" line,
// then "name<TAB>etag<TAB>last-modified" lines. A run writes what it saw to
// DIR/pypi-mirror.validators.next; the next run promotes that file only when
// DIR/status reached its target (what it covers landed) and drops it
// otherwise, so a change the pipeline did not land is seen again.
struct Validator {
	std::string etag, last_modified;
};
using Validators = std::unordered_map<std::string, Validator>;

// False when the file is missing or unreadable (then nothing is known).
bool read_validators(pm::MirrorStore &m, const std::string &path, Validators &out, long long *target)
{
	out.clear();
	std::string s, why;
	bool found;
	if (!m.read(path, s, found, why)) LOG_WARN("%s", why.c_str());
	if (!found) return false;
	if (target) *target = -1;
	size_t pos = 0;
	while (pos < s.size()) {
		size_t nl = s.find('\n', pos);
		if (nl == std::string::npos) break; // a line without its end: not trusted
		std::string_view l(s.data() + pos, nl - pos);
		pos = nl + 1;
		if (l.rfind("# target ", 0) == 0) {
			if (target) *target = atoll(std::string(l.substr(9)).c_str());
			continue;
		}
		size_t t1 = l.find('\t'), t2 = t1 == std::string_view::npos ? t1 : l.find('\t', t1 + 1);
		if (t2 == std::string_view::npos) continue;
		out[std::string(l.substr(0, t1))] = {std::string(l.substr(t1 + 1, t2 - t1 - 1)), std::string(l.substr(t2 + 1))};
	}
	return true;
}

// A header value safe to keep in a tab-separated line.
std::string field(std::string v)
{
	if (v.size() > 512 || v.find_first_of("\t\r\n") != std::string::npos) return "";
	return v;
}

// Entries of the root without a serial: a project changed when a
// conditional GET of its page (If-None-Match / If-Modified-Since, from what
// the upstream said last time) is not answered 304. Changed projects get a
// serial of our own, one past the mirror's status, so status keeps growing.
// A page that is gone (404, 410) counts as changed: pkg-resolve then finds
// the project gone. Any other failure is fatal (nothing printed). Without
// -d there is nothing remembered and every page counts as changed.
void unserialed_changes(pm::Http &http, const std::string &upstream, pm::MirrorStore *mirror, Run &run,
                        int concurrency)
{
	if (run.unserialed.empty()) return;
	std::sort(run.unserialed.begin(), run.unserialed.end());
	run.unserialed.erase(std::unique(run.unserialed.begin(), run.unserialed.end()), run.unserialed.end());
	long long base = run.since;
	Validators old;
	std::string vpath, npath;
	if (mirror) {
		const pm::Layout &m = mirror->layout();
		vpath = m.state_file("validators");
		npath = vpath + ".next";
		long long status = 0;
		std::string why, text;
		if (!pm::read_status(*mirror, status, &why)) fatal("%s", why.c_str());
		base = std::max(base, status);
		long long t = -1;
		bool found;
		if (read_validators(*mirror, npath, old, &t) && t >= 0 && status >= t) {
			// Kept (vpath replaced whole), then the .next dropped: killed
			// between, the next run promotes the same file again.
			if (!mirror->read(npath, text, found, why) || !mirror->write(vpath, text, false, why) ||
			    !mirror->remove(npath, why))
				fatal("Cannot keep %s as %s: %s", npath.c_str(), vpath.c_str(), why.c_str());
			LOG_DEBUG("The last run reached serial %lld: its validators are kept", t);
		} else {
			if (mirror->read(npath, text, found, why) && found && mirror->remove(npath, why))
				LOG_DEBUG("The last run did not land (status %lld): its validators are dropped", status);
			read_validators(*mirror, vpath, old, nullptr);
		}
	}
	const long long serial = base + 1;
	run.local_serial = serial;
	Validators next;
	size_t changed = 0, same = 0, gone = 0;
	auto split = [](const std::string &e) {
		size_t z = e.find('\0');
		return std::make_pair(e.substr(0, z), e.substr(z + 1));
	};
	// With serial 0 every project is listed anyway; what is learnt then is
	// the validators, by HEAD requests (no body), so that the next run can
	// be idle. They are asked before pkg-resolve fetches the pages: a page
	// that changes in between is then seen as changed next time, never
	// missed. A HEAD that fails only leaves that page unremembered.
	const bool learn = run.since == 0;
	if (learn && npath.empty()) {
		for (auto &e : run.unserialed) note(run, split(e).second, serial);
		changed = run.unserialed.size();
	} else {
		std::string failure;
		size_t i = 0;
		auto feed = [&]() -> bool {
			if (i >= run.unserialed.size() || !failure.empty()) return false;
			auto [n, display] = split(run.unserialed[i++]);
			pm::Request req;
			req.url = upstream + "/simple/" + n + "/";
			req.headers = {kSimpleAccept};
			if (learn) {
				req.method = "HEAD";
				note(run, display, serial);
				changed++;
			} else if (auto it = old.find(n); it != old.end()) {
				if (!it->second.etag.empty()) req.headers.push_back("If-None-Match: " + it->second.etag);
				if (!it->second.last_modified.empty())
					req.headers.push_back("If-Modified-Since: " + it->second.last_modified);
			}
			req.compressed = true;
			req.what = "project " + n;
			req.on_data = [](const char *, size_t) { return true; }; // only the status matters
			http.add(std::move(req), [&, n = n, display = display](pm::Request &rq, pm::Response &r) {
				if (learn) {
					Validator v{field(r.header("etag")), field(r.header("last-modified"))};
					if (r.ok() && (!v.etag.empty() || !v.last_modified.empty())) next[n] = v;
					else LOG_DEBUG("HEAD %s: %s; its validators are not learnt", rq.url.c_str(), r.describe().c_str());
				} else if (r.error.empty() && r.status == 304) {
					same++;
					next[n] = old[n];
				} else if (r.ok()) {
					changed++;
					note(run, display, serial);
					Validator v{field(r.header("etag")), field(r.header("last-modified"))};
					if (!v.etag.empty() || !v.last_modified.empty()) next[n] = v;
				} else if (r.error.empty() && (r.status == 404 || r.status == 410)) {
					gone++;
					note(run, display, serial);
				} else if (failure.empty()) {
					failure = "Cannot check " + rq.url + " for changes (project " + n + "): " + r.describe();
				}
			});
			return true;
		};
		http.run(concurrency, feed);
		if (!failure.empty()) fatal("%s", failure.c_str());
	}
	LOG_INFO("%zu projects listed without a serial: %zu changed, %zu gone, %zu unchanged (conditional requests)",
	         run.unserialed.size(), changed, gone, same);
	if (npath.empty()) return;
	std::string err;
	std::string out = "# target " + std::to_string(std::max(run.max_serial, changed + gone ? serial : run.since)) + "\n";
	std::vector<const std::string *> names;
	names.reserve(next.size());
	for (auto &kv : next) names.push_back(&kv.first);
	std::sort(names.begin(), names.end(), [](auto *a, auto *b) { return *a < *b; });
	for (auto *n : names) {
		const Validator &v = next[*n];
		out += *n + '\t' + v.etag + '\t' + v.last_modified + '\n';
	}
	if (!mirror->write(npath, out, false, err)) fatal("Cannot write %s: %s", npath.c_str(), err.c_str());
}

// ----------------------------------------------------------------- removals

// Projects the mirror has that the full upstream listing no longer has.
// Their records make pkg-resolve look again: a 404 there becomes a removal.
// Returns how many.
size_t mirror_removals(pm::MirrorStore &mirror, Run &run, long long serial)
{
	std::sort(run.upstream.begin(), run.upstream.end());
	run.upstream.erase(std::unique(run.upstream.begin(), run.upstream.end()), run.upstream.end());
	run.changed.settle();
	std::vector<std::pair<std::string, std::string>> gone; // name, display
	std::set<std::string, std::less<>> gone_names;
	auto consider = [&](const std::string &display) {
		if (!pm::valid_project_name(display)) return;
		std::string n = pm::normalize_name(display);
		if (std::binary_search(run.upstream.begin(), run.upstream.end(), name_hash(n)) || run.changed.has(n) ||
		    gone_names.count(n))
			return;
		gone_names.insert(n);
		gone.emplace_back(std::move(n), display);
	};
	auto commit = [&] {
		for (auto &[n, display] : gone) {
			LOG_INFO("Project %s is mirrored but no longer listed upstream; asking for its removal", n.c_str());
			run.changed.add(n, display, serial);
		}
		run.changed.settle();
	};

	pm::RootList held;
	std::string why;
	if (!mirror.held_projects(held, why)) {
		LOG_WARN("Cannot tell which projects %s holds (%s); asking for no removals", mirror.layout().dir().c_str(),
		         why.c_str());
		return 0;
	}
	for (size_t i = 0; i < held.size(); i++) consider(std::string(held.display(i)));
	commit();
	LOG_DEBUG("The mirror holds %zu projects, %zu gone upstream", held.size(), gone.size());
	return gone.size();
}

// ------------------------------------------------------------------ output

// One line per record, built with a plain writer: a Document reused for
// 700,000 records would keep every string in its pool allocator.
void emit(Run &run, long long target, const char *source)
{
	run.changed.settle();
	// Held in stdout's buffer: the records are all known now and go out
	// in a few writes, not one per project (nothing here waits between them).
	pm::NdjsonWriter out(stdout, true);
	rapidjson::StringBuffer sb;
	auto put = [&](const std::function<void(rapidjson::Writer<rapidjson::StringBuffer> &)> &fill) {
		sb.Clear();
		rapidjson::Writer<rapidjson::StringBuffer> w(sb);
		w.StartObject();
		fill(w);
		w.EndObject();
		if (!out.write_raw(std::string(sb.GetString(), sb.GetSize())))
			fatal("Cannot write to standard output: %s", strerror(errno));
	};
	run.changed.each([&](std::string_view name, std::string_view display, long long serial) {
		put([&](rapidjson::Writer<rapidjson::StringBuffer> &w) {
			w.Key("type");
			w.String("project");
			w.Key("name");
			w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
			w.Key("display_name");
			w.String(display.data(), static_cast<rapidjson::SizeType>(display.size()));
			w.Key("serial");
			w.Int64(serial);
			// Our numbering, not upstream's: pkg-resolve must not compare a
			// serial on the page (bandersnatch's <!--SERIAL n-->) with it.
			if (run.local_serial > 0) {
				w.Key("local_serial");
				w.Bool(true);
			}
		});
	});
	put([&](rapidjson::Writer<rapidjson::StringBuffer> &w) {
		w.Key("type");
		w.String("target");
		w.Key("serial");
		w.Int64(target);
		w.Key("since");
		w.Int64(run.since);
		w.Key("projects");
		w.Int64(static_cast<int64_t>(run.changed.size()));
		w.Key("source");
		w.String(source);
	});
	if (!out.flush()) fatal("Cannot write to standard output: %s", strerror(errno));
}

} // namespace

int main(int argc, char **argv)
{
	bool last_serial = false, have_since = false;
	long long since = 0;
	std::string source = "simple";
	pm::MirrorOptions mo;
	pm::UpstreamOptions up(10, 1000);
	pm::parse_options(kProg, kCommandLine, argc, argv, [&](int c) {
		if (mo.option(c, kProg, optarg) || up.option(c, kProg, optarg)) return;
		switch (c) {
		case 's':
			since = pm::parse_count(kProg, "--since", optarg);
			have_since = true;
			break;
		case kOptSource:
			source = optarg;
			if (source != "simple" && source != "xmlrpc") {
				pm::usage_error(kProg, "--source wants 'simple' or 'xmlrpc', not '%s'", optarg);
			}
			break;
		case kOptLastSerial: last_serial = true; break;
		}
	});
	const std::string &dir = mo.dir;
	const int concurrency = up.concurrency;
	std::string upstream = up.resolve(kProg);
	std::string endpoint = upstream + "/pypi";
	pm::Http http;

	if (last_serial) {
		long long s = source == "xmlrpc" ? xmlrpc_last_serial(http, endpoint) : simple_last_serial(http, upstream);
		if (s < 0)
			printf("none\n");
		else
			printf("%lld\n", s);
		return fflush(stdout) == 0 ? pm::kExitOk : pm::kExitFatal;
	}
	if (!have_since && dir.empty()) {
		fprintf(stderr, "%s: say where to start: --since N or --directory DIR\n"
		                "Try '%s --help' for more information.\n",
		        kProg, kProg);
		return pm::kExitUsage;
	}
	// The mirror -d names: a directory or a bucket (mirror_store.h).
	std::unique_ptr<pm::MirrorStore> mirror;
	if (!dir.empty()) mirror = pm::open_mirror_store(kProg, dir, mo.config);
	if (!have_since) {
		std::string error;
		if (!pm::read_status(*mirror, since, &error)) {
			LOG_ERROR("%s", error.c_str());
			return pm::kExitFatal;
		}
	}

	Run run;
	run.since = since;
	run.max_serial = since;
	bool full = source == "simple" || since == 0;
	run.collect_names = full && !dir.empty();

	if (source == "xmlrpc") {
		if (since == 0) {
			LOG_INFO("Fetching every project's serial via XML-RPC (since serial 0)");
			xmlrpc_full(http, endpoint, run);
		} else {
			LOG_INFO("Fetching changes since serial %lld via XML-RPC", since);
			xmlrpc_changelog(http, endpoint, run);
		}
	} else {
		LOG_INFO("Fetching changes since serial %lld via the simple index", since);
		bool serialless = false;
		if (mirror) {
			std::string v = mirror->layout().state_file("validators"), text, why;
			bool found = false;
			serialless = (mirror->read(v, text, found, why) && found) ||
			             (mirror->read(v + ".next", text, found, why) && found);
		}
		simple_changes(http, upstream, run, serialless);
		unserialed_changes(http, upstream, mirror.get(), run, concurrency);
	}
	long long target = run.max_serial;
	// Nothing new upstream: no removal either (see simple_changes).
	bool idle = run.upstream_serial >= 0 && run.upstream_serial <= since;
	if (run.collect_names && idle)
		LOG_DEBUG("Upstream's serial has not moved: not comparing the mirror's projects with upstream's");
	else if (run.collect_names && run.local_serial > 0) {
		// Without upstream serials a removal is a change of the mirror's
		// own numbering like any other: the status moves past it.
		if (mirror_removals(*mirror, run, run.local_serial) > 0) target = std::max(target, run.local_serial);
	} else if (run.collect_names)
		mirror_removals(*mirror, run, target);
	run.changed.settle();
	if (run.skipped) LOG_WARN("%zu upstream entries were unusable and skipped", run.skipped);
	LOG_INFO("%zu projects changed, target serial %lld", run.changed.size(), target);
	emit(run, target, source.c_str());
	return pm::kExitOk;
}
