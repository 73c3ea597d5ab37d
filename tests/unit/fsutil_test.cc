// Unit tests for tools/lib/fsutil.{h,cc}: atomic writes, the status file,
// temporaries and directory clean-up.
#include "fsutil.h"
#include "layout.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

class FsTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/pm-fsutil-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir = tmpl;
	}
	void TearDown() override
	{
		auto rm = [](const char *p, const struct stat *, int, struct FTW *) { return remove(p); };
		ASSERT_EQ(nftw(dir.c_str(), rm, 16, FTW_DEPTH | FTW_PHYS), 0);
	}

	// Names in d (without . and ..).
	static std::set<std::string> list(const std::string &d)
	{
		std::set<std::string> out;
		DIR *h = opendir(d.c_str());
		if (!h) return out;
		while (auto *e = readdir(h))
			if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.insert(e->d_name);
		closedir(h);
		return out;
	}
	static std::string slurp(const std::string &p)
	{
		std::string s;
		EXPECT_TRUE(pm::read_file(p, s)) << p;
		return s;
	}
	static void put(const std::string &p, const std::string &data)
	{
		FILE *f = fopen(p.c_str(), "wb");
		ASSERT_NE(f, nullptr) << p;
		fwrite(data.data(), 1, data.size(), f);
		fclose(f);
	}
	std::string dir;
};

