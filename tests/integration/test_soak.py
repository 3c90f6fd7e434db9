"""Shortened soak for `make test` (the full one is bench/soak/): the real
`ringfence run` (namespace mode as root) confines a C epoll load generator
(tests/helpers/fi_load.c) that drives its proxy; an epoll echo server on host
loopback is the only allowed upstream. Rounds of hundreds of concurrent
CONNECT tunnels moving a deterministic byte stream (every echoed byte
compared), tens of thousands of short connections, and a flood past the
connection cap (1024): 503 for the excess, the established tunnels keep
working, and short connections succeed again afterwards. Between rounds the
supervisor's descriptors (/proc/<pid>/fd) and RSS are read; slack: the
descriptor count must come back to the count after the first round (+2), the
RSS may grow by at most 8 MiB over the first round (allocator caches).
Namespace mode (the default as root) and platform mode (every connect made
by the supervisor's connect guard) each get a round. Every wait is bounded;
the whole file takes under 2 minutes (about 60 s here)."""
import json
import os
import select
import shutil
import subprocess
import time
import unittest

import rf

FD_SLACK = 2
RSS_SLACK_KB = 8 * 1024


def start_echo(seconds=300):
    p = subprocess.Popen([rf.helper("fi_load"), "echo", str(seconds)], stdout=subprocess.PIPE,
                         text=True)
    ready, _, _ = select.select([p.stdout], [], [], 10)
    line = p.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        p.kill()
        p.wait(5)
        raise AssertionError("echo server did not start")
    return p, int(line.split()[1])


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    if p.stdout:
        p.stdout.close()


def policy(tmp, port, extra_ro=()):
    ro = ["/usr", "/lib", "/lib64", "/bin", "/etc", tmp] + list(extra_ro)
    text = ("version: 1\nfilesystem_policy:\n  read_only: [%s]\n  read_write: [/dev/null]\n"
            "network:\n  hosts: {up.test: 127.0.0.1}\nnetwork_policies:\n  up:\n    endpoints:\n"
            "      - { host: up.test, port: %d, allowed_ips: [127.0.0.1/32] }\n"
            % (", ".join(ro), port))
    path = os.path.join(tmp, "policy.yaml")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def copy_helper(tmp, name="fi_load"):
    dst = os.path.join(tmp, name)
    shutil.copy(rf.helper(name), dst)
    os.chmod(dst, 0o755)
    return dst


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def settle_fds(pid, target, seconds=8):
    """Waits (bounded) until the supervisor's descriptor count is <= target."""
    deadline = time.time() + seconds
    n = fds(pid)
    while time.time() < deadline and n > target:
        time.sleep(0.1)
        n = fds(pid)
    return n


