// artifact-get: puts the release files of resolved project records into the
// mirror, verifies them, and passes on the records whose files are all in
// place. Many downloads run at once through pm::Http; input is read only
// when a transfer slot is free, so memory stays bounded by the concurrency,
// not by the number of projects or the size of files.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <deque>
#include <cstring>
#include <filesystem>
#include <malloc.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "download.h"
#include "fsutil.h"
#include "hash.h"
#include "http.h"
#include "layout.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "project_json.h"
#include "record.h"
#include "record_loop.h"
#include "s3_store.h"
#include "url_policy.h"

namespace {

const char *kProg = "artifact-get";

// A file whose content check fails is fetched again this many more times
// (transport errors are retried separately, inside pm::Http).
constexpr int kContentRetries = 2;
// A .metadata companion is a METADATA file; anything this large is not one.
constexpr long long kMaxMetadataBytes = 64LL << 20;
// A body is written to disk in blocks of up to this size: a write(2) per
// 256 KiB, not one per piece libcurl hands over (16 KiB at most). libcurl's
// own buffer stays at its default: a larger one is allocated afresh for
// every transfer, and touching those new pages cost more system time than
// the reads it saves (bench/RESULTS.md, issue 17).
constexpr long kWriteBlock = 256 << 10;

struct Options {
	std::string dir;
	pm::Layout mirror{""};
	int concurrency = 8;
	pm::CompareMethod compare = pm::CompareMethod::Hash;
	std::string download_mirror;
	bool mirror_fallback = true;
	bool metadata = true;
	bool fsync = false;
	bool progress = false;
	bool dry_run = false;
	bool allow_http = false;
	pm::ProjectJsonPolicy policy; // where record file URLs may point (as pkg-resolve checks them)
	std::unique_ptr<pm::S3Store> s3; // the mirror is in an S3 bucket
	bool stream = true;              // s3: the download feeds the upload (else: via scratch)
	std::string scratch;             // s3 via scratch: where a verified file waits for its upload
};

// s3, streamed: what a download hands the upload it feeds. At most
// kPipeBytes wait here; the download pauses when it is full, the upload when
// it is empty. The upload never gets the last byte of the file (nor, for a
// companion of unknown size, its end) before the download ended with the
// record's size and sha256: a store that ignored x-amz-content-sha256 still
// sees a PUT cut short, and an aborted PUT stores nothing.
constexpr size_t kPipeBytes = 256 << 10;
struct Pipe {
	std::string buf;
	size_t off = 0;             // buf[0, off) already sent
	long long sent = 0;         // bytes handed to the upload
	unsigned long long get_id = 0, put_id = 0;
	bool get_paused = false, put_paused = false;
	bool put_started = false;
	bool verified = false; // the download ended, size and sha256 right
	bool broken = false;   // the other half failed or the bytes are wrong: stop
	int halves = 0;        // transfers not finished yet
	pm::Response get, put; // their outcomes
};

struct Stats {
	long long seen = 0, downloaded = 0, current = 0, failed = 0, would = 0, would_bytes = 0;
	long long bytes = 0;       // in files stored
	long long transferred = 0; // received, retries included (for the rate)
	long long failed_projects = 0, projects = 0;
};

struct Project {
	std::string line; // passed on unchanged
	std::string name;
	long long serial = 0;
	std::vector<pm::FileEntry> files;
	size_t next_item = 0; // items: 2*i is file i, 2*i+1 its companion
	int outstanding = 0;  // transfers in flight
	bool fed_all = false;
	bool failed = false;
	int failures = 0;
	bool needs_download = false; // dry run: something is missing
	bool journaled = false;      // its paths are in DIR/.unlisted/NAME
	bool journal_new = false;    // ... which this run made: it lists nothing else
	// s3: the journal object is being written (its GET and PUT run among
	// the downloads); the files waiting for it, and whether it failed.
	bool journal_pending = false, journal_failed = false;
	std::string journal_error;
	std::vector<std::shared_ptr<struct Job>> journal_waiting;
	// s3: the unlisted batch its journal is in (a project new to the store
	// and read ahead with others: see gather_batch), else none.
	std::shared_ptr<struct Batch> batch;
	bool own_journal = false; // ... and, having failed, its own journal was asked for too
	// s3: whether the store may hold any of its files (see s3_lookup), and
	// the files waiting for that answer.
	enum class Probe { None, Pending, Old, New } probe = Probe::None;
	// s3: what the listings at start-up leave open: whether the store may
	// hold a page of it, or an unlisted journal (a record of the same name
	// earlier in this run counts as one: see ArtifactGet::journals_).
	bool maybe_page = true, maybe_journal = true;
	bool page_seen = false; // the listing showed its page directory
	std::vector<std::shared_ptr<struct Job>> probe_waiting;
	long long files_fetched = 0, bytes_fetched = 0; // what this run downloaded for it
	std::string err_reason, err_file, err_url;
};

// s3: an unlisted batch being written (pm::S3Store::new_unlisted_batch):
// its members wait for its PUT.
struct Batch {
	std::string name;
	std::string text;
	size_t paths = 0, projects = 0;
	size_t moved = 0; // members that failed and have their own journal now
	std::vector<std::shared_ptr<Project>> members; // until the PUT ends
};

// What a project's journal lists: the path of each of its files (their
// .metadata companions go with them).
static std::vector<std::string> journal_lines(const Project &p)
{
	std::vector<std::string> paths;
	paths.reserve(p.files.size());
	for (auto &f : p.files) paths.push_back(f.path);
	return paths;
}

// s3: the text of a journal that is not there yet (a project new to the
// store): written without a GET.
static const std::string kNoJournal;

struct Job {
	std::shared_ptr<Project> p;
	size_t fi = 0;
	bool meta = false;
	std::string target, rel;
	std::vector<std::string> urls; // candidates in order
	size_t cand = 0;
	int content_tries = 0;
	bool fresh = false;       // its directory was made by this run: nothing to sweep
	long long want_size = -1; // -1: unknown (companion)
	std::string want_sha;
	long long mtime = -1;
	pm::AtomicFile out;
	pm::Digest digest;
	long long got = 0;
	std::string abort_reason; // set by the sink when it stops a transfer
	bool write_failed = false;
	std::string spooled; // s3: the verified file in the scratch directory
	FILE *upload = nullptr;
	std::unique_ptr<Pipe> pipe; // s3, streamed: this attempt's pair of transfers
};

// The next n bytes would take the body past the size the record names (a
// .metadata companion has none: past kMaxMetadataBytes): why, in
// abort_reason. One check for the download to disk and the streamed one.
static bool over_size(Job &j, size_t n)
{
	long long limit = j.want_size >= 0 ? j.want_size : kMaxMetadataBytes;
	if (j.got + static_cast<long long>(n) <= limit) return false;
	j.abort_reason = j.want_size >= 0 ? "size mismatch: got more than " + std::to_string(limit) + " bytes, want " +
	                                         std::to_string(limit)
	                                   : "metadata file larger than " + std::to_string(limit) + " bytes";
	return true;
}

class ArtifactGet {
public:
	explicit ArtifactGet(Options o) : opt_(std::move(o)), loop_(kProg, {"project"}) {}
	int run();

private:
	bool feed();
	std::shared_ptr<Project> take_project(pm::ProjectRecord &r);
	bool batchable(const Project &p) const;
	void gather_batch();
	bool vet_urls(Project &p);
	bool next_item(Project &p); // true if a transfer was added
	bool journal_paths(Project &p, const std::string &url);
	void start(const std::shared_ptr<Job> &j);
	void attempt(const std::shared_ptr<Job> &j);
	void done(const std::shared_ptr<Job> &j, pm::Response &r);
	void s3_lookup(const std::shared_ptr<Job> &j);
	void s3_head(const std::shared_ptr<Job> &j);
	void s3_absent(const std::shared_ptr<Job> &j);
	pm::Request s3_file_put(const Job &j) const;
	void s3_upload(const std::shared_ptr<Job> &j);
	void s3_uploaded(const std::shared_ptr<Job> &j, pm::Response &r);
	void s3_journal_then_start(const std::shared_ptr<Job> &j);
	void journal_written(const std::shared_ptr<Project> &p, bool ok, const std::string &err, bool made);
	void expand_batches(const std::vector<std::string> &batches);
	void drop_batch(const Batch &b);
	void s3_start(const std::shared_ptr<Job> &j);
	void stream_attempt(const std::shared_ptr<Job> &j);
	void stream_put(const std::shared_ptr<Job> &j);
	void stream_half_done(const std::shared_ptr<Job> &j);
	void stored(const std::shared_ptr<Job> &j);
	void content_mismatch(const std::shared_ptr<Job> &j, const std::string &why);
	bool next_candidate(const std::shared_ptr<Job> &j, const std::string &why);
	void fail_item(Project &p, const pm::FileEntry &f, bool meta, const std::string &url, const std::string &why);
	void item_finished(const std::shared_ptr<Project> &p);
	void maybe_finish(const std::shared_ptr<Project> &p);
	void check_output(bool written);
	void emit(const std::string &line);
	void progress(bool force = false);
	void progress_clear();
	long long upload_mtime(const pm::FileEntry &f);

