// mirror-verify: proves a mirror is whole by checking it against its own
// pages, and says what to repair as records the pipeline reads.
//
// Memory stays flat whatever the size of the mirror: nothing holds a set of
// every path. Every path a page links goes into an external sort (runs
// spilled under the work directory), and web/packages is walked with each
// directory listing sorted, which yields its paths in the same order; a
// merge-join of the two sorted streams finds missing, wrong and stray files.
// The same is done for project names (page directories, the root index's
// two forms, the JSON API copies). The walk runs one hash prefix
// (packages/xx) per worker thread, and each finished prefix is recorded in
// the work directory, so a killed run resumes where it stopped. A mirror in
// an S3 bucket is listed instead of walked, with the same merge-join and
// checkpoint (see THE MIRROR IN A BUCKET).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <functional>
#include <memory>
#include <fcntl.h>
#include <getopt.h>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/filereadstream.h>
#include <rapidjson/reader.h>

#include "cli.h"
#include "extsort.h"
#include "index_root.h"
#include "fsutil.h"
#include "layout.h"
#include "hash.h"
#include "log.h"
#include "names.h"
#include "ndjson.h"
#include "options.h"
#include "root_reader.h"
#include "s3_store.h"
#include "verify_check.h"

namespace {

const char *kProg = "mirror-verify";


constexpr int kExitDamage = 6;

// ===================================================================== LAYOUT
// Where a mirror keeps things is tools/lib/layout's to say; these are the
// names this tool uses for them, and the file names inside a page
// directory. Nothing below this section builds a path by itself.
namespace layout {
inline std::string web(const std::string &d) { return pm::Layout(d).web(); }
inline std::string simple(const std::string &d) { return pm::Layout(d).simple(); }
inline std::string page_dir(const std::string &d, const std::string &n) { return pm::Layout(d).project_dir(n); }
constexpr const char *kPageJson = "index.v1_json";                              // in page_dir
constexpr const char *kPageFiles[] = {"index.html", "index.v1_html", "index.v1_json"}; // what a page dir holds
inline std::string root_json(const std::string &d) { return pm::Layout(d).root_index("index.v1_json"); }
inline std::string root_html(const std::string &d) { return pm::Layout(d).root_index("index.html"); }
constexpr const char *kRootFiles[] = {"index.html", "index.v1_html", "index.v1_json"}; // in simple/
// Package files: web/packages/xx/yy/<60 hex>/<filename>; page links and
// records name them relative to web/ ("packages/...").
constexpr const char *kPackagesRel = "packages";
inline std::string packages(const std::string &d) { return pm::Layout(d).packages(); }
constexpr const char *kMetadataSuffix = ".metadata"; // PEP 658 companion, next to its file
// JSON API copies (json = true): web/pypi/NAME/json and web/json/NAME.
inline std::string json_api_dir(const std::string &d) { return pm::Layout(d).json_api_dir(); }
inline std::string json_api(const std::string &d, const std::string &n) { return pm::Layout(d).json_api(n); }
inline std::string json_short(const std::string &d, const std::string &n) { return pm::Layout(d).json_copy(n); }
// DIR/status: pm::read_status. Temporaries: pm::parse_temp_name (the shape
// pm::AtomicFile gives them). The checkpoint lives outside web/.
inline std::string default_work(const std::string &d) { return pm::Layout(d).verify_checkpoint_dir(); }
} // namespace layout
// ================================================================= END LAYOUT

struct Options {
	std::string dir, work, gc_list;
	std::unique_ptr<pm::S3Store> s3; // the mirror is in a bucket (dir: its s3:// location)
	bool hash = false, json = false, gc = false, restart = false;
	int jobs = 4;
	long long max_deletions = 10000;
};

// The work directory: sort runs, the sorted links of the pages, and one
// findings file per finished part (the checkpoint).
//   state           what the checkpoint is for (options that change results)
//   links.sorted    every linked path with what the page promises, sorted
//   links.index     offsets of each packages/xx in links.sorted; written
//                   last, so its presence means the pages are done
//   findings.pages  problem records of the page pass
//   findings.XX     problem records of packages/XX (its presence: XX done)
//   findings.other  packages/ entries that are not a hash prefix
//   removed         paths --gc removed (appended as they go)
constexpr int kParts = 257; // 256 prefixes + "other"
constexpr size_t kPageBatch = 32; // a bucket's pages fetched at once
constexpr int kObjectWindow = 8;  // a bucket's HEADs (GETs with --hash) in flight per prefix

std::string part_name(int p)
{
	if (p == 256) return "other";
	char b[3];
	snprintf(b, sizeof b, "%02x", p);
	return b;
}

// What a page promises for one path: a line of links.sorted
// (path \t name \t serial \t size \t sha256 \t filename; size -1 for a
// .metadata companion, whose size no page states).
struct LinkRec {
	std::string path, name, sha, file;
	long long serial = 0, size = -1;
};

struct Counters {
	std::atomic<long long> files{0}, bytes_hashed{0}, removed{0}, kept_by_cap{0};
};

class Verify {
public:
	explicit Verify(Options o) : o_(std::move(o)) {}
	int run();

private:
	// A finding: a problem record, to stdout and to the part's findings file.
	struct Problem {
		std::string kind, name, path, file, detail;
		long long serial = -1;
		bool repair = false;  // a project record for name follows
		bool damage = true;   // counts towards exit status 6
		bool removed = false; // --gc took it
	};
	void report(FILE *findings, const Problem &p);
	bool emit_line(const std::string &line);

	bool prepare_work(bool &resume);
	bool pages_pass();
	bool files_pass();
	void check_part(int p);
	bool finish_report();

	Options o_;
	Counters c_;
	std::mutex out_mu_;
	std::string links_path_;
	std::vector<long long> offsets_; // kParts+1 offsets into links.sorted
	std::atomic<bool> fatal_{false};
	bool resumed_ = false, gc_blocked_ = false;
	int exit_ = 0;
	long long projects_ = 0, page_files_ = 0;
	int removed_fd_ = -1;
	std::mutex removed_mu_;

	// The walk of one part.
	struct Part;
	void drain(Part &pt, const std::string &upto);
	void walk_dir(Part &pt, int dirfd, const std::string &rel, int depth);
	void walk_entry(Part &pt, int dirfd, const std::string &n, const std::string &rel, unsigned char t, int depth);
	void present(Part &pt, int dirfd, const std::string &name, const std::string &rel, unsigned char type);
	void missing(Part &pt, const LinkRec &l);
	void stray(Part &pt, int dirfd, const std::string &name, const std::string &rel, unsigned char type, bool &gone);
	bool remove_entry(Part &pt, int dirfd, const std::string &name, const std::string &rel);

