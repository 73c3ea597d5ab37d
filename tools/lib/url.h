// URL text: joining and escaping, plain string work. Apart from
// url_policy.h (libcurl's URL parser) so that a tool which never talks HTTP
// (index-write writes pages with url_escape) does not link libcurl: loading
// it and the dozens of libraries it pulls in costs tens of milliseconds at
// every start.
#pragma once
#include <string>

namespace pm {

// Joins a base URL ("https://pypi.org/") and a path ("/pypi/x/json").
std::string url_join(const std::string &base, const std::string &path);
// Percent-encodes a path segment (project names, filenames).
std::string url_escape(const std::string &s);

} // namespace pm
