// Unit tests for tools/lib/url_policy.{h,cc}: the one http(s)-only rule and
// the one reading of PYPI_MIRROR_ALLOW_NON_HTTPS.
#include "url_policy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

TEST(UrlPolicy, AllowNonHttpsFromTheEnvironment)
{
	for (const char *yes : {"1", "true", "TRUE", "yes", "Yes"}) {
		setenv("PYPI_MIRROR_ALLOW_NON_HTTPS", yes, 1);
		EXPECT_TRUE(pm::allow_non_https_env()) << yes;
	}
	for (const char *no : {"", "0", "no", "false", "2", "on"}) {
		setenv("PYPI_MIRROR_ALLOW_NON_HTTPS", no, 1);
		EXPECT_FALSE(pm::allow_non_https_env()) << no;
	}
	unsetenv("PYPI_MIRROR_ALLOW_NON_HTTPS");
	EXPECT_FALSE(pm::allow_non_https_env());
}

TEST(UrlPolicy, HttpsAlwaysHttpWhenAllowedNothingElse)
{
	pm::UrlParts u;
	ASSERT_TRUE(pm::parse_url("https://pypi.org/simple/", u));
	EXPECT_TRUE(pm::check_scheme(u, false));
	ASSERT_TRUE(pm::parse_url("HTTP://127.0.0.1:8080/", u));
	std::string why;
	EXPECT_FALSE(pm::check_scheme(u, false, &why));
	EXPECT_EQ(why, "not https (use --allow-non-https to permit it)");
	EXPECT_TRUE(pm::check_scheme(u, true));
	ASSERT_TRUE(pm::parse_url("ftp://example.org/x", u));
	EXPECT_FALSE(pm::check_scheme(u, true, &why));
	EXPECT_EQ(why, "not an http(s) URL");
}

TEST(UrlPolicy, BaseUrlOrExit)
{
	unsetenv("PYPI_MIRROR_ALLOW_NON_HTTPS");
	EXPECT_EQ(pm::base_url_or_exit("t", "upstream", "https://pypi.org//", false), "https://pypi.org");
	EXPECT_EQ(pm::base_url_or_exit("t", "upstream", "http://127.0.0.1:1/", true), "http://127.0.0.1:1");
	EXPECT_EXIT(pm::base_url_or_exit("t", "upstream", "http://127.0.0.1:1/", false), ::testing::ExitedWithCode(2),
	            "t: upstream 'http://127.0.0.1:1/' is not https \\(use --allow-non-https");
	EXPECT_EXIT(pm::base_url_or_exit("t", "--download-mirror", "file:///etc", true), ::testing::ExitedWithCode(2),
	            "t: --download-mirror 'file:///etc' is not an http\\(s\\) URL");
	setenv("PYPI_MIRROR_ALLOW_NON_HTTPS", "1", 1);
	EXPECT_EQ(pm::base_url_or_exit("t", "upstream", "http://127.0.0.1:1", false), "http://127.0.0.1:1");
	unsetenv("PYPI_MIRROR_ALLOW_NON_HTTPS");
}

TEST(UrlPolicy, UpstreamOptions)
{
	unsetenv("PYPI_MIRROR_ALLOW_NON_HTTPS");
	pm::UpstreamOptions up(4, 100);
	EXPECT_EQ(up.concurrency, 4); // the tool's default
	EXPECT_TRUE(up.option('u', "t", "http://127.0.0.1:1/"));
	EXPECT_TRUE(up.option('j', "t", "100"));
	EXPECT_EQ(up.concurrency, 100);
	EXPECT_EXIT(up.option('j', "t", "101"), ::testing::ExitedWithCode(2), "--concurrency wants a whole number from 1 to 100");
	EXPECT_TRUE(up.option(pm::kOptAllowHost, "t", "files.example:8443"));
	EXPECT_EQ(up.extra_hosts, std::vector<std::string>{"files.example:8443"});
	EXPECT_EXIT(up.option(pm::kOptAllowHost, "t", "https://files.example/"), ::testing::ExitedWithCode(2),
	            "--allow-host wants a host name");
	EXPECT_FALSE(up.option('d', "t", "/srv")); // not one of them: the tool's own
	// http:// with neither --allow-non-https nor the environment's permission.
	EXPECT_EXIT(up.resolve("t"), ::testing::ExitedWithCode(2), "upstream 'http://127.0.0.1:1/' is not https");
	setenv("PYPI_MIRROR_ALLOW_NON_HTTPS", "1", 1);
	EXPECT_EQ(up.resolve("t"), "http://127.0.0.1:1");
	EXPECT_TRUE(up.allow_http); // file URLs follow the same permission
	unsetenv("PYPI_MIRROR_ALLOW_NON_HTTPS");
	pm::UpstreamOptions flag(10, 1000);
	EXPECT_TRUE(flag.option('u', "t", "http://127.0.0.1:1"));
	EXPECT_TRUE(flag.option(pm::kOptAllowNonHttps, "t", nullptr));
	EXPECT_EQ(flag.resolve("t"), "http://127.0.0.1:1");
	pm::http_set_upstream(""); // resolve() named the credentials' origin: no other test wants it
}

} // namespace
