#!/usr/bin/env bats
# 08NN: an upstream that misbehaves, through the whole wrapper. Each fault of
# the emulator (500/503/429 with and without Retry-After, connection resets,
# truncated and corrupt bodies, trickles slower than the timeout, a project
# that changes in the middle of a run) must end in a run that completes, or
# one that reports precisely (project, file, reason); retries are bounded
# (requests for the faulted path <= 1 + PYPI_MIRROR_RETRIES); nothing partial
# or ahead of the content is ever visible (lib/watcher.py); and once upstream
# behaves, the next run converges to a clean sync of the same upstream.

load lib/common

RETRIES=2

setup_file() {
	emu_file_start --projects 6 --seed 31 --releases 2 --pad-bytes 20000
	# A synced mirror every test starts from (a copy), and the reference:
	# a mirror that only ever sees a well-behaved upstream.
	export TEMPLATE="$BATS_FILE_TMPDIR/template" REF="$BATS_FILE_TMPDIR/ref"
	local c
	for c in "$TEMPLATE" "$REF"; do
		config_file "$c.conf" "$c" "$BATS_FILE_TMPDIR"
		PYPI_MIRROR_RETRIES=$RETRIES PYPI_MIRROR_BACKOFF=0.05 pypi-mirror -q -c "$c.conf" mirror >/dev/null 2>&1
	done
	[ -s "$TEMPLATE/status" ] && [ -s "$REF/status" ]
}

setup() {
	tool_env "$RETRIES" 0.05
	M="$BATS_TEST_TMPDIR/mirror"
	CONF="$BATS_TEST_TMPDIR/m.conf"
	SNAP="$BATS_TEST_TMPDIR/upstream.json"
	cp -a "$TEMPLATE" "$M"
	config_file "$CONF" "$M" "$BATS_TEST_TMPDIR"
	admin reset-stats
}

teardown() {
	common_teardown
	admin clear-faults
	return 0
}

# config_file FILE MIRROR LOGDIR [extra [mirror] lines]
config_file() {
	write_config "$1" "$2" "$3/log-${2##*/}" "timeout = 2
global-timeout = 20
${4:-}" "stale-rounds = 1"
}

# How many times upstream was asked for PATH (METHOD default GET).
requests() { emu_stats | jq --arg k "${2:-GET} $1" '.requests[$k] // 0'; }
asked() { [ "$(requests "$@")" -ge 1 ]; }
assert_bounded() {
	local n
	n=$(requests "$@")
	[ "$n" -ge 1 ] || fail "upstream was never asked for $1"
	[ "$n" -le $((1 + RETRIES)) ] || fail "$1 was requested $n times; retries are bounded to $RETRIES"
}

# A new release VERSION of demo-pkg whose file WHICH (TAR or WHL, see
# new_release) upstream answers with a fault for ever (admin fault args
# after the reason): the run fails, reporting demo-pkg, that file and a
# reason matching REASON, having asked a bounded number of times.
# Usage: file_fault_run VERSION WHICH REASON FAULT_ARGS...
file_fault_run() {
	local version=$1 which=$2 reason=$3 s0 name
	shift 3
	s0=$(status)
	new_release demo-pkg "$version"
	name=${which}NAME
	admin fault path="/${!which}" "$@"
	run pm mirror
	assert_reported demo-pkg "${!name}" "$reason" "$s0"
	assert_bounded "/${!which}"
}

# The state invariants: nothing partial, no dangling link, status not ahead.
assert_invariants() {
	admin clear-faults
	watcher snapshot "$EMU_URL" "$SNAP"
	run watcher check "$M" "$SNAP"
	assert_success
}

# Upstream behaves again: the next run (at most two) ends clean, and the
# mirror equals the reference, which synced the same upstream without faults.
assert_converges() {
	admin clear-faults
	local tries
	for tries in 1 2; do
		run pm -q mirror
		[ "$status" -eq 0 ] && break
	done
	assert_success
	run pypi-mirror -q -c "$REF.conf" mirror
	assert_success
	[ "$(cat "$REF/status")" = "$(status)" ] || fail "status $(status), the reference reached $(cat "$REF/status")"
	[ "$(status)" = "$(upstream_serial)" ]
	run diff <(cd "$REF/web" && find . -type f ! -path ./last-modified | LC_ALL=C sort | xargs sha256sum) \
		<(cd "$M/web" && find . -type f ! -path ./last-modified | LC_ALL=C sort | xargs sha256sum)
	assert_success
}

