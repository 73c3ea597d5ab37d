#!/usr/bin/env bats
# 10NN: hostile input. Crafted upstream documents (tests/hostile/, see its
# README) are served by a small stub (tests/hostile/stub.py) and fed to the
# real tools and to the wrapper. Every case must be refused, with a message
# naming the project (or input line, or file) and the reason, or neutralised
# (skipped with a warning, or escaped on the pages); nothing may be written
# outside the mirror directory (the tools run in a fresh parent directory
# whose listing is compared before and after); pages stay valid HTML and
# JSON, with no markup from upstream in them.

load lib/common

CORPUS="$BATS_TEST_DIRNAME/hostile"

setup_file() {
	export SERVE="$BATS_FILE_TMPDIR/serve"
	mkdir -p "$SERVE/json" "$SERVE/xmlrpc" "$SERVE/packages"
	local portfile="$BATS_FILE_TMPDIR/stub.port"
	"$PY" "$CORPUS/stub.py" serve --dir "$SERVE" --port-file "$portfile" --log "$BATS_FILE_TMPDIR/stub.log" \
		>"$BATS_FILE_TMPDIR/stub.out" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/stub.pid"
	wait_until 10 "the stub's port (its output: $BATS_FILE_TMPDIR/stub.out)" test -s "$portfile"
	export UP="http://127.0.0.1:$(cat "$portfile")"
}

teardown_file() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/stub.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
	return 0
}

setup() {
	tool_env 0 0.05
	export PYPI_MIRROR_ALLOW_NON_HTTPS=1
	# A fresh parent: the mirror is PARENT/mirror, the tools run in PARENT.
	PARENT="$BATS_TEST_TMPDIR/parent"
	M="$PARENT/mirror"
	mkdir -p "$M"
	rm -rf "$SERVE"/json/* "$SERVE"/xmlrpc/* "$SERVE"/packages/* "$SERVE"/simple.json*
	cp "$CORPUS/xmlrpc/changelog_last_serial.xml" "$SERVE/xmlrpc/"
	outside >"$BATS_TEST_TMPDIR/outside.before"
}

# Everything under PARENT but the mirror, and what a traversal would hit.
outside() {
	(cd "$PARENT" && find . -path ./mirror -prune -o -print | LC_ALL=C sort)
	ls -d /tmp/escaped-* /escaped-* "$BATS_TEST_TMPDIR"/escaped-* "$BATS_FILE_TMPDIR"/escaped-* 2>/dev/null || true
}
assert_nothing_outside() {
	outside >"$BATS_TEST_TMPDIR/outside.after"
	run diff "$BATS_TEST_TMPDIR/outside.before" "$BATS_TEST_TMPDIR/outside.after"
	[ "$status" -eq 0 ] || fail "written outside the mirror ($1): $output"
}

# Runs a tool in PARENT: in PARENT, stdin from $1, stdout and stderr apart.
tool() {
	local input=$1
	shift
	run --separate-stderr bash -c 'cd "$1" && shift && exec "$@"' _ "$PARENT" "$@" <"$input"
}

# The JSON API document of a case, served for its project (the file's name).
serve_json() { cp "$1" "$SERVE/json/$(basename "$1")"; }
name_of() { local n=${1##*/}; printf '%s\n' "${n%.*}"; }

# Every page under DIR/web/simple parses (JSON with json, HTML with
# html.parser), and no markup that came from upstream survives: no <script>,
# <img> or <b> element, no on* attribute.
assert_pages_valid() {
	run "$PY" - "$1/web/simple" <<-'EOF'
	import html.parser, json, os, sys
	bad = []
	class P(html.parser.HTMLParser):
	    def handle_starttag(self, tag, attrs):
	        if tag in ("script", "img", "b", "x", "iframe") or any(k.startswith("on") for k, v in attrs):
	            bad.append("%s: <%s %s>" % (self.path, tag, attrs))
	for root, dirs, files in os.walk(sys.argv[1]):
	    for f in files:
	        p = os.path.join(root, f)
	        raw = open(p, "rb").read()
	        try:
	            text = raw.decode("utf-8")
	        except UnicodeDecodeError as e:
	            bad.append("%s: not UTF-8: %s" % (p, e)); continue
	        if f.endswith("json"):
	            try: json.loads(text)
	            except ValueError as e: bad.append("%s: not JSON: %s" % (p, e))
	        else:
	            h = P(); h.path = p; h.feed(text); h.close()
	print("\n".join(bad))
	sys.exit(1 if bad else 0)
	EOF
	[ "$status" -eq 0 ] || fail "pages: $output"
}

