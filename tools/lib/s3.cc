#include "s3.h"

#include <cstdlib>
#include <cstring>

#include <expat.h>
#include <openssl/evp.h>

#include "hash.h"
#include "ini_file.h"
#include "text.h"

namespace pm {

namespace {

// sha256 of the empty body: what a GET, HEAD or listing carries as
// x-amz-content-sha256 (curl 7.88 adds no such header by itself).
const char *kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string env(const char *name)
{
	const char *v = getenv(name);
	return v ? v : "";
}

std::string trim_slashes(std::string s)
{
	while (!s.empty() && s.back() == '/') s.pop_back();
	size_t i = 0;
	while (i < s.size() && s[i] == '/') i++;
	return s.substr(i);
}

std::string encode(const std::string &s, bool keep_slash)
{
	static const char *hex = "0123456789ABCDEF";
	std::string out;
	out.reserve(s.size());
	for (unsigned char c : s) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || (keep_slash && c == '/')) {
			out += static_cast<char>(c);
		} else {
			out += '%';
			out += hex[c >> 4];
			out += hex[c & 15];
		}
	}
	return out;
}

void sign(const S3Config &c, Request &r, const std::string &sha)
{
	r.aws_sigv4 = "aws:amz:" + c.region + ":s3";
	r.aws_key = c.key_id;
	r.aws_secret = c.secret;
	r.headers.push_back("x-amz-content-sha256: " + sha);
}

std::string object_url(const S3Config &c, const std::string &key)
{
	return c.endpoint + "/" + encode(c.bucket, false) + "/" + s3_encode_key(key);
}

std::string md5_base64(const std::string &data)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(data.data(), data.size(), md, &n, EVP_md5(), nullptr);
	unsigned char out[64];
	int k = EVP_EncodeBlock(out, md, static_cast<int>(n));
	return std::string(reinterpret_cast<char *>(out), static_cast<size_t>(k));
}

std::string xml_escape(const std::string &s)
{
	std::string out;
	for (char ch : s) {
		switch (ch) {
		case '&': out += "&amp;"; break;
		case '<': out += "&lt;"; break;
		case '>': out += "&gt;"; break;
		case '"': out += "&quot;"; break;
		case '\'': out += "&apos;"; break;
		default: out += ch;
		}
	}
	return out;
}

// A small expat walk: the path of element names from the root, and the text
// of the element being closed. Namespaces are ignored (S3 answers in
// http://s3.amazonaws.com/doc/2006-03-01/, some stores in none).
struct XmlWalk {
	std::vector<std::string> path;
	std::string text;
	std::function<void(const std::vector<std::string> &)> open;
	std::function<void(const std::vector<std::string> &, const std::string &)> close;

	static void on_start(void *ud, const XML_Char *name, const XML_Char **)
	{
		auto *w = static_cast<XmlWalk *>(ud);
		const char *local = strrchr(name, '|');
		w->path.emplace_back(local ? local + 1 : name);
		w->text.clear();
		if (w->open) w->open(w->path);
	}
	static void on_end(void *ud, const XML_Char *)
	{
		auto *w = static_cast<XmlWalk *>(ud);
		if (w->close) w->close(w->path, w->text);
		w->path.pop_back();
		w->text.clear();
	}
	static void on_text(void *ud, const XML_Char *s, int len)
	{
		static_cast<XmlWalk *>(ud)->text.append(s, static_cast<size_t>(len));
	}
	bool parse(const std::string &xml, std::string &why)
	{
		XML_Parser p = XML_ParserCreateNS(nullptr, '|');
		XML_SetUserData(p, this);
		XML_SetElementHandler(p, on_start, on_end);
		XML_SetCharacterDataHandler(p, on_text);
		bool ok = XML_Parse(p, xml.data(), static_cast<int>(xml.size()), 1) == XML_STATUS_OK;
		if (!ok)
			why = std::string("XML: ") + XML_ErrorString(XML_GetErrorCode(p)) + " at line " +
			      std::to_string(XML_GetCurrentLineNumber(p));
		XML_ParserFree(p);
		return ok;
	}
};

