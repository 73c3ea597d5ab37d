#!/usr/bin/env bats
# mirror-state, the run state of a mirror: its commands over state files on
# disk, and what pypi-mirror makes of them against the PyPI emulator over
# real HTTP (the summary's counts, metrics that promtool accepts, status
# --json, the progress line on a terminal).

load lib/common

setup_file() {
	emu_file_start --projects 4 --seed 13
}

setup() {
	mirror_setup
	PROM="$BATS_TEST_TMPDIR/metrics/pypi-mirror.prom"
	mkdir -p "$M"
}

teardown() {
	common_teardown
	admin clear-faults
}

# config [UPSTREAM]: the configuration of mirror $M, of the emulator unless
# UPSTREAM is given, with its metrics in $PROM.
config() {
	EMU_URL=${1:-$EMU_URL} write_config "$CONF" "$M" "$LOGDIR" "" "metrics-file = $PROM"
}

ms() { mirror-state -d "$M" "$@"; }

@test "1301 mirror-state: --help names every option of the man page; usage errors exit 2" {
	run mirror-state --help
	assert_success
	local opt
	for opt in $(grep -o '^\.Op Fl -[a-z-]*\|^\.Fl -[a-z-]*' "$BATS_TEST_DIRNAME/../man/mirror-state.1" | sed 's/.* -/--/' | sort -u); do
		[[ "$output" == *"$opt"* ]] || fail "--help does not mention $opt"
	done
	for opt in begin plan held sync-input collect finish prepare diff-file tally status progress log; do
		[[ "$output" == *"  $opt"* ]] || fail "--help does not mention $opt"
	done
	run mirror-state begin
	assert_failure 2
	assert_output --partial -- '-d DIR is required'
	run ms frobnicate
	assert_failure 2
	run ms collect
	assert_failure 2
	run ms sync-input 'not/a/name'
	assert_failure 2
	assert_output --partial "not a project name: 'not/a/name'"
}

@test "1302 mirror-state plan: changes, failed, held and deferred projects merged, the target last; exit 1 for nothing" {
	printf '{"name":"b-pkg","serial":12,"first":11}\n{"name":"c-pkg","serial":3,"first":3}\n' >"$M/pypi-mirror.failed"
	printf '{"name":"d-pkg"}\n{"name":"c-pkg"}\n' >"$M/pypi-mirror.deferred"
	printf '{"name":"e-pkg","serial":7}\n' >"$BATS_TEST_TMPDIR/held"
	run --separate-stderr ms plan --held "$BATS_TEST_TMPDIR/held" <<'EOF'
{"type":"project","name":"a-pkg","display_name":"A.Pkg","serial":20}
{"type":"project","name":"b-pkg","serial":10}
{"type":"target","serial":21,"since":5,"projects":2}
EOF
	assert_success
	assert_output - <<'EOF'
{"type":"project","name":"a-pkg","display_name":"A.Pkg","serial":20}
{"type":"project","name":"b-pkg","serial":12}
{"type":"project","name":"c-pkg","serial":3}
{"type":"project","name":"e-pkg","serial":7}
{"type":"project","name":"d-pkg","serial":0}
{"type":"target","serial":21,"since":5,"projects":2}
EOF
	[[ $stderr == *"INFO: Retrying 1 projects that failed before"* ]] || fail "$stderr"
	[[ $stderr == *"INFO: Looking again at 1 projects with releases held back by [min_age]"* ]] || fail "$stderr"
	rm "$M/pypi-mirror.failed" "$M/pypi-mirror.deferred"
	run --separate-stderr ms plan <<<'{"type":"target","serial":21}'
	assert_failure 1
	assert_output '{"type":"target","serial":21}'
	[[ $stderr == *"INFO: Nothing to sync"* ]] || fail "$stderr"
	run --separate-stderr ms plan <<<'{"type":"project","name":"a","serial":1}'
	assert_failure 3
	[[ $stderr == *"no target serial"* ]] || fail "$stderr"
}

