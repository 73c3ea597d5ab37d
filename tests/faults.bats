#!/usr/bin/env bats
# 08NN: an upstream that misbehaves, through the whole wrapper. Each fault of
# the emulator (500/503/429 with and without Retry-After, connection resets,
# truncated and corrupt bodies, trickles slower than the timeout, a project
# that changes in the middle of a run) must end in a run that completes, or
# one that reports precisely (project, file, reason); retries are bounded
# (requests for the faulted path <= 1 + PYPI_MIRROR_RETRIES); nothing partial
# or ahead of the content is ever visible (lib/watcher.py); and once upstream
# behaves, the next run converges to a clean sync of the same upstream.

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load
load lib/emulator

bats_require_minimum_version 1.5.0

RETRIES=2

setup_file() {
	export EMU_STATE="$BATS_FILE_TMPDIR/emu"
	emu_generate "$EMU_STATE" --projects 6 --seed 31 --releases 2 --pad-bytes 20000 >/dev/null 2>&1
	emu_start
	PY="$(_emu_python)"
	export PY
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

teardown_file() {
	emu_stop_all
}

setup() {
	export PYPI_MIRROR_RETRIES=$RETRIES PYPI_MIRROR_BACKOFF=0.05
	unset PYPI_MIRROR_CONFIG PYPI_MIRROR_UPSTREAM PYPI_MIRROR_ALLOW_NON_HTTPS
	M="$BATS_TEST_TMPDIR/mirror"
	CONF="$BATS_TEST_TMPDIR/m.conf"
	SNAP="$BATS_TEST_TMPDIR/upstream.json"
	cp -a "$TEMPLATE" "$M"
	config_file "$CONF" "$M" "$BATS_TEST_TMPDIR"
	admin reset-stats
}

teardown() {
	[ -n "${BG_PID:-}" ] && kill -9 -- "-$BG_PID" 2>/dev/null
	admin clear-faults
	return 0
}

# config_file FILE MIRROR LOGDIR [extra [mirror] lines]
config_file() {
	cat >"$1" <<-EOF
	[mirror]
	directory = $2
	master = $EMU_URL
	allow-non-https = true
	workers = 2
	timeout = 2
	global-timeout = 20
	${4:-}

	[pypi-mirror]
	log-dir = $3/log-${2##*/}
	stale-backoff = 0
	stale-rounds = 1
	EOF
}

admin() { emu_admin "$@" >/dev/null; }

pm() { pypi-mirror -c "$CONF" "$@"; }
watcher() { "$PY" "$BATS_TEST_DIRNAME/lib/watcher.py" "$@"; }
upstream_serial() { curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/" | jq '.meta."_last-serial"'; }
status() { cat "$M/status"; }

# How many times upstream was asked for PATH (METHOD default GET).
requests() { emu_stats | jq --arg k "${2:-GET} $1" '.requests[$k] // 0'; }
assert_bounded() {
	local n
	n=$(requests "$@")
	[ "$n" -ge 1 ] || fail "upstream was never asked for $1"
	[ "$n" -le $((1 + RETRIES)) ] || fail "$1 was requested $n times; retries are bounded to $RETRIES"
}

# A new release (two files, one with a .metadata) of project $1; sets
# TAR, WHL (paths) and TARNAME, WHLNAME (file names).
new_release() {
	admin new-release name="$1" version="$2" pad=20000
	local doc
	doc=$(curl -fsS "$EMU_URL/pypi/$1/json?fresh=$RANDOM")
	TAR=$(jq -r --arg v "$2" '.releases[$v][] | select(.packagetype == "sdist") | .url | sub("^[a-z]+://[^/]+/"; "")' <<<"$doc")
	WHL=$(jq -r --arg v "$2" '.releases[$v][] | select(.packagetype == "bdist_wheel") | .url | sub("^[a-z]+://[^/]+/"; "")' <<<"$doc")
	TARNAME=${TAR##*/} WHLNAME=${WHL##*/}
	[ -n "$TAR" ] && [ -n "$WHL" ]
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
	local s0
	s0=$(status)
	new_release demo-pkg 5.3
	admin new-release name=mixedcase version=5.3
	admin fault path="/$TAR" kind=429
	run pm mirror
	assert_reported demo-pkg "$TARNAME" "429" "$s0"
	assert_bounded "/$TAR"
	[ -f "$M/web/simple/mixedcase/index.html" ] && grep -q 'mixedcase-5.3' "$M/web/simple/mixedcase/index.v1_json" ||
		grep -qi 'mixedcase-5\.3' "$M/web/simple/mixedcase/index.v1_json" || fail "the other project did not land"
	assert_invariants
	assert_converges
}

@test "0804 faults: 429 with Retry-After for ever: the pauses are honoured but bounded; the project fails precisely" {
	local s0
	s0=$(status)
	new_release demo-pkg 5.4
	admin fault path="/$WHL" kind=429 retry_after=1
	run pm mirror
	assert_reported demo-pkg "$WHLNAME" "429" "$s0"
	assert_bounded "/$WHL"
	assert_invariants
	assert_converges
}

@test "0805 faults: connection resets mid-body for ever: bounded, reported, nothing partial" {
	local s0
	s0=$(status)
	new_release demo-pkg 5.5
	admin fault path="/$TAR" kind=reset
	run pm mirror
	assert_reported demo-pkg "$TARNAME" "reset|Recv failure|connection|transfer closed|receive" "$s0"
	assert_bounded "/$TAR"
	[ ! -e "$M/web/$TAR" ]
	assert_invariants
	assert_converges
}

@test "0806 faults: truncated bodies for ever: bounded, reported, nothing partial" {
	local s0
	s0=$(status)
	new_release demo-pkg 5.6
	admin fault path="/$TAR" kind=truncate
	run pm mirror
	assert_reported demo-pkg "$TARNAME" "truncat|bytes|size|transfer closed|partial" "$s0"
	assert_bounded "/$TAR"
	[ ! -e "$M/web/$TAR" ]
	assert_invariants
	assert_converges
}

@test "0807 faults: corrupt bytes for ever: sha256 mismatch, bounded, reported, nothing under the real name" {
	local s0
	s0=$(status)
	new_release demo-pkg 5.7
	admin fault path="/$WHL" kind=corrupt
	run pm mirror
	assert_reported demo-pkg "$WHLNAME" "sha256" "$s0"
	assert_bounded "/$WHL"
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

@test "0808 faults: a stalled answer, and a trickle slower in all than global-timeout, fail within bounded time and retries" {
	local s0 t0 n
	s0=$(status)
	new_release demo-pkg 5.8
	# A stall: headers only after 6 s, past timeout = 2.
	admin fault path="/$TAR" kind=slow delay=6
	t0=$SECONDS
	run timeout 120 pypi-mirror -c "$CONF" mirror
	[ "$status" -ne 124 ] || fail "the run did not end within 120 s"
	assert_reported demo-pkg "$TARNAME" "[Tt]ime(d)? ?out|timeout" "$s0"
	echo "# a stalled download gave up after $((SECONDS - t0)) s (timeout = 2, $RETRIES retries)" >&3
	n=$(settled_requests "/$TAR" 8)
	[ "$n" -ge 1 ] && [ "$n" -le $((1 + RETRIES)) ] || fail "/$TAR requested $n times"
	# A trickle: each piece in time (headers at 1.8 s, then a piece every
	# 0.18 s) but the whole slower than global-timeout = 3.
	admin clear-faults
	admin reset-stats
	config_file "$CONF" "$M" "$BATS_TEST_TMPDIR"
	sed -i 's/^global-timeout = .*/global-timeout = 3/' "$CONF"
	admin fault path="/$TAR" kind=slow delay=1.8
	t0=$SECONDS
	run timeout 120 pypi-mirror -c "$CONF" mirror
	[ "$status" -ne 124 ] || fail "the run did not end within 120 s"
	assert_reported demo-pkg "$TARNAME" "[Tt]ime(d)? ?out|timeout" "$s0"
	echo "# a trickling download gave up after $((SECONDS - t0)) s (global-timeout = 3, $RETRIES retries)" >&3
	n=$(settled_requests "/$TAR" 4)
	[ "$n" -ge 1 ] && [ "$n" -le $((1 + RETRIES)) ] || fail "/$TAR requested $n times"
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

@test "0811 faults: upstream's index unreachable (503 for ever): exit 3, nothing changed" {
	local before
	admin new-release name=demo-pkg version=6.1
	before=$(cd "$M" && find . -type f ! -name '*.log' ! -path './.pypi-mirror.work/*' -newer status 2>/dev/null | wc -l)
	cp "$M/status" "$BATS_TEST_TMPDIR/status.before"
	admin fault path=/simple/ kind=503
	run pm mirror
	assert_failure 3
	assert_output --partial 'unreachable'
	assert_bounded /simple/
	cmp "$M/status" "$BATS_TEST_TMPDIR/status.before"
	! grep -q 'demo-pkg-6.1\|demo_pkg-6.1' "$M/web/simple/demo-pkg/index.v1_json"
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
	# end of artifact-get when upstream changes the project again.
	admin fault path="/$TAR" kind=slow delay=1.5
	setsid pypi-mirror -c "$CONF" mirror >"$BATS_TEST_TMPDIR/bg.out" 2>&1 3>&- &
	BG_PID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(requests "/$TAR")" -ge 1 ] && break
		sleep 0.05
	done
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
	setsid pypi-mirror -c "$CONF" mirror >"$BATS_TEST_TMPDIR/bg.out" 2>&1 3>&- &
	BG_PID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(requests /pypi/demo-pkg/json)" -ge 1 ] && break
		sleep 0.05
	done
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
