#include "http.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <thread>
#include <unordered_map>

#include <poll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fsutil.h"
#include "log.h"
#include "text.h"
#include "url_policy.h"

namespace pm {

namespace {

struct GlobalInit {
	GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
	~GlobalInit() { curl_global_cleanup(); }
};

} // namespace

void http_global_init()
{
	static GlobalInit once;
}

namespace {

double now_s()
{
	using namespace std::chrono;
	return duration<double>(steady_clock::now().time_since_epoch()).count();
}

long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	if (!v || !*v) return dflt;
	char *end;
	long r = strtol(v, &end, 10);
	return (*end || r < 0) ? dflt : r;
}

bool is_redirect(long s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

bool retryable_status(long s) { return s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

bool retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_BAD_CONTENT_ENCODING:
		return true;
	default:
		return false;
	}
}

} // namespace

std::string Response::header(const std::string &lower_name) const
{
	auto it = headers.find(lower_name);
	return it == headers.end() ? std::string() : it->second;
}

std::string Response::describe() const
{
	if (!error.empty()) return error;
	std::string s = "HTTP " + std::to_string(status);
	if (status == 401)
		s += sent_credentials ? " (the credentials were refused)"
		                      : " (authentication required; no credentials are configured: username and password, "
		                        "token or netrc)";
	else if (status == 403)
		s += sent_credentials ? " (forbidden for these credentials)" : " (forbidden)";
	return s;
}

namespace {

std::string g_upstream_origin;

std::string env_str(const char *name)
{
	const char *v = getenv(name);
	return v ? v : "";
}

// A secret from a file: its first line. Exits (status 2, a configuration
// error) naming the variable and file, never the content.
std::string secret_file(const char *var, const std::string &path)
{
	std::string s;
	if (!read_file(path, s, 64 << 10)) {
		LOG_ERROR("Cannot read %s (%s): %s", path.c_str(), var, strerror(errno));
		exit(2);
	}
	auto nl = s.find_first_of("\r\n");
	if (nl != std::string::npos) s.resize(nl);
	if (s.empty()) {
		LOG_ERROR("%s (%s) is empty", path.c_str(), var);
		exit(2);
	}
	return s;
}

} // namespace

void http_set_upstream(const std::string &url) { g_upstream_origin = url_origin(url); }

HttpOptions http_options_from_env()
{
	HttpOptions o;
	o.connect_timeout = env_long("PYPI_MIRROR_TIMEOUT", o.connect_timeout);
	o.total_timeout = env_long("PYPI_MIRROR_GLOBAL_TIMEOUT", o.total_timeout);
	o.retries = static_cast<int>(env_long("PYPI_MIRROR_RETRIES", o.retries));
	const char *b = getenv("PYPI_MIRROR_BACKOFF");
	if (b && *b) o.backoff = atof(b);
	o.ca_bundle = env_str("PYPI_MIRROR_CA_BUNDLE");
	o.client_cert = env_str("PYPI_MIRROR_CLIENT_CERT");
	o.client_key = env_str("PYPI_MIRROR_CLIENT_KEY");
	std::string netrc = env_str("PYPI_MIRROR_NETRC");
	if (!netrc.empty() && netrc != "0") {
		o.netrc = true;
		if (netrc != "1") o.netrc_file = netrc;
	}
	o.username = env_str("PYPI_MIRROR_USERNAME");
	o.password = env_str("PYPI_MIRROR_PASSWORD");
	if (std::string f = env_str("PYPI_MIRROR_PASSWORD_FILE"); !f.empty())
		o.password = secret_file("PYPI_MIRROR_PASSWORD_FILE", f);
	o.token = env_str("PYPI_MIRROR_TOKEN");
	if (std::string f = env_str("PYPI_MIRROR_TOKEN_FILE"); !f.empty())
		o.token = secret_file("PYPI_MIRROR_TOKEN_FILE", f);
	o.auth_origin = g_upstream_origin;
	return o;
}