@test "1303 mirror-state collect: next failed list, status just before the first missing change, summary and last-run" {
	local w=$BATS_TEST_TMPDIR
	printf 100 >"$M/status"
	printf '{"name":"b-pkg","serial":104,"first":102}\n' >"$M/pypi-mirror.failed"
	cat >"$w/input" <<'EOF'
{"type":"project","name":"a-pkg","serial":105}
{"type":"project","name":"b-pkg","serial":104}
{"type":"project","name":"lost-pkg","serial":106}
{"type":"target","serial":110}
EOF
	cat >"$w/results" <<'EOF'
{"type":"synced","name":"a-pkg","serial":105,"files_listed":3,"files_fetched":2,"bytes_fetched":2048,"deleted":1,"removed":false}
{"type":"error","name":"b-pkg","serial":104,"tool":"artifact-get","reason":"HTTP 500"}
{"type":"target","serial":110}
EOF
	run --separate-stderr ms collect --input "$w/input" --results "$w/results" --start "$(date +%s)" --shell
	assert_failure 1
	assert_output 'serial=101 previous_serial=100 projects=1 failed=2 unnamed=0 exit=1'
	[ "$(cat "$M/status")" = 101 ]
	assert_equal "$(cat "$M/pypi-mirror.failed")" '{"name":"b-pkg","serial":104,"first":102}
{"name":"lost-pkg","serial":106,"first":106}'
	assert_equal "$(cat "$M/pypi-mirror.synced-serial")" '110 101'
	[[ $stderr == *"ERROR: records that never reached the end of the pipeline (retried next run): lost-pkg"* ]] || fail "$stderr"
	[[ $stderr == *"WARNING: 2 projects failed and will be retried next run: b-pkg (serial 104), lost-pkg (serial 106)"* ]] || fail "$stderr"
	[[ $stderr == *"INFO: Run summary: projects=1 files=2 bytes=2048 deleted=1 stale=0 purged=0 failed=2 serial=100->101 seconds="* ]] || fail "$stderr"
	# last-run: a line for people, then the summary record
	run sed -n 1p "$M/pypi-mirror.last-run"
	assert_output --regexp '^[0-9-]{10} [0-9:]{8} mirror projects=1 files=2 bytes=2048 .* exit=1$'
	run jq -c '[.type, .serial, .previous_serial, .target, .failed, .lost, .min_first, .files_fetched, .exit]' <(sed -n 2p "$M/pypi-mirror.last-run")
	assert_output '["summary",101,100,110,2,1,102,2,1]'
	grep -Eq '^[0-9]{8}T[0-9:]{8}$' "$M/web/last-modified"
	# Everything lands in a later run: status goes to the target, the list goes.
	printf '{"type":"project","name":"b-pkg","serial":104}\n{"type":"project","name":"lost-pkg","serial":106}\n{"type":"target","serial":110}\n' >"$w/input"
	printf '{"type":"synced","name":"b-pkg","serial":104}\n{"type":"synced","name":"lost-pkg","serial":106}\n' >"$w/results"
	run --separate-stderr ms collect --input "$w/input" --results "$w/results"
	assert_success
	[ "$(jq -c '[.serial, .failed, .projects]' <<<"$output")" = '[110,0,2]' ]
	[ "$(cat "$M/status")" = 110 ]
	[ ! -e "$M/pypi-mirror.failed" ]
}

