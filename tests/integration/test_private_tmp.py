"""The sandbox's /tmp is its own (docs/threat-model.md): a policy that does
not list /tmp writes nothing to the host's /tmp. Namespace mode mounts a
fresh tmpfs on /tmp (paths under /tmp that the policy grants, the workdir
included, are bound in); platform mode gives a per-run private directory
(TMPDIR, TMP, TEMP; mode 0700, the sandbox user's, removed after the run).
Each case runs as root (the sandbox runs as nobody) and as uid 65534, with a
control without ringfence showing the probe writes to the host's /tmp, and
the three demonstrations: a symlink planted in /tmp for a host program to
follow, a setuid file left in /tmp, a listener on /tmp/.X11-unix/X55."""
import json
import os
import shutil
import socket
import subprocess
import unittest
import uuid

import rf

AS_USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]

# Run inside (or, for the control, outside) the sandbox. argv[1]: a token
# naming the files it leaves in /tmp. Prints one JSON object.
PROBE = r"""
import errno, json, os, socket, stat, sys, tempfile
tok = sys.argv[1]
out = {"tmpdir": os.environ.get("TMPDIR"), "tmp": os.environ.get("TMP"),
       "temp": os.environ.get("TEMP")}
def attempt(key, fn):
    try:
        fn()
        out[key] = "OK"
    except OSError as e:
        out[key] = errno.errorcode.get(e.errno, str(e.errno))
def write():
    with open("/tmp/rf-pt-file-" + tok, "w") as f:
        f.write("x")
attempt("write", write)
attempt("symlink", lambda: os.symlink(os.path.expanduser("~") + "/.bashrc",
                                      "/tmp/rf-pt-link-" + tok))
def setuid_file():
    p = "/tmp/rf-pt-suid-" + tok
    with open(p, "w") as f:
        f.write("#!/bin/sh\nid\n")
    os.chmod(p, 0o4755)
attempt("setuid", setuid_file)
def listener():
    os.makedirs("/tmp/.X11-unix", exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("/tmp/.X11-unix/X55")
    s.listen(1)
attempt("listener", listener)
# What tools do: the temporary directory of their runtime.
def mkstemp():
    fd, name = tempfile.mkstemp()
    os.write(fd, b"y")
    os.close(fd)
    out["mkstemp_dir"] = os.path.dirname(name)
attempt("mkstemp", mkstemp)
if out["tmpdir"]:
    st = os.stat(out["tmpdir"])
    out["tmpdir_mode"] = oct(stat.S_IMODE(st.st_mode))
    out["tmpdir_uid"] = st.st_uid
out["uid"] = os.getuid()
print(json.dumps(out))
"""

HOST_NAMES = ["rf-pt-file-{}", "rf-pt-link-{}", "rf-pt-suid-{}"]


def unprivileged_userns_available():
    r = subprocess.run(AS_USER + ["unshare", "--user", "--net", "true"], capture_output=True,
                       timeout=30)
    return r.returncode == 0


USERNS = rf.IS_ROOT and unprivileged_userns_available()