bool http_option(int c, const char *prog, const char *arg)
{
	const char *var = nullptr;
	switch (c) {
	case kOptCaBundle: var = "PYPI_MIRROR_CA_BUNDLE"; break;
	case kOptClientCert: var = "PYPI_MIRROR_CLIENT_CERT"; break;
	case kOptClientKey: var = "PYPI_MIRROR_CLIENT_KEY"; break;
	case kOptNetrc: var = "PYPI_MIRROR_NETRC"; break;
	default: return false;
	}
	std::string v = arg ? arg : "";
	if (c == kOptNetrc && v.empty()) v = "1";
	if (v.empty()) {
		fprintf(stderr, "%s: an empty file name for --%s\n", prog,
		        c == kOptCaBundle ? "ca-bundle" : c == kOptClientCert ? "client-cert" : "client-key");
		exit(2);
	}
	// A file that is not there is a configuration error now, not a TLS
	// error on the first transfer.
	if (v != "1" && access(v.c_str(), R_OK) != 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, v.c_str(), strerror(errno));
		exit(2);
	}
	setenv(var, v.c_str(), 1);
	return true;
}

struct Transfer {
	Request req;
	std::function<void(Request &, Response &)> done;
	Response resp;
	CURL *easy = nullptr;
	curl_slist *hdrs = nullptr;
	std::string url;    // current URL (after redirects)
	std::string origin; // the first URL's origin
	int redirects = 0;
	bool aborted = false;
	std::string abort_reason;
	double due = 0;
	size_t max_error_body = 64 << 10; // HttpOptions::max_error_body of the client
	size_t put_off = 0;               // how much of req.body a PUT has sent
	unsigned long long id = 0;        // Http::add()'s answer, for resume()
	char errbuf[CURL_ERROR_SIZE];
};

struct Http::Impl {
	HttpOptions opt;
	CURLM *multi = nullptr;
	std::vector<CURL *> free_easy;
	std::deque<Transfer *> queue;   // ready to start
	std::vector<Transfer *> delayed; // waiting for a retry's backoff
	int active = 0;
	std::string ua;
	unsigned long long next_id = 0;
	std::unordered_map<unsigned long long, Transfer *> live; // added, not finished
	std::vector<unsigned long long> to_resume;                // resume() calls run() has yet to act on
	std::mt19937 rng{std::random_device{}()};
	// What libcurl asks to be watched (curl_multi_socket_action's API):
	// its sockets and the events it waits for, and when it wants to be
	// called for its timeouts (-1: no timer). run() polls these itself and
	// hands libcurl the sockets that are ready, with what they are ready
	// for. curl_multi_perform instead ran every transfer at every turn, and
	// libcurl, not told which socket was ready, polled each transfer's
	// socket on its own first: three poll(2) a file downloaded where this
	// makes one per wake-up for all transfers (bench/RESULTS.md, issue 17).
	std::vector<pollfd> watch;
	// The feeder's input, watched by the next wait too (wake_on_input).
	int input_fd = -1;
	std::vector<std::pair<curl_socket_t, int>> ready; // from the last poll: socket, CURL_CSELECT_* bits
	double timer_due = -1;
	bool skipped = false; // the last wait() did not poll

	static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp);
	static int on_timer(CURLM *m, long ms, void *ud);
	void drive();
	void wait(int max_ms);

	static size_t on_header(char *p, size_t sz, size_t n, void *ud);
	static size_t on_write(char *p, size_t sz, size_t n, void *ud);
	static size_t on_read(char *p, size_t sz, size_t n, void *ud);
	void start(Transfer *t);
	void finish(Transfer *t, CURLcode rc);
	double retry_delay(const Transfer *t);
};

size_t Http::Impl::on_header(char *p, size_t sz, size_t n, void *ud)
{
	auto *t = static_cast<Transfer *>(ud);
	size_t len = sz * n;
	std::string line(p, len);
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
	if (line.rfind("HTTP/", 0) == 0) {
		// A new response (also after 1xx): start its headers afresh.
		t->resp.headers.clear();
		auto sp = line.find(' ');
		t->resp.status = sp == std::string::npos ? 0 : strtol(line.c_str() + sp + 1, nullptr, 10);
		return len;
	}
	auto colon = line.find(':');
	if (colon == std::string::npos) return len;
	std::string name = line.substr(0, colon);
	lower_in_place(name);
	size_t v = colon + 1;
	while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) v++;
	t->resp.headers[name] = line.substr(v);
	return len;
}

