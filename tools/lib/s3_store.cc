#include "s3_store.h"

#include <ctime>
#include <set>

#include "hash.h"

namespace pm {

S3Store::S3Store(S3Config cfg) : cfg_(std::move(cfg)), layout_(cfg_.location()) {}

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

bool S3Store::add_to_unlisted(const std::string &name, const std::vector<std::string> &paths, std::string *error)
{
	std::string key = this->key(layout_.unlisted_journal(name));
	Response got = http_.fetch(s3_get(cfg_, key));
	std::string text;
	if (got.ok()) {
		text = std::move(got.body);
	} else if (got.status != 404) {
		if (error) *error = "cannot read " + key + ": " + s3_describe(got);
		return false;
	}
	std::set<std::string> have;
	for (size_t pos = 0; pos < text.size();) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string::npos) nl = text.size();
		have.insert(text.substr(pos, nl - pos));
		pos = nl + 1;
	}
	if (!text.empty() && text.back() != '\n') text += '\n';
	size_t before = text.size();
	for (auto &p : paths)
		if (have.insert(p).second) text += p + "\n";
	if (text.size() == before) return true;
	S3Put put;
	put.key = key;
	put.content_type = "text/plain";
	put.sha256 = sha256_hex(text);
	Request r = s3_put(cfg_, put);
	r.body = std::move(text);
	Response resp = http_.fetch(std::move(r));
	if (!resp.ok()) {
		if (error) *error = "cannot write " + key + ": " + s3_describe(resp);
		return false;
	}
	return true;
}

std::string S3Store::iso8601(long long t)
{
	time_t tt = static_cast<time_t>(t);
	struct tm tm;
	gmtime_r(&tt, &tm);
	char buf[32];
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

} // namespace pm