@test "1304 mirror-state collect --sync changes only the named projects; an unnamed error holds status" {
	local w=$BATS_TEST_TMPDIR
	printf 50 >"$M/status"
	printf '{"name":"a-pkg","serial":40,"first":40}\n{"name":"b-pkg","serial":45,"first":41}\n' >"$M/pypi-mirror.failed"
	ms sync-input A.Pkg >"$w/input"
	assert_equal "$(cat "$w/input")" '{"type":"project","name":"a-pkg","serial":40}'
	printf '{"type":"synced","name":"a-pkg","serial":40}\n' >"$w/results"
	run ms collect --sync --input "$w/input" --results "$w/results" --shell
	assert_success
	assert_equal "$(cat "$M/pypi-mirror.failed")" '{"name":"b-pkg","serial":45,"first":41}'
	[ "$(cat "$M/status")" = 50 ]
	# An error record that names no project: nothing may advance.
	printf '{"type":"target","serial":60}\n' >"$w/input"
	printf '{"type":"error","tool":"x","reason":"broken"}\n' >"$w/results"
	run --separate-stderr ms collect --input "$w/input" --results "$w/results" --shell
	assert_failure 1
	assert_output --partial 'serial=50 '
	[[ $stderr == *"1 error records name no project; status is not advanced"* ]] || fail "$stderr"
}

@test "1305 mirror-state held: the root index's projects, else the page directories" {
	run ms held
	assert_success
	assert_output ''
	config
	pm -q mirror
	local want
	want=$(jq -c '[.projects[] | {name: (.name | ascii_downcase | gsub("[-_.]+"; "-")), serial: .["_last-serial"]}] | sort_by(.name) | .[]' "$M/web/simple/index.v1_json")
	run ms held
	assert_success
	assert_output "$want"
	[ "${#lines[@]}" -eq 4 ]
	# Without a root index: the pages, with the serial they were written at.
	rm "$M/web/simple/index.v1_json"
	run ms held
	assert_success
	assert_output "$want"
}

