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
