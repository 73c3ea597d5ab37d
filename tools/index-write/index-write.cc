// index-write: the last stage of the pipeline. Turns resolved project
// records into the Simple API pages of the mirror (PEP 503/691 HTML and
// JSON), deletes the files upstream no longer lists, applies removals, and
// rebuilds the root index once at the end of the run.
//
// A page is written only when every file it links to is on disk, so a
// client never sees a link the mirror cannot serve.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <getopt.h>
#include <strings.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>
#include <vector>

#include "cli.h"
#include "fsutil.h"
#include "index_root.h"
#include "layout.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "record.h"
#include "record_loop.h"
#include "s3_store.h"
#include "simple_page.h"

namespace {

const char *kProg = "index-write";

const char *kUsage = R"(usage: index-write -d DIR [OPTION]... < records
Write the Simple API pages of a PyPI mirror from resolved project records.

For each project record (from artifact-get), checks that every file it lists
is in DIR/web/packages/, writes DIR/web/simple/NAME/index.html, index.v1_html
(PEP 503 HTML) and index.v1_json (PEP 691 JSON), then deletes the files the
project's previous page listed and upstream no longer does. A removal record
deletes the project's pages and files. At the end the root index
DIR/web/simple/index.{html,v1_html,v1_json} is updated. Writes one synced
record per project, passes error records through, writes target records last.

Options:
  -d, --directory DIR     the mirror (holding web/); required
                          (or s3://BUCKET/PREFIX: the mirror in an S3 store)
      --config FILE       the [s3] section of FILE (pypi-mirror.conf); without
                          -d, also its [mirror] directory = /BUCKET/PREFIX
      --root-uri URI      link files as URI/packages/... instead of the
                          relative ../../packages/...
      --no-release-files  an index-only mirror: files stay upstream (links
                          go to --root-uri), so none is checked or deleted
      --json              also publish the spooled JSON API document of each
                          project as DIR/web/json/NAME and DIR/web/pypi/NAME/json
      --simple-format FMT which project pages to write: html (index.html,
                          index.v1_html), json (index.v1_json) or all (default)
      --max-deletions N   delete at most N files in this run (default 10000,
                          0 for no limit); a project that would pass the limit
                          is left as it was and reported as an error
      --fsync             fsync every page before renaming it into place
      --serial N          the serial the run reaches: the root index's
                          meta._last-serial (default: highest project serial)
      --no-root           do not touch the root index
      --rebuild-root      rebuild the root index by listing DIR/web/simple/*/
  -h, --help              show this help and exit
  -V, --version           show the version and exit
  -v, --verbose           log more (repeatable)
  -q, --quiet             log less (repeatable)

Environment, for s3://: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY.
Exit status: 0 success, 1 some projects failed (error records written),
2 usage error, 3 fatal (DIR unusable).
)";

struct Options {
	std::string dir, root_uri;
	pm::Layout m{""}; // where things are in dir
	bool json = false, html_pages = true, json_pages = true, sync = false, no_root = false, rebuild_root = false;
	bool release_files = true; // false: index-only mirror (bandersnatch's release-files = false)
	long long max_deletions = 10000, serial = -1;
	std::unique_ptr<pm::S3Store> s3; // the mirror is in an S3 bucket (see "The mirror in a bucket")
};

struct Run {
	Options o;
	pm::RecordLoop loop{kProg, {"project", "removal"}};
	pm::RootList changes; // this run's synced projects, for the root index
	// What artifact-get downloaded for the record being written (its
	// files_fetched, bytes_fetched), passed on in the synced record.
	long long files_fetched = 0, bytes_fetched = 0;
	std::unordered_set<std::string> changed_names; // their normalized names
	// Projects that may have a pending-deletions journal: those found at
	// start-up and those this run writes. Only this process writes journals
	// (the wrapper holds the mirror's lock), so for any other project there is
	// no file to read or remove. When the directory could not be listed,
	// every project is probed.
	std::unordered_set<std::string> journals;
	bool journals_unknown = false;
	// web/ and web/simple/ held open: every file checked and every page
	// written is looked up from them (see pm::DirHandle).
	pm::DirHandle web_dir, simple_dir;
	long long deleted_total = 0;
};

void emit_error(Run &run, const pm::ProjectRecord &r, const std::string &reason, const std::string &file = "")
{
	if (file.empty())
		LOG_ERROR("%s: %s", r.name.c_str(), reason.c_str());
	else
		LOG_ERROR("%s: %s: %s", r.name.c_str(), file.c_str(), reason.c_str());
	run.loop.emit_error(r.name, r.serial, reason, file);
}

void emit_synced(Run &run, const pm::ProjectRecord &r, long long files, long long deleted, bool removed)
{
	rapidjson::Document d(rapidjson::kObjectType);
	pm::set_string(d, d, "type", "synced");
	pm::set_string(d, d, "name", r.name);
	pm::set_int(d, d, "serial", r.serial);
	pm::set_int(d, d, "files_listed", files);
	pm::set_int(d, d, "files_fetched", run.files_fetched);
	pm::set_int(d, d, "bytes_fetched", run.bytes_fetched);
	pm::set_int(d, d, "deleted", deleted);
	pm::set_bool(d, d, "removed", removed);
	run.loop.emit(d);
}

std::string page_dir(const Run &run, const std::string &name) { return run.o.m.project_dir(name); }

// What the project's page directory held when the project was taken up.
struct OldPages {
	bool dir_exists = false; // it was there before (or could not be told)
	bool created = false;    // old_pages() made it
	bool have_json = false;
	std::string json; // index.v1_json, when have_json
	std::vector<pm::ListedFile> files;
	bool unlisted = false; // DIR/.unlisted/NAME was found (see old_files)
};

// The files the project's current page lists: from the JSON page when there
// is one (exact), else from the HTML page (a bandersnatch HTML-only mirror).
// A project new to the mirror has no directory: one system call says so
// (a stat, or with make_dir the mkdir the pages need anyway), and none of
// the pages is probed.
OldPages old_pages(const Run &run, const std::string &name, bool make_dir = false)
{
	OldPages old;
	std::string dir = page_dir(run, name), text, why;
	struct stat st;
	const char *rel;
	int at = run.simple_dir.at(dir, rel);
	if (make_dir ? mkdirat(at, rel, 0755) == 0 : false) {
		old.created = true;
		return old;
	}
	if (make_dir ? errno == ENOENT : fstatat(at, rel, &st, 0) != 0 && errno == ENOENT) return old;
	old.dir_exists = true; // (or unknown: then the probes below tell)
	if (pm::read_file(dir + "/index.v1_json", old.json, 256u << 20, &run.simple_dir)) {
		old.have_json = true;
		if (pm::listed_files_json(old.json, old.files, &why)) return old;
		LOG_WARN("%s/index.v1_json: %s; reading the HTML page instead", dir.c_str(), why.c_str());
	}
	for (const char *page : {"/index.html", "/index.v1_html"})
		if (pm::read_file(dir + page, text) && pm::listed_files_html(text, old.files)) return old;
	old.files.clear();
	return old;
}

std::vector<pm::ListedFile> old_listing(const Run &run, const std::string &name) { return old_pages(run, name).files; }

// Old files the new record does not list and that are safe to delete.
std::vector<std::string> deletion_candidates(const pm::ProjectRecord &r, const std::vector<pm::ListedFile> &old)
{
	std::set<std::string> keep, seen;
	for (auto &f : r.files) keep.insert(f.path);
	std::vector<std::string> out;
	for (auto &f : old) {
		if (keep.count(f.path) || !seen.insert(f.path).second) continue;
		// A hostile or mistaken record that once listed another project's
		// file must not make us delete that file now.
		if (!pm::filename_belongs_to(f.filename, r.name)) {
			LOG_WARN("Not deleting %s: the file does not belong to project %s", f.path.c_str(), r.name.c_str());
			continue;
		}
		out.push_back(f.path);
	}
	return out;
}

// Applies the deletion cap; false (with an error record) when this project's
// deletions would take the run past it.
bool within_cap(Run &run, const pm::ProjectRecord &r, size_t n)
{
	if (run.o.max_deletions <= 0 || run.deleted_total + static_cast<long long>(n) <= run.o.max_deletions) return true;
	emit_error(run, r,
	           "deletion cap of " + std::to_string(run.o.max_deletions) + " files reached (project would delete " +
	               std::to_string(n) + ", " + std::to_string(run.deleted_total) + " already deleted this run)");
	return false;
}

long long delete_files(Run &run, const pm::ProjectRecord &r, const std::vector<std::string> &paths)
{
	if (!run.o.release_files) return 0; // an index-only mirror holds no files
	long long n = 0;
	const std::string stop = run.o.m.packages();
	for (auto &p : paths) {
		if (!pm::valid_package_path(p)) continue; // never anything but packages/xx/yy/<hash>/<file>
		std::string full = run.o.m.file(p);
		LOG_INFO("Deleting file: %s (project %s)", p.c_str(), r.name.c_str());
		if (!pm::remove_file(full) && errno != ENOENT)
			LOG_WARN("cannot delete %s: %s", full.c_str(), strerror(errno));
		pm::remove_file(full + ".metadata");
		pm::prune_empty_dirs(pm::dirname_of(full), stop);
		n++;
	}
	run.deleted_total += n;
	return n;
}

// The pending-deletions journal. Files are deleted only after the new page
// is written (a page must never link a missing file), so a run killed
// between the two would leave the files forever: the next run reads the new
// page and sees nothing to delete. Hence, before the page is written, the
// list of paths to delete goes to DIR/.pending-deletions/NAME (outside web/,
// never served); it is removed once the files are gone, and a journal found
// at start-up is completed then.
std::string journal_dir(const Run &run) { return run.o.m.pending_deletions_dir(); }
std::string journal_path(const Run &run, const std::string &name) { return run.o.m.pending_deletions(name); }

bool write_journal(Run &run, const std::string &name, const std::vector<std::string> &paths, std::string &why)
{
	std::string text;
	for (auto &p : paths) text += p + "\n";
	run.journals.insert(name); // before: a failed write may leave one
	return pm::write_file_atomic(journal_path(run, name), text, run.o.sync, &why);
}

bool may_have_journal(const Run &run, const std::string &name)
{
	return run.journals_unknown || run.journals.count(name);
}

void remove_journal(Run &run, const std::string &name)
{
	if (!may_have_journal(run, name)) return;
	std::string path = journal_path(run, name);
	if (!pm::remove_file(path) && errno != ENOENT) {
		LOG_WARN("cannot delete %s: %s", path.c_str(), strerror(errno));
		return;
	}
	run.journals.erase(name);
}

std::vector<pm::ListedFile> parse_journal(const std::string &text, const std::string &name, const std::string &path);

// The paths a journal lists that have the shape of a package path (anything
// else is never deleted). A journal is our own file, but it sits on disk
// between runs, so it is read as untrusted.
std::vector<pm::ListedFile> read_journal(Run &run, const std::string &name, const std::string &path,
                                        bool *found = nullptr)
{
	std::vector<pm::ListedFile> out;
	std::string text;
	if (found) *found = false;
	if (!pm::read_file(path, text, 64u << 20)) {
		if (errno != ENOENT) {
			if (found) *found = true; // there, but unreadable: try to remove it too
			LOG_ERROR("cannot read journal %s: %s", path.c_str(), strerror(errno));
			run.loop.mark_failed();
		}
		return out;
	}
	if (found) *found = true;
	return parse_journal(text, name, path);
}

std::vector<pm::ListedFile> parse_journal(const std::string &text, const std::string &name, const std::string &path)
{
	std::vector<pm::ListedFile> out;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string::npos) nl = text.size();
		std::string p = text.substr(pos, nl - pos), why;
		pos = nl + 1;
		if (p.empty()) continue;
		if (!pm::valid_package_path(p, &why)) {
			LOG_WARN("Not deleting '%s' (listed in %s for %s): %s", p.c_str(), path.c_str(), name.c_str(), why.c_str());
			continue;
		}
		out.push_back({pm::basename_of(p), p});
	}
	return out;
}

// Completes the journals a killed run left. A path is deleted only under the
// rules of a normal deletion (package path shape, the file belongs to the
// project, the deletion cap), and only if the project's current page does
// not list it: a run killed after the journal but before the new page still
// serves the old page, whose files must stay (the next sync of the project
// computes its deletions again).
void complete_journals(Run &run)
{
	std::string dir = journal_dir(run);
	DIR *d = opendir(dir.c_str());
	if (!d) {
		if (errno != ENOENT) {
			LOG_WARN("cannot read %s: %s", dir.c_str(), strerror(errno));
			run.journals_unknown = true;
		}
		return;
	}
	std::vector<std::string> names;
	while (struct dirent *e = readdir(d)) {
		std::string n = e->d_name;
		if (n == "." || n == "..") continue;
		if (n[0] == '.') { // the temporary of a journal write that was killed
			if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) pm::remove_file(dir + "/" + n);
			continue;
		}
		names.push_back(n);
		run.journals.insert(n);
	}
	closedir(d);
	std::sort(names.begin(), names.end());
	for (auto &name : names) {
		if (!pm::valid_project_name(name) || pm::normalize_name(name) != name) {
			LOG_WARN("Ignoring %s: not a journal of a project (not a normalized project name)",
			         journal_path(run, name).c_str());
			continue;
		}
		pm::ProjectRecord r;
		r.name = name;
		std::set<std::string> listed;
		for (auto &f : old_listing(run, name)) listed.insert(f.path);
		std::vector<pm::ListedFile> pending;
		for (auto &f : read_journal(run, name, journal_path(run, name))) {
			if (!listed.count(f.path)) {
				pending.push_back(f);
				continue;
			}
			LOG_INFO("Not deleting %s: the page of %s still lists it (the run stopped before writing the page)",
			         f.path.c_str(), name.c_str());
		}
		auto doomed = deletion_candidates(r, pending); // the ownership rule
		if (run.o.max_deletions > 0 && run.deleted_total + static_cast<long long>(doomed.size()) > run.o.max_deletions) {
			// Kept: the next run of the project (or of index-write) takes it up.
			LOG_ERROR("%s: deletion cap of %lld files reached; %zu pending deletions stay in %s", name.c_str(),
			          run.o.max_deletions, doomed.size(), journal_path(run, name).c_str());
			run.loop.mark_failed();
			continue;
		}
		if (!doomed.empty())
			LOG_INFO("Completing %zu deletions of %s that an interrupted run left", doomed.size(), name.c_str());
		delete_files(run, r, doomed);
		remove_journal(run, name);
	}
}

// The old page's files, plus those a journal kept back (deletion cap) still
// lists: overwriting the journal must not forget them; plus the files
// artifact-get stored for the project that no page listed (its unlisted
// journal: a run that failed the project, or was killed). That one is
// always probed, even for a project new to the mirror: artifact-get writes
// it while we run, and a project whose first sync failed has no page.
OldPages old_files(Run &run, const std::string &name, bool make_dir = false)
{
	auto old = old_pages(run, name, make_dir);
	if (may_have_journal(run, name))
		for (auto &f : read_journal(run, name, journal_path(run, name))) old.files.push_back(f);
	std::string unlisted = run.o.m.unlisted_journal(name);
	auto more = read_journal(run, name, unlisted, &old.unlisted);
	old.files.insert(old.files.end(), more.begin(), more.end());
	return old;
}

// Once the page lists what it should and the doomed files are gone.
void remove_journals(Run &run, const std::string &name, const OldPages &old)
{
	remove_journal(run, name);
	if (!old.unlisted) return;
	std::string path = run.o.m.unlisted_journal(name);
	if (!pm::remove_file(path) && errno != ENOENT) LOG_WARN("cannot delete %s: %s", path.c_str(), strerror(errno));
}

// Removes a page (or a JSON API copy) if it is there, and any temporaries a
// crashed run left next to it.
void remove_if_present(const std::string &path)
{
	if (!pm::remove_file(path) && errno != ENOENT) LOG_WARN("cannot delete %s: %s", path.c_str(), strerror(errno));
	pm::remove_stale_temps(path);
}

// The spooled JSON API document, checked to be what it claims: a file we
// would otherwise publish from a path named in a record.
bool read_json_document(const pm::ProjectRecord &r, std::string &text, std::string &why)
{
	struct stat st;
	if (lstat(r.json_file.c_str(), &st) != 0) {
		why = "json_file " + r.json_file + ": " + strerror(errno);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		why = "json_file " + r.json_file + " is not a regular file";
		return false;
	}
	if (!pm::read_file(r.json_file, text, 1u << 30)) {
		why = "cannot read json_file " + r.json_file + ": " + strerror(errno);
		return false;
	}
	rapidjson::Document d;
	std::string err;
	if (!pm::parse_json_object(text, d, err)) {
		why = "json_file " + r.json_file + " is not JSON: " + err;
		return false;
	}
	auto *info = pm::member(d, "info");
	if (!info || pm::normalize_name(pm::get_string(*info, "name")) != r.name) {
		why = "json_file " + r.json_file + " is not the JSON API document of " + r.name;
		return false;
	}
	return true;
}

// Whether path's directory is inside the mirror directory (symbolic links
// and ".." resolved).
bool inside_mirror(const Run &run, const std::string &path)
{
	char *d = realpath(pm::dirname_of(path).c_str(), nullptr);
	char *m = realpath(run.o.dir.c_str(), nullptr);
	bool in = false;
	if (d && m) {
		std::string ds = d, ms = m;
		in = ds == ms || (ds.size() > ms.size() && ds.compare(0, ms.size(), ms) == 0 && ds[ms.size()] == '/') ||
		     ms == "/";
	}
	free(d);
	free(m);
	return in;
}

bool publish_json(Run &run, const pm::ProjectRecord &r, const std::string &text, std::string &why)
{
	std::string dest = run.o.m.json_copy(r.name), old;
	// The spooled document is consumed (moved into place, or deleted when
	// unchanged) only when it lies inside the mirror, as pkg-resolve's spool
	// does for the wrapper. A record naming a file elsewhere must not make us
	// move or delete it: it is copied.
	bool consume = inside_mirror(run, r.json_file);
	if (pm::read_file(dest, old, text.size() + 1) && old == text) {
		if (consume) pm::remove_file(r.json_file); // unchanged: keep the published copy as it is
	} else {
		if (!pm::mkdir_p(pm::dirname_of(dest))) {
			why = "cannot create " + pm::dirname_of(dest) + ": " + strerror(errno);
			return false;
		}
		if (!consume || rename(r.json_file.c_str(), dest.c_str()) != 0) {
			// Outside the mirror, or another file system: write it instead
			// (still atomically).
			if (!pm::write_file_atomic(dest, text, run.o.sync, &why)) return false;
			if (consume) pm::remove_file(r.json_file);
		}
	}
	return pm::write_file_atomic(run.o.m.json_api(r.name), text, run.o.sync, &why);
}

// A project's pages and files have landed (on disk or in the store): say so.
void synced(Run &run, const pm::ProjectRecord &r, long long serial, long long deleted)
{
	std::set<std::string> names;
	for (auto &f : r.files) names.insert(f.filename);
	LOG_INFO("Synced %s (serial %lld, %zu files)", r.name.c_str(), serial, names.size());
	emit_synced(run, r, static_cast<long long>(names.size()), deleted, false);
	// PyPI's root leaves quarantined projects out (their pages stay, saying
	// so); ours does too, so that a mirror of us lists what PyPI lists and
	// changelog-fetch does not take the project for one removed upstream.
	run.changes.add(r.display_name.empty() ? r.name : r.display_name, serial, r.status == "quarantined");
	run.changed_names.insert(r.name);
}

void process_project(Run &run, const pm::ProjectRecord &r)
{
	if (!r.resolved) {
		emit_error(run, r, "project record has no file list (not resolved by pkg-resolve)");
		return;
	}
	// Every file (and its PEP 658 metadata) must be on disk, at its size.
	for (auto &f : r.files) {
		if (!run.o.release_files) break; // index-only: the files live upstream
		long long size, mtime;
		std::string full = run.o.m.file(f.path);
		if (!pm::stat_file(full, size, mtime, &run.web_dir)) {
			emit_error(run, r, "file missing on disk", f.filename);
			return;
		}
		if (size != f.size) {
			emit_error(run, r,
			           "file on disk has " + std::to_string(size) + " bytes, expected " + std::to_string(f.size),
			           f.filename);
			return;
		}
		if (!f.core_metadata.empty() && !pm::stat_file(full + ".metadata", size, mtime, &run.web_dir)) {
			emit_error(run, r, "file missing on disk", f.filename + ".metadata");
			return;
		}
	}
	std::string json_text, why;
	bool publish = run.o.json && !r.json_file.empty();
	if (publish && !read_json_document(r, json_text, why)) {
		emit_error(run, r, why);
		return;
	}
	// A new project's page directory is made here, and none of its pages
	// is read back to compare (there is none).
	auto old = old_files(run, r.name, true);
	std::string dir = page_dir(run, r.name);
	auto undo_dir = [&] {
		if (old.created) rmdir(dir.c_str()); // not left behind empty
	};
	auto doomed = deletion_candidates(r, old.files);
	if (!within_cap(run, r, doomed.size())) return undo_dir();
	if (!doomed.empty() && !write_journal(run, r.name, doomed, why)) {
		emit_error(run, r, "cannot write pending deletions: " + why);
		return undo_dir();
	}

	long long serial = r.last_serial >= 0 ? r.last_serial : r.serial;
	bool ok = true;
	if (!old.dir_exists && !old.created && !pm::mkdir_p(dir)) { // web/simple itself went away
		emit_error(run, r, "cannot create " + dir + ": " + strerror(errno));
		return;
	}
	auto write_page = [&](const char *page, const std::string &text, const std::string *known) {
		std::string path = dir + page;
		auto *base = &run.simple_dir;
		if (!old.dir_exists) return pm::write_file_atomic_over(path, text, nullptr, run.o.sync, &why, nullptr, base);
		if (known) return pm::write_file_atomic_over(path, text, known, run.o.sync, &why, nullptr, base);
		return pm::write_file_atomic(path, text, run.o.sync, &why, nullptr, base);
	};
	if (run.o.html_pages) {
		std::string html = pm::render_project_html(r, serial, run.o.root_uri);
		ok = write_page("/index.html", html, nullptr) && write_page("/index.v1_html", html, nullptr);
	} else if (old.dir_exists) {
		// A variant we no longer write must not be served stale.
		remove_if_present(dir + "/index.html");
		remove_if_present(dir + "/index.v1_html");
	}
	// The JSON page last: it is what the next run reads to find deletions.
	// Its old text, read above, is what the new one is compared with.
	if (ok && run.o.json_pages)
		ok = write_page("/index.v1_json", pm::render_project_json(r, serial, run.o.root_uri),
		                old.have_json ? &old.json : nullptr);
	else if (ok && old.dir_exists)
		remove_if_present(dir + "/index.v1_json");
	if (!ok) {
		emit_error(run, r, "cannot write page: " + why);
		return;
	}
	if (publish && !publish_json(run, r, json_text, why)) {
		emit_error(run, r, "cannot write JSON API copy: " + why);
		return;
	}
	long long deleted = delete_files(run, r, doomed);
	remove_journals(run, r.name, old);
	synced(run, r, serial, deleted);
}

void process_removal(Run &run, const pm::ProjectRecord &r)
{
	pm::ProjectRecord none = r; // lists no files: every old one is a candidate
	none.files.clear();
	auto old = old_files(run, r.name);
	auto doomed = deletion_candidates(none, old.files);
	if (!within_cap(run, r, doomed.size())) return;
	std::string why;
	if (!doomed.empty() && !write_journal(run, r.name, doomed, why)) {
		emit_error(run, r, "cannot write pending deletions: " + why);
		return;
	}
	std::string dir = page_dir(run, r.name);
	for (const char *page : {"/index.html", "/index.v1_html", "/index.v1_json"}) remove_if_present(dir + page);
	if (rmdir(dir.c_str()) != 0 && errno != ENOENT)
		LOG_WARN("cannot remove %s: %s", dir.c_str(), strerror(errno));
	remove_if_present(run.o.m.json_copy(r.name));
	remove_if_present(run.o.m.json_api(r.name));
	rmdir(pm::dirname_of(run.o.m.json_api(r.name)).c_str());
	long long deleted = delete_files(run, r, doomed);
	remove_journals(run, r.name, old);
	LOG_INFO("Removed %s (serial %lld, %lld files deleted)", r.name.c_str(), r.serial, deleted);
	emit_synced(run, r, 0, deleted, true);
	run.changes.add(r.name, r.serial, true);
	run.changed_names.insert(r.name);
}

bool root_files_missing(const Options &o)
{
	if (!pm::file_exists(o.m.root_index("index.v1_json"))) return true;
	return o.html_pages && (!pm::file_exists(o.m.root_index("index.html")) || !pm::file_exists(o.m.root_index("index.v1_html")));
}

// Merges this run's changes into the root index (see index_root.h).
// Writes the root pages into dir (the mirror's web/simple, or scratch space
// that a store's root is staged in): base merged with this run's changes.
bool write_root_in(Run &run, const std::string &dir, const pm::RootList &base, long long meta_serial, bool sync,
                   bool *changed, long long &top)
{
	const Options &o = run.o;
	run.changes.sort_unique();
	top = o.serial >= 0 ? o.serial : std::max({meta_serial, base.max_serial(), run.changes.max_serial(), 0LL});
	pm::RootWriteOptions wo;
	wo.html = o.html_pages;
	wo.json = true; // the JSON root is the list this tool keeps, whatever the page format
	wo.sync = sync;
	std::string why;
	if (!pm::write_root(dir, base, run.changes, top, wo, changed, why)) {
		LOG_ERROR("cannot write the root index: %s", why.c_str());
		return false;
	}
	return true;
}

bool update_root(Run &run)
{
	const Options &o = run.o;
	const std::string &simple = o.m.simple();
	std::string why;
	pm::RootList base;
	long long meta_serial = -1;
	bool scanned = false;
	bool missing = true;
	std::string warning;
	bool loaded = !o.rebuild_root && pm::load_root_json(o.m.root_index(), base, meta_serial, why, &missing, &warning);
	if (!warning.empty()) LOG_WARN("%s", warning.c_str());
	if (!loaded) {
		if (!missing) LOG_WARN("%s; rebuilding the root index from %s", why.c_str(), simple.c_str());
		else if (!o.rebuild_root) LOG_INFO("No root index yet; building it from %s", simple.c_str());
		// This run's projects are in run.changes, which override the scan's
		// entries: their pages (just written) need not be read back.
		if (!pm::scan_simple_dir(simple, base, why, &run.changed_names)) {
			LOG_ERROR("%s", why.c_str());
			return false;
		}
		scanned = true;
		meta_serial = -1;
	}
	bool serial_moved = o.serial >= 0 && o.serial != meta_serial;
	if (run.changes.empty() && !scanned && !serial_moved && !root_files_missing(o)) {
		LOG_DEBUG("Root index unchanged");
		return true;
	}
	bool changed = false;
	long long top = 0;
	if (!write_root_in(run, simple, base, meta_serial, o.sync, &changed, top)) return false;
	if (!o.html_pages) {
		remove_if_present(o.m.root_index("index.html"));
		remove_if_present(o.m.root_index("index.v1_html"));
	}
	if (changed) LOG_INFO("Updated the root index (serial %lld)", top);
	return true;
}

// HEADs in flight at once before a page is stored (a Swift proxy on two
// cores serves some 300 a second at 8 to 16 in flight).
constexpr int kS3Heads = 16;

// The mirror in a bucket (-d s3://BUCKET/PREFIX). The same steps as on a
// filesystem, on objects: the files a page links are looked up (HEAD)
// before the page is stored; the pending-deletions journal is stored before
// the page, the doomed files deleted (multi-object DELETE) after it. A PUT
// replaces an object whole, so a page needs no temporary. Each page goes
// with the Content-Type it is served with (S3Store::content_type).
bool s3_put(Run &run, const std::string &path, const std::string &text, std::string &why)
{
	const pm::S3Store &s = *run.o.s3;
	return run.o.s3->put(s.key(path), text, pm::S3Store::content_type(run.o.m.relative(path)), why);
}

// A page for S3Store::put_all (text must outlive the call).
pm::S3Store::Object s3_object(Run &run, const std::string &path, const std::string &text)
{
	return {run.o.s3->key(path), &text, pm::S3Store::content_type(run.o.m.relative(path))};
}

bool s3_get(Run &run, const std::string &path, std::string &text, bool &found, std::string &why)
{
	return run.o.s3->get(run.o.s3->key(path), text, found, why);
}

bool s3_remove(Run &run, const std::vector<std::string> &paths, std::string &why)
{
	std::vector<std::string> keys;
	for (auto &p : paths) keys.push_back(run.o.s3->key(p));
	return keys.empty() || run.o.s3->remove(keys, why);
}

// old_files() for a bucket: the page's listing (JSON, else HTML), plus the
// pending-deletions and unlisted journals.
bool s3_old_files(Run &run, const std::string &name, OldPages &old, std::string &why)
{
	std::string dir = page_dir(run, name), text;
	bool found;
	// The JSON page and both journals at once; the HTML pages only when
	// there is no JSON page to read.
	const pm::S3Store &s = *run.o.s3;
	std::string journal = journal_path(run, name), unlisted = run.o.m.unlisted_journal(name);
	std::vector<std::string> bodies;
	std::vector<bool> got;
	if (!run.o.s3->get_all({s.key(dir + "/index.v1_json"), s.key(journal), s.key(unlisted)}, bodies, got, why))
		return false;
	old.json = std::move(bodies[0]);
	old.have_json = old.dir_exists = got[0];
	if (!got[0] || !pm::listed_files_json(old.json, old.files, &why)) {
		old.files.clear();
		for (const char *page : {"/index.html", "/index.v1_html"}) {
			if (!s3_get(run, dir + page, text, found, why)) return false;
			old.dir_exists = old.dir_exists || found;
			if (found && pm::listed_files_html(text, old.files)) break;
			old.files.clear();
		}
	}
	why.clear();
	for (int k : {1, 2}) {
		if (!got[k]) continue;
		bool is_unlisted = k == 2;
		if (is_unlisted) old.unlisted = true;
		else run.journals.insert(name);
		auto more = parse_journal(bodies[k], name, s.key(is_unlisted ? unlisted : journal));
		old.files.insert(old.files.end(), more.begin(), more.end());
	}
	return true;
}

// delete_files() for a bucket: each file and its .metadata, in
// multi-object DELETEs. Counted as on a filesystem (one a file).
bool s3_delete_files(Run &run, const pm::ProjectRecord &r, const std::vector<std::string> &paths, long long &n,
                     std::string &why)
{
	n = 0;
	if (!run.o.release_files) return true;
	std::vector<std::string> doomed;
	for (auto &p : paths) {
		if (!pm::valid_package_path(p)) continue;
		LOG_INFO("Deleting file: %s (project %s)", p.c_str(), r.name.c_str());
		doomed.push_back(run.o.m.file(p));
		doomed.push_back(run.o.m.file(p) + ".metadata");
		n++;
	}
	run.deleted_total += n;
	return s3_remove(run, doomed, why);
}

// The journals, once the page lists what it should and the files are gone.
void s3_remove_journals(Run &run, const std::string &name, const OldPages &old, bool had_pending)
{
	std::vector<std::string> paths;
	if (had_pending) paths.push_back(journal_path(run, name));
	if (old.unlisted) paths.push_back(run.o.m.unlisted_journal(name));
	std::string why;
	if (!s3_remove(run, paths, why)) LOG_WARN("%s: %s", name.c_str(), why.c_str());
}

// Stores the pending-deletions journal (before the page that stops linking
// the files).
bool s3_journal(Run &run, const pm::ProjectRecord &r, const std::vector<std::string> &doomed, std::string &why)
{
	std::string text;
	for (auto &p : doomed) text += p + "\n";
	pm::S3Store &s = *run.o.s3;
	if (s.put(s.key(journal_path(run, r.name)), text, "text/plain", why)) return true;
	why = "cannot write pending deletions: " + why;
	return false;
}

void s3_process_project(Run &run, const pm::ProjectRecord &r)
{
	if (!r.resolved) {
		emit_error(run, r, "project record has no file list (not resolved by pkg-resolve)");
		return;
	}
	std::string why;
	// The files the page links are looked up all at once (HEADs in
	// parallel), then judged in the record's order: the first one missing
	// or wrong is the error, as one lookup after another would find it.
	std::vector<std::string> keys;
	std::vector<std::pair<size_t, bool>> which; // (file, companion)
	for (size_t i = 0; run.o.release_files && i < r.files.size(); i++) {
		const auto &f = r.files[i];
		std::string path = run.o.m.file(f.path);
		keys.push_back(run.o.s3->key(path));
		which.emplace_back(i, false);
		if (f.core_metadata.empty()) continue;
		keys.push_back(run.o.s3->key(path + ".metadata"));
		which.emplace_back(i, true);
	}
	std::vector<long long> sizes;
	if (!run.o.s3->head_all(keys, kS3Heads, sizes, why)) {
		// The key names the file; the record wants its filename.
		for (size_t k = 0; k < keys.size(); k++)
			if (why.find(keys[k] + ":") != std::string::npos) {
				const auto &f = r.files[which[k].first];
				return emit_error(run, r, why, which[k].second ? f.filename + ".metadata" : f.filename);
			}
		return emit_error(run, r, why);
	}
	for (size_t k = 0; k < keys.size(); k++) {
		const auto &f = r.files[which[k].first];
		std::string fn = which[k].second ? f.filename + ".metadata" : f.filename;
		if (sizes[k] < 0) return emit_error(run, r, "file missing in the store", fn);
		if (!which[k].second && sizes[k] != f.size)
			return emit_error(run, r,
			                  "object in the store has " + std::to_string(sizes[k]) + " bytes, expected " +
			                      std::to_string(f.size),
			                  fn);
	}
	std::string json_text;
	bool publish = run.o.json && !r.json_file.empty();
	if (publish && !read_json_document(r, json_text, why)) return emit_error(run, r, why);
	OldPages old;
	if (!s3_old_files(run, r.name, old, why)) return emit_error(run, r, why);
	auto doomed = deletion_candidates(r, old.files);
	if (!within_cap(run, r, doomed.size())) return;
	if (!doomed.empty() && !s3_journal(run, r, doomed, why)) return emit_error(run, r, why);

	long long serial = r.last_serial >= 0 ? r.last_serial : r.serial;
	std::string dir = page_dir(run, r.name);
	std::vector<std::string> stale; // variants no longer written
	bool ok = true;
	if (run.o.html_pages) {
		std::string html = pm::render_project_html(r, serial, run.o.root_uri);
		// Both HTML variants at once.
		ok = run.o.s3->put_all({s3_object(run, dir + "/index.html", html), s3_object(run, dir + "/index.v1_html", html)},
		                       why);
	} else if (old.dir_exists) {
		stale = {dir + "/index.html", dir + "/index.v1_html"};
	}
	// The JSON page last, as on a filesystem: the next run reads it.
	if (ok && run.o.json_pages) {
		std::string json = pm::render_project_json(r, serial, run.o.root_uri);
		if (!old.have_json || json != old.json) ok = s3_put(run, dir + "/index.v1_json", json, why);
	} else if (ok && old.dir_exists) {
		stale.push_back(dir + "/index.v1_json");
	}
	if (ok) ok = s3_remove(run, stale, why);
	if (!ok) return emit_error(run, r, "cannot write page: " + why);
	if (publish && !run.o.s3->put_all({s3_object(run, run.o.m.json_copy(r.name), json_text),
	                                   s3_object(run, run.o.m.json_api(r.name), json_text)},
	                                  why))
		return emit_error(run, r, "cannot write JSON API copy: " + why);
	long long deleted = 0;
	if (!s3_delete_files(run, r, doomed, deleted, why)) return emit_error(run, r, why); // the journal stays
	s3_remove_journals(run, r.name, old, !doomed.empty() || may_have_journal(run, r.name));
	synced(run, r, serial, deleted);
}

void s3_process_removal(Run &run, const pm::ProjectRecord &r)
{
	pm::ProjectRecord none = r;
	none.files.clear();
	OldPages old;
	std::string why;
	if (!s3_old_files(run, r.name, old, why)) return emit_error(run, r, why);
	auto doomed = deletion_candidates(none, old.files);
	if (!within_cap(run, r, doomed.size())) return;
	if (!doomed.empty() && !s3_journal(run, r, doomed, why)) return emit_error(run, r, why);
	std::string dir = page_dir(run, r.name);
	if (!s3_remove(run,
	               {dir + "/index.html", dir + "/index.v1_html", dir + "/index.v1_json", run.o.m.json_copy(r.name),
	                run.o.m.json_api(r.name)},
	               why))
		return emit_error(run, r, "cannot delete pages: " + why);
	long long deleted = 0;
	if (!s3_delete_files(run, r, doomed, deleted, why)) return emit_error(run, r, why);
	s3_remove_journals(run, r.name, old, true);
	LOG_INFO("Removed %s (serial %lld, %lld files deleted)", r.name.c_str(), r.serial, deleted);
	emit_synced(run, r, 0, deleted, true);
	run.changes.add(r.name, r.serial, true);
	run.changed_names.insert(r.name);
}

// update_root() for a bucket: the root JSON page is fetched into a scratch
// directory, merged with this run's changes there by the same code as on a
// filesystem, and the root pages stored. A root that is missing starts from
// this run's projects; one that does not parse is an error (rebuilding it
// needs a listing of web/simple/, not done on a bucket yet).
bool s3_update_root(Run &run)
{
	const Options &o = run.o;
	std::string text, why;
	bool found;
	if (!s3_get(run, o.m.root_index(), text, found, why)) {
		LOG_ERROR("%s", why.c_str());
		return false;
	}
	const char *tmp = getenv("TMPDIR");
	std::string scratch = std::string(tmp && *tmp ? tmp : "/tmp") + "/index-write.XXXXXX";
	if (!mkdtemp(scratch.data())) {
		LOG_ERROR("cannot create a scratch directory %s: %s", scratch.c_str(), strerror(errno));
		return false;
	}
	struct Cleanup {
		std::string d;
		~Cleanup()
		{
			std::error_code ec;
			std::filesystem::remove_all(d, ec);
		}
	} cleanup{scratch};
	pm::RootList base;
	long long meta_serial = -1;
	if (found) {
		if (!pm::write_file_atomic(scratch + "/index.v1_json", text, false, &why)) {
			LOG_ERROR("%s", why.c_str());
			return false;
		}
		if (!pm::load_root_json(scratch + "/index.v1_json", base, meta_serial, why)) {
			LOG_ERROR("%s: %s (rebuilding the root index of a bucket is not supported)",
			          o.s3->key(o.m.root_index()).c_str(), why.c_str());
			return false;
		}
	} else {
		LOG_INFO("No root index yet; building it from this run's projects");
	}
	bool serial_moved = o.serial >= 0 && o.serial != meta_serial;
	if (found && run.changes.empty() && !serial_moved) {
		LOG_DEBUG("Root index unchanged");
		return true;
	}
	bool changed = false;
	long long top = 0;
	if (!write_root_in(run, scratch, base, meta_serial, false, &changed, top)) return false;
	// The JSON root last: it is what the next run merges into.
	for (const char *page : {"index.html", "index.v1_html", "index.v1_json"}) {
		if (!o.html_pages && page[6] != 'v') continue;
		if (!o.html_pages && !strcmp(page, "index.v1_html")) continue;
		if (!pm::read_file(scratch + "/" + page, text) || !s3_put(run, o.m.root_index(page), text, why)) {
			LOG_ERROR("cannot store the root index: %s", why.empty() ? strerror(errno) : why.c_str());
			return false;
		}
	}
	if (!o.html_pages && !s3_remove(run, {o.m.root_index("index.html"), o.m.root_index("index.v1_html")}, why))
		LOG_WARN("%s", why.c_str());
	LOG_INFO("Updated the root index (serial %lld)", top);
	return true;
}

// The one pass over the records, whichever the storage: each record's pages
// (the counts artifact-get put in it travel on to the synced record), then
// the root.
using RecordStep = void (*)(Run &, const pm::ProjectRecord &);
int sync_records(Run &run, RecordStep project, RecordStep removal, bool (*root)(Run &))
{
	run.loop.run([&](pm::ProjectRecord &r, rapidjson::Document &doc) {
		run.files_fetched = std::max(0LL, pm::get_int(doc, "files_fetched", 0));
		run.bytes_fetched = std::max(0LL, pm::get_int(doc, "bytes_fetched", 0));
		(r.type == "project" ? project : removal)(run, r);
	});
	if (!run.o.no_root && !root(run)) run.loop.mark_failed();
	return run.loop.finish();
}

int run_s3(Run &run)
{
	std::string why;
	if (!run.o.s3->check(why)) {
		LOG_TOOL_ERROR("%s: %s", run.o.dir.c_str(), why.c_str());
		return pm::kExitFatal;
	}
	run.o.m = pm::Layout(run.o.dir);
	run.loop.on_output_failure(pm::RecordLoop::OutputFailure::Continue);
	return sync_records(run, s3_process_project, s3_process_removal, s3_update_root);
}

} // namespace

int main(int argc, char **argv)
{
	pm::log_set_prog(kProg);
	Run run;
	Options &o = run.o;
	enum { kRootUri = 256, kJson, kFormat, kMaxDel, kSerial, kNoRoot, kRebuild, kNoReleaseFiles };
	static const struct option longopts[] = {
	    PM_DIRECTORY_LONGOPT,
	    PM_CONFIG_LONGOPT,
	    {"root-uri", required_argument, nullptr, kRootUri},
	    {"no-release-files", no_argument, nullptr, kNoReleaseFiles},
	    {"json", no_argument, nullptr, kJson},
	    {"simple-format", required_argument, nullptr, kFormat},
	    {"max-deletions", required_argument, nullptr, kMaxDel},
	    PM_FSYNC_LONGOPT,
	    {"serial", required_argument, nullptr, kSerial},
	    {"no-root", no_argument, nullptr, kNoRoot},
	    {"rebuild-root", no_argument, nullptr, kRebuild},
	    PM_COMMON_LONGOPTS,
	    {nullptr, 0, nullptr, 0},
	};
	pm::MirrorOptions mo;
	int c;
	while ((c = getopt_long(argc, argv, "d:" PM_COMMON_SHORTOPTS, longopts, nullptr)) != -1) {
		if (pm::common_option(c, kProg, kUsage)) continue;
		if (mo.option(c, kProg, optarg)) continue;
		switch (c) {
		case kRootUri: o.root_uri = optarg; break;
		case kNoReleaseFiles: o.release_files = false; break;
		case kJson: o.json = true; break;
		case kFormat:
			if (!strcasecmp(optarg, "all")) {
				o.html_pages = o.json_pages = true;
			} else if (!strcasecmp(optarg, "html")) {
				o.html_pages = true;
				o.json_pages = false;
			} else if (!strcasecmp(optarg, "json")) {
				o.html_pages = false;
				o.json_pages = true;
			} else {
				pm::usage_error(kProg, "--simple-format wants html, json or all, not '%s'", optarg);
			}
			break;
		case kMaxDel: o.max_deletions = pm::parse_count(kProg, "--max-deletions", optarg); break;
		case kSerial: o.serial = pm::parse_count(kProg, "--serial", optarg); break;
		case kNoRoot: o.no_root = true; break;
		case kRebuild: o.rebuild_root = true; break;
		default: return pm::kExitUsage;
		}
	}
	pm::no_operands(kProg, argc, argv);
	o.s3 = pm::s3_store_from_options(kProg, mo);
	o.dir = mo.dir;
	o.sync = mo.fsync;
	if (o.s3 && o.rebuild_root) pm::usage_error(kProg, "--rebuild-root is not supported on s3:// yet");
	if (!o.root_uri.empty() && o.root_uri.find_first_of("\"<>'` \t\r\n") != std::string::npos) {
		pm::usage_error(kProg, "--root-uri '%s' contains characters a URL cannot", o.root_uri.c_str());
	}
	if (!o.release_files && o.root_uri.empty()) {
		pm::usage_error(kProg, "--no-release-files needs --root-uri (where the files are)");
	}
	if (o.s3) return run_s3(run);
	struct stat st;
	if (stat(o.dir.c_str(), &st) != 0) {
		LOG_ERROR("mirror directory %s: %s", o.dir.c_str(), strerror(errno));
		return pm::kExitFatal;
	}
	if (!S_ISDIR(st.st_mode)) {
		LOG_ERROR("mirror directory %s: not a directory", o.dir.c_str());
		return pm::kExitFatal;
	}
	o.m = pm::Layout(o.dir);
	if (!pm::mkdir_p(o.m.simple())) {
		LOG_ERROR("cannot create %s: %s", o.m.simple().c_str(), strerror(errno));
		return pm::kExitFatal;
	}
	// Should either fail to open, paths are looked up the usual way.
	// The pages are what counts: a full disk under the wrapper's copy of
	// this output must not stop them (see RecordLoop::OutputFailure).
	run.loop.on_output_failure(pm::RecordLoop::OutputFailure::Continue);
	run.web_dir.open(o.m.web());
	run.simple_dir.open(o.m.simple());

	complete_journals(run);

	return sync_records(run, process_project, process_removal, update_root);
}