# refuse_class GLOB: each JSON API document must make pkg-resolve refuse
# the project: exit 1, one error record naming it, the reason on stderr,
# no project record; and nothing written outside.
refuse_class() {
	local f n count=0
	for f in "$CORPUS"/json/refuse/$1.json; do
		n=$(name_of "$f")
		serve_json "$f"
		printf '{"name":"%s","serial":1}\n' "$n" >"$BATS_TEST_TMPDIR/in"
		tool "$BATS_TEST_TMPDIR/in" pkg-resolve -u "$UP"
		[ "$status" -eq 1 ] || fail "$f: pkg-resolve exit $status, want 1 (refused): $stderr"
		jq -e --arg n "$n" 'select(.type == "error" and .name == $n and (.reason | length) > 0)' <<<"$output" >/dev/null ||
			fail "$f: no error record naming $n: $output"
		! grep -q '"type":"project"' <<<"$output" || fail "$f: a project record came out: $output"
		[[ $stderr == *"ERROR: "*"$n"* ]] || fail "$f: the error does not name $n: $stderr"
		count=$((count + 1))
	done
	assert_nothing_outside "$1"
	[ "$count" -gt 0 ] || fail "no corpus file matches $1"
	echo "# $count documents refused" >&3
}

@test "1001 hostile: traversal in file names and URLs (../, absolute, %2e%2e, %2F, backslash, dot names) is refused" {
	refuse_class 't-*'
}

@test "1002 hostile: file URLs to other hosts, ports or schemes (file:, gopher:, ftp:, javascript:, userinfo, //host) are refused" {
	refuse_class 'h-*'
}

@test "1003 hostile: overlong file names and URLs are refused" {
	refuse_class 'o-*'
	# an overlong project name, as input and from upstream's index
	printf '{"name":"%s","serial":1}\n' "$(printf 'a%.0s' {1..300})" >"$BATS_TEST_TMPDIR/in"
	tool "$BATS_TEST_TMPDIR/in" pkg-resolve -u "$UP"
	assert_failure 1
	[[ $stderr == *'"name" is too long'* ]] || fail "$stderr"
}

@test "1004 hostile: invalid UTF-8, overlong UTF-8, lone surrogates, NUL and control characters are refused" {
	refuse_class 'u-*'
}

@test "1005 hostile: numbers out of range or of the wrong type (size, sha256) are refused" {
	refuse_class 'n-*'
}

@test "1006 hostile: broken structure and duplicate file names in one project are refused" {
	refuse_class 's-*'
	refuse_class 'e-dup-same'
}

