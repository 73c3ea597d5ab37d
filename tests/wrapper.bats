#!/usr/bin/env bats
# pypi-mirror, the wrapper cron runs: the whole story against the PyPI
# emulator, over real HTTP on loopback, asserting on what lands on disk, on
# DIR/status and the failed list, on the exit status and on the log.

load lib/common

# One emulator for the whole file: starting one costs seconds. Each test
# gets a fresh mirror and changes its own projects of the ten (so the tests
# do not depend on each other's order), and teardown undoes faults, stale
# copies and the PURGE policy. Projects: Foo.Bar-baz Net-00006 zope.interface
# MixedCase Demo_Pkg util_00008 UPPER-case__pkg PKG-.00009 pkg__00007
# simple.Lib_Name.
setup_file() {
	emu_file_start --projects 10 --seed 7
}

setup() {
	tool_env
	M="$BATS_TEST_TMPDIR/mirror"
	LOGDIR="$BATS_TEST_TMPDIR/log"
	CONF="$BATS_TEST_TMPDIR/pypi-mirror.conf"
}

teardown() {
	common_teardown
	if [ -n "${NGINX_PID_STARTED:-}" ] && declare -F nginx_stop >/dev/null; then nginx_stop; fi
	admin clear-faults
	admin purge-policy policy=accept
	local n
	for n in ${STALED:-}; do admin unstale name="$n"; done
	return 0
}

# Freezes a project's CDN copy (undone in teardown).
stale() {
	admin stale name="$1"
	STALED="${STALED:-} $1"
}

# Writes the configuration; extra lines for [mirror] and [pypi-mirror].
config() {
	write_config "$CONF" "$M" "$LOGDIR" "${1:-}" "metrics-file = $BATS_TEST_TMPDIR/metrics/pypi-mirror.prom
${2:-}"
}

# "sha256 path" of every file of a project, fresh (a query string bypasses
# the emulator's stale CDN copies).
upstream_files() {
	curl -fsSL "$EMU_URL/pypi/$(norm "$1")/json?fresh=$RANDOM" |
		jq -r '.releases[][] | "\(.digests.sha256) \(.url | sub("^[a-z]+://[^/]+/"; ""))"'
}

# Every upstream file is on disk with its sha256, every project has its
# pages, and no package file is on disk that upstream does not list.
assert_mirror_complete() {
	local n want="$BATS_TEST_TMPDIR/want" have="$BATS_TEST_TMPDIR/have"
	local -a names urls=()
	mapfile -t names < <(simple_root | jq -r '.projects[].name | ascii_downcase | gsub("[-_.]+"; "-")')
	for n in "${names[@]}"; do
		[ -f "$M/web/simple/$n/index.html" ] || fail "no page for $n"
		[ -f "$M/web/simple/$n/index.v1_json" ] || fail "no JSON page for $n"
		urls+=("$EMU_URL/pypi/$n/json?fresh=$RANDOM")
	done
	curl -fsSL "${urls[@]}" | jq -r '.releases[][] | "\(.digests.sha256)  \(.url | sub("^[a-z]+://[^/]+/"; ""))"' >"$want"
	run bash -c "cd '$M/web' && sha256sum -c --quiet '$want'"
	assert_success
	cut -d' ' -f3 "$want" | sort >"$want.paths"
	(cd "$M/web" && find packages -type f ! -name '*.metadata' ! -name '.*') | sort >"$have"
	run diff "$want.paths" "$have"
	assert_success
}

file_gets() { emu_stats | jq '[.requests | to_entries[] | select(.key | startswith("GET /packages/")) | .value] | add // 0'; }

