#!/usr/bin/env bats
# 12NN: the rules of pypi-mirror-records(7) that hold for every tool reading
# records (one record loop in tools/lib): a refused record that names a
# project becomes an error record on stdout naming it, the run goes on with
# the next record, and the exit status is 1 (mirror-state plan: 0, see 1210).

load lib/common

setup_file() {
	emu_file_start
}

setup() {
	tool_env
	export PYPI_MIRROR_UPSTREAM="$EMU_URL" PYPI_MIRROR_ALLOW_NON_HTTPS=1 PYPI_MIRROR_TIMEOUT=5
	T=$BATS_TEST_TMPDIR
	M=$T/mirror
	# The project pkg-demand's good record names is one the mirror holds
	# (a page of its own, as Layout::held_projects reads a mirror).
	mkdir -p "$M/web/simple/good-pkg"
	printf '<!DOCTYPE html><html><body></body></html>\n' >"$M/web/simple/good-pkg/index.html"
	printf '[plugins]\nenabled =\n    blocklist_project\n[blocklist]\npackages =\n    blocked-pkg\n' >"$T/filter.conf"
}

# The command line that runs tool $1 on records on stdin.
tool_cmd() {
	case $1 in
	pkg-resolve) echo "pkg-resolve" ;;
	serial-check) echo "serial-check" ;;
	pkg-filter) echo "pkg-filter -c $T/filter.conf" ;;
	cdn-purge) echo "cdn-purge --no-purge" ;;
	artifact-get) echo "artifact-get -d $M --no-progress" ;;
	index-write) echo "index-write -d $M" ;;
	pkg-demand) echo "pkg-demand -d $M" ;;
	esac
}

# The type of record tool $1 acts on, with what it needs to act on it.
good_record() {
	case $1 in
	pkg-resolve) echo '{"type":"project","name":"demo-pkg","serial":1}' ;;
	cdn-purge) echo '{"type":"stale","name":"good-pkg","serial":5,"last_serial":4}' ;;
	*) echo '{"type":"project","name":"good-pkg","serial":5,"last_serial":5,"files":[]}' ;;
	esac
}

# The name of the project in good_record $1.
good_name() {
	case $1 in
	pkg-resolve) echo demo-pkg ;;
	*) echo good-pkg ;;
	esac
}

# A file entry that would leave the mirror.
HOSTILE_FILE='{"filename":"x-1.0.tar.gz","url":"https://files.example/packages/aa/bb/cc/x-1.0.tar.gz","path":"../../etc/x-1.0.tar.gz","sha256":"0000000000000000000000000000000000000000000000000000000000000000","size":1}'

# expect_error TOOL OUTPUT NAME SERIAL TEXT: OUTPUT has TOOL's error record
# for NAME at SERIAL, whose reason names the input line and says TEXT.
expect_error() {
	local rec
	rec=$(jq -c --arg n "$3" 'select(.type == "error" and .name == $n)' <<<"$2")
	[ -n "$rec" ] || fail "$1: no error record for $3 in: $2"
	assert_equal "$(jq -r '[.tool, .serial] | join(" ")' <<<"$rec")" "$1 $4"
	[[ $(jq -r .reason <<<"$rec") == "line "[0-9]*": "*"$5"* ]] || fail "$1: error record for $3 does not say '$5': $rec"
}

TOOLS=(pkg-resolve serial-check pkg-filter cdn-purge artifact-get index-write pkg-demand)

