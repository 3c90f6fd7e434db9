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


class TempDir:
    """A temporary directory that the sandbox user (nobody) can use."""

    def __init__(self, mode=0o777):
        self.path = tempfile.mkdtemp(prefix="rf-it-", dir="/tmp")
        os.chmod(self.path, mode)

    def __enter__(self):
        return self.path

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)


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