@test "0601 pypi-mirror: first sync lands everything, an idle run does nothing" {
	config "diff-file = {{ mirror_directory }}/mirrored-files"
	local n
	n=$(simple_root | jq '.projects | length')
	run pm mirror
	assert_success
	assert_output --partial "Run summary: projects=$n "
	assert_output --regexp "failed=0 serial=0->[0-9]+ "
	[ "$(status)" = "$(upstream_serial)" ]
	assert_mirror_complete
	[ -f "$M/web/simple/index.html" ] && [ -f "$M/web/simple/index.v1_json" ]
	[ "$(jq '.projects | length' "$M/web/simple/index.v1_json")" -eq "$n" ]
	[ "$(jq '.meta."_last-serial"' "$M/web/simple/index.v1_json")" = "$(status)" ]
	[ "$(cat "$M/generation")" = 5 ]
	grep -Eq '^[0-9]{8}T[0-9:]{8}$' "$M/web/last-modified"
	[ ! -e "$M/pypi-mirror.failed" ]
	# the log file got the tools' lines and ours, in one format
	grep -q 'INFO: Syncing package: ' "$LOGDIR/pypi-mirror.log"
	grep -Eq "^[0-9-]{10} [0-9:]{8},[0-9]{3} INFO: Run summary: projects=$n " "$LOGDIR/pypi-mirror.log"
	# diff-file: absolute paths of what was written, packages and pages
	grep -q "^$M/web/simple/demo-pkg/index.html$" "$M/mirrored-files"
	[ "$(grep -c "^$M/web/packages/.*\.whl$" "$M/mirrored-files")" -eq "$(grep -c '\.whl$' "$BATS_TEST_TMPDIR/want.paths")" ]
	# metrics: each non-comment line is "name value"
	local prom="$BATS_TEST_TMPDIR/metrics/pypi-mirror.prom"
	run grep -Ev '^(# (HELP|TYPE) .*|[a-z_]+ -?[0-9]+(\.[0-9]+)?)$' "$prom"
	assert_failure
	grep -q "^pypi_mirror_serial $(status)$" "$prom"
	grep -q "^pypi_mirror_run_projects $n$" "$prom"
	grep -q '^pypi_mirror_last_exit_code 0$' "$prom"
	grep -q '^pypi_mirror_lag 0$' "$prom"

	# idle: nothing changed upstream, so no file is fetched and status stays
	local before
	before=$(status)
	admin reset-stats
	run pm mirror
	assert_success
	assert_output --partial "projects=0 files=0 bytes=0 deleted=0 stale=0 purged=0 failed=0 serial=$before->$before"
	[ "$(file_gets)" -eq 0 ]
	[ "$(status)" = "$before" ]
	[ "$(emu_stats | jq '[.requests | to_entries[] | select(.key | startswith("GET /pypi/")) | .value] | add // 0')" -eq 0 ]
	# An idle run from cron is mostly process start-ups: the programs it
	# starts (the wrapper, mirror-config, mirror-state for begin, plan,
	# collect and the log, changelog-fetch, mktemp, flock, two rm) are
	# counted, so that one more is a choice someone made. (LeakSanitizer
	# cannot stop a traced process at exit: off for this run.)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=execve -e signal=none -o "$BATS_TEST_TMPDIR/execs" pypi-mirror -c "$CONF" -q mirror
	local started
	started=$(grep 'execve(' "$BATS_TEST_TMPDIR/execs" | grep -v ENOENT | sed 's/.*execve("\([^"]*\)".*/\1/')
	[ "$(wc -l <<<"$started")" -le 11 ] || fail "an idle run started $(wc -l <<<"$started") programs: $(tr '\n' ' ' <<<"$started")"
}

@test "0602 pypi-mirror: a new release, a removed file and a removed project reach disk" {
	config
	run pm mirror
	assert_success
	local victim path
	victim=$(upstream_files zope.interface | head -n 1 | cut -d' ' -f2)
	[ -f "$M/web/$victim" ]
	admin new-release name=Demo_Pkg version=7.0
	admin remove-file name=zope.interface filename="${victim##*/}"
	admin remove-project name=PKG-.00009
	# The programs of a run that syncs are counted too (see 0601): the idle
	# run's, the pipeline's four tools and index-write again for the root's
	# serial; no stale round when serial-check found nothing stale.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		run strace -f -qq -e trace=execve -e signal=none -o "$BATS_TEST_TMPDIR/execs" pypi-mirror -c "$CONF" mirror
	assert_success
	local started
	started=$(grep 'execve(' "$BATS_TEST_TMPDIR/execs" | grep -v ENOENT | sed 's/.*execve("\([^"]*\)".*/\1/')
	[ "$(wc -l <<<"$started")" -le 16 ] || fail "a run with changes started $(wc -l <<<"$started") programs: $(tr '\n' ' ' <<<"$started")"
	refute_grep '"stale-round"' "$BATS_TEST_TMPDIR/execs"
	[ "$(status)" = "$(upstream_serial)" ]
	[ ! -e "$M/web/$victim" ]
	[ ! -e "$M/web/simple/pkg-00009/index.html" ]
	refute_grep pkg-00009 "$M/web/simple/index.html"
	assert_output --regexp 'deleted=[1-9][0-9]* '
	grep -q 'demo_pkg-7.0' "$M/web/simple/demo-pkg/index.html"
	assert_mirror_complete
}

