// RecordLoop::ready_for, apart from record_loop.cc so that a tool reading
// records without driving transfers does not link the HTTP code.
#include <poll.h>

#include "http.h"
#include "record_loop.h"

namespace pm {

bool RecordLoop::ready_for(Http &http)
{
	if (eof_ || broken_ || http.pending() == 0 || !input_drained(in_file_)) return true;
	pollfd p{fileno(in_file_), POLLIN, 0};
	if (poll(&p, 1, 0) != 0) return true; // a line, the end or an error: next() tells which
	http.wake_on_input(p.fd);
	return false;
}

} // namespace pm