# The run failed for project $1 and said so: file $2 (may be empty), reason
# matching the regex $3; the project is in the failed list; status stopped
# before its change.
assert_reported() {
	local project=$1 file=$2 reason=$3 before=$4
	[ -n "${FAULTS_DEBUG:-}" ] && grep -E 'ERROR|WARN' <<<"$output" | sed 's/^/# /' >&3
	assert_failure 1
	if [ -n "$file" ]; then
		assert_output --regexp "ERROR: .*$project.*${file//./\\.}.*($reason)"
	else
		assert_output --regexp "ERROR: .*$project.*($reason)"
	fi
	grep -q "\"name\":\"$project\"" "$M/pypi-mirror.failed" || fail "$project is not in the failed list"
	[ "$(status)" -lt "$(upstream_serial)" ] || fail "status reached upstream's serial though $project failed"
	[ "$(status)" -ge "$before" ]
}

@test "0801 faults: a 500 on a project's JSON API is retried; the run completes" {
	admin new-release name=demo-pkg version=5.1
	admin fault path=/pypi/demo-pkg/json kind=500 count=1
	run pm mirror
	assert_success
	assert_bounded /pypi/demo-pkg/json
	[ "$(status)" = "$(upstream_serial)" ]
	assert_converges
}

@test "0802 faults: a 503 with Retry-After on a file is retried after the pause; the run completes" {
	new_release demo-pkg 5.2
	admin fault path="/$TAR" kind=503 count=2 retry_after=1
	run pm mirror
	assert_success
	[ "$(requests "/$TAR")" -eq 3 ] || fail "/$TAR requested $(requests "/$TAR") times, want 3 (two 503s, then the file)"
	assert_converges
}

@test "0803 faults: 429 for ever (no Retry-After) on a file: bounded retries, the project fails precisely, the others land" {
	admin new-release name=mixedcase version=5.3
	file_fault_run 5.3 TAR "429" kind=429
	[ -f "$M/web/simple/mixedcase/index.html" ] && grep -q 'mixedcase-5.3' "$M/web/simple/mixedcase/index.v1_json" ||
		grep -qi 'mixedcase-5\.3' "$M/web/simple/mixedcase/index.v1_json" || fail "the other project did not land"
	assert_invariants
	assert_converges
}

@test "0804 faults: 429 with Retry-After for ever: the pauses are honoured but bounded; the project fails precisely" {
	file_fault_run 5.4 WHL "429" kind=429 retry_after=1
	assert_invariants
	assert_converges
}

@test "0805 faults: connection resets mid-body for ever: bounded, reported, nothing partial" {
	file_fault_run 5.5 TAR "reset|Recv failure|connection|transfer closed|receive" kind=reset
	[ ! -e "$M/web/$TAR" ]
	assert_invariants
	assert_converges
}

@test "0806 faults: truncated bodies for ever: bounded, reported, nothing partial" {
	file_fault_run 5.6 TAR "truncat|bytes|size|transfer closed|partial" kind=truncate
	[ ! -e "$M/web/$TAR" ]
	assert_invariants
	assert_converges
}

@test "0807 faults: corrupt bytes for ever: sha256 mismatch, bounded, reported, nothing under the real name" {
	file_fault_run 5.7 WHL "sha256" kind=corrupt
	[ ! -e "$M/web/$WHL" ]
	assert_invariants
	assert_converges
}

# Requests are counted by the emulator when its answer is over, so a stalled
# answer is counted only after its delay: wait for the count to settle.
settled_requests() {
	local path=$1 wait=$2 i n
	for ((i = 0; i < wait * 10; i++)); do
		n=$(requests "$path")
		[ "$n" -ge $((1 + RETRIES)) ] && break
		sleep 0.1
	done
	requests "$path"
}

