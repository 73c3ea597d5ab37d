// The mirror's layout in an S3 bucket: the Layout's paths, relative to the
// mirror directory, are the object keys under the configured prefix
// (DIR/web/packages/xx/... is PREFIX/web/packages/xx/...), so a mirror made
// on a filesystem and one made in a bucket hold the same names.
//
// What the tools need of the store beyond single requests (which they run on
// their own pm::Http, concurrently): a reachability and credentials check,
// and the project journals (Layout's DIR/.unlisted/NAME) kept as objects.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "http.h"
#include "layout.h"
#include "s3.h"

namespace pm {

// How many projects (and paths) one unlisted batch holds at most (see
// S3Store::new_unlisted_batch): its text stays a few hundred KiB.
constexpr long long kMaxBatchProjects = 64;
constexpr size_t kMaxBatchPaths = 4096;

class S3Store {
public:
	// layout: Layout(cfg.location()), so its paths map back to keys.
	explicit S3Store(S3Config cfg);
	const S3Config &config() const { return cfg_; }
	const Layout &layout() const { return layout_; }
	// The key of a path the layout made.
	std::string key(const std::string &path) const { return cfg_.key(layout_.relative(path)); }

	// A record's stored_at (pypi-mirror-records(7)): artifact-get puts it on
	// a project record once it found or stored every file and companion the
	// record lists in this store; index-write at the same place then takes
	// that for its own lookups. The prefix's path-style URL
	// (ENDPOINT/BUCKET/PREFIX), so a bucket of the same name in another
	// store never matches.
	std::string stored_at() const;

	// Lists one key of the bucket: false with why (unreachable endpoint,
	// refused credentials, missing bucket) when the mirror cannot be used.
	bool check(std::string &why);

	// add_to_unlisted() for a bucket: the journal object gains paths (one a
	// line); a PUT replaces it whole, so a reader never sees half of it.
	// It does not block: the GET and the PUT run on the caller's http
	// (inside its run(), from a completion callback too), and done(ok,
	// error) follows the PUT; the caller's other transfers go on meanwhile.
	// known: the journal's text as the caller just read it (an empty string
	// for none): no GET then.
	void add_to_unlisted_async(Http &http, const std::string &name, const std::vector<std::string> &paths,
	                           std::function<void(bool, const std::string &)> done,
	                           const std::string *known = nullptr) const;

	// The unlisted journals of several projects new to the store, kept in
	// one object (a batch). Each such project would otherwise cost the
	// store two writes of its own, its journal's PUT and, once its page is
	// out, its DELETE; on a store like Swift a write of a few lines costs
	// what a file's does. A batch is Layout::unlisted_journal(NAME) for a
	// NAME from new_unlisted_batch(), which begins with "+": no normalized
	// project name does, and a listing of the journals shows the batches
	// first. Its text is a line "PROJECT PATH" per path. It is written once
	// (the name is new: no GET), before any of its members' files, and
	// removed by index-write once every member's page is out; a member that
	// failed gets its own journal first. A batch a killed run left is
	// expanded back into its members' journals (expand_unlisted_batch), so
	// nothing it tracks is forgotten.
	static std::string new_unlisted_batch();
	// A name of new_unlisted_batch()'s shape: "+" and then letters, digits
	// and "-" (so also a safe key).
	static bool is_unlisted_batch(const std::string &name);
	static void add_to_batch(std::string &text, const std::string &project, const std::vector<std::string> &paths);
	void put_unlisted_batch(Http &http, const std::string &batch, std::string text,
	                        std::function<void(bool, const std::string &)> done) const;
	// The batch's DELETE on the caller's http.
	void remove_unlisted_batch(Http &http, const std::string &batch,
	                           std::function<void(bool, const std::string &)> done) const;
	// Each member of the batch that skip(project) does not name gets the
	// batch's paths for it in its own journal (add_to_unlisted_async; skip
	// is asked of every member, so the caller also learns who they are);
	// once all are written, the batch is removed. done(ok, why) follows;
	// on a failure the batch stays, for the next run to expand.
	void expand_unlisted_batch(Http &http, const std::string &batch, std::function<bool(const std::string &)> skip,
	                           std::function<void(bool, const std::string &)> done) const;

