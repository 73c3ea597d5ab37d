#!/usr/bin/env bats
# 03NN: pkg-resolve, serial-check and cdn-purge against the PyPI emulator:
# resolution, faults, hostile documents, and stale-CDN rounds.

load lib/common

setup_file() {
	# One generated upstream, copied for each test (generating takes seconds).
	emu_generate "$BATS_FILE_TMPDIR/emu-template" >/dev/null 2>&1
}

setup() {
	tool_env
	T=$BATS_TEST_TMPDIR
}

# Tests that talk to upstream start with this: a fresh copy of the upstream.
up() {
	cp -r "$BATS_FILE_TMPDIR/emu-template" "$T/emu"
	export EMU_STATE=$T/emu
	emu_start
}

teardown() {
	emu_stop
	common_teardown
}


pr() { pkg-resolve -u "$EMU_URL" --allow-non-https "$@"; }
sc() { serial-check "$@"; }
cp_() { cdn-purge -u "$EMU_URL" --allow-non-https "$@"; }

# The simple root as JSON: every project with its display name and serial.
root() { simple_root; }

# Changelog-like input: one project record per upstream project, at its serial.
all_records() { root | jq -c '.projects[] | {type:"project", name:.name, serial:."_last-serial"}'; }

# The normalized names of every upstream project, sorted.
all_names() { root | jq -r '.projects[].name' | tr 'A-Z_.' 'a-z--' | sed 's/--*/-/g' | sort; }

# What a record's file list must be, built from the emulator's JSON with jq.
FILES_JQ='[.releases | to_entries[] | .key as $v | .value[] |
  {filename, version:$v, url, path:(.url | sub("^https?://[^/]+/"; "")), sha256:.digests.sha256, size,
   upload_time:.upload_time_iso_8601, requires_python, yanked,
   yanked_reason:(if .yanked then .yanked_reason else null end),
   core_metadata:(if .["core-metadata"] then .["core-metadata"].sha256 else null end), packagetype}] | sort_by(.filename)'
expected_files() { curl -fsS "$EMU_URL/pypi/$1/json?fresh=1" | jq -c "$FILES_JQ"; }

# Writes DIR/pypi/NAME/json: a document with one release holding the file
# entries given as JSON objects (filename, url; the rest defaulted).
craft() {
	local dir=$1 name=$2 files=$3
	mkdir -p "$dir/pypi/$name"
	jq -cn --arg n "$name" --argjson f "$files" '{info:{name:$n, version:"1.0"}, last_serial:77,
	  releases:{"1.0": [$f[] | {digests:{sha256:("ab" * 32)}, size:10, upload_time_iso_8601:"2024-01-02T03:04:05Z",
	  requires_python:null, yanked:false, yanked_reason:null, "core-metadata":false, packagetype:"sdist"} + .]}}' \
		>"$dir/pypi/$name/json"
}

H60=0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab

@test "0301 pkg-resolve: --help and --version" {
	run pkg-resolve --help
	assert_success
	assert_output --partial "usage: pkg-resolve"
	assert_output --partial "--save-json DIR"
	assert_output --partial "--allow-host HOST"
	run pkg-resolve --version
	assert_success
	assert_output --regexp '^pkg-resolve \(pypi-mirror\) [0-9]'
	run pkg-resolve --bogus
	assert_failure 2
	run pkg-resolve -u http://example.org
	assert_failure 2
	assert_output --partial "not https"
}

@test "0302 serial-check and cdn-purge: --help and --version" {
	run serial-check --help
	assert_success
	assert_output --partial "--stale-file FILE"
	assert_output --partial "--max-rounds K"
	run serial-check --version
	assert_output --regexp '^serial-check \(pypi-mirror\) [0-9]'
	run cdn-purge --help
	assert_success
	assert_output --partial "--no-purge"
	assert_output --partial "--rate N"
	run cdn-purge -V
	assert_output --regexp '^cdn-purge \(pypi-mirror\) [0-9]'
	run serial-check --stale-file x --stale-fd 5
	assert_failure 2
}