# The run ends within 120 s, reporting a timeout for $TAR of demo-pkg
# (status at least S0), which upstream was asked for at most 1 + RETRIES
# times (the count given SETTLE s to settle). WHAT and LIMIT for the log.
# Usage: assert_times_out S0 SETTLE WHAT LIMIT
assert_times_out() {
	local s0=$1 settle=$2 what=$3 limit=$4 t0=$SECONDS n
	run timeout 120 pypi-mirror -c "$CONF" mirror
	[ "$status" -ne 124 ] || fail "the run did not end within 120 s"
	assert_reported demo-pkg "$TARNAME" "[Tt]ime(d)? ?out|timeout" "$s0"
	echo "# $what gave up after $((SECONDS - t0)) s ($limit, $RETRIES retries)" >&3
	n=$(settled_requests "/$TAR" "$settle")
	[ "$n" -ge 1 ] && [ "$n" -le $((1 + RETRIES)) ] || fail "/$TAR requested $n times"
}

@test "0808 faults: a stalled answer, and a trickle slower in all than global-timeout, fail within bounded time and retries" {
	local s0
	s0=$(status)
	new_release demo-pkg 5.8
	# A stall: headers only after 6 s, past timeout = 2.
	admin fault path="/$TAR" kind=slow delay=6
	assert_times_out "$s0" 8 "a stalled download" "timeout = 2"
	# A trickle: each piece in time (headers at 1.8 s, then a piece every
	# 0.18 s) but the whole slower than global-timeout = 3.
	admin clear-faults
	admin reset-stats
	config_file "$CONF" "$M" "$BATS_TEST_TMPDIR"
	sed -i 's/^global-timeout = .*/global-timeout = 3/' "$CONF"
	admin fault path="/$TAR" kind=slow delay=1.8
	assert_times_out "$s0" 4 "a trickling download" "global-timeout = 3"
	assert_invariants
	config_file "$CONF" "$M" "$BATS_TEST_TMPDIR"
	assert_converges
}

@test "0809 faults: a 503 for ever on one project's JSON API: that project fails, named; the others land" {
	local s0
	s0=$(status)
	admin new-release name=demo-pkg version=5.9
	admin new-release name=mixedcase version=5.9
	admin fault path=/pypi/demo-pkg/json kind=503
	run pm mirror
	assert_reported demo-pkg "" "503" "$s0"
	assert_bounded /pypi/demo-pkg/json
	grep -qi 'mixedcase-5\.9' "$M/web/simple/mixedcase/index.v1_json" || fail "the other project did not land"
	assert_invariants
	assert_converges
}

@test "0810 faults: a JSON API document cut short, or corrupted, is refused naming the project" {
	local s0 kind
	local v=0
	for kind in truncate corrupt reset; do
		s0=$(status)
		v=$((v + 1))
		admin new-release name=demo-pkg version="6.0.$v"
		admin fault path=/pypi/demo-pkg/json kind="$kind"
		run pm mirror
		assert_reported demo-pkg "" "JSON|json|parse|truncat|reset|Recv|transfer|bytes|invalid" "$s0"
		assert_bounded /pypi/demo-pkg/json
		assert_invariants
		admin clear-faults
		admin reset-stats
	done
	assert_converges
}

# The files of the mirror written since DIR/status (but the log, the run's
# working files and pypi-mirror.last-run: every run records how it ended
# there, a failed one too, and status is written after it).
newer_than_status() {
	(cd "$M" && find . -type f ! -name '*.log' ! -path './.pypi-mirror.work/*' ! -name pypi-mirror.last-run -newer status |
		LC_ALL=C sort)
}

@test "0811 faults: upstream's index unreachable (503 for ever): exit 3, nothing changed" {
	local before
	admin new-release name=demo-pkg version=6.1
	before=$(newer_than_status)
	cp "$M/status" "$BATS_TEST_TMPDIR/status.before"
	admin fault path=/simple/ kind=503
	run pm mirror
	assert_failure 3
	assert_output --partial 'unreachable'
	assert_bounded /simple/
	cmp "$M/status" "$BATS_TEST_TMPDIR/status.before"
	assert_equal "$(newer_than_status)" "$before"
	refute_grep 'demo-pkg-6.1\|demo_pkg-6.1' "$M/web/simple/demo-pkg/index.v1_json"
	assert_converges
}

