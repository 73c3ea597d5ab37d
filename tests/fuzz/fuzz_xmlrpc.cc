// libFuzzer harness: the streaming XML-RPC response parser, fed in two
// chunks split at a point the input chooses, with and without a sink.
#include <string>

#include "xmlrpc.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1) return 0;
	size_t split = data[0] % (size);
	const char *body = reinterpret_cast<const char *>(data + 1);
	size_t n = size - 1;
	if (split > n) split = n;
	pm::xmlrpc::Limits lim;
	lim.max_text = 4096;
	lim.max_value_bytes = 1 << 16;
	for (int sink = 0; sink < 2; sink++) {
		pm::xmlrpc::ResponseParser p(lim);
		size_t items = 0;
		if (sink) {
			p.set_item_sink([&](pm::xmlrpc::Value &, std::string &) { return ++items < 1000; });
			p.set_member_sink([&](const std::string &, pm::xmlrpc::Value &, std::string &) { return ++items < 1000; });
		}
		if (p.feed(body, split) && p.feed(body + split, n - split)) p.finish();
		p.reset();
		p.feed(body, n);
	}
	return 0;
}
