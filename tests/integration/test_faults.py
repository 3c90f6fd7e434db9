"""Fault injection (issue 11), each case through the real binary: the proxy
faults against `ringfence proxy` with short timeouts, the process faults
against `ringfence run`. Each shows that ringfence keeps serving other
connections (an allowed tunnel echoes, a denied host still gets 403) or
exits cleanly with a clear message, and that nothing escapes the policy.
Loopback only; every loop and wait is bounded."""
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

import rf
import test_proxy as px
from netfixtures import EchoServer
from test_proxy_limits import HoldListener
from test_proxy_ssrf import connect_req


def policy(*ports, names=("up.test",)):
    eps = "".join("      - { host: up.test, port: %d, allowed_ips: [127.0.0.1/32] }\n" % p
                  for p in ports)
    eps += "".join("      - { host: %s, port: 80 }\n" % n for n in names if n != "up.test")
    return ("version: 1\nnetwork:\n  hosts: {up.test: 127.0.0.1}\nnetwork_policies:\n  up:\n"
            "    endpoints:\n" + eps)


def tunnel(addr, port, timeout=5, rest=None):
    """CONNECT through the proxy; bytes that came after the answer's head are
    appended to `rest` (a list) when given."""
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(connect_req("up.test", port))
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    if rest is not None and b"\r\n\r\n" in head:
        rest.append(head.split(b"\r\n\r\n", 1)[1])
    return s, px.status_of(head)


