"""Fixtures for the L7 tests (test_l7.py): a throw-away certificate authority
made with openssl, an HTTP(S) server on 127.0.0.1 that records every request
it receives (method, target, Host, SNI, body sha256) and serves what the
clients need (JSON echo, 8 MiB blob, body checksums, git smart HTTP through
`git http-backend`, a PEP 503 index with a wheel built here, a minimal RFC
6455 WebSocket echo), a stdlib-only client script, and a private /etc/hosts
view for the control runs without ringfence. Everything binds loopback;
every socket and wait has a deadline."""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import zipfile

import rf
from netfixtures import EchoServer

BLOB_SIZE = 8 << 20
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B85"
NAMES = ("api.test", "other.test", "git.test", "pypi.test")


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


class TestCA:
    """A CA (EC P-256) in `directory` and one leaf for `names` signed by it:
    ca.pem is what the proxy is told to trust (network.upstream_ca) and what
    the control runs trust in place of the run's CA."""

    def __init__(self, directory, names=NAMES, label="l7"):
        self.dir = directory
        self.ca = os.path.join(directory, f"{label}-ca.pem")
        ca_key = os.path.join(directory, f"{label}-ca.key")
        self.cert = os.path.join(directory, f"{label}-leaf.pem")
        self.key = os.path.join(directory, f"{label}-leaf.key")
        csr = os.path.join(directory, f"{label}-leaf.csr")
        ext = os.path.join(directory, f"{label}-leaf.ext")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", ca_key, "-out", self.ca, "-days", "2", "-subj", f"/CN=ringfence {label} test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key,
                 "-out", csr, "-subj", f"/CN={names[0]}")
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join("DNS:" + n for n in names) + "\n"
                    "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", self.cert, "-days", "2", "-extfile", ext)
        for p in (self.ca, self.cert):
            os.chmod(p, 0o644)


def client_env(ca_file, base=None):
    """The environment of a control run: what ringfence's contract exports
    for the run's CA, pointed at the test CA instead, and no proxy."""
    env = dict(base if base is not None else os.environ)
    for k in list(env):
        if k.lower().endswith("_proxy") or k.startswith("PIP_"):
            del env[k]
    for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
              "GIT_SSL_CAINFO", "PIP_CERT", "AWS_CA_BUNDLE"):
        env[k] = ca_file
    env["HOME"] = env.get("HOME", "/root")
    return env


class HostsView:
    """Control runs resolve the test names to 127.0.0.1 without touching the
    host: a private mount namespace (root only) with its own /etc/hosts."""

    def __init__(self, directory, names=NAMES):
        self.file = os.path.join(directory, "hosts")
        with open(self.file, "w") as f:
            f.write("127.0.0.1 localhost " + " ".join(names) + "\n")
        os.chmod(self.file, 0o644)

    def prefix(self):
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                f'mount --bind {self.file} /etc/hosts && exec "$@"', "sh"]


class Records:
    """What the server received, one dict per request, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, **kw):
        with self.lock:
            self.items.append(kw)

    def clear(self):
        with self.lock:
            self.items.clear()

    def snapshot(self):
        with self.lock:
            return list(self.items)

    def paths(self, method=None):
        return [r["target"] for r in self.snapshot() if method is None or r["method"] == method]


def build_wheel(directory, name="rfdemo", version="1.0"):
    """A minimal pure-Python wheel (one module, METADATA, WHEEL, RECORD)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": b"VALUE = 'installed-through-l7'\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: ringfence-tests\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    record += f"{dist}/RECORD,,\n"
    files[f"{dist}/RECORD"] = record.encode()
    path = os.path.join(directory, f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as z:
        for p, data in files.items():
            z.writestr(p, data)
    return path


def make_git_repo(root, name="repo.git"):
    """A bare repository with one commit under `root`, served read-write by
    git http-backend (http.receivepack: the control shows push works)."""
    bare = os.path.join(root, name)
    work = os.path.join(root, "seed")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@test", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@test", GIT_CONFIG_NOSYSTEM="1", HOME=root)
    for argv in (["git", "init", "-q", "--bare", "-b", "main", bare],
                 ["git", "-C", bare, "config", "http.receivepack", "true"],
                 ["git", "init", "-q", "-b", "main", work]):
        subprocess.run(argv, check=True, capture_output=True, timeout=60, env=env)
    with open(os.path.join(work, "README"), "w") as f:
        f.write("cloned-through-l7\n")
    for argv in (["git", "-C", work, "add", "README"], ["git", "-C", work, "commit", "-q", "-m", "one"],
                 ["git", "-C", work, "push", "-q", bare, "main"]):
        subprocess.run(argv, check=True, capture_output=True, timeout=60, env=env)
    shutil.rmtree(work)
    subprocess.run(["chmod", "-R", "a+rwX", root], check=True, timeout=60)
    return bare