@test "0303 pkg-resolve: every project resolves and matches the emulator's JSON" {
	up
	admin yank name=demo-pkg version=1.0 reason='broken <build>'
	all_records >"$T/in"
	run --separate-stderr bash -c "pkg-resolve -u '$EMU_URL' --allow-non-https -j 4 <'$T/in' >'$T/out'"
	assert_success
	# Every project, once, as a resolved project record.
	assert_equal "$(jq -r 'select(.type=="project") | .name' "$T/out" | sort)" "$(all_names)"
	assert_equal "$(jq -r .status "$T/out" | sort -u)" "active"
	local name n=0 hdr got want
	for name in $(all_names); do
		# Files as the emulator lists them; last_serial as X-PyPI-Last-Serial says; the plain json_url.
		curl -fsS -D "$T/h" "$EMU_URL/pypi/$name/json" >"$T/doc"
		hdr=$(tr -d '\r' <"$T/h" | sed -n 's/^X-PyPI-Last-Serial: //ip')
		want=$(jq -c --arg u "$EMU_URL/pypi/$name/json" --argjson s "$hdr" "{last_serial:\$s, json_url:\$u, files:($FILES_JQ)}" "$T/doc")
		got=$(jq -c --arg n "$name" 'select(.name==$n) | {last_serial, json_url, files:(.files | sort_by(.filename))}' "$T/out")
		assert_equal "$got" "$want"
		n=$((n + $(jq '.files | length' <<<"$got")))
	done
	[ "$n" -gt 5 ]
	# The display name comes from info.name; yanked, reason (verbatim) and core_metadata are carried.
	assert_equal "$(jq -r 'select(.name=="demo-pkg") | .display_name' "$T/out")" "Demo_Pkg"
	assert_equal "$(jq -r 'select(.name=="demo-pkg") | [.files[] | select(.version=="1.0") | .yanked_reason] | unique | .[]' "$T/out")" "broken <build>"
	jq -e '[.files[] | select(.core_metadata != null)] | length > 0' <(jq -s 'map(.files) | add | {files: .}' "$T/out")
	jq -e '[.files[] | select(.requires_python != null)] | length > 0' <(jq -s 'map(.files) | add | {files: .}' "$T/out")
	[[ "$stderr" == *"INFO: Syncing package: Demo_Pkg (serial "* ]]
}

@test "0304 pkg-resolve: 404 becomes a removal record, not an error" {
	up
	admin remove-project name=mixedcase
	printf '%s\n' '{"name":"no-such-project","serial":9}' '{"name":"MixedCase","serial":200,"note":"kept"}' '{"name":"demo-pkg"}' |
		pr >"$T/out"
	assert_equal "$(jq -c 'select(.name=="no-such-project") | {type, serial, reason}' "$T/out")" \
		'{"type":"removal","serial":9,"reason":"404 from upstream"}'
	assert_equal "$(jq -c 'select(.name=="mixedcase") | {type, note}' "$T/out")" '{"type":"removal","note":"kept"}'
	assert_equal "$(jq -r 'select(.name=="demo-pkg") | .type' "$T/out")" "project"
}

@test "0305 pkg-resolve: a 5xx project becomes an error record, the others resolve, exit 1" {
	up
	admin fault path=/pypi/demo-pkg/ kind=500 count=10
	all_records >"$T/in"
	run --separate-stderr bash -c "pkg-resolve -u '$EMU_URL' --allow-non-https <'$T/in' >'$T/out'"
	assert_failure 1
	assert_equal "$(jq -c 'select(.name=="demo-pkg") | {type, tool}' "$T/out")" '{"type":"error","tool":"pkg-resolve"}'
	jq -se 'map(select(.name=="demo-pkg"))[0] | .reason | test("HTTP 500") and test("/pypi/demo-pkg/json")' "$T/out"
	assert_equal "$(jq -r 'select(.type=="project") | .name' "$T/out" | sort)" "$(all_names | grep -vx demo-pkg)"
	[[ "$stderr" == *"ERROR: Error fetching $EMU_URL/pypi/demo-pkg/json for demo-pkg: HTTP 500"* ]]
	# Retried: 1 + PYPI_MIRROR_RETRIES attempts.
	assert_equal "$(emu_stats | jq '.requests["GET /pypi/demo-pkg/json"]')" 2
}