# Runs tool $1 on: a target, a record with a bad field naming Bad_Field, a
# record with a hostile file entry naming hostile-files, one with a type
# nobody knows naming odd-type, a line that is not JSON, a record whose name
# is not a project name, and a good record; checks what came out.
check_tool() {
	local tool=$1 good out err rc
	good=$(good_record "$tool")
	{
		echo '{"type":"target","serial":77,"since":1,"projects":4}'
		echo '{"type":"project","name":"Bad_Field","serial":"not a number"}'
		echo "{\"type\":\"project\",\"name\":\"hostile-files\",\"serial\":9,\"last_serial\":9,\"files\":[$HOSTILE_FILE]}"
		echo '{"type":"frobnicate","name":"odd-type","serial":3}'
		echo 'this is not json'
		echo '{"type":"project","name":"not a/name","serial":4}'
		echo "$good"
	} >"$T/in.$tool"
	run --separate-stderr $(tool_cmd "$tool") <"$T/in.$tool"
	[ "$status" -eq 1 ] || fail "$tool: exit status $status, want 1; stderr: $stderr"
	out=$output err=$stderr
	# Every refused record that names a project: an error record naming it.
	expect_error "$tool" "$out" bad-field 0 '"serial" is not a non-negative integer'
	expect_error "$tool" "$out" hostile-files 9 'project hostile-files: file x-1.0.tar.gz: path is not'
	expect_error "$tool" "$out" odd-type 3 'unknown record type'
	# A name that is not a project name is named in the log only.
	[[ $out != *'not a/name'* ]] || fail "$tool: a hostile name reached stdout: $out"
	[[ $err == *"input line 6: "*"not a valid project name"* ]] || fail "$tool: $err"
	[[ $err == *"input line 5: "* ]] || fail "$tool: the non-JSON line is not logged: $err"
	# The good record after them was still processed, and the target came last.
	# (jq 1.6's -e looks only at the last input: slurp.)
	jq -se --arg n "$(good_name "$tool")" 'any(.[]; .name == $n and .type != "error")' <<<"$out" >/dev/null ||
		fail "$tool: the good record was not processed: $out; $err"
	assert_equal "$(tail -n 1 <<<"$out")" '{"type":"target","serial":77,"since":1,"projects":4}'
	assert_equal "$(jq -s '[.[] | select(.type == "error")] | length' <<<"$out")" 3
}

@test "1201 pkg-resolve: a refused record naming a project becomes an error record; the rest goes on" {
	check_tool pkg-resolve
	jq -se 'any(.[]; .name == "demo-pkg" and .type == "project" and (.files | length > 0))' <<<"$output" >/dev/null
}

@test "1202 serial-check: a refused record naming a project becomes an error record; the rest goes on" {
	check_tool serial-check
}

@test "1203 pkg-filter: a refused record naming a project becomes an error record; the rest goes on" {
	check_tool pkg-filter
}

@test "1204 cdn-purge: a refused record naming a project becomes an error record; the rest goes on" {
	check_tool cdn-purge
	jq -se 'any(.[]; .name == "good-pkg" and .type == "project" and .round == 1 and .cache_bust)' <<<"$output" >/dev/null
}

@test "1205 artifact-get: a refused record naming a project becomes an error record; the rest goes on" {
	check_tool artifact-get
	# Nothing of the hostile record was written anywhere.
	[ ! -e "$T/etc" ] && [ ! -e "$M/etc" ]
}

@test "1206 index-write: a refused record naming a project becomes an error record; the rest goes on" {
	check_tool index-write
	jq -se 'any(.[]; .name == "good-pkg" and .type == "synced")' <<<"$output" >/dev/null
	[ -f "$M/web/simple/good-pkg/index.html" ]
	[ ! -e "$M/web/simple/bad-field" ] && [ ! -e "$M/web/simple/hostile-files" ]
}

@test "1207 every record-reading tool passes through records it does not act on, in order, unchanged" {
	local tool recs
	recs='{"type":"error","name":"e-pkg","serial":1,"tool":"x","reason":"y","extra":[1]}
{"type":"synced","name":"s-pkg","serial":2,"files":1,"deleted":0,"removed":false}'
	for tool in "${TOOLS[@]}"; do
		run --separate-stderr $(tool_cmd "$tool") <<<"$recs"
		[ "$status" -eq 0 ] || fail "$tool: exit $status: $stderr"
		assert_equal "$output" "$recs"
	done
}

