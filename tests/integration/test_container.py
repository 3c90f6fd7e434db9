"""ringfence inside a real restricted container: podman with runc (Debian's
packages, installed by scripts/install-deps.sh), uid 65534, every capability
dropped, no-new-privileges and podman's default seccomp profile. The default
invocation (auto mode) must work there and say which mode it chose, `doctor`
must agree with `run`, and a write and a connect outside the policy are
denied, each next to a control without ringfence."""
import os
import shutil
import subprocess
import tempfile
import unittest

import rf

RUNTIME = shutil.which("runc", path=os.environ.get("PATH", "") + ":/usr/sbin") or "runc"
BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "true", "echo", "cat", "grep", "nc", "sleep", "id", "ls", "ps"]


@unittest.skipIf(rf.podman_missing(), rf.podman_missing())
class RestrictedContainer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-ctr-", dir="/tmp")
        root = os.path.join(cls.tmp, "rootfs")
        for d in ("bin", "etc", "tmp", "usr/local/bin", "proc", "dev", "sys", "work", "data"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        for d in ("tmp", "work", "data"):
            os.chmod(os.path.join(root, d), 0o1777)
        shutil.copy(BUSYBOX, os.path.join(root, "bin/busybox"))
        for a in APPLETS:
            os.symlink("busybox", os.path.join(root, "bin", a))
        shutil.copy(rf.BIN, os.path.join(root, "usr/local/bin/ringfence"))
        with open(os.path.join(root, "etc/passwd"), "w") as f:
            f.write("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
        with open(os.path.join(root, "etc/group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        cls.env = rf.podman_env(cls.tmp)
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def sh(self, script):
        """Runs `script` in the restricted container (busybox sh)."""
        cmd = ["podman", "run", "--rm", "--runtime", RUNTIME, "--network", "none",
               "--user", "65534:65534", "--cap-drop", "all",
               "--security-opt", "no-new-privileges", "-w", "/work",
               "--rootfs", self.root, "/bin/sh", "-c", script]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=self.env)
        self.assertNotIn("OCI", r.stderr, "the container did not start: " + r.stderr)
        return r

    def test_the_container_is_restricted(self):
        r = self.sh("grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status")
        status = {k: v.split() for k, v in (l.split(":", 1) for l in r.stdout.splitlines())}
        self.assertEqual(status["Uid"], ["65534"] * 4, r.stdout + r.stderr)
        self.assertEqual(int(status["CapEff"][0], 16), 0)
        self.assertEqual(int(status["CapBnd"][0], 16), 0)
        self.assertEqual(status["NoNewPrivs"], ["1"])
        self.assertEqual(status["Seccomp"], ["2"], "podman's default seccomp profile is not applied")

    def test_auto_mode_works_and_says_why(self):
        r = self.sh("/usr/local/bin/ringfence run -- /bin/true; echo rc=$?")
        self.assertIn("rc=0", r.stdout, r.stderr)
        self.assertIn("network: auto: platform (no network namespace: ", r.stderr)

    def test_doctor_agrees_with_run(self):
        r = self.sh("/usr/local/bin/ringfence doctor; /usr/local/bin/ringfence run -- /bin/true")
        why = r.stderr.split("auto: platform (no network namespace: ", 1)[1].split(")); ", 1)[0]
        self.assertIn("namespace mode cannot be set up here: " + why + ")", r.stdout)
        self.assertNotIn("namespace mode available", r.stdout)

    def test_platform_mode_works(self):
        r = self.sh("/usr/local/bin/ringfence run -q --mode platform -- /bin/true; echo rc=$?")
        self.assertIn("rc=0", r.stdout, r.stderr)

    def test_namespace_mode_is_refused_naming_the_step(self):
        r = self.sh("/usr/local/bin/ringfence run -q --mode namespace -- /bin/true; echo rc=$?")
        self.assertIn("rc=125", r.stdout, r.stderr)
        self.assertIn("network.mode namespace cannot be set up: ", r.stderr)

    def test_write_outside_the_policy_is_denied(self):
        for mode in ("auto", "platform"):
            r = self.sh("echo x > /data/control && echo control-ok; "
                        f"/usr/local/bin/ringfence run -q --mode {mode} -- "
                        "/bin/sh -c 'echo y > /data/denied'; echo rc=$?; ls /data")
            self.assertIn("control-ok", r.stdout, r.stderr)
            self.assertIn("rc=1", r.stdout, f"{mode}: {r.stdout} {r.stderr}")
            self.assertIn("Permission denied", r.stderr, mode)
            self.assertNotIn("denied", r.stdout.split("rc=1", 1)[1], mode)

    def test_connect_outside_the_policy_is_denied(self):
        # The listener serves one connection: the denied attempt must not
        # take it, the control after it does.
        for mode in ("auto", "platform"):
            r = self.sh("nc -l -p 8081 -e /bin/echo served & sleep 0.3; "
                        f"/usr/local/bin/ringfence run -q --mode {mode} -- "
                        "/bin/sh -c 'nc 127.0.0.1 8081 </dev/null'; echo rc=$?; "
                        "nc 127.0.0.1 8081 </dev/null && echo control-ok; wait")
            self.assertRegex(r.stdout, r"rc=[1-9]", f"{mode}: {r.stdout} {r.stderr}")
            self.assertIn("Permission denied", r.stderr, mode)
            self.assertIn("served\ncontrol-ok", r.stdout, mode)


    def test_ringfence_as_the_containers_pid_1(self):
        # Entry point = ringfence (no --init): a stop (SIGTERM to pid 1, which
        # the kernel drops for a pid 1 that neither handles nor blocks it)
        # reaches the command at once, the exit code is the command's, and
        # the orphans the command leaves are reaped, not left as zombies.
        name = "rf-pid1-%d" % os.getpid()
        script = ("(sleep 0.2 &) ; (sleep 0.2 &) ; (sleep 0.2 &) ; "
                  "trap 'exit 143' TERM; while :; do sleep 0.1; done")
        cmd = ["podman", "run", "-d", "--name", name, "--runtime", RUNTIME, "--network", "none",
               "--user", "65534:65534", "--cap-drop", "all",
               "--security-opt", "no-new-privileges", "-w", "/work", "--rootfs", self.root,
               "/usr/local/bin/ringfence", "run", "-q", "--mode", "platform", "--",
               "/bin/sh", "-c", script]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            import time
            time.sleep(2)  # the orphans have exited
            ps = subprocess.run(["podman", "exec", name, "ps", "-o", "pid,stat,comm"],
                                capture_output=True, text=True, timeout=60, env=self.env)
            self.assertIn("ringfence", ps.stdout, ps.stderr)
            zombies = [l for l in ps.stdout.splitlines()[1:] if l.split()[1].startswith("Z")]
            self.assertEqual(zombies, [], ps.stdout)
            t0 = time.monotonic()
            stop = subprocess.run(["podman", "stop", "-t", "20", name], capture_output=True,
                                  text=True, timeout=120, env=self.env)
            self.assertEqual(stop.returncode, 0, stop.stderr)
            self.assertLess(time.monotonic() - t0, 15, "the stop waited for SIGKILL")
            code = subprocess.run(["podman", "inspect", "-f", "{{.State.ExitCode}}", name],
                                  capture_output=True, text=True, timeout=60, env=self.env)
            self.assertEqual(code.stdout.strip(), "143", code.stderr)
        finally:
            subprocess.run(["podman", "rm", "-f", name], capture_output=True, timeout=120,
                           env=self.env)


if __name__ == "__main__":
    unittest.main()
