"""The connect guard handles the sandbox's connects concurrently: one
connect() made on the command's behalf that blocks (a listener whose
backlog is full and that never accepts) must not hold up the others."""
import os
import subprocess
import time
import unittest

import rf

# Thread A connects (blocking) to a listener of the program's own whose
# backlog is full; once A is inside connect(), the main thread connects to
# a second listener and says how long that took. Bounded: os._exit ends A.
PROGRAM = r"""
import os, socket, sys, threading, time
d = sys.argv[1]
full = socket.socket(socket.AF_UNIX)
full.bind(d + "/full")
full.listen(0)
fillers = []
for _ in range(64):  # fill the backlog: non-blocking connects until EAGAIN
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(d + "/full")
    except BlockingIOError:
        break
    fillers.append(c)
print("filled", len(fillers), flush=True)
started = threading.Event()
def blocked():
    s = socket.socket(socket.AF_UNIX)
    started.set()
    try:
        s.connect(d + "/full")
        print("blocked connect returned", flush=True)
    except OSError as e:
        print("blocked connect failed", e, flush=True)
threading.Thread(target=blocked, daemon=True).start()
started.wait()
time.sleep(0.5)  # A is now inside connect()
ok = socket.socket(socket.AF_UNIX)
ok.bind(d + "/ok")
ok.listen(8)
t0 = time.monotonic()
c = socket.socket(socket.AF_UNIX)
c.connect(d + "/ok")
print("second connect %.3f" % (time.monotonic() - t0), flush=True)
os._exit(0)
"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc]
  read_write: [%(dir)s]
network:
  mode: %(mode)s
"""


class BlockedConnectDoesNotStallOthers(unittest.TestCase):
    def check(self, mode, argv_prefix):
        with rf.TempDir() as d:
            prog = os.path.join(d, "prog.py")
            with open(prog, "w") as f:
                f.write(PROGRAM)
            os.chmod(prog, 0o644)
            sock_dir = os.path.join(d, "s")
            os.mkdir(sock_dir)
            os.chmod(sock_dir, 0o777)
            argv = argv_prefix(POLICY % {"dir": d, "mode": mode}, d) + [rf.PY, prog, sock_dir]
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                out, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                self.fail("the second connect never completed (%s): %r %r" % (mode, out, err))
            self.assertIn("second connect", out, err)
            took = float(out.split("second connect ")[1].split()[0])
            # Not a speed assertion: the old guard never answers the second
            # connect while the first blocks (the run hits the deadline above).
            self.assertLess(took, 20.0, out)

    def test_control_without_ringfence(self):
        self.check("platform", lambda policy, d: [])

    def _ringfence(self, policy, d):
        path = os.path.join(d, "policy.yaml")
        with open(path, "w") as f:
            f.write(policy)
        return [rf.BIN, "run", "-q", "--policy", path, "--"]

    def test_platform(self):
        self.check("platform", self._ringfence)

    @unittest.skipUnless(rf.IS_ROOT, "namespace mode needs root here")
    def test_namespace(self):
        self.check("namespace", self._ringfence)


if __name__ == "__main__":
    unittest.main()


# The caller identity the guard records for the proxy: a process the policy
# does not name must never be taken for one it does. The attack (found in
# review): the allowed binary connects from local port K to "the proxy's
# port" on another loopback address the sandbox serves itself (namespace
# mode), leaving a record the proxy never takes; then another program binds
# K, connects to the real proxy and sends from a second thread while the
# guard is still connecting, before a record of its own replaced the stale
# one. Bounded: ATTEMPTS rounds of at most a few seconds each.
IMPERSONATION = r"""
import os, socket, subprocess, sys, threading, time
up, attempts = int(sys.argv[1]), int(sys.argv[2])
proxy_port = int(os.environ["RINGFENCE_PROXY"].rsplit(":", 1)[1].rstrip("/"))
decoy = socket.socket()
decoy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
decoy.bind(("127.0.0.2", proxy_port))
decoy.listen(64)
def serve():
    while True:
        c, _ = decoy.accept()
        c.close()
threading.Thread(target=serve, daemon=True).start()
req = ("GET http://local.test:%d/ HTTP/1.1\r\nHost: local.test:%d\r\nConnection: close\r\n\r\n"
       % (up, up)).encode()
# Positive control: curl itself gets through.
ok = subprocess.run(["/usr/bin/curl", "-s", "-m", "5", "http://local.test:%d/" % up],
                    capture_output=True, text=True)
print("curl", "SECRET" in ok.stdout, flush=True)
wins = 0
for attempt in range(attempts):
    k = 21000 + attempt
    subprocess.run(["/usr/bin/curl", "-s", "-m", "2", "--noproxy", "*", "--local-port", str(k),
                    "http://127.0.0.2:%d/" % proxy_port],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    time.sleep(0.05)
    try:
        s.bind(("127.0.0.1", k))
    except OSError:
        s.close()
        continue
    sent = threading.Event()
    def early():
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2:
            try:
                s.send(req, socket.MSG_NOSIGNAL)
                sent.set()
                return
            except OSError:
                pass
    t = threading.Thread(target=early)
    t.start()
    try:
        s.connect(("127.0.0.1", proxy_port))
    except OSError:
        pass
    t.join()
    try:
        if not sent.is_set():
            s.send(req)
        s.settimeout(3)
        data = b""
        while len(data) < 65536:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        data = b""
    if b"SECRET" in data:
        wins += 1
    s.close()
print("wins", wins, flush=True)
"""


class IdentityCannotBeBorrowed(unittest.TestCase):
    ATTEMPTS = 60

    @unittest.skipUnless(rf.IS_ROOT, "namespace mode needs root here")
    def test_another_program_never_passes_as_the_allowed_binary(self):
        import http.server
        import threading

        class Secret(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"SECRET-for-curl-only"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Secret)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        up = srv.server_address[1]
        try:
            with rf.TempDir() as d:
                prog = os.path.join(d, "prog.py")
                with open(prog, "w") as f:
                    f.write(IMPERSONATION)
                os.chmod(prog, 0o644)
                policy = """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, %s]
network:
  mode: namespace
  hosts: {local.test: 127.0.0.1}
network_policies:
  curl_only:
    endpoints: [{host: local.test, port: %d, allowed_ips: [127.0.0.1]}]
    binaries: [{path: /usr/bin/curl}]
""" % (d, up)
                r = rf.run([rf.PY, prog, str(up), str(self.ATTEMPTS)], policy=policy, timeout=600)
                self.assertIn("curl True", r.stdout, r.stderr)  # the allowed binary gets through
                self.assertIn("wins 0", r.stdout, r.stdout + r.stderr)
        finally:
            srv.shutdown()
