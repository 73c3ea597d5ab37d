#include "extsort.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unistd.h>

namespace pm {

static inline int rank(unsigned char c)
{
	if (c == '/') return 0;
	if (c == '\t') return 1;
	return c + 2;
}

int path_compare(std::string_view a, std::string_view b)
{
	size_t n = std::min(a.size(), b.size());
	for (size_t i = 0; i < n; i++) {
		if (a[i] == b[i]) continue;
		return rank(static_cast<unsigned char>(a[i])) < rank(static_cast<unsigned char>(b[i])) ? -1 : 1;
	}
	return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

bool path_less(std::string_view a, std::string_view b) { return path_compare(a, b) < 0; }

// Each run file is a sequence of records, each a 4-byte length (host order:
// the files never leave the machine or the run) and the bytes.
struct ExternalSorter::Run {
	FILE *f = nullptr;
	std::string cur;
	bool have = false;
	char buf[1 << 16];
	~Run()
	{
		if (f) fclose(f);
	}
	// false at the end; err set on a short or failed read.
	bool advance(bool &err)
	{
		uint32_t len;
		have = false;
		size_t r = fread(&len, 1, sizeof len, f);
		if (r == 0 && feof(f)) return false;
		if (r != sizeof len) {
			err = true;
			return false;
		}
		cur.resize(len);
		if (len && fread(cur.data(), 1, len, f) != len) {
			err = true;
			return false;
		}
		have = true;
		return true;
	}
};

// At most this many runs are merged at once (64 KiB of buffer each).
static constexpr size_t kFanIn = 64;

ExternalSorter::ExternalSorter(std::string dir, std::string name, size_t mem_bytes)
    : dir_(std::move(dir)), name_(std::move(name)), mem_(std::max<size_t>(mem_bytes, 4096))
{
}

ExternalSorter::~ExternalSorter()
{
	runs_.clear();
	for (auto &p : run_paths_) unlink(p.c_str());
}

// Opens run file p at its first record, onto the end of runs.
bool ExternalSorter::open_run(const std::string &p, std::vector<std::unique_ptr<Run>> &runs)
{
	auto r = std::make_unique<Run>();
	r->f = fopen(p.c_str(), "rb");
	if (!r->f) return fail("cannot open " + p);
	setvbuf(r->f, r->buf, _IOFBF, sizeof r->buf);
	bool err = false;
	r->advance(err);
	if (err) return fail("cannot read " + p);
	runs.push_back(std::move(r));
	return true;
}

bool ExternalSorter::fail(const std::string &what)
{
	if (error_.empty()) error_ = what + ": " + strerror(errno);
	return false;
}

bool ExternalSorter::add(std::string_view rec)
{
	if (finished_ || !error_.empty()) return false;
	if (rec.size() > (1u << 30)) {
		errno = EFBIG;
		return fail("record too long for " + name_);
	}
	// Bookkeeping counts towards the limit: 8 bytes of index per record.
	if (!idx_.empty() && arena_.size() + rec.size() + 8 * (idx_.size() + 1) > mem_ && !spill()) return false;
	idx_.emplace_back(static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(rec.size()));
	arena_.append(rec);
	count_++;
	return true;
}

void ExternalSorter::sort_buffer()
{
	const char *base = arena_.data();
	std::sort(idx_.begin(), idx_.end(), [base](const auto &x, const auto &y) {
		return path_less({base + x.first, x.second}, {base + y.first, y.second});
	});
}

bool ExternalSorter::spill()
{
	sort_buffer();
	std::string path = dir_ + "/" + name_ + ".run." + std::to_string(seq_++);
	FILE *f = fopen(path.c_str(), "wbx");
	if (!f) return fail("cannot create " + path);
	run_paths_.push_back(path);
	// Made at the first spill, not a thread_local array: the dynamic loader
	// zeroes the static TLS block at every start of every program linking
	// this file (see sha256_file).
	constexpr size_t wbufsize = 1 << 16;
	static thread_local std::unique_ptr<char[]> wbuf;
	if (!wbuf) wbuf = std::make_unique_for_overwrite<char[]>(wbufsize);
	setvbuf(f, wbuf.get(), _IOFBF, wbufsize);
	bool ok = true;
	for (auto &[off, len] : idx_) {
		uint32_t l = len;
		if (fwrite(&l, 1, sizeof l, f) != sizeof l || fwrite(arena_.data() + off, 1, len, f) != len) {
			ok = false;
			break;
		}
	}
	if (fclose(f) != 0) ok = false;
	if (!ok) return fail("cannot write " + path);
	arena_.clear();
	idx_.clear();
	// Release the memory: a spilled sorter holds only read buffers from now on.
	arena_.shrink_to_fit();
	idx_.shrink_to_fit();
	return true;
}

bool ExternalSorter::merge_down()
{
	// Runs are merged kFanIn at a time into new runs, oldest first.
	size_t first = 0;
	while (run_paths_.size() - first > kFanIn) {
		std::vector<std::string> group(run_paths_.begin() + static_cast<long>(first),
		                               run_paths_.begin() + static_cast<long>(first + kFanIn));
		first += kFanIn;
		std::vector<std::unique_ptr<Run>> in;
		for (auto &p : group)
			if (!open_run(p, in)) return false;
		std::string out_path = dir_ + "/" + name_ + ".run." + std::to_string(seq_++);
		FILE *out = fopen(out_path.c_str(), "wbx");
		if (!out) return fail("cannot create " + out_path);
		run_paths_.push_back(out_path);
		bool ok = true;
		for (;;) {
			Run *best = nullptr;
			for (auto &r : in)
				if (r->have && (!best || path_less(r->cur, best->cur))) best = r.get();
			if (!best) break;
			uint32_t l = static_cast<uint32_t>(best->cur.size());
			if (fwrite(&l, 1, sizeof l, out) != sizeof l || fwrite(best->cur.data(), 1, l, out) != l) ok = false;
			bool err = false;
			best->advance(err);
			if (err) return fail("cannot read a run of " + name_);
		}
		if (fclose(out) != 0 || !ok) return fail("cannot write " + out_path);
		in.clear();
		for (auto &p : group) unlink(p.c_str());
	}
	run_paths_.erase(run_paths_.begin(), run_paths_.begin() + static_cast<long>(first));
	return true;
}

bool ExternalSorter::finish()
{
	if (finished_) return error_.empty();
	finished_ = true;
	if (!error_.empty()) return false;
	if (run_paths_.empty()) { // everything fitted: read the buffer back
		sort_buffer();
		return true;
	}
	if (!idx_.empty() && !spill()) return false;
	if (!merge_down()) return false;
	for (auto &p : run_paths_)
		if (!open_run(p, runs_)) return false;
	auto cmp = [this](size_t a, size_t b) { return path_less(runs_[b]->cur, runs_[a]->cur); }; // min-heap
	for (size_t i = 0; i < runs_.size(); i++)
		if (runs_[i]->have) heap_.push_back(i);
	std::make_heap(heap_.begin(), heap_.end(), cmp);
	return true;
}

bool ExternalSorter::next(std::string &rec)
{
	if (!finished_ || !error_.empty()) return false;
	if (runs_.empty() && run_paths_.empty()) {
		if (pos_ >= idx_.size()) return false;
		auto [off, len] = idx_[pos_++];
		rec.assign(arena_.data() + off, len);
		return true;
	}
	if (heap_.empty()) return false;
	auto cmp = [this](size_t a, size_t b) { return path_less(runs_[b]->cur, runs_[a]->cur); };
	std::pop_heap(heap_.begin(), heap_.end(), cmp);
	size_t i = heap_.back();
	rec.swap(runs_[i]->cur);
	bool err = false;
	if (runs_[i]->advance(err))
		std::push_heap(heap_.begin(), heap_.end(), cmp);
	else
		heap_.pop_back();
	if (err) return fail("cannot read a run of " + name_);
	return true;
}

} // namespace pm
