// Project names and the paths files take in the mirror: PEP 503
// normalization, and validation that keeps every write inside the mirror.
#pragma once
#include <string>
#include <string_view>

namespace pm {

// PEP 503: runs of "-", "_" and "." become one "-", lower-cased.
std::string normalize_name(std::string_view name);
// The same into a reused buffer: a merge of hundreds of thousands of names
// would otherwise spend its time allocating.
void normalize_name_into(std::string_view name, std::string &out);
// normalize_name(a) compared with normalize_name(b) (<0, 0, >0, as
// std::string::compare), without making either: sorting a list of
// hundreds of thousands of names needs no key per name.
int compare_normalized(std::string_view a, std::string_view b);

// A project name as PyPI accepts it (PEP 508 core name): ASCII letters and
// digits, with ".-_" inside, at most 200 characters here (our limit).
bool valid_project_name(const std::string &name);

// A file name that is safe to create in one directory: not empty, not "."
// or "..", not hidden (our temporary files are), no "/", "\", NUL or other
// control characters, at most 255 bytes. Sets why when it is not.
bool safe_filename(const std::string &name, std::string *why = nullptr);

// Validates a mirror-relative file path of the upstream shape
// "packages/xx/yy/<60 hex>/<filename>" (xx, yy hex). Sets why on failure.
bool valid_package_path(const std::string &path, std::string *why = nullptr);

} // namespace pm
