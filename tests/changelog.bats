#!/usr/bin/env bats
# 01NN: changelog-fetch against the PyPI emulator, through both sources
# (the PEP 691 simple root and the XML-RPC journal).

load lib/common

# One emulator for the file (Python starts slowly on a busy machine); every
# test works relative to the serial it finds, and uses its own names and
# versions so the tests do not depend on each other's order.
setup_file() {
	emu_file_start
	fake_start
}

teardown_file() {
	common_teardown_file
	fake_stop
}

setup() {
	tool_env
	admin clear-faults
	admin reset-stats
}

cf() { changelog-fetch -u "$EMU_URL" --allow-non-https "$@"; }

# The upstream serial now.
serial() { emu_stats | jq -r .serial; }

# "name serial display_name" per project record, for comparing runs.
projects() { jq -r 'select(.type == "project") | "\(.name) \(.serial) \(.display_name)"'; }

# Runs an admin op and prints the serial of the project it touched.
mutate() { emu_admin "$@" | jq -r .project_serial; }

# Both sources, since $1, must name exactly project $2 (display name $3)
# at serial $4, and a target at $4. Extra args go to the simple run.
expect_only() {
	local since=$1 name=$2 display=$3 want=$4
	shift 4
	local src
	for src in xmlrpc simple; do
		local extra=()
		[ "$src" = simple ] && extra=("$@")
		run --separate-stderr cf --source "$src" --since "$since" "${extra[@]}"
		assert_success
		assert_equal "$(echo "$output" | projects)" "$name $want $display"
		assert_equal "$(echo "$output" | tail -1 | jq -c .)" \
			"{\"type\":\"target\",\"serial\":$want,\"since\":$since,\"projects\":1,\"source\":\"$src\"}"
	done
}

# A mirror root as index-write leaves it: status + web/simple/index.v1_json
# with upstream's root as it is now.
make_mirror() {
	local dir=$1
	mkdir -p "$dir/web/simple"
	printf '%s' "$(serial)" >"$dir/status"
	simple_root >"$dir/web/simple/index.v1_json"
}

