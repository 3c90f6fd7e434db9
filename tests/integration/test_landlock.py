"""Landlock layer, end to end: the real `ringfence run` confining ll_fsop
(tests/helpers/ll_fsop.c), which tries one filesystem or process operation
and prints OK or ERR <errno>. Each escape is refused; each granted operation
works; degradations are reported, and fatal under hard_requirement."""
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from rf import BIN, HELPERS, IS_ROOT, PY, OutsideDir, TempDir, effective, helper, ringfence, run

FSOP = helper("ll_fsop")
SYSTEM_RO = ["/usr", "/lib", "/lib64", "/etc"]


def policy(read_only=(), read_write=(), compat="best_effort", mode="none", gpu="off"):
    ro = [p for p in SYSTEM_RO if os.path.exists(p)] + [HELPERS] + list(read_only)
    return ("version: 1\n"
            "filesystem_policy:\n"
            "  include_workdir: false\n"
            f"  read_only: {json.dumps(ro)}\n"
            f"  read_write: {json.dumps(list(read_write))}\n"
            f"landlock: {{compatibility: {compat}}}\n"
            f"network: {{mode: {mode}}}\n"
            f"gpu: \"{gpu}\"\n")


def abi_env(abi):
    env = dict(os.environ)
    env["RINGFENCE_TEST_LANDLOCK_ABI"] = str(abi)
    return env


def write(path, text="data\n", mode=0o666):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class Tree:
    """ro/ (granted read-only), rw/ (read-write), denied/ (not in the policy);
    all world-writable so that only Landlock can refuse."""

    def __init__(self, base):
        self.ro = os.path.join(base, "ro")
        self.rw = os.path.join(base, "rw")
        self.denied = os.path.join(base, "denied")
        for d in (self.ro, self.rw, self.denied):
            os.mkdir(d)
            os.chmod(d, 0o777)
        write(os.path.join(self.ro, "file"), "read-only content\n")
        write(os.path.join(self.rw, "file"), "read-write content\n")
        write(os.path.join(self.denied, "secret"), "secret\n")

    def policy(self, **kw):
        return policy(read_only=[self.ro], read_write=[self.rw], **kw)


class LandlockTestCase(unittest.TestCase):
    def setUp(self):
        self._tmp = TempDir()
        self.base = self._tmp.__enter__()
        self.t = Tree(self.base)
        # Audit logs: outside every grant (/tmp is one).
        self._out = OutsideDir()
        self.outside = self._out.__enter__()

    def tearDown(self):
        self._out.__exit__(None, None, None)
        self._tmp.__exit__(None, None, None)

    def op(self, *args, pol=None, env=None, extra=None):
        r = run([FSOP] + list(args), policy=pol or self.t.policy(), env=env, timeout=30, extra=extra)
        self.assertNotEqual(r.returncode, 125, r.stderr)
        return r

    def assertRefused(self, r, errnos=("EACCES",)):
        self.assertEqual(r.returncode, 1, f"stdout={r.stdout!r} stderr={r.stderr!r}")
        self.assertIn(r.stdout.split()[-1], errnos, r.stdout)

    def assertOk(self, r):
        self.assertEqual(r.returncode, 0, f"stdout={r.stdout!r} stderr={r.stderr!r}")
        self.assertTrue(r.stdout.startswith("OK"), r.stdout)


class Escapes(LandlockTestCase):
    def test_read_outside_policy_refused(self):
        self.assertRefused(self.op("read", os.path.join(self.t.denied, "secret")))

    def test_write_under_read_only_refused(self):
        f = os.path.join(self.t.ro, "file")
        self.assertRefused(self.op("write", f))
        with open(f) as fh:
            self.assertEqual(fh.read(), "read-only content\n")

    def test_create_under_read_only_refused(self):
        new = os.path.join(self.t.ro, "new")
        self.assertRefused(self.op("create", new))
        self.assertFalse(os.path.exists(new))
        self.assertRefused(self.op("mkdir", os.path.join(self.t.ro, "newdir")))

    def test_rename_out_of_read_write_into_denied_refused(self):
        src = os.path.join(self.t.rw, "file")
        for dst_dir in (self.t.denied, self.t.ro):
            dst = os.path.join(dst_dir, "moved")
            self.assertRefused(self.op("rename", src, dst), ("EACCES", "EXDEV"))
            self.assertTrue(os.path.exists(src))
            self.assertFalse(os.path.exists(dst))

    def test_link_out_of_read_write_into_denied_refused(self):
        src = os.path.join(self.t.rw, "file")
        for dst_dir in (self.t.denied, self.t.ro):
            dst = os.path.join(dst_dir, "linked")
            self.assertRefused(self.op("link", src, dst), ("EACCES", "EXDEV"))
            self.assertFalse(os.path.exists(dst))

    def test_truncate_read_only_file_refused(self):
        f = os.path.join(self.t.ro, "file")
        self.assertRefused(self.op("truncate", f))
        self.assertEqual(os.path.getsize(f), len("read-only content\n"))

    def test_list_directory_outside_policy_refused(self):
        self.assertRefused(self.op("list", self.t.denied))

    def test_exec_outside_policy_refused(self):
        copy = os.path.join(self.t.denied, "true")
        shutil.copy("/bin/true", copy)
        os.chmod(copy, 0o755)
        self.assertRefused(self.op("exec", copy))


