#!/usr/bin/env python3
"""stub.py: a tiny upstream that serves crafted documents, for tests/hostile.bats.

Standard library only.

  stub.py serve --dir SERVE --port-file F [--log F]
  stub.py bombs OUTDIR [--big]  write the generated hostile files (too big,
                                or too regular, to keep in the corpus): gzip
                                bombs, 200,000-deep nesting, a 70 MiB line

serve answers from the files under SERVE, read at every request (a test
swaps them between cases without restarting the server):

  GET  /simple/              SERVE/simple.json   (application/vnd.pypi.simple.v1+json)
  GET  /pypi/NAME/json       SERVE/json/NAME.json (application/json; NAME as sent,
                             percent-decoded; X-PyPI-Last-Serial from the
                             document's last_serial, else 1)
  POST /pypi                 SERVE/xmlrpc/METHOD.xml (text/xml; METHOD read
                             from the call's <methodName>); a call whose int
                             argument is above the first one made for that
                             file gets an empty array (the next page)
  GET  /packages/PATH        SERVE/packages/PATH if it exists, else "hello\\n"
                             (6 bytes, sha256 5891b5b5...f6be03)

A file X.delay holding seconds delays the answer for X (two downloads of
one file then overlap for sure). A file X.gz next to the file X wins and is sent as it is with
"Content-Encoding: gzip" (a gzip bomb is a small X.gz). In .json and .xml
bodies "@UPSTREAM@" becomes this server's base URL, so that a document can
point at it whatever the port. Anything else is a 404.
"""

import argparse
import gzip
import http.server
import json
import os
import re
import socketserver
import sys
import time
import urllib.parse