def ws_frame(opcode, payload, mask=True):
    """One final WebSocket frame (masked as a client must)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_read(rfile):
    """(opcode, payload) of the next frame, or None at end of stream."""
    h = rfile.read(2)
    if len(h) < 2:
        return None
    opcode, n, masked = h[0] & 0x0F, h[1] & 0x7F, h[1] & 0x80
    if n == 126:
        n = struct.unpack("!H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rfile.read(8))[0]
    key = rfile.read(4) if masked else b""
    data = rfile.read(n)
    if masked:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return opcode, data


class L7Server:
    """HTTP/1.1 (keep-alive) on 127.0.0.1, TLS with `ca`'s leaf unless
    ca is None. Routes: /blob (8 MiB, sha256 in .blob_sha), /git/... (git
    http-backend over `git_root`), /simple/<name>/ and /files/<wheel> (the
    index over `wheels`), /ws (WebSocket echo); anything else answers 200
    with JSON {method, target, sha256, length} of what it got. Every request
    is recorded before it is answered."""

    def __init__(self, ca=None, git_root=None, wheels=()):
        self.records = Records()
        self.ws_messages = Records()
        self.blob = os.urandom(BLOB_SIZE)
        self.blob_sha = hashlib.sha256(self.blob).hexdigest()
        self.git_root = git_root
        self.wheels = {os.path.basename(w): w for w in wheels}
        self.tls = ca is not None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30

            def log_message(self, *a):
                pass

            def setup(self):
                # The handshake in the connection's own thread, bounded: a
                # peer that never finishes it holds up no one else.
                if server.tls:
                    self.request.settimeout(10)
                    self.request.do_handshake()
                super().setup()

            def _body(self):
                """(sha256 hex, length, bytes) of the request body: Content-Length
                or chunked, read in pieces."""
                h, parts, total = hashlib.sha256(), [], 0
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        data = self.rfile.read(size)
                        self.rfile.readline()
                        h.update(data)
                        total += len(data)
                        parts.append(data)
                else:
                    left = int(self.headers.get("Content-Length") or 0)
                    while left > 0:
                        data = self.rfile.read(min(left, 1 << 16))
                        if not data:
                            break
                        h.update(data)
                        total += len(data)
                        left -= len(data)
                        parts.append(data)
                return h.hexdigest(), total, b"".join(parts)

            def _send(self, code, body, ctype="application/json", extra=()):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self):
                sha, length, body = self._body()
                sni = getattr(self.connection, "rf_sni", None)
                server.records.add(method=self.command, target=self.path, host=self.headers.get("Host"),
                                   sni=sni, sha256=sha, length=length, headers=dict(self.headers.items()),
                                   body=body)
                path = self.path.split("?", 1)[0]
                if path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
                    return self._websocket()
                if path == "/blob" and self.command == "GET":
                    return self._send(200, server.blob, "application/octet-stream")
                if path.startswith("/git/") and server.git_root:
                    return self._git(body)
                if path.startswith("/simple/"):
                    name = path.strip("/").split("/")[-1]
                    links = "".join(f'<a href="/files/{w}#sha256={_sha_file(p)}">{w}</a>\n'
                                    for w, p in server.wheels.items() if w.startswith(name + "-"))
                    if not links:
                        return self._send(404, b"no such project\n", "text/plain")
                    return self._send(200, f"<html><body>\n{links}</body></html>\n".encode(), "text/html")
                if path.startswith("/files/") and path[7:] in server.wheels:
                    with open(server.wheels[path[7:]], "rb") as f:
                        return self._send(200, f.read(), "application/octet-stream")
                self._send(200, json.dumps({"method": self.command, "target": self.path, "sha256": sha,
                                            "length": length}).encode())

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

            def _git(self, body):
                path, _, query = self.path.partition("?")
                env = {"PATH": "/usr/bin:/bin", "GIT_PROJECT_ROOT": server.git_root,
                       "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path[len("/git"):],
                       "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                       "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
                       "GIT_CONFIG_NOSYSTEM": "1", "HOME": server.git_root}
                for hdr in ("Content-Encoding", "Git-Protocol"):
                    if self.headers.get(hdr):
                        env["HTTP_" + hdr.upper().replace("-", "_")] = self.headers[hdr]
                p = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env,
                                   timeout=60)
                head, _, out = p.stdout.partition(b"\r\n\r\n")
                if not _:
                    head, _, out = p.stdout.partition(b"\n\n")
                code, extra, ctype = 200, [], "text/plain"
                for line in head.decode("latin-1").splitlines():
                    k, _, v = line.partition(":")
                    if k.lower() == "status":
                        code = int(v.strip().split()[0])
                    elif k.lower() == "content-type":
                        ctype = v.strip()
                    elif k and k.lower() not in ("content-length",):
                        extra.append((k, v.strip()))
                self._send(code, out, ctype, extra)

            def _websocket(self):
                key = self.headers.get("Sec-WebSocket-Key", "").encode()
                accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.end_headers()
                self.wfile.flush()
                self.close_connection = True
                for _ in range(1000):
                    frame = ws_read(self.rfile)
                    if frame is None:
                        return
                    opcode, data = frame
                    server.ws_messages.add(opcode=opcode, sha256=hashlib.sha256(data).hexdigest(),
                                           data=data)
                    if opcode == 8:
                        self.wfile.write(ws_frame(8, data[:2], mask=False))
                        return
                    if opcode in (1, 2):
                        self.wfile.write(ws_frame(opcode, data, mask=False))
                    elif opcode == 9:
                        self.wfile.write(ws_frame(10, data, mask=False))
                    self.wfile.flush()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

            def handle_error(self, request, client_address):
                # Refused handshakes and peers that hang up are expected
                # here (the tests provoke them); what reached the server is
                # in `records`.
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(ca.cert, ca.key)
            ctx.set_alpn_protocols(["http/1.1"])

            def remember_sni(sock, name, _ctx):
                sock.rf_sni = name
            ctx.sni_callback = remember_sni
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def paths(self, method=None):
        """The request targets received, in order."""
        return self.records.paths(method)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _sha_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# The client the sandboxed command runs (stdlib only): the same script, the
# same arguments, inside ringfence and in the control; through HTTPS_PROXY
# when there is one (a hand-made CONNECT where urllib cannot be used).
CLIENT = r'''
import hashlib, json, os, socket, ssl, struct, sys, urllib.parse, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from l7wire import read_head, ws_frame, ws_read

def tunnel(host, port):
    """A socket to host:port, through the CONNECT proxy in HTTPS_PROXY if any."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if not proxy:
        return socket.create_connection((host, port), timeout=20)
    u = urllib.parse.urlsplit(proxy)
    s = socket.create_connection((u.hostname, u.port), timeout=20)
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    head = read_head(s)
    if b" 200" not in head.split(b"\r\n")[0]:
        raise SystemExit("CONNECT refused: " + head.decode("latin-1"))
    return s