	// The mirror in a bucket (see "The mirror in a bucket" below).
	struct PageJob {
		std::string name;
		long long root_serial;
		bool in_root, in_html, has_json;
	};
	using ProjectCheck = std::function<void(const std::string &, long long, bool, bool)>;
	std::string s3_local(const std::string &path, const char *file, int &err);
	bool s3_list(const std::string &rel_prefix, const std::function<void(const std::string &, long long)> &each);
	bool s3_list_simple(const std::function<void(Problem)> &problem, pm::ExternalSorter &names,
	                    pm::ExternalSorter &jsondirs);
	void s3_page_batch(std::vector<PageJob> &batch, std::unordered_map<std::string, std::pair<int, std::string>> &docs,
	                   const ProjectCheck &check);
	struct S3Part;
	bool s3_files_pass();
	void s3_start(S3Part &sp, int p);
	void s3_advance(S3Part &sp);
	void s3_list_next(S3Part &sp, const std::string &token);
	void s3_object(S3Part &sp, const std::string &rel, long long size);
	void s3_flush_gc(S3Part &sp);
	void s3_finish(S3Part &sp);
	std::unique_ptr<pm::Http> s3_http_;
	std::atomic<long long> no_meta_{0};
	std::vector<int> s3_todo_; // the prefixes the file pass has left
	size_t s3_next_ = 0;
	std::vector<bool> s3_present_; // hash prefixes that hold objects
};

// ------------------------------------------------------------------ output

bool Verify::emit_line(const std::string &line)
{
	if (fputs(line.c_str(), stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		if (!fatal_) LOG_ERROR("cannot write to standard output: %s", strerror(errno));
		fatal_ = true;
		return false;
	}
	return true;
}

void Verify::report(FILE *findings, const Problem &p)
{
	rapidjson::Document d(rapidjson::kObjectType);
	pm::set_string(d, d, "type", "problem");
	pm::set_string(d, d, "kind", p.kind);
	if (!p.name.empty()) pm::set_string(d, d, "name", p.name);
	if (p.serial >= 0) pm::set_int(d, d, "serial", p.serial);
	if (!p.path.empty()) pm::set_string(d, d, "path", pm::printable_path(p.path));
	if (!p.file.empty()) pm::set_string(d, d, "file", pm::printable_path(p.file));
	pm::set_string(d, d, "detail", pm::printable_path(p.detail));
	pm::set_bool(d, d, "repair", p.repair);
	pm::set_bool(d, d, "damage", p.damage);
	if (p.removed) pm::set_bool(d, d, "removed", true);
	std::string line = pm::to_json(d);
	std::string where = p.path.empty() ? p.name : pm::printable_path(p.path);
	if (p.damage)
		LOG_WARN("%s: %s: %s", p.kind.c_str(), where.c_str(), pm::printable_path(p.detail).c_str());
	else
		LOG_INFO("%s: %s: %s", p.kind.c_str(), where.c_str(), pm::printable_path(p.detail).c_str());
	std::lock_guard<std::mutex> g(out_mu_);
	if (findings && (fputs(line.c_str(), findings) == EOF || fputc('\n', findings) == EOF)) {
		if (!fatal_) LOG_ERROR("cannot write findings to %s: %s", o_.work.c_str(), strerror(errno));
		fatal_ = true;
	}
	emit_line(line);
}

// -------------------------------------------------------------- work dir

bool write_small(const std::string &path, const std::string &text)
{
	std::string err;
	if (!pm::write_file_atomic(path, text, false, &err)) {
		LOG_ERROR("%s", err.c_str());
		return false;
	}
	return true;
}

void wipe_dir(const std::string &dir)
{
	DIR *d = opendir(dir.c_str());
	if (!d) return;
	while (struct dirent *e = readdir(d)) {
		std::string n = e->d_name;
		if (n == "." || n == "..") continue;
		unlink((dir + "/" + n).c_str());
	}
	closedir(d);
}

// Sets up the work directory; resume tells whether the page pass of an
// earlier run with the same options can be taken as done.
bool Verify::prepare_work(bool &resume)
{
	resume = false;
	if (!pm::mkdir_p(o_.work)) {
		LOG_ERROR("cannot create work directory %s: %s", o_.work.c_str(), strerror(errno));
		return false;
	}
	// What makes findings differ between runs; --gc is in it since a resumed
	// run must not treat findings of a listing run as removals or back.
	std::string state = "mirror-verify 1\ndir " + o_.dir + "\nhash " + (o_.hash ? "1" : "0") + "\njson " +
	                    (o_.json ? "1" : "0") + "\ngc " + (o_.gc ? "1" : "0") + "\n";
	std::string old;
	bool same = !o_.restart && pm::read_file(o_.work + "/state", old, 4096) && old == state;
	links_path_ = o_.work + "/links.sorted";
	std::string index;
	if (same && pm::read_file(o_.work + "/links.index", index, 1 << 16)) {
		offsets_.clear();
		size_t pos = 0;
		while (pos < index.size()) {
			size_t nl = index.find('\n', pos);
			if (nl == std::string::npos) break;
			offsets_.push_back(atoll(index.substr(pos, nl - pos).c_str()));
			pos = nl + 1;
		}
		struct stat st;
		if (offsets_.size() == kParts + 1 && stat(links_path_.c_str(), &st) == 0 && st.st_size == offsets_.back())
			resume = true;
	}
	if (!resume) {
		wipe_dir(o_.work);
		if (!write_small(o_.work + "/state", state)) return false;
	} else {
		// Leftovers of the killed run: sort runs and unfinished parts.
		DIR *d = opendir(o_.work.c_str());
		while (d && (errno = 0, true)) {
			struct dirent *e = readdir(d);
			if (!e) break;
			std::string n = e->d_name;
			if (n.find(".run.") != std::string::npos || (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) ||
			    n[0] == '.')
				if (n != "." && n != "..") unlink((o_.work + "/" + n).c_str());
		}
		if (d) closedir(d);
	}
	removed_fd_ = open((o_.work + "/removed").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (removed_fd_ < 0) {
		LOG_ERROR("cannot open %s/removed: %s", o_.work.c_str(), strerror(errno));
		return false;
	}
	return true;
}

// ------------------------------------------------------------- page pass

// One sorted stream of "key\tpayload" records, for the merge by name.
struct Stream {
	pm::ExternalSorter *s = nullptr;
	std::string cur;
	bool have = false;
	void next() { have = s && s->next(cur); }
	std::string_view key() const { return std::string_view(cur).substr(0, cur.find('\t')); }
	std::string payload() const
	{
		size_t t = cur.find('\t');
		return t == std::string::npos ? "" : cur.substr(t + 1);
	}
};

// Reads a regular file under dirfd without following a symbolic link.
// Returns 0, or an errno (ELOOP: a symlink; EINVAL: not a regular file).
int read_nofollow(int dirfd, const char *rel, std::string &out, size_t max)
{
	out.clear();
	int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) return errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return EINVAL;
	}
	if (static_cast<unsigned long long>(st.st_size) > max) {
		close(fd);
		return EFBIG;
	}
	out.resize(static_cast<size_t>(st.st_size));
	size_t got = 0;
	while (got < out.size()) {
		ssize_t r = read(fd, out.data() + got, out.size() - got);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		got += static_cast<size_t>(r);
	}
	out.resize(got);
	close(fd);
	return 0;
}

const char *type_word(unsigned char t)
{
	switch (t) {
	case DT_LNK: return "a symbolic link";
	case DT_DIR: return "a directory";
	case DT_REG: return "a regular file";
	case DT_FIFO: return "a FIFO";
	case DT_SOCK: return "a socket";
	case DT_CHR:
	case DT_BLK: return "a device";
	default: return "not a regular file";
	}
}

// A file's type from its stat mode, as a directory entry gives it (DT_*).
unsigned char mode_type(mode_t m)
{
	if (S_ISREG(m)) return DT_REG;
	if (S_ISDIR(m)) return DT_DIR;
	if (S_ISLNK(m)) return DT_LNK;
	if (S_ISFIFO(m)) return DT_FIFO;
	if (S_ISSOCK(m)) return DT_SOCK;
	return DT_CHR;
}

unsigned char entry_type(int dirfd, const struct dirent *e)
{
	if (e->d_type != DT_UNKNOWN) return e->d_type;
	struct stat st;
	if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return DT_UNKNOWN;
	return mode_type(st.st_mode);
}

bool Verify::pages_pass()
{
	const std::string &dir = o_.dir;
	std::string pages_tmp = o_.work + "/findings.pages.tmp";
	FILE *fp = fopen(pages_tmp.c_str(), "w");
	if (!fp) {
		LOG_ERROR("cannot create %s: %s", pages_tmp.c_str(), strerror(errno));
		return false;
	}
	auto problem = [&](Problem p) {
		// A page that cannot be read, or a link that is refused, leaves
		// files whose owner is unknown: --gc takes nothing this run.
		if (!p.name.empty() && (p.kind == "page" || (p.kind == "unsafe" && p.path.find("/simple/") != std::string::npos)))
			gc_blocked_ = true;
		report(fp, p);
	};
	pm::ExternalSorter names(o_.work, "names", 4u << 20), root(o_.work, "root", 4u << 20),
	    roothtml(o_.work, "roothtml", 2u << 20), jsondirs(o_.work, "jsondirs", 2u << 20),
	    links(o_.work, "links", 16u << 20);

	// The root index, both forms.
	long long meta_serial = -1;
	bool have_root_json = false, have_root_html = false;
	{
		std::string path = layout::root_json(dir);
		pm::FileStream in;
		int ferr = 0;
		std::string local = s3_local(path, "root.v1_json", ferr);
		if (ferr || !in.open(local, O_NOFOLLOW)) {
			problem({"root", "", path, "", "root index " + path + ": " + strerror(ferr ? ferr : errno) +
			                                   " (index-write -d DIR --rebuild-root writes it)"});
		} else {
			// "name\tserial" per project into a sorter; the first few bad entries named.
			std::vector<std::string> bad;
			std::string err;
			pm::RootReader r;
			r.entry = [&](const std::string *name, long long serial, size_t) {
				if (!name || !pm::valid_project_name(*name) || serial < 0) {
					if (bad.size() < 20) bad.push_back(name ? *name : "(no name)");
				} else {
					root.add(pm::normalize_name(*name) + "\t" + std::to_string(serial));
				}
				return true;
			};
			if (!r.parse_json(in, true, err)) {
				problem({"root", "", path, "",
				         "root index " + path + ": " + err + " (index-write -d DIR --rebuild-root rewrites it)"});
			} else {
				have_root_json = true;
				meta_serial = r.meta_serial();
			}
			for (auto &b : bad)
				problem({"root", "", path, "", "root index entry '" + b + "' is not a project with a serial"});
		}
	}
	{
		std::string path = layout::root_html(dir);
		int ferr = 0;
		std::string local = s3_local(path, "root.html", ferr);
		int fd = ferr ? (errno = ferr, -1) : open(local.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		FILE *f = fd >= 0 ? fdopen(fd, "rb") : nullptr;
		if (!f) {
			// A JSON-only mirror (simple-format json) has no HTML root.
			if (errno != ENOENT) problem({"root", "", path, "", "root index " + path + ": " + strerror(errno)});
		} else {
			have_root_html = true;
			char *line = nullptr;
			size_t cap = 0;
			ssize_t n;
			while ((n = getline(&line, &cap, f)) > 0) {
				// One line per project: <a href="NAME/">DISPLAY</a>
				std::string_view l(line, static_cast<size_t>(n));
				size_t a = l.find("<a href=\"");
				if (a == std::string_view::npos) continue;
				size_t s = a + 9, e = l.find('"', s);
				if (e == std::string_view::npos || e == s || l[e - 1] != '/') continue;
				std::string nm(l.substr(s, e - s - 1));
				if (!pm::valid_project_name(nm) || pm::normalize_name(nm) != nm) {
					problem({"root", "", path, "", "root page links '" + nm + "', not a normalized project name"});
					continue;
				}
				roothtml.add(nm);
			}
			free(line);
			fclose(f);
		}
	}
	// Page directories.
	std::string simple = layout::simple(dir);
	int sfd = o_.s3 ? open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) // a bucket lists instead
	                : open(simple.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		LOG_ERROR("cannot open %s: %s", simple.c_str(), strerror(errno));
		fclose(fp);
		return false;
	}
	if (o_.s3) {
		if (!s3_list_simple(problem, names, jsondirs)) {
			close(sfd);
			fclose(fp);
			return false;
		}
	} else {
		int dfd = dup(sfd);
		DIR *d = fdopendir(dfd);
		if (!d) {
			LOG_ERROR("cannot read %s: %s", simple.c_str(), strerror(errno));
			close(dfd);
			close(sfd);
			fclose(fp);
			return false;
		}
		while (struct dirent *e = readdir(d)) {
			std::string n = e->d_name;
			if (n == "." || n == "..") continue;
			if (std::find_if(std::begin(layout::kRootFiles), std::end(layout::kRootFiles),
			                 [&](const char *r) { return n == r; }) != std::end(layout::kRootFiles))
				continue;
			unsigned char t = entry_type(sfd, e);
			long pid;
			if (pm::parse_temp_name(n, pid)) {
				bool alive = pm::pid_alive(pid);
				problem({"temp", "", simple + "/" + n, "", std::string("temporary of ") + (alive ? "a running" : "a killed") +
				                                            " writer (pid " + std::to_string(pid) + ")",
				         -1, false, !alive});
				continue;
			}
			if (n.find('\t') != std::string::npos || n.find('\n') != std::string::npos || t != DT_DIR ||
			    !pm::valid_project_name(n) || pm::normalize_name(n) != n) {
				std::string why = t != DT_DIR ? std::string("is ") + type_word(t) + ", not a project directory"
				                              : "is not a normalized project name";
				problem({t == DT_REG ? "stray" : "unsafe", "", simple + "/" + n, "", "web/simple entry " + why + "; not followed"});
				continue;
			}
			names.add(n);
		}
		closedir(d);
	}
	// JSON API copies: which projects have one.
	if (!o_.s3) {
		DIR *d = opendir(layout::json_api_dir(dir).c_str());
		while (d) {
			struct dirent *e = readdir(d);
			if (!e) break;
			std::string n = e->d_name;
			if (n == "." || n == ".." || n.find('\t') != std::string::npos) continue;
			if (pm::valid_project_name(n) && pm::normalize_name(n) == n) jsondirs.add(n);
		}
		if (d) closedir(d);
	}
	for (auto *s : {&names, &root, &roothtml, &jsondirs})
		if (!s->finish()) {
			LOG_ERROR("sorting: %s", s->error().c_str());
			close(sfd);
			fclose(fp);
			return false;
		}

	Stream sn, sr, sh, sj;
	sn.s = &names;
	sr.s = &root;
	sh.s = &roothtml;
	sj.s = &jsondirs;
	for (auto *s : {&sn, &sr, &sh, &sj}) s->next();
	long long max_page_serial = -1;
	std::string text, why;
	// A page or JSON copy: from the filesystem, or from what the batch of
	// the bucket's projects fetched (s3_page_batch).
	std::unordered_map<std::string, std::pair<int, std::string>> docs;
	std::vector<PageJob> batch;
	auto read_doc = [&](const std::string &path, std::string &out, size_t max) -> int {
		if (!o_.s3) return read_nofollow(AT_FDCWD, path.c_str(), out, max);
		auto it = docs.find(path);
		if (it == docs.end()) return ENOENT;
		out.swap(it->second.second);
		return it->second.first;
	};
	auto check_project = [&](const std::string &k, long long root_serial, bool in_root, bool in_html) {
		projects_++;
		// The page.
		std::string rel = k + "/" + layout::kPageJson;
		std::string page_path = simple + "/" + rel;
		int err = read_doc(page_path, text, 256u << 20);
		long long serial = -1;
		std::vector<std::pair<std::string, std::string>> files; // filename, sha256 (for the JSON copy)
		bool page_ok = false, quarantined = false;
		if (err) {
			problem({err == ELOOP ? "unsafe" : "page", k, page_path, "",
			         err == ELOOP    ? "page is a symbolic link; not followed"
			         : err == EINVAL ? "page is not a regular file"
			                         : std::string("cannot read page: ") + strerror(err),
			         std::max(root_serial, 0LL), true});
		} else {
			rapidjson::Document doc;
			doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(text.data(), text.size());
			const rapidjson::Value *fl = doc.IsObject() ? pm::member(doc, "files") : nullptr;
			const rapidjson::Value *meta = doc.IsObject() ? pm::member(doc, "meta") : nullptr;
			if (meta && meta->IsObject()) serial = pm::get_int(*meta, "_last-serial", -1);
			if (doc.HasParseError() || !fl || !fl->IsArray()) {
				problem({"page", k, page_path, "",
				         doc.HasParseError() ? "page does not parse at offset " + std::to_string(doc.GetErrorOffset())
				                             : std::string("page has no \"files\" list"),
				         std::max(root_serial, 0LL), true});
			} else if (serial < 0) {
				problem({"page", k, page_path, "", "page has no meta._last-serial", std::max(root_serial, 0LL), true});
			} else if (pm::get_string(doc, "name") != k) {
				problem({"page", k, page_path, "", "page names another project ('" + pm::get_string(doc, "name") + "')",
				         serial, true});
			} else {
				page_ok = true;
				const rapidjson::Value *ps = pm::member(doc, "project-status");
				quarantined = ps && ps->IsObject() && pm::get_string(*ps, "status") == "quarantined";
				for (auto &f : fl->GetArray()) {
					std::string fn = f.IsObject() ? pm::get_string(f, "filename") : "";
					std::string url = f.IsObject() ? pm::get_string(f, "url") : "";
					const rapidjson::Value *h = f.IsObject() ? pm::member(f, "hashes") : nullptr;
					std::string sha = h && h->IsObject() ? pm::get_string(*h, "sha256") : "";
					const rapidjson::Value *sz = f.IsObject() ? pm::member(f, "size") : nullptr;
					if (fn.empty() || !pm::is_sha256_hex(sha) || !sz || !sz->IsInt64() || sz->GetInt64() < 0) {
						problem({"page", k, page_path, fn,
						         "file entry lacks a filename, a sha256 or a size", serial, true});
						continue;
					}
					std::string path;
					if (!pm::page_link_path(url, fn, path, &why)) {
						problem({"unsafe", k, page_path, fn, "link '" + url + "' refused: " + why, serial, true});
						continue;
					}
					std::string tail = "\t" + k + "\t" + std::to_string(serial);
					links.add(path + tail + "\t" + std::to_string(sz->GetInt64()) + "\t" + sha + "\t" + fn);
					const rapidjson::Value *cm = pm::member(f, "core-metadata");
					if (!cm) cm = pm::member(f, "data-dist-info-metadata");
					if (cm && cm->IsObject()) {
						std::string msha = pm::get_string(*cm, "sha256");
						if (pm::is_sha256_hex(msha))
							links.add(path + layout::kMetadataSuffix + tail + "\t-1\t" + msha + "\t" + fn +
							          layout::kMetadataSuffix);
						else
							problem({"page", k, page_path, fn, "core-metadata has no sha256", serial, true});
					}
					files.emplace_back(fn, sha);
					page_files_++;
				}
			}
		}
		if (page_ok) max_page_serial = std::max(max_page_serial, serial);
		// The rest of the page directory: only its pages, and no temporaries
		// (in a bucket, the listing of web/simple/ checked that).
		if (!o_.s3) {
			int pfd = openat(sfd, k.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			DIR *d = pfd >= 0 ? fdopendir(pfd) : nullptr;
			if (!d && pfd >= 0) close(pfd);
			while (d) {
				struct dirent *e = readdir(d);
				if (!e) break;
				std::string n = e->d_name;
				if (n == "." || n == "..") continue;
				long pid;
				if (pm::parse_temp_name(n, pid)) {
					bool alive = pm::pid_alive(pid);
					problem({"temp", k, simple + "/" + k + "/" + n, "",
					         std::string("temporary of ") + (alive ? "a running" : "a killed") + " writer (pid " +
					             std::to_string(pid) + ")",
					         serial, false, !alive});
					continue;
				}
				bool known = std::find_if(std::begin(layout::kPageFiles), std::end(layout::kPageFiles),
				                          [&](const char *p) { return n == p; }) != std::end(layout::kPageFiles);
				unsigned char t = entry_type(dirfd(d), e);
				if (!known || t != DT_REG)
					problem({t == DT_REG ? "stray" : "unsafe", k, simple + "/" + k + "/" + n, "",
					         std::string("page directory holds ") + type_word(t) +
					             (known ? " where a page belongs" : " that is not a page"),
					         std::max(serial, 0LL), known});
			}
			if (d) closedir(d);
		}
		long long s = page_ok ? serial : std::max(root_serial, 0LL);
		// The root index. A quarantined project is left out of it, as on
		// PyPI (index-write(1)).
		if (quarantined) {
			if (in_root || in_html)
				problem({"root", k, layout::root_json(dir), "", "root index lists a quarantined project", s, true});
		} else if (have_root_json && !in_root)
			problem({"root", k, layout::root_json(dir), "", "root index does not list the project", s, true});
		else if (have_root_json && page_ok && root_serial != serial)
			problem({"root", k, layout::root_json(dir), "",
			         "root index has serial " + std::to_string(root_serial) + ", the page " + std::to_string(serial), s,
			         true});
		if (have_root_html && !in_html && !quarantined)
			problem({"root", k, layout::root_html(dir), "", "root page does not link the project", s, true});
		// The JSON API copies.
		if (!page_ok) return;
		for (const std::string &jp : {layout::json_api(dir, k), layout::json_short(dir, k)}) {
			int jerr = read_doc(jp, text, 1u << 30);
			if (jerr == ENOENT) {
				if (o_.json) problem({"json", k, jp, "", "JSON API copy missing", s, true});
				continue;
			}
			if (jerr) {
				problem({jerr == ELOOP ? "unsafe" : "json", k, jp, "",
				         jerr == ELOOP ? "JSON API copy is a symbolic link; not followed"
				                       : std::string("cannot read JSON API copy: ") + strerror(jerr),
				         s, true});
				continue;
			}
			rapidjson::Document jd;
			jd.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(text.data(), text.size());
			const rapidjson::Value *info = jd.IsObject() ? pm::member(jd, "info") : nullptr;
			const rapidjson::Value *rel_v = jd.IsObject() ? pm::member(jd, "releases") : nullptr;
			if (jd.HasParseError() || !info || !rel_v || !rel_v->IsObject() ||
			    pm::normalize_name(pm::get_string(*info, "name")) != k) {
				problem({"json", k, jp, "", "JSON API copy is not the document of this project", s, true});
				continue;
			}
			std::unordered_map<std::string, std::string> have;
			for (auto &r : rel_v->GetObject()) {
				if (!r.value.IsArray()) continue;
				for (auto &f : r.value.GetArray()) {
					if (!f.IsObject()) continue;
					const rapidjson::Value *dg = pm::member(f, "digests");
					have[pm::get_string(f, "filename")] = dg && dg->IsObject() ? pm::get_string(*dg, "sha256") : "";
				}
			}
			// The page may list fewer files (filters), never other ones.
			for (auto &[fn, sha] : files) {
				auto it = have.find(fn);
				if (it == have.end() || it->second != sha) {
					problem({"json", k, jp, fn,
					         it == have.end() ? "JSON API copy does not list a file the page lists"
					                          : "JSON API copy has another sha256 for the file",
					         s, true});
					break;
				}
			}
		}
	};
	while (sn.have || sr.have || sh.have || sj.have) {
		std::string k;
		for (auto *s : {&sn, &sr, &sh, &sj})
			if (s->have && (k.empty() || pm::path_less(s->key(), k))) k = s->key();
		bool has_page = sn.have && sn.key() == k, in_root = sr.have && sr.key() == k, in_html = sh.have && sh.key() == k,
		     has_json = sj.have && sj.key() == k;
		long long root_serial = in_root ? atoll(sr.payload().c_str()) : -1;
		// A name listed twice in the root index: consume every copy.
		int root_copies = 0;
		while (sr.have && sr.key() == k) {
			root_copies++;
			sr.next();
		}
		while (sh.have && sh.key() == k) sh.next();
		while (sj.have && sj.key() == k) sj.next();
		if (has_page) sn.next();
		if (root_copies > 1) problem({"root", k, "", "", "root index lists the project twice", root_serial, true});

		if (!has_page) {
			long long s = std::max(root_serial, 0LL);
			if (in_root || in_html)
				problem({"root", k, "", "", "root index lists a project that has no page", s, true});
			else if (has_json)
				problem({"json", k, "", "", "JSON API copy of a project that has no page", s, true});
			continue;
		}
		if (!o_.s3) {
			check_project(k, root_serial, in_root, in_html);
			continue;
		}
		batch.push_back({k, root_serial, in_root, in_html, has_json});
		if (batch.size() >= kPageBatch) s3_page_batch(batch, docs, check_project);
	}
	if (!batch.empty()) s3_page_batch(batch, docs, check_project);
	close(sfd);
	// DIR/status: everything up to it is claimed to be on disk, so it must
	// not pass the serial the pages (and the root index) were written at.
	long long status = 0;
	std::string serr;
	int serrno = 0;
	// A bucket's status is fetched next to the checkpoint and read there.
	if (o_.s3) s3_local(pm::Layout(dir).status(), "status", serrno);
	if (serrno && serrno != ENOENT) {
		problem({"status", "", dir + "/status", "", std::string("cannot read status: ") + strerror(serrno)});
	} else if (!pm::read_status(pm::Layout(o_.s3 ? o_.work : dir), status, &serr)) {
		problem({"status", "", dir + "/status", "", serr});
	} else {
		long long top = std::max(meta_serial, max_page_serial);
		if (top >= 0 && status > top)
			problem({"status", "", dir + "/status", "",
			         "status " + std::to_string(status) + " is ahead of the pages (highest serial " +
			             std::to_string(top) + "); changes after " + std::to_string(top) +
			             " may be missing: set it back to rerun them"});
	}
	LOG_INFO("Read %lld project pages linking %lld files", projects_, page_files_);
	{
		std::lock_guard<std::mutex> g(out_mu_);
		fprintf(fp, "{\"type\":\"_stats\",\"projects\":%lld,\"files\":%lld}\n", projects_, page_files_);
	}
	// The sorted links go to one file, with where each packages/xx starts:
	// each worker reads its own slice, and a resumed run reads it again.
	if (!links.finish()) {
		LOG_ERROR("sorting: %s", links.error().c_str());
		fclose(fp);
		return false;
	}
	FILE *lf = fopen(links_path_.c_str(), "wb");
	if (!lf) {
		LOG_ERROR("cannot create %s: %s", links_path_.c_str(), strerror(errno));
		fclose(fp);
		return false;
	}
	static char lbuf[1 << 16];
	setvbuf(lf, lbuf, _IOFBF, sizeof lbuf);
	offsets_.assign(kParts + 1, -1);
	long long off = 0;
	std::string rec;
	const size_t plen = strlen(layout::kPackagesRel) + 1;
	while (links.next(rec)) {
		int p = 256;
		if (rec.size() > plen + 2) {
			int h = 0;
			if (sscanf(rec.c_str() + plen, "%2x", &h) == 1) p = h;
		}
		for (int q = 0; q <= p; q++)
			if (offsets_[q] < 0) offsets_[q] = off;
		fputs(rec.c_str(), lf);
		fputc('\n', lf);
		off += static_cast<long long>(rec.size()) + 1;
	}
	for (auto &x : offsets_)
		if (x < 0) x = off;
	offsets_[kParts] = off;
	bool ok = links.error().empty() && fflush(lf) == 0 && fsync(fileno(lf)) == 0;
	ok = fclose(lf) == 0 && ok;
	ok = fflush(fp) == 0 && ok;
	ok = fclose(fp) == 0 && ok;
	if (!ok) {
		LOG_ERROR("cannot write %s: %s", o_.work.c_str(), strerror(errno));
		return false;
	}
	if (gc_blocked_ && !write_small(o_.work + "/gc-blocked", "pages could not be read\n")) return false;
	if (rename(pages_tmp.c_str(), (o_.work + "/findings.pages").c_str()) != 0) return false;
	std::string idx;
	for (auto x : offsets_) idx += std::to_string(x) + "\n";
	return write_small(o_.work + "/links.index", idx);
}

// ------------------------------------------------------------- file pass

bool split_link(const std::string &line, LinkRec &r)
{
	std::string f[6];
	size_t start = 0;
	for (int i = 0; i < 6; i++) {
		size_t t = i == 5 ? std::string::npos : line.find('\t', start);
		if (i < 5 && t == std::string::npos) return false;
		f[i] = line.substr(start, t == std::string::npos ? std::string::npos : t - start);
		start = t + 1;
	}
	r.path = f[0];
	r.name = f[1];
	r.serial = atoll(f[2].c_str());
	r.size = atoll(f[3].c_str());
	r.sha = f[4];
	r.file = f[5];
	return true;
}

// One part's slice of links.sorted, read in order with one record of lookahead.
struct LinkCursor {
	FILE *f = nullptr;
	long long left = 0; // bytes of the slice not read yet
	LinkRec next;
	bool have = false;
	std::string line;
	char *buf = nullptr;
	size_t cap = 0;
	~LinkCursor()
	{
		free(buf);
		if (f) fclose(f);
	}
	void advance()
	{
		have = false;
		while (left > 0) {
			ssize_t n = getline(&buf, &cap, f);
			if (n <= 0) {
				left = 0;
				return;
			}
			left -= n;
			line.assign(buf, static_cast<size_t>(n));
			if (!line.empty() && line.back() == '\n') line.pop_back();
			if (split_link(line, next)) {
				have = true;
				return;
			}
		}
	}
};

struct Verify::Part {
	int p = 0;
	LinkCursor links;
	std::vector<LinkRec> cur; // the links of the path at hand (one path may be linked twice)
	FILE *findings = nullptr;
	std::vector<char> buf = std::vector<char>(1 << 20); // hashing buffer
	bool removed_here = false;
};

void Verify::drain(Part &pt, const std::string &upto)
{
	pt.cur.clear();
	while (pt.links.have) {
		int c = pm::path_compare(pt.links.next.path, upto);
		if (c > 0) break;
		if (c < 0)
			missing(pt, pt.links.next);
		else
			pt.cur.push_back(pt.links.next);
		pt.links.advance();
	}
}

void Verify::missing(Part &pt, const LinkRec &l)
{
	bool meta = l.size < 0;
	report(pt.findings, {meta ? "metadata" : "missing", l.name, l.path, l.file,
	                     meta ? "metadata file the page announces is missing" : "file the page links is missing",
	                     l.serial, true});
}

bool Verify::remove_entry(Part &pt, int dirfd, const std::string &name, const std::string &rel)
{
	if (c_.removed.fetch_add(1) >= o_.max_deletions && o_.max_deletions > 0) {
		c_.removed--;
		c_.kept_by_cap++;
		return false;
	}
	// unlinkat removes a symbolic link itself, never what it points at.
	if (unlinkat(dirfd, name.c_str(), 0) != 0) {
		c_.removed--;
		LOG_ERROR("cannot remove %s: %s", pm::printable_path(rel).c_str(), strerror(errno));
		return false;
	}
	LOG_INFO("Removed %s", pm::printable_path(rel).c_str());
	pt.removed_here = true;
	std::lock_guard<std::mutex> g(removed_mu_);
	std::string line = pm::printable_path(rel) + "\n";
	if (write(removed_fd_, line.data(), line.size()) < 0) LOG_WARN("cannot record the removal of %s", line.c_str());
	return true;
}

void Verify::stray(Part &pt, int dirfd, const std::string &name, const std::string &rel, unsigned char type,
                   bool &gone)
{
	gone = false;
	long pid;
	Problem p;
	p.path = rel;
	bool may_remove = false;
	if (pm::parse_temp_name(name, pid)) {
		bool alive = pm::pid_alive(pid);
		p.kind = "temp";
		p.detail = std::string("temporary of ") + (alive ? "a running" : "a killed") + " writer (pid " +
		           std::to_string(pid) + ")";
		p.damage = !alive;
		may_remove = !alive && type == DT_REG; // a file a sync is writing right now is never taken
	} else if (type == DT_REG) {
		p.kind = "stray";
		p.detail = "no page links this file";
		may_remove = true;
	} else {
		p.kind = "unsafe";
		p.detail = std::string("stray ") + type_word(type) + " that no page links; not followed";
		may_remove = type != DT_DIR && type != DT_UNKNOWN;
	}
	if (o_.gc && may_remove && gc_blocked_) {
		p.detail += "; not removed (a page could not be read: its files are not known)";
	} else if (o_.gc && may_remove) {
		if (remove_entry(pt, dirfd, name, rel)) {
			p.removed = gone = true;
			p.damage = false;
			p.detail += "; removed";
		} else {
			p.detail += "; not removed (--max-deletions reached or unlink failed)";
		}
	}
	report(pt.findings, p);
}

void Verify::present(Part &pt, int dirfd, const std::string &name, const std::string &rel, unsigned char type)
{
	c_.files++;
	if (pt.cur.empty()) {
		bool gone;
		stray(pt, dirfd, name, rel, type, gone);
		return;
	}
	const LinkRec &l0 = pt.cur.front();
	bool meta = l0.size < 0;
	if (type != DT_REG) {
		for (auto &l : pt.cur)
			report(pt.findings, {"unsafe", l.name, rel, l.file,
			                     std::string("linked path is ") + type_word(type) + "; not followed", l.serial, true});
		return;
	}
	struct stat st;
	if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
		report(pt.findings, {"io", l0.name, rel, l0.file, std::string("cannot stat: ") + strerror(errno), l0.serial,
		                     false, false});
		return;
	}
	std::string got;
	bool hashed = false;
	for (auto &l : pt.cur) {
		if (l.size >= 0 && st.st_size != l.size) {
			report(pt.findings, {"size", l.name, rel, l.file,
			                     "file has " + std::to_string(st.st_size) + " bytes, the page promises " +
			                         std::to_string(l.size),
			                     l.serial, true});
			continue;
		}
		if (!o_.hash) continue;
		if (!hashed) {
			hashed = true;
			int fd = openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				report(pt.findings, {"io", l.name, rel, l.file, std::string("cannot open: ") + strerror(errno),
				                     l.serial, false, false});
				return;
			}
			posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
			pm::Digest d;
			int e = 0;
			for (;;) {
				ssize_t r = read(fd, pt.buf.data(), pt.buf.size());
				if (r < 0 && errno == EINTR) continue;
				if (r < 0) e = errno;
				if (r <= 0) break;
				d.update(pt.buf.data(), static_cast<size_t>(r));
				c_.bytes_hashed += r;
			}
			close(fd);
			if (e) {
				report(pt.findings, {"io", l.name, rel, l.file, std::string("cannot read: ") + strerror(e), l.serial,
				                     false, false});
				return;
			}
			got = d.hex();
		}
		if (got != l.sha)
			report(pt.findings, {meta ? "metadata" : "hash", l.name, rel, l.file,
			                     "sha256 is " + got + ", the page promises " + l.sha, l.serial, true});
	}
}