@test "0603 pypi-mirror: a stale CDN answer heals in the same run when PURGE is accepted" {
	config
	run pm mirror
	assert_success
	stale MixedCase
	admin new-release name=MixedCase version=5.0
	run pm mirror
	assert_success
	assert_output --partial 'Expected PyPI serial'
	assert_output --partial 'Purging MixedCase'
	assert_output --partial 'stale=1 purged=1 failed=0'
	[ "$(emu_stats | jq '[.purges[]] | add // 0')" -ge 1 ]
	[ "$(status)" = "$(upstream_serial)" ]
	grep -q 'mixedcase-5.0' "$M/web/simple/mixedcase/index.html"
	assert_mirror_complete
}

@test "0604 pypi-mirror: with PURGE refused, cache busting heals it; the refusal is logged once" {
	config
	run pm mirror
	assert_success
	admin purge-policy policy=refuse
	stale Foo.Bar-baz
	stale simple.Lib_Name
	admin new-release name=Foo.Bar-baz version=5.0
	admin new-release name=simple.Lib_Name version=5.0
	run pm mirror
	assert_success
	[ "$(grep -c 'PURGE refused' <<<"$output")" -eq 1 ]
	assert_output --partial 'stale=2 purged=0 failed=0'
	[ "$(emu_stats | jq '[.purges_refused[]] | add // 0')" -ge 1 ]
	[ "$(status)" = "$(upstream_serial)" ]
	grep -q 'foo_bar_baz-5.0' "$M/web/simple/foo-bar-baz/index.html"
	grep -q 'simple_lib_name-5.0' "$M/web/simple/simple-lib-name/index.html"
}

@test "0605 pypi-mirror: a project that always fails does not block the others, and heals later" {
	config
	run pm mirror
	assert_success
	local s0 broken_serial
	s0=$(status)
	admin new-release name=UPPER-case__pkg version=9.0
	broken_serial=$(upstream_serial)
	admin new-release name=Net-00006 version=9.0
	admin fault path=/pypi/upper-case-pkg/json kind=500
	admin fault path=/pypi/UPPER-case__pkg/json kind=500
	run pm mirror
	assert_failure 1
	assert_output --partial 'failed=1'
	grep -q '"name":"upper-case-pkg"' "$M/pypi-mirror.failed"
	# the other project advanced; status stops just before the broken change
	grep -q 'net_00006-9.0' "$M/web/simple/net-00006/index.html"
	[ "$(status)" -eq $((broken_serial - 1)) ]
	[ "$(status)" -gt "$s0" ]
	run pm status
	assert_success
	assert_output --partial "mirror serial: $((broken_serial - 1))"
	assert_output --partial "upstream serial: $(upstream_serial)"
	assert_output --regexp 'failed projects: 1: upper-case-pkg \(serial [0-9]+\)'
	grep -q 'exit=1' "$M/pypi-mirror.last-run"

	# retried on the next run even though nothing new changed upstream
	admin reset-stats
	run pm mirror
	assert_failure 1
	[ "$(emu_stats | jq '[.requests | to_entries[] | select(.key | test("^GET /pypi/(upper-case-pkg|UPPER-case__pkg)/json")) | .value] | add // 0')" -ge 1 ]
	[ "$(status)" -eq $((broken_serial - 1)) ]

	# a change elsewhere still lands while it is broken
	admin new-release name=util_00008 version=9.0
	run pm mirror
	assert_failure 1
	grep -q 'util_00008-9.0' "$M/web/simple/util-00008/index.html"
	[ "$(status)" -eq $((broken_serial - 1)) ]

	admin clear-faults
	run pm mirror
	assert_success
	assert_output --partial 'failed=0'
	[ "$(status)" = "$(upstream_serial)" ]
	[ ! -e "$M/pypi-mirror.failed" ]
	grep -q 'upper_case_pkg-9.0' "$M/web/simple/upper-case-pkg/index.html"
	assert_mirror_complete
	run pm status
	assert_output --partial 'failed projects: none'
	assert_output --partial 'lag: 0'
}

