// Unit tests for tools/lib/ndjson.{h,cc}: the line reader every tool uses on
// stdin, the writer, and the tolerant accessors.
#include "ndjson.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// A FILE* reading from an in-memory copy of text (binary safe: NULs kept).
struct MemFile {
	explicit MemFile(const std::string &text) : buf(text)
	{
		f = fmemopen(buf.empty() ? nullptr : buf.data(), buf.size(), "r");
		if (buf.empty()) f = fopen("/dev/null", "r");
	}
	~MemFile()
	{
		if (f) fclose(f);
	}
	std::string buf;
	FILE *f = nullptr;
};

struct Result {
	bool ok; // parsed into an object
	std::string error;
	std::string line;
	size_t lineno;
	std::string json; // to_json(doc) when ok
};

// Reads every record of text; each element is one next() call that returned true.
std::vector<Result> read_all(const std::string &text, size_t max_line = pm::kDefaultMaxLine)
{
	MemFile m(text);
	pm::NdjsonReader r(m.f, max_line);
	std::vector<Result> out;
	rapidjson::Document doc;
	std::string err;
	while (r.next(doc, err)) {
		Result res{err.empty(), err, r.line(), r.line_number(), ""};
		if (res.ok) {
			EXPECT_TRUE(doc.IsObject());
			res.json = pm::to_json(doc);
		} else {
			EXPECT_TRUE(doc.IsNull());
		}
		out.push_back(res);
		if (out.size() > 1000) break; // a runaway reader must not hang the test
	}
	return out;
}

TEST(Ndjson, ValidRecords)
{
	auto rs = read_all("{\"a\":1}\n{\"b\":\"x\",\"c\":[1,2]}\n");
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_TRUE(rs[0].ok);
	EXPECT_EQ(rs[0].json, "{\"a\":1}");
	EXPECT_EQ(rs[0].lineno, 1u);
	EXPECT_TRUE(rs[1].ok);
	EXPECT_EQ(rs[1].line, "{\"b\":\"x\",\"c\":[1,2]}");
	EXPECT_EQ(rs[1].lineno, 2u);
}

TEST(Ndjson, LastLineWithoutNewline)
{
	auto rs = read_all("{\"a\":1}\n{\"b\":2}");
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_TRUE(rs[1].ok);
	EXPECT_EQ(rs[1].json, "{\"b\":2}");
}

TEST(Ndjson, EmptyInput)
{
	EXPECT_TRUE(read_all("").empty());
	EXPECT_TRUE(read_all("\n\n  \n\t\n").empty());
}

TEST(Ndjson, BlankLinesSkippedButCounted)
{
	auto rs = read_all("\n   \n{\"a\":1}\n\t\n\n{\"b\":2}\n\n");
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_EQ(rs[0].lineno, 3u);
	EXPECT_EQ(rs[1].lineno, 6u);
}

TEST(Ndjson, Crlf)
{
	auto rs = read_all("{\"a\":1}\r\n\r\n{\"b\":2}\r\n");
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_TRUE(rs[0].ok);
	EXPECT_EQ(rs[0].line, "{\"a\":1}");
	EXPECT_TRUE(rs[1].ok);
	EXPECT_EQ(rs[1].lineno, 3u);
}

TEST(Ndjson, MalformedNamesLineAndContinues)
{
	auto rs = read_all("{\"a\":1}\n{\"a\":\n{\"c\":3}\n");
	ASSERT_EQ(rs.size(), 3u);
	EXPECT_TRUE(rs[0].ok);
	EXPECT_FALSE(rs[1].ok);
	EXPECT_EQ(rs[1].error.rfind("line 2: ", 0), 0u) << rs[1].error;
	EXPECT_EQ(rs[1].line, "{\"a\":"); // the raw text stays available for the message
	EXPECT_TRUE(rs[2].ok);
	EXPECT_EQ(rs[2].lineno, 3u);
}

TEST(Ndjson, NonObjectRefused)
{
	for (const char *s : {"[1,2]", "42", "\"str\"", "null", "true"}) {
		auto rs = read_all(std::string(s) + "\n");
		ASSERT_EQ(rs.size(), 1u) << s;
		EXPECT_FALSE(rs[0].ok) << s;
		EXPECT_NE(rs[0].error.find("line 1"), std::string::npos) << rs[0].error;
		EXPECT_NE(rs[0].error.find("not a JSON object"), std::string::npos) << rs[0].error;
	}
}

TEST(Ndjson, InvalidUtf8Refused)
{
	auto rs = read_all("{\"a\":\"\xff\xfe\"}\n{\"a\":\"\xc3\xa9\"}\n{\"a\":\"\xc3\"}\n{\"\xed\xa0\x80\":1}\n");
	ASSERT_EQ(rs.size(), 4u);
	EXPECT_FALSE(rs[0].ok);
	EXPECT_EQ(rs[0].error.rfind("line 1: ", 0), 0u);
	EXPECT_TRUE(rs[1].ok) << rs[1].error; // valid two-byte sequence
	EXPECT_FALSE(rs[2].ok);               // truncated sequence
	EXPECT_FALSE(rs[3].ok);               // encoded surrogate
}

