#!/usr/bin/env bats
# The PyPI emulator (tests/pypi-emulator/pypi-emulator), behaviour by
# behaviour, through real HTTP clients only (curl, python3 http.client /
# urllib / xmlrpc.client, pip).  Facts checked come from
# shared/reference/pypi-interfaces.md.

load lib/common

setup_file() {
	emu_generate "$BATS_FILE_TMPDIR/base" 2>/dev/null
	cp -a "$BATS_FILE_TMPDIR/base" "$BATS_FILE_TMPDIR/shared"
	export EMU_STATE="$BATS_FILE_TMPDIR/shared"
	emu_start
	export SHARED_URL="$EMU_URL" SHARED_PID="$EMU_PID"
	cat >"$BATS_FILE_TMPDIR/pre.py" <<'EOF'
import base64, hashlib, http.client, io, json, os, re, sys, time
import urllib.parse, urllib.request, xmlrpc.client, zipfile
URL = os.environ["EMU_URL"]
HOST = urllib.parse.urlsplit(URL)

def req(method, path, headers=None, body=None, timeout=30):
    c = http.client.HTTPConnection(HOST.hostname, HOST.port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    b = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, b

def get_json(path, headers=None):
    s, h, b = req("GET", path, headers)
    assert s == 200, (path, s, b[:200])
    return json.loads(b)

def rpc():
    return xmlrpc.client.ServerProxy(URL + "/pypi", allow_none=True)

def admin(op, **kw):
    kw["op"] = op
    s, h, b = req("POST", "/_emulator/admin", {"Content-Type": "application/json"},
                  json.dumps(kw).encode())
    assert s == 200, b
    return json.loads(b)

def ok(cond, *msg):
    if not cond:
        print("FAILED:", *msg, file=sys.stderr)
        sys.exit(1)
EOF
}

setup() {
	export EMU_URL="$SHARED_URL" EMU_PID="$SHARED_PID"
	PRIVATE_PID=''
	SHARED_DIRTY=''
}

teardown() {
	if [[ -n "$PRIVATE_PID" ]]; then
		_emu_kill "$PRIVATE_PID"
	fi
	if [[ -n "$SHARED_DIRTY" ]]; then
		admin clear-faults
	fi
}

# Use the shared server for a test that only sets faults or reads stats:
# they are runtime settings, cleared here and again in teardown.
shared_clean() {
	SHARED_DIRTY=1
	admin clear-faults
	admin reset-stats
}

# A server of its own for a test that mutates state or changes settings.
private() {
	cp -a "$BATS_FILE_TMPDIR/base" "$BATS_TEST_TMPDIR/emu"
	EMU_STATE="$BATS_TEST_TMPDIR/emu" emu_start "$@"
	PRIVATE_PID="$EMU_PID"
}

# Run a python snippet (stdin) after the preamble; fails the test on error.
py() {
	{ cat "$BATS_FILE_TMPDIR/pre.py"; cat; } | "$PY" -S - "$@"
}

# curl: print "status content-type" for a URL; extra args passed through.
code_type() {
	curl -sS -o /dev/null -w '%{http_code} %{content_type}\n' "$@"
}

SIMPLE_JSON='application/vnd.pypi.simple.v1+json'
SIMPLE_HTML='application/vnd.pypi.simple.v1+html'

# ------------------------------------------------------------------ generate

@test "generate: same seed and args give byte-identical state and files" {
	emu_generate "$BATS_TEST_TMPDIR/a" --seed 7 --projects 8 2>/dev/null
	emu_generate "$BATS_TEST_TMPDIR/b" --seed 7 --projects 8 2>/dev/null
	run diff -r "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	assert_success
	emu_generate "$BATS_TEST_TMPDIR/c" --seed 8 --projects 8 2>/dev/null
	run diff -rq "$BATS_TEST_TMPDIR/a/state.json" "$BATS_TEST_TMPDIR/c/state.json"
	assert_failure
}

@test "generate: refuses to overwrite a state unless --force" {
	emu_generate "$BATS_TEST_TMPDIR/a" --projects 2 2>/dev/null
	run emu_generate "$BATS_TEST_TMPDIR/a" --projects 2
	assert_failure
	run emu_generate "$BATS_TEST_TMPDIR/a" --projects 3 --force
	assert_success
}

@test "generate: files live at packages/xx/yy/<60 hex>/name, path = blake2b-256 of the bytes" {
	run "$PY" - "$BATS_FILE_TMPDIR/base/web/packages" <<'EOF'
import hashlib, os, sys
root = sys.argv[1]; n = meta = 0
for d, _, files in os.walk(root):
    for f in files:
        rel = os.path.relpath(os.path.join(d, f), root).split(os.sep)
        assert len(rel) == 4 and len(rel[0]) == 2 and len(rel[1]) == 2 and len(rel[2]) == 60, rel
        if f.endswith(".metadata"):
            assert os.path.exists(os.path.join(d, f[:-9])) and f[:-9].endswith(".whl"), f
            meta += 1
            continue
        data = open(os.path.join(d, f), "rb").read()
        assert hashlib.blake2b(data, digest_size=32).hexdigest() == "".join(rel[:3]), f
        n += 1
print(n, meta)
assert n > 20 and meta > 10
EOF
	assert_success
}

@test "generate: wheels are valid (zipfile -t, METADATA, WHEEL, RECORD hashes); sdists are tar.gz with PKG-INFO" {
	local w
	for w in $(find "$BATS_FILE_TMPDIR/base/web/packages" -name '*.whl' | sort | head -n 8); do
		"$PY" -m zipfile -t "$w" >/dev/null
	done
	run "$PY" - "$BATS_FILE_TMPDIR/base/web/packages" <<'EOF'
import base64, csv, hashlib, io, os, sys, tarfile, zipfile
root = sys.argv[1]
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        if f.endswith(".whl"):
            dist, ver = f.split("-")[:2]
            di = "%s-%s.dist-info" % (dist, ver)
            z = zipfile.ZipFile(p)
            names = z.namelist()
            for need in ("METADATA", "WHEEL", "RECORD"):
                assert "%s/%s" % (di, need) in names, (f, need)
            meta = z.read(di + "/METADATA").decode()
            assert meta.startswith("Metadata-Version: 2.1\n"), f
            assert "\nVersion: %s\n" % ver in meta, f
            assert open(p + ".metadata", "rb").read() == z.read(di + "/METADATA")
            wheel = z.read(di + "/WHEEL").decode()
            assert "Wheel-Version: 1.0" in wheel and "Tag: " in wheel
            rows = list(csv.reader(io.StringIO(z.read(di + "/RECORD").decode())))
            assert sorted(r[0] for r in rows) == sorted(names), f
            for name, h, size in rows:
                if name.endswith("RECORD"):
                    assert h == "" and size == ""
                    continue
                data = z.read(name)
                want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
                assert h == want and int(size) == len(data), (f, name)
        elif f.endswith(".tar.gz"):
            t = tarfile.open(p)
            top = f[:-len(".tar.gz")]
            assert top + "/PKG-INFO" in t.getnames(), f
            assert not os.path.exists(p + ".metadata")
print("ok")
EOF
	assert_success
	assert_output ok
}

@test "generate: names exercise normalization; releases cover tags, yanks, requires-python, prereleases, zero microseconds" {
	run py <<'EOF'
names = rpc().list_packages_with_serial()
for n in ("Demo_Pkg", "zope.interface", "Foo.Bar-baz", "MixedCase"):
    ok(n in names, n)
tags, yanks, rps, vers, times = set(), set(), set(), set(), set()
for n in names:
    norm = re.sub(r"[-_.]+", "-", n).lower()
    d = get_json("/simple/%s/" % norm, {"Accept": "application/vnd.pypi.simple.v1+json"})
    vers |= set(d["versions"])
    for f in d["files"]:
        if f["filename"].endswith(".whl"):
            tags.add(f["filename"].rsplit("-", 3)[-3] + "-" + f["filename"].rsplit("-", 3)[-2] + "-" + f["filename"].rsplit("-", 3)[-1][:-4])
        yanks.add(f["yanked"] if not isinstance(f["yanked"], str) else "reason")
        rps.add(f["requires-python"])
        times.add("." in f["upload-time"])
for t in ("py3-none-any", "py2.py3-none-any", "cp311-cp311-win_amd64",
          "cp311-cp311-macosx_11_0_arm64", "cp311-cp311-musllinux_1_1_x86_64",
          "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"):
    ok(t in tags, t, tags)
ok(yanks == {False, True, "reason"}, yanks)
ok(rps == {">=3.8", ">=3.7,<4", None}, rps)
ok("2.0rc1" in vers and "1.1.dev0" in vers, vers)
ok(times == {True, False}, times)
EOF
	assert_success
}

@test "generate: serials are journal ids, increasing, with gaps" {
	run py <<'EOF'
rows = rpc().changelog_since_serial(0)
ids = [r[4] for r in rows]
ok(ids == sorted(ids) and len(set(ids)) == len(ids), "monotonic")
ok(any(b - a > 1 for a, b in zip(ids, ids[1:])), "no gap")
ok(ids[-1] == rpc().changelog_last_serial())
EOF
	assert_success
}

@test "generate: --projects 150 --releases 2 is quick and complete" {
	local t0=$SECONDS
	emu_generate "$BATS_TEST_TMPDIR/big" --projects 150 --releases 2 2>/dev/null
	(( SECONDS - t0 < 30 ))
	run "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d['projects']), min(len(p['releases']) for p in d['projects']))" "$BATS_TEST_TMPDIR/big/state.json"
	assert_output "150 2"
}

# ------------------------------------------------------------------ XML-RPC

@test "xmlrpc: changelog_last_serial is max journal id and equals the stats serial" {
	run py <<'EOF'
s = rpc().changelog_last_serial()
ok(isinstance(s, int) and s > 0)
ok(s == get_json("/_emulator/stats")["serial"])
EOF
	assert_success
}

@test "xmlrpc: changelog_since_serial rows are [display name, version|nil, int ts, action, serial] after since" {
	run py <<'EOF'
rows = rpc().changelog_since_serial(0)
ok(all(len(r) == 5 and isinstance(r[2], int) and isinstance(r[4], int) for r in rows))
ok(rows[0][:2] == ["Demo_Pkg", None] and rows[0][3] == "create", rows[0])
ok(any(r[3] == "new release" and r[1] for r in rows))
ok(any(r[3].startswith("add source file ") for r in rows))
ok(any(r[3] == "yank release" for r in rows))
ok(any(r[3].startswith("remove file ") for r in rows))
mid = rows[len(rows) // 2][4]
tail = rpc().changelog_since_serial(mid)
ok(tail == [r for r in rows if r[4] > mid])
ok(rpc().changelog_since_serial(rows[-1][4]) == [])
EOF
	assert_success
}

@test "xmlrpc: wire format is Python's marshalling (nil without newline), text/xml; charset=utf-8, HTTP 200" {
	local body='<?xml version="1.0"?><methodCall><methodName>changelog_since_serial</methodName><params><param><value><int>0</int></value></param></params></methodCall>'
	run curl -sS -D "$BATS_TEST_TMPDIR/h" -H 'Content-Type: text/xml' --data-binary "$body" "$EMU_URL/pypi"
	assert_success
	assert_output --partial $'<?xml version=\'1.0\'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><array><data>\n<value><string>Demo_Pkg</string></value>\n<value><nil/></value><value><int>'
	grep -qi '^content-type: text/xml; charset=utf-8' "$BATS_TEST_TMPDIR/h"
	grep -q '^HTTP/1.1 200' "$BATS_TEST_TMPDIR/h"
}

@test "xmlrpc: list_packages_with_serial maps every display name to its last serial" {
	run py <<'EOF'
m = rpc().list_packages_with_serial()
ok(len(m) == 6, m)
for name, serial in m.items():
    norm = re.sub(r"[-_.]+", "-", name).lower()
    s, h, b = req("GET", "/simple/%s/" % norm)
    ok(int(h["x-pypi-last-serial"]) == serial, name)
EOF
	assert_success
}

@test "xmlrpc: answers on /pypi, /pypi/ and /RPC2, only for text/xml requests" {
	local body='<?xml version="1.0"?><methodCall><methodName>changelog_last_serial</methodName><params></params></methodCall>'
	local p
	for p in /pypi /pypi/ /RPC2; do
		run curl -sS -H 'Content-Type: text/xml; charset=utf-8' --data-binary "$body" "$EMU_URL$p"
		assert_output --partial '<value><int>'
	done
	run code_type -H 'Content-Type: application/json' --data-binary "$body" "$EMU_URL/pypi"
	assert_output --partial 404
}

@test "xmlrpc: faults -32601 unknown, -32602 strict int, -32700 parse error, -32500 disabled, all HTTP 200" {
	run py <<'EOF'
def fault(fn):
    try:
        fn()
    except xmlrpc.client.Fault as f:
        return f.faultCode, f.faultString
    return None
ok(fault(lambda: rpc().no_such_method()) == (-32601, "server error; requested method not found"))
ok(fault(lambda: rpc().changelog_since_serial("5")) == (-32602, "client error; serial: Input should be a valid integer"))
ok(fault(lambda: rpc().changelog_since_serial(True))[0] == -32602)
ok(fault(lambda: rpc().changelog_since_serial())[0] == -32602)
for m in ("list_packages", "package_releases", "release_urls", "release_data", "search",
          "changelog", "package_data", "package_urls", "top_packages", "system.multicall"):
    code, msg = fault(lambda: getattr(rpc(), m)())
    ok(code == -32500 and msg.startswith("RuntimeError: PyPI no longer supports the XMLRPC %s method." % m), m, msg)
s, h, b = req("POST", "/pypi", {"Content-Type": "text/xml"}, b"<methodCall><nope")
ok(s == 200 and h["content-type"] == "text/xml; charset=utf-8")
try:
    xmlrpc.client.loads(b)
    ok(False, "no fault")
except xmlrpc.client.Fault as f:
    ok(f.faultCode == -32700)
EOF
	assert_success
}

@test "xmlrpc: changelog_since_serial is capped at 50,000 rows (real default); the rest on the next page" {
	private
	run emu_admin bulk-journal name=zope.interface count=50100
	assert_success
	run py <<'EOF'
last = rpc().changelog_last_serial()
page1 = rpc().changelog_since_serial(0)
ok(len(page1) == 50000, len(page1))
page2 = rpc().changelog_since_serial(page1[-1][4])
ok(0 < len(page2) < 50000 and page2[-1][4] == last, len(page2))
ok(page2[-1][:2] == ["zope.interface", None] and page2[-1][3] == "add Owner user50099", page2[-1])
ok(rpc().changelog_since_serial(last) == [])
ok(get_json("/pypi/zope-interface/json")["last_serial"] == last)
EOF
	assert_success
}

@test "xmlrpc: changelog action strings are cleaned for XML (non-ASCII becomes a literal &#NNN; reference)" {
	private
	admin bulk-journal name=MixedCase count=1 user=café
	run py <<'EOF'
rows = rpc().changelog_since_serial(rpc().changelog_last_serial() - 1)
ok(rows[-1][3] == "add Owner caf&#233;0", rows)
EOF
	assert_success
}

# ------------------------------------------------------------------ JSON API

@test "json: top-level, info and file keys are exactly PyPI's; body is sorted compact JSON plus newline" {
	run py <<'EOF'
s, h, b = req("GET", "/pypi/demo-pkg/json")
ok(s == 200 and h["content-type"] == "application/json")
d = json.loads(b)
ok(b == (json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode())
ok(set(d) == {"info", "last_serial", "releases", "urls", "vulnerabilities", "ownership"}, set(d))
ok(set(d["info"]) == {"author", "author_email", "bugtrack_url", "classifiers", "description",
    "description_content_type", "docs_url", "download_url", "downloads", "dynamic", "home_page",
    "keywords", "license", "license_expression", "license_files", "maintainer", "maintainer_email",
    "name", "package_url", "platform", "project_url", "project_urls", "provides_extra",
    "release_url", "requires_dist", "requires_python", "summary", "version", "yanked",
    "yanked_reason"}, set(d["info"]))
ok(d["info"]["downloads"] == {"last_day": -1, "last_month": -1, "last_week": -1})
ok(d["info"]["name"] == "Demo_Pkg" and d["info"]["bugtrack_url"] is None)
ok(d["vulnerabilities"] == [] and set(d["ownership"]) == {"roles", "organization"})
files = [f for fs in d["releases"].values() for f in fs]
for f in files:
    ok(set(f) == {"comment_text", "core-metadata", "digests", "downloads", "filename", "has_sig",
        "md5_digest", "packagetype", "python_version", "requires_python", "size", "upload_time",
        "upload_time_iso_8601", "url", "yanked", "yanked_reason"}, set(f))
    ok(set(f["digests"]) == {"blake2b_256", "md5", "sha256"} and f["md5_digest"] == f["digests"]["md5"])
    ok(f["downloads"] == -1 and f["has_sig"] is False)
    ok((f["core-metadata"] is False) == (f["packagetype"] == "sdist"), f["filename"])
    ok(f["python_version"] == ("source" if f["packagetype"] == "sdist" else f["filename"].split("-")[2]))
for fs in d["releases"].values():
    ok([f["filename"] for f in fs] == sorted(f["filename"] for f in fs))
# non-ASCII is sent raw (ensure_ascii=False)
ok("D\u00e9mo".encode() in b)
EOF
	assert_success
}

@test "json: headers: X-PyPI-Last-Serial, Cache-Control 900, CORS, strong ETag = base64 md5 without padding" {
	run py <<'EOF'
s, h, b = req("GET", "/pypi/demo-pkg/json")
d = json.loads(b)
ok(h["x-pypi-last-serial"] == str(d["last_serial"]))
ok(h["cache-control"] == "max-age=900, public")
ok(h["access-control-allow-origin"] == "*" and h["access-control-allow-methods"] == "GET")
ok(h["access-control-allow-headers"] == "Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since")
ok(h["access-control-max-age"] == "86400" and h["access-control-expose-headers"] == "X-PyPI-Last-Serial")
ok(h["etag"] == '"%s"' % base64.b64encode(hashlib.md5(b).digest()).decode().rstrip("="))
ok(int(h["content-length"]) == len(b))
EOF
	assert_success
}

@test "json: If-None-Match with the ETag gives 304 (JSON and simple)" {
	local p tag
	for p in /pypi/demo-pkg/json /simple/demo-pkg/; do
		tag=$(curl -sS -D - -o /dev/null "$EMU_URL$p" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
		[[ -n "$tag" ]]
		run code_type -H "If-None-Match: $tag" "$EMU_URL$p"
		assert_output --regexp '^304'
		run code_type -H 'If-None-Match: "nope"' "$EMU_URL$p"
		assert_output --regexp '^200'
	done
}

@test "json: latest release skips yanked and prereleases; releases lists empty releases; urls = latest files" {
	run py <<'EOF'
d = get_json("/pypi/demo-pkg/json")
ok(d["info"]["version"] == "1.0", d["info"]["version"])
ok(set(d["releases"]) == {"1.0", "1.1.dev0", "2.0rc1"})
ok([f["filename"] for f in d["urls"]] == [f["filename"] for f in d["releases"]["1.0"]])
y = d["releases"]["1.1.dev0"][0]
ok(y["yanked"] is True and y["yanked_reason"] == 'Broken build: use >=1.1 & don\'t "pin" <this>')
ok(d["releases"]["2.0rc1"][0]["yanked"] is True and d["releases"]["2.0rc1"][0]["yanked_reason"] is None)
f = get_json("/pypi/foo-bar-baz/json")
ok(f["releases"]["1.0"] == [], f["releases"].keys())
EOF
	assert_success
}

@test "json: upload_time has no zone; upload_time_iso_8601 omits the fraction when microseconds are 0" {
	run py <<'EOF'
seen = set()
for n in rpc().list_packages_with_serial():
    norm = re.sub(r"[-_.]+", "-", n).lower()
    for fs in get_json("/pypi/%s/json" % norm)["releases"].values():
        for f in fs:
            ok(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", f["upload_time"]), f["upload_time"])
            iso = f["upload_time_iso_8601"]
            ok(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", iso), iso)
            ok(iso.startswith(f["upload_time"]))
            seen.add("." in iso)
ok(seen == {True, False}, seen)
EOF
	assert_success
}

@test "json: versioned URL omits releases; version matched canonically" {
	run py <<'EOF'
d = get_json("/pypi/demo-pkg/1.0/json")
ok(set(d) == {"info", "last_serial", "urls", "vulnerabilities", "ownership"}, set(d))
ok(d["info"]["version"] == "1.0")
ok(get_json("/pypi/demo-pkg/1/json")["info"]["version"] == "1.0")
ok(get_json("/pypi/demo-pkg/2.0rc1/json")["info"]["yanked"] is True)
EOF
	assert_success
}

@test "json: names are normalized by internal rewrite; a trailing slash gets a 301 to the normalized URL" {
	run curl -sS "$EMU_URL/pypi/Demo_Pkg/json"
	assert_success
	[[ "$output" == "$(curl -sS "$EMU_URL/pypi/demo-pkg/json")" ]]
	run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$EMU_URL/pypi/Demo_Pkg/json/"
	assert_output "301 $EMU_URL/pypi/demo-pkg/json"
	run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$EMU_URL/pypi/Demo.Pkg/1.0/json/"
	assert_output "301 $EMU_URL/pypi/demo-pkg/1.0/json"
	run code_type "$EMU_URL/pypi/ZOPE.interface/json"
	assert_output "200 application/json"
}

@test "json: 404 {\"message\": \"Not Found\"} as application/json for unknown project, unknown version, no releases" {
	private
	admin new-project name=Empty_One
	admin remove-release name=Empty_One version=1.0
	local p
	for p in /pypi/nope/json /pypi/demo-pkg/9.9/json /pypi/empty-one/json; do
		run curl -sS -w ' %{http_code} %{content_type}' "$EMU_URL$p"
		assert_output '{"message": "Not Found"} 404 application/json'
	done
	# the project still exists: simple page with no links, listed by XML-RPC
	run code_type "$EMU_URL/simple/empty-one/"
	assert_output "200 text/html"
	run py <<'EOF'
ok("Empty_One" in rpc().list_packages_with_serial())
EOF
	assert_success
}

@test "json: HEAD gives the same headers and Content-Length as GET, no body" {
	run py <<'EOF'
s, h, b = req("GET", "/pypi/zope-interface/json")
s2, h2, b2 = req("HEAD", "/pypi/zope-interface/json")
ok(s2 == 200 and b2 == b"" and h2["content-length"] == str(len(b)) and h2["etag"] == h["etag"])
EOF
	assert_success
}

@test "json: file digests and URL path match the downloaded bytes (sha256, md5, blake2b-256, size)" {
	run py <<'EOF'
count = 0
for n in rpc().list_packages_with_serial():
    norm = re.sub(r"[-_.]+", "-", n).lower()
    for fs in get_json("/pypi/%s/json" % norm)["releases"].values():
        for f in fs:
            ok(f["url"].startswith(URL + "/packages/"))
            path = urllib.parse.urlsplit(f["url"]).path
            s, h, data = req("GET", path)
            ok(s == 200 and len(data) == f["size"], f["filename"])
            b2 = hashlib.blake2b(data, digest_size=32).hexdigest()
            ok(f["digests"] == {"sha256": hashlib.sha256(data).hexdigest(),
                                "md5": hashlib.md5(data).hexdigest(), "blake2b_256": b2})
            ok(path == "/packages/%s/%s/%s/%s" % (b2[:2], b2[2:4], b2[4:], f["filename"]), path)
            count += 1
ok(count > 20, count)
EOF
	assert_success
}

# ------------------------------------------------------------------ Simple API

@test "simple: root HTML is byte-exact to the template (sorted by normalized name, no trailing newline)" {
	run py <<'EOF'
names = sorted(rpc().list_packages_with_serial(), key=lambda n: re.sub(r"[-_.]+", "-", n).lower())
want = ('<!DOCTYPE html>\n<html lang="en">\n  <head>\n    <meta name="pypi:repository-version" content="1.4">\n'
        '    <title>Simple index</title>\n  </head>\n  <body>\n'
        + "".join('<a href="/simple/%s/">%s</a>\n' % (re.sub(r"[-_.]+", "-", n).lower(), n) for n in names)
        + "</body>\n</html>")
s, h, b = req("GET", "/simple/")
ok(s == 200 and h["content-type"] == "text/html" and b.decode() == want, b.decode())
ok(h["x-pypi-last-serial"] == str(rpc().changelog_last_serial()))
ok(h["cache-control"] == "max-age=600, public" and h["vary"] == "Accept")
EOF
	assert_success
}

@test "simple: root JSON has api-version 1.4, global _last-serial, display names ordered by normalized name" {
	run py <<'EOF'
d = get_json("/simple/", {"Accept": "application/vnd.pypi.simple.v1+json"})
ok(d["meta"] == {"_last-serial": rpc().changelog_last_serial(), "api-version": "1.4"})
m = rpc().list_packages_with_serial()
ok(d["projects"] == [{"_last-serial": m[n], "name": n}
                     for n in sorted(m, key=lambda n: re.sub(r"[-_.]+", "-", n).lower())])
EOF
	assert_success
}

@test "simple: project JSON: keys, versions only with files, files sorted by (version, filename), metadata hashes" {
	run py <<'EOF'
d = get_json("/simple/foo-bar-baz/", {"Accept": "application/vnd.pypi.simple.v1+json"})
ok(set(d) == {"files", "meta", "name", "project-status", "versions"})
ok(d["name"] == "foo-bar-baz" and d["project-status"] == {"status": "active"})
ok(d["meta"]["api-version"] == "1.4")
ok("1.0" not in d["versions"] and d["versions"] == ["2.0", "2.1"], d["versions"])
d = get_json("/simple/demo-pkg/", {"Accept": "application/vnd.pypi.simple.v1+json"})
ok(d["versions"] == ["1.0", "1.1.dev0", "2.0rc1"], d["versions"])
order = {"1.0": 0, "1.1.dev0": 1, "2.0rc1": 2}
keys = [(order[re.match(r"demo_pkg-([^-]+?)(-|\.tar)", f["filename"]).group(1)], f["filename"]) for f in d["files"]]
ok(keys == sorted(keys), keys)
for f in d["files"]:
    ok(set(f) == {"core-metadata", "data-dist-info-metadata", "filename", "hashes", "provenance",
                  "requires-python", "size", "upload-time", "url", "yanked"}, set(f))
    ok(f["core-metadata"] == f["data-dist-info-metadata"] and f["provenance"] is None)
    ok(set(f["hashes"]) == {"sha256"})
    if f["filename"].endswith(".whl"):
        s, h, meta = req("GET", urllib.parse.urlsplit(f["url"]).path + ".metadata")
        ok(s == 200 and f["core-metadata"] == {"sha256": hashlib.sha256(meta).hexdigest()})
        ok(meta.startswith(b"Metadata-Version: 2.1\nName: Demo_Pkg\n"))
    else:
        ok(f["core-metadata"] is False)
ys = {f["filename"].split("-")[1]: f["yanked"] for f in d["files"] if f["filename"].endswith(".whl")}
ok(ys["1.0"] is False and ys["2.0rc1"] is True and ys["1.1.dev0"].startswith("Broken build"), ys)
EOF
	assert_success
}

@test "simple: project HTML is byte-exact to the template, with MarkupSafe escaping" {
	run py <<'EOF'
def esc(s):
    return s.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace('"', "&#34;").replace("'", "&#39;")
d = get_json("/simple/demo-pkg/", {"Accept": "application/vnd.pypi.simple.v1+json"})
want = ('<!DOCTYPE html>\n<html lang="en">\n  <head>\n    <meta name="pypi:repository-version" content="1.4">\n'
        '<meta name="pypi:project-status" content="active">    <title>Links for demo-pkg</title>\n'
        '  </head>\n  <body>\n    <h1>Links for demo-pkg</h1>\n')
for f in d["files"]:
    a = '<a href="%s#sha256=%s" ' % (f["url"], f["hashes"]["sha256"])
    if f["requires-python"]:
        a += 'data-requires-python="%s" ' % esc(f["requires-python"])
    if f["yanked"]:
        a += 'data-yanked="%s" ' % (esc(f["yanked"]) if isinstance(f["yanked"], str) else "")
    if f["core-metadata"]:
        a += 'data-dist-info-metadata="sha256=%s" data-core-metadata="sha256=%s"' % ((f["core-metadata"]["sha256"],) * 2)
    want += a + ">%s</a><br />\n" % f["filename"]
want += "</body>\n</html>\n<!--SERIAL %d-->" % d["meta"]["_last-serial"]
s, h, b = req("GET", "/simple/demo-pkg/")
ok(b.decode() == want, b.decode())
html = b.decode()
ok('data-yanked="Broken build: use &gt;=1.1 &amp; don&#39;t &#34;pin&#34; &lt;this&gt;" ' in html)
ok('data-yanked="" ' in html and 'data-requires-python="&gt;=3.8"' in html)
ok(re.search(r'\.tar\.gz#sha256=[0-9a-f]{64}" (data-[^>]*" )?>', html))
EOF
	assert_success
}

@test "simple: headers: Vary Accept, Cache-Control 600, project X-PyPI-Last-Serial, CORS, ETag" {
	run py <<'EOF'
s, h, b = req("GET", "/simple/zope-interface/")
ok(h["vary"] == "Accept" and h["cache-control"] == "max-age=600, public")
ok(h["x-pypi-last-serial"] == str(rpc().list_packages_with_serial()["zope.interface"]))
ok(h["access-control-allow-origin"] == "*")
ok(h["etag"] == '"%s"' % base64.b64encode(hashlib.md5(b).digest()).decode().rstrip("="))
EOF
	assert_success
}

@test "simple: content negotiation follows the edge (q-values, ties in offer order, latest aliases, never 406)" {
	local -a cases=(
		"|text/html"
		"text/html|text/html"
		"text/plain|text/html"
		"image/png|text/html"
		"*/*|text/html"
		"text/html, $SIMPLE_HTML, $SIMPLE_JSON|text/html"
		"text/html;q=0.01, $SIMPLE_HTML;q=0.2, $SIMPLE_JSON|$SIMPLE_JSON"
		"$SIMPLE_JSON, $SIMPLE_HTML;q=0.1, text/html;q=0.01|$SIMPLE_JSON"
		"$SIMPLE_HTML|$SIMPLE_HTML"
		"$SIMPLE_JSON|$SIMPLE_JSON"
		"application/vnd.pypi.simple.latest+json|$SIMPLE_JSON"
		"application/vnd.pypi.simple.latest+html|$SIMPLE_HTML"
		"application/*|$SIMPLE_HTML"
		"$SIMPLE_JSON;q=0, text/html;q=0.5|text/html"
		"text/html;q=0, $SIMPLE_JSON;q=0|text/html"
	)
	local c accept want p
	for p in /simple/ /simple/demo-pkg/; do
		for c in "${cases[@]}"; do
			accept="${c%%|*}" want="${c#*|}"
			if [[ -z "$accept" ]]; then
				run code_type -H 'Accept:' "$EMU_URL$p"
			else
				run code_type -H "Accept: $accept" "$EMU_URL$p"
			fi
			assert_output "200 $want"
		done
	done
	run curl -sS -H "Accept: $SIMPLE_JSON" "$EMU_URL/simple/demo-pkg/"
	[[ "$output" == '{"files":'* ]]
}

@test "simple: ?format= overrides Accept (incl. latest+X); Content-Type echoes the negotiated type" {
	run code_type -H 'Accept: text/html' "$EMU_URL/simple/demo-pkg/?format=$SIMPLE_JSON"
	assert_output "200 $SIMPLE_JSON"
	run code_type -H "Accept: $SIMPLE_JSON" "$EMU_URL/simple/demo-pkg/?format=text/html"
	assert_output "200 text/html"
	run code_type "$EMU_URL/simple/?format=application/vnd.pypi.simple.latest%2Bjson"
	assert_output "200 $SIMPLE_JSON"
	run code_type "$EMU_URL/simple/demo-pkg/?format=application/vnd.pypi.simple.latest+html"
	assert_output "200 $SIMPLE_HTML"
	run code_type -H "Accept: $SIMPLE_JSON" "$EMU_URL/simple/demo-pkg/?format=bogus"
	assert_output "200 $SIMPLE_JSON"
}

@test "simple: 301 adds the trailing slash, 301 to the normalized name, 404 text/plain for unknown" {
	run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$EMU_URL/simple"
	assert_output "301 $EMU_URL/simple/"
	run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$EMU_URL/simple/demo-pkg"
	assert_output "301 $EMU_URL/simple/demo-pkg/"
	run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$EMU_URL/simple/Demo_Pkg/"
	assert_output "301 $EMU_URL/simple/demo-pkg/"
	run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$EMU_URL/simple/Demo_Pkg"
	assert_output "301 $EMU_URL/simple/Demo_Pkg/"
	run curl -sSL -o /dev/null -w '%{http_code} %{url_effective}' "$EMU_URL/simple/ZOPE.Interface"
	assert_output "200 $EMU_URL/simple/zope-interface/"
	run curl -sS -w ' %{http_code} %{content_type}' "$EMU_URL/simple/no-such-project/"
	assert_output "404 Not Found 404 text/plain"
	run curl -sS -w ' %{http_code}' "$EMU_URL/simple/No_Such/"
	assert_output "404 Not Found 404"
}

# ------------------------------------------------------------------ files

@test "files: GET/HEAD with Content-Length and immutable Cache-Control; query stripped; 404 unknown; 405 others" {
	local url path
	url=$(curl -fsS "$EMU_URL/pypi/demo-pkg/json" | jq -r '.urls[0].url')
	path=${url#"$EMU_URL"}
	run curl -sS -I "$url"
	assert_output --partial 'Cache-Control: max-age=365000000, immutable, public'
	assert_output --regexp 'Content-Length: [0-9]+'
	run code_type "$url?x=1"
	assert_output "200 application/octet-stream"
	run code_type "$EMU_URL/packages/00/11/$(printf '%060d' 0)/nope-1.0.tar.gz"
	assert_output --regexp '^404'
	run code_type "$EMU_URL/packages/not/a/valid/path"
	assert_output --regexp '^404'
	run curl -sS -o /dev/null -D - -X POST "$url"
	assert_output --partial '405'
	assert_output --partial 'Allow: GET, HEAD, OPTIONS'
	run curl -sS -o /dev/null -D - -X DELETE "$EMU_URL$path"
	assert_output --partial 'Allow: GET, HEAD, OPTIONS'
}

@test "files: Range requests give 206 with Content-Range" {
	run py <<'EOF'
d = get_json("/pypi/demo-pkg/json")
f = d["urls"][0]
path = urllib.parse.urlsplit(f["url"]).path
s, h, full = req("GET", path)
s, h, part = req("GET", path, {"Range": "bytes=10-19"})
ok(s == 206 and part == full[10:20] and h["content-range"] == "bytes 10-19/%d" % len(full))
s, h, part = req("GET", path, {"Range": "bytes=-5"})
ok(s == 206 and part == full[-5:])
s, h, part = req("GET", path, {"Range": "bytes=%d-" % (len(full) + 10)})
ok(s == 416)
EOF
	assert_success
}

@test "files: --files-url puts another base in front of /packages/ in JSON and simple pages" {
	private --files-url http://files.example.invalid
	run curl -fsS "$EMU_URL/pypi/demo-pkg/json"
	assert_output --partial '"url":"http://files.example.invalid/packages/'
	run curl -fsS "$EMU_URL/simple/demo-pkg/"
	assert_output --partial 'href="http://files.example.invalid/packages/'
}

# ------------------------------------------------------------------ edge cache, stale, PURGE

@test "edge: stale freezes JSON and simple pages (body and serial) until PURGE; query strings bypass on /pypi only" {
	private
	local old new
	old=$(curl -fsS -D - -o /dev/null "$EMU_URL/pypi/demo-pkg/json" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-pypi-last-serial"{print $2}')
	admin stale name=Demo_Pkg
	new=$(emu_admin new-release name=Demo_Pkg version=3.0 | jq -r .project_serial)
	(( new > old ))
	# the edge keeps the old body and the old serial
	run curl -fsS -D "$BATS_TEST_TMPDIR/h" "$EMU_URL/pypi/Demo_Pkg/json"
	[[ "$(jq -r .last_serial <<<"$output")" == "$old" ]]
	grep -qi "^x-pypi-last-serial: $old" "$BATS_TEST_TMPDIR/h"
	grep -qi '^x-cache: HIT' "$BATS_TEST_TMPDIR/h"
	run curl -fsS -H "Accept: $SIMPLE_JSON" "$EMU_URL/simple/demo-pkg/"
	[[ "$(jq -r '.meta["_last-serial"]' <<<"$output")" == "$old" ]]
	refute_output --partial 'demo_pkg-3.0'
	# query string on /simple/ is stripped: still stale
	run curl -fsS -H "Accept: $SIMPLE_JSON" "$EMU_URL/simple/demo-pkg/?cachebust=1"
	[[ "$(jq -r '.meta["_last-serial"]' <<<"$output")" == "$old" ]]
	# query string on /pypi/ goes to origin
	run curl -fsS "$EMU_URL/pypi/demo-pkg/json?cachebust=1"
	[[ "$(jq -r .last_serial <<<"$output")" == "$new" ]]
	# PURGE of the JSON URL clears it (name normalized like the edge)
	run curl -fsS -X PURGE "$EMU_URL/pypi/Demo_Pkg/json"
	[[ "$(jq -r .status <<<"$output")" == ok ]]
	[[ -n "$(jq -r .id <<<"$output")" ]]
	run curl -fsS "$EMU_URL/pypi/demo-pkg/json"
	[[ "$(jq -r .last_serial <<<"$output")" == "$new" ]]
	# the simple page stays stale until its own PURGE (all content types)
	run curl -fsS "$EMU_URL/simple/demo-pkg/"
	assert_output --partial "<!--SERIAL $old-->"
	curl -fsS -X PURGE "$EMU_URL/simple/demo-pkg/" >/dev/null
	run curl -fsS "$EMU_URL/simple/demo-pkg/"
	assert_output --partial "<!--SERIAL $new-->"
	run curl -fsS -H "Accept: $SIMPLE_JSON" "$EMU_URL/simple/demo-pkg/"
	[[ "$(jq -r '.meta["_last-serial"]' <<<"$output")" == "$new" ]]
	run emu_stats
	[[ "$(jq -r '.purges["/pypi/Demo_Pkg/json"]' <<<"$output")" == 1 ]]
	[[ "$(jq -r '.purges["/simple/demo-pkg/"]' <<<"$output")" == 1 ]]
}

@test "edge: without stale, mutations are visible at once; unstale ends staleness; stale outlives removal" {
	private
	run emu_admin new-release name=MixedCase version=9.0
	assert_success
	run curl -fsS "$EMU_URL/pypi/mixedcase/json"
	[[ "$(jq -r .info.version <<<"$output")" == 9.0 ]]
	admin stale name=MixedCase
	admin yank name=MixedCase version=9.0
	run curl -fsS "$EMU_URL/pypi/mixedcase/json"
	[[ "$(jq -r .info.yanked <<<"$output")" == false ]]
	admin unstale name=MixedCase
	run curl -fsS "$EMU_URL/pypi/mixedcase/json"
	[[ "$(jq -r .info.version <<<"$output")" != 9.0 ]]
	[[ "$(jq -r '.releases["9.0"][0].yanked' <<<"$output")" == true ]]
	# a stale edge keeps serving a removed project until purged
	admin stale name=MixedCase
	admin remove-project name=MixedCase
	run code_type "$EMU_URL/pypi/mixedcase/json"
	assert_output "200 application/json"
	run code_type "$EMU_URL/simple/mixedcase/"
	assert_output "200 text/html"
	curl -fsS -X PURGE "$EMU_URL/pypi/mixedcase/json" >/dev/null
	curl -fsS -X PURGE "$EMU_URL/simple/mixedcase/" >/dev/null
	run code_type "$EMU_URL/pypi/mixedcase/json"
	assert_output "404 application/json"
	run code_type "$EMU_URL/simple/mixedcase/"
	assert_output "404 text/plain"
}

@test "edge: PURGE refused (serve --purge refuse, or purge-policy op) answers 401 with Fastly-Purge-Requires-Auth: 1" {
	private --purge refuse
	admin stale name=Demo_Pkg
	admin new-release name=Demo_Pkg version=3.0
	run curl -sS -D - -o /dev/null -X PURGE "$EMU_URL/pypi/demo-pkg/json"
	assert_output --partial '401'
	assert_output --partial 'Fastly-Purge-Requires-Auth: 1'
	run curl -fsS "$EMU_URL/pypi/demo-pkg/json"
	refute_output --partial '"3.0"'
	admin purge-policy policy=accept
	run curl -sS -o /dev/null -w '%{http_code}' -X PURGE "$EMU_URL/pypi/demo-pkg/json"
	assert_output 200
	run curl -fsS "$EMU_URL/pypi/demo-pkg/json"
	assert_output --partial '"3.0"'
	admin purge-policy policy=refuse
	run curl -sS -o /dev/null -w '%{http_code}' -X PURGE "$EMU_URL/simple/demo-pkg/"
	assert_output 401
	run emu_stats
	[[ "$(jq -r '.purges_refused["/pypi/demo-pkg/json"]' <<<"$output")" == 1 ]]
	[[ "$(jq -r '.purges_refused["/simple/demo-pkg/"]' <<<"$output")" == 1 ]]
}

# ------------------------------------------------------------------ admin mutations

@test "admin: mutations write Warehouse's journal rows and return the new serial" {
	private
	run py <<'EOF'
def since(s):
    return [(r[4], r[0], r[1], r[3]) for r in rpc().changelog_since_serial(s)]
s0 = rpc().changelog_last_serial()
a = admin("new-project", name="New.Project_X")
ok(a["serial"] == rpc().changelog_last_serial())
ok([r[1:] for r in since(s0)] == [("New.Project_X", None, "create"), ("New.Project_X", None, "add Owner emulator-user"),
                 ("New.Project_X", "1.0", "new release"),
                 ("New.Project_X", "1.0", "add source file new_project_x-1.0.tar.gz"),
                 ("New.Project_X", "1.0", "add py3 file new_project_x-1.0-py3-none-any.whl")], since(s0))
s1 = a["serial"]
admin("new-release", name="new-project-x", version="1.1")
admin("add-file", name="new-project-x", version="1.1", kind="wheel", tag="cp311-cp311-win_amd64")
admin("remove-file", name="new-project-x", filename="new_project_x-1.1.tar.gz")
admin("yank", name="new-project-x", version="1.0", reason="bad")
admin("unyank", name="new-project-x", version="1.0")
admin("remove-release", name="new-project-x", version="1.1")
b = admin("remove-project", name="new-project-x")
rows = since(s1)
ok([r[1:] for r in rows] == [
    ("New.Project_X", "1.1", "new release"),
    ("New.Project_X", "1.1", "add source file new_project_x-1.1.tar.gz"),
    ("New.Project_X", "1.1", "add py3 file new_project_x-1.1-py3-none-any.whl"),
    ("New.Project_X", "1.1", "add cp311 file new_project_x-1.1-cp311-cp311-win_amd64.whl"),
    ("New.Project_X", "1.1", "remove file new_project_x-1.1.tar.gz"),
    ("New.Project_X", "1.0", "yank release"),
    ("New.Project_X", "1.0", "unyank release"),
    ("New.Project_X", "1.1", "remove release"),
    ("New.Project_X", None, "remove project")], rows)
ok(b["serial"] == rows[-1][0] == rpc().changelog_last_serial())
ok("New.Project_X" not in rpc().list_packages_with_serial())
s, h, body = req("GET", "/pypi/new-project-x/json")
ok(s == 404)
EOF
	assert_success
}

@test "admin: new files are real and served; last_serial and pages follow mutations" {
	private
	run py <<'EOF'
a = admin("add-file", name="zope.interface", version="1.0", kind="wheel", tag="cp311-cp311-musllinux_1_1_x86_64")
s, h, data = req("GET", urllib.parse.urlsplit(a["url"]).path)
ok(s == 200 and hashlib.sha256(data).hexdigest() == a["sha256"])
zipfile.ZipFile(io.BytesIO(data)).testzip()
d = get_json("/pypi/zope-interface/json")
ok(d["last_serial"] == a["serial"] and a["filename"] in [f["filename"] for f in d["releases"]["1.0"]])
s, h, b = req("GET", "/simple/zope-interface/")
ok(h["x-pypi-last-serial"] == str(a["serial"]) and a["filename"].encode() in b)
y = admin("yank", name="zope.interface", version="1.0")
d = get_json("/simple/zope-interface/", {"Accept": "application/vnd.pypi.simple.v1+json"})
ok(all(f["yanked"] is True for f in d["files"] if "-1.0" in f["filename"]))
s, h, b = req("GET", "/simple/zope-interface/")
ok(b'data-yanked="" ' in b)
EOF
	assert_success
}

@test "admin: errors exit non-zero with a JSON error (unknown op, unknown project, reused filename)" {
	private
	run emu_admin no-such-op
	assert_failure
	assert_output --partial '"ok":false'
	# the CLI itself
	run "$PY" "$EMU_BIN" admin "$EMU_URL" no-such-op
	assert_failure
	assert_output --partial '"ok":false'
	run "$PY" "$EMU_BIN" admin "$EMU_URL" status
	assert_success
	assert_output --partial '"ok":true'
	run emu_admin new-release name=does-not-exist version=1.0
	assert_failure
	run emu_admin new-release name=Demo_Pkg version=1.0
	assert_failure
	admin remove-file name=Demo_Pkg filename=demo_pkg-1.0.tar.gz
	run emu_admin add-file name=Demo_Pkg version=1.0 kind=sdist
	assert_failure
	assert_output --partial 'already been used'
	run emu_admin new-project name='bad name!'
	assert_failure
}

@test "admin: mutations persist into state.json; a restarted server keeps them" {
	private
	run emu_admin new-project name=Persisted_Pkg
	assert_success
	local serial
	serial=$(jq -r .serial <<<"$output")
	emu_stop
	PRIVATE_PID=
	EMU_STATE="$BATS_TEST_TMPDIR/emu" emu_start
	PRIVATE_PID="$EMU_PID"
	run curl -fsS "$EMU_URL/pypi/persisted-pkg/json"
	assert_success
	[[ "$(jq -r .last_serial <<<"$output")" == "$serial" ]]
	run curl -fsS "$EMU_URL/_emulator/stats"
	[[ "$(jq -r .serial <<<"$output")" == "$serial" ]]
}

@test "admin: stats count requests per method+path, log is NDJSON, reset-stats clears both" {
	shared_clean
	curl -fsS "$EMU_URL/simple/" >/dev/null
	curl -fsS "$EMU_URL/simple/" >/dev/null
	curl -fsS "$EMU_URL/pypi/demo-pkg/json?x=1" >/dev/null
	curl -sS "$EMU_URL/simple/nope/" >/dev/null
	run emu_stats
	[[ "$(jq -r '.requests["GET /simple/"]' <<<"$output")" == 2 ]]
	[[ "$(jq -r '.requests["GET /pypi/demo-pkg/json"]' <<<"$output")" == 1 ]]
	[[ "$(jq -r .total <<<"$output")" == 4 ]]
	[[ "$(jq -r .serial <<<"$output")" -gt 0 ]]
	run emu_log
	[[ "$(jq -sc '[.[] | [.method, .path, .status]]' <<<"$output")" == '[["GET","/simple/",200],["GET","/simple/",200],["GET","/pypi/demo-pkg/json?x=1",200],["GET","/simple/nope/",404]]' ]]
	[[ "$(jq -s '.[0].bytes > 0' <<<"$output")" == true ]]
	admin reset-stats
	run emu_stats
	[[ "$(jq -r .total <<<"$output")" == 0 ]]
	run emu_log
	assert_output ''
}

# ------------------------------------------------------------------ faults

@test "fault 500 with count: the first GETs fail, then normal answers" {
	shared_clean
	admin fault path=/simple/ kind=500 count=2
	run code_type "$EMU_URL/simple/demo-pkg/"
	assert_output --regexp '^500'
	run code_type "$EMU_URL/simple/demo-pkg/"
	assert_output --regexp '^500'
	run code_type "$EMU_URL/simple/demo-pkg/"
	assert_output --regexp '^200'
	run code_type "$EMU_URL/pypi/demo-pkg/json"
	assert_output --regexp '^200'
}

@test "fault 503 and 429 carry Retry-After when asked; rate=1 always fires; clear-faults removes them" {
	shared_clean
	admin fault path=/pypi/ kind=503 retry_after=7
	run curl -sS -D - -o /dev/null "$EMU_URL/pypi/demo-pkg/json"
	assert_output --partial '503'
	assert_output --partial 'Retry-After: 7'
	admin clear-faults
	admin fault path=/simple/ kind=429 rate=1 retry_after=3
	run curl -sS -D - -o /dev/null "$EMU_URL/simple/"
	assert_output --partial '429'
	assert_output --partial 'Retry-After: 3'
	run code_type "$EMU_URL/simple/"
	assert_output --regexp '^429'
	admin clear-faults
	run code_type "$EMU_URL/simple/"
	assert_output --regexp '^200'
}

@test "fault rate: a seeded fraction of requests fails" {
	shared_clean
	admin fault path=/simple/ kind=500 rate=0.5
	run py <<'EOF'
codes = [req("GET", "/simple/")[0] for _ in range(40)]
n = codes.count(500)
ok(5 < n < 35 and codes.count(200) == 40 - n, codes)
EOF
	assert_success
}

@test "fault reset: headers and part of the body, then the connection is reset" {
	shared_clean
	admin fault path=/pypi/ kind=reset count=1
	run py <<'EOF'
import socket
s = socket.create_connection((HOST.hostname, HOST.port))
s.sendall(b"GET /pypi/demo-pkg/json HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
err = None
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except ConnectionResetError as e:
    err = e
head, _, body = data.partition(b"\r\n\r\n")
length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
ok(head.startswith(b"HTTP/1.1 200") and 0 < len(body) < length, len(body), length)
ok(err is not None, "no reset")
EOF
	assert_success
	run code_type "$EMU_URL/pypi/demo-pkg/json"
	assert_output --regexp '^200'
}

@test "fault truncate: full Content-Length, fewer bytes, then close (curl exit 18)" {
	shared_clean
	local url
	url=$(curl -fsS "$EMU_URL/pypi/demo-pkg/json" | jq -r '.urls[0].url')
	admin fault path=/packages/ kind=truncate count=1
	run curl -sS -o "$BATS_TEST_TMPDIR/f" "$url"
	assert_equal "$status" 18
	run curl -fsS -o "$BATS_TEST_TMPDIR/f" "$url"
	assert_success
}

@test "fault corrupt: same length, different bytes" {
	shared_clean
	local url sha size
	url=$(curl -fsS "$EMU_URL/pypi/demo-pkg/json" | jq -r '.urls[0].url')
	sha=$(curl -fsS "$EMU_URL/pypi/demo-pkg/json" | jq -r '.urls[0].digests.sha256')
	size=$(curl -fsS "$EMU_URL/pypi/demo-pkg/json" | jq -r '.urls[0].size')
	admin fault path=/packages/ kind=corrupt count=1
	curl -fsS -o "$BATS_TEST_TMPDIR/f" "$url"
	assert_equal "$(stat -c %s "$BATS_TEST_TMPDIR/f")" "$size"
	[[ "$(sha256sum <"$BATS_TEST_TMPDIR/f" | cut -c1-64)" != "$sha" ]]
	curl -fsS -o "$BATS_TEST_TMPDIR/f" "$url"
	assert_equal "$(sha256sum <"$BATS_TEST_TMPDIR/f" | cut -c1-64)" "$sha"
}

@test "fault slow: the answer comes after the delay (a short client timeout fails)" {
	shared_clean
	admin fault path=/simple/ kind=slow delay=1.5 count=2
	run curl -sS -o /dev/null --max-time 0.5 "$EMU_URL/simple/"
	assert_equal "$status" 28
	local t0 t1
	t0=$(date +%s.%N)
	run code_type "$EMU_URL/simple/"
	t1=$(date +%s.%N)
	assert_output --regexp '^200'
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.4) }'
}

# ------------------------------------------------------------------ real client

@test "pip download --no-deps from the emulator's simple index succeeds and verifies hashes" {
	"$PY" -m pip --version >/dev/null 2>&1 || skip "pip not available"
	run "$PY" -m pip download --isolated --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$EMU_URL/simple/" -d "$BATS_TEST_TMPDIR/dl" Demo.Pkg
	assert_success
	local whl
	whl=$(ls "$BATS_TEST_TMPDIR/dl"/demo_pkg-1.0-*.whl)
	[[ -f "$whl" ]]
	run "$PY" -m pip download --isolated --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$EMU_URL/simple/" -d "$BATS_TEST_TMPDIR/dl2" 'zope.interface>=1.1'
	assert_success
	ls "$BATS_TEST_TMPDIR/dl2"/zope_interface-*.whl
}

# ------------------------------------------------ PEP 792 / 740, quarantine, JSON API off

@test "2280 project status: archived shows in both Simple forms, files still offered, no journal row" {
	private
	run py <<'EOF'
J = {"Accept": "application/vnd.pypi.simple.v1+json"}
before = rpc().changelog_last_serial()
d = get_json("/simple/demo-pkg/", J)
ok(d["project-status"] == {"status": "active"} and d["meta"]["api-version"] == "1.4", d["meta"])
r = admin("project-status", name="Demo_Pkg", status="archived")
ok(r["serial"] == before, "archiving wrote a journal row", r)
d = get_json("/simple/demo-pkg/", J)
ok(d["project-status"] == {"status": "archived"} and d["files"], d["project-status"])
s, h, b = req("GET", "/simple/demo-pkg/")
ok(b'<meta name="pypi:project-status" content="archived">' in b, b[:300])
ok(get_json("/pypi/demo-pkg/json")["releases"], "archived project left the JSON API")
s, h, b = req("POST", "/_emulator/admin", {"Content-Type": "application/json"},
              json.dumps({"op": "project-status", "name": "demo-pkg", "status": "bogus"}).encode())
ok(s == 400, s, b)
EOF
	assert_success
}

@test "2281 project status: quarantine hides files, the root entry and the JSON API; clearing brings them back; both journalled" {
	private
	run py <<'EOF'
J = {"Accept": "application/vnd.pypi.simple.v1+json"}
before = rpc().changelog_last_serial()
admin("project-status", name="demo-pkg", status="quarantined")
rows = rpc().changelog_since_serial(before)
ok([r[:2] + [r[3]] for r in rows] == [["Demo_Pkg", None, "project quarantined"]], rows)
d = get_json("/simple/demo-pkg/", J)
ok(d["project-status"] == {"status": "quarantined"} and d["files"] == [] and d["versions"] == [], d)
ok(d["meta"]["_last-serial"] == rows[-1][4])
s, h, b = req("GET", "/simple/demo-pkg/")
ok(s == 200 and b'content="quarantined"' in b and b"<a " not in b, b)
ok(req("GET", "/pypi/demo-pkg/json")[0] == 404)
root = get_json("/simple/", J)
ok("Demo_Pkg" not in [p["name"] for p in root["projects"]])
ok("Demo_Pkg" in rpc().list_packages_with_serial())
mid = rpc().changelog_last_serial()
admin("project-status", name="demo-pkg", status="active")
rows = rpc().changelog_since_serial(mid)
ok([r[3] for r in rows] == ["project quarantine cleared"] and rows[0][1] is None, rows)
ok(get_json("/simple/demo-pkg/", J)["files"])
ok(req("GET", "/pypi/demo-pkg/json")[0] == 200)
EOF
	assert_success
}

@test "2282 release quarantine: the release leaves Simple and JSON APIs and returns; serial moves both times" {
	private
	run py <<'EOF'
J = {"Accept": "application/vnd.pypi.simple.v1+json"}
d0 = get_json("/simple/demo-pkg/", J)
ok("1.0" in d0["versions"])
n10 = [f["filename"] for f in d0["files"] if "-1.0" in f["filename"]]
ok(n10, d0["files"])
s0 = d0["meta"]["_last-serial"]
g0 = rpc().changelog_last_serial()
admin("quarantine-release", name="demo-pkg", version="1.0")
rows = rpc().changelog_since_serial(g0)
ok([(r[1], r[3]) for r in rows] == [("1.0", "release quarantined")], rows)
d1 = get_json("/simple/demo-pkg/", J)
ok("1.0" not in d1["versions"] and not set(n10) & {f["filename"] for f in d1["files"]}, d1["versions"])
ok(d1["meta"]["_last-serial"] > s0)
s, h, b = req("GET", "/simple/demo-pkg/")
ok(not any(n.encode() in b for n in n10))
j = get_json("/pypi/demo-pkg/json")
ok("1.0" not in j["releases"] and j["info"]["version"] != "1.0", j["info"]["version"])
ok(req("GET", "/pypi/demo-pkg/1.0/json")[0] == 404)
admin("clear-release-quarantine", name="demo-pkg", version="1.0")
rows = rpc().changelog_since_serial(rows[-1][4])
ok([(r[1], r[3]) for r in rows] == [("1.0", "release quarantine cleared")], rows)
d2 = get_json("/simple/demo-pkg/", J)
ok(d2["files"] == [dict(f) for f in d0["files"]] and d2["meta"]["_last-serial"] > d1["meta"]["_last-serial"])
EOF
	assert_success
}

@test "2283 provenance: PEP 740 URL in JSON provenance and HTML data-provenance; the URL serves the object" {
	private
	run py <<'EOF'
J = {"Accept": "application/vnd.pypi.simple.v1+json"}
r = admin("provenance", name="demo-pkg", version="1.0")
ok(r["files"], r)
d = get_json("/simple/demo-pkg/", J)
with_p = [f for f in d["files"] if f["provenance"]]
ok(sorted(f["filename"] for f in with_p) == sorted(r["files"]), with_p)
ok(all(f["provenance"] is None for f in d["files"] if f["filename"] not in r["files"]))
f = with_p[0]
ok(f["provenance"] == URL + "/integrity/demo-pkg/1.0/%s/provenance" % f["filename"], f["provenance"])
s, h, b = req("GET", "/simple/demo-pkg/")
ok(('data-provenance="%s"' % f["provenance"]).encode() in b, b)
path = urllib.parse.urlsplit(f["provenance"]).path
s, h, b = req("GET", path, {"Accept": "application/vnd.pypi.integrity.v1+json"})
ok(s == 200 and h["content-type"] == "application/vnd.pypi.integrity.v1+json", s, h)
obj = json.loads(b)
ok(obj["version"] == 1 and obj["attestation_bundles"], obj)
ok(req("GET", path, {"Accept": "text/html"})[0] == 406)
other = [x for x in d["files"] if not x["provenance"]][0]
ok(req("GET", "/integrity/demo-pkg/x/%s/provenance" % other["filename"])[0] == 404)
EOF
	assert_success
}

@test "2284 json-api enabled=0: /pypi/<name>/json answers 404, the Simple API still works; enabled=1 restores it" {
	private
	run py <<'EOF'
ok(admin("json-api", enabled="0")["json_api"] is False)
ok(req("GET", "/pypi/demo-pkg/json")[0] == 404)
ok(req("GET", "/pypi/demo-pkg/1.0/json")[0] == 404)
ok(get_json("/simple/demo-pkg/", {"Accept": "application/vnd.pypi.simple.v1+json"})["files"])
ok(admin("status")["json_api"] is False)
admin("json-api", enabled="1")
ok(req("GET", "/pypi/demo-pkg/json")[0] == 200)
EOF
	assert_success
}
