"""Agents that run for hours, many at once (docs/long-runs.md): what a user
running ringfence on a shared machine or in a pod relies on besides the
policy. Each test drives the real binary."""
import os
import signal
import subprocess
import time
import unittest

import rf


class EarlySignals(unittest.TestCase):
    """A signal that reaches ringfence while it sets the sandbox up waits and
    is then forwarded to the command, like any later one (exit 128+N). On
    95c39b3 it killed ringfence by the default action (the caller saw -15,
    no exit code of the command). The set-up is held open deterministically:
    the policy comes from a FIFO (as `--policy <(generate)` does), so
    ringfence waits in open() until the writer appears."""

    def test_sigterm_during_setup_is_forwarded(self):
        with rf.TempDir() as d:
            fifo = os.path.join(d, "policy.fifo")
            os.mkfifo(fifo)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                with self.subTest(sig=sig.name):
                    p = subprocess.Popen([rf.BIN, "run", "-q", "--mode", "platform", "--policy",
                                          fifo, "--", "/bin/sleep", "30"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True)
                    try:
                        # Wait until ringfence is blocked opening the FIFO (the
                        # kernel function fifo_open waits in).
                        waited = False
                        deadline = time.monotonic() + 10
                        while time.monotonic() < deadline:
                            try:
                                with open("/proc/%d/wchan" % p.pid) as f:
                                    if f.read() == "wait_for_partner":
                                        waited = True
                                        break
                            except OSError:
                                pass
                            time.sleep(0.01)
                        self.assertTrue(waited, "ringfence never waited for its policy")
                        p.send_signal(sig)
                        # Still alive after the signal: it waits for its policy.
                        time.sleep(0.2)
                        self.assertIsNone(p.poll(), "ringfence died of %s during set-up" %
                                          sig.name)
                        with open(fifo, "w") as f:
                            f.write("version: 1\nfilesystem_policy:\n  include_workdir: true\n"
                                    "  read_only: [/usr, /lib, /lib64, /bin, /etc]\n")
                        rc = p.wait(timeout=30)
                    finally:
                        if p.poll() is None:
                            p.kill()
                            p.wait()
                    self.assertEqual(rc, 128 + sig, p.stderr.read())


if __name__ == "__main__":
    unittest.main()


TUNNELS = r"""
import os, socket, sys
proxy = int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1])
port, n = int(sys.argv[1]), int(sys.argv[2])
held, answers = [], []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", proxy), timeout=10)
        s.sendall(b"CONNECT cap.test:%d HTTP/1.1\r\nHost: cap.test\r\n\r\n" % port)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 4096:
            b = s.recv(1)
            if not b:
                break
            head += b
        answers.append(head.split(b"\r\n")[0].decode() or "empty reply")
        held.append(s)  # the tunnel stays open
    except OSError as e:
        answers.append("error " + (e.strerror or str(e)))
for a in answers:
    print(a)
"""


class DescriptorCapacity(unittest.TestCase):
    """With a low descriptor limit the proxy used to hold a few tunnels and
    then answer with misleading errors (EACCES on connect, empty replies,
    502). Its capacity is now computed from the limit, said at start when
    low, and past it every connection gets an explicit 503 with the reason,
    also in the audit log."""

    POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc]
network:
  mode: platform
  hosts: {cap.test: 127.0.0.1}
network_policies:
  p:
    endpoints: [{host: cap.test, port: %d, allowed_ips: [127.0.0.1]}]
"""

    def test_low_limit_gives_explicit_503s(self):
        import json
        import netfixtures
        srv = netfixtures.TcpListener("127.0.0.1", 0)
        self.addCleanup(srv.close)
        with rf.TempDir() as d, rf.OutsideDir() as out:
            pf = os.path.join(d, "p.yaml")
            with open(pf, "w") as f:
                f.write(self.POLICY % srv.port)
            os.chmod(pf, 0o644)
            log = os.path.join(out, "audit.jsonl")
            r = subprocess.run(["prlimit", "--nofile=80:80", rf.BIN, "run", "--audit", log,
                                "--policy", pf, "--", rf.PY, "-c", TUNNELS, str(srv.port), "16"],
                               cwd=d, capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            answers = r.stdout.split("\n")[:-1]
            self.assertEqual(len(answers), 16, r.stdout)
            for a in answers:
                self.assertIn(a, ("HTTP/1.1 200 Connection established",
                                  "HTTP/1.1 503 Service Unavailable"), answers)
            self.assertIn("HTTP/1.1 200 Connection established", answers)
            self.assertIn("HTTP/1.1 503 Service Unavailable", answers)
            self.assertIn("leaves room for", r.stderr)
            with open(log) as f:
                events = [json.loads(line) for line in f]
            over = [e for e in events if e.get("action") == "over_capacity"]
            self.assertTrue(over, events[-3:])
            self.assertIn("at capacity", over[0]["reason"])