HELLO = b"hello\n"
EMPTY_PAGE = (b"<?xml version='1.0'?>\n<methodResponse><params><param><value><array><data>"
              b"</data></array></value></param></params></methodResponse>\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.log:
            self.server.log.write("%s %s\n" % (self.command, self.path))
            self.server.log.flush()

    def send(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def serve_file(self, path, ctype, serial=None):
        base = "http://%s:%d" % self.server.server_address[:2]
        extra = []
        if os.path.isfile(path + ".delay"):
            with open(path + ".delay") as f:
                time.sleep(float(f.read().strip() or 0))
        if os.path.isfile(path + ".gz"):
            with open(path + ".gz", "rb") as f:
                body = f.read()
            extra.append(("Content-Encoding", "gzip"))
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                body = f.read()
            if path.endswith((".json", ".xml")):
                body = body.replace(b"@UPSTREAM@", base.encode())
        else:
            return self.send(404, b"not found\n")
        if serial is None and path.endswith(".json") and not extra:
            m = re.search(rb'"last_serial"\s*:\s*(\d{1,18})\b', body)
            serial = m.group(1).decode() if m else "1"
        if serial is not None:
            extra.append(("X-PyPI-Last-Serial", str(serial)))
        self.send(200, body, ctype, extra)

    def do_GET(self):
        root = self.server.root
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/simple", "/simple/"):
            return self.serve_file(os.path.join(root, "simple.json"), "application/vnd.pypi.simple.v1+json")
        m = re.fullmatch(r"/pypi/([^/]+)/json/?", path)
        if m:
            name = urllib.parse.unquote(m.group(1))
            if "/" in name or name.startswith("."):
                return self.send(404, b"not found\n")
            return self.serve_file(os.path.join(root, "json", name + ".json"), "application/json")
        if path.startswith("/packages/"):
            rel = urllib.parse.unquote(path[len("/packages/"):])
            full = os.path.normpath(os.path.join(root, "packages", rel))
            if full.startswith(os.path.join(root, "packages") + os.sep) and (
                    os.path.isfile(full) or os.path.isfile(full + ".gz")):
                return self.serve_file(full, "application/octet-stream")
            return self.send(200, HELLO, "application/octet-stream")
        return self.send(404, b"not found\n")

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        m = re.search(rb"<methodName>\s*([A-Za-z_]+)\s*</methodName>", body)
        if path != "/pypi" or not m:
            return self.send(404, b"not found\n")
        f = os.path.join(self.server.root, "xmlrpc", m.group(1).decode() + ".xml")
        # A paging client asks again after the last serial it got: the
        # crafted answer is the first page, every later call gets an empty
        # one (as PyPI answers when nothing is newer).
        arg = re.search(rb"<int>\s*(-?\d+)\s*</int>", body)
        if arg and os.path.exists(f):
            key = (f, os.stat(f).st_mtime_ns)
            first = self.server.first_arg.setdefault(key, int(arg.group(1)))
            if int(arg.group(1)) > first:
                return self.send(200, EMPTY_PAGE, "text/xml")
        return self.serve_file(f, "text/xml")

    do_PURGE = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve(args):
    srv = Server(("127.0.0.1", 0), Handler)
    srv.root = os.path.abspath(args.dir)
    srv.log = open(args.log, "a") if args.log else None
    srv.first_arg = {}
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, args.port_file)
    srv.serve_forever()


def gzip_of(chunks, path):
    """Writes the gzip of the concatenated chunks (generated lazily)."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        for c in chunks:
            f.write(c)


def bombs(out, big=False):
    os.makedirs(out, exist_ok=True)
    mib = 1 << 20
    doc = json.dumps({"info": {"name": "bomb"}, "last_serial": 5, "releases": {}, "urls": []}).encode()
    # JSON API document: a valid head, then 320 MiB of spaces in a string
    # (300 KiB gzipped): over pkg-resolve's 256 MiB limit on a body.
    gzip_of([doc[:-1], b',"pad":"'] + [b" " * mib] * 320 + [b'"}'], os.path.join(out, "json-bomb.json.gz"))
    # PEP 691 roots, parsed as they arrive, so a bomb must stay valid JSON
    # to get anywhere. A 64 MiB string: over the parser's 8 MiB limit on
    # one value.
    root = b'{"meta":{"api-version":"1.1","_last-serial":5},"projects":[{"name":"a","_last-serial":1'
    gzip_of([root, b',"x":"'] + [b"a" * mib] * 64 + [b'"}]}'], os.path.join(out, "simple-string-bomb.json.gz"))
    if big:
        # 1.1 GiB of entries (all the same project), over changelog-fetch's
        # 1 GiB limit on the root.
        entry = b'{"name":"a","_last-serial":1},'
        block = entry * (mib // len(entry))
        gzip_of([root, b'},'] + [block] * 1130 + [b'{"name":"a","_last-serial":1}]}'],
                os.path.join(out, "simple-bomb.json.gz"))
    # XML-RPC answers: one 64 MiB string, and 64 MiB of whitespace between
    # values (the parser's limit on one text is 8 MiB).
    head = (b"<?xml version='1.0'?>\n<methodResponse><params><param><value><array><data>"
            b"<value><array><data><value><string>a</string></value><value><string>1.0</string></value>"
            b"<value><int>1</int></value><value><string>new release</string></value><value><int>7</int></value>"
            b"</data></array></value>")
    tail = b"</data></array></value></param></params></methodResponse>\n"
    gzip_of([head, b"<value><string>"] + [b"a" * mib] * 64 + [b"</string></value>", tail],
            os.path.join(out, "xmlrpc-string-bomb.xml.gz"))
    gzip_of([head] + [b" " * mib] * 64 + [tail], os.path.join(out, "xmlrpc-space-bomb.xml.gz"))
    # Deep nesting, uncompressed: 200,000 levels.
    depth = 200000
    with open(os.path.join(out, "json-deep.json"), "wb") as f:
        f.write(b'{"info":{"name":"deep"},"last_serial":5,"releases":{"1.0":' + b"[" * depth + b"]" * depth + b"}}")
    with open(os.path.join(out, "simple-deep.json"), "wb") as f:
        f.write(b'{"meta":{"api-version":"1.1","_last-serial":5},"projects":' + b"[" * depth + b"]" * depth + b"}")
    with open(os.path.join(out, "record-deep.ndjson"), "wb") as f:
        f.write(b'{"type":"project","name":"deep","serial":1,"files":' + b"[" * depth + b"]" * depth + b"}\n")
    with open(os.path.join(out, "xmlrpc-deep.xml"), "wb") as f:
        f.write(b"<?xml version='1.0'?>\n<methodResponse><params><param>" +
                b"<value><array><data>" * 50000 + b"</data></array></value>" * 50000 +
                b"</param></params></methodResponse>\n")
    # An enormous NDJSON line: 70 MiB, over the 64 MiB limit, then a good one.
    with open(os.path.join(out, "record-huge-line.ndjson"), "wb") as f:
        f.write(b'{"type":"project","name":"huge","serial":1,"pad":"')
        for _ in range(70):
            f.write(b"x" * (1 << 20))
        f.write(b'"}\n{"type":"target","serial":9}\n')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--port-file", required=True)
    s.add_argument("--log")
    b = sub.add_parser("bombs")
    b.add_argument("out")
    b.add_argument("--big", action="store_true", help="also the 1.1 GiB root bomb (slow, needs RAM)")
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
    else:
        bombs(args.out, args.big)
    return 0


if __name__ == "__main__":
    sys.exit(main())
