#include "verify_check.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <vector>

#include "names.h"
#include "text.h"

namespace pm {

bool page_link_path(const std::string &url, const std::string &filename, std::string &path, std::string *why)
{
	auto fail = [&](const std::string &w) {
		if (why) *why = w;
		return false;
	};
	std::string_view u(url);
	u = u.substr(0, u.find('#'));
	if (u.find('?') != std::string_view::npos) return fail("link has a query string");
	if (u.empty()) return fail("empty link");
	bool relative = true;
	if (u.rfind("https://", 0) == 0 || u.rfind("http://", 0) == 0) {
		size_t host = u.find("//") + 2, slash = u.find('/', host);
		if (slash == std::string_view::npos) return fail("link has no path");
		u = u.substr(slash);
		relative = false;
	} else if (u.find(':') != std::string_view::npos && u.find(':') < u.find('/')) {
		return fail("link has a scheme other than http(s)");
	}
	if (u[0] == '/') relative = false;
	std::vector<std::string> segs;
	size_t start = relative ? 0 : 1;
	int ups = 0;
	bool down = false; // past the leading "../" run
	for (;;) {
		size_t slash = u.find('/', start);
		std::string_view raw = u.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
		std::string seg;
		if (!percent_decode(raw, seg)) return fail("link has a bad %-escape");
		if (seg.find('/') != std::string::npos || seg.find('\0') != std::string::npos)
			return fail("link has an escaped '/' or NUL");
		if (seg == "..") {
			if (!relative || down) return fail("link has '..' that does not lead out of the page directory");
			if (++ups > 2) return fail("link leads outside the mirror's web/ directory");
		} else if (seg == "." || seg.empty()) {
			return fail("link has an empty or '.' segment");
		} else {
			down = true;
			segs.push_back(std::move(seg));
		}
		if (slash == std::string_view::npos) break;
		start = slash + 1;
	}
	if (relative && ups != 2) return fail("relative link does not lead from the page to packages/");
	if (segs.size() < 5 || (relative && segs.size() != 5)) return fail("link does not lead to packages/xx/yy/<hash>/<file>");
	std::string p;
	for (size_t i = segs.size() - 5; i < segs.size(); i++) p += (p.empty() ? "" : "/") + segs[i];
	std::string w;
	if (!valid_package_path(p, &w)) return fail("link does not lead into packages/: " + w);
	if (segs.back() != filename) return fail("link's file name is not the file's name");
	path = std::move(p);
	return true;
}

bool parse_temp_name(std::string_view name, long &pid, std::string *target)
{
	// .<target>.<pid>.<8 hex>.tmp
	if (name.size() < 1 + 1 + 1 + 1 + 1 + 8 + 4 || name[0] != '.') return false;
	if (name.substr(name.size() - 4) != ".tmp") return false;
	std::string_view rest = name.substr(0, name.size() - 4);
	size_t dot = rest.rfind('.');
	if (dot == std::string_view::npos || rest.size() - dot - 1 != 8) return false;
	for (char c : rest.substr(dot + 1))
		if (hexval(c) < 0) return false;
	rest = rest.substr(0, dot);
	dot = rest.rfind('.');
	if (dot == std::string_view::npos || dot + 1 >= rest.size() || rest.size() - dot - 1 > 9) return false;
	long p = 0;
	for (char c : rest.substr(dot + 1)) {
		if (c < '0' || c > '9') return false;
		p = p * 10 + (c - '0');
	}
	if (dot < 2) return false; // ".<target>" with a non-empty target
	pid = p;
	if (target) target->assign(rest.substr(1, dot - 1));
	return true;
}

bool pid_alive(long pid)
{
	if (pid <= 0) return false;
	return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string printable_path(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	auto esc = [&](unsigned char c) {
		char b[8];
		snprintf(b, sizeof b, "\\x%02x", c);
		out += b;
	};
	for (size_t i = 0; i < s.size();) {
		unsigned char c = static_cast<unsigned char>(s[i]);
		if (c == '\\') { // escaped itself, so \xNN in the output is never ambiguous
			out += "\\\\";
			i++;
			continue;
		}
		if (c >= 0x20 && c < 0x7f) {
			out.push_back(static_cast<char>(c));
			i++;
			continue;
		}
		// A well-formed UTF-8 sequence (no overlongs, no surrogates) is kept.
		size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		bool ok = n > 0 && i + n <= s.size();
		for (size_t k = 1; ok && k < n; k++)
			if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) ok = false;
		if (ok && n == 3) {
			unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
			if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) ok = false;
		}
		if (ok && n == 4) {
			unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
			if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90)) ok = false;
		}
		if (!ok) {
			esc(c);
			i++;
			continue;
		}
		out.append(s.substr(i, n));
		i += n;
	}
	return out;
}

} // namespace pm
