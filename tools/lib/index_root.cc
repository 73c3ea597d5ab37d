#include "index_root.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <initializer_list>
#include <sys/stat.h>
#include <unistd.h>

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "names.h"
#include "ndjson.h"
#include "root_reader.h"
#include "simple_page.h"

namespace pm {

void RootList::reserve(size_t entries, size_t bytes)
{
	v_.reserve(entries);
	arena_.reserve(bytes);
}

void RootList::add(std::string_view display, long long serial, bool removed)
{
	// Valid project names are at most 200 bytes; the length field holds 255.
	if (display.size() > 255) display = display.substr(0, 255);
	Entry e;
	e.off = arena_.size();
	e.len = display.size();
	e.removed = removed ? 1 : 0;
	e.serial = serial;
	arena_.append(display);
	v_.push_back(e);
	if (serial > max_serial_) max_serial_ = serial;
}

void RootList::clear()
{
	arena_.clear();
	v_.clear();
	max_serial_ = 0;
}

void RootList::sort_unique()
{
	bool ordered = true;
	std::string prev, cur;
	for (size_t i = 0; i < v_.size() && ordered; i++) {
		normalize_name_into(display(i), cur);
		if (i > 0 && cur <= prev) ordered = false;
		prev.swap(cur);
	}
	if (ordered) return;
	// The entries themselves are sorted, comparing names as normalized
	// without making a key of each: a run's changes come out of order
	// (several projects in flight) by the hundred thousand, and a key and
	// an index per entry plus a second list cost several times the list.
	// Stable: of equal names the latest added comes last, and it alone is
	// kept (the arena keeps the others' bytes: a few duplicates at most).
	auto name = [this](const Entry &e) { return std::string_view(arena_.data() + e.off, e.len); };
	std::stable_sort(v_.begin(), v_.end(),
	                 [&](const Entry &a, const Entry &b) { return compare_normalized(name(a), name(b)) < 0; });
	size_t w = 0;
	for (size_t k = 0; k < v_.size(); k++) {
		if (k + 1 < v_.size() && compare_normalized(name(v_[k]), name(v_[k + 1])) == 0) continue;
		v_[w++] = v_[k];
	}
	v_.resize(w);
}

bool load_root_json(const std::string &path, RootList &out, long long &meta_serial, std::string &why, bool *missing,
                    std::string *warning)
{
	out.clear();
	meta_serial = -1;
	if (missing) *missing = false;
	FileStream in;
	if (!in.open(path)) {
		if (errno == ENOENT && missing) *missing = true;
		why = "cannot open " + path + ": " + strerror(errno);
		return false;
	}
	struct stat st;
	if (stat(path.c_str(), &st) == 0 && st.st_size > 0) {
		// About 45 bytes of JSON per project, of which the name is a third.
		size_t n = static_cast<size_t>(st.st_size);
		out.reserve(n / 40, n / 3);
	}
	size_t invalid_names = 0;
	bool missing_serial = false;
	RootReader r;
	r.entry = [&](const std::string *name, long long serial, size_t) {
		if (!name || !valid_project_name(*name)) {
			invalid_names++;
			return true;
		}
		if (serial < 0) {
			missing_serial = true;
			return false; // not ours: rebuild from the directories
		}
		out.add(*name, serial);
		return true;
	};
	std::string error;
	// No UTF-8 validation pass: every name kept is checked to be an ASCII project name.
	bool ok = r.parse_json(in, false, error);
	if (missing_serial || !ok) {
		why = path + (missing_serial ? " lists projects without \"_last-serial\"" : ": " + error);
		out.clear();
		return false;
	}
	if (invalid_names && warning) *warning = std::to_string(invalid_names) + " invalid project names skipped in " + path;
	meta_serial = r.meta_serial();
	out.sort_unique();
	return true;
}

// The first head_n and last tail_n bytes of a regular file, through one
// open (a rebuild reads both ends of hundreds of thousands of pages).
static bool read_ends(const std::string &path, size_t head_n, size_t tail_n, std::string &head, std::string &tail)
{
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) return false;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	size_t size = static_cast<size_t>(st.st_size);
	head.resize(std::min(head_n, size));
	ssize_t r = head.empty() ? 0 : pread(fd, head.data(), head.size(), 0);
	if (r < 0) {
		close(fd);
		return false;
	}
	head.resize(static_cast<size_t>(r));
	size_t toff = size > tail_n ? size - tail_n : 0;
	if (static_cast<size_t>(r) == size) {
		tail.assign(head, std::min(toff, head.size())); // the whole file was read
	} else {
		tail.resize(size - toff);
		r = pread(fd, tail.data(), tail.size(), static_cast<off_t>(toff));
		if (r < 0) {
			close(fd);
			return false;
		}
		tail.resize(static_cast<size_t>(r));
	}
	close(fd);
	return true;
}