namespace {

// Makes room in a body collected in memory for need bytes (need <= max).
// The capacity only takes the values max/2^k, at least doubling each time:
// growing copies the old buffer into the new one, so the peak is the new
// buffer plus at most half of it, which stays near max even for a body
// refused at max. (The string's own doubling from an arbitrary start, say a
// Content-Length reserve, can get to twice max before the limit is hit.)
void grow_body(std::string &body, size_t need, size_t max)
{
	size_t cap = max;
	while (cap / 2 >= need && cap / 2 >= 2 * body.capacity()) cap /= 2;
	// A fresh string: reserve() on the old one may round the size up.
	std::string grown;
	grown.reserve(std::max(cap, need));
	grown.append(body);
	body.swap(grown);
}

} // namespace

size_t Http::Impl::on_write(char *p, size_t sz, size_t n, void *ud)
{
	auto *t = static_cast<Transfer *>(ud);
	size_t len = sz * n;
	long s = t->resp.status;
	if (is_redirect(s)) return len; // a redirect's body is never wanted
	if (s < 200 || s >= 300) {
		// Error bodies are kept (bounded) for messages; never sent to a sink.
		size_t cap = t->max_error_body;
		size_t room = t->resp.body.size() < cap ? cap - t->resp.body.size() : 0;
		t->resp.body.append(p, std::min(room, len));
		return len;
	}
	if (t->req.on_chunk) {
		switch (t->req.on_chunk(p, len)) {
		case Pace::Take: t->resp.bytes += static_cast<long long>(len); return len;
		case Pace::Pause: return CURL_WRITEFUNC_PAUSE; // the same bytes come again after resume()
		case Pace::Stop:
			t->aborted = true;
			if (t->abort_reason.empty()) t->abort_reason = "aborted by the receiver";
			return 0;
		}
	}
	t->resp.bytes += static_cast<long long>(len);
	if (t->req.on_data) {
		if (!t->req.on_data(p, len)) {
			t->aborted = true;
			if (t->abort_reason.empty()) t->abort_reason = "aborted by the receiver";
			return 0;
		}
		return len;
	}
	if (t->resp.body.size() + len > t->req.max_body) {
		t->aborted = true;
		t->abort_reason = "response larger than " + std::to_string(t->req.max_body) + " bytes";
		return 0;
	}
	std::string &b = t->resp.body;
	if (b.empty()) {
		// The first bytes: an uncompressed body with a Content-Length is
		// sized once. (With a Content-Encoding the length is the encoded one.)
		std::string ce = t->resp.header("content-encoding");
		unsigned long long cl = strtoull(t->resp.header("content-length").c_str(), nullptr, 10);
		if ((ce.empty() || ce == "identity") && cl > b.capacity() && cl <= t->req.max_body)
			b.reserve(static_cast<size_t>(cl));
	}
	if (b.size() + len > b.capacity()) grow_body(b, b.size() + len, t->req.max_body);
	b.append(p, len);
	return len;
}

size_t Http::Impl::on_read(char *p, size_t sz, size_t n, void *ud)
{
	auto *t = static_cast<Transfer *>(ud);
	if (!t->req.on_read) { // the body string
		size_t k = std::min(sz * n, t->req.body.size() - t->put_off);
		memcpy(p, t->req.body.data() + t->put_off, k);
		t->put_off += k;
		return k;
	}
	long got = t->req.on_read(p, sz * n);
	if (got == kReadPause) return CURL_READFUNC_PAUSE;
	if (got < 0) {
		t->aborted = true;
		if (t->abort_reason.empty()) t->abort_reason = "upload aborted by the sender";
		return CURL_READFUNC_ABORT;
	}
	return static_cast<size_t>(got);
}

