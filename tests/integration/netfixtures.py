"""Host-side fixtures for network tests: listeners that count what reaches
them, a UDP/DNS sink, an abstract unix listener, a local HTTPS server with a
throw-away certificate. Everything binds loopback (or a local address of this
host) and stops by itself."""
import os
import socket
import ssl
import subprocess
import threading
import http.server


def free_port(host="127.0.0.1", family=socket.AF_INET, kind=socket.SOCK_STREAM):
    s = socket.socket(family, kind)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def hit(self):
        with self.lock:
            self.n += 1


class _AcceptCounter:
    """Accepts and counts connections on a listening socket, in a thread."""

    def _start(self, sock):
        self.count = Counter()
        self.sock = sock
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.count.hit()
            c.close()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


class TcpListener(_AcceptCounter):
    """Accepts and counts connections on (host, port)."""

    def __init__(self, host, port, family=socket.AF_INET):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.port = sock.getsockname()[1]
        self._start(sock)


class UdpSink:
    """Counts datagrams; answers DNS-looking ones with a minimal reply."""

    def __init__(self, host="127.0.0.1", port=0):
        self.count = Counter()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            self.count.hit()
            if len(data) >= 12:
                reply = data[:2] + b"\x81\x80" + data[4:6] + b"\x00\x00\x00\x00\x00\x00" + data[12:]
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


class AbstractListener(_AcceptCounter):
    def __init__(self, name):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind("\0" + name)
        self._start(sock)


class UnixPathListener(_AcceptCounter):
    """A host pathname unix socket anyone may connect to (mode 0777), like
    a daemon's socket whose Unix permissions would let the sandbox in."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o777)
        self._start(sock)

    def close(self):
        super().close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class UnixDatagramSink:
    """A host pathname datagram socket (like /dev/log), mode 0777; counts
    what arrives."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)
        self.sock.setblocking(False)

    def received(self):
        n = 0
        while True:
            try:
                self.sock.recv(4096)
            except BlockingIOError:
                return n
            n += 1

    def close(self):
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class HttpsServer:
    """HTTPS on 127.0.0.1 for host `name`, with a self-signed certificate."""

    def __init__(self, directory, name="local.test", body=b"hello-over-tls\n",
                 address=("127.0.0.1", 0)):
        self.cert = os.path.join(directory, "cert.pem")
        key = os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", self.cert, "-days", "1", "-subj", f"/CN={name}",
                        "-addext", f"subjectAltName=DNS:{name}"],
                       check=True, capture_output=True, timeout=60)
        os.chmod(self.cert, 0o644)
        payload = body

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(address, Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def non_loopback_ipv4():
    """A global IPv4 address of this host, or None."""
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            return parts[parts.index("inet") + 1].split("/")[0]
    return None


class EchoServer:
    """TCP echo on 127.0.0.1 (one thread per connection, bounded lifetime);
    `count` is the number of connections accepted."""

    def __init__(self):
        self.count = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _serve(self, c):
        c.settimeout(10)
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        finally:
            c.close()

    def _run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.count += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