@test "0306 pkg-resolve: truncated and reset responses are retried, then resolve" {
	up
	admin fault path=/pypi/demo-pkg/ kind=truncate count=1
	admin fault path=/pypi/mixedcase/ kind=reset count=1
	printf '%s\n' '{"name":"demo-pkg"}' '{"name":"mixedcase"}' | pr >"$T/out"
	assert_equal "$(jq -r '.type' "$T/out" | sort -u)" "project"
	assert_equal "$(emu_stats | jq '.requests["GET /pypi/demo-pkg/json"]')" 2
	assert_equal "$(jq -c 'select(.name=="demo-pkg") | .files | sort_by(.filename)' "$T/out")" "$(expected_files demo-pkg)"
	assert_equal "$(jq -c 'select(.name=="mixedcase") | .files | sort_by(.filename)' "$T/out")" "$(expected_files mixedcase)"
}

@test "0307 pkg-resolve: a garbled body that slips past the transport is fetched again" {
	up
	admin fault path=/pypi/demo-pkg/ kind=corrupt count=1
	echo '{"name":"demo-pkg"}' | pr >"$T/out"
	assert_equal "$(jq -r .type "$T/out")" project
	assert_equal "$(jq -c '.files | sort_by(.filename)' "$T/out")" "$(expected_files demo-pkg)"
	# Corrupt every time: an error record that says the JSON does not parse.
	admin fault path=/pypi/demo-pkg/ kind=corrupt count=5
	run -1 bash -c "echo '{\"name\":\"demo-pkg\"}' | pkg-resolve -u '$EMU_URL' --allow-non-https 2>/dev/null"
	assert_equal "$(echo "$output" | jq -r .type)" error
	assert_equal "$(echo "$output" | jq -r '.reason | startswith("JSON does not parse")')" true
}

@test "0308 pkg-resolve: a malformed input line is an error naming it; the others resolve" {
	up
	printf '%s\n' '{"name":"demo-pkg"}' '{"name": oops' '{"name":"../etc"}' '{"name":"mixedcase"}' >"$T/in"
	run --separate-stderr bash -c "pkg-resolve -u '$EMU_URL' --allow-non-https <'$T/in' >'$T/out'"
	assert_failure 1
	[[ "$stderr" == *"ERROR: pkg-resolve: input line 2: "* ]]
	[[ "$stderr" == *"ERROR: pkg-resolve: input line 3: "*"not a valid project name"* ]]
	assert_equal "$(jq -r '.name' "$T/out" | sort | tr '\n' ' ')" "demo-pkg mixedcase "
	assert_equal "$(jq -r '.type' "$T/out" | sort -u)" project
}

@test "0309 pkg-resolve: records it does not act on pass through; target comes last" {
	up
	printf '%s\n' '{"type":"target","serial":999}' '{"type":"error","name":"x","serial":1,"tool":"t","reason":"r"}' \
		'{"name":"demo-pkg"}' '{"type":"synced","name":"y","serial":2}' '{"type":"removal","name":"z","serial":3,"reason":"gone"}' |
		pr >"$T/out"
	assert_equal "$(wc -l <"$T/out")" 5
	assert_equal "$(tail -1 "$T/out")" '{"type":"target","serial":999}'
	grep -qx '{"type":"error","name":"x","serial":1,"tool":"t","reason":"r"}' "$T/out"
	grep -qx '{"type":"synced","name":"y","serial":2}' "$T/out"
	grep -qx '{"type":"removal","name":"z","serial":3,"reason":"gone"}' "$T/out"
}

@test "0310 pkg-resolve: --save-json spools the document byte for byte; --cache-bust adds a query string" {
	up
	echo '{"name":"Demo.Pkg","serial":1}' | pr --save-json "$T/spool" --cache-bust >"$T/out"
	local serial file
	serial=$(jq -r .last_serial "$T/out")
	file=$(jq -r .json_file "$T/out")
	assert_equal "$file" "$T/spool/demo-pkg.$serial.json"
	curl -fsS "$EMU_URL/pypi/demo-pkg/json" >"$T/want"
	cmp "$file" "$T/want"
	[ -z "$(find "$T/spool" -name '.*')" ] # no temporaries left
	emu_log | jq -r 'select(.method=="GET") | .path' | grep -E '^/pypi/demo-pkg/json\?_=1-[0-9a-f]+$'
	# A record asking for it is cache-busted too; one that does not is not.
	printf '%s\n' '{"name":"mixedcase","serial":5,"cache_bust":true}' '{"name":"foo-bar-baz"}' | pr >/dev/null
	emu_log | jq -r 'select(.method=="GET") | .path' | grep -E '^/pypi/mixedcase/json\?_=5-[0-9a-f]+$'
	emu_log | jq -r 'select(.method=="GET") | .path' | grep -xF '/pypi/foo-bar-baz/json'
}