TEST_F(FsTest, AtomicCommitPublishesExactBytes)
{
	std::string target = dir + "/sub/dir/file.bin";
	std::string data("a\0b\nc\xff", 6);
	{
		pm::AtomicFile f;
		std::string err;
		ASSERT_TRUE(f.open(target, &err)) << err; // creates the directories
		EXPECT_TRUE(f.is_open());
		// The temporary is hidden and next to the target.
		EXPECT_EQ(pm::dirname_of(f.temp_path()), dir + "/sub/dir");
		EXPECT_EQ(pm::basename_of(f.temp_path())[0], '.');
		EXPECT_FALSE(pm::file_exists(target)); // nothing under the real name yet
		ASSERT_TRUE(f.write(data.data(), 3));
		ASSERT_TRUE(f.write(data.substr(3)));
		ASSERT_TRUE(f.commit(true, &err)) << err;
		EXPECT_FALSE(f.is_open());
		EXPECT_FALSE(pm::file_exists(f.temp_path()));
	}
	EXPECT_EQ(slurp(target), data);
	EXPECT_EQ(list(dir + "/sub/dir"), std::set<std::string>{"file.bin"});
	struct stat st;
	ASSERT_EQ(stat(target.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(FsTest, AtomicReplacesExisting)
{
	std::string target = dir + "/f";
	put(target, "old contents that are longer");
	pm::AtomicFile f;
	ASSERT_TRUE(f.open(target));
	ASSERT_TRUE(f.write("new"));
	EXPECT_EQ(slurp(target), "old contents that are longer"); // untouched until commit
	ASSERT_TRUE(f.commit(false));
	EXPECT_EQ(slurp(target), "new");
}

TEST_F(FsTest, UncommittedLeavesNothing)
{
	std::string target = dir + "/f";
	std::string tmp;
	{
		pm::AtomicFile f;
		ASSERT_TRUE(f.open(target));
		ASSERT_TRUE(f.write("partial"));
		tmp = f.temp_path();
		EXPECT_TRUE(pm::file_exists(tmp));
	}
	EXPECT_FALSE(pm::file_exists(tmp));
	EXPECT_FALSE(pm::file_exists(target));
	EXPECT_TRUE(list(dir).empty());
}

TEST_F(FsTest, AbortKeepsOldFile)
{
	std::string target = dir + "/f";
	put(target, "old");
	pm::AtomicFile f;
	ASSERT_TRUE(f.open(target));
	ASSERT_TRUE(f.write("new"));
	f.abort();
	EXPECT_FALSE(f.is_open());
	EXPECT_EQ(slurp(target), "old");
	EXPECT_EQ(list(dir), std::set<std::string>{"f"});
	EXPECT_FALSE(f.write("x"));   // not open any more
	EXPECT_FALSE(f.commit(false)); // nothing to commit
	EXPECT_EQ(slurp(target), "old");
	f.abort(); // twice is harmless
}

TEST_F(FsTest, ReopenDiscardsPrevious)
{
	pm::AtomicFile f;
	ASSERT_TRUE(f.open(dir + "/a"));
	std::string first = f.temp_path();
	ASSERT_TRUE(f.open(dir + "/b"));
	EXPECT_FALSE(pm::file_exists(first));
	ASSERT_TRUE(f.write("b"));
	ASSERT_TRUE(f.commit(false));
	EXPECT_EQ(list(dir), std::set<std::string>{"b"});
}

TEST_F(FsTest, TruncateThenWrite)
{
	std::string target = dir + "/f";
	pm::AtomicFile f;
	ASSERT_TRUE(f.open(target));
	ASSERT_TRUE(f.write("first attempt, longer"));
	ASSERT_TRUE(f.truncate());
	ASSERT_TRUE(f.write("second"));
	ASSERT_TRUE(f.commit(false));
	EXPECT_EQ(slurp(target), "second");
}

TEST_F(FsTest, CommitWithMtime)
{
	std::string target = dir + "/f";
	const long long when = 1700000000; // 2023-11-14
	pm::AtomicFile f;
	ASSERT_TRUE(f.open(target));
	ASSERT_TRUE(f.write("x"));
	ASSERT_TRUE(f.commit(false, nullptr, when));
	long long size = 0, mtime = 0;
	ASSERT_TRUE(pm::stat_file(target, size, mtime));
	EXPECT_EQ(size, 1);
	EXPECT_EQ(mtime, when);

	// Without an mtime it is "now".
	pm::AtomicFile g;
	ASSERT_TRUE(g.open(target));
	ASSERT_TRUE(g.commit(false));
	ASSERT_TRUE(pm::stat_file(target, size, mtime));
	EXPECT_EQ(size, 0);
	EXPECT_GT(mtime, when);
}

TEST_F(FsTest, OpenFailsWhereDirectoryCannotExist)
{
	put(dir + "/plain", "x");
	pm::AtomicFile f;
	std::string err;
	EXPECT_FALSE(f.open(dir + "/plain/f", &err));
	EXPECT_FALSE(err.empty());
	EXPECT_FALSE(f.is_open());
}

TEST_F(FsTest, WriteFileAtomicUnchanged)
{
	std::string p = dir + "/index.html";
	bool changed = false;
	std::string err;
	ASSERT_TRUE(pm::write_file_atomic(p, "hello", false, &err, &changed)) << err;
	EXPECT_TRUE(changed);
	EXPECT_EQ(slurp(p), "hello");

	// Age it so a rewrite would be visible.
	struct timespec ts[2] = {{1600000000, 0}, {1600000000, 0}};
	ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), ts, 0), 0);
	struct stat before, after;
	ASSERT_EQ(stat(p.c_str(), &before), 0);

	ASSERT_TRUE(pm::write_file_atomic(p, "hello", false, &err, &changed)) << err;
	EXPECT_FALSE(changed);
	ASSERT_EQ(stat(p.c_str(), &after), 0);
	EXPECT_EQ(after.st_ino, before.st_ino);
	EXPECT_EQ(after.st_mtime, 1600000000);

	// A prefix or an extension of the old contents is a change.
	ASSERT_TRUE(pm::write_file_atomic(p, "hell", false, &err, &changed));
	EXPECT_TRUE(changed);
	EXPECT_EQ(slurp(p), "hell");
	ASSERT_TRUE(pm::write_file_atomic(p, "hello!", false, &err, &changed));
	EXPECT_TRUE(changed);
	EXPECT_EQ(slurp(p), "hello!");
	ASSERT_TRUE(pm::write_file_atomic(p, "", false, &err, &changed));
	EXPECT_TRUE(changed);
	EXPECT_EQ(slurp(p), "");
	ASSERT_TRUE(pm::write_file_atomic(p, "", false, &err, &changed));
	EXPECT_FALSE(changed);
	EXPECT_EQ(list(dir), std::set<std::string>{"index.html"});
}