	Options opt_;
	pm::DirCache dirs_; // web/'s directories, made or checked once per run
	pm::Http http_;
	pm::RecordLoop loop_;
	std::shared_ptr<Project> cur_;
	std::deque<std::shared_ptr<Project>> ahead_; // s3: taken with cur_'s batch, in input order
	Stats st_;
	bool eof_ = false;
	bool progress_shown_ = false;
	bool tty_ = false;
	// A record's stored_at (pypi-mirror-records(7)) on a filesystem:
	// "DEV:INO", web/'s device and inode numbers, for the records passed
	// on, when every file of such a record, and its .metadata, was found
	// current in or stored into that directory; empty for a store (its
	// own stored_at) or with --no-metadata. index-write, writing pages into
	// the same directory, then need not look at each file again.
	std::string web_id_;
	// s3: one listing each, at start-up, of the project pages (web/simple/)
	// and of the unlisted journals, and every project name this run took:
	// a project that is in neither, nor met before in this run, is new to
	// the store without a request of its own (see s3_lookup).
	pm::S3Listing pages_, journals_;
	// s3: an unlisted batch a killed run left could not be expanded (see
	// expand_batches): any project may have a journal in it.
	bool journals_unsure_ = false;
	// s3: the names whose journal went into a batch in this run.
	pm::S3Listing batched_;
	std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now(), last_progress_{};
};

// A closed output ends the run at once: nobody hears of what lands after.
void ArtifactGet::check_output(bool written)
{
	if (written) return;
	progress_clear();
	LOG_TOOL_ERROR("cannot write to standard output: %s", strerror(errno));
	exit(pm::kExitFatal);
}

void ArtifactGet::emit(const std::string &line) { check_output(loop_.emit_raw(line)); }

void ArtifactGet::progress_clear()
{
	if (progress_shown_ && tty_) {
		pm::log_flush(); // the lines logged before it
		fputs("\r\033[K", stderr);
	}
	progress_shown_ = false;
}

void ArtifactGet::progress(bool force)
{
	if (!opt_.progress) return;
	auto now = std::chrono::steady_clock::now();
	// Redraw a terminal line often; a log file gets a line now and then.
	auto every = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
	if (!force && now - last_progress_ < every) return;
	last_progress_ = now;
	double secs = std::chrono::duration<double>(now - t0_).count();
	double rate = secs > 0 ? static_cast<double>(st_.transferred) / secs : 0;
	long long done = st_.downloaded + st_.current + st_.failed;
	pm::log_flush(); // the lines logged before it come first
	fprintf(stderr, "%sartifact-get: %lld/%lld files, %.1f MiB, %.1f MiB/s%s", tty_ ? "\r\033[K" : "", done,
	        st_.seen, static_cast<double>(st_.transferred) / 1048576.0, rate / 1048576.0, tty_ ? "" : "\n");
	fflush(stderr);
	progress_shown_ = true;
}

long long ArtifactGet::upload_mtime(const pm::FileEntry &f)
{
	return f.upload_time.empty() ? -1 : pm::parse_iso8601(f.upload_time);
}

// A record's file URLs are checked before anything is fetched, by the same
// rules pkg-resolve applies to upstream's document: a record that points one
// file off-host, at another scheme or at a different path is not trusted at all.
bool ArtifactGet::vet_urls(Project &p)
{
	for (auto &f : p.files) {
		std::string why, path;
		if (!pm::check_file_url(f.url, f.filename, opt_.policy, path, &why, f.sha256))
			why = "file URL refused: " + why;
		else if (path != f.path)
			why = "file URL does not match the record's path " + f.path;
		else
			continue;
		LOG_ERROR("Refusing project %s: file %s: %s", p.name.c_str(), f.filename.c_str(), why.c_str());
		st_.failed++;
		p.failed = true;
		p.failures++;
		p.err_reason = why;
		p.err_file = f.filename;
		p.err_url = f.url;
		return false;
	}
	return true;
}

std::shared_ptr<Project> ArtifactGet::take_project(pm::ProjectRecord &r)
{
	if (!r.resolved) {
		progress_clear();
		std::string why = "line " + std::to_string(loop_.line_number()) + ": record is not resolved";
		LOG_ERROR("line %zu: project %s: record is not resolved (no \"files\")", loop_.line_number(), r.name.c_str());
		check_output(loop_.emit_error(r.name, r.serial, why));
		return nullptr;
	}
	auto p = std::make_shared<Project>();
	p->line = loop_.line();
	// The fields this tool adds are its own: an earlier pass's do not carry
	// over (least of all a stored_at, which vouches for this pass's files).
	const rapidjson::Document &doc = loop_.doc();
	if (doc.HasMember("files_fetched") || doc.HasMember("bytes_fetched") || doc.HasMember("stored_at") ||
	    doc.HasMember("new_to_store") || doc.HasMember("journal_new") || doc.HasMember("journal_batch")) {
		rapidjson::Document copy;
		copy.CopyFrom(doc, copy.GetAllocator());
		copy.RemoveMember("files_fetched");
		copy.RemoveMember("bytes_fetched");
		copy.RemoveMember("stored_at");
		copy.RemoveMember("new_to_store");
		copy.RemoveMember("journal_new");
		copy.RemoveMember("journal_batch");
		p->line = pm::to_json(copy);
	}
	p->name = r.name;
	p->serial = r.serial;
	if (opt_.s3) {
		p->maybe_page = pages_.maybe(p->name);
		p->page_seen = pages_.seen(p->name);
		p->maybe_journal = journals_unsure_ || journals_.maybe(p->name);
		// A second record of the name in this run finds what the first
		// may have left (its journal, its page written meanwhile).
		journals_.add(p->name);
		// Met before in this run, in a batch: that record's files may be
		// stored (its pages too), and it has no journal of its own to say
		// so. They are looked up.
		if (batched_.maybe(p->name)) p->probe = Project::Probe::Old;
	}
	p->files = std::move(r.files);
	st_.projects++;
	if (!vet_urls(*p)) p->files.clear(); // nothing of it is fetched
	return p;
}

// s3: a project the listings at start-up showed neither a page nor a journal
// of, met first now: new to the store (s3_lookup would say so without a
// request), so its journal may go in a batch with others like it. Not with
// --no-metadata: its record then carries no stored_at, so index-write could
// not take the journal_batch, and the batch would outlive the pages.
bool ArtifactGet::batchable(const Project &p) const
{
	return opt_.s3 && opt_.metadata && !opt_.dry_run && !p.failed && !p.files.empty() && !p.maybe_page &&
	       !p.maybe_journal;
}

// s3: cur_ is new to the store. The records already waiting on the input
// are read ahead, and the projects new to the store among them (up to the
// first that is not) get one journal object with cur_'s, an unlisted batch:
// one PUT, and one DELETE once all their pages are out, instead of one of
// each per project. Nothing waits for input that is not there yet, so a
// slow stage before costs no latency, only smaller batches.
void ArtifactGet::gather_batch()
{
	auto b = std::make_shared<Batch>();
	b->name = pm::S3Store::new_unlisted_batch();
	auto join = [this, &b](const std::shared_ptr<Project> &p) {
		std::vector<std::string> paths = journal_lines(*p);
		pm::S3Store::add_to_batch(b->text, p->name, paths);
		b->paths += paths.size();
		b->members.push_back(p);
		b->projects++;
		p->batch = b;
		batched_.add(p->name);
		p->probe = Project::Probe::New;
		p->journal_pending = true;
	};
	join(cur_);
	while (static_cast<long long>(b->members.size()) < pm::kMaxBatchProjects && b->paths < pm::kMaxBatchPaths &&
	       !eof_ && loop_.ready()) {
		progress_clear();
		if (!loop_.next()) {
			eof_ = true;
			break;
		}
		auto p = take_project(loop_.record());
		if (!p) continue;
		ahead_.push_back(p);
		if (!batchable(*p)) break;
		join(p);
	}
	LOG_DEBUG("Unlisted batch %s: %zu projects, %zu paths", b->name.c_str(), b->members.size(), b->paths);
	opt_.s3->put_unlisted_batch(http_, b->name, std::move(b->text), [this, b](bool ok, const std::string &err) {
		auto members = std::move(b->members);
		b->members.clear();
		for (auto &m : members) journal_written(m, ok, err, true);
	});
}

void ArtifactGet::fail_item(Project &p, const pm::FileEntry &f, bool meta, const std::string &url,
                            const std::string &why)
{
	std::string file = meta ? f.filename + ".metadata" : f.filename;
	progress_clear();
	LOG_ERROR("Project %s: file %s from %s: %s", p.name.c_str(), file.c_str(), url.c_str(), why.c_str());
	st_.failed++;
	p.failures++;
	if (!p.failed) {
		p.failed = true;
		p.err_reason = why;
		p.err_file = file;
		p.err_url = url;
	}
}

// Before the first download of a project, its paths go to the project's
// unlisted journal (see pm::add_to_unlisted): if the project then fails, or
// the run is killed, the next page written for it knows which files it may
// have to delete. A file that cannot be tracked is not fetched.
bool ArtifactGet::journal_paths(Project &p, const std::string &url)
{
	std::vector<std::string> paths = journal_lines(p);
	std::string err;
	bool ok = pm::add_to_unlisted(opt_.mirror, p.name, paths, opt_.fsync, &err, &p.journal_new); // s3: s3_journal_then_start
	if (!ok) {
		fail_item(p, p.files[(p.next_item - 1) / 2], (p.next_item - 1) % 2 == 1, url,
		          "cannot record the files it downloads: " + err);
		p.next_item = 2 * p.files.size(); // the project fails once, not once per file
		return false;
	}
	p.journaled = true;
	return true;
}

// Looks at the next file (or companion) of p. Returns true when it started a
// transfer; false when the item needed none (current, refused, dry run).
bool ArtifactGet::next_item(Project &p)
{
	size_t idx = p.next_item++;
	const pm::FileEntry &f = p.files[idx / 2];
	bool meta = idx % 2 == 1;
	if (meta && (!opt_.metadata || f.core_metadata.empty())) return false;
	st_.seen++;
	std::string rel = meta ? f.path + ".metadata" : f.path;
	std::string target = opt_.mirror.file(rel);
	std::string upstream_url = meta ? f.url + ".metadata" : f.url;
	std::string why;
	// Its directories: made once (a dry run only looks), never through a
	// symlink. A directory this run made cannot hold the file yet. (A store
	// has no directories; the record's path was checked as it was read.)
	auto dir = pm::DirCache::State::Existing;
	if (!opt_.s3) dir = dirs_.prepare(rel, !opt_.dry_run, &why);
	if (dir == pm::DirCache::State::Refused) {
		fail_item(p, f, meta, upstream_url, why);
		return false;
	}
	long long mtime = upload_mtime(f);
	const std::string &sha = meta ? f.core_metadata : f.sha256;
	if (opt_.s3) {
		// Whether the store holds it is asked of the store (a HEAD), and
		// the download follows from there.
		auto j = std::make_shared<Job>();
		j->p = cur_;
		j->fi = idx / 2;
		j->meta = meta;
		j->rel = rel;
		j->target = opt_.scratch + "/" + rel;
		if (!opt_.download_mirror.empty()) j->urls.push_back(pm::url_for_path(opt_.download_mirror, rel));
		if (opt_.download_mirror.empty() || opt_.mirror_fallback) j->urls.push_back(upstream_url);
		j->want_size = meta ? -1 : f.size;
		j->want_sha = sha;
		j->mtime = mtime;
		j->p->outstanding++;
		s3_lookup(j);
		return true;
	}
	pm::LocalCheck c;
	if (dir == pm::DirCache::State::Existing)
		c = pm::check_local_file(target, meta ? -1 : f.size, sha, mtime, opt_.compare);
	if (c.state == pm::LocalState::Current) {
		st_.current++;
		LOG_DEBUG("File is current: %s%s", rel.c_str(), c.mtime_fixed ? " (mtime reset to upload time)" : "");
		return false;
	}
	if (c.state == pm::LocalState::Wrong) LOG_DEBUG("File is not current: %s (%s)", rel.c_str(), c.detail.c_str());
	if (opt_.dry_run) {
		progress_clear();
		LOG_INFO("Would download: %s%s", upstream_url.c_str(),
		         meta ? "" : (" (" + std::to_string(f.size) + " bytes)").c_str());
		st_.would++;
		if (!meta) st_.would_bytes += f.size;
		p.needs_download = true;
		return false;
	}
	if (!p.journaled && !journal_paths(p, upstream_url)) return false;
	auto j = std::make_shared<Job>();
	j->p = cur_;
	j->fi = idx / 2;
	j->meta = meta;
	j->rel = rel;
	j->target = target;
	j->fresh = dir == pm::DirCache::State::Fresh;
	if (!opt_.download_mirror.empty()) j->urls.push_back(pm::url_for_path(opt_.download_mirror, rel));
	if (opt_.download_mirror.empty() || opt_.mirror_fallback) j->urls.push_back(upstream_url);
	j->want_size = meta ? -1 : f.size;
	j->want_sha = sha;
	j->mtime = mtime;
	start(j);
	return true;
}

void ArtifactGet::start(const std::shared_ptr<Job> &j)
{
	j->p->outstanding++;
	// Leftovers of a crashed run would otherwise pile up next to the target:
	// one scan of a directory that was there, the first time the run
	// writes into it.
	if (!opt_.s3 && !j->fresh && dirs_.first_sweep(j->rel)) pm::remove_stale_temps_in(pm::dirname_of(j->target), &dirs_.root());
	attempt(j);
}

void ArtifactGet::attempt(const std::shared_ptr<Job> &j)
{
	if (opt_.s3 && opt_.stream) {
		stream_attempt(j);
		return;
	}
	const std::string &url = j->urls[j->cand];
	std::string err;
	j->out.buffer(kWriteBlock);
	if (!j->out.open(j->target, &err, &dirs_.root())) {
		const pm::FileEntry &f = j->p->files[j->fi];
		fail_item(*j->p, f, j->meta, url, err);
		item_finished(j->p);
		return;
	}
	j->digest.reset();
	j->got = 0;
	j->abort_reason.clear();
	j->write_failed = false;
	progress_clear();
	LOG_INFO("Downloading: %s", url.c_str());
	pm::Request req;
	req.url = url;
	req.what = "file " + j->rel;
	Job *raw = j.get(); // the request lives no longer than the job it belongs to
	req.on_data = [this, raw](const char *d, size_t n) {
		if (over_size(*raw, n)) {
			return false;
		}
		if (!raw->out.write(d, n)) {
			raw->abort_reason = strerror(errno);
			raw->write_failed = true;
			return false;
		}
		raw->digest.update(d, n);
		raw->got += static_cast<long long>(n);
		st_.transferred += static_cast<long long>(n);
		progress();
		return true;
	};
	req.on_restart = [raw]() {
		// A retried transfer starts over: nothing of the failed attempt may
		// end up in the file or the hash.
		raw->out.truncate();
		raw->digest.reset();
		raw->got = 0;
		raw->abort_reason.clear();
	};
	http_.add(std::move(req), [this, j](pm::Request &, pm::Response &r) { done(j, r); });
}

// The download from the current URL failed (why): when another candidate
// URL is left (the mirror's fallback, upstream's), it starts there, with
// fresh content tries. False when that was the last.
bool ArtifactGet::next_candidate(const std::shared_ptr<Job> &j, const std::string &why)
{
	if (j->cand + 1 >= j->urls.size()) return false;
	progress_clear();
	LOG_WARN("Download of %s failed (%s); trying %s", j->urls[j->cand].c_str(), why.c_str(),
	         j->urls[j->cand + 1].c_str());
	j->cand++;
	j->content_tries = 0;
	attempt(j);
	return true;
}

void ArtifactGet::done(const std::shared_ptr<Job> &j, pm::Response &r)
{
	const pm::FileEntry &f = j->p->files[j->fi];
	const std::string &url = j->urls[j->cand];
	if (!r.ok()) {
		j->out.abort();
		if (j->write_failed) { // the disk, not the server: another URL will not help
			fail_item(*j->p, f, j->meta, url, j->abort_reason);
			item_finished(j->p);
			return;
		}
		if (!j->abort_reason.empty()) {
			content_mismatch(j, j->abort_reason);
			return;
		}
		std::string why = r.describe();
		if (next_candidate(j, why)) return;
		fail_item(*j->p, f, j->meta, url, why);
		item_finished(j->p);
		return;
	}
	if (j->want_size >= 0 && j->got != j->want_size) {
		j->out.abort();
		content_mismatch(j, "size mismatch: got " + std::to_string(j->got) + " bytes, want " +
		                        std::to_string(j->want_size));
		return;
	}
	std::string got = j->digest.hex();
	if (got != j->want_sha) {
		j->out.abort();
		content_mismatch(j, "sha256 mismatch (got " + got + ", want " + j->want_sha + ")");
		return;
	}
	std::string err;
	if (!j->out.commit(opt_.fsync, &err, j->mtime)) {
		// The last block is written here: a full disk is named as it would
		// be had the write failed while the body arrived.
		if (int e = j->out.write_error()) err = strerror(e);
		fail_item(*j->p, f, j->meta, url, err);
		item_finished(j->p);
		return;
	}
	if (opt_.s3) {
		s3_upload(j);
		return;
	}
	stored(j);
}

void ArtifactGet::stored(const std::shared_ptr<Job> &j)
{
	st_.downloaded++;
	st_.bytes += j->got;
	j->p->files_fetched++;
	j->p->bytes_fetched += j->got;
	LOG_DEBUG("Stored %s (%lld bytes)", j->rel.c_str(), j->got);
	item_finished(j->p);
}

// s3: the object is current when the store has it with PyPI's sha256 in its
// metadata (and the size, for a release file): no byte is read back.
void ArtifactGet::s3_head(const std::shared_ptr<Job> &j)
{
	const pm::S3Store &s = *opt_.s3;
	pm::Request req = pm::s3_head(s.config(), s.key(opt_.mirror.file(j->rel)));
	http_.add(std::move(req), [this, j](pm::Request &, pm::Response &r) {
		const pm::FileEntry &f = j->p->files[j->fi];
		if (r.ok()) {
			bool size_ok = j->want_size < 0 || r.header("content-length") == std::to_string(j->want_size);
			if (size_ok && r.header("x-amz-meta-sha256") == j->want_sha) {
				st_.current++;
				LOG_DEBUG("Object is current: %s", j->rel.c_str());
				item_finished(j->p);
				return;
			}
			LOG_DEBUG("Object is not current: %s", j->rel.c_str());
		} else if (r.status != 404) {
			fail_item(*j->p, f, j->meta, opt_.s3->config().location(),
			          "cannot look up " + j->rel + " in the store: " + pm::s3_describe(r));
			item_finished(j->p);
			return;
		}
		s3_absent(j);
	});
}

// s3: the object is not in the store (or not current): download it.
void ArtifactGet::s3_absent(const std::shared_ptr<Job> &j)
{
	if (opt_.dry_run) {
		progress_clear();
		LOG_INFO("Would download: %s", j->urls.back().c_str());
		st_.would++;
		if (!j->meta) st_.would_bytes += j->want_size;
		j->p->needs_download = true;
		item_finished(j->p);
		return;
	}
	s3_journal_then_start(j);
}

// s3: whether the store may hold any file of the project is asked once: a
// listing of one key under its page directory (web/simple/NAME/) and, when
// there is none, a GET of its unlisted journal. With neither, no run ever
// wrote a page of it or uploaded a file for it here (a project's paths are
// journaled before its first upload, and index-write drops the journal
// only once a page lists them), so its files are taken as absent without a
// HEAD each, and its journal is written without reading it again. A wrong
// guess (files put there some other way) costs a download and a PUT of the
// same verified bytes, never a wrong object. Any other answer, a failed one
// too: a HEAD per file, as before.
void ArtifactGet::s3_lookup(const std::shared_ptr<Job> &j)
{
	using Probe = Project::Probe;
	const std::shared_ptr<Project> p = j->p;
	switch (p->probe) {
	case Probe::Old: return s3_head(j);
	case Probe::New: return s3_absent(j);
	case Probe::Pending: p->probe_waiting.push_back(j); return;
	case Probe::None: break;
	}
	p->probe = Probe::Pending;
	p->probe_waiting.push_back(j);
	auto decided = [this, p](bool fresh) {
		p->probe = fresh ? Probe::New : Probe::Old;
		LOG_DEBUG("Project %s: %s", p->name.c_str(),
		          fresh ? "new to the store (no page, no journal): no lookups" : "looking its files up");
		auto waiting = std::move(p->probe_waiting);
		p->probe_waiting.clear();
		for (auto &w : waiting) fresh ? s3_absent(w) : s3_head(w);
	};
	// What the listings at start-up ruled out is not asked again: in an
	// initial sync, most projects need no request here at all.
	const pm::S3Store &s = *opt_.s3;
	std::string journal = s.key(opt_.mirror.unlisted_journal(p->name));
	auto no_page = [this, p, journal, decided] {
		if (!p->maybe_journal) return decided(true);
		http_.add(pm::s3_get(opt_.s3->config(), journal), [decided](pm::Request &, pm::Response &got) {
			decided(got.error.empty() && got.status == 404);
		});
	};
	if (!p->maybe_page) return no_page();
	// Its page directory was in the listing: its files are looked up (a
	// false "maybe" of the filter costs those HEADs, never a wrong answer).
	if (p->page_seen) return decided(false);
	// Else a one-key listing first: a project the store has pages of (an
	// incremental or idle run) costs one request more than its HEADs, not two.
	http_.add(pm::s3_list(s.config(), s.key(opt_.mirror.project_dir(p->name)) + "/", "", 1),
	          [no_page, decided](pm::Request &, pm::Response &r) {
		          pm::S3ListPage page;
		          std::string why;
		          if (!(r.ok() && pm::parse_s3_list(r.body, page, why) && page.objects.empty() && page.prefixes.empty()))
			          return decided(false);
		          no_page();
	          });
}

// journal_paths() for a store: the journal object's GET and PUT go through
// the same multi handle as the transfers (a blocking request inside a
// completion callback would stall every other transfer). The project's
// files wait for it; if it cannot be written, none is fetched.
void ArtifactGet::s3_journal_then_start(const std::shared_ptr<Job> &j)
{
	const std::shared_ptr<Project> p = j->p;
	if (p->journaled) {
		s3_start(j);
		return;
	}
	if (p->journal_failed) {
		if (!p->failed) // a member of a batch meets the failure with its first file
			fail_item(*p, p->files[j->fi], j->meta, j->urls.back(), "cannot record the files it downloads: " + p->journal_error);
		item_finished(p);
		return;
	}
	p->journal_waiting.push_back(j);
	if (p->journal_pending) return; // its journal's (or batch's) PUT is under way
	p->journal_pending = true;
	// A project new to the store has no journal yet (s3_lookup just saw
	// none), nor has one the listing at start-up did not show (and no
	// record of it came before in this run): it is written without a GET.
	const std::string *known = p->probe == Project::Probe::New || !p->maybe_journal ? &kNoJournal : nullptr;
	opt_.s3->add_to_unlisted_async(http_, p->name, journal_lines(*p), [this, p, made = known != nullptr](bool ok, const std::string &err) {
		journal_written(p, ok, err, made);
	}, known);
}

// The project's journal is written (made: by this pass, from nothing), or
// could not be: the files waiting for it start, or the project fails.
void ArtifactGet::journal_written(const std::shared_ptr<Project> &p, bool ok, const std::string &err, bool made)
{
	p->journal_pending = false;
	auto waiting = std::move(p->journal_waiting);
	p->journal_waiting.clear();
	if (ok) {
		p->journaled = true;
		p->journal_new = made; // as pm::add_to_unlisted says on a filesystem
		for (auto &w : waiting) s3_start(w);
		return;
	}
	p->journal_failed = true;
	p->journal_error = err;
	for (auto &w : waiting) s3_journal_then_start(w);
}

// s3: the unlisted batches a killed run left (its index-write did not get
// to remove them) become their projects' own journals before any record is
// read, so that none of those projects is taken as new to the store and
// what the batch tracks is read when its next page is written.
void ArtifactGet::expand_batches(const std::vector<std::string> &batches)
{
	if (batches.empty()) return;
	if (opt_.dry_run) { // writes nothing: the projects are asked about
		journals_unsure_ = true;
		return;
	}
	for (auto &b : batches) {
		LOG_INFO("Expanding the unlisted batch %s a killed run left", b.c_str());
		opt_.s3->expand_unlisted_batch(
		    http_, b,
		    [this](const std::string &project) {
			    journals_.add(project);
			    return false;
		    },
		    [this, b](bool ok, const std::string &why) {
			    if (ok) return;
			    LOG_WARN("unlisted batch %s: %s", b.c_str(), why.c_str());
			    journals_unsure_ = true;
		    });
	}
	http_.run(opt_.concurrency);
}

// s3: a batch whose every project failed (each has its own journal now).
void ArtifactGet::drop_batch(const Batch &b)
{
	opt_.s3->remove_unlisted_batch(http_, b.name, [name = b.name](bool ok, const std::string &why) {
		if (!ok) LOG_WARN("unlisted batch %s stays for the next run: %s", name.c_str(), why.c_str());
	});
}

void ArtifactGet::s3_start(const std::shared_ptr<Job> &j)
{
	if (!opt_.stream) pm::remove_stale_temps(j->target);
	attempt(j);
}

// The PUT of a release file to its final key, from scratch or streamed:
// the store checks the body against PyPI's sha256 (x-amz-content-sha256),
// and the sha256 and upload time go with it as user metadata, so that a
// later check never reads the bytes back.
pm::Request ArtifactGet::s3_file_put(const Job &j) const
{
	const pm::S3Store &s = *opt_.s3;
	pm::S3Put put;
	put.key = s.key(opt_.mirror.file(j.rel));
	put.content_type = "application/octet-stream";
	put.sha256 = j.want_sha;
	put.meta.emplace_back("sha256", j.want_sha);
	// The time the file was uploaded upstream, as x-amz-meta-uploaded-at
	// carries it (ISO 8601, bandersnatch's metadata name).
	if (j.mtime >= 0) put.meta.emplace_back("uploaded-at", pm::format_iso8601(j.mtime));
	return pm::s3_put(s.config(), put);
}

// s3: the file, verified, goes to its final key; the store checks the body
// against x-amz-content-sha256 (PyPI's sha256) once more, and a PUT that does
// not complete leaves nothing under the key.
void ArtifactGet::s3_upload(const std::shared_ptr<Job> &j)
{
	const pm::S3Store &s = *opt_.s3;
	j->spooled = j->target;
	j->upload = fopen(j->spooled.c_str(), "rb");
	if (!j->upload) {
		fail_item(*j->p, j->p->files[j->fi], j->meta, j->urls[j->cand], j->spooled + ": " + strerror(errno));
		unlink(j->spooled.c_str());
		item_finished(j->p);
		return;
	}
	pm::Request req = s3_file_put(*j);
	Job *raw = j.get();
	req.upload_size = j->got;
	req.on_read = [raw](char *b, size_t n) -> long {
		size_t k = fread(b, 1, n, raw->upload);
		return ferror(raw->upload) ? -1 : static_cast<long>(k);
	};
	req.on_restart = [raw]() { rewind(raw->upload); };
	progress_clear();
	LOG_INFO("Uploading: %s", s.key(opt_.mirror.file(j->rel)).c_str());
	http_.add(std::move(req), [this, j](pm::Request &, pm::Response &r) { s3_uploaded(j, r); });
}

void ArtifactGet::s3_uploaded(const std::shared_ptr<Job> &j, pm::Response &r)
{
	fclose(j->upload);
	j->upload = nullptr;
	unlink(j->spooled.c_str());
	if (!r.ok()) {
		fail_item(*j->p, j->p->files[j->fi], j->meta, opt_.s3->config().location(),
		          "cannot store " + j->rel + ": " + pm::s3_describe(r));
		item_finished(j->p);
		return;
	}
	stored(j);
}

// s3, streamed: an attempt is a download and the upload it feeds, in the
// same multi handle, with no local copy. The upload starts at the first
// byte of a 2xx body (an error page never reaches the store) and carries
// PyPI's sha256 as x-amz-content-sha256; this side hashes the bytes too and
// holds back the last one until they matched (see Pipe). Neither half is
// retried inside pm::Http (a streamed body cannot be sent twice): the pair
// is, by content_mismatch().
void ArtifactGet::stream_attempt(const std::shared_ptr<Job> &j)
{
	const std::string &url = j->urls[j->cand];
	j->pipe = std::make_unique<Pipe>();
	j->digest.reset();
	j->got = 0;
	j->abort_reason.clear();
	Pipe *pp = j->pipe.get();
	Job *raw = j.get(); // the requests live no longer than the job they belong to
	pp->halves = 1;
	progress_clear();
	LOG_INFO("Downloading: %s", url.c_str());
	pm::Request req;
	req.url = url;
	req.what = "file " + j->rel;
	req.retries = 0;
	req.on_chunk = [this, j, raw, pp](const char *d, size_t n) -> pm::Pace {
		if (pp->broken) return pm::Pace::Stop;
		if (over_size(*raw, n)) {
			pp->broken = true;
			if (pp->put_started) http_.resume(pp->put_id);
			return pm::Pace::Stop;
		}
		if (!pp->put_started) { // the upload's first read wakes this again
			pp->get_paused = true;
			stream_put(j);
			return pm::Pace::Pause;
		}
		size_t waiting = pp->buf.size() - pp->off;
		if (waiting > 0 && waiting + n > kPipeBytes) {
			pp->get_paused = true;
			return pm::Pace::Pause;
		}
		if (pp->off == pp->buf.size()) {
			pp->buf.clear();
			pp->off = 0;
		} else if (pp->off >= kPipeBytes / 2) {
			pp->buf.erase(0, pp->off);
			pp->off = 0;
		}
		pp->buf.append(d, n);
		raw->digest.update(d, n);
		raw->got += static_cast<long long>(n);
		st_.transferred += static_cast<long long>(n);
		progress();
		if (pp->put_paused) {
			pp->put_paused = false;
			http_.resume(pp->put_id);
		}
		return pm::Pace::Take;
	};
	pp->get_id = http_.add(std::move(req), [this, j, raw, pp](pm::Request &, pm::Response &r) {
		pp->get = std::move(r);
		if (pp->get.ok() && raw->abort_reason.empty()) {
			std::string got = raw->digest.hex();
			if (raw->want_size >= 0 && raw->got != raw->want_size)
				raw->abort_reason = "size mismatch: got " + std::to_string(raw->got) + " bytes, want " +
				                    std::to_string(raw->want_size);
			else if (got != raw->want_sha)
				raw->abort_reason = "sha256 mismatch (got " + got + ", want " + raw->want_sha + ")";
			else
				pp->verified = true;
		}
		if (!pp->verified) pp->broken = true;
		if (pp->verified && !pp->put_started) stream_put(j); // an empty body: no byte started it
		else if (pp->put_started) http_.resume(pp->put_id);  // to send the rest, or to give up
		stream_half_done(j);
	});
}

// The upload half: its body is what the download left in the pipe.
void ArtifactGet::stream_put(const std::shared_ptr<Job> &j)
{
	const pm::S3Store &s = *opt_.s3;
	Pipe *pp = j->pipe.get();
	Job *raw = j.get();
	pp->put_started = true;
	pp->halves++;
	pm::Request req = s3_file_put(*j);
	req.upload_size = j->want_size; // a companion's is unknown: sent chunked
	req.retries = 0;
	req.paired = true;
	req.on_read = [this, raw, pp](char *b, size_t n) -> long {
		if (pp->broken) return -1;
		size_t avail = pp->buf.size() - pp->off;
		if (!pp->verified && raw->want_size > 0) {
			long long room = raw->want_size - 1 - pp->sent; // the last byte waits for the hash
			if (room < static_cast<long long>(avail)) avail = room > 0 ? static_cast<size_t>(room) : 0;
		}
		if (pp->get_paused && !pp->broken) {
			pp->get_paused = false;
			http_.resume(pp->get_id);
		}
		if (avail == 0) {
			if (pp->verified && pp->off == pp->buf.size()) return 0;
			pp->put_paused = true;
			return pm::kReadPause;
		}
		size_t k = std::min(n, avail);
		memcpy(b, pp->buf.data() + pp->off, k);
		pp->off += k;
		pp->sent += static_cast<long long>(k);
		return static_cast<long>(k);
	};
	progress_clear();
	LOG_INFO("Uploading: %s", s.key(opt_.mirror.file(j->rel)).c_str());
	pp->put_id = http_.add(std::move(req), [this, j, pp](pm::Request &, pm::Response &r) {
		pp->put = std::move(r);
		if (!pp->put.ok()) {
			pp->broken = true;
			http_.resume(pp->get_id); // a paused download stops
		}
		stream_half_done(j);
	});
}

// Both halves are over: the file is stored, or the attempt failed in one
// place, named as the filesystem path names it.
void ArtifactGet::stream_half_done(const std::shared_ptr<Job> &j)
{
	Pipe &p = *j->pipe;
	if (--p.halves > 0) return;
	const pm::FileEntry &f = j->p->files[j->fi];
	const std::string &url = j->urls[j->cand];
	bool store_failed = p.put_started && !p.put.ok() && p.put.error != "upload aborted by the sender";
	if (store_failed && p.verified) {
		fail_item(*j->p, f, j->meta, opt_.s3->config().location(),
		          "cannot store " + j->rel + ": " + pm::s3_describe(p.put));
		item_finished(j->p);
		return;
	}
	if (!j->abort_reason.empty()) { // the bytes were not the file's
		content_mismatch(j, j->abort_reason);
		return;
	}
	if (store_failed) { // the store gave up first; the download was stopped for it
		fail_item(*j->p, f, j->meta, opt_.s3->config().location(),
		          "cannot store " + j->rel + ": " + pm::s3_describe(p.put));
		item_finished(j->p);
		return;
	}
	if (!p.get.ok()) {
		std::string why = p.get.describe();
		if (next_candidate(j, why)) return;
		if (!p.get.error.empty()) { // a broken connection: the pair is tried again (bounded)
			content_mismatch(j, why);
			return;
		}
		fail_item(*j->p, f, j->meta, url, why);
		item_finished(j->p);
		return;
	}
	stored(j);
}

// The body arrived but is not the file the record names. Another candidate
// (the upstream after a download mirror) may have it right; from the last
// candidate it is fetched a bounded number of times more, since a proxy or
// a flaky link may have mangled it.
void ArtifactGet::content_mismatch(const std::shared_ptr<Job> &j, const std::string &why)
{
	const std::string &url = j->urls[j->cand];
	progress_clear();
	if (j->cand + 1 < j->urls.size()) {
		LOG_WARN("%s: %s; trying %s", url.c_str(), why.c_str(), j->urls[j->cand + 1].c_str());
		j->cand++;
		j->content_tries = 0;
		attempt(j);
		return;
	}
	if (j->content_tries < kContentRetries) {
		j->content_tries++;
		LOG_WARN("%s: %s; downloading again (%d of %d)", url.c_str(), why.c_str(), j->content_tries,
		         kContentRetries);
		attempt(j);
		return;
	}
	fail_item(*j->p, j->p->files[j->fi], j->meta, url, why);
	item_finished(j->p);
}

void ArtifactGet::item_finished(const std::shared_ptr<Project> &p)
{
	p->outstanding--;
	progress();
	maybe_finish(p);
}

void ArtifactGet::maybe_finish(const std::shared_ptr<Project> &p)
{
	if (!p->fed_all || p->outstanding > 0) return;
	if (p->failed && p->batch && p->journaled && !p->own_journal) {
		// Its batch goes once the pages of the projects that landed are
		// out; what it tracks for this one moves to a journal of its own
		// (none was there: it was new to the store), as if it had had one
		// from the start. Should that fail, index-write (or the next run)
		// expands the batch instead.
		p->own_journal = true;
		p->outstanding++;
		opt_.s3->add_to_unlisted_async(http_, p->name, journal_lines(*p), [this, p](bool ok, const std::string &err) {
			if (!ok) LOG_WARN("Project %s: %s", p->name.c_str(), err.c_str());
			// No project of the batch is left for index-write to count
			// out: it goes now.
			else if (++p->batch->moved == p->batch->projects) drop_batch(*p->batch);
			p->outstanding--;
			maybe_finish(p);
		}, &kNoJournal);
		return;
	}
	if (p->failed) {
		st_.failed_projects++;
		// The record names the first failure; the log has every one.
		check_output(loop_.emit_error(p->name, p->serial, p->err_reason, p->err_file, p->err_url));
		LOG_DEBUG("Project %s: %d of its files failed", p->name.c_str(), p->failures);
	} else if (p->needs_download) {
		LOG_DEBUG("Project %s: files missing (dry run); record held back", p->name.c_str());
	} else {
		// What was downloaded for it travels on its record (to index-write's
		// synced record and the run's summary): no one reads it off the log.
		std::string &l = p->line;
		size_t close = l.rfind('}');
		std::string add = ",\"files_fetched\":" + std::to_string(p->files_fetched) +
		                  ",\"bytes_fetched\":" + std::to_string(p->bytes_fetched);
		// Every file and companion the record lists was found current
		// (size and sha256) or stored verified just now, in the store or in
		// web/: index-write at the same place need not look them up again.
		// Not with --no-metadata (the companions were not looked at).
		std::string at = !opt_.metadata ? "" : opt_.s3 ? opt_.s3->stored_at() : web_id_;
		if (!at.empty())
			add += ",\"stored_at\":" + pm::to_json(rapidjson::Value(rapidjson::StringRef(at.c_str(), at.size())));
		// The store held no page and no unlisted journal of it, and no
		// record of it came earlier in this run: the journal this run wrote
		// lists exactly the record's files, so index-write has no old page
		// or journal to read (pypi-mirror-records(7)).
		bool new_to_store = !at.empty() && opt_.s3 && p->probe == Project::Probe::New;
		if (new_to_store) add += ",\"new_to_store\":true";
		// Its journal is in an unlisted batch: index-write removes that
		// once the batch's every project is out.
		if (new_to_store && p->batch)
			add += ",\"journal_batch\":{\"name\":" + pm::to_json(rapidjson::Value(rapidjson::StringRef(p->batch->name.c_str(), p->batch->name.size()))) +
			       ",\"projects\":" + std::to_string(p->batch->projects) + "}";
		// The project's unlisted journal did not exist before this run
		// wrote its paths: it lists this record's files and nothing else,
		// so index-write (at the same stored_at) need not read it back to
		// find files to delete, only remove it once the page is written.
		// (new_to_store says that and more: no page either.)
		if (!at.empty() && !new_to_store && p->journal_new) add += ",\"journal_new\":true";
		if (close != std::string::npos) l.insert(close, add);
		emit(l);
		LOG_DEBUG("Project %s: all %zu files in place", p->name.c_str(), p->files.size());
	}
}

// Called by Http::run whenever a transfer slot is free: works through the
// current project's files, reading the next record only when it is done
// (and there is one to read, or nothing under way to hold up), until one
// transfer has been added or the input is exhausted.
bool ArtifactGet::feed()
{
	for (;;) {
		if (!cur_) {
			if (!ahead_.empty()) {
				cur_ = std::move(ahead_.front());
				ahead_.pop_front();
				continue;
			}
			if (eof_) return false;
			if (!loop_.ready_for(http_)) return true; // the transfers go on until input comes
			progress_clear(); // the loop may log a refused record
			if (!loop_.next()) {
				eof_ = true;
				return false;
			}
			cur_ = take_project(loop_.record());
			if (cur_ && batchable(*cur_)) gather_batch();
			continue;
		}
		if (cur_->next_item < 2 * cur_->files.size()) {
			if (next_item(*cur_)) return true;
			progress();
			continue;
		}
		auto p = std::move(cur_);
		cur_.reset();
		p->fed_all = true;
		maybe_finish(p);
	}
}

int ArtifactGet::run()
{
	tty_ = isatty(2);
	// A store has no web/ directory (files pass through scratch space).
	if (!opt_.s3 && !dirs_.open(opt_.mirror.web()) && !opt_.dry_run) {
		LOG_TOOL_ERROR("cannot open %s: %s", opt_.mirror.web().c_str(), strerror(errno));
		return pm::kExitFatal;
	}
	struct stat web;
	if (!opt_.s3 && opt_.metadata && dirs_.root().fd() >= 0 && fstat(dirs_.root().fd(), &web) == 0)
		web_id_ = std::to_string(static_cast<unsigned long long>(web.st_dev)) + ":" +
		          std::to_string(static_cast<unsigned long long>(web.st_ino));
	if (opt_.s3) {
		// Two listings instead of a request or two per project: see
		// s3_lookup. A few pages each at most, so that a run of a few
		// projects against a large bucket pays little for them.
		pages_.load(*opt_.s3, opt_.mirror.simple(), true);
		std::vector<std::string> batches;
		journals_.load(*opt_.s3, opt_.mirror.unlisted_dir(), false, pm::S3Listing::kStartupPages, &batches);
		expand_batches(batches);
		batched_.start_empty();
		LOG_DEBUG("Store listings: %lld project pages (%d listing pages%s), %lld unlisted journals (%d listing pages%s)",
		          pages_.names(), pages_.pages(), pages_.complete() ? "" : ", more not listed", journals_.names(),
		          journals_.pages(), journals_.complete() ? "" : ", more not listed");
	}
	http_.run(opt_.concurrency, [this] { return feed(); });
	progress_clear();
	int status = loop_.finish();
	if (status == pm::kExitFatal) return status;
	if (opt_.progress) { // the final count stays on screen
		progress(true);
		if (tty_) fputc('\n', stderr);
		progress_shown_ = false;
	}
	if (opt_.dry_run)
		LOG_TOOL_INFO("%lld files would be downloaded (%lld bytes), %lld current, %lld failed in %lld "
		         "projects",
		         st_.would, st_.would_bytes, st_.current, st_.failed, st_.failed_projects);
	else
		LOG_TOOL_INFO("%lld files downloaded (%lld bytes), %lld current, %lld failed in %lld projects",
		         st_.downloaded, st_.bytes, st_.current, st_.failed, st_.failed_projects);
	return status;
}

} // namespace