@test "0311 pkg-resolve: hostile documents become error records naming file and reason" {
	local d=$T/fake u
	serve_dir "$d"
	u=$SERVE_URL/packages/ab/cd/$H60
	craft "$d" good "[{\"filename\":\"good-1.0.tar.gz\",\"url\":\"$u/good-1.0.tar.gz\",\"yanked\":true,\"yanked_reason\":\"<script>x</script>\"}]"
	craft "$d" dotdot "[{\"filename\":\"../../etc/passwd\",\"url\":\"$u/passwd\"}]"
	craft "$d" absolute "[{\"filename\":\"/etc/passwd\",\"url\":\"$u/passwd\"}]"
	craft "$d" offhost "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"http://evil.example/packages/ab/cd/$H60/a-1.0.tar.gz\"}]"
	craft "$d" fileurl "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"file:///packages/ab/cd/$H60/a-1.0.tar.gz\"}]"
	craft "$d" encoded "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"$SERVE_URL/x/%2e%2e/packages/ab/cd/$H60/a-1.0.tar.gz\"}]"
	craft "$d" badhash "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"$u/a-1.0.tar.gz\",\"digests\":{\"sha256\":\"xyz\"}}]"
	craft "$d" negative "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"$u/a-1.0.tar.gz\",\"size\":-5}]"
	craft "$d" dup "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"$u/a-1.0.tar.gz\"},{\"filename\":\"a-1.0.tar.gz\",\"url\":\"$u/a-1.0.tar.gz\"}]"
	# One good file before a bad one: the whole project is refused.
	craft "$d" partial "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"$u/a-1.0.tar.gz\"},{\"filename\":\"b-1.0.tar.gz\",\"url\":\"https://evil.example/packages/ab/cd/$H60/b-1.0.tar.gz\"}]"
	mkdir -p "$d/pypi/notjson" "$d/pypi/badutf8"
	echo '<html>oops</html>' >"$d/pypi/notjson/json"
	printf '{"info":{"name":"\xff"},"last_serial":1,"releases":{}}' >"$d/pypi/badutf8/json"
	local names="good dotdot absolute offhost fileurl encoded badhash negative dup partial notjson badutf8"
	run --separate-stderr bash -c "for n in $names; do echo \"{\\\"name\\\":\\\"\$n\\\"}\"; done |
		pkg-resolve -u '$SERVE_URL' --allow-non-https >'$T/out'"
	assert_failure 1
	reason() { jq -r --arg n "$1" 'select(.name==$n) | "\(.type) \(.file // "-") \(.reason)"' "$T/out"; }
	assert_equal "$(jq -r 'select(.name=="good") | .type' "$T/out")" project
	assert_equal "$(jq -r 'select(.name=="good") | .files[0].yanked_reason' "$T/out")" "<script>x</script>"
	assert_equal "$(reason dotdot)" "error ../../etc/passwd file ../../etc/passwd: file name starts with a dot"
	assert_equal "$(reason absolute)" "error /etc/passwd file /etc/passwd: file name contains a path separator"
	[[ "$(reason offhost)" == "error a-1.0.tar.gz "*"URL host evil.example is not upstream's or allowed" ]]
	[[ "$(reason fileurl)" == "error a-1.0.tar.gz "*"URL scheme file is not http(s)" ]]
	[[ "$(reason encoded)" == "error a-1.0.tar.gz "*"dot segment" ]]
	[[ "$(reason badhash)" == "error a-1.0.tar.gz "*"sha256"* ]]
	[[ "$(reason negative)" == "error a-1.0.tar.gz "*"size"* ]]
	[[ "$(reason dup)" == "error a-1.0.tar.gz "*"listed more than once" ]]
	[[ "$(reason partial)" == "error b-1.0.tar.gz "* ]]
	[[ "$(reason notjson)" == "error - JSON does not parse"* ]]
	[[ "$(reason badutf8)" == "error - JSON does not parse"* ]]
	# No hostile record carries a file list.
	assert_equal "$(jq -c 'select(.type=="error" and has("files"))' "$T/out")" ""
	[[ "$stderr" == *"ERROR: Refusing dotdot from $SERVE_URL/pypi/dotdot/json: file ../../etc/passwd"* ]]
	# An allowed extra host is accepted.
	craft "$d" cdn "[{\"filename\":\"a-1.0.tar.gz\",\"url\":\"https://files.example/packages/ab/cd/$H60/a-1.0.tar.gz\"}]"
	echo '{"name":"cdn"}' | pkg-resolve -u "$SERVE_URL" --allow-non-https --allow-host files.example >"$T/out2"
	assert_equal "$(jq -r .type "$T/out2")" project
}