class Base:
    mode = None
    as_user = False

    def setUp(self):
        self.tok = uuid.uuid4().hex
        self.x55_existed = os.path.lexists("/tmp/.X11-unix/X55")

    def tearDown(self):
        for n in HOST_NAMES:
            p = "/tmp/" + n.format(self.tok)
            if os.path.lexists(p):
                os.unlink(p)
        if not self.x55_existed and os.path.lexists("/tmp/.X11-unix/X55"):
            os.unlink("/tmp/.X11-unix/X55")

    def run_probe(self, confined, policy=None, extra=()):
        # The workdir is outside /tmp: one under it keeps the host's /tmp
        # visible (test_policy_listing_a_path_under_tmp_keeps_it_visible).
        with rf.TempDir() as d:
            cmd = [rf.PY, "-c", PROBE, self.tok]
            if confined:
                pre = [rf.BIN, "run", "-q", "--mode", self.mode] + list(extra)
                if policy is not None:
                    pol = os.path.join(d, "policy.yaml")
                    with open(pol, "w") as f:
                        f.write(policy)
                    os.chmod(pol, 0o644)
                    pre += ["--policy", pol]
                cmd = pre + ["--"] + cmd
            if self.as_user:
                cmd = AS_USER + cmd
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=d)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            return json.loads(r.stdout.strip().splitlines()[-1])

    def host_has(self, name):
        return os.path.lexists("/tmp/" + name.format(self.tok))

    def host_reaches_x55(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect("/tmp/.X11-unix/X55")
            return True
        except OSError:
            return False
        finally:
            s.close()

    def test_control_without_ringfence_the_probe_writes_the_hosts_tmp(self):
        if self.x55_existed:
            self.skipTest("/tmp/.X11-unix/X55 exists on this host")
        out = self.run_probe(False)
        self.assertEqual(out["write"], "OK")
        self.assertEqual(out["symlink"], "OK")
        for n in HOST_NAMES:
            self.assertTrue(self.host_has(n), n)
        # /tmp/.X11-unix is 1777 on a desktop; a test may have made it 0755.
        st = os.stat("/tmp/.X11-unix") if os.path.exists("/tmp/.X11-unix") else None
        if not self.as_user or st is None or st.st_mode & 0o002:
            self.assertEqual(out["listener"], "OK")
            self.assertTrue(os.path.lexists("/tmp/.X11-unix/X55"))

    def test_default_policy_writes_nothing_to_the_hosts_tmp(self):
        if self.x55_existed:
            self.skipTest("/tmp/.X11-unix/X55 exists on this host")
        out = self.run_probe(True)
        # The sandbox's own /tmp works: tools that need one still run.
        self.assertEqual(out["mkstemp"], "OK", out)
        # Nothing reached the host's /tmp: no planted link, no file for
        # another user to run, no listener for a host client.
        for n in HOST_NAMES:
            self.assertFalse(self.host_has(n), (n, out))
        self.assertNotEqual(out["setuid"], "OK", out)
        self.assertFalse(os.path.lexists("/tmp/.X11-unix/X55"), out)
        self.assertFalse(self.host_reaches_x55())
        self.check_private(out)

    def test_policy_listing_tmp_gets_the_hosts_tmp(self):
        policy = ("version: 1\nfilesystem_policy:\n  include_workdir: true\n"
                  "  read_only: [/usr, /lib, /lib64, /etc]\n  read_write: [/tmp]\n")
        out = self.run_probe(True, policy)
        self.assertEqual(out["write"], "OK", out)
        self.assertTrue(self.host_has(HOST_NAMES[0]), out)
        self.assertIsNone(out["tmpdir"], out)


@unittest.skipUnless(rf.IS_ROOT, "namespace mode as root")
class NamespaceAsRoot(Base, unittest.TestCase):
    mode = "namespace"

    def check_private(self, out):
        # /tmp itself is the sandbox's tmpfs: writable, TMPDIR not needed.
        self.assertEqual(out["write"], "OK", out)
        self.assertEqual(out["symlink"], "OK", out)
        self.assertEqual(out["listener"], "OK", out)
        self.assertEqual(out["mkstemp_dir"], "/tmp", out)
        self.assertIsNone(out["tmpdir"], out)

    def test_policy_listing_a_path_under_tmp_keeps_it_visible(self):
        # A tmpfs over /tmp would hide a granted path under it, and a host
        # path bound into the tmpfs would take the tmpfs's read-write rule
        # (Landlock rules cover what is mounted beneath them). So the run
        # gets a private directory in TMPDIR instead, as in platform mode:
        # the grant works, the rest of the host's /tmp stays out of reach.
        sub = rf.TempDir(root="/tmp")
        try:
            policy = ("version: 1\nfilesystem_policy:\n  include_workdir: false\n"
                      "  read_only: [/usr, /lib, /lib64, /etc]\n"
                      f"  read_write: [{sub.path}]\n")
            script = ("import os, sys\nopen(sys.argv[1] + '/in', 'w').write('x')\n"
                      "try:\n    open('/tmp/rf-pt-file-' + sys.argv[2], 'w').write('x')\n"
                      "    print('host tmp written')\nexcept PermissionError:\n"
                      "    print('host tmp refused')\n"
                      "open(os.environ['TMPDIR'] + '/t', 'w').write('x')\nprint('done')\n")
            with open(os.path.join(sub.path, "p.yaml"), "w") as f:
                f.write(policy)
            os.chmod(os.path.join(sub.path, "p.yaml"), 0o644)
            cmd = [rf.BIN, "run", "-q", "--mode", self.mode, "--policy",
                   os.path.join(sub.path, "p.yaml"), "--", rf.PY, "-c", script, sub.path,
                   self.tok]
            if self.as_user:
                cmd = AS_USER + cmd
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stdout.split(), ["host", "tmp", "refused", "done"], r.stderr)
            self.assertTrue(os.path.exists(os.path.join(sub.path, "in")))
            self.assertFalse(self.host_has(HOST_NAMES[0]))
        finally:
            shutil.rmtree(sub.path, ignore_errors=True)

    def test_read_only_grant_under_tmp_stays_read_only(self):
        sub = rf.TempDir(root="/tmp")
        try:
            target = os.path.join(sub.path, "f")
            with open(target, "w") as f:
                f.write("orig")
            os.chmod(target, 0o666)
            policy = ("version: 1\nfilesystem_policy:\n  include_workdir: false\n"
                      f"  read_only: [/usr, /lib, /lib64, /etc, {sub.path}]\n")
            out = rf.OutsideDir()
            self.addCleanup(out.__exit__)
            pf = os.path.join(out.path, "p.yaml")
            with open(pf, "w") as f:
                f.write(policy)
            os.chmod(pf, 0o644)
            os.chmod(os.path.dirname(pf), 0o755)
            cmd = [rf.BIN, "run", "-q", "--mode", self.mode, "--policy", pf, "--", "/bin/sh",
                   "-c", f"cat {target}; echo pwned > {target}"]
            if self.as_user:
                cmd = AS_USER + cmd
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/")
            self.assertEqual(r.stdout, "orig", r.stderr)
            with open(target) as f:
                self.assertEqual(f.read(), "orig")
        finally:
            shutil.rmtree(sub.path, ignore_errors=True)


@unittest.skipUnless(USERNS, "needs root to drop to uid 65534 and unprivileged user namespaces")
class NamespaceAsUser(NamespaceAsRoot):
    as_user = True


class PlatformAsCaller(Base, unittest.TestCase):
    mode = "platform"

    def check_private(self, out):
        # No mount namespace: the literal /tmp is the host's, not granted.
        for key in ("write", "symlink", "listener"):
            self.assertEqual(out[key], "EACCES", (key, out))
        self.assertTrue(out["tmpdir"], out)
        self.assertEqual(out["tmpdir"], out["tmp"])
        self.assertEqual(out["tmpdir"], out["temp"])
        self.assertEqual(out["mkstemp_dir"], out["tmpdir"], out)
        self.assertEqual(out["tmpdir_mode"], "0o700", out)
        self.assertEqual(out["tmpdir_uid"], out["uid"], out)
        # Removed after the run.
        self.assertFalse(os.path.lexists(out["tmpdir"]), out)


@unittest.skipUnless(rf.IS_ROOT, "needs root to drop to uid 65534")
class PlatformAsUser(PlatformAsCaller):
    as_user = True


if __name__ == "__main__":
    unittest.main()
