// Unit tests for tools/lib/hash.{h,cc}: streaming digests.
#include "hash.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace {

const char *kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const char *kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// FIPS 180-2 two-block message.
const char *kLong = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
const char *kLongMsg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

TEST(Hash, KnownVectors)
{
	EXPECT_EQ(pm::sha256_hex(""), kEmpty);
	EXPECT_EQ(pm::sha256_hex("abc"), kAbc);
	EXPECT_EQ(pm::sha256_hex(kLongMsg), kLong);
	pm::Digest d;
	EXPECT_EQ(d.hex(), kEmpty);
}

TEST(Hash, StreamingEqualsOneShot)
{
	std::string data;
	for (int i = 0; i < 100000; i++) data.push_back(static_cast<char>((i * 7919) & 0xff));
	std::string whole = pm::sha256_hex(data);
	for (size_t piece : {1u, 3u, 64u, 1000u, 65536u}) {
		pm::Digest d;
		for (size_t off = 0; off < data.size(); off += piece)
			d.update(data.data() + off, std::min(piece, data.size() - off));
		EXPECT_EQ(d.hex(), whole) << piece;
	}
}

TEST(Hash, ResetAndReuse)
{
	pm::Digest d;
	d.update("garbage", 7);
	d.reset(); // a retried download starts over
	d.update("abc", 3);
	EXPECT_EQ(d.hex(), kAbc);
	// hex() leaves it ready for the next use.
	d.update("a", 1);
	d.update("bc", 2);
	EXPECT_EQ(d.hex(), kAbc);
	EXPECT_EQ(d.hex(), kEmpty);
}

TEST(Hash, OtherAlgorithms)
{
	pm::Digest md5("MD5");
	md5.update("abc", 3);
	EXPECT_EQ(md5.hex(), "900150983cd24fb0d6963f7d28e17f72");
	pm::Digest b2("BLAKE2B-512");
	EXPECT_EQ(b2.hex().size(), 128u);
	EXPECT_DEATH(pm::Digest("NO-SUCH-DIGEST"), "unknown digest NO-SUCH-DIGEST");
}

TEST(Hash, Sha256File)
{
	char path[] = "/tmp/pm-hash-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(pm::sha256_file(path), kEmpty);
	std::string big(300000, 'q'); // more than one read buffer
	ASSERT_EQ(write(fd, big.data(), big.size()), static_cast<ssize_t>(big.size()));
	close(fd);
	EXPECT_EQ(pm::sha256_file(path), pm::sha256_hex(big));
	unlink(path);
	EXPECT_EQ(pm::sha256_file(path), "");
	EXPECT_EQ(pm::sha256_file("/"), ""); // a directory cannot be read
}

TEST(Hash, IsSha256Hex)
{
	EXPECT_TRUE(pm::is_sha256_hex(kEmpty));
	EXPECT_TRUE(pm::is_sha256_hex(std::string(64, '0')));
	EXPECT_FALSE(pm::is_sha256_hex(""));
	EXPECT_FALSE(pm::is_sha256_hex(std::string(63, 'a')));
	EXPECT_FALSE(pm::is_sha256_hex(std::string(65, 'a')));
	EXPECT_FALSE(pm::is_sha256_hex(std::string(64, 'A'))); // lower case only
	EXPECT_FALSE(pm::is_sha256_hex(std::string(64, 'g')));
	std::string nul(64, 'a');
	nul[10] = '\0';
	EXPECT_FALSE(pm::is_sha256_hex(nul));
	std::string sp(64, 'a');
	sp[63] = ' ';
	EXPECT_FALSE(pm::is_sha256_hex(sp));
}

} // namespace