# A stand-in XML-RPC server for answers the emulator does not give (faults,
# hostile XML): every POST gets the current content of $FAKE_BODY.
fake_start() {
	export FAKE_BODY="$BATS_FILE_TMPDIR/fake.xml"
	local portfile="$BATS_FILE_TMPDIR/fake.port"
	: >"$FAKE_BODY"
	"$PY" - "$FAKE_BODY" "$portfile" >/dev/null 2>&1 3>&- <<'EOF' &
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = open(sys.argv[1], "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
EOF
	echo $! >"$BATS_FILE_TMPDIR/fake.pid"
	wait_until 10 "the XML-RPC stand-in's port" test -s "$portfile"
	FAKE_URL="http://127.0.0.1:$(cat "$portfile")"
	export FAKE_URL
}

fake_stop() {
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/fake.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

@test "0101 changelog-fetch: initial listing is the same via both sources" {
	run --separate-stderr cf --since 0 --source xmlrpc
	assert_success
	local x=$output
	run --separate-stderr cf --since 0
	assert_success
	local s=$output
	# Every upstream project, once, with its serial and display name.
	local n
	n=$(curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/" | jq '.projects | length')
	assert [ "$n" -gt 0 ]
	assert_equal "$(echo "$x" | projects | wc -l)" "$n"
	assert_equal "$(echo "$x" | projects | sort)" "$(echo "$s" | projects | sort)"
	assert_equal "$(echo "$x" | projects | sort)" \
		"$(curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/" |
			jq -r '.projects[] | "\(.name | ascii_downcase | gsub("[-_.]+"; "-")) \(."_last-serial") \(.name)"' | sort)"
	# Sorted by name, target last, at upstream's serial.
	assert_equal "$(echo "$s" | projects | cut -d' ' -f1)" "$(echo "$s" | projects | cut -d' ' -f1 | LC_ALL=C sort)"
	local t
	t=$(serial)
	assert_equal "$(echo "$x" | tail -1 | jq -c .)" "{\"type\":\"target\",\"serial\":$t,\"since\":0,\"projects\":$n,\"source\":\"xmlrpc\"}"
	assert_equal "$(echo "$s" | tail -1 | jq -c .)" "{\"type\":\"target\",\"serial\":$t,\"since\":0,\"projects\":$n,\"source\":\"simple\"}"
	# Logs in the operators' style.
	run cf --since 0 --source xmlrpc
	assert_output --partial "INFO: Fetching every project's serial via XML-RPC"
	assert_output --partial "INFO: $n projects changed, target serial $t"
}

@test "0102 changelog-fetch: new project" {
	local s w
	s=$(serial)
	w=$(mutate new-project name=Brand_New.Pkg version=1.0)
	expect_only "$s" brand-new-pkg Brand_New.Pkg "$w"
}

@test "0103 changelog-fetch: new release" {
	local s w
	s=$(serial)
	w=$(mutate new-release name=Demo_Pkg version=103.0)
	expect_only "$s" demo-pkg Demo_Pkg "$w"
}

@test "0104 changelog-fetch: file added to a release" {
	admin new-release name=zope.interface version=104.0
	local s w
	s=$(serial)
	w=$(mutate add-file name=zope.interface version=104.0 kind=wheel tag=cp312-cp312-manylinux_2_17_x86_64)
	expect_only "$s" zope-interface zope.interface "$w"
}

@test "0105 changelog-fetch: file removed" {
	local f s w
	f=$(emu_admin new-release name=MixedCase version=105.0 | jq -r '.files[0]')
	s=$(serial)
	w=$(mutate remove-file name=MixedCase filename="$f")
	expect_only "$s" mixedcase MixedCase "$w"
}

@test "0106 changelog-fetch: release removed" {
	admin new-release name=Demo_Pkg version=106.0
	local s w
	s=$(serial)
	w=$(mutate remove-release name=Demo_Pkg version=106.0)
	expect_only "$s" demo-pkg Demo_Pkg "$w"
}

@test "0107 changelog-fetch: yank and unyank" {
	admin new-release name=Demo_Pkg version=107.0
	local s w
	s=$(serial)
	w=$(mutate yank name=Demo_Pkg version=107.0 reason=broken)
	expect_only "$s" demo-pkg Demo_Pkg "$w"
	s=$(serial)
	w=$(mutate unyank name=Demo_Pkg version=107.0)
	expect_only "$s" demo-pkg Demo_Pkg "$w"
}

@test "0108 changelog-fetch: removed project (journal, and the simple root against the mirror)" {
	local dir="$BATS_TEST_TMPDIR/mirror"
	make_mirror "$dir"
	local s w
	s=$(serial)
	w=$(mutate remove-project name=zope.interface)
	# XML-RPC sees the "remove project" row; the simple source sees the
	# mirror's root list a project upstream's no longer has.
	expect_only "$s" zope-interface zope.interface "$w" -d "$dir"
	# Without the mirror the simple root cannot know; the target still moves.
	run --separate-stderr cf --since "$s"
	assert_success
	assert_equal "$(echo "$output" | projects)" ""
	assert_equal "$(echo "$output" | jq -c 'select(.type == "target") | [.serial, .projects]')" "[$w,0]"
}

@test "0109 changelog-fetch: the journal is read past 50,000-row pages" {
	local s w
	s=$(serial)
	w=$(mutate bulk-journal name=Demo_Pkg count=60000)
	assert_equal "$w" "$((s + 60000))"
	admin reset-stats
	run --separate-stderr cf --source xmlrpc --since "$s"
	assert_success
	assert_equal "$(echo "$output" | projects)" "demo-pkg $w Demo_Pkg"
	assert_equal "$(echo "$output" | tail -1 | jq -c '[.serial, .projects]')" "[$w,1]"
	# 50,000 rows, 10,000 rows, then the empty page that ends it.
	local calls
	calls=$(emu_stats | jq '.requests["POST /pypi"]')
	assert [ "$calls" -ge 2 ]
	assert_equal "$calls" 3
}

@test "0110 changelog-fetch: mirrored projects missing upstream become records (-d), once the serial moves" {
	local dir="$BATS_TEST_TMPDIR/mirror"
	make_mirror "$dir"
	local s t
	s=$(serial)
	# A project the mirror has and upstream never had (or lost long ago).
	jq -c '.projects += [{"_last-serial": 3, "name": "Gone.Pkg"}]' "$dir/web/simple/index.v1_json" >"$dir/root"
	mv "$dir/root" "$dir/web/simple/index.v1_json"
	# Upstream's serial has not moved: nothing can have changed, and nothing
	# can have gone (a removal is a journal entry too), so the listing is
	# not read past meta and the mirror's root is not compared with it.
	run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https -d "$dir"
	assert_success
	assert_equal "$(echo "$output" | projects)" ""
	assert_equal "$(echo "$output" | tail -1 | jq -c '[.serial, .since, .projects]')" "[$s,$s,0]"
	assert_regex "$stderr" "INFO: Upstream's serial $s is not past $s: nothing changed"
	# Once it moves (here for another project), the mirror's root is compared.
	t=$(mutate new-project name=cf-0110-new)
	run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https -d "$dir"
	assert_success
	assert_equal "$(echo "$output" | projects)" "cf-0110-new $t cf-0110-new
gone-pkg $t Gone.Pkg"
	assert_equal "$(echo "$output" | tail -1 | jq -c '[.serial, .since, .projects]')" "[$t,$s,2]"
	refute [ -n "$(echo "$stderr" | grep -E 'ERROR|WARNING')" ]
	assert_regex "$stderr" "Project gone-pkg is mirrored but no longer listed upstream"

	# Without a root JSON (a bandersnatch mirror): the project directories.
	rm "$dir/web/simple/index.v1_json"
	mkdir -p "$dir/web/simple/gone-pkg" "$dir/web/simple/demo-pkg" "$dir/web/simple/g/gx"
	touch "$dir/web/simple/gone-pkg/index.html" "$dir/web/simple/demo-pkg/index.html"
	run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https -d "$dir"
	assert_success
	# The hash-index letter directory "g" has no page and is left alone.
	assert_equal "$(echo "$output" | projects | grep -v cf-0110-new)" "gone-pkg $t gone-pkg"

	# XML-RPC from serial 0 is a full listing too.
	printf 0 >"$dir/status"
	run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https -d "$dir" --source xmlrpc
	assert_success
	assert_equal "$(echo "$output" | projects | grep gone)" "gone-pkg $t gone-pkg"
}

@test "0111 changelog-fetch: upstream 5xx after the retries: exit 3, nothing printed" {
	admin fault path=/pypi kind=500 method=POST count=10
	run --separate-stderr cf --source xmlrpc --since 1
	assert_equal "$status" 3
	assert_equal "$output" ""
	assert_regex "$stderr" "ERROR: XML-RPC changelog_since_serial at $EMU_URL/pypi failed after 2 attempts: HTTP 500"

	admin fault path=/simple/ kind=503 count=10
	run --separate-stderr cf --since 1
	assert_equal "$status" 3
	assert_equal "$output" ""
	assert_regex "$stderr" "ERROR: Cannot fetch $EMU_URL/simple/: HTTP 503"

	# Unreachable.
	run --separate-stderr changelog-fetch -u http://127.0.0.1:9 --allow-non-https --since 1
	assert_equal "$status" 3
	assert_equal "$output" ""
}

@test "0112 changelog-fetch: an XML-RPC fault (rate limit) is fatal and prints nothing" {
	local body=$FAKE_BODY
	# What Warehouse sends (xmlrpc.client.dumps of the Fault), byte for byte.
	printf '%s\n' "<?xml version='1.0'?>" '<methodResponse>' '<fault>' '<value><struct>' '<member>' \
		'<name>faultCode</name>' '<value><int>-32500</int></value>' '</member>' '<member>' \
		'<name>faultString</name>' \
		'<value><string>HTTPTooManyRequests: The action could not be performed because there were too many requests by the client. Limit may reset in 42 seconds.</string></value>' \
		'</member>' '</struct></value>' '</fault>' '</methodResponse>' >"$body"
	run --separate-stderr changelog-fetch -u "$FAKE_URL" --allow-non-https --source xmlrpc --since 5
	assert_equal "$status" 3
	assert_equal "$output" ""
	assert_regex "$stderr" "ERROR: XML-RPC changelog_since_serial at $FAKE_URL/pypi answered with fault -32500: HTTPTooManyRequests: .* 42 seconds"
	run --separate-stderr changelog-fetch -u "$FAKE_URL" --allow-non-https --source xmlrpc --last-serial
	assert_equal "$status" 3
	assert_equal "$output" ""
}

@test "0113 changelog-fetch: hostile or broken XML-RPC answers are refused" {
	local body=$FAKE_BODY
	{
		printf '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
		printf '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
		printf '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
		printf '<methodResponse><params><param><value><array><data><value><array><data>'
		printf '<value><string>&lol3;</string></value><value><nil/></value><value><int>1</int></value>'
		printf '<value><string>create</string></value><value><int>7</int></value>'
		printf '</data></array></value></data></array></value></param></params></methodResponse>\n'
	} >"$body"
	run --separate-stderr changelog-fetch -u "$FAKE_URL" --allow-non-https --source xmlrpc --since 5
	assert_equal "$status" 3
	assert_equal "$output" ""
	assert_regex "$stderr" "ERROR: Cannot parse the XML-RPC changelog_since_serial response from $FAKE_URL/pypi: line 2, column [0-9]+: a DOCTYPE is not allowed"
}

@test "0114 changelog-fetch: a response cut short is retried and parsed afresh" {
	local s w
	s=$(serial)
	w=$(mutate bulk-journal name=MixedCase count=3000)
	admin fault path=/pypi kind=truncate method=POST count=1
	run --separate-stderr cf --source xmlrpc --since "$s"
	assert_success
	assert_equal "$(echo "$output" | projects)" "mixedcase $w MixedCase"
	# The cut one, its retry, and the empty page.
	assert_equal "$(emu_stats | jq '.requests["POST /pypi"]')" 3
	# The simple root is parsed while it arrives: a cut one is parsed again
	# from its start, and what the cut one listed is not counted twice.
	admin fault path=/simple/ kind=truncate count=1
	run --separate-stderr cf --since "$s"
	assert_success
	assert_equal "$(echo "$output" | projects)" "mixedcase $w MixedCase"
	assert_equal "$(echo "$output" | tail -1 | jq -c '[.serial, .projects]')" "[$w,1]"
	assert_equal "$(emu_stats | jq '.requests["GET /simple/"]')" 2
	run --separate-stderr cf --since 0
	local full=$output
	admin fault path=/simple/ kind=truncate count=1
	run --separate-stderr cf --since 0
	assert_success
	assert_equal "$output" "$full"
}

@test "0115 changelog-fetch: --last-serial" {
	local t
	t=$(serial)
	run --separate-stderr cf --last-serial
	assert_success
	assert_output "$t"
	run --separate-stderr cf --last-serial --source xmlrpc
	assert_success
	assert_output "$t"
	admin new-project name=another-one
	run --separate-stderr cf --last-serial --source xmlrpc
	assert_output "$(serial)"
}

@test "0116 changelog-fetch: the serial from DIR/status, bandersnatch style" {
	local dir="$BATS_TEST_TMPDIR/mirror" s w
	mkdir -p "$dir"
	s=$(serial)
	printf '%s' "$s" >"$dir/status"
	w=$(mutate new-release name=Demo_Pkg version=116.0)
	for src in simple xmlrpc; do
		run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https --source "$src" -d "$dir"
		assert_success
		assert_equal "$(echo "$output" | projects)" "demo-pkg $w Demo_Pkg"
		assert_equal "$(echo "$output" | tail -1 | jq .since)" "$s"
	done
	run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https --source xmlrpc -d "$dir"
	assert_regex "$stderr" "INFO: Fetching changes since serial $s via XML-RPC"
	assert_regex "$stderr" "INFO: 1 projects changed, target serial $w"
	# -s wins over the status file.
	run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https -d "$dir" -s "$w"
	assert_success
	assert_equal "$(echo "$output" | jq -c .)" "{\"type\":\"target\",\"serial\":$w,\"since\":$w,\"projects\":0,\"source\":\"simple\"}"
	# A status file that holds no serial.
	printf 'garbage' >"$dir/status"
	run --separate-stderr changelog-fetch -u "$EMU_URL" --allow-non-https -d "$dir"
	assert_equal "$status" 3
	assert_equal "$output" ""
	assert_regex "$stderr" "does not hold a serial"
}

@test "0117 changelog-fetch: http:// upstream refused without --allow-non-https" {
	run --separate-stderr changelog-fetch -u "$EMU_URL" --since 0
	assert_equal "$status" 2
	assert_equal "$output" ""
	assert_regex "$stderr" "not https"
	PYPI_MIRROR_UPSTREAM=$EMU_URL run --separate-stderr changelog-fetch --last-serial
	assert_equal "$status" 2
	PYPI_MIRROR_UPSTREAM=$EMU_URL PYPI_MIRROR_ALLOW_NON_HTTPS=1 run --separate-stderr changelog-fetch --last-serial
	assert_success
	assert_output "$(serial)"
}

@test "0118 changelog-fetch: --help, --version and usage errors" {
	run changelog-fetch --help
	assert_success
	assert_output --partial "usage: changelog-fetch"
	for opt in --upstream --allow-non-https --since --directory --source --last-serial --verbose --quiet --help --version; do
		assert_output --partial -- "$opt"
		# Every option of --help is in the man page too.
		grep -q -- "Fl ${opt#-}" "$BATS_TEST_DIRNAME/../man/changelog-fetch.1"
	done
	run changelog-fetch --version
	assert_success
	assert_output --regexp '^changelog-fetch \(pypi-mirror\) [0-9]'
	run changelog-fetch -u "$EMU_URL" --allow-non-https
	assert_equal "$status" 2
	assert_output --partial "--since N or --directory DIR"
	run changelog-fetch -u "$EMU_URL" --allow-non-https --since 0 --source rss
	assert_equal "$status" 2
	run changelog-fetch -u "$EMU_URL" --allow-non-https --since -4
	assert_equal "$status" 2
	run changelog-fetch -u "$EMU_URL" --allow-non-https --bogus
	assert_equal "$status" 2
	run changelog-fetch -u "$EMU_URL" --allow-non-https --since 0 extra
	assert_equal "$status" 2
}
