#include "mirror_store.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "index_root.h"
#include "log.h"
#include "s3_store.h"

namespace pm {

namespace {

class DiskStore : public MirrorStore {
public:
	DiskStore(const std::string &dir, const std::string &local) : MirrorStore(dir, local.empty() ? dir : local) {}
	bool on_disk() const override { return true; }
	bool read(const std::string &path, std::string &text, bool &found, std::string &why) override
	{
		found = read_file(path, text, size_t(1) << 30); // the largest: changelog-fetch's validators
		if (found || errno == ENOENT) return true;
		why = "cannot read " + path + ": " + strerror(errno);
		return false;
	}
	bool write(const std::string &path, const std::string &text, bool sync, std::string &why) override
	{
		return write_file_atomic(path, text, sync, &why);
	}
	bool remove(const std::string &path, std::string &why) override
	{
		if (remove_file(path) || errno == ENOENT) return true;
		why = "cannot remove " + path + ": " + strerror(errno);
		return false;
	}
	bool holds(const std::string &name) override { return layout().holds(name); }
	bool held_projects(RootList &out, std::string &why) override { return layout().held_projects(out, why); }
};

// The state objects are a few kilobytes: single blocking requests on the
// store's own connection. Each write is one PUT, so an object is the old
// one or the new one, never half of either.
class BucketStore : public MirrorStore {
public:
	BucketStore(std::unique_ptr<S3Store> s3, const std::string &local)
	    : MirrorStore(s3->config().location(), local), s3_(std::move(s3))
	{
	}
	bool on_disk() const override { return false; }
	bool read(const std::string &path, std::string &text, bool &found, std::string &why) override
	{
		return s3_->get(s3_->key(path), text, found, why);
	}
	bool write(const std::string &path, const std::string &text, bool, std::string &why) override
	{
		return s3_->put(s3_->key(path), text, S3Store::content_type(layout().relative(path)), why);
	}
	bool remove(const std::string &path, std::string &why) override { return s3_->remove({s3_->key(path)}, why); }
	bool holds(const std::string &name) override
	{
		// The pages, as on a filesystem: any of them makes the project held.
		std::string d = layout().project_dir(name), why;
		for (const char *page : {"/index.v1_json", "/index.html", "/index.v1_html"}) {
			long long size;
			bool found = false;
			if (!s3_->head(s3_->key(d + page), size, found, why)) {
				LOG_WARN("%s: %s; taking %s as not held", s3_->config().location().c_str(), why.c_str(), name.c_str());
				return false;
			}
			if (found) return true;
		}
		return false;
	}
	bool held_projects(RootList &out, std::string &why) override
	{
		out.clear();
		// The root index grows with the mirror (~45 bytes a project): it
		// streams into a private temporary that load_root_json reads as it
		// reads the filesystem's, so memory holds the list, not its text.
		const char *tmp = getenv("TMPDIR");
		std::string t = std::string(tmp && *tmp ? tmp : "/tmp") + "/pypi-mirror-root." + std::to_string(getpid());
		std::string key = s3_->key(layout().root_index());
		bool found;
		if (!s3_->get_file(key, t, found, why)) return false;
		if (!found) return true; // a new mirror: index-write stores the root after every pass
		long long meta_serial;
		bool ok = load_root_json(t, out, meta_serial, why);
		if (!ok) why = key + ": " + why;
		unlink(t.c_str());
		return ok;
	}

private:
	std::unique_ptr<S3Store> s3_;
};

} // namespace

std::unique_ptr<MirrorStore> mirror_store_in(std::unique_ptr<S3Store> s3, const std::string &local)
{
	return std::make_unique<BucketStore>(std::move(s3), local);
}

std::unique_ptr<MirrorStore> open_mirror_store(const char *prog, const std::string &dir, const std::string &config,
                                               const std::string &local)
{
	std::string d = dir;
	auto s3 = s3_store_from_options(prog, d, config);
	if (!s3) return std::make_unique<DiskStore>(dir, local);
	return mirror_store_in(std::move(s3), local);
}

bool read_status(MirrorStore &m, long long &serial, std::string *error)
{
	serial = 0;
	std::string text, why, path = m.layout().status();
	bool found;
	if (!m.read(path, text, found, why)) {
		if (error) *error = why;
		return false;
	}
	return !found || parse_status(text, path, serial, error);
}

bool write_status(MirrorStore &m, long long serial, bool sync, std::string *error)
{
	// bandersnatch writes the bare number without a newline; so do we.
	std::string why;
	if (m.write(m.layout().status(), std::to_string(serial), sync, why)) return true;
	if (error) *error = why;
	return false;
}

} // namespace pm
