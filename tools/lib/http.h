// HTTP over libcurl: a blocking single-request path for simple calls, and a
// multi-interface driver for many concurrent transfers that share one
// connection cache (keep-alive, HTTP/2 multiplexing where offered).
//
// Both paths apply the same policy: per-request timeouts, bounded retries
// with exponential backoff on connection errors, 429 and 5xx (honouring
// Retry-After), TLS verification always on, and redirects followed only to
// the same scheme and host unless the caller allows otherwise.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pm {

// libcurl's global set-up, once per process: whatever calls libcurl first.
void http_global_init();

struct HttpOptions {
	long connect_timeout = 10;   // seconds to connect; also the stall limit
	long total_timeout = 1800;   // seconds for one whole attempt
	int retries = 3;             // further attempts after the first
	double backoff = 1.0;        // first retry delay; doubles each time
	double max_retry_after = 60; // cap on a server's Retry-After
	bool cross_host_redirects = false;
	int max_redirects = 5;
	size_t max_error_body = 64 << 10;
	std::string user_agent; // empty: "pypi-mirror/VERSION libcurl/VERSION"
};

// Options from the environment the wrapper sets (PYPI_MIRROR_TIMEOUT,
// PYPI_MIRROR_GLOBAL_TIMEOUT, PYPI_MIRROR_RETRIES), over the defaults.
HttpOptions http_options_from_env();

struct Response {
	long status = 0;
	std::string body; // the body unless a sink took it (error bodies always land here, bounded)
	std::map<std::string, std::string> headers; // lower-cased names
	std::string error;                          // transport error, empty if none
	std::string url;                            // final URL after redirects
	int attempts = 0;
	long long bytes = 0; // body bytes delivered for the final attempt
	bool ok() const { return error.empty() && status >= 200 && status < 300; }
	std::string header(const std::string &lower_name) const;
	// "HTTP 503" or the transport error: for messages.
	std::string describe() const;
};

struct Request {
	std::string method = "GET";
	std::string url;
	std::vector<std::string> headers; // "Name: value"
	std::string body;                 // request body, for POST
	// Streaming sink for a 2xx body; return false to abort (not retried).
	// Without a sink, the body is collected into Response::body up to max_body.
	std::function<bool(const char *, size_t)> on_data;
	// Called before a retry so a sink can start over (truncate, reset hash).
	std::function<void()> on_restart;
	size_t max_body = 256u << 20;
	bool compressed = false; // accept gzip/deflate (metadata, not files)
	int retries = -1;        // -1: the client's default
	// For messages: what this request is for ("project foo").
	std::string what;
};

class Http {
public:
	explicit Http(HttpOptions o = http_options_from_env());
	~Http();
	Http(const Http &) = delete;
	Http &operator=(const Http &) = delete;
	// Blocking, with retries and redirects.
	Response fetch(Request req);

	// Concurrent transfers. Completion callbacks run on the calling thread
	// inside run(); they may add() more requests.
	void add(Request req, std::function<void(Request &, Response &)> done);
	// Runs until every added request is done. feed() (optional) is called
	// whenever fewer than max_concurrent transfers are active and should add
	// more work; it returns false once its input is exhausted.
	void run(int max_concurrent, const std::function<bool()> &feed = nullptr);
	size_t pending() const;

	const HttpOptions &options() const { return opt_; }

	struct Impl;

private:
	HttpOptions opt_;
	std::unique_ptr<Impl> impl_;
};

} // namespace pm
