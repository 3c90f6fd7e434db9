"""`ringfence doctor --root`: fixture trees stand in for a host. CDI configs
come from tests/fixtures/doctor; device nodes (mknod), the persistenced socket
(a listening unix socket) and SELinux labels (xattrs) are made at test time."""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import unittest

from rf import BIN, IS_ROOT, TempDir, helper, ringfence
from test_network_modes import MOBY, profile_refusing_listener

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../fixtures/doctor")
NVIDIA_NODES = [("/dev/nvidiactl", 195, 255), ("/dev/nvidia0", 195, 0), ("/dev/nvidia-uvm", 511, 0)]


def doctor(root):
    """Runs doctor --json and the text form; returns (exit code, checks by id, text)."""
    js = ringfence("doctor", "--json", "--root", root)
    data = json.loads(js.stdout)
    text = ringfence("doctor", "--root", root)
    assert text.returncode == js.returncode, (text.returncode, js.returncode)
    checks = {c["id"]: c for c in data["checks"]}
    # The exit code follows the statuses: 1 exactly when something is missing.
    any_missing = any(c["status"] == "missing" for c in data["checks"])
    assert js.returncode == (1 if any_missing else 0), data
    assert data["exit_code"] == js.returncode
    return js.returncode, checks, text.stdout


def tree(case=None):
    t = TempDir()
    root = t.__enter__()
    if case:
        shutil.copytree(os.path.join(FIXTURES, case), root, dirs_exist_ok=True)
    return t, root