class Driver:
    """`ringfence run ... -- fi_load env TARGET PHASES...` with SYNC points
    where the test samples the supervisor."""

    def __init__(self, pol, loader, target, phases, extra=()):
        self.p = subprocess.Popen([rf.BIN, "run", "-q", "--policy", pol] + list(extra) +
                                  ["--", loader, "env", target] + phases,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.fd = self.p.stdout.fileno()
        self.buf = b""
        self.results = []

    def next_line(self, timeout):
        """One line of the generator's stdout (raw reads: no hidden buffer
        between select() and the data)."""
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            ready, _, _ = select.select([self.fd], [], [], max(0, left))
            if not ready:
                raise AssertionError("no output from the load generator within %d s" % timeout)
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return ""
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode() + "\n"

    def until_sync(self, timeout=90):
        """Collects phase results up to the next SYNC; False at EOF."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.next_line(max(1, deadline - time.time()))
            if not line:
                return False
            if line.strip() == "SYNC":
                return True
            self.results.append(json.loads(line))
        raise AssertionError("timed out")

    def go(self):
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()

    def finish(self, timeout=60):
        try:
            _, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            _, err = self.p.communicate(timeout=10)
        return self.p.returncode, err.decode(errors="replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.communicate(timeout=10)


class Soak(unittest.TestCase):
    def setUp(self):
        self.tmp = rf.TempDir(0o755)
        self.dir = self.tmp.__enter__()
        self.echo, self.port = start_echo()
        self.pol = policy(self.dir, self.port)
        self.loader = copy_helper(self.dir)
        self.target = "up.test:%d" % self.port

    def tearDown(self):
        stop(self.echo)
        self.tmp.__exit__()

    def test_soak_namespace_mode(self):
        self.soak([], ["short:1:1", "sync", "tunnels:600:20", "sync", "short:20000:64", "sync",
                       "tunnels:600:10", "sync", "flood:1100:300", "sync", "short:2000:32"])

    def test_soak_platform_mode(self):
        # Every connect of the command is checked by the supervisor's connect
        # guard and made on its behalf: its descriptors must not grow either.
        self.soak(["--mode", "platform"],
                  ["short:1:1", "sync", "tunnels:400:8", "sync", "short:10000:64", "sync",
                   "tunnels:400:5",
                   "sync", "flood:1100:300", "sync", "short:2000:32"])

    def soak(self, extra, phases):
        # phases start with one short connection before the first sample: the
        # proxy's threads and the connect guard start on the command's first
        # connection, so the baseline is taken once they exist.
        d = Driver(self.pol, self.loader, self.target, phases, extra)
        samples = []
        try:
            sup = d.p.pid
            first = None
            while d.until_sync():
                target = first["fd"] + FD_SLACK if first else 10 ** 6
                n = settle_fds(sup, target) if first else settle_fds(sup, 0, seconds=1.5)
                samples.append({"after": d.results[-1]["phase"] if d.results else "start",
                                "fd": n, "rss_kb": rss_kb(sup)})
                if len(samples) == 2:
                    first = samples[1]
                d.go()
            rc, err = d.finish()
        finally:
            d.kill()
        print("\nsoak samples:", samples, "\nsoak results:", d.results)
        self.assertEqual(rc, 0, err)
        tun = [r for r in d.results if r["phase"] == "tunnels"]
        short = [r for r in d.results if r["phase"] == "short"]
        flood = [r for r in d.results if r["phase"] == "flood"]
        self.assertEqual((len(tun), len(short), len(flood)), (2, 3, 1), d.results)
        self.assertEqual(short[0]["total"], 1, d.results)  # the warm-up
        for r in tun:
            self.assertEqual((r["ok"], r["mismatch"], r["failed"]), (r["n"], 0, 0), r)
            self.assertEqual(r["max_concurrent"], r["n"], r)
            self.assertGreater(r["bytes_echoed"], r["n"] * 64 * 1024, r)
        for r in short:
            self.assertEqual((r["ok"], r["mismatch"], r["failed"]), (r["total"], 0, 0), r)
        f = flood[0]
        # The cap (1024) answers 503 to the excess instead of failing; nothing
        # hangs; every tunnel it accepted still moves data.
        self.assertEqual(f["status200"], 1024, f)
        self.assertGreater(f["status503"], 0, f)
        self.assertEqual((f["pending"], f["other"], f["mismatch"]), (0, 0, 0), f)
        self.assertEqual(f["status200"] + f["status503"] + f["closed"], f["n"], f)
        self.assertEqual(f["echoed_after_hold"], f["status200"], f)
        # No descriptor or memory growth between rounds.
        ref = samples[1]
        for s in samples[2:]:
            self.assertLessEqual(s["fd"], ref["fd"] + FD_SLACK, samples)
            self.assertLessEqual(s["rss_kb"], ref["rss_kb"] + RSS_SLACK_KB, samples)
        self.assertLessEqual(ref["fd"], samples[0]["fd"] + FD_SLACK + 2, samples)


if __name__ == "__main__":
    unittest.main()