def wait_until(pred, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


class ProxyFaults(unittest.TestCase):
    """Upstream, client and DNS faults against `ringfence proxy`."""

    def setUp(self):
        self.echo = EchoServer()
        self.cleanup = [self.echo.close]

    def tearDown(self):
        for c in reversed(self.cleanup):
            c()

    def start(self, *ports, args=(), names=("up.test",)):
        p = px.Proxy(policy(self.echo.port, *ports, names=names), list(args))
        self.cleanup.append(p.stop)
        return p

    def assert_others_served(self, proxy):
        """An allowed tunnel still echoes and a denied target is still refused."""
        s, st = tunnel(proxy.addr, self.echo.port)
        try:
            self.assertEqual(st, 200)
            s.sendall(b"still-serving")
            self.assertEqual(s.recv(100), b"still-serving")
        finally:
            s.close()
        self.assertEqual(px.status_of(proxy.raw(connect_req("up.test", self.echo.port + 1))), 403)
        self.assertEqual(px.status_of(proxy.raw(connect_req("127.0.0.1", 22))), 403)

    def settle(self, proxy, base):
        wait_until(lambda: proxy.fd_count() <= base, 8)
        self.assertEqual(proxy.fd_count(), base, "descriptor leak")
        self.assertIsNone(proxy.p.poll(), "proxy died")

    def test_upstream_resets_mid_stream(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        srv.settimeout(5)
        self.cleanup.append(srv.close)

        def rst_after_some_data():
            try:
                for _ in range(3):
                    c, _ = srv.accept()
                    c.sendall(b"partial" * 1000)
                    time.sleep(0.2)
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    c.close()  # RST
            except OSError:
                pass

        t = threading.Thread(target=rst_after_some_data, daemon=True)
        t.start()
        proxy = self.start(srv.getsockname()[1])
        base = proxy.fd_count()
        for _ in range(3):
            early = []
            s, st = tunnel(proxy.addr, srv.getsockname()[1], rest=early)
            self.assertEqual(st, 200)
            got, end = b"".join(early), None
            t0 = time.time()
            while time.time() - t0 < 5:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    end = "reset"
                    break
                if not chunk:
                    end = "eof"
                    break
                got += chunk
            s.close()
            self.assertIn(end, ("reset", "eof"), "the reset did not reach the client")
            self.assertEqual(got, b"partial" * 1000)  # intact up to the reset
            self.assert_others_served(proxy)
        t.join(5)
        self.settle(proxy, base)

    def test_upstream_accepts_but_never_answers(self):
        up = HoldListener()
        self.cleanup.append(up.close)
        proxy = self.start(up.port, args=["--idle-timeout-ms", "2000"])
        base = proxy.fd_count()
        stuck = [tunnel(proxy.addr, up.port)[0] for _ in range(20)]
        for s in stuck:
            s.sendall(b"hello?")
        self.assert_others_served(proxy)  # while 20 tunnels hang
        t0 = time.time()
        for s in stuck:  # the idle timeout ends them
            s.settimeout(6)
            try:
                self.assertEqual(s.recv(10), b"")
            except ConnectionResetError:
                pass
            s.close()
        self.assertLess(time.time() - t0, 6)
        self.settle(proxy, base)

    def test_upstream_never_accepts(self):
        full = HoldListener(backlog=0, accept=False)
        self.cleanup.append(full.close)
        fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", full.port))
            fillers.append(c)
        self.cleanup.append(lambda: [c.close() for c in fillers])
        proxy = self.start(full.port, args=["--connect-timeout-ms", "1500"])
        results = []

        def hang():
            t0 = time.time()
            results.append((px.status_of(proxy.raw(connect_req("up.test", full.port), timeout=8)),
                            time.time() - t0))

        ts = [threading.Thread(target=hang) for _ in range(5)]
        for t in ts:
            t.start()
        time.sleep(0.3)
        self.assert_others_served(proxy)  # while 5 connects hang
        for t in ts:
            t.join(10)
        self.assertEqual([r[0] for r in results], [504] * 5, results)
        self.assertTrue(all(1.2 < r[1] < 6 for r in results), results)

    def test_slowloris_gets_408_and_blocks_nobody(self):
        proxy = self.start(args=["--header-timeout-ms", "2500"])
        base = proxy.fd_count()
        head = connect_req("up.test", self.echo.port)
        out = {}

        def loris(i):
            s = socket.create_connection(proxy.addr, timeout=10)
            t0 = time.time()
            try:
                for b in head[:6]:  # a byte per second, bounded
                    s.sendall(bytes([b]))
                    time.sleep(1)
            except OSError:
                pass
            resp = b""
            try:
                while len(resp) < 4096:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    resp += chunk
            except OSError:
                pass
            out[i] = (px.status_of(resp), time.time() - t0)
            s.close()

        ts = [threading.Thread(target=loris, args=(i,)) for i in range(10)]
        for t in ts:
            t.start()
        time.sleep(1.2)
        t0 = time.time()
        self.assert_others_served(proxy)
        self.assertLess(time.time() - t0, 1.0, "slow clients delayed others")
        for t in ts:
            t.join(15)
        self.assertEqual(sorted(v[0] for v in out.values()), [408] * 10, out)
        self.assertTrue(all(2.3 < v[1] < 8 for v in out.values()), out)
        self.settle(proxy, base)

    def dns_case(self, answer):
        """`answer(data) -> reply or None` for each query on a loopback UDP server."""
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        u.settimeout(0.2)
        stop = threading.Event()
        seen = []

        def serve():
            while not stop.is_set():
                try:
                    data, peer = u.recvfrom(2048)
                except (socket.timeout, OSError):
                    continue
                seen.append(data)
                reply = answer(data)
                if reply is not None:
                    u.sendto(reply, peer)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        self.cleanup.append(lambda: (stop.set(), t.join(2), u.close()))
        proxy = self.start(names=("up.test", "name.test"),
                           args=["--dns-server", "127.0.0.1:%d" % u.getsockname()[1],
                                 "--dns-timeout-ms", "700"])
        base = proxy.fd_count()
        res = {}

        def lookup():
            t0 = time.time()
            r = proxy.raw(b"GET http://name.test/ HTTP/1.1\r\n\r\n", timeout=15)
            res["r"], res["dt"] = r, time.time() - t0

        lt = threading.Thread(target=lookup)
        lt.start()
        time.sleep(0.2)
        self.assert_others_served(proxy)  # while the lookup is pending
        lt.join(20)
        self.assertEqual(px.status_of(res["r"]), 502, res)
        self.assertLess(res["dt"], 10, res)
        self.assertTrue(seen, "the proxy never asked the test DNS server")
        self.settle(proxy, base)
        return px.json_body(res["r"])

    def test_dns_server_times_out(self):
        body = self.dns_case(lambda q: None)
        self.assertIn("name.test", body.get("reason", "") + body.get("host", ""))

    def test_dns_server_answers_garbage(self):
        rnd = random.Random(11)

        def garbage(q):
            # Same ID and a "response" flag, then random bytes; or pure noise.
            junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 120)))
            return (q[:2] + b"\x81\x80" + junk) if rnd.random() < 0.7 else junk

        self.dns_case(garbage)

    def test_client_half_close_still_gets_response(self):
        proxy = self.start()
        # A tunnel: data, then SHUT_WR; the echo and then EOF still arrive.
        s, st = tunnel(proxy.addr, self.echo.port)
        self.assertEqual(st, 200)
        s.sendall(b"x" * 100000)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while len(got) < 200000:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()
        self.assertEqual(got, b"x" * 100000)
        # A forwarded request with the write side shut after the head.
        with rf.TempDir() as d:
            with open(os.path.join(d, "f.txt"), "w") as f:
                f.write("half-closed but answered\n")
            http = px.HttpServer(d)
            try:
                p2 = self.start(http.port)
                resp = p2.raw(b"GET http://up.test:%d/f.txt HTTP/1.1\r\nHost: x\r\n\r\n" % http.port,
                              shut=True, timeout=5)
            finally:
                http.close()
        self.assertEqual(px.status_of(resp), 200, resp[:200])
        self.assertTrue(resp.endswith(b"half-closed but answered\n"), resp[-100:])
        self.assert_others_served(proxy)