int main(int argc, char **argv)
{
	// Each transfer mallocs and frees its buffers (libcurl's, a record's
	// Document, the file's write buffer), and glibc gave the top of the heap
	// back to the kernel at every free past 128 KiB and took it again at the
	// next malloc: ~440 brk calls and 4x the page faults (each fresh page
	// zero-filled) of a run that keeps it. Peak RSS is unchanged (what is
	// kept was in use at the peak); only the give-back is skipped.
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20); // fixed: 256 KiB write buffers from the heap
	pm::log_set_prog(kProg);
	Options o;
	pm::MirrorOptions mo;
	pm::UpstreamOptions up(o.concurrency, 1000);
	int progress = -1;
	std::string s3_upload;
	pm::parse_options(kProg, kCommandLine, argc, argv, [&](int c) {
		if (mo.option(c, kProg, optarg) || up.option(c, kProg, optarg)) return;
		switch (c) {
		case kOptCompareMethod:
			if (!strcmp(optarg, "stat"))
				o.compare = pm::CompareMethod::Stat;
			else if (!strcmp(optarg, "hash"))
				o.compare = pm::CompareMethod::Hash;
			else {
				pm::usage_error(kProg, "--compare-method wants stat or hash, not '%s'", optarg);
			}
			break;
		case kOptDownloadMirror: o.download_mirror = optarg; break;
		case kOptDownloadMirrorNoFallback: o.mirror_fallback = false; break;
		case kOptNoMetadata: o.metadata = false; break;
		case kOptProgress: progress = 1; break;
		case kOptNoProgress: progress = 0; break;
		case 'n': o.dry_run = true; break;
		case kOptS3Upload:
			if (strcmp(optarg, "stream") != 0 && strcmp(optarg, "scratch") != 0)
				pm::usage_error(kProg, "--s3-upload wants stream or scratch, not '%s'", optarg);
			s3_upload = optarg;
			break;
		}
	});
	o.s3 = pm::s3_store_from_options(kProg, mo);
	o.dir = mo.dir;
	o.fsync = mo.fsync;
	o.concurrency = up.concurrency;
	std::string upstream = up.resolve(kProg);
	o.allow_http = up.allow_http;
	o.policy = pm::project_json_policy(upstream, up.extra_hosts, o.allow_http);
	if (!o.download_mirror.empty()) {
		// The operator names it, but the same rule holds: http(s), https unless allowed.
		o.download_mirror = pm::base_url_or_exit(kProg, "--download-mirror", o.download_mirror, o.allow_http);
	} else if (!o.mirror_fallback) {
		pm::usage_error(kProg, "--download-mirror-no-fallback needs --download-mirror");
	}
	o.progress = progress < 0 ? isatty(2) : progress == 1;
	o.mirror = pm::Layout(o.dir);
	if (o.s3) {
		std::string why;
		if (!o.s3->check(why)) {
			LOG_TOOL_ERROR("%s: %s", o.s3->config().location().c_str(), why.c_str());
			return pm::kExitFatal;
		}
		o.stream = (s3_upload.empty() ? o.s3->config().upload : s3_upload) == "stream";
		if (o.stream) { // nothing on local disk
			ArtifactGet a(std::move(o));
			return a.run();
		}
		const char *tmp = getenv("TMPDIR");
		std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/artifact-get.XXXXXX";
		if (!mkdtemp(t.data())) {
			LOG_TOOL_ERROR("cannot create a scratch directory %s: %s", t.c_str(), strerror(errno));
			return pm::kExitFatal;
		}
		o.scratch = t;
		ArtifactGet a(std::move(o));
		int rc = a.run();
		std::error_code ec;
		std::filesystem::remove_all(t, ec);
		return rc;
	}
	if (!o.dry_run && !pm::mkdir_p(o.mirror.web())) {
		LOG_TOOL_ERROR("cannot create %s: %s", o.mirror.web().c_str(), strerror(errno));
		return pm::kExitFatal;
	}
	ArtifactGet a(std::move(o));
	return a.run();
}
