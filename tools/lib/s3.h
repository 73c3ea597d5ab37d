// The mirror in an S3-compatible object store (AWS, Ceph RGW, MinIO,
// OpenStack Swift's s3api): where it is, the credentials, and the requests
// the tools send it, as pm::Request values that pm::Http runs (libcurl's
// multi interface, its SigV4 signing). The one owner of S3 key encoding,
// request signing set-up and the XML of listings and deletes.
//
// Addressing is path-style (ENDPOINT/BUCKET/KEY), which every store named
// above serves and which needs no DNS per bucket.
#pragma once
#include <string>
#include <vector>

#include "http.h"

namespace pm {

struct S3Config {
	std::string endpoint;            // "http(s)://host[:port]", no trailing slash
	std::string region = "us-east-1"; // the SigV4 signing region
	std::string key_id, secret;      // never logged
	std::string bucket, prefix;      // prefix: "" or "a/b" (no slash at either end)
	std::string signature_version = "s3v4";
	// How artifact-get puts a file in the store ([s3] upload): "stream"
	// feeds the download straight into the PUT, which carries PyPI's sha256
	// as x-amz-content-sha256, so a store that checks it (AWS, Ceph RGW,
	// MinIO, Swift) refuses wrong bytes; "scratch" downloads to local
	// scratch space, verifies, then uploads (for stores that reject the
	// header, as Backblaze B2 does).
	std::string upload = "stream";
	// The key of a mirror-relative path ("web/simple/foo/index.html").
	std::string key(const std::string &rel) const { return prefix.empty() ? rel : prefix + "/" + rel; }
	// "s3://BUCKET/PREFIX", for messages.
	std::string location() const { return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix); }
};

// "s3://BUCKET[/PREFIX]" (the -d form) or "/BUCKET[/PREFIX]" (bandersnatch's
// [mirror] directory with storage-backend = s3). False with why when malformed.
bool parse_s3_location(const std::string &s, bool config_form, std::string &bucket, std::string &prefix,
                       std::string *why = nullptr);
inline bool is_s3_location(const std::string &s) { return s.rfind("s3://", 0) == 0; }

// Fills cfg from a pypi-mirror.conf (or bandersnatch.conf): [s3] endpoint_url,
// region_name, aws_access_key_id, aws_secret_access_key, signature_version,
// upload (stream or scratch, this mirror's own);
// config_param_* keys are reported in warnings (not applied). With
// use_directory, [mirror] directory (storage-backend = s3) gives bucket and
// prefix. The environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION) fills what the file
// leaves unset. conf may be empty (environment only).
bool s3_configure(const std::string &conf, bool use_directory, S3Config &cfg, std::vector<std::string> &warnings,
                  std::string &why);

// A key percent-encoded as SigV4's canonical URI wants it and curl sends it
// verbatim: everything but A-Z a-z 0-9 - _ . ~ and the "/" separators
// ("+" becomes %2B, UTF-8 bytes %XX).
std::string s3_encode_key(const std::string &key);
// Query values likewise ("/" encoded too).
std::string s3_encode_query(const std::string &v);

// Requests, signed by libcurl when pm::Http runs them. sha256: the body's
// sha256 hex, sent as x-amz-content-sha256 so the store refuses a body that
// does not match ("" for UNSIGNED-PAYLOAD). meta: x-amz-meta-NAME values.
struct S3Put {
	std::string key, content_type, sha256;
	std::vector<std::pair<std::string, std::string>> meta;
};
Request s3_put(const S3Config &c, const S3Put &p);
Request s3_head(const S3Config &c, const std::string &key);
Request s3_get(const S3Config &c, const std::string &key);
// ListObjectsV2 of one page under prefix (a full key prefix), after token.
// With a delimiter, keys that hold it past the prefix are rolled up into
// S3ListPage::prefixes (what "directories" there are, in one request).
Request s3_list(const S3Config &c, const std::string &prefix, const std::string &token, int max_keys = 1000,
                const std::string &delimiter = "");
// Multi-object DELETE of up to 1000 keys (quiet: only errors come back).
Request s3_delete(const S3Config &c, const std::vector<std::string> &keys);

struct S3Object {
	std::string key;
	long long size = -1;
	std::string etag, last_modified;
};
struct S3ListPage {
	std::vector<S3Object> objects;
	std::vector<std::string> prefixes; // CommonPrefixes (a listing with a delimiter)
	bool truncated = false;
	std::string next_token;
};
// Parses a ListObjectsV2 result; false (why set) on XML it cannot read.
bool parse_s3_list(const std::string &xml, S3ListPage &out, std::string &why);
// The keys a DeleteResult says failed, as "KEY: CODE MESSAGE".
bool parse_s3_delete_errors(const std::string &xml, std::vector<std::string> &errors, std::string &why);
// The multi-object DELETEs that remove keys, 1000 a request (the API's
// limit), and what their answers (in the same order, for nkeys keys) say:
// empty when every key is gone (one already gone counts), else why: the
// first request that failed or answered what does not parse, or the keys
// that stayed.
std::vector<Request> s3_delete_batches(const S3Config &c, const std::vector<std::string> &keys);
std::string s3_delete_outcome(const std::vector<Response> &answers, size_t nkeys);
// The <Code> and <Message> of an S3 error body, as "CODE: MESSAGE" (empty if none).
std::string s3_error_text(const std::string &xml);
// A failed response, for messages: "HTTP 403 (SignatureDoesNotMatch: ...)".
std::string s3_describe(const Response &r);

} // namespace pm
