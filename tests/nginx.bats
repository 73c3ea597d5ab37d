#!/usr/bin/env bats
# The shipped nginx configurations (contrib/nginx/): PEP 691 negotiation
# with the Accept headers real clients send, the 301 for non-normalised
# names, and the miss path of a partial mirror (off, redirect, proxy) with
# the PyPI emulator as the upstream, through a real pip. Both variants run:
# static (pypi-mirror.conf, nginx alone) and njs (pypi-mirror-njs.conf with
# Debian's ngx_http_js_module).

load lib/common
load lib/nginx

# What clients send (pip's and uv's from their sources: pip
# _internal/index/collector.py, uv crates/uv-client/src/registry_client.rs).
PIP_ACCEPT='application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
UV_ACCEPT='application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01'
FIREFOX_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
CHROME_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7'
JSON=application/vnd.pypi.simple.v1+json
V1HTML=application/vnd.pypi.simple.v1+html

# One emulator and one partial mirror (Demo_Pkg only) for the whole file;
# each test starts its own nginx over that mirror.
setup_file() {
	emu_file_start --projects 10 --seed 7
	export M="$BATS_FILE_TMPDIR/mirror"
	CONF="$BATS_FILE_TMPDIR/pypi-mirror.conf"
	write_config "$CONF" "$M" "$BATS_FILE_TMPDIR/log" "json = true" "" \
		"$(plugins_section allowlist_project; allowlist_section Demo_Pkg)"
	tool_env
	pm -q mirror
	[ -f "$M/web/simple/demo-pkg/index.v1_json" ]
	[ ! -e "$M/web/simple/zope-interface" ]
}

setup() {
	unset NGINX_VARIANT NGINX_MISS NGINX_UPSTREAM NGINX_FILES_UPSTREAM
}

teardown() {
	nginx_stop
	common_teardown
}

# get PATH [ACCEPT]: status, Content-Type and body of one request (no
# redirects followed) into STATUS, CTYPE, BODY and LOCATION.
get() {
	local out="$BATS_TEST_TMPDIR/body" hdr="$BATS_TEST_TMPDIR/headers"
	local -a h=()
	[ $# -ge 2 ] && h=(-H "Accept: $2")
	read -r STATUS CTYPE < <(curl -sS -o "$out" -D "$hdr" -w '%{http_code} %{content_type}\n' "${h[@]}" "$NGINX_URL$1")
	BODY=$(cat "$out")
	LOCATION=$(sed -n 's/^[Ll]ocation: *\(.*\)\r$/\1/p' "$hdr")
}

# expect PATH ACCEPT TYPE: a 200 of that type, whose body is the page
# index-write wrote for that type.
expect() {
	local file
	case $3 in
	text/html) file=index.html ;;
	"$V1HTML") file=index.v1_html ;;
	"$JSON") file=index.v1_json ;;
	esac
	get "$1" "$2"
	[ "$STATUS" = 200 ] || fail "$1 with Accept '$2': status $STATUS, want 200"
	[ "$CTYPE" = "$3" ] || fail "$1 with Accept '$2': Content-Type '$CTYPE', want '$3'"
	cmp -s "$BATS_TEST_TMPDIR/body" "$M/web${1%%\?*}$file" || fail "$1 with Accept '$2': not the body of $file"
	grep -qi '^Vary: Accept' "$BATS_TEST_TMPDIR/headers" || fail "$1: no Vary: Accept"
}

# Requests the emulator has answered for PATH.
upstream_gets() { emu_stats | jq --arg k "GET $1" '.requests[$k] // 0'; }

