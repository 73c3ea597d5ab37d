#!/usr/bin/env bats
# The Simple API as the metadata source (pkg-resolve --source, [pypi-mirror]
# metadata-source) and PyPI's newest fields carried through (PEP 792 project
# status, per-release quarantine, PEP 740 provenance), against the emulator
# with its JSON API switched off, over real HTTP on loopback.

load lib/common

setup_file() {
	emu_file_start --projects 10 --seed 7
	emu_admin json-api enabled=0 >/dev/null
}

setup() {
	mirror_setup
	config
}

config() {
	write_config "$CONF" "$M" "$LOGDIR" "" "metadata-source = ${1:-simple}"
}

sj() { curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/$1/"; }

# Every upstream file (from the Simple API) is on disk with its sha256, and
# nothing else is.
assert_mirror_complete() {
	local n want="$BATS_TEST_TMPDIR/want"
	: >"$want"
	for n in $(simple_root | jq -r '.projects[].name | ascii_downcase | gsub("[-_.]+"; "-")'); do
		[ -f "$M/web/simple/$n/index.html" ] || fail "no page for $n"
		sj "$n" | jq -r '.files[] | "\(.hashes.sha256)  \(.url | sub("^[a-z]+://[^/]+/"; ""))"' >>"$want"
	done
	run bash -c "cd '$M/web' && sha256sum -c --quiet '$want'"
	assert_success
	cut -d' ' -f3 "$want" | sort >"$want.paths"
	(cd "$M/web" && find packages -type f ! -name '*.metadata' ! -name '.*') | sort >"$BATS_TEST_TMPDIR/have"
	run diff "$want.paths" "$BATS_TEST_TMPDIR/have"
	assert_success
}

json_api_gets() { emu_stats | jq '[.requests | to_entries[] | select(.key | startswith("GET /pypi/")) | .value] | add // 0'; }

@test "2201 simple: a full and an incremental mirror through the Simple API alone (JSON API off)" {
	admin reset-stats
	run pm mirror
	assert_success
	[ "$(status)" = "$(upstream_serial)" ]
	assert_mirror_complete
	[ "$(json_api_gets)" -eq 0 ]
	# the pages are PyPI's current version and carry the status
	grep -q '<meta name="pypi:repository-version" content="1.4">' "$M/web/simple/demo-pkg/index.html"
	grep -q '<meta name="pypi:project-status" content="active">' "$M/web/simple/demo-pkg/index.html"
	[ "$(jq -r '.meta."api-version" + " " + ."project-status".status' "$M/web/simple/demo-pkg/index.v1_json")" = "1.4 active" ]
	# sizes and versions as upstream has them
	diff <(sj demo-pkg | jq -c '[.files[] | [.filename, .size]] | sort') \
		<(jq -c '[.files[] | [.filename, .size]] | sort' "$M/web/simple/demo-pkg/index.v1_json")
	diff <(sj demo-pkg | jq -c .versions) <(jq -c .versions "$M/web/simple/demo-pkg/index.v1_json")

	local victim
	victim=$(sj zope-interface | jq -r '.files[0].filename')
	admin new-release name=Demo_Pkg version=7.0
	admin remove-file name=zope.interface filename="$victim"
	run pm mirror
	assert_success
	[ "$(status)" = "$(upstream_serial)" ]
	grep -q 'demo_pkg-7.0' "$M/web/simple/demo-pkg/index.html"
	refute_grep "$victim" "$M/web/simple/zope-interface/index.html"
	assert_mirror_complete
	[ "$(json_api_gets)" -eq 0 ]
}

@test "2202 simple: metadata-source is checked, reaches pkg-resolve; json takes a JSON-less upstream's 404s as removals, auto does not" {
	config bogus
	run pm mirror
	[ "$status" -eq 2 ]
	assert_output --partial metadata-source
	config json
	run mirror-config -c "$CONF"
	assert_success
	assert_output --partial "PM_METADATA_SOURCE='json'"
	# with the JSON API off (a static upstream), json sees 404s: removals
	run pm mirror
	assert_success
	assert_output --partial "no longer exists upstream (404)"
	# auto asks the Simple page where the JSON API says 404: all there
	rm -rf "$M"
	config auto
	run pm mirror
	assert_success
	refute_output --partial "no longer exists upstream"
	assert_mirror_complete
}

@test "2203 simple: project quarantine round trip: files leave the pages, then come back; archived keeps them" {
	run pm mirror
	assert_success
	local files
	files=$(jq -r '.files | length' "$M/web/simple/mixedcase/index.v1_json")
	[ "$files" -gt 0 ]
	admin project-status name=MixedCase status=quarantined
	run pm mirror
	assert_success
	[ "$(jq -r '."project-status".status' "$M/web/simple/mixedcase/index.v1_json")" = quarantined ]
	[ "$(jq '.files | length' "$M/web/simple/mixedcase/index.v1_json")" -eq 0 ]
	grep -q 'content="quarantined"' "$M/web/simple/mixedcase/index.html"
	refute_grep '<a ' "$M/web/simple/mixedcase/index.html"
	admin project-status name=MixedCase status=active
	run pm mirror
	assert_success
	[ "$(jq '.files | length' "$M/web/simple/mixedcase/index.v1_json")" -eq "$files" ]
	assert_mirror_complete
	# archiving writes no journal row: the next change of the project carries it
	admin project-status name=MixedCase status=archived
	admin new-release name=MixedCase version=9.0
	run pm mirror
	assert_success
	[ "$(jq -r '."project-status".status' "$M/web/simple/mixedcase/index.v1_json")" = archived ]
	grep -q 'content="archived"' "$M/web/simple/mixedcase/index.html"
	grep -q 'mixedcase-9.0' "$M/web/simple/mixedcase/index.html"
	admin project-status name=MixedCase status=active
}

@test "2204 simple: a quarantined release leaves the mirror and returns when cleared" {
	run pm mirror
	assert_success
	local rel
	rel=$(sj upper-case-pkg | jq -r '.versions[0]')
	local n
	n=$(sj upper-case-pkg | jq --arg v "$rel" '[.files[] | select(.filename | contains("-" + $v))] | length')
	[ "$n" -gt 0 ]
	admin quarantine-release name=UPPER-case__pkg version="$rel"
	run pm mirror
	assert_success
	[ "$(jq -c --arg v "$rel" '.versions | index($v)' "$M/web/simple/upper-case-pkg/index.v1_json")" = null ]
	refute_grep "upper_case_pkg-$rel[-.]" "$M/web/simple/upper-case-pkg/index.html"
	assert_mirror_complete
	admin clear-release-quarantine name=UPPER-case__pkg version="$rel"
	run pm mirror
	assert_success
	[ "$(jq --arg v "$rel" '[.files[] | select(.filename | contains("-" + $v))] | length' "$M/web/simple/upper-case-pkg/index.v1_json")" -eq "$n" ]
	assert_mirror_complete
}

@test "2205 simple: PEP 740 provenance passed through as upstream's absolute URL in both page forms" {
	run pm mirror
	assert_success
	local rel f url
	rel=$(sj foo-bar-baz | jq -r '.versions[-1]')
	admin provenance name=Foo.Bar-baz version="$rel"
	admin new-release name=Foo.Bar-baz version=9.1
	run pm mirror
	assert_success
	f=$(sj foo-bar-baz | jq -r '[.files[] | select(.provenance != null)][0].filename')
	url=$(sj foo-bar-baz | jq -r --arg f "$f" '.files[] | select(.filename == $f) | .provenance')
	[[ "$url" == "$EMU_URL/integrity/foo-bar-baz/$rel/$f/provenance" ]]
	[ "$(jq -r --arg f "$f" '.files[] | select(.filename == $f) | .provenance' "$M/web/simple/foo-bar-baz/index.v1_json")" = "$url" ]
	grep -qF "data-provenance=\"$url\">$f</a>" "$M/web/simple/foo-bar-baz/index.html"
	[ "$(jq '[.files[] | select(.provenance == null)] | length' "$M/web/simple/foo-bar-baz/index.v1_json")" -gt 0 ]
	curl -fsS "$url" | jq -e '.version == 1'
}

@test "2206 simple: a PEP 503 HTML-only upstream (a static mirror) resolves, sizes by HEAD, upload time left out" {
	run pm mirror
	assert_success
	serve_dir "$M/web"
	run bash -c "printf '{\"name\":\"demo-pkg\",\"serial\":1}\n' | pkg-resolve -u '$SERVE_URL' --allow-non-https --source simple 2>/dev/null"
	assert_success
	local rec=$output
	echo "$rec" | jq -e '.status == "active" and (.files | length) > 0'
	diff <(echo "$rec" | jq -c '[.files[] | [.filename, .sha256, .size, .requires_python, .yanked, .core_metadata]] | sort') \
		<(jq -c '[.files[] | [.filename, .hashes.sha256, .size, ."requires-python", (.yanked != false), (."core-metadata" | if . == false then null else .sha256 end)]] | sort' "$M/web/simple/demo-pkg/index.v1_json")
	echo "$rec" | jq -e 'all(.files[]; .upload_time == "")'
	# the SERIAL trailer of our page is its serial
	[ "$(echo "$rec" | jq .last_serial)" = "$(jq '.meta."_last-serial"' "$M/web/simple/demo-pkg/index.v1_json")" ]
}

# A canned upstream: path -> [status, content-type, body] from a JSON file.
canned() {
	"$PY" - "$1" "$BATS_TEST_TMPDIR/canned.port" >/dev/null 2>&1 3>&- <<-'EOF' &
	import http.server, json, os, sys
	pages = json.load(open(sys.argv[1]))
	class H(http.server.BaseHTTPRequestHandler):
	    def log_message(self, *a): pass
	    def do_GET(self):
	        st, ct, body = pages.get(self.path, [404, "text/plain", "404 Not Found"])
	        b = body.encode()
	        self.send_response(st)
	        if ct: self.send_header("Content-Type", ct)
	        self.send_header("Content-Length", str(len(b)))
	        self.end_headers()
	        self.wfile.write(b)
	s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
	open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
	os.rename(sys.argv[2] + ".tmp", sys.argv[2])
	s.serve_forever()
	EOF
	SERVE_PID=$!
	wait_until 10 "the canned server's port" test -s "$BATS_TEST_TMPDIR/canned.port"
	SERVE_URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/canned.port")"
}

@test "2207 simple: bad input: not HTML/JSON, hostile filename, off-host URL, another project, 401, 403: error records, the rest goes on" {
	local h b
	h=$(printf 'a%.0s' $(seq 64)) b=$(printf 'b%.0s' $(seq 60))
	"$PY" - "$BATS_TEST_TMPDIR/pages.json" "$h" "$b" <<-'EOF'
	import json, sys
	out, h, b = sys.argv[1], sys.argv[2], sys.argv[3]
	J = "application/vnd.pypi.simple.v1+json"
	def page(name, files):
	    return json.dumps({"meta": {"api-version": "1.4", "_last-serial": 5}, "name": name,
	                       "project-status": {"status": "active"}, "files": files})
	def f(fn, url=None):
	    return {"filename": fn, "url": url or "../../packages/aa/bb/%s/%s" % (b, fn),
	            "hashes": {"sha256": h}, "size": 3}
	json.dump({
	    "/simple/good/": [200, J, page("good", [f("good-1.0.tar.gz")])],
	    "/simple/plain/": [200, "text/plain", "good-1.0.tar.gz\n"],
	    "/simple/hostile/": [200, J, page("hostile", [f("../../etc/passwd")])],
	    "/simple/offhost/": [200, J, page("offhost", [f("offhost-1.0.tar.gz",
	        "https://evil.example/packages/aa/bb/%s/offhost-1.0.tar.gz" % b)])],
	    "/simple/other/": [200, "text/html", "<title>Links for somebody-else</title><a href=x>y</a>"],
	    "/simple/private/": [401, "text/plain", "login"],
	    "/simple/forbidden/": [403, "text/plain", "no"],
	}, open(out, "w"))
	EOF
	canned "$BATS_TEST_TMPDIR/pages.json"
	run bash -c "printf '{\"name\":\"%s\",\"serial\":5}\n' good plain hostile offhost other private forbidden |
		pkg-resolve -u '$SERVE_URL' --allow-non-https --source simple -q 2>/dev/null"
	[ "$status" -eq 1 ]
	echo "$output" | jq -se 'map(select(.name == "good"))[0] | .type == "project" and (.files | length) == 1'
	reason() { echo "$output" | jq -r --arg n "$1" 'select(.name == $n and .type == "error") | .reason'; }
	[[ "$(reason plain)" == *"neither HTML nor JSON"*"text/plain"* ]]
	[[ "$(reason hostile)" == *"../../etc/passwd"* ]]
	[[ "$(reason offhost)" == *"host evil.example"* ]]
	[[ "$(reason other)" == *"somebody-else, not other"* ]]
	[[ "$(reason private)" == *"refused access"*"HTTP 401"* ]]
	[[ "$(reason forbidden)" == *"HTTP 403"* ]]
	[ "$(echo "$output" | jq -s 'length')" -eq 7 ]
}

@test "2208 simple: a quarantined project leaves our root (both forms) as it leaves PyPI's, its page stays; verify agrees; a later run does not ask for it; cleared, it is back" {
	run pm mirror
	assert_success
	grep -q '"name":"MixedCase"' "$M/web/simple/index.v1_json"
	admin project-status name=MixedCase status=quarantined
	run pm mirror
	assert_success
	[ "$(jq -r '."project-status".status' "$M/web/simple/mixedcase/index.v1_json")" = quarantined ]
	[ "$(jq '[.projects[] | select(.name == "MixedCase")] | length' "$M/web/simple/index.v1_json")" -eq 0 ]
	refute_grep 'mixedcase/' "$M/web/simple/index.html"
	diff <(simple_root | jq -r '.projects[].name' | sort) <(jq -r '.projects[].name' "$M/web/simple/index.v1_json" | sort)
	run pm verify
	assert_success
	# a root rebuilt from the page directories leaves it out too
	run index-write -d "$M" --rebuild-root </dev/null
	assert_success
	[ "$(jq '[.projects[] | select(.name == "MixedCase")] | length' "$M/web/simple/index.v1_json")" -eq 0 ]
	# upstream moves on elsewhere: the quarantined project is not taken for a removal and asked for
	admin new-release name=Demo_Pkg version=22.8
	run changelog-fetch -u "$EMU_URL" --allow-non-https -d "$M"
	assert_success
	[ "$(grep '^{' <<<"$output" | jq -r 'select(.type == "project") | .name')" = demo-pkg ]
	admin project-status name=MixedCase status=active
	run pm mirror
	assert_success
	grep -q '"name":"MixedCase"' "$M/web/simple/index.v1_json"
	grep -q 'mixedcase/' "$M/web/simple/index.html"
	assert_mirror_complete
}

@test "2209 simple: file URLs of other indexes' layouts (devpi /root/pypi/+f/..., Nexus /repository/.../packages/NAME/VERSION/...) land under packages/xx/yy/HASH/ from their sha256" {
	run pm mirror
	assert_success
	local up="$BATS_TEST_TMPDIR/up" b="$BATS_TEST_TMPDIR/b"
	"$PY" - "$M/web" "$up" <<-'PYEOF'
	import json, os, shutil, sys
	src, up = sys.argv[1], sys.argv[2]
	def layout(n, f):
	    h = f["hashes"]["sha256"]
	    if n == "demo-pkg":
	        return "root/pypi/+f/%s/%s/%s" % (h[:3], h[3:16], f["filename"])
	    return "repository/pypi-proxy/packages/%s/x/%s" % (n, f["filename"])
	names = ["demo-pkg", "mixedcase"]
	for n in names:
	    page = json.load(open("%s/simple/%s/index.v1_json" % (src, n)))
	    links = []
	    for f in page["files"]:
	        rel = layout(n, f)
	        os.makedirs(os.path.dirname("%s/%s" % (up, rel)), exist_ok=True)
	        shutil.copyfile("%s/%s" % (src, f["url"].split("../../", 1)[1]), "%s/%s" % (up, rel))
	        links.append('<a href="/%s#sha256=%s">%s</a><br/>' % (rel, f["hashes"]["sha256"], f["filename"]))
	    os.makedirs("%s/simple/%s" % (up, n))
	    open("%s/simple/%s/index.html" % (up, n), "w").write(
	        "<!DOCTYPE html><html><body><h1>Links for %s</h1>\n%s\n</body></html>\n" % (n, "\n".join(links)))
	open("%s/simple/index.html" % up, "w").write(
	    "<!DOCTYPE html><html><body>\n%s\n</body></html>\n" % "\n".join('<a href="%s/">%s</a>' % (n, n) for n in names))
	PYEOF
	serve_dir "$up"
	mkdir -p "$b"
	cat >"$BATS_TEST_TMPDIR/b.conf" <<-EOF
	[mirror]
	directory = $b
	master = $SERVE_URL
	allow-non-https = true
	workers = 2

	[pypi-mirror]
	log-dir = $LOGDIR/b
	stale-backoff = 0
	metadata-source = simple
	EOF
	run pypi-mirror -c "$BATS_TEST_TMPDIR/b.conf" mirror
	assert_success
	local n want="$BATS_TEST_TMPDIR/want"
	: >"$want"
	for n in demo-pkg mixedcase; do
		[ "$(jq '.files | length' "$b/web/simple/$n/index.v1_json")" -eq "$(jq '.files | length' "$M/web/simple/$n/index.v1_json")" ]
		jq -r '.files[] | "\(.hashes.sha256)  packages/\(.hashes.sha256[0:2])/\(.hashes.sha256[2:4])/\(.hashes.sha256[4:])/\(.filename)"' \
			"$M/web/simple/$n/index.v1_json" >>"$want"
		# the pages link the files where they landed
		diff <(jq -r '.files[] | "packages/\(.hashes.sha256[0:2])/\(.hashes.sha256[2:4])/\(.hashes.sha256[4:])/\(.filename)"' "$b/web/simple/$n/index.v1_json" | sort) \
			<(jq -r '.files[].url | sub("^.*?packages/"; "packages/")' "$b/web/simple/$n/index.v1_json" | sort)
	done
	run bash -c "cd '$b/web' && sha256sum -c --quiet '$want'"
	assert_success
	[ "$(find "$b/web/packages" -type f ! -name '*.metadata' | wc -l)" -eq "$(wc -l <"$want")" ]
	[ -z "$(find "$b/web" -path '*+f*' -o -path '*repository*')" ]
}
