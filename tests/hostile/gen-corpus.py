"""Writes the hostile corpus of tests/hostile (json/, records/, xmlrpc/, simple/).
Run it again after changing a case: python3 tests/hostile/gen-corpus.py"""
import json, os, hashlib
OUT = os.path.dirname(os.path.abspath(__file__))
HELLO_SHA = hashlib.sha256(b"hello\n").hexdigest()
H = "0123456789abcdef" * 3 + "0123456789ab"  # 60 hex
assert len(H) == 60

def fname(project, ver="1.0", ext=".tar.gz"):
    return project.replace("-", "_") + "-" + ver + ext

def entry(project, filename=None, url=None, **kw):
    filename = filename if filename is not None else fname(project)
    url = url if url is not None else "@UPSTREAM@/packages/aa/bb/%s/%s" % (H, filename)
    e = {"filename": filename, "url": url,
         "digests": {"sha256": HELLO_SHA, "md5": hashlib.md5(b"hello\n").hexdigest(), "blake2b_256": "aabb" + H},
         "size": 6, "packagetype": "sdist", "python_version": "source",
         "upload_time": "2024-01-02T03:04:05", "upload_time_iso_8601": "2024-01-02T03:04:05.000000Z",
         "requires_python": None, "yanked": False, "yanked_reason": None, "core-metadata": False}
    e.update(kw)
    return e

def doc(project, files, version="1.0", **info):
    d = {"info": {"name": project, "version": version, "summary": "hostile corpus"}, "last_serial": 5,
         "releases": {version: files}, "urls": files}
    d["info"].update(info)
    return d

def write(path, data):
    path = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, indent=1).encode()
    elif isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)

R = {}  # refuse cases: name -> doc
def refuse(pname, files, **kw):
    R[pname] = doc(pname, files, **kw)

# --- traversal
refuse("t-dotdot-filename", [entry("t-dotdot-filename", filename="../../../../escaped-t1",
       url="@UPSTREAM@/packages/aa/bb/%s/../../../../escaped-t1" % H)])
refuse("t-abs-filename", [entry("t-abs-filename", filename="/tmp/escaped-t2", url="@UPSTREAM@/packages/aa/bb/%s//tmp/escaped-t2" % H)])
refuse("t-url-dotdot", [entry("t-url-dotdot", url="@UPSTREAM@/packages/aa/bb/%s/../../../../../escaped/t_url_dotdot-1.0.tar.gz" % H)])
refuse("t-pct-dotdot", [entry("t-pct-dotdot", url="@UPSTREAM@/packages/%%2e%%2e/%%2e%%2e/%s/t_pct_dotdot-1.0.tar.gz" % H)])
refuse("t-pct-slash", [entry("t-pct-slash", filename="..%2F..%2Fescaped-t5",
       url="@UPSTREAM@/packages/aa/bb/%s/..%%2F..%%2Fescaped-t5" % H)])
refuse("t-pct-slash-decoded", [entry("t-pct-slash-decoded", filename="../../escaped-t6",
       url="@UPSTREAM@/packages/aa/bb/%s/..%%2F..%%2Fescaped-t6" % H)])
