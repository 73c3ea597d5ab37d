#include "ndjson.h"

#include <climits>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace pm {

bool parse_json_object(const std::string &text, rapidjson::Document &doc, std::string &error)
{
	// Iterative parsing: deeply nested hostile input cannot exhaust the stack.
	// Encoding validation: invalid UTF-8 is refused rather than passed on.
	constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
	// A Document's pool allocator never frees until it is destroyed: parse
	// into a fresh one and swap, so a reader looping over a million records
	// with one Document does not grow with the input.
	rapidjson::Document fresh;
	fresh.Parse<flags>(text.c_str(), text.size());
	doc.Swap(fresh);
	if (doc.HasParseError()) {
		error = std::string(rapidjson::GetParseError_En(doc.GetParseError())) + " at offset " +
		        std::to_string(doc.GetErrorOffset());
		doc.SetNull();
		return false;
	}
	if (!doc.IsObject()) {
		error = "record is not a JSON object";
		doc.SetNull();
		return false;
	}
	return true;
}

bool NdjsonReader::next(rapidjson::Document &doc, std::string &error)
{
	error.clear();
	for (;;) {
		line_.clear();
		int c;
		bool too_long = false, saw_any = false, has_nul = false;
		for (;;) {
			if (wait_fn_ && input_drained(in_)) wait_fn_(wait_arg_);
			if ((c = getc_unlocked(in_)) == EOF) break;
			saw_any = true;
			if (c == '\n') break;
			if (c == '\0') has_nul = true;
			// Keep one byte over the limit: it may be the CR of a CRLF ending.
			if (line_.size() > max_) {
				too_long = true;
				continue; // discard the rest of an overlong line
			}
			line_.push_back(static_cast<char>(c));
		}
		if (!saw_any) return false;
		lineno_++;
		if (!line_.empty() && line_.back() == '\r') line_.pop_back();
		if (too_long || line_.size() > max_) {
			error = "line " + std::to_string(lineno_) + ": longer than " + std::to_string(max_) + " bytes";
			doc.SetNull();
			line_.clear();
			return true;
		}
		if (has_nul) {
			error = "line " + std::to_string(lineno_) + ": contains a NUL byte";
			doc.SetNull();
			return true;
		}
		// Blank lines are allowed and skipped, so hand-written input is easy.
		if (line_.find_first_not_of(" \t") == std::string::npos) continue;
		std::string why;
		if (!parse_json_object(line_, doc, why)) {
			error = "line " + std::to_string(lineno_) + ": " + why;
			return true;
		}
		return true;
	}
}

std::string to_json(const rapidjson::Value &v)
{
	rapidjson::StringBuffer sb;
	rapidjson::Writer<rapidjson::StringBuffer> w(sb);
	v.Accept(w);
	return std::string(sb.GetString(), sb.GetSize());
}

bool NdjsonWriter::write(const rapidjson::Value &v) { return write_raw(to_json(v)); }

bool NdjsonWriter::write_raw(const std::string &line)
{
	if (fwrite(line.data(), 1, line.size(), out_) != line.size()) return false;
	if (putc('\n', out_) == EOF) return false;
	return held_ || fflush(out_) == 0;
}

bool input_drained(FILE *in)
{
#ifdef __GLIBC__
	return in->_IO_read_ptr >= in->_IO_read_end;
#else
	(void)in;
	return true;
#endif
}

const rapidjson::Value *member(const rapidjson::Value &obj, const char *name)
{
	if (!obj.IsObject()) return nullptr;
	auto it = obj.FindMember(name);
	if (it == obj.MemberEnd()) return nullptr;
	return &it->value;
}

std::string get_string(const rapidjson::Value &obj, const char *name, const std::string &dflt)
{
	auto *m = member(obj, name);
	if (!m || !m->IsString()) return dflt;
	return std::string(m->GetString(), m->GetStringLength());
}

long long get_int(const rapidjson::Value &obj, const char *name, long long dflt)
{
	auto *m = member(obj, name);
	if (!m) return dflt;
	if (m->IsInt64()) return m->GetInt64();
	if (m->IsUint64()) return dflt; // out of range: treat as absent
	// bandersnatch writes a per-project _last-serial as a string; accept digits.
	if (m->IsString()) {
		const char *s = m->GetString();
		if (!*s) return dflt;
		long long v = 0;
		for (; *s; s++) {
			if (*s < '0' || *s > '9') return dflt;
			int d = *s - '0';
			if (v > (LLONG_MAX - d) / 10) return dflt; // out of range: treat as absent
			v = v * 10 + d;
		}
		return v;
	}
	return dflt;
}

bool get_bool(const rapidjson::Value &obj, const char *name, bool dflt)
{
	auto *m = member(obj, name);
	if (!m || !m->IsBool()) return dflt;
	return m->GetBool();
}

static void set_value(rapidjson::Document &doc, rapidjson::Value &obj, const char *name, rapidjson::Value &&v)
{
	auto it = obj.FindMember(name);
	if (it != obj.MemberEnd())
		it->value = std::move(v);
	else
		obj.AddMember(rapidjson::Value(name, doc.GetAllocator()), std::move(v), doc.GetAllocator());
}

void set_string(rapidjson::Document &doc, rapidjson::Value &obj, const char *name, const std::string &v)
{
	set_value(doc, obj, name, rapidjson::Value(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), doc.GetAllocator()));
}

void set_int(rapidjson::Document &doc, rapidjson::Value &obj, const char *name, long long v)
{
	set_value(doc, obj, name, rapidjson::Value(static_cast<int64_t>(v)));
}

void set_bool(rapidjson::Document &doc, rapidjson::Value &obj, const char *name, bool v)
{
	set_value(doc, obj, name, rapidjson::Value(v));
}

} // namespace pm
