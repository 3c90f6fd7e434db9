"""Egress proxy (issue 5), end to end: the real `ringfence proxy` process
between real clients (curl, git, python urllib) and local upstream servers on
loopback (HTTP, HTTPS, git over dumb HTTP). The fixtures here are shared with
test_proxy_ssrf.py and test_proxy_limits.py. Every wait is bounded."""
import http.server
import json
import os
import select
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import unittest

import rf
from netfixtures import EchoServer


class Proxy:
    """`ringfence proxy --policy P --listen 127.0.0.1:0 [args]` in the background;
    `wrap` is a command prefix that must end by exec'ing its arguments (so that
    the process stopped is the proxy itself)."""

    def __init__(self, policy_yaml, args=(), wrap=()):
        self.dir = tempfile.mkdtemp(prefix="rf-px-", dir="/tmp")
        self.policy = os.path.join(self.dir, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(policy_yaml)
        self.audit = os.path.join(self.dir, "audit.jsonl")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.stderr_file = open(self.stderr_path, "w")
        self.p = subprocess.Popen(
            list(wrap) + [rf.BIN, "proxy", "--policy", self.policy, "--listen", "127.0.0.1:0",
                          "--audit", self.audit] + list(args),
            stdout=subprocess.PIPE, stderr=self.stderr_file, text=True)
        ready, _, _ = select.select([self.p.stdout], [], [], 10)
        line = self.p.stdout.readline().strip() if ready else ""
        if not line:
            self.stop()
            raise AssertionError("proxy did not start: " + self.stderr())
        host, port = line.rsplit(":", 1)
        self.addr = (host, int(port))
        self.url = "http://%s:%d" % self.addr
        self.summary = None

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.stderr_file.close()
        self.p.stdout.close()
        self.summary = self.stderr()
        return self.p.returncode

    def events(self):
        try:
            with open(self.audit) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.p.pid))

    def raw(self, data, timeout=5, shut=False):
        """Sends `data` on a new connection and returns what comes back until EOF."""
        s = socket.create_connection(self.addr, timeout=timeout)
        try:
            if data:
                s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
            out = b""
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    b = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not b:
                    break
                out += b
            return out
        finally:
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0].split(b" ")
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def json_body(resp):
    return json.loads(resp.split(b"\r\n\r\n", 1)[1])


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/echo-headers":
            body = json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                               "raw": [k for k in self.headers.keys()]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        body = json.dumps({"len": len(data), "sha": __import__("hashlib").sha256(data).hexdigest()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HttpServer:
    """http.server on 127.0.0.1 (or `host`) serving `root`; HTTPS if cert given."""

    def __init__(self, root, host="127.0.0.1", port=0, cert=None, key=None):
        handler = lambda *a, **k: _Handler(*a, directory=root, **k)  # noqa: E731
        self.srv = _Server((host, port), handler)
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1},
                                  daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def make_cert(d, name):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name,
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    return cert, key


class CountingListener:
    """A TCP listener that only counts the connections it accepts."""

    def __init__(self, host, port=0):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((host, port))
        self.s.listen(64)
        self.s.settimeout(0.1)
        self.port = self.s.getsockname()[1]
        self.count = 0
        self.stop_flag = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_flag:
            try:
                c, _ = self.s.accept()
                self.count += 1
                c.close()
            except (socket.timeout, OSError):
                pass

    def close(self):
        self.stop_flag = True
        self.t.join(2)
        self.s.close()


def connect_tunnel(proxy, host, port, timeout=10):
    """Opens a CONNECT tunnel: returns (socket, status); the head is read byte
    by byte so that no tunnel byte is consumed."""
    s = socket.create_connection(proxy.addr, timeout=timeout)
    s.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
              % (host.encode(), port, host.encode(), port))
    head = b""
    while not head.endswith(b"\r\n\r\n") and len(head) < 16384:
        b = s.recv(1)
        if not b:
            break
        head += b
    return s, status_of(head)


def echo_roundtrip(sock, blob, timeout=60):
    """Sends `blob` through `sock` (then EOF) while reading what comes back
    until EOF; returns the bytes read."""
    sock.settimeout(timeout)
    errors = []

    def send():
        try:
            sock.sendall(blob)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    chunks = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            b = sock.recv(1 << 20)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        chunks.append(b)
    t.join(timeout)
    if errors:
        raise AssertionError("sending through the tunnel failed: %r" % errors[0])
    return b"".join(chunks)


