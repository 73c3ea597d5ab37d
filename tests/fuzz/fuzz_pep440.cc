// libFuzzer harness: PEP 440 parsing, ordering and specifiers.
#include <cstdlib>
#include <string>

#include "pep440.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	std::string s(reinterpret_cast<const char *>(data), size);
	auto half = s.find('\n');
	std::string a = s.substr(0, half), b = half == std::string::npos ? "" : s.substr(half + 1);
	auto va = pm::pep440::parse(a);
	if (va) {
		// The canonical form parses back to an equal version.
		auto again = pm::pep440::parse(va->str());
		if (!again || pm::pep440::compare(*va, *again) != 0) abort();
		if (pm::pep440::compare(*va, *va) != 0) abort();
	}
	auto vb = pm::pep440::parse(b);
	auto sign = [](int x) { return (x > 0) - (x < 0); };
	if (va && vb && sign(pm::pep440::compare(*va, *vb)) != -sign(pm::pep440::compare(*vb, *va))) abort();
	std::string err;
	if (auto set = pm::pep440::parse_specifiers(b, &err); set && va) (void)set->contains(*va);
	(void)pm::pep440::parse_requirement(a, &err);
	return 0;
}
