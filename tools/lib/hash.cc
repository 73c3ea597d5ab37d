#include "hash.h"
#include "log.h"

#include <cctype>
#include <fcntl.h>
#include <openssl/evp.h>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <unistd.h>

namespace pm {

Digest::Digest(const char *algorithm)
{
	md_ = EVP_get_digestbyname(algorithm);
	// The name is a constant of the program, never input: a wrong one is a
	// bug, which aborts (cli.h: the error convention).
	if (!md_) {
		fprintf(stderr, "%s: unknown digest %s\n", log_prog() ? log_prog() : "pypi-mirror", algorithm);
		abort();
	}
	ctx_ = EVP_MD_CTX_new();
	reset();
}

Digest::~Digest() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX *>(ctx_)); }

void Digest::reset() { EVP_DigestInit_ex(static_cast<EVP_MD_CTX *>(ctx_), static_cast<const EVP_MD *>(md_), nullptr); }

void Digest::update(const void *data, size_t n) { EVP_DigestUpdate(static_cast<EVP_MD_CTX *>(ctx_), data, n); }

std::string Digest::hex()
{
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex(static_cast<EVP_MD_CTX *>(ctx_), out, &len);
	static const char digits[] = "0123456789abcdef";
	std::string s;
	s.reserve(len * 2);
	for (unsigned i = 0; i < len; i++) {
		s.push_back(digits[out[i] >> 4]);
		s.push_back(digits[out[i] & 15]);
	}
	reset();
	return s;
}

std::string sha256_file(const std::string &path)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) return "";
	Digest d;
	// One buffer per thread, made at its first use: a thread_local array
	// would sit in the static TLS block, which the dynamic loader zeroes at
	// every start of every program linking this file (32 page faults for
	// 128 KiB), whether it hashes a file or not.
	constexpr size_t bufsize = 1 << 17;
	static thread_local std::unique_ptr<char[]> buf;
	if (!buf) buf = std::make_unique_for_overwrite<char[]>(bufsize);
	for (;;) {
		ssize_t r = read(fd, buf.get(), bufsize);
		if (r < 0) {
			close(fd);
			return "";
		}
		if (r == 0) break;
		d.update(buf.get(), static_cast<size_t>(r));
	}
	close(fd);
	return d.hex();
}

std::string sha256_hex(const std::string &data)
{
	Digest d;
	d.update(data.data(), data.size());
	return d.hex();
}

} // namespace pm