class Allowed(LandlockTestCase):
    def test_read_and_list_where_granted(self):
        self.assertOk(self.op("read", os.path.join(self.t.ro, "file")))
        self.assertOk(self.op("list", self.t.ro))
        self.assertOk(self.op("read", os.path.join(self.t.rw, "file")))

    def test_execute_where_granted(self):
        # /bin/sh lives under /usr (read-only); a copy of echo in rw/.
        self.assertOk(self.op("exec", "/bin/sh", "-c", "echo OK"))
        copy = os.path.join(self.t.rw, "echo")
        shutil.copy("/bin/echo", copy)
        os.chmod(copy, 0o755)
        self.assertOk(self.op("exec", copy, "OK"))

    def test_write_create_rename_link_truncate_in_read_write(self):
        f = os.path.join(self.t.rw, "file")
        self.assertOk(self.op("write", f))
        self.assertOk(self.op("create", os.path.join(self.t.rw, "new")))
        self.assertOk(self.op("mkdir", os.path.join(self.t.rw, "sub")))
        self.assertOk(self.op("rename", os.path.join(self.t.rw, "new"), os.path.join(self.t.rw, "sub", "new")))
        self.assertOk(self.op("link", f, os.path.join(self.t.rw, "sub", "hard")))
        self.assertOk(self.op("truncate", f))
        self.assertEqual(os.path.getsize(f), 0)
        self.assertTrue(os.path.exists(os.path.join(self.t.rw, "sub", "new")))


