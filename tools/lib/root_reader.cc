#include "root_reader.h"

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace pm {

namespace {

// A serial given as a string of digits (bandersnatch's); -1 otherwise.
long long digits_serial(const char *s, size_t n)
{
	if (n == 0 || n > 18) return -1;
	long long x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') return -1;
		x = x * 10 + (s[i] - '0');
	}
	return x;
}

} // namespace

// Only the bits used are looked at; unknown keys and values are skipped,
// whatever their depth.
struct RootReader::Handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
	RootReader &r;
	InStream &in;
	explicit Handler(RootReader &rr, InStream &i) : r(rr), in(i) {}
	std::string error;
	bool saw_projects = false;

	std::vector<char> kinds;       // 'o' object, 'a' array, outermost first
	std::vector<std::string> keys; // the last key at each object level
	bool in_entry = false;
	bool entry_has_name = false;
	std::string entry_name;
	long long entry_serial = -1;

	// Every event marks progress on the stream, so only one string or one
	// gap between values counts against its gap limit.
	void touch() { in.mark(); }
	bool at(size_t depth, const char *k0, const char *k1 = nullptr) const
	{
		if (kinds.size() != depth || kinds[0] != 'o' || keys[0] != k0) return false;
		return !k1 || (kinds.size() >= 2 && kinds[1] == 'o' && keys[1] == k1);
	}
	bool entry_field(const char *k) const { return in_entry && kinds.size() == 3 && keys[2] == k; }
	bool integer(long long v, bool ok)
	{
		touch();
		if (at(2, "meta", "_last-serial")) r.meta_serial_ = ok ? v : -1;
		else if (entry_field("_last-serial")) entry_serial = ok ? v : -1;
		return true;
	}
	bool Default()
	{
		touch();
		if (entry_field("_last-serial")) entry_serial = -1;
		if (entry_field("name")) entry_has_name = false;
		return true;
	}
	bool Int(int i) { return integer(i, i >= 0); }
	bool Uint(unsigned u) { return integer(u, true); }
	bool Int64(int64_t i) { return integer(i, i >= 0); }
	bool Uint64(uint64_t u) { return integer(static_cast<long long>(u), u < (1ull << 62)); }
	bool String(const char *s, rapidjson::SizeType n, bool)
	{
		touch();
		if (entry_field("name")) {
			entry_name.assign(s, n);
			entry_has_name = true;
		} else if (entry_field("_last-serial")) {
			entry_serial = digits_serial(s, n);
		} else if (at(2, "meta", "_last-serial")) {
			r.meta_serial_ = digits_serial(s, n);
		} else if (at(2, "meta", "api-version")) {
			r.api_version_.assign(s, n);
		}
		return true;
	}
	bool Key(const char *s, rapidjson::SizeType n, bool)
	{
		touch();
		keys.back().assign(s, n);
		return true;
	}
	bool StartObject()
	{
		touch();
		if (kinds.size() == 2 && kinds[1] == 'a' && keys[0] == "projects") {
			in_entry = true;
			entry_has_name = false;
			entry_name.clear();
			entry_serial = -1;
		}
		kinds.push_back('o');
		keys.emplace_back();
		return true;
	}
	bool emit(const std::string *name, long long serial)
	{
		if (!r.entry || r.entry(name, serial, r.entries_++)) return true;
		r.stopped_ = true;
		return false;
	}
	bool EndObject(rapidjson::SizeType)
	{
		touch();
		kinds.pop_back();
		keys.pop_back();
		if (in_entry && kinds.size() == 2) {
			in_entry = false;
			if (!emit(entry_has_name ? &entry_name : nullptr, entry_serial)) return false;
		}
		// meta just ended, before the projects: when its serial says
		// nothing can have changed, the listing is not read at all.
		if (kinds.size() == 1 && keys[0] == "meta" && !saw_projects && r.meta_serial_ >= 0 &&
		    r.meta_serial_ <= r.stop_at) {
			r.stopped_ = true;
			return false;
		}
		return true;
	}
	bool StartArray()
	{
		touch();
		if (kinds.empty()) {
			error = "the root is not a JSON object";
			return false;
		}
		if (at(1, "projects")) saw_projects = true;
		else if (kinds.size() == 2 && kinds[1] == 'a' && keys[0] == "projects" && !emit(nullptr, -1))
			return false; // an entry that is not an object
		kinds.push_back('a');
		keys.emplace_back();
		return true;
	}
	bool EndArray(rapidjson::SizeType)
	{
		touch();
		kinds.pop_back();
		keys.pop_back();
		return true;
	}
};

bool RootReader::parse_json(InStream &in, bool validate_utf8, std::string &error)
{
	meta_serial_ = -1;
	api_version_.clear();
	stopped_ = false;
	entries_ = 0;
	Handler h(*this, in);
	rapidjson::Reader reader;
	rapidjson::ParseResult ok =
	    validate_utf8 ? reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(in, h)
	                  : reader.Parse<rapidjson::kParseIterativeFlag>(in, h);
	if (stopped_) return true;
	if (!in.error().empty()) {
		error = in.error();
		return false;
	}
	if (!ok) {
		error = !h.error.empty() ? h.error
		                         : std::string(rapidjson::GetParseError_En(ok.Code())) + " at offset " +
		                               std::to_string(ok.Offset());
		return false;
	}
	if (!in.at_end()) {
		error = "a NUL byte at offset " + std::to_string(in.Tell());
		return false;
	}
	if (!h.saw_projects) {
		error = "no \"projects\" array";
		return false;
	}
	return true;
}

bool RootReader::parse_html(InStream &in, std::string &error)
{
	meta_serial_ = -1;
	api_version_.clear();
	stopped_ = false;
	entries_ = 0;
	std::string tag, text;
	bool anchors = false;
	auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
	for (;;) {
		char c = in.Take();
		if (c == '\0') break;
		if (c != '<') continue;
		tag.clear();
		while ((c = in.Peek()) != '\0' && c != '>' && !space(c) && tag.size() < 16)
			tag += static_cast<char>(tolower(static_cast<unsigned char>(in.Take())));
		while ((c = in.Take()) != '\0' && c != '>') {
		}
		in.mark();
		if (tag != "a") continue;
		// The text up to the next tag; a project name is at most 200 bytes,
		// so a longer text is not one (and is not held).
		text.clear();
		while ((c = in.Peek()) != '\0' && c != '<') {
			in.Take();
			if (text.size() <= 256) text += c;
		}
		in.mark();
		size_t b = 0, e = text.size();
		while (b < e && space(text[b])) b++;
		while (e > b && space(text[e - 1])) e--;
		std::string name = text.substr(b, e - b);
		anchors = true;
		if (entry && !entry(name.empty() || text.size() > 256 ? nullptr : &name, -1, entries_++)) {
			stopped_ = true;
			return true;
		}
		entries_ += entry ? 0 : 1;
	}
	if (!in.error().empty()) {
		error = in.error();
		return false;
	}
	if (!anchors) {
		error = "no project links in the HTML root";
		return false;
	}
	return true;
}

} // namespace pm
