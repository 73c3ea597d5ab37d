// Release files in the mirror: deciding whether a file already on disk is
// current, keeping writes inside the mirror's web root, and the URLs files
// are fetched from. Shared by artifact-get and anything that verifies a
// mirror's files.
#pragma once
#include <string>

namespace pm {

// How an existing file is judged current (bandersnatch's compare-method):
// Stat trusts size + mtime == upload time and reads no body; Hash always
// reads the body. Both require the size to match first.
enum class CompareMethod { Stat, Hash };

enum class LocalState {
	Missing, // not there (or not a regular file): download it
	Current, // in place and verified
	Wrong,   // there, but size or sha256 differ: download over it
};

struct LocalCheck {
	LocalState state = LocalState::Missing;
	bool hashed = false;      // the body was read
	bool mtime_fixed = false; // content matched; the mtime was reset to mtime
	std::string detail;       // why it is Wrong, for a debug message
};

// Looks at path. size < 0: unknown (a .metadata companion), not compared.
// mtime < 0: unknown, neither trusted (Stat hashes instead) nor set.
LocalCheck check_local_file(const std::string &path, long long size, const std::string &sha256, long long mtime,
                            CompareMethod method);

// Sets a file's access and modification time (seconds); false on failure.
bool set_mtime(const std::string &path, long long mtime);

// Checks that writing root/rel cannot leave root through a symlink: every
// existing directory between root and the file (root itself excluded) must
// be a real directory. rel must already be a validated relative path.
bool path_stays_inside(const std::string &root, const std::string &rel, std::string *why = nullptr);

// base (a web root URL such as "https://mirror.example/pypi/web") joined with
// a mirror-relative path, each segment percent-encoded.
std::string url_for_path(const std::string &base, const std::string &rel);

} // namespace pm