@test "0812 faults: XML-RPC source: a 500 for ever on POST /pypi is exit 3; a 429 with Retry-After once is waited out" {
	config_file "$CONF" "$M" "$BATS_TEST_TMPDIR"
	printf 'source = xmlrpc\n' >>"$CONF"
	admin new-release name=demo-pkg version=6.2
	admin fault path=/pypi kind=500 method=POST
	run pm mirror
	assert_failure 3
	assert_bounded /pypi POST
	admin clear-faults
	admin reset-stats
	admin fault path=/pypi kind=429 method=POST count=1 retry_after=1
	run pm mirror
	assert_success
	[ "$(status)" = "$(upstream_serial)" ]
	assert_converges
}

@test "0813 faults: a release added between pkg-resolve and artifact-get: the run completes, status does not claim it, the next run lands it" {
	local s0 mid
	s0=$(status)
	new_release demo-pkg 6.3
	# The files of 6.3 are slow, so the run is between pkg-resolve and the
	# end of artifact-get when upstream changes the project again. Slow, not
	# stalled: timeout = 5 leaves a loaded machine room for the 1.5 s.
	admin fault path="/$TAR" kind=slow delay=1.5
	sed -i 's/^timeout = .*/timeout = 5/' "$CONF"
	pm_background mirror
	wait_until 30 "artifact-get to ask for $TAR" asked "/$TAR"
	[ "$(requests /pypi/demo-pkg/json)" -ge 1 ] || fail "pkg-resolve had not asked for demo-pkg"
	admin new-release name=demo-pkg version=6.4
	mid=$(upstream_serial)
	wait "$BG_PID" || fail "$(cat "$BATS_TEST_TMPDIR/bg.out")"
	BG_PID=
	[ "$(status)" -lt "$mid" ] || fail "status $(status) claims the release added at serial $mid"
	grep -q 'demo_pkg-6.3' "$M/web/simple/demo-pkg/index.v1_json"
	assert_invariants
	run pm mirror
	assert_success
	grep -q 'demo_pkg-6.4' "$M/web/simple/demo-pkg/index.v1_json"
	assert_converges
}

@test "0814 faults: a file removed upstream between pkg-resolve and its download: reported (404), the next run converges" {
	local s0
	s0=$(status)
	new_release demo-pkg 6.5
	admin fault path="/$TAR" kind=slow delay=1.5 count=1
	pm_background mirror
	wait_until 30 "pkg-resolve to ask for demo-pkg" asked /pypi/demo-pkg/json
	# The watcher learns the wheel while upstream lists it: fetched before
	# it goes (a loaded machine), it is a file upstream did list.
	watcher snapshot "$EMU_URL" "$SNAP"
	admin remove-file name=demo-pkg filename="$WHLNAME"
	local rc=0
	wait "$BG_PID" || rc=$?
	BG_PID=
	run cat "$BATS_TEST_TMPDIR/bg.out"
	if [ "$rc" -eq 1 ]; then
		# the wheel was not fetched yet: a 404 naming it
		assert_output --regexp "ERROR: .*demo-pkg.*${WHLNAME//./\\.}.*404"
	else
		# the wheel was fetched before it went away: a clean run
		[ "$rc" -eq 0 ] || fail "exit $rc: $output"
	fi
	assert_invariants
	assert_converges
	[ ! -e "$M/web/$WHL" ] || [ "$rc" -eq 1 ] || fail "$WHL is still on disk"
}

@test "0815 faults: a flaky upstream (a third of all requests fail, every kind) from scratch: bounded, and it converges" {
	rm -rf "$M"
	local kind
	for kind in 500 503 reset truncate; do
		admin fault path=/packages/ kind="$kind" rate=0.1 seed=7
		admin fault path=/pypi/ kind="$kind" rate=0.08 seed=8
	done
	run pm mirror
	[ "$status" -eq 0 ] || [ "$status" -eq 1 ] || fail "exit $status: $output"
	if [ "$status" -eq 1 ]; then
		# every failure is named: a project, and its reason
		run grep -c 'ERROR: ' <<<"$output"
		[ "$output" -ge 1 ]
	fi
	local worst
	worst=$(emu_stats | jq '[.requests | to_entries[] | select(.key | startswith("GET ")) | .value] | max')
	[ "$worst" -le $((1 + RETRIES)) ] || fail "a path was requested $worst times"
	assert_invariants
	assert_converges
}
