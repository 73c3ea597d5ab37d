// Unit tests for tools/lib/http.{h,cc} against a tiny HTTP/1.1 server run
// inside the test (a thread per connection, canned answers, keep-alive), so
// retries, redirects, truncation and connection reuse can be checked exactly.
#include "http.h"
#include "url.h"
#include "url_policy.h"

#include "body_stream.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct Req {
	std::string method, path, body;
	std::map<std::string, std::string> headers; // lower-cased names
};

struct Reply {
	std::string raw;   // the bytes to send, status line to body
	bool close = false; // close the connection after sending
	int delay_ms = 0;   // wait before answering
};

// A complete response with Content-Length.
Reply reply(int status, const std::string &body, const std::string &extra_headers = "")
{
	Reply r;
	r.raw = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
	        extra_headers + "\r\n" + body;
	return r;
}

// A response that promises `declared` bytes, sends only `sent`, and closes
// the connection: a body cut short.
Reply cut_short(size_t declared, const std::string &sent)
{
	Reply r;
	r.raw = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(declared) + "\r\n\r\n" + sent;
	r.close = true;
	return r;
}

class Server {
public:
	// handler(request, n): n counts earlier requests for the same path.
	using Handler = std::function<Reply(const Req &, int)>;

	explicit Server(Handler h) : handler_(std::move(h))
	{
		lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = 0;
		if (bind(lfd_, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(lfd_, 64) != 0) abort();
		socklen_t len = sizeof a;
		getsockname(lfd_, reinterpret_cast<sockaddr *>(&a), &len);
		port_ = ntohs(a.sin_port);
		accept_thread_ = std::thread([this] { accept_loop(); });
	}
	~Server()
	{
		stop_ = true;
		accept_thread_.join();
		close(lfd_);
		std::lock_guard<std::mutex> g(mu_);
		for (auto &t : conn_threads_) t.join();
	}
	std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
	std::string url(const std::string &path) const { return base() + path; }
	int port() const { return port_; }
	int connections() const { return connections_; }
	int requests() const { return requests_; }
	int hits(const std::string &path)
	{
		std::lock_guard<std::mutex> g(mu_);
		return hits_[path];
	}
	Req last(const std::string &path)
	{
		std::lock_guard<std::mutex> g(mu_);
		return last_[path];
	}

private:
	void accept_loop()
	{
		while (!stop_) {
			pollfd p{lfd_, POLLIN, 0};
			if (poll(&p, 1, 20) <= 0) continue;
			int fd = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
			if (fd < 0) continue;
			connections_++;
			std::lock_guard<std::mutex> g(mu_);
			conn_threads_.emplace_back([this, fd] { serve(fd); });
		}
	}

	// Appends what arrives to buf; false on EOF, error or shutdown.
	bool read_some(int fd, std::string &buf)
	{
		while (!stop_) {
			pollfd p{fd, POLLIN, 0};
			int r = poll(&p, 1, 20);
			if (r == 0) continue;
			if (r < 0) return false;
			char tmp[16384];
			ssize_t n = recv(fd, tmp, sizeof tmp, 0);
			if (n <= 0) return false;
			buf.append(tmp, static_cast<size_t>(n));
			return true;
		}
		return false;
	}

	void serve(int fd)
	{
		std::string buf;
		for (;;) {
			size_t he;
			while ((he = buf.find("\r\n\r\n")) == std::string::npos)
				if (!read_some(fd, buf)) goto done;
			{
				Req r;
				std::string head = buf.substr(0, he);
				size_t eol = head.find("\r\n");
				std::string reqline = head.substr(0, eol);
				size_t sp1 = reqline.find(' '), sp2 = reqline.rfind(' ');
				r.method = reqline.substr(0, sp1);
				r.path = reqline.substr(sp1 + 1, sp2 - sp1 - 1);
				size_t pos = eol == std::string::npos ? head.size() : eol + 2;
				while (pos < head.size()) {
					size_t e = head.find("\r\n", pos);
					if (e == std::string::npos) e = head.size();
					std::string line = head.substr(pos, e - pos);
					size_t c = line.find(':');
					if (c != std::string::npos) {
						std::string name = line.substr(0, c);
						for (auto &ch : name) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
						size_t v = c + 1;
						while (v < line.size() && line[v] == ' ') v++;
						r.headers[name] = line.substr(v);
					}
					pos = e + 2;
				}
				size_t cl = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
				while (buf.size() < he + 4 + cl)
					if (!read_some(fd, buf)) goto done;
				r.body = buf.substr(he + 4, cl);
				buf.erase(0, he + 4 + cl);
				// Query strings are part of what the handler sees, but not of the hit key.
				std::string key = r.path.substr(0, r.path.find('?'));
				int n;
				{
					std::lock_guard<std::mutex> g(mu_);
					n = hits_[key]++;
					last_[key] = r;
				}
				requests_++;
				Reply rep = handler_(r, n);
				if (rep.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(rep.delay_ms));
				size_t off = 0;
				while (off < rep.raw.size()) {
					ssize_t w = send(fd, rep.raw.data() + off, rep.raw.size() - off, MSG_NOSIGNAL);
					if (w <= 0) goto done;
					off += static_cast<size_t>(w);
				}
				if (rep.close) goto done;
			}
		}
	done:
		close(fd);
	}

	Handler handler_;
	int lfd_ = -1, port_ = 0;
	std::atomic<bool> stop_{false};
	std::atomic<int> connections_{0}, requests_{0};
	std::thread accept_thread_;
	std::mutex mu_;
	std::vector<std::thread> conn_threads_;
	std::map<std::string, int> hits_;
	std::map<std::string, Req> last_;
};

// Fast retries, bounded waits: every test stays well under a second or two.
pm::HttpOptions fast()
{
	pm::HttpOptions o;
	o.backoff = 0.01;
	o.retries = 3;
	o.connect_timeout = 5;
	o.total_timeout = 10;
	return o;
}

pm::Request get(const std::string &url)
{
	pm::Request r;
	r.url = url;
	return r;
}

double now()
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

TEST(Http, Get200)
{
	Server s([](const Req &r, int) {
		if (r.path == "/hello") return reply(200, "hello world", "X-PyPI-Last-Serial: 42\r\nContent-Type: text/plain\r\n");
		return reply(404, "nope");
	});
	pm::Http h(fast());
	pm::Response r = h.fetch(get(s.url("/hello")));
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.status, 200);
	EXPECT_EQ(r.body, "hello world");
	EXPECT_EQ(r.bytes, 11);
	EXPECT_EQ(r.attempts, 1);
	EXPECT_EQ(r.header("x-pypi-last-serial"), "42"); // names lower-cased
	EXPECT_EQ(r.header("content-type"), "text/plain");
	EXPECT_EQ(r.header("missing"), "");
	EXPECT_EQ(r.url, s.url("/hello"));
	EXPECT_TRUE(r.error.empty());
	// A User-Agent that names us.
	EXPECT_EQ(s.last("/hello").headers["user-agent"].rfind("pypi-mirror/", 0), 0u)
	    << s.last("/hello").headers["user-agent"];
}

