#include "s3_store.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <functional>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <unistd.h>

#include "cli.h"
#include "hash.h"
#include "log.h"
#include "names.h"

namespace pm {

S3Store::S3Store(S3Config cfg) : cfg_(std::move(cfg)), layout_(cfg_.location()) {}

std::string S3Store::stored_at() const
{
	return cfg_.endpoint + "/" + cfg_.bucket + (cfg_.prefix.empty() ? "" : "/" + cfg_.prefix);
}

bool S3Store::check(std::string &why)
{
	Request r = s3_list(cfg_, cfg_.key(""), "", 1);
	r.retries = 1;
	Response resp = http_.fetch(std::move(r));
	if (resp.ok()) {
		S3ListPage page;
		if (parse_s3_list(resp.body, page, why)) return true;
		why = cfg_.endpoint + ": the listing of bucket " + cfg_.bucket + " does not parse: " + why;
		return false;
	}
	why = cfg_.endpoint + ": cannot list bucket " + cfg_.bucket + ": " + s3_describe(resp);
	return false;
}

// A journal's (or a batch's) PUT on the caller's http: replaced whole.
static void put_journal(Http &http, const S3Config &cfg, const std::string &key, std::string text,
                        std::function<void(bool, const std::string &)> done)
{
	S3Put put;
	put.key = key;
	put.content_type = "text/plain";
	put.sha256 = sha256_hex(text);
	Request r = s3_put(cfg, put);
	r.body = std::move(text);
	http.add(std::move(r), [key, done](Request &, Response &resp) {
		if (resp.ok()) done(true, "");
		else done(false, "cannot write " + key + ": " + s3_describe(resp));
	});
}

void S3Store::add_to_unlisted_async(Http &http, const std::string &name, const std::vector<std::string> &paths,
                                    std::function<void(bool, const std::string &)> done, const std::string *known) const
{
	std::string key = this->key(layout_.unlisted_journal(name));
	const S3Config &cfg = cfg_;
	auto write = [&http, &cfg, key, paths, done](std::string text) {
		if (!merge_unlisted(text, paths)) {
			done(true, "");
			return;
		}
		put_journal(http, cfg, key, std::move(text), done);
	};
	if (known) {
		write(*known);
		return;
	}
	http.add(s3_get(cfg_, key), [key, done, write](Request &, Response &got) {
		if (got.ok()) write(std::move(got.body));
		else if (got.status == 404) write("");
		else done(false, "cannot read " + key + ": " + s3_describe(got));
	});
}

std::string S3Store::new_unlisted_batch()
{
	// Unique across runs and hosts sharing the bucket: the time, the
	// process, a count, and random bits for two hosts in the same second.
	static unsigned seq = 0;
	static const unsigned salt = std::random_device{}();
	char stamp[32];
	time_t now = time(nullptr);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	char name[96];
	snprintf(name, sizeof name, "+%s-%ld-%08x-%u", stamp, static_cast<long>(getpid()), salt, ++seq);
	return name;
}

bool S3Store::is_unlisted_batch(const std::string &name)
{
	if (name.size() < 2 || name[0] != '+') return false;
	for (size_t i = 1; i < name.size(); i++)
		if (!isalnum(static_cast<unsigned char>(name[i])) && name[i] != '-') return false;
	return true;
}

void S3Store::add_to_batch(std::string &text, const std::string &project, const std::vector<std::string> &paths)
{
	for (auto &p : paths) text += project + " " + p + "\n";
}

void S3Store::put_unlisted_batch(Http &http, const std::string &batch, std::string text,
                                 std::function<void(bool, const std::string &)> done) const
{
	put_journal(http, cfg_, key(layout_.unlisted_journal(batch)), std::move(text), std::move(done));
}

void S3Store::remove_unlisted_batch(Http &http, const std::string &batch,
                                    std::function<void(bool, const std::string &)> done) const
{
	http.add(s3_delete(cfg_, {key(layout_.unlisted_journal(batch))}), [done](Request &, Response &r) {
		std::vector<Response> answers{r};
		std::string why = s3_delete_outcome(answers, 1);
		done(why.empty(), why);
	});
}

void S3Store::expand_unlisted_batch(Http &http, const std::string &batch, std::function<bool(const std::string &)> skip,
                                    std::function<void(bool, const std::string &)> done) const
{
	std::string key = this->key(layout_.unlisted_journal(batch));
	http.add(s3_get(cfg_, key), [this, &http, batch, key, skip, done](Request &, Response &got) {
		if (got.status == 404) return done(true, ""); // already expanded
		if (!got.ok()) return done(false, "cannot read " + key + ": " + s3_describe(got));
		// Its members (a few dozen at most); a line that is not "PROJECT
		// PATH" with a project name in normalized form is not ours (index-
		// write checks each path's shape when it reads a journal).
		std::map<std::string, std::vector<std::string>> members;
		for (size_t pos = 0; pos < got.body.size();) {
			size_t nl = got.body.find('\n', pos);
			if (nl == std::string::npos) nl = got.body.size();
			std::string line = got.body.substr(pos, nl - pos);
			pos = nl + 1;
			size_t sp = line.find(' ');
			if (sp == std::string::npos) continue;
			std::string name = line.substr(0, sp);
			if (name.empty() || normalize_name(name) != name || is_unlisted_batch(name)) {
				LOG_WARN("%s: ignoring a line that names no project: %s", key.c_str(), line.c_str());
				continue;
			}
			if (!skip(name)) members[name].push_back(line.substr(sp + 1));
		}
		struct State {
			size_t left;
			std::string why;
		};
		auto st = std::make_shared<State>(State{members.size(), ""});
		auto remove_batch = [this, &http, batch, done, st] {
			if (!st->why.empty()) return done(false, st->why); // kept: the next run expands it again
			remove_unlisted_batch(http, batch, done);
		};
		if (members.empty()) return remove_batch();
		for (auto &m : members)
			add_to_unlisted_async(http, m.first, m.second, [st, remove_batch](bool ok, const std::string &why) {
				if (!ok && st->why.empty()) st->why = why;
				if (--st->left == 0) remove_batch();
			});
	});
}

bool S3Store::get(const std::string &key, std::string &body, bool &found, std::string &why)
{
	Response r = http_.fetch(s3_get(cfg_, key));
	found = r.ok();
	if (r.ok()) {
		body = std::move(r.body);
		return true;
	}
	if (r.status == 404) return true;
	why = "cannot read " + key + ": " + s3_describe(r);
	return false;
}

bool S3Store::get_file(const std::string &key, const std::string &path, bool &found, std::string &why)
{
	found = false;
	FILE *f = fopen(path.c_str(), "wbe");
	if (!f) {
		why = "cannot create " + path + ": " + strerror(errno);
		return false;
	}
	int werr = 0;
	Request r = s3_get(cfg_, key);
	r.on_data = [f, &werr](const char *d, size_t n) {
		if (fwrite(d, 1, n, f) == n) return true;
		werr = errno;
		return false;
	};
	r.on_restart = [f] {
		rewind(f);
		if (ftruncate(fileno(f), 0) != 0) clearerr(f);
	};
	Response resp = http_.fetch(std::move(r));
	if (fclose(f) != 0 && !werr) werr = errno;
	if (resp.ok() && !werr) {
		found = true;
		return true;
	}
	unlink(path.c_str());
	if (werr) {
		why = "cannot write " + path + ": " + strerror(werr);
		return false;
	}
	if (resp.status == 404) return true;
	why = "cannot read " + key + ": " + s3_describe(resp);
	return false;
}

bool S3Store::head(const std::string &key, long long &size, bool &found, std::string &why)
{
	Response r = http_.fetch(s3_head(cfg_, key));
	found = r.ok();
	if (r.ok()) {
		size = strtoll(r.header("content-length").c_str(), nullptr, 10);
		return true;
	}
	if (r.status == 404) return true;
	why = "cannot look up " + key + ": " + s3_describe(r);
	return false;
}

bool S3Store::put(const std::string &key, const std::string &body, const std::string &content_type, std::string &why)
{
	S3Put p;
	p.key = key;
	p.content_type = content_type;
	p.sha256 = sha256_hex(body);
	Request r = s3_put(cfg_, p);
	// The caller's string outlives this blocking request: libcurl reads
	// from it where Request::body would be a copy.
	size_t off = 0;
	r.upload_size = static_cast<long long>(body.size());
	r.on_read = [&body, &off](char *b, size_t n) -> long {
		size_t k = std::min(n, body.size() - off);
		memcpy(b, body.data() + off, k);
		off += k;
		return static_cast<long>(k);
	};
	r.on_restart = [&off] { off = 0; };
	Response resp = http_.fetch(std::move(r));
	if (resp.ok()) return true;
	why = "cannot write " + key + ": " + s3_describe(resp);
	return false;
}

bool S3Store::put_file(const std::string &key, const std::string &path, const std::string &content_type, Request &out,
                       std::string &why) const
{
	std::shared_ptr<FILE> f(fopen(path.c_str(), "rbe"), [](FILE *p) {
		if (p) fclose(p);
	});
	auto fail = [&] {
		why = "cannot read " + path + ": " + strerror(errno);
		return false;
	};
	if (!f) return fail();
	Digest d;
	long long size = 0;
	char buf[1 << 16];
	for (size_t n; (n = fread(buf, 1, sizeof buf, f.get())) > 0;) {
		d.update(buf, n);
		size += static_cast<long long>(n);
	}
	if (ferror(f.get())) return fail();
	rewind(f.get());
	S3Put p;
	p.key = key;
	p.content_type = content_type;
	p.sha256 = d.hex();
	out = s3_put(cfg_, p);
	out.upload_size = size;
	// Exactly the bytes hashed: should the file shrink meanwhile, the
	// upload is aborted rather than left waiting for the rest.
	auto left = std::make_shared<long long>(size);
	out.on_read = [f, left](char *b, size_t n) -> long {
		if (*left == 0) return 0;
		size_t k = fread(b, 1, static_cast<size_t>(std::min<long long>(*left, static_cast<long long>(n))), f.get());
		if (k == 0) return -1;
		*left -= static_cast<long long>(k);
		return static_cast<long>(k);
	};
	out.on_restart = [f, left, size] {
		rewind(f.get());
		*left = size;
	};
	return true;
}

bool S3Store::remove(const std::vector<std::string> &keys, std::string &why)
{
	std::vector<Response> answers;
	for (auto &r : s3_delete_batches(cfg_, keys)) {
		answers.push_back(http_.fetch(std::move(r)));
		if (!answers.back().ok()) break; // the rest is not tried
	}
	why = s3_delete_outcome(answers, keys.size());
	return why.empty();
}

bool S3Store::list(const std::string &prefix, const std::string &token, const std::string &delimiter,
                   S3ListPage &page, std::string &why)
{
	Response r = http_.fetch(s3_list(cfg_, prefix, token, 1000, delimiter));
	if (!r.ok()) {
		why = "cannot list " + prefix + ": " + s3_describe(r);
		return false;
	}
	if (parse_s3_list(r.body, page, why)) return true;
	why = "the listing of " + prefix + " does not parse: " + why;
	return false;
}

void S3Listing::load(S3Store &s, const std::string &dir, bool dirs, int max_pages, std::vector<std::string> *batches)
{
	bits_.assign(kBits / 8, 0);
	base_ = s.key(dir) + "/";
	dirs_ = dirs;
	std::string token, why;
	while (pages_ < max_pages) {
		S3ListPage page;
		if (!s.list(base_, token, dirs ? "/" : "", page, why)) {
			LOG_DEBUG("%s; asking about each name instead", why.c_str());
			return; // not loaded: every name "maybe"
		}
		pages_++;
		auto take = [&](const std::string &key) {
			if (key.size() <= base_.size() || key.compare(0, base_.size(), base_) != 0) return;
			std::string name = key.substr(base_.size());
			if (dirs) {
				if (name.back() != '/') return; // an object directly under dir (the root pages)
				name.pop_back();
			}
			if (name.empty() || name.find('/') != std::string::npos) return;
			if (batches && S3Store::is_unlisted_batch(name)) batches->push_back(name);
			add(name);
			names_++;
		};
		for (auto &o : page.objects) {
			take(o.key);
			last_ = std::max(last_, o.key);
		}
		for (auto &p : page.prefixes) {
			take(p);
			last_ = std::max(last_, p);
		}
		if (!page.truncated || page.next_token.empty()) {
			complete_ = true;
			break;
		}
		token = page.next_token;
	}
	loaded_ = true;
}

// Two hashes of the name make the probes (Kirsch and Mitzenmacher's double
// hashing): as good as kProbes independent ones for a Bloom filter.
template <typename F> void S3Listing::each_bit(const std::string &name, F f)
{
	uint64_t h1 = std::hash<std::string>{}(name);
	uint64_t h2 = ((h1 >> 29) | (h1 << 35)) * 0x9e3779b97f4a7c15ULL | 1;
	for (int i = 0; i < kProbes; i++)
		if (!f((h1 + static_cast<uint64_t>(i) * h2) % kBits)) return;
}

bool S3Listing::test(const std::string &name) const
{
	bool all = true;
	each_bit(name, [&](size_t b) { return all = (bits_[b / 8] & (1u << (b % 8))) != 0; });
	return all;
}

void S3Listing::start_empty()
{
	bits_.assign(kBits / 8, 0);
	loaded_ = complete_ = true;
}

void S3Listing::add(const std::string &name)
{
	if (bits_.empty()) return; // not loaded: every name is "maybe" anyway
	each_bit(name, [&](size_t b) {
		bits_[b / 8] |= static_cast<unsigned char>(1u << (b % 8));
		return true;
	});
}

// A listing cut short did not look past the greatest key it returned.
bool S3Listing::beyond(const std::string &name) const
{
	return !complete_ && base_ + name + (dirs_ ? "/" : "") > last_;
}

bool S3Listing::seen(const std::string &name) const { return loaded_ && !beyond(name) && test(name); }

bool S3Listing::maybe(const std::string &name) const { return !loaded_ || beyond(name) || test(name); }

const char *S3Store::content_type(const std::string &rel)
{
	auto ends = [&](const char *s) {
		size_t n = strlen(s);
		return rel.size() >= n && rel.compare(rel.size() - n, n, s) == 0;
	};
	if (rel.rfind("web/simple/", 0) == 0) {
		if (ends("/index.v1_json")) return "application/vnd.pypi.simple.v1+json";
		if (ends("/index.v1_html")) return "application/vnd.pypi.simple.v1+html";
		if (ends("/index.html")) return "text/html";
	}
	if (rel.rfind("web/json/", 0) == 0 || (rel.rfind("web/pypi/", 0) == 0 && ends("/json"))) return "application/json";
	return "application/octet-stream";
}

std::unique_ptr<S3Store> s3_store_from_options(const char *prog, std::string &dir, const std::string &config)
{
	if (!dir.empty() && !is_s3_location(dir)) return nullptr;
	S3Config cfg;
	std::vector<std::string> warnings;
	std::string why;
	if (!dir.empty() && !parse_s3_location(dir, false, cfg.bucket, cfg.prefix, &why))
		usage_error(prog, "-d: %s", why.c_str());
	// pypi-mirror(1) names its configuration in the environment: the tools
	// it runs on a bucket find the [s3] section there.
	std::string conf = config;
	if (conf.empty() && !dir.empty() && getenv("PYPI_MIRROR_CONFIG")) conf = getenv("PYPI_MIRROR_CONFIG");
	if (!s3_configure(conf, dir.empty(), cfg, warnings, why)) usage_error(prog, "%s", why.c_str());
	for (auto &w : warnings) LOG_TOOL_WARN("%s", w.c_str());
	auto s = std::make_unique<S3Store>(std::move(cfg));
	dir = s->config().location();
	return s;
}

std::unique_ptr<S3Store> s3_store_from_options(const char *prog, MirrorOptions &mirror)
{
	mirror.require(prog);
	return s3_store_from_options(prog, mirror.dir, mirror.config);
}

} // namespace pm
