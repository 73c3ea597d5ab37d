#!/usr/bin/env bats
# 23NN: private upstreams: the pipeline over https with a CA of our own
# (ca-bundle), mutual TLS (client-cert, client-key), HTTP basic auth and
# bearer tokens (from the configuration, a file or ~/.netrc), what a wrong
# password or an unknown CA does (an exit status, a message naming the
# upstream, nothing advanced), and credentials kept out of logs, records,
# pages and the process list.

load lib/common
load lib/tls
load lib/nginx

# One https emulator for the file; a test that changes its credentials
# puts them back in teardown.
setup_file() {
	tls_make
	export EMU_STATE="$BATS_FILE_TMPDIR/emu"
	emu_generate "$EMU_STATE" --projects 4 --seed 23 >/dev/null 2>&1
	emu_start_tls
}

setup() {
	mirror_setup
	PASS="s3cret-$RANDOM-pw"
	TOKEN="tok-$RANDOM-$RANDOM"
}

teardown() {
	common_teardown
	if [ -n "${NGINX_PID_STARTED:-}" ]; then nginx_stop; fi
	admin auth mode=none
	admin clear-faults
}

# curl as the tests' own client: trusts the test CA; $1.. as for curl.
ucurl() { curl -fsS --cacert "$TLS_DIR/ca.pem" "$@"; }
up_serial() {
	ucurl ${UAUTH:+-u "$UAUTH"} -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/" |
		jq '.meta."_last-serial"'
}

# A configuration for an https upstream (no allow-non-https), two workers;
# $1: more [mirror] lines.
tls_config() {
	cat >"$CONF" <<-EOF
	[mirror]
	directory = $M
	master = $EMU_URL
	workers = 2
	ca-bundle = $TLS_DIR/ca.pem
	${1:-}

	[pypi-mirror]
	log-dir = $LOGDIR
	stale-backoff = 0
	EOF
}

# Every project upstream has its pages, every file is on disk with its hash.
assert_mirrored() {
	local n want="$BATS_TEST_TMPDIR/want"
	local -a names
	mapfile -t names < <(ucurl ${UAUTH:+-u "$UAUTH"} -H 'Accept: application/vnd.pypi.simple.v1+json' \
		"$EMU_URL/simple/" | jq -r '.projects[].name' | while read -r n; do norm "$n"; done)
	[ "${#names[@]}" -gt 0 ]
	: >"$want"
	for n in "${names[@]}"; do
		[ -f "$M/web/simple/$n/index.html" ] || fail "no page for $n"
		ucurl ${UAUTH:+-u "$UAUTH"} -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/$n/" |
			jq -r '.files[] | "\(.hashes.sha256)  \(.url | sub("^[a-z]+://[^/]+/"; ""))"' >>"$want"
	done
	[ -s "$want" ]
	run bash -c "cd '$M/web' && sha256sum -c --quiet '$want'"
	assert_success
}

# No file under the mirror, the log directory or the run's records holds
# the secret $1.
assert_secret_absent() {
	run grep -rlF -- "$1" "$M" "$LOGDIR" 2>/dev/null
	assert_failure
	[ -z "$output" ] || fail "the secret is in: $output"
}

@test "2301 changelog-fetch over https: the test CA through --ca-bundle; without it a clear TLS error, exit 3" {
	run changelog-fetch -u "$EMU_URL" --ca-bundle "$TLS_DIR/ca.pem" -s 0
	assert_success
	assert_line --partial '"type":"target"'
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq 4 ]
	# the same through the environment the wrapper sets
	PYPI_MIRROR_CA_BUNDLE="$TLS_DIR/ca.pem" run changelog-fetch -u "$EMU_URL" --last-serial
	assert_success
	[ "$output" = "$(up_serial)" ]

	run changelog-fetch -u "$EMU_URL" -s 0
	[ "$status" -eq 3 ]
	assert_output --partial "$EMU_URL/simple/"
	assert_output --partial "certificate"
	assert_output --partial "give it with ca-bundle"
	refute_output --partial '"type":"project"'

	run changelog-fetch -u "$EMU_URL" --ca-bundle "$TLS_DIR/other-ca.pem" -s 0
	[ "$status" -eq 3 ]
	assert_output --partial "not signed by a CA in $TLS_DIR/other-ca.pem"

	run changelog-fetch -u "$EMU_URL" --ca-bundle "$BATS_TEST_TMPDIR/missing.pem" -s 0
	[ "$status" -eq 2 ]
	assert_output --partial "missing.pem"
}