TEST_F(FsTest, AtomicOpenMakesMissingDirectories)
{
	pm::AtomicFile f;
	std::string err;
	ASSERT_TRUE(f.open(dir + "/a/b/c/f", &err)) << err; // the whole chain
	ASSERT_TRUE(f.write("x"));
	ASSERT_TRUE(f.commit(false, &err)) << err;
	EXPECT_EQ(slurp(dir + "/a/b/c/f"), "x");
	ASSERT_TRUE(f.open(dir + "/a/b/d/f", &err)) << err; // one level
	ASSERT_TRUE(f.commit(false, &err)) << err;
	EXPECT_EQ(list(dir + "/a/b"), (std::set<std::string>{"c", "d"}));
}

TEST_F(FsTest, WriteFileAtomicOverTrustsTheCallersOldContent)
{
	std::string p = dir + "/page";
	put(p, "old");
	std::string err, known = "new";
	bool changed = true;
	// The caller says the file holds "new": nothing is written.
	ASSERT_TRUE(pm::write_file_atomic_over(p, "new", &known, false, &err, &changed)) << err;
	EXPECT_FALSE(changed);
	EXPECT_EQ(slurp(p), "old");
	// Absent (nullptr) or different: written, without reading it first.
	ASSERT_TRUE(pm::write_file_atomic_over(p, "new", nullptr, false, &err, &changed)) << err;
	EXPECT_TRUE(changed);
	EXPECT_EQ(slurp(p), "new");
	known = "other";
	ASSERT_TRUE(pm::write_file_atomic_over(dir + "/sub/page", "x", &known, false, &err, &changed)) << err;
	EXPECT_TRUE(changed);
	EXPECT_EQ(slurp(dir + "/sub/page"), "x");
}

TEST_F(FsTest, DirHandleResolvesPathsUnderIt)
{
	ASSERT_TRUE(pm::mkdir_p(dir + "/web/simple"));
	pm::DirHandle web;
	ASSERT_TRUE(web.open(dir + "/web/"));
	const char *rel = nullptr;
	// (rel points into the path given: each is a named string here)
	std::string under = dir + "/web/simple/x", beside = dir + "/web2/x", itself = dir + "/web",
	            doubled = dir + "/web//x";
	EXPECT_NE(web.at(under, rel), AT_FDCWD);
	EXPECT_STREQ(rel, "simple/x");
	EXPECT_EQ(web.at(beside, rel), AT_FDCWD); // not under it
	EXPECT_EQ(web.at(itself, rel), AT_FDCWD);
	EXPECT_EQ(web.at(doubled, rel), AT_FDCWD); // never an absolute rest

	// Move the directory away: what goes through the handle follows it,
	// which shows the handle (not the path) was used.
	ASSERT_EQ(rename((dir + "/web").c_str(), (dir + "/moved").c_str()), 0);
	ASSERT_EQ(mkdir((dir + "/web").c_str(), 0755), 0);
	std::string err, s;
	bool changed = false;
	ASSERT_TRUE(pm::write_file_atomic(dir + "/web/simple/p/index.html", "page", false, &err, &changed, &web)) << err;
	EXPECT_TRUE(changed);
	EXPECT_EQ(slurp(dir + "/moved/simple/p/index.html"), "page");
	EXPECT_TRUE(pm::read_file(dir + "/web/simple/p/index.html", s, 100, &web));
	EXPECT_EQ(s, "page");
	ASSERT_TRUE(pm::write_file_atomic(dir + "/web/simple/p/index.html", "page", false, &err, &changed, &web));
	EXPECT_FALSE(changed);
	long long size = -1, mtime = -1;
	EXPECT_TRUE(pm::stat_file(dir + "/web/simple/p/index.html", size, mtime, &web));
	EXPECT_EQ(size, 4);
	EXPECT_FALSE(pm::stat_file(dir + "/web/simple/p/index.html", size, mtime)); // by path: not there
	EXPECT_EQ(list(dir + "/moved/simple/p"), std::set<std::string>{"index.html"}); // no temporary left
	ASSERT_TRUE(pm::write_file_atomic(dir + "/web/top", "t", false, &err, nullptr, &web)) << err; // right in it
	EXPECT_EQ(slurp(dir + "/moved/top"), "t");
	ASSERT_TRUE(pm::write_file_atomic(dir + "/web/new/er/f", "n", false, &err, nullptr, &web)) << err;
	EXPECT_EQ(slurp(dir + "/moved/new/er/f"), "n");
	EXPECT_EQ(list(dir + "/web"), std::set<std::string>{});
	// A path outside it is resolved as usual.
	ASSERT_TRUE(pm::write_file_atomic(dir + "/other", "o", false, &err, nullptr, &web)) << err;
	EXPECT_EQ(slurp(dir + "/other"), "o");
}