TEST(Http, RequestHeadersAndPost)
{
	Server s([](const Req &r, int) { return reply(200, r.method + ":" + r.body); });
	pm::Http h(fast());
	pm::Request q = get(s.url("/rpc"));
	q.method = "POST";
	q.body = "<xml/>";
	q.headers = {"Content-Type: text/xml", "X-Test: yes"};
	pm::Response r = h.fetch(q);
	EXPECT_EQ(r.body, "POST:<xml/>");
	EXPECT_EQ(s.last("/rpc").headers["content-type"], "text/xml");
	EXPECT_EQ(s.last("/rpc").headers["x-test"], "yes");

	pm::Request head = get(s.url("/h"));
	head.method = "HEAD";
	r = h.fetch(head);
	EXPECT_EQ(r.status, 200);
	EXPECT_EQ(s.last("/h").method, "HEAD");
	EXPECT_TRUE(r.body.empty());

	pm::Request purge = get(s.url("/p"));
	purge.method = "PURGE";
	r = h.fetch(purge);
	EXPECT_EQ(r.body, "PURGE:");
}

// PUT bodies: a string, or streamed by on_read with on_restart rewinding it
// for a retry; SigV4 signing puts the key id in Authorization, never the secret.
TEST(Http, PutBodiesStreamedAndSigned)
{
	Server s([](const Req &r, int n) {
		if (r.path == "/flaky" && n == 0) return reply(503, "");
		return reply(200, r.method + ":" + r.body);
	});
	pm::Http h(fast());
	pm::Request q = get(s.url("/s"));
	q.method = "PUT";
	q.body = "string body";
	EXPECT_EQ(h.fetch(q).body, "PUT:string body");

	std::string data(50000, 'x');
	for (size_t i = 0; i < data.size(); i += 11) data[i] = static_cast<char>('a' + i % 26);
	size_t off = 0;
	int restarts = 0;
	pm::Request u = get(s.url("/flaky"));
	u.method = "PUT";
	u.upload_size = static_cast<long long>(data.size());
	u.on_read = [&](char *b, size_t n) -> long {
		size_t k = std::min(n, data.size() - off);
		memcpy(b, data.data() + off, k);
		off += k;
		return static_cast<long>(k);
	};
	u.on_restart = [&] {
		off = 0;
		restarts++;
	};
	u.headers = {"Expect:"}; // the test server sends no 100 Continue (curl would wait 1 s for it)
	u.aws_sigv4 = "aws:amz:us-east-1:s3";
	u.aws_key = "acct:user";
	u.aws_secret = "s3cret-value";
	pm::Response r = h.fetch(u);
	EXPECT_EQ(r.status, 200);
	EXPECT_EQ(r.body, "PUT:" + data);
	EXPECT_EQ(restarts, 1);
	Req last = s.last("/flaky");
	EXPECT_NE(last.headers["authorization"].find("Credential=acct:user/"), std::string::npos)
	    << last.headers["authorization"];
	for (auto &kv : last.headers) EXPECT_EQ(kv.second.find("s3cret"), std::string::npos) << kv.first;

	// A sender that gives up: the transfer fails, and is not retried.
	pm::Request bad = get(s.url("/abort"));
	bad.method = "PUT";
	bad.upload_size = 100;
	bad.headers = {"Expect:"};
	bad.on_read = [](char *, size_t) -> long { return -1; };
	r = h.fetch(bad);
	EXPECT_FALSE(r.ok());
	EXPECT_EQ(r.error, "upload aborted by the sender");
}

