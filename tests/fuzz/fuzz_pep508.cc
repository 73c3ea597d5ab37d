// libFuzzer harness: PEP 508 requirement lines and markers, evaluated in a
// few target environments; the canonical form must parse back to the same.
#include <cstdlib>
#include <string>

#include "pep508.h"
#include "target_env.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static pm::TargetEnv envs[3];
	static bool init = [] {
		std::string err;
		return pm::parse_target_env("cp311-manylinux-x86_64", envs[0], err) &&
		       pm::parse_target_env("cp312-win-amd64", envs[1], err) &&
		       pm::parse_target_env("cp313-macos-arm64", envs[2], err);
	}();
	if (!init) abort();
	std::string s(reinterpret_cast<const char *>(data), size);
	std::string err;
	if (auto r = pm::pep508::parse_requirement(s, &err)) {
		auto again = pm::pep508::parse_requirement(r->str(), &err);
		if (!again || again->str() != r->str()) abort();
		for (auto &e : envs) {
			bool a = r->applies(e.markers, r->extras), b = again->applies(e.markers, again->extras);
			if (a != b) abort();
		}
	} else if (err.empty()) {
		abort(); // a refusal always says why
	}
	if (auto m = pm::pep508::parse_marker(s, &err)) {
		auto again = pm::pep508::parse_marker(m->str(), &err);
		if (!again || again->str() != m->str()) abort();
		for (auto &e : envs)
			if (m->evaluate(e.markers, "x") != again->evaluate(e.markers, "x")) abort();
	}
	pm::TargetEnv t;
	(void)pm::parse_target_env(s, t, err);
	return 0;
}
