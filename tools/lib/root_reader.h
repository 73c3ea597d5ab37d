// The one reader of a Simple API root: PEP 691 JSON
// ({"meta":{"_last-serial":N,"api-version":"1.x"},"projects":[{"name":..,
// "_last-serial":N},..]}) through RapidJSON's SAX reader, never as a DOM,
// and the PEP 503 HTML form (one <a> per project). changelog-fetch reads
// upstream's root with it as the root arrives; index_root reads the
// mirror's own index.v1_json with it.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "body_stream.h"

namespace pm {

class RootReader {
public:
	// Called per entry of "projects": its name (null when it has no name
	// string) and serial (-1 when it has none usable), and its index.
	// Returning false stops the reading there (stopped(), not an error).
	// A serial is a non-negative integer, or a string of digits (what
	// bandersnatch writes).
	std::function<bool(const std::string *name, long long serial, size_t index)> entry;
	// Stop once meta is read, if it comes before the projects and its
	// serial is at most this (-1: never stop early). PyPI sorts keys, so
	// meta comes first: an idle upstream costs only the first bytes.
	long long stop_at = -1;

	// Parses in (JSON); false with error set (a stop is a success).
	// validate_utf8: refuse bytes that are not UTF-8 (an upstream's body;
	// the mirror's own file is trusted and read faster without).
	bool parse_json(InStream &in, bool validate_utf8, std::string &error);
	// Parses in as a PEP 503 page: each <a>'s text is a project name (the
	// href is the server's business), entries get no serial. False with
	// error set on a read error or when no anchor is found at all.
	bool parse_html(InStream &in, std::string &error);

	long long meta_serial() const { return meta_serial_; }
	const std::string &api_version() const { return api_version_; }
	bool stopped() const { return stopped_; }
	size_t entries() const { return entries_; }

	struct Handler; // the SAX handler (root_reader.cc)

private:
	long long meta_serial_ = -1;
	std::string api_version_;
	bool stopped_ = false;
	size_t entries_ = 0;
};

} // namespace pm