@test "1007 hostile: markup in every string that reaches a page is escaped; a foreign info.name is ignored" {
	local f
	for f in "$CORPUS"/json/escape/*.json "$CORPUS"/json/good/*.json; do serve_json "$f"; done
	for f in "$CORPUS"/json/escape/*.json "$CORPUS"/json/good/*.json; do
		printf '{"name":"%s","serial":1}\n' "$(name_of "$f")"
	done | grep -v e-shared >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bash -c 'cd "$1" && pkg-resolve -u "$2" | artifact-get -d "$3" -u "$2" | index-write -d "$3"' \
		_ "$PARENT" "$UP" "$M" <"$BATS_TEST_TMPDIR/in"
	assert_success
	assert_nothing_outside escape
	assert_pages_valid "$M"
	# the strings are there, escaped
	grep -qF '&lt;script&gt;alert(2)&lt;/script&gt;&amp;amp;' "$M/web/simple/e-html-everywhere/index.html"
	grep -qF 'data-requires-python="&gt;=3&#34;&gt;&lt;script&gt;' "$M/web/simple/e-html-everywhere/index.html"
	jq -e '.files[] | select(.["yanked"] | strings | contains("<script>alert(2)"))' "$M/web/simple/e-html-everywhere/index.v1_json" >/dev/null
	grep -qF '<title>Links for E.Display__Name</title>' "$M/web/simple/e-display-name/index.html"
	# upstream's info.name for another project is not taken
	[[ $stderr == *"s-name-mismatch: upstream calls it 'someone-else'"* ]] || fail "$stderr"
	[ -d "$M/web/simple/s-name-mismatch" ] && [ ! -e "$M/web/simple/someone-else" ]
}

@test "1008 hostile: records with traversal, foreign URLs, bad names, NUL, invalid UTF-8 or bad numbers are refused by artifact-get and index-write" {
	local f n t count=0
	for f in "$CORPUS"/records/*.ndjson; do
		n=$(name_of "$f")
		[ "$n" = r-dup-filenames ] && continue # accepted, below
		sed "s#@UPSTREAM@#$UP#g" "$f" >"$BATS_TEST_TMPDIR/in"
		for t in artifact-get index-write; do
			# json_file is index-write's business only
			[ "$n/$t" = r-json-file-etc/artifact-get ] && continue
			if [ "$t" = artifact-get ]; then
				tool "$BATS_TEST_TMPDIR/in" artifact-get -d "$M" -u "$UP"
			else
				tool "$BATS_TEST_TMPDIR/in" index-write -d "$M" --json
			fi
			[ "$status" -eq 1 ] || fail "$f: $t exit $status, want 1: $stderr"
			[[ $stderr == *"ERROR: "* ]] || fail "$f: $t says nothing: $stderr"
			# the message names the input line, or the project and the file
			[[ $stderr == *"line 1"* || $stderr == *"project r-"* || $stderr == *"r-"*": "* ]] ||
				fail "$f: $t's message names neither the line nor the project: $stderr"
			! grep -q '"type":"synced"' <<<"$output" || fail "$f: $t synced it: $output"
		done
		count=$((count + 1))
	done
	assert_nothing_outside records
	run find "$M/web" -path '*/packages/*' -type f
	assert_output ''
	echo "# $count records refused by both tools" >&3
}

@test "1009 hostile: a record's json_file outside the mirror is neither moved nor deleted by index-write --json" {
	local doc='{"info":{"name":"victim"},"releases":{},"urls":[],"last_serial":1}'
	printf '%s\n' "$doc" >"$PARENT/precious.json"
	printf '%s\n' "$doc" >"$PARENT/precious2.json"
	outside >"$BATS_TEST_TMPDIR/outside.before"
	printf '{"type":"project","name":"victim","serial":1,"last_serial":1,"files":[],"json_file":"%s"}\n' \
		"$PARENT/precious.json" >"$BATS_TEST_TMPDIR/in"
	tool "$BATS_TEST_TMPDIR/in" index-write -d "$M" --json
	assert_success
	[ -f "$PARENT/precious.json" ] || fail "index-write moved a file from outside the mirror into it"
	cmp "$PARENT/precious.json" "$M/web/json/victim"
	# the same document again: unchanged, and the source is still not deleted
	printf '{"type":"project","name":"victim","serial":1,"last_serial":1,"files":[],"json_file":"%s"}\n' \
		"$PARENT/precious2.json" >"$BATS_TEST_TMPDIR/in"
	tool "$BATS_TEST_TMPDIR/in" index-write -d "$M" --json
	assert_success
	[ -f "$PARENT/precious2.json" ] || fail "index-write deleted a file outside the mirror"
	assert_nothing_outside json_file
	# the spool inside the mirror is still consumed
	mkdir -p "$M/.spool"
	printf '%s\n' "$doc" >"$M/.spool/victim.1.json"
	printf '{"type":"project","name":"victim","serial":1,"last_serial":1,"files":[],"json_file":"%s"}\n' \
		"$M/.spool/victim.1.json" >"$BATS_TEST_TMPDIR/in"
	tool "$BATS_TEST_TMPDIR/in" index-write -d "$M" --json
	assert_success
	[ ! -e "$M/.spool/victim.1.json" ]
}

@test "1010 hostile: XML-RPC bombs (entity expansion, external entities), deep nesting, bad types and broken XML are refused" {
	local f n count=0
	"$PY" "$CORPUS/stub.py" bombs "$BATS_TEST_TMPDIR/gen" >/dev/null
	for f in "$CORPUS"/xmlrpc/x-*.xml "$BATS_TEST_TMPDIR/gen/xmlrpc-deep.xml"; do
		cp "$f" "$SERVE/xmlrpc/changelog_since_serial.xml"
		tool /dev/null changelog-fetch -u "$UP" --source xmlrpc --since 1
		[ "$status" -eq 3 ] || fail "$f: changelog-fetch exit $status, want 3: $stderr"
		[[ $stderr == *"ERROR: "*"changelog_since_serial"* ]] || fail "$f: the error does not say what failed: $stderr"
		[ -z "$output" ] || fail "$f: printed records from a refused answer: $output"
		count=$((count + 1))
	done
	# the external entity was never read
	refute_grep 'root:' "$BATS_FILE_TMPDIR/stub.log"
	# names that are not project names are skipped, with a warning; the rest is used
	for f in "$CORPUS"/xmlrpc/names/*.xml; do
		cp "$f" "$SERVE/xmlrpc/changelog_since_serial.xml"
		tool /dev/null changelog-fetch -u "$UP" --source xmlrpc --since 1
		[ "$status" -eq 0 ] || fail "$f: exit $status: $stderr"
		if [[ $f == */x-bad-names.xml ]]; then
			[[ $stderr == *"Skipping invalid project name '../../escaped-x1'"* ]] || fail "$f: no warning for the bad name: $stderr"
		fi
		run jq -r 'select(.type == "project") | .name' <<<"$output"
		[ "$output" = good-one ] || fail "$f: listed $output"
		count=$((count + 1))
	done
	assert_nothing_outside xmlrpc
	echo "# $count XML-RPC answers" >&3
}