def pipe_fds(pid):
    """How many pipe descriptors process `pid` holds."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:")
        except OSError:
            pass
    return n


def max_pipes_during(pid, fn):
    """Runs fn() in a thread, sampling pipe_fds(pid) every few ms; returns
    (fn's result, the largest sample)."""
    out, most = [], pipe_fds(pid)
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    deadline = time.time() + 120
    while t.is_alive() and time.time() < deadline:
        most = max(most, pipe_fds(pid))
        time.sleep(0.002)
    t.join(5)
    return (out[0] if out else None), most


class FlipDns:
    """A UDP DNS server on 127.0.0.1 answering A queries for `name` with the
    entries of `answers` in turn (one per query; an entry is an address or a
    list of addresses); AAAA gets an empty answer."""

    def __init__(self, name, answers):
        self.name = name.lower().rstrip(".")
        self.answers = answers
        self.a_queries = 0
        self.log = []
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.1)
        self.port = self.s.getsockname()[1]
        self.stop_flag = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_flag:
            try:
                q, peer = self.s.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            try:
                self.s.sendto(self._answer(q), peer)
            except Exception:  # malformed query: ignore
                pass

    def _answer(self, q):
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        pos, labels = 12, []
        while q[pos]:
            n = q[pos]
            labels.append(q[pos + 1:pos + 1 + n].decode().lower())
            pos += n + 1
        pos += 1
        qtype, qclass = struct.unpack("!HH", q[pos:pos + 4])
        question = q[12:pos + 4]
        name = ".".join(labels)
        answers = b""
        rcode = 0
        if name != self.name:
            rcode = 3  # NXDOMAIN
        elif qtype == 1:
            addr = self.answers[self.a_queries % len(self.answers)]
            self.a_queries += 1
            self.log.append(addr)
            for a in ([addr] if isinstance(addr, str) else addr):
                answers += struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + socket.inet_aton(a)
        count = answers.count(b"\xc0\x0c\x00\x01")
        hdr = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, count, 0, 0)
        return hdr + question + answers

    def close(self):
        self.stop_flag = True
        self.t.join(2)
        self.s.close()


def curl(proxy, url, *extra, timeout=20, env=None):
    """curl through the proxy: returns (exit code, http code, body)."""
    r = subprocess.run(["/usr/bin/curl", "-sS", "-m", "15", "-o", "-", "-w", "\n%{http_code}",
                        "-x", proxy.url] + list(extra) + [url],
                       capture_output=True, text=True, timeout=timeout, env=env)
    body, _, code = r.stdout.rpartition("\n")
    return r.returncode, int(code or 0), body


POLICY = """version: 1
network:
  hosts: {{up.test: 127.0.0.1, git.test: 127.0.0.1, py.test: 127.0.0.1}}
network_policies:
  curl_only:
    name: curl-only
    endpoints:
      - {{ host: up.test, ports: [{http}, {https}], allowed_ips: [127.0.0.1/32] }}
    binaries:
      - {{ path: /usr/bin/curl }}
  python:
    endpoints:
      - {{ host: Py.Test., port: {http}, allowed_ips: [127.0.0.1] }}
    binaries:
      - {{ path: /usr/bin/python3 }}
  git:
    endpoints:
      - {{ host: git.test, ports: [{http}, {https}], allowed_ips: [127.0.0.1/32] }}
    binaries:
      - {{ path: /usr/bin/git }}
      - {{ path: "/usr/lib/git-core/**" }}
"""

PY_GET = r"""
import sys, urllib.request, urllib.error
op = urllib.request.build_opener(urllib.request.ProxyHandler({'http': sys.argv[1]}))
try:
    r = op.open(sys.argv[2], timeout=10)
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
"""


class ProxyEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-px-up-", dir="/tmp")
        os.chmod(cls.tmp, 0o755)
        with open(os.path.join(cls.tmp, "hello.txt"), "w") as f:
            f.write("hello through the proxy\n")
        # A bare repository served over dumb HTTP(S).
        work = os.path.join(cls.tmp, "work")
        git = lambda *a, **k: subprocess.run(["git"] + list(a), check=True, capture_output=True,  # noqa: E731
                                              timeout=30, **k)
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
        git("init", "-q", work)
        with open(os.path.join(work, "README"), "w") as f:
            f.write("proxied repo\n")
        git("-C", work, "add", "README")
        git("-C", work, "commit", "-q", "-m", "init", env=env)
        git("clone", "-q", "--bare", work, os.path.join(cls.tmp, "repo.git"))
        git("-C", os.path.join(cls.tmp, "repo.git"), "update-server-info")
        cls.cert, cls.key = make_cert(cls.tmp, "up.test")
        cls.git_cert, cls.git_key = make_cert(tempfile.mkdtemp(dir=cls.tmp), "git.test")
        cls.http = HttpServer(cls.tmp)
        cls.https = HttpServer(cls.tmp, cert=cls.cert, key=cls.key)
        cls.git_https = HttpServer(cls.tmp, cert=cls.git_cert, key=cls.git_key)
        policy = POLICY.format(http=cls.http.port, https=cls.https.port)
        policy = policy.replace("ports: [%d, %d], allowed_ips: [127.0.0.1/32] }\n    binaries:\n      - { path: /usr/bin/git }"
                                % (cls.http.port, cls.https.port),
                                "ports: [%d, %d], allowed_ips: [127.0.0.1/32] }\n    binaries:\n      - { path: /usr/bin/git }"
                                % (cls.http.port, cls.git_https.port))
        cls.policy = policy
        cls.proxy = Proxy(policy)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        for s in (cls.http, cls.https, cls.git_https):
            s.close()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_curl_plain_http_forward(self):
        rc, code, body = curl(self.proxy, "http://up.test:%d/hello.txt" % self.http.port)
        self.assertEqual((rc, code), (0, 200), body)
        self.assertEqual(body, "hello through the proxy\n")

    def test_curl_https_connect(self):
        rc, code, body = curl(self.proxy, "https://up.test:%d/hello.txt" % self.https.port,
                              "--cacert", self.cert)
        self.assertEqual((rc, code), (0, 200), body)
        self.assertEqual(body, "hello through the proxy\n")

    def test_curl_connect_for_plain_http(self):
        rc, code, body = curl(self.proxy, "http://up.test:%d/hello.txt" % self.http.port, "-p")
        self.assertEqual((rc, code), (0, 200), body)

    def test_right_host_wrong_port_403(self):
        rc, code, body = curl(self.proxy, "http://up.test:%d/hello.txt" % (self.http.port + 1))
        self.assertEqual(code, 403, body)
        j = json.loads(body)
        self.assertEqual(j["host"], "up.test")
        self.assertEqual(j["port"], self.http.port + 1)
        self.assertEqual(j["binary"], "/usr/bin/curl")
        self.assertIn("port", j["reason"])
        self.assertIn("curl-only", j["hint"])
        self.assertIn("error", j)

    def test_wrong_port_via_connect_403(self):
        r = subprocess.run(["/usr/bin/curl", "-sS", "-m", "10", "-p", "-x", self.proxy.url,
                            "-o", "/dev/null", "-w", "%{http_connect}",
                            "http://up.test:%d/" % (self.https.port + 7)],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.stdout.strip(), "403", r.stderr)

    def test_unlisted_host_403(self):
        rc, code, body = curl(self.proxy, "http://other.test:%d/hello.txt" % self.http.port)
        self.assertEqual(code, 403, body)
        j = json.loads(body)
        self.assertIn("no network policy", j["reason"])
        self.assertIn("host: other.test", j["hint"])

    def test_right_host_wrong_binary_403(self):
        r = subprocess.run([rf.PY, "-c", PY_GET, self.proxy.url,
                            "http://up.test:%d/hello.txt" % self.http.port],
                           capture_output=True, text=True, timeout=30)
        code, _, body = r.stdout.partition("\n")
        self.assertEqual(code, "403", r.stdout + r.stderr)
        j = json.loads(body)
        self.assertTrue(j["binary"].startswith("/usr/bin/python3"), j)
        self.assertIn("is not allowed", j["reason"])
        self.assertIn("/usr/bin/curl", j["hint"])

    def test_python_urllib_allowed(self):
        r = subprocess.run([rf.PY, "-c", PY_GET, self.proxy.url,
                            "http://py.test:%d/hello.txt" % self.http.port],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "200\nhello through the proxy\n\n", r.stderr)

    def test_ancestor_binary_counts(self):
        # The python-only host: curl is allowed because its parent, this test
        # runner, is /usr/bin/python3 (ancestors inside the sandbox count).
        rc, code, body = curl(self.proxy, "http://py.test:%d/hello.txt" % self.http.port)
        self.assertEqual(code, 200, body)
        ev = [e for e in self.proxy.events() if e.get("host") == "py.test" and e["action"] == "allow"]
        self.assertTrue(any(e["binary"] == "/usr/bin/curl" for e in ev), ev)

    def test_git_clone_http(self):
        with rf.TempDir() as d:
            env = dict(os.environ, http_proxy=self.proxy.url, GIT_TERMINAL_PROMPT="0")
            r = subprocess.run(["git", "clone", "-q", "http://git.test:%d/repo.git" % self.http.port,
                                os.path.join(d, "c")], capture_output=True, text=True, timeout=60,
                               env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(d, "c", "README")) as f:
                self.assertEqual(f.read(), "proxied repo\n")

    def test_git_clone_https(self):
        with rf.TempDir() as d:
            env = dict(os.environ, https_proxy=self.proxy.url, GIT_SSL_CAINFO=self.git_cert,
                       GIT_TERMINAL_PROMPT="0")
            r = subprocess.run(["git", "clone", "-q",
                                "https://git.test:%d/repo.git" % self.git_https.port,
                                os.path.join(d, "c")], capture_output=True, text=True, timeout=60,
                               env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.exists(os.path.join(d, "c", "README")))

    def wait_deny(self, host, port, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            ev = [e for e in self.proxy.events()
                  if e["action"] == "deny" and e.get("host") == host and e.get("port") == port]
            if ev:
                return ev
            time.sleep(0.05)
        return []

    def test_git_clone_http_refused_port(self):
        # git.test is allowed to git, but not on this port: the forward
        # request is answered 403 and nothing reaches the listener there.
        target = CountingListener("127.0.0.1")
        try:
            with rf.TempDir() as d:
                env = dict(os.environ, http_proxy=self.proxy.url, GIT_TERMINAL_PROMPT="0")
                r = subprocess.run(["git", "clone", "-q",
                                    "http://git.test:%d/repo.git" % target.port,
                                    os.path.join(d, "c")], capture_output=True, text=True,
                                   timeout=60, env=env)
                self.assertNotEqual(r.returncode, 0, r.stderr)
                self.assertIn("The requested URL returned error: 403", r.stderr)
                self.assertFalse(os.path.exists(os.path.join(d, "c", "README")))
            ev = self.wait_deny("git.test", target.port)
            self.assertTrue(ev, self.proxy.events())
            self.assertIn("port %d is not allowed" % target.port, ev[-1]["reason"])
            self.assertTrue(ev[-1]["binary"].startswith("/usr/lib/git-core/"), ev[-1])
            self.assertEqual(target.count, 0, "the refused request reached the upstream")
        finally:
            target.close()

    def test_git_clone_https_refused_host(self):
        # A host no policy lists: the CONNECT is answered 403, no tunnel.
        target = CountingListener("127.0.0.1")
        try:
            with rf.TempDir() as d:
                env = dict(os.environ, https_proxy=self.proxy.url, GIT_SSL_CAINFO=self.git_cert,
                           GIT_TERMINAL_PROMPT="0")
                r = subprocess.run(["git", "clone", "-q",
                                    "https://nogit.test:%d/repo.git" % target.port,
                                    os.path.join(d, "c")], capture_output=True, text=True,
                                   timeout=60, env=env)
                self.assertNotEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stderr, r"CONNECT tunnel failed, response 403|"
                                           r"Proxy CONNECT aborted")
            ev = self.wait_deny("nogit.test", target.port)
            self.assertTrue(ev, self.proxy.events())
            self.assertIn("no network policy", ev[-1]["reason"])
            self.assertEqual(target.count, 0, "the refused tunnel reached the upstream")
        finally:
            target.close()

    def test_git_host_refused_to_curl(self):
        rc, code, body = curl(self.proxy, "http://git.test:%d/repo.git/HEAD" % self.http.port)
        self.assertEqual(code, 403, body)
        self.assertIn("/usr/lib/git-core/**", json.loads(body)["hint"])

    def test_forward_strips_hop_by_hop_and_sets_host(self):
        rc, code, body = curl(self.proxy, "http://up.test:%d/echo-headers" % self.http.port,
                              "-H", "Connection: X-Secret", "-H", "X-Secret: 1",
                              "-H", "Proxy-Connection: keep-alive", "-H", "Keep-Alive: 1",
                              "-H", "Proxy-Authorization: Basic eA==", "-H", "X-Kept: yes")
        self.assertEqual(code, 200, body)
        h = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
        for gone in ("x-secret", "proxy-connection", "keep-alive", "proxy-authorization"):
            self.assertNotIn(gone, h)
        self.assertEqual(h["x-kept"], "yes")
        self.assertEqual(h["host"], "up.test:%d" % self.http.port)
        self.assertEqual(h["connection"], "close")

    def test_forward_post_body(self):
        data = os.urandom(300000)
        with rf.TempDir() as d:
            p = os.path.join(d, "body")
            with open(p, "wb") as f:
                f.write(data)
            rc, code, body = curl(self.proxy, "http://up.test:%d/upload" % self.http.port,
                                  "--data-binary", "@" + p)
        self.assertEqual(code, 200, body)
        import hashlib
        self.assertEqual(json.loads(body), {"len": len(data), "sha": hashlib.sha256(data).hexdigest()})

    def test_large_download_through_tunnel_is_intact(self):
        import hashlib
        blob = os.urandom(8 << 20)
        p = os.path.join(self.tmp, "big.bin")
        with open(p, "wb") as f:
            f.write(blob)
        os.chmod(p, 0o644)
        r = subprocess.run(["/usr/bin/curl", "-sS", "-m", "30", "-x", self.proxy.url, "--cacert",
                            self.cert, "https://up.test:%d/big.bin" % self.https.port],
                           capture_output=True, timeout=40)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(hashlib.sha256(r.stdout).hexdigest(), hashlib.sha256(blob).hexdigest())

    def test_audit_events(self):
        curl(self.proxy, "http://up.test:%d/hello.txt" % self.http.port)
        curl(self.proxy, "http://up.test:%d/hello.txt" % (self.http.port + 2))
        deadline = time.time() + 5
        ev = []
        while time.time() < deadline:
            ev = self.proxy.events()
            if any(e["action"] == "deny" and e["port"] == self.http.port + 2 for e in ev):
                break
            time.sleep(0.05)
        allow = [e for e in ev if e["action"] == "allow" and e.get("port") == self.http.port]
        deny = [e for e in ev if e["action"] == "deny" and e.get("port") == self.http.port + 2]
        self.assertTrue(allow and deny, ev)
        a = allow[-1]
        self.assertEqual((a["layer"], a["host"], a["address"], a["binary"], a["policy"]),
                         ("proxy", "up.test", "127.0.0.1", "/usr/bin/curl", "curl-only"))
        self.assertGreater(a["pid"], 1)
        d = deny[-1]
        self.assertEqual((d["host"], d["binary"]), ("up.test", "/usr/bin/curl"))
        self.assertTrue(d["reason"])


