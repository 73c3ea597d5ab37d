#!/usr/bin/env bats
# 05NN: index-write, the pages it writes, and pip reading them through the
# shipped nginx configuration (contrib/nginx/pypi-mirror.conf).

load lib/common
load lib/nginx

setup_file() {
	# One upstream for the whole file: starting one is slow on a busy machine.
	# Tests that change it touch only projects no later test depends on.
	emu_file_start --projects 5 --seed 1
	# Every project resolved and fetched once; tests start from a copy.
	export TEMPLATE="$BATS_FILE_TMPDIR/template"
	mkdir -p "$TEMPLATE/mirror"
	MIRROR="$TEMPLATE/mirror" BATS_TEST_TMPDIR="$TEMPLATE" fetch_records $(upstream_projects) >"$TEMPLATE/records"
	[ "$(jq -s 'map(select(.type == "project")) | length' "$TEMPLATE/records")" -ge 5 ]
}

setup() {
	tool_env
	MIRROR="$BATS_TEST_TMPDIR/mirror"
	WEB="$MIRROR/web"
	mkdir -p "$MIRROR"
}

teardown() {
	common_teardown
	nginx_stop
}

# Upstream's projects (normalized names), from its PEP 691 root.
upstream_projects() {
	simple_root |
		"$PY" -c 'import json,re,sys; [print(re.sub(r"[-_.]+","-",p["name"]).lower()) for p in json.load(sys.stdin)["projects"]]'
}

# Resolved project records for the named projects on stdout, their files
# fetched into $MIRROR: through pkg-resolve and artifact-get when they are
# built, else by a small stand-in (also used when INDEX_TEST_HANDMADE=1).
fetch_records() {
	local n
	for n in "$@"; do printf '{"name":"%s","serial":1}\n' "$n"; done | _resolve_fetch
}

_resolve_fetch() {
	if [[ -z "${INDEX_TEST_HANDMADE:-}" ]] && command -v pkg-resolve >/dev/null && command -v artifact-get >/dev/null; then
		pkg-resolve -u "$EMU_URL" --allow-non-https --save-json "$BATS_TEST_TMPDIR/spool" 2>>"$BATS_TEST_TMPDIR/resolve.log" |
			artifact-get -d "$MIRROR" -u "$EMU_URL" --allow-non-https 2>>"$BATS_TEST_TMPDIR/fetch.log"
		return
	fi
	# The script goes in -c: standard input carries the records.
	"$PY" -c "$(cat <<'PY'
import json, os, sys, urllib.error, urllib.parse, urllib.request
emu, mirror, spool = sys.argv[1:4]
os.makedirs(spool, exist_ok=True)
for line in sys.stdin:
    rec = json.loads(line)
    name = rec["name"]
    try:
        body = urllib.request.urlopen(f"{emu}/pypi/{name}/json").read()
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
        print(json.dumps({"type": "removal", "name": name, "serial": rec["serial"], "reason": "404 from upstream"}))
        continue
    doc = json.loads(body)
    jf = os.path.join(spool, f"{name}.{doc['last_serial']}.json")
    open(jf, "wb").write(body)
    files = []
    for version, entries in doc["releases"].items():
        for f in entries:
            path = urllib.parse.unquote(urllib.parse.urlsplit(f["url"]).path).lstrip("/")
            cm = f.get("core-metadata")
            cm = cm.get("sha256") if isinstance(cm, dict) else None
            dest = os.path.join(mirror, "web", path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            urllib.request.urlretrieve(f["url"], dest)
            if cm:
                urllib.request.urlretrieve(f["url"] + ".metadata", dest + ".metadata")
            files.append({"filename": f["filename"], "version": version, "url": f["url"], "path": path,
                          "sha256": f["digests"]["sha256"], "size": f["size"],
                          "upload_time": f.get("upload_time_iso_8601"), "requires_python": f.get("requires_python"),
                          "yanked": f.get("yanked", False), "yanked_reason": f.get("yanked_reason"),
                          "core_metadata": cm, "packagetype": f.get("packagetype")})
    rec.update(type="project", display_name=doc["info"]["name"], last_serial=doc["last_serial"],
               json_file=jf, files=files)
    print(json.dumps(rec))
PY
)" "$EMU_URL" "$MIRROR" "$BATS_TEST_TMPDIR/spool"
}

