// Streaming digests through OpenSSL's libcrypto, fed while bytes arrive so
// a download is verified without reading the file a second time.
#pragma once
#include <string>

#include "nocopy.h"

namespace pm {

class Digest : NoCopy {
public:
	// algorithm: an OpenSSL name such as "SHA256", "MD5", "BLAKE2B-512".
	explicit Digest(const char *algorithm = "SHA256");
	~Digest();
	void update(const void *data, size_t n);
	void reset();
	// Lower-case hex of the digest; the object may be reset() and reused.
	std::string hex();

private:
	void *ctx_;
	const void *md_;
};

// sha256 hex of a file's contents; empty string if it cannot be read.
std::string sha256_file(const std::string &path);
std::string sha256_hex(const std::string &data);
bool is_sha256_hex(const std::string &s);

} // namespace pm