@test "1208 every record-reading tool: a closed output ends it with exit status 3 and says so (index-write: exit 1)" {
	local tool i want
	# More than a pipe holds, so the tool is still writing when the reader goes.
	for ((i = 0; i < 3000; i++)); do
		echo '{"type":"error","name":"e-pkg","serial":1,"tool":"x","reason":"padding padding padding padding padding padding padding padding padding padding padding padding"}'
	done >"$T/many"
	for tool in "${TOOLS[@]}"; do
		run bash -c "$(tool_cmd "$tool")"' <"$1" 2>"$2" | head -c 1 >/dev/null; echo "rc=${PIPESTATUS[0]}"' _ "$T/many" "$T/err"
		want=3
		[ "$tool" != index-write ] || want=1
		assert_output "rc=$want"
		grep -q "ERROR: $tool: cannot write" "$T/err" || fail "$tool: $(cat "$T/err")"
	done
}

@test "1209 pkg-demand: a refused record naming a project becomes an error record; the rest goes on" {
	check_tool pkg-demand
	# The held project's change passed; nothing else came in.
	assert_equal "$(jq -sc '[.[] | select(.type == "project") | .name]' <<<"$output")" '["good-pkg"]'
}

# mirror-state plan turns the changes into the run's input: its exit status
# says whether there is anything to run (0) or not (1), so a refused change
# naming a project is an error record and a reason to run (collect keeps
# the project failed); a line that names no project stops the run (3).
@test "1210 mirror-state plan: a refused change naming a project becomes an error record in the run's input; an unnamed one stops the run" {
	mkdir -p "$M"
	{
		echo '{"type":"project","name":"Bad_Field","serial":"not a number"}'
		echo "{\"type\":\"project\",\"name\":\"hostile-files\",\"serial\":9,\"last_serial\":9,\"files\":[$HOSTILE_FILE]}"
		echo '{"type":"frobnicate","name":"odd-type","serial":3}'
		echo '{"type":"error","name":"e-pkg","serial":1,"tool":"x","reason":"y"}'
		echo '{"type":"project","name":"good-pkg","serial":5}'
		echo '{"type":"target","serial":77,"since":1,"projects":4}'
	} >"$T/changes"
	run --separate-stderr mirror-state -d "$M" plan <"$T/changes"
	[ "$status" -eq 0 ] || fail "exit status $status, want 0; stderr: $stderr"
	expect_error mirror-state "$output" bad-field 0 '"serial" is not a non-negative integer'
	expect_error mirror-state "$output" hostile-files 9 'project hostile-files: file x-1.0.tar.gz: path is not'
	expect_error mirror-state "$output" odd-type 3 'unknown record type'
	# Records it does not act on pass through unchanged; the good change and the target too.
	assert_line '{"type":"error","name":"e-pkg","serial":1,"tool":"x","reason":"y"}'
	assert_line '{"type":"project","name":"good-pkg","serial":5}'
	assert_equal "$(tail -n 1 <<<"$output")" '{"type":"target","serial":77,"since":1,"projects":4}'
	# Only error records: still something to record.
	run --separate-stderr mirror-state -d "$M" plan < <(sed -n '1p;6p' "$T/changes")
	assert_success
	assert_equal "$(jq -sc '[.[].type]' <<<"$output")" '["error","target"]'
	# A line that is not a record, or names no project: nothing done.
	for bad in 'this is not json' '{"type":"project","name":"not a/name","serial":4}'; do
		run --separate-stderr mirror-state -d "$M" plan < <(echo "$bad"; sed -n '5,6p' "$T/changes")
		[ "$status" -eq 3 ] || fail "'$bad': exit status $status, want 3; stderr: $stderr"
		[[ $stderr == *"input line 1: "* && $stderr == *"nothing done"* ]] || fail "'$bad': $stderr"
	done
}

@test "1211 mirror-state plan: a closed output ends it with exit status 3 and says so" {
	local i
	for ((i = 0; i < 3000; i++)); do
		echo '{"type":"error","name":"e-pkg","serial":1,"tool":"x","reason":"padding padding padding padding padding padding padding padding padding padding padding padding"}'
	done >"$T/many"
	echo '{"type":"target","serial":77}' >>"$T/many"
	mkdir -p "$M"
	run bash -c 'mirror-state -d "$3" plan <"$1" 2>"$2" | head -c 1 >/dev/null; echo "rc=${PIPESTATUS[0]}"' _ "$T/many" "$T/err" "$M"
	assert_output "rc=3"
	grep -q "ERROR: mirror-state: cannot write" "$T/err" || fail "$(cat "$T/err")"
}
