#!/usr/bin/env bats
# 17NN: pkg-demand, the demand stage (issue 19): it reads the access log a
# real nginx writes (the shipped configuration, with a combined-format log
# added), follows it across rotation and truncation, and filters the change
# list; and the [demand] section of mirror-config.

load lib/common
load lib/nginx

NAME_RE='^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'

# The upstream of 1708, the one test that runs the whole pipeline.
setup_file() {
	emu_file_start --projects 3 --seed 7
}

setup() {
	mirror_setup
	WEB="$M/web"
	mkdir -p "$WEB/simple"
	STATE="$M/pypi-mirror.demand"
}

teardown() {
	nginx_stop
	common_teardown
}

# A project page the mirror holds (what nginx answers 200 for).
hold() {
	local n
	for n in "$@"; do
		mkdir -p "$WEB/simple/$n"
		printf '<!DOCTYPE html><html><body></body></html>\n' >"$WEB/simple/$n/index.html"
	done
}

# nginx with the shipped configuration, whose combined-format access log
# (ACCESS_LOG: nginx_start puts it under NGINX_DIR) is what pkg-demand
# reads. (Not added by a reload: an old worker still accepting after one
# logs elsewhere, and a busy machine lost requests that way.) N0: the
# lines the log has once it is written (its probes), for log_lines.
demand_nginx() {
	nginx_start "$WEB"
	ACCESS_LOG=$NGINX_ACCESS_LOG
	grep -qF "access_log $ACCESS_LOG combined;" "$NGINX_DIR/pypi-mirror.conf"
	wait_until 10 "nginx writing $ACCESS_LOG" probe_logged
	N0=$(wc -l <"$ACCESS_LOG")
}

# One request nginx logs in ACCESS_LOG once its reload is done.
probe_logged() {
	curl -s -o /dev/null "$NGINX_URL/demand-probe"
	grep -qs demand-probe "$ACCESS_LOG"
}

# Requests through nginx: each argument a path, fetched once.
get() {
	local p
	for p in "$@"; do curl -s --path-as-is -o /dev/null "$NGINX_URL$p"; done
}

# Waits until the access log (and its rotated files) has N lines (nginx
# writes after answering).
log_lines() { wait_until 10 "$1 lines in $ACCESS_LOG*" log_has "$1"; }
log_has() { [ "$(cat "$ACCESS_LOG"* 2>/dev/null | wc -l)" -ge "$1" ]; }
# Waits until the access log has N requests for PATTERN.
log_requests() { wait_until 10 "$2 requests for $1 in $ACCESS_LOG" requests_in_log "$1" "$2"; }
requests_in_log() { [ "$(grep -c -e "$1" "$ACCESS_LOG")" -ge "$2" ]; }

reopen() {
	"$NGINX_BIN" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" -s reopen
	wait_until 10 "nginx reopening $ACCESS_LOG" test -e "$ACCESS_LOG"
}

# The demand state of NAME: its field F (count, state, ...).
st() { jq -r --arg n "$1" 'select(.type == "demand" and .name == $n) | .'"$2" "$STATE"; }

