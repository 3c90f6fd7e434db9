"""Metadata and watches outside the policy (docs/threat-model.md, "Metadata
and watches"): chmod, chown, utimes, the xattr calls and inotify_add_watch
on a path outside every grant are refused with EACCES and change nothing;
inside a read-write grant they work; metadata writes inside a read-only
grant are refused, reads and watches there work. Each probe is also run
without ringfence (the control) to show it works at all. Landlock (ABI 7)
does not check any of these calls: the supervisor does (seccomp user
notification, src/landlock/metadata_guard.h).

Both modes, with ringfence started as root (the sandbox runs as nobody) and
as uid 65534; the files belong to uid 65534 in every case, so the kernel's
own ownership checks pass and only the policy can refuse."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import rf

AS_USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]
MODES = ("platform", "namespace")

POLICY = """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, {ro}]
  read_write: [/dev/null, {rw}]
network:
  mode: {mode}
"""

# One probe per call, each on its own file (fresh state); prints one JSON
# object: op -> "OK" or the errno's name.
PROBE = r"""
import ctypes, errno, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]
ops = sys.argv[2].split(",")
AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, O_PATH = 0x1000, 0x100, 0o10000000

class TV(ctypes.Structure):
    _fields_ = [("s", ctypes.c_long), ("us", ctypes.c_long)]
class UB(ctypes.Structure):
    _fields_ = [("a", ctypes.c_long), ("m", ctypes.c_long)]

def cerr(r):
    if r < 0:
        raise OSError(ctypes.get_errno(), "")
    return r

def f(op):
    return os.path.join(d, op)

def run(op):
    p = f(op).encode()
    if op == "chmod": os.chmod(p, 0o707)
    elif op == "lchmod": os.chmod(p, 0o707, follow_symlinks=False)
    elif op == "chmod_procfd":
        fd = os.open(p, O_PATH)
        os.chmod(f"/proc/self/fd/{fd}", 0o707)
    elif op == "fchmodat_empty":
        fd = os.open(p, O_PATH)
        cerr(libc.syscall(452, fd, b"", 0o707, AT_EMPTY_PATH))  # fchmodat2
    elif op == "fchmod": os.fchmod(os.open(p, os.O_RDONLY), 0o707)
    elif op == "fchown": os.fchown(os.open(p, os.O_RDONLY), -1, 65534)
    elif op == "fsetxattr": os.setxattr(os.open(p, os.O_RDONLY), "user.rf", b"new")
    elif op == "fremovexattr": os.removexattr(os.open(p, os.O_RDONLY), "user.origin")
    elif op == "chown": os.chown(p, -1, 65534)
    elif op == "lchown": os.chown(p, -1, 65534, follow_symlinks=False)
    elif op == "fchownat_empty":
        fd = os.open(p, O_PATH)
        cerr(libc.fchownat(fd, b"", -1, 65534, AT_EMPTY_PATH))
    elif op == "utimensat": os.utime(p, (1, 1))
    elif op == "utimensat_empty":
        fd = os.open(p, O_PATH)
        cerr(libc.syscall(280, fd, b"", None, AT_EMPTY_PATH))
    elif op == "utimes":
        cerr(libc.utimes(p, (TV * 2)(TV(1, 0), TV(1, 0))))
    elif op == "futimesat":
        cerr(libc.syscall(261, -100, p, (TV * 2)(TV(1, 0), TV(1, 0))))
    elif op == "utime":
        cerr(libc.utime(p, ctypes.byref(UB(1, 1))))
    elif op == "setxattr": os.setxattr(p, "user.rf", b"new")
    elif op == "lsetxattr": os.setxattr(p, "user.rf", b"new", follow_symlinks=False)
    elif op == "removexattr": os.removexattr(p, "user.origin")
    elif op == "lremovexattr": os.removexattr(p, "user.origin", follow_symlinks=False)
    elif op == "getxattr":
        v = os.getxattr(p, "user.origin")
        assert v == b"https://host/?token=s3cret", v
    elif op == "lgetxattr": os.getxattr(p, "user.origin", follow_symlinks=False)
    elif op == "listxattr": assert "user.origin" in os.listxattr(p)
    elif op == "llistxattr": os.listxattr(p, follow_symlinks=False)
    elif op == "inotify":
        ino = cerr(libc.inotify_init1(0))
        cerr(libc.inotify_add_watch(ino, p, 0x2))  # IN_MODIFY
    else:
        raise SystemExit("unknown op " + op)

out = {}
for op in ops:
    try:
        run(op)
        out[op] = "OK"
    except OSError as e:
        out[op] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(out))