@test "1601 nginx static: pip, uv and browsers get what PyPI gives them; ?format= overrides" {
	nginx_start "$M/web"
	local p=/simple/demo-pkg/
	expect $p "$PIP_ACCEPT" "$JSON"
	expect $p "$UV_ACCEPT" "$JSON"
	expect $p "$FIREFOX_ACCEPT" text/html
	expect $p "$CHROME_ACCEPT" text/html
	expect $p '*/*' text/html
	expect $p "$V1HTML" "$V1HTML"
	expect $p "$JSON;q=0, $V1HTML" "$V1HTML"
	expect /simple/ "$PIP_ACCEPT" "$JSON"
	expect "$p?format=$JSON" text/html "$JSON"
	expect "$p?format=text/html" "$PIP_ACCEPT" text/html
	get $p
	[ "$STATUS" = 200 ]
	[ "$CTYPE" = text/html ]
	# what the static variant cannot do (its comments say so): compare q
	# values, and lowercase a name
	expect $p "text/html, $JSON;q=0.5" "$JSON"
	get /simple/Demo_Pkg/ "$PIP_ACCEPT"
	[ "$STATUS" = 404 ]
	get /simple/demo-pkg "$PIP_ACCEPT"
	[ "$STATUS" = 301 ]
	[ "$LOCATION" = "$NGINX_URL/simple/demo-pkg/" ]
}

@test "1602 nginx njs: the highest q wins, ties go to text/html then v1 HTML, wildcards, q=0, never 406" {
	NGINX_VARIANT=njs nginx_start "$M/web"
	local p=/simple/demo-pkg/
	expect $p "$PIP_ACCEPT" "$JSON"
	expect $p "$UV_ACCEPT" "$JSON"
	expect $p "$FIREFOX_ACCEPT" text/html
	expect $p "$CHROME_ACCEPT" text/html
	# q decides, whatever the order (the static variant answers JSON here)
	expect $p "text/html, $JSON;q=0.5" text/html
	expect $p "$JSON;q=0.5, $V1HTML;q=0.6" "$V1HTML"
	expect $p "text/html;q=0.01, $V1HTML;q=0.2, $JSON" "$JSON"
	# ties: PyPI's order (text/html, v1 HTML, v1 JSON)
	expect $p "$JSON, $V1HTML, text/html" text/html
	expect $p "$JSON;q=0.7, $V1HTML;q=0.7" "$V1HTML"
	# wildcards: the most specific range sets an offer's q
	expect $p '*/*' text/html
	expect $p 'application/*' "$V1HTML"
	expect $p "application/*;q=0.5, $JSON" "$JSON"
	expect $p "*/*;q=0.1, text/*;q=0.05, $JSON;q=0.08" "$V1HTML"
	expect $p "*/*, text/html;q=0" "$V1HTML"
	# refused or unknown: text/html, never 406
	expect $p "$JSON;q=0" text/html
	expect $p "$JSON;q=0.000, $V1HTML;q=0" text/html
	expect $p 'text/plain' text/html
	expect $p 'image/png, application/xml;q=0.9' text/html
	expect $p "$JSON;q=bogus, $V1HTML;q=0.1" "$V1HTML"
	expect $p ',,;;, garbage' text/html
	expect $p '' text/html
	get $p
	[ "$STATUS" = 200 ]
	[ "$CTYPE" = text/html ]
	# "latest" is v1; a parameter other than q makes a range match nothing
	expect $p 'application/vnd.pypi.simple.latest+json' "$JSON"
	expect $p "$JSON;charset=utf-8, $V1HTML;q=0.1" "$V1HTML"
	# case does not matter in media types
	expect $p 'APPLICATION/VND.PYPI.SIMPLE.V1+JSON' "$JSON"
	expect /simple/ "$UV_ACCEPT" "$JSON"
	expect /simple/ "$FIREFOX_ACCEPT" text/html
}

@test "1603 nginx njs: ?format= overrides the Accept header, in any spelling of +" {
	NGINX_VARIANT=njs nginx_start "$M/web"
	local p=/simple/demo-pkg/
	expect "$p?format=$JSON" "$FIREFOX_ACCEPT" "$JSON"
	expect "$p?format=application/vnd.pypi.simple.v1%2Bjson" text/html "$JSON"
	expect "$p?format=application/vnd.pypi.simple.latest+html" "$PIP_ACCEPT" "$V1HTML"
	expect "$p?format=text/html" "$PIP_ACCEPT" text/html
	# an unknown value is ignored: the header decides
	expect "$p?format=application/json" "$PIP_ACCEPT" "$JSON"
	expect "/simple/?format=$V1HTML" "$PIP_ACCEPT" "$V1HTML"
}