// A download fed straight into an upload in the same run(): the sink pauses
// when its small buffer is full, the upload when it is empty, and each
// wakes the other through resume(). The PUT also waits for no 100 Continue
// (the test server sends none).
TEST(Http, PausedDownloadFeedsUpload)
{
	std::string big(300000, 'q');
	for (size_t i = 0; i < big.size(); i += 5) big[i] = static_cast<char>('a' + i % 26);
	Server s([&](const Req &r, int) {
		if (r.method == "PUT") return reply(200, std::to_string(r.body.size()) + ":" + (r.body == big ? "same" : "differs"));
		return reply(200, big);
	});
	pm::Http h(fast());
	std::string buf;
	size_t off = 0;
	bool get_done = false, get_paused = false, put_paused = false;
	int pauses = 0;
	unsigned long long get_id = 0, put_id = 0;
	pm::Request put = get(s.url("/put"));
	put.method = "PUT";
	put.upload_size = static_cast<long long>(big.size());
	put.paired = true;
	put.retries = 0;
	put.on_read = [&](char *b, size_t n) -> long {
		if (get_paused) {
			get_paused = false;
			h.resume(get_id);
		}
		if (off == buf.size()) {
			if (get_done) return 0;
			put_paused = true;
			pauses++;
			return pm::kReadPause;
		}
		size_t k = std::min(n, buf.size() - off);
		memcpy(b, buf.data() + off, k);
		off += k;
		return static_cast<long>(k);
	};
	pm::Request g = get(s.url("/file"));
	g.retries = 0;
	g.on_chunk = [&](const char *p, size_t n) {
		if (buf.size() - off >= 4096) { // a 4 KiB pipe: full
			get_paused = true;
			pauses++;
			return pm::Pace::Pause;
		}
		if (off == buf.size()) {
			buf.clear();
			off = 0;
		}
		buf.append(p, n);
		if (put_paused) {
			put_paused = false;
			h.resume(put_id);
		}
		return pm::Pace::Take;
	};
	pm::Response get_resp;
	get_id = h.add(g, [&](pm::Request &, pm::Response &r) {
		get_resp = r;
		get_done = true;
		h.resume(put_id);
	});
	// Added after the GET, which holds the one slot: the PUT, its pair,
	// runs beside it.
	pm::Response put_resp;
	put_id = h.add(put, [&](pm::Request &, pm::Response &r) { put_resp = r; });
	double t0 = now();
	h.run(1);
	EXPECT_TRUE(get_resp.ok()) << get_resp.describe();
	EXPECT_EQ(get_resp.bytes, static_cast<long long>(big.size()));
	EXPECT_TRUE(put_resp.ok()) << put_resp.describe();
	EXPECT_EQ(put_resp.body, std::to_string(big.size()) + ":same");
	EXPECT_GT(pauses, 0);
	EXPECT_LT(now() - t0, 0.9); // no second lost waiting for a 100 Continue
}

TEST(Http, StreamingSink)
{
	std::string big(200000, 'z');
	for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
	Server s([&](const Req &, int) { return reply(200, big); });
	pm::Http h(fast());
	std::string got;
	int calls = 0;
	pm::Request q = get(s.url("/file"));
	q.max_body = 10; // a sink is not bounded by max_body
	q.on_data = [&](const char *p, size_t n) {
		got.append(p, n);
		calls++;
		return true;
	};
	pm::Response r = h.fetch(q);
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(got, big);
	EXPECT_GE(calls, 1);
	EXPECT_TRUE(r.body.empty()); // the sink took it
	EXPECT_EQ(r.bytes, static_cast<long long>(big.size()));
}

TEST(Http, SinkAbortNotRetried)
{
	Server s([](const Req &, int) { return reply(200, std::string(1000, 'x')); });
	pm::Http h(fast());
	pm::Request q = get(s.url("/f"));
	q.on_data = [](const char *, size_t) { return false; };
	pm::Response r = h.fetch(q);
	EXPECT_FALSE(r.ok());
	EXPECT_NE(r.error.find("aborted"), std::string::npos) << r.error;
	EXPECT_EQ(r.attempts, 1);
	EXPECT_EQ(s.hits("/f"), 1);
}

TEST(Http, ErrorBodyNotSentToSink)
{
	Server s([](const Req &, int) { return reply(404, "not found here"); });
	pm::Http h(fast());
	bool sink_called = false;
	pm::Request q = get(s.url("/missing"));
	q.on_data = [&](const char *, size_t) { return sink_called = true; };
	pm::Response r = h.fetch(q);
	EXPECT_FALSE(sink_called);
	EXPECT_EQ(r.status, 404);
	EXPECT_EQ(r.body, "not found here"); // kept for messages
}

TEST(Http, RetryOn503ThenOk)
{
	Server s([](const Req &, int n) { return n == 0 ? reply(503, "busy") : reply(200, "ok"); });
	pm::Http h(fast());
	int restarts = 0;
	pm::Request q = get(s.url("/x"));
	q.on_restart = [&] { restarts++; };
	pm::Response r = h.fetch(q);
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.body, "ok");
	EXPECT_EQ(r.attempts, 2);
	EXPECT_EQ(restarts, 1);
	EXPECT_EQ(s.hits("/x"), 2);
}

