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
	NGINX_TLS=1 nginx_start "$M/web"
	NGINX_PID_STARTED=1
	run changelog-fetch -u "$NGINX_URL" --ca-bundle "$TLS_DIR/ca.pem" -s 0
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq "$n" ]
	[ "$(target_of "$output")" = "$s0" ]

	admin new-release name=Foo.Bar-baz version=23.20 pad=2000
	run pm mirror
	assert_success
	run changelog-fetch -u "$NGINX_URL" --ca-bundle "$TLS_DIR/ca.pem" -s "$s0"
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
	NGINX_TLS=1 nginx_start "$web"
	NGINX_PID_STARTED=1
	run changelog-fetch -u "$NGINX_URL" --ca-bundle "$TLS_DIR/ca.pem" -d "$d" -s 3
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq "$n" ]
	grep -q '	"' "$d/pypi-mirror.validators.next" # ETags kept
	printf '%s' "$(target_of "$output")" >"$d/status"
	: >"$NGINX_DIR/access.log"
	run changelog-fetch -u "$NGINX_URL" --ca-bundle "$TLS_DIR/ca.pem" -d "$d" -s "$(cat "$d/status")"
	assert_success
	[ "$(grep -c '"type":"project"' <<<"$output")" -eq 0 ]
	[ "$(grep -c '^GET /simple/[^ ]*/ 304 ' "$NGINX_DIR/access.log")" -eq "$n" ]
	grep -q '^GET /simple/ 200 "application/vnd.pypi.simple.v1+json"' "$NGINX_DIR/access.log"
}

# ------------------------------------------- serial-less and bandersnatch A
# 2323-2329: pypi-mirror mirror (the wrapper, end to end) from another site's
# static mirror served by a bare nginx over https (the test CA through
# ca-bundle): a plain PEP 503 tree with no serial anywhere, and a tree in
# bandersnatch's layout with json = false (web/simple/NAME/index.html ending
# in <!--SERIAL n-->, the root web/simple/index.html, web/packages/..., no
# web/json, no PEP 691 files).

# static_tree SRC_WEB DEST_WEB [SERIAL_BASE]: DEST_WEB becomes SRC_WEB's
# projects and files as bandersnatch writes them (html only); each page ends
# in <!--SERIAL base+its serial--> when SERIAL_BASE is given, else has no
# serial. A page or root whose bytes do not change is not rewritten (its
# ETag and Last-Modified stay); a project SRC_WEB no longer has is removed
# (its files stay, as bandersnatch leaves them).
static_tree() {
	"$PY" - "$@" <<-'PYEOF'
	import html, json, os, re, shutil, sys
	src, dest = sys.argv[1], sys.argv[2]
	base = int(sys.argv[3]) if len(sys.argv) > 3 else None
	def put(path, text):
	    os.makedirs(os.path.dirname(path), exist_ok=True)
	    try:
	        if open(path).read() == text:
	            return
	    except OSError:
	        pass
	    open(path + ".tmp", "w").write(text)
	    os.rename(path + ".tmp", path)
	def norm(n):
	    return re.sub(r"[-_.]+", "-", n).lower()
	root = json.load(open(f"{src}/simple/index.v1_json"))
	names = sorted((norm(p["name"]), p["name"]) for p in root["projects"])
	for n, display in names:
	    page = json.load(open(f"{src}/simple/{n}/index.v1_json"))
	    out = ['<!DOCTYPE html>', '<html>', '  <head>',
	           '    <meta name="pypi:repository-version" content="1.0">',
	           f'    <title>Links for {html.escape(display)}</title>', '  </head>', '  <body>',
	           f'    <h1>Links for {html.escape(display)}</h1>']
	    for f in sorted(page["files"], key=lambda f: f["filename"]):
	        rel = re.search(r"(?:^|/)(packages/.*)$", f["url"]).group(1)
	        target = f"{dest}/{rel}"
	        if not os.path.exists(target):
	            os.makedirs(os.path.dirname(target), exist_ok=True)
	            shutil.copyfile(f"{src}/{rel}", target)
	        a = f'<a href="../../{rel}#sha256={f["hashes"]["sha256"]}"'
	        if f.get("requires-python"):
	            a += f' data-requires-python="{html.escape(f["requires-python"])}"'
	        y = f.get("yanked")
	        if y:
	            a += f' data-yanked="{html.escape(y) if isinstance(y, str) else ""}"'
	        out.append(f'    {a}>{html.escape(f["filename"])}</a><br/>')
	    out += ['  </body>', '</html>']
	    if base is not None:
	        out.append(f'<!--SERIAL {base + page["meta"]["_last-serial"]}-->')
	    put(f"{dest}/simple/{n}/index.html", "\n".join(out))
	put(f"{dest}/simple/index.html", "\n".join(
	    ['<!DOCTYPE html>', '<html>', '  <head>', '    <meta name="pypi:repository-version" content="1.0">',
	     '    <title>Simple Index</title>', '  </head>', '  <body>'] +
	    [f'    <a href="{n}/">{html.escape(d)}</a><br/>' for n, d in names] + ['  </body>', '</html>']))
	keep = {n for n, _ in names}
	for d in os.listdir(f"{dest}/simple"):
	    if os.path.isdir(f"{dest}/simple/{d}") and d not in keep:
	        shutil.rmtree(f"{dest}/simple/{d}")
	PYEOF
}