def marker_pids(marker):
    """Processes whose command line is exactly `sleep MARKER`."""
    want = b"sleep\0" + marker.encode() + b"\0"
    pids = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % e, "rb") as f:
                if f.read() == want:
                    pids.append(int(e))
        except OSError:
            pass
    return pids


# Answers fanotify permission events for opens of one file: with "deny",
# opens by a process of a deeper PID namespace than its own (the sandbox's
# init is the first process of a new one) get EPERM, others are allowed.
# Prints one line per open. argv: a procfs of the initial PID namespace,
# the file, a path created once the mark is set, allow|deny.
FANOTIFY_GATE = r"""
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
real_proc, target, ready, mode = sys.argv[1:5]
def depth(pid):
    try:
        with open("%s/%d/status" % (real_proc, pid)) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return len(line.split()) - 1
    except OSError:
        pass
    return 0
mine = depth(os.getpid())
fd = libc.fanotify_init(0x4 | 0x1, os.O_RDONLY)  # FAN_CLASS_CONTENT | FAN_CLOEXEC
if fd < 0 or libc.fanotify_mark(fd, 1, ctypes.c_uint64(0x10000), -100, target.encode()) != 0:
    sys.exit("fanotify: " + os.strerror(ctypes.get_errno()))  # FAN_OPEN_PERM above
open(ready, "w").close()
while True:
    buf = os.read(fd, 4096)
    off = 0
    while off + 24 <= len(buf):
        event_len, _, _, _, _, efd, pid = struct.unpack_from("<IBBHQii", buf, off)
        deny = mode == "deny" and depth(pid) > mine
        os.write(fd, struct.pack("<iI", efd, 2 if deny else 1))  # FAN_DENY / FAN_ALLOW
        print("open by a process of a %s PID namespace: %s"
              % ("deeper" if depth(pid) > mine else "the same",
                 "denied" if deny else "allowed"), flush=True)
        os.close(efd)
        off += event_len
"""

# A private /proc (a tmpfs: its /proc/self is a plain directory the same for
# every process) whose uid_map is gated by FANOTIFY_GATE, then COMMAND.
GATED_PROC_SCRIPT = """
set -e
D=%(dir)s
mkdir $D/realproc && mount -t proc proc $D/realproc
mount -t tmpfs -o mode=0755 rf-proc /proc && mkdir /proc/self
touch /proc/self/setgroups /proc/self/uid_map /proc/self/gid_map && chmod 666 /proc/self/*
%(py)s $D/gate.py $D/realproc /proc/self/uid_map $D/ready deny > $D/gate.log 2>&1 &
gate=$!
for i in $(seq 200); do [ -e $D/ready ] && break; sleep 0.05; done
[ -e $D/ready ] || { cat $D/gate.log; exit 99; }
set +e
%(command)s
rc=$?
kill $gate
exit $rc
"""


