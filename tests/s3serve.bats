#!/usr/bin/env bats
# Serving a mirror out of an object store: contrib/nginx/pypi-mirror-store.conf
# in front of a real OpenStack Swift (tests/swift/swift-start, one for the
# whole file) whose container anyone may read (Swift's read ACL .r:*). The
# mirror in the store and a mirror on disk are made by the same tools from
# the same emulator; nginx over the store must answer what the njs variant
# answers over the disk (the shared checks in lib/nginx.bash compare the
# bodies with the disk's pages), and a real pip installs from it.

load lib/common
load lib/swift
load lib/nginx

# mirror_to DEST SPOOL [INDEX-WRITE ARGS]: every project of the emulator,
# resolved (JSON documents spooled in SPOOL: index-write --json moves them),
# fetched and indexed into DEST (a directory or s3://BUCKET/PREFIX).
mirror_to() {
	local dest=$1 spool=$2
	shift 2
	mkdir -p "$spool"
	[[ $dest == s3://* ]] || mkdir -p "$dest"
	simple_root | jq -c '.projects[] | {name}' | pkg-resolve -q --save-json "$spool" >"$spool.ndjson"
	artifact-get -q -d "$dest" <"$spool.ndjson" | index-write -q --json "$@" -d "$dest" >"$spool.out"
	[ "$(jq -s 'map(select(.type == "synced")) | length' "$spool.out")" = "$(jq -s length "$spool.ndjson")" ]
}

setup_file() {
	emu_file_start --projects 10 --seed 7
	swift_file_start
	swift_public "$S3_BUCKET"
	export PYPI_MIRROR_UPSTREAM="$EMU_URL" PYPI_MIRROR_ALLOW_NON_HTTPS=1
	export PYPI_MIRROR_RETRIES=1 PYPI_MIRROR_BACKOFF=0.1 PYPI_MIRROR_TIMEOUT=5
	# The mirror on disk (what the shared checks compare with) and the one
	# in the store, whose web/ nginx reads on Swift's path.
	export M="$BATS_FILE_TMPDIR/disk"
	export STORE_WEB="$SWIFT_URL/$S3_BUCKET/m/web"
	mirror_to "$M" "$BATS_FILE_TMPDIR/spool-disk"
	mirror_to "s3://$S3_BUCKET/m" "$BATS_FILE_TMPDIR/spool-store"
	[ -f "$M/web/simple/demo-pkg/index.v1_json" ]
	swift_keys "$S3_BUCKET" m/web/simple/demo-pkg/ | grep -qxF m/web/simple/demo-pkg/index.v1_json
}

teardown_file() {
	swift_file_stop
	common_teardown_file
}

setup() {
	unset NGINX_VARIANT
	T="$BATS_TEST_TMPDIR"
	admin reset-stats
}

teardown() {
	nginx_stop
	common_teardown
}

store_nginx() { NGINX_VARIANT=store nginx_start "${1:-$STORE_WEB}"; }

# GETs of the emulator's /packages/ since reset-stats.
package_gets() {
	emu_stats | jq '[.requests | to_entries[] | select(.key | startswith("GET /packages/")) | .value] | add // 0'
}

# answers: one line per path and Accept header of what the running nginx
# answers: status, and for a 200 or 301 the Content-Type, the body's sha256,
# the Location (without the server's own URL) and the Vary header. A 404's
# body is the server's own (nginx's page, the store's): only its status
# counts. (One process over one connection: a curl per request is minutes
# on a busy machine.)
answers() {
	local whl
	whl=$(jq -r '.files[] | select(.filename | endswith(".whl")) | .url' "$M/web/simple/demo-pkg/index.v1_json" | head -1)
	whl=${whl#../..}
	"$PY" - "$NGINX_URL" "$PIP_ACCEPT" "$UV_ACCEPT" "$FIREFOX_ACCEPT" "$CHROME_ACCEPT" "$V1HTML" '*/*' '' <<-EOF
	import hashlib, http.client, sys, urllib.parse
	base, accepts = sys.argv[1], sys.argv[2:]
	u = urllib.parse.urlsplit(base)
	c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
	paths = ["/", "/simple/", "/simple/demo-pkg/", "/simple/Demo.Pkg/", "/simple/demo-pkg",
	         "/simple/zope-interface/", "/simple/not-held/", "/simple/demo%20pkg/", "/pypi/demo-pkg/json",
	         "/pypi/Demo_Pkg/json", "/json/demo-pkg", "$whl", "$whl.metadata",
	         "/packages/00/00/" + "0" * 60 + "/x-1.0.tar.gz", "/simple/demo-pkg/?format=$JSON", "/nothing"]
	for path in paths:
	    for accept in accepts:
	        c.request("GET", path, headers={"Accept": accept} if accept else {})
	        r = c.getresponse()
	        body = r.read()
	        if r.status in (200, 301):
	            loc = (r.getheader("Location") or "").replace(base, "")
	            print(path, "|", accept, "|", r.status, r.getheader("Content-Type"),
	                  hashlib.sha256(body).hexdigest()[:16], loc, r.getheader("Vary") or "")
	        else:
	            print(path, "|", accept, "|", r.status)
	EOF
}

@test "2501 nginx store: pip's, uv's and browsers' Accept headers get the pages the njs variant gives on disk (q, ties, wildcards, never 406)" {
	store_nginx
	njs_negotiation_cases
}

@test "2502 nginx store: ?format= overrides the Accept header, as on disk" {
	store_nginx
	njs_format_cases
}

@test "2503 nginx store: a non-normalised name gets one 301, a name that is no project name a 404, pip follows the 301" {
	store_nginx
	njs_name_cases
}

@test "2504 nginx store and nginx njs over the disk answer every path and Accept header alike: status, type, body, Location" {
	NGINX_VARIANT=njs nginx_start "$M/web"
	answers >"$T/disk.answers"
	nginx_stop
	store_nginx
	answers >"$T/store.answers"
	diff "$T/disk.answers" "$T/store.answers"
	# what was compared: pages of each type, files, redirects, misses
	grep -qF "| 200 $JSON " "$T/store.answers"
	grep -qF "| 200 $V1HTML " "$T/store.answers"
	grep -qF '| 200 text/html ' "$T/store.answers"
	grep -qF '| 200 application/json ' "$T/store.answers"
	grep -qF '| 200 application/octet-stream ' "$T/store.answers"
	grep -qF '| 301 text/html ' "$T/store.answers"
	grep -qE '^/packages/00/.* \| 404$' "$T/store.answers"
	grep -qE '^/simple/not-held/ .* \| 404$' "$T/store.answers"
}

@test "2505 pip installs a project from the store through nginx; the upstream is not asked for a file" {
	store_nginx
	run "$PY" -m pip --isolated install --no-deps --no-cache-dir --disable-pip-version-check \
		--no-input --only-binary :all: --index-url "$NGINX_URL/simple/" --target "$T/site" demo-pkg==1.0
	assert_success
	assert_output --partial "$NGINX_URL/packages/"
	grep -qx 'Version: 1.0' "$T"/site/demo_pkg-1.0.dist-info/METADATA
	# every file the wheel's RECORD lists is installed
	cut -d, -f1 "$T"/site/demo_pkg-1.0.dist-info/RECORD | while read -r f; do
		[ -e "$T/site/$f" ] || fail "RECORD lists $f, not installed"
	done
	[ "$(package_gets)" = 0 ]
	grep -E '"GET /packages/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/demo_pkg-1\.0-[^ ]+\.whl HTTP/1\.1" 200 [0-9]+ "-" "pip/' "$NGINX_ACCESS_LOG"
	# the bytes pip got are the store's
	run "$PY" -m pip --isolated download --no-deps --no-cache-dir --disable-pip-version-check \
		--no-input --only-binary :all: --index-url "$NGINX_URL/simple/" -d "$T/dl" demo-pkg==1.0
	assert_success
	local whl key
	whl=$(ls "$T"/dl/demo_pkg-1.0-*.whl)
	key=$(jq -r --arg f "${whl##*/}" '.files[] | select(.filename == $f) | .url | sub("^\\.\\./\\.\\./"; "m/web/")' \
		"$M/web/simple/demo-pkg/index.v1_json")
	cmp "$whl" <(swift_cat "$S3_BUCKET" "$key")
}

@test "2506 nginx store: a missing file or project is the store's 404; caching headers: files immutable, pages 10 minutes and Vary, a 404 neither" {
	store_nginx
	local missing=/packages/00/00/0000000000000000000000000000000000000000000000000000000000000000/x-1.0.tar.gz
	get "$missing"
	[ "$STATUS" = 404 ]
	[[ $BODY == *"Not Found"* ]]
	run ! grep -qi '^Cache-Control:' "$T/headers"
	get /simple/not-held/ "$PIP_ACCEPT"
	[ "$STATUS" = 404 ]
	run ! grep -qi '^Cache-Control:' "$T/headers"
	grep -qi '^Vary: Accept' "$T/headers"
	# pip: no such distribution, and nothing asked upstream
	run "$PY" -m pip --isolated download --no-deps --no-cache-dir --disable-pip-version-check \
		--no-input --index-url "$NGINX_URL/simple/" -d "$T/dl" not-held
	assert_failure
	assert_output --partial 'No matching distribution found for not-held'
	# a file: immutable, its bytes and length; none of the store's own headers
	local whl
	whl=$(jq -r '.files[] | select(.filename | endswith(".whl")) | .url' "$M/web/simple/demo-pkg/index.v1_json" | head -1)
	whl=${whl#../..}
	get "$whl"
	[ "$STATUS" = 200 ]
	cmp "$T/body" "$M/web$whl"
	grep -qix 'Cache-Control: max-age=31536000, immutable, public.' "$T/headers"
	[ "$(grep -ci '^Cache-Control:' "$T/headers")" = 1 ]
	run ! grep -qiE '^(X-Trans-Id|X-Openstack-Request-Id|X-Timestamp|X-Object-Meta-[^:]*):' "$T/headers"
	curl -fsS -I "$NGINX_URL$whl" | grep -qix "Content-Length: $(stat -c %s "$M/web$whl").*"
	# a page: ten minutes, Vary: Accept
	get /simple/demo-pkg/ "$PIP_ACCEPT"
	[ "$STATUS" = 200 ]
	grep -qix 'Cache-Control: max-age=600, public.' "$T/headers"
	grep -qix 'Vary: Accept.' "$T/headers"
	# a mirror is read-only: no other method reaches the store
	local m
	for m in PUT DELETE POST; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -X "$m" --data x "$NGINX_URL$whl")" = 405 ] || fail "$m: not 405"
	done
	swift_keys "$S3_BUCKET" "m/web$whl" | grep -qxF "m/web$whl"
	cmp <(swift_cat "$S3_BUCKET" "m/web$whl") "$M/web$whl"
}

@test "2507 nginx store: a mirror written with --simple-format html serves its index.html where JSON is negotiated, pip included" {
	swift_keys "$S3_BUCKET" h/ | grep -q . && fail "prefix h/ not empty"
	mirror_to "s3://$S3_BUCKET/h" "$T/spool" --simple-format html
	run swift_keys "$S3_BUCKET" h/web/simple/demo-pkg/
	assert_output - <<-EOF
	h/web/simple/demo-pkg/index.html
	h/web/simple/demo-pkg/index.v1_html
	EOF
	store_nginx "$SWIFT_URL/$S3_BUCKET/h/web"
	local a
	# JSON negotiated, not stored: index.html
	for a in "$PIP_ACCEPT" "$UV_ACCEPT" "$JSON"; do
		expect /simple/demo-pkg/ "$a" text/html
	done
	expect /simple/demo-pkg/ "$V1HTML" "$V1HTML"
	expect /simple/demo-pkg/ "$FIREFOX_ACCEPT" text/html
	get /simple/not-held/ "$JSON"
	[ "$STATUS" = 404 ]
	run "$PY" -m pip --isolated download --no-deps --no-cache-dir --disable-pip-version-check \
		--no-input --index-url "$NGINX_URL/simple/" -d "$T/dl" demo-pkg==1.0
	assert_success
	ls "$T"/dl/demo_pkg-1.0*
}

@test "2508 nginx store: a filename with + (a local version) is served under its own key, + raw or %2B; pip installs it" {
	admin new-project name=plus-pkg version=2.0+cpu sdist=0 wheels=py3-none-any
	jq -cn '{name:"plus-pkg"}' | pkg-resolve -q >"$T/plus.ndjson"
	artifact-get -q -d "s3://$S3_BUCKET/plus" <"$T/plus.ndjson" | index-write -q -d "s3://$S3_BUCKET/plus" >/dev/null
	local path
	path=$(jq -r '.files[0].path' "$T/plus.ndjson")
	[[ $path == *+cpu* ]]
	admin reset-stats
	store_nginx "$SWIFT_URL/$S3_BUCKET/plus/web"
	get "/$path"
	[ "$STATUS" = 200 ]
	cmp "$T/body" <(swift_cat "$S3_BUCKET" "plus/web/$path")
	get "/${path//+/%2B}"
	[ "$STATUS" = 200 ]
	cmp "$T/body" <(swift_cat "$S3_BUCKET" "plus/web/$path")
	run "$PY" -m pip --isolated install --no-deps --no-cache-dir --disable-pip-version-check \
		--no-input --index-url "$NGINX_URL/simple/" --target "$T/site" 'plus-pkg==2.0+cpu'
	assert_success
	ls -d "$T"/site/plus_pkg-2.0+cpu.dist-info
	[ "$(package_gets)" = 0 ]
}

@test "2509 nginx store: a container that refuses anonymous reads is a 502 (the mirror failing), not a 401 (pip would ask for a password)" {
	swift_bucket pm-private
	store_nginx "$SWIFT_URL/pm-private/m/web"
	get /simple/demo-pkg/ "$PIP_ACCEPT"
	[ "$STATUS" = 502 ]
	get /packages/00/00/0000000000000000000000000000000000000000000000000000000000000000/x-1.0.tar.gz
	[ "$STATUS" = 502 ]
}

@test "2510 nginx store: a 404 is kept 10 s, then the object the store gained is served" {
	store_nginx
	local key=packages/aa/bb/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc/late-1.0.tar.gz
	get "/$key"
	[ "$STATUS" = 404 ]
	local t0=$SECONDS
	head -c 1000 /dev/urandom >"$T/late"
	swift_put "$S3_BUCKET" "m/web/$key" "$T/late"
	get "/$key"
	# still nginx's 404, unless this machine took the 10 s in between
	[ "$STATUS" = 404 ] || (( SECONDS - t0 >= 9 ))
	wait_until 30 "the stored object served" eval 'get "/$key"; [ "$STATUS" = 200 ]'
	(( SECONDS - t0 >= 9 ))
	cmp "$T/body" "$T/late"
}
