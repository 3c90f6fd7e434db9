"""Host pathname unix sockets (docker.sock, D-Bus, X11, another user's agent)
are out of reach below Landlock ABI 9, in namespace and platform mode: only
sockets the sandbox serves itself and the policy's network.unix_sockets."""
import json
import os
import shutil
import socket
import subprocess
import threading
import unittest

import rf


def as_nobody():
    return ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"] if rf.IS_ROOT else []


class HostUnixListener:
    """A host-side server on a unix socket (a pathname, reachable by anyone:
    0777; or an abstract "\\0name"),
    that counts connections and answers 'H'."""

    def __init__(self, path, kind=socket.SOCK_STREAM):
        self.path = path
        self.count = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, kind)
        self.sock.bind(path)
        if not path.startswith("\0"):  # abstract names have no file
            os.chmod(path, 0o777)
        self.kind = kind
        if kind != socket.SOCK_DGRAM:
            self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                if self.kind == socket.SOCK_DGRAM:
                    self.sock.recv(100)
                    with self.lock:
                        self.count += 1
                    continue
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.count += 1
            try:
                c.settimeout(1)
                if c.recv(1):
                    c.send(b"H")
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        if self.path.startswith("\0"):
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass


class UnixSockets:
    MODE = None

    @classmethod
    def setUpClass(cls):
        # Host sockets in a directory under /tmp, which the policy grants
        # read-write, exactly like /tmp/.X11-unix/X0 would be.
        cls.hostdir = f"/tmp/rf-unix-{os.getpid()}-{cls.MODE}"
        os.makedirs(cls.hostdir, exist_ok=True)
        os.chmod(cls.hostdir, 0o755)
        cls.stream = HostUnixListener(os.path.join(cls.hostdir, "host.sock"))
        cls.seqpacket = HostUnixListener(os.path.join(cls.hostdir, "seq.sock"), socket.SOCK_SEQPACKET)
        cls.allowed = HostUnixListener(os.path.join(cls.hostdir, "agent.sock"))
        cls.log = HostUnixListener(os.path.join(cls.hostdir, "log.sock"), socket.SOCK_DGRAM)

    @classmethod
    def tearDownClass(cls):
        for l in (cls.stream, cls.seqpacket, cls.allowed, cls.log):
            l.close()
        shutil.rmtree(cls.hostdir, ignore_errors=True)

    def setUp(self):
        self.tmp = rf.TempDir()
        self.dir = self.tmp.__enter__()
        shutil.copy(rf.helper("ux_probe"), os.path.join(self.dir, "ux_probe"))
        self.policy = f"""version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/tmp, /dev/null]
network:
  mode: {self.MODE}
  unix_sockets: [{self.allowed.path}]
"""
        self.counts = {l.path: l.count for l in (self.stream, self.seqpacket, self.allowed, self.log)}

    def tearDown(self):
        self.tmp.__exit__(None, None, None)

    def inside(self, *args):
        r = rf.run(["./ux_probe"] + list(args), policy=self.policy, extra=["--workdir", self.dir])
        self.assertIn(r.returncode, (0,), r.stderr)
        return r.stdout.strip()

    def reached(self, listener, expected=0):
        """Connections `listener` accepted during the test, once the
        `expected` ones are counted (its thread accepts them after the
        client's connect returned), or at a deadline."""
        base = self.counts[listener.path]
        return rf.wait_count(lambda: listener.count, base + expected) - base

    def test_control_host_sockets_reachable_without_ringfence(self):
        for l, kind in ((self.stream, "stream"), (self.seqpacket, "seqpacket")):
            r = subprocess.run(as_nobody() + [rf.helper("ux_probe"), "connect", l.path, kind],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.stdout.strip(), "OK H", r.stdout + r.stderr)

    def test_host_socket_outside_policy_refused(self):
        self.assertEqual(self.inside("connect", self.stream.path, "stream"), "ERR EACCES")
        self.assertEqual(self.inside("connect", self.seqpacket.path, "seqpacket"), "ERR EACCES")
        self.assertEqual(self.reached(self.stream), 0)
        self.assertEqual(self.reached(self.seqpacket), 0)

    def test_symlink_planted_in_workdir_refused(self):
        os.symlink(self.stream.path, os.path.join(self.dir, "innocent.sock"))
        self.assertEqual(self.inside("connect", "innocent.sock", "stream"), "ERR EACCES")
        self.assertEqual(self.inside("connect", os.path.join(self.dir, "innocent.sock"), "stream"), "ERR EACCES")
        self.assertEqual(self.reached(self.stream), 0)

    def test_proc_root_and_dotdot_forms_refused(self):
        forms = ["/proc/self/root" + self.stream.path, "/proc/1/root" + self.stream.path,
                 "/proc/thread-self/root" + self.stream.path,
                 os.path.join(self.dir, "..", os.path.basename(self.hostdir), "host.sock"),
                 "/tmp/./" + os.path.relpath(self.stream.path, "/tmp")]
        for form in forms:
            with self.subTest(form):
                self.assertTrue(self.inside("connect", form, "stream").startswith("ERR"), form)
        self.assertEqual(self.reached(self.stream), 0)

    def test_own_socket_in_workdir_works(self):
        self.assertEqual(self.inside("serve", "own.sock", "stream"), "OK p")
        self.assertEqual(self.inside("serve", "own-seq.sock", "seqpacket"), "OK p")

    def test_allowlisted_host_socket_works(self):
        self.assertEqual(self.inside("connect", self.allowed.path, "stream"), "OK H")
        self.assertEqual(self.reached(self.allowed, 1), 1)

    def test_on_behalf_socket_keeps_type_and_flags(self):
        """The socket the supervisor installs over the command's descriptor
        has the command's type and O_NONBLOCK (and close-on-exec) flags."""
        script = r"""
import fcntl, os, socket, sys
path = sys.argv[1]
out = []
for nonblock in (False, True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fcntl.fcntl(s.fileno(), fcntl.F_SETFD, 0)  # not close-on-exec
    s.setblocking(not nonblock)
    try:
        s.connect(path)
    except BlockingIOError:
        pass
    fl = fcntl.fcntl(s.fileno(), fcntl.F_GETFL)
    fd = fcntl.fcntl(s.fileno(), fcntl.F_GETFD)
    out.append("%s nonblock=%d cloexec=%d type=%d" % (
        "nb" if nonblock else "b", bool(fl & os.O_NONBLOCK), bool(fd & fcntl.FD_CLOEXEC),
        s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)))
    s.close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[2])
out.append("seq type=%d" % s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
print(";".join(out))
"""
        r = rf.run([rf.PY, "-c", script, self.allowed.path, self.seqpacket.path],
                   policy=self.policy.replace(f"unix_sockets: [{self.allowed.path}]",
                                              f"unix_sockets: [{self.allowed.path}, {self.seqpacket.path}]"),
                   extra=["--workdir", self.dir])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(),
                         "b nonblock=0 cloexec=0 type=%d;nb nonblock=1 cloexec=0 type=%d;seq type=%d"
                         % (socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_SEQPACKET), r.stderr)
        self.assertEqual(self.reached(self.allowed, 2), 2)
        self.assertEqual(self.reached(self.seqpacket, 1), 1)

    def test_datagram_to_host_socket_refused(self):
        self.assertEqual(self.inside("dgram", self.log.path), "ERR EPERM")
        self.assertEqual(self.reached(self.log), 0)

    def test_racing_path_rewrite_never_reaches_host(self):
        out = self.inside("race", "own-race.sock", self.stream.path, "2000")
        own = int(out.split("own=")[1].split()[0])
        other = int(out.split("other=")[1].split()[0])
        self.assertEqual(self.reached(self.stream), 0, out)
        self.assertEqual(other, 0, out)
        self.assertGreater(own, 0, "the race never connected to its own socket: it proved nothing")

    def test_effective_policy_names_the_mechanism(self):
        eff = rf.effective(self.policy, mode=self.MODE)
        unix = eff["enforcement"]["network"]["unix_sockets"]
        self.assertIn(self.allowed.path, unix["allowed"])
        self.assertIn("seccomp user notification", unix["mechanism"])


