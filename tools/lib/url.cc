#include "url.h"

#include <cctype>

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