TEST(Http, RetriesExhausted)
{
	Server s([](const Req &, int) { return reply(500, "broken"); });
	pm::HttpOptions o = fast();
	o.retries = 2;
	pm::Http h(o);
	pm::Response r = h.fetch(get(s.url("/x")));
	EXPECT_FALSE(r.ok());
	EXPECT_EQ(r.status, 500);
	EXPECT_EQ(r.attempts, 3);
	EXPECT_EQ(s.hits("/x"), 3);
	EXPECT_EQ(r.describe(), "HTTP 500");
	EXPECT_EQ(r.body, "broken");

	// The per-request retry count overrides the client's.
	pm::Request q = get(s.url("/y"));
	q.retries = 0;
	r = h.fetch(q);
	EXPECT_EQ(r.attempts, 1);
	EXPECT_EQ(s.hits("/y"), 1);
}

TEST(Http, RetryAfterZeroHonoured)
{
	Server s([](const Req &, int n) { return n == 0 ? reply(503, "", "Retry-After: 0\r\n") : reply(200, "ok"); });
	pm::HttpOptions o = fast();
	o.backoff = 3; // without Retry-After the retry would wait about 3 s
	pm::Http h(o);
	double t0 = now();
	pm::Response r = h.fetch(get(s.url("/x")));
	double took = now() - t0;
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.attempts, 2);
	EXPECT_LT(took, 1.5);
}

TEST(Http, RetryAfter429)
{
	Server s([](const Req &, int n) { return n < 2 ? reply(429, "slow down", "Retry-After: 0\r\n") : reply(200, "ok"); });
	pm::Http h(fast());
	pm::Response r = h.fetch(get(s.url("/x")));
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.attempts, 3);
}

TEST(Http, RetryAfterCapped)
{
	// A huge Retry-After (seconds or an HTTP-date) is capped by max_retry_after.
	Server s([](const Req &r, int n) {
		if (n > 0) return reply(200, "ok");
		if (r.path == "/secs") return reply(503, "", "Retry-After: 100000\r\n");
		return reply(503, "", "Retry-After: Fri, 31 Dec 2100 23:59:59 GMT\r\n");
	});
	pm::HttpOptions o = fast();
	o.max_retry_after = 0.05;
	pm::Http h(o);
	double t0 = now();
	pm::Response a = h.fetch(get(s.url("/secs")));
	pm::Response b = h.fetch(get(s.url("/date")));
	EXPECT_TRUE(a.ok()) << a.describe();
	EXPECT_TRUE(b.ok()) << b.describe();
	EXPECT_EQ(a.attempts, 2);
	EXPECT_EQ(b.attempts, 2);
	EXPECT_LT(now() - t0, 1.5);
}

TEST(Http, NotFoundNotRetried)
{
	Server s([](const Req &, int) { return reply(404, "no such project"); });
	pm::Http h(fast());
	int restarts = 0;
	pm::Request q = get(s.url("/pypi/x/json"));
	q.on_restart = [&] { restarts++; };
	pm::Response r = h.fetch(q);
	EXPECT_EQ(r.status, 404);
	EXPECT_FALSE(r.ok());
	EXPECT_TRUE(r.error.empty());
	EXPECT_EQ(r.attempts, 1);
	EXPECT_EQ(restarts, 0);
	EXPECT_EQ(s.hits("/pypi/x/json"), 1);
}

TEST(Http, RedirectSameHostFollowed)
{
	Server s([](const Req &r, int) {
		if (r.path == "/simple/Foo/") return reply(301, "", "Location: /simple/foo/\r\n");
		if (r.path == "/abs") return reply(302, "moved", "Location: http://127.0.0.1:" + r.headers.at("host").substr(10) + "/simple/foo/\r\n");
		return reply(200, "page for " + r.path);
	});
	pm::Http h(fast());
	pm::Response r = h.fetch(get(s.url("/simple/Foo/")));
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.body, "page for /simple/foo/");
	EXPECT_EQ(r.url, s.url("/simple/foo/"));
	EXPECT_EQ(r.attempts, 1); // a redirect is not a failed attempt

	r = h.fetch(get(s.url("/abs")));
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.body, "page for /simple/foo/"); // the redirect's own body is dropped
}

TEST(Http, RedirectSinkGetsOnlyFinalBody)
{
	Server s([](const Req &r, int) {
		if (r.path == "/a") return reply(302, "redirect body", "Location: /b\r\n");
		return reply(200, "final");
	});
	pm::Http h(fast());
	std::string got;
	pm::Request q = get(s.url("/a"));
	q.on_data = [&](const char *p, size_t n) {
		got.append(p, n);
		return true;
	};
	pm::Response r = h.fetch(q);
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(got, "final");
}

TEST(Http, RedirectOffHostRefused)
{
	int port = 0;
	Server s([&](const Req &r, int) {
		if (r.path == "/go") return reply(302, "", "Location: http://localhost:" + std::to_string(port) + "/elsewhere\r\n");
		if (r.path == "/ext") return reply(302, "", "Location: https://evil.example/x\r\n");
		if (r.path == "/scheme") return reply(302, "", "Location: file:///etc/passwd\r\n");
		return reply(200, "should not get here");
	});
	port = s.port();
	pm::Http h(fast());
	for (const char *p : {"/go", "/ext", "/scheme"}) {
		pm::Response r = h.fetch(get(s.url(p)));
		EXPECT_FALSE(r.ok()) << p;
		EXPECT_NE(r.error.find("off-host"), std::string::npos) << p << ": " << r.error;
	}
	EXPECT_EQ(s.hits("/elsewhere"), 0);
}

