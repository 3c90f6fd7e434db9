"""File denials reach the audit log (issue 21, "Denials a user can see"):
Landlock's refusals, which the sandboxed program only sees as EACCES, are
read from the kernel's audit records (ABI 7, audit netlink, CAP_AUDIT_READ)
and written as landlock/deny events with the path, the access right and the
binary; where that cannot work, the run says so plainly (docs/audit.md).

Kernel auditing is host-wide state: each test sets it as it needs and the
module puts the host's setting back at the end."""
import json
import os
import re
import select
import socket
import struct
import subprocess
import time
import unittest

import rf

AS_USER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

NETLINK_AUDIT = 9
AUDIT_GET, AUDIT_SET = 1000, 1001


def _audit_request(msg_type, body=b"", flags=1):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    try:
        s.bind((0, 0))
        s.send(struct.pack("=IHHII", 16 + len(body), msg_type, flags, 1, 0) + body)
        for _ in range(4):
            r, _, _ = select.select([s], [], [], 2)
            if not r:
                break
            d = s.recv(8192)
            ln, typ = struct.unpack("=IH", d[:6])
            if typ == 2:  # NLMSG_ERROR: an acknowledgement when 0
                err = struct.unpack("=i", d[16:20])[0]
                if err != 0 or msg_type != AUDIT_GET:
                    return err
                continue
            if typ == msg_type:
                return struct.unpack("=8I", d[16:48])
    finally:
        s.close()
    return None


def audit_enabled():
    st = _audit_request(AUDIT_GET)
    return None if st is None or isinstance(st, int) else st[1]