# Checks a project's three pages against upstream's JSON API document:
# both forms parse, list exactly upstream's files with the right hashes,
# requires-python, yanks and metadata hashes, and every link resolves to a
# file on disk with that sha256.
# Usage: check_project [--root-uri URI] NAME...
check_project() {
	local root_uri=""
	if [[ "$1" == --root-uri ]]; then root_uri="$2"; shift 2; fi
	"$PY" - "$WEB" "$EMU_URL" "$root_uri" "$@" <<'PY'
import hashlib, html.parser, json, os, sys, urllib.parse, urllib.request
web, emu, root_uri = sys.argv[1:4]

class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.links = []; s.meta = {}; s.cur = None
    def handle_starttag(s, tag, attrs):
        a = dict(attrs)
        if tag == "meta": s.meta[a.get("name")] = a.get("content")
        if tag == "a": s.cur = a; s.text = ""
    def handle_data(s, data):
        if s.cur is not None: s.text += data
    def handle_endtag(s, tag):
        if tag == "a" and s.cur is not None: s.links.append((s.cur, s.text)); s.cur = None

def check(name):
    doc = json.load(urllib.request.urlopen(f"{emu}/pypi/{name}/json"))
    up = {f["filename"]: (v, f) for v, fl in doc["releases"].items() for f in fl}
    d = os.path.join(web, "simple", name)
    raw = open(os.path.join(d, "index.html"), "rb").read()
    assert raw == open(os.path.join(d, "index.v1_html"), "rb").read(), "index.v1_html differs from index.html"
    p = P(); p.feed(raw.decode()); p.close()
    assert p.meta.get("pypi:repository-version") == "1.4", p.meta
    assert raw.decode().rstrip().endswith(f"<!--SERIAL {doc['last_serial']}-->"), "no SERIAL trailer"
    seen = set()
    def local(url):
        u = urllib.parse.urlsplit(url)
        if root_uri:
            assert url.startswith(root_uri.rstrip("/") + "/packages/"), url
            rel = urllib.parse.unquote(url[len(root_uri.rstrip("/")) + 1:].split("#")[0])
            return os.path.join(web, rel)
        assert not u.scheme and not u.netloc and u.path.startswith("../../packages/"), url
        return os.path.normpath(os.path.join(d, urllib.parse.unquote(u.path)))
    for a, text in p.links:
        v, f = up[text]
        seen.add(text)
        href = a["href"]
        assert href.endswith("#sha256=" + f["digests"]["sha256"]), href
        path = local(href)
        assert os.path.basename(path) == text
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == f["digests"]["sha256"], path
        assert a.get("data-requires-python") == (f.get("requires_python") or None), (a, f.get("requires_python"))
        if f.get("yanked"):
            assert a.get("data-yanked") == (f.get("yanked_reason") or ""), (a, f.get("yanked_reason"))
        else:
            assert "data-yanked" not in a, a
        cm = f.get("core-metadata")
        if isinstance(cm, dict):
            assert a.get("data-core-metadata") == "sha256=" + cm["sha256"], a
            assert a.get("data-dist-info-metadata") == "sha256=" + cm["sha256"], a
            assert hashlib.sha256(open(path + ".metadata", "rb").read()).hexdigest() == cm["sha256"]
        else:
            assert "data-core-metadata" not in a, a
    assert seen == set(up), (sorted(seen ^ set(up)))
    assert [t for _, t in p.links] == sorted(t for _, t in p.links), "links not sorted by filename"

    j = json.load(open(os.path.join(d, "index.v1_json")))
    assert j["name"] == name and j["meta"]["api-version"] == "1.4", j["meta"]
    assert j["meta"]["_last-serial"] == doc["last_serial"] and isinstance(j["meta"]["_last-serial"], int)
    assert {f["filename"] for f in j["files"]} == set(up)
    for f in j["files"]:
        v, u = up[f["filename"]]
        assert f["hashes"] == {"sha256": u["digests"]["sha256"]}
        assert f["size"] == u["size"] and f["requires-python"] == u.get("requires_python")
        assert f["yanked"] == ((u.get("yanked_reason") or True) if u.get("yanked") else False), (f["yanked"], u)
        assert os.path.exists(local(f["url"]))
    assert set(j["versions"]) == {v for v, fl in doc["releases"].items() if fl}
    print(f"{name}: {len(seen)} files ok")

for name in sys.argv[4:]:
    check(name)
PY
}