@test "1011 hostile: a hostile PEP 691 root (bad names, serials, versions, nesting, truncation) is refused or its bad entries skipped" {
	local f count=0
	"$PY" "$CORPUS/stub.py" bombs "$BATS_TEST_TMPDIR/gen" >/dev/null
	for f in "$CORPUS"/simple/s-*.json; do
		cp "$f" "$SERVE/simple.json"
		tool /dev/null changelog-fetch -u "$UP" --since 1
		[ "$status" -eq 3 ] || fail "$f: changelog-fetch exit $status, want 3: $stderr"
		[[ $stderr == *"ERROR: "*"/simple/"* ]] || fail "$f: the error does not name the root: $stderr"
		[ -z "$output" ] || fail "$f: printed records: $output"
		count=$((count + 1))
	done
	for f in "$CORPUS"/simple/names/*.json "$BATS_TEST_TMPDIR/gen/simple-deep.json"; do
		cp "$f" "$SERVE/simple.json"
		tool /dev/null changelog-fetch -u "$UP" --since 1
		[ "$status" -eq 0 ] || fail "$f: exit $status: $stderr"
		jq -e 'select(.type == "target")' <<<"$output" >/dev/null || fail "$f: no target: $output"
		! jq -r 'select(.type == "project") | .name' <<<"$output" | grep -v '^good-one$' || fail "$f: listed a bad name: $output"
		# entries that are not projects are skipped with a warning
		case ${f##*/} in
		s-bad-names.json | simple-deep.json) [[ $stderr == *"WARNING: Skipping "* ]] || fail "$f: skipped without a warning: $stderr" ;;
		esac
		count=$((count + 1))
	done
	assert_nothing_outside simple
	echo "# $count roots" >&3
}

@test "1012 hostile: deeply nested JSON and an enormous line are refused by every tool, in bounded memory" {
	local t
	"$PY" "$CORPUS/stub.py" bombs "$BATS_TEST_TMPDIR/gen" >/dev/null
	cp "$BATS_TEST_TMPDIR/gen/json-deep.json" "$SERVE/json/deep.json"
	printf '{"name":"deep","serial":1}\n' >"$BATS_TEST_TMPDIR/in"
	tool "$BATS_TEST_TMPDIR/in" pkg-resolve -u "$UP"
	assert_failure 1
	[[ $stderr == *"Refusing deep"* ]] || fail "$stderr"
	printf '[plugins]\nenabled =\n' >"$BATS_TEST_TMPDIR/filter.conf"
	for t in "pkg-resolve -u $UP" serial-check "cdn-purge -u $UP" "artifact-get -d $M -u $UP" "index-write -d $M" \
		"pkg-filter -c $BATS_TEST_TMPDIR/filter.conf"; do
		# shellcheck disable=SC2086
		tool "$BATS_TEST_TMPDIR/gen/record-deep.ndjson" $t
		[ "$status" -eq 1 ] || fail "$t on 200,000-deep nesting: exit $status: $stderr"
		[[ $stderr == *"line 1"* ]] || fail "$t: the error does not name the line: $stderr"
		# shellcheck disable=SC2086
		tool "$BATS_TEST_TMPDIR/gen/record-huge-line.ndjson" $t
		[ "$status" -eq 1 ] || fail "$t on a 70 MiB line: exit $status: $stderr"
		[[ $stderr == *"line 1: longer than 67108864 bytes"* ]] || fail "$t: $stderr"
		# the next line is still read (and passed on)
		jq -e 'select(.type == "target" and .serial == 9)' <<<"$output" >/dev/null || fail "$t lost the line after: $output"
	done
	assert_nothing_outside deep
}