	// Single blocking requests on the store's own connection, for the
	// state and root pages (index-write runs its projects' requests on its
	// own concurrent transfers, as artifact-get does its files).
	// get: found is false on a 404.
	bool get(const std::string &key, std::string &body, bool &found, std::string &why);
	// get_file: the body streamed into the local file path (created or
	// truncated; removed when there is no object or the read failed), so
	// an object of any size costs no memory: the root index, which grows
	// with the mirror.
	bool get_file(const std::string &key, const std::string &path, bool &found, std::string &why);
	// head: the object's size, or found false on a 404.
	bool head(const std::string &key, long long &size, bool &found, std::string &why);
	// put: the body's sha256 goes in x-amz-content-sha256, so the store
	// keeps nothing but these bytes; content_type is what a reader is served.
	// The PUT reads the caller's body as it sends (no copy of it).
	bool put(const std::string &key, const std::string &body, const std::string &content_type, std::string &why);
	// put_file: the PUT of the local file path as the object key, for a
	// body that grows with the mirror (the root pages), to run on the
	// caller's http with its other requests. The body streams from the
	// file as it is sent (a retry rewinds it), never whole in memory: one
	// pass over the file before takes its sha256 (x-amz-content-sha256)
	// and its size (Content-Length). The request holds the open file, so
	// what goes up is what was hashed however the path changes after.
	// False (why) when the file cannot be read.
	bool put_file(const std::string &key, const std::string &path, const std::string &content_type, Request &out,
	              std::string &why) const;
	// Multi-object DELETE, 1000 keys a request; a key already gone is not
	// an error. False (why: the keys that failed) when any stayed.
	bool remove(const std::vector<std::string> &keys, std::string &why);
	// One page of a listing (s3_list), blocking; false (why) when it fails
	// or does not parse.
	bool list(const std::string &prefix, const std::string &token, const std::string &delimiter, S3ListPage &page,
	          std::string &why);

	// The Content-Type a mirror path is served with: the Simple API pages
	// by their variant (index.html text/html, index.v1_html and index.v1_json
	// PEP 691's types), the JSON API copies application/json, anything else
	// application/octet-stream. The same types contrib/nginx gives the files.
	static const char *content_type(const std::string &rel);

private:
	S3Config cfg_;
	Layout layout_;
	Http http_; // blocking requests only
};

// What one listing made at start-up says is under a directory of the
// bucket (the unlisted or pending-deletions journals, the project pages of
// web/simple/), so that a tool asks the store about a name only when the
// listing could not rule it out. Memory is fixed whatever the bucket holds:
// the names go into a Bloom filter (a false "maybe" costs the request the
// listing would have saved, never a wrong answer), and the listing stops
// after max_pages pages of 1000 keys: names past the last key it saw are
// "maybe". Names the tool itself creates or meets during the run are add()ed,
// so a listing taken at start stays true for the rest of the run.
class S3Listing {
public:
	// dir: a path the layout made (Layout::unlisted_dir()); dirs: the names
	// are the "directories" under it (web/simple/NAME/), else its objects.
	// A listing that fails leaves every name "maybe" (logged at DEBUG: the
	// per-name requests then say what is wrong). At most kStartupPages
	// pages by default: a run of a few projects against a large bucket
	// pays little for them.
	static constexpr int kStartupPages = 4;
	// batches: where to collect the names that are unlisted batches
	// (S3Store::is_unlisted_batch); they sort first, so the first page has
	// them.
	void load(S3Store &s, const std::string &dir, bool dirs, int max_pages = kStartupPages,
	          std::vector<std::string> *batches = nullptr);
	// False only when the listing showed no such name and none was added.
	bool maybe(const std::string &name) const;
	// True when the listing looked where name would be (it went that far)
	// and found it, or it was added: there almost surely is one (the
	// filter's false "maybe" aside).
	bool seen(const std::string &name) const;
	void add(const std::string &name);
	// No listing, and nothing there: only the names add()ed are "maybe"
	// (a record of the names a run met).
	void start_empty();
	// What the load found, for the log: names seen, pages read, whether it
	// covered the whole directory.
	long long names() const { return names_; }
	int pages() const { return pages_; }
	bool complete() const { return complete_; }

private:
	static constexpr size_t kBits = size_t(1) << 23; // 1 MiB: ~0.5% false "maybe" at 700,000 names
	static constexpr int kProbes = 6;
	template <typename F> static void each_bit(const std::string &name, F f); // f(bit) until it returns false
	bool test(const std::string &name) const;
	bool beyond(const std::string &name) const;
	std::vector<unsigned char> bits_;
	std::string base_, last_; // base_: "KEYPREFIX/dir/"; last_: the greatest key the listing returned
	bool dirs_ = false, loaded_ = false, complete_ = false;
	long long names_ = 0;
	int pages_ = 0;
};

// The store the options name, or nullptr for a filesystem mirror: -d
// s3://BUCKET/PREFIX, or with no -d (dir empty) [mirror] directory =
// /BUCKET/PREFIX of the --config file; [s3] and the environment give the
// endpoint and credentials (see s3_configure). dir becomes the store's
// s3:// location. Malformed options end the program with a usage error;
// warnings (unapplied config_param_* keys) are logged. The one place the
// tools parse where the mirror is.
std::unique_ptr<S3Store> s3_store_from_options(const char *prog, std::string &dir, const std::string &config);
// The same for the -d and --config a tool took, one of which it requires
// (MirrorOptions::require); mirror.dir becomes the store's location.
std::unique_ptr<S3Store> s3_store_from_options(const char *prog, MirrorOptions &mirror);

} // namespace pm
