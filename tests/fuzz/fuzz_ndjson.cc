// libFuzzer harness: the NDJSON reader and the record validator on
// arbitrary bytes. Must never crash, hang or leak, whatever the input.
#include <cstdio>
#include <string>

#include "ndjson.h"
#include "record.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	FILE *f = fmemopen(const_cast<unsigned char *>(data), size, "r");
	if (!f) return 0;
	pm::NdjsonReader in(f, 4096);
	rapidjson::Document doc;
	std::string err;
	while (in.next(doc, err)) {
		if (!err.empty()) continue;
		pm::ProjectRecord r;
		if (pm::parse_record(doc, r, err)) {
			for (auto &file : r.files) {
				rapidjson::Document out(rapidjson::kObjectType);
				rapidjson::Value v;
				pm::file_to_json(file, v, out.GetAllocator());
				(void)pm::to_json(v);
			}
		}
	}
	fclose(f);
	return 0;
}
