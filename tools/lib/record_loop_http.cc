// RecordLoop::ready_for, apart from record_loop.cc so that a tool reading
// records without driving transfers does not link the HTTP code.
#include "http.h"
#include "record_loop.h"

namespace pm {

bool RecordLoop::ready_for(Http &http)
{
	if (http.pending() == 0 || ready()) return true;
	http.wake_on_input(fileno(in_file_));
	return false;
}

} // namespace pm
