#include "names.h"

#include <cctype>

#include "http.h"

namespace pm {

std::string normalize_name(const std::string &name)
{
	std::string out;
	out.reserve(name.size());
	bool sep = false;
	for (unsigned char c : name) {
		if (c == '-' || c == '_' || c == '.') {
			sep = true;
			continue;
		}
		if (sep && !out.empty()) out.push_back('-');
		if (sep && out.empty()) out.push_back('-');
		sep = false;
		out.push_back(static_cast<char>(tolower(c)));
	}
	if (sep) out.push_back('-');
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

bool package_path_from_url(const std::string &url, const std::string &filename, std::string &path,
                           std::string *why)
{
	UrlParts u;
	std::string err;
	if (!parse_url(url, u, &err)) {
		if (why) *why = err;
		return false;
	}
	if (u.scheme != "https" && u.scheme != "http") {
		if (why) *why = "URL scheme " + u.scheme + " is not http(s)";
		return false;
	}
	// An encoded "/" would make decoded segments that upstream does not have
	// (".../<hash>%2Ffile" is one segment there, two here): refuse it.
	for (size_t i = 0; i + 2 < u.raw_path.size(); i++) {
		if (u.raw_path[i] == '%' && u.raw_path[i + 1] == '2' && (u.raw_path[i + 2] == 'F' || u.raw_path[i + 2] == 'f')) {
			if (why) *why = "URL path contains an encoded slash: " + u.raw_path;
			return false;
		}
	}
	// Only the decoded path counts: "%2e%2e" is ".." by then, and refused.
	auto pos = u.path.rfind("/packages/");
	// The packages part must be the last 5 segments; find it by counting.
	size_t cut = std::string::npos;
	int slashes = 0;
	for (size_t i = u.path.size(); i-- > 0;) {
		if (u.path[i] == '/' && ++slashes == 5) {
			cut = i;
			break;
		}
	}
	if (cut == std::string::npos || pos == std::string::npos || cut != pos) {
		if (why) *why = "URL path is not /packages/xx/yy/<hash>/<file>: " + u.path;
		return false;
	}
	path = u.path.substr(cut + 1);
	if (!valid_package_path(path, why)) return false;
	if (path.substr(path.rfind('/') + 1) != filename) {
		if (why) *why = "URL names a different file than " + filename;
		return false;
	}
	return true;
}

std::string html_escape(const std::string &s)
{
	std::string out;
	out.reserve(s.size());
	for (char c : s) {
		switch (c) {
		case '&': out += "&amp;"; break;
		case '<': out += "&lt;"; break;
		case '>': out += "&gt;"; break;
		case '"': out += "&#34;"; break;
		case '\'': out += "&#39;"; break;
		default: out.push_back(c);
		}
	}
	return out;
}

} // namespace pm