@test "2302 pypi-mirror over https with ca-bundle: a full mirror, then a new release incrementally" {
	tls_config
	run pm mirror
	assert_success
	[ "$(status)" = "$(up_serial)" ]
	assert_mirrored
	admin new-release name=Demo_Pkg version=23.2 pad=3000
	run pm mirror
	assert_success
	[ "$(status)" = "$(up_serial)" ]
	ls "$M"/web/packages/*/*/*/demo_pkg-23.2-py3-none-any.whl
	assert_mirrored
}

@test "2303 basic auth from the configuration: the mirror lands; the password is in no log, record, page or state file" {
	admin auth mode=basic user=mirror password="$PASS"
	UAUTH="mirror:$PASS"
	run ucurl -o /dev/null "$EMU_URL/simple/"
	assert_failure
	tls_config "username = mirror
password = $PASS
diff-file = $M/diff.txt"
	run pm -v mirror
	assert_success
	refute_output --partial "$PASS"
	[ "$(status)" = "$(up_serial)" ]
	assert_mirrored
	grep -q '/web/packages/' "$M/diff.txt"
	assert_secret_absent "$PASS"
	# mirror-config's answer is the wrapper's to keep: the tools get the
	# password from the environment, not from argv (2308 checks ps)
	run mirror-config -c "$CONF"
	assert_success
}

@test "2304 a bearer token from token-file, and basic auth from password-file" {
	admin auth mode=bearer token="$TOKEN"
	printf '%s\n' "$TOKEN" >"$BATS_TEST_TMPDIR/token"
	chmod 600 "$BATS_TEST_TMPDIR/token"
	tls_config "token-file = $BATS_TEST_TMPDIR/token"
	run pm mirror
	assert_success
	[ "$(status)" = "$(ucurl -H "Authorization: Bearer $TOKEN" -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/" | jq '.meta."_last-serial"')" ]
	assert_secret_absent "$TOKEN"

	# the same upstream with basic auth from a file, into a second mirror
	admin auth mode=basic user=mirror password="$PASS"
	UAUTH="mirror:$PASS"
	printf '%s\n' "$PASS" >"$BATS_TEST_TMPDIR/password"
	M="$BATS_TEST_TMPDIR/mirror2"
	tls_config "username = mirror
password-file = $BATS_TEST_TMPDIR/password"
	run pm mirror
	assert_success
	assert_mirrored
	assert_secret_absent "$PASS"
}

@test "2305 credentials from ~/.netrc (netrc = true) and from a named netrc file" {
	admin auth mode=basic user=netrc-user password="$PASS"
	UAUTH="netrc-user:$PASS"
	export HOME="$BATS_TEST_TMPDIR/home"
	mkdir -p "$HOME"
	printf 'machine 127.0.0.1\nlogin netrc-user\npassword %s\n' "$PASS" >"$HOME/.netrc"
	chmod 600 "$HOME/.netrc"
	tls_config "netrc = true"
	run pm mirror
	assert_success
	assert_mirrored
	assert_secret_absent "$PASS"

	# a netrc file named in the configuration; the tool option too
	mv "$HOME/.netrc" "$BATS_TEST_TMPDIR/netrc"
	run changelog-fetch -u "$EMU_URL" --ca-bundle "$TLS_DIR/ca.pem" --netrc="$BATS_TEST_TMPDIR/netrc" --last-serial
	assert_success
	[ "$output" = "$(up_serial)" ]
	run changelog-fetch -u "$EMU_URL" --ca-bundle "$TLS_DIR/ca.pem" --last-serial
	[ "$status" -eq 3 ]
	assert_output --partial "HTTP 401 (authentication required; no credentials are configured"
}