TEST(Http, RedirectCrossHostWhenAllowed)
{
	int port = 0;
	Server s([&](const Req &r, int) {
		if (r.path == "/go") return reply(302, "", "Location: http://localhost:" + std::to_string(port) + "/there\r\n");
		return reply(200, "there");
	});
	port = s.port();
	pm::HttpOptions o = fast();
	o.cross_host_redirects = true;
	pm::Http h(o);
	pm::Response r = h.fetch(get(s.url("/go")));
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.body, "there");
}

TEST(Http, RedirectLoopStops)
{
	Server s([](const Req &, int) { return reply(302, "", "Location: /loop\r\n"); });
	pm::Http h(fast());
	pm::Response r = h.fetch(get(s.url("/loop")));
	EXPECT_FALSE(r.ok());
	EXPECT_NE(r.error.find("too many redirects"), std::string::npos) << r.error;
	EXPECT_EQ(s.hits("/loop"), fast().max_redirects + 1);
}

TEST(Http, PostSeeOtherBecomesGet)
{
	Server s([](const Req &r, int) {
		if (r.path == "/form") return reply(303, "", "Location: /result\r\n");
		return reply(200, r.method);
	});
	pm::Http h(fast());
	pm::Request q = get(s.url("/form"));
	q.method = "POST";
	q.body = "a=1";
	pm::Response r = h.fetch(q);
	EXPECT_EQ(r.body, "GET");
}

// A GET whose body goes to `sunk`, emptied (and counted in `restarts`) at
// every restart, as a download into a file does.
pm::Request sinking_get(const std::string &url, std::string &sunk, int &restarts)
{
	pm::Request q = get(url);
	q.on_restart = [&] {
		restarts++;
		sunk.clear();
	};
	q.on_data = [&](const char *p, size_t n) {
		sunk.append(p, n);
		return true;
	};
	return q;
}

TEST(Http, TruncatedBodyRetriedThenPartial)
{
	Server s([](const Req &, int) { return cut_short(1000, "only this much"); });
	pm::HttpOptions o = fast();
	o.retries = 2;
	pm::Http h(o);
	int restarts = 0;
	std::string sunk;
	pm::Request q = sinking_get(s.url("/file.whl"), sunk, restarts);
	pm::Response r = h.fetch(q);
	EXPECT_FALSE(r.ok());
	EXPECT_EQ(r.attempts, 3);
	EXPECT_EQ(restarts, 2);
	EXPECT_EQ(s.hits("/file.whl"), 3);
	std::string lower = r.error;
	for (auto &c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
	EXPECT_NE(lower.find("partial"), std::string::npos) << r.error;
}

TEST(Http, TruncatedThenComplete)
{
	const std::string full(5000, 'f');
	// The first answer is cut short, the next one complete.
	Server s([&](const Req &, int n) { return n > 0 ? reply(200, full) : cut_short(full.size(), full.substr(0, 1234)); });
	pm::Http h(fast());
	std::string sunk;
	int restarts = 0;
	pm::Request q = sinking_get(s.url("/f"), sunk, restarts);
	pm::Response r = h.fetch(q);
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(restarts, 1);
	EXPECT_EQ(sunk, full);
	EXPECT_EQ(r.bytes, 5000);
}

TEST(Http, ConnectionRefusedRetried)
{
	// A port nobody listens on: bind, learn the port, close.
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
	socklen_t len = sizeof a;
	getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
	close(fd);
	pm::HttpOptions o = fast();
	o.retries = 1;
	pm::Http h(o);
	pm::Response r = h.fetch(get("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/x"));
	EXPECT_FALSE(r.ok());
	EXPECT_FALSE(r.error.empty());
	EXPECT_EQ(r.attempts, 2);
	EXPECT_EQ(r.describe(), r.error);
}

TEST(Http, MaxBodyExceededNotRetried)
{
	Server s([](const Req &, int) { return reply(200, std::string(100000, 'b')); });
	pm::Http h(fast());
	int restarts = 0;
	pm::Request q = get(s.url("/big"));
	q.max_body = 1000;
	q.on_restart = [&] { restarts++; };
	pm::Response r = h.fetch(q);
	EXPECT_FALSE(r.ok());
	EXPECT_NE(r.error.find("larger than 1000"), std::string::npos) << r.error;
	EXPECT_EQ(r.attempts, 1);
	EXPECT_EQ(restarts, 0);
	EXPECT_EQ(s.hits("/big"), 1);
	EXPECT_LE(r.body.size(), 1000u);
}

TEST(Http, ErrorBodyBounded)
{
	Server s([](const Req &, int) { return reply(404, std::string(200000, 'e')); });
	pm::Http h(fast());
	pm::Response r = h.fetch(get(s.url("/x")));
	EXPECT_EQ(r.status, 404);
	EXPECT_LE(r.body.size(), fast().max_error_body);
	EXPECT_GT(r.body.size(), 0u);

	// The bound is the client's option, not a fixed number.
	pm::HttpOptions o = fast();
	o.max_error_body = 100;
	pm::Http small(o);
	r = small.fetch(get(s.url("/x")));
	EXPECT_EQ(r.status, 404);
	EXPECT_EQ(r.body.size(), 100u);
}

TEST(Http, CollectedBodyGrowsWithinTheLimit)
{
	// Chunked: no length to size the body by, so it grows as it arrives.
	std::string body(300000, 'g');
	Server s([&](const Req &, int) {
		Reply r;
		r.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
		for (size_t i = 0; i < body.size(); i += 7000) {
			size_t n = std::min<size_t>(7000, body.size() - i);
			char hex[16];
			snprintf(hex, sizeof hex, "%zx\r\n", n);
			r.raw += hex + body.substr(i, n) + "\r\n";
		}
		r.raw += "0\r\n\r\n";
		return r;
	});
	pm::Http h(fast());
	pm::Request q = get(s.url("/chunked"));
	q.max_body = 400000;
	pm::Response r = h.fetch(q);
	ASSERT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.body, body);
	// Never past the limit (doubling from 300000-odd would be 600000-odd).
	EXPECT_LE(r.body.capacity(), 400000u);
	// At the limit exactly: taken whole, still no room past it.
	q = get(s.url("/chunked"));
	q.max_body = body.size();
	r = h.fetch(q);
	ASSERT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.body.size(), body.size());
	EXPECT_LE(r.body.capacity(), body.size());
	// With a Content-Length, sized once, exactly.
	Server s2([&](const Req &, int) { return reply(200, body); });
	r = h.fetch(get(s2.url("/cl")));
	ASSERT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(r.body, body);
	EXPECT_EQ(r.body.capacity(), body.size());
}

