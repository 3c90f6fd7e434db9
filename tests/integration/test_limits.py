"""Resource limits of the sandbox (process.limits, run --memory --pids --cpus
--timeout --file-size --open-files; docs/long-runs.md, "Limits"). Each limit
is shown end to end: a real program runs into it and is stopped, the same
program without the limit is not (the control), and ringfence says which
limit was reached. As root this host gives a cgroup of the sandbox's own
(the v1 hierarchies: memory, pids and cpu are bound to v1 here); as uid
65534 there is none, and rlimits hold what they can. On 95c39b3 nothing
limited anything: the flags were unknown (exit 125) and the default policy
let a bomb of 4,300 threads run to the end."""
import json
import os
import subprocess
import tempfile
import time
import unittest

import rf

AS_USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]
MODES = ("platform", "namespace")

# A fork bomb bounded by its own count: each child waits for the parent to
# close a pipe (or to die), so nothing outlives the probe.
BOMB = r"""
import os, sys
n = int(sys.argv[1]); kids = []; refused = None
r, w = os.pipe()
for i in range(n):
    try:
        pid = os.fork()
    except OSError as e:
        refused = e.errno
        break
    if pid == 0:
        os.close(w); os.read(r, 1); os._exit(0)
    kids.append(pid)
os.close(w)
for k in kids:
    os.waitpid(k, 0)
print(len(kids), refused)
"""

# 512 MiB allocated and touched page by page.
HOG = r"""
n = 512 << 20
b = bytearray(n)
for i in range(0, n, 4096):
    b[i] = 1
print("touched", len(b))
"""

# Writes 2 MiB with SIGXFSZ ignored: the write past the limit fails.
WRITER = r"""
import errno, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
try:
    with open("big", "wb") as f:
        for i in range(32):
            f.write(b"x" * 65536)
            f.flush()
    print("wrote all")
except OSError as e:
    print("refused", errno.errorcode[e.errno])
"""

OPENER = r"""
import os
fds = []; refused = None
for i in range(200):
    try:
        fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        refused = e.errno
        break
print(len(fds), refused)
"""

# Threads, bounded: each waits on one event the main thread sets at the end.
THREADS = r"""
import sys, threading
ev = threading.Event(); ts = []; refused = None
for i in range(int(sys.argv[1])):
    t = threading.Thread(target=ev.wait, args=(30,))
    try:
        t.start()
    except RuntimeError as e:
        refused = str(e)
        break
    ts.append(t)
ev.set()
for t in ts:
    t.join()
print(len(ts), refused)
"""


def run_limited(argv, flags=(), mode="platform", as_user=False, cwd=None, policy=None,
                timeout=60, audit=None, preexec_fn=None):
    cmd = [rf.BIN, "run", "-q", "--mode", mode]
    if policy:
        cmd += ["--policy", policy]
    if audit:
        cmd += ["--audit", audit]
    cmd += list(flags) + ["--"] + list(argv)
    if as_user:
        cmd = AS_USER + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          preexec_fn=preexec_fn)


def events(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def limit_mechanisms(policy_yaml, as_user=False, mode="platform"):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(policy_yaml)
    os.chmod(f.name, 0o644)
    try:
        cmd = [rf.BIN, "policy", "show", "--effective", "--json", "--mode", mode,
               "--policy", f.name]
        if as_user:
            cmd = AS_USER + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return r, (json.loads(r.stdout)["enforcement"].get("limits", {})
                   if r.returncode == 0 else None)
    finally:
        os.unlink(f.name)


LIMITS_POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, /dev/null]
landlock:
  compatibility: {compat}