@test "1604 nginx njs: a non-normalised name gets one 301 to the normalised URL, as on PyPI" {
	NGINX_VARIANT=njs nginx_start "$M/web"
	local from
	for from in /simple/Demo_Pkg/ /simple/DEMO.pkg/ /simple/demo__-.Pkg/ /simple/Demo_Pkg; do
		get "$from" "$PIP_ACCEPT"
		[ "$STATUS" = 301 ] || fail "$from: status $STATUS"
		[ "$LOCATION" = "$NGINX_URL/simple/demo-pkg/" ] || fail "$from: Location $LOCATION"
	done
	get "/simple/Demo_Pkg/?format=$JSON"
	[ "$STATUS" = 301 ]
	[ "$LOCATION" = "$NGINX_URL/simple/demo-pkg/?format=$JSON" ]
	get /pypi/Demo.Pkg/json
	[ "$STATUS" = 301 ]
	[ "$LOCATION" = "$NGINX_URL/pypi/demo-pkg/json" ]
	get /pypi/demo-pkg/json
	[ "$STATUS" = 200 ]
	[ "$CTYPE" = application/json ]
	[ "$(jq -r .info.name <<<"$BODY")" = Demo_Pkg ]
	# the normalised one is served; a name that is no project name is a 404
	expect /simple/demo-pkg/ "$PIP_ACCEPT" "$JSON"
	get '/simple/demo%20pkg/'
	[ "$STATUS" = 404 ]
	get '/simple/Nope/'
	[ "$STATUS" = 301 ]
	[ "$LOCATION" = "$NGINX_URL/simple/nope/" ]
	get '/simple/nope/'
	[ "$STATUS" = 404 ]
	# pip follows it
	run "$PY" -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl" Demo.PKG==1.0
	assert_success
	ls "$BATS_TEST_TMPDIR"/dl/demo_pkg-1.0*
}

# The miss path in each variant and mode. Asserts: a held project is a hit
# served from disk (the upstream never asked), the miss's answer, and the
# combined log line the demand stage reads.
miss_off() {
	nginx_start "$M/web"
	get /simple/zope-interface/ "$PIP_ACCEPT"
	[ "$STATUS" = 404 ]
	get /packages/00/00/0000000000000000000000000000000000000000000000000000000000000000/x-1.0.tar.gz
	[ "$STATUS" = 404 ]
	grep -E '^127\.0\.0\.1 - - \[[^]]+\] "GET /simple/zope-interface/ HTTP/1\.1" 404 [0-9]+ "-" "curl/[^"]+"$' "$NGINX_ACCESS_LOG"
}

@test "1605 nginx miss off (the default): a project the mirror does not hold is a 404, logged in combined format" {
	miss_off
}

@test "1606 nginx njs miss off: the same" {
	NGINX_VARIANT=njs miss_off
}

miss_redirect() {
	NGINX_MISS=redirect NGINX_UPSTREAM="$EMU_URL" nginx_start "$M/web"
	admin reset-stats
	# a hit: from disk
	expect /simple/demo-pkg/ "$PIP_ACCEPT" "$JSON"
	# a miss: 302 to the upstream's page, query and all
	get /simple/zope-interface/ "$PIP_ACCEPT"
	[ "$STATUS" = 302 ]
	[ "$LOCATION" = "$EMU_URL/simple/zope-interface/" ]
	get "/simple/zope-interface/?format=$JSON"
	[ "$STATUS" = 302 ]
	[ "$LOCATION" = "$EMU_URL/simple/zope-interface/?format=$JSON" ]
	get /pypi/zope-interface/json
	[ "$STATUS" = 302 ]
	[ "$LOCATION" = "$EMU_URL/pypi/zope-interface/json" ]
	local f=/packages/00/00/0000000000000000000000000000000000000000000000000000000000000000/x-1.0.tar.gz
	get $f
	[ "$STATUS" = 302 ]
	[ "$LOCATION" = "$EMU_URL$f" ]
	[ "$(upstream_gets /simple/demo-pkg/)" = 0 ]
	[ "$(upstream_gets /simple/zope-interface/)" = 0 ]
	# pip follows it: the client fetches page and file from the upstream
	run "$PY" -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl" zope.interface==0.2
	assert_success
	assert_output --partial "Downloading $EMU_URL/packages/"
	ls "$BATS_TEST_TMPDIR"/dl/zope_interface-0.2*
	[ "$(upstream_gets /simple/zope-interface/)" = 1 ]
	grep -E '^127\.0\.0\.1 - - \[[^]]+\] "GET /simple/zope-interface/ HTTP/1\.1" 302 [0-9]+ "-" "pip/' "$NGINX_ACCESS_LOG"
	grep -E '"GET /simple/demo-pkg/ HTTP/1\.1" 200 ' "$NGINX_ACCESS_LOG"
}