class ProxyBufferLoop(unittest.TestCase):
    """`--no-splice`: tunnel, forwarded bodies and responses go through the
    read/write buffer loop; 8 MiB each way must arrive intact, and the proxy
    must hold no splice pipe while moving them."""

    SIZE = 8 << 20

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-px-nosplice-", dir="/tmp")
        os.chmod(cls.tmp, 0o755)
        cls.blob = os.urandom(cls.SIZE)
        with open(os.path.join(cls.tmp, "big.bin"), "wb") as f:
            f.write(cls.blob)
        os.chmod(os.path.join(cls.tmp, "big.bin"), 0o644)
        cls.echo = EchoServer()
        cls.http = HttpServer(cls.tmp)
        policy = ("version: 1\nnetwork:\n  hosts: {echo.test: 127.0.0.1, up.test: 127.0.0.1}\n"
                  "network_policies:\n  bulk:\n    endpoints:\n"
                  "      - { host: echo.test, port: %d, allowed_ips: [127.0.0.1/32] }\n"
                  "      - { host: up.test, port: %d, allowed_ips: [127.0.0.1/32] }\n"
                  % (cls.echo.port, cls.http.port))
        cls.proxy = Proxy(policy, ["--no-splice"])
        cls.base_pipes = pipe_fds(cls.proxy.p.pid)  # before any connection

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.echo.close()
        cls.http.close()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def sha(self, data):
        import hashlib
        return hashlib.sha256(data).hexdigest()

    def test_connect_tunnel_both_directions_intact(self):
        before = self.echo.count
        s, status = connect_tunnel(self.proxy, "echo.test", self.echo.port)
        try:
            self.assertEqual(status, 200)
            back, pipes = max_pipes_during(self.proxy.p.pid, lambda: echo_roundtrip(s, self.blob))
        finally:
            s.close()
        self.assertEqual(rf.wait_count(lambda: self.echo.count, before + 1), before + 1)
        self.assertEqual(len(back), len(self.blob))
        self.assertEqual(self.sha(back), self.sha(self.blob))
        self.assertEqual(pipes, self.base_pipes, "a splice pipe was used despite --no-splice")

    def test_forward_get_intact(self):
        def get():
            return subprocess.run(["/usr/bin/curl", "-sS", "-m", "60", "-x", self.proxy.url,
                                   "http://up.test:%d/big.bin" % self.http.port],
                                  capture_output=True, timeout=90)
        r, pipes = max_pipes_during(self.proxy.p.pid, get)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout), len(self.blob))
        self.assertEqual(self.sha(r.stdout), self.sha(self.blob))
        self.assertEqual(pipes, self.base_pipes, "a splice pipe was used despite --no-splice")

    def test_forward_post_body_intact(self):
        def post():
            return curl(self.proxy, "http://up.test:%d/upload" % self.http.port,
                        "--data-binary", "@" + os.path.join(self.tmp, "big.bin"), timeout=90)
        (rc, code, body), pipes = max_pipes_during(self.proxy.p.pid, post)
        self.assertEqual((rc, code), (0, 200), body)
        self.assertEqual(json.loads(body), {"len": len(self.blob), "sha": self.sha(self.blob)})
        self.assertEqual(pipes, self.base_pipes, "a splice pipe was used despite --no-splice")