// Reads a whole stream as parse() would, restarts and all.
struct Slurp {
	std::string got, error;
	size_t stop_after = static_cast<size_t>(-1);
	void operator()(pm::InStream &in)
	{
		got.clear();
		while (in.Peek() != '\0' && got.size() < stop_after) {
			got.push_back(in.Take());
			if (got.size() % 100 == 0) in.mark();
		}
		error = in.error();
	}
};

TEST(StreamedFetch, WholeBodyThroughTheStream)
{
	std::string body;
	for (int i = 0; i < 200000; i++) body += static_cast<char>('a' + i % 26);
	Server s([&](const Req &, int) { return reply(200, body); });
	pm::Http h(fast());
	pm::StreamedFetch f(h, get(s.url("/root")));
	Slurp sl;
	int restarts = 0;
	pm::Response r = f.run(std::ref(sl), [&] { restarts++; }, 1 << 20, 1 << 20);
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_FALSE(f.stopped_early());
	EXPECT_EQ(sl.got, body);
	EXPECT_EQ(restarts, 0);
	EXPECT_TRUE(r.body.empty()); // went to the stream, not to memory
}

TEST(StreamedFetch, CutShortThenParsedAgain)
{
	const std::string full(50000, 'f');
	Server s([&](const Req &, int n) { return n > 0 ? reply(200, full) : cut_short(full.size(), full.substr(0, 20000)); });
	pm::Http h(fast());
	pm::StreamedFetch f(h, get(s.url("/cut")));
	Slurp sl;
	int parses = 0, restarts = 0;
	pm::Response r = f.run(
	    [&](pm::InStream &in) {
		    parses++;
		    sl(in);
	    },
	    [&] { restarts++; }, 1 << 20, 1 << 20);
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(restarts, 1);
	EXPECT_EQ(parses, 2);
	EXPECT_EQ(sl.got, full);
}

TEST(StreamedFetch, ReceiverStopsEarly)
{
	// Far more than the queue holds: the transfer has to be stopped.
	const std::string big(32 << 20, 'x');
	Server s([&](const Req &, int) { return reply(200, big); });
	pm::Http h(fast());
	pm::StreamedFetch f(h, get(s.url("/big")));
	Slurp sl;
	sl.stop_after = 1000;
	pm::Response r = f.run(std::ref(sl), nullptr, size_t(1) << 30, size_t(1) << 30);
	EXPECT_EQ(sl.got.size(), 1000u);
	EXPECT_TRUE(f.stopped_early());
	EXPECT_FALSE(r.ok());
	EXPECT_EQ(r.status, 200);
	EXPECT_EQ(s.hits("/big"), 1); // an abort by the receiver is not retried
}

TEST(StreamedFetch, Limits)
{
	const std::string body(100000, ' ');
	Server s([&](const Req &, int) { return reply(200, body); });
	pm::Http h(fast());
	{
		pm::StreamedFetch f(h, get(s.url("/a")));
		Slurp sl;
		f.run(std::ref(sl), nullptr, 50000, 1 << 20);
		EXPECT_EQ(sl.error, "response larger than 50000 bytes");
		EXPECT_LE(sl.got.size(), 50000u);
	}
	{
		// The gap: nothing marks progress while the stream reads on.
		pm::StreamedFetch f(h, get(s.url("/b")));
		bool too_big = true;
		std::string error;
		f.run(
		    [&](pm::InStream &in) {
			    while (in.Peek() != '\0') in.Take();
			    error = in.error();
			    too_big = in.too_big();
		    },
		    nullptr, 1 << 20, 10000);
		EXPECT_NE(error.find("more than 10000 bytes without a value ending"), std::string::npos) << error;
		EXPECT_FALSE(too_big);
	}
}

