#include "http.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <thread>

#include <curl/curl.h>

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
	return "HTTP " + std::to_string(status);
}

HttpOptions http_options_from_env()
{
	HttpOptions o;
	o.connect_timeout = env_long("PYPI_MIRROR_TIMEOUT", o.connect_timeout);
	o.total_timeout = env_long("PYPI_MIRROR_GLOBAL_TIMEOUT", o.total_timeout);
	o.retries = static_cast<int>(env_long("PYPI_MIRROR_RETRIES", o.retries));
	const char *b = getenv("PYPI_MIRROR_BACKOFF");
	if (b && *b) o.backoff = atof(b);
	return o;
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
	std::mt19937 rng{std::random_device{}()};

	static size_t on_header(char *p, size_t sz, size_t n, void *ud);
	static size_t on_write(char *p, size_t sz, size_t n, void *ud);
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

Http::Http(HttpOptions o) : opt_(std::move(o)), impl_(std::make_unique<Impl>())
{
	http_global_init();
	impl_->opt = opt_;
	impl_->multi = curl_multi_init();
	curl_multi_setopt(impl_->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
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
	if (t->req.compressed) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (t->req.method == "HEAD") {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (t->req.method == "POST") {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->req.body.size()));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req.body.c_str());
	} else if (t->req.method != "GET") {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->req.method.c_str());
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
	auto done = std::move(t->done);
	std::unique_ptr<Transfer> owned(t);
	if (done) done(owned->req, owned->resp);
}

void Http::add(Request req, std::function<void(Request &, Response &)> done)
{
	auto *t = new Transfer;
	t->url = req.url;
	t->origin = url_origin(req.url);
	t->max_error_body = impl_->opt.max_error_body;
	t->req = std::move(req);
	t->done = std::move(done);
	impl_->queue.push_back(t);
}

void Http::run(int max_concurrent, const std::function<bool()> &feed)
{
	auto &I = *impl_;
	if (max_concurrent < 1) max_concurrent = 1;
	curl_multi_setopt(I.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(max_concurrent));
	bool feeding = static_cast<bool>(feed);
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
		while (feeding && I.active + static_cast<int>(I.queue.size()) < max_concurrent) feeding = feed();
		while (I.active < max_concurrent && !I.queue.empty()) {
			Transfer *t = I.queue.front();
			I.queue.pop_front();
			I.start(t);
		}
		if (I.active == 0 && I.queue.empty() && I.delayed.empty() && !feeding) break;

		int running = 0;
		curl_multi_perform(I.multi, &running);
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
		// All done: leave now rather than after a poll that has nothing to wait for.
		if (I.active == 0 && I.queue.empty() && I.delayed.empty() && !feeding) break;
		// Slots just came free: refill them before waiting on the others.
		if (finished_any && feeding && I.active + static_cast<int>(I.queue.size()) < max_concurrent) continue;
		if (I.active == 0 && I.queue.empty() && !I.delayed.empty()) {
			double wait = next_due - now_s();
			if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(std::min(wait, 1.0)));
			continue;
		}
		if (!I.queue.empty() && I.active < max_concurrent) continue;
		int timeout_ms = 1000;
		if (next_due > 0) timeout_ms = std::max(0, std::min(timeout_ms, static_cast<int>((next_due - now_s()) * 1000)));
		curl_multi_poll(I.multi, nullptr, 0, timeout_ms, nullptr);
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
