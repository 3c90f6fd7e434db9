"""Regression tests for the second outside attack round on 95c39b3
(docs/threat-model.md, "Outside attack rounds"): platform mode as an
ordinary user, the proxy's identity logic, Landlock edge cases, hostile
input to the supervisor. Each runs the real binary against a real program,
with a control run without ringfence."""
import os
import shutil
import socket
import subprocess
import unittest

import netfixtures
import rf

AS_USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, {ro}]
  read_write: [/tmp, /dev/null]
network:
  mode: {mode}
"""

MQ = r"""
import ctypes, errno, sys
rt = ctypes.CDLL("librt.so.1", use_errno=True)
rt.mq_open.restype = ctypes.c_int
op, name = sys.argv[1], sys.argv[2].encode()
if op == "create":
    r = rt.mq_open(name, 0o302, 0o666, None)  # O_CREAT|O_EXCL|O_RDWR
elif op == "open":
    r = rt.mq_open(name, 0o2)
else:
    r = rt.mq_unlink(name)
print("OK" if r >= 0 else errno.errorcode.get(ctypes.get_errno()))
"""


def mq(op, name, inside=None, user=True):
    cmd = [rf.PY, "-c", MQ, op, name]
    if inside:
        return rf.run(cmd, policy=POLICY.format(mode=inside, ro="/usr")).stdout.strip()
    pre = AS_USER if (user and rf.IS_ROOT) else []
    return subprocess.run(pre + cmd, capture_output=True, text=True, timeout=30).stdout.strip()


class PosixMessageQueues(unittest.TestCase):
    """Finding 1: mq_open(O_CREAT|O_EXCL) answered EACCES but the queue was
    made (squatted, world-readable), and mq_unlink deleted a queue of the
    same uid. Landlock never sees these names."""

    def setUp(self):
        self.name = f"/rf-mq-{os.getpid()}"
        mq("unlink", self.name)

    def tearDown(self):
        mq("unlink", self.name)
        mq("unlink", self.name + "-host")

    def test_control_queues_work_without_ringfence(self):
        self.assertEqual(mq("create", self.name), "OK")
        self.assertEqual(mq("open", self.name), "OK")
        self.assertEqual(mq("unlink", self.name), "OK")

    def test_no_queue_is_made_or_deleted_from_inside(self):
        host = self.name + "-host"
        self.assertEqual(mq("create", host), "OK")
        for mode in ("platform", "none", "namespace"):
            with self.subTest(mode):
                mq("unlink", self.name)
                inside = mq("create", self.name, inside=mode)
                self.assertNotEqual(inside, "")
                # Whatever it answered, nothing of the host's was made...
                self.assertEqual(mq("open", self.name), "ENOENT", inside)
                # ...or deleted, or opened.
                self.assertNotEqual(mq("unlink", host, inside=mode), "OK")
                self.assertNotEqual(mq("open", host, inside=mode), "OK")
                self.assertEqual(mq("open", host), "OK")


LEASE = r"""
import errno, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
out = []
try:
    fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    out.append("lease OK")
except OSError as e:
    out.append("lease " + errno.errorcode.get(e.errno))
print(";".join(out))
"""


class Leases(unittest.TestCase):
    """Finding 3: a read lease on a read-only granted file made the host's
    next open for writing block for the lease-break time (45 s). Leases are
    refused inside the sandbox."""

    def test_leases_refused(self):
        with rf.TempDir() as d:
            path = os.path.join(d, "shared.txt")
            with open(path, "w") as f:
                f.write("x")
            if rf.IS_ROOT:
                os.chown(path, 65534, 65534)  # a lease needs the file's owner
            control = subprocess.run((AS_USER if rf.IS_ROOT else []) + [rf.PY, "-c", LEASE, path],
                                     capture_output=True, text=True, timeout=30)
            self.assertEqual(control.stdout.strip(), "lease OK", control.stderr)
            for mode in ("platform", "namespace"):
                with self.subTest(mode):
                    r = rf.run([rf.PY, "-c", LEASE, path], policy=POLICY.format(mode=mode, ro=d))
                    self.assertEqual(r.stdout.strip(), "lease EPERM", r.stderr)


CONNECT_VIA = r"""
import socket, sys
def connect_via(proxy_port, port):
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (port, port))
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        b = s.recv(1)
        if not b:
            break
        head += b
    s.close()
    return head.split(b"\r\n")[0].decode() or "closed"