bool scan_simple_dir(const std::string &simple_dir, RootList &out, std::string &error,
                     const std::unordered_set<std::string> *skip)
{
	out.clear();
	DIR *d = opendir(simple_dir.c_str());
	if (!d) {
		if (errno == ENOENT) return true;
		error = "cannot list " + simple_dir + ": " + strerror(errno);
		return false;
	}
	std::string head, tail, text;
	while (struct dirent *e = readdir(d)) {
		std::string n = e->d_name;
		if (!valid_project_name(n) || normalize_name(n) != n) continue;
		if (skip && skip->count(n)) continue;
		std::string dir = simple_dir + "/" + n;
		if (e->d_type != DT_DIR) {
			struct stat st;
			if (e->d_type != DT_UNKNOWN || stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
		}
		long long serial = -1;
		std::string display;
		bool found = false, quarantined = false;
		for (const char *page : {"index.html", "index.v1_html"}) {
			if (!read_ends(dir + "/" + page, 1024, 64, head, tail)) continue;
			found = true;
			serial = serial_from_html_tail(tail);
			display = display_from_html_head(head);
			quarantined = head.find("<meta name=\"pypi:project-status\" content=\"quarantined\">") != std::string::npos;
			break;
		}
		if (quarantined) continue; // not in the root, as on PyPI (index-write(1))
		if (serial < 0 && read_file(dir + "/index.v1_json", text)) {
			found = true;
			rapidjson::Document doc;
			std::string why;
			if (parse_json_object(text, doc, why))
				if (auto *meta = member(doc, "meta")) serial = get_int(*meta, "_last-serial", -1);
		}
		if (!found) continue; // an empty or foreign directory: nothing to list
		if (display.empty() || normalize_name(display) != n) display = n;
		out.add(display, serial < 0 ? 0 : serial);
	}
	closedir(d);
	out.sort_unique();
	return true;
}

ReplaceIfChanged::~ReplaceIfChanged() { abort(); }

bool ReplaceIfChanged::open(const std::string &target, std::string *error)
{
	abort();
	target_ = target;
	same_ = true;
	if (!f_.open(target, error)) return false;
	old_ = fopen(target.c_str(), "rb");
	if (!old_) same_ = false;
	return true;
}

bool ReplaceIfChanged::write(const char *data, size_t n)
{
	if (!f_.write(data, n)) return false;
	if (same_) {
		cmp_.resize(n);
		if (fread(cmp_.data(), 1, n, old_) != n || memcmp(cmp_.data(), data, n) != 0) {
			same_ = false;
			fclose(old_);
			old_ = nullptr;
		}
	}
	return true;
}

bool ReplaceIfChanged::commit(bool sync, bool *changed, std::string *error)
{
	bool same = same_ && old_ && fgetc(old_) == EOF;
	if (old_) fclose(old_);
	old_ = nullptr;
	if (same) {
		f_.abort();
		if (changed) *changed = false;
		return true;
	}
	if (changed) *changed = true;
	return f_.commit(sync, error);
}

void ReplaceIfChanged::abort()
{
	if (old_) fclose(old_);
	old_ = nullptr;
	f_.abort();
}

bool write_root(const std::string &simple_dir, const RootList &base, const RootList &changes, long long meta_serial,
                const RootWriteOptions &o, bool *changed, std::string &error)
{
	if (changed) *changed = false;
	ReplaceIfChanged html, v1html, v1json;
	if (o.html && (!html.open(simple_dir + "/index.html", &error) || !v1html.open(simple_dir + "/index.v1_html", &error)))
		return false;
	if (o.json && !v1json.open(simple_dir + "/index.v1_json", &error)) return false;

	bool ok = true;
	std::string hbuf = root_html_head();
	auto flush_html = [&](bool force) {
		if (!o.html || (!force && hbuf.size() < (1u << 18))) return;
		ok = html.write(hbuf) && v1html.write(hbuf) && ok;
		hbuf.clear();
	};
	// The JSON goes out in chunks: a StringBuffer emptied every 256 KiB.
	rapidjson::StringBuffer sb;
	rapidjson::Writer<rapidjson::StringBuffer> w(sb);
	bool json_ok = true;
	auto flush_json = [&](bool force) {
		if (!o.json || (!force && sb.GetSize() < (1u << 18))) return;
		json_ok = v1json.write(sb.GetString(), sb.GetSize()) && json_ok;
		sb.Clear();
	};
	if (o.json) {
		w.StartObject();
		w.Key("meta");
		w.StartObject();
		w.Key("_last-serial");
		w.Int64(meta_serial);
		w.Key("api-version");
		w.String(kSimpleApiVersion);
		w.EndObject();
		w.Key("projects");
		w.StartArray();
	}
	auto emit = [&](std::string_view display, const std::string &norm, long long serial) {
		if (o.html) {
			root_html_entry(hbuf, display, norm);
			flush_html(false);
		}
		if (o.json) {
			w.StartObject();
			w.Key("_last-serial");
			w.Int64(serial);
			w.Key("name");
			w.String(display.data(), static_cast<rapidjson::SizeType>(display.size()));
			w.EndObject();
			flush_json(false);
		}
	};

	size_t i = 0, j = 0, nb = base.size(), nc = changes.size();
	std::string kb, kc;
	bool have_kb = false, have_kc = false;
	while (i < nb || j < nc) {
		if (i < nb && !have_kb) {
			normalize_name_into(base.display(i), kb);
			have_kb = true;
		}
		if (j < nc && !have_kc) {
			normalize_name_into(changes.display(j), kc);
			have_kc = true;
		}
		if (j >= nc || (i < nb && kb < kc)) {
			emit(base.display(i), kb, base.serial(i));
			i++;
			have_kb = false;
		} else {
			if (!changes.removed(j)) emit(changes.display(j), kc, changes.serial(j));
			if (i < nb && kb == kc) {
				i++;
				have_kb = false;
			}
			j++;
			have_kc = false;
		}
	}

	// A page written whole (written: no write failed) replaces the old one
	// where its bytes changed.
	bool any = false;
	auto commit = [&](bool written, const char *name, std::initializer_list<ReplaceIfChanged *> pages) {
		if (!written) {
			error = "cannot write " + simple_dir + "/" + name + ": " + strerror(errno);
			return false;
		}
		for (ReplaceIfChanged *page : pages) {
			bool c = false;
			if (!page->commit(o.sync, &c, &error)) return false;
			any |= c;
		}
		return true;
	};
	if (o.html) {
		hbuf += root_html_tail();
		flush_html(true);
		if (!commit(ok, "index.html", {&html, &v1html})) return false;
	}
	if (o.json) {
		w.EndArray();
		w.EndObject();
		flush_json(true);
		if (!commit(json_ok, "index.v1_json", {&v1json})) return false;
	}
	if (changed) *changed = any;
	return true;
}

} // namespace pm