def tls(host, port, sni):
    s = tunnel(host, port)
    ctx = ssl.create_default_context()   # SSL_CERT_FILE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx.wrap_socket(s, server_hostname=sni)

def main():
    what = sys.argv[1]
    out = {}
    if what == "urllib":
        method, url = sys.argv[2], sys.argv[3]
        data = sys.argv[4].encode() if len(sys.argv) > 4 else None
        req = urllib.request.Request(url, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                out = {"status": r.status, "body": r.read().decode("latin-1")}
        except urllib.error.HTTPError as e:
            out = {"status": e.code, "body": e.read().decode("latin-1"),
                   "connection": e.headers.get("Connection")}
    elif what == "upload":
        url, n = sys.argv[2], int(sys.argv[3])
        body = hashlib.sha256(b"seed").digest() * (n // 32)
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=60) as r:
            reply = json.loads(r.read())
        out = {"status": r.status, "sent": hashlib.sha256(body).hexdigest(), "server": reply["sha256"],
               "length": reply["length"]}
    elif what == "download":
        h, n = hashlib.sha256(), 0
        with urllib.request.urlopen(sys.argv[2], timeout=60) as r:
            while True:
                b = r.read(1 << 16)
                if not b:
                    break
                h.update(b)
                n += len(b)
        out = {"status": r.status, "sha256": h.hexdigest(), "length": n}
    elif what == "sni":
        host, port, sni = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        try:
            s = tls(host, port, sni)
        except (ssl.SSLError, OSError) as e:
            out = {"handshake": "failed", "error": str(e)}
        else:
            s.sendall(f"GET /sni-probe HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            data = read_head(s)
            out = {"handshake": "ok", "status_line": data.split(b"\r\n")[0].decode("latin-1")}
    elif what == "ws":
        host, port = sys.argv[2], int(sys.argv[3])
        s = tls(host, port, host)
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
        f = s.makefile("rb")
        status = f.readline().decode("latin-1").strip()
        while f.readline() not in (b"\r\n", b""):
            pass
        out["upgrade"] = status
        out["frames"] = []
        for kind in (sys.argv[4:] if status.split()[1:2] == ["101"] else []):
            op = 1 if kind.startswith("text:") else 2
            s.sendall(ws_frame(op, kind.split(":", 1)[1].encode()))
            try:
                fr = ws_read(f)
            except OSError as e:
                fr = None
            if fr is None:
                out["frames"].append({"eof": True})
                break
            op_in, data = fr
            item = {"opcode": op_in, "data": data[2:].decode("latin-1") if op_in == 8 else
                    data.decode("latin-1")}
            if op_in == 8:
                item["code"] = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
            out["frames"].append(item)
            if op_in == 8:
                break
    print(json.dumps(out))

main()
'''


def write_client(directory):
    """l7client.py and the frame helpers it imports, into `directory`."""
    import inspect
    with open(os.path.join(directory, "l7client.py"), "w") as f:
        f.write(CLIENT)
    with open(os.path.join(directory, "l7wire.py"), "w") as f:
        f.write("import os, struct\n\n" + "\n\n".join(inspect.getsource(fn)
                                                   for fn in (rf.read_head, ws_frame, ws_read)))
    for name in ("l7client.py", "l7wire.py"):
        os.chmod(os.path.join(directory, name), 0o644)
    return os.path.join(directory, "l7client.py")


class ConnectProxy(EchoServer):
    """A plain CONNECT relay on 127.0.0.1 (no inspection) for the control
    runs: shows each client really goes through HTTPS_PROXY (Node's fetch
    through the undici preload, git, pip, the hand-made CONNECT of
    l7client.py) before the same run meets ringfence's proxy. The test
    names resolve to 127.0.0.1; `targets` lists the CONNECT authorities."""

    def __init__(self, names=NAMES):
        self.names = set(names)
        self.targets = Records()
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, c):
        up = None
        try:
            c.settimeout(30)
            head = rf.read_head(c)
            if not head:
                return
            method, authority = head.split(b" ")[:2]
            host, _, port = authority.decode("latin-1").rpartition(":")
            self.targets.add(method=method.decode("latin-1"), authority=f"{host}:{port}")
            if method != b"CONNECT" or host not in self.names:
                c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            up = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
            up.settimeout(30)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            t = threading.Thread(target=_pump, args=(up, c), daemon=True)
            t.start()
            _pump(c, up)
            t.join(60)
        except (OSError, ValueError):
            pass
        finally:
            c.close()
            if up:
                up.close()


def _pump(src, dst):
    """Copies src to dst until end of stream or an idle timeout, then
    passes the end on."""
    try:
        while True:
            data = src.recv(1 << 16)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