process:
  limits:
{limits}
"""


def policy_with(limits, compat="best_effort"):
    body = "".join("    %s: %s\n" % kv for kv in limits.items())
    return LIMITS_POLICY.format(compat=compat, limits=body)


@unittest.skipUnless(rf.IS_ROOT, "runs as root and drops to uid 65534 itself")
class Limits(unittest.TestCase):

    def users(self):
        return ((False, "root"), (True, "uid 65534"))

    def test_fork_bomb_stopped_by_pids_limit(self):
        for as_user, who in self.users():
            for mode in MODES:
                with self.subTest(who=who, mode=mode), rf.TempDir() as d, \
                        rf.OutsideDir(mode=0o777) as out:
                    ctl = run_limited([rf.PY, "-c", BOMB, "300"], mode=mode, as_user=as_user,
                                      cwd=d)
                    self.assertEqual(ctl.returncode, 0, ctl.stderr)
                    self.assertEqual(ctl.stdout.split(), ["300", "None"], ctl.stderr)
                    audit = os.path.join(out, "audit.jsonl")
                    r = run_limited([rf.PY, "-c", BOMB, "300"], ["--pids", "40"], mode=mode,
                                    as_user=as_user, cwd=d, audit=audit)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    made, refused = r.stdout.split()
                    self.assertLess(int(made), 40, r.stdout)
                    self.assertEqual(refused, "11", r.stdout)  # EAGAIN
                    if not as_user:
                        # The cgroup counts the refusals: reported.
                        self.assertIn("ringfence: limit: processes limit (40) reached", r.stderr)
                        ev = [e for e in events(audit) if e.get("layer") == "limits"]
                        self.assertTrue(any(e.get("action") == "pids_max" for e in ev), ev)

    def test_memory_hog_stopped(self):
        for as_user, who in self.users():
            for mode in MODES:
                with self.subTest(who=who, mode=mode), rf.TempDir() as d, \
                        rf.OutsideDir(mode=0o777) as out:
                    ctl = run_limited([rf.PY, "-c", HOG], mode=mode, as_user=as_user, cwd=d)
                    self.assertEqual(ctl.returncode, 0, ctl.stderr)
                    self.assertIn("touched 536870912", ctl.stdout)
                    audit = os.path.join(out, "audit.jsonl")
                    r = run_limited([rf.PY, "-c", HOG], ["--memory", "128m"], mode=mode,
                                    as_user=as_user, cwd=d, audit=audit)
                    self.assertNotIn("touched", r.stdout)
                    if as_user:
                        # RLIMIT_DATA: the allocation itself is refused.
                        self.assertEqual(r.returncode, 1, r.stderr)
                        self.assertIn("MemoryError", r.stderr)
                    else:
                        # The cgroup: the OOM killer ends it, and that is said.
                        self.assertEqual(r.returncode, 137, r.stderr)
                        self.assertIn("ringfence: limit: memory limit (128m) reached: the "
                                      "kernel's OOM killer killed", r.stderr)
                        ev = [e for e in events(audit) if e.get("layer") == "limits"]
                        self.assertTrue(any(e.get("action") == "oom_kill" for e in ev), ev)
                        ex = [e for e in events(audit) if e.get("action") == "exit"]
                        self.assertEqual(ex[-1]["limits_reached"], ["memory"], ex)

    def test_file_size_limit(self):
        for as_user, who in self.users():
            for mode in MODES:
                with self.subTest(who=who, mode=mode), rf.TempDir() as d:
                    ctl = run_limited([rf.PY, "-c", WRITER], mode=mode, as_user=as_user, cwd=d)
                    self.assertEqual(ctl.stdout.strip(), "wrote all", ctl.stderr)
                    self.assertEqual(os.path.getsize(os.path.join(d, "big")), 2 << 20)
                    os.unlink(os.path.join(d, "big"))
                    r = run_limited([rf.PY, "-c", WRITER], ["--file-size", "1m"], mode=mode,
                                    as_user=as_user, cwd=d)
                    self.assertEqual(r.stdout.strip(), "refused EFBIG", r.stderr)
                    self.assertEqual(os.path.getsize(os.path.join(d, "big")), 1 << 20)
                    # Without a handler, SIGXFSZ ends the writer: reported.
                    r = run_limited(["/bin/sh", "-c", "head -c 2097152 /dev/zero > big2"],
                                    ["--file-size", "1m"], mode=mode, as_user=as_user, cwd=d)
                    self.assertNotEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(os.path.getsize(os.path.join(d, "big2")), 1 << 20)
                    r = run_limited(["/usr/bin/head", "-c", "2097152", "/dev/zero"],
                                    ["--file-size", "1m"], mode=mode, as_user=as_user, cwd=d)
                    # head writes to a pipe: not a file, no limit.
                    self.assertEqual(r.returncode, 0, r.stderr)
                    # (dd: python ignores SIGXFSZ itself)
                    r = run_limited(["/bin/dd", "if=/dev/zero", "of=big3", "bs=65536", "count=32"],
                                    ["--file-size", "1m"], mode=mode, as_user=as_user, cwd=d)
                    self.assertEqual(r.returncode, 128 + 25, r.stderr)
                    self.assertIn("ringfence: limit: file_size limit (1m) reached", r.stderr)

    def test_wall_time(self):
        for as_user, who in self.users():
            for mode in MODES:
                with self.subTest(who=who, mode=mode), rf.TempDir() as d, \
                        rf.OutsideDir(mode=0o777) as out:
                    ctl = run_limited(["/bin/sleep", "2"], mode=mode, as_user=as_user, cwd=d)
                    self.assertEqual(ctl.returncode, 0, ctl.stderr)
                    audit = os.path.join(out, "audit.jsonl")
                    t0 = time.monotonic()
                    # The sandbox, not only the command: a background sleep too.
                    r = run_limited(["/bin/sh", "-c", "sleep 30 & sleep 30; echo no"],
                                    ["--timeout", "1"], mode=mode, as_user=as_user, cwd=d,
                                    audit=audit, timeout=20)
                    took = time.monotonic() - t0
                    self.assertEqual(r.returncode, 124, r.stderr)
                    self.assertLess(took, 5, r.stderr)
                    self.assertNotIn("no", r.stdout)
                    self.assertIn("ringfence: limit: wall_time limit (1s) reached", r.stderr)
                    ev = [e for e in events(audit) if e.get("layer") == "limits"]
                    self.assertTrue(any(e.get("action") == "wall_time" for e in ev), ev)
                    ex = [e for e in events(audit) if e.get("action") == "exit"]
                    self.assertEqual(ex[-1]["exit_code"], 124)

    def test_cpu(self):
        """As root a cgroup throttles the sandbox to its CPUs' worth of time;
        as uid 65534 (no cgroup) cpu x wall_time seconds of RLIMIT_CPU end a
        busy loop with SIGXCPU, reported."""
        spin = ("import time\nt = time.monotonic()\nwhile time.monotonic() - t < %s: pass\n"
                "print(round(time.process_time(), 2))")
        for mode in MODES:
            with self.subTest(who="root", mode=mode), rf.TempDir() as d:
                ctl = run_limited([rf.PY, "-c", spin % 2], mode=mode, cwd=d)
                self.assertGreater(float(ctl.stdout), 0.6, ctl.stderr)
                r = run_limited([rf.PY, "-c", spin % 2], ["--cpus", "0.2"], mode=mode, cwd=d)
                self.assertLess(float(r.stdout), 0.55, r.stderr)
            with self.subTest(who="uid 65534", mode=mode), rf.TempDir() as d:
                ctl = run_limited([rf.PY, "-c", spin % 3], ["--timeout", "10"], mode=mode,
                                  as_user=True, cwd=d)
                self.assertEqual(ctl.returncode, 0, ctl.stderr)
                # 0.1 CPU x 10 s: 1 s of CPU time per process.
                r = run_limited([rf.PY, "-c", spin % 3], ["--cpus", "0.1", "--timeout", "10"],
                                mode=mode, as_user=True, cwd=d)
                self.assertEqual(r.returncode, 128 + 24, r.stderr)  # SIGXCPU
                self.assertIn("ringfence: limit: CPU time limit reached", r.stderr)

    def test_open_files(self):
        for as_user, who in self.users():
            for mode in MODES:
                with self.subTest(who=who, mode=mode), rf.TempDir() as d:
                    ctl = run_limited([rf.PY, "-c", OPENER], mode=mode, as_user=as_user, cwd=d)
                    self.assertEqual(ctl.stdout.split(), ["200", "None"], ctl.stderr)
                    r = run_limited([rf.PY, "-c", OPENER], ["--open-files", "64"], mode=mode,
                                    as_user=as_user, cwd=d)
                    made, refused = r.stdout.split()
                    self.assertLess(int(made), 64, r.stdout)
                    self.assertEqual(refused, "24", r.stdout)  # EMFILE

    def test_default_policy_caps_threads(self):
        """The embedded default policy caps the sandbox at 4096 processes and
        threads (as root: a cgroup). A policy without limits is the control."""
        with rf.TempDir() as d:
            nolimit = os.path.join(d, "p.yaml")
            with open(nolimit, "w") as f:
                f.write(policy_with({}).replace("process:\n  limits:\n", ""))
            for mode in MODES:
                with self.subTest(mode=mode):
                    ctl = run_limited([rf.PY, "-c", THREADS, "4300"], mode=mode, cwd=d,
                                      policy=nolimit)
                    self.assertEqual(ctl.stdout.split()[0], "4300", ctl.stderr)
                    r = run_limited([rf.PY, "-c", THREADS, "4300"], mode=mode, cwd=d)
                    self.assertLess(int(r.stdout.split()[0]), 4096, r.stdout + r.stderr)
                    self.assertIn("processes limit (4096) reached", r.stderr)

    def test_effective_says_mechanism(self):
        pol = policy_with({"memory": "128m", "processes": 64, "cpu": 1.5, "wall_time": "1h",
                           "file_size": "1g", "open_files": 4096})
        r, root = limit_mechanisms(pol)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cgroup", root["memory"]["mechanism"])
        self.assertIn("cgroup", root["processes"]["mechanism"])
        self.assertIn("cgroup", root["cpu"]["mechanism"])
        self.assertEqual(root["wall_time"]["mechanism"], "supervisor")
        self.assertEqual(root["wall_time"]["value"], "3600s")
        self.assertEqual(root["file_size"]["mechanism"], "RLIMIT_FSIZE")
        self.assertEqual(root["open_files"]["mechanism"], "RLIMIT_NOFILE")
        r, user = limit_mechanisms(pol, as_user=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(user["memory"]["mechanism"], "RLIMIT_DATA")
        self.assertIn("approximate", user["memory"]["note"])
        self.assertEqual(user["processes"]["mechanism"], "RLIMIT_NPROC")
        self.assertIn("every process", user["processes"]["note"])
        self.assertEqual(user["cpu"]["mechanism"], "RLIMIT_CPU")
        for st in list(root.values()) + list(user.values()):
            self.assertEqual(st["status"], "held", st)
        # A CPU rate without a cgroup and without wall_time: not held, said,
        # and fatal under hard_requirement.
        r, user = limit_mechanisms(policy_with({"cpu": 1}), as_user=True)
        self.assertEqual(user["cpu"]["status"], "not held", user)
        with rf.TempDir() as d:
            p = os.path.join(d, "hard.yaml")
            with open(p, "w") as f:
                f.write(policy_with({"cpu": 1}, compat="hard_requirement"))
            os.chmod(p, 0o644)
            r = run_limited(["/bin/true"], as_user=True, cwd=d, policy=p)
            self.assertEqual(r.returncode, 125, r.stderr)
            self.assertIn("limits: cpu (1 CPU)", r.stderr)
            self.assertIn("hard_requirement", r.stderr)
            r = run_limited(["/bin/true"], as_user=False, cwd=d, policy=p)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_values_refused(self):
        for flag, value in (("--memory", "lots"), ("--memory", "12"), ("--pids", "0"),
                            ("--cpus", "-1"), ("--timeout", "1w"), ("--open-files", "2"),
                            ("--file-size", "1q")):
            with self.subTest(flag=flag, value=value):
                r = run_limited(["/bin/true"], [flag, value])
                self.assertEqual(r.returncode, 125, r.stderr)
                self.assertIn(flag + " must be", r.stderr)
        r = rf.run(["/bin/true"], policy=policy_with({"memory": "2x"}))
        self.assertEqual(r.returncode, 125)
        self.assertRegex(r.stderr, r":\d+:\d+: process.limits.memory must be a size")

    def test_nproc_is_per_uid_without_a_user_namespace(self):
        """The documented caveat of the rlimit fallback: RLIMIT_NPROC counts
        every process of the uid on the host. 60 processes of uid 65534
        outside the sandbox leave a --pids 40 sandbox no fork in platform
        mode; in namespace mode (a user namespace of its own) the count is
        the sandbox's own."""
        outside = subprocess.Popen(AS_USER + ["/bin/sh", "-c",
                                              "for i in $(seq 60); do sleep 30 & done; wait"],
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                n = subprocess.run(["pgrep", "-c", "-s", str(outside.pid)],
                                   capture_output=True, text=True).stdout.strip()
                if n and int(n) >= 61:
                    break
                time.sleep(0.05)
            with rf.TempDir() as d:
                r = run_limited([rf.PY, "-c", BOMB, "300"], ["--pids", "40"], mode="platform",
                                as_user=True, cwd=d)
                self.assertEqual(r.stdout.split(), ["0", "11"], r.stderr)
                r = run_limited([rf.PY, "-c", BOMB, "300"], ["--pids", "40"], mode="namespace",
                                as_user=True, cwd=d)
                made, refused = r.stdout.split()
                self.assertGreater(int(made), 30, r.stdout)
                self.assertLess(int(made), 40, r.stdout)
        finally:
            os.killpg(outside.pid, 9)
            outside.wait()

    def test_no_cgroup_left_behind(self):
        """Each run's cgroups (ringfence-<supervisor pid>-<random>) are gone
        after it, also when the sandbox was killed at its deadline."""
        for mode in MODES:
            with self.subTest(mode=mode), rf.TempDir() as d:
                p = subprocess.Popen([rf.BIN, "run", "--mode", mode, "--pids", "20",
                                      "--memory", "64m", "--cpus", "1", "--timeout", "2", "--",
                                      "/bin/sh", "-c", "sleep 30 & cat /proc/self/cgroup; wait"],
                                     cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
                out, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 124, err)
                mine = "ringfence-%d-" % p.pid
                # The sandbox was inside its cgroups while it ran.
                self.assertEqual(len([l for l in out.splitlines() if mine in l]), 3, out)
                for hier in ("pids", "memory", "cpu"):
                    for root, dirs, _ in os.walk("/sys/fs/cgroup/" + hier):
                        left = [n for n in dirs if n.startswith(mine)]
                        self.assertEqual(left, [], root)
                        dirs[:] = [n for n in dirs if not n.startswith("ringfence-")]


@unittest.skipUnless(rf.IS_ROOT and os.path.isfile("/sys/fs/cgroup/pids/cgroup.procs"),
                     "needs root to delegate a cgroup v1 pids hierarchy")
class DelegatedCgroup(unittest.TestCase):
    """uid 65534 in a cgroup delegated to it (the directory and its
    cgroup.procs are its own): ringfence makes the sandbox's cgroup inside,
    and the pids limit is held and reported as root's is."""

    def test_delegated_pids_cgroup(self):
        deleg = "/sys/fs/cgroup/pids/rf-test-deleg-%d" % os.getpid()
        os.mkdir(deleg)
        try:
            for f in ("", "/cgroup.procs", "/tasks"):
                os.chown(deleg + f, 65534, 65534)

            def enter():
                with open(deleg + "/cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))

            pol = policy_with({"processes": 40})
            r, st = limit_mechanisms(pol, as_user=True)
            self.assertEqual(st["processes"]["mechanism"], "RLIMIT_NPROC")  # not delegated
            for mode in MODES:
                with self.subTest(mode=mode), rf.TempDir() as d:
                    r = run_limited([rf.PY, "-c", BOMB, "300"], ["--pids", "40"], mode=mode,
                                    as_user=True, cwd=d, preexec_fn=enter)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    made, refused = r.stdout.split()
                    self.assertLess(int(made), 40, r.stdout)
                    self.assertIn("ringfence: limit: processes limit (40) reached", r.stderr)
            # Each run removed its cgroup.
            self.assertEqual([n for n in os.listdir(deleg) if n.startswith("ringfence-")], [])
        finally:
            for _ in range(100):
                try:
                    os.rmdir(deleg)
                    break
                except OSError:
                    time.sleep(0.05)


if __name__ == "__main__":
    unittest.main()