TEST(StreamedFetch, ErrorStatusNeverReachesTheStream)
{
	Server s([](const Req &, int) { return reply(404, "not here"); });
	pm::Http h(fast());
	pm::StreamedFetch f(h, get(s.url("/x")));
	Slurp sl;
	pm::Response r = f.run(std::ref(sl), nullptr, 1 << 20, 1 << 20);
	EXPECT_EQ(r.status, 404);
	EXPECT_EQ(sl.got, "");
	EXPECT_EQ(r.body, "not here");
	EXPECT_FALSE(f.stopped_early());
}

TEST(FileStream, ReadsAFileAndFindsItsEnd)
{
	char path[] = "/tmp/pm-filestream-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	std::string data(150000, 'q');
	data[100000] = '\0'; // a NUL in the data is not the end
	ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
	close(fd);
	pm::FileStream in;
	ASSERT_TRUE(in.open(path));
	size_t n = 0;
	while (in.Peek() != '\0') {
		in.Take();
		n++;
	}
	EXPECT_EQ(n, 100000u);
	EXPECT_FALSE(in.at_end());
	EXPECT_EQ(in.Tell(), 100000u);
	in.Take();
	while (in.Peek() != '\0') in.Take();
	EXPECT_TRUE(in.at_end());
	EXPECT_EQ(in.Tell(), data.size());
	pm::FileStream small;
	ASSERT_TRUE(small.open(path));
	small.set_limits(70000, 1 << 20);
	while (small.Peek() != '\0') small.Take();
	EXPECT_TRUE(small.too_big());
	EXPECT_EQ(small.error(), "file larger than 70000 bytes");
	unlink(path);
	pm::FileStream none;
	EXPECT_FALSE(none.open("/nonexistent/x"));
	EXPECT_EQ(errno, ENOENT);
}

TEST(Http, ConcurrentKeepAlive)
{
	Server s([](const Req &r, int) {
		Reply rep = reply(200, "body of " + r.path);
		rep.delay_ms = 5;
		return rep;
	});
	pm::Http h(fast());
	const int n = 20, max_concurrent = 4;
	int done = 0, good = 0;
	for (int i = 0; i < n; i++) {
		std::string path = "/p/" + std::to_string(i);
		h.add(get(s.url(path)), [&, path](pm::Request &q, pm::Response &r) {
			done++;
			if (r.ok() && r.body == "body of " + path && q.url == s.url(path)) good++;
		});
	}
	EXPECT_EQ(h.pending(), static_cast<size_t>(n));
	h.run(max_concurrent);
	EXPECT_EQ(done, n);
	EXPECT_EQ(good, n);
	EXPECT_EQ(h.pending(), 0u);
	EXPECT_EQ(s.requests(), n);
	EXPECT_GE(s.connections(), 1);
	EXPECT_LE(s.connections(), max_concurrent) << "connections were not reused";

	// The same client reuses its connections in a later run too.
	int before = s.connections();
	pm::Response r = h.fetch(get(s.url("/again")));
	EXPECT_TRUE(r.ok());
	EXPECT_EQ(s.connections(), before);
}

TEST(Http, CallbackMayAddMore)
{
	Server s([](const Req &r, int) { return reply(200, r.path); });
	pm::Http h(fast());
	std::vector<std::string> seen;
	std::function<void(pm::Request &, pm::Response &)> chain = [&](pm::Request &, pm::Response &r) {
		seen.push_back(r.body);
		if (seen.size() < 5) h.add(get(s.url("/n" + std::to_string(seen.size()))), chain);
	};
	h.add(get(s.url("/n0")), chain);
	h.run(2);
	EXPECT_EQ(seen, (std::vector<std::string>{"/n0", "/n1", "/n2", "/n3", "/n4"}));
}

TEST(Http, FeedPullsLazily)
{
	Server s([](const Req &r, int) {
		Reply rep = reply(200, r.path);
		rep.delay_ms = 2;
		return rep;
	});
	pm::Http h(fast());
	const int total = 30, max_concurrent = 3;
	int added = 0, completed = 0, max_outstanding = 0, feed_calls = 0;
	auto feed = [&] {
		feed_calls++;
		if (added == total) return false;
		h.add(get(s.url("/f/" + std::to_string(added))), [&](pm::Request &, pm::Response &r) {
			EXPECT_TRUE(r.ok()) << r.describe();
			completed++;
		});
		added++;
		max_outstanding = std::max(max_outstanding, added - completed);
		return true;
	};
	h.run(max_concurrent, feed);
	EXPECT_EQ(added, total);
	EXPECT_EQ(completed, total);
	// Work is pulled as slots free up, never all at once.
	EXPECT_LE(max_outstanding, max_concurrent);
	EXPECT_GE(feed_calls, total + 1); // the last call says "exhausted"
	EXPECT_LE(s.connections(), max_concurrent);
}

TEST(Http, FeedThatAddsNothing)
{
	// A feed may consume input that needs no request (a pass-through record).
	Server s([](const Req &r, int) { return reply(200, r.path); });
	pm::Http h(fast());
	int calls = 0, completed = 0;
	h.run(2, [&] {
		calls++;
		if (calls % 2 == 0) h.add(get(s.url("/x")), [&](pm::Request &, pm::Response &) { completed++; });
		return calls < 10;
	});
	EXPECT_EQ(calls, 10);
	EXPECT_EQ(completed, 5);
}

