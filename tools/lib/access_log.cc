#include "access_log.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "names.h"

namespace pm {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil): timegm() without the time zone machinery.
long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const long long era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = static_cast<unsigned>(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool ends_with_ci(std::string_view s, std::string_view suf)
{
	if (s.size() < suf.size()) return false;
	for (size_t i = 0; i < suf.size(); i++) {
		char c = s[s.size() - suf.size() + i];
		if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
		if (c != suf[i]) return false;
	}
	return true;
}

} // namespace

long long parse_log_time(std::string_view s)
{
	// dd/Mon/yyyy:HH:MM:SS +zzzz
	if (s.size() != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
	    s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
		return -1;
	for (size_t i : {0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25})
		if (!digit(s[i])) return -1;
	auto num = [&](size_t at, size_t n) {
		int v = 0;
		for (size_t i = 0; i < n; i++) v = v * 10 + (s[at + i] - '0');
		return v;
	};
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int mon = 0;
	for (int i = 0; i < 12; i++)
		if (s.compare(3, 3, std::string_view(months + 3 * i, 3)) == 0) mon = i + 1;
	int day = num(0, 2), year = num(7, 4), hh = num(12, 2), mm = num(15, 2), ss = num(18, 2);
	int zh = num(22, 2), zm = num(24, 2);
	if (!mon || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59) return -1;
	long long t = days_from_civil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day)) * 86400 + hh * 3600 +
	              mm * 60 + ss;
	long long off = zh * 3600 + zm * 60;
	return s[21] == '+' ? t - off : t + off;
}

bool parse_access_line(std::string_view line, AccessLine &out, const char **why)
{
	auto fail = [&](const char *w) {
		if (why) *why = w;
		return false;
	};
	out = AccessLine{};
	size_t open = line.find(" [");
	if (open == std::string_view::npos) return fail("no [time] field");
	size_t t0 = open + 2;
	if (line.size() < t0 + 26 || line.compare(t0 + 26, 3, "] \"") != 0) return fail("no [time] field");
	// Consecutive lines mostly share their second: parse each one once.
	thread_local char last_text[26];
	thread_local long long last_time = -1;
	std::string_view ts = line.substr(t0, 26);
	if (last_time >= 0 && ts == std::string_view(last_text, 26)) {
		out.time = last_time;
	} else {
		out.time = parse_log_time(ts);
		if (out.time >= 0) {
			memcpy(last_text, ts.data(), 26);
			last_time = out.time;
		}
	}
	if (out.time < 0) return fail("the time does not parse");
	size_t r0 = t0 + 29;
	// nginx writes a '"' inside the request as \x22: the next quote ends it.
	size_t r1 = line.find('"', r0);
	if (r1 == std::string_view::npos) return fail("the request field is not closed");
	std::string_view req = line.substr(r0, r1 - r0);
	size_t s0 = r1 + 1;
	if (line.size() < s0 + 4 || line[s0] != ' ' || !digit(line[s0 + 1]) || !digit(line[s0 + 2]) ||
	    !digit(line[s0 + 3]) || (line.size() > s0 + 4 && line[s0 + 4] != ' '))
		return fail("no status after the request");
	out.status = (line[s0 + 1] - '0') * 100 + (line[s0 + 2] - '0') * 10 + (line[s0 + 3] - '0');
	if (out.status < 100 || out.status > 599) return fail("status out of range");
	// METHOD SP TARGET [SP HTTP/x.y]; anything else ("-", the bytes of a TLS
	// handshake sent to a plain port) is a request of no project.
	size_t sp = req.find(' ');
	if (sp == std::string_view::npos || sp == 0) return true;
	std::string_view method = req.substr(0, sp), target = req.substr(sp + 1);
	for (char c : method)
		if (c < 'A' || c > 'Z') return true;
	size_t last = target.rfind(' ');
	if (last != std::string_view::npos && target.compare(last + 1, 5, "HTTP/") == 0) target = target.substr(0, last);
	if (target.empty()) return true;
	out.method = method;
	out.target = target;
	return true;
}

bool demand_status(int status)
{
	return (status >= 200 && status < 400) || status == 404 || status == 410;
}

bool project_from_filename(std::string_view filename, std::string &name)
{
	std::string_view f = filename;
	if (ends_with_ci(f, ".metadata")) f.remove_suffix(9);
	std::string_view stem;
	if (ends_with_ci(f, ".whl") || ends_with_ci(f, ".egg")) {
		size_t dash = f.find('-');
		if (dash == std::string_view::npos || dash == 0) return false;
		stem = f.substr(0, dash);
	} else {
		static const char *exts[] = {".tar.gz", ".tar.bz2", ".tar.xz", ".tar.z", ".tgz", ".tbz2",
		                             ".tbz",    ".zip",     ".tar",    ".exe",   ".msi", ".rpm"};
		bool known = false;
		for (const char *e : exts)
			if (ends_with_ci(f, e)) {
				f.remove_suffix(strlen(e));
				known = true;
				break;
			}
		if (!known) return false;
		size_t cut = std::string_view::npos;
		for (size_t i = 1; i + 1 < f.size(); i++) {
			if (f[i] != '-') continue;
			if (digit(f[i + 1]) || ((f[i + 1] == 'v' || f[i + 1] == 'V') && i + 2 < f.size() && digit(f[i + 2]))) {
				cut = i;
				break;
			}
		}
		if (cut == std::string_view::npos) return false;
		stem = f.substr(0, cut);
	}
	std::string s(stem);
	if (!valid_project_name(s)) return false;
	name = normalize_name(s);
	return true;
}

