#include "record_loop.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <csignal>
#include <cstring>
#include <poll.h>

#include "cli.h"
#include "log.h"
#include "names.h"

namespace pm {

RecordLoop::RecordLoop(const char *prog, std::initializer_list<const char *> acts_on, FILE *in, FILE *out)
    : prog_(prog), acts_on_(acts_on.begin(), acts_on.end()), in_(in), out_(out, true), in_file_(in)
{
	// Records are a few KiB each: read them in bigger gulps than stdio's 4 KiB.
	static char inbuf[1 << 16];
	if (in == stdin) setvbuf(in, inbuf, _IOFBF, sizeof inbuf);
	// And written the same way: the records emitted in a turn wait in this
	// buffer and go out in one write(2) (the reader downstream then reads
	// them in one read) when the tool is about to wait: before a read of
	// its input that would block, at log_flush() (pm::Http::run calls it
	// before it polls), and at finish(). A record is never held while its
	// tool waits, so the next tool and the wrapper get it as promptly as
	// before. (One flush per record cost the writer a write and the reader
	// a read per project, two writes for a record past stdio's 4 KiB.)
	static char outbuf[1 << 16];
	if (out == stdout) setvbuf(out, outbuf, _IOFBF, sizeof outbuf);
	in_.before_wait([](void *) { log_flush(); }, nullptr);
	log_flush_also([](void *self) { static_cast<RecordLoop *>(self)->flush_output(); }, this);
	// A reader that has gone away is an error to report (exit 3, see
	// finish()), not a silent death by SIGPIPE halfway through a record.
	signal(SIGPIPE, SIG_IGN);
}

bool RecordLoop::acts_on(const std::string &type) const
{
	return std::find(acts_on_.begin(), acts_on_.end(), type) != acts_on_.end();
}

// A record parse_record refused. When it names a project, the end of the
// pipeline must hear of that project (pypi-mirror-records(7)): an error
// record. A name that is not a valid project name is named nowhere but the
// log: it would be hostile text in the wrapper's failed list.
void RecordLoop::refuse(const std::string &why)
{
	std::string where = "line " + std::to_string(in_.line_number()) + ": " + why;
	LOG_TOOL_ERROR("input %s", where.c_str());
	failed_ = true;
	std::string name = get_string(doc_, "name");
	if (valid_project_name(name))
		emit_error(normalize_name(name), std::max(0LL, get_int(doc_, "serial", 0)), where);
	else
		unnamed_++;
}

RecordLoop::~RecordLoop()
{
	flush_output();
	log_flush_also_remove(this);
}

void RecordLoop::flush_output()
{
	if (broken_ || out_.flush()) return;
	if (output_failure_ == OutputFailure::Continue) {
		LOG_TOOL_ERROR("cannot write to standard output: %s", strerror(errno));
		failed_ = true;
		return;
	}
	broken_ = true;
	broken_errno_ = errno;
}

bool RecordLoop::ready() const
{
	if (eof_ || broken_ || !input_drained(in_file_)) return true;
	pollfd p{fileno(in_file_), POLLIN, 0};
	return poll(&p, 1, 0) != 0; // a line, the end or an error: next() tells which
}

bool RecordLoop::next()
{
	std::string err;
	// Reading may wait for the stage before: the lines held by a tool's
	// event loop (log.h) and the records held go out first (in_ calls
	// log_flush() before a read that would wait, see the constructor).
	while (!broken_ && !eof_) {
		if (!in_.next(doc_, err)) {
			eof_ = true;
			if (ferror(in_file_)) {
				LOG_TOOL_ERROR("cannot read standard input: %s", strerror(errno));
				failed_ = true;
				unnamed_++;
			}
			break;
		}
		if (!err.empty()) {
			LOG_TOOL_ERROR("input %s", err.c_str());
			failed_ = true;
			unnamed_++;
			continue;
		}
		if (!parse_record(doc_, rec_, err)) {
			refuse(err);
			continue;
		}
		if (acts_on(rec_.type)) return true;
		if (rec_.type == "target") {
			targets_.push_back(in_.line());
			target_serial_ = std::max(target_serial_, rec_.serial);
		} else {
			emit_raw(in_.line()); // not ours to act on: on down the pipeline
		}
	}
	return false;
}

void RecordLoop::run(const std::function<void(ProjectRecord &, rapidjson::Document &)> &handle)
{
	// The handler's log lines (a line or two per project) are held like
	// those of an event loop (log.h), and go out with the records.
	LogHold hold;
	while (next()) handle(rec_, doc_);
}

int RecordLoop::finish()
{
	for (auto &t : targets_) emit_raw(t);
	targets_.clear();
	flush_output();
	if (broken_) {
		LOG_TOOL_ERROR("cannot write output: %s", strerror(broken_errno_));
		return kExitFatal;
	}
	return failed_ ? kExitSomeFailed : kExitOk;
}

int RecordLoop::finish(const char *summary_fmt, ...)
{
	int status = finish();
	if (status == kExitFatal) return status;
	char line[1024];
	va_list ap;
	va_start(ap, summary_fmt);
	vsnprintf(line, sizeof line, summary_fmt, ap);
	va_end(ap);
	LOG_TOOL_INFO("%s", line);
	return status;
}

bool RecordLoop::emit(const rapidjson::Value &v) { return emit_raw(to_json(v)); }

bool RecordLoop::emit_raw(const std::string &line)
{
	if (broken_) return false;
	if (out_.write_raw(line)) return true;
	if (output_failure_ == OutputFailure::Continue) {
		LOG_TOOL_ERROR("cannot write to standard output: %s", strerror(errno));
		failed_ = true;
		return false;
	}
	broken_ = true;
	broken_errno_ = errno;
	return false;
}

bool RecordLoop::emit_error(const std::string &name, long long serial, const std::string &reason,
                            const std::string &file, const std::string &url)
{
	failed_ = true;
	return emit_raw(error_record(prog_, name, serial, reason, file, url));
}

} // namespace pm