@unittest.skipUnless(rf.IS_ROOT, "namespace mode as root")
class NamespaceUnixSockets(UnixSockets, unittest.TestCase):
    MODE = "namespace"


class PlatformUnixSockets(UnixSockets, unittest.TestCase):
    MODE = "platform"


class HostAbstractListener(HostUnixListener):
    """The same server on an abstract name (no file: no Landlock path rule,
    no permission bits can guard it)."""

    def __init__(self, name):
        self.name = name
        super().__init__("\0" + name)


ABSTRACT_PROBE = r"""
import socket, sys
name, mode = sys.argv[1], sys.argv[2]
try:
    if mode == "serve":  # a listener of the sandbox's own, then connect to it
        l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        l.bind("\0" + name)
        l.listen(1)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect("\0" + name)
    if mode == "serve":
        c, _ = l.accept()
        s.send(b"x")
        print("OK" if c.recv(1) == b"x" else "ERR nodata")
    else:
        s.send(b"x")
        print("OK" if s.recv(1) == b"H" else "ERR nodata")
except OSError as e:
    print("ERR", e.errno)
"""


class AbstractSocketsWithoutLandlockScope(unittest.TestCase):
    """Platform mode on a kernel without Landlock's abstract-socket scope
    (ABI < 6, simulated with RINGFENCE_TEST_LANDLOCK_ABI=5): the connect
    notification refuses host abstract sockets (X11's @/tmp/.X11-unix/X0,
    D-Bus's @/tmp/dbus-*) unless listed as @name or served by the sandbox.
    With the scope (ABI 7 here) Landlock refuses them itself."""

    @classmethod
    def setUpClass(cls):
        tag = f"rf-abs-{os.getpid()}"
        cls.host = HostAbstractListener(tag + "-host")
        cls.allowed = HostAbstractListener(tag + "-agent")
        cls.tag = tag

    @classmethod
    def tearDownClass(cls):
        cls.host.close()
        cls.allowed.close()

    def policy(self):
        return f"""version: 1
filesystem_policy:
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/tmp, /dev/null]
network:
  mode: platform
  unix_sockets: ["@{self.allowed.name}"]
"""

    def probe(self, name, mode, abi, audit=None):
        env = dict(os.environ, RINGFENCE_TEST_LANDLOCK_ABI=str(abi))
        extra = ["--audit", audit] if audit else []
        r = rf.run([rf.PY, "-c", ABSTRACT_PROBE, name, mode], policy=self.policy(), env=env,
                   extra=extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_control_reachable_without_ringfence(self):
        before = self.host.count
        r = subprocess.run(as_nobody() + [rf.PY, "-c", ABSTRACT_PROBE, self.host.name, "connect"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), "OK", r.stderr)
        self.assertEqual(rf.wait_count(lambda: self.host.count, before + 1) - before, 1)

    def test_host_abstract_socket_refused_below_abi_6(self):
        with rf.OutsideDir() as d:
            log = os.path.join(d, "audit.jsonl")
            before = self.host.count
            self.assertEqual(self.probe(self.host.name, "connect", 5, audit=log), "ERR 1")  # EPERM
            self.assertEqual(self.host.count, before, "the host listener accepted a connection")
            with open(log) as f:
                events = [l for l in f if '"deny"' in l and self.host.name in l]
            self.assertTrue(events, "no audit event for the refused abstract connect")

    def test_host_abstract_socket_refused_with_landlock_scope(self):
        before = self.host.count
        self.assertEqual(self.probe(self.host.name, "connect", 7), "ERR 1")
        self.assertEqual(self.host.count, before)

    def test_listed_abstract_socket_works_below_abi_6(self):
        before = self.allowed.count
        self.assertEqual(self.probe(self.allowed.name, "connect", 5), "OK")
        self.assertEqual(rf.wait_count(lambda: self.allowed.count, before + 1) - before, 1)

    def test_own_abstract_socket_works_below_abi_6(self):
        self.assertEqual(self.probe(self.tag + "-own", "serve", 5), "OK")

    def test_effective_policy_says_who_confines_abstract_sockets(self):
        for abi, want in ((5, "seccomp user notification"), (7, "Landlock scope")):
            env = dict(os.environ, RINGFENCE_TEST_LANDLOCK_ABI=str(abi))
            with rf.TempDir() as d:
                pol = os.path.join(d, "p.yaml")
                with open(pol, "w") as f:
                    f.write(self.policy())
                r = rf.ringfence("policy", "show", "--policy", pol, "--effective", "--json",
                                 env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            unix = json.loads(r.stdout)["enforcement"]["network"]["unix_sockets"]
            self.assertIn(want, unix["abstract"], abi)


if __name__ == "__main__":
    unittest.main()
