// The mirror directory: where everything lives in it, and which projects it
// holds. Every tool asks here; no other file spells a path under DIR. This is
// the seam a second storage backend (object storage) plugs in at: what a
// tool does to the mirror goes through these names and functions.
//
//   DIR/web/                      what is served
//   DIR/web/simple/index.{html,v1_html,v1_json}   the root index
//   DIR/web/simple/NAME/index.{html,v1_html,v1_json}  a project's pages
//   DIR/web/packages/xx/yy/HASH/FILE[.metadata]   release files
//   DIR/web/json/NAME, DIR/web/pypi/NAME/json      JSON API copies (json = true)
//   DIR/web/last-modified         when a run last changed the mirror
//   DIR/status, DIR/generation    bandersnatch's serial and format generation
//   DIR/pypi-mirror.*             the wrapper's state between runs
//   DIR/.unlisted/NAME            files stored for NAME that no page lists yet
//   DIR/.pending-deletions/NAME   files to delete once NAME's new page is out
//   DIR/.pypi-mirror.work/, DIR/.spool/   a run's scratch space
//   DIR/.closure-cache/           pkg-closure's metadata cache
//   DIR/.pypi-mirror.reserve      disk space kept for recording a run's state
//   DIR/.pypi-mirror.verify-checkpoint/   mirror-verify's, resumable
#pragma once
#include <string>
#include <vector>

namespace pm {

class RootList;

class Layout {
public:
	explicit Layout(std::string dir); // trailing slashes are dropped
	const std::string &dir() const { return dir_; }
	// A path this layout made, relative to dir() ("web/packages/..."): the
	// object key under an S3 mirror's prefix (see s3_store.h).
	std::string relative(const std::string &path) const
	{
		return path.compare(0, dir_.size() + 1, dir_ + "/") == 0 ? path.substr(dir_.size() + 1) : path;
	}

	// Served.
	const std::string &web() const { return web_; }
	const std::string &simple() const { return simple_; }
	std::string root_index(const char *page = "index.v1_json") const { return simple_ + "/" + page; }
	std::string project_dir(const std::string &name) const { return simple_ + "/" + name; }
	// A mirror-relative file path ("packages/..."), as records carry it.
	std::string file(const std::string &rel) const { return web_ + "/" + rel; }
	std::string packages() const { return web_ + "/packages"; }
	std::string json_copy(const std::string &name) const { return web_ + "/json/" + name; }
	std::string json_api_dir() const { return web_ + "/pypi"; }
	std::string json_api(const std::string &name) const { return json_api_dir() + "/" + name + "/json"; }
	std::string last_modified() const { return web_ + "/last-modified"; }

	// State.
	std::string status() const { return dir_ + "/status"; }
	std::string generation() const { return dir_ + "/generation"; }
	std::string state_file(const char *what) const { return dir_ + "/pypi-mirror." + what; }
	std::string unlisted_dir() const { return dir_ + "/.unlisted"; }
	std::string unlisted_journal(const std::string &name) const { return unlisted_dir() + "/" + name; }
	std::string pending_deletions_dir() const { return dir_ + "/.pending-deletions"; }
	std::string pending_deletions(const std::string &name) const { return pending_deletions_dir() + "/" + name; }
	std::string work_dir() const { return dir_ + "/.pypi-mirror.work"; }
	// Disk space set aside so that a run that fills the disk can still
	// record its state (mirror-state prepare makes it, collect spends it).
	std::string reserve() const { return dir_ + "/.pypi-mirror.reserve"; }
	std::string spool_dir() const { return dir_ + "/.spool"; }
	// pkg-closure's cache of the metadata it read ([closure]).
	std::string closure_cache() const { return dir_ + "/.closure-cache"; }
	// mirror-verify's sort runs and checkpoint (a killed verify resumes).
	std::string verify_checkpoint_dir() const { return dir_ + "/.pypi-mirror.verify-checkpoint"; }

	// Which projects the mirror holds: a project is held when its directory
	// under web/simple/ has one of its pages. NAME is normalized.
	bool holds(const std::string &name) const;
	// Every held project (display name, serial), sorted: from the root
	// index when it is usable (index-write keeps it, with every project's
	// serial), else by looking at web/simple/*/ (a new, an interrupted or a
	// bandersnatch mirror). A mirror without web/simple/ holds nothing.
	// False (why set) when neither can be read.
	bool held_projects(RootList &out, std::string &why) const;

private:
	std::string dir_, web_, simple_;
};

// The mirror's serial (DIR/status, ASCII digits). 0 when absent.
// Returns false on an unreadable or malformed file (error set).
bool read_status(const Layout &m, long long &serial, std::string *error = nullptr);
bool write_status(const Layout &m, long long serial, std::string *error = nullptr);
// The text of a status file (PATH, for the message) as a serial.
bool parse_status(std::string text, const std::string &path, long long &serial, std::string *error);

// DIR/.unlisted/NAME: package paths stored for project NAME that no page of
// NAME may list yet. artifact-get adds a project's paths before it downloads
// any of them; index-write, when it writes NAME's page, takes them as
// candidates for deletion (like the old page's files) and then removes the
// journal. Without it a file fetched for a project that then fails would be
// linked by no page, and deleted by no run once upstream drops it.
// Adds paths to NAME's journal (keeping what it lists), atomically.
// *made (if given): there was none, so it now lists exactly these paths.
bool add_to_unlisted(const Layout &m, const std::string &name, const std::vector<std::string> &paths, bool sync,
                     std::string *error = nullptr, bool *made = nullptr);
// The journal's text (one path a line) with paths added that it lacks; false
// when it lacks none (nothing to write). A torn last line stays a line.
bool merge_unlisted(std::string &text, const std::vector<std::string> &paths);

} // namespace pm
