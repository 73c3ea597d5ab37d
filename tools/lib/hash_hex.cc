// is_sha256_hex() (hash.h) apart from hash.cc, which needs libcrypto: record
// parsing checks digests' shape without computing any (as url.cc is apart from url_policy.cc).
#include <cctype>

#include "hash.h"

namespace pm {

bool is_sha256_hex(const std::string &s)
{
	if (s.size() != 64) return false;
	for (unsigned char c : s)
		if (!isdigit(c) && (c < 'a' || c > 'f')) return false;
	return true;
}

} // namespace pm