class Robustness(LandlockTestCase):
    def test_missing_path_first_does_not_disable_the_ruleset(self):
        # Regression: one missing path used to disable the whole ruleset.
        pol = policy(read_only=["/app", self.t.ro], read_write=["/nonexistent-rw", self.t.rw])
        pol = pol.replace('read_only: ["', 'read_only: ["/app", "', 1)  # /app really first
        r = self.op("read", os.path.join(self.t.denied, "secret"), pol=pol)
        self.assertRefused(r)
        self.assertIn("ringfence: warning: landlock: path /app skipped: does not exist", r.stderr)
        self.assertIn("/nonexistent-rw skipped", r.stderr)
        self.assertRefused(self.op("write", os.path.join(self.t.ro, "file"), pol=pol))
        self.assertRefused(self.op("list", self.t.denied, pol=pol))
        self.assertOk(self.op("read", os.path.join(self.t.ro, "file"), pol=pol))
        self.assertOk(self.op("create", os.path.join(self.t.rw, "new"), pol=pol))
        eff = effective(pol)["enforcement"]["landlock"]
        self.assertEqual(eff["status"], "fully enforced")
        self.assertIn({"path": "/app", "reason": "does not exist"}, eff["skipped_paths"])
        self.assertIn(self.t.ro, [x["path"] for x in eff["rules"]])

    def test_proc_self_grant_in_every_mode(self):
        # OpenShell's own example policies grant /proc/self read-only. In
        # namespace mode /proc is the sandbox's own, so the grant must name
        # the command's entry there, not the supervisor's pid (which the
        # sandbox's PID namespace does not have: the run failed with
        # "landlock: No such file or directory"). A host process's entry
        # named by number is skipped with its reason there.
        pol = """version: 1
filesystem_policy:
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc/self]
  read_write: [/dev/null]
"""
        for mode in ("namespace", "platform"):
            with self.subTest(mode=mode):
                r = run(["/bin/sh", "-c", "head -1 /proc/self/status"], policy=pol,
                           extra=["--mode", mode], cwd="/")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Name:", r.stdout)
        other = pol.replace("/proc/self]", f"/proc/self, /proc/{os.getpid()}]")
        r = run(["/bin/true"], policy=other, extra=["--mode", "namespace"], cwd="/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not visible in the sandbox's PID namespace", r.stderr)

    def test_single_file_rule(self):
        d = os.path.join(self.base, "single")
        os.mkdir(d)
        os.chmod(d, 0o777)
        allowed, other, rwfile = (os.path.join(d, n) for n in ("allowed.txt", "other.txt", "rw.txt"))
        for f in (allowed, other, rwfile):
            write(f)
        pol = policy(read_only=[allowed], read_write=[rwfile])
        self.assertOk(self.op("read", allowed, pol=pol))
        self.assertRefused(self.op("read", other, pol=pol))
        self.assertRefused(self.op("list", d, pol=pol))
        self.assertRefused(self.op("write", allowed, pol=pol))
        self.assertOk(self.op("write", rwfile, pol=pol))
        self.assertRefused(self.op("create", os.path.join(d, "new"), pol=pol))
        rules = {x["path"]: x for x in effective(pol)["enforcement"]["landlock"]["rules"]}
        self.assertEqual(rules[allowed]["kind"], "file")
        # Only file rights on a file (a directory right would be EINVAL).
        self.assertEqual(rules[rwfile]["access"], ["execute", "write_file", "read_file", "truncate", "ioctl_dev"])

    def test_zero_rules_refused_not_applied_empty(self):
        pol = ("version: 1\nfilesystem_policy: {include_workdir: false, read_only: [/nope1], "
               "read_write: [/nope2]}\nnetwork: {mode: none}\ngpu: \"off\"\n")
        marker = os.path.join(self.t.rw, "ran")
        r = run(["/bin/touch", marker], policy=pol, timeout=30)
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("empty ruleset", r.stderr)
        self.assertFalse(os.path.exists(marker))

    def test_invalid_compatibility_is_a_validation_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("version: 1\nlandlock: {compatibility: soft_requirement}\n")
            f.flush()
            r = ringfence("policy", "validate", f.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn("landlock.compatibility must be best_effort or hard_requirement", r.stderr)


class Compatibility(LandlockTestCase):
    def test_hard_requirement_unsatisfiable_right_exits_125_before_exec(self):
        marker = os.path.join(self.t.rw, "started")
        # ABI 2 cannot handle TRUNCATE (ABI 3), IOCTL_DEV (5), scopes (6).
        r = run([FSOP, "create", marker], policy=self.t.policy(compat="hard_requirement"),
                env=abi_env(2), timeout=30)
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("hard_requirement", r.stderr)
        self.assertIn("truncate is not enforced", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(marker))
        # The same policy on the full ABI runs.
        self.assertOk(self.op("create", marker, pol=self.t.policy(compat="hard_requirement")))

    def test_hard_requirement_missing_path_is_fatal(self):
        pol = policy(read_only=["/app", self.t.ro], compat="hard_requirement")
        r = run([FSOP, "read", os.path.join(self.t.ro, "file")], policy=pol, timeout=30)
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("/app skipped: does not exist", r.stderr)

    def test_best_effort_degraded_abi_warns_and_audits(self):
        # On ABI 2 the kernel does not check truncate(2): the read-only file
        # CAN be truncated, and ringfence says so instead of hiding it.
        f = os.path.join(self.t.ro, "file")
        audit = os.path.join(self.outside, "audit.jsonl")
        r = self.op("truncate", f, env=abi_env(2), extra=["--audit", audit])
        self.assertOk(r)
        self.assertEqual(os.path.getsize(f), 0)
        self.assertIn("ringfence: warning: landlock: filesystem right truncate is not enforced", r.stderr)
        self.assertIn("scope signal is not enforced", r.stderr)
        with open(audit) as fh:
            events = [json.loads(line) for line in fh if line.strip()]
        degraded = [e for e in events if e["layer"] == "landlock" and e["action"] == "degraded"]
        self.assertTrue(any("truncate" in e["reason"] for e in degraded), events)
        # Other rights are still enforced on ABI 2.
        self.assertRefused(self.op("read", os.path.join(self.t.denied, "secret"), env=abi_env(2)))

    def test_best_effort_skipped_path_is_audited(self):
        # A skipped path is a degradation like any other: stderr AND the
        # audit log (docs/audit.md, docs/landlock.md "Compatibility").
        audit = os.path.join(self.outside, "audit.jsonl")
        pol = policy(read_only=["/app", self.t.ro], read_write=["/nonexistent-rw", self.t.rw])
        r = self.op("read", os.path.join(self.t.ro, "file"), pol=pol, extra=["--audit", audit])
        self.assertOk(r)
        self.assertIn("path /app skipped: does not exist", r.stderr)
        with open(audit) as fh:
            events = [json.loads(line) for line in fh if line.strip()]
        skipped = [e for e in events if e["layer"] == "landlock" and e["action"] == "degraded"]
        self.assertEqual(sorted(e["subject"] for e in skipped), ["/app", "/nonexistent-rw"], events)
        for e in skipped:
            self.assertEqual(e["reason"], f"path {e['subject']} skipped: does not exist")
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        # The same run without a missing path audits no landlock degradation.
        clean = os.path.join(self.outside, "clean.jsonl")
        self.assertOk(self.op("read", os.path.join(self.t.ro, "file"), extra=["--audit", clean]))
        with open(clean) as fh:
            events = [json.loads(line) for line in fh if line.strip()]
        self.assertTrue(events)
        self.assertFalse([e for e in events if e["layer"] == "landlock"], events)

    def test_not_enforced_is_reported(self):
        r = self.op("read", os.path.join(self.t.denied, "secret"), env=abi_env(0))
        self.assertOk(r)  # nothing confines it, and ringfence says so
        self.assertIn("ringfence: warning: landlock: not enforced", r.stderr)
        env = abi_env(0)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(self.t.policy())
            f.flush()
            s = ringfence("policy", "show", "--effective", "--json", "--policy", f.name, env=env)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertEqual(json.loads(s.stdout)["enforcement"]["landlock"]["status"], "not enforced")

    def test_effective_status_full_and_partial(self):
        eff = effective(self.t.policy())["enforcement"]["landlock"]
        self.assertEqual(eff["status"], "fully enforced")
        self.assertGreaterEqual(eff["abi"], 6)
        for right in ("refer", "truncate", "ioctl_dev", "read_dir", "make_reg"):
            self.assertIn(right, eff["handled_access_fs"])
        self.assertEqual(sorted(eff["scoped"]), ["abstract_unix_socket", "signal"])
        self.assertEqual(eff["degraded"], [])
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(self.t.policy())
            f.flush()
            s = ringfence("policy", "show", "--effective", "--json", "--policy", f.name, env=abi_env(3))
        eff3 = json.loads(s.stdout)["enforcement"]["landlock"]
        self.assertEqual(eff3["status"], "partially enforced")
        self.assertEqual(eff3["abi"], 3)
        self.assertNotIn("ioctl_dev", eff3["handled_access_fs"])
        self.assertTrue(any("ioctl_dev" in d for d in eff3["degraded"]))
        self.assertIn("RINGFENCE_TEST_LANDLOCK_ABI", eff3["abi_note"])

    def test_bad_abi_knob_is_an_error(self):
        r = run([FSOP, "read", "/etc/hostname"], policy=self.t.policy(), env=abi_env("seven"), timeout=30)
        self.assertEqual(r.returncode, 125)
        self.assertIn("RINGFENCE_TEST_LANDLOCK_ABI", r.stderr)


PROXY_BASELINE_RO = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/dev/urandom"]
# /tmp is not in the baseline: the sandbox gets its own (test_private_tmp.py).
PROXY_BASELINE_RW = ["/dev/null"]


class ProxyBaseline(unittest.TestCase):
    """Egress through the proxy (namespace, platform; auto resolves to one of
    them) adds what any program needs to start: visible in
    `policy show --effective`, absent without the proxy (none, host)."""

    POLICY = ("version: 1\n"
              "filesystem_policy:\n"
              "  include_workdir: false\n"
              f"  read_only: {json.dumps([HELPERS])}\n"
              "  read_write: []\n"
              "network_policies:\n"
              "  example:\n"
              "    endpoints: [{host: example.com, port: 443}]\n"
              "gpu: \"off\"\n")

    def test_baseline_with_the_proxy(self):
        ro = [p for p in PROXY_BASELINE_RO if os.path.exists(p)]
        rw = [p for p in PROXY_BASELINE_RW if os.path.exists(p)]
        self.assertIn("/usr", ro)
        self.assertNotIn("/tmp", rw)
        for mode in ("platform", "namespace", "auto"):
            with self.subTest(mode=mode):
                e = effective(self.POLICY, mode=mode)
                self.assertIn(e["enforcement"]["network"]["mode"], ("platform", "namespace"))
                fs = e["filesystem_policy"]
                self.assertCountEqual(fs["read_only"], [HELPERS] + ro)
                self.assertCountEqual(fs["read_write"], rw)
                # Landlock gets them with the matching rights: read-only
                # ones cannot be written, /tmp and /dev/null can.
                rules = {x["path"]: x["access"] for x in e["enforcement"]["landlock"]["rules"]}
                for p in ro:
                    self.assertIn("read_file", rules[p], p)
                    self.assertNotIn("write_file", rules[p], p)
                for p in rw:
                    self.assertIn("write_file", rules[p], p)
                self.assertEqual(e["enforcement"]["landlock"]["skipped_paths"], [])

    def test_no_baseline_without_the_proxy(self):
        for mode in ("none", "host"):
            with self.subTest(mode=mode):
                e = effective(self.POLICY, mode=mode)
                self.assertEqual(e["enforcement"]["network"]["mode"], mode)
                fs = e["filesystem_policy"]
                self.assertEqual(fs["read_only"], [HELPERS])
                self.assertEqual(fs["read_write"], [])
                # Besides the sandbox's own tmpfs (a mount of its own, when it
                # has a mount namespace), nothing of the host's.
                paths = [x["path"] for x in e["enforcement"]["landlock"]["rules"]
                         if x["kind"] != "directory (mounted by the sandbox)"]
                self.assertEqual(paths, [HELPERS])


class Scopes(LandlockTestCase):
    def _victim(self):
        kw = {}
        if IS_ROOT:
            kw["user"] = 65534
            kw["group"] = 65534
        return subprocess.Popen(["/bin/sleep", "30"], **kw)

    def test_cannot_signal_a_host_process_of_the_same_uid(self):
        victim = self._victim()
        try:
            # Platform mode: pids are shared with the host there (namespace
            # mode hides the victim entirely, ESRCH).
            plat = self.t.policy(mode="platform")
            r = self.op("kill", str(victim.pid), str(int(signal.SIGTERM)), pol=plat)
            self.assertRefused(r, ("EPERM",))
            time.sleep(0.1)
            self.assertIsNone(victim.poll(), "the victim was killed")
            # Without the signal scope (ABI 5) the same kill succeeds: the
            # refusal above is Landlock's doing.
            self.assertOk(self.op("kill", str(victim.pid), str(int(signal.SIGTERM)), pol=plat, env=abi_env(5)))
            self.assertEqual(victim.wait(timeout=5), -signal.SIGTERM)
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait(timeout=5)

    @unittest.skipIf(IS_ROOT, "as root, ringfence's init is uid 0 and DAC alone refuses the signal")
    def test_cannot_signal_the_supervisor_side(self):
        # The sandboxed process's parent (ringfence's init, same uid) is
        # outside the domain.
        cmd = ["/bin/sh", "-c", "if kill -0 $PPID; then echo REACHED; else echo REFUSED; fi"]
        r = run(cmd, policy=self.t.policy(), timeout=30)
        self.assertEqual(r.stdout.strip(), "REFUSED", r.stderr)
        r = run(cmd, policy=self.t.policy(), timeout=30, env=abi_env(5))
        self.assertEqual(r.stdout.strip(), "REACHED", r.stderr)

    def test_cannot_connect_to_a_host_abstract_socket(self):
        name = f"rf-ll-test-{os.getpid()}"
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            srv.bind("\0" + name)
            srv.listen(4)
            # Mode host keeps the host's network namespace (abstract sockets
            # belong to it), so only Landlock's scope can refuse.
            self.assertRefused(self.op("abstract", name, pol=self.t.policy(mode="host")), ("EPERM",))
            self.assertOk(self.op("abstract", name, pol=self.t.policy(mode="host"), env=abi_env(5)))
        finally:
            srv.close()


class Terminal(LandlockTestCase):
    def test_terminal_paths_granted_only_with_a_terminal(self):
        script = f"{FSOP} ioctl /dev/tty; {FSOP} ioctl /dev/ptmx; {FSOP} list /dev/pts; echo DONE"
        cmd = [BIN, "run", "-q", "--policy", self._policy_file(), "--", "/bin/sh", "-c", script]
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(BIN, cmd)
            finally:
                os._exit(127)
        out = b""
        try:
            deadline = time.monotonic() + 20
            while b"DONE" not in out and time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 1)
                if r:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(fd)
        lines = out.decode(errors="replace").replace("\r", "").split("\n")
        # /dev/tty, not the caller's other terminals: neither /dev/pts as a
        # whole nor new pseudo-terminals (found by review: a sandbox of the
        # caller's uid could read another shell's terminal).
        self.assertEqual(lines[0], "OK 0", out)
        self.assertTrue(lines[1].startswith("ERR"), out)
        self.assertTrue(lines[2].startswith("ERR"), out)
        self.assertEqual(lines[3], "DONE", out)
        # Without a terminal, the same policy grants none of them.
        self.assertRefused(self.op("ioctl", "/dev/ptmx"))

    def _policy_file(self):
        path = os.path.join(self.base, "policy.yaml")
        with open(path, "w") as f:
            f.write(self.t.policy())
        os.chmod(path, 0o644)
        return path


if __name__ == "__main__":
    unittest.main()
