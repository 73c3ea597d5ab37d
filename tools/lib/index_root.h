// The root of the Simple API (web/simple/index.html, index.v1_html,
// index.v1_json) as index-write(1) keeps it: the project list lives in the
// root index.v1_json itself, with each project's serial, so a run merges its
// changes into the list without reading 700,000 project pages. Only when
// that file is missing or unusable (a fresh or a bandersnatch mirror) is the
// list rebuilt by listing web/simple/*/.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "fsutil.h"

namespace pm {

// Project list: display names packed into one arena, 16 bytes per entry
// besides the name, so 700,000 projects take about 20 MB.
class RootList {
public:
	void add(std::string_view display, long long serial, bool removed = false);
	size_t size() const { return v_.size(); }
	bool empty() const { return v_.empty(); }
	std::string_view display(size_t i) const { return {arena_.data() + v_[i].off, v_[i].len}; }
	long long serial(size_t i) const { return v_[i].serial; }
	bool removed(size_t i) const { return v_[i].removed; }
	void clear();
	void reserve(size_t entries, size_t bytes);
	// Sorts by normalized name; of entries with the same normalized name the
	// one added last wins. Cheap when the list is already in order.
	void sort_unique();
	long long max_serial() const { return max_serial_; }

private:
	struct Entry {
		uint64_t off : 40;
		uint64_t len : 8;
		uint64_t removed : 1;
		int64_t serial;
	};
	std::string arena_;
	std::vector<Entry> v_;
	long long max_serial_ = 0;
};

// Loads web/simple/index.v1_json (through root_reader.h) into out.
// False with error when it does not parse, or lacks per-project serials
// (bandersnatch writes none), so the caller rebuilds it by scanning; false
// with *missing set when there is none yet. Invalid names are skipped and
// counted in *warning.
bool load_root_json(const std::string &path, RootList &out, long long &meta_serial, std::string &error,
                    bool *missing = nullptr, std::string *warning = nullptr);

// Rebuilds the list from web/simple/*/ directories: the name is the
// directory (display name from the page title when it has one), the serial
// the page's <!--SERIAL n--> trailer or its JSON meta._last-serial.
// Directories named in skip (normalized names) are passed over unread: the
// caller has their entries already (a run's own changes, which win the merge).
bool scan_simple_dir(const std::string &simple_dir, RootList &out, std::string &error,
                     const std::unordered_set<std::string> *skip = nullptr);

// A replacement file written as a stream: bytes go to a temporary, are
// compared with the old file as they go, and on commit the temporary is
// discarded when nothing differs (so an unchanged page keeps its mtime).
class ReplaceIfChanged {
public:
	~ReplaceIfChanged();
	bool open(const std::string &target, std::string *error = nullptr);
	bool write(const char *data, size_t n);
	bool write(std::string_view s) { return write(s.data(), s.size()); }
	bool commit(bool sync, bool *changed, std::string *error = nullptr);
	void abort();

private:
	AtomicFile f_;
	std::string target_;
	FILE *old_ = nullptr;
	bool same_ = true;
	std::string cmp_;
};

struct RootWriteOptions {
	bool html = true; // index.html and index.v1_html
	bool json = true; // index.v1_json
	bool sync = false;
};

// Writes the root pages for the merge of base (sorted) and changes (sorted;
// removed entries drop a project). meta_serial goes in meta._last-serial.
// Each page is replaced only if its bytes changed; *changed says whether any was.
bool write_root(const std::string &simple_dir, const RootList &base, const RootList &changes, long long meta_serial,
                const RootWriteOptions &o, bool *changed, std::string &error);

} // namespace pm
