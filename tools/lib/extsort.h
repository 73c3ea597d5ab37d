// External sort: records of any bytes are added one at a time, held in a
// bounded buffer, spilled to sorted run files when it is full, and read back
// in order through a k-way merge. What a tool that must order millions of
// paths or names uses instead of a set of them: memory stays at the buffer
// size (plus a read buffer per run) whatever the input.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nocopy.h"

namespace pm {

// The order of mirror paths and of "key\tpayload" records: byte order, except
// that '/' sorts before every other byte and '\t' right after it. A walk of a
// tree that sorts each directory listing by this order visits paths in the
// same order as sorting the full paths, and a record's key (up to its first
// tab) decides before its payload.
bool path_less(std::string_view a, std::string_view b);
int path_compare(std::string_view a, std::string_view b);

class ExternalSorter : NoCopy {
public:
	// Run files go to dir (named NAME.run.N), the buffer holds up to
	// mem_bytes of records before it is spilled.
	ExternalSorter(std::string dir, std::string name, size_t mem_bytes = 16u << 20);
	~ExternalSorter(); // removes its run files

	bool add(std::string_view rec);
	// Ends input; after it next() returns the records in path_less order.
	bool finish();
	// The next record; false at the end or on a read error (see error()).
	bool next(std::string &rec);
	const std::string &error() const { return error_; }
	size_t runs() const { return runs_.size(); }
	uint64_t count() const { return count_; }

private:
	struct Run;
	bool spill();
	bool merge_down(); // merges runs until at most kFanIn are left
	bool open_run(const std::string &path, std::vector<std::unique_ptr<Run>> &runs);
	void sort_buffer();
	bool fail(const std::string &what);

	std::string dir_, name_;
	size_t mem_;
	std::string arena_;
	std::vector<std::pair<uint32_t, uint32_t>> idx_; // (offset, length) into arena_
	size_t pos_ = 0;                                    // next buffered record (no runs)
	std::vector<std::string> run_paths_;
	std::vector<std::unique_ptr<Run>> runs_;
	std::vector<size_t> heap_; // indexes into runs_
	bool finished_ = false;
	uint64_t count_ = 0;
	unsigned seq_ = 0;
	std::string error_;
};

} // namespace pm
