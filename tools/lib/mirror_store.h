// Where the mirror's state is read and written: a directory, or a prefix of
// an S3 bucket. The one interface the tools that keep state between runs
// (mirror-state) or ask what the mirror holds (changelog-fetch, pkg-filter)
// go through, so that none of them asks which storage it is on. Names come
// from the Layout (layout.h): on a bucket, a path the layout made, relative
// to the mirror, is the object's key under the prefix (s3_store.h), so a
// mirror on a filesystem and one in a bucket keep the same names.
//
// What stays on local disk whatever the storage: the lock, the logs and a
// run's scratch space (Layout's work_dir and spool_dir under local()).
#pragma once
#include <memory>
#include <string>

#include "layout.h"

namespace pm {

class RootList;
class S3Store;

class MirrorStore {
public:
	virtual ~MirrorStore() = default;
	// The names: paths under the mirror ("/srv/pypi/status") or, on a
	// bucket, under its location ("s3://b/p/status").
	const Layout &layout() const { return layout_; }
	// The local directory a run's scratch space lives under (work_dir,
	// spool_dir, reserve of local_layout()): the mirror directory itself
	// on a filesystem.
	const Layout &local_layout() const { return local_; }
	// True when the mirror is a local directory (its pages and files can be
	// walked, the disk reserve makes sense).
	virtual bool on_disk() const = 0;

	// A small object (a state file, a page) by the path the layout made.
	// found is false when there is none; false (why set) when it cannot be
	// read.
	virtual bool read(const std::string &path, std::string &text, bool &found, std::string &why) = 0;
	// Replaces it whole: a reader sees the old one or the new one (a rename
	// on a filesystem, a single PUT on a bucket).
	virtual bool write(const std::string &path, const std::string &text, bool sync, std::string &why) = 0;
	// Removes it; one already gone is not an error.
	virtual bool remove(const std::string &path, std::string &why) = 0;

	// Layout::holds and Layout::held_projects, on this storage. On a
	// bucket the held projects come from the root index object (index-write
	// keeps it with every project's serial); a bucket without one holds
	// nothing, one whose root does not parse is an error.
	virtual bool holds(const std::string &name) = 0;
	virtual bool held_projects(RootList &out, std::string &why) = 0;

protected:
	MirrorStore(std::string dir, std::string local) : layout_(std::move(dir)), local_(std::move(local)) {}

private:
	Layout layout_, local_;
};

// The mirror -d names: a directory, or s3://BUCKET/PREFIX (its endpoint and
// credentials from config, else $PYPI_MIRROR_CONFIG, and the environment:
// see s3_store_from_options). local: where the run's scratch space lives;
// "" for the mirror directory (a bucket then has none: local_layout() is
// unusable, and tools that need scratch space ask for --local-dir).
// Malformed options end the program with a usage error.
std::unique_ptr<MirrorStore> open_mirror_store(const char *prog, const std::string &dir, const std::string &config,
                                               const std::string &local = "");
// A store over an S3Store already opened (the tools that also write files).
std::unique_ptr<MirrorStore> mirror_store_in(std::unique_ptr<S3Store> s3, const std::string &local);

// The mirror's serial (status, ASCII digits) on any storage; 0 when absent.
bool read_status(MirrorStore &m, long long &serial, std::string *error = nullptr);
bool write_status(MirrorStore &m, long long serial, bool sync, std::string *error = nullptr);

} // namespace pm