@test "2306 a wrong password: exit 3, a message naming the upstream, status and files untouched" {
	admin auth mode=basic user=mirror password="$PASS"
	UAUTH="mirror:$PASS"
	tls_config "username = mirror
password = $PASS"
	run pm mirror
	assert_success
	local before files_before
	before=$(status)
	# what the mirror serves: the wrapper's own bookkeeping (last run,
	# metrics) may record the failure
	files_before=$(cd "$M/web" && find . -type f -print | sort | xargs sha256sum)

	admin new-release name=MixedCase version=23.6 pad=3000
	tls_config "username = mirror
password = wrong-$PASS"
	run pm mirror
	[ "$status" -eq 3 ]
	assert_output --partial "$EMU_URL/simple/"
	assert_output --partial "HTTP 401 (the credentials were refused)"
	assert_output --partial "upstream $EMU_URL"
	refute_output --partial "wrong-$PASS"
	[ "$(status)" = "$before" ]
	[ "$(cd "$M/web" && find . -type f -print | sort | xargs sha256sum)" = "$files_before" ]
	run find "$M" -name '.*.tmp'
	[ -z "$output" ] || fail "temporaries left: $output"
	run find "$M/web" -name 'mixedcase-23.6*'
	[ -z "$output" ]
	assert_secret_absent "wrong-$PASS"

	# the right password again: the run catches up
	tls_config "username = mirror
password = $PASS"
	run pm mirror
	assert_success
	[ "$(status)" = "$(up_serial)" ]
	assert_mirrored
}

@test "2307 an upstream signed by an unknown CA: exit 3, a message naming it, status untouched" {
	tls_config
	run pm mirror
	assert_success
	local before
	before=$(status)
	admin new-release name=MixedCase version=23.7 pad=3000
	tls_config
	sed -i "s|^ca-bundle = .*|ca-bundle = $TLS_DIR/other-ca.pem|" "$CONF"
	run pm mirror
	[ "$status" -eq 3 ]
	assert_output --partial "$EMU_URL/simple/"
	assert_output --partial "not signed by a CA in $TLS_DIR/other-ca.pem"
	assert_output --partial "upstream $EMU_URL"
	[ "$(status)" = "$before" ]
	run find "$M/web" -name 'mixedcase-23.7*'
	[ -z "$output" ]
}

@test "2308 no tool of a running mirror has the password or token on its command line" {
	admin auth mode=basic user=mirror password="$PASS"
	UAUTH="mirror:$PASS"
	# Slow file downloads keep artifact-get (and the wrapper) running
	# while the process list is looked at.
	admin fault path=/packages/ kind=slow delay=2 count=4
	tls_config "username = mirror
password = $PASS"
	pm_background mirror
	local seen=0 i pids
	for i in $(seq 600); do
		pids=$(pgrep -g "$BG_PID" || true)
		if [ -n "$pids" ] && ps -o args= -p "$(tr '\n' , <<<"$pids" | sed 's/,$//')" | grep -q artifact-get; then
			seen=1
			ps -eo args= >"$BATS_TEST_TMPDIR/ps.txt"
			cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' >>"$BATS_TEST_TMPDIR/ps.txt" || true
			break
		fi
		sleep 0.1
	done
	[ "$seen" = 1 ] || fail "artifact-get never ran ($(cat "$BATS_TEST_TMPDIR/bg.out"))"
	grep -q artifact-get "$BATS_TEST_TMPDIR/ps.txt"
	refute_grep "$PASS" "$BATS_TEST_TMPDIR/ps.txt"
	wait_until 120 "the background run" bash -c "! kill -0 $BG_PID 2>/dev/null"
	wait "$BG_PID"
	BG_PID=
	assert_mirrored
	refute_grep "$PASS" "$BATS_TEST_TMPDIR/bg.out"
	assert_secret_absent "$PASS"
}

