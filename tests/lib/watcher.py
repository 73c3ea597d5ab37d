#!/usr/bin/env python3
"""watcher.py: invariants of a mirror that a crash must never break.

Standard library only.  Used by tests/crash.bats and tests/faults.bats.

  watcher.py snapshot URL SNAP        what upstream serves now, into SNAP (JSON);
                                      files of earlier snapshots in SNAP are kept
                                      in "known" (a path names its content for
                                      ever: it holds the hash)
  watcher.py check DIR SNAP [--complete] [--label L] [--then-snapshot URL]
                                      one look; prints each violation, exit 1 if any;
                                      then (a run's kill is checked against what
                                      upstream was, upstream moves on) a snapshot
  watcher.py loop DIR SNAP --out F --stop F [--interval S]
                                      looks again and again until the stop file
                                      appears (SNAP is re-read when it changes);
                                      violations go to --out, then "samples N"

The invariants (a client, or the next run, must be able to rely on them at
every instant, whatever was killed when):
  1. no file under web/packages is partial: every visible file (hidden
     temporaries ".NAME.*.tmp" aside) has the size and sha256 upstream gave
     for that path (its .metadata companion: the core-metadata sha256);
  2. no page links a missing file: every file a project's index.v1_json or
     index.html links is on disk, with the size and sha256 the page says;
  3. status never runs ahead of the content: every project whose upstream
     last_serial <= DIR/status has pages that list exactly upstream's files
     (path, sha256, yanked), and a project upstream removed by then has none.
--complete adds: status is upstream's serial, no package file or project
page upstream does not have, and the root index lists exactly upstream's
projects.
"""

import hashlib
import html.parser
import json
import os
import random
import sys
import time
import urllib.parse
import urllib.request

ACCEPT_JSON = "application/vnd.pypi.simple.v1+json"


def normalize(name):
    out, dash = [], False
    for ch in name.lower():
        if ch in "-_.":
            dash = True
            continue
        if dash and out:
            out.append("-")
        dash = False
        out.append(ch)
    return "".join(out)