@test "0606 pypi-mirror: a second run while the lock is held exits 4 at once" {
	config
	run pm mirror
	assert_success
	local s
	s=$(status)
	flock "$M/.lock" sleep 5 3>&- &
	local holder=$!
	# Run only once the holder has the lock (flock -n fails while it is held).
	wait_until 5 "the lock to be taken" bash -c '! flock -n "$1" true' _ "$M/.lock"
	run pm mirror
	kill "$holder" 2>/dev/null
	assert_failure 4
	assert_output --partial "Another instance is running (lock $M/.lock held)"
	[ "$(status)" = "$s" ]
	grep -q 'Another instance is running' "$LOGDIR/pypi-mirror.log"
}

@test "0607 pypi-mirror: kill -9 mid-run, then a normal run: complete, and status never ran ahead" {
	config
	run pm mirror
	assert_success
	local s0 target slow
	s0=$(status)
	admin new-release name=pkg__00007 version=8.0
	admin new-release name=simple.Lib_Name version=8.0
	target=$(upstream_serial)
	slow=$(upstream_files simple.Lib_Name | grep 'simple_lib_name-8.0' | head -n 1 | cut -d' ' -f2)
	admin fault path="/$slow" kind=slow delay=20
	pm_background mirror
	# Killed while it waits for that file (upstream has been asked for it).
	wait_until 10 "a request for simple_lib_name-8.0" emu_logged simple_lib_name-8.0
	bg_kill
	# nothing advanced: status is where it was, and the old content is whole
	[ "$(status)" = "$s0" ]
	[ ! -e "$M/pypi-mirror.failed" ]
	admin clear-faults
	run pm mirror
	assert_success
	[ "$(status)" = "$target" ]
	assert_mirror_complete
	run find "$M/web" -name '.*' -type f
	assert_output ''
}

@test "0608 pypi-mirror: configuration errors exit 2 naming the key; unknown keys warn" {
	printf '[mirror]\nmaster = https://pypi.org\n' >"$CONF"
	run pm mirror
	assert_failure 2
	assert_output --partial 'directory'
	printf '[mirror]\ndirectory = %s\nmaster = http://127.0.0.1:1\n' "$M" >"$CONF"
	run pm mirror
	assert_failure 2
	assert_output --partial 'master'
	assert_output --partial 'allow-non-https'
	[ ! -e "$M/status" ]
	printf '[mirror]\ndirectory = %s\nworkers = eleven\n' "$M" >"$CONF"
	run pm mirror
	assert_failure 2
	assert_output --partial 'workers'
	run pypi-mirror -c "$BATS_TEST_TMPDIR/nope.conf" mirror
	assert_failure 2
	assert_output --partial 'nope.conf'
	# an unknown key is a warning naming file, section and key; the run goes on
	config "colour = blue" "max-delete = 5"
	run pm status
	assert_success
	assert_output --regexp "WARNING: .*pypi-mirror.conf: \[mirror\] colour: unknown key"
	assert_output --regexp "WARNING: .*\[pypi-mirror\] max-delete: unknown key"
	assert_output --partial 'mirror serial: 0'
}