# Peak memory of a command in KiB (GNU time), or empty without it / under ASan.
peak_kib() {
	[ -x /usr/bin/time ] || return 0
	ldd "$(command -v pkg-resolve)" 2>/dev/null | grep -q asan && return 0
	/usr/bin/time -f '%M' -o "$BATS_TEST_TMPDIR/peak" "$@" >/dev/null 2>&1 || true
	cat "$BATS_TEST_TMPDIR/peak" | tail -n 1
}

@test "1013 hostile: gzip bombs (the tools send Accept-Encoding) are bounded by the response size limits" {
	"$PY" "$CORPUS/stub.py" bombs "$BATS_TEST_TMPDIR/gen" ${HOSTILE_BIG:+--big} >/dev/null
	# JSON API document: 320 MiB of JSON from 320 KiB of gzip
	cp "$BATS_TEST_TMPDIR/gen/json-bomb.json.gz" "$SERVE/json/bomb.json.gz"
	printf '{"name":"bomb","serial":1}\n' >"$BATS_TEST_TMPDIR/in"
	tool "$BATS_TEST_TMPDIR/in" pkg-resolve -u "$UP"
	assert_failure 1
	[[ $stderr == *"bomb"*"response larger than 268435456 bytes"* ]] || fail "$stderr"
	local peak
	peak=$(peak_kib bash -c 'pkg-resolve -u "$1" <"$2"' _ "$UP" "$BATS_TEST_TMPDIR/in")
	# The body grows in steps that end at the limit: about the limit at the
	# peak, not twice it.
	[ -z "$peak" ] || [ "$peak" -lt $((384 * 1024)) ] || fail "pkg-resolve peaked at $peak KiB on a 256 MiB limit"
	echo "# JSON API bomb: refused at 256 MiB, peak ${peak:-?} KiB" >&3
	# XML-RPC: a 64 MiB string and 64 MiB of whitespace, streamed and capped
	local b
	for b in string space; do
		cp "$BATS_TEST_TMPDIR/gen/xmlrpc-$b-bomb.xml.gz" "$SERVE/xmlrpc/changelog_since_serial.xml.gz"
		tool /dev/null changelog-fetch -u "$UP" --source xmlrpc --since 1
		assert_failure 3
		[[ $stderr == *"text longer than 8388608 bytes"* ]] || fail "$b bomb: $stderr"
		rm "$SERVE/xmlrpc/changelog_since_serial.xml.gz"
	done
	# PEP 691 root: parsed as it arrives; one 64 MiB string is refused at 8 MiB
	cp "$BATS_TEST_TMPDIR/gen/simple-string-bomb.json.gz" "$SERVE/simple.json.gz"
	tool /dev/null changelog-fetch -u "$UP" --since 1
	assert_failure 3
	[[ $stderr == *"more than 8388608 bytes without a value ending"* ]] || fail "$stderr"
	rm "$SERVE/simple.json.gz"
	if [ -n "${HOSTILE_BIG:-}" ]; then
		cp "$BATS_TEST_TMPDIR/gen/simple-bomb.json.gz" "$SERVE/simple.json.gz"
		peak=$(peak_kib changelog-fetch -u "$UP" --since 1)
		tool /dev/null changelog-fetch -u "$UP" --since 1
		assert_failure 3
		[[ $stderr == *"response larger than 1073741824 bytes"* ]] || fail "$stderr"
		# Streamed: the 1 GiB never sits in memory.
		[ -z "$peak" ] || [ "$peak" -lt $((128 * 1024)) ] || fail "changelog-fetch peaked at $peak KiB on the root bomb"
		echo "# PEP 691 root bomb: refused at 1 GiB, peak ${peak:-?} KiB" >&3
		rm "$SERVE/simple.json.gz"
	fi
	assert_nothing_outside bombs
}