bool at(const std::vector<std::string> &path, std::initializer_list<const char *> want)
{
	if (path.size() != want.size()) return false;
	size_t i = 0;
	for (const char *w : want)
		if (path[i++] != w) return false;
	return true;
}

} // namespace

bool parse_s3_location(const std::string &s, bool config_form, std::string &bucket, std::string &prefix,
                       std::string *why)
{
	std::string rest;
	if (config_form) {
		if (s.empty() || s[0] != '/') {
			if (why) *why = "directory '" + s + "' is not /BUCKET/PREFIX";
			return false;
		}
		rest = s.substr(1);
	} else {
		if (!is_s3_location(s)) {
			if (why) *why = "'" + s + "' is not s3://BUCKET/PREFIX";
			return false;
		}
		rest = s.substr(5);
	}
	auto slash = rest.find('/');
	bucket = rest.substr(0, slash);
	prefix = slash == std::string::npos ? "" : trim_slashes(rest.substr(slash + 1));
	// S3's bucket names: 3-63 of a-z 0-9 . - (Swift allows more; stay with S3's).
	bool ok = bucket.size() >= 3 && bucket.size() <= 63;
	for (char ch : bucket)
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-')) ok = false;
	if (!ok) {
		if (why) *why = "bucket name '" + bucket + "' is not 3-63 of a-z, 0-9, '.', '-'";
		return false;
	}
	if (prefix.find("//") != std::string::npos) {
		if (why) *why = "prefix '" + prefix + "' has an empty segment";
		return false;
	}
	return true;
}

bool s3_configure(const std::string &conf, bool use_directory, S3Config &cfg, std::vector<std::string> &warnings,
                  std::string &why)
{
	std::string backend, directory;
	if (!conf.empty()) {
		int rc = read_ini(conf, [&](const char *sec, const char *name, const char *value) {
			std::string s = sec, n = name, v = value;
			if (s == "mirror" && n == "storage-backend") backend = v;
			else if (s == "mirror" && n == "directory") directory = v;
			else if (s != "s3") return;
			else if (n == "endpoint_url") cfg.endpoint = v;
			else if (n == "region_name") cfg.region = v;
			else if (n == "aws_access_key_id") cfg.key_id = v;
			else if (n == "aws_secret_access_key") cfg.secret = v;
			else if (n == "signature_version") cfg.signature_version = v;
			else if (n == "upload") cfg.upload = v;
			else if (n.rfind("config_param_", 0) == 0)
				warnings.push_back("[s3] " + n + " is a boto setting; ignored");
			else if (n != "verify_concurrency" && n != "max_attempts")
				warnings.push_back("[s3] unknown key " + n + "; ignored");
		});
		if (rc < 0) {
			why = conf + ": " + strerror(errno);
			return false;
		}
		if (rc > 0) {
			why = conf + ": line " + std::to_string(rc) + " does not parse";
			return false;
		}
	}
	if (use_directory) {
		if (backend != "s3") {
			why = conf + ": [mirror] storage-backend is not s3";
			return false;
		}
		if (!parse_s3_location(directory, true, cfg.bucket, cfg.prefix, &why)) {
			why = conf + ": [mirror] " + why;
			return false;
		}
	}
	if (cfg.key_id.empty()) cfg.key_id = env("AWS_ACCESS_KEY_ID");
	if (cfg.secret.empty()) cfg.secret = env("AWS_SECRET_ACCESS_KEY");
	if (cfg.endpoint.empty()) cfg.endpoint = env("AWS_ENDPOINT_URL");
	if (cfg.region.empty() || (cfg.region == "us-east-1" && !env("AWS_REGION").empty())) {
		std::string r = env("AWS_REGION");
		if (r.empty()) r = env("AWS_DEFAULT_REGION");
		if (!r.empty()) cfg.region = r;
	}
	if (cfg.region.empty()) cfg.region = "us-east-1";
	while (!cfg.endpoint.empty() && cfg.endpoint.back() == '/') cfg.endpoint.pop_back();
	if (cfg.endpoint.empty()) {
		why = "no S3 endpoint ([s3] endpoint_url or AWS_ENDPOINT_URL)";
		return false;
	}
	if (cfg.endpoint.rfind("http://", 0) != 0 && cfg.endpoint.rfind("https://", 0) != 0) {
		why = "S3 endpoint '" + cfg.endpoint + "' is not an http(s) URL";
		return false;
	}
	if (cfg.key_id.empty() || cfg.secret.empty()) {
		why = "no S3 credentials ([s3] aws_access_key_id and aws_secret_access_key, or AWS_ACCESS_KEY_ID and "
		      "AWS_SECRET_ACCESS_KEY)";
		return false;
	}
	if (cfg.upload != "stream" && cfg.upload != "scratch") {
		why = "[s3] upload " + cfg.upload + ": stream or scratch";
		return false;
	}
	if (cfg.signature_version != "s3v4" && cfg.signature_version != "v4") {
		why = "[s3] signature_version " + cfg.signature_version + ": only s3v4 is spoken";
		return false;
	}
	return true;
}

