"""`ringfence gpu list` on a stand-in host tree: real character devices
(mknod), stub driver libraries registered in a linker cache built by the real
ldconfig, driver binaries, firmware, a listening persistenced socket."""
import json
import os
import shutil
import socket
import stat
import subprocess
import unittest

from rf import IS_ROOT, TempDir, ringfence

LIBDIR = "/usr/lib/x86_64-linux-gnu"


def write(root, path, content=""):
    full = root + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(content)
    return full


def stub_library(root, filename, soname):
    """A real ELF shared object with the given SONAME (ldconfig reads it)."""
    src = write(root, "/src/stub.c", "int rf_stub(void) { return 0; }\n")
    out = root + LIBDIR + "/" + filename
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname," + soname, "-o", out, src],
                   check=True, timeout=60)


@unittest.skipUnless(IS_ROOT, "mknod and ldconfig -r need root")
@unittest.skipUnless(shutil.which("cc") and shutil.which("ldconfig"), "needs cc and ldconfig")
class GpuListTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        root = cls.root = cls.tmp.__enter__()
        os.makedirs(root + "/dev/nvidia-caps")
        os.makedirs(root + "/dev/dri")
        for path, major, minor in [("/dev/nvidiactl", 195, 255), ("/dev/nvidia0", 195, 0),
                                   ("/dev/nvidia1", 195, 1), ("/dev/nvidia-uvm", 511, 0),
                                   ("/dev/nvidia-uvm-tools", 511, 1),
                                   ("/dev/nvidia-modeset", 195, 254),
                                   ("/dev/nvidia-caps/nvidia-cap1", 234, 1),
                                   ("/dev/dxg", 10, 124), ("/dev/kfd", 235, 0),
                                   ("/dev/dri/renderD128", 226, 128), ("/dev/dri/card0", 226, 0),
                                   ("/dev/null", 1, 3)]:
            os.mknod(root + path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.symlink("/dev/nvidia0", root + "/dev/nvidia-link")  # not a node name we list
        os.makedirs(root + "/proc/driver/nvidia/gpus")
        for filename, soname in [("libcuda.so.550.54.14", "libcuda.so.1"),
                                 ("libnvidia-ml.so.550.54.14", "libnvidia-ml.so.1"),
                                 ("libnvidia-ptxjitcompiler.so.550.54.14",
                                  "libnvidia-ptxjitcompiler.so.1"),
                                 ("libz.so.1.2.13", "libz.so.1")]:
            stub_library(root, filename, soname)
        os.symlink("libcuda.so.1", root + LIBDIR + "/libcuda.so")  # dev symlink, same file
        os.symlink("usr/lib", root + "/lib")
        os.symlink("usr/bin", root + "/bin")
        write(root, "/etc/ld.so.conf", LIBDIR + "\n")
        subprocess.run(["ldconfig", "-r", root], check=True, timeout=60, capture_output=True)
        for b in ["nvidia-smi", "nvidia-persistenced", "nvidia-debugdump", "ls"]:
            os.chmod(write(root, "/usr/bin/" + b, "#!/bin/sh\n"), 0o755)
        write(root, "/usr/lib/firmware/nvidia/550.54.14/gsp_ga10x.bin", "fw")
        write(root, "/usr/lib/firmware/nvidia/550.54.14/gsp_tu10x.bin", "fw")
        os.makedirs(root + "/run/nvidia-persistenced")
        cls.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cls.sock.bind(root + "/run/nvidia-persistenced/socket")
        cls.sock.listen(1)

    @classmethod
    def tearDownClass(cls):
        cls.sock.close()
        cls.tmp.__exit__(None, None, None)

    EXPECTED = [
        ("device", "/dev/dri/renderD128"),
        ("device", "/dev/dxg"),
        ("device", "/dev/kfd"),
        ("device", "/dev/nvidia-caps/nvidia-cap1"),
        ("device", "/dev/nvidia-modeset"),
        ("device", "/dev/nvidia-uvm"),
        ("device", "/dev/nvidia-uvm-tools"),
        ("device", "/dev/nvidia0"),
        ("device", "/dev/nvidia1"),
        ("device", "/dev/nvidiactl"),
        ("procfs", "/proc/driver/nvidia"),
        ("library", LIBDIR + "/libcuda.so.550.54.14"),
        ("library", LIBDIR + "/libnvidia-ml.so.550.54.14"),
        ("library", LIBDIR + "/libnvidia-ptxjitcompiler.so.550.54.14"),
        ("binary", "/usr/bin/nvidia-debugdump"),
        ("binary", "/usr/bin/nvidia-persistenced"),
        ("binary", "/usr/bin/nvidia-smi"),
        ("firmware", "/usr/lib/firmware/nvidia/550.54.14/gsp_ga10x.bin"),
        ("firmware", "/usr/lib/firmware/nvidia/550.54.14/gsp_tu10x.bin"),
        ("socket", "/run/nvidia-persistenced/socket"),
    ]

    def test_lists_exactly_the_expected_paths(self):
        r = ringfence("gpu", "list", "--root", self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [p for _, p in self.EXPECTED])
        self.assertEqual(r.stderr, "")

    def test_json_gives_kinds(self):
        r = ringfence("gpu", "list", "--json", "--root", self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([(e["kind"], e["path"]) for e in json.loads(r.stdout)], self.EXPECTED)

    def test_libraries_agree_with_ldconfig(self):
        # Cross-check our cache parser against ldconfig's own reading.
        p = subprocess.run(["ldconfig", "-p", "-C", self.root + "/etc/ld.so.cache"],
                           capture_output=True, text=True, timeout=30, check=True)
        names = sorted(l.split()[0] for l in p.stdout.splitlines()[1:] if "=>" in l)
        self.assertEqual(names, ["libcuda.so.1", "libnvidia-ml.so.1",
                                 "libnvidia-ptxjitcompiler.so.1", "libz.so.1"])
        listed = ringfence("gpu", "list", "--root", self.root).stdout.splitlines()
        self.assertNotIn(LIBDIR + "/libz.so.1.2.13", listed)

    def test_driver_removed_means_fewer_files(self):
        os.rename(self.root + "/etc/ld.so.cache", self.root + "/etc/ld.so.cache.off")
        try:
            r = ringfence("gpu", "list", "--root", self.root)
            self.assertEqual(r.returncode, 0)
            self.assertFalse([l for l in r.stdout.splitlines() if "/libnvidia" in l])
        finally:
            os.rename(self.root + "/etc/ld.so.cache.off", self.root + "/etc/ld.so.cache")


class GpuListHostTest(unittest.TestCase):
    def test_every_listed_host_path_exists(self):
        r = ringfence("gpu", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in r.stdout.splitlines():
            self.assertTrue(line.startswith("/"), line)
            self.assertTrue(os.path.lexists(line), line)

    def test_corrupt_cache_is_an_error(self):
        with TempDir() as root:
            write(root, "/etc/ld.so.cache", "glibc-ld.so.cache1.1 truncated")
            r = ringfence("gpu", "list", "--root", root)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stdout, "")
            self.assertIn("ld.so.cache", r.stderr)


if __name__ == "__main__":
    unittest.main()