TEST(Ndjson, NulByteRefused)
{
	std::string text = "{\"a\":\"x";
	text.push_back('\0');
	text += "y\"}\n{\"b\":1}\n";
	auto rs = read_all(text);
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_FALSE(rs[0].ok);
	EXPECT_NE(rs[0].error.find("line 1"), std::string::npos);
	EXPECT_NE(rs[0].error.find("NUL"), std::string::npos);
	EXPECT_TRUE(rs[1].ok);
}

TEST(Ndjson, OverlongLineRefusedNextLineRead)
{
	std::string big = "{\"a\":\"" + std::string(100, 'x') + "\"}";
	auto rs = read_all("{\"a\":1}\n" + big + "\n{\"b\":2}\n", 32);
	ASSERT_EQ(rs.size(), 3u);
	EXPECT_TRUE(rs[0].ok);
	EXPECT_FALSE(rs[1].ok);
	EXPECT_NE(rs[1].error.find("line 2"), std::string::npos) << rs[1].error;
	EXPECT_NE(rs[1].error.find("longer than 32"), std::string::npos) << rs[1].error;
	EXPECT_TRUE(rs[2].ok) << rs[2].error;
	EXPECT_EQ(rs[2].json, "{\"b\":2}");
	EXPECT_EQ(rs[2].lineno, 3u);
}

TEST(Ndjson, LineOfExactlyMaxAccepted)
{
	std::string line = "{\"a\":\"" + std::string(24, 'x') + "\"}"; // 32 bytes
	ASSERT_EQ(line.size(), 32u);
	auto rs = read_all(line + "\n" + line + "\r\n", 32);
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_TRUE(rs[0].ok) << rs[0].error;
	EXPECT_TRUE(rs[1].ok) << rs[1].error; // the CR of CRLF is not content
}

TEST(Ndjson, DeeplyNestedDoesNotCrash)
{
	std::string deep = "{\"a\":" + std::string(100000, '[');
	auto rs = read_all(deep + "\n{\"ok\":1}\n");
	ASSERT_EQ(rs.size(), 2u);
	EXPECT_FALSE(rs[0].ok);
	EXPECT_TRUE(rs[1].ok);

	// Deep but well-formed is also fine (and not a stack overflow).
	std::string closed = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
	rapidjson::Document d;
	std::string err;
	EXPECT_TRUE(pm::parse_json_object(closed, d, err)) << err;
}

TEST(Ndjson, TrailingGarbageRefused)
{
	auto rs = read_all("{\"a\":1} x\n{\"a\":1}{\"b\":2}\n{\"a\":1}   \n");
	ASSERT_EQ(rs.size(), 3u);
	EXPECT_FALSE(rs[0].ok);
	EXPECT_FALSE(rs[1].ok);
	EXPECT_TRUE(rs[2].ok) << rs[2].error; // trailing whitespace is fine
}

TEST(Ndjson, ParseJsonObject)
{
	rapidjson::Document d;
	std::string err;
	EXPECT_TRUE(pm::parse_json_object("{\"x\":[1,{\"y\":null}]}", d, err));
	EXPECT_TRUE(d.IsObject());
	EXPECT_FALSE(pm::parse_json_object("", d, err));
	EXPECT_FALSE(err.empty());
	EXPECT_TRUE(d.IsNull());
	EXPECT_FALSE(pm::parse_json_object("[]", d, err));
	EXPECT_TRUE(d.IsNull());
}

TEST(Ndjson, WriterFlushesOneLinePerRecord)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	FILE *w = fdopen(fds[1], "w");
	ASSERT_NE(w, nullptr);
	// Full buffering: only the writer's flush can make the bytes appear.
	setvbuf(w, nullptr, _IOFBF, 1 << 16);
	pm::NdjsonWriter out(w);

	rapidjson::Document d(rapidjson::kObjectType);
	pm::set_string(d, d, "name", "a\nb");
	pm::set_int(d, d, "serial", 5);
	ASSERT_TRUE(out.write(d));
	char buf[256];
	ssize_t n = read(fds[0], buf, sizeof buf); // would block forever if not flushed
	ASSERT_GT(n, 0);
	EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "{\"name\":\"a\\nb\",\"serial\":5}\n");

	ASSERT_TRUE(out.write_raw("{\"raw\":true}"));
	n = read(fds[0], buf, sizeof buf);
	ASSERT_GT(n, 0);
	EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "{\"raw\":true}\n");
	fclose(w);
	close(fds[0]);
}