# A static A over https: $A/web from the mirror $M (mirrored from the
# emulator first), served by a bare nginx; $B's configuration follows it.
# $1: SERIAL_BASE for bandersnatch's serial comments (none: no serials).
static_a_setup() {
	tls_config
	run pm mirror
	assert_success
	A="$BATS_TEST_TMPDIR/a" B="$BATS_TEST_TMPDIR/b"
	mkdir -p "$A/web" "$B"
	static_tree "$M/web" "$A/web" ${1:+"$1"}
	NGINX_VARIANT=plain NGINX_TLS=1 nginx_start "$A/web"
	NGINX_PID_STARTED=1
	write_conf_b
}
# B's configuration: a mirror of $NGINX_URL (A behind nginx, https with
# the test CA) into $B, resolving through the Simple API.
write_conf_b() {
	CONF_B="$BATS_TEST_TMPDIR/b.conf"
	cat >"$CONF_B" <<-EOF
	[mirror]
	directory = $B
	master = $NGINX_URL
	workers = 2
	ca-bundle = $TLS_DIR/ca.pem

	[pypi-mirror]
	log-dir = $LOGDIR/b
	stale-backoff = 0
	metadata-source = simple
	EOF
}
pmb() { pypi-mirror -c "$CONF_B" "$@"; }