"""

WRITES = ["chmod", "lchmod", "chmod_procfd", "fchmodat_empty", "chown", "lchown",
          "fchownat_empty", "utimensat", "utimensat_empty", "utimes", "futimesat", "utime",
          "setxattr", "lsetxattr", "removexattr", "lremovexattr",
          # Through a descriptor opened for reading (outside: the open is refused).
          "fchmod", "fchown", "fsetxattr", "fremovexattr"]
READS = ["getxattr", "lgetxattr", "listxattr", "llistxattr", "inotify"]
ALL = WRITES + READS


def state(path):
    st = os.lstat(path)
    return (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ctime_ns,
            sorted((n, os.getxattr(path, n)) for n in os.listxattr(path)))


class Metadata(unittest.TestCase):
    def _make(self, base, where):
        d = os.path.join(base, where)
        os.mkdir(d)
        for op in ALL:
            p = os.path.join(d, op)
            with open(p, "w") as fh:
                fh.write("data\n")
            os.chmod(p, 0o600)
            os.setxattr(p, "user.origin", b"https://host/?token=s3cret")
            os.utime(p, (1000000, 1000000))
            os.chown(p, 65534, 65534)
        os.chown(d, 65534, 65534)
        return d

    def _probe(self, pre, argv, cwd):
        r = subprocess.run(pre + argv, capture_output=True, text=True, timeout=120, cwd=cwd)
        self.assertEqual(r.returncode, 0, f"{argv[:3]}: {r.returncode} {r.stderr}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def _check(self, mode, as_user):
        # Not under /tmp: the proxy baseline may grant the host's /tmp.
        base = tempfile.mkdtemp(prefix="rf-it-meta-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        if True:
            dirs = {w: self._make(base, w) for w in ("in", "ro", "out")}
            pre = AS_USER if as_user else []
            policy = os.path.join(base, "policy.yaml")
            with open(policy, "w") as fh:
                fh.write(POLICY.format(mode=mode, ro=dirs["ro"], rw=dirs["in"]))
            os.chmod(policy, 0o644)
            before = {op: state(os.path.join(dirs["out"], op)) for op in ALL}
            sandboxed = {}
            for where in ("out", "ro", "in"):
                sandboxed[where] = self._probe(
                    pre, [rf.BIN, "run", "-q", "--policy", policy, "--", rf.PY, "-c", PROBE,
                          dirs[where], ",".join(ALL)], base)
            after = {op: state(os.path.join(dirs["out"], op)) for op in ALL}
            # Control: the same probe without ringfence, as uid 65534, on
            # fresh copies outside every grant.
            ctl = self._make(base, "ctl")
            control = self._probe(AS_USER, [rf.PY, "-c", PROBE, ctl, ",".join(ALL)], base)
        tag = f"{mode}, {'uid 65534' if as_user else 'root'}"
        for op in ALL:
            self.assertEqual(control[op], "OK", f"control {op}: the probe itself fails")
            self.assertEqual(sandboxed["out"][op], "EACCES",
                             f"{tag}: {op} outside every grant: {sandboxed['out'][op]}")
            self.assertEqual(before[op], after[op], f"{tag}: {op} outside changed the file")
            self.assertEqual(sandboxed["in"][op], "OK",
                             f"{tag}: {op} inside a read-write grant: {sandboxed['in'][op]}")
        for op in WRITES:
            self.assertEqual(sandboxed["ro"][op], "EACCES",
                             f"{tag}: {op} inside a read-only grant: {sandboxed['ro'][op]}")
        for op in READS:
            self.assertEqual(sandboxed["ro"][op], "OK",
                             f"{tag}: {op} inside a read-only grant: {sandboxed['ro'][op]}")

    @unittest.skipUnless(rf.IS_ROOT, "ringfence started as root")
    def test_platform_as_root(self):
        self._check("platform", False)

    @unittest.skipUnless(rf.IS_ROOT, "ringfence started as root")
    def test_namespace_as_root(self):
        self._check("namespace", False)

    @unittest.skipUnless(rf.IS_ROOT, "needs setpriv from root to become uid 65534")
    def test_platform_as_uid_65534(self):
        self._check("platform", True)

    @unittest.skipUnless(rf.IS_ROOT, "needs setpriv from root to become uid 65534")
    def test_namespace_as_uid_65534(self):
        self._check("namespace", True)


class Symlinks(unittest.TestCase):
    """A link inside the read-write grant to a file outside: the call that
    follows it is decided on the target (refused), the one that does not on
    the link itself (inside)."""

    @unittest.skipUnless(rf.IS_ROOT, "files owned by uid 65534")
    def test_link_to_outside(self):
        base = tempfile.mkdtemp(prefix="rf-it-meta-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        inside, outside = os.path.join(base, "in"), os.path.join(base, "out")
        os.mkdir(inside)
        os.mkdir(outside)
        target = os.path.join(outside, "secret")
        with open(target, "w") as fh:
            fh.write("x")
        os.chmod(target, 0o600)
        for p in (inside, outside, target):
            os.chown(p, 65534, 65534)
        link = os.path.join(inside, "link")
        os.symlink(target, link)
        os.lchown(link, 65534, 65534)
        script = ("import os, sys\n"
                  "for f in (lambda: os.chmod(sys.argv[1], 0o666),\n"
                  "          lambda: os.chown(sys.argv[1], -1, 65534),\n"
                  "          lambda: os.chown(sys.argv[1], -1, 65534, follow_symlinks=False),\n"
                  "          lambda: os.chmod('/proc/self/cwd/link', 0o666)):\n"
                  "    try:\n        f(); print('OK')\n"
                  "    except OSError as e:\n        print(e.strerror)\n")
        for mode in MODES:
            pol = POLICY.format(mode=mode, ro="/proc", rw=inside)
            r = rf.run([rf.PY, "-c", script, link], policy=pol, cwd=inside)
            self.assertEqual(r.stdout.split("\n")[:4],
                             ["Permission denied", "Permission denied", "OK",
                              "Permission denied"], f"{mode}: {r.stdout} {r.stderr}")
            self.assertEqual(os.stat(target).st_mode & 0o777, 0o600, mode)


if __name__ == "__main__":
    unittest.main()
