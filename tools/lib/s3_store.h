// The mirror's layout in an S3 bucket: the Layout's paths, relative to the
// mirror directory, are the object keys under the configured prefix
// (DIR/web/packages/xx/... is PREFIX/web/packages/xx/...), so a mirror made
// on a filesystem and one made in a bucket hold the same names.
//
// What the tools need of the store beyond single requests (which they run on
// their own pm::Http, concurrently): a reachability and credentials check,
// and the project journals (Layout's DIR/.unlisted/NAME) kept as objects.
#pragma once
#include <string>
#include <vector>

#include "http.h"
#include "layout.h"
#include "s3.h"

namespace pm {

class S3Store {
public:
	// layout: Layout(cfg.location()), so its paths map back to keys.
	explicit S3Store(S3Config cfg);
	const S3Config &config() const { return cfg_; }
	const Layout &layout() const { return layout_; }
	// The key of a path the layout made.
	std::string key(const std::string &path) const { return cfg_.key(layout_.relative(path)); }

	// Lists one key of the bucket: false with why (unreachable endpoint,
	// refused credentials, missing bucket) when the mirror cannot be used.
	bool check(std::string &why);

	// add_to_unlisted() for a bucket: the journal object gains paths (one a
	// line); a PUT replaces it whole, so a reader never sees half of it.
	bool add_to_unlisted(const std::string &name, const std::vector<std::string> &paths, std::string *error);

	// The time an object's upload happened, as x-amz-meta-uploaded-at
	// carries it (ISO 8601, bandersnatch's metadata name).
	static std::string iso8601(long long t);

private:
	S3Config cfg_;
	Layout layout_;
	Http http_; // blocking requests only
};

} // namespace pm
