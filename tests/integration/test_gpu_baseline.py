"""GPU baseline of the Landlock layer, end to end. In a private mount
namespace a tmpfs replaces /dev and stand-in character devices (the
major/minor of /dev/null) take the names of NVIDIA/WSL/AMD device nodes; the real
`ringfence run` with `gpu: auto` must let the sandboxed ll_fsop open them
read-write and ioctl them, write its /proc/self/task/<tid>/comm, and still
refuse any other device node and anything outside the policy."""
import json
import os
import shlex
import subprocess
import unittest

from rf import BIN, HELPERS, IS_ROOT, TempDir, effective, helper, run, wait_count, wait_exec

FSOP = helper("ll_fsop")
GPPROC = helper("gp_proc")
AS_NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]
GPU_NODES = ["nvidiactl", "nvidia0", "nvidia1", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset",
             "kfd", "dri/renderD128"]
NOT_GPU = ["sdz", "nvidia0x", "nvidia-fake"]  # not granted: sdz, and names the baseline must not match


def key(node):
    return node.replace("/", "_")


def policy(gpu):
    ro = [p for p in ("/usr", "/lib", "/lib64", "/etc") if os.path.exists(p)] + [HELPERS, "/dev/zero"]
    return ("version: 1\n"
            f"filesystem_policy: {{include_workdir: false, read_only: {json.dumps(ro)}, read_write: []}}\n"
            "network: {mode: none}\n"
            f"gpu: \"{gpu}\"\n")


def run_stand_ins(base, nodes, cases):
    """Writes policy-auto.yaml and policy-off.yaml to base, then, in a private
    mount namespace whose /dev is a tmpfs holding /dev/null, /dev/zero,
    /dev/random, /dev/urandom and a stand-in (c 1 3) for each of `nodes`,
    saves `policy show --effective` per policy (out/eff-<gpu>.json) and runs
    each case (name, gpu, fsop args) as out/<name>.{out,err,rc}. Returns the
    namespace's CompletedProcess and the out directory."""
    pols = {}
    for gpu in ("auto", "off"):
        pols[gpu] = os.path.join(base, f"policy-{gpu}.yaml")
        with open(pols[gpu], "w") as f:
            f.write(policy(gpu))
        os.chmod(pols[gpu], 0o644)
    q = shlex.quote
    lines = [
        "set -e",
        "mount -t tmpfs -o mode=755 rf-test-dev /dev",
        "mkdir /dev/dri",
        "mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5",
        "mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9",
    ]
    for node in nodes:
        lines.append(f"mknod -m 666 /dev/{node} c 1 3")
    lines.append("set +e")
    out = os.path.join(base, "out")
    os.mkdir(out)
    for gpu in ("auto", "off"):
        lines.append(f"{q(BIN)} policy show --effective --json --policy {q(pols[gpu])} "
                     f"> {q(out)}/eff-{gpu}.json 2>/dev/null")
    for name, gpu, args in cases:
        cmd = " ".join(q(a) for a in [BIN, "run", "-q", "--policy", pols[gpu], "--", FSOP] + args)
        lines.append(f"{cmd} > {q(out)}/{name}.out 2>{q(out)}/{name}.err; echo $? > {q(out)}/{name}.rc")
    script = os.path.join(base, "gpu.sh")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", script],
                          capture_output=True, text=True, timeout=60)
    return proc, out


class StandInResults:
    """Shared by the stand-in classes: setUpClass sets _tmp, proc and out."""

    @classmethod
    def tearDownClass(cls):
        cls._tmp.__exit__(None, None, None)

    def test_setup_ran(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)

    def result(self, name):
        with open(os.path.join(self.out, name + ".rc")) as f:
            rc = int(f.read())
        with open(os.path.join(self.out, name + ".out")) as f:
            stdout = f.read().strip()
        with open(os.path.join(self.out, name + ".err")) as f:
            stderr = f.read()
        self.assertNotEqual(rc, 125, f"{name}: ringfence failed: {stderr}")
        return rc, stdout

    def eff(self, gpu):
        with open(os.path.join(self.out, f"eff-{gpu}.json")) as f:
            return json.load(f)


