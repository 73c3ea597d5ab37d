// The record loop every record-reading tool runs: read a line, parse and
// validate it (pm::parse_record), and route it. This is the one place that
// applies the rules of pypi-mirror-records(7) to input, so the tools agree:
//  - a malformed line is logged with its line number and the run goes on;
//  - a refused record (bad field, hostile file entry, unknown type) that
//    names a project becomes an error record on stdout naming it;
//  - a record of a type the tool does not act on is passed through as read;
//  - target records are held and written after everything else;
//  - a closed output stops the loop; the exit status tells what happened.
// The tool supplies only what it does to the records it acts on: either a
// handler for run(), or, for a tool driving concurrent transfers, calls to
// ready_for() and next() from its feed hook (one record per free slot:
// input is read only as fast as the transfers drain, so memory stays flat,
// and never by a read that would stall the transfers under way).
#pragma once
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ndjson.h"
#include "nocopy.h"
#include "record.h"

namespace pm {

class Http;

// A record a tool keeps past the next read, while its transfers are in
// flight (cdn-purge, pkg-resolve): its document and the names it is
// logged and written back under. RecordLoop::take fills it.
struct HeldRecord {
	rapidjson::Document rec;
	std::string name, display;
};

class RecordLoop : NoCopy {
public:
	// prog names the tool in error records and log lines; acts_on lists the
	// record types the tool handles (every other type passes through).
	RecordLoop(const char *prog, std::initializer_list<const char *> acts_on, FILE *in = stdin, FILE *out = stdout);
	// What a failed write of the output means. Stop (the default): the
	// reader is gone or the output unusable, so the loop ends and the exit
	// status is 3. Continue: the work is worth finishing without its report
	// (index-write's pages land even when the disk holding the wrapper's
	// copy of its output is full); each failure is logged and exits 1.
	enum class OutputFailure { Stop, Continue };
	void on_output_failure(OutputFailure f) { output_failure_ = f; }
	~RecordLoop(); // flushes what is held

	// Reads up to the next record the tool acts on, routing every other line
	// as above. False at the end of input or once the output is closed.
	// After true, doc()/record()/line() describe that record until the
	// next call; the tool may take doc() (Swap) or edit it.
	bool next();
	// For a feed hook of Http::run, before next(): false while http has
	// transfers under way and no input is there yet, for a read then would
	// hold every one of them until the stage before writes again (a
	// pkg-resolve waiting on its upstream, a demand log between requests).
	// http's next wait then also ends when input comes (Http::wake_on_input),
	// and the hook returns true having added nothing. A line begun but not
	// ended is read whole, waiting for its end. (record_loop_http.cc: only
	// the tools that drive transfers link it.)
	bool ready_for(Http &http);
	// Whether next() would find its line (or the end) without waiting for
	// the stage before: a tool may read ahead while this holds (artifact-
	// get gathers projects new to a store into one journal).
	bool ready() const;
	// next() until false, calling handle for each record.
	void run(const std::function<void(ProjectRecord &, rapidjson::Document &)> &handle);
	// Writes the held target records and returns the exit status: kExitFatal
	// when the output broke, kExitSomeFailed after any bad input or failure,
	// else kExitOk.
	int finish();
	// The same, logging the tool's summary line (printf format) unless the
	// output broke.
	int finish(const char *summary_fmt, ...) __attribute__((format(printf, 2, 3)));

	rapidjson::Document &doc() { return doc_; }
	// Takes the record just read into h: its document is swapped out (the
	// next read starts a fresh one), its names copied.
	void take(HeldRecord &h)
	{
		h.rec.Swap(doc_);
		h.name = rec_.name;
		h.display = rec_.display_name;
	}
	ProjectRecord &record() { return rec_; }
	const std::string &line() const { return in_.line(); }
	size_t line_number() const { return in_.line_number(); }

	// Output. A failed write marks the output broken (see next()). Records
	// are held in the output's buffer until the tool would wait (see the
	// constructor): a tool that waits for anything but its input or
	// pm::Http calls log_flush() first.
	bool emit(const rapidjson::Value &v);
	bool emit_raw(const std::string &line);
	// An error record for a project (and a failed exit status).
	bool emit_error(const std::string &name, long long serial, const std::string &reason, const std::string &file = "",
	                const std::string &url = "");
	// Something failed that already has its record or log line: exit 1.
	void mark_failed() { failed_ = true; }
	// Input lines lost without an error record to name them: malformed, refused
	// naming no valid project, or unread (input error). A tool whose output
	// decides how far the mirror's state may advance fails on these.
	long long unnamed() const { return unnamed_; }
	// The highest serial among the target records held so far (-1: none yet).
	long long target_serial() const { return target_serial_; }
	bool failed() const { return failed_; }
	bool broken() const { return broken_; }

	// Writes the held records out now (see emit).
	void flush_output();

private:
	bool acts_on(const std::string &type) const;
	void refuse(const std::string &why);

	const char *prog_;
	std::vector<std::string> acts_on_;
	NdjsonReader in_;
	NdjsonWriter out_;
	FILE *in_file_;
	rapidjson::Document doc_;
	ProjectRecord rec_;
	std::vector<std::string> targets_;
	bool failed_ = false, broken_ = false, eof_ = false;
	long long unnamed_ = 0, target_serial_ = -1;
	int broken_errno_ = 0;
	OutputFailure output_failure_ = OutputFailure::Stop;
};

} // namespace pm