@test "1306 pypi-mirror: the summary counts what artifact-get fetched, from the records" {
	config
	run pm mirror
	assert_success
	local files bytes
	files=$(find "$M/web/packages" -type f | wc -l)
	bytes=$(find "$M/web/packages" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
	assert_output --partial "Run summary: projects=4 files=$files bytes=$bytes "
	[ "$(sed -n 2p "$M/pypi-mirror.last-run" | jq .bytes_fetched)" -eq "$bytes" ]
	grep -q "^pypi_mirror_run_bytes $bytes$" "$PROM"
	run pm mirror
	assert_output --partial "Run summary: projects=0 files=0 bytes=0 "
}

@test "1307 pypi-mirror: the metrics pass promtool check metrics, with HELP and TYPE for each, after success and failure" {
	command -v promtool >/dev/null || fail "promtool is not installed (scripts/install-deps installs prometheus)"
	config
	pm -q mirror
	run promtool check metrics <"$PROM"
	assert_success
	assert_output ''
	local m
	for m in last_success_timestamp_seconds last_run_timestamp_seconds serial upstream_serial lag run_projects \
		run_files run_bytes run_failed_projects run_stale_projects run_duration_seconds; do
		grep -q "^# HELP pypi_mirror_$m " "$PROM" || fail "no HELP for $m"
		grep -q "^# TYPE pypi_mirror_$m gauge$" "$PROM" || fail "no TYPE for $m"
		grep -Eq "^pypi_mirror_$m [0-9]+$" "$PROM" || fail "no value for $m"
	done
	local ok_at
	ok_at=$(awk '$1 == "pypi_mirror_last_success_timestamp_seconds" { print $2 }' "$PROM")
	# An unreachable upstream: exit 3 in the metrics, the last success kept.
	config http://127.0.0.1:9
	run pm -q mirror
	assert_failure 3
	run promtool check metrics <"$PROM"
	assert_success
	grep -q '^pypi_mirror_last_exit_code 3$' "$PROM"
	grep -q "^pypi_mirror_last_success_timestamp_seconds $ok_at$" "$PROM"
}

@test "1308 pypi-mirror status --json: serials, lag, the last run and the failed projects" {
	config
	admin fault path=/pypi/demo-pkg/json kind=500
	admin fault path=/pypi/Demo_Pkg/json kind=500
	run pm -q mirror
	assert_failure 1
	run --separate-stderr pm status --json
	assert_success
	local up
	up=$(upstream_serial)
	[ "$(jq '.serial' <<<"$output")" = "$(cat "$M/status")" ]
	[ "$(jq '.upstream_serial' <<<"$output")" = "$up" ]
	[ "$(jq '.lag' <<<"$output")" = $((up - $(cat "$M/status"))) ]
	[ "$(jq -c '[.failed[].name]' <<<"$output")" = '["demo-pkg"]' ]
	[ "$(jq -c '[.last_run.type, .last_run.exit, .last_run.failed]' <<<"$output")" = '["summary",1,1]' ]
	# the human form says the same
	run pm status
	assert_output --regexp 'failed projects: 1: demo-pkg \(serial [0-9]+\)'
	run pm mirror --json
	assert_failure 2
	# upstream unreachable: nulls, exit 3
	config http://127.0.0.1:9
	run --separate-stderr pm status --json
	assert_failure 3
	[ "$(jq -c '[.upstream_serial, .lag, (.serial | type)]' <<<"$output")" = '[null,null,"number"]' ]
}

@test "1309 pypi-mirror: a progress line on a terminal, none under cron" {
	config
	local tty=$BATS_TEST_TMPDIR/tty.out
	# script(1) gives the run a terminal; -f flushes as it goes.
	TERM=dumb script -qfec "pypi-mirror -c '$CONF' mirror" "$tty" >/dev/null
	grep -Eq $'\r\033\\[Ksync: [0-9]+/4 projects, [0-9]+ files, [0-9.]+ MiB, [0-9.]+ MiB/s' "$tty" ||
		fail "no progress line: $(tr '\r\033' '^~' <"$tty" | tail -n 5)"
	grep -Eq 'sync: 4/4 projects, [1-9][0-9]* files' "$tty" || fail "the last figures are not shown"
	# no terminal (cron): no progress line in the output or the log
	rm -rf "$M"
	run pm mirror
	assert_success
	[[ $output != *"projects, "*"MiB/s"* ]] || fail "a progress line without a terminal"
	refute_grep 'MiB/s' "$LOGDIR/pypi-mirror.log"
	# -q on a terminal: quiet, no progress line either
	rm -rf "$M"
	TERM=dumb script -qfec "pypi-mirror -q -c '$CONF' mirror" "$tty" >/dev/null
	run grep -c 'MiB/s' "$tty"
	assert_output 0
}

@test "1310 pypi-mirror: a damaged state file stops the run (exit 5) and changes nothing" {
	config
	pm -q mirror
	local s
	s=$(cat "$M/status")
	printf 'this is not a record\n' >"$M/pypi-mirror.failed"
	run pm mirror
	assert_failure 5
	assert_output --partial "mirror-state: $M/pypi-mirror.failed: line 1"
	[ "$(cat "$M/status")" = "$s" ]
	assert_equal "$(cat "$M/pypi-mirror.failed")" 'this is not a record'
	printf 'x1\n' >"$M/status"
	rm "$M/pypi-mirror.failed"
	run pm mirror
	assert_failure 5
	assert_output --partial "$M/status does not hold a serial"
}

@test "1311 mirror-state prepare: the run's scratch, the reserve and the generation file; a crashed run's temporaries swept first" {
	run --separate-stderr ms prepare --json
	assert_success
	[ -d "$M/.pypi-mirror.work" ] && [ -d "$M/web" ] && [ -d "$M/.spool" ]
	[ -e "$M/.pypi-mirror.work/stamp" ] && [ ! -s "$M/.pypi-mirror.work/results.ndjson" ]
	assert_equal "$(stat -c %s "$M/.pypi-mirror.reserve")" 262144
	assert_equal "$(cat "$M/generation")" 5
	assert_equal "$stderr" ''
	# What a killed run leaves: its work files, temporaries of atomic writes,
	# hidden download temporaries; real files next to them stay.
	mkdir -p "$M/web/packages/aa/bb" "$M/web/simple/demo"
	echo 4 >"$M/generation"
	: >"$M/web/packages/aa/bb/.demo-1.0.tar.gz.123.AbCdEf12.tmp"
	: >"$M/web/packages/aa/bb/demo-1.0.tar.gz"
	: >"$M/.status.123.XyZ"
	: >"$M/.pypi-mirror.failed.123.XyZ"
	: >"$M/web/.last-modified.1.x"
	: >"$M/web/simple/demo/index.html"
	echo leftover >"$M/.pypi-mirror.work/input.ndjson"
	run --separate-stderr ms prepare
	assert_success
	[[ $stderr == *"WARNING: the previous run did not finish; removing its temporary files"* ]] || fail "$stderr"
	run find "$M" -name '.*.*.*' ! -name .pypi-mirror.reserve
	assert_output ''
	[ ! -e "$M/.pypi-mirror.work/input.ndjson" ] && [ ! -e "$M/.spool" ]
	[ -e "$M/web/packages/aa/bb/demo-1.0.tar.gz" ] && [ -e "$M/web/simple/demo/index.html" ]
	assert_equal "$(cat "$M/generation")" 4
	# A clean start (no work directory) walks nothing and warns of nothing.
	rm -rf "$M/.pypi-mirror.work"
	: >"$M/web/packages/aa/bb/.other-1.0.tar.gz.9.AbCdEf12.tmp"
	run --separate-stderr ms prepare
	assert_success
	assert_equal "$stderr" ''
	[ -e "$M/web/packages/aa/bb/.other-1.0.tar.gz.9.AbCdEf12.tmp" ]
}

@test "1312 mirror-state diff-file: the files under web/ changed since prepare, absolute paths, sorted; hidden ones left out" {
	mkdir -p "$M/web/simple/old"
	: >"$M/web/simple/old/index.html"
	sleep 0.05
	ms prepare
	sleep 0.05
	mkdir -p "$M/web/simple/new" "$M/web/packages/aa/bb"
	: >"$M/web/simple/new/index.html"
	: >"$M/web/packages/aa/bb/new-1.0.tar.gz"
	: >"$M/web/packages/aa/bb/.new-1.1.tar.gz.1.AbCdEf12.tmp"
	run --separate-stderr ms diff-file "$BATS_TEST_TMPDIR/out/written"
	assert_success
	[[ $stderr == *"INFO: Wrote the list of written files to $BATS_TEST_TMPDIR/out/written (2 files)"* ]] || fail "$stderr"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out/written")" "$M/web/packages/aa/bb/new-1.0.tar.gz
$M/web/simple/new/index.html"
	# Without a run under way there is nothing to compare with.
	rm -rf "$M/.pypi-mirror.work"
	run --separate-stderr ms diff-file "$BATS_TEST_TMPDIR/out/written"
	assert_failure 3
}

@test "1313 mirror-state stale-round: stale.ndjson becomes stale.N.ndjson, the backoff doubles; exit 1 when none or rounds used up" {
	local w=$M/.pypi-mirror.work
	ms prepare
	run --separate-stderr ms stale-round --round 0 --max-rounds 2 --backoff 0.5
	assert_failure 1 # nothing stale
	assert_equal "$output$stderr" ""
	printf '{"type":"project","name":"a","serial":3}\n{"type":"project","name":"b","serial":4}\n' >"$w/stale.ndjson"
	run --separate-stderr ms stale-round --round 1 --max-rounds 2 --backoff 0.5
	assert_success
	assert_output 'delay=1'
	[[ $stderr == *"INFO: Stale round 2: 2 projects, after 1s"* ]] || fail "$stderr"
	[ ! -e "$w/stale.ndjson" ]
	[ "$(wc -l <"$w/stale.1.ndjson")" = 2 ]
	printf '{"type":"project","name":"a","serial":3}\n' >"$w/stale.ndjson"
	run --separate-stderr ms stale-round --round 3 --max-rounds 2 --backoff 0.5
	assert_failure 1
	[[ $stderr == *"ERROR: stale projects left after 3 rounds; they will be retried next run"* ]] || fail "$stderr"
	[ -s "$w/stale.ndjson" ] # left for collect: its projects failed
}

@test "1314 mirror-state collect --run: the run's files from the work directory, stale rounds and dropped records included" {
	local w=$M/.pypi-mirror.work
	printf 100 >"$M/status"
	ms prepare
	cat >"$w/input.ndjson" <<'EOF'
{"type":"project","name":"a-pkg","serial":105}
{"type":"project","name":"stale-pkg","serial":106}
{"type":"project","name":"dropped-pkg","serial":107}
{"type":"project","name":"left-pkg","serial":108}
{"type":"target","serial":110}
EOF
	printf '{"type":"synced","name":"a-pkg","serial":105}\n{"type":"synced","name":"stale-pkg","serial":106}\n' >"$w/results.ndjson"
	printf '{"type":"project","name":"stale-pkg","serial":106}\n' >"$w/stale.0.ndjson"
	printf '{"type":"project","name":"stale-pkg","serial":106}\n' >"$w/purged.0.ndjson"
	printf '{"type":"dropped","name":"dropped-pkg","serial":107,"reason":"blocklist"}\n' >"$w/closure-dropped.ndjson"
	printf '{"type":"project","name":"left-pkg","serial":108}\n' >"$w/stale.ndjson"
	run --separate-stderr ms collect --run --purge --shell
	assert_failure 1
	assert_output 'serial=107 previous_serial=100 projects=2 failed=1 unnamed=0 exit=1'
	assert_equal "$(cat "$M/pypi-mirror.failed")" '{"name":"left-pkg","serial":108,"first":108}'
	run jq -c '[.stale, .purged, .lost]' <(sed -n 2p "$M/pypi-mirror.last-run")
	assert_output '[1,1,0]'
}

@test "1315 mirror-state begin --master: the run's opening lines, the full pass with its deletion cap" {
	run --separate-stderr ms begin --master https://pypi.example
	assert_success
	assert_output "status=0 since=0 full=0 held=0 why=''"
	[[ $stderr == *"INFO: Starting mirror run: status 0, listing changes since 0 from https://pypi.example"* ]] || fail "$stderr"
	[[ $stderr != *"Full pass"* ]] || fail "$stderr"
	# A mirror that holds projects, and filters it was not pruned to.
	printf 50 >"$M/status"
	mkdir -p "$M/web/simple/demo"
	: >"$M/web/simple/demo/index.html"
	run --separate-stderr ms begin --filters abc --held "$BATS_TEST_TMPDIR/held" --master https://pypi.example --max-deletions 0
	assert_success
	assert_output --regexp '^status=50 since=0 full=1 held=1 why='
	[[ $stderr == *"INFO: Full pass: "*": listing every upstream project and checking the 1 projects the mirror holds against the filters (no deletion cap)"* ]] || fail "$stderr"
	run --separate-stderr ms begin --filters abc --held "$BATS_TEST_TMPDIR/held" --master https://pypi.example --max-deletions 25
	[[ $stderr == *"(at most 25 files deleted)"* ]] || fail "$stderr"
	# Without --master, nothing is logged.
	run --separate-stderr ms begin
	assert_equal "$stderr" ""
}

@test "1316 mirror-state begin --prepare: the scratch space and the state in one process; libcurl, libcrypto and libexpat are not loaded for a mirror on disk" {
	run --separate-stderr ms begin --prepare --json --master https://pypi.example
	assert_success
	assert_output "status=0 since=0 full=0 held=0 why=''"
	# What prepare makes: the work directory with its stamp and empty
	# results, the spool (--json), the reserve, the generation file.
	[ -f "$M/.pypi-mirror.work/stamp" ] && [ -f "$M/.pypi-mirror.work/results.ndjson" ] || fail "$(ls -la "$M")"
	[ -d "$M/.spool" ] || fail "no spool: $(ls -a "$M")"
	[ "$(cat "$M/generation")" = 5 ]
	# A second begin --prepare finds the work directory of a run that did
	# not finish, and sweeps it first.
	: >"$M/.pypi-mirror.work/leftover"
	run --separate-stderr ms begin --prepare
	assert_success
	[[ $stderr == *"previous run did not finish"* ]] || fail "$stderr"
	[ ! -e "$M/.pypi-mirror.work/leftover" ]
	# Four of these run in every cron run: libcurl (and the ~30 libraries it
	# brings), libcrypto and libexpat are loaded only when a bucket needs
	# HTTP, hashes or XML (tools/lib/lazy/).
	assert_loads_lazily "$(command -v mirror-state)" libcurl libcrypto libexpat
}

@test "1317 mirror-state log: every line to the file in order, the terminal's share (--warnings-only, --clear), a last line without newline kept; lines pass as they come" {
	local f=$BATS_TEST_TMPDIR/run.log info=2026-12-02' 10:00:00,001 INFO: ' warn=2026-12-02' 10:00:00,002 WARNING: '
	printf '%s\n' "${info}one" "${warn}two" 'raw text from a crash' "2026-12-02 10:00:00,003 DEBUG: three" >"$BATS_TEST_TMPDIR/in"
	printf 'no newline at the end' >>"$BATS_TEST_TMPDIR/in"
	run --separate-stderr ms log --file "$f" <"$BATS_TEST_TMPDIR/in"
	assert_success
	# The file: everything, in order, the last line completed.
	assert_equal "$(cat "$f")" "$(cat "$BATS_TEST_TMPDIR/in")"
	[ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || fail "no newline at the end of the file"
	# Standard output: everything too (pypi-mirror without -q).
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/in")"
	assert_equal "$stderr" ""
	# --warnings-only: not the INFO and DEBUG lines; the file still gets all
	# (appended to what it held).
	run --separate-stderr ms log --file "$f" --warnings-only <"$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$output" "$(printf '%s\n' "${warn}two" 'raw text from a crash' 'no newline at the end')"
	[ "$(grep -c 'INFO: one' "$f")" -eq 2 ]
	# --clear: what goes to the terminal first erases the progress line.
	run ms log --warnings-only --clear <<<"${warn}warned"
	assert_success
	assert_equal "$output" $'\r\033[K'"${warn}warned"
	run ms log --warnings-only --clear <<<"${info}quiet"
	assert_success
	assert_equal "$output" ""
	# A line is in the file as soon as it was written, while the writer
	# still has its standard input open (no block-buffered reads).
	local fifo=$BATS_TEST_TMPDIR/fifo pid
	mkfifo "$fifo"
	ms log --file "$f.2" <"$fifo" >/dev/null &
	pid=$!
	exec 5>"$fifo"
	echo "${info}first" >&5
	wait_until 10 "the first line in the file" grep -q 'INFO: first' "$f.2"
	echo "${warn}second" >&5
	wait_until 10 "the second line in the file" grep -q 'WARNING: second' "$f.2"
	exec 5>&-
	wait "$pid"
	[ "$(wc -l <"$f.2")" -eq 2 ]
	# A log file that cannot be opened: a warning, and the terminal still
	# gets every line.
	run --separate-stderr ms log --file "$BATS_TEST_TMPDIR/no/such/dir/log" <<<"${info}kept"
	assert_success
	assert_output "${info}kept"
	[[ $stderr == *"WARNING: mirror-state: cannot open the log file"* ]] || fail "$stderr"
}