TEST(Ndjson, WriterReportsClosedReader)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	close(fds[0]);
	FILE *w = fdopen(fds[1], "w");
	ASSERT_NE(w, nullptr);
	auto old = signal(SIGPIPE, SIG_IGN);
	pm::NdjsonWriter out(w);
	EXPECT_FALSE(out.write_raw("{}"));
	signal(SIGPIPE, old);
	fclose(w);
}

TEST(Ndjson, RoundTripThroughTmpfile)
{
	FILE *f = tmpfile();
	ASSERT_NE(f, nullptr);
	pm::NdjsonWriter w(f);
	for (int i = 0; i < 3; i++) {
		rapidjson::Document d(rapidjson::kObjectType);
		pm::set_int(d, d, "i", i);
		pm::set_string(d, d, "s", "\xc3\xa9<\"\\");
		ASSERT_TRUE(w.write(d));
	}
	rewind(f);
	pm::NdjsonReader r(f);
	rapidjson::Document d;
	std::string err;
	int n = 0;
	while (r.next(d, err)) {
		ASSERT_TRUE(err.empty()) << err;
		EXPECT_EQ(pm::get_int(d, "i"), n);
		EXPECT_EQ(pm::get_string(d, "s"), "\xc3\xa9<\"\\");
		n++;
	}
	EXPECT_EQ(n, 3);
	fclose(f);
}

TEST(Ndjson, Accessors)
{
	rapidjson::Document d;
	std::string err;
	ASSERT_TRUE(pm::parse_json_object(
	    "{\"s\":\"x\",\"i\":-7,\"big\":18446744073709551615,\"f\":1.5,\"b\":true,\"n\":null,"
	    "\"sd\":\"123\",\"sz\":\"0042\",\"sneg\":\"-5\",\"sx\":\"12a\",\"se\":\"\",\"shuge\":\"99999999999999999999\"}",
	    d, err))
	    << err;
	EXPECT_EQ(pm::get_string(d, "s"), "x");
	EXPECT_EQ(pm::get_string(d, "i", "dflt"), "dflt");
	EXPECT_EQ(pm::get_string(d, "missing", "dflt"), "dflt");
	EXPECT_EQ(pm::get_int(d, "i"), -7);
	EXPECT_EQ(pm::get_int(d, "big", -1), -1); // out of range: absent
	EXPECT_EQ(pm::get_int(d, "f", -1), -1);
	EXPECT_EQ(pm::get_int(d, "n", -1), -1);
	EXPECT_EQ(pm::get_int(d, "missing", 9), 9);
	EXPECT_EQ(pm::get_int(d, "sd"), 123); // bandersnatch's string serials
	EXPECT_EQ(pm::get_int(d, "sz"), 42);
	EXPECT_EQ(pm::get_int(d, "sneg", -1), -1);
	EXPECT_EQ(pm::get_int(d, "sx", -1), -1);
	EXPECT_EQ(pm::get_int(d, "se", -1), -1);
	EXPECT_EQ(pm::get_int(d, "shuge", -1), -1);
	EXPECT_TRUE(pm::get_bool(d, "b"));
	EXPECT_TRUE(pm::get_bool(d, "s", true));
	EXPECT_FALSE(pm::get_bool(d, "missing"));
	EXPECT_EQ(pm::member(d, "missing"), nullptr);
	ASSERT_NE(pm::member(d, "n"), nullptr);
	rapidjson::Value arr(rapidjson::kArrayType);
	EXPECT_EQ(pm::member(arr, "x"), nullptr);
	EXPECT_EQ(pm::get_int(arr, "x", 3), 3);
}

TEST(Ndjson, GetIntStringDigitsRange)
{
	rapidjson::Document d;
	std::string err;
	ASSERT_TRUE(pm::parse_json_object("{\"max\":\"9223372036854775807\",\"over\":\"9223372036854775808\","
	                                  "\"typical\":\"27000000\",\"long\":\"36028797018963968\"}",
	                                  d, err));
	// Values that fit in a long long are read exactly; larger ones are absent.
	EXPECT_EQ(pm::get_int(d, "typical"), 27000000);
	EXPECT_EQ(pm::get_int(d, "long"), 36028797018963968LL);
	EXPECT_EQ(pm::get_int(d, "max", -1), 9223372036854775807LL);
	EXPECT_EQ(pm::get_int(d, "over", -1), -1);
}

TEST(Ndjson, Setters)
{
	rapidjson::Document d(rapidjson::kObjectType);
	pm::set_string(d, d, "a", "1");
	pm::set_string(d, d, "a", "2"); // replaces, no duplicate member
	pm::set_int(d, d, "n", 1LL << 40);
	pm::set_bool(d, d, "b", true);
	std::string nul("x\0y", 3);
	pm::set_string(d, d, "z", nul);
	EXPECT_EQ(pm::to_json(d), "{\"a\":\"2\",\"n\":1099511627776,\"b\":true,\"z\":\"x\\u0000y\"}");
}

} // namespace