TEST_F(FsTest, ReadFileLimit)
{
	put(dir + "/f", "0123456789");
	std::string s;
	EXPECT_TRUE(pm::read_file(dir + "/f", s, 10));
	EXPECT_EQ(s, "0123456789");
	EXPECT_FALSE(pm::read_file(dir + "/f", s, 9));
	EXPECT_FALSE(pm::read_file(dir + "/missing", s));
}

TEST_F(FsTest, StatAndRemove)
{
	long long size = -1, mtime = -1;
	EXPECT_FALSE(pm::stat_file(dir + "/missing", size, mtime));
	EXPECT_FALSE(pm::stat_file(dir, size, mtime)); // not a regular file
	put(dir + "/f", "abc");
	ASSERT_EQ(symlink("f", (dir + "/link").c_str()), 0);
	EXPECT_FALSE(pm::stat_file(dir + "/link", size, mtime)); // a symlink is not trusted
	EXPECT_TRUE(pm::stat_file(dir + "/f", size, mtime));
	EXPECT_EQ(size, 3);
	EXPECT_TRUE(pm::remove_file(dir + "/f"));
	EXPECT_FALSE(pm::remove_file(dir + "/f"));
	EXPECT_FALSE(pm::file_exists(dir + "/f"));
}

TEST_F(FsTest, ReadStatus)
{
	long long serial = -1;
	std::string err;
	EXPECT_TRUE(pm::read_status(pm::Layout(dir), serial, &err)) << err; // missing: 0
	EXPECT_EQ(serial, 0);

	put(dir + "/status", "123");
	EXPECT_TRUE(pm::read_status(pm::Layout(dir), serial, &err)) << err;
	EXPECT_EQ(serial, 123);

	put(dir + "/status", "123\n");
	EXPECT_TRUE(pm::read_status(pm::Layout(dir), serial, &err)) << err;
	EXPECT_EQ(serial, 123);

	put(dir + "/status", "27182818\r\n");
	EXPECT_TRUE(pm::read_status(pm::Layout(dir), serial, &err)) << err;
	EXPECT_EQ(serial, 27182818);

	for (const char *bad : {"", "\n", "abc", "12a", "-5", "1 2", "1.5", "0x10", "9999999999999999999999"}) {
		put(dir + "/status", bad);
		err.clear();
		EXPECT_FALSE(pm::read_status(pm::Layout(dir), serial, &err)) << bad;
		EXPECT_FALSE(err.empty()) << bad;
	}
	put(dir + "/status", std::string(100, '1')); // too big to be a serial
	EXPECT_FALSE(pm::read_status(pm::Layout(dir), serial, &err));

	// A status that is a directory cannot be read.
	ASSERT_EQ(unlink((dir + "/status").c_str()), 0);
	ASSERT_EQ(mkdir((dir + "/status").c_str(), 0755), 0);
	EXPECT_FALSE(pm::read_status(pm::Layout(dir), serial, &err));
}

