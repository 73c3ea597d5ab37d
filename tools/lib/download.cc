#include "download.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "hash.h"
#include "http.h"
#include "url.h"

namespace pm {

bool set_mtime(const std::string &path, long long mtime)
{
	struct timespec ts[2];
	ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(mtime);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	return utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0;
}

LocalCheck check_local_file(const std::string &path, long long size, const std::string &sha256, long long mtime,
                            CompareMethod method)
{
	LocalCheck c;
	long long have_size, have_mtime;
	// stat_file uses lstat: a symlink counts as missing and is replaced by
	// the download's rename, never followed.
	if (!stat_file(path, have_size, have_mtime)) return c;
	if (size >= 0 && have_size != size) {
		c.state = LocalState::Wrong;
		c.detail = "size " + std::to_string(have_size) + ", want " + std::to_string(size);
		return c;
	}
	if (method == CompareMethod::Stat && mtime >= 0 && have_mtime == mtime) {
		c.state = LocalState::Current;
		return c;
	}
	c.hashed = true;
	std::string got = sha256_file(path);
	if (got != sha256) {
		c.state = LocalState::Wrong;
		c.detail = got.empty() ? std::string("unreadable: ") + strerror(errno) : "sha256 " + got + ", want " + sha256;
		return c;
	}
	c.state = LocalState::Current;
	// Content is right but the mtime is not: fix it so a later stat run
	// trusts the file without reading it.
	if (mtime >= 0 && have_mtime != mtime) c.mtime_fixed = set_mtime(path, mtime);
	return c;
}

bool path_stays_inside(const std::string &root, const std::string &rel, std::string *why)
{
	std::string cur = root;
	size_t start = 0;
	for (;;) {
		size_t slash = rel.find('/', start);
		if (slash == std::string::npos) return true; // the last segment is the file itself
		cur += "/" + rel.substr(start, slash - start);
		start = slash + 1;
		struct stat st;
		if (lstat(cur.c_str(), &st) != 0) {
			if (errno == ENOENT) return true; // created later by mkdir, as a real directory
			if (why) *why = "cannot inspect " + cur + ": " + strerror(errno);
			return false;
		}
		if (S_ISLNK(st.st_mode)) {
			if (why) *why = cur + " is a symlink; refusing to write through it";
			return false;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (why) *why = cur + " is not a directory";
			return false;
		}
	}
}

std::string url_for_path(const std::string &base, const std::string &rel)
{
	std::string out = base;
	while (!out.empty() && out.back() == '/') out.pop_back();
	size_t start = 0;
	for (;;) {
		size_t slash = rel.find('/', start);
		out += "/" + url_escape(rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
		if (slash == std::string::npos) break;
		start = slash + 1;
	}
	return out;
}

} // namespace pm