# Like fetch_records, from the copy setup_file made: the files are copied
# into $MIRROR and the records' spooled JSON documents into the test's own
# spool (index-write --json moves them away).
records_for() {
	mkdir -p "$WEB" "$BATS_TEST_TMPDIR/spool"
	cp -a "$TEMPLATE/mirror/web/packages" "$WEB/"
	cp -a "$TEMPLATE/spool/." "$BATS_TEST_TMPDIR/spool/"
	local n sel=""
	for n in "$@"; do sel="$sel${sel:+,}\"$n\""; done
	jq -c --arg spool "$BATS_TEST_TMPDIR/spool" "select(.name|IN($sel)) |
		if .json_file then .json_file = (\$spool + \"/\" + (.json_file|split(\"/\")|last)) else . end" \
		"$TEMPLATE/records"
}

# "path mtime inode" of every file under the mirror's web/, for idle checks.
snapshot() {
	find "$WEB" -type f -printf '%P %T@ %i\n' | sort
}

# Makes a fake distribution file of n bytes at web/<path>; prints its sha256.
make_file() {
	local path="$1" n="${2:-100}"
	mkdir -p "$WEB/$(dirname "$path")"
	head -c "$n" /dev/urandom >"$WEB/$path"
	sha256sum "$WEB/$path" | cut -d' ' -f1
}

hex60() { printf '%060x' "$1"; }

@test "0501 index-write: every page parses and lists exactly upstream's files" {
	mapfile -t names < <(upstream_projects)
	[ "${#names[@]}" -ge 5 ]
	records_for "${names[@]}" >"$BATS_TEST_TMPDIR/records"
	[ "$(jq -s 'map(select(.type=="project")) | length' "$BATS_TEST_TMPDIR/records")" -eq "${#names[@]}" ]
	run --separate-stderr index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/records"
	assert_success
	synced="$output"
	[[ "$stderr" == *"INFO: Synced demo-pkg (serial "* ]]
	[ "$(jq -s 'map(select(.type=="synced" and .removed==false)) | length' <<<"$synced")" -eq "${#names[@]}" ]
	run check_project "${names[@]}"
	assert_success
	for n in "${names[@]}"; do
		# The synced record counts the files on the page.
		want=$(jq -r --arg n "$n" 'select(.name==$n) | .files | length' "$BATS_TEST_TMPDIR/records")
		got=$(jq -r --arg n "$n" 'select(.type=="synced" and .name==$n) | .files_listed' <<<"$synced")
		assert_equal "$got" "$want"
	done
}

@test "0502 index-write: the root index lists every project, HTML and JSON, with serials" {
	mapfile -t names < <(upstream_projects)
	records_for "${names[@]}" | index-write -d "$MIRROR" --serial 999999
	run "$PY" - "$WEB/simple" "$EMU_URL" <<'PY'
import html.parser, json, re, sys, urllib.request
d, emu = sys.argv[1:3]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
raw = open(d + "/index.html", "rb").read()
assert raw == open(d + "/index.v1_html", "rb").read()
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.links = []; s.meta = {}; s.href = None
    def handle_starttag(s, tag, attrs):
        a = dict(attrs)
        if tag == "meta": s.meta[a.get("name")] = a.get("content")
        if tag == "a": s.href = a["href"]
    def handle_data(s, data):
        if s.href: s.links.append((s.href, data)); s.href = None
p = P(); p.feed(raw.decode())
assert p.meta["pypi:repository-version"] == "1.4"
up = json.load(urllib.request.urlopen(urllib.request.Request(emu + "/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})))
want = sorted(((norm(x["name"]), x["name"]) for x in up["projects"]))
assert [(h, t) for h, t in p.links] == [(n + "/", disp) for n, disp in want], (p.links, want)
j = json.load(open(d + "/index.v1_json"))
assert j["meta"] == {"_last-serial": 999999, "api-version": "1.4"}, j["meta"]
assert [x["name"] for x in j["projects"]] == [disp for _, disp in want]
for x in j["projects"]:
    doc = json.load(urllib.request.urlopen(f"{emu}/pypi/{norm(x['name'])}/json"))
    assert x["_last-serial"] == doc["last_serial"], (x, doc["last_serial"])
print("root ok")
PY
	assert_success
}

@test "0503 index-write: hostile strings are escaped in HTML and valid in JSON" {
	h=$(hex60 1)
	path="packages/ab/cd/$h/evil_pkg-1.0.tar.gz"
	sha=$(make_file "$path" 321)
	rp='<script>alert("rp")</script>'
	reason=$'"quoted" <b>bold</b> & \'single\' </a><a href="x">'
	jq -nc --arg p "$path" --arg s "$sha" --arg rp "$rp" --arg r "$reason" '{type:"project",name:"Evil.Pkg",
		display_name:"Evil.Pkg",serial:5,last_serial:5,files:[{filename:"evil_pkg-1.0.tar.gz",version:"1.0",
		url:("https://files.example/" + $p),path:$p,sha256:$s,size:321,upload_time:"2024-01-01T00:00:00Z",
		requires_python:$rp,yanked:true,yanked_reason:$r,core_metadata:null,packagetype:"sdist"}]}' >"$BATS_TEST_TMPDIR/rec"
	run index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/rec"
	assert_success
	page="$WEB/simple/evil-pkg/index.html"
	run cat "$page"
	refute_output --partial '<script>'
	refute_output --partial '<b>'
	refute_output --partial 'href="x"'
	assert_output --partial 'data-requires-python="&lt;script&gt;alert(&#34;rp&#34;)&lt;/script&gt;"'
	assert_output --partial '<title>Links for Evil.Pkg</title>'
	# A parser gets the original strings back, and exactly one link.
	run "$PY" - "$page" "$rp" "$reason" <<'PY'
import html.parser, sys
page, rp, reason = sys.argv[1:4]
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.links = []
    def handle_starttag(s, tag, attrs):
        if tag == "a": s.links.append(dict(attrs))
p = P(); p.feed(open(page).read())
assert len(p.links) == 1, p.links
assert p.links[0]["data-requires-python"] == rp
assert p.links[0]["data-yanked"] == reason
print("ok")
PY
	assert_success
	run "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["files"][0]; assert f["requires-python"]==sys.argv[2] and f["yanked"]==sys.argv[3], f; print("ok")' \
		"$WEB/simple/evil-pkg/index.v1_json" "$rp" "$reason"
	assert_success
	run "$PY" -m json.tool "$WEB/simple/index.v1_json"
	assert_success
	grep -qF '<a href="evil-pkg/">Evil.Pkg</a>' "$WEB/simple/index.html"
}

# demo-pkg's records (stdin) with one more file, version V (a copy of the
# first one under hash directory hex60 N), that the mirror does not have.
with_missing_file() {
	jq -c --arg v "$1" --arg h "$(hex60 "$2")" '.files += [.files[0] | .filename=("demo_pkg-" + $v + ".tar.gz") |
		.version=$v | .path=("packages/12/34/" + $h + "/" + .filename) | .url=("https://x.example/" + .path)]'
}

@test "0504 index-write: a file missing on disk gives an error record and no page" {
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/records" >/dev/null
	before=$(snapshot)
	# Upstream gained a file the mirror does not have.
	with_missing_file 9.0 2 <"$BATS_TEST_TMPDIR/records" >"$BATS_TEST_TMPDIR/rec2"
	run --separate-stderr index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/rec2"
	assert_failure 1
	assert_equal "$(jq -r '[.type,.name,.tool,.file,.reason] | join("|")' <<<"$output")" \
		"error|demo-pkg|index-write|demo_pkg-9.0.tar.gz|file missing on disk"
	[[ "$stderr" == *"demo_pkg-9.0.tar.gz"* ]]
	# The old pages stay as they were, untouched.
	assert_equal "$(snapshot)" "$before"
	# A project never seen before gets no page at all.
	jq -c '.name="fresh-pkg" | .display_name="fresh-pkg" | .files |= map(.path |= sub("^packages/..";"packages/ee"))' \
		"$BATS_TEST_TMPDIR/records" >"$BATS_TEST_TMPDIR/rec3"
	run index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/rec3"
	assert_failure 1
	assert_output --partial '"reason":"file missing on disk"'
	[ ! -e "$WEB/simple/fresh-pkg" ]
	run ! grep -q fresh-pkg "$WEB/simple/index.v1_json"
}

@test "0516 index-write: a record artifact-get passed on for this web/ (stored_at) is not checked file by file; any other record is" {
	[[ -z "${INDEX_TEST_HANDMADE:-}" ]] || skip "the records are handmade"
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	# artifact-get names the directory its files landed in: the template's web/.
	assert_equal "$(jq -r 'select(.type == "project") | .stored_at' "$BATS_TEST_TMPDIR/records")" \
		"$(stat -c '%d:%i' "$TEMPLATE/mirror/web")"
	mkdir -p "$WEB/simple"
	# Upstream gained a file this mirror does not have (as in 0504).
	with_missing_file 9.1 3 <"$BATS_TEST_TMPDIR/records" >"$BATS_TEST_TMPDIR/rec2"
	# stored_at names another directory (the template's): every file is checked.
	run --separate-stderr index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/rec2"
	assert_failure 1
	assert_equal "$(jq -r '[.type,.file,.reason] | join("|")' <<<"$output")" "error|demo_pkg-9.1.tar.gz|file missing on disk"
	[ ! -e "$WEB/simple/demo-pkg" ]
	# A value that is no directory's, or none: checked too.
	for v in '"0:0"' '""' '17'; do
		jq -c ".stored_at = $v" "$BATS_TEST_TMPDIR/rec2" >"$BATS_TEST_TMPDIR/rec3"
		run index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/rec3"
		assert_failure 1
		assert_output --partial '"reason":"file missing on disk"'
	done
	# This mirror's own web/: artifact-get vouched for every file, so none
	# is looked at again (the page goes out, listing what the record lists).
	jq -c --arg id "$(stat -c '%d:%i' "$WEB")" '.stored_at = $id' "$BATS_TEST_TMPDIR/rec2" >"$BATS_TEST_TMPDIR/rec4"
	run --separate-stderr index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/rec4"
	assert_success
	grep -q 'demo_pkg-9.1.tar.gz' "$WEB/simple/demo-pkg/index.v1_json"
}

@test "0517 index-write: a synced record goes out while its input stays open; the two HTML pages of a new project are one file" {
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	first_record_while_open "$BATS_TEST_TMPDIR/records" index-write -d "$MIRROR" --no-root
	assert_equal "$(jq -r '[.type, .name] | join(" ")' <<<"$line")" "synced demo-pkg"
	d="$WEB/simple/demo-pkg"
	# One inode under both names (one write), each complete, no temporary left.
	assert_equal "$(stat -c %i "$d/index.html")" "$(stat -c %i "$d/index.v1_html")"
	grep -q '</html>' "$d/index.v1_html"
	[[ -z "$(find "$d" -name '.*')" ]]
	# A later run replaces each name on its own: damage to one page is
	# repaired without the other being the same file any more.
	echo broken >"$BATS_TEST_TMPDIR/broken" && mv "$BATS_TEST_TMPDIR/broken" "$d/index.html"
	run index-write -d "$MIRROR" --no-root <"$BATS_TEST_TMPDIR/records"
	assert_success
	cmp "$d/index.html" "$d/index.v1_html"
	grep -q '</html>' "$d/index.html"
}

@test "0505 index-write: a removal record deletes pages, JSON copies and files" {
	records_for demo-pkg mixedcase >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" --json <"$BATS_TEST_TMPDIR/records" >/dev/null
	[ -f "$WEB/json/mixedcase" ]
	[ -f "$WEB/pypi/mixedcase/json" ]
	mapfile -t paths < <(jq -r 'select(.name=="mixedcase") | .files[].path' "$BATS_TEST_TMPDIR/records")
	for p in "${paths[@]}"; do [ -f "$WEB/$p" ]; done
	run --separate-stderr index-write -d "$MIRROR" <<<'{"type":"removal","name":"MixedCase","serial":500,"reason":"404 from upstream"}'
	assert_success
	assert_equal "$(jq -c '[.type,.name,.deleted,.removed]' <<<"$output")" "[\"synced\",\"mixedcase\",${#paths[@]},true]"
	[ ! -e "$WEB/simple/mixedcase" ]
	[ ! -e "$WEB/json/mixedcase" ]
	[ ! -e "$WEB/pypi/mixedcase" ]
	for p in "${paths[@]}"; do
		[ ! -e "$WEB/$p" ]
		[ ! -e "$WEB/$p.metadata" ]
		[ ! -e "$WEB/$(dirname "$p")" ] # empty hash directories are pruned
	done
	[[ "$stderr" == *"Deleting file: ${paths[0]} (project mixedcase)"* ]]
	# The other project is untouched, and the root forgets the removed one.
	run check_project demo-pkg
	assert_success
	run ! grep -q -i mixedcase "$WEB/simple/index.html"
	run ! grep -q -i mixedcase "$WEB/simple/index.v1_json"
	grep -q '"name":"Demo_Pkg"' "$WEB/simple/index.v1_json"
}

@test "0506 index-write: a file upstream dropped is deleted after the new page is written" {
	records_for zope-interface >"$BATS_TEST_TMPDIR/r1"
	index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/r1" >/dev/null
	# Drop a file that has a .metadata companion when there is one.
	gone=$(jq -r '.files | (map(select(.core_metadata != null)) + .)[0].filename' "$BATS_TEST_TMPDIR/r1")
	gonepath=$(jq -r --arg f "$gone" '.files[] | select(.filename==$f) | .path' "$BATS_TEST_TMPDIR/r1")
	emu_admin remove-file name=zope-interface filename="$gone" >/dev/null
	fetch_records zope-interface >"$BATS_TEST_TMPDIR/r2"
	run ! jq -e --arg f "$gone" '.files[] | select(.filename==$f)' "$BATS_TEST_TMPDIR/r2"
	run --separate-stderr index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/r2"
	assert_success
	assert_equal "$(jq -c '[.type,.deleted]' <<<"$output")" '["synced",1]'
	[ ! -e "$WEB/$gonepath" ]
	[ ! -e "$WEB/$gonepath.metadata" ]
	[[ "$stderr" == *"Deleting file: $gonepath (project zope-interface)"* ]]
	run ! grep -qF "$gone" "$WEB/simple/zope-interface/index.html"
	run check_project zope-interface
	assert_success
}

@test "0507 index-write: the deletion cap stops a mass deletion and keeps the files" {
	records_for foo-bar-baz >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/records" >/dev/null
	n=$(jq '.files | length' "$BATS_TEST_TMPDIR/records")
	[ "$n" -gt 2 ]
	before=$(snapshot)
	# Upstream suddenly lists a single file.
	jq -c '.files |= .[:1]' "$BATS_TEST_TMPDIR/records" >"$BATS_TEST_TMPDIR/shrunk"
	run index-write -d "$MIRROR" --max-deletions 2 <"$BATS_TEST_TMPDIR/shrunk"
	assert_failure 1
	assert_output --partial '"type":"error"'
	assert_output --partial 'deletion cap of 2 files reached'
	refute_output --partial '"type":"synced"'
	assert_equal "$(snapshot)" "$before"
	# A removal is capped the same way.
	run index-write -d "$MIRROR" --max-deletions 2 <<<'{"type":"removal","name":"foo-bar-baz","serial":9}'
	assert_failure 1
	assert_output --partial 'deletion cap of 2 files reached'
	assert_equal "$(snapshot)" "$before"
	# Within the cap it goes through.
	run index-write -d "$MIRROR" --max-deletions "$((n - 1))" <"$BATS_TEST_TMPDIR/shrunk"
	assert_success
	assert_output --partial "\"deleted\":$((n - 1))"
}

@test "0508 index-write: the root is merged incrementally, and rebuilt from directories when missing" {
	records_for demo-pkg simple-lib-name >"$BATS_TEST_TMPDIR/records"
	jq -c 'select(.name=="demo-pkg")' "$BATS_TEST_TMPDIR/records" | index-write -d "$MIRROR" >/dev/null
	grep -q '"name":"Demo_Pkg"' "$WEB/simple/index.v1_json"
	# A page directory the root list does not know of: a run that merges
	# must not notice it (no directory scan), a rebuild must.
	mkdir -p "$WEB/simple/ghost-pkg"
	printf '<!DOCTYPE html>\n<html><head><title>Links for Ghost.Pkg</title></head><body>\n</body></html>\n<!--SERIAL 77-->' \
		>"$WEB/simple/ghost-pkg/index.html"
	jq -c 'select(.name=="simple-lib-name")' "$BATS_TEST_TMPDIR/records" | index-write -d "$MIRROR" >/dev/null
	run jq -c '[.projects[].name]' "$WEB/simple/index.v1_json"
	assert_output '["Demo_Pkg","simple.Lib_Name"]'
	# Gone: rebuilt by listing web/simple/*/, serials from the pages.
	rm "$WEB/simple/index.v1_json" "$WEB/simple/index.html"
	run index-write -d "$MIRROR" </dev/null
	assert_success
	run jq -c '[.projects[] | [.name, ."_last-serial"]]' "$WEB/simple/index.v1_json"
	sl=$(jq -r 'select(.name=="simple-lib-name") | .last_serial' "$BATS_TEST_TMPDIR/records")
	dp=$(jq -r 'select(.name=="demo-pkg") | .last_serial' "$BATS_TEST_TMPDIR/records")
	assert_output "[[\"Demo_Pkg\",$dp],[\"Ghost.Pkg\",77],[\"simple.Lib_Name\",$sl]]"
	grep -qF '<a href="ghost-pkg/">Ghost.Pkg</a>' "$WEB/simple/index.html"
	# A bandersnatch root (no per-project serials) is not trusted as a list.
	rm -r "$WEB/simple/ghost-pkg"
	echo '{"meta":{"_last-serial":5,"api-version":"1.1"},"projects":[{"name":"ghost-pkg"}]}' >"$WEB/simple/index.v1_json"
	run --separate-stderr index-write -d "$MIRROR" </dev/null
	assert_success
	run jq -c '[.projects[].name]' "$WEB/simple/index.v1_json"
	assert_output '["Demo_Pkg","simple.Lib_Name"]'
	# --rebuild-root forces the scan.
	mkdir -p "$WEB/simple/ghost-pkg" && echo '<!--SERIAL 3-->' >"$WEB/simple/ghost-pkg/index.html"
	index-write -d "$MIRROR" --rebuild-root </dev/null
	run jq -c '[.projects[].name]' "$WEB/simple/index.v1_json"
	assert_output '["Demo_Pkg","ghost-pkg","simple.Lib_Name"]'
	# --no-root leaves it alone.
	rm -r "$WEB/simple/ghost-pkg"
	index-write -d "$MIRROR" --no-root --rebuild-root </dev/null
	grep -q ghost-pkg "$WEB/simple/index.v1_json"
}

@test "0509 index-write: an idle run rewrites nothing, and loads no library only a bucket needs" {
	mapfile -t names < <(upstream_projects)
	records_for "${names[@]}" >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" --json --serial 1000 <"$BATS_TEST_TMPDIR/records" >/dev/null
	before=$(snapshot)
	[ -n "$before" ]
	run index-write -d "$MIRROR" --serial 1000 </dev/null
	assert_success
	assert_output ''
	assert_equal "$(snapshot)" "$before"
	# The same records again: every page rendered, none rewritten.
	run index-write -d "$MIRROR" --serial 1000 <"$BATS_TEST_TMPDIR/records"
	assert_success
	assert_equal "$(snapshot)" "$before"
	# A new target serial changes the root JSON only.
	index-write -d "$MIRROR" --serial 1001 </dev/null
	assert_equal "$(snapshot | grep -v '^simple/index.v1_json ')" "$(grep -v '^simple/index.v1_json ' <<<"$before")"
	grep -q '"_last-serial":1001,' "$WEB/simple/index.v1_json"
	# Run once or twice by every run that syncs: the libraries a bucket
	# needs (HTTP, hashes, XML) are loaded at their first use only.
	assert_loads_lazily "$(command -v index-write)" libcurl libcrypto libexpat
}

@test "0510 index-write: --root-uri writes absolute links" {
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" --root-uri https://mirror.example/pypi/ <"$BATS_TEST_TMPDIR/records" >/dev/null
	run check_project --root-uri https://mirror.example/pypi demo-pkg
	assert_success
	run ! grep -q '\.\./\.\./packages' "$WEB/simple/demo-pkg/index.html"
	grep -q '"url":"https://mirror.example/pypi/packages/' "$WEB/simple/demo-pkg/index.v1_json"
	# Switching back rewrites the pages, and deletes nothing.
	run index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/records"
	assert_success
	assert_output --partial '"deleted":0'
	run check_project demo-pkg
	assert_success
}

@test "0511 index-write: a hostile record cannot make it delete another project's file" {
	records_for demo-pkg simple-lib-name >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/records" >/dev/null
	victim=$(jq -c 'select(.name=="demo-pkg") | .files[0]' "$BATS_TEST_TMPDIR/records")
	vpath=$(jq -r .path <<<"$victim")
	# simple-lib-name's record claims one of demo-pkg's files; it is on disk,
	# so the page is written...
	jq -c --argjson v "$victim" 'select(.name=="simple-lib-name") | .files += [$v]' "$BATS_TEST_TMPDIR/records" \
		>"$BATS_TEST_TMPDIR/hostile"
	index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/hostile" >/dev/null
	grep -qF "$(basename "$vpath")" "$WEB/simple/simple-lib-name/index.html"
	# ...but dropping it again, or removing the project, deletes nothing of demo-pkg's.
	run --separate-stderr index-write -d "$MIRROR" < <(jq -c 'select(.name=="simple-lib-name")' "$BATS_TEST_TMPDIR/records")
	assert_success
	assert_output --partial '"deleted":0'
	[[ "$stderr" == *"WARNING: Not deleting $vpath: the file does not belong to project simple-lib-name"* ]]
	[ -f "$WEB/$vpath" ]
	index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/hostile" >/dev/null
	run --separate-stderr index-write -d "$MIRROR" <<<'{"type":"removal","name":"simple-lib-name","serial":9}'
	assert_success
	[ -f "$WEB/$vpath" ]
	run check_project demo-pkg
	assert_success
	# Paths that leave packages/ are refused before anything happens.
	run index-write -d "$MIRROR" < <(jq -c 'select(.name=="demo-pkg") | .files[0].path = "packages/../../../etc/passwd"' "$BATS_TEST_TMPDIR/records")
	assert_failure 1
	assert_output --partial '"type":"error"'
	[ -f "$WEB/$vpath" ]
}

@test "0512 index-write: records it does not act on pass through, target last, bad lines counted" {
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	{
		echo '{"type":"target","serial":77,"since":1,"projects":1}'
		echo '{"type":"error","name":"x","serial":1,"tool":"artifact-get","reason":"boom"}'
		echo 'not json'
		cat "$BATS_TEST_TMPDIR/records"
		echo '{"type":"stale","name":"y","serial":3,"last_serial":2}'
		echo '{"type":"weird","name":"z"}'
	} >"$BATS_TEST_TMPDIR/in"
	run --separate-stderr index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/in"
	assert_failure 1
	# (The record of unknown type names project z: an error record says so.)
	assert_equal "$(jq -r 'select(.type == "error" and .name == "z") | .tool' <<<"$output")" index-write
	run jq -r .type <<<"$output"
	assert_output $'error\nsynced\nstale\nerror\ntarget'
	[[ "$stderr" == *"line 3"* ]]
	[[ "$stderr" == *"unknown record type"* ]]
	# An unresolved project record is an error, not a page.
	run index-write -d "$MIRROR" <<<'{"type":"project","name":"bare","serial":3}'
	assert_failure 1
	assert_output --partial '"name":"bare"'
	[ ! -e "$WEB/simple/bare" ]
	run index-write --bogus
	assert_failure 2
	run index-write </dev/null
	assert_failure 2
	run index-write -d "$BATS_TEST_TMPDIR/nonexistent" </dev/null
	assert_failure 3
}

@test "0513 index-write: --simple-format picks the page variants and removes stale ones" {
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" <"$BATS_TEST_TMPDIR/records" >/dev/null
	index-write -d "$MIRROR" --simple-format html <"$BATS_TEST_TMPDIR/records" >/dev/null
	[ -f "$WEB/simple/demo-pkg/index.html" ]
	[ -f "$WEB/simple/demo-pkg/index.v1_html" ]
	[ ! -e "$WEB/simple/demo-pkg/index.v1_json" ]
	# With only HTML pages, deletions still work (the list comes from index.html).
	jq -c '.files |= .[1:]' "$BATS_TEST_TMPDIR/records" >"$BATS_TEST_TMPDIR/shrunk"
	run index-write -d "$MIRROR" --simple-format html <"$BATS_TEST_TMPDIR/shrunk"
	assert_success
	assert_output --partial '"deleted":1'
	index-write -d "$MIRROR" --simple-format JSON <"$BATS_TEST_TMPDIR/shrunk" >/dev/null
	[ -f "$WEB/simple/demo-pkg/index.v1_json" ]
	[ ! -e "$WEB/simple/demo-pkg/index.html" ]
	[ ! -e "$WEB/simple/demo-pkg/index.v1_html" ]
	[ -f "$WEB/simple/index.v1_json" ]
	[ ! -e "$WEB/simple/index.html" ]
	run index-write -d "$MIRROR" --simple-format xml </dev/null
	assert_failure 2
}

# pip downloads demo-pkg==1.0 from the mirror through nginx: WHL is the
# wheel it got (named as it must be), WHL_SHA its sha256.
pip_download_demo() {
	run "$PY" -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/out" demo-pkg==1.0
	assert_success
	WHL=$(ls "$BATS_TEST_TMPDIR/out")
	[[ "$WHL" == demo_pkg-1.0-*.whl ]] || fail "pip downloaded $WHL"
	WHL_SHA=$(sha256sum "$BATS_TEST_TMPDIR/out/$WHL" | cut -d' ' -f1)
}

@test "0514 nginx: pip downloads through the JSON API, and the sha256 matches" {
	"$PY" -m pip --version >/dev/null 2>&1 || skip "no pip"
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	index-write -d "$MIRROR" --json <"$BATS_TEST_TMPDIR/records" >/dev/null
	nginx_start "$WEB"
	# What pip asks for, and the exact types.
	run curl -fsS -D - -o "$BATS_TEST_TMPDIR/page" -H 'Accept: application/vnd.pypi.simple.v1+json' "$NGINX_URL/simple/demo-pkg/"
	assert_success
	assert_output --regexp $'[Cc]ontent-[Tt]ype: application/vnd\\.pypi\\.simple\\.v1\\+json\r'
	assert_output --partial 'Vary: Accept'
	cmp "$BATS_TEST_TMPDIR/page" "$WEB/simple/demo-pkg/index.v1_json"
	run curl -fsS -D - -o "$BATS_TEST_TMPDIR/page" -H 'Accept: application/vnd.pypi.simple.v1+html' "$NGINX_URL/simple/demo-pkg/"
	assert_output --regexp $'[Cc]ontent-[Tt]ype: application/vnd\\.pypi\\.simple\\.v1\\+html\r'
	run curl -fsS -D - -o "$BATS_TEST_TMPDIR/page" "$NGINX_URL/simple/demo-pkg/"
	assert_output --regexp $'[Cc]ontent-[Tt]ype: text/html\r'
	cmp "$BATS_TEST_TMPDIR/page" "$WEB/simple/demo-pkg/index.html"
	run curl -fsS -D - -o /dev/null -H 'Accept: application/vnd.pypi.simple.v1+json' "$NGINX_URL/simple/"
	assert_output --regexp $'[Cc]ontent-[Tt]ype: application/vnd\\.pypi\\.simple\\.v1\\+json\r'
	run curl -fsS -D - -o "$BATS_TEST_TMPDIR/api" "$NGINX_URL/pypi/demo-pkg/json"
	assert_output --regexp $'[Cc]ontent-[Tt]ype: application/json\r'
	cmp "$BATS_TEST_TMPDIR/api" "$WEB/pypi/demo-pkg/json"
	run curl -s -o /dev/null -w '%{http_code}' "$NGINX_URL/simple/no-such-project/"
	assert_output 404

	pip_download_demo
	# pip asked for JSON and got it.
	grep -E '^GET /simple/demo-pkg/ 200 "application/vnd.pypi.simple.v1\+json" "application/vnd.pypi.simple.v1\+json' "$NGINX_DIR/access.log"
	want=$(jq -r --arg f "$WHL" '.files[] | select(.filename==$f) | .hashes.sha256' "$WEB/simple/demo-pkg/index.v1_json")
	assert_equal "$WHL_SHA" "$want"
	assert_equal "$WHL_SHA" "$(jq -r --arg f "$WHL" '.files[] | select(.filename==$f) | .sha256' "$BATS_TEST_TMPDIR/records")"
}

@test "0515 nginx: pip downloads through the HTML API, and the sha256 matches" {
	"$PY" -m pip --version >/dev/null 2>&1 || skip "no pip"
	records_for demo-pkg >"$BATS_TEST_TMPDIR/records"
	# HTML pages only: nginx falls back to index.html whatever pip accepts.
	index-write -d "$MIRROR" --simple-format html <"$BATS_TEST_TMPDIR/records" >/dev/null
	nginx_start "$WEB"
	run curl -fsS -D - -o /dev/null -H 'Accept: application/vnd.pypi.simple.v1+json, text/html;q=0.01' "$NGINX_URL/simple/demo-pkg/"
	assert_output --regexp $'[Cc]ontent-[Tt]ype: text/html\r'
	pip_download_demo
	grep -E '^GET /simple/demo-pkg/ 200 "text/html"' "$NGINX_DIR/access.log"
	want=$(jq -r --arg f "$WHL" '.files[] | select(.filename==$f) | .sha256' "$BATS_TEST_TMPDIR/records")
	assert_equal "$WHL_SHA" "$want"
}
