// Small text helpers every parser here needs, in ASCII only (the formats
// they read are ASCII where it matters, and the C locale's are slower and
// locale-dependent).
#pragma once
#include <string>
#include <string_view>

namespace pm {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
std::string lower(std::string_view s);
void lower_in_place(std::string &s);

// Python's ASCII whitespace (str.strip()): space, \t, \n, \r, \f, \v.
bool is_space(char c);
std::string_view trim(std::string_view s);
inline std::string trim_copy(std::string_view s) { return std::string(trim(s)); }

// The value of a hex digit, -1 for anything else.
int hexval(char c);
// %XX escapes decoded into out; false on a malformed escape.
bool percent_decode(std::string_view s, std::string &out);

// HTML and JSON-in-HTML escaping, as MarkupSafe does (& < > " ').
std::string html_escape(std::string_view s);
// The same, appended to out a run of plain characters at a time: what a page
// holds (URLs, hashes, file names) seldom needs escaping at all.
void append_html_escaped(std::string &out, std::string_view s);

} // namespace pm