@test "0609 pypi-mirror sync NAME: syncs now, leaves status alone, clears it from the failed list" {
	config "diff-file = $BATS_TEST_TMPDIR/diffs/written
diff-append-epoch = true"
	admin fault path=/pypi/zope.interface/json kind=500
	admin fault path=/pypi/zope-interface/json kind=500
	run pm mirror
	assert_failure 1
	grep -q zope-interface "$M/pypi-mirror.failed"
	local s
	s=$(status)
	admin clear-faults
	admin new-release name=Demo_Pkg version=6.0
	run pm sync zope.interface Demo_Pkg
	assert_success
	[ "$(status)" = "$s" ]
	[ ! -e "$M/pypi-mirror.failed" ]
	grep -q 'demo_pkg-6.0' "$M/web/simple/demo-pkg/index.html"
	[ -f "$M/web/simple/zope-interface/index.html" ]
	# the diff file carries the epoch and lists what this run wrote
	local diff
	diff=$(ls -t "$BATS_TEST_TMPDIR"/diffs/written.* | head -n 1)
	[[ $diff =~ written\.[0-9]{10}$ ]]
	grep -q "^$M/web/simple/demo-pkg/index.html$" "$diff"
	grep -q "demo_pkg-6.0.tar.gz$" "$diff"
	refute_grep 'simple-lib-name' "$diff"
	run pm sync 'bad/name'
	assert_failure 2
}

@test "0610 pypi-mirror: stop-on-error stops at the first failing stage and advances nothing" {
	config "stop-on-error = true"
	run pm mirror
	assert_success
	local s
	s=$(status)
	admin new-release name=MixedCase version=6.1
	admin new-release name=zope.interface version=6.1
	admin fault path=/pypi/zope-interface/json kind=500
	admin fault path=/pypi/zope.interface/json kind=500
	run pm mirror
	assert_failure 1
	assert_output --partial 'stop-on-error: pkg-resolve reported a failure'
	[ "$(status)" = "$s" ]
	[ ! -e "$M/pypi-mirror.failed" ]
	refute_grep 'mixedcase-6.1' "$M/web/simple/mixedcase/index.html"
}

@test "0611 pypi-mirror: json = true publishes the JSON API documents" {
	config "json = true"
	run pm mirror
	assert_success
	jq -e '.info.name == "Demo_Pkg"' "$M/web/json/demo-pkg"
	cmp "$M/web/json/demo-pkg" "$M/web/pypi/demo-pkg/json"
	[ -z "$(ls -A "$M/.spool" 2>/dev/null)" ]
}

@test "0612 pypi-mirror: usage, help and version" {
	run pypi-mirror --help
	assert_success
	assert_output --partial 'usage: pypi-mirror [-c CONFIG]'
	assert_output --partial 'Exit status:'
	run pypi-mirror --version
	assert_success
	assert_output --regexp '^pypi-mirror \(pypi-mirror\) [0-9]+\.[0-9]+'
	run pypi-mirror frobnicate
	assert_failure 2
	run pypi-mirror --bogus
	assert_failure 2
	run pypi-mirror sync
	assert_failure 2
	run mirror-config --help
	assert_success
	assert_output --partial 'usage: mirror-config [-c CONFIG]'
}

