// index-write: the last stage of the pipeline. Turns resolved project
// records into the Simple API pages of the mirror (PEP 503/691 HTML and
// JSON), deletes the files upstream no longer lists, applies removals, and
// rebuilds the root index once at the end of the run.
//
// A page is written only when every file it links to is on disk, so a
// client never sees a link the mirror cannot serve.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <functional>
#include <getopt.h>
#include <memory>
#include <strings.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>
#include <vector>

#include "cli.h"
#include "fsutil.h"
#include "hash.h"
#include "index_root.h"
#include "layout.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "record.h"
#include "record_loop.h"
#include "s3_store.h"
#include "simple_page.h"

namespace {

const char *kProg = "index-write";

struct Options {
	std::string dir, root_uri;
	std::string local; // --local-dir: spooled JSON documents under it are ours to consume
	pm::Layout m{""}; // where things are in dir
	bool json = false, html_pages = true, json_pages = true, sync = false, no_root = false, rebuild_root = false;
	bool release_files = true; // false: index-only mirror (bandersnatch's release-files = false)
	long long max_deletions = 10000, serial = -1;
	int jobs = 8; // s3: projects in flight (-j)
	std::unique_ptr<pm::S3Store> s3; // the mirror is in an S3 bucket (see "The mirror in a bucket")
};

struct Run {
	Options o;
	pm::RecordLoop loop{kProg, {"project", "removal"}};
	pm::RootList changes; // this run's synced projects, for the root index
	// What artifact-get downloaded for the record being written (its
	// files_fetched, bytes_fetched), passed on in the synced record.
	long long files_fetched = 0, bytes_fetched = 0;
	// The record's stored_at (artifact-get: every file of it is in that
	// web/ directory), and web/'s own identity in the same form.
	std::string stored_at, web_id;
	// The record's journal_new (artifact-get made the project's unlisted
	// journal in this pass: it lists only the record's files).
	bool journal_new = false;
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
OldPages old_files(Run &run, const std::string &name, bool make_dir = false, bool unlisted_known = false)
{
	auto old = old_pages(run, name, make_dir);
	if (may_have_journal(run, name))
		for (auto &f : read_journal(run, name, journal_path(run, name))) old.files.push_back(f);
	if (unlisted_known) { // it lists only files the record lists: none is a candidate
		old.unlisted = true; // removed with the others
		return old;
	}
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

// Whether path's directory is inside directory top (symbolic links and
// ".." resolved).
bool inside(const std::string &top, const std::string &path)
{
	char *d = realpath(pm::dirname_of(path).c_str(), nullptr);
	char *m = top.empty() ? nullptr : realpath(top.c_str(), nullptr);
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

// Whether a record's spooled document is ours to consume (move or delete):
// it lies inside the mirror directory or the run's local scratch space
// (--local-dir), where pypi-mirror(1) has pkg-resolve spool. A record
// naming a file elsewhere must not make us move or delete it. (A bucket's
// s3:// location is no local directory: never inside.)
bool consumable(const Run &run, const std::string &path)
{
	return inside(run.o.dir, path) || inside(run.o.local, path);
}

bool publish_json(Run &run, const pm::ProjectRecord &r, const std::string &text, std::string &why)
{
	std::string dest = run.o.m.json_copy(r.name), old;
	// The spooled document is consumed (moved into place, or deleted when
	// unchanged) only when it is ours (consumable); else it is copied.
	bool consume = consumable(run, r.json_file);
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
}

void process_project(Run &run, const pm::ProjectRecord &r)
{
	if (!r.resolved) {
		emit_error(run, r, "project record has no file list (not resolved by pkg-resolve)");
		return;
	}
	// Every file (and its PEP 658 metadata) must be on disk, at its size.
	// Unless artifact-get, just before in this pipe, found each of them
	// current in or stored each into this same web/ (the record's
	// stored_at names it by device and inode, and artifact-get strips the
	// field from its input, so an older pass's does not carry over): then
	// a stat per file says again what it verified a moment ago, at one
	// system call a file. Records from anywhere else (index-write on its
	// own, page rebuilds, a pipe without artifact-get, a different
	// directory) carry no matching stored_at and are checked here.
	bool landed = !run.web_id.empty() && run.stored_at == run.web_id;
	// Where artifact-get vouches for the files, it may for the unlisted
	// journal too (journal_new): then it is not read back.
	bool unlisted_known = landed && run.journal_new;
	for (auto &f : r.files) {
		if (!run.o.release_files || landed) break; // index-only: the files live upstream
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
	auto old = old_files(run, r.name, true, unlisted_known);
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
		// The two HTML pages are the same text: in a new directory, one file
		// under both names (each replaced on its own by a later run).
		if (!old.dir_exists)
			ok = pm::write_new_file_twice(dir + "/index.html", dir + "/index.v1_html", html, run.o.sync, &why,
			                              &run.simple_dir);
		else
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
		// entries: their pages (just written) need not be read back. Their
		// names are gathered only now (a rebuild is rare, the run's changes
		// many).
		std::unordered_set<std::string> changed;
		changed.reserve(run.changes.size());
		for (size_t i = 0; i < run.changes.size(); i++) changed.insert(pm::normalize_name(run.changes.display(i)));
		if (!pm::scan_simple_dir(simple, base, why, &changed)) {
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

// HEADs in flight at once for one project's files (a Swift proxy on two
// cores serves some 300 a second at 8 to 16 in flight).
constexpr size_t kS3Heads = 16;

// The user metadata a project's JSON page is stored with on a bucket: the
// sha256 of the HTML pages stored just before it (x-amz-meta-html-sha256).
// The JSON page goes last, so it vouches for them: a run that finds the JSON
// page as it would write it, saying the HTML it would write, stores nothing.
constexpr const char *kHtmlShaMeta = "html-sha256";

// The mirror in a bucket (-d s3://BUCKET/PREFIX). The same steps as on a
// filesystem, on objects: the files a page links are looked up (HEAD)
// before the page is stored; the pending-deletions journal is stored before
// the page, the doomed files deleted (multi-object DELETE) after it. A PUT
// replaces an object whole, so a page needs no temporary. Each page goes
// with the Content-Type it is served with (S3Store::content_type).
// A record being written to the bucket, with what its steps found.
struct S3Job {
	pm::ProjectRecord r;
	bool removal = false;
	bool finished = false;
	bool files_known = false; // artifact-get vouches for its files (stored_at)
	// ... and says the project's unlisted journal is this pass's own
	// (journal_new: it lists only the record's files, so it is not read)
	// or, more, that the store held no page and no unlisted journal of it
	// (new_to_store): there is no old page to read either.
	bool journal_new = false, new_to_store = false;
	// ... and, for a project new to the store, the unlisted batch that
	// holds its journal (journal_batch) and how many projects it holds:
	// removed once every one of them is out (see batch_done).
	std::string batch;
	long long batch_projects = 0;
	long long files_fetched = 0, bytes_fetched = 0; // artifact-get's counts, for the synced record
	// The file lookups: keys, which file (and whether its companion) each
	// is, the sizes found (-1: missing); the first lookup that failed.
	std::vector<std::string> keys;
	std::vector<std::pair<size_t, bool>> which;
	std::vector<long long> sizes;
	size_t heads_added = 0, heads_done = 0, head_failed = SIZE_MAX;
	std::string head_error;
	std::string json_text; // the JSON API document (--json)
	bool page_same = false; // the JSON page is as stored: so is, most likely, the JSON API document
	// What the stored JSON page says of the HTML pages stored before it
	// (kHtmlShaMeta): the sha256 of their text, empty when it says nothing.
	std::string old_html_sha;
	std::string json_page; // its text, once rendered
	OldPages old;
	std::vector<std::string> doomed;
	long long reserved = 0; // deletions counted against --max-deletions
	long long serial = 0, deleted = 0;
	std::vector<std::string> stale; // page variants no longer written
};
using S3JobPtr = std::shared_ptr<S3Job>;

// Writes the records to a bucket with several projects in flight (-j): the
// requests of the next project go out while those of the ones before are
// under way, all on one libcurl multi handle. Each project keeps its own
// order (files looked up, journal, pages, JSON page last, deletions, journals
// removed); what differs from one project after another is only the order of
// the synced records, which say which project landed, not when. A name is
// never in flight twice (a second record for it waits for the first), and
// the root is stored only once every project has finished. At most -j
// records are held, so memory stays flat.
class S3Writer {
public:
	explicit S3Writer(Run &run) : run_(run), cfg_(run.o.s3->config()), mark_(run.o.s3->stored_at()) {}
	void write_all()
	{
		// The pending-deletions journals, listed once: only this process
		// writes them (the wrapper holds the lock), so a project the
		// listing does not show, and this run wrote none for, has none to
		// read. A few pages at most (there are only as many as deletions
		// an interrupted run left); past them, each project asks.
		pending_.load(*run_.o.s3, journal_dir(run_), false);
		LOG_DEBUG("Store listing: %lld pending-deletions journals (%d listing pages%s)", pending_.names(),
		          pending_.pages(), pending_.complete() ? "" : ", more not listed");
		http_.run(2 * run_.o.jobs, [this] { return feed(); });
		expand_batches();
	}
	// The keys of the unlisted journals still to remove once every project
	// has finished (they go with the root's pages: see s3_update_root).
	std::vector<std::string> unlisted_keys() const
	{
		std::vector<std::string> keys;
		for (auto &n : unlisted_done_) keys.push_back(key(run_.o.m.unlisted_journal(n)));
		return keys;
	}

private:
	using Responses = std::vector<pm::Response>;
	bool feed();
	void start(const S3JobPtr &j);
	void heads(const S3JobPtr &j);
	void judge_files(const S3JobPtr &j);
	void read_old(const S3JobPtr &j);
	void add_journal(const S3JobPtr &j, const pm::Response &got, bool unlisted);
	void plan(const S3JobPtr &j);
	void write_pages(const S3JobPtr &j);
	void write_json_page(const S3JobPtr &j, const std::string &html_sha);
	bool json_page_same(const S3JobPtr &j, const std::string &html_sha);
	void remove_stale(const S3JobPtr &j);
	void publish(const S3JobPtr &j);
	void remove_pages(const S3JobPtr &j);
	void delete_files(const S3JobPtr &j);
	void remove_journals(const S3JobPtr &j);
	void fail(const S3JobPtr &j, const std::string &reason, const std::string &file = "");
	void done(const S3JobPtr &j);
	void flush_unlisted();
	void unlisted_done(const std::string &name);
	void take_batch(S3Job &j, const rapidjson::Document &doc);
	void batch_done(const S3Job &j);
	void expand_batches();

	// Runs reqs at once; then(responses, in reqs' order) once all ended.
	void all(std::vector<pm::Request> reqs, std::function<void(Responses &)> then);
	// Multi-object DELETEs of keys (1000 a request); then(why), why empty
	// when every key is gone.
	void remove(const std::vector<std::string> &keys, std::function<void(const std::string &)> then);
	// A PUT of text under path; sha: its sha256 when the object should
	// carry it in its user metadata (the JSON API copies); meta: more of it.
	pm::Request put(const std::string &path, const std::string &text, const char *type = nullptr,
	                const std::string &sha = "", std::vector<std::pair<std::string, std::string>> meta = {}) const;
	pm::Request get(const std::string &path) const { return pm::s3_get(cfg_, key(path)); }
	std::string key(const std::string &path) const { return run_.o.s3->key(path); }
	// The first failure among responses (a 404 is none): "cannot VERB KEY: ...".
	static std::string first_error(const Responses &rs, const std::vector<std::string> &keys, const char *verb);

	Run &run_;
	const pm::S3Config &cfg_;
	const std::string mark_; // stored_at of a record artifact-get wrote into this store
	pm::Http http_;
	std::unordered_set<std::string> busy_; // names in flight
	S3JobPtr held_;                        // the next record, waiting for its name or a slot
	int in_flight_ = 0;
	pm::S3Listing pending_; // which projects may have a pending-deletions journal
	// Projects whose page is out and whose unlisted journal is to go: their
	// journals are removed together, up to 1000 in one multi-object DELETE
	// (see remove_journals).
	std::vector<std::string> unlisted_done_;
	// The unlisted batches (S3Store::new_unlisted_batch) some project of
	// which is out, and which: one batch holds at most kMaxBatchProjects,
	// and a complete one leaves the map.
	struct Batch {
		long long projects = 0;
		std::vector<std::string> out;
	};
	std::unordered_map<std::string, Batch> batches_;
};

void S3Writer::all(std::vector<pm::Request> reqs, std::function<void(Responses &)> then)
{
	if (reqs.empty()) {
		Responses none;
		then(none);
		return;
	}
	struct Group {
		Responses rs;
		size_t left;
		std::function<void(Responses &)> then;
	};
	auto g = std::make_shared<Group>();
	g->rs.resize(reqs.size());
	g->left = reqs.size();
	g->then = std::move(then);
	for (size_t i = 0; i < reqs.size(); i++)
		http_.add(std::move(reqs[i]), [g, i](pm::Request &, pm::Response &r) {
			g->rs[i] = std::move(r);
			if (--g->left == 0) g->then(g->rs);
		});
}

std::string S3Writer::first_error(const Responses &rs, const std::vector<std::string> &keys, const char *verb)
{
	for (size_t i = 0; i < rs.size(); i++)
		if (!rs[i].ok() && rs[i].status != 404)
			return std::string("cannot ") + verb + " " + keys[i] + ": " + pm::s3_describe(rs[i]);
	return "";
}

pm::Request S3Writer::put(const std::string &path, const std::string &text, const char *type, const std::string &sha,
                          std::vector<std::pair<std::string, std::string>> meta) const
{
	pm::S3Put p;
	p.key = key(path);
	p.content_type = type ? type : pm::S3Store::content_type(run_.o.m.relative(path));
	p.sha256 = sha.empty() ? pm::sha256_hex(text) : sha;
	p.meta = std::move(meta);
	if (!sha.empty()) p.meta.emplace_back("sha256", sha);
	pm::Request r = pm::s3_put(cfg_, p);
	r.body = text;
	return r;
}

void S3Writer::remove(const std::vector<std::string> &keys, std::function<void(const std::string &)> then)
{
	all(pm::s3_delete_batches(cfg_, keys),
	    [n = keys.size(), then = std::move(then)](Responses &rs) { then(pm::s3_delete_outcome(rs, n)); });
}

// Called by Http::run when a transfer slot is free: takes records up to -j
// in flight. Returns true having added nothing when it waits for a slot or
// for the record of the same name before it (there is always a request of
// one of those under way).
bool S3Writer::feed()
{
	for (;;) {
		if (!held_) {
			if (in_flight_ >= run_.o.jobs) return true;
			if (!run_.loop.ready_for(http_)) return true; // the requests go on until input comes
			if (!run_.loop.next()) return false;
			auto j = std::make_shared<S3Job>();
			rapidjson::Document &doc = run_.loop.doc();
			j->r = run_.loop.record();
			j->removal = j->r.type != "project";
			j->files_fetched = std::max(0LL, pm::get_int(doc, "files_fetched", 0));
			j->bytes_fetched = std::max(0LL, pm::get_int(doc, "bytes_fetched", 0));
			// artifact-get found or stored every file of it in this store
			// just before passing it on (pypi-mirror-records(7)): its
			// answer stands for the lookups.
			j->files_known = !mark_.empty() && pm::get_string(doc, "stored_at") == mark_;
			j->new_to_store = j->files_known && pm::get_bool(doc, "new_to_store", false);
			j->journal_new = j->new_to_store || (j->files_known && pm::get_bool(doc, "journal_new", false));
			if (j->new_to_store) take_batch(*j, doc);
			held_ = std::move(j);
		}
		if (in_flight_ >= run_.o.jobs || busy_.count(held_->r.name)) return true;
		S3JobPtr j = std::move(held_);
		held_.reset();
		// A later record of a project whose journal waits for removal: it
		// reads the journal (artifact-get may have added to it) and removes
		// it itself, after its own page.
		auto w = std::find(unlisted_done_.begin(), unlisted_done_.end(), j->r.name);
		if (w != unlisted_done_.end()) unlisted_done_.erase(w);
		busy_.insert(j->r.name);
		in_flight_++;
		start(j);
		if (!j->finished) return true; // its requests are under way
	}
}

void S3Writer::done(const S3JobPtr &j)
{
	j->finished = true;
	busy_.erase(j->r.name);
	in_flight_--;
}

void S3Writer::fail(const S3JobPtr &j, const std::string &reason, const std::string &file)
{
	run_.deleted_total -= j->reserved; // none of them happened
	j->reserved = 0;
	emit_error(run_, j->r, reason, file);
	done(j);
}

void S3Writer::start(const S3JobPtr &j)
{
	if (j->removal) return read_old(j);
	const pm::ProjectRecord &r = j->r;
	if (!r.resolved) return fail(j, "project record has no file list (not resolved by pkg-resolve)");
	// The files the page links are looked up (HEADs, up to kS3Heads at
	// once), then judged in the record's order: the first one missing or
	// wrong is the error, as one lookup after another would find it.
	for (size_t i = 0; !j->files_known && run_.o.release_files && i < r.files.size(); i++) {
		const auto &f = r.files[i];
		std::string path = run_.o.m.file(f.path);
		j->keys.push_back(key(path));
		j->which.emplace_back(i, false);
		if (f.core_metadata.empty()) continue;
		j->keys.push_back(key(path + ".metadata"));
		j->which.emplace_back(i, true);
	}
	j->sizes.assign(j->keys.size(), -1);
	if (j->keys.empty()) return judge_files(j);
	heads(j);
}

void S3Writer::heads(const S3JobPtr &j)
{
	while (j->heads_added < j->keys.size() && j->heads_added - j->heads_done < kS3Heads && j->head_failed == SIZE_MAX) {
		size_t k = j->heads_added++;
		http_.add(pm::s3_head(cfg_, j->keys[k]), [this, j, k](pm::Request &, pm::Response &r) {
			j->heads_done++;
			if (r.ok()) {
				j->sizes[k] = strtoll(r.header("content-length").c_str(), nullptr, 10);
			} else if (r.status != 404 && k < j->head_failed) {
				j->head_failed = k;
				j->head_error = "cannot look up " + j->keys[k] + ": " + pm::s3_describe(r);
			}
			if (j->heads_done < j->heads_added) return heads(j);
			if (j->heads_added == j->keys.size() || j->head_failed != SIZE_MAX) return judge_files(j);
			heads(j);
		});
	}
}

void S3Writer::judge_files(const S3JobPtr &j)
{
	const pm::ProjectRecord &r = j->r;
	if (j->head_failed != SIZE_MAX) {
		const auto &f = r.files[j->which[j->head_failed].first];
		return fail(j, j->head_error, j->which[j->head_failed].second ? f.filename + ".metadata" : f.filename);
	}
	for (size_t k = 0; k < j->keys.size(); k++) {
		const auto &f = r.files[j->which[k].first];
		std::string fn = j->which[k].second ? f.filename + ".metadata" : f.filename;
		if (j->sizes[k] < 0) return fail(j, "file missing in the store", fn);
		if (!j->which[k].second && j->sizes[k] != f.size)
			return fail(j,
			            "object in the store has " + std::to_string(j->sizes[k]) + " bytes, expected " +
			                std::to_string(f.size),
			            fn);
	}
	std::string why;
	if (run_.o.json && !r.json_file.empty() && !read_json_document(r, j->json_text, why)) return fail(j, why);
	read_old(j);
}

// old_files() for a bucket: the page's listing (JSON, else HTML), plus the
// pending-deletions and unlisted journals. The JSON page and the journals
// at once; the HTML pages only when there is no JSON page to read. What is
// known to be absent is not asked for: the pending-deletions journal of a
// project the listing at start-up did not show, and for a project new to
// the store (new_to_store: artifact-get found no page and no unlisted
// journal of it) its pages, and for one whose unlisted journal this pass
// made (journal_new, which new_to_store implies: it lists only the
// record's files, which the new page links) that journal, which is then
// removed once the page is out.
void S3Writer::read_old(const S3JobPtr &j)
{
	const std::string &name = j->r.name;
	std::string dir = page_dir(run_, name);
	bool fresh = j->new_to_store && !j->removal;
	bool own_journal = j->journal_new && !j->removal;
	std::vector<std::string> paths;
	int json = -1, pending = -1, unlisted = -1;
	if (!fresh) {
		json = static_cast<int>(paths.size());
		paths.push_back(dir + "/index.v1_json");
	}
	if (pending_.maybe(name)) {
		pending = static_cast<int>(paths.size());
		paths.push_back(journal_path(run_, name));
	}
	if (!own_journal) {
		unlisted = static_cast<int>(paths.size());
		paths.push_back(run_.o.m.unlisted_journal(name));
	}
	std::vector<pm::Request> reqs;
	for (auto &p : paths) reqs.push_back(get(p));
	all(std::move(reqs), [this, j, paths, json, pending, unlisted, own_journal, fresh](Responses &rs) {
		std::vector<std::string> keys;
		for (auto &p : paths) keys.push_back(key(p));
		std::string why = first_error(rs, keys, "read");
		if (!why.empty()) return fail(j, why);
		OldPages &old = j->old;
		auto journals = [this, j, pending, unlisted, own_journal](const Responses &rs) {
			if (pending >= 0) add_journal(j, rs[static_cast<size_t>(pending)], false);
			if (unlisted >= 0) add_journal(j, rs[static_cast<size_t>(unlisted)], true);
			// artifact-get wrote it: removed after the page (a batch: once
			// all its projects are out).
			if (own_journal && j->batch.empty()) j->old.unlisted = true;
			plan(j);
		};
		if (fresh) return journals(rs);
		old.have_json = old.dir_exists = rs[static_cast<size_t>(json)].ok();
		if (old.have_json) j->old_html_sha = rs[static_cast<size_t>(json)].header("x-amz-meta-" + std::string(kHtmlShaMeta));
		if (old.have_json) old.json = std::move(rs[static_cast<size_t>(json)].body);
		if (old.have_json && pm::listed_files_json(old.json, old.files, &why)) return journals(rs);
		old.files.clear();
		// Both HTML pages at once (a project new to the mirror has neither).
		auto held = std::make_shared<Responses>(std::move(rs));
		std::string d = page_dir(run_, j->r.name);
		all({get(d + "/index.html"), get(d + "/index.v1_html")}, [this, j, d, held, journals](Responses &html) {
			std::string why = first_error(html, {key(d + "/index.html"), key(d + "/index.v1_html")}, "read");
			if (!why.empty()) return fail(j, why);
			OldPages &old = j->old;
			for (auto &h : html) {
				if (!h.ok()) continue;
				old.dir_exists = true;
				if (pm::listed_files_html(h.body, old.files)) break;
				old.files.clear();
			}
			journals(*held);
		});
	});
}

// A journal the store answered with: its paths join the old files.
void S3Writer::add_journal(const S3JobPtr &j, const pm::Response &got, bool unlisted)
{
	if (!got.ok()) return;
	const std::string &name = j->r.name;
	if (unlisted) j->old.unlisted = true;
	else run_.journals.insert(name);
	auto more = parse_journal(got.body, name, key(unlisted ? run_.o.m.unlisted_journal(name) : journal_path(run_, name)));
	j->old.files.insert(j->old.files.end(), more.begin(), more.end());
}

// The deletions the new page permits, counted against --max-deletions as
// soon as they are known (several projects in flight never pass the cap
// together), and their journal stored before any page.
void S3Writer::plan(const S3JobPtr &j)
{
	pm::ProjectRecord none = j->r; // a removal lists no files: every old one is a candidate
	none.files.clear();
	j->doomed = deletion_candidates(j->removal ? none : j->r, j->old.files);
	if (!within_cap(run_, j->r, j->doomed.size())) return done(j);
	j->reserved = static_cast<long long>(j->doomed.size());
	run_.deleted_total += j->reserved;
	auto next = [this, j] { j->removal ? remove_pages(j) : write_pages(j); };
	if (j->doomed.empty()) return next();
	std::string text;
	for (auto &p : j->doomed) text += p + "\n";
	std::string path = journal_path(run_, j->r.name);
	pending_.add(j->r.name); // before: a failed write may leave one
	all({put(path, text, "text/plain")}, [this, j, next, path](Responses &rs) {
		if (!rs[0].ok())
			return fail(j, "cannot write pending deletions: cannot write " + key(path) + ": " + pm::s3_describe(rs[0]));
		next();
	});
}

void S3Writer::write_pages(const S3JobPtr &j)
{
	const pm::ProjectRecord &r = j->r;
	j->serial = r.last_serial >= 0 ? r.last_serial : r.serial;
	std::string dir = page_dir(run_, r.name);
	if (!run_.o.html_pages) {
		if (j->old.dir_exists) j->stale = {dir + "/index.html", dir + "/index.v1_html"};
		return write_json_page(j, "");
	}
	std::string html = pm::render_project_html(r, j->serial, run_.o.root_uri);
	std::string html_sha = run_.o.json_pages ? pm::sha256_hex(html) : ""; // only a JSON page says it
	// The JSON page is stored last, after the HTML pages, and says which
	// HTML it came after: when it is as stored and says this HTML, every
	// page is, and none is stored again (an idle run writes nothing).
	if (run_.o.json_pages && json_page_same(j, html_sha)) return remove_stale(j);
	// Both HTML variants at once.
	all({put(dir + "/index.html", html), put(dir + "/index.v1_html", html)}, [this, j, dir, html_sha](Responses &rs) {
		std::string why = first_error(rs, {key(dir + "/index.html"), key(dir + "/index.v1_html")}, "write");
		if (!why.empty()) return fail(j, "cannot write page: " + why);
		write_json_page(j, html_sha);
	});
}

// Whether the project's JSON page is as stored, saying html_sha of the HTML
// pages (its text is kept on the job for the PUT that may follow).
bool S3Writer::json_page_same(const S3JobPtr &j, const std::string &html_sha)
{
	if (j->json_page.empty()) j->json_page = pm::render_project_json(j->r, j->serial, run_.o.root_uri);
	j->page_same = j->old.have_json && j->json_page == j->old.json && j->old_html_sha == html_sha;
	return j->page_same;
}

// The JSON page last, as on a filesystem: the next run reads it.
void S3Writer::write_json_page(const S3JobPtr &j, const std::string &html_sha)
{
	std::string path = page_dir(run_, j->r.name) + "/index.v1_json";
	if (!run_.o.json_pages) {
		if (j->old.dir_exists) j->stale.push_back(path);
		return remove_stale(j);
	}
	if (json_page_same(j, html_sha)) return remove_stale(j);
	std::vector<std::pair<std::string, std::string>> meta;
	if (!html_sha.empty()) meta.emplace_back(kHtmlShaMeta, html_sha);
	all({put(path, j->json_page, nullptr, "", meta)}, [this, j, path](Responses &rs) {
		if (!rs[0].ok()) return fail(j, "cannot write page: cannot write " + key(path) + ": " + pm::s3_describe(rs[0]));
		remove_stale(j);
	});
}

void S3Writer::remove_stale(const S3JobPtr &j)
{
	if (j->stale.empty()) return publish(j);
	std::vector<std::string> keys;
	for (auto &p : j->stale) keys.push_back(key(p));
	remove(keys, [this, j](const std::string &why) {
		if (!why.empty()) return fail(j, "cannot write page: " + why);
		publish(j);
	});
}

// publish_json() for a bucket: both copies, application/json, each with
// the document's sha256 in its user metadata. A page that did not change
// means a project upstream did not change either (its serial is on the
// page): a full pass or a retry brings such projects by the thousand, so
// their copies are looked up (HEAD) and stored only when they differ. A
// changed page comes with a changed document (a new serial): stored
// without asking. The spooled document is consumed once both copies hold
// it.
void S3Writer::publish(const S3JobPtr &j)
{
	if (!run_.o.json || j->r.json_file.empty()) return delete_files(j);
	const std::string &name = j->r.name;
	std::vector<std::string> paths = {run_.o.m.json_copy(name), run_.o.m.json_api(name)};
	std::string sha = pm::sha256_hex(j->json_text);
	auto store = [this, j, paths, sha](std::vector<bool> held) {
		std::vector<pm::Request> reqs;
		std::vector<std::string> keys;
		for (size_t i = 0; i < paths.size(); i++) {
			if (held[i]) continue;
			reqs.push_back(put(paths[i], j->json_text, nullptr, sha));
			keys.push_back(key(paths[i]));
		}
		if (reqs.empty()) LOG_DEBUG("%s: JSON API copies unchanged", j->r.name.c_str());
		all(std::move(reqs), [this, j, keys](Responses &rs) {
			std::string why = first_error(rs, keys, "write");
			if (!why.empty()) return fail(j, "cannot write JSON API copy: " + why);
			j->json_text.clear();
			if (consumable(run_, j->r.json_file)) pm::remove_file(j->r.json_file);
			delete_files(j);
		});
	};
	if (!j->page_same) return store({false, false});
	all({pm::s3_head(cfg_, key(paths[0])), pm::s3_head(cfg_, key(paths[1]))}, [this, j, paths, sha, store](Responses &rs) {
		std::string why = first_error(rs, {key(paths[0]), key(paths[1])}, "look up");
		if (!why.empty()) return fail(j, "cannot write JSON API copy: " + why);
		auto held = [&](const pm::Response &r) { return r.ok() && r.header("x-amz-meta-sha256") == sha; };
		store({held(rs[0]), held(rs[1])});
	});
}

void S3Writer::remove_pages(const S3JobPtr &j)
{
	const std::string &name = j->r.name;
	std::string dir = page_dir(run_, name);
	std::vector<std::string> keys;
	for (auto &p : {dir + "/index.html", dir + "/index.v1_html", dir + "/index.v1_json", run_.o.m.json_copy(name),
	                run_.o.m.json_api(name)})
		keys.push_back(key(p));
	remove(keys, [this, j](const std::string &why) {
		if (!why.empty()) return fail(j, "cannot delete pages: " + why);
		delete_files(j);
	});
}

// delete_files() for a bucket: each file and its .metadata, in
// multi-object DELETEs, after the page that stopped linking them. Counted
// as on a filesystem (one a file). On a failure the journal stays for the
// next run.
void S3Writer::delete_files(const S3JobPtr &j)
{
	std::vector<std::string> keys;
	for (auto &p : j->doomed) {
		if (!run_.o.release_files || !pm::valid_package_path(p)) continue;
		LOG_INFO("Deleting file: %s (project %s)", p.c_str(), j->r.name.c_str());
		keys.push_back(key(run_.o.m.file(p)));
		keys.push_back(key(run_.o.m.file(p) + ".metadata"));
		j->deleted++;
	}
	// What the cap counted and did not happen (paths of the wrong shape, an
	// index-only mirror) is given back.
	run_.deleted_total -= j->reserved - j->deleted;
	j->reserved = 0;
	if (keys.empty()) return remove_journals(j);
	remove(keys, [this, j](const std::string &why) {
		if (!why.empty()) {
			emit_error(run_, j->r, why);
			return done(j);
		}
		remove_journals(j);
	});
}

// The journals, once the page lists what it should and the files are gone;
// then the project has landed.
void S3Writer::remove_journals(const S3JobPtr &j)
{
	const std::string &name = j->r.name;
	std::vector<std::string> keys;
	if (j->removal || !j->doomed.empty() || may_have_journal(run_, name)) keys.push_back(key(journal_path(run_, name)));
	// The unlisted journal only lists files the page now links (or that
	// were deleted with the rest): left behind, it would cost the next
	// sync of the project a read and change nothing. So it goes with
	// others' in one request instead of one of its own.
	if (j->old.unlisted) unlisted_done(name);
	if (!j->batch.empty()) batch_done(*j);
	auto landed = [this, j](const std::string &why) {
		const pm::ProjectRecord &r = j->r;
		if (!why.empty()) LOG_WARN("%s: %s", r.name.c_str(), why.c_str());
		run_.files_fetched = j->files_fetched;
		run_.bytes_fetched = j->bytes_fetched;
		if (!j->removal) {
			synced(run_, r, j->serial, j->deleted);
		} else {
			LOG_INFO("Removed %s (serial %lld, %lld files deleted)", r.name.c_str(), r.serial, j->deleted);
			emit_synced(run_, r, 0, j->deleted, true);
			run_.changes.add(r.name, r.serial, true);
		}
		done(j);
	};
	if (keys.empty()) return landed("");
	remove(keys, landed);
}

void S3Writer::unlisted_done(const std::string &name)
{
	unlisted_done_.push_back(name);
	if (unlisted_done_.size() >= 1000) flush_unlisted();
}

// The batch's name and size, from artifact-get's record (vouched for by its
// stored_at); a malformed one is not taken: the project's page is written
// as ever, and the batch stays for a run to expand.
void S3Writer::take_batch(S3Job &j, const rapidjson::Document &doc)
{
	auto b = doc.FindMember("journal_batch");
	if (b == doc.MemberEnd() || !b->value.IsObject()) return;
	std::string name = pm::get_string(b->value, "name");
	long long n = pm::get_int(b->value, "projects", 0);
	if (!pm::S3Store::is_unlisted_batch(name) || n < 1 || n > pm::kMaxBatchProjects) {
		LOG_WARN("%s: ignoring a malformed journal_batch", j.r.name.c_str());
		return;
	}
	j.batch = std::move(name);
	j.batch_projects = n;
	batches_[j.batch].projects = n; // known from now: expanded at the end unless complete
}

// A project of a batch is out: the batch goes (with the unlisted
// journals) once all its projects are.
void S3Writer::batch_done(const S3Job &j)
{
	Batch &b = batches_[j.batch];
	if (std::find(b.out.begin(), b.out.end(), j.r.name) == b.out.end()) b.out.push_back(j.r.name);
	if (static_cast<long long>(b.out.size()) < b.projects) return;
	batches_.erase(j.batch);
	unlisted_done(j.batch);
}

// The batches some project of which did not come out (artifact-get failed
// it, this run did, or its record did not come): those projects get
// journals of their own, so the next page written for each knows its
// files, and the batch goes.
void S3Writer::expand_batches()
{
	for (auto &e : batches_) {
		auto out = std::make_shared<std::vector<std::string>>(std::move(e.second.out));
		std::string name = e.first;
		run_.o.s3->expand_unlisted_batch(
		    http_, name,
		    [out](const std::string &project) { return std::find(out->begin(), out->end(), project) != out->end(); },
		    [name](bool ok, const std::string &why) {
			    if (ok) LOG_DEBUG("Unlisted batch %s: projects not written got journals of their own", name.c_str());
			    else LOG_WARN("unlisted batch %s left for the next run: %s", name.c_str(), why.c_str());
		    });
	}
	batches_.clear();
	http_.run(run_.o.jobs);
}

void S3Writer::flush_unlisted()
{
	if (unlisted_done_.empty()) return;
	std::vector<std::string> keys = unlisted_keys();
	unlisted_done_.clear();
	remove(keys, [](const std::string &why) {
		if (!why.empty()) LOG_WARN("unlisted journals: %s", why.c_str());
	});
}

// Multi-object DELETEs of keys (1000 a request) added to http; failures
// are logged as warnings naming what (the keys stay for a later run).
void s3_delete_later(const pm::S3Config &cfg, pm::Http &http, const std::vector<std::string> &keys, const char *what)
{
	auto batches = pm::s3_delete_batches(cfg, keys);
	for (size_t i = 0; i < batches.size(); i++) {
		size_t n = std::min<size_t>(1000, keys.size() - 1000 * i);
		http.add(std::move(batches[i]), [what, n](pm::Request &, pm::Response &r) {
			std::string why = pm::s3_delete_outcome({r}, n);
			if (!why.empty()) LOG_WARN("%s: %s", what, why.c_str());
		});
	}
}

// update_root() for a bucket: the root JSON page, fetched into the scratch
// directory when the run started (found: there was one; only this process
// writes it, under the wrapper's lock), is merged with this run's changes
// there by the same code as on a filesystem, and the root pages stored: the
// HTML ones together, with the DELETEs of the unlisted journals still to
// remove (unlisted), then the JSON one. A root that is missing starts from
// this run's projects; one that does not parse is an error (rebuilding it
// needs a listing of web/simple/, not done on a bucket yet).
bool s3_update_root(Run &run, const std::string &scratch, bool found, const std::vector<std::string> &unlisted)
{
	const Options &o = run.o;
	const pm::S3Config &cfg = o.s3->config();
	pm::Http http;
	s3_delete_later(cfg, http, unlisted, "unlisted journals");
	pm::RootList base;
	long long meta_serial = -1;
	std::string why;
	if (found) {
		if (!pm::load_root_json(scratch + "/index.v1_json", base, meta_serial, why)) {
			LOG_ERROR("%s: %s (rebuilding the root index of a bucket is not supported)",
			          o.s3->key(o.m.root_index()).c_str(), why.c_str());
			http.run(8);
			return false;
		}
	} else {
		LOG_INFO("No root index yet; building it from this run's projects");
	}
	bool serial_moved = o.serial >= 0 && o.serial != meta_serial;
	if (found && run.changes.empty() && !serial_moved) {
		LOG_DEBUG("Root index unchanged");
		http.run(8);
		return true;
	}
	bool changed = false;
	long long top = 0;
	if (!write_root_in(run, scratch, base, meta_serial, false, &changed, top)) {
		http.run(8);
		return false;
	}
	std::string failed;
	// Each page goes up from its file in scratch, streamed: a root page
	// grows with the mirror (tens of MB at PyPI's size).
	auto put = [&](const char *page) {
		std::string key = o.s3->key(o.m.root_index(page)), err;
		pm::Request r;
		if (!o.s3->put_file(key, scratch + "/" + page, pm::S3Store::content_type(o.m.relative(o.m.root_index(page))), r,
		                    err)) {
			if (failed.empty()) failed = err;
			return;
		}
		http.add(std::move(r), [&failed, key](pm::Request &, pm::Response &resp) {
			if (!resp.ok() && failed.empty()) failed = "cannot write " + key + ": " + pm::s3_describe(resp);
		});
	};
	if (o.html_pages) {
		put("index.html");
		put("index.v1_html");
	} else {
		s3_delete_later(cfg, http, {o.s3->key(o.m.root_index("index.html")), o.s3->key(o.m.root_index("index.v1_html"))},
		                "the HTML root pages");
	}
	http.run(8);
	// The JSON root last: it is what the next run merges into.
	if (failed.empty()) {
		put("index.v1_json");
		http.run(8);
	}
	if (!failed.empty()) {
		LOG_ERROR("cannot store the root index: %s", failed.c_str());
		return false;
	}
	LOG_INFO("Updated the root index (serial %lld)", top);
	return true;
}

// The one pass over the records on a filesystem, one project after another
// (a page there costs a few system calls; see S3Writer for a bucket): each
// record's pages (the counts artifact-get put in it travel on to the synced
// record), then the root.
using RecordStep = void (*)(Run &, const pm::ProjectRecord &);
int sync_records(Run &run, RecordStep project, RecordStep removal, bool (*root)(Run &))
{
	run.loop.run([&](pm::ProjectRecord &r, rapidjson::Document &doc) {
		run.files_fetched = std::max(0LL, pm::get_int(doc, "files_fetched", 0));
		run.bytes_fetched = std::max(0LL, pm::get_int(doc, "bytes_fetched", 0));
		run.stored_at = pm::get_string(doc, "stored_at");
		run.journal_new = pm::get_bool(doc, "journal_new");
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
	// The root JSON page is fetched first, into a scratch directory
	// (streamed: it grows with the mirror), so that the end of the run
	// only stores.
	const char *tmp = getenv("TMPDIR");
	std::string scratch = std::string(tmp && *tmp ? tmp : "/tmp") + "/index-write.XXXXXX";
	if (!mkdtemp(scratch.data())) {
		LOG_TOOL_ERROR("cannot create a scratch directory %s: %s", scratch.c_str(), strerror(errno));
		return pm::kExitFatal;
	}
	struct Cleanup {
		std::string d;
		~Cleanup()
		{
			std::error_code ec;
			std::filesystem::remove_all(d, ec);
		}
	} cleanup{scratch};
	bool found = false, root_ok = true;
	std::string root_why;
	if (!run.o.no_root)
		root_ok = run.o.s3->get_file(run.o.s3->key(run.o.m.root_index()), scratch + "/index.v1_json", found, root_why);
	S3Writer writer(run);
	writer.write_all();
	std::vector<std::string> unlisted = writer.unlisted_keys();
	if (run.o.no_root || !root_ok) {
		pm::Http http;
		s3_delete_later(run.o.s3->config(), http, unlisted, "unlisted journals");
		http.run(8);
	}
	if (!run.o.no_root && !root_ok) {
		LOG_ERROR("%s", root_why.c_str());
		run.loop.mark_failed();
	} else if (!run.o.no_root && !s3_update_root(run, scratch, found, unlisted)) {
		run.loop.mark_failed();
	}
	return run.loop.finish();
}

} // namespace

int main(int argc, char **argv)
{
	pm::log_set_prog(kProg);
	Run run;
	Options &o = run.o;
	pm::MirrorOptions mo;
	pm::parse_options(kProg, kCommandLine, argc, argv, [&](int c) {
		if (mo.option(c, kProg, optarg)) return;
		switch (c) {
		case kOptRootUri: o.root_uri = optarg; break;
		case kOptNoReleaseFiles: o.release_files = false; break;
		case kOptJson: o.json = true; break;
		case kOptLocalDir: o.local = optarg; break;
		case kOptSimpleFormat:
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
		case kOptMaxDeletions: o.max_deletions = pm::parse_count(kProg, "--max-deletions", optarg); break;
		case 'j': o.jobs = static_cast<int>(pm::parse_count(kProg, "--concurrency", optarg, 1, 256)); break;
		case kOptSerial: o.serial = pm::parse_count(kProg, "--serial", optarg); break;
		case kOptNoRoot: o.no_root = true; break;
		case kOptRebuildRoot: o.rebuild_root = true; break;
		}
	});
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
	if (run.web_dir.fd() >= 0 && fstat(run.web_dir.fd(), &st) == 0)
		run.web_id = std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":" +
		             std::to_string(static_cast<unsigned long long>(st.st_ino));

	complete_journals(run);

	return sync_records(run, process_project, process_removal, update_root);
}