class ProxySummary(unittest.TestCase):
    def test_denial_summary_at_exit(self):
        policy = "version: 1\nnetwork_policies:\n  p:\n    endpoints:\n      - { host: a.test, port: 1 }\n"
        px = Proxy(policy)
        try:
            for _ in range(3):
                rc, code, _ = curl(px, "http://denied.test:81/")
                self.assertEqual(code, 403)
            rc, code, _ = curl(px, "http://a.test:2/")
            self.assertEqual(code, 403)
        finally:
            self.assertEqual(px.stop(), 0)
        self.assertIn("proxy denied 4 connection(s)", px.summary)
        self.assertRegex(px.summary, r"denied\.test:81\s+/usr/bin/curl\s+x3")
        self.assertRegex(px.summary, r"a\.test:2\s+/usr/bin/curl\s+x1")

    def test_inspecting_proxy_needs_its_ca_written_out(self):
        # The standalone proxy with an inspected endpoint: clients must trust
        # the CA it makes, so it refuses to start without --ca-cert-out.
        with rf.TempDir() as d:
            p = os.path.join(d, "p.yaml")
            with open(p, "w") as f:
                f.write("version: 1\nnetwork_policies:\n  p:\n    endpoints:\n"
                        "      - { host: a.test, port: 443, protocol: rest, access: read-only }\n")
            r = subprocess.run([rf.BIN, "proxy", "--policy", p], capture_output=True, text=True,
                               timeout=10)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("--ca-cert-out", r.stderr)
            ca = os.path.join(d, "ca.pem")
            proc = subprocess.Popen([rf.BIN, "proxy", "--policy", p, "--ca-cert-out", ca],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                line = proc.stdout.readline()  # the bound address, once ready
                self.assertTrue(line.strip(), proc.stderr.read() if proc.poll() is not None else "")
                with open(ca) as f:
                    self.assertIn("BEGIN CERTIFICATE", f.read())
            finally:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    unittest.main()