@test "1014 hostile: one file listed by two projects lands once for both, and neither's removal breaks the other" {
	local f
	for f in "$CORPUS"/json/escape/e-shared-a.json "$CORPUS"/json/escape/e-shared-b.json; do serve_json "$f"; done
	# the shared file answers after a second: the two downloads overlap
	local p
	p=$(jq -r '.urls[0].url | sub("^@UPSTREAM@/"; "")' "$CORPUS/json/escape/e-shared-a.json")
	mkdir -p "$SERVE/${p%/*}"
	printf 'hello\n' >"$SERVE/$p"
	echo 1 >"$SERVE/$p.delay"
	printf '{"name":"e-shared-a","serial":1}\n{"name":"e-shared-b","serial":1}\n' >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr bash -c 'cd "$1" && pkg-resolve -u "$2" | artifact-get -d "$3" -u "$2" | index-write -d "$3"' \
		_ "$PARENT" "$UP" "$M" <"$BATS_TEST_TMPDIR/in"
	local first_out=$output first_err=$stderr
	assert_nothing_outside shared
	assert_pages_valid "$M"
	# removing b (a removal record) keeps a's file: it does not belong to b
	printf '{"type":"removal","name":"e-shared-b","serial":2}\n' >"$BATS_TEST_TMPDIR/rm"
	tool "$BATS_TEST_TMPDIR/rm" index-write -d "$M"
	[ -f "$(find "$M/web/packages" -name 'e_shared_a-1.0.tar.gz' | head -n 1)" ] || fail "removing e-shared-b deleted e-shared-a's file"
	# Both land in the one run: the second download's start must not take
	# the first one's temporary (same process) for a crashed run's.
	grep -q '"type":"synced","name":"e-shared-a"' <<<"$first_out" && grep -q '"type":"synced","name":"e-shared-b"' <<<"$first_out" ||
		fail "$(printf 'two projects listing one file in the same run do not both land:\n%s' "$(grep ERROR <<<"$first_err")")"
}

@test "1015 hostile: the wrapper against a hostile upstream: the good project lands, each hostile one fails by name, nothing outside" {
	local f n names=()
	cp "$CORPUS"/json/refuse/*.json "$CORPUS"/json/good/*.json "$SERVE/json/"
	for f in "$CORPUS"/json/refuse/*.json "$CORPUS"/json/good/*.json; do names+=("$(name_of "$f")"); done
	# the root lists every project at serial 5 (what their documents say)
	printf '%s\n' "${names[@]}" | jq -R '{name: ., "_last-serial": 5}' | jq -s '{meta: {"api-version": "1.1", "_last-serial": 5}, projects: .}' >"$SERVE/simple.json"
	cat >"$BATS_TEST_TMPDIR/pm.conf" <<-EOF
	[mirror]
	directory = $M
	master = $UP
	allow-non-https = true
	workers = 2

	[pypi-mirror]
	log-dir = $M/log
	stale-backoff = 0
	stale-rounds = 0
	EOF
	run --separate-stderr bash -c 'cd "$1" && pypi-mirror -c "$2" mirror' _ "$PARENT" "$BATS_TEST_TMPDIR/pm.conf"
	assert_failure 1
	assert_nothing_outside wrapper
	assert_pages_valid "$M"
	[ -f "$M/web/simple/good-one/index.html" ] || fail "the good project did not land: $stderr"
	for n in "${names[@]}"; do
		[ "$n" = good-one ] && continue
		grep -q "\"name\":\"$n\"" "$M/pypi-mirror.failed" || fail "$n is not in the failed list"
		[ ! -e "$M/web/simple/$n" ] || fail "$n got a page"
	done
	# status stays before the failed projects' serial
	[ "$(cat "$M/status" 2>/dev/null || echo 0)" -lt 5 ]
	run find "$M/web/packages" -type f
	[ "$(grep -c . <<<"$output")" -eq 2 ] || fail "packages: $output"
	echo "# ${#names[@]} projects, $((${#names[@]} - 1)) refused by name" >&3
}
