#!/usr/bin/env bats
# The shipped nginx configurations (contrib/nginx/): PEP 691 negotiation
# with the Accept headers real clients send, the 301 for non-normalised
# names, and the miss path of a partial mirror (off, redirect, proxy) with
# the PyPI emulator as the upstream, through a real pip. Both variants run:
# static (pypi-mirror.conf, nginx alone) and njs (pypi-mirror-njs.conf with
# Debian's ngx_http_js_module).

load lib/common
load lib/nginx

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
	njs_negotiation_cases
}

@test "1603 nginx njs: ?format= overrides the Accept header, in any spelling of +" {
	NGINX_VARIANT=njs nginx_start "$M/web"
	njs_format_cases
}

@test "1604 nginx njs: a non-normalised name gets one 301 to the normalised URL, as on PyPI" {
	NGINX_VARIANT=njs nginx_start "$M/web"
	njs_name_cases
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