void Verify::walk_dir(Part &pt, int dirfd, const std::string &rel, int depth)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		report(pt.findings,
		       {"io", "", rel, "", std::string("cannot read directory: ") + strerror(errno), -1, false, false});
		close(dirfd);
		return;
	}
	// One listing per level in memory: bounded by the layout (256 prefixes,
	// a few hundred hashes per packages/xx/yy even at 10 M files).
	std::vector<std::pair<std::string, unsigned char>> ents;
	while (struct dirent *e = readdir(d)) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		ents.emplace_back(e->d_name, entry_type(dirfd, e));
	}
	std::sort(ents.begin(), ents.end(), [](auto &a, auto &b) { return pm::path_less(a.first, b.first); });
	for (auto &[n, t] : ents) {
		if (fatal_) break;
		walk_entry(pt, dirfd, n, rel + "/" + n, t, depth);
	}
	closedir(d);
}

// One entry n (of type t, at rel) of a directory at depth under packages/:
// a directory is walked, and removed when --gc emptied it; anything else is
// checked against the links.
void Verify::walk_entry(Part &pt, int dirfd, const std::string &n, const std::string &rel, unsigned char t, int depth)
{
	if (t != DT_DIR) {
		drain(pt, rel); // links before this path are missing; those at it go to pt.cur
		present(pt, dirfd, n, rel, t);
		pt.cur.clear();
		return;
	}
	if (depth >= 8) {
		report(pt.findings, {"unsafe", "", rel, "", "directory nested too deep under packages/; not walked"});
		return;
	}
	int fd = openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		report(pt.findings,
		       {"io", "", rel, "", std::string("cannot open directory: ") + strerror(errno), -1, false, false});
		return;
	}
	bool before = pt.removed_here;
	pt.removed_here = false;
	walk_dir(pt, fd, rel, depth + 1);
	// What --gc emptied goes too (a clean sync leaves no empty directory).
	if (pt.removed_here) unlinkat(dirfd, n.c_str(), AT_REMOVEDIR);
	pt.removed_here = before || pt.removed_here;
}