TEST(Http, RunWithNothing)
{
	pm::Http h(fast());
	double t0 = now();
	h.run(4);
	h.run(4, [] { return false; });
	EXPECT_LT(now() - t0, 0.5);
}

TEST(Http, OptionsFromEnv)
{
	setenv("PYPI_MIRROR_TIMEOUT", "7", 1);
	setenv("PYPI_MIRROR_RETRIES", "5", 1);
	setenv("PYPI_MIRROR_GLOBAL_TIMEOUT", "bogus", 1);
	pm::HttpOptions o = pm::http_options_from_env();
	EXPECT_EQ(o.connect_timeout, 7);
	EXPECT_EQ(o.retries, 5);
	EXPECT_EQ(o.total_timeout, pm::HttpOptions().total_timeout);
	unsetenv("PYPI_MIRROR_TIMEOUT");
	unsetenv("PYPI_MIRROR_RETRIES");
	unsetenv("PYPI_MIRROR_GLOBAL_TIMEOUT");
}

TEST(Http, UrlHelpers)
{
	pm::UrlParts u;
	std::string err;
	ASSERT_TRUE(pm::parse_url("HTTPS://Files.PythonHosted.org/packages/a%20b/c?x=1#f", u, &err)) << err;
	EXPECT_EQ(u.scheme, "https");
	EXPECT_EQ(u.host, "files.pythonhosted.org");
	EXPECT_EQ(u.port, "443");
	EXPECT_EQ(u.path, "/packages/a b/c");
	EXPECT_EQ(u.raw_path, "/packages/a%20b/c");
	EXPECT_EQ(u.query, "x=1");
	EXPECT_FALSE(pm::parse_url("http://", u, &err));
	EXPECT_FALSE(err.empty());

	EXPECT_EQ(pm::url_origin("https://pypi.org/simple/"), "https://pypi.org:443");
	EXPECT_EQ(pm::url_origin("https://PyPI.org:443/x"), "https://pypi.org:443");
	EXPECT_EQ(pm::url_origin("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080");
	EXPECT_NE(pm::url_origin("http://localhost:8080/x"), pm::url_origin("http://127.0.0.1:8080/x"));
	EXPECT_NE(pm::url_origin("http://pypi.org/"), pm::url_origin("https://pypi.org/"));

	EXPECT_EQ(pm::url_join("https://pypi.org", "/pypi/x/json"), "https://pypi.org/pypi/x/json");
	EXPECT_EQ(pm::url_join("https://pypi.org/", "/pypi/x/json"), "https://pypi.org/pypi/x/json");
	EXPECT_EQ(pm::url_join("https://pypi.org//", "simple/"), "https://pypi.org/simple/");

	EXPECT_EQ(pm::url_escape("demo_pkg-1.0.tar.gz"), "demo_pkg-1.0.tar.gz");
	EXPECT_EQ(pm::url_escape("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
	EXPECT_EQ(pm::url_escape("caf\xc3\xa9"), "caf%C3%A9");
}

} // namespace

// Credentials go to the upstream's origin only: not to another host (here
// "localhost" for the same server) after a redirect, even when cross-host
// redirects are allowed. A 401 says whether credentials were offered.
TEST(Http, CredentialsOnlyToTheUpstreamOrigin)
{
	int port = 0;
	Server s([&](const Req &r, int) {
		if (r.path == "/go") return reply(302, "", "Location: http://localhost:" + std::to_string(port) + "/other\r\n");
		if (r.headers.count("authorization") == 0) return reply(401, "who are you", "WWW-Authenticate: Basic\r\n");
		return reply(200, "hi");
	});
	port = s.port();
	pm::HttpOptions o = fast();
	o.cross_host_redirects = true;
	o.username = "u";
	o.password = "p w";
	o.auth_origin = pm::url_origin(s.url("/"));
	pm::Http h(o);
	pm::Response r = h.fetch(get(s.url("/x")));
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(s.last("/x").headers["authorization"], "Basic dTpwIHc=");
	r = h.fetch(get(s.url("/go")));
	EXPECT_EQ(r.status, 401);
	EXPECT_EQ(s.last("/other").headers.count("authorization"), 0u);
	EXPECT_FALSE(r.sent_credentials);
	EXPECT_NE(r.describe().find("no credentials are configured"), std::string::npos) << r.describe();

	pm::HttpOptions b = fast();
	b.token = "tok";
	b.auth_origin = pm::url_origin(s.url("/"));
	pm::Http hb(b);
	r = hb.fetch(get(s.url("/y")));
	EXPECT_TRUE(r.ok()) << r.describe();
	EXPECT_EQ(s.last("/y").headers["authorization"], "Bearer tok");
}

TEST(Http, RefusedCredentialsSaySo)
{
	Server s([](const Req &, int) { return reply(401, "no", "WWW-Authenticate: Basic\r\n"); });
	pm::HttpOptions o = fast();
	o.username = "u";
	o.password = "secret-pw";
	o.auth_origin = pm::url_origin(s.url("/"));
	pm::Http h(o);
	pm::Response r = h.fetch(get(s.url("/x")));
	EXPECT_EQ(r.status, 401);
	EXPECT_EQ(r.attempts, 1); // a 401 is not retried
	EXPECT_EQ(r.describe(), "HTTP 401 (the credentials were refused)");
	EXPECT_EQ(r.describe().find("secret-pw"), std::string::npos);
}
