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

from rf import BIN, HELPERS, IS_ROOT, TempDir, effective, helper

FSOP = helper("ll_fsop")
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