def set_audit(enabled):
    body = struct.pack("=11I", 1, enabled, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return _audit_request(AUDIT_SET, body, flags=1 | 4)


_saved = {}


def setUpModule():
    if not rf.IS_ROOT:
        raise unittest.SkipTest("sets the kernel's audit state: needs root")
    _saved["enabled"] = audit_enabled()
    if _saved["enabled"] is None:
        raise unittest.SkipTest("the kernel has no audit (AUDIT_GET unanswered)")


def tearDownModule():
    if _saved.get("enabled") is not None:
        set_audit(_saved["enabled"])


def landlock_abi():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(444, None, 0, 1)


# Each argument "OP:PATH": r reads, w appends, d makes a directory; prints
# "N OP OK" or "N OP ERRNAME" (N the argument's index: paths may be hostile)
# and exits 1 when one failed, as cat would.
PROBE = r"""
import atexit, errno, os, sys
failed = []
atexit.register(lambda: os._exit(1 if failed else 0))
for n, a in enumerate(sys.argv[1:]):
    op, path = a.split(":", 1)
    try:
        if op == "r":
            open(path).read()
        elif op == "w":
            open(path, "a").write("x")
        elif op == "d":
            os.mkdir(path)
        print(n, op, "OK", flush=True)
    except OSError as e:
        print(n, op, errno.errorcode.get(e.errno, e.errno), flush=True)
        failed.append(n)
"""

# Opens the files named in the list file argv[1] (all denied: the sandbox
# cannot even list their directory) argv[2] times in turn.
FLOOD = r"""
import os, sys
names = open(sys.argv[1]).read().split("\n")
n = int(sys.argv[2])
refused = 0
for i in range(n):
    try:
        os.close(os.open(names[i % len(names)], os.O_RDONLY))
    except PermissionError:
        refused += 1
print("refused", refused, flush=True)
"""

# Denied reads of `path` until `stop` exists (bounded): two sandboxes
# overlapping in time.
LOOP = r"""
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 20
n = 0
while not os.path.exists(stop) and time.monotonic() < deadline:
    try:
        open(path).read()
    except PermissionError:
        n += 1
    time.sleep(0.005)
print("refused", n, flush=True)
"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc{extra_ro}]
  read_write: [/dev/null]
network:
  mode: {mode}
"""


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def read_events(path):
    with open(path) as f:
        text = f.read()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def file_denials(evs):
    return [e for e in evs if e.get("layer") == "landlock" and e.get("action") == "deny"]


class Fixture:
    """A working directory (granted) with the probe, an outside directory
    (not granted) with a readable secret, and a read-only granted one."""

    def __init__(self):
        self.wd_cm = rf.TempDir()
        self.wd = self.wd_cm.__enter__()
        self.out_cm = rf.OutsideDir()
        self.out = self.out_cm.__enter__()
        self.log = os.path.join(self.out, "audit.jsonl")
        self.secret_dir = os.path.join(self.out, "secret")
        os.mkdir(self.secret_dir, 0o755)
        os.chmod(self.secret_dir, 0o755)
        self.secret = write(os.path.join(self.secret_dir, "token.txt"), "s3cret\n")
        self.ro_dir = os.path.join(self.out, "ro")
        os.mkdir(self.ro_dir)
        os.chmod(self.ro_dir, 0o777)
        self.ro_file = write(os.path.join(self.ro_dir, "notes.txt"), "notes\n", 0o666)
        for name, text in (("probe.py", PROBE), ("flood.py", FLOOD), ("loop.py", LOOP),
                           ("mine.txt", "mine\n")):
            write(os.path.join(self.wd, name), text)

    def policy(self, mode="platform"):
        return POLICY.format(mode=mode, extra_ro=", " + self.ro_dir)

    def close(self):
        self.out_cm.__exit__(None, None, None)
        self.wd_cm.__exit__(None, None, None)


class Base(unittest.TestCase):
    def setUp(self):
        if landlock_abi() < 7:
            self.skipTest("Landlock ABI < 7 writes no audit records")
        self.fx = Fixture()
        self.addCleanup(self.fx.close)

    def run_probe(self, ops, mode="platform", extra=(), log=True, **kw):
        args = list(extra)
        if log:
            args += ["--audit", self.fx.log]
        return rf.run([rf.PY, "probe.py"] + ops, policy=self.fx.policy(mode), cwd=self.fx.wd,
                      extra=args, **kw)


class Control(Base):
    """Without ringfence the probe does what the sandbox refuses."""

    def test_probe_works_unconfined(self):
        r = subprocess.run(AS_USER + [rf.PY, "probe.py", "r:" + self.fx.secret,
                                      "w:" + self.fx.ro_file, "d:" + self.fx.ro_dir + "/sub"],
                           cwd=self.fx.wd, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout.split("\n")[:3], ["0 r OK", "1 w OK", "2 d OK"], r.stderr)


class Reported(Base):
    """Kernel auditing on: the refusals are in the log, the summary lists them."""

    def setUp(self):
        super().setUp()
        self.assertEqual(set_audit(1), 0)

    def check_read_denial(self, mode):
        r = self.run_probe(["r:mine.txt", "r:" + self.fx.secret], mode=mode)
        self.assertEqual(r.stdout.split("\n")[:2], ["0 r OK", "1 r EACCES"], r.stderr)
        evs = read_events(self.fx.log)
        denied = file_denials(evs)
        self.assertEqual([e["path"] for e in denied], [self.fx.secret], evs)
        e = denied[0]
        self.assertEqual(e["subject"], self.fx.secret)
        self.assertIn("read_file", e["access"])
        self.assertRegex(e["exe"], r"/python3")
        self.assertIsInstance(e["pid"], int)
        self.assertEqual(e["hint"], "ringfence why " + self.fx.secret)
        self.assertIn("ringfence: files: 1 file access(es) refused by Landlock", r.stderr)
        self.assertIn("(ask: ringfence why %s)" % self.fx.secret, r.stderr)
        self.assertNotIn("not reported", r.stderr)
        start = [e for e in evs if e["layer"] == "process" and e["action"] == "start"]
        self.assertEqual(start[0]["file_denials"], "reported (kernel audit records)")
        # Nothing from the allowed read.
        self.assertFalse([x for x in denied if x["path"].endswith("mine.txt")])

    def test_read_outside_grants_platform(self):
        self.check_read_denial("platform")

    def test_read_outside_grants_namespace(self):
        self.check_read_denial("namespace")

    def test_the_command_does_not_get_the_audit_socket(self):
        probe = ("import os\n"
                 "for e in os.listdir('/proc/self/fd'):\n"
                 "    try: print(e, os.readlink('/proc/self/fd/' + e))\n"
                 "    except OSError: pass\n")
        r = rf.run([rf.PY, "-c", probe], policy=self.fx.policy(), cwd=self.fx.wd,
                   extra=["--audit", self.fx.log])
        self.assertEqual(r.returncode, 0, r.stderr)
        fds = dict(line.split(" ", 1) for line in r.stdout.splitlines())
        self.assertFalse([f for f, link in fds.items() if int(f) > 2 and "socket" in link],
                         fds)
        start = [e for e in read_events(self.fx.log) if e["action"] == "start"]
        self.assertEqual(start[0]["file_denials"], "reported (kernel audit records)")

    def test_write_and_mkdir_in_read_only_grant(self):
        r = self.run_probe(["r:" + self.fx.ro_file, "w:" + self.fx.ro_file,
                            "d:" + self.fx.ro_dir + "/sub"])
        self.assertEqual(r.stdout.split("\n")[:3], ["0 r OK", "1 w EACCES", "2 d EACCES"],
                         r.stderr)
        denied = file_denials(read_events(self.fx.log))
        by_access = {a: e for e in denied for a in e["access"]}
        self.assertIn("write_file", by_access, denied)
        self.assertEqual(by_access["write_file"]["path"], self.fx.ro_file)
        self.assertIn("make_dir", by_access, denied)
        self.assertEqual(by_access["make_dir"]["path"], self.fx.ro_dir)
        self.assertNotIn("read_file", by_access)
        self.assertRegex(r.stderr, r"ringfence: files: 2 file access\(es\) refused by Landlock "
                                   r"\(not granted by the policy\); first: "
                                   + re.escape(self.fx.ro_file) + ": write_file")

    def test_hostile_path_is_reported_exactly_and_escaped(self):
        name = 'a b\n"c\x1b[31mred\\x\x07'
        path = write(os.path.join(self.fx.secret_dir, name), "x")
        r = self.run_probe(["r:" + path])
        self.assertEqual(r.stdout.split("\n")[0], "0 r EACCES", r.stderr)
        with open(self.fx.log) as f:
            raw = f.read()
        self.assertNotIn("\x1b", raw)
        self.assertNotIn("\x07", raw)
        denied = file_denials(read_events(self.fx.log))
        self.assertEqual([e["path"] for e in denied], [path])
        # The terminal summary carries no control character of the path.
        line = [x for x in r.stderr.split("\n") if x.startswith("ringfence: files:")]
        self.assertEqual(len(line), 1, r.stderr)
        self.assertNotIn("\x1b", r.stderr)
        self.assertNotIn("\x07", r.stderr)

    def test_concurrent_sandboxes_see_only_their_own(self):
        stop = os.path.join(self.fx.wd, "stop")
        other = write(os.path.join(self.fx.secret_dir, "other.txt"), "x")
        logs = [os.path.join(self.fx.out, "a.jsonl"), os.path.join(self.fx.out, "b.jsonl")]
        pol = write(os.path.join(self.fx.out, "p.yaml"), self.fx.policy())
        procs = []
        for target, log in ((self.fx.secret, logs[0]), (other, logs[1])):
            procs.append(subprocess.Popen(
                [rf.BIN, "run", "-q", "--policy", pol, "--audit", log, "--", rf.PY, "loop.py",
                 target, stop], cwd=self.fx.wd, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True))
        # Both have refused several reads before either stops.
        for log in logs:
            got = rf.wait_count(lambda: len(file_denials(read_events(log)))
                                if os.path.exists(log) else 0, 1, timeout=20)
            self.assertGreaterEqual(got, 1, log)
        time.sleep(0.2)
        with open(stop, "w") as f:
            f.write("")
        outs = [p.communicate(timeout=30) for p in procs]
        for (out, err), target, log in zip(outs, (self.fx.secret, other), logs):
            self.assertRegex(out, r"refused [1-9]", err)
            paths = {e["path"] for e in file_denials(read_events(log))}
            self.assertEqual(paths, {target}, log)

    def test_flood_is_bounded(self):
        # 100,000 refused opens over 2,000 different files: more distinct
        # refusals than are written (1,000), each repeated.
        flood_dir = os.path.join(self.fx.out, "flood")
        os.mkdir(flood_dir)
        os.chmod(flood_dir, 0o755)
        listing = [write(os.path.join(flood_dir, "f%04d" % i), "") for i in range(2000)]
        write(os.path.join(self.fx.wd, "names"), "\n".join(listing))
        start = time.monotonic()
        r = rf.run([rf.PY, "flood.py", "names", "100000"], policy=self.fx.policy(),
                   cwd=self.fx.wd, extra=["--audit", self.fx.log], timeout=180)
        took = time.monotonic() - start
        self.assertIn("refused 100000", r.stdout, r.stderr)
        self.assertLess(took, 90)
        evs = read_events(self.fx.log)
        denied = file_denials(evs)
        self.assertLessEqual(len(denied), 1000)
        self.assertGreaterEqual(len(denied), 1)
        self.assertLess(os.path.getsize(self.fx.log), 2 << 20)
        summary = [e for e in evs if e.get("action") == "file_denials"]
        self.assertEqual(len(summary), 1, evs[-3:])
        s = summary[0]
        self.assertEqual(s["written"], len(denied))
        self.assertEqual(s["denials"], s["written"] + s["suppressed"])
        self.assertGreater(s["suppressed"], 0)
        self.assertLessEqual(len(s["repeated"]), 20)
        # Every refusal is accounted for: received, or lost on the way and
        # said so (the kernel's count, or the reader's buffer overflowing).
        if not s.get("socket_overflows"):
            self.assertGreaterEqual(s["denials"] + s.get("records_lost", 0), 100000, s)
        if s["denials"] < 100000:
            self.assertIn("kernel audit records were lost during the run", r.stderr)
        self.assertRegex(r.stderr, r"ringfence: files: \d+ file access\(es\) refused")

    def test_effective_policy_and_doctor_say_reported(self):
        j = rf.effective(self.fx.policy())
        self.assertTrue(j["enforcement"]["landlock"]["file_denials"].startswith("reported"), j)
        d = json.loads(rf.ringfence("doctor", "--json").stdout)
        checks = {c["id"]: c for c in d["checks"]}
        self.assertEqual(checks["file_denials"]["status"], "ok", checks["file_denials"])


class NotReported(Base):
    """Where the records cannot be had, the run says so and still works."""

    def test_audit_off_says_plainly(self):
        self.assertEqual(set_audit(0), 0)
        r = self.run_probe(["r:mine.txt", "r:" + self.fx.secret])
        self.assertEqual(r.stdout.split("\n")[:2], ["0 r OK", "1 r EACCES"], r.stderr)
        self.assertIn("ringfence: file denials: not reported (kernel auditing is off", r.stderr)
        evs = read_events(self.fx.log)
        self.assertFalse(file_denials(evs))
        start = [e for e in evs if e["layer"] == "process" and e["action"] == "start"]
        self.assertTrue(start[0]["file_denials"].startswith(
            "not reported (kernel auditing is off"), evs)
        j = rf.effective(self.fx.policy())
        self.assertTrue(j["enforcement"]["landlock"]["file_denials"].startswith(
            "not reported (kernel auditing is off"), j)
        d = json.loads(rf.ringfence("doctor", "--json").stdout)
        checks = {c["id"]: c for c in d["checks"]}
        self.assertEqual(checks["file_denials"]["status"], "degraded", checks["file_denials"])
        self.assertIn("not reported (kernel auditing is off", checks["file_denials"]["detail"])
        self.assertEqual(audit_enabled(), 0)  # left as it was

    def test_kernel_audit_flag_turns_it_on_and_says_so(self):
        self.assertEqual(set_audit(0), 0)
        r = self.run_probe(["r:" + self.fx.secret], extra=["--kernel-audit"])
        self.assertEqual(r.stdout.split("\n")[0], "0 r EACCES", r.stderr)
        self.assertIn("kernel auditing turned on host-wide for --kernel-audit", r.stderr)
        self.assertEqual(audit_enabled(), 1)
        self.assertEqual([e["path"] for e in file_denials(read_events(self.fx.log))],
                         [self.fx.secret])

    def test_landlock_abi_below_7_says_plainly(self):
        self.assertEqual(set_audit(1), 0)
        env = dict(os.environ, RINGFENCE_TEST_LANDLOCK_ABI="6")
        r = self.run_probe(["r:" + self.fx.secret], env=env)
        self.assertEqual(r.stdout.split("\n")[0], "0 r EACCES", r.stderr)
        self.assertIn("ringfence: file denials: not reported (Landlock ABI 6 writes no audit "
                      "records; ABI 7 (Linux 6.15) does)", r.stderr)
        self.assertFalse(file_denials(read_events(self.fx.log)))

    def test_unprivileged_says_plainly_and_works(self):
        self.assertEqual(set_audit(1), 0)
        os.chmod(self.fx.out, 0o777)
        pol = write(os.path.join(self.fx.out, "p.yaml"), self.fx.policy("auto"))
        r = subprocess.run(AS_USER + [rf.BIN, "run", "-q", "--policy", pol, "--audit",
                                      self.fx.log, "--", rf.PY, "probe.py", "r:mine.txt",
                                      "r:" + self.fx.secret],
                           cwd=self.fx.wd, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.stdout.split("\n")[:2], ["0 r OK", "1 r EACCES"], r.stderr)
        self.assertIn("ringfence: file denials: not reported (reading the kernel's audit "
                      "records needs CAP_AUDIT_READ", r.stderr)
        evs = read_events(self.fx.log)
        self.assertFalse(file_denials(evs))
        start = [e for e in evs if e["layer"] == "process" and e["action"] == "start"]
        self.assertTrue(start[0]["file_denials"].startswith("not reported (reading"), evs)


if __name__ == "__main__":
    unittest.main()