std::string s3_encode_key(const std::string &key) { return encode(key, true); }
std::string s3_encode_query(const std::string &v) { return encode(v, false); }

Request s3_put(const S3Config &c, const S3Put &p)
{
	Request r;
	r.method = "PUT";
	r.url = object_url(c, p.key);
	r.what = "object " + p.key;
	if (!p.content_type.empty()) r.headers.push_back("Content-Type: " + p.content_type);
	for (auto &m : p.meta) r.headers.push_back("x-amz-meta-" + m.first + ": " + m.second);
	sign(c, r, p.sha256.empty() ? "UNSIGNED-PAYLOAD" : p.sha256);
	return r;
}

Request s3_head(const S3Config &c, const std::string &key)
{
	Request r;
	r.method = "HEAD";
	r.url = object_url(c, key);
	r.what = "object " + key;
	sign(c, r, kEmptySha256);
	return r;
}

Request s3_get(const S3Config &c, const std::string &key)
{
	Request r = s3_head(c, key);
	r.method = "GET";
	return r;
}

Request s3_list(const S3Config &c, const std::string &prefix, const std::string &token, int max_keys,
                const std::string &delimiter)
{
	// Parameters in SigV4's canonical order (sorted by name): curl signs the
	// query as written.
	std::string q;
	if (!token.empty()) q += "continuation-token=" + s3_encode_query(token) + "&";
	if (!delimiter.empty()) q += "delimiter=" + s3_encode_query(delimiter) + "&";
	q += "list-type=2&max-keys=" + std::to_string(max_keys);
	if (!prefix.empty()) q += "&prefix=" + s3_encode_query(prefix);
	Request r;
	r.url = c.endpoint + "/" + encode(c.bucket, false) + "?" + q;
	r.what = "listing of " + c.bucket + "/" + prefix;
	sign(c, r, kEmptySha256);
	return r;
}

Request s3_delete(const S3Config &c, const std::vector<std::string> &keys)
{
	std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>";
	for (auto &k : keys) body += "<Object><Key>" + xml_escape(k) + "</Key></Object>";
	body += "</Delete>\n";
	Request r;
	r.method = "POST";
	// "delete=": a valueless parameter as SigV4 canonicalises it.
	r.url = c.endpoint + "/" + encode(c.bucket, false) + "?delete=";
	r.what = "delete of " + std::to_string(keys.size()) + " objects";
	r.headers.push_back("Content-Type: application/xml");
	r.headers.push_back("Content-MD5: " + md5_base64(body));
	sign(c, r, sha256_hex(body));
	r.body = std::move(body);
	return r;
}

std::vector<Request> s3_delete_batches(const S3Config &c, const std::vector<std::string> &keys)
{
	std::vector<Request> out;
	for (size_t i = 0; i < keys.size(); i += 1000)
		out.push_back(s3_delete(c, std::vector<std::string>(keys.begin() + static_cast<long>(i),
		                                                      keys.begin() + static_cast<long>(std::min(keys.size(), i + 1000)))));
	return out;
}