TEST_F(FsTest, WriteStatusNoNewline)
{
	std::string err;
	ASSERT_TRUE(pm::write_status(pm::Layout(dir + "/mirror"), 1154164, &err)) << err;
	EXPECT_EQ(slurp(dir + "/mirror/status"), "1154164");
	long long serial = 0;
	ASSERT_TRUE(pm::read_status(pm::Layout(dir + "/mirror"), serial, &err));
	EXPECT_EQ(serial, 1154164);
	EXPECT_EQ(list(dir + "/mirror"), std::set<std::string>{"status"});
}

TEST(FsUtil, ParseIso8601)
{
	EXPECT_EQ(pm::parse_iso8601("1970-01-01T00:00:00"), 0);
	EXPECT_EQ(pm::parse_iso8601("2024-01-02T03:04:05"), 1704164645);
	EXPECT_EQ(pm::parse_iso8601("2024-01-02T03:04:05Z"), 1704164645);
	EXPECT_EQ(pm::parse_iso8601("2024-01-02T03:04:05.123456Z"), 1704164645);
	EXPECT_EQ(pm::parse_iso8601("2024-01-02T03:04:05.123456"), 1704164645);
	EXPECT_EQ(pm::parse_iso8601("2024-01-02T03:04:05+00:00"), 1704164645);
	EXPECT_EQ(pm::parse_iso8601("2024-02-29T23:59:59Z"), 1709251199);
	for (const char *bad : {"", "garbage", "2024-01-02", "2024-01-02T03:04", "2024-01-02T03:04:05Zjunk",
	                        "2024-01-02T03:04:05+01:00", "2024-13-02T03:04:05Z", "2024-01-02 03:04:05x"})
		EXPECT_EQ(pm::parse_iso8601(bad), -1) << bad;
}

TEST(FsUtil, FormatTime)
{
	EXPECT_EQ(pm::format_iso8601(0), "1970-01-01T00:00:00Z");
	EXPECT_EQ(pm::format_iso8601(1704164645), "2024-01-02T03:04:05Z");
	EXPECT_EQ(pm::parse_iso8601(pm::format_iso8601(1709251199)), 1709251199);
	EXPECT_EQ(pm::format_time(1704164645, "%Y%m%dT%H:%M:%S\n", true), "20240102T03:04:05\n");
	// Local time follows TZ (two hours east of UTC here), UTC does not.
	const char *old_tz = getenv("TZ");
	std::string saved = old_tz ? old_tz : "";
	setenv("TZ", "XXX-2", 1);
	tzset();
	EXPECT_EQ(pm::format_time(1704164645, "%Y-%m-%d %H:%M:%S", false), "2024-01-02 05:04:05");
	EXPECT_EQ(pm::format_time(1704164645, "%Y-%m-%d %H:%M:%S", true), "2024-01-02 03:04:05");
	if (old_tz)
		setenv("TZ", saved.c_str(), 1);
	else
		unsetenv("TZ");
	tzset();
}

TEST(FsUtil, DirnameBasename)
{
	EXPECT_EQ(pm::dirname_of("a/b/c"), "a/b");
	EXPECT_EQ(pm::dirname_of("c"), ".");
	EXPECT_EQ(pm::dirname_of("/c"), "/");
	EXPECT_EQ(pm::basename_of("a/b/c"), "c");
	EXPECT_EQ(pm::basename_of("c"), "c");
}

// A pid that is certainly not running: a child we started and reaped.
int dead_pid()
{
	pid_t p = fork();
	if (p == 0) _exit(0);
	int st;
	waitpid(p, &st, 0);
	return p;
}