@test "0613 mirror-config: bandersnatch keys, defaults and shell-safe values" {
	cat >"$CONF" <<EOF
[mirror]
directory = /srv/it's here
Root_URI = https://example.org/
workers = 4
timeout = 2.5
release-files = no
keep_index_versions = 0
hash-index = false
digest_name = sha256
storage-backend = filesystem
verifiers = 3
simple-format = HTML
diff-file = {{ mirror_directory }}/mirrored-files

[plugins]
enabled =
    allowlist_project

[allowlist]
packages = requests

[filter_regex]
releases = .*rc.*
EOF
	run mirror-config -c "$CONF"
	assert_success
	refute_output --partial WARNING
	eval "$output"
	[ "$PM_DIRECTORY" = "/srv/it's here" ]
	[ "$PM_MASTER" = https://pypi.org ]
	[ "$PM_ROOT_URI" = https://example.org ]
	[ "$PM_TIMEOUT" = 3 ]
	[ "$PM_RELEASE_FILES" = 0 ]
	[ "$PM_SIMPLE_FORMAT" = html ]
	[ "$PM_CONCURRENCY" = 16 ]
	[ "$PM_LOCK_FILE" = "/srv/it's here/.lock" ]
	[ "$PM_DIFF_FILE" = "/srv/it's here/mirrored-files" ]
	[ "$PM_FILTERS_ENABLED" = 1 ]
	[ "$PM_LOG_DIR" = /var/log/pypi-mirror ]
	printf '[mirror]\ndirectory = /a\nhash-index = true\n' >"$CONF"
	run mirror-config -c "$CONF"
	assert_failure 2
	assert_output --partial 'hash-index'
	printf '[mirror]\ndirectory = /a\njson = maybe\ncompare-method = md5\n' >"$CONF"
	run mirror-config -c "$CONF"
	assert_failure 2
	assert_output --partial 'json: not a boolean'
	assert_output --partial 'compare-method'
	printf '[mirror]\ndirectory = /a\nrelease-files = false\n' >"$CONF"
	run mirror-config -c "$CONF"
	assert_success
	assert_output --partial "PM_ROOT_URI='https://files.pythonhosted.org'"
}

@test "0620 mirror-config: the tools' environment and command lines as arrays, values one word each" {
	cat >"$CONF" <<EOF
[mirror]
directory = /srv/it's here
master = http://127.0.0.1:9
allow-non-https = true
workers = 2
compare-method = stat
file-hosts = a.example b.example:8080
json = true
core-metadata = false

[pypi-mirror]
fsync = true
max-deletions = 7
purge = false
stale-rounds = 5
resolve-concurrency = 3
EOF
	run mirror-config -c "$CONF"
	assert_success
	eval "$output"
	assert_equal "$PM_WORK_DIR" "/srv/it's here/.pypi-mirror.work"
	assert_equal "$PM_SPOOL_DIR" "/srv/it's here/.spool"
	assert_equal "${PM_ENV[*]}" "PYPI_MIRROR_CONFIG=$CONF "'PYPI_MIRROR_UPSTREAM=http://127.0.0.1:9 PYPI_MIRROR_TIMEOUT=10 PYPI_MIRROR_GLOBAL_TIMEOUT=1800 PYPI_MIRROR_ALLOW_NON_HTTPS=1'
	[[ " ${PM_ENV_UNSET[*]} " == *" PYPI_MIRROR_TOKEN "* ]] || fail "${PM_ENV_UNSET[*]}"
	assert_equal "${PM_ARGS_PKG_RESOLVE[*]}" '-u http://127.0.0.1:9 -j 3 --source auto --allow-host a.example --allow-host b.example:8080'
	assert_equal "${PM_ARGS_ARTIFACT_GET[*]}" "-d /srv/it's here -u http://127.0.0.1:9 -j 8 --allow-host a.example --allow-host b.example:8080 --compare-method stat --no-progress --no-metadata --fsync"
	assert_equal "${PM_ARGS_ARTIFACT_GET[1]}" "/srv/it's here" # one word
	assert_equal "${PM_ARGS_INDEX_WRITE[*]}" "-d /srv/it's here --simple-format all --json --max-deletions 7 --fsync"
	assert_equal "${PM_ARGS_SERIAL_CHECK[*]}" '--max-rounds 5'
	assert_equal "${PM_ARGS_CDN_PURGE[*]}" '-u http://127.0.0.1:9 --no-purge'
	assert_equal "${PM_ARGS_MIRROR_STATE[*]}" "-d /srv/it's here --fsync" # purge = false
	assert_equal "${PM_ARGS_MIRROR_VERIFY[*]}" "-d /srv/it's here --json"
	assert_equal "${PM_ARGS_PKG_FILTER[*]}" "-c $CONF -d /srv/it's here --dropped /srv/it's here/.pypi-mirror.work/dropped.ndjson"
	# A credential reaches the environment array, and no command line.
	printf '[mirror]\ndirectory = /a\nusername = u\npassword = s3cr3t\n' >"$CONF"
	run mirror-config -c "$CONF"
	assert_success
	eval "$output"
	[[ " ${PM_ENV[*]} " == *" PYPI_MIRROR_PASSWORD=s3cr3t "* ]] || fail "${PM_ENV[*]}"
	local v
	for v in ${!PM_ARGS_*}; do
		v="$v[*]"
		[[ ${!v} != *s3cr3t* ]] || fail "$v carries the password"
	done
}

@test "0621 mirror-config, started by every run, loads neither libcrypto nor libexpat (the [s3] code beside what it reads uses them)" {
	assert_loads_lazily "$(command -v mirror-config)" libcrypto libexpat
	# It still reads a bucket's configuration (s3run.bats 2406 runs it on one).
	printf '[mirror]\ndirectory = /bucket/pre\nstorage-backend = s3\n[s3]\nendpoint_url = http://127.0.0.1:9\n' >"$CONF"
	AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s run mirror-config -c "$CONF"
	assert_success
	assert_line "PM_DIRECTORY='s3://bucket/pre'"
}

@test "0614 pypi-mirror: pip installs from the mirror served by nginx" {
	[ -f "$BATS_TEST_DIRNAME/lib/nginx.bash" ] || skip "tests/lib/nginx.bash is not there yet"
	load lib/nginx
	config
	run pm mirror
	assert_success
	nginx_start "$M/web"
	NGINX_PID_STARTED=1
	run python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl" demo-pkg==1.0
	assert_success
	ls "$BATS_TEST_TMPDIR"/dl/demo_pkg-1.0*
}

@test "0615 pypi-mirror: release-files = false mirrors the index only, linking to files.pythonhosted.org" {
	config "release-files = false"
	admin reset-stats
	run pm mirror
	assert_success
	[ "$(file_gets)" -eq 0 ]
	[ ! -d "$M/web/packages" ] || [ -z "$(find "$M/web/packages" -type f)" ]
	grep -q 'href="https://files.pythonhosted.org/packages/' "$M/web/simple/demo-pkg/index.html"
	[ "$(status)" = "$(upstream_serial)" ]
}

@test "0616 pypi-mirror: a filtered partial mirror never asks about the other projects" {
	config "" "$(plugins_section allowlist_project)
$(allowlist_section Demo_Pkg zope.interface)"
	admin reset-stats
	run pm mirror
	assert_success
	[ "$(status)" = "$(upstream_serial)" ]
	[ -f "$M/web/simple/demo-pkg/index.html" ] && [ -f "$M/web/simple/zope-interface/index.html" ]
	[ "$(ls "$M/web/simple" | grep -vc '^index\.')" -eq 2 ]
	# project-name filters run before pkg-resolve: one JSON request each for the two
	[ "$(emu_stats | jq '[.requests | to_entries[] | select(.key | startswith("GET /pypi/")) | .value] | add // 0')" -eq 2 ]
}

@test "0617 pypi-mirror: an unreachable upstream exits 3 and changes nothing" {
	cat >"$CONF" <<EOF
[mirror]
directory = $M
master = http://127.0.0.1:9
allow-non-https = true
[pypi-mirror]
log-dir = $LOGDIR
metrics-file = $BATS_TEST_TMPDIR/pypi-mirror.prom
EOF
	mkdir -p "$M"
	printf 1234 >"$M/status"
	run pm mirror
	assert_failure 3
	assert_output --partial 'unreachable'
	[ "$(status)" = 1234 ]
	grep -q '^pypi_mirror_last_exit_code 3$' "$BATS_TEST_TMPDIR/pypi-mirror.prom"
	grep -q '^pypi_mirror_serial 1234$' "$BATS_TEST_TMPDIR/pypi-mirror.prom"
	run pm status
	assert_failure 3
	assert_output --partial 'mirror serial: 1234'
	assert_output --partial 'upstream serial: unknown'
	assert_output --partial 'failed projects: none'
}

@test "0618 pypi-mirror [demand]: a project requested through nginx is mirrored by the next run; the others are not" {
	load lib/nginx
	mkdir -p "$M/web"
	nginx_start "$M/web"
	NGINX_PID_STARTED=1
	write_config "$CONF" "$M" "$LOGDIR" "" "" "[demand]
logs = $NGINX_ACCESS_LOG
window = 1d"
	# Nobody asked yet: the change list is read, nothing lands, status moves.
	run pm mirror
	assert_success
	[ "$(status)" = "$(upstream_serial)" ]
	[ "$(find "$M/web/simple" -mindepth 1 -type d | wc -l)" -eq 0 ]
	# A client asks for Demo_Pkg (a miss: 404) and for a name upstream does
	# not know; upstream changes a project nobody asked for.
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$NGINX_URL/simple/Demo_Pkg/")" = 404 ]
	curl -s -o /dev/null "$NGINX_URL/simple/no-such-project-0618/"
	wait_until 10 "nginx logs the requests" grep -q 'no-such-project-0618' "$NGINX_ACCESS_LOG"
	admin new-release name=zope.interface version=18.0
	run pm mirror
	assert_success
	[ "$(status)" = "$(upstream_serial)" ]
	# demo-pkg landed whole: pages, every file with its upstream sha256.
	[ -f "$M/web/simple/demo-pkg/index.html" ] && [ -f "$M/web/simple/demo-pkg/index.v1_json" ]
	upstream_files Demo_Pkg | sed 's/ /  /' >"$BATS_TEST_TMPDIR/want"
	[ -s "$BATS_TEST_TMPDIR/want" ]
	run bash -c "cd '$M/web' && sha256sum -c --quiet '$BATS_TEST_TMPDIR/want'"
	assert_success
	grep -q 'demo-pkg' "$M/web/simple/index.html"
	# Nothing else: not the changed zope.interface, not the unknown name.
	[ "$(find "$M/web/simple" -mindepth 1 -type d | wc -l)" -eq 1 ]
	[ "$(find "$M/web/packages" -type f ! -name '*.metadata' | wc -l)" -eq "$(wc -l <"$BATS_TEST_TMPDIR/want")" ]
	# pkg-demand --learn read the results: the unknown name is absent, not
	# looked up again next run; demo-pkg is held.
	jq -e -s 'any(.[]; .type == "demand" and .name == "no-such-project-0618" and .state == "absent")' "$M/pypi-mirror.demand"
	jq -e -s 'any(.[]; .type == "demand" and .name == "demo-pkg" and .state == "wanted")' "$M/pypi-mirror.demand"
	# The next request is a hit.
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$NGINX_URL/simple/demo-pkg/")" = 200 ]
}