def add_nodes(root, nodes=NVIDIA_NODES):
    os.makedirs(root + "/dev", exist_ok=True)
    for path, major, minor in nodes:
        if IS_ROOT:
            os.mknod(root + path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        else:  # the check only looks at existence
            open(root + path, "w").close()


class DoctorCdiTest(unittest.TestCase):
    def test_docker_cdi_without_spec_is_missing_with_nvidia_ctk_fix(self):
        t, root = tree("cdi-docker-nospec")
        try:
            code, checks, text = doctor(root)
            self.assertEqual(code, 1)
            self.assertEqual(checks["cdi"]["status"], "missing")
            self.assertIn("CDI specs missing", checks["cdi"]["detail"])
            self.assertIn("sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml",
                          checks["cdi"]["fix"])
            line = [l for l in text.splitlines() if l.split()[:2] == ["missing", "cdi"]]
            self.assertEqual(len(line), 1, text)
            self.assertIn("fix: sudo nvidia-ctk cdi generate", line[0])
        finally:
            t.__exit__(None, None, None)

    def test_docker_cdi_with_spec_is_ok(self):
        t, root = tree("cdi-docker-spec")
        try:
            code, checks, _ = doctor(root)
            self.assertEqual(checks["cdi"]["status"], "ok")
            self.assertIn("/etc/cdi/nvidia.yaml", checks["cdi"]["detail"])
            self.assertIsNone(checks["cdi"]["fix"])
        finally:
            t.__exit__(None, None, None)

    def test_containerd_cdi_and_var_run_spec(self):
        t, root = tree("cdi-containerd-nospec")
        try:
            code, checks, _ = doctor(root)
            self.assertEqual(code, 1)
            self.assertEqual(checks["cdi"]["status"], "missing")
            self.assertIn("containerd", checks["cdi"]["detail"])
            # /var/run -> /run as on a real host; the spec lives in /run/cdi.
            os.makedirs(root + "/run/cdi")
            os.makedirs(root + "/var", exist_ok=True)
            os.symlink("../run", root + "/var/run")
            shutil.copy(os.path.join(FIXTURES, "cdi-docker-spec/etc/cdi/nvidia.yaml"),
                        root + "/run/cdi/nvidia.yaml")
            _, checks, _ = doctor(root)
            self.assertEqual(checks["cdi"]["status"], "ok")
        finally:
            t.__exit__(None, None, None)


class DoctorGpuTest(unittest.TestCase):
    def test_no_gpu(self):
        t, root = tree()
        try:
            _, checks, _ = doctor(root)
            self.assertEqual(checks["gpu_nodes"]["status"], "ok")
            self.assertIn("no GPU device nodes", checks["gpu_nodes"]["detail"])
            self.assertIn("not applicable", checks["persistenced"]["detail"])
        finally:
            t.__exit__(None, None, None)

    def test_gpu_nodes_with_and_without_persistenced(self):
        t, root = tree()
        try:
            add_nodes(root)
            _, checks, text = doctor(root)
            self.assertEqual(checks["gpu_nodes"]["status"], "ok")
            self.assertIn("/dev/nvidiactl", checks["gpu_nodes"]["detail"])
            self.assertIn("GPU baseline on", checks["gpu_nodes"]["detail"])
            self.assertEqual(checks["persistenced"]["status"], "degraded")
            self.assertIn("systemctl enable --now nvidia-persistenced", checks["persistenced"]["fix"])
            os.makedirs(root + "/run/nvidia-persistenced")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.bind(root + "/run/nvidia-persistenced/socket")
                s.listen(1)
                _, checks, _ = doctor(root)
            self.assertEqual(checks["persistenced"]["status"], "ok")
        finally:
            t.__exit__(None, None, None)

    def test_missing_uvm_node(self):
        t, root = tree()
        try:
            add_nodes(root, NVIDIA_NODES[:2])
            _, checks, _ = doctor(root)
            self.assertEqual(checks["gpu_nodes"]["status"], "degraded")
            self.assertIn("nvidia-modprobe -u", checks["gpu_nodes"]["fix"])
        finally:
            t.__exit__(None, None, None)


class DoctorSelinuxTest(unittest.TestCase):
    def setUp(self):
        self.t, self.root = tree()
        add_nodes(self.root)
        os.makedirs(self.root + "/sys/fs/selinux")
        with open(self.root + "/sys/fs/selinux/enforce", "w") as f:
            f.write("1")
        os.makedirs(self.root + "/etc/selinux")
        with open(self.root + "/etc/selinux/config", "w") as f:
            f.write("SELINUX=enforcing\nSELINUXTYPE=targeted\n")

    def tearDown(self):
        self.t.__exit__(None, None, None)

    def test_enforcing_without_then_with_module(self):
        code, checks, _ = doctor(self.root)
        self.assertEqual(code, 1)
        self.assertEqual(checks["selinux"]["status"], "missing")
        self.assertIn("enforcing", checks["selinux"]["detail"])
        self.assertIn("ringfence selinux module", checks["selinux"]["fix"])
        # What `semodule -i nvidia-container.pp` leaves in the store.
        os.makedirs(self.root + "/var/lib/selinux/targeted/active/modules/400/nvidia-container")
        _, checks, _ = doctor(self.root)
        self.assertEqual(checks["selinux"]["status"], "ok")
        self.assertIn("nvidia_container_t loaded", checks["selinux"]["detail"])

    def test_permissive_is_ok(self):
        with open(self.root + "/sys/fs/selinux/enforce", "w") as f:
            f.write("0")
        _, checks, _ = doctor(self.root)
        self.assertEqual(checks["selinux"]["status"], "ok")
        self.assertIn("permissive", checks["selinux"]["detail"])

    def test_labels_of_gpu_nodes(self):
        good = b"system_u:object_r:xserver_misc_device_t:s0\0"
        try:
            for p, _, _ in NVIDIA_NODES:
                os.setxattr(self.root + p, "security.selinux", good, follow_symlinks=False)
        except OSError as e:
            self.skipTest("cannot set security.selinux here: %s" % e)
        _, checks, _ = doctor(self.root)
        self.assertEqual(checks["selinux_labels"]["status"], "ok")
        os.setxattr(self.root + "/dev/nvidia0", "security.selinux",
                    b"system_u:object_r:device_t:s0\0", follow_symlinks=False)
        _, checks, _ = doctor(self.root)
        self.assertEqual(checks["selinux_labels"]["status"], "degraded")
        self.assertIn("/dev/nvidia0=device_t", checks["selinux_labels"]["detail"])
        self.assertIn("ringfence gpu list | sudo restorecon -v -f -", checks["selinux_labels"]["fix"])


class DoctorUsernsTest(unittest.TestCase):
    def test_apparmor_userns_restriction(self):
        t, root = tree()
        try:
            os.makedirs(root + "/proc/sys/kernel")
            with open(root + "/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "w") as f:
                f.write("1\n")
            _, checks, _ = doctor(root)
            self.assertEqual(checks["userns"]["status"], "degraded")
            self.assertIn("apparmor_restrict_unprivileged_userns=0", checks["userns"]["fix"])
        finally:
            t.__exit__(None, None, None)

    def test_live_host(self):
        # This machine: Landlock ABI 7, seccomp user notification (DESIGN.md).
        r = ringfence("doctor", "--json")
        data = json.loads(r.stdout)
        checks = {c["id"]: c for c in data["checks"]}
        self.assertEqual(checks["landlock"]["status"], "ok")
        self.assertEqual(checks["seccomp_user_notif"]["status"], "ok")
        self.assertEqual(r.returncode, data["exit_code"])



def own_status():
    """CapEff, NoNewPrivs and Seccomp of this process (a child exec'd as the
    same root with the same bounding set gets the same values)."""
    with open("/proc/self/status") as f:
        fields = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
    return int(fields["CapEff"], 16), int(fields["NoNewPrivs"]), int(fields["Seccomp"])


@unittest.skipUnless(IS_ROOT, "needs root to compare root with an unprivileged uid")
@unittest.skipUnless(shutil.which("setpriv"), "needs setpriv")
class DoctorIdentityTest(unittest.TestCase):
    def identity(self, prefix):
        """The identity check of `doctor` run under `prefix`, in JSON and text."""
        with TempDir() as root:
            js = subprocess.run(prefix + [BIN, "doctor", "--json", "--root", root],
                                capture_output=True, text=True, timeout=60)
            text = subprocess.run(prefix + [BIN, "doctor", "--root", root],
                                  capture_output=True, text=True, timeout=60)
        checks = {c["id"]: c for c in json.loads(js.stdout)["checks"]}
        c = checks["identity"]
        self.assertEqual(c["status"], "ok")
        self.assertIsNone(c["fix"])
        lines = [l for l in text.stdout.splitlines() if l.split()[:2] == ["ok", "identity"]]
        self.assertEqual(len(lines), 1, text.stdout)
        self.assertTrue(lines[0].endswith(" " + c["detail"]), (lines[0], c["detail"]))
        return c["detail"]

    def test_root(self):
        cap, nnp, seccomp = own_status()
        self.assertNotEqual(cap, 0)
        self.assertEqual(self.identity([]),
                         f"uid 0, effective capabilities {cap:#x}, no_new_privs {nnp}, "
                         f"seccomp mode {seccomp}: root, commands run as process.run_as_user")

    def test_root_with_no_new_privs(self):
        cap, _, seccomp = own_status()
        self.assertEqual(self.identity(["setpriv", "--no-new-privs", "--"]),
                         f"uid 0, effective capabilities {cap:#x}, no_new_privs 1, "
                         f"seccomp mode {seccomp}: root, commands run as process.run_as_user")

    def test_nobody_without_capabilities(self):
        _, _, seccomp = own_status()
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        self.assertEqual(self.identity(prefix),
                         f"uid 65534, effective capabilities 0x0, no_new_privs 1, "
                         f"seccomp mode {seccomp}: unprivileged, namespace mode needs user "
                         "namespaces, platform mode works anywhere")


@unittest.skipUnless(IS_ROOT and os.path.exists(MOBY), "needs root to drop into the pod identity")
class DoctorAgreesWithRun(unittest.TestCase):
    """`doctor` renders the host probe `run` decides by: on a host where a
    part is refused, the two reach the same conclusion (issue 24). Each case
    runs both in the same restricted pod (tests/helpers/pod_exec)."""

    def setUp(self):
        self.tmp = TempDir()
        self.dir = self.tmp.__enter__()

    def tearDown(self):
        self.tmp.__exit__(None, None, None)

    def in_pod(self, profile, *args):
        return subprocess.run([helper("pod_exec"), profile, BIN, *args], cwd=self.dir,
                              capture_output=True, text=True, timeout=60)

    def doctor_checks(self, profile):
        r = self.in_pod(profile, "doctor", "--json", "--root", self.dir)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return {c["id"]: c for c in json.loads(r.stdout)["checks"]}

    def test_user_notification_refused_by_the_container_profile(self):
        profile = os.path.join(self.dir, "no-listener.json")
        profile_refusing_listener(profile)
        r = self.in_pod(profile, "run", "--mode", "platform", "--", "/bin/true")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"network: degraded: seccomp user notification unavailable \((.*?)\);",
                      r.stderr)
        self.assertTrue(m, r.stderr)
        c = self.doctor_checks(profile)["seccomp_user_notif"]
        self.assertEqual(c["status"], "degraded", c)
        self.assertIn(m.group(1), c["detail"])
        # Control: the same pod with the runtime's own profile has the
        # listener, and both say so.
        r = self.in_pod(MOBY, "run", "--mode", "platform", "--", "/bin/true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("degraded", r.stderr)
        self.assertEqual(self.doctor_checks(MOBY)["seccomp_user_notif"]["status"], "ok")

    def test_pidfd_getfd_refused_means_no_namespace_mode(self):
        # Everything allowed but pidfd_getfd: the namespaces can be made
        # (unprivileged user namespaces), the connect guard cannot take the
        # command's sockets, so `run` picks platform mode.
        profile = os.path.join(self.dir, "no-pidfd-getfd.json")
        with open(profile, "w") as f:
            json.dump({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["pidfd_getfd"], "action": "SCMP_ACT_ERRNO"}]}, f)
        os.chmod(profile, 0o644)
        r = self.in_pod(profile, "run", "--", "/bin/true")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"network: auto: platform \(no network namespace: (.*?)\);", r.stderr)
        self.assertTrue(m, r.stderr)
        self.assertIn("pidfd_getfd", m.group(1))
        checks = self.doctor_checks(profile)
        self.assertEqual(checks["pidfd_getfd"]["status"], "degraded")
        self.assertNotIn("does not need", checks["pidfd_getfd"]["detail"])
        self.assertIn("namespace mode is unavailable", checks["pidfd_getfd"]["detail"])
        self.assertIn(m.group(1), checks["userns"]["detail"])
        # Control: without that refusal the pod gets namespace mode, and the
        # doctor says it is available.
        allow = os.path.join(self.dir, "allow.json")
        with open(allow, "w") as f:
            json.dump({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}, f)
        os.chmod(allow, 0o644)
        r = self.in_pod(allow, "run", "--", "/bin/true")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("network: auto: namespace", r.stderr)
        checks = self.doctor_checks(allow)
        self.assertEqual(checks["pidfd_getfd"]["status"], "ok")
        self.assertIn("namespace mode available", checks["userns"]["detail"])


if __name__ == "__main__":
    unittest.main()