"""

PROXY_SESSION = CONNECT_VIA + r"""
import os
port = int(sys.argv[1])
print(os.environ["HTTP_PROXY"].rsplit(":", 1)[1], flush=True)
sys.stdin.readline()  # the host's client has had its turn
print(connect_via(int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1]), port), flush=True)
"""


class ForeignProxyClients(unittest.TestCase):
    """Finding 2: in platform mode the proxy listens on the host's loopback;
    a connection the connect guard never made (another local process or
    user) was served like the sandbox's, named "unknown", and endpoints
    without `binaries` accepted it. Under `run`, a connection with no guard
    record is refused, whatever the rule; the sandbox's own still works."""

    def test_connection_not_made_by_the_sandbox_is_refused(self):
        target = netfixtures.TcpListener("127.0.0.1", 0)
        try:
            policy = POLICY.format(mode="platform", ro="/usr") + \
                "network_policies:\n  local:\n    endpoints: [{host: 127.0.0.1, port: %d, " \
                "allowed_ips: [127.0.0.1]}]\n" % target.port
            with rf.TempDir() as d:
                pf = os.path.join(d, "p.yaml")
                with open(pf, "w") as f:
                    f.write(policy)
                p = subprocess.Popen([rf.BIN, "run", "-q", "--policy", pf, "--", rf.PY, "-c",
                                      PROXY_SESSION, str(target.port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=d)
                try:
                    proxy_port = int(p.stdout.readline().strip())
                    clients = {"root": [rf.PY], "another user": AS_USER + [rf.PY]}
                    for who, pre in clients.items():
                        host = subprocess.run(pre + ["-c", CONNECT_VIA +
                                                     "print(connect_via(%d, %d))" %
                                                     (proxy_port, target.port)],
                                              capture_output=True, text=True, timeout=30)
                        self.assertIn("403", host.stdout, (who, host.stderr))
                    self.assertEqual(rf.wait_count(lambda: target.count.n, 1, timeout=0.5), 0)
                    out, err = p.communicate("go\n", timeout=60)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertIn("200", out, err)  # the sandbox's own connection
                self.assertEqual(rf.wait_count(lambda: target.count.n, 1), 1)
        finally:
            target.close()


class TerminalEscapes(unittest.TestCase):
    """Finding 5: the end-of-run denial summary printed a binary named with
    terminal escapes raw on stderr (the title changed, colours leaked).
    Everything the sandbox can name is escaped for the terminal."""

    def test_denied_binary_name_is_escaped(self):
        with rf.TempDir() as d:
            evil = "x\x1b]0;PWNED-TITLE\x07\x1b[31mRED"
            shutil.copy("/usr/bin/curl", os.path.join(d, evil))
            policy = POLICY.format(mode="platform", ro="/usr") + \
                "network_policies:\n  p:\n    endpoints: [{host: allowed.test, port: 80}]\n" \
                "    binaries: [{path: /usr/bin/wget}]\n"
            r = subprocess.run([rf.BIN, "run", "--policy", "/dev/stdin", "--workdir", d, "--",
                                "./" + evil, "-s", "-m", "5", "http://allowed.test/"],
                               input=policy, capture_output=True, text=True, timeout=60, cwd=d)
            self.assertIn("proxy denied", r.stderr)
            self.assertIn("PWNED-TITLE", r.stderr)  # shown, but inert
            self.assertNotIn("\x1b", r.stderr)
            self.assertNotIn("\x07", r.stderr)
            self.assertIn("\\x1b]0;PWNED-TITLE\\x07", r.stderr)


if __name__ == "__main__":
    unittest.main()
