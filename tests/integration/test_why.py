"""`ringfence why PATH | HOST:PORT` (docs/cli.md, "why"): which rule of the
effective policy allows or refuses an access and what to add; exit 0
allowed, 1 refused, 2 usage. Its verdict on a path is checked against a
real run of the same policy. And the end-of-run summary: every class of
refusal the supervisor saw, one line each, not only the proxy's."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

import rf

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc]
  read_write: [/dev/null]
network:
  mode: {mode}
network_policies:
  gh:
    endpoints:
      - {{host: api.example.test, port: 443}}
    binaries:
      - {{path: /usr/bin/curl}}
  local:
    endpoints:
      - {{host: 127.0.0.1, port: 18080, allowed_ips: [127.0.0.1/32]}}
"""


def write_policy(d, mode="platform"):
    p = os.path.join(d, "policy.yaml")
    with open(p, "w") as f:
        f.write(POLICY.format(mode=mode))
    os.chmod(p, 0o644)
    return p


def why(*args, cwd=None):
    return subprocess.run([rf.BIN, "why"] + list(args), capture_output=True, text=True,
                          timeout=60, cwd=cwd)


class WhyPath(unittest.TestCase):
    def setUp(self):
        self.work = rf.TempDir()
        self.wd = self.work.__enter__()
        self.out = rf.OutsideDir()
        self.od = self.out.__enter__()
        self.policy = write_policy(self.od)
        self.inside = os.path.join(self.wd, "in.txt")
        self.outside = os.path.join(self.od, "out.txt")
        for p in (self.inside, self.outside):
            with open(p, "w") as f:
                f.write("data\n")
            os.chmod(p, 0o666)

    def tearDown(self):
        self.work.__exit__()
        self.out.__exit__()

    def sandbox_reads(self, path):
        r = rf.run(["/bin/cat", path], policy=self.policy, cwd=self.wd)
        return r.returncode == 0

    def test_granted_path(self):
        r = why("in.txt", "--policy", self.policy, cwd=self.wd)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("path: " + os.path.realpath(self.inside), r.stdout)
        self.assertIn("grant: read-write, by filesystem_policy.read_write: " +
                      os.path.realpath(self.wd), r.stdout)
        self.assertIn("verdict: read allowed", r.stdout)
        w = why("--write", "in.txt", "--policy", self.policy, cwd=self.wd)
        self.assertEqual(w.returncode, 0, w.stdout)
        self.assertIn("verdict: write allowed", w.stdout)
        self.assertTrue(self.sandbox_reads(self.inside))  # the verdict holds in a run

    def test_ungranted_path(self):
        r = why(self.outside, "--policy", self.policy, cwd=self.wd)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("grant: none", r.stdout)
        self.assertIn("verdict: read refused", r.stdout)
        self.assertIn("fix: add " + self.outside + " to filesystem_policy.read_only", r.stdout)
        self.assertFalse(self.sandbox_reads(self.outside))  # refused in a run
        # Control: the file is readable to cat without the sandbox.
        self.assertEqual(subprocess.run(["/bin/cat", self.outside],
                                        capture_output=True).returncode, 0)

    def test_read_only_path_written(self):
        r = why("--write", "/etc/hostname", "--policy", self.policy, cwd=self.wd)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("grant: read-only, by filesystem_policy.read_only: /etc", r.stdout)
        self.assertIn("fix: add /etc/hostname to filesystem_policy.read_write", r.stdout)

    def test_protected_path(self):
        subprocess.run(["git", "init", "-q", self.wd], check=True)
        cfg = os.path.realpath(os.path.join(self.wd, ".git/config"))
        for mode, mech in (("platform", "undone after the run"), ("namespace", "read-only")):
            p = write_policy(self.od, mode)
            r = why("--write", ".git/config", "--policy", p, cwd=self.wd)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("protected: " + cfg + " (pattern '.git/config' of "
                          "filesystem_policy.protected", r.stdout)
            self.assertIn(mech, r.stdout)
            self.assertIn("fix: list " + cfg + " by name in filesystem_policy.read_write",
                          r.stdout)
            # Reading it is allowed: protection is about writes.
            r = why(".git/config", "--policy", p, cwd=self.wd)
            self.assertEqual(r.returncode, 0, r.stdout)

    def test_deny_read_path(self):
        env = os.path.join(self.wd, ".env")
        with open(env, "w") as f:
            f.write("SECRET=1\n")
        os.chmod(env, 0o644)
        p = os.path.join(self.od, "deny.yaml")
        with open(p, "w") as f:
            f.write(POLICY.format(mode="platform").replace(
                "  read_write: [/dev/null]\n", "  read_write: [/dev/null]\n  deny_read: [.env]\n"))
        os.chmod(p, 0o644)
        r = why(".env", "--policy", p, cwd=self.wd)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("deny_read: " + os.path.realpath(env) + " (pattern '.env'", r.stdout)
        self.assertIn("fix: remove '.env' from filesystem_policy.deny_read", r.stdout)
        self.assertFalse(rf.run(["/bin/cat", env], policy=p, cwd=self.wd).returncode == 0)

    def test_usage(self):
        self.assertEqual(why(cwd=self.wd).returncode, 2)
        r = why("--write", "a.test:443", "--policy", self.policy, cwd=self.wd)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--write applies to a PATH", r.stderr)
        r = why("x", "--policy", os.path.join(self.od, "missing.yaml"), cwd=self.wd)
        self.assertEqual(r.returncode, 2)
        r = why("x", "--mode", "bogus", cwd=self.wd)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--mode must be", r.stderr)


