// Newline-delimited JSON: the line format every tool reads and writes.
// One JSON object per line; see pypi-mirror-records(7).
#pragma once
#include <cstdio>
#include <string>

#include <rapidjson/document.h>

namespace pm {

// Largest record line accepted by default. A resolved project record
// carries its file list, and the largest PyPI projects have tens of
// thousands of files, so this is generous but bounded.
constexpr size_t kDefaultMaxLine = 64 << 20;

class NdjsonReader {
public:
	explicit NdjsonReader(FILE *in, size_t max_line = kDefaultMaxLine) : in_(in), max_(max_line) {}
	// Reads the next record into doc. Returns false at end of input.
	// A malformed line still returns true, with error set (naming the line
	// number and the reason) and doc left null; the caller logs it and goes on.
	bool next(rapidjson::Document &doc, std::string &error);
	// The raw text of the line last read (for passing records through).
	const std::string &line() const { return line_; }
	size_t line_number() const { return lineno_; }
	// fn(arg) runs before a read that would wait for the writer (see
	// input_drained), also in the middle of a line: what the tool holds
	// for its own readers goes out before it waits for its writer.
	void before_wait(void (*fn)(void *), void *arg)
	{
		wait_fn_ = fn;
		wait_arg_ = arg;
	}

private:
	FILE *in_;
	void (*wait_fn_)(void *) = nullptr;
	void *wait_arg_ = nullptr;
	size_t max_;
	size_t lineno_ = 0;
	std::string line_;
};

// Parses one JSON object from text; on failure sets error and returns false.
bool parse_json_object(const std::string &text, rapidjson::Document &doc, std::string &error);

// Serializes v compactly.
std::string to_json(const rapidjson::Value &v);

class NdjsonWriter {
public:
	// held: records wait in out's buffer until flush() (a RecordLoop's,
	// flushed before its tool waits: record_loop.h), one write(2) for many;
	// otherwise each record is flushed, so a pipe downstream sees it at once.
	explicit NdjsonWriter(FILE *out, bool held = false) : out_(out), held_(held) {}
	// Writes one record. Returns false when the reader has gone away (EPIPE)
	// or the write failed (held: a failure may show only at a later write or
	// at flush()).
	bool write(const rapidjson::Value &v);
	bool write_raw(const std::string &line);
	bool flush() { return fflush(out_) == 0; }

private:
	FILE *out_;
	bool held_;
};

// True when a read of in would wait for its writer: nothing is left in its
// stdio buffer (glibc; elsewhere always true, which is only slower).
bool input_drained(FILE *in);

// Convenience accessors that tolerate a missing or wrongly-typed member.
const rapidjson::Value *member(const rapidjson::Value &obj, const char *name);
std::string get_string(const rapidjson::Value &obj, const char *name, const std::string &dflt = "");
long long get_int(const rapidjson::Value &obj, const char *name, long long dflt = 0);
bool get_bool(const rapidjson::Value &obj, const char *name, bool dflt = false);
void set_string(rapidjson::Document &doc, rapidjson::Value &obj, const char *name, const std::string &v);
void set_int(rapidjson::Document &doc, rapidjson::Value &obj, const char *name, long long v);
void set_bool(rapidjson::Document &doc, rapidjson::Value &obj, const char *name, bool v);

} // namespace pm