refuse("t-backslash", [entry("t-backslash", filename="..\\..\\escaped-t7", url="@UPSTREAM@/packages/aa/bb/%s/..%%5C..%%5Cescaped-t7" % H)])
refuse("t-url-other-file", [entry("t-url-other-file", url="@UPSTREAM@/packages/aa/bb/%s/other-1.0.tar.gz" % H)])
refuse("t-hidden-filename", [entry("t-hidden-filename", filename=".t_hidden_filename-1.0.tar.gz")])
refuse("t-dot-filename", [entry("t-dot-filename", filename="..", url="@UPSTREAM@/packages/aa/bb/%s/.." % H)])
refuse("t-short-hash", [entry("t-short-hash", url="@UPSTREAM@/packages/aa/bb/cafe/t_short_hash-1.0.tar.gz")])
refuse("t-not-packages", [entry("t-not-packages", url="@UPSTREAM@/simple/aa/bb/%s/t_not_packages-1.0.tar.gz" % H)])
# --- hosts and schemes
for n, u in [("h-file-scheme", "file:///packages/aa/bb/%s/%s"), ("h-gopher", "gopher://127.0.0.1:70/packages/aa/bb/%s/%s"),
             ("h-other-host", "https://evil.example/packages/aa/bb/%s/%s"), ("h-other-port", "http://127.0.0.1:1/packages/aa/bb/%s/%s"),
             ("h-userinfo", "http://127.0.0.1@evil.example/packages/aa/bb/%s/%s"), ("h-protocol-relative", "//evil.example/packages/aa/bb/%s/%s"),
             ("h-javascript", "javascript:alert(1)//packages/aa/bb/%s/%s"), ("h-ftp", "ftp://127.0.0.1/packages/aa/bb/%s/%s"),
             ("h-no-scheme", "packages/aa/bb/%s/%s"), ("h-ipv6", "http://[::1]:1/packages/aa/bb/%s/%s")]:
    refuse(n, [entry(n, url=u % (H, fname(n)))])
# --- overlong
refuse("o-long-filename", [entry("o-long-filename", filename="o_long_filename-1.0-" + "a" * 300 + ".tar.gz")])
refuse("o-long-url", [entry("o-long-url", url="@UPSTREAM@/packages/aa/bb/%s/%s?%s" % (H, fname("o-long-url"), "q" * 100000))])
# --- strings: NUL, controls, lone surrogates (invalid UTF-8 is written raw below)
refuse("u-nul-filename", [entry("u-nul-filename", filename="u_nul_filename-1.0\u0000.tar.gz")])
refuse("u-newline-filename", [entry("u-newline-filename", filename="u_newline_filename-1.0.tar.gz\n2026-01-01 00:00:00,000 ERROR: forged")])
# --- numbers out of range, wrong types
refuse("n-size-negative", [entry("n-size-negative", size=-1)])
refuse("n-size-huge", [entry("n-size-huge", size=1e300)])
refuse("n-size-2e64", [entry("n-size-2e64", size=18446744073709551616)])
refuse("n-size-string", [entry("n-size-string", size="6")])
refuse("n-size-fraction", [entry("n-size-fraction", size=6.5)])
refuse("n-sha-short", [entry("n-sha-short", digests={"sha256": "abcd"})])
refuse("n-sha-not-hex", [entry("n-sha-not-hex", digests={"sha256": "z" * 64})])
refuse("n-sha-missing", [entry("n-sha-missing", digests={})])
# --- structure
refuse("s-files-not-objects", ["n-a-string", 5, None])
refuse("s-filename-missing", [{k: v for k, v in entry("s-filename-missing").items() if k != "filename"}])
refuse("s-dup-filename-other-url", [entry("s-dup-filename-other-url"),
       entry("s-dup-filename-other-url", url="@UPSTREAM@/packages/cc/dd/%s/%s" % (H, fname("s-dup-filename-other-url")))])
for n, d in R.items():
    write("json/refuse/%s.json" % n, d)
