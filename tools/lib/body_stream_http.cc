// StreamedFetch: an HTTP body parsed while it arrives. Apart from the file
// streams in body_stream.cc so that a tool reading files only (mirror-state
// loads the root through FileStream) does not link libcurl: loading it and
// its thirty libraries cost every such process ~20 ms and 450 page faults,
// four mirror-state runs in an idle sync.
#include "body_stream.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace pm {

namespace {

// The hand-over between the transfer thread (producer) and the parser
// (consumer): a queue of curl's chunks, at most cap bytes, so a parser that
// falls behind slows the transfer down instead of letting the body pile up.
class Pipe {
public:
	explicit Pipe(size_t cap) : cap_(cap) {}

	// Producer. Blocks while the queue is full; false once the consumer has
	// closed (the transfer then aborts).
	bool push(const char *p, size_t n)
	{
		std::unique_lock<std::mutex> lk(m_);
		space_.wait(lk, [this] { return closed_ || queued_ < cap_; });
		if (closed_) {
			refused_ = true;
			return false;
		}
		q_.emplace_back(p, n);
		queued_ += n;
		data_.notify_one();
		return true;
	}
	// Producer: the transfer starts over; what is queued is of no use.
	void restart()
	{
		std::lock_guard<std::mutex> lk(m_);
		q_.clear();
		queued_ = 0;
		restarts_++;
		data_.notify_one();
		space_.notify_one();
	}
	// Producer: no more data (the transfer is over, well or not).
	void finish()
	{
		std::lock_guard<std::mutex> lk(m_);
		done_ = true;
		data_.notify_one();
	}
	// Consumer: wants nothing more.
	void close()
	{
		std::lock_guard<std::mutex> lk(m_);
		closed_ = true;
		q_.clear();
		queued_ = 0;
		space_.notify_one();
	}
	bool refused()
	{
		std::lock_guard<std::mutex> lk(m_);
		return refused_;
	}

	enum class Got { Data, End, Restart };
	// Consumer: the next chunk into out; Restart when the transfer started
	// over since the last call (seen tracks that).
	Got pop(std::string &out, unsigned &seen)
	{
		std::unique_lock<std::mutex> lk(m_);
		data_.wait(lk, [&] { return !q_.empty() || done_ || restarts_ != seen; });
		if (restarts_ != seen) {
			seen = restarts_;
			return Got::Restart;
		}
		if (q_.empty()) return Got::End;
		out.swap(q_.front());
		q_.pop_front();
		queued_ -= out.size();
		space_.notify_one();
		return Got::Data;
	}

private:
	std::mutex m_;
	std::condition_variable data_, space_;
	std::deque<std::string> q_;
	size_t queued_ = 0, cap_;
	unsigned restarts_ = 0;
	bool done_ = false, closed_ = false, refused_ = false;
};

class PipeStream : public InStream {
public:
	explicit PipeStream(Pipe &p) : pipe_(p) { noun_ = "response"; }
	bool restarted() const { return restarted_; }
	void again()
	{
		start_over();
		restarted_ = false;
	}

protected:
	bool next(std::string &buf) override
	{
		if (restarted_) return false;
		switch (pipe_.pop(buf, seen_)) {
		case Pipe::Got::Data: return true;
		case Pipe::Got::End: ended_ = true; return false;
		case Pipe::Got::Restart: restarted_ = true; return false;
		}
		return false;
	}

private:
	Pipe &pipe_;
	unsigned seen_ = 0;
	bool restarted_ = false;
};

} // namespace

Response StreamedFetch::run(const std::function<void(InStream &)> &parse, const std::function<void()> &on_restart,
                            size_t max, size_t max_gap)
{
	// 1 MiB in flight: dozens of curl's chunks, enough to keep both threads
	// busy, small next to any body worth streaming.
	Pipe pipe(1u << 20);
	Request req = std::move(req_);
	req.on_data = [&pipe](const char *p, size_t n) { return pipe.push(p, n); };
	req.on_restart = [&pipe] { pipe.restart(); };
	Response resp;
	std::thread transfer([&] {
		resp = http_.fetch(std::move(req));
		pipe.finish();
	});
	// Whatever happens here, the transfer is told to stop and waited for: a
	// thread still running at exit (or at a throw) would take the process down.
	struct Join {
		Pipe &p;
		std::thread &t;
		~Join()
		{
			p.close();
			if (t.joinable()) t.join();
		}
	} join{pipe, transfer};
	PipeStream in(pipe);
	in.set_limits(max, max_gap);
	for (;;) {
		parse(in);
		if (!in.restarted()) break;
		if (on_restart) on_restart();
		in.again();
	}
	pipe.close();
	transfer.join();
	stopped_early_ = pipe.refused();
	return resp;
}

} // namespace pm