@test "0312 serial-check: fresh records pass, stale ones go to the stale file, exit 1" {
	printf '%s\n' \
		'{"type":"project","name":"a","serial":5,"last_serial":5,"files":[]}' \
		'{"type":"project","name":"b","display_name":"B","serial":9,"last_serial":7,"json_url":"https://pypi.org/pypi/b/json","files":[],"round":1,"x":1}' \
		'{"type":"target","serial":9}' \
		'{"type":"removal","name":"c","serial":3}' \
		'{"type":"project","name":"d","serial":2,"last_serial":8,"files":[]}' >"$T/in"
	run --separate-stderr bash -c "serial-check --stale-file '$T/stale' <'$T/in'"
	assert_failure 1
	assert_equal "$(echo "$output" | jq -r .name | tr '\n' ' ')" "a c d null "
	assert_equal "$(echo "$output" | tail -1)" '{"type":"target","serial":9}'
	assert_equal "$(jq -cS . "$T/stale")" \
		'{"display_name":"B","json_url":"https://pypi.org/pypi/b/json","last_serial":7,"name":"b","round":1,"serial":9,"type":"stale","x":1}'
	[[ "$stderr" == *"WARNING: Expected PyPI serial 9 for request https://pypi.org/pypi/b/json but got 7"* ]]
	# Appended, not overwritten; without a stale output, dropped.
	run -1 bash -c "serial-check --stale-file '$T/stale' <'$T/in' >/dev/null 2>&1"
	assert_equal "$(wc -l <"$T/stale")" 2
	run -1 --separate-stderr serial-check <"$T/in"
	assert_equal "$(echo "$output" | wc -l)" 4
	# --stale-fd
	run -1 bash -c "serial-check --stale-fd 5 <'$T/in' 5>'$T/fd' >/dev/null 2>&1"
	assert_equal "$(jq -r .name "$T/fd")" b
	# All fresh: exit 0. A malformed line: exit 1.
	run bash -c "head -1 '$T/in' | serial-check"
	assert_success
	run -1 --separate-stderr bash -c "printf '%s\n' '[1]' | serial-check"
	[[ "$stderr" == *"input line 1"* ]]
}

@test "0313 serial-check --max-rounds: a project stale for too long becomes an error record" {
	local rec='{"type":"project","name":"demo-pkg","display_name":"Demo_Pkg","serial":50,"last_serial":40,"json_url":"http://x/pypi/demo-pkg/json","files":[],"round":3}'
	run --separate-stderr bash -c "echo '$rec' | serial-check --stale-file '$T/stale'"
	assert_failure 1
	assert_equal "$(echo "$output" | jq -c '{type, name, tool, reason}')" \
		'{"type":"error","name":"demo-pkg","tool":"serial-check","reason":"stale serial: expected 50, got 40 after 3 rounds"}'
	[[ "$stderr" == *"ERROR: Stale serial for Demo_Pkg (50) not updating. Giving up."* ]]
	[ ! -s "$T/stale" ]
	# Round 2 of 3 still goes round; --max-rounds 2 gives it up.
	local rec2
	rec2=$(echo "$rec" | sed 's/"round":3/"round":2/')
	run -1 bash -c "echo '$rec2' | serial-check --stale-file '$T/stale' 2>/dev/null"
	assert_equal "$(jq -r .round "$T/stale")" 2
	run -1 bash -c "echo '$rec2' | serial-check --max-rounds 2 2>/dev/null"
	assert_equal "$(echo "$output" | jq -r .type)" error
}