def fetch(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def package_path(url):
    """packages/xx/yy/<hash>/<file> from a file URL (absolute or relative)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    i = path.find("packages/")
    return path[i:] if i >= 0 else None


def snapshot(base, out):
    base = base.rstrip("/")
    old = {}
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            old = json.load(f)
    root = json.loads(fetch(base + "/simple/", ACCEPT_JSON))
    snap = {"serial": root["meta"]["_last-serial"], "projects": {}, "known": old.get("known", {}),
            "removed": old.get("removed", {})}
    for p in root["projects"]:
        name = normalize(p["name"])
        doc = json.loads(fetch("%s/pypi/%s/json?fresh=%d" % (base, name, random.randrange(1 << 30))))
        files = {}
        for rel in doc["releases"].values():
            for f in rel:
                path = package_path(f["url"])
                meta = f.get("core-metadata") or f.get("data-dist-info-metadata")
                files[path] = {"sha256": f["digests"]["sha256"], "size": f["size"],
                               "yanked": bool(f.get("yanked")),
                               "metadata": meta.get("sha256") if isinstance(meta, dict) else None}
                snap["known"][path] = {"sha256": f["digests"]["sha256"], "size": f["size"]}
                if isinstance(meta, dict):
                    snap["known"][path + ".metadata"] = {"sha256": meta.get("sha256"), "size": None}
        snap["projects"][name] = {"last_serial": doc["last_serial"], "files": files}
        snap["removed"].pop(name, None)
    # A project that was there and is gone was removed at or before this
    # serial (an upper bound is all a snapshot can know).
    for name in old.get("projects", {}):
        if name not in snap["projects"]:
            snap["removed"].setdefault(name, snap["serial"])
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(snap, f, sort_keys=True)
    os.replace(tmp, out)


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for k, v in attrs:
                if k == "href" and v is not None:
                    self.hrefs.append(v)


class Checker:
    def __init__(self, mirror, snap_path):
        self.dir = mirror
        self.web = os.path.join(mirror, "web")
        self.snap_path = snap_path
        self.snap = None
        self.snap_mtime = None
        self.cache = {}  # path -> ((ino, size, mtime_ns, ctime_ns), sha256)
        self.load_snap()

    def load_snap(self):
        st = os.stat(self.snap_path)
        if st.st_mtime_ns != self.snap_mtime:
            with open(self.snap_path, encoding="utf-8") as f:
                self.snap = json.load(f)
            self.snap_mtime = st.st_mtime_ns

    def sha256(self, path):
        """sha256 of a file, or None if it is not there (deleted meanwhile)."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None, None
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        hit = self.cache.get(path)
        if hit and hit[0] == key:
            return hit[1], st.st_size
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except FileNotFoundError:
            return None, None
        self.cache[path] = (key, h.hexdigest())
        return h.hexdigest(), st.st_size

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def status(self):
        raw = self.read(os.path.join(self.dir, "status"))
        if raw is None:
            return 0, None
        text = raw.decode("ascii", "replace")
        if not text.isdigit():
            return None, "status holds %r, not a serial" % text
        return int(text), None

    # 1. partial files
    def check_files(self, out, complete):
        known = self.snap["known"]
        current = set()
        for p in self.snap["projects"].values():
            for path, f in p["files"].items():
                current.add(path)
                if f.get("metadata"):
                    current.add(path + ".metadata")
        pkgs = os.path.join(self.web, "packages")
        for root, dirs, files in os.walk(pkgs):
            for name in files:
                full = os.path.join(root, name)
                rel = os.path.relpath(full, self.web)
                if name.startswith("."):
                    if complete:
                        out.append("leftover temporary file %s" % rel)
                    continue  # a temporary being written: not visible to clients
                want = known.get(rel)
                if want is None:
                    out.append("unknown file %s (upstream never listed it)" % rel)
                    continue
                got, size = self.sha256(full)
                if got is None:
                    continue  # deleted while we looked
                if want["size"] is not None and size != want["size"]:
                    out.append("partial file %s: %d bytes, upstream says %d" % (rel, size, want["size"]))
                elif want["sha256"] and got != want["sha256"]:
                    out.append("corrupt file %s: sha256 %s, upstream says %s" % (rel, got, want["sha256"]))
                if complete and rel not in current:
                    out.append("file %s is no longer listed upstream but still on disk" % rel)

    # 2. pages link only present files; returns {name: {path: (sha, yanked)}} from JSON pages
    def page_files(self, name, out):
        d = os.path.join(self.web, "simple", name)
        listed = None
        for attempt in range(5):
            problems = []
            raw = self.read(os.path.join(d, "index.v1_json"))
            html_raw = self.read(os.path.join(d, "index.html"))
            listed = None
            if raw is not None:
                try:
                    doc = json.loads(raw)
                except ValueError as e:
                    problems.append("%s/index.v1_json is not JSON: %s" % (name, e))
                    doc = None
                if doc is not None:
                    listed = {}
                    for f in doc.get("files", []):
                        rel = package_path(f["url"])
                        listed[rel] = (f["hashes"].get("sha256"), bool(f.get("yanked")))
                        full = os.path.join(self.web, rel)
                        got, size = self.sha256(full)
                        if got is None:
                            problems.append("page %s/index.v1_json links missing file %s" % (name, rel))
                        elif size != f.get("size") or got != f["hashes"].get("sha256"):
                            problems.append("page %s/index.v1_json links %s, whose content differs" % (name, rel))
                        meta = f.get("core-metadata")
                        if meta and not os.path.exists(full + ".metadata"):
                            problems.append("page %s/index.v1_json links missing %s.metadata" % (name, rel))
            if html_raw is not None:
                parser = Links()
                try:
                    parser.feed(html_raw.decode("utf-8"))
                    parser.close()
                except Exception as e:  # invalid UTF-8 or worse
                    problems.append("page %s/index.html does not parse: %s" % (name, e))
                for href in parser.hrefs:
                    rel = package_path(href.split("#", 1)[0])
                    if rel and not os.path.exists(os.path.join(self.web, rel)):
                        problems.append("page %s/index.html links missing file %s" % (name, rel))
            if not problems:
                return listed
            # A page replaced while we looked is not a violation: look again.
            if (self.read(os.path.join(d, "index.v1_json")) == raw
                    and self.read(os.path.join(d, "index.html")) == html_raw):
                out.extend(problems)
                return listed
        out.extend(problems)
        return listed

    def check(self, complete=False):
        out = []
        self.load_snap()
        status, err = self.status()
        if err:
            return [err]
        self.check_files(out, complete)
        simple = os.path.join(self.web, "simple")
        on_disk = set()
        if os.path.isdir(simple):
            for name in sorted(os.listdir(simple)):
                if os.path.isdir(os.path.join(simple, name)):
                    on_disk.add(name)
        pages = {}
        for name in sorted(on_disk):
            pages[name] = self.page_files(name, out)
        # 3. status never ahead of content
        for name, p in sorted(self.snap["projects"].items()):
            if p["last_serial"] > status and not complete:
                continue
            listed = pages.get(name)
            if listed is None:
                listed = self.page_files(name, out) if os.path.isdir(os.path.join(simple, name)) else None
            if listed is None:
                out.append("status %d but project %s (upstream serial %d) has no JSON page"
                           % (status, name, p["last_serial"]))
                continue
            want = {path: (f["sha256"], f["yanked"]) for path, f in p["files"].items()}
            if listed != want:
                missing = sorted(set(want) - set(listed))
                extra = sorted(set(listed) - set(want))
                differ = sorted(k for k in set(want) & set(listed) if want[k] != listed[k])
                out.append("status %d but project %s (upstream serial %d) is not upstream's: missing %s, extra %s, "
                           "different %s" % (status, name, p["last_serial"], missing[:3], extra[:3], differ[:3]))
        for name, serial in sorted(self.snap.get("removed", {}).items()):
            if (serial <= status or complete) and name in on_disk:
                out.append("status %d but project %s, removed upstream by serial %d, still has pages"
                           % (status, name, serial))
        if complete:
            if status != self.snap["serial"]:
                out.append("status %d, upstream serial %d" % (status, self.snap["serial"]))
            extra = sorted(on_disk - set(self.snap["projects"]))
            if extra:
                out.append("pages of projects upstream does not have: %s" % extra[:5])
            raw = self.read(os.path.join(simple, "index.v1_json"))
            try:
                root = {normalize(p["name"]) for p in json.loads(raw)["projects"]}
                if root != set(self.snap["projects"]):
                    out.append("root index lists %s, upstream %s" % (sorted(root), sorted(self.snap["projects"])))
            except Exception as e:
                out.append("root index.v1_json unusable: %s" % e)
        return out


def main(argv):
    if len(argv) >= 3 and argv[0] == "snapshot":
        snapshot(argv[1], argv[2])
        return 0
    if len(argv) >= 3 and argv[0] in ("check", "loop"):
        mirror, snap = argv[1], argv[2]
        opts = {"--label": "", "--out": None, "--stop": None, "--interval": "0.05", "--then-snapshot": None}
        complete = False
        rest = argv[3:]
        while rest:
            k = rest.pop(0)
            if k == "--complete":
                complete = True
            elif k in opts and rest:
                opts[k] = rest.pop(0)
            else:
                print("watcher.py: bad argument %r" % k, file=sys.stderr)
                return 2
        c = Checker(mirror, snap)
        if argv[0] == "check":
            bad = c.check(complete)
            for v in bad:
                print("%s%s" % (opts["--label"] and opts["--label"] + ": ", v))
            if opts["--then-snapshot"]:
                snapshot(opts["--then-snapshot"], snap)
            return 1 if bad else 0
        samples, seen = 0, set()
        with open(opts["--out"], "a", encoding="utf-8") as out:
            while not os.path.exists(opts["--stop"]):
                for v in c.check():
                    if v not in seen:
                        seen.add(v)
                        out.write("sample %d: %s\n" % (samples, v))
                        out.flush()
                samples += 1
                time.sleep(float(opts["--interval"]))
            out.write("samples %d\n" % samples)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
