"""Shared helpers for the integration tests: they drive the real ringfence
binary (RF_TEST_BIN) against real programs. Every loop and wait is bounded."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("RF_TEST_BIN") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "../../build/ringfence"))
HELPERS = os.environ.get("RF_TEST_HELPERS") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "../../build/helpers"))
SHARED = os.environ.get("RF_TEST_SHARED") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "../../../shared"))
PY = "/usr/bin/python3"  # a per-user python shim may not run as nobody
IS_ROOT = os.geteuid() == 0


def wait_count(get, target, timeout=10.0, step=0.01):
    """get() once it reaches `target`, or at the deadline: for a count kept
    by another thread or process (a listener that has not accepted a
    connection the kernel already completed). The caller asserts the value,
    so an overshoot fails too."""
    deadline = time.monotonic() + timeout
    while get() < target and time.monotonic() < deadline:
        time.sleep(step)
    return get()


def read_head(sock, limit=16384):
    """An HTTP head read byte by byte from `sock` (nothing after it is
    consumed); b"" when the peer closed first."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < limit:
        b = sock.recv(1)
        if not b:
            return b""
        head += b
    return head


def helper(name):
    return os.path.join(HELPERS, name)


def run(args, policy=None, timeout=60, env=None, input=None, cwd=None, extra=None, **kw):
    """Runs `ringfence run [--policy P] [extra...] -- args`. `policy` may be a
    YAML string (written to a temp file) or a path."""
    cmd = [BIN, "run", "-q"]
    tmp = None
    if policy is not None:
        if "\n" in policy or policy.startswith("version"):
            tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
            tmp.write(policy)
            tmp.close()
            os.chmod(tmp.name, 0o644)
            cmd += ["--policy", tmp.name]
        else:
            cmd += ["--policy", policy]
    cmd += list(extra or [])
    cmd += ["--"] + list(args)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=env, input=input, cwd=cwd, **kw)
    finally:
        if tmp:
            os.unlink(tmp.name)


def ringfence(*args, timeout=60, **kw):
    """Runs any ringfence subcommand."""
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout, **kw)


def wait_exec(proc, path, timeout=30):
    """Waits (bounded) until `proc` runs `path`: a wrapper such as setpriv
    changes its uid before exec, so a process seen after that has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{proc.pid}/exe") == os.path.realpath(path):
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"{proc.args} did not exec {path} within {timeout} s")


# Fixtures live outside /tmp: the sandbox's /tmp is its own (a tmpfs in
# namespace mode), so a host file under /tmp is invisible there unless the
# policy grants it, and a test meant to see Landlock refuse it would see
# ENOENT instead. Tests about /tmp itself use /tmp explicitly.
FIXTURE_ROOT = "/var/tmp" if os.path.isdir("/var/tmp") else "/tmp"


def audit_events(path):
    """The events of the audit log at `path` (JSON Lines); [] before it exists."""
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def stop(proc, timeout=10):
    """Ends a background ringfence (or any process): SIGTERM, then SIGKILL
    past `timeout` seconds; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class TempDir:
    """A temporary directory that the sandbox user (nobody) can use."""

    def __init__(self, mode=0o777, root=None):
        self.path = tempfile.mkdtemp(prefix="rf-it-", dir=root or FIXTURE_ROOT)
        os.chmod(self.path, mode)

    def __enter__(self):
        return self.path

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)


class OutsideDir(TempDir):
    """A temporary directory in /var/tmp, which no test policy grants: where
    audit logs go (`run` refuses an audit log inside a grant the sandbox
    can write, such as /tmp or the working directory)."""

    def __init__(self, mode=0o755):
        self.path = tempfile.mkdtemp(prefix="rf-out-", dir="/var/tmp")
        os.chmod(self.path, mode)


def effective(policy_yaml=None, mode=None):
    args = ["policy", "show", "--effective", "--json"]
    tmp = None
    if policy_yaml:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        tmp.write(policy_yaml)
        tmp.close()
        args += ["--policy", tmp.name]
    if mode:
        args += ["--mode", mode]
    try:
        r = ringfence(*args)
        if r.returncode != 0:
            raise AssertionError("policy show failed: " + r.stderr)
        return json.loads(r.stdout)
    finally:
        if tmp:
            os.unlink(tmp.name)