# B holds what A lists: the same projects, the same files (paths, sha256),
# and pages offering them with A's hashes, requires-python and yanks.
assert_b_is_a() {
	local n
	diff <(cd "$A/web/simple" && find . -mindepth 1 -maxdepth 1 -type d | sort) \
		<(cd "$B/web/simple" && find . -mindepth 1 -maxdepth 1 -type d | sort)
	diff <(jq -r '.projects[].name' "$M/web/simple/index.v1_json" | sort) \
		<(jq -r '.projects[].name' "$B/web/simple/index.v1_json" | sort)
	for n in $(cd "$A/web/simple" && find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n'); do
		diff <(jq -c '[.files[] | [.filename, .hashes.sha256, ."requires-python", .yanked, (.url | sub("^.*/packages/"; ""))]] | sort' "$M/web/simple/$n/index.v1_json") \
			<(jq -c '[.files[] | [.filename, .hashes.sha256, ."requires-python", .yanked, (.url | sub("^.*/packages/"; ""))]] | sort' "$B/web/simple/$n/index.v1_json") ||
			fail "$n differs"
		jq -r '.files[] | "\(.hashes.sha256)  \(.url | sub("^.*/packages/"; "packages/"))"' "$B/web/simple/$n/index.v1_json"
	done >"$BATS_TEST_TMPDIR/b.sums"
	run bash -c "cd '$B/web' && sha256sum -c --quiet '$BATS_TEST_TMPDIR/b.sums'"
	assert_success
}

# The requests the nginx saw after line $1 of its log (method URI status).
requests_after() { tail -n +$(($1 + 1)) "$NGINX_DIR/access.log" | cut -d' ' -f1-3; }

@test "2323 pypi-mirror mirror from a plain static upstream over https (no serial anywhere): full, idle (one 304 per project, nothing else), incremental with a removal" {
	static_a_setup
	! grep -rq SERIAL "$A/web/simple" || fail "A has serials"
	run pmb mirror
	assert_success
	assert_b_is_a
	[ "$(cat "$B/status")" = 1 ]
	[ -f "$B/pypi-mirror.validators.next" ]

	# idle: the root and one conditional GET per project, each a 304
	local mark n
	n=$(find "$A/web/simple" -mindepth 1 -maxdepth 1 -type d | wc -l)
	mark=$(wc -l <"$NGINX_DIR/access.log")
	run pmb mirror
	assert_success
	[ "$(cat "$B/status")" = 1 ] || fail "status $(cat "$B/status"): $output"
	run requests_after "$mark"
	[ "$(grep -c '^GET /simple/ 200$' <<<"$output")" -eq 1 ]
	[ "$(grep -c '^GET /simple/[^ ]*/ 304$' <<<"$output")" -eq "$n" ]
	[ "${#lines[@]}" -eq $((n + 1)) ] || fail "more than the root and 304s: $output"

	# a new release and a removed project at A: B follows, its status moves by one
	local victim
	victim=$(jq -r '.projects[].name' "$M/web/simple/index.v1_json" | grep -vx Demo_Pkg | head -1)
	admin new-release name=Demo_Pkg version=23.23 pad=2000
	admin remove-project name="$victim"
	victim=$(norm "$victim")
	run pm mirror
	assert_success
	static_tree "$M/web" "$A/web"
	[ ! -d "$A/web/simple/$victim" ]
	mark=$(wc -l <"$NGINX_DIR/access.log")
	run pmb mirror
	assert_success
	[ "$(cat "$B/status")" = 2 ]
	assert_b_is_a
	ls "$B"/web/packages/*/*/*/demo_pkg-23.23-py3-none-any.whl
	[ ! -e "$B/web/simple/$victim" ]
	run requests_after "$mark"
	# only the changed page came in full (the conditional GET, then pkg-resolve's)
	[ "$(grep '^GET /simple/[^ ]*/ 200$' <<<"$output" | sort -u)" = "GET /simple/demo-pkg/ 200" ] ||
		fail "pages fetched in full: $output"
	# no file B has was downloaded again
	[ "$(grep '^GET /packages/' <<<"$output" | grep -vc 23.23)" -eq 0 ]
	# B's root: the changed project carries B's new serial, none is past B's status
	[ "$(jq '[.projects[] | select(.name == "Demo_Pkg")][0]."_last-serial"' "$B/web/simple/index.v1_json")" = 2 ]
	[ "$(jq '[.projects[]."_last-serial"] | max' "$B/web/simple/index.v1_json")" -le 2 ]
	[ "$(jq '.meta."_last-serial"' "$B/web/simple/index.v1_json")" = 2 ]
}

@test "2324 status of a mirror of a serial-less upstream: upstream serial none, exit 0; the mirror's serial counts the runs that found changes" {
	static_a_setup
	run pmb mirror
	assert_success
	run changelog-fetch -u "$NGINX_URL" --ca-bundle "$TLS_DIR/ca.pem" --last-serial
	assert_success
	[ "$output" = none ]
	run pmb status
	assert_success
	assert_line "mirror serial: 1"
	assert_line --partial "upstream serial: none ($NGINX_URL publishes no serials"
	assert_line --partial "lag: unknown"
	run pmb status --json
	assert_success
	[ "$(jq -c '[.serial, .upstream_serial, .upstream_serials, .lag]' <<<"$output")" = '[1,null,false,null]' ]
	# an idle run leaves it where it is; a removal alone moves it
	run pmb mirror
	assert_success
	[ "$(cat "$B/status")" = 1 ]
	rm -r "$A/web/simple/demo-pkg"
	sed -i '/href="demo-pkg\/"/d' "$A/web/simple/index.html"
	run pmb mirror
	assert_success
	[ ! -e "$B/web/simple/demo-pkg" ]
	[ "$(cat "$B/status")" = 2 ]
	[ "$(jq '.meta."_last-serial"' "$B/web/simple/index.v1_json")" = 2 ]
}

@test "2325 chaining from a bandersnatch-layout A (json = false, <!--SERIAL n--> pages, no PEP 691 files): B ends with A's projects, files and pages, and follows A" {
	static_a_setup 5000
	grep -q '^<!--SERIAL 50[0-9][0-9]-->$' "$A/web/simple/demo-pkg/index.html"
	[ ! -e "$A/web/json" ] && [ -z "$(find "$A/web" -name '*.v1_json')" ]
	run pmb mirror
	assert_success
	assert_b_is_a
	# B's numbering is its own: A's page serials (5000+) are not taken for it
	[ "$(cat "$B/status")" = 1 ]
	[ "$(jq '[.projects[]."_last-serial"] | max' "$B/web/simple/index.v1_json")" = 1 ]

	admin new-release name=Demo_Pkg version=23.25 pad=2000
	run pm mirror
	assert_success
	static_tree "$M/web" "$A/web" 5000
	run pmb mirror
	assert_success
	assert_b_is_a
	ls "$B"/web/packages/*/*/*/demo_pkg-23.25-py3-none-any.whl
	[ "$(cat "$B/status")" = 2 ]
	[ "$(jq '[.projects[] | select(.name == "Demo_Pkg")][0]."_last-serial"' "$B/web/simple/index.v1_json")" = 2 ]
}

@test "2326 chaining from our own mirror A behind the shipped nginx over https, through pypi-mirror mirror: B ends with A's projects, files, serials and pages; follows A; idle costs the root alone" {
	tls_config
	run pm mirror
	assert_success
	A="$BATS_TEST_TMPDIR/a" B="$BATS_TEST_TMPDIR/b"
	mkdir -p "$B"
	ln -s "$M" "$A"
	NGINX_TLS=1 nginx_start "$M/web"
	NGINX_PID_STARTED=1
	write_conf_b
	run pmb mirror
	assert_success
	assert_b_is_a
	[ "$(cat "$B/status")" = "$(status)" ]
	diff <(jq -c '[.projects[] | [.name, ."_last-serial"]]' "$M/web/simple/index.v1_json") \
		<(jq -c '[.projects[] | [.name, ."_last-serial"]]' "$B/web/simple/index.v1_json")
	local mark
	mark=$(wc -l <"$NGINX_DIR/access.log")
	run pmb mirror
	assert_success
	run requests_after "$mark"
	[ "$output" = "GET /simple/ 200" ] || fail "an idle run asked for more: $output"

	admin new-release name=MixedCase version=23.26 pad=2000
	run pm mirror
	assert_success
	run pmb mirror
	assert_success
	assert_b_is_a
	[ "$(cat "$B/status")" = "$(status)" ]
	ls "$B"/web/packages/*/*/*/mixedcase-23.26-py3-none-any.whl
}
