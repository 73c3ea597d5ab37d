#include "text.h"

namespace pm {

std::string lower(std::string_view s)
{
	std::string out(s);
	lower_in_place(out);
	return out;
}

void lower_in_place(std::string &s)
{
	for (auto &c : s) c = ascii_lower(c);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s)
{
	while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
	while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
	return s;
}

int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

void append_html_escaped(std::string &out, std::string_view s)
{
	static constexpr std::string_view special = "&<>\"'";
	size_t pos = 0;
	for (;;) {
		size_t hit = s.find_first_of(special, pos);
		out.append(s.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
		if (hit == std::string_view::npos) return;
		switch (s[hit]) {
		case '&': out += "&amp;"; break;
		case '<': out += "&lt;"; break;
		case '>': out += "&gt;"; break;
		case '"': out += "&#34;"; break;
		default: out += "&#39;"; break;
		}
		pos = hit + 1;
	}
}

std::string html_escape(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	append_html_escaped(out, s);
	return out;
}

bool percent_decode(std::string_view s, std::string &out)
{
	out.clear();
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] != '%') {
			out.push_back(s[i]);
			continue;
		}
		if (i + 2 >= s.size()) return false;
		int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
		if (h < 0 || l < 0) return false;
		out.push_back(static_cast<char>(h * 16 + l));
		i += 2;
	}
	return true;
}

} // namespace pm