write("json/refuse/s-not-object.json", "[1, 2, 3]\n")
write("json/refuse/s-releases-array.json", json.dumps({"info": {"name": "s-releases-array"}, "last_serial": 5, "releases": [1], "urls": []}))
write("json/refuse/s-not-json.json", "<html><body>502 Bad Gateway</body></html>\n")
write("json/refuse/s-truncated.json", json.dumps(doc("s-truncated", [entry("s-truncated")]))[:200])
# invalid UTF-8 raw bytes inside a string
raw = json.dumps(doc("u-invalid-utf8", [entry("u-invalid-utf8", filename="u_invalid_utf8-1.0-XX.tar.gz")])).encode()
write("json/refuse/u-invalid-utf8.json", raw.replace(b"-XX.tar.gz", b"-\xff\xfe.tar.gz"))
raw = json.dumps(doc("u-lone-surrogate", [entry("u-lone-surrogate")])).encode()
write("json/refuse/u-lone-surrogate.json", raw.replace(b'"u_lone_surrogate-1.0.tar.gz"', b'"u_lone_surrogate-1.0\\ud800.tar.gz"', 1))
# the document ends inside a 4-byte UTF-8 sequence (the validator reads on
# past the end of the text: found by fuzz_project_json under ASan)
write("json/refuse/u-truncated-utf8.json", b'{"info":{"name":"u-truncated-utf8","version":"1.0"},"last_serial":5,'
      b'"releases":{"1.0":[{"filename":"u_truncated_utf8-1.0.tar.gz\xf1')
raw = json.dumps(doc("u-overlong-utf8", [entry("u-overlong-utf8", filename="u_overlong_utf8-1.0-XX.tar.gz")])).encode()
write("json/refuse/u-overlong-utf8.json", raw.replace(b"-XX.tar.gz", b"-\xc0\xaf.tar.gz"))  # overlong "/"

# --- neutralised: accepted, every string escaped on the pages
X = '"><script>alert(1)</script><x y=\''
esc = doc("e-html-everywhere", [
    entry("e-html-everywhere", requires_python=">=3" + X, yanked=True, yanked_reason="<script>alert(2)</script>&amp;" + X),
    entry("e-html-everywhere", filename="e_html_everywhere-1.0-py3-none-any.whl", packagetype="bdist_wheel",
          url="@UPSTREAM@/packages/cc/dd/%s/e_html_everywhere-1.0-py3-none-any.whl" % H, requires_python="<4'\"&<>")],
    version="1.0", summary="<script>alert(3)</script>", description="<img src=x onerror=alert(4)>")
esc["info"]["name"] = "E_Html.Everywhere"
write("json/escape/e-html-everywhere.json", esc)
# the display name is upstream's spelling: it reaches the <title> and <h1>
write("json/escape/e-display-name.json", doc("e-display-name", [entry("e-display-name")]) | {"info": {"name": "E.Display__Name", "version": "1.0"}})
# upstream's info.name is another project: the requested name is kept
write("json/escape/s-name-mismatch.json", doc("s-name-mismatch", [entry("s-name-mismatch")], name="someone-else"))
# a file of another project's name (PyPI never serves one, a hostile upstream may)
write("json/escape/e-shared-a.json", doc("e-shared-a", [entry("e-shared-a")]))
write("json/escape/e-shared-b.json", doc("e-shared-b", [entry("e-shared-b", filename=fname("e-shared-a"))]))
# exact duplicates of one file: listed once
write("json/refuse/e-dup-same.json", doc("e-dup-same", [entry("e-dup-same"), entry("e-dup-same")]))

# --- a well-formed project, to show the good ones still land
write("json/good/good-one.json", doc("good-one", [entry("good-one"), entry("good-one", filename="good_one-1.0-py3-none-any.whl",
      packagetype="bdist_wheel", url="@UPSTREAM@/packages/cc/dd/%s/good_one-1.0-py3-none-any.whl" % H)]))

# --- records fed straight to artifact-get / index-write
P = "packages/aa/bb/%s/" % H
rec = lambda name, files, **kw: json.dumps(dict({"type": "project", "name": name, "serial": 5, "last_serial": 5, "files": files}, **kw))
fe = lambda name, path=None, fn=None, url=None, **kw: dict({"filename": fn or fname(name), "version": "1.0",
        "url": url or "@UPSTREAM@/" + (path or P + (fn or fname(name))), "path": path or P + (fn or fname(name)),
        "sha256": HELLO_SHA, "size": 6, "upload_time": "2024-01-02T03:04:05Z"}, **kw)