class RunFaults(unittest.TestCase):
    """Process and audit faults against `ringfence run`."""

    def gated_proc(self, command):
        """Runs `command` (sh) as root in a private mount namespace whose
        /proc is GATED_PROC_SCRIPT's; returns the result and the gate's log."""
        if not rf.IS_ROOT or not shutil.which("unshare") or not shutil.which("setpriv"):
            self.skipTest("needs root, unshare and setpriv")
        with rf.OutsideDir() as d:
            with open(os.path.join(d, "gate.py"), "w") as f:
                f.write(FANOTIFY_GATE)
            script = GATED_PROC_SCRIPT % {"dir": d, "py": rf.PY, "command": command}
            r = subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                script], capture_output=True, text=True, timeout=60)
            log = ""
            if os.path.exists(os.path.join(d, "gate.log")):
                with open(os.path.join(d, "gate.log")) as f:
                    log = f.read()
        if r.returncode == 99:
            self.skipTest("no fanotify permission events here: " + log.strip())
        return r, log

    def test_user_namespace_map_failure_names_its_stage(self):
        # Control, without ringfence: the gate refuses the uid_map open of a
        # process in a new PID namespace and allows one in ours.
        probe = ("%s -c 'import sys\ntry:\n    open(\"/proc/self/uid_map\", \"w\")\n"
                 "    print(\"opened\")\nexcept OSError as e:\n    print(e.strerror)'")
        r, log = self.gated_proc((probe + "; unshare -p -f " + probe) % (rf.PY, rf.PY))
        self.assertEqual(r.stdout.split("\n")[:2], ["opened", "Operation not permitted"],
                         r.stdout + r.stderr + log)
        # The sandbox's init writes the maps of its user namespace (mode none
        # as nobody: an empty network namespace in a user namespace). The
        # auto/none probe runs in our PID namespace and passes; init's
        # uid_map write is refused and must be reported as such.
        r, log = self.gated_proc(
            "setpriv --reuid 65534 --regid 65534 --clear-groups %s run -q --mode none -- /bin/true"
            % rf.BIN)
        if "deeper PID namespace" not in log:
            self.skipTest("mode none made no user namespace here: " + r.stderr)
        self.assertEqual(r.returncode, 125, r.stderr + log)
        self.assertIn("cannot start the sandbox: user namespace: write /proc/self/uid_map: "
                      "Operation not permitted", r.stderr)
        self.assertNotIn("setup:", r.stderr)

    def test_audit_on_full_filesystem(self):
        with rf.OutsideDir() as d:  # not below /tmp, a read-write grant
            mnt = os.path.join(d, "full")
            os.mkdir(mnt)
            script = ("mount -t tmpfs -o size=16k,mode=0755 rf-full %s && "
                      "(dd if=/dev/zero of=%s/fill bs=4k 2>/dev/null; true) && "
                      "exec %s run -q --audit %s/audit.jsonl -- /bin/sh -c "
                      "'for i in 1 2 3 4 5; do curl -s -o /dev/null -w \"%%{http_code} \" "
                      "http://denied.test/; done; exit 7'" % (mnt, mnt, rf.BIN, mnt))
            r = subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                script], capture_output=True, text=True, timeout=60)
            self.assertFalse(os.path.exists(os.path.join(mnt, "fill")), "mount leaked")
        self.assertEqual(r.returncode, 7, r.stderr)
        # The proxy kept deciding (and denying) while audit writes failed.
        self.assertEqual(r.stdout.split(), ["403"] * 5, r.stdout)
        self.assertEqual(r.stderr.count("audit log write failed"), 1, r.stderr)
        self.assertIn("No space left on device", r.stderr)

    def test_child_exits_while_tunnels_open(self):
        up = HoldListener()
        try:
            code = ("import os, socket\n"
                    "h, p = os.environ['RINGFENCE_PROXY'][7:].rsplit(':', 1)\n"
                    "def c(host, port):\n"
                    "    s = socket.create_connection((h, int(p)), timeout=5)\n"
                    "    s.sendall(b'CONNECT %%s:%%d HTTP/1.1\\r\\n\\r\\n' %% (host.encode(), port))\n"
                    "    return s, s.recv(4096).split(b' ')[1]\n"
                    "held = [c('up.test', %d) for _ in range(20)]\n"
                    "assert all(st == b'200' for _, st in held), held\n"
                    "print(c('up.test', %d)[1].decode(), flush=True)\n"
                    "os._exit(5)\n" % (up.port, up.port + 1))
            t0 = time.time()
            r = rf.run([rf.PY, "-c", code], policy=policy(up.port), timeout=30)
            dt = time.time() - t0
            self.assertEqual(r.returncode, 5, r.stderr)
            self.assertEqual(r.stdout.strip(), "403")  # policy still enforced meanwhile
            self.assertLess(dt, 15)
            self.assertEqual(len(up.held), 20)
            for c in up.held:  # every upstream side was closed
                c.settimeout(5)
                try:
                    self.assertEqual(c.recv(10), b"")
                except ConnectionResetError:
                    pass
        finally:
            up.close()

    def test_denied_binary_with_a_path_that_is_not_utf8(self):
        # Found by review: the 403 body named the binary in strict JSON,
        # which threw on a path that is not UTF-8 and aborted the supervisor.
        with rf.TempDir() as d:
            code = ("import os, socket\n"
                    "h, p = os.environ['RINGFENCE_PROXY'][7:].rsplit(':', 1)\n"
                    "s = socket.create_connection((h, int(p)), timeout=5)\n"
                    "s.sendall(b'CONNECT denied.test:443 HTTP/1.1\\r\\n\\r\\n')\n"
                    "print(s.recv(4096).split(b' ')[1].decode(), flush=True)\n")
            script = (f"cp /usr/bin/python3.11 \"$PWD/$(printf 'x\\377')\" && "
                      f"\"$PWD/$(printf 'x\\377')\" -c \"{code}\"; echo after")
            r = rf.run(["/bin/sh", "-c", script], policy=policy(1), cwd=d,
                       extra=["--workdir", d], timeout=60, errors="replace")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.split(), ["403", "after"], r.stdout + r.stderr)

    def test_audit_file_is_not_opened_through_a_symlink(self):
        # A symlink the sandbox planted where the audit log goes (a directory
        # it can write) must not make a later run append to its target.
        with rf.TempDir() as d:
            target = os.path.join(d, "root-only")
            with open(target, "w") as f:
                f.write("secret\n")
            os.chmod(target, 0o600)
            link = os.path.join(d, "audit.jsonl")
            os.symlink(target, link)
            r = rf.run(["/bin/true"], extra=["--audit", link], timeout=30)
            self.assertEqual(r.returncode, 125, r.stderr)
            self.assertIn("cannot open audit file", r.stderr)
            with open(target) as f:
                self.assertEqual(f.read(), "secret\n")

    def test_upstream_fin_then_reset_during_upload_costs_only_that_tunnel(self):
        # Found by review: the upstream reads a little, sends FIN, then closes
        # with unread data (RST). The proxy's next write into it got EPIPE as
        # SIGPIPE, which killed the supervisor (exit 141) and the sandbox.
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        port = srv.getsockname()[1]

        def upstream():
            srv.settimeout(10)
            try:
                while True:
                    c, _ = srv.accept()
                    c.recv(1024)
                    c.shutdown(socket.SHUT_WR)
                    time.sleep(0.3)
                    c.close()
            except OSError:
                pass

        threading.Thread(target=upstream, daemon=True).start()
        code = ("import os, socket, time\n"
                "h, p = os.environ['RINGFENCE_PROXY'][7:].rsplit(':', 1)\n"
                "for round in range(3):\n"
                "    s = socket.create_connection((h, int(p)), timeout=5)\n"
                "    s.sendall(b'CONNECT up.test:%d HTTP/1.1\\r\\n\\r\\n')\n"
                "    assert s.recv(4096).split(b' ')[1] == b'200'\n"
                "    try:\n"
                "        for i in range(200):\n"
                "            s.sendall(b'x' * 65536)\n"
                "            time.sleep(0.005)\n"
                "    except OSError:\n"
                "        pass\n"
                "    s.close()\n"
                "print('survived', flush=True)\n"
                "os._exit(9)\n" % port)
        try:
            r = rf.run([rf.PY, "-c", code], policy=policy(port), timeout=60)
        finally:
            srv.close()
        self.assertEqual(r.returncode, 9, r.stderr)
        self.assertEqual(r.stdout.strip(), "survived")

    def test_child_forks_1000_processes(self):
        marker = "%d.%06d" % (400 + os.getpid() % 100, random.randrange(10 ** 6))
        code = ("import os\n"
                "n = 0\n"
                "for i in range(1000):\n"
                "    pid = os.fork()\n"
                "    if pid == 0:\n"
                "        os.execv('/bin/sleep', ['sleep', '%s'])\n"
                "    n += 1\n"
                "print(n, flush=True)\n"
                "os._exit(3)\n" % marker)
        t0 = time.time()
        try:
            r = rf.run([rf.PY, "-c", code], timeout=90)
            dt = time.time() - t0
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertEqual(r.stdout.strip(), "1000")
            self.assertLess(dt, 60)
            self.assertTrue(wait_until(lambda: not marker_pids(marker), 10),
                            "left running: %s" % marker_pids(marker)[:10])
        finally:
            for pid in marker_pids(marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def test_sigkill_of_supervisor_kills_the_sandbox(self):
        marker = "%d.%06d" % (500 + os.getpid() % 100, random.randrange(10 ** 6))
        p = subprocess.Popen([rf.BIN, "run", "-q", "--", "/bin/sh", "-c",
                              "for i in 1 2 3 4 5; do sleep %s & done; setsid sleep %s & "
                              "echo ready; wait" % (marker, marker)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertTrue(wait_until(lambda: len(marker_pids(marker)) == 6, 10),
                            marker_pids(marker))
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                kids = [int(x) for x in f.read().split()]
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)
            self.assertTrue(wait_until(lambda: not marker_pids(marker), 10),
                            "left running: %s" % marker_pids(marker))
            self.assertTrue(wait_until(lambda: not any(os.path.exists("/proc/%d" % k) for k in kids),
                                       10), "init survived its supervisor")
        finally:
            for pid in marker_pids(marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=10)


if __name__ == "__main__":
    unittest.main()