# Makes two projects stale on the CDN and changes them upstream; writes the
# changelog-like input (every project at its current serial) to $T/in.
stale_two() {
	admin stale name=demo-pkg
	admin stale name=mixedcase
	admin new-release name=demo-pkg version=9.0
	admin new-release name=mixedcase version=9.0
	all_records >"$T/in"
}

# The next round: the records cdn-purge wrote ($T/again) resolve fresh, into
# $T/fresh2: no stale record, demo-pkg and mixedcase, and NAME at its serial
# with its release 9.0.
second_round_fresh() {
	run --separate-stderr bash -c "pkg-resolve -u '$EMU_URL' --allow-non-https <'$T/again' |
		serial-check --stale-file '$T/stale2' >'$T/fresh2'"
	assert_success
	[ ! -s "$T/stale2" ]
	assert_equal "$(jq -r .name "$T/fresh2" | sort | tr '\n' ' ')" "demo-pkg mixedcase "
	jq -se --arg n "$1" 'map(select(.name == $n))[0] | .last_serial == .serial and ([.files[].version] | index("9.0"))' "$T/fresh2"
}

@test "0314 stale CDN: serial-check flags exactly the stale projects; PURGE and a second round fix them" {
	up
	stale_two
	run --separate-stderr bash -c "pkg-resolve -u '$EMU_URL' --allow-non-https <'$T/in' |
		serial-check --stale-file '$T/stale' >'$T/fresh'"
	assert_failure 1
	assert_equal "$(jq -r .name "$T/stale" | sort | tr '\n' ' ')" "demo-pkg mixedcase "
	assert_equal "$(jq -r .name "$T/fresh" | sort)" "$(all_names | grep -vx -e demo-pkg -e mixedcase)"
	[[ "$stderr" == *"WARNING: Expected PyPI serial "*" for request $EMU_URL/pypi/demo-pkg/json but got "* ]]
	assert_equal "$(jq -r .round "$T/stale" | sort -u)" 0

	run --separate-stderr bash -c "cdn-purge -u '$EMU_URL' --allow-non-https <'$T/stale' >'$T/again'"
	assert_success
	[[ "$stderr" == *"INFO: cdn-purge: 2 purged, 0 refused, 0 failed"* ]]
	assert_equal "$(jq -c '{type, round, cache_bust}' "$T/again" | sort -u)" '{"type":"project","round":1,"cache_bust":false}'
	local purges
	purges=$(emu_stats | jq -c .purges)
	assert_equal "$(echo "$purges" | jq '.["/pypi/demo-pkg/json"], .["/simple/demo-pkg/"], .["/simple/Demo_Pkg/"], .["/pypi/mixedcase/json"], .["/simple/mixedcase/"], .["/simple/MixedCase/"]' | tr '\n' ' ')" "1 1 1 1 1 1 "

	second_round_fresh demo-pkg
	assert_equal "$(jq -r .round "$T/fresh2" | sort -u)" 1
	# The second round asked without a query string: the purge did the work.
	[ -z "$(emu_log | jq -r 'select(.path | contains("?"))')" ]
}