class WhyNetwork(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = rf.OutsideDir()
        cls.policy = write_policy(cls.out.__enter__())

    @classmethod
    def tearDownClass(cls):
        cls.out.__exit__()

    def test_allowed_host(self):
        r = why("api.example.test:443", "--policy", self.policy, "--binary", "/usr/bin/curl")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("endpoint: api.example.test in network_policies entry 'gh'", r.stdout)
        self.assertIn("verdict: allowed", r.stdout)
        r = why("127.0.0.1:18080", "--policy", self.policy)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("inside the endpoint's allowed_ips", r.stdout)

    def test_refused_port_and_host_with_hint(self):
        r = why("api.example.test:80", "--policy", self.policy)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("refused: port 80 is not allowed for host api.example.test", r.stdout)
        self.assertIn("fix: policy 'gh' allows api.example.test on port(s) 443; add 80 to its "
                      "ports", r.stdout)
        r = why("other.test:443", "--policy", self.policy)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("fix: add an endpoint {host: other.test, port: 443} to an entry of "
                      "network_policies", r.stdout)

    def test_loopback_needs_allowed_ips(self):
        r = why("127.0.0.2:18080", "--policy", self.policy)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("allowed_ips: [127.0.0.2/32]", r.stdout)

    def test_wrong_binary(self):
        r = why("api.example.test:443", "--policy", self.policy, "--binary", "/usr/bin/wget")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("refused: binary /usr/bin/wget is not allowed to reach api.example.test",
                      r.stdout)
        self.assertIn("add {path: /usr/bin/wget} to its binaries", r.stdout)

    def test_mode_none(self):
        r = why("api.example.test:443", "--policy", self.policy, "--mode", "none")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("network.mode none", r.stdout)


# Four refusals of four classes: a destination the proxy refuses, a direct
# connection to a host port (platform mode), a chmod outside the grants, a
# host unix socket the policy does not list.
PROBE = r"""
import os, socket, sys, urllib.request, urllib.error
port, target = int(sys.argv[1]), sys.argv[2]
try:
    urllib.request.urlopen("http://denied.test/", timeout=10)
    print("proxy: OK")
except urllib.error.HTTPError as e:
    print("proxy:", e.code)
except Exception as e:
    print("proxy:", type(e).__name__)
s = socket.socket()
try:
    s.connect(("127.0.0.1", port))
    print("connect: OK")
except OSError as e:
    print("connect:", e.errno)
try:
    os.chmod(target, 0o600)
    print("chmod: OK")
except OSError as e:
    print("chmod:", e.errno)
u = socket.socket(socket.AF_UNIX)
try:
    u.connect(sys.argv[3])
    print("unix: OK")
except OSError as e:
    print("unix:", e.errno)
"""


class DenialSummary(unittest.TestCase):
    def test_every_class_in_summary(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        stop = threading.Event()

        def accept():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    c, _ = listener.accept()
                    c.close()
                except OSError:
                    pass
        t = threading.Thread(target=accept, daemon=True)
        t.start()
        try:
            with rf.TempDir() as wd, rf.OutsideDir() as od:
                target = os.path.join(od, "f")
                with open(target, "w") as f:
                    f.write("x")
                os.chown(target, 65534, 65534)
                os.chmod(target, 0o644)
                sock_path = os.path.join(od, "host.sock")
                usrv = socket.socket(socket.AF_UNIX)
                usrv.bind(sock_path)
                usrv.listen(8)
                os.chmod(sock_path, 0o777)
                probe = os.path.join(wd, "probe.py")
                with open(probe, "w") as f:
                    f.write(PROBE)
                # Control: as the sandbox user, without ringfence, both work.
                c = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534",
                                    "--clear-groups", rf.PY, probe, str(port), target, sock_path],
                                   capture_output=True, text=True, timeout=60,
                                   env={"PATH": "/usr/bin:/bin"})
                self.assertIn("connect: OK", c.stdout, c.stderr)
                self.assertIn("chmod: OK", c.stdout, c.stderr)
                self.assertIn("unix: OK", c.stdout, c.stderr)
                os.chmod(target, 0o644)
                r = rf.run([rf.PY, probe, str(port), target, sock_path],
                           policy=POLICY.format(mode="platform"), cwd=wd)
                usrv.close()
            self.assertIn("proxy: 403", r.stdout, r.stderr)
            self.assertNotIn("connect: OK", r.stdout, r.stderr)
            self.assertNotIn("chmod: OK", r.stdout, r.stderr)
            self.assertIn("proxy denied 1 connection(s)", r.stderr)
            self.assertRegex(r.stderr, r"ringfence: network: 1 direct connection\(s\) or bind\(s\) "
                                       r"refused .*; first: 127\.0\.0\.1:%d" % port)
            self.assertRegex(r.stderr, r"ringfence: filesystem: 1 metadata call\(s\) refused "
                                       r"outside the grants .*; first: .*" + re.escape(target))
            self.assertNotIn("unix: OK", r.stdout, r.stderr)
            self.assertRegex(r.stderr, r"ringfence: unix sockets: 1 unix socket connection\(s\) or "
                                       r"bind\(s\) refused .*; first: unix:" + re.escape(sock_path))
            # File denials: reported from the kernel's audit records, or the
            # summary says plainly why not (what `policy show --effective` says).
            files = rf.effective(POLICY.format(mode="platform"))["enforcement"]["landlock"][
                "file_denials"]
            if files.startswith("not reported"):
                self.assertIn("ringfence: file denials: " + files, r.stderr)
            else:
                self.assertTrue(files.startswith("reported"), files)
                self.assertNotIn("file denials: not reported", r.stderr)
            self.assertIn("system calls refused by seccomp are counted only with --audit",
                          r.stderr)
        finally:
            stop.set()
            t.join(5)
            listener.close()

    def test_no_summary_without_denial(self):
        with rf.TempDir() as wd:
            r = rf.run(["/bin/true"], policy=POLICY.format(mode="platform"), cwd=wd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("not counted", r.stderr)
        self.assertNotIn("file denials", r.stderr)


BIND_PROBE = r"""
import socket, sys
for port in sys.argv[1:]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", int(port)))
        print(port, "OK")
    except OSError as e:
        print(port, e.errno)
    s.close()
"""


class BindRefusalLogged(unittest.TestCase):
    """Platform mode: a bind() Landlock refuses (a port outside
    network.bind_ports) is a network deny event and in the summary; a port
    the policy lists binds and is not reported."""

    def test_refused_bind_is_audited(self):
        free = []
        for _ in range(2):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            free.append(s.getsockname()[1])
            s.close()
        refused, allowed = free
        policy = POLICY.format(mode="platform\n  bind_ports: [%d]" % allowed)
        with rf.TempDir() as wd, rf.OutsideDir() as od:
            probe = os.path.join(wd, "bind.py")
            with open(probe, "w") as f:
                f.write(BIND_PROBE)
            c = subprocess.run([rf.PY, probe, str(refused), str(allowed)],
                               capture_output=True, text=True, timeout=60)
            self.assertIn("%d OK" % refused, c.stdout, c.stderr)  # control
            log = os.path.join(od, "audit.jsonl")
            r = rf.run([rf.PY, probe, str(refused), str(allowed)], policy=policy, cwd=wd,
                       extra=["--audit", log])
            self.assertIn("%d 13" % refused, r.stdout, r.stderr)
            self.assertIn("%d OK" % allowed, r.stdout, r.stderr)
            with open(log) as f:
                events = [json.loads(l) for l in f if l.strip()]
        denies = [e for e in events if e["layer"] == "network" and e["action"] == "deny"]
        self.assertEqual([e["subject"] for e in denies], ["bind 127.0.0.1:%d" % refused], events)
        self.assertIn("network.bind_ports", denies[0]["reason"])
        self.assertIn("ringfence: network: 1 direct connection(s) or bind(s) refused", r.stderr)
        self.assertIn("first: bind 127.0.0.1:%d" % refused, r.stderr)


if __name__ == "__main__":
    unittest.main()
