"""The connect guard handles the sandbox's connects concurrently: one
connect() made on the command's behalf that blocks (a listener whose
backlog is full and that never accepts) must not hold up the others."""
import os
import subprocess
import time
import unittest

import rf

# Thread A connects (blocking) to a listener of the program's own whose
# backlog is full; once A is inside connect(), the main thread connects to
# a second listener and says how long that took. Bounded: os._exit ends A.
PROGRAM = r"""
import os, socket, sys, threading, time
d = sys.argv[1]
full = socket.socket(socket.AF_UNIX)
full.bind(d + "/full")
full.listen(0)
fillers = []
for _ in range(64):  # fill the backlog: non-blocking connects until EAGAIN
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(d + "/full")
    except BlockingIOError:
        break
    fillers.append(c)
print("filled", len(fillers), flush=True)
started = threading.Event()
def blocked():
    s = socket.socket(socket.AF_UNIX)
    started.set()
    try:
        s.connect(d + "/full")
        print("blocked connect returned", flush=True)
    except OSError as e:
        print("blocked connect failed", e, flush=True)
threading.Thread(target=blocked, daemon=True).start()
started.wait()
time.sleep(0.5)  # A is now inside connect()
ok = socket.socket(socket.AF_UNIX)
ok.bind(d + "/ok")
ok.listen(8)
t0 = time.monotonic()
c = socket.socket(socket.AF_UNIX)
c.connect(d + "/ok")
print("second connect %.3f" % (time.monotonic() - t0), flush=True)
os._exit(0)
"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc]
  read_write: [%(dir)s]
network:
  mode: %(mode)s
"""


class BlockedConnectDoesNotStallOthers(unittest.TestCase):
    def check(self, mode, argv_prefix):
        with rf.TempDir() as d:
            prog = os.path.join(d, "prog.py")
            with open(prog, "w") as f:
                f.write(PROGRAM)
            os.chmod(prog, 0o644)
            sock_dir = os.path.join(d, "s")
            os.mkdir(sock_dir)
            os.chmod(sock_dir, 0o777)
            argv = argv_prefix(POLICY % {"dir": d, "mode": mode}, d) + [rf.PY, prog, sock_dir]
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                out, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                self.fail("the second connect never completed (%s): %r %r" % (mode, out, err))
            self.assertIn("second connect", out, err)
            took = float(out.split("second connect ")[1].split()[0])
            # Not a speed assertion: the old guard never answers the second
            # connect while the first blocks (the run hits the deadline above).
            self.assertLess(took, 20.0, out)

    def test_control_without_ringfence(self):
        self.check("platform", lambda policy, d: [])

    def _ringfence(self, policy, d):
        path = os.path.join(d, "policy.yaml")
        with open(path, "w") as f:
            f.write(policy)
        return [rf.BIN, "run", "-q", "--policy", path, "--"]

    def test_platform(self):
        self.check("platform", self._ringfence)

    @unittest.skipUnless(rf.IS_ROOT, "namespace mode needs root here")
    def test_namespace(self):
        self.check("namespace", self._ringfence)


if __name__ == "__main__":
    unittest.main()