int Http::Impl::on_socket(CURL *, curl_socket_t s, int what, void *ud, void *)
{
	auto &w = static_cast<Impl *>(ud)->watch;
	auto it = std::find_if(w.begin(), w.end(), [s](const pollfd &p) { return p.fd == s; });
	if (what == CURL_POLL_REMOVE) {
		if (it != w.end()) w.erase(it);
		return 0;
	}
	short ev = static_cast<short>(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	if (it == w.end())
		w.push_back({s, ev, 0});
	else
		it->events = ev;
	return 0;
}

int Http::Impl::on_timer(CURLM *, long ms, void *ud)
{
	static_cast<Impl *>(ud)->timer_due = ms < 0 ? -1 : now_s() + static_cast<double>(ms) / 1000.0;
	return 0;
}

// Hands libcurl what the last wait() found ready, then its timeout if due
// (a transfer just added or resumed is due at once).
void Http::Impl::drive()
{
	int running = 0;
	auto r = std::move(ready);
	ready.clear();
	for (auto &[fd, bits] : r) curl_multi_socket_action(multi, fd, bits, &running);
	if (timer_due >= 0 && timer_due <= now_s()) {
		timer_due = -1; // a new one may be set during the call
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

// Waits up to max_ms, less when libcurl's timer is due sooner, for a
// watched socket to be ready; notes which for drive().
void Http::Impl::wait(int max_ms)
{
	int ms = max_ms;
	if (timer_due >= 0) ms = std::min(ms, std::max(0, static_cast<int>(std::ceil((timer_due - now_s()) * 1000))));
	// Due now: drive() first, the sockets at the next wait (not skipped
	// twice in a row, so a timer kept at zero cannot starve them).
	if (ms == 0 && !skipped) {
		skipped = true;
		return;
	}
	skipped = false;
	// The feeder's input goes last, for this wait only: its readiness
	// only ends the wait (run() then asks the feeder again).
	if (input_fd >= 0) watch.push_back(pollfd{input_fd, POLLIN, 0});
	int n = poll(watch.data(), watch.size(), ms);
	if (input_fd >= 0) watch.pop_back();
	if (n <= 0) return;
	for (auto &p : watch) {
		if (!p.revents) continue;
		int bits = 0;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) bits |= CURL_CSELECT_IN; // the read names the error
		if (p.revents & (POLLOUT | POLLHUP | POLLERR)) bits |= CURL_CSELECT_OUT;
		if (!(p.events & POLLIN)) bits &= ~CURL_CSELECT_IN;
		if (!(p.events & POLLOUT)) bits &= ~CURL_CSELECT_OUT;
		if (bits)
			ready.emplace_back(p.fd, bits);
		else if (p.revents & POLLNVAL) // closed without a word from libcurl: do not spin on it
			p.events = 0;
		p.revents = 0;
	}
}

Http::Http(HttpOptions o) : opt_(std::move(o)), impl_(std::make_unique<Impl>())
{
	http_global_init();
	impl_->opt = opt_;
	impl_->multi = curl_multi_init();
	curl_multi_setopt(impl_->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
	curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETDATA, impl_.get());
	curl_multi_setopt(impl_->multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
	curl_multi_setopt(impl_->multi, CURLMOPT_TIMERDATA, impl_.get());
	impl_->ua = opt_.user_agent.empty()
	                ? std::string("pypi-mirror/") + PM_VERSION + " " + curl_version()
	                : opt_.user_agent;
	// curl_version() lists every library; the first word is enough.
	if (opt_.user_agent.empty()) {
		auto sp = impl_->ua.find(' ', impl_->ua.find(' ') + 1);
		if (sp != std::string::npos) impl_->ua.resize(sp);
	}
}

Http::~Http()
{
	// Transfers added but never run (a caller that stopped early).
	for (auto *t : impl_->queue) {
		if (t->hdrs) curl_slist_free_all(t->hdrs);
		delete t;
	}
	for (auto *t : impl_->delayed) {
		if (t->hdrs) curl_slist_free_all(t->hdrs);
		delete t;
	}
	for (auto *e : impl_->free_easy) curl_easy_cleanup(e);
	curl_multi_cleanup(impl_->multi);
}

size_t Http::pending() const { return impl_->queue.size() + impl_->delayed.size() + impl_->active; }

void Http::wake_on_input(int fd) { impl_->input_fd = fd; }

void Http::Impl::start(Transfer *t)
{
	CURL *e;
	if (!free_easy.empty()) {
		e = free_easy.back();
		free_easy.pop_back();
		curl_easy_reset(e);
	} else {
		e = curl_easy_init();
	}
	t->easy = e;
	t->resp.status = 0;
	t->resp.headers.clear();
	t->resp.body.clear();
	t->resp.bytes = 0;
	t->resp.error.clear();
	t->aborted = false;
	t->errbuf[0] = 0;
	t->resp.attempts++;
	curl_easy_setopt(e, CURLOPT_URL, t->url.c_str());
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, ua.c_str());
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); // redirects are vetted in finish()
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, opt.total_timeout);
	// A transfer that stalls (under 1 byte/s) for the connect timeout is a failure.
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, opt.connect_timeout);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
	// Waiting for a connection that may multiplex pays only over TLS (HTTP/2);
	// over plain HTTP/1.1 it costs the first transfers a round trip or two.
	if (t->url.rfind("https:", 0) == 0) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (!opt.ca_bundle.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, opt.ca_bundle.c_str());
	if (!opt.client_cert.empty()) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, opt.client_cert.c_str());
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		if (!opt.client_key.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, opt.client_key.c_str());
	}
	// Credentials follow the URL as it is now (after redirects): the
	// configured ones go to the upstream's origin only, netrc's to whatever
	// host it names.
	t->resp.sent_credentials = false;
	bool upstream_origin = !opt.auth_origin.empty() && (!opt.token.empty() || !opt.username.empty()) &&
	                       url_origin(t->url) == opt.auth_origin;
	if (upstream_origin && !opt.token.empty()) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, opt.token.c_str());
		t->resp.sent_credentials = true;
	} else if (upstream_origin) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, opt.username.c_str());
		curl_easy_setopt(e, CURLOPT_PASSWORD, opt.password.c_str());
		t->resp.sent_credentials = true;
	} else if (opt.netrc) {
		curl_easy_setopt(e, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_OPTIONAL));
		if (!opt.netrc_file.empty()) curl_easy_setopt(e, CURLOPT_NETRC_FILE, opt.netrc_file.c_str());
		t->resp.sent_credentials = true;
	}
	if (t->req.compressed) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (t->req.method == "HEAD") {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (t->req.method == "POST") {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->req.body.size()));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req.body.c_str());
	} else if (t->req.method == "PUT") {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, &Impl::on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, t);
		t->put_off = 0;
		curl_off_t size = t->req.on_read ? t->req.upload_size : static_cast<curl_off_t>(t->req.body.size());
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, size);
		// The body goes right after the headers, without waiting for a
		// "100 Continue". (Removing the Expect header with "Expect:" is
		// not possible under CURLOPT_AWS_SIGV4: libcurl 7.88 signs the
		// removed header, and the store refuses the signature.)
		curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
	} else if (t->req.method != "GET") {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->req.method.c_str());
	}
	if (!t->req.aws_sigv4.empty()) {
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, t->req.aws_sigv4.c_str());
		// Not CURLOPT_USERPWD: an S3 key may hold a colon (Swift's "account:user").
		curl_easy_setopt(e, CURLOPT_USERNAME, t->req.aws_key.c_str());
		curl_easy_setopt(e, CURLOPT_PASSWORD, t->req.aws_secret.c_str());
	}
	if (t->hdrs) {
		curl_slist_free_all(t->hdrs);
		t->hdrs = nullptr;
	}
	for (auto &h : t->req.headers) t->hdrs = curl_slist_append(t->hdrs, h.c_str());
	if (t->hdrs) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
	curl_multi_add_handle(multi, e);
	active++;
}