@test "2309 mutual TLS: client-cert and client-key; without them the upstream refuses the connection" {
	# a second emulator over the same state that wants a client certificate
	local url=$EMU_URL pid=$EMU_PID
	emu_start_tls --tls-client-ca "$TLS_DIR/ca.pem"
	local murl=$EMU_URL
	EMU_URL=$url EMU_PID=$pid
	unset EMU_CLIENT_CERT EMU_CLIENT_KEY
	export EMU_URL EMU_PID
	cat >"$CONF" <<-EOF
	[mirror]
	directory = $M
	master = $murl
	workers = 2
	ca-bundle = $TLS_DIR/ca.pem
	client-cert = $TLS_DIR/client.pem
	client-key = $TLS_DIR/client.key

	[pypi-mirror]
	log-dir = $LOGDIR
	EOF
	run pm mirror
	assert_success
	[ "$(status)" = "$(up_serial)" ]
	assert_mirrored

	run changelog-fetch -u "$murl" --ca-bundle "$TLS_DIR/ca.pem" --last-serial
	[ "$status" -eq 3 ]
	assert_output --partial "$murl/simple/"
	run changelog-fetch -u "$murl" --ca-bundle "$TLS_DIR/ca.pem" --client-cert "$TLS_DIR/client.pem" \
		--client-key "$TLS_DIR/client.key" --last-serial
	assert_success
}

@test "2310 the configuration refuses credentials in the master URL, without echoing them, and half-given credentials" {
	tls_config
	sed -i "s|^master = https://|master = https://mirror:$PASS@|" "$CONF"
	run mirror-config -c "$CONF"
	[ "$status" -eq 2 ]
	assert_output --partial "master: carries credentials"
	refute_output --partial "$PASS"
	run pm mirror
	[ "$status" -eq 2 ]
	refute_output --partial "$PASS"

	tls_config "password = $PASS"
	run mirror-config -c "$CONF"
	[ "$status" -eq 2 ]
	assert_output --partial "username is not"
	tls_config "username = u
token = $TOKEN"
	run mirror-config -c "$CONF"
	[ "$status" -eq 2 ]
	tls_config "client-key = $TLS_DIR/client.key"
	run mirror-config -c "$CONF"
	[ "$status" -eq 2 ]
	assert_output --partial "client-cert is not"
	# the tools refuse it as well, naming no secret
	run changelog-fetch -u "https://u:$PASS@127.0.0.1:1" --last-serial
	[ "$status" -eq 2 ]
	refute_output --partial "$PASS"
}

# ---------------------------------------------------------------- chaining
# 232N: changelog-fetch against another mirror: our own (its root keeps each
# project's _last-serial), and upstreams without serials (a PEP 503 root from
# a plain static server, a PEP 691 root stripped of its serials behind the
# shipped nginx configuration), followed with conditional requests.

# records: "name serial" per project record, sorted
# (run mixes the log lines on standard error in: records are the JSON lines)
project_lines() { grep '^{' <<<"$1" | jq -r 'select(.type == "project") | "\(.name) \(.serial)"' | sort; }
target_of() { grep '^{' <<<"$1" | jq -r 'select(.type == "target") | .serial'; }

@test "2320 our published root keeps every project's _last-serial: a mirror of it (nginx) lists only what changed" {
	tls_config
	run pm mirror
	assert_success
	local s0 n
	s0=$(status)
	n=$(jq '.projects | length' "$M/web/simple/index.v1_json")
	[ "$n" -ge 4 ]
	[ "$(jq '[.projects[] | select((."_last-serial" | type) == "number")] | length' "$M/web/simple/index.v1_json")" -eq "$n" ]
	nginx_start "$M/web"
	NGINX_PID_STARTED=1
	run changelog-fetch -u "$NGINX_URL" --allow-non-https -s 0
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq "$n" ]
	[ "$(target_of "$output")" = "$s0" ]

	admin new-release name=Foo.Bar-baz version=23.20 pad=2000
	run pm mirror
	assert_success
	run changelog-fetch -u "$NGINX_URL" --allow-non-https -s "$s0"
	assert_success
	[ "$(project_lines "$output")" = "foo-bar-baz $(status)" ]
	# no page was asked for: the serials say it all
	run grep -c '^GET /simple/[^ ]*/ ' "$NGINX_DIR/access.log"
	[ "$output" = 0 ]
}

