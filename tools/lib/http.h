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

#include "nocopy.h"

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

	// A private upstream. The TLS files apply to every https transfer; the
	// credentials (basic or bearer, not both) only to transfers whose
	// current URL has auth_origin's scheme, host and port, so a redirect
	// or a file host elsewhere never sees them. Other hosts get theirs from
	// netrc only, which is per host by nature.
	std::string ca_bundle;   // PEM file of CAs to trust instead of the system's
	std::string client_cert; // PEM client certificate (mutual TLS)
	std::string client_key;  // its PEM key (empty: in client_cert)
	std::string username, password;
	std::string token;       // bearer
	std::string auth_origin; // url_origin() of the upstream
	bool netrc = false;
	std::string netrc_file; // empty: ~/.netrc
	bool has_credentials() const { return !username.empty() || !token.empty() || netrc; }
};

// Options from the environment the wrapper sets, over the defaults:
// PYPI_MIRROR_TIMEOUT, PYPI_MIRROR_GLOBAL_TIMEOUT, PYPI_MIRROR_RETRIES,
// PYPI_MIRROR_BACKOFF; for a private upstream PYPI_MIRROR_CA_BUNDLE,
// PYPI_MIRROR_CLIENT_CERT, PYPI_MIRROR_CLIENT_KEY, PYPI_MIRROR_NETRC ("1"
// for ~/.netrc, or a file), PYPI_MIRROR_USERNAME with PYPI_MIRROR_PASSWORD
// or PYPI_MIRROR_PASSWORD_FILE, PYPI_MIRROR_TOKEN or PYPI_MIRROR_TOKEN_FILE.
// Credentials travel in the environment or in files, never on a command
// line (ps shows argv to every user). The credentials are for the upstream
// that upstream_or_exit() chose (auth_origin). Exits with a usage error
// naming the variable when a file it names cannot be read.
HttpOptions http_options_from_env();

// The upstream the credentials belong to (url_policy's upstream_or_exit
// sets it: the one place every tool decides its upstream).
void http_set_upstream(const std::string &url);

// The options every tool that talks to upstream takes, the same way: they
// set the PYPI_MIRROR_* variable above, so the environment stays the one
// source http_options_from_env() reads. Secrets have no option.
enum { kOptCaBundle = 0x1000, kOptClientCert, kOptClientKey, kOptNetrc };
#define PM_HTTP_LONGOPTS                                                                                             \
	{"ca-bundle", required_argument, nullptr, pm::kOptCaBundle},                                                   \
	    {"client-cert", required_argument, nullptr, pm::kOptClientCert},                                           \
	    {"client-key", required_argument, nullptr, pm::kOptClientKey},                                             \
	{                                                                                                              \
		"netrc", optional_argument, nullptr, pm::kOptNetrc                                                         \
	}
#define PM_HTTP_USAGE                                                                                                \
	"      --ca-bundle FILE   trust the CAs in FILE (PEM) for https instead of the\n"                               \
	"                         system's ($PYPI_MIRROR_CA_BUNDLE)\n"                                                  \
	"      --client-cert FILE, --client-key FILE\n"                                                                \
	"                         client certificate and key for mutual TLS\n"                                          \
	"      --netrc[=FILE]     credentials per host from ~/.netrc (or FILE)\n"
// Handles one of PM_HTTP_LONGOPTS inside a getopt_long loop; true if c was one.
bool http_option(int c, const char *prog, const char *arg);

struct Response {
	long status = 0;
	std::string body; // the body unless a sink took it (error bodies always land here, bounded)
	std::map<std::string, std::string> headers; // lower-cased names
	std::string error;                          // transport error, empty if none
	std::string url;                            // final URL after redirects
	int attempts = 0;
	long long bytes = 0; // body bytes delivered for the final attempt
	bool sent_credentials = false; // basic, bearer or netrc was offered
	bool ok() const { return error.empty() && status >= 200 && status < 300; }
	std::string header(const std::string &lower_name) const;
	// "HTTP 503" or the transport error: for messages. A 401 or 403 says
	// whether credentials were offered (never what they were).
	std::string describe() const;
};

// Flow control for a body sink (Request::on_chunk): take the bytes, leave
// them with libcurl until Http::resume() (they come again then), or stop the
// transfer (not retried).
enum class Pace { Take, Pause, Stop };

// Request::on_read's answer for "no bytes yet": the upload waits until
// Http::resume() (the read callback is called again then).
constexpr long kReadPause = -2;

struct Request {
	std::string method = "GET";
	std::string url;
	std::vector<std::string> headers; // "Name: value"
	std::string body;                 // request body, for POST (and PUT without on_read)
	// A PUT's body streamed from the caller: fill up to n bytes, return how
	// many (0 at the end, -1 to abort, kReadPause to wait for resume()).
	// upload_size: the body's length (-1: unknown, sent chunked).
	// on_restart must rewind it for a retry.
	std::function<long(char *, size_t)> on_read;
	long long upload_size = -1;
	// AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4, e.g. "aws:amz:REGION:s3")
	// with these credentials. They stay in memory: never in a URL, argv or log.
	std::string aws_sigv4, aws_key, aws_secret;
	// Streaming sink for a 2xx body; return false to abort (not retried).
	// Without a sink, the body is collected into Response::body up to max_body.
	std::function<bool(const char *, size_t)> on_data;
	// A sink that can pause (one transfer feeding another in the same
	// run(): a download streamed into an upload); used instead of on_data.
	std::function<Pace(const char *, size_t)> on_chunk;
	// The second half of a pair whose first half already holds a slot of
	// run()'s max_concurrent: it starts even when all slots are taken (else
	// a paused download would wait for an upload that waits for a slot).
	bool paired = false;
	// Called before a retry so a sink can start over (truncate, reset hash).
	std::function<void()> on_restart;
	size_t max_body = 256u << 20;
	bool compressed = false; // accept gzip/deflate (metadata, not files)
	int retries = -1;        // -1: the client's default
	// For messages: what this request is for ("project foo").
	std::string what;
};

class Http : NoCopy {
public:
	explicit Http(HttpOptions o = http_options_from_env());
	~Http();
	// Blocking, with retries and redirects.
	Response fetch(Request req);

	// Concurrent transfers. Completion callbacks run on the calling thread
	// inside run(); they may add() more requests.
	unsigned long long add(Request req, std::function<void(Request &, Response &)> done);
	// Runs until every added request is done. feed() (optional) is called
	// whenever fewer than max_concurrent transfers are active and should add
	// more work; it returns false once its input is exhausted. A feed() that
	// returns true having added nothing while transfers are under way is
	// waiting on them (a bounded window of its own): it is asked again after
	// the next one ends. With nothing under way it is asked again at once.
	void run(int max_concurrent, const std::function<bool()> &feed = nullptr);
	// add() returns the transfer's id: resume() wakes a transfer whose
	// on_chunk or on_read paused it, once run() is back in control (never
	// from inside a libcurl callback). A finished transfer's id is ignored.
	void resume(unsigned long long id);
	size_t pending() const;
	// From a feed() that has nothing to add until its input (fd) has more:
	// run()'s next wait also ends when fd is readable or at its end, so the
	// transfers under way go on meanwhile and the input is read as soon as
	// it comes (see RecordLoop::ready_for). Asked afresh at every feed().
	void wake_on_input(int fd);

	const HttpOptions &options() const { return opt_; }

	struct Impl;

private:
	HttpOptions opt_;
	std::unique_ptr<Impl> impl_;
};

} // namespace pm