@unittest.skipUnless(IS_ROOT, "needs root for a private mount namespace and mknod")
class GpuBaseline(StandInResults, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = TempDir()
        base = cls._tmp.__enter__()
        cls.base = base
        denied = os.path.join(base, "denied")
        os.mkdir(denied)
        os.chmod(denied, 0o777)
        secret = os.path.join(denied, "secret")
        with open(secret, "w") as f:
            f.write("secret\n")
        os.chmod(secret, 0o666)

        cases = []  # (name, policy, fsop args)
        for node in GPU_NODES:
            cases.append((f"auto-ioctl-{key(node)}", "auto", ["ioctl", f"/dev/{node}"]))
            cases.append((f"off-ioctl-{key(node)}", "off", ["ioctl", f"/dev/{node}"]))
        for node in NOT_GPU:
            cases.append((f"auto-read-{node}", "auto", ["read", f"/dev/{node}"]))
            cases.append((f"auto-ioctl-{node}", "auto", ["ioctl", f"/dev/{node}"]))
        cases += [
            ("auto-comm", "auto", ["comm"]),
            ("off-comm", "off", ["comm"]),
            ("auto-zero-ioctl-readonly", "auto", ["ioctl", "/dev/zero", "r"]),
            ("auto-read-secret", "auto", ["read", secret]),
            ("auto-list-dev", "auto", ["list", "/dev"]),
        ]
        cls.proc, cls.out = run_stand_ins(base, GPU_NODES + NOT_GPU, cases)

    def test_gpu_nodes_open_read_write_and_ioctl(self):
        for node in GPU_NODES:
            rc, out = self.result(f"auto-ioctl-{key(node)}")
            # The ioctl reached the driver (/dev/null's: ENOTTY), not EACCES.
            self.assertEqual((rc, out), (0, "OK ENOTTY"), node)

    def test_gpu_nodes_unreachable_without_the_baseline(self):
        for node in GPU_NODES:
            self.assertEqual(self.result(f"off-ioctl-{key(node)}"), (1, "ERR EACCES"), node)

    def test_ioctl_refused_on_a_device_granted_without_ioctl_dev(self):
        # /dev/zero is granted read-only: open works, the ioctl does not.
        self.assertEqual(self.result("auto-zero-ioctl-readonly"), (1, "ERR EACCES"))

    def test_other_device_nodes_stay_unreachable(self):
        for node in NOT_GPU:
            self.assertEqual(self.result(f"auto-read-{node}"), (1, "ERR EACCES"), node)
            self.assertEqual(self.result(f"auto-ioctl-{node}"), (1, "ERR EACCES"), node)
        self.assertEqual(self.result("auto-list-dev"), (1, "ERR EACCES"))

    def test_proc_comm_writable_only_with_the_baseline(self):
        self.assertEqual(self.result("auto-comm"), (0, "OK"))
        self.assertEqual(self.result("off-comm"), (1, "ERR EACCES"))

    def test_outside_policy_still_refused(self):
        self.assertEqual(self.result("auto-read-secret"), (1, "ERR EACCES"))

    def test_effective_policy_lists_the_baseline(self):
        fs = self.eff("auto")["filesystem_policy"]
        for node in GPU_NODES:
            self.assertIn(f"/dev/{node}", fs["read_write"])
        for node in NOT_GPU:
            self.assertNotIn(f"/dev/{node}", fs["read_write"] + fs["read_only"])
        self.assertIn("/proc", fs["read_write"])
        self.assertEqual((fs["read_write"] + fs["read_only"]).count("/proc"), 1)
        rules = self.eff("auto")["enforcement"]["landlock"]["rules"]
        ctl = [r for r in rules if r["path"] == "/dev/nvidiactl"]
        self.assertEqual(len(ctl), 1)
        self.assertIn("ioctl_dev", ctl[0]["access"])
        fs_off = self.eff("off")["filesystem_policy"]
        self.assertFalse([p for p in fs_off["read_write"] if p.startswith("/dev/nvidia")])


@unittest.skipUnless(IS_ROOT, "needs root for a private mount namespace and mknod")
class GpuBaselineWsl(StandInResults, unittest.TestCase):
    """WSL 2: /dev/dxg alone (no /dev/nvidiactl) turns `gpu: auto` on."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = TempDir()
        cls.base = cls._tmp.__enter__()
        cases = [
            ("auto-ioctl-dxg", "auto", ["ioctl", "/dev/dxg"]),
            ("off-ioctl-dxg", "off", ["ioctl", "/dev/dxg"]),
            ("auto-comm", "auto", ["comm"]),
            ("off-comm", "off", ["comm"]),
            ("auto-read-sdz", "auto", ["read", "/dev/sdz"]),
        ]
        cls.proc, cls.out = run_stand_ins(cls.base, ["dxg", "sdz"], cases)

    def test_dxg_open_read_write_and_ioctl_only_with_the_baseline(self):
        self.assertEqual(self.result("auto-ioctl-dxg"), (0, "OK ENOTTY"))
        self.assertEqual(self.result("off-ioctl-dxg"), (1, "ERR EACCES"))

    def test_dxg_turns_on_the_whole_baseline(self):
        # /proc promoted to read-write: the baseline is on, not just one node.
        self.assertEqual(self.result("auto-comm"), (0, "OK"))
        self.assertEqual(self.result("off-comm"), (1, "ERR EACCES"))
        self.assertEqual(self.result("auto-read-sdz"), (1, "ERR EACCES"))

    def test_effective_policy_lists_dxg(self):
        fs = self.eff("auto")["filesystem_policy"]
        self.assertIn("/dev/dxg", fs["read_write"])
        self.assertIn("/proc", fs["read_write"])
        self.assertNotIn("/dev/sdz", fs["read_write"] + fs["read_only"])
        self.assertFalse([p for p in fs["read_write"] if p.startswith("/dev/nvidia")])
        rules = [r for r in self.eff("auto")["enforcement"]["landlock"]["rules"] if r["path"] == "/dev/dxg"]
        self.assertEqual(len(rules), 1)
        self.assertIn("ioctl_dev", rules[0]["access"])
        fs_off = self.eff("off")["filesystem_policy"]
        self.assertNotIn("/dev/dxg", fs_off["read_write"] + fs_off["read_only"])
        self.assertNotIn("/proc", fs_off["read_write"])


# Per-process /proc files whose open for writing another same-uid process
# passes the kernel's permission check (the file mode alone, or a ptrace
# check Landlock's own ptrace restriction does not stop between equals), with
# a value that changes something. docs/gpu.md lists what each one does.
PER_PROCESS = [("oom_adj", "15"), ("oom_score_adj", "1000"), ("clear_refs", "1"), ("sched", "0"),
               ("comm", "pwned"), ("coredump_filter", "0x7f"), ("autogroup", "19"),
               ("attr/current", "x"), ("attr/exec", "x"), ("attr/fscreate", "x"),
               ("attr/keycreate", "x"), ("attr/sockcreate", "x"), ("uid_map", "0 0 1"),
               ("gid_map", "0 0 1"), ("projid_map", "0 0 1"), ("loginuid", "1"),
               ("timerslack_ns", "1"), ("timens_offsets", "monotonic 1 0"), ("mem", "x")]
# Files of /proc itself that the sandbox's uid may write.
GLOBAL = [(p, v) for p, v in [("/proc/pressure/cpu", "some 500000 2000000")] if os.path.exists(p)]
PER_THREAD = [("oom_adj", "15"), ("oom_score_adj", "1000"), ("clear_refs", "1"), ("sched", "0"),
              ("comm", "pwned"), ("attr/current", "x"), ("uid_map", "0 0 1"), ("loginuid", "1"),
              ("mem", "x")]


def gpu_on_policy():
    ro = [p for p in ("/usr", "/lib", "/lib64", "/etc") if os.path.exists(p)] + [HELPERS]
    return ("version: 1\n"
            f"filesystem_policy: {{include_workdir: false, read_only: {json.dumps(ro)}, read_write: []}}\n"
            "network: {mode: none}\n"
            "gpu: \"on\"\n")


class Target:
    """A process of uid 65534 outside any sandbox, with a second thread: the
    files of another same-uid process that a sandbox must not write."""

    def __enter__(self):
        self.proc = subprocess.Popen(AS_NOBODY + [GPPROC, "target", "60"])
        wait_exec(self.proc, GPPROC)
        task = f"/proc/{self.proc.pid}/task"
        n = wait_count(lambda: len(os.listdir(task)), 2)
        assert n == 2, f"target has {n} threads"
        self.tid = int([t for t in os.listdir(task) if t != str(self.proc.pid)][0])
        return self

    def __exit__(self, *a):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def paths(self):
        pid = self.proc.pid
        out = [(f"/proc/{pid}/{f}", v) for f, v in PER_PROCESS]
        for tid in (pid, self.tid):
            out += [(f"/proc/{pid}/task/{tid}/{f}", v) for f, v in PER_THREAD]
        return out

    def read(self, name):
        with open(f"/proc/{self.proc.pid}/{name}") as f:
            return f.read().strip()


def put_script(paths):
    """A shell command running `gp_proc put` on each (path, value), one
    "PATH RESULT" line each."""
    q = shlex.quote
    return "; ".join(f"printf '%s ' {q(p)}; {q(GPPROC)} put {q(p)} {q(v)}" for p, v in paths)


def results(stdout):
    out = {}
    for line in stdout.splitlines():
        path, _, res = line.partition(" ")
        out[path] = res
    return out


@unittest.skipUnless(IS_ROOT and os.path.exists("/usr/bin/setpriv"),
                     "needs root (a target and the sandbox as uid 65534) and setpriv")
class GpuProcWrites(unittest.TestCase):
    """gpu: on must not open another same-uid process's /proc files for
    writing; the sandbox still names its own threads (the only /proc write a
    GPU driver needs)."""

    def sandboxed(self, mode, script):
        r = run(["/bin/sh", "-c", script], policy=gpu_on_policy(), extra=["--mode", mode])
        self.assertNotEqual(r.returncode, 125, r.stderr)
        return r

    def test_control_a_same_uid_process_can_write_them(self):
        with Target() as t:
            before = t.read("oom_score_adj")
            r = subprocess.run(AS_NOBODY + ["/bin/sh", "-c", put_script(t.paths() + GLOBAL)],
                               capture_output=True, text=True, timeout=60)
            res = results(r.stdout)
            for path, _ in t.paths() + GLOBAL:
                # The open is what Landlock refuses; the kernel may still
                # refuse the value itself (attr/*, comm of another process).
                self.assertTrue(res.get(path, "").startswith(("OK", "ERR-WRITE")),
                                f"{path}: {res.get(path)}")
            self.assertEqual(res[f"/proc/{t.proc.pid}/oom_score_adj"], "OK")
            self.assertEqual(res[f"/proc/{t.proc.pid}/clear_refs"], "OK")
            self.assertNotEqual(t.read("oom_score_adj"), before)

    def test_platform_mode_refuses_another_processes_proc_files(self):
        with Target() as t:
            before = {f: t.read(f) for f in ("oom_score_adj", "coredump_filter", "autogroup")}
            r = self.sandboxed("platform", put_script(t.paths() + GLOBAL))
            res = results(r.stdout)
            for path, _ in t.paths() + GLOBAL:
                self.assertEqual(res.get(path), "ERR-OPEN EACCES", path)
            self.assertEqual({f: t.read(f) for f in before}, before)

    def test_namespace_mode_does_not_see_host_processes(self):
        with Target() as t:
            r = self.sandboxed("namespace", put_script(t.paths()))
            res = results(r.stdout)
            for path, _ in t.paths():
                self.assertEqual(res.get(path), "ERR-OPEN ENOENT", path)
            # init, PID 1 of the sandbox's namespace, is not dumpable: its
            # files belong to root.
            r = self.sandboxed("namespace", put_script([("/proc/1/oom_score_adj", "1000"),
                                                        ("/proc/1/clear_refs", "1")]))
            res = results(r.stdout)
            self.assertEqual(res.get("/proc/1/oom_score_adj"), "ERR-OPEN EACCES")
            self.assertEqual(res.get("/proc/1/clear_refs"), "ERR-OPEN EACCES")

    def test_own_thread_names_work(self):
        for mode in ("platform", "namespace"):
            for how in ("self", "thread"):
                r = self.sandboxed(mode, f"exec {shlex.quote(GPPROC)} name {how} rf-gpu-{how}")
                self.assertEqual((r.returncode, r.stdout.strip()), (0, "OK"), f"{mode} {how}: {r.stderr}")

    def test_thread_names_in_processes_the_command_starts(self):
        # Namespace mode: the sandbox's own /proc, every process of it.
        # Platform mode: the host's /proc; only the command's own
        # /proc/<pid>/task is writable, a process it starts can name only
        # its calling thread (prctl), docs/gpu.md.
        r = self.sandboxed("namespace", f"exec {shlex.quote(GPPROC)} name child rf-gpu-child")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "OK"), r.stderr)
        r = self.sandboxed("platform", f"exec {shlex.quote(GPPROC)} name child rf-gpu-child")
        self.assertEqual((r.returncode, r.stdout.strip()), (1, "ERR EACCES"), r.stderr)
        r = self.sandboxed("platform", f"{shlex.quote(GPPROC)} name self rf-gpu-self")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "OK"), r.stderr)

    def test_effective_policy_says_where_proc_is_writable(self):
        e = effective(gpu_on_policy(), mode="platform")
        fs = e["filesystem_policy"]
        self.assertNotIn("/proc", fs["read_write"])
        self.assertIn("/proc", fs["read_only"])
        self.assertIn("/proc/self/task", json.dumps(e["enforcement"]["landlock"]))
        e = effective(gpu_on_policy(), mode="namespace")
        self.assertIn("/proc", e["filesystem_policy"]["read_write"])


class NoGpuHere(unittest.TestCase):
    def test_without_stand_ins_no_gpu_path_in_effective_policy(self):
        if os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg"):
            self.skipTest("this host has a GPU")
        for mode in ("none", "platform"):
            e = effective(policy("auto"), mode=mode)
            fs = e["filesystem_policy"]
            paths = fs["read_write"] + fs["read_only"]
            gpu = [p for p in paths if p.startswith(("/dev/nvidia", "/dev/dxg", "/dev/kfd", "/dev/dri",
                                                     "/run/nvidia", "/usr/lib/wsl", "/sys"))]
            self.assertEqual(gpu, [], mode)
            self.assertNotIn("/proc", fs["read_write"])


if __name__ == "__main__":
    unittest.main()