TEST_F(FsTest, RemoveStaleTemps)
{
	std::string target = dir + "/demo-1.0.tar.gz";
	pid_t live = fork();
	ASSERT_GE(live, 0);
	if (live == 0) {
		pause();
		_exit(0);
	}
	int dead = dead_pid();
	std::string stale = "." + pm::basename_of(target) + "." + std::to_string(dead) + ".0123abcd.tmp";
	std::string alive = "." + pm::basename_of(target) + "." + std::to_string(live) + ".89abcdef.tmp";
	// Temporaries of other targets whose names start the same are not ours.
	std::string other = ".demo-1.0.tar.gz.metadata." + std::to_string(live) + ".00000000.tmp";
	std::string other_dead = ".demo-1.0.tar.gz.metadata." + std::to_string(dead) + ".00000000.tmp";
	for (auto &n : {stale, alive, other, other_dead}) put(dir + "/" + n, "x");
	put(target, "real");

	pm::remove_stale_temps(target);
	auto names = list(dir);
	EXPECT_EQ(names.count(stale), 0u);
	EXPECT_EQ(names.count(alive), 1u);
	EXPECT_EQ(names.count(other), 1u) << "removed a live temporary of another file";
	EXPECT_EQ(names.count(other_dead), 1u) << "target's clean-up removed another file's temporary";
	EXPECT_EQ(names.count("demo-1.0.tar.gz"), 1u);

	kill(live, SIGKILL);
	int st;
	waitpid(live, &st, 0);
	pm::remove_stale_temps(target);
	EXPECT_EQ(list(dir).count(alive), 0u);
}

TEST_F(FsTest, RemoveStaleTempsKeepsOtherUsersLiveWriter)
{
	// pid 1 is alive; when we may not signal it (not root), kill() says EPERM,
	// which still means "running".
	std::string target = dir + "/f.whl";
	std::string t = ".f.whl.1.0123abcd.tmp";
	put(dir + "/" + t, "x");
	if (geteuid() != 0) {
		pm::remove_stale_temps(target);
	} else {
		// As root kill() may signal anyone: clean up as an unprivileged child.
		ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
		pid_t c = fork();
		ASSERT_GE(c, 0);
		if (c == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
			pm::remove_stale_temps(target);
			_exit(0);
		}
		int st = 0;
		waitpid(c, &st, 0);
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "could not drop privileges";
	}
	EXPECT_EQ(list(dir).count(t), 1u);
}

TEST_F(FsTest, RemoveStaleTempsOfAtomicFile)
{
	// The names AtomicFile really makes are recognised (the parser is strict),
	// and only for their own target.
	std::string target = dir + "/g";
	pm::AtomicFile f;
	ASSERT_TRUE(f.open(target));
	std::string tmp = f.temp_path();
	pm::remove_stale_temps(dir + "/other");
	pm::remove_stale_temps(dir + "/g.metadata");
	pm::remove_stale_temps(dir + "/.g"); // hidden-name look-alike
	EXPECT_TRUE(pm::file_exists(tmp));
	// Our own pid counts as alive: this process may be writing the target
	// for another project (two projects listing one path). A crashed run that
	// had our pid leaves a temporary for a later run (or the wrapper's sweep).
	pm::remove_stale_temps(target);
	EXPECT_TRUE(pm::file_exists(tmp));
	f.abort();
	EXPECT_FALSE(pm::file_exists(tmp));
}

