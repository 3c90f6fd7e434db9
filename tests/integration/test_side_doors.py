"""Side doors that never touch a path (issue: inherited descriptors, System V
IPC, process visibility), end to end in namespace and platform mode."""
import os
import secrets
import shutil
import subprocess
import time
import unittest

import rf


def as_nobody():
    return ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"] if rf.IS_ROOT else []


class SideDoors:
    MODE = None

    def setUp(self):
        self.tmp = rf.TempDir()
        self.dir = self.tmp.__enter__()
        for name in ("sd_ipc", "nt_probe"):
            shutil.copy(rf.helper(name), os.path.join(self.dir, name))
        self.policy = f"""version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/tmp, /dev/null]
network: {{mode: {self.MODE}}}
"""

    def tearDown(self):
        self.tmp.__exit__(None, None, None)

    def run_in(self, args, **kw):
        return rf.run(args, policy=self.policy, extra=["--workdir", self.dir], **kw)

    # -- inherited descriptors --------------------------------------------
    def test_inherited_descriptor_on_a_secret_is_unusable(self):
        secret = os.path.join("/var/tmp", f"rf-secret-{os.getpid()}")
        with open(secret, "w") as f:
            f.write("TOP-SECRET\n")
        os.chmod(secret, 0o644)  # readable by anyone: only the sandbox stands in the way
        try:
            fd = os.open(secret, os.O_RDONLY)
            os.set_inheritable(fd, True)
            try:
                script = (f"cat <&{fd} 2>&1; echo; cat /proc/self/fd/{fd} 2>&1; echo; "
                          "ls /proc/self/fd | tr '\\n' ' '")
                r = subprocess.run([rf.BIN, "run", "-q", "--policy", "/dev/stdin", "--workdir", self.dir, "--",
                                    "/bin/sh", "-c", script], input=self.policy, capture_output=True, text=True,
                                   pass_fds=(fd,), timeout=60)
            finally:
                os.close(fd)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("TOP-SECRET", r.stdout)
            # ls lists its own directory fd (3) besides 0, 1, 2.
            listed = r.stdout.strip().splitlines()[-1].split()
            self.assertEqual(sorted(set(listed) - {"3"}), ["0", "1", "2"], r.stdout)
            # Control: the same file read directly through the policy is refused too.
            r = self.run_in(["/bin/cat", secret])
            self.assertNotEqual(r.returncode, 0)
        finally:
            os.unlink(secret)

    # -- System V IPC -------------------------------------------------------
    def test_host_sysv_ipc_unreachable(self):
        key = str(0x5200000 + (os.getpid() % 65536))
        host = subprocess.Popen(as_nobody() + [rf.helper("sd_ipc"), "create", key], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(host.stdout.readline().strip(), "ready")
            # Control: the same program without ringfence, same uid, reaches all of it.
            control = subprocess.run(as_nobody() + [rf.helper("sd_ipc"), "probe", key], capture_output=True,
                                     text=True, timeout=60)
            ctl = dict(l.split(" ", 1) for l in control.stdout.splitlines())
            for k in ("shm_key", "sem_key", "msg_key", "mq_open"):
                self.assertEqual(ctl[k], "OK", f"control {k}: {control.stdout}")
            for k in ("shm_scan", "sem_scan", "msg_scan"):
                self.assertEqual(ctl[k], "1", f"control {k}: {control.stdout}")
            r = self.run_in(["./sd_ipc", "probe", key])
            self.assertEqual(r.returncode, 0, r.stderr)
            got = dict(l.split(" ", 1) for l in r.stdout.splitlines())
            for k in ("shm_key", "sem_key", "msg_key", "mq_open"):
                self.assertTrue(got[k].startswith("ERR"), f"{k}: {r.stdout}")
            for k in ("shm_scan", "sem_scan", "msg_scan"):
                self.assertEqual(got[k], "0", f"{k}: {r.stdout}")
        finally:
            host.stdin.close()
            host.wait(timeout=10)

    def test_host_dev_shm_object_unreachable(self):
        path = f"/dev/shm/rf-side-door-{os.getpid()}"
        with open(path, "w") as f:
            f.write("shm-secret")
        os.chmod(path, 0o666)
        try:
            r = self.run_in(["./nt_probe", "read", path])
            self.assertTrue(r.stdout.startswith("ERR"), r.stdout + r.stderr)
        finally:
            os.unlink(path)


@unittest.skipUnless(rf.IS_ROOT, "namespace mode as root")
class NamespaceSideDoors(SideDoors, unittest.TestCase):
    MODE = "namespace"

    def test_host_processes_are_invisible(self):
        marker = f"rf-marker-{os.getpid()}"
        # The host process runs as the sandbox's own uid: neither DAC nor
        # credentials stand in the way, only the PID namespace hides it.
        host = subprocess.Popen([marker, "60"], executable="/bin/sleep", user=65534, group=65534,
                                extra_groups=[])
        try:
            time.sleep(0.2)
            # The marker comes from a file, so no sandboxed command line holds it.
            with open(os.path.join(self.dir, "marker"), "w") as f:
                f.write(marker + "\n")
            # Control: outside the sandbox the host process is found.
            ctl = subprocess.run(["/bin/sh", "-c", f"grep -l -F -f {self.dir}/marker /proc/[0-9]*/cmdline"],
                                 capture_output=True, text=True, timeout=30)
            self.assertIn(f"/proc/{host.pid}/cmdline", ctl.stdout)
            # Control: the same probe, same uid, without ringfence reaches it.
            ctl = subprocess.run(as_nobody() + [rf.helper("nt_probe"), "kill0", str(host.pid)],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(ctl.stdout.strip(), "OK", ctl.stdout + ctl.stderr)
            r = self.run_in(["/bin/sh", "-c",
                             "grep -l -F -f marker /proc/[0-9]*/cmdline 2>/dev/null | wc -l; "
                             f"./nt_probe kill0 {host.pid}; ./nt_probe kill {host.pid}; "
                             "ps -e -o pid=,comm= | tr -s ' ' | tr '\\n' ';'"])
            lines = r.stdout.strip().splitlines()
            self.assertEqual(lines[0].strip(), "0", r.stdout)
            # ESRCH: the pid does not exist in the sandbox's PID namespace
            # (Landlock's signal scope alone would answer EPERM).
            self.assertEqual(lines[1].strip(), "ERR ESRCH", r.stdout)
            self.assertTrue(lines[2].startswith("ERR"), r.stdout)
            procs = [p.strip() for p in lines[3].split(";") if p.strip()]
            comms = sorted(p.split()[1] for p in procs)
            # Only the sandbox: its init, the shell, ps itself and the pipeline.
            self.assertEqual(procs[0].split()[0], "1")
            self.assertLessEqual(set(comms), {"ringfence", "sh", "ps", "tr"}, procs)
            self.assertIsNone(host.poll())
        finally:
            host.kill()
            host.wait()

    def test_effective_policy_reports_namespaces(self):
        eff = rf.effective(self.policy)
        net = eff["enforcement"]["network"]
        self.assertIn("pid_namespace", net)
        self.assertTrue(net["ipc_namespace"])


class PlatformSideDoors(SideDoors, unittest.TestCase):
    MODE = "platform"

    def test_host_dev_shm_object_follows_the_policy(self):
        path = f"/dev/shm/rf-sd-{secrets.token_hex(8)}"
        # Owned by the sandbox's uid, mode 0600: DAC lets it through, so only
        # Landlock decides.
        made = subprocess.run(as_nobody() + ["/bin/sh", "-c", f"umask 077; printf shm-granted > {path}"],
                              capture_output=True, text=True, timeout=30)
        try:
            self.assertEqual(made.returncode, 0, made.stderr)
            self.assertEqual(os.stat(path).st_uid, 65534 if rf.IS_ROOT else os.geteuid())
            probe = ["/bin/sh", "-c", f"./nt_probe read {path}; /bin/cat {path}"]
            # Not granted: refused by Landlock (EACCES) although DAC allows it.
            r = self.run_in(probe)
            self.assertEqual(r.stdout.splitlines()[0], "ERR EACCES", r.stdout + r.stderr)
            self.assertNotIn("shm-granted", r.stdout)
            # Granted: the very same object is readable.
            policy = self.policy.replace("read_write: [/tmp, /dev/null]", "read_write: [/tmp, /dev/null, /dev/shm]")
            self.assertNotEqual(policy, self.policy)
            r = rf.run(probe, policy=policy, extra=["--workdir", self.dir])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "OK\nshm-granted", r.stdout + r.stderr)
        finally:
            if os.path.exists(path):
                os.unlink(path)

    def test_sysv_opt_in_is_a_weakened_boundary(self):
        eff = rf.effective(self.policy + "process: {sysv_ipc: true}\n")
        self.assertTrue(any("sysv_ipc" in w or "System V" in w for w in eff.get("warnings", [])), eff)

    def test_effective_policy_says_what_proc_shows(self):
        eff = rf.effective(self.policy)
        vis = eff["enforcement"]["process"]["visibility"]
        self.assertIn("command lines", vis)


if __name__ == "__main__":
    unittest.main()
