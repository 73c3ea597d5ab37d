"""Helpers for bench/run: child processes measured with wait4(2), nginx and
the PyPI emulator as disposable loopback servers, a latency proxy, and the
synthetic data the benchmarks feed the tools.  Standard library only."""

import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request


# ---------------------------------------------------------------- measuring

class Result:
    """What one child process cost: wall time, CPU (user+sys of it and of
    every descendant it waited for, as wait4 reports) and peak RSS."""

    def __init__(self, cmd, rc, wall, user, sys_, maxrss_kb):
        self.cmd, self.rc, self.wall = cmd, rc, wall
        self.user, self.sys, self.maxrss_kb = user, sys_, maxrss_kb

    @property
    def cpu(self):
        return self.user + self.sys

    def as_dict(self):
        return {"wall_s": round(self.wall, 4), "user_s": round(self.user, 4),
                "sys_s": round(self.sys, 4), "maxrss_kb": self.maxrss_kb, "rc": self.rc}


class CommandFailed(Exception):
    pass


TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
RSS_TMP = "/tmp/pypi-mirror-bench-rss"


def run(cmd, stdin=None, stdout=None, log=None, env=None, timeout=900, ok_codes=(0,), rss=True):
    """Runs cmd with stdin/stdout redirected to files (paths or None) and
    stderr appended to log.  The clock covers exec to exit; rusage comes
    from wait4 on this very child, so concurrent servers do not leak in.
    rss=False leaves out the GNU time launcher (one more process start,
    about a millisecond, in the wall time of a run that lasts tens of
    them); maxrss is then ru_maxrss, Python's high-water mark included."""
    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
    fout = open(stdout, "wb") if stdout else subprocess.DEVNULL
    ferr = open(log, "ab") if log else subprocess.DEVNULL
    if log:
        ferr.write(("\n$ %s\n" % " ".join(str(c) for c in cmd)).encode())
        ferr.flush()
    argv = [str(c) for c in cmd]
    rss_file = None
    if TIME_BIN and rss:
        # ru_maxrss of a child forked from this Python starts at Python's
        # own size (the high-water mark survives exec), so a small launcher
        # (GNU time) forks the tool and reports its peak instead.
        rss_file = "%s.%d.rss" % (RSS_TMP, os.getpid())
        argv = [TIME_BIN, "-q", "-f", "%M", "-o", rss_file] + argv
    try:
        t0 = time.perf_counter()
        # Its own process group, so that a kill reaches the tool under the
        # time launcher (and every process of a sh -c pipeline).
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=env, start_new_session=True)
        timer = threading.Timer(timeout, lambda: _kill(p))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:  # interrupted: leave no tool running behind
            _kill(p)
            p.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    finally:
        for f in (fin, fout, ferr):
            if hasattr(f, "close"):
                f.close()
    maxrss = ru.ru_maxrss
    if rss_file:
        try:
            with open(rss_file) as fh:
                maxrss = int(fh.read().split()[-1])
            os.unlink(rss_file)
        except (OSError, ValueError, IndexError):
            maxrss = -1
    r = Result(cmd, p.returncode, wall, ru.ru_utime, ru.ru_stime, maxrss)
    if p.returncode not in ok_codes:
        raise CommandFailed("%s exited %d (log: %s)" % (os.path.basename(str(cmd[0])), p.returncode, log))
    return r


def _kill(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass


def timed(fn, *a, **kw):
    """Wall and CPU time of an in-process Python function."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn(*a, **kw)
    return time.perf_counter() - t0, time.process_time() - c0


def best(xs):
    """The least disturbed of several runs: on a shared machine, other work
    only ever adds time, so the minimum is the steadiest estimate."""
    return min(xs)



# ---------------------------------------------------------------- servers

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, limit=20.0):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited early (%d)" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on port %d" % (what, port))


class Servers:
    """Every server a run starts, so that one call stops them all."""

    def __init__(self):
        self.procs = []

    def add(self, p, name):
        self.procs.append((p, name))
        return p

    def stop(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = [(q, n) for q, n in self.procs if q is not p]

    def stop_all(self):
        for p, _ in list(reversed(self.procs)):
            self.stop(p)


# What every nginx the bench starts has in common: one worker in the
# foreground, its files under {tmp}, keep-alive for the whole run.
NGINX_HEAD = """
user root root;
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ }}
    default_type application/octet-stream;
