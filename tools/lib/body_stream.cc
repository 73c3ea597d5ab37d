#include "body_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pm {

bool InStream::refill()
{
	if (!error_.empty()) return false;
	// Everything before here was consumed: check the limits on what the
	// parser has taken so far before handing it more.
	size_t pos = Tell();
	if (pos - mark_ > max_gap_) {
		error_ = "more than " + std::to_string(max_gap_) + " bytes without a value ending, at offset " +
		         std::to_string(mark_);
		return false;
	}
	for (;;) {
		base_ = pos;
		buf_.clear();
		cur_ = end_ = buf_.data();
		if (!next(buf_)) {
			buf_.clear();
			cur_ = end_ = buf_.data();
			return false;
		}
		if (buf_.size() > max_ - pos) {
			error_ = std::string(noun_) + " larger than " + std::to_string(max_) + " bytes";
			too_big_ = true;
			buf_.clear();
			cur_ = end_ = buf_.data();
			return false;
		}
		cur_ = buf_.data();
		end_ = cur_ + buf_.size();
		if (cur_ < end_) return true;
	}
}

FileStream::~FileStream()
{
	if (fd_ >= 0) close(fd_);
}

bool FileStream::open(const std::string &path, int flags)
{
	if (fd_ >= 0) close(fd_);
	start_over();
	noun_ = "file";
	fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
	return fd_ >= 0;
}

bool FileStream::next(std::string &buf)
{
	if (fd_ < 0) return false;
	buf.resize(64 << 10);
	for (;;) {
		ssize_t r = ::read(fd_, buf.data(), buf.size());
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) {
			error_ = std::string("cannot read: ") + strerror(errno);
			return false;
		}
		buf.resize(static_cast<size_t>(r));
		if (r == 0) ended_ = true;
		return r > 0;
	}
}

} // namespace pm