# Debian 12's stock name-service configuration: `systemd` after `files`.
STOCK_NSSWITCH = """passwd:         files systemd
group:          files systemd
shadow:         files systemd
gshadow:        files systemd

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
"""


class PrivateEtc:
    """Runs commands in a private mount namespace (root only) where
    /etc/nsswitch.conf is Debian's stock file and /etc/passwd, /etc/group are
    the host's plus `passwd`/`group` lines, so a test controls which accounts
    exist without touching the host. For each of `dirs` (absolute paths, e.g.
    /sandbox) a fresh directory (mode 0755, owned by `owner`) is mounted over
    it; a missing mount point is created and removed again afterwards."""

    def __init__(self, passwd=(), group=(), dirs=(), owner=None):
        self.passwd, self.group, self.dirs, self.owner = list(passwd), list(group), list(dirs), owner

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="rf-etc-", dir="/tmp")
        self.created = []
        os.chmod(self.tmp, 0o755)
        mounts = []
        for name, extra in (("passwd", self.passwd), ("group", self.group)):
            with open("/etc/" + name) as f:
                text = f.read()
            path = os.path.join(self.tmp, name)
            with open(path, "w") as f:
                f.write(text + ("" if text.endswith("\n") else "\n") + "".join(l + "\n" for l in extra))
            os.chmod(path, 0o644)
            mounts.append((path, "/etc/" + name))
        nss = os.path.join(self.tmp, "nsswitch.conf")
        with open(nss, "w") as f:
            f.write(STOCK_NSSWITCH)
        os.chmod(nss, 0o644)
        mounts.append((nss, "/etc/nsswitch.conf"))
        for i, target in enumerate(self.dirs):
            src = os.path.join(self.tmp, f"dir{i}")
            os.mkdir(src, 0o755)
            if self.owner is not None:
                os.chown(src, *self.owner)
            if not os.path.isdir(target):
                os.mkdir(target, 0o755)
                self.created.append(target)
            mounts.append((src, target))
        self.script = " && ".join(f"mount --bind {s} {t}" for s, t in mounts) + ' && exec "$@"'
        return self

    def prefix(self):
        """The argv prefix that runs the rest inside the private view."""
        return ["unshare", "--mount", "--propagation", "private", "--",
                "/bin/sh", "-c", self.script, "sh"]

    def run(self, argv, timeout=60, **kw):
        return subprocess.run(self.prefix() + list(argv), capture_output=True, text=True,
                              timeout=timeout, **kw)

    def __exit__(self, *a):
        shutil.rmtree(self.tmp, ignore_errors=True)
        for target in self.created:
            try:
                os.rmdir(target)
            except OSError:
                pass


def podman_env(tmpdir):
    """The environment for podman in the tests: its own CONTAINERS_CONF in
    `tmpdir`. Containers here need explicit nofile/nproc limits (no higher
    than ours, or runc cannot set them); crun fails on hybrid cgroups: runc."""
    import resource
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
    conf = os.path.join(tmpdir, "containers.conf")
    with open(conf, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n'
                '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n' % (nofile, nofile, nproc, nproc))
    return dict(os.environ, CONTAINERS_CONF=conf)


def podman_missing(tools=("podman", "runc")):
    """Why the podman tests cannot run here (None: they can). They need
    root (rootful podman), `tools`, busybox-static and a static ringfence
    (the container has no libc for it)."""
    if not IS_ROOT:
        return "needs root (rootful podman)"
    for tool in list(tools) + ["busybox"]:
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/libexec/podman"):
            return tool + " not installed: scripts/install-deps.sh test installs it"
    with open(BIN, "rb") as f:
        if b"ld-linux" in f.read(1 << 16):
            return "ringfence is linked dynamically: the container has no libc for it"
    return None