// One part: packages/XX for p < 256, else the entries of packages/ that are
// not a hash prefix (no link can lead there: all of it is stray).
void Verify::check_part(int p)
{
	std::string name = part_name(p), fin = o_.work + "/findings." + name;
	Part pt;
	pt.p = p;
	std::string tmp = fin + ".tmp";
	pt.findings = fopen(tmp.c_str(), "w");
	if (!pt.findings) {
		LOG_ERROR("cannot create %s: %s", tmp.c_str(), strerror(errno));
		fatal_ = true;
		return;
	}
	pt.links.f = fopen(links_path_.c_str(), "rb");
	if (!pt.links.f || fseeko(pt.links.f, offsets_[p], SEEK_SET) != 0) {
		LOG_ERROR("cannot read %s: %s", links_path_.c_str(), strerror(errno));
		fatal_ = true;
		fclose(pt.findings);
		return;
	}
	pt.links.left = offsets_[p + 1] - offsets_[p];
	pt.links.advance();
	long long files_before = c_.files;
	std::string pkg = layout::packages(o_.dir), rel_top = layout::kPackagesRel;
	int top = open(pkg.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top >= 0) {
		if (p < 256) {
			struct stat st;
			if (fstatat(top, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
				walk_entry(pt, top, name, rel_top + "/" + name, mode_type(st.st_mode), 0);
		} else {
			// Everything in packages/ but the 256 prefix directories.
			int fd = dup(top);
			DIR *d = fdopendir(fd);
			std::vector<std::pair<std::string, unsigned char>> ents;
			while (d) {
				struct dirent *e = readdir(d);
				if (!e) break;
				std::string n = e->d_name;
				if (n == "." || n == "..") continue;
				unsigned char t = entry_type(top, e);
				bool prefix = n.size() == 2 && isxdigit(static_cast<unsigned char>(n[0])) &&
				              isxdigit(static_cast<unsigned char>(n[1])) && n == pm::normalize_name(n) && t == DT_DIR;
				if (!prefix || (t != DT_DIR && n.size() == 2)) ents.emplace_back(n, t);
			}
			if (d) closedir(d);
			std::sort(ents.begin(), ents.end(), [](auto &a, auto &b) { return pm::path_less(a.first, b.first); });
			for (auto &[n, t] : ents) {
				// A hex-prefix name that is not a directory belongs to its own part.
				if (n.size() == 2 && isxdigit(static_cast<unsigned char>(n[0])) &&
				    isxdigit(static_cast<unsigned char>(n[1])) && n == pm::normalize_name(n))
					continue;
				walk_entry(pt, top, n, rel_top + "/" + n, t, 0);
			}
		}
		close(top);
	} else if (errno != ENOENT) {
		report(pt.findings, {"io", "", pkg, "", std::string("cannot open: ") + strerror(errno), -1, false, false});
	}
	// Whatever is left of the slice is missing.
	while (pt.links.have) {
		missing(pt, pt.links.next);
		pt.links.advance();
	}
	(void)files_before;
	bool ok = fflush(pt.findings) == 0;
	ok = fclose(pt.findings) == 0 && ok;
	if (!ok || rename(tmp.c_str(), fin.c_str()) != 0) {
		LOG_ERROR("cannot write %s: %s", fin.c_str(), strerror(errno));
		fatal_ = true;
		return;
	}
	LOG_DEBUG("Checked packages/%s", name.c_str());
}

bool Verify::files_pass()
{
	if (o_.s3) return s3_files_pass();
	std::vector<int> todo;
	for (int p = 0; p < kParts; p++)
		if (!pm::file_exists(o_.work + "/findings." + part_name(p))) todo.push_back(p);
	if (todo.size() < kParts) LOG_INFO("Resuming: %zu of %d parts of web/packages left", todo.size(), kParts);
	std::atomic<size_t> next{0};
	auto worker = [&] {
		for (;;) {
			size_t i = next++;
			if (i >= todo.size() || fatal_) return;
			check_part(todo[i]);
		}
	};
	std::vector<std::thread> threads;
	for (int i = 1; i < o_.jobs; i++) threads.emplace_back(worker);
	worker();
	for (auto &t : threads) t.join();
	return !fatal_;
}

// ===================================================== THE MIRROR IN A BUCKET
// -d s3://BUCKET/PREFIX: the same checks and the same records as on a
// filesystem. What a walk reads, a bucket lists: ListObjectsV2, 1,000 keys a
// request. The page pass lists web/simple/ and web/pypi/ and fetches the
// pages kPageBatch at a time on one multi handle. The file pass lists
// web/packages/xx for the 256 hash prefixes, -j of them at once on one multi
// handle, each page by page; a prefix's keys go through an external sort
// (a bucket lists in byte order, the links are in path order, where '/'
// comes first) and are merge-joined with that prefix's links as a
// directory walk is. An object's sha256 is the one artifact-get stored in
// its user metadata (x-amz-meta-sha256), read by a HEAD, since a listing
// carries no user metadata; only --hash reads the bytes. Each finished
// prefix is a findings file in the local work directory, as on a
// filesystem, so a killed run resumes at the prefixes it had not finished.
//
// 256 prefixes (packages/xx), not 65,536 (xx/yy): at PyPI's ~10 M files a
// prefix holds ~40,000 objects, 40 full listing pages, so a kill loses a few
// seconds of listing per prefix in flight, while 65,536 prefixes would cost
// 65,536 requests however small the mirror, most answering part-filled pages.

struct Verify::S3Part {
	std::unique_ptr<Part> pt;
	std::string name, tmp, fin;
	std::unique_ptr<pm::ExternalSorter> listed; // "packages/...\tSIZE" of the prefix, path order
	bool listed_done = false, merge_done = false, finished = false;
	int outstanding = 0; // HEADs (GETs with --hash) in flight
	std::vector<std::pair<std::string, Problem>> doomed; // --gc: strays for one multi-object DELETE
};

// Fetches the object of a layout path into FILE in the work directory and
// returns that file's path (on a filesystem, path itself). err: 0, ENOENT
// (no such object) or EIO (logged).
std::string Verify::s3_local(const std::string &path, const char *file, int &err)
{
	err = 0;
	if (!o_.s3) return path;
	std::string local = o_.work + "/" + file;
	unlink(local.c_str());
	FILE *f = fopen(local.c_str(), "wb");
	if (!f) {
		err = errno;
		return local;
	}
	pm::Request r = pm::s3_get(o_.s3->config(), o_.s3->key(path));
	r.on_data = [f](const char *d, size_t n) { return fwrite(d, 1, n, f) == n; };
	r.on_restart = [f] {
		rewind(f);
		if (ftruncate(fileno(f), 0) != 0) clearerr(f);
	};
	pm::Response resp = s3_http_->fetch(std::move(r));
	bool ok = fclose(f) == 0;
	if (resp.ok() && ok) return local;
	unlink(local.c_str());
	if (resp.status == 404) {
		err = ENOENT;
	} else {
		LOG_ERROR("cannot read %s: %s", path.c_str(), resp.ok() ? strerror(errno) : pm::s3_describe(resp).c_str());
		err = EIO;
	}
	return local;
}

// Lists every key under the layout-relative prefix rel (ending in '/'),
// page by page; each gets the rest of the key and the size.
bool Verify::s3_list(const std::string &rel, const std::function<void(const std::string &, long long)> &each)
{
	const pm::S3Config &c = o_.s3->config();
	std::string full = c.key(rel), token;
	do {
		pm::Response r = s3_http_->fetch(pm::s3_list(c, full, token));
		pm::S3ListPage page;
		std::string why;
		if (!r.ok() || !pm::parse_s3_list(r.body, page, why)) {
			LOG_ERROR("cannot list %s/%s: %s", c.location().c_str(), rel.c_str(),
			          r.ok() ? why.c_str() : pm::s3_describe(r).c_str());
			return false;
		}
		for (auto &o : page.objects)
			if (o.key.compare(0, full.size(), full) == 0) each(o.key.substr(full.size()), o.size);
		token = page.truncated ? page.next_token : "";
	} while (!token.empty());
	return true;
}

// The page directories and JSON API copies a bucket holds, from listings of
// web/simple/ and web/pypi/; what a page directory holds besides its pages
// is reported here (a bucket has no temporaries: a PUT is atomic).
bool Verify::s3_list_simple(const std::function<void(Problem)> &problem, pm::ExternalSorter &names,
                            pm::ExternalSorter &jsondirs)
{
	const pm::Layout &m = o_.s3->layout();
	std::string simple = layout::simple(o_.dir), last, last_bad;
	bool ok = s3_list(m.relative(simple) + "/", [&](const std::string &rest, long long) {
		if (std::find_if(std::begin(layout::kRootFiles), std::end(layout::kRootFiles),
		                 [&](const char *r) { return rest == r; }) != std::end(layout::kRootFiles))
			return;
		size_t slash = rest.find('/');
		if (slash == std::string::npos) {
			problem({"stray", "", simple + "/" + rest, "", "web/simple entry is an object, not a project directory"});
			return;
		}
		std::string n = rest.substr(0, slash), file = rest.substr(slash + 1);
		if (n.find_first_of("\t\n") != std::string::npos || !pm::valid_project_name(n) || pm::normalize_name(n) != n) {
			if (n != last_bad)
				problem({"unsafe", "", simple + "/" + n, "",
				         "web/simple entry is not a normalized project name; not followed"});
			last_bad = n;
			return;
		}
		if (n != last) names.add(n); // the listing is sorted: a project's keys come together
		last = n;
		if (std::find_if(std::begin(layout::kPageFiles), std::end(layout::kPageFiles),
		                 [&](const char *p) { return file == p; }) == std::end(layout::kPageFiles))
			problem({"stray", n, simple + "/" + rest, "", "page directory holds an object that is not a page", -1,
			         false});
	});
	last.clear();
	return ok && s3_list(m.relative(layout::json_api_dir(o_.dir)) + "/", [&](const std::string &rest, long long) {
		       // NAME/json
		       size_t slash = rest.find('/');
		       std::string n = rest.substr(0, slash);
		       if (slash == std::string::npos || rest.compare(slash, std::string::npos, "/json") != 0 || n == last ||
		           n.find('\t') != std::string::npos || !pm::valid_project_name(n) || pm::normalize_name(n) != n)
			       return;
		       jsondirs.add(n);
		       last = n;
	       });
}

// Fetches the pages (and JSON API copies) of a batch of projects at once,
// then checks each project in order as on a filesystem.
void Verify::s3_page_batch(std::vector<PageJob> &batch,
                           std::unordered_map<std::string, std::pair<int, std::string>> &docs,
                           const ProjectCheck &check)
{
	docs.clear();
	const pm::S3Config &c = o_.s3->config();
	for (auto &j : batch) {
		std::vector<std::string> paths{layout::page_dir(o_.dir, j.name) + "/" + layout::kPageJson};
		if (j.has_json || o_.json) {
			paths.push_back(layout::json_api(o_.dir, j.name));
			paths.push_back(layout::json_short(o_.dir, j.name));
		}
		for (auto &path : paths) {
			s3_http_->add(pm::s3_get(c, o_.s3->key(path)), [&docs, path](pm::Request &, pm::Response &r) {
				auto &d = docs[path];
				d.first = r.ok() ? 0 : r.status == 404 ? ENOENT : EIO;
				if (r.ok()) d.second = std::move(r.body);
				else if (r.status != 404) LOG_ERROR("cannot read %s: %s", path.c_str(), pm::s3_describe(r).c_str());
			});
		}
	}
	s3_http_->run(o_.jobs * kObjectWindow);
	for (auto &j : batch) check(j.name, j.root_serial, j.in_root, j.in_html);
	batch.clear();
	docs.clear();
}

bool Verify::s3_files_pass()
{
	s3_todo_.clear();
	s3_next_ = 0;
	for (int p = 0; p < kParts; p++)
		if (!pm::file_exists(o_.work + "/findings." + part_name(p))) s3_todo_.push_back(p);
	if (s3_todo_.size() < kParts) LOG_INFO("Resuming: %zu of %d parts of web/packages left", s3_todo_.size(), kParts);
	// Which hash prefixes hold anything: one listing of web/packages/ with a
	// delimiter, so a small mirror costs a few requests, not 256.
	s3_present_.assign(256, true);
	{
		std::vector<bool> seen(256, false);
		const pm::S3Config &c = o_.s3->config();
		std::string pk = o_.s3->key(layout::packages(o_.dir)) + "/", token;
		bool ok = true;
		do {
			pm::Response r = s3_http_->fetch(pm::s3_list(c, pk, token, 1000, "/"));
			pm::S3ListPage page;
			std::string why;
			if (!r.ok() || !pm::parse_s3_list(r.body, page, why)) {
				LOG_WARN("cannot list %s: %s; listing every prefix", pk.c_str(),
				         r.ok() ? why.c_str() : pm::s3_describe(r).c_str());
				ok = false;
				break;
			}
			auto mark = [&](const std::string &k) {
				unsigned h;
				if (k.size() >= pk.size() + 2 && sscanf(k.c_str() + pk.size(), "%2x", &h) == 1 && h < 256) seen[h] = true;
			};
			for (auto &o : page.objects) mark(o.key);
			for (auto &cp : page.prefixes) mark(cp);
			token = page.truncated ? page.next_token : "";
		} while (!token.empty());
		if (ok) s3_present_ = seen;
	}
	std::vector<std::unique_ptr<S3Part>> slots;
	for (int i = 0; i < o_.jobs && s3_next_ < s3_todo_.size(); i++) {
		slots.push_back(std::make_unique<S3Part>());
		s3_start(*slots.back(), s3_todo_[s3_next_++]);
	}
	s3_http_->run(o_.jobs * kObjectWindow);
	if (no_meta_ > 0)
		LOG_INFO("%lld objects carry no sha256 in their metadata: only their size was checked (--hash reads them)",
		         no_meta_.load());
	return !fatal_;
}

// Starts a prefix: its slice of the links, its findings file, the first
// page of its listing (packages/xx, no slash: a stray packages/xxfoo is
// in the same slice of the links as in the listing).
void Verify::s3_start(S3Part &sp, int p)
{
	sp.pt = std::make_unique<Part>();
	Part &pt = *sp.pt;
	pt.p = p;
	std::vector<char>().swap(pt.buf); // nothing is hashed from a file here
	sp.name = part_name(p);
	sp.fin = o_.work + "/findings." + sp.name;
	sp.tmp = sp.fin + ".tmp";
	sp.listed_done = sp.merge_done = sp.finished = false;
	sp.outstanding = 0;
	sp.doomed.clear();
	pt.findings = fopen(sp.tmp.c_str(), "w");
	pt.links.f = fopen(links_path_.c_str(), "rb");
	if (!pt.findings || !pt.links.f || fseeko(pt.links.f, offsets_[p], SEEK_SET) != 0) {
		LOG_ERROR("cannot use the work directory %s: %s", o_.work.c_str(), strerror(errno));
		fatal_ = sp.finished = true;
		return;
	}
	pt.links.left = offsets_[p + 1] - offsets_[p];
	pt.links.advance();
	sp.listed = std::make_unique<pm::ExternalSorter>(o_.work, "listed." + sp.name, 2u << 20);
	// The links outside a hash prefix (none can be in the store's
	// listings), and a prefix that holds nothing: no listing.
	if (p == 256 || !s3_present_[p]) {
		sp.listed->finish();
		sp.listed_done = true;
		s3_advance(sp);
		return;
	}
	s3_list_next(sp, "");
}

void Verify::s3_list_next(S3Part &sp, const std::string &token)
{
	const pm::S3Config &c = o_.s3->config();
	std::string web = o_.s3->key(layout::web(o_.dir)) + "/";
	std::string prefix = o_.s3->key(layout::packages(o_.dir) + "/" + sp.name);
	s3_http_->add(pm::s3_list(c, prefix, token), [this, &sp, web](pm::Request &, pm::Response &r) {
		pm::S3ListPage page;
		std::string why;
		if (!r.ok() || !pm::parse_s3_list(r.body, page, why)) {
			// Unlisted, the prefix is not judged: none of its links is called missing.
			report(sp.pt->findings, {"io", "", std::string(layout::kPackagesRel) + "/" + sp.name, "",
			                         "cannot list: " + (r.ok() ? why : pm::s3_describe(r)), -1, false, false});
			sp.listed_done = sp.merge_done = true;
			s3_advance(sp);
			return;
		}
		for (auto &o : page.objects) {
			if (o.key.compare(0, web.size(), web) != 0) continue;
			std::string rel = o.key.substr(web.size());
			if (rel.find_first_of("\t\n") != std::string::npos) {
				report(sp.pt->findings, {"unsafe", "", rel, "", "object key holds a tab or newline; not checked"});
				continue;
			}
			sp.listed->add(rel + "\t" + std::to_string(o.size));
		}
		if (page.truncated) {
			s3_list_next(sp, page.next_token);
			return;
		}
		if (!sp.listed->finish()) {
			LOG_ERROR("sorting: %s", sp.listed->error().c_str());
			fatal_ = true;
		}
		sp.listed_done = true;
		s3_advance(sp);
	});
}

// The merge-join of a listed prefix with its links, a few objects ahead of
// the answers: at most kObjectWindow requests of a prefix in flight.
void Verify::s3_advance(S3Part &sp)
{
	Part &pt = *sp.pt;
	std::string rec;
	while (sp.listed_done && !sp.merge_done && sp.outstanding < kObjectWindow && !fatal_) {
		if (!sp.listed->next(rec)) {
			if (!sp.listed->error().empty()) {
				LOG_ERROR("sorting: %s", sp.listed->error().c_str());
				fatal_ = true;
				break;
			}
			while (pt.links.have) {
				missing(pt, pt.links.next);
				pt.links.advance();
			}
			sp.merge_done = true;
			break;
		}
		size_t t = rec.rfind('\t');
		s3_object(sp, rec.substr(0, t), atoll(rec.c_str() + t + 1));
	}
	if ((sp.merge_done || fatal_) && sp.outstanding == 0 && !sp.finished) s3_finish(sp);
}

// One listed object: a stray, or linked (size from the listing, sha256
// from its metadata).
void Verify::s3_object(S3Part &sp, const std::string &rel, long long size)
{
	Part &pt = *sp.pt;
	c_.files++;
	drain(pt, rel);
	std::string key = o_.s3->key(pm::Layout(o_.dir).file(rel));
	if (pt.cur.empty()) {
		Problem p;
		p.kind = "stray";
		p.path = rel;
		p.detail = "no page links this object";
		if (o_.gc && gc_blocked_) {
			p.detail += "; not removed (a page could not be read: its files are not known)";
		} else if (o_.gc) {
			if (c_.removed.fetch_add(1) >= o_.max_deletions && o_.max_deletions > 0) {
				c_.removed--;
				c_.kept_by_cap++;
				p.detail += "; not removed (--max-deletions reached)";
			} else {
				sp.doomed.emplace_back(key, p);
				if (sp.doomed.size() >= 1000) s3_flush_gc(sp);
				return;
			}
		}
		report(pt.findings, p);
		return;
	}
	std::vector<LinkRec> want;
	for (auto &l : pt.cur) {
		if (l.size >= 0 && size != l.size)
			report(pt.findings, {"size", l.name, rel, l.file,
			                     "object has " + std::to_string(size) + " bytes, the page promises " +
			                         std::to_string(l.size),
			                     l.serial, true});
		else
			want.push_back(l);
	}
	pt.cur.clear();
	if (want.empty()) return;
	const pm::S3Config &c = o_.s3->config();
	std::shared_ptr<pm::Digest> digest;
	pm::Request r = o_.hash ? pm::s3_get(c, key) : pm::s3_head(c, key);
	if (o_.hash) {
		digest = std::make_shared<pm::Digest>();
		r.on_data = [this, digest](const char *d, size_t n) {
			digest->update(d, n);
			c_.bytes_hashed += static_cast<long long>(n);
			return true;
		};
		r.on_restart = [digest] { digest->reset(); };
	}
	sp.outstanding++;
	s3_http_->add(std::move(r), [this, &sp, rel, want, digest](pm::Request &, pm::Response &resp) {
		sp.outstanding--;
		Part &pt = *sp.pt;
		if (resp.status == 404) { // gone since it was listed
			for (auto &l : want) missing(pt, l);
		} else if (!resp.ok()) {
			report(pt.findings, {"io", want[0].name, rel, want[0].file, "cannot look up: " + pm::s3_describe(resp),
			                     want[0].serial, false, false});
		} else {
			std::string got = digest ? digest->hex() : resp.header("x-amz-meta-sha256");
			if (got.empty()) no_meta_++; // stored by another tool: its size was all there was to check
			for (auto &l : want)
				if (!got.empty() && got != l.sha)
					report(pt.findings, {l.size < 0 ? "metadata" : "hash", l.name, rel, l.file,
					                     std::string(digest ? "sha256 is " : "sha256 in the object's metadata is ") +
					                         got + ", the page promises " + l.sha,
					                     l.serial, true});
		}
		s3_advance(sp);
	});
}

// --gc: the strays gathered go in one multi-object DELETE; each is reported
// removed only once the store answered.
void Verify::s3_flush_gc(S3Part &sp)
{
	if (sp.doomed.empty()) return;
	std::vector<std::string> keys;
	for (auto &d : sp.doomed) keys.push_back(d.first);
	std::string why;
	bool ok = o_.s3->remove(keys, why);
	if (!ok) LOG_ERROR("%s", why.c_str());
	for (auto &[key, p] : sp.doomed) {
		if (ok) {
			p.removed = true;
			p.damage = false;
			p.detail += "; removed";
			LOG_INFO("Removed %s", pm::printable_path(p.path).c_str());
			std::lock_guard<std::mutex> g(removed_mu_);
			std::string line = pm::printable_path(p.path) + "\n";
			if (write(removed_fd_, line.data(), line.size()) < 0) LOG_WARN("cannot record the removal of %s", line.c_str());
		} else {
			c_.removed--;
			p.detail += "; not removed (the delete failed)";
		}
		report(sp.pt->findings, p);
	}
	sp.doomed.clear();
}

// A prefix is done: its findings file is its checkpoint; the slot takes
// the next prefix.
void Verify::s3_finish(S3Part &sp)
{
	sp.finished = true;
	s3_flush_gc(sp);
	Part &pt = *sp.pt;
	bool ok = fflush(pt.findings) == 0;
	ok = fclose(pt.findings) == 0 && ok;
	pt.findings = nullptr;
	sp.listed.reset();
	if (fatal_) return;
	if (!ok || rename(sp.tmp.c_str(), sp.fin.c_str()) != 0) {
		LOG_ERROR("cannot write %s: %s", sp.fin.c_str(), strerror(errno));
		fatal_ = true;
		return;
	}
	LOG_DEBUG("Checked packages/%s", sp.name.c_str());
	if (s3_next_ < s3_todo_.size()) s3_start(sp, s3_todo_[s3_next_++]);
}
// ================================================= END THE MIRROR IN A BUCKET

// The end: counts every finding, names each damaged project once (with the
// serial its page was written at), writes the --gc list and the summary.
bool Verify::finish_report()
{
	pm::ExternalSorter damaged(o_.work, "damaged", 4u << 20);
	long long problems = 0, damage = 0, io = 0, removed = 0, files = c_.files;
	std::string line;
	rapidjson::Document d;
	std::string err;
	for (int p = -1; p < kParts; p++) {
		std::string path = o_.work + "/findings." + (p < 0 ? std::string("pages") : part_name(p));
		FILE *f = fopen(path.c_str(), "r");
		if (!f) {
			LOG_ERROR("cannot read %s: %s", path.c_str(), strerror(errno));
			return false;
		}
		pm::NdjsonReader in(f);
		while (in.next(d, err)) {
			if (!err.empty()) continue;
			std::string type = pm::get_string(d, "type");
			if (type == "_stats") {
				projects_ = pm::get_int(d, "projects");
				page_files_ = pm::get_int(d, "files");
				continue;
			}
			problems++;
			if (pm::get_bool(d, "damage")) damage++;
			if (pm::get_string(d, "kind") == "io") io++;
			if (pm::get_bool(d, "removed")) removed++;
			if (pm::get_bool(d, "repair")) {
				std::string n = pm::get_string(d, "name");
				if (pm::valid_project_name(n))
					damaged.add(n + "\t" + std::to_string(std::max(0LL, pm::get_int(d, "serial", 0))));
			}
		}
		fclose(f);
	}
	if (!damaged.finish()) {
		LOG_ERROR("sorting: %s", damaged.error().c_str());
		return false;
	}
	long long ndamaged = 0;
	std::string rec, last;
	long long last_serial = -1;
	auto flush_project = [&]() {
		if (last.empty()) return true;
		ndamaged++;
		rapidjson::Document r(rapidjson::kObjectType);
		pm::set_string(r, r, "type", "project");
		pm::set_string(r, r, "name", last);
		pm::set_int(r, r, "serial", last_serial);
		LOG_INFO("Damaged project: %s (serial %lld)", last.c_str(), last_serial);
		return emit_line(pm::to_json(r));
	};
	while (damaged.next(rec)) {
		size_t t = rec.find('\t');
		std::string n = rec.substr(0, t);
		long long s = atoll(rec.c_str() + t + 1);
		if (n != last) {
			if (!flush_project()) return false;
			last = n;
			last_serial = s;
		} else {
			last_serial = std::max(last_serial, s);
		}
	}
	if (!flush_project()) return false;
	if (!o_.gc_list.empty()) {
		std::string text;
		pm::read_file(o_.work + "/removed", text, 1u << 30);
		std::string werr;
		if (!pm::write_file_atomic(o_.gc_list, text, false, &werr)) {
			LOG_ERROR("cannot write --gc-list: %s", werr.c_str());
			fatal_ = true;
		}
	}
	rapidjson::Document s(rapidjson::kObjectType);
	pm::set_string(s, s, "type", "verified");
	pm::set_int(s, s, "projects", projects_);
	pm::set_int(s, s, "files", page_files_);
	pm::set_int(s, s, "walked", files);
	pm::set_int(s, s, "problems", problems);
	pm::set_int(s, s, "damage", damage);
	pm::set_int(s, s, "damaged_projects", ndamaged);
	pm::set_int(s, s, "removed", removed);
	pm::set_bool(s, s, "hash", o_.hash);
	pm::set_bool(s, s, "resumed", resumed_);
	emit_line(pm::to_json(s));
	LOG_INFO("mirror-verify: %lld projects, %lld files linked, %lld problems (%lld damage, %lld removed), %lld "
	         "damaged projects%s",
	         projects_, page_files_, problems, damage, removed, ndamaged, resumed_ ? " (resumed)" : "");
	exit_ = damage > 0 ? kExitDamage : io > 0 ? pm::kExitSomeFailed : pm::kExitOk;
	return !fatal_;
}

int Verify::run()
{
	if (o_.s3) {
		s3_http_ = std::make_unique<pm::Http>();
		std::string why;
		if (!o_.s3->check(why)) {
			LOG_TOOL_ERROR("%s: %s", o_.dir.c_str(), why.c_str());
			return pm::kExitFatal;
		}
	}
	bool resume = false;
	if (!prepare_work(resume)) return pm::kExitFatal;
	resumed_ = resume;
	if (resume) {
		LOG_INFO("Resuming from the checkpoint in %s", o_.work.c_str());
		gc_blocked_ = pm::file_exists(o_.work + "/gc-blocked");
		// What the killed run found is reported again: this output is whole.
		for (int p = -1; p < kParts; p++) {
			std::string path = o_.work + "/findings." + (p < 0 ? std::string("pages") : part_name(p));
			FILE *f = fopen(path.c_str(), "r");
			if (!f) continue;
			char *l = nullptr;
			size_t cap = 0;
			ssize_t n;
			while ((n = getline(&l, &cap, f)) > 0) {
				std::string s(l, static_cast<size_t>(n));
				if (!s.empty() && s.back() == '\n') s.pop_back();
				if (s.find("\"type\":\"problem\"") != std::string::npos && !emit_line(s)) break;
			}
			free(l);
			fclose(f);
		}
	} else if (!pages_pass()) {
		return pm::kExitFatal;
	}
	if (o_.gc && gc_blocked_) LOG_WARN("Some pages could not be read: --gc removes nothing this run");
	if (fatal_ || !files_pass() || !finish_report()) return pm::kExitFatal;
	close(removed_fd_);
	// Done: the checkpoint has served.
	wipe_dir(o_.work);
	rmdir(o_.work.c_str());
	return exit_;
}

} // namespace

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); // a closed stdout is an error we report
	Options o;
	pm::MirrorOptions mo;
	pm::parse_options(kProg, kCommandLine, argc, argv, [&](int c) {
		if (mo.option(c, kProg, optarg)) return;
		switch (c) {
		case 'j': o.jobs = static_cast<int>(pm::parse_count(kProg, "--jobs", optarg, 1, 64)); break;
		case kOptHash: o.hash = true; break;
		case kOptJson: o.json = true; break;
		case kOptGc: o.gc = true; break;
		case kOptMaxDeletions: o.max_deletions = pm::parse_count(kProg, "--max-deletions", optarg); break;
		case kOptGcList: o.gc_list = optarg; break;
		case kOptTmp: o.work = optarg; break;
		case kOptRestart: o.restart = true; break;
		}
	});
	o.s3 = pm::s3_store_from_options(kProg, mo);
	o.dir = mo.dir;
	if (!o.gc_list.empty() && !o.gc) {
		fprintf(stderr, "%s: --gc-list needs --gc\n", kProg);
		return pm::kExitUsage;
	}
	if (o.s3) {
		// A bucket's checkpoint is local: the layout's checkpoint directory
		// of a local shadow of the location, kept across reboots.
		if (o.work.empty()) {
			const char *t = getenv("TMPDIR");
			const pm::S3Config &c = o.s3->config();
			o.work = layout::default_work(std::string(t && *t ? t : "/var/tmp") + "/pypi-mirror-verify/" + c.bucket +
			                              (c.prefix.empty() ? "" : "/" + c.prefix));
		}
		Verify v(std::move(o));
		return v.run();
	}
	struct stat st;
	if (stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
		LOG_ERROR("mirror directory %s: %s", o.dir.c_str(), errno ? strerror(errno) : "not a directory");
		return pm::kExitFatal;
	}
	if (o.work.empty()) o.work = layout::default_work(o.dir);
	Verify v(std::move(o));
	return v.run();
}
