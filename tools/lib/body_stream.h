// Byte streams for RapidJSON's SAX Reader that never hold a whole document:
// a file read in 64 KiB blocks, and an HTTP body parsed while it arrives
// (the transfer runs on a helper thread and hands its chunks over through a
// queue of at most 1 MiB). Both cap the total size and the bytes the parser
// may see without the caller marking progress, so a hostile document (a
// gzip bomb, a gigabyte-long string) is refused early with memory near the
// caps.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "http.h"
#include "nocopy.h"

namespace pm {

// RapidJSON's input stream concept (Peek, Take, Tell; the Put* members only
// exist for in-situ parsing, which this is not). '\0' ends the input: at the
// real end, on a read error, on a limit, or after a restart.
class InStream : NoCopy { // cur_ may point into buf_'s own storage
public:
	typedef char Ch;
	InStream() = default;
	virtual ~InStream() = default;
	Ch Peek()
	{
		if (cur_ < end_) return *cur_;
		return refill() ? *cur_ : '\0';
	}
	Ch Take()
	{
		if (cur_ >= end_ && !refill()) return '\0';
		return *cur_++;
	}
	size_t Tell() const { return base_ + static_cast<size_t>(cur_ - buf_.data()); }
	Ch *PutBegin() { return nullptr; }
	void Put(Ch) {}
	void Flush() {}
	size_t PutEnd(Ch *) { return 0; }

	// The caller saw a value end: the gap limit counts from here.
	void mark() { mark_ = Tell(); }
	// Refuse more than max bytes in all, and more than max_gap past the last
	// mark() (one string, or one run of whitespace, held by the parser).
	void set_limits(size_t max, size_t max_gap)
	{
		max_ = max;
		max_gap_ = max_gap;
	}
	// Why the input ended early (a limit, a read error); empty otherwise.
	const std::string &error() const { return error_; }
	// The error is the total size limit ("response larger than N bytes").
	bool too_big() const { return too_big_; }
	// True once every byte was read and the source ended cleanly: after a
	// parse that stopped at a '\0', false means a NUL byte in the data.
	bool at_end() { return cur_ >= end_ && !refill() && ended_ && error_.empty(); }

protected:
	// The next block of input into buf (replacing it); false at the end (set
	// ended_ when that end is the real, clean one) or on an error (error_).
	virtual bool next(std::string &buf) = 0;
	void start_over()
	{
		buf_.clear();
		cur_ = end_ = buf_.data();
		base_ = mark_ = 0;
		ended_ = false;
		too_big_ = false;
		error_.clear();
	}
	bool ended_ = false;
	std::string error_;
	const char *noun_ = "input"; // for the size message: "file", "response"

private:
	bool too_big_ = false;

	bool refill();
	std::string buf_;
	const char *cur_ = buf_.data(), *end_ = buf_.data();
	size_t base_ = 0; // offset of buf_[0] in the input
	size_t mark_ = 0;
	size_t max_ = static_cast<size_t>(-1), max_gap_ = static_cast<size_t>(-1);
};

// A file, in 64 KiB blocks.
class FileStream : public InStream {
public:
	FileStream() = default;
	~FileStream() override;
	// Opens path (flags added to O_RDONLY | O_CLOEXEC, e.g. O_NOFOLLOW);
	// false with errno set.
	bool open(const std::string &path, int flags = 0);

protected:
	bool next(std::string &buf) override;

private:
	int fd_ = -1;
};

// Fetches req with http.fetch() on a helper thread and has parse() read the
// 2xx body on the calling thread as it arrives. When the transfer is retried,
// the stream ends (parse() sees '\0'), on_restart() runs, and parse() is
// called again on a fresh stream: it must start over. When parse() returns
// before the end (done, or an error), the rest of the body is refused and the
// transfer stops; the response then carries "aborted by the receiver", which
// stopped_early() tells apart from a real failure. Error bodies never reach
// parse(): they land in the Response as with fetch().
class StreamedFetch {
public:
	StreamedFetch(Http &http, Request req) : http_(http), req_(std::move(req)) {}
	// Returns the response once the transfer is over and parse() is done.
	Response run(const std::function<void(InStream &)> &parse, const std::function<void()> &on_restart,
	             size_t max, size_t max_gap);
	// The receiver ended the transfer before its end (parse() returned early).
	bool stopped_early() const { return stopped_early_; }

private:
	Http &http_;
	Request req_;
	bool stopped_early_ = false;
};

} // namespace pm