TEST_F(FsTest, PruneEmptyDirsStopsAtStop)
{
	std::string web = dir + "/web";
	ASSERT_TRUE(pm::mkdir_p(web + "/packages/ab/cd/hash"));
	ASSERT_TRUE(pm::mkdir_p(web + "/packages/ab/ef"));
	pm::prune_empty_dirs(web + "/packages/ab/cd/hash", web + "/packages");
	EXPECT_FALSE(pm::file_exists(web + "/packages/ab/cd"));
	EXPECT_TRUE(pm::file_exists(web + "/packages/ab")); // not empty: ef
	EXPECT_TRUE(pm::file_exists(web + "/packages"));

	pm::prune_empty_dirs(web + "/packages/ab/ef", web + "/packages");
	EXPECT_FALSE(pm::file_exists(web + "/packages/ab"));
	EXPECT_TRUE(pm::file_exists(web + "/packages")); // the stop dir stays, though empty

	// A directory that only shares a prefix with stop is outside it.
	ASSERT_TRUE(pm::mkdir_p(dir + "/webx/a"));
	pm::prune_empty_dirs(dir + "/webx/a", web);
	EXPECT_TRUE(pm::file_exists(dir + "/webx")) << "pruned outside the stop directory";

	// Stops at the first non-empty directory.
	ASSERT_TRUE(pm::mkdir_p(web + "/x/y"));
	put(web + "/x/keep", "k");
	pm::prune_empty_dirs(web + "/x/y", web);
	EXPECT_FALSE(pm::file_exists(web + "/x/y"));
	EXPECT_TRUE(pm::file_exists(web + "/x/keep"));

	// A trailing slash on stop works the same.
	ASSERT_TRUE(pm::mkdir_p(web + "/p/q"));
	pm::prune_empty_dirs(web + "/p/q", web + "/");
	EXPECT_FALSE(pm::file_exists(web + "/p"));
	EXPECT_TRUE(pm::file_exists(web));
}

TEST_F(FsTest, MkdirP)
{
	EXPECT_TRUE(pm::mkdir_p(dir + "/a/b/c"));
	struct stat st;
	ASSERT_EQ(stat((dir + "/a/b/c").c_str(), &st), 0);
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_TRUE(pm::mkdir_p(dir + "/a/b/c")); // exists already
	EXPECT_TRUE(pm::mkdir_p(dir + "/a/b/d/"));
	EXPECT_TRUE(pm::mkdir_p(""));
	put(dir + "/file", "x");
	errno = 0;
	EXPECT_FALSE(pm::mkdir_p(dir + "/file"));
	EXPECT_EQ(errno, ENOTDIR);
	EXPECT_FALSE(pm::mkdir_p(dir + "/file/sub"));
}

TEST_F(FsTest, MkdirPRelative)
{
	char cwd[4096];
	ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
	ASSERT_EQ(chdir(dir.c_str()), 0);
	bool ok = pm::mkdir_p("r/s");
	ASSERT_EQ(chdir(cwd), 0);
	EXPECT_TRUE(ok);
	EXPECT_TRUE(pm::file_exists(dir + "/r/s"));
}

} // namespace