@test "2321 a PEP 503 root without serials (a plain static server): conditional requests; an idle run gets only 304s; removals followed; a run that did not land is seen again" {
	tls_config
	run pm mirror
	assert_success
	local d="$BATS_TEST_TMPDIR/down" s n log="$BATS_TEST_TMPDIR/serve.log"
	cp -a "$M" "$d"
	s=$(cat "$d/status")
	n=$(jq '.projects | length' "$M/web/simple/index.v1_json")
	serve_dir "$M/web" "$log"
	local -a cf=(changelog-fetch -u "$SERVE_URL" --allow-non-https -d "$d")

	# nothing remembered: every project counts as changed, with our serial
	run "${cf[@]}"
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq "$n" ]
	[ "$(target_of "$output")" = $((s + 1)) ]
	[ "$(project_lines "$output" | cut -d' ' -f2 | sort -u)" = $((s + 1)) ]
	[ -f "$d/pypi-mirror.validators.next" ]
	[ "$(grep -vc '^#' "$d/pypi-mirror.validators.next")" -eq "$n" ]
	# the pipeline landed it
	printf '%s' $((s + 1)) >"$d/status"

	# idle: one 304 per project, nothing listed (the server writes its log
	# without O_APPEND: count the lines after a mark, do not truncate)
	local mark
	mark=$(wc -l <"$log")
	run "${cf[@]}"
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq 0 ]
	[ "$(tail -n +$((mark + 1)) "$log" | grep -c '"GET /simple/[^ ]*/ HTTP/1.1" 304')" -eq "$n" ]
	run bash -c "tail -n +$((mark + 1)) '$log' | grep -c '\"GET /simple/[^ ]*/ HTTP/1.1\" 200'"
	[ "$output" = 0 ]
	[ -f "$d/pypi-mirror.validators" ]
	printf '%s' $((s + 1)) >"$d/status"

	# a new release and a removed project upstream
	sleep 1 # Last-Modified has whole seconds
	admin new-release name=Demo_Pkg version=23.21 pad=2000
	admin remove-project name=zope.interface
	run pm mirror
	assert_success
	run "${cf[@]}"
	assert_success
	[ "$(project_lines "$output")" = "demo-pkg $((s + 2))
zope-interface $((s + 2))" ]
	# status not advanced (the run did not land): the change is seen again
	run "${cf[@]}"
	assert_success
	project_lines "$output" | grep -q "^demo-pkg "
	# landed: idle again
	printf '%s' $((s + 2)) >"$d/status"
	run "${cf[@]}"
	assert_success
	printf '%s' $((s + 2)) >"$d/status"
	run "${cf[@]}"
	assert_success
	project_lines "$output" | grep -v '^zope-interface ' | { ! grep -q .; } || fail "listed: $output"
}

@test "2322 a PEP 691 JSON root without _last-serial behind the shipped nginx configuration: ETags make an idle run cheap" {
	tls_config
	run pm mirror
	assert_success
	local web="$BATS_TEST_TMPDIR/web" d="$BATS_TEST_TMPDIR/down" n
	cp -a "$M/web" "$web"
	jq 'del(.meta."_last-serial") | del(.projects[]."_last-serial")' "$M/web/simple/index.v1_json" >"$web/simple/index.v1_json"
	n=$(jq '.projects | length' "$web/simple/index.v1_json")
	mkdir -p "$d"
	nginx_start "$web"
	NGINX_PID_STARTED=1
	run changelog-fetch -u "$NGINX_URL" --allow-non-https -d "$d" -s 3
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq "$n" ]
	grep -q '	"' "$d/pypi-mirror.validators.next" # ETags kept
	printf '%s' "$(target_of "$output")" >"$d/status"
	: >"$NGINX_DIR/access.log"
	run changelog-fetch -u "$NGINX_URL" --allow-non-https -d "$d" -s "$(cat "$d/status")"
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq 0 ]
	[ "$(grep -c '^GET /simple/[^ ]*/ 304 ' "$NGINX_DIR/access.log")" -eq "$n" ]
	grep -q '^GET /simple/ 200 "application/vnd.pypi.simple.v1+json"' "$NGINX_DIR/access.log"
}