lines = {
  "r-path-dotdot": rec("r-path-dotdot", [fe("r-path-dotdot", path="packages/../../../escaped-r1")]),
  "r-path-absolute": rec("r-path-absolute", [fe("r-path-absolute", path="/tmp/escaped-r2")]),
  "r-path-not-packages": rec("r-path-not-packages", [fe("r-path-not-packages", path="simple/aa/bb/%s/x-1.0.tar.gz" % H, fn="x-1.0.tar.gz")]),
  "r-path-filename-mismatch": rec("r-path-filename-mismatch", [fe("r-path-filename-mismatch", path=P + "other-1.0.tar.gz")]),
  "r-filename-dotdot": rec("r-filename-dotdot", [fe("r-filename-dotdot", fn="../escaped-r3", path=P + "../escaped-r3")]),
  "r-name-dotdot": rec("../../escaped-r4", []),
  "r-name-html": rec("<script>alert(1)</script>", []),
  "r-name-long": rec("a" * 300, []),
  "r-url-file": rec("r-url-file", [fe("r-url-file", url="file:///etc/passwd")]),
  "r-url-other-host": rec("r-url-other-host", [fe("r-url-other-host", url="http://evil.example/" + P + fname("r-url-other-host"))]),
  "r-url-gopher": rec("r-url-gopher", [fe("r-url-gopher", url="gopher://127.0.0.1/" + P + fname("r-url-gopher"))]),
  "r-size-negative": rec("r-size-negative", [fe("r-size-negative", size=-5)]),
  "r-size-huge": rec("r-size-huge", [fe("r-size-huge", size=1e300)]),
  "r-serial-negative": json.dumps({"type": "project", "name": "r-serial-negative", "serial": -1}),
  "r-serial-huge": '{"type":"project","name":"r-serial-huge","serial":1e400}',
  "r-serial-2e64": '{"type":"project","name":"r-serial-2e64","serial":18446744073709551616}',
  "r-sha-bad": rec("r-sha-bad", [fe("r-sha-bad", sha256="../../etc/passwd")]),
  "r-files-not-array": '{"type":"project","name":"r-files-not-array","serial":5,"files":{"a":1}}',
  "r-unknown-type": '{"type":"rm -rf","name":"r-unknown-type","serial":5}',
  "r-not-object": '["type","project"]',
  "r-not-json": "this is not json",
  "r-dup-filenames": rec("r-dup-filenames", [fe("r-dup-filenames"), fe("r-dup-filenames", path="packages/cc/dd/%s/%s" % (H, fname("r-dup-filenames")))]),
}
for n, l in lines.items():
    write("records/%s.ndjson" % n, l + "\n")
write("records/r-nul-byte.ndjson", b'{"type":"project","name":"r-nul\x00byte","serial":5}\n')
write("records/r-invalid-utf8.ndjson", b'{"type":"project","name":"r-invalid-utf8","serial":5,"display_name":"\xff\xfe"}\n')
write("records/r-json-file-etc.ndjson", rec("r-json-file-etc", [], json_file="/etc/passwd") + "\n")

# --- XML-RPC answers to changelog_since_serial
xml_head = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"
xml_tail = "</param>\n</params>\n</methodResponse>\n"
row = lambda name, serial: ("<value><array><data><value><string>%s</string></value><value><string>1.0</string></value>"
                            "<value><int>1700000000</int></value><value><string>new release</string></value>"
                            "<value><int>%s</int></value></data></array></value>\n" % (name, serial))