@test "0315 stale CDN with PURGE refused: one warning, cache_bust, and a fresh second round" {
	up
	stale_two
	admin purge-policy policy=refuse
	# exit 1: stale records
	run -1 bash -c "pkg-resolve -u '$EMU_URL' --allow-non-https <'$T/in' 2>/dev/null | serial-check --stale-file '$T/stale' >/dev/null 2>&1"
	assert_equal "$(wc -l <"$T/stale")" 2

	run --separate-stderr bash -c "cdn-purge -u '$EMU_URL' --allow-non-https -j 1 <'$T/stale' >'$T/again'"
	assert_success
	assert_equal "$(echo "$stderr" | grep -c 'WARNING: PURGE refused by upstream (HTTP 401): falling back to cache-busting re-resolution')" 1
	[[ "$stderr" == *"INFO: cdn-purge: 0 purged, 2 refused, 0 failed"* ]]
	assert_equal "$(jq -c '{type, round, cache_bust}' "$T/again" | sort -u)" '{"type":"project","round":1,"cache_bust":true}'
	# Asked once, then no more PURGE for the rest of the run.
	assert_equal "$(emu_stats | jq '[.purges_refused[]] | add')" 1
	assert_equal "$(emu_stats | jq '.purges | length')" 0

	second_round_fresh mixedcase
	emu_log | jq -r '.path' | grep -E '^/pypi/demo-pkg/json\?_=[0-9]+-[0-9a-f]+$'
}

@test "0316 cdn-purge: --no-purge, failing PURGE, pass-through and malformed input" {
	up
	local st='{"type":"stale","name":"demo-pkg","display_name":"Demo_Pkg","serial":9,"last_serial":8,"json_url":"http://evil.example/pypi/demo-pkg/json","round":2,"keep":"me"}'
	printf '%s\n' '{"type":"target","serial":9}' "$st" '{"type":"error","name":"x","serial":1,"tool":"t","reason":"r"}' >"$T/in"
	run --separate-stderr bash -c "cdn-purge -u '$EMU_URL' --allow-non-https --no-purge <'$T/in'"
	assert_success
	assert_equal "$(echo "$output" | sed -n 1p | jq -cS .)" \
		'{"cache_bust":true,"display_name":"Demo_Pkg","keep":"me","name":"demo-pkg","round":3,"serial":9,"type":"project"}'
	assert_equal "$(echo "$output" | tail -1)" '{"type":"target","serial":9}'
	assert_equal "$(emu_stats | jq .total)" 0
	# A record's json_url on another host is not purged; upstream's own URL is.
	run --separate-stderr bash -c "echo '$st' | cdn-purge -u '$EMU_URL' --allow-non-https --rate 0"
	assert_success
	assert_equal "$(emu_stats | jq -c '.purges | keys')" '["/pypi/demo-pkg/json","/simple/Demo_Pkg/","/simple/demo-pkg/"]'
	assert_equal "$(echo "$output" | jq .cache_bust)" false
	# A PURGE failing with 5xx: cache_bust for that record.
	admin fault path=/simple/demo-pkg/ kind=503 method=PURGE count=5
	run --separate-stderr bash -c "echo '$st' | cdn-purge -u '$EMU_URL' --allow-non-https"
	assert_success
	assert_equal "$(echo "$output" | jq .cache_bust)" true
	[[ "$stderr" == *"INFO: cdn-purge: 0 purged, 0 refused, 1 failed"* ]]
	run -1 --separate-stderr bash -c "printf '%s\n' 'nope' | cdn-purge -u '$EMU_URL' --allow-non-https"
	[[ "$stderr" == *"input line 1"* ]]
}

@test "0317 pkg-resolve and cdn-purge: a fetch under way when the input has no more goes on; its record comes out while the input stays open" {
	up
	# The stage before (changelog-fetch, pkg-demand following a log) has
	# written one record and not yet the next: the answer for this one must
	# not wait for it.
	echo '{"type":"project","name":"demo-pkg","serial":9}' >"$T/in"
	first_record_while_open "$T/in" pkg-resolve -u "$EMU_URL" --allow-non-https
	assert_equal "$(jq -r '[.type, .name, (.files | length > 0)] | join(" ")' <<<"$line")" "project demo-pkg true"
	echo '{"type":"stale","name":"demo-pkg","display_name":"Demo_Pkg","serial":9,"last_serial":8,"round":1}' >"$T/in"
	first_record_while_open "$T/in" cdn-purge -u "$EMU_URL" --allow-non-https --rate 0
	assert_equal "$(jq -r '[.type, .name, .cache_bust // false] | join(" ")' <<<"$line")" "project demo-pkg false"
	assert_equal "$(emu_stats | jq -c '.purges | keys')" '["/pypi/demo-pkg/json","/simple/Demo_Pkg/","/simple/demo-pkg/"]'
}