namespace {

TEST_F(FsTest, RemoveStaleTempsInDirectorySweepsEveryDeadWriter)
{
	pid_t live = fork();
	ASSERT_GE(live, 0);
	if (live == 0) {
		pause();
		_exit(0);
	}
	std::string dead = std::to_string(dead_pid()), alive = std::to_string(live);
	std::set<std::string> gone = {".a.whl." + dead + ".0123abcd.tmp", ".a.whl.metadata." + dead + ".00000000.tmp"};
	std::set<std::string> kept = {".a.whl." + alive + ".89abcdef.tmp", // a live writer's
	                              "a.whl", ".a.whl", ".x.tmp", ".a.whl.12.tmp", ".a.whl.x12.0123abcd.tmp",
	                              "." + dead + ".0123abcd.tmp", // no target name before the pid
	                              ".a.whl." + dead + ".0123abcg.tmp"};
	for (auto &n : gone) put(dir + "/" + n, "x");
	for (auto &n : kept) put(dir + "/" + n, "x");
	pm::DirHandle base;
	ASSERT_TRUE(base.open(dir));
	pm::remove_stale_temps_in(dir, &base);
	EXPECT_EQ(list(dir), kept);
	kill(live, SIGKILL);
	int st;
	waitpid(live, &st, 0);
	pm::remove_stale_temps_in(dir);
	EXPECT_EQ(list(dir).count(".a.whl." + alive + ".89abcdef.tmp"), 0u);
}

TEST_F(FsTest, DirCacheMakesEachDirectoryOnceAndKnowsWhatIsFresh)
{
	ASSERT_EQ(mkdir((dir + "/packages").c_str(), 0755), 0);
	ASSERT_EQ(mkdir((dir + "/packages/aa").c_str(), 0755), 0);
	pm::DirCache c;
	ASSERT_TRUE(c.open(dir));
	using S = pm::DirCache::State;
	// Made by this run: the file cannot be there, and there is nothing to sweep.
	EXPECT_EQ(c.prepare("packages/aa/bb/h1/f.whl", true), S::Fresh);
	struct stat st;
	EXPECT_EQ(stat((dir + "/packages/aa/bb/h1").c_str(), &st), 0);
	EXPECT_EQ(c.prepare("packages/aa/bb/h1/f.whl.metadata", true), S::Fresh);
	EXPECT_FALSE(c.first_sweep("packages/aa/bb/h1/f.whl"));
	// The same name again (two projects list one path): it may be there now.
	EXPECT_EQ(c.prepare("packages/aa/bb/h1/f.whl", true), S::Existing);
	// A directory that was there: looked at, swept once.
	ASSERT_EQ(mkdir((dir + "/packages/aa/cc").c_str(), 0755), 0);
	EXPECT_EQ(c.prepare("packages/aa/cc/g.whl", true), S::Existing);
	EXPECT_TRUE(c.first_sweep("packages/aa/cc/g.whl"));
	EXPECT_FALSE(c.first_sweep("packages/aa/cc/h.whl"));
	// A dry run only looks: nothing made, the file is missing.
	EXPECT_EQ(c.prepare("packages/zz/yy/h/f.whl", false), S::Missing);
	EXPECT_NE(stat((dir + "/packages/zz").c_str(), &st), 0);
}

TEST_F(FsTest, DirCacheRefusesSymlinksAndFiles)
{
	ASSERT_EQ(mkdir((dir + "/web").c_str(), 0755), 0);
	ASSERT_EQ(mkdir((dir + "/outside").c_str(), 0755), 0);
	ASSERT_EQ(mkdir((dir + "/web/packages").c_str(), 0755), 0);
	ASSERT_EQ(symlink((dir + "/outside").c_str(), (dir + "/web/packages/ab").c_str()), 0);
	put(dir + "/web/packages/cd", "not a directory");
	for (bool create : {true, false}) {
		pm::DirCache c(2); // tiny: forgetting and looking again must stay safe
		ASSERT_TRUE(c.open(dir + "/web"));
		std::string why;
		EXPECT_EQ(c.prepare("packages/ab/x/f.whl", create, &why), pm::DirCache::State::Refused);
		EXPECT_NE(why.find("symlink"), std::string::npos) << why;
		EXPECT_EQ(c.prepare("packages/cd/x/f.whl", create, &why), pm::DirCache::State::Refused);
		EXPECT_NE(why.find("not a directory"), std::string::npos) << why;
		EXPECT_EQ(list(dir + "/outside").size(), 0u) << "made a directory through the symlink";
		for (int i = 0; i < 5; i++) c.prepare("packages/ok/" + std::to_string(i) + "/f", create);
		EXPECT_EQ(c.prepare("packages/ab/x/f.whl", create, &why), pm::DirCache::State::Refused);
	}
}

TEST_F(FsTest, BufferedAtomicFileWritesEveryByte)
{
	std::string target = dir + "/big.bin", want;
	pm::AtomicFile f;
	f.buffer(1000);
	ASSERT_TRUE(f.open(target));
	for (int i = 0; i < 300; i++) {
		std::string piece(static_cast<size_t>(i * 7 % 1500), static_cast<char>('a' + i % 26));
		want += piece;
		ASSERT_TRUE(f.write(piece));
		if (i == 100) { // a retried download starts over: nothing before counts
			ASSERT_TRUE(f.truncate());
			want.clear();
		}
	}
	EXPECT_FALSE(pm::file_exists(target));
	ASSERT_TRUE(f.commit(false));
	EXPECT_EQ(slurp(target), want);
}

} // namespace