@test "0619 pypi-mirror verify: names a missing, a corrupt and a stray file (exit 6); --repair restores them; --gc removes the stray" {
	config
	run pm mirror
	assert_success
	local -a files
	mapfile -t files < <(cd "$M/web" && find packages -type f ! -name '*.metadata' ! -name '.*' | sort)
	[ ${#files[@]} -ge 2 ]
	local gone=${files[0]} bad=${files[1]} stray=packages/0f/19/stray-0619.tar.gz before
	before=$(status)
	rm "$M/web/$gone"
	# Corrupt: same size, same mtime (a stat compare would take it as current).
	cp -p "$M/web/$bad" "$BATS_TEST_TMPDIR/orig"
	head -c "$(stat -c %s "$M/web/$bad")" /dev/zero >"$M/web/$bad"
	touch -r "$BATS_TEST_TMPDIR/orig" "$M/web/$bad"
	! cmp -s "$M/web/$bad" "$BATS_TEST_TMPDIR/orig" || fail "corrupting $bad changed nothing"
	mkdir -p "$M/web/${stray%/*}"
	printf 'nobody links me\n' >"$M/web/$stray"

	run pm verify
	assert_failure 6
	assert_output --partial "${gone##*/}"
	assert_output --partial "${bad##*/}"
	assert_output --partial "${stray##*/}"
	# verify changes nothing
	[ ! -e "$M/web/$gone" ] && [ -e "$M/web/$stray" ]

	run pm verify --repair
	# The stray is no page's to repair: it is left, and still damage.
	assert_failure 6
	assert_output --regexp 'Repairing [12] damaged projects'
	assert_output --partial "${stray##*/}"
	cmp "$M/web/$bad" "$BATS_TEST_TMPDIR/orig"
	[ -f "$M/web/$gone" ]
	[ "$(status)" = "$before" ]

	run pm verify --gc
	assert_success
	[ ! -e "$M/web/$stray" ]
	grep -qx "$stray" "$LOGDIR"/verify-gc.*.list
	run pm verify --repair
	assert_success
	refute_output --partial 'Repairing'
	[ "$(status)" = "$before" ]
	assert_mirror_complete
}