double Http::Impl::retry_delay(const Transfer *t)
{
	std::string ra = t->resp.header("retry-after");
	if (!ra.empty()) {
		char *end;
		double s = strtod(ra.c_str(), &end);
		if (end == ra.c_str()) { // an HTTP-date
			time_t when = curl_getdate(ra.c_str(), nullptr);
			s = when > 0 ? static_cast<double>(when - time(nullptr)) : opt.backoff;
		}
		if (s < 0) s = 0;
		return std::min(s, opt.max_retry_after);
	}
	double d = opt.backoff * std::pow(2.0, t->resp.attempts - 1);
	std::uniform_real_distribution<double> jitter(0.8, 1.2);
	return d * jitter(rng);
}

void Http::Impl::finish(Transfer *t, CURLcode rc)
{
	char *eff = nullptr;
	curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &eff);
	t->resp.url = eff ? eff : t->url;
	curl_multi_remove_handle(multi, t->easy);
	free_easy.push_back(t->easy);
	t->easy = nullptr;
	active--;

	int max_retries = t->req.retries >= 0 ? t->req.retries : opt.retries;
	bool can_retry = t->resp.attempts <= max_retries;

	if (t->aborted) {
		t->resp.error = t->abort_reason;
	} else if (rc != CURLE_OK) {
		t->resp.error = std::string(curl_easy_strerror(rc));
		if (t->errbuf[0]) t->resp.error += ": " + std::string(t->errbuf);
		if (rc == CURLE_PEER_FAILED_VERIFICATION)
			t->resp.error += opt.ca_bundle.empty() ? " (a private CA? give it with ca-bundle)"
			                                       : " (not signed by a CA in " + opt.ca_bundle + ")";
		if (retryable_curl(rc) && can_retry) {
			LOG_DEBUG("Retrying %s (%s), attempt %d", t->url.c_str(), t->resp.error.c_str(), t->resp.attempts + 1);
			if (t->req.on_restart) t->req.on_restart();
			t->due = now_s() + retry_delay(t);
			delayed.push_back(t);
			return;
		}
	} else if (is_redirect(t->resp.status) && !t->resp.header("location").empty()) {
		CURLU *u = curl_url();
		curl_url_set(u, CURLUPART_URL, t->url.c_str(), 0);
		std::string next;
		if (curl_url_set(u, CURLUPART_URL, t->resp.header("location").c_str(), 0) == CURLUE_OK) {
			char *s = nullptr;
			if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) next = s;
			curl_free(s);
		}
		curl_url_cleanup(u);
		if (next.empty()) {
			t->resp.error = "unusable redirect to " + t->resp.header("location");
		} else if (!opt.cross_host_redirects && url_origin(next) != t->origin) {
			t->resp.error = "refused redirect off-host to " + next;
		} else if (++t->redirects > opt.max_redirects) {
			t->resp.error = "too many redirects";
		} else {
			t->url = next;
			t->resp.attempts--; // a redirect is not a failed attempt
			if (t->req.method == "POST" && t->resp.status == 303) t->req.method = "GET";
			queue.push_front(t);
			return;
		}
	} else if (retryable_status(t->resp.status) && can_retry) {
		LOG_DEBUG("Retrying %s (HTTP %ld), attempt %d", t->url.c_str(), t->resp.status, t->resp.attempts + 1);
		if (t->req.on_restart) t->req.on_restart();
		t->due = now_s() + retry_delay(t);
		delayed.push_back(t);
		return;
	}
	if (t->hdrs) curl_slist_free_all(t->hdrs);
	t->hdrs = nullptr;
	live.erase(t->id);
	auto done = std::move(t->done);
	std::unique_ptr<Transfer> owned(t);
	if (done) done(owned->req, owned->resp);
}

