// Unit tests for tools/lib/s3.{h,cc}: key encoding as SigV4 and curl want it,
// locations and configuration, the ListObjectsV2 and DeleteResult XML, and
// the requests built (nothing here talks to a store; tests/s3.bats does).
#include "s3.h"
#include "s3_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {

TEST(S3, EncodesKeysAsSigV4Wants)
{
	EXPECT_EQ(pm::s3_encode_key("web/packages/ab/cd/torch-2.0.0+cpu-cp311-none-any.whl"),
	          "web/packages/ab/cd/torch-2.0.0%2Bcpu-cp311-none-any.whl");
	// UTF-8 bytes, a space, and reserved characters each become %XX; "/" stays.
	EXPECT_EQ(pm::s3_encode_key("p/caf\xc3\xa9 1=2&~_-.tar.gz"), "p/caf%C3%A9%201%3D2%26~_-.tar.gz");
	// In a query value "/" is encoded too.
	EXPECT_EQ(pm::s3_encode_query("a/b+c="), "a%2Fb%2Bc%3D");
}

TEST(S3, ParsesLocations)
{
	std::string b, p, why;
	ASSERT_TRUE(pm::parse_s3_location("s3://mirror/pypi/", false, b, p, &why)) << why;
	EXPECT_EQ(b, "mirror");
	EXPECT_EQ(p, "pypi");
	ASSERT_TRUE(pm::parse_s3_location("/mirror", true, b, p, &why)) << why;
	EXPECT_EQ(b, "mirror");
	EXPECT_EQ(p, "");
	EXPECT_FALSE(pm::parse_s3_location("mirror/pypi", true, b, p, &why));
	EXPECT_FALSE(pm::parse_s3_location("s3://Bad_Bucket/x", false, b, p, &why));
	EXPECT_FALSE(pm::parse_s3_location("s3://ok-bucket/a//b", false, b, p, &why));
	pm::S3Config c;
	c.bucket = "mirror";
	c.prefix = "pypi";
	EXPECT_EQ(c.key("web/simple/foo/index.html"), "pypi/web/simple/foo/index.html");
	EXPECT_EQ(c.location(), "s3://mirror/pypi");
}

TEST(S3, ConfigFromFileWarnsOnBotoParams)
{
	char path[] = "/tmp/s3-test-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("[mirror]\nstorage-backend = s3\ndirectory = /bkt/pre/fix\n[s3]\nendpoint_url = http://127.0.0.1:9/\n"
	      "region_name = eu-west-1\naws_access_key_id = acc:user\naws_secret_access_key = s3cret\n"
	      "config_param_ServerSideEncryption = AES256\n",
	      f);
	fclose(f);
	pm::S3Config c;
	std::vector<std::string> warnings;
	std::string why;
	ASSERT_TRUE(pm::s3_configure(path, true, c, warnings, why)) << why;
	unlink(path);
	EXPECT_EQ(c.endpoint, "http://127.0.0.1:9");
	EXPECT_EQ(c.region, "eu-west-1");
	EXPECT_EQ(c.key_id, "acc:user");
	EXPECT_EQ(c.bucket, "bkt");
	EXPECT_EQ(c.prefix, "pre/fix");
	ASSERT_EQ(warnings.size(), 1u);
	EXPECT_NE(warnings[0].find("config_param_ServerSideEncryption"), std::string::npos);
}