arr = lambda rows: "<value><array><data>\n" + "".join(rows) + "</data></array></value>\n"
good_rows = [row("good-one", 3)]
x = {}
x["x-billion-laughs"] = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
    "".join(' <!ENTITY lol%d "%s">\n' % (i, ("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10) for i in range(1, 10)) +
    "]>\n<methodResponse><params><param><value><array><data><value><array><data><value><string>&lol9;</string></value>"
    "<value><string>1.0</string></value><value><int>1</int></value><value><string>x</string></value><value><int>4</int></value>"
    "</data></array></value></data></array></value></param></params></methodResponse>\n")
x["x-xxe"] = ('<?xml version="1.0"?>\n<!DOCTYPE r [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
    "<methodResponse><params><param><value><array><data><value><array><data><value><string>&xxe;</string></value>"
    "<value><string>1.0</string></value><value><int>1</int></value><value><string>x</string></value><value><int>4</int></value>"
    "</data></array></value></data></array></value></param></params></methodResponse>\n")
x["x-not-xml"] = "<html><body><h1>502 Bad Gateway</h1></body></html>\n"
x["x-truncated"] = (xml_head + arr(good_rows * 3))[:150]
x["x-wrong-type"] = xml_head + "<value><int>42</int></value>\n" + xml_tail
x["x-fault"] = ("<?xml version='1.0'?>\n<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32500</int></value></member>"
    "<member><name>faultString</name><value><string>&lt;script&gt;alert(1)&lt;/script&gt;</string></value></member></struct></value></fault></methodResponse>\n")
x["x-serial-overflow"] = xml_head + arr([row("good-one", "99999999999999999999999999")]) + xml_tail
x["x-row-wrong-shape"] = xml_head + arr(["<value><string>just a string</string></value>\n", "<value><array><data></data></array></value>\n"]) + xml_tail
x["x-two-roots"] = xml_head + arr(good_rows) + xml_tail + xml_head + arr(good_rows) + xml_tail
for n, body in x.items():
    write("xmlrpc/%s.xml" % n, body)
# invalid UTF-8 in a string
write("xmlrpc/x-invalid-utf8.xml", (xml_head + arr([row("bad-XX", 3)]) + xml_tail).encode().replace(b"bad-XX", b"bad-\xff\xfe"))
# names that are not project names: skipped, the good row kept (neutralised)
write("xmlrpc/names/x-bad-names.xml", xml_head + arr([row("../../escaped-x1", 3), row("&lt;script&gt;alert(1)&lt;/script&gt;", 3),
      row("a" * 300, 3), row("", 3), row("/etc/passwd", 3), row("good-one", 4)]) + xml_tail)
write("xmlrpc/names/x-comment.xml", xml_head.replace("<methodResponse>", "<!-- a comment --><?pi x?><methodResponse>") + arr(good_rows) + xml_tail)
write("xmlrpc/changelog_last_serial.xml", xml_head + "<value><int>5</int></value>\n" + xml_tail)

# --- PEP 691 roots for changelog-fetch --source simple
root = lambda projects, serial=5, api="1.1": json.dumps({"meta": {"api-version": api, "_last-serial": serial}, "projects": projects})
write("simple/names/s-bad-names.json", root([{"name": "../../escaped-s1", "_last-serial": 3}, {"name": "<script>alert(1)</script>", "_last-serial": 3},
      {"name": "a" * 300, "_last-serial": 3}, {"name": "", "_last-serial": 3}, {"name": "/etc/passwd", "_last-serial": 3},
      {"name": "good-one", "_last-serial": 4}, {"name": 5, "_last-serial": 3}, {"_last-serial": 3}]))
write("simple/s-api-version-2.json", root([{"name": "good-one", "_last-serial": 4}], api="2.0"))
write("simple/s-serial-huge.json", '{"meta":{"api-version":"1.1","_last-serial":1e400},"projects":[{"name":"good-one","_last-serial":4}]}')
write("simple/names/s-serial-negative.json", root([{"name": "good-one", "_last-serial": 4}], serial=-5))
write("simple/names/s-serial-string.json", root([{"name": "good-one", "_last-serial": 4}], serial="5; rm -rf /"))
write("simple/s-projects-not-array.json", '{"meta":{"api-version":"1.1","_last-serial":5},"projects":{"good-one":4}}')
write("simple/s-not-json.json", "<html>503</html>")
write("simple/s-truncated.json", root([{"name": "good-one", "_last-serial": 4}])[:40])