unsigned long long Http::add(Request req, std::function<void(Request &, Response &)> done)
{
	auto *t = new Transfer;
	t->id = ++impl_->next_id;
	impl_->live[t->id] = t;
	t->url = req.url;
	t->origin = url_origin(req.url);
	t->max_error_body = impl_->opt.max_error_body;
	t->req = std::move(req);
	t->done = std::move(done);
	impl_->queue.push_back(t);
	return t->id;
}

void Http::resume(unsigned long long id) { impl_->to_resume.push_back(id); }

void Http::run(int max_concurrent, const std::function<bool()> &feed)
{
	auto &I = *impl_;
	if (max_concurrent < 1) max_concurrent = 1;
	// Room for the paired halves too (a download and the upload it feeds).
	curl_multi_setopt(I.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(2 * max_concurrent));
	bool feeding = static_cast<bool>(feed);
	// The lines logged in a turn of this loop (a tool logs one per file it
	// fetches) go out together, before the loop waits (log.h).
	LogHold hold_log;
	for (;;) {
		double now = now_s();
		double next_due = -1;
		for (size_t i = 0; i < I.delayed.size();) {
			if (I.delayed[i]->due <= now) {
				I.queue.push_back(I.delayed[i]);
				I.delayed.erase(I.delayed.begin() + static_cast<long>(i));
			} else {
				if (next_due < 0 || I.delayed[i]->due < next_due) next_due = I.delayed[i]->due;
				i++;
			}
		}
		I.input_fd = -1; // only while the feeder says it waits for input
		while (feeding && I.active + static_cast<int>(I.queue.size()) < max_concurrent) {
			unsigned long long added = I.next_id;
			I.input_fd = -1;
			feeding = feed();
			// Nothing added while others are under way: the feeder waits
			// for one of them (see run() in http.h); asked again after the
			// next transfer ends.
			if (feeding && I.next_id == added && (I.active > 0 || !I.queue.empty() || !I.delayed.empty())) break;
		}
		while (I.active < max_concurrent && !I.queue.empty()) {
			Transfer *t = I.queue.front();
			I.queue.pop_front();
			I.start(t);
		}
		// Paired halves start whatever the count (their first half holds the slot).
		for (size_t i = 0; i < I.queue.size();) {
			if (I.queue[i]->req.paired) {
				Transfer *t = I.queue[i];
				I.queue.erase(I.queue.begin() + static_cast<long>(i));
				I.start(t);
			} else {
				i++;
			}
		}
		if (I.active == 0 && I.queue.empty() && I.delayed.empty() && !feeding) break;

		I.drive();
		CURLMsg *m;
		int left;
		bool finished_any = false;
		while ((m = curl_multi_info_read(I.multi, &left))) {
			if (m->msg != CURLMSG_DONE) continue;
			Transfer *t = nullptr;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char **>(&t));
			I.finish(t, m->data.result);
			finished_any = true;
		}
		// Paused transfers someone woke: unpausing may call their callbacks
		// at once, which may wake others.
		while (!I.to_resume.empty()) {
			std::vector<unsigned long long> ids;
			ids.swap(I.to_resume);
			for (auto id : ids) {
				auto it = I.live.find(id);
				if (it != I.live.end() && it->second->easy) curl_easy_pause(it->second->easy, CURLPAUSE_CONT);
			}
		}
		// All done: leave now rather than after a poll that has nothing to wait for.
		if (I.active == 0 && I.queue.empty() && I.delayed.empty() && !feeding) break;
		// Slots just came free: refill them before waiting on the others.
		if (finished_any && feeding && I.active + static_cast<int>(I.queue.size()) < max_concurrent) continue;
		if (I.active == 0 && I.queue.empty() && !I.delayed.empty()) {
			double wait = next_due - now_s();
			log_flush();
			if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(std::min(wait, 1.0)));
			continue;
		}
		if (!I.queue.empty() && I.active < max_concurrent) continue;
		int timeout_ms = 1000;
		if (next_due > 0) timeout_ms = std::max(0, std::min(timeout_ms, static_cast<int>((next_due - now_s()) * 1000)));
		log_flush();
		I.wait(timeout_ms);
	}
}

Response Http::fetch(Request req)
{
	Response out;
	add(std::move(req), [&out](Request &, Response &r) { out = std::move(r); });
	run(1);
	return out;
}

} // namespace pm