@test "1607 nginx miss redirect: a miss is a 302 to the upstream, pip downloads through it, the log has it" {
	miss_redirect
}

@test "1608 nginx njs miss redirect: the same" {
	NGINX_VARIANT=njs miss_redirect
}

miss_proxy() {
	NGINX_MISS=proxy NGINX_UPSTREAM="$EMU_URL" nginx_start "$M/web"
	admin reset-stats
	expect /simple/demo-pkg/ "$PIP_ACCEPT" "$JSON"
	# a miss: the upstream's page, answered by nginx, links pointing here
	get /simple/zope-interface/ "$PIP_ACCEPT"
	[ "$STATUS" = 200 ]
	[ "$CTYPE" = "$JSON" ]
	[ "$(jq -r .name <<<"$BODY")" = zope-interface ]
	[ "$(jq '.files | length' <<<"$BODY")" -gt 0 ]
	[ "$(jq '[.files[].url | select(startswith("/packages/") | not)] | length' <<<"$BODY")" = 0 ]
	get /simple/zope-interface/ "$FIREFOX_ACCEPT"
	[ "$STATUS" = 200 ]
	[ "$CTYPE" = text/html ]
	grep -q 'href="/packages/' <<<"$BODY"
	[[ $BODY != *"$EMU_URL"* ]]
	# an upstream redirect (non-normalised name) stays on this server
	get /simple/Zope.Interface/ "$PIP_ACCEPT"
	[ "$STATUS" = 301 ]
	[[ $LOCATION == /simple/zope-interface/ || $LOCATION == "$NGINX_URL/simple/zope-interface/" ]]
	# pip gets page and files from nginx only; the files come through the cache
	run "$PY" -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl" zope.interface==0.2
	assert_success
	assert_output --partial "Downloading $NGINX_URL/packages/"
	refute_output --partial "$EMU_URL"
	local whl
	whl=$(ls "$BATS_TEST_TMPDIR"/dl/zope_interface-0.2*)
	local path
	path=$(curl -fsS -H "Accept: $JSON" "$EMU_URL/simple/zope-interface/" |
		jq -r --arg f "${whl##*/}" '.files[] | select(.filename == $f) | .url | sub("^[a-z]+://[^/]+"; "")')
	[ "$(upstream_gets "$path")" = 1 ]
	# asked again: from nginx's cache, the upstream not asked
	local pages
	pages=$(upstream_gets /simple/zope-interface/)
	run "$PY" -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl2" zope.interface==0.2
	assert_success
	cmp "$whl" "$BATS_TEST_TMPDIR/dl2/${whl##*/}"
	[ "$(upstream_gets "$path")" = 1 ]
	[ "$(upstream_gets /simple/zope-interface/)" = "$pages" ]
	[ "$(upstream_gets /simple/demo-pkg/)" = 0 ]
	# the combined log has the misses, page and file, with their status
	grep -E '^127\.0\.0\.1 - - \[[^]]+\] "GET /simple/zope-interface/ HTTP/1\.1" 200 [0-9]+ "-" "pip/' "$NGINX_ACCESS_LOG"
	grep -F "\"GET $path HTTP/1.1\" 200 " "$NGINX_ACCESS_LOG"
	# a file the upstream does not have either: its 404
	get /packages/00/00/0000000000000000000000000000000000000000000000000000000000000000/x-1.0.tar.gz
	[ "$STATUS" = 404 ]
}

@test "1609 nginx miss proxy: a miss is fetched through nginx's cache, links rewritten, pip never leaves the server" {
	miss_proxy
}

@test "1610 nginx njs miss proxy: the same" {
	NGINX_VARIANT=njs miss_proxy
}