"""

NGINX_CONF = NGINX_HEAD + """    client_body_temp_path {tmp}/body;
    server {{
        listen 127.0.0.1:{port};
        root {snap};
        # Synthetic files for the RSS streams: every such path answers the
        # same 6 bytes, so 100,000 files cost no disk. (The 10 leading zeros
        # of the hash part do not occur in the emulator's blake2b paths.)
        location ~ "^/packages/[0-9a-f]{{2}}/[0-9a-f]{{2}}/0000000000" {{
            return 200 "bench\\n";
        }}
        location /packages/ {{
            root {packages_root};
        }}
        # The snapshot of the emulator: the PEP 691 root and the JSON API.
        location = /simple/ {{
            default_type application/vnd.pypi.simple.v1+json;
            try_files /simple/index.v1_json =404;
        }}
        location ~ ^/simple/[^/]+/$ {{
            # project pages (PEP 691 JSON) for pkg-resolve --source simple
            default_type application/vnd.pypi.simple.v1+json;
            try_files $uri/index.v1_json =404;
        }}
        location /pypi/ {{
            default_type application/json;
        }}
        # Synthetic upstreams /rssN/ for the RSS streams: a root index file
        # written by bench/run and a JSON API document made up by nginx.
        location ~ ^/(rss[0-9]+)/simple/$ {{
            default_type application/vnd.pypi.simple.v1+json;
            try_files /$1/simple/index.v1_json =404;
        }}
        location ~ "^/rss[0-9]+/pypi/(p([0-9]{{3}})([0-9]{{2}})([0-9]{{2}}))/json$" {{
            default_type application/json;
            add_header X-PyPI-Last-Serial 7;
            return 200 '{synthetic_doc}';
        }}
    }}
}}
"""

SYN_PAYLOAD = b"bench\n"
SYN_SHA256 = hashlib.sha256(SYN_PAYLOAD).hexdigest()
SYN_SERIAL = 7


def syn_doc_template(base):
    """The JSON API document nginx answers for synthetic project $1
    (p + 7 digits $2$3$4): one 6-byte sdist in a directory of its own,
    packages/$4/$3/<53 zeros + the 7 digits>/, as PyPI lays files out."""
    path = "packages/$4/$3/%s$2$3$4/$1-1.0.tar.gz" % ("0" * 53)
    url = "%s/%s" % (base, path)
    f = ('{"filename":"$1-1.0.tar.gz","url":"%s","digests":{"sha256":"%s"},'
         '"size":%d,"upload_time_iso_8601":"2020-01-01T00:00:00.000000Z",'
         '"packagetype":"sdist","requires_python":null,"yanked":false,'
         '"yanked_reason":null}' % (url, SYN_SHA256, len(SYN_PAYLOAD)))
    return ('{"info":{"name":"$1","version":"1.0"},"last_serial":%d,'
            '"releases":{"1.0":[%s]},"urls":[%s]}' % (SYN_SERIAL, f, f))


def run_nginx(servers, tmp, label, conf_for):
    """An nginx on a free loopback port, its files under tmp; conf_for(port,
    base) gives its configuration. Returns (process, base URL)."""
    os.makedirs(tmp, exist_ok=True)
    for port_try in range(5):
        port = free_port()
        base = "http://127.0.0.1:%d" % port
        with open(os.path.join(tmp, "nginx.conf"), "w") as fh:
            fh.write(conf_for(port, base))
        p = subprocess.Popen(["nginx", "-p", tmp, "-c", os.path.join(tmp, "nginx.conf"),
                              "-e", os.path.join(tmp, "error.log")],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "stderr.log"), "ab"))
        servers.add(p, label)
        try:
            wait_port(port, p, label)
            return p, base
        except RuntimeError:
            servers.stop(p)  # port taken between free_port() and bind: try another
    raise RuntimeError("%s would not start; see %s/error.log" % (label, tmp))


def start_nginx(servers, tmp, snap, packages_root):
    return run_nginx(servers, tmp, "nginx", lambda port, base: NGINX_CONF.format(
        tmp=tmp, port=port, snap=snap, packages_root=packages_root, synthetic_doc=syn_doc_template(base)))


DAV_STORE_CONF = NGINX_HEAD + """    # The bodies land next to the objects (same file system: a rename).
    client_body_temp_path {root}/.body;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        {buckets}
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
        }}
    }}
}}
"""

# The bucket itself (GET /BUCKET?list-type=2...: the tools' reachability
# check) answers an empty listing; anything else there (a multi-object
# DELETE) is refused, so a tool that needs it fails visibly.
DAV_BUCKET = """location = /{bucket} {{
            limit_except GET {{ deny all; }}
            default_type application/xml;
            return 200 '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>{bucket}</Name><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>';
        }}"""


def start_dav_store(servers, tmp, root, buckets):
    """A stand-in for an S3 store, for memory figures only: nginx's WebDAV
    PUT/DELETE under root (BUCKET/KEY is a file), GET and HEAD as files.
    It ignores the SigV4 signature and x-amz-content-sha256, keeps no
    metadata, cannot list (the bucket answers an empty listing) and has no
    multi-object DELETE. Returns (process, endpoint)."""
    for b in buckets:
        os.makedirs(os.path.join(root, b), exist_ok=True)
    os.makedirs(os.path.join(root, ".body"), exist_ok=True)
    bconf = "\n        ".join(DAV_BUCKET.format(bucket=b) for b in buckets)
    return run_nginx(servers, tmp, "nginx (DAV store)", lambda port, base: DAV_STORE_CONF.format(
        tmp=tmp, port=port, root=root, buckets=bconf))


def find_nginx():
    for c in ("/usr/sbin/nginx", shutil.which("nginx") or ""):
        if c and os.access(c, os.X_OK):
            return c
    return None


def start_emulator(servers, emulator, state, tmp, files_url):
    pf = os.path.join(tmp, "emulator.port")
    if os.path.exists(pf):
        os.unlink(pf)
    cmd = [sys.executable, emulator, "serve", "--state", state, "--port", "0", "--port-file", pf]
    if files_url:
        cmd += ["--files-url", files_url]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "emulator.log"), "ab"))
    servers.add(p, "emulator")
    end = time.time() + 600  # a 20k-project state loads for minutes on a loaded machine
    while time.time() < end:
        if p.poll() is not None:
            raise RuntimeError("emulator exited early; see %s/emulator.log" % tmp)
        try:
            with open(pf) as fh:
                port = int(fh.read().strip())
            wait_port(port, p, "emulator")
            return p, "http://127.0.0.1:%d" % port
        except (OSError, ValueError):
            time.sleep(0.05)
    raise RuntimeError("emulator did not start")


def http_get(url, accept=None, timeout=60):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout) as fh:
        return fh.read()


def emulator_admin(url, op, **kw):
    body = json.dumps(dict(op=op, **{k: str(v) for k, v in kw.items()})).encode()
    req = urllib.request.Request(url + "/_emulator/admin", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as fh:
        ans = json.loads(fh.read())
    if not ans.get("ok"):
        raise RuntimeError("emulator admin %s %r: %r" % (op, kw, ans))
    return ans


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.rename(tmp, path)


def curl_config(path, pairs):
    """A curl -K file fetching each (url, output) pair."""
    with open(path, "w") as fh:
        for url, out in pairs:
            fh.write('url = "%s"\noutput = "%s"\n' % (url, out))


def curl_cmd(cfg, jobs):
    return ["curl", "--parallel", "--parallel-max", str(jobs), "--parallel-immediate",
            "-s", "-S", "--fail", "--create-dirs", "-K", cfg]


# ---------------------------------------------------------------- latency

class DelayProxy:
    """TCP proxy adding a fixed round-trip time: each chunk is held RTT/2 in
    each direction (order kept), and a new connection waits one RTT before
    anything flows, as a TCP handshake would.  Used for BENCH_DELAY_MS when
    netem is not available."""

    def __init__(self, target_port, rtt_s):
        self.target_port, self.half = target_port, rtt_s / 2.0

    async def pipe(self, reader, writer, not_before):
        loop = asyncio.get_running_loop()
        q = asyncio.Queue()

        async def rd():
            while True:
                data = await reader.read(1 << 16)
                await q.put((max(loop.time(), not_before) + self.half, data))
                if not data:
                    return

        async def wr():
            while True:
                due, data = await q.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    try:
                        writer.write_eof()
                    except OSError:
                        pass
                    return
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(rd(), wr())
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def handle(self, cr, cw):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            cw.close()
            return
        # Nothing the client sends moves before the handshake's round trip.
        t = asyncio.get_running_loop().time()
        await asyncio.gather(self.pipe(cr, uw, t + 2 * self.half), self.pipe(ur, cw, 0.0))

    async def main(self, port_file):
        srv = await asyncio.start_server(self.handle, "127.0.0.1", 0, backlog=256)
        write_atomic(port_file, b"%d\n" % srv.sockets[0].getsockname()[1])
        async with srv:
            await srv.serve_forever()


def start_delay_proxy(servers, tmp, target_port, rtt_ms):
    pf = os.path.join(tmp, "proxy.port")
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "delay-proxy", str(target_port),
                          str(rtt_ms), pf], stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "proxy.log"), "ab"))
    servers.add(p, "delay-proxy")
    end = time.time() + 20
    while time.time() < end:
        try:
            with open(pf) as fh:
                port = int(fh.read())
            wait_port(port, p, "delay proxy")
            return p, port
        except (OSError, ValueError):
            time.sleep(0.05)
    raise RuntimeError("delay proxy did not start")


def netem_available():
    """Whether tc can attach netem to lo in a private network namespace."""
    if not (shutil.which("unshare") and shutil.which("tc") and shutil.which("ip")):
        return False
    r = subprocess.run(["unshare", "-n", "sh", "-c",
                        "ip link set lo up && tc qdisc add dev lo root netem delay 1ms"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


# ---------------------------------------------------------------- machine

def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 2**30, 1),
            "kernel": os.uname().release}


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return r.stdout.decode("utf-8", "replace").splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "delay-proxy":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(DelayProxy(int(sys.argv[2]), float(sys.argv[3]) / 1000.0).main(sys.argv[4]))
    except KeyboardInterrupt:
        pass