Ask project_from_target(std::string_view target, std::string &name, std::string *why)
{
	auto hostile = [&](const char *w) {
		if (why) *why = w;
		return Ask::Hostile;
	};
	name.clear();
	if (target.size() > 8192) return hostile("request target longer than 8 KiB");
	// nginx's log escaping first: \xHH for '"', '\' and bytes outside 0x20..0x7e.
	// (Buffers kept from call to call: this runs for every line of a log.)
	thread_local std::string raw, dec;
	thread_local std::vector<std::string_view> seg;
	raw.clear();
	dec.clear();
	seg.clear();
	for (size_t i = 0; i < target.size(); i++) {
		if (target[i] != '\\') {
			raw += target[i];
			continue;
		}
		if (i + 3 >= target.size() || target[i + 1] != 'x' || hexval(target[i + 2]) < 0 || hexval(target[i + 3]) < 0)
			return hostile("a backslash that is not nginx's \\xHH escape");
		raw += static_cast<char>(hexval(target[i + 2]) * 16 + hexval(target[i + 3]));
		i += 3;
	}
	std::string_view path = raw;
	// Absolute form (a request sent as to a proxy): keep the path.
	if (ends_with_ci(path.substr(0, std::min<size_t>(path.size(), 7)), "http://") ||
	    ends_with_ci(path.substr(0, std::min<size_t>(path.size(), 8)), "https://")) {
		size_t host = path.find("://") + 3;
		size_t slash = path.find('/', host);
		path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
	}
	if (path.empty() || path[0] != '/') return Ask::None; // "*", garbage: no path at all
	size_t q = path.find_first_of("?#");
	if (q != std::string_view::npos) path = path.substr(0, q);
	for (size_t i = 0; i < path.size(); i++) {
		if (path[i] != '%') {
			dec += path[i];
			continue;
		}
		if (i + 2 >= path.size() || hexval(path[i + 1]) < 0 || hexval(path[i + 2]) < 0)
			return hostile("a bad percent escape");
		dec += static_cast<char>(hexval(path[i + 1]) * 16 + hexval(path[i + 2]));
		i += 2;
	}
	for (unsigned char c : dec)
		if (c < 0x20 || c == 0x7f) return hostile("a NUL or control byte in the path");
	std::string_view d = dec;
	for (size_t i = 0; i < d.size();) {
		size_t j = d.find('/', i);
		if (j == std::string_view::npos) j = d.size();
		if (j > i) seg.push_back(d.substr(i, j - i));
		i = j + 1;
	}
	for (auto s : seg)
		if (s == "." || s == "..") return hostile("a . or .. segment in the path");
	if (seg.empty()) return Ask::None;
	std::string_view cand;
	bool is_file = false;
	if (seg[0] == "simple") {
		if (seg.size() == 2 ||
		    (seg.size() == 3 && (seg[2] == "index.html" || seg[2] == "index.v1_html" || seg[2] == "index.v1_json")))
			cand = seg[1];
	} else if (seg[0] == "pypi") {
		if ((seg.size() == 3 && seg[2] == "json") || (seg.size() == 4 && seg[3] == "json")) cand = seg[1];
	} else if (seg[0] == "json") {
		if (seg.size() == 2) cand = seg[1];
	} else if (seg[0] == "packages" && seg.size() >= 2) {
		cand = seg.back();
		is_file = true;
	}
	if (cand.empty()) return Ask::None;
	for (unsigned char c : cand)
		if (c >= 0x80) return hostile("a byte outside ASCII in the name");
	if (is_file) {
		std::string why_file;
		if (!safe_filename(std::string(cand), &why_file)) return hostile("not a file name");
		if (project_from_filename(cand, name)) return Ask::Project;
		// Not a distribution's name: robots.txt, a directory listing. A file
		// with a distribution's extension whose name is no project name is hostile.
		for (const char *e : {".whl", ".egg", ".tar.gz", ".zip", ".tar.bz2", ".metadata"})
			if (ends_with_ci(cand, e)) return hostile("the file name names no project");
		return Ask::None;
	}
	std::string n(cand);
	if (!valid_project_name(n)) return hostile("not a project name");
	name = normalize_name(n);
	return Ask::Project;
}

long long parse_duration(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
	if (s.empty() || !digit(s[0])) return -1;
	long long unit = 1;
	switch (s.back()) {
	case 's': unit = 1; s.remove_suffix(1); break;
	case 'm': unit = 60; s.remove_suffix(1); break;
	case 'h': unit = 3600; s.remove_suffix(1); break;
	case 'd': unit = 86400; s.remove_suffix(1); break;
	case 'w': unit = 7 * 86400; s.remove_suffix(1); break;
	default: break;
	}
	if (s.empty() || s.size() > 12) return -1;
	long long n = 0;
	for (char c : s) {
		if (!digit(c)) return -1;
		n = n * 10 + (c - '0');
	}
	const long long max = 100LL * 366 * 86400;
	if (n > max / unit) return -1;
	return n * unit;
}

std::string format_duration(long long s)
{
	if (s > 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
	if (s > 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
	if (s > 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
	return std::to_string(s) + "s";
}

} // namespace pm
