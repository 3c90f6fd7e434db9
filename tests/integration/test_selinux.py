"""`ringfence selinux module`: both flavors compile with checkmodule -M -m and
package with semodule_package; the refpolicy flavor links into Debian's
selinux-policy-default store (semodule -s default -n -i, no SELinux kernel
needed) and is removed again. The container-selinux flavor needs Red Hat's
container-selinux, which Debian lacks: linking it here must fail."""
import fcntl
import os
import shutil
import subprocess
import time
import unittest

from rf import IS_ROOT, TempDir, ringfence

TOOLS = ("checkmodule", "semodule_package", "semodule")
STORE = "/var/lib/selinux/default"


def read_text(path):
    with open(path) as f:
        return f.read()


def run(cmd, cwd, timeout=120):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def build(flavor, out):
    r = ringfence("selinux", "module", "--flavor", flavor, "--out", out)
    assert r.returncode == 0, r.stderr
    c = run(["checkmodule", "-M", "-m", "-o", "nvidia-container.mod", "nvidia-container.te"], out)
    assert c.returncode == 0, c.stdout + c.stderr
    p = run(["semodule_package", "-o", "nvidia-container.pp", "-m", "nvidia-container.mod",
             "-f", "nvidia-container.fc"], out)
    assert p.returncode == 0, p.stdout + p.stderr
    return os.path.join(out, "nvidia-container.pp")


def installed():
    r = subprocess.run(["semodule", "-s", "default", "-n", "-l"], capture_output=True, text=True,
                       timeout=60)
    return "nvidia-container" in r.stdout.split()


@unittest.skipUnless(all(shutil.which(t) for t in TOOLS),
                     "needs checkpolicy and semodule-utils (scripts/install-deps.sh)")
class SelinuxModuleTest(unittest.TestCase):
    def test_files_and_contents(self):
        with TempDir() as d:
            out = os.path.join(d, "a/b")  # parents are created
            r = ringfence("selinux", "module", "--flavor", "container-selinux", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(os.listdir(out)), ["README.md", "nvidia-container.fc",
                                                       "nvidia-container.if",
                                                       "nvidia-container.te"])
            te = read_text(os.path.join(out, "nvidia-container.te"))
            self.assertIn("type nvidia_container_t, container_domain", te)
            self.assertRegex(te, r"allow nvidia_container_t container_runtime_tmpfs_t:dir \{[^}]*getattr[^}]*read[^}]*search")
            self.assertRegex(te, r"allow nvidia_container_t xserver_exec_t:file \{[^}]*entrypoint[^}]*execute[^}]*getattr")
            self.assertRegex(te, r"allow nvidia_container_t xserver_misc_device_t:chr_file \{[^}]*ioctl[^}]*read[^}]*write")
            self.assertIn("allow nvidia_container_t container_runtime_t:process sigchld;", te)
            readme = read_text(os.path.join(out, "README.md"))
            for s in ("checkmodule -M -m", "semodule_package", "semodule -i",
                      "ringfence gpu list | sudo restorecon -v -f -",
                      "--security-opt label=type:nvidia_container_t", "--cap-drop=ALL",
                      "no-new-privileges"):
                self.assertIn(s, readme)
            ref = TempDir()
            with ref as rd:
                ringfence("selinux", "module", "--flavor", "refpolicy", "--out", rd)
                rte = "\n".join(l for l in read_text(os.path.join(rd, "nvidia-container.te"))
                                .splitlines() if not l.lstrip().startswith("#"))
                # Only reference-policy types: no container-selinux names.
                self.assertNotRegex(rte, r"\bcontainer_(runtime|domain|net_domain)")
                self.assertIn("allow nvidia_container_t tmpfs_t:dir", rte)

    def test_bad_flavor_and_unwritable_out(self):
        r = ringfence("selinux", "module", "--flavor", "mls", "--out", "/tmp/x")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("flavor", r.stderr)
        with TempDir() as d:
            blocker = os.path.join(d, "file")
            open(blocker, "w").close()
            r = ringfence("selinux", "module", "--flavor", "refpolicy", "--out", blocker + "/sub")
            self.assertEqual(r.returncode, 1)
            self.assertIn("ringfence: selinux module:", r.stderr)

    def test_both_flavors_compile_and_package(self):
        for flavor in ("container-selinux", "refpolicy"):
            with self.subTest(flavor), TempDir() as d:
                pp = build(flavor, d)
                self.assertGreater(os.path.getsize(pp), 500)

    def test_broken_module_does_not_compile(self):
        # The compile step really checks: a typo in a permission is refused.
        with TempDir() as d:
            ringfence("selinux", "module", "--flavor", "refpolicy", "--out", d)
            te = os.path.join(d, "nvidia-container.te")
            src = read_text(te).replace("{ getattr ioctl map open read write };",
                                          "{ getattr ioctl map open read write frobnicate };", 1)
            with open(te, "w") as f:
                f.write(src)
            c = run(["checkmodule", "-M", "-m", "-o", "x.mod", "nvidia-container.te"], d)
            self.assertNotEqual(c.returncode, 0)

    @unittest.skipUnless(IS_ROOT and os.path.isdir(STORE), "needs root and selinux-policy-default")
    def test_refpolicy_links_into_debian_store_and_is_removed(self):
        # Several build directories may run this test at once: one at a time.
        with open("/tmp/ringfence-selinux-store.lock", "w") as lock:
            deadline = time.monotonic() + 120
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        self.fail("the SELinux store lock stayed busy for 120 s")
                    time.sleep(0.5)
            self._link_and_remove()

    def _link_and_remove(self):
        self.assertFalse(installed(), "nvidia-container already in the default store")
        with TempDir() as d:
            # container-selinux types do not exist in Debian's store: link fails.
            cs = build("container-selinux", os.path.join(d, "cs"))
            r = run(["semodule", "-s", "default", "-n", "-i", cs], d)
            self.assertNotEqual(r.returncode, 0)
            self.assertFalse(installed())
            pp = build("refpolicy", os.path.join(d, "ref"))
            try:
                r = run(["semodule", "-s", "default", "-n", "-i", pp], d)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertTrue(installed())
            finally:
                r = run(["semodule", "-s", "default", "-n", "-r", "nvidia-container"], d)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertFalse(installed())


if __name__ == "__main__":
    unittest.main()
