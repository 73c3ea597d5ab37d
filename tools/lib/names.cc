#include "names.h"

#include <cctype>

#include "text.h"

namespace pm {

void normalize_name_into(std::string_view name, std::string &out)
{
	out.clear();
	bool sep = false;
	for (char c : name) {
		if (c == '-' || c == '_' || c == '.') {
			sep = true;
			continue;
		}
		if (sep) out.push_back('-');
		sep = false;
		out.push_back(ascii_lower(c));
	}
	if (sep) out.push_back('-');
}

namespace {
// The bytes normalize_name_into() would write, one at a time.
struct NormalizedChars {
	std::string_view s;
	size_t i = 0;
	bool next(char &c)
	{
		if (i >= s.size()) return false;
		auto sep = [](char x) { return x == '-' || x == '_' || x == '.'; };
		if (sep(s[i])) {
			while (i < s.size() && sep(s[i])) i++;
			c = '-';
			return true;
		}
		c = ascii_lower(s[i++]);
		return true;
	}
};
} // namespace

int compare_normalized(std::string_view a, std::string_view b)
{
	NormalizedChars x{a}, y{b};
	for (;;) {
		char ca = 0, cb = 0;
		bool ha = x.next(ca), hb = y.next(cb);
		if (!ha || !hb) return ha == hb ? 0 : ha ? 1 : -1;
		// As std::string compares: bytes as unsigned.
		if (ca != cb) return static_cast<unsigned char>(ca) < static_cast<unsigned char>(cb) ? -1 : 1;
	}
}

std::string normalize_name(std::string_view name)
{
	std::string out;
	out.reserve(name.size());
	normalize_name_into(name, out);
	return out;
}

bool valid_project_name(const std::string &name)
{
	if (name.empty() || name.size() > 200) return false;
	auto alnum = [](unsigned char c) { return c < 0x80 && isalnum(c); };
	if (!alnum(name.front()) || !alnum(name.back())) return false;
	for (unsigned char c : name)
		if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
	return true;
}

bool safe_filename(const std::string &name, std::string *why)
{
	auto fail = [&](const char *w) {
		if (why) *why = w;
		return false;
	};
	if (name.empty()) return fail("empty file name");
	if (name.size() > 255) return fail("file name longer than 255 bytes");
	if (name == "." || name == "..") return fail("file name is a directory reference");
	if (name[0] == '.') return fail("file name starts with a dot");
	for (unsigned char c : name) {
		if (c == 0) return fail("file name contains NUL");
		if (c == '/' || c == '\\') return fail("file name contains a path separator");
		if (c < 0x20 || c == 0x7f) return fail("file name contains a control character");
	}
	return true;
}

static bool is_hex(const std::string &s, size_t n)
{
	if (s.size() != n) return false;
	for (unsigned char c : s)
		if (!isdigit(c) && (c < 'a' || c > 'f')) return false;
	return true;
}

bool valid_package_path(const std::string &path, std::string *why)
{
	auto fail = [&](const std::string &w) {
		if (why) *why = w;
		return false;
	};
	if (path.find('\0') != std::string::npos) return fail("path contains NUL");
	// Exactly five segments: packages / xx / yy / hash / filename.
	std::string seg[6];
	size_t n = 0, start = 0;
	for (;;) {
		size_t slash = path.find('/', start);
		if (n == 5) return fail("path has too many segments: " + path);
		seg[n++] = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
		if (slash == std::string::npos) break;
		start = slash + 1;
	}
	if (n != 5 || seg[0] != "packages") return fail("path is not packages/xx/yy/<hash>/<file>: " + path);
	if (!is_hex(seg[1], 2) || !is_hex(seg[2], 2) || !is_hex(seg[3], 60))
		return fail("path is not packages/xx/yy/<hash>/<file>: " + path);
	std::string w;
	if (!safe_filename(seg[4], &w)) return fail(w);
	return true;
}

} // namespace pm