std::string s3_delete_outcome(const std::vector<Response> &answers, size_t nkeys)
{
	std::vector<std::string> failed;
	for (size_t i = 0; i < answers.size(); i++) {
		const Response &r = answers[i];
		std::string err;
		if (!r.ok())
			return "cannot delete " + std::to_string(std::min<size_t>(1000, nkeys - std::min(nkeys, 1000 * i))) +
			       " objects: " + s3_describe(r);
		if (!parse_s3_delete_errors(r.body, failed, err)) return "the answer to a delete does not parse: " + err;
	}
	if (failed.empty()) return "";
	std::string why = "cannot delete";
	for (auto &f : failed) why += " " + f + ";";
	why.pop_back();
	return why;
}

bool parse_s3_list(const std::string &xml, S3ListPage &out, std::string &why)
{
	out = S3ListPage();
	XmlWalk w;
	w.open = [&](const std::vector<std::string> &p) {
		if (at(p, {"ListBucketResult", "Contents"})) out.objects.emplace_back();
	};
	w.close = [&](const std::vector<std::string> &p, const std::string &t) {
		if (p.size() == 3 && p[0] == "ListBucketResult" && p[1] == "Contents" && !out.objects.empty()) {
			S3Object &o = out.objects.back();
			if (p[2] == "Key") o.key = t;
			else if (p[2] == "Size") o.size = strtoll(t.c_str(), nullptr, 10);
			else if (p[2] == "ETag") o.etag = t;
			else if (p[2] == "LastModified") o.last_modified = t;
		} else if (at(p, {"ListBucketResult", "CommonPrefixes", "Prefix"})) {
			out.prefixes.push_back(t);
		} else if (at(p, {"ListBucketResult", "IsTruncated"})) {
			out.truncated = t == "true";
		} else if (at(p, {"ListBucketResult", "NextContinuationToken"})) {
			out.next_token = t;
		}
	};
	if (!w.parse(xml, why)) return false;
	if (out.truncated && out.next_token.empty()) {
		why = "a truncated listing without a NextContinuationToken";
		return false;
	}
	for (auto &o : out.objects)
		if (o.key.empty()) {
			why = "a listed object without a Key";
			return false;
		}
	return true;
}

bool parse_s3_delete_errors(const std::string &xml, std::vector<std::string> &errors, std::string &why)
{
	std::string key, code, msg;
	XmlWalk w;
	w.close = [&](const std::vector<std::string> &p, const std::string &t) {
		if (p.size() == 3 && p[0] == "DeleteResult" && p[1] == "Error") {
			if (p[2] == "Key") key = t;
			else if (p[2] == "Code") code = t;
			else if (p[2] == "Message") msg = t;
		} else if (at(p, {"DeleteResult", "Error"})) {
			errors.push_back(key + ": " + code + (msg.empty() ? "" : " " + msg));
			key.clear();
			code.clear();
			msg.clear();
		}
	};
	return w.parse(xml, why);
}

std::string s3_error_text(const std::string &xml)
{
	std::string code, msg, why;
	XmlWalk w;
	w.close = [&](const std::vector<std::string> &p, const std::string &t) {
		if (at(p, {"Error", "Code"})) code = t;
		else if (at(p, {"Error", "Message"})) msg = t;
	};
	if (!w.parse(xml, why) || code.empty()) return "";
	return code + (msg.empty() ? "" : ": " + msg);
}

std::string s3_describe(const Response &r)
{
	// Not Response::describe(): its notes on a 401/403 speak of the
	// upstream's credentials; the store's own error code says more.
	if (!r.error.empty()) return r.error;
	std::string d = "HTTP " + std::to_string(r.status);
	{
		std::string e = s3_error_text(r.body);
		if (!e.empty()) d += " (" + e + ")";
	}
	return d;
}

} // namespace pm
