#include "fsutil.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <random>
#include <set>
#include <csignal>
#include <mutex>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pm {

std::string dirname_of(const std::string &path)
{
	auto s = path.rfind('/');
	if (s == std::string::npos) return ".";
	if (s == 0) return "/";
	return path.substr(0, s);
}

std::string basename_of(const std::string &path)
{
	auto s = path.rfind('/');
	return s == std::string::npos ? path : path.substr(s + 1);
}

// mkdir_p() with dir resolved from dirfd.
static bool mkdir_p_at(int dirfd, const std::string &dir)
{
	if (dir.empty()) return true;
	struct stat st;
	if (fstatat(dirfd, dir.c_str(), &st, 0) == 0) {
		if (S_ISDIR(st.st_mode)) return true;
		errno = ENOTDIR;
		return false;
	}
	std::string parent = dirname_of(dir);
	if (parent != dir && !mkdir_p_at(dirfd, parent)) return false;
	if (mkdirat(dirfd, dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
	return true;
}

bool mkdir_p(const std::string &dir) { return mkdir_p_at(AT_FDCWD, dir); }

// getpid() is a system call on every write of a page; the pid is looked up
// once, and again in a child after fork() (which would otherwise name its
// temporaries after its parent, and remove_stale_temps would judge them by
// the parent's life).
static pid_t cached_pid = 0;

static pid_t my_pid()
{
	static bool registered = [] { return pthread_atfork(nullptr, nullptr, [] { cached_pid = 0; }) == 0; }();
	(void)registered;
	if (cached_pid == 0) cached_pid = getpid();
	return cached_pid;
}

static std::string random_suffix()
{
	static std::mt19937_64 rng{std::random_device{}() ^ static_cast<unsigned long>(my_pid())};
	char buf[32];
	snprintf(buf, sizeof buf, "%d.%08llx", static_cast<int>(my_pid()),
	         static_cast<unsigned long long>(rng() & 0xffffffffULL));
	return buf;
}

DirHandle::~DirHandle()
{
	if (fd_ >= 0) close(fd_);
}

bool DirHandle::open(const std::string &path)
{
	if (fd_ >= 0) close(fd_);
	fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	path_ = path;
	while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
	return fd_ >= 0;
}

int DirHandle::at(const std::string &path, const char *&rel) const
{
	size_t n = path_.size();
	if (fd_ >= 0 && path.size() > n + 1 && path.compare(0, n, path_) == 0 && path[n] == '/' && path[n + 1] != '/') {
		rel = path.c_str() + n + 1;
		return fd_;
	}
	rel = path.c_str();
	return AT_FDCWD;
}

AtomicFile::~AtomicFile() { abort(); }

// The write buffers of finished files, for the next ones. Growing a fresh
// 256 KiB string per download cost a malloc past the mmap threshold (or
// brk up and down), its copies while it doubled, and a zero-filled page
// fault per 4 KiB touched: perf counted 4-5x the page faults of the code
// without a buffer. At most as many are kept as were in use at once (the
// transfers in flight), bounded, and never freed (reachable: no leak).
namespace {
constexpr size_t kPoolMax = 64;
std::mutex pool_mu;
std::vector<std::string> *pool = new std::vector<std::string>;
} // namespace

void AtomicFile::take_buffer()
{
	{
		std::lock_guard<std::mutex> lk(pool_mu);
		if (!pool->empty()) {
			buf_.swap(pool->back());
			pool->pop_back();
		}
	}
	if (buf_.capacity() < buf_cap_) buf_.reserve(buf_cap_); // once, not by doubling
}

void AtomicFile::give_back_buffer()
{
	buf_.clear();
	if (buf_.capacity() < buf_cap_ || buf_cap_ == 0) return;
	std::lock_guard<std::mutex> lk(pool_mu);
	if (pool->size() < kPoolMax) pool->push_back(std::move(buf_));
	buf_ = std::string();
}

bool AtomicFile::open(const std::string &target, std::string *error, const DirHandle *base)
{
	abort();
	target_ = target;
	std::string dir = dirname_of(target);
	// Hidden, and named after the target so leftovers are recognisable.
	tmp_ = dir + "/." + basename_of(target) + "." + random_suffix() + ".tmp";
	const char *rel;
	dirfd_ = base ? base->at(target_, rel) : AT_FDCWD;
	off_ = dirfd_ == AT_FDCWD ? 0 : static_cast<size_t>(rel - target_.c_str()); // tmp_ has the same directory
	constexpr int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
	fd_ = ::openat(dirfd_, tmp_.c_str() + off_, flags, 0644);
	if (fd_ < 0 && errno == ENOENT) {
		// The directory is missing (checking it first would cost a stat on
		// every write into one that exists, the usual case). Its parent
		// usually exists: one mkdir, else the whole chain.
		std::string rdir = dir.size() >= off_ ? dir.substr(off_) : "."; // resolved from dirfd_
		if (mkdirat(dirfd_, rdir.c_str(), 0755) != 0 && errno != EEXIST &&
		    (errno != ENOENT || !mkdir_p_at(dirfd_, rdir))) {
			if (error) *error = "cannot create " + dir + ": " + strerror(errno);
			return false;
		}
		fd_ = ::openat(dirfd_, tmp_.c_str() + off_, flags, 0644);
	}
	if (fd_ < 0) {
		if (error) *error = "cannot create " + tmp_ + ": " + strerror(errno);
		return false;
	}
	failed_ = false;
	return true;
}

bool AtomicFile::write(const void *data, size_t n)
{
	if (fd_ < 0 || failed_) return false;
	const char *p = static_cast<const char *>(data);
	if (buf_cap_ > 0) {
		if (buf_.empty() && buf_.capacity() < buf_cap_) take_buffer();
		if (buf_.size() + n <= buf_cap_) { // the usual piece: kept for one big write
			buf_.append(p, n);
			return true;
		}
		if (!flush()) return false;
		if (n < buf_cap_) {
			buf_.append(p, n);
			return true;
		}
	}
	return write_through(p, n);
}

bool AtomicFile::write_through(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = ::write(fd_, p, n);
		if (w < 0) {
			if (errno == EINTR) continue;
			failed_ = true;
			err_ = errno;
			return false;
		}
		p += w;
		n -= static_cast<size_t>(w);
	}
	return true;
}

// Writes out what write() collected.
bool AtomicFile::flush()
{
	bool ok = write_through(buf_.data(), buf_.size());
	buf_.clear();
	return ok;
}

bool AtomicFile::truncate()
{
	if (fd_ < 0) return false;
	failed_ = false;
	buf_.clear();
	return ftruncate(fd_, 0) == 0 && lseek(fd_, 0, SEEK_SET) == 0;
}

bool AtomicFile::commit(bool sync, std::string *error, long long mtime)
{
	auto fail = [&](const std::string &what, int e) {
		if (error) *error = what + " " + tmp_ + ": " + strerror(e);
		abort();
		return false;
	};
	if (fd_ < 0) return fail("not open", EBADF);
	if (!failed_ && !buf_.empty()) flush();
	give_back_buffer();
	if (failed_) return fail("cannot write", err_);
	if (sync && fsync(fd_) != 0) return fail("cannot fsync", errno);
	if (mtime >= 0) {
		struct timespec ts[2];
		ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(mtime);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		futimens(fd_, ts);
	}
	if (close(fd_) != 0) {
		fd_ = -1;
		return fail("cannot close", errno);
	}
	fd_ = -1;
	if (renameat(dirfd_, tmp_.c_str() + off_, dirfd_, target_.c_str() + off_) != 0) {
		int e = errno;
		unlinkat(dirfd_, tmp_.c_str() + off_, 0);
		if (error) *error = "cannot rename to " + target_ + ": " + strerror(e);
		return false;
	}
	if (sync) {
		// The rename itself is durable only once the directory is synced.
		int d = ::open(dirname_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d >= 0) {
			fsync(d);
			close(d);
		}
	}
	return true;
}

void AtomicFile::abort()
{
	give_back_buffer();
	if (fd_ >= 0) {
		close(fd_);
		fd_ = -1;
		unlinkat(dirfd_, tmp_.c_str() + off_, 0);
	}
}

bool read_file(const std::string &path, std::string &out, size_t max, const DirHandle *base)
{
	out.clear();
	const char *rel = path.c_str();
	int dfd = base ? base->at(path, rel) : AT_FDCWD;
	int fd = ::openat(dfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return false;
	char buf[65536];
	for (;;) {
		ssize_t r = ::read(fd, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR) continue;
			close(fd);
			return false;
		}
		if (r == 0) break;
		if (out.size() + static_cast<size_t>(r) > max) {
			close(fd);
			errno = EFBIG;
			return false;
		}
		out.append(buf, static_cast<size_t>(r));
	}
	close(fd);
	return true;
}

bool write_file_atomic(const std::string &path, const std::string &data, bool sync, std::string *error,
                       bool *changed, const DirHandle *base)
{
	std::string old;
	bool have = read_file(path, old, data.size() + 1, base);
	return write_file_atomic_over(path, data, have ? &old : nullptr, sync, error, changed, base);
}

bool write_file_atomic_over(const std::string &path, const std::string &data, const std::string *old, bool sync,
                            std::string *error, bool *changed, const DirHandle *base)
{
	if (old && *old == data) {
		if (changed) *changed = false;
		return true;
	}
	if (changed) *changed = true;
	AtomicFile f;
	if (!f.open(path, error, base)) return false;
	if (!f.write(data)) {
		if (error) *error = "cannot write " + f.temp_path() + ": " + strerror(errno);
		return false;
	}
	return f.commit(sync, error);
}

bool write_new_file_twice(const std::string &path, const std::string &twin, const std::string &data, bool sync,
                          std::string *error, const DirHandle *base)
{
	if (!write_file_atomic_over(path, data, nullptr, sync, error, nullptr, base)) return false;
	const char *rel, *twin_rel;
	int at = base ? base->at(path, rel) : AT_FDCWD;
	int twin_at = base ? base->at(twin, twin_rel) : AT_FDCWD;
	// The link gets a temporary's name (a crash leaves only what
	// remove_stale_temps sweeps), then the rename makes it the twin.
	std::string tmp = dirname_of(twin) + "/." + basename_of(twin) + "." + random_suffix() + ".tmp";
	const char *tmp_rel = tmp.c_str() + (twin_rel - twin.c_str()); // the same directory, resolved the same way
	if (at == twin_at && linkat(at, rel, twin_at, tmp_rel, 0) == 0) {
		if (renameat(twin_at, tmp_rel, twin_at, twin_rel) == 0) {
			if (sync) { // the new name is durable once the directory is synced
				int d = ::open(dirname_of(twin).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (d >= 0) {
					fsync(d);
					close(d);
				}
			}
			return true;
		}
		int e = errno;
		unlinkat(twin_at, tmp_rel, 0);
		if (error) *error = "cannot rename to " + twin + ": " + strerror(e);
		return false;
	}
	return write_file_atomic_over(twin, data, nullptr, sync, error, nullptr, base);
}

bool file_exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0;
}

bool stat_file(const std::string &path, long long &size, long long &mtime, const DirHandle *base)
{
	struct stat st;
	const char *rel = path.c_str();
	int dfd = base ? base->at(path, rel) : AT_FDCWD;
	if (fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return false;
	size = st.st_size;
	mtime = st.st_mtime;
	return true;
}

bool remove_file(const std::string &path) { return unlink(path.c_str()) == 0; }

void prune_empty_dirs(std::string dir, const std::string &stop)
{
	// dir must be strictly inside stop: "web2/x" is not under "web".
	while (dir.size() > stop.size() && dir.rfind(stop, 0) == 0 &&
	       (stop.empty() || stop.back() == '/' || dir[stop.size()] == '/')) {
		if (rmdir(dir.c_str()) != 0) return;
		dir = dirname_of(dir);
	}
}

// Is n (a name in a directory) a temporary AtomicFile::open made, with a
// prefix of at least prefix, whose writer is gone?
static bool stale_temp(const char *n, const std::string &prefix)
{
	if (strncmp(n, prefix.c_str(), prefix.size()) != 0) return false;
	// Exactly what AtomicFile::open makes: .<target>.<pid>.<8 hex>.tmp. With
	// a target's own prefix, anything else (".x.metadata.<pid>...", the
	// temporary of x.metadata) is not ours; with the bare "." prefix the
	// pid is the last but two dot-separated part.
	size_t len = strlen(n);
	if (len < prefix.size() + 14 || strcmp(n + len - 4, ".tmp") != 0) return false;
	const char *hex = n + len - 12; // <pid>.<8 hex>.tmp
	for (int i = 0; i < 8; i++)
		if (!isxdigit(static_cast<unsigned char>(hex[i]))) return false;
	if (hex[-1] != '.') return false;
	const char *first = n + prefix.size(), *p = hex - 1; // p: the pid's first digit
	while (p > first && isdigit(static_cast<unsigned char>(p[-1]))) p--;
	if (p == hex - 1) return false; // no pid
	if (prefix.size() > 1) {
		if (p != first) return false; // the target's prefix, then the pid
	} else if (p - 1 <= first || p[-1] != '.') {
		return false; // ".<target>.<pid>": a name, then a dot before the pid
	}
	long pid = strtol(p, nullptr, 10);
	// Only temporaries whose writer is gone: the pid is in the name.
	// EPERM means the process exists (another user's), so it is alive.
	// Our own pid is alive too: this process may be writing the same
	// target for another project right now (two projects can list one
	// path), and its own failed writes remove their temporaries.
	if (pid > 0 && (pid == my_pid() || kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) return false;
	return true;
}

void remove_stale_temps(const std::string &target)
{
	std::string dir = dirname_of(target), prefix = "." + basename_of(target) + ".";
	DIR *d = opendir(dir.c_str());
	if (!d) return;
	while (struct dirent *e = readdir(d))
		if (stale_temp(e->d_name, prefix)) unlink((dir + "/" + e->d_name).c_str());
	closedir(d);
}

void remove_stale_temps_in(const std::string &dir, const DirHandle *base)
{
	const char *rel = dir.c_str();
	int at = base ? base->at(dir, rel) : AT_FDCWD;
	int fd = openat(at, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	static const std::string dot = ".";
	while (struct dirent *e = readdir(d))
		if (stale_temp(e->d_name, dot)) unlinkat(fd, e->d_name, 0);
	closedir(d);
}

bool DirCache::open(const std::string &root)
{
	known_.clear();
	root_path_ = root;
	while (root_path_.size() > 1 && root_path_.back() == '/') root_path_.pop_back();
	return root_.open(root_path_);
}

DirCache::Entry &DirCache::remember(const std::string &dir, bool fresh)
{
	if (known_.size() >= max_) known_.clear(); // bounded; what is forgotten is looked at again
	Entry &e = known_[dir];
	e.fresh = fresh;
	return e;
}

DirCache::State DirCache::prepare(const std::string &rel, bool create, std::string *why)
{
	size_t slash = rel.rfind('/');
	if (slash == std::string::npos) return State::Existing; // directly under root
	std::string dir = rel.substr(0, slash), name = rel.substr(slash + 1);
	auto it = known_.find(dir);
	if (it == known_.end()) {
		if (root_.fd() < 0) { // root itself is missing (a dry run into a new mirror)
			if (!create) return State::Missing;
			if (why) *why = "cannot open " + root_path_;
			return State::Refused;
		}
		// Below the deepest directory known, each one in turn: mkdir first
		// (it is what a new file needs, and says "made" or "there" in one
		// call), a look only at one that was there already.
		size_t start = 0;
		for (size_t s = dir.rfind('/'); s != std::string::npos && s > 0; s = dir.rfind('/', s - 1))
			if (known_.count(dir.substr(0, s))) {
				start = s + 1;
				break;
			}
		int fd = root_.fd();
		for (size_t pos = start;;) {
			size_t end = dir.find('/', pos);
			std::string sub = dir.substr(0, end);
			bool fresh = create && mkdirat(fd, sub.c_str(), 0755) == 0;
			if (!fresh) {
				std::string full = root_path_ + "/" + sub;
				if (create && errno != EEXIST) {
					if (why) *why = "cannot create " + full + ": " + strerror(errno);
					return State::Refused;
				}
				struct stat st;
				if (fstatat(fd, sub.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
					if (!create && errno == ENOENT) return State::Missing;
					if (why) *why = "cannot inspect " + full + ": " + strerror(errno);
					return State::Refused;
				}
				if (S_ISLNK(st.st_mode)) {
					if (why) *why = full + " is a symlink; refusing to write through it";
					return State::Refused;
				}
				if (!S_ISDIR(st.st_mode)) {
					if (why) *why = full + " is not a directory";
					return State::Refused;
				}
			}
			remember(sub, fresh);
			if (end == std::string::npos) break;
			pos = end + 1;
		}
		it = known_.find(dir);
	}
	Entry &e = it->second;
	if (!e.fresh) return State::Existing;
	for (auto &h : e.handed)
		if (h == name) return State::Existing; // listed twice: it may be there by now
	e.handed.push_back(std::move(name));
	return State::Fresh;
}

bool DirCache::first_sweep(const std::string &rel)
{
	size_t slash = rel.rfind('/');
	auto it = known_.find(slash == std::string::npos ? std::string() : rel.substr(0, slash));
	if (it == known_.end()) return true; // forgotten (or root itself): sweep to be sure
	if (it->second.fresh || it->second.swept) return false;
	it->second.swept = true;
	return true;
}

long long parse_iso8601(const std::string &s)
{
	struct tm tm {};
	const char *end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end) return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++) {}
	if (*end == 'Z' || *end == 'z') end++;
	else if (*end == '+' && !strcmp(end, "+00:00")) end += 6;
	if (*end) return -1;
	return static_cast<long long>(timegm(&tm));
}

std::string format_time(long long t, const char *fmt, bool utc)
{
	time_t tt = static_cast<time_t>(t);
	struct tm tm;
	if (utc)
		gmtime_r(&tt, &tm);
	else
		localtime_r(&tt, &tm);
	char buf[64];
	size_t n = strftime(buf, sizeof buf, fmt, &tm);
	return std::string(buf, n);
}

} // namespace pm
