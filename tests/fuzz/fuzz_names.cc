// libFuzzer harness: name normalization and the path/URL validation that
// keeps every write inside the mirror. Checks invariants, not just crashes.
#include <cstdlib>
#include <string>

#include "names.h"
#include "text.h"
#include "url_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	std::string s(reinterpret_cast<const char *>(data), size);
	std::string n = pm::normalize_name(s);
	if (pm::normalize_name(n) != n) abort(); // idempotent
	if (pm::valid_project_name(s) && n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
		abort();
	std::string why;
	if (pm::safe_filename(s, &why)) {
		if (s.find('/') != std::string::npos || s == ".." || s.find('\0') != std::string::npos) abort();
	}
	if (pm::valid_package_path(s, &why)) {
		if (s.find("..") != std::string::npos && s.find("/../") != std::string::npos) abort();
		if (s[0] == '/') abort();
	}
	std::string path;
	auto slash = s.rfind('/');
	std::string fname = slash == std::string::npos ? s : s.substr(slash + 1);
	if (pm::package_path_from_url(s, fname, path, &why)) {
		if (!pm::valid_package_path(path, &why)) abort();
	}
	std::string e = pm::html_escape(s);
	if (e.find_first_of("<>\"'") != std::string::npos) abort();
	return 0;
}