changes() {
	printf '{"type":"project","name":"%s","serial":%s}\n' "$@"
	printf '{"type":"target","serial":900,"since":100,"projects":%d}\n' $(($# / 2))
}

@test "1701 requests through nginx, in any spelling, become demand; changes of projects nobody asked for are dropped" {
	hold held-one held-two
	demand_nginx
	get /simple/held-one/ /simple/Foo_Bar/ /simple/FOO.bar/ /simple/%66oo-bar/ /simple/foo--BAR \
		/pypi/Json.Only/json /packages/ab/cd/0123456789/Wheel_Pkg-1.0-py3-none-any.whl /simple/ /favicon.ico
	log_lines $((N0 + 9))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" < <(changes held-one 120 held-two 121 nobody 122 foo-bar 130)
	assert_success
	# Held projects pass, whether asked for or not; nobody is dropped; the
	# demanded foo-bar passes its change (no second record); the others come in
	# at serial 0; the target is last.
	assert_equal "$(jq -c '[.type, .name, .serial]' <<<"$output" | paste -sd' ')" \
		'["project","held-one",120] ["project","held-two",121] ["project","foo-bar",130] ["project","json-only",0] ["project","wheel-pkg",0] ["target",null,900]'
	# Four spellings of one project, one count each (the 301 for the one
	# without the slash too).
	assert_equal "$(st foo-bar count)" 4
	assert_equal "$(st foo-bar state)" wanted
	assert_equal "$(st held-one count)" 1
	assert_equal "$(st held-two last)" 0
	assert_equal "$(jq -r 'select(.type == "log") | .offset' "$STATE")" "$(stat -c %s "$ACCESS_LOG")"
	[[ "$stderr" == *"Demanded: foo-bar (1 requests in 7d)"* ]]
	[[ "$stderr" == *"1 dropped (not demanded)"* ]]
}

@test "1702 each run reads only the new lines: nothing counted twice, a threshold is reached across runs" {
	demand_nginx
	get /simple/slow-pkg/
	log_lines $((N0 + 1))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 3 --window 1h </dev/null
	assert_success
	assert_output ''
	assert_equal "$(st slow-pkg count)" 1
	assert_equal "$(st slow-pkg state)" pending
	# Nothing new: nothing counted, still waiting.
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 3 --window 1h </dev/null
	assert_output ''
	assert_equal "$(st slow-pkg count)" 1
	get /simple/slow-pkg/
	log_lines $((N0 + 2))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 3 --window 1h </dev/null
	assert_output ''
	assert_equal "$(st slow-pkg count)" 2
	get /simple/Slow.Pkg/
	log_lines $((N0 + 3))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 3 --window 1h </dev/null
	assert_output '{"type":"project","name":"slow-pkg","serial":0}'
	assert_equal "$(st slow-pkg count)" 3
	assert_equal "$(st slow-pkg state)" wanted
	# Requests outside the window do not add up: 3 requests 2 hours apart
	# in a 1h window (times from a hand-written log).
	local l="$BATS_TEST_TMPDIR/old.log" m2="$BATS_TEST_TMPDIR/m2"
	for h in 01 03 05; do
		printf '10.0.0.1 - - [23/Nov/2026:%s:00:00 +0000] "GET /simple/spread/ HTTP/1.1" 404 0 "-" "pip"\n' "$h"
	done >"$l"
	run --separate-stderr pkg-demand -d "$m2" --log "$l" --min-requests 3 --window 1h --now "$(date -d '2026-11-23 05:30Z' +%s)" </dev/null
	assert_success
	assert_output ''
	STATE=$m2/pypi-mirror.demand
	assert_equal "$(st spread state)" pending
	# The request times are kept: a wider window counts all three.
	run --separate-stderr pkg-demand -d "$m2" --log "$l" --min-requests 3 --window 6h --now "$(date -d '2026-11-23 05:30Z' +%s)" </dev/null
	assert_output '{"type":"project","name":"spread","serial":0}'
	assert_equal "$(st spread count)" 3
}

@test "1703 rotation between runs (rename, requests into the old file, reopen) loses no request and counts none twice" {
	demand_nginx
	get /simple/rot/ /simple/rot/
	log_lines $((N0 + 2))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_success
	assert_equal "$(st rot count)" 2
	# logrotate's order: rename, (nginx still writes the old file), reopen.
	mv "$ACCESS_LOG" "$ACCESS_LOG.1"
	get /simple/rot/ /simple/rot/ /simple/rot/
	log_lines $((N0 + 5))
	reopen
	get /simple/rot/ /simple/rot/ /simple/rot/ /simple/rot/
	log_lines $((N0 + 9))
	[ "$(grep -c /simple/rot/ "$ACCESS_LOG")" -eq 4 ]
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_success
	[[ "$stderr" == *"was rotated since the last run: reading the rest of $ACCESS_LOG.1 from byte"* ]]
	assert_equal "$(st rot count)" 9
	# And again: nothing new, nothing counted.
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_equal "$(st rot count)" 9
	[ "$(jq -r 'select(.type == "log") | .inode' "$STATE")" = "$(stat -c %i "$ACCESS_LOG")" ]
}

@test "1704 two rotations between runs, the older one gzipped: read from where the run stopped, then the rest whole" {
	demand_nginx
	get /simple/gz-pkg/
	log_lines $((N0 + 1))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_success
	get /simple/gz-pkg/ /simple/gz-pkg/
	log_lines $((N0 + 3))
	mv "$ACCESS_LOG" "$ACCESS_LOG.1"
	reopen
	get /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/
	# Second rotation, logrotate's compress: .1 -> .2.gz (a new inode).
	log_requests gz-pkg 4
	mv "$ACCESS_LOG.1" "$ACCESS_LOG.2"
	gzip "$ACCESS_LOG.2"
	mv "$ACCESS_LOG" "$ACCESS_LOG.1"
	reopen
	get /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/ /simple/gz-pkg/
	log_requests gz-pkg 8
	[ -f "$ACCESS_LOG.2.gz" ]
	[ ! -e "$ACCESS_LOG.2" ]
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_success
	[[ "$stderr" == *"reading the rest of $ACCESS_LOG.2.gz from byte"* ]]
	[[ "$stderr" == *"reading $ACCESS_LOG.1"* ]]
	assert_equal "$(st gz-pkg count)" 15 || { echo "$stderr"; false; }
}

@test "1705 a log truncated under us starts over; its lost tail is reported, nothing counted twice" {
	demand_nginx
	get /simple/trunc/ /simple/trunc/ /simple/trunc/
	log_lines $((N0 + 3))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_equal "$(st trunc count)" 3
	# copytruncate without the copy: nginx (O_APPEND) goes on at the new end.
	: >"$ACCESS_LOG"
	get /simple/trunc/
	wait_until 10 "a line in the truncated $ACCESS_LOG" test -s "$ACCESS_LOG"
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_success
	[[ "$stderr" == *"$ACCESS_LOG was truncated since the last run"*"are not counted"* ]]
	assert_equal "$(st trunc count)" 4
	# copytruncate with the copy: the rest is read from LOG.1.
	get '/simple/trunc/?n=5' '/simple/trunc/?n=6'
	log_requests trunc 3
	cp "$ACCESS_LOG" "$ACCESS_LOG.1"
	: >"$ACCESS_LOG"
	# (A line byte for byte the same as the old first one would look like
	# the old file going on: real lines differ in time, address or path.)
	get '/simple/trunc/?n=7'
	wait_until 10 "a line in the truncated $ACCESS_LOG" test -s "$ACCESS_LOG"
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" --min-requests 100 </dev/null
	assert_success
	[[ "$stderr" == *"was truncated (and written again) since the last run: reading the rest of $ACCESS_LOG.1"* ]] || { echo "$stderr"; cat "$ACCESS_LOG"; false; }
	assert_equal "$(st trunc count)" 7
}

@test "1706 hostile requests and lines: counted and reported, never a crash, never a record with a garbage name" {
	demand_nginx
	# Through nginx: traversal, escapes, odd bytes, an overlong name, quotes.
	get '/simple/../../etc/passwd' '/simple/%2e%2e/x/' '/simple/a%00b/' '/simple/caf%C3%A9/' \
		"/simple/$(printf 'a%.0s' $(seq 1 300))/" '/simple/%22quoted%22/' '/simple/x%0aINJECT/' \
		'/packages/ab/cd/ef/..%2f..%2fetc-1.0.tar.gz' '/simple/good-one/'
	log_lines $((N0 + 9))
	# Straight into the log: lines that are not nginx's, binary, overlong.
	{
		printf 'not a log line\n'
		printf '\x00\xff\xfe binary \x1b[31m\n'
		printf '1.2.3.4 - - [99/Nov/2026:01:00:00 +0000] "GET /simple/bad-time/ HTTP/1.1" 200 1 "-" "-"\n'
		printf '1.2.3.4 - - [23/Nov/2026:01:00:00 +0000] "GET /simple/%s/ HTTP/1.1" 200 1 "-" "-"\n' "$(head -c 200000 /dev/zero | tr '\0' a)"
		printf '1.2.3.4 - - [23/Nov/2026:01:00:00 +0000] "GET /simple/unclosed/ HTTP/1.1 200 1\n'
	} >>"$ACCESS_LOG"
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" </dev/null
	assert_success
	assert_output '{"type":"project","name":"good-one","serial":0}'
	# Only clean names in the state either.
	run jq -r 'select(.type == "demand") | .name' "$STATE"
	assert_output 'good-one'
	[[ "$stderr" =~ "5 malformed, 8 hostile" ]] || { echo "$stderr"; false; }
	[[ "$stderr" == *"not an access log line"* ]]
	[[ "$stderr" == *"line longer than 65536 bytes, skipped"* ]]
	[[ "$stderr" == *"a . or .. segment in the path"* ]]
	# Our log shows hostile bytes escaped, never raw.
	run ! grep -q $'\x1b' <<<"$stderr"
}

@test "1707 a flood of names upstream does not know: --max-new per run, then remembered as absent for --absent-ttl (--learn)" {
	local l="$BATS_TEST_TMPDIR/flood.log" now
	now=$(date -d '2026-11-23 02:00Z' +%s)
	for i in $(seq 1 300); do
		printf '10.0.0.%d - - [23/Nov/2026:01:%02d:00 +0000] "GET /simple/made-up-%d/ HTTP/1.1" 404 153 "-" "bot"\n' $((i % 250)) $((i % 60)) "$i"
	done >"$l"
	printf '10.0.0.1 - - [23/Nov/2026:01:59:00 +0000] "GET /simple/made-up-7/ HTTP/1.1" 404 153 "-" "bot"\n' >>"$l"
	run --separate-stderr pkg-demand -d "$M" --log "$l" --max-new 10 --now "$now" </dev/null
	assert_success
	assert_equal "$(grep -c '"type":"project"' <<<"$output")" 10
	# The most asked for are taken first.
	assert_line '{"type":"project","name":"made-up-7","serial":0}'
	[[ "$stderr" == *"290 more projects were asked for enough; --max-new 10"* ]]
	# The pipeline answers: upstream does not know them (pkg-resolve's 404
	# removal, which index-write turns into synced/removed).
	jq -c '{type: "synced", name: .name, serial: 0, files: 0, deleted: 0, removed: true}' <<<"$output" >"$BATS_TEST_TMPDIR/results"
	run --separate-stderr pkg-demand -d "$M" --learn --absent-ttl 1d --now "$now" <"$BATS_TEST_TMPDIR/results"
	assert_success
	assert_equal "$(st made-up-7 state)" absent
	# Asked for again: not looked up again while absent; 10 others come in.
	printf '10.0.0.1 - - [23/Nov/2026:02:10:00 +0000] "GET /simple/made-up-7/ HTTP/1.1" 404 153 "-" "bot"\n' >>"$l"
	run --separate-stderr pkg-demand -d "$M" --log "$l" --max-new 10 --now $((now + 3600)) </dev/null
	assert_equal "$(grep -c '"type":"project"' <<<"$output")" 10
	refute_line --partial '"made-up-7"'
	assert_equal "$(st made-up-7 count)" 3
	# A day later it is looked up again (asked for within the window).
	run --separate-stderr pkg-demand -d "$M" --log "$l" --max-new 0 --now $((now + 86400 + 60)) </dev/null
	assert_line '{"type":"project","name":"made-up-7","serial":0}'
	# Memory stays bounded: --max-tracked forgets the names asked for longest ago.
	run --separate-stderr pkg-demand -d "$BATS_TEST_TMPDIR/m2" --log "$l" --max-new 0 --max-tracked 50 --min-requests 2 --now "$now" </dev/null
	assert_success
	[ "$(grep -c '"type":"demand"' "$BATS_TEST_TMPDIR/m2/pypi-mirror.demand")" -le 50 ]
	[[ "$stderr" == *"more than --max-tracked 50 names"* ]]
}

@test "1708 the real pipeline: a miss is mirrored by the next run, a name upstream lacks is learnt absent, the next request is a hit" {
	local real
	real=$(norm "$(simple_root | jq -r '.projects[0].name')")
	demand_nginx
	get "/simple/$real/" /simple/no-such-project/
	log_lines $((N0 + 2))
	run curl -s -o /dev/null -w '%{http_code}' "$NGINX_URL/simple/$real/"
	assert_output 404
	export PYPI_MIRROR_ALLOW_NON_HTTPS=1
	# What the wrapper runs: the change list (here only the target) through
	# pkg-demand, then the usual stages; the results go back to --learn.
	printf '{"type":"target","serial":50,"since":50,"projects":0}\n' |
		pkg-demand -d "$M" --log "$ACCESS_LOG" |
		pkg-resolve -u "$EMU_URL" --allow-non-https |
		artifact-get -d "$M" -u "$EMU_URL" --allow-non-https --no-progress |
		index-write -d "$M" >"$BATS_TEST_TMPDIR/results"
	run jq -c 'select(.type == "synced") | [.name, .removed]' "$BATS_TEST_TMPDIR/results"
	assert_line "[\"$real\",false]"
	assert_line '["no-such-project",true]'
	run --separate-stderr pkg-demand -d "$M" --learn <"$BATS_TEST_TMPDIR/results"
	assert_success
	assert_equal "$(st no-such-project state)" absent
	assert_equal "$(st "$real" state)" wanted
	# Files verified and pages written: nginx now serves it.
	run curl -s -o /dev/null -w '%{http_code}' "$NGINX_URL/simple/$real/"
	assert_output 200
	local f
	f=$(jq -r "select(.type == \"synced\" and .name == \"$real\") | .files_listed" "$BATS_TEST_TMPDIR/results")
	[ "$f" -gt 0 ]
	# The next run: the absent name is not asked for again, the mirrored one
	# follows upstream's changes like any held project.
	get /simple/no-such-project/
	log_lines $((N0 + 4))
	run --separate-stderr pkg-demand -d "$M" --log "$ACCESS_LOG" < <(changes "$real" 60 other 61)
	assert_success
	assert_output "$(printf '{"type":"project","name":"%s","serial":60}\n{"type":"target","serial":900,"since":100,"projects":2}' "$real")"
}

@test "1709 held projects nobody asked for in --expire go as removal records (not --keep ones); index-write applies them" {
	hold stale-pkg kept-pkg fresh-pkg
	local l="$BATS_TEST_TMPDIR/a.log" t0
	t0=$(date -d '2026-11-01 00:00Z' +%s)
	printf '10.0.0.1 - - [01/Nov/2026:00:00:00 +0000] "GET /simple/fresh-pkg/ HTTP/1.1" 200 1 "-" "pip"\n' >"$l"
	# First run: held projects never asked for get the whole --expire from now.
	run --separate-stderr pkg-demand -d "$M" --log "$l" --keep Kept_Pkg --expire 30d --now "$t0" </dev/null
	assert_success
	assert_output ''
	printf '10.0.0.1 - - [25/Nov/2026:00:00:00 +0000] "GET /simple/fresh-pkg/ HTTP/1.1" 200 1 "-" "pip"\n' >>"$l"
	run --separate-stderr pkg-demand -d "$M" --log "$l" --keep kept-pkg --expire 30d --now $((t0 + 31 * 86400)) < <(changes stale-pkg 700 fresh-pkg 701)
	assert_success
	# The change of the expired project is dropped: its removal wins.
	assert_output "$(printf '%s\n' '{"type":"project","name":"fresh-pkg","serial":701}' \
		'{"type":"removal","name":"stale-pkg","serial":900,"reason":"not requested for 30d"}' \
		'{"type":"target","serial":900,"since":100,"projects":2}')"
	assert_equal "$(st stale-pkg state)" expired
	# Not applied (say the deletion cap stopped it): asked again next run.
	run --separate-stderr pkg-demand -d "$M" --log "$l" --keep kept-pkg --expire 30d --now $((t0 + 32 * 86400)) </dev/null
	assert_line --partial '"type":"removal","name":"stale-pkg"'
	grep '"type":"removal"' <<<"$output" | index-write -d "$M" --no-release-files --root-uri https://files.example >"$BATS_TEST_TMPDIR/results"
	[ ! -e "$WEB/simple/stale-pkg" ]
	run --separate-stderr pkg-demand -d "$M" --learn <"$BATS_TEST_TMPDIR/results"
	assert_success
	# Our own removal landed: forgotten, not taken for a name upstream lacks.
	assert_equal "$(st stale-pkg state)" ''
	run --separate-stderr pkg-demand -d "$M" --log "$l" --keep kept-pkg --expire 30d --now $((t0 + 400 * 86400)) </dev/null
	assert_line --partial '"type":"removal","name":"fresh-pkg"'
	refute_line --partial kept-pkg
}

@test "1710 an unreadable log, an unreadable state, malformed change records: reported, exit status tells" {
	local good="$BATS_TEST_TMPDIR/good.log"
	printf '10.0.0.1 - - [23/Nov/2026:01:00:00 +0000] "GET /simple/fine/ HTTP/1.1" 200 1 "-" "pip"\n' >"$good"
	run --separate-stderr pkg-demand -d "$M" --log "$BATS_TEST_TMPDIR/missing.log" --log "$BATS_TEST_TMPDIR" --log "$good" \
		--now "$(date -d '2026-11-23 02:00Z' +%s)" < <(printf '{"type":"project","name":"fine","serial":3}\nnot json\n{"type":"target","serial":4}\n')
	assert_failure 1
	assert_output "$(printf '%s\n' '{"type":"project","name":"fine","serial":3}' '{"type":"target","serial":4}')"
	[[ "$stderr" == *"cannot read the log $BATS_TEST_TMPDIR/missing.log: No such file or directory"* ]]
	[[ "$stderr" == *"$BATS_TEST_TMPDIR: not a regular file"* ]]
	[[ "$stderr" == *"2 logs unreadable"* ]]
	assert_equal "$(st fine count)" 1
	# A state that cannot be read: nothing written, nothing passed.
	rm -f "$STATE" && mkdir "$STATE"
	run --separate-stderr pkg-demand -d "$M" --log "$good" < <(changes fine 5)
	assert_failure 3
	assert_output ''
	[[ "$stderr" == *"cannot read the demand state"* ]]
	# A damaged state line is skipped, the rest kept.
	rmdir "$STATE"
	printf '{"type":"demand","name":"../etc","state":"wanted"}\ngarbage\n{"type":"demand","name":"ok-pkg","state":"wanted","first":1,"last":1,"count":2}\n' >"$STATE"
	run --separate-stderr pkg-demand -d "$M" --expire 0 </dev/null
	assert_success
	assert_output '{"type":"project","name":"ok-pkg","serial":0}'
	[[ "$stderr" == *"2 lines of $STATE ignored"* ]]
	run --separate-stderr pkg-demand -d "$M" --window 0
	assert_failure 2
	run --separate-stderr pkg-demand -d "$M" --expire 3x
	assert_failure 2
	run --separate-stderr pkg-demand -d "$M" --keep '../x'
	assert_failure 2
}

@test "1711 mirror-config reads [demand]: values for the wrapper, and the same validation as the other sections" {
	local c="$BATS_TEST_TMPDIR/c.conf"
	cat >"$c" <<-EOF
	[mirror]
	directory = $M
	[demand]
	logs =
	    /var/log/nginx/a.log
	    /var/log/nginx/b log
	min-requests = 3
	window = 12h
	expire = 60d
	keep = requests Pip_Tools
	    Zope.Interface
	absent-ttl = 90m
	max-new = 5
	EOF
	run mirror-config -c "$c"
	assert_success
	eval "$output"
	assert_equal "$PM_DEMAND" 1
	assert_equal "$PM_DEMAND_LOGS" $'/var/log/nginx/a.log\n/var/log/nginx/b log'
	assert_equal "$PM_DEMAND_MIN_REQUESTS" 3
	assert_equal "$PM_DEMAND_WINDOW" 43200
	assert_equal "$PM_DEMAND_EXPIRE" 5184000
	assert_equal "$PM_DEMAND_KEEP" 'requests pip-tools zope-interface'
	assert_equal "$PM_DEMAND_ABSENT_TTL" 5400
	assert_equal "$PM_DEMAND_MAX_NEW" 5
	# Without the section: off, with the defaults.
	printf '[mirror]\ndirectory = %s\n' "$M" >"$c"
	run mirror-config -c "$c"
	assert_success
	eval "$output"
	assert_equal "$PM_DEMAND" 0
	assert_equal "$PM_DEMAND_EXPIRE" 2592000
	# Bad values: named, and nothing printed.
	printf '[mirror]\ndirectory = %s\n[demand]\nwindow = 0\nexpire = soon\nkeep = ok ../bad\nmin-requests = 0\ntypo = 1\n' "$M" >"$c"
	run --separate-stderr mirror-config -c "$c"
	assert_failure 2
	assert_output ''
	[[ "$stderr" == *"[demand] logs: needs at least one access log file"* ]]
	[[ "$stderr" == *"[demand] window: out of range: 0"* ]]
	[[ "$stderr" == *"[demand] expire: not a duration: 'soon'"* ]]
	[[ "$stderr" == *"[demand] keep: not a project name: '../bad'"* ]]
	[[ "$stderr" == *"[demand] min-requests: out of range"* ]]
	[[ "$stderr" == *"[demand] typo: unknown key, ignored"* ]]
	# enabled = false: the section stays, demand is off, logs not required.
	printf '[mirror]\ndirectory = %s\n[demand]\nenabled = false\n' "$M" >"$c"
	run mirror-config -c "$c"
	assert_success
	eval "$output"
	assert_equal "$PM_DEMAND" 0
}

@test "1712 pkg-demand: --help and the man page list the same options; usage errors exit 2" {
	run pkg-demand --help
	assert_success
	assert_output --partial "usage: pkg-demand -d DIR"
	local man="$BATS_TEST_DIRNAME/../man/pkg-demand.1" o
	man_opts=$(grep -oE '^\.It Fl (-[a-z-]+|[a-zA-Z] , -[a-z-]+)' "$man" | grep -oE -- '-[a-z-]+$' | sed 's/^/-/' | sort -u)
	[[ -n "$man_opts" ]]
	for o in $man_opts; do
		[[ "$output" == *"$o"* ]] || fail "--help lacks $o"
	done
	for o in $(grep -oE -- '--[a-z][a-z-]+' <<<"$output" | sort -u); do
		grep -qE -- "^\.It Fl.*-${o#--}( |\$)" "$man" || fail "man page lacks $o"
	done
	run pkg-demand --version
	assert_success
	assert_output --regexp '^pkg-demand \(pypi-mirror\) [0-9]'
	run pkg-demand </dev/null
	assert_failure 2
	run pkg-demand -d "$M" extra
	assert_failure 2
}
