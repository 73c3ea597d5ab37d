// Files: atomic replacement, directories, reading and removing. Where they
// lie in the mirror is layout.h's business.
// Nothing is ever written under its real name: a temporary file in the same
// directory is written, checked, and renamed over the target, so a crash
// leaves either the old file or the new one, never a mix.
#pragma once
#include <fcntl.h>
#include <string>
#include <unordered_map>
#include <vector>

#include "nocopy.h"

namespace pm {

// Creates dir and its parents (mode 0755). Returns false and sets errno.
bool mkdir_p(const std::string &dir);

// A directory held open, so that paths under it are looked up from it
// instead of being walked from the root or the working directory at every
// system call (the kernel resolves a path one component at a time). Functions
// taking one still take full paths: those under the directory are resolved
// from it, any other as usual, and messages name the full path.
class DirHandle : NoCopy {
public:
	DirHandle() = default;
	~DirHandle();
	bool open(const std::string &path); // false (errno set) if it cannot be opened
	// The fd to resolve path from (AT_FDCWD when path is not under this
	// directory, or none is open), and path relative to it.
	int at(const std::string &path, const char *&rel) const;
	// rel points into path: a temporary would leave it dangling.
	int at(std::string &&path, const char *&rel) const = delete;
	int fd() const { return fd_; }

private:
	int fd_ = -1;
	std::string path_;
};

class AtomicFile : NoCopy {
public:
	AtomicFile() = default;
	~AtomicFile(); // an uncommitted file is removed

	// Opens a hidden temporary next to target (creating the directory if
	// it is missing). base: see DirHandle.
	bool open(const std::string &target, std::string *error = nullptr, const DirHandle *base = nullptr);
	bool write(const void *data, size_t n);
	bool write(const std::string &s) { return write(s.data(), s.size()); }
	// Collect writes in a buffer of up to n bytes (a download's body comes
	// in pieces of a few KiB): one write(2) per n bytes instead of one per
	// piece. A write error then shows at a later write or at commit().
	void buffer(size_t n) { buf_cap_ = n; }
	// Starts over (a retried download): truncates the temporary.
	bool truncate();
	// fsync (if asked), close, set mtime (if mtime >= 0), rename into place.
	bool commit(bool sync, std::string *error = nullptr, long long mtime = -1);
	void abort();
	bool is_open() const { return fd_ >= 0; }
	// The errno of a failed write (a buffered one may fail at commit()), else 0.
	int write_error() const { return failed_ ? err_ : 0; }
	const std::string &temp_path() const { return tmp_; }

private:
	int fd_ = -1;
	int dirfd_ = AT_FDCWD; // what target_ and tmp_ are resolved from, from off_ on
	size_t off_ = 0;
	std::string target_, tmp_;
	bool failed_ = false;
	int err_ = 0;
	size_t buf_cap_ = 0;
	std::string buf_;
	bool flush();
	void take_buffer();      // a pooled buffer of buf_cap_ bytes
	void give_back_buffer(); // to the pool, for the next file
	bool write_through(const char *p, size_t n); // every byte, or failed_
};

// The directories under a root (the mirror's web/) that a run has made or
// looked at, so that each is made, or checked to be a real directory, once
// per run and not once per file. A directory this run made (mkdir said so)
// holds only what the run put there: a file in it that the run has not
// handed out yet is surely absent (no stat), and it has no temporaries of
// an earlier run to sweep. Memory is bounded: past max_entries directories
// it forgets them all and starts over (looking again is safe, only slower).
class DirCache {
public:
	enum class State {
		Refused,  // a symlink or a non-directory on the way, or an error (why)
		Missing,  // (create false) a directory is missing: so is the file
		Fresh,    // made by this run and the file not handed out before: absent
		Existing, // there: the file may be too
	};
	explicit DirCache(size_t max_entries = 16384) : max_(max_entries) {}
	// root is trusted (the caller made it); it is held open and paths under
	// it are resolved from it.
	bool open(const std::string &root);
	// For the file root/rel (rel a validated relative path): makes the
	// directories between (create), or only looks at them. Never through a
	// symlink: every directory between root and the file must be a real one.
	State prepare(const std::string &rel, bool create, std::string *why = nullptr);
	// True the first time it is asked for the directory of root/rel since
	// it was made known (then sweep its leftover temporaries); false for a
	// Fresh directory, which has none.
	bool first_sweep(const std::string &rel);
	const DirHandle &root() const { return root_; }

private:
	struct Entry {
		bool fresh = false, swept = false;
		std::vector<std::string> handed; // in a fresh directory: names handed out
	};
	DirHandle root_;
	std::string root_path_;
	size_t max_;
	std::unordered_map<std::string, Entry> known_; // by directory relative to root
	Entry &remember(const std::string &dir, bool fresh);
};

// Writes data to path atomically. If the file already holds exactly data it
// is left alone (no mtime change, no rename) and *changed is false.
bool write_file_atomic(const std::string &path, const std::string &data, bool sync, std::string *error = nullptr,
                       bool *changed = nullptr, const DirHandle *base = nullptr);
// The same, for a caller that has just read the target itself (or found it
// absent): old is what it holds, nullptr when there is none. Saves reading
// it again. A missing directory is created either way.
bool write_file_atomic_over(const std::string &path, const std::string &data, const std::string *old, bool sync,
                            std::string *error = nullptr, bool *changed = nullptr, const DirHandle *base = nullptr);

// Writes data to path and to twin (another name in the same directory),
// atomically each, path first, neither of them there before (a directory
// just made): twin is a hard link to path's new file, renamed into place
// after it (open, write, close and two renames and a link, where two
// writes cost eight calls). Where links are refused, twin is written.
bool write_new_file_twice(const std::string &path, const std::string &twin, const std::string &data, bool sync,
                          std::string *error = nullptr, const DirHandle *base = nullptr);

bool read_file(const std::string &path, std::string &out, size_t max = 256u << 20, const DirHandle *base = nullptr);
bool file_exists(const std::string &path);
// Size and mtime of a regular file; false if it is missing or not regular.
bool stat_file(const std::string &path, long long &size, long long &mtime, const DirHandle *base = nullptr);
// Removes path; true if it was there and is gone.
bool remove_file(const std::string &path);
// Removes now-empty directories from dir up to (not including) stop.
void prune_empty_dirs(std::string dir, const std::string &stop);
// Removes leftover temporaries of target from an earlier crash.
void remove_stale_temps(const std::string &target);
// The same for every file in dir (one scan for all its targets). base: see
// DirHandle.
void remove_stale_temps_in(const std::string &dir, const DirHandle *base = nullptr);

std::string dirname_of(const std::string &path);
std::string basename_of(const std::string &path);

// "2024-01-02T03:04:05.123456Z" (or without fraction / Z) -> POSIX seconds.
// Returns -1 if it does not parse.
long long parse_iso8601(const std::string &s);
// POSIX seconds -> text by strftime's fmt, in UTC or in the local time zone.
std::string format_time(long long t, const char *fmt, bool utc);
// POSIX seconds -> "2024-01-02T03:04:05Z" (what parse_iso8601 reads back).
inline std::string format_iso8601(long long t) { return format_time(t, "%Y-%m-%dT%H:%M:%SZ", true); }

} // namespace pm
