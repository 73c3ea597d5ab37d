// The URL helpers of http.h that are plain string work. They live apart
// from http.cc so that a tool which never talks HTTP (index-write writes
// pages with url_escape) does not link libcurl: loading it and the dozens of
// libraries it pulls in costs tens of milliseconds at every start.
#include <cctype>

#include "http.h"

namespace pm {

std::string url_join(const std::string &base, const std::string &path)
{
	std::string b = base;
	while (!b.empty() && b.back() == '/') b.pop_back();
	if (path.empty() || path[0] != '/') return b + "/" + path;
	return b + path;
}

std::string url_escape(const std::string &s)
{
	static const char hex[] = "0123456789ABCDEF";
	std::string out;
	for (unsigned char c : s) {
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '!')
			out.push_back(static_cast<char>(c));
		else {
			out.push_back('%');
			out.push_back(hex[c >> 4]);
			out.push_back(hex[c & 15]);
		}
	}
	return out;
}

} // namespace pm