TEST(S3, ParsesListPages)
{
	const char *xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>cC93ZWIvYQ==</NextContinuationToken>
<Contents><Key>p/web/a+b &amp; caf&#233;.whl</Key><LastModified>2026-12-01T00:00:00.000Z</LastModified>
<ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>123</Size></Contents>
<Contents><Key>p/web/z</Key><Size>0</Size></Contents></ListBucketResult>)";
	pm::S3ListPage page;
	std::string why;
	ASSERT_TRUE(pm::parse_s3_list(xml, page, why)) << why;
	ASSERT_EQ(page.objects.size(), 2u);
	EXPECT_EQ(page.objects[0].key, "p/web/a+b & caf\xc3\xa9.whl");
	EXPECT_EQ(page.objects[0].size, 123);
	EXPECT_EQ(page.objects[0].etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
	EXPECT_EQ(page.objects[1].size, 0);
	EXPECT_TRUE(page.truncated);
	EXPECT_EQ(page.next_token, "cC93ZWIvYQ==");
	// A truncated page without a token cannot be continued.
	EXPECT_FALSE(pm::parse_s3_list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", page, why));
	EXPECT_FALSE(pm::parse_s3_list("<ListBucketResult><Contents>", page, why));
	// With a delimiter: the "directories" under the prefix.
	ASSERT_TRUE(pm::parse_s3_list("<ListBucketResult><Prefix>p/</Prefix><CommonPrefixes><Prefix>p/00/</Prefix>"
	                              "</CommonPrefixes><CommonPrefixes><Prefix>p/ab/</Prefix></CommonPrefixes>"
	                              "<IsTruncated>false</IsTruncated></ListBucketResult>",
	                              page, why))
	    << why;
	EXPECT_EQ(page.prefixes, (std::vector<std::string>{"p/00/", "p/ab/"}));
	EXPECT_TRUE(page.objects.empty());
}

TEST(S3, ParsesErrors)
{
	std::vector<std::string> errs;
	std::string why;
	ASSERT_TRUE(pm::parse_s3_delete_errors(
	    "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>"
	    "<Message>no</Message></Error></DeleteResult>",
	    errs, why));
	ASSERT_EQ(errs.size(), 1u);
	EXPECT_EQ(errs[0], "b: AccessDenied no");
	EXPECT_EQ(pm::s3_error_text("<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>"),
	          "NoSuchBucket: gone");
	EXPECT_EQ(pm::s3_error_text("not xml"), "");
}

TEST(S3, BuildsSignedRequests)
{
	pm::S3Config c;
	c.endpoint = "http://127.0.0.1:9";
	c.key_id = "acc:user";
	c.secret = "s3cret";
	c.bucket = "bkt";
	c.prefix = "pre";
	pm::S3Put put;
	put.key = c.key("web/x+y.whl");
	put.content_type = "application/octet-stream";
	put.sha256 = std::string(64, 'a');
	put.meta.emplace_back("sha256", put.sha256);
	pm::Request r = pm::s3_put(c, put);
	EXPECT_EQ(r.method, "PUT");
	EXPECT_EQ(r.url, "http://127.0.0.1:9/bkt/pre/web/x%2By.whl");
	EXPECT_EQ(r.aws_sigv4, "aws:amz:us-east-1:s3");
	EXPECT_EQ(r.aws_key, "acc:user");
	// The secret is no part of the URL or any header.
	EXPECT_EQ(r.url.find("s3cret"), std::string::npos);
	for (auto &h : r.headers) EXPECT_EQ(h.find("s3cret"), std::string::npos) << h;
	EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "x-amz-content-sha256: " + put.sha256), r.headers.end());
	// Query parameters sorted, the token encoded.
	pm::Request l = pm::s3_list(c, "pre/web/", "a/b=", 1000);
	EXPECT_EQ(l.url, "http://127.0.0.1:9/bkt?continuation-token=a%2Fb%3D&list-type=2&max-keys=1000&prefix=pre%2Fweb%2F");
	l = pm::s3_list(c, "pre/web/", "", 1000, "/");
	EXPECT_EQ(l.url, "http://127.0.0.1:9/bkt?delimiter=%2F&list-type=2&max-keys=1000&prefix=pre%2Fweb%2F");
	pm::Request d = pm::s3_delete(c, {"pre/a&b"});
	EXPECT_EQ(d.url, "http://127.0.0.1:9/bkt?delete=");
	EXPECT_NE(d.body.find("<Key>pre/a&amp;b</Key>"), std::string::npos);
	bool md5 = false;
	for (auto &h : d.headers) md5 |= h.rfind("Content-MD5: ", 0) == 0;
	EXPECT_TRUE(md5);
}

} // namespace

// The types pages are stored with: what contrib/nginx serves the files of a
// directory mirror with, by their names.
TEST(S3Store, ContentTypeOfMirrorPaths)
{
	using pm::S3Store;
	EXPECT_STREQ(S3Store::content_type("web/simple/index.html"), "text/html");
	EXPECT_STREQ(S3Store::content_type("web/simple/demo-pkg/index.html"), "text/html");
	EXPECT_STREQ(S3Store::content_type("web/simple/demo-pkg/index.v1_html"), "application/vnd.pypi.simple.v1+html");
	EXPECT_STREQ(S3Store::content_type("web/simple/index.v1_json"), "application/vnd.pypi.simple.v1+json");
	EXPECT_STREQ(S3Store::content_type("web/json/demo-pkg"), "application/json");
	EXPECT_STREQ(S3Store::content_type("web/pypi/demo-pkg/json"), "application/json");
	// A release file named like a page is still a file.
	EXPECT_STREQ(S3Store::content_type("web/packages/ab/cd/ef/index.html"), "application/octet-stream");
	EXPECT_STREQ(S3Store::content_type("web/packages/ab/cd/ef/demo.whl.metadata"), "application/octet-stream");
}
