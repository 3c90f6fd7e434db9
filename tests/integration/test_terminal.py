"""A terminal of the command's own (docs/process.md "Terminal"), driven in
tmux: the user's shell runs in a tmux pane, ringfence runs an interactive
command from it, and keys are typed with send-keys. Each test has its own
tmux server (-L), so tests are independent; every wait is bounded."""
import fcntl
import os
import re
import shutil
import signal
import struct
import subprocess
import textwrap
import time
import unittest
import uuid

import rf

RC = re.compile(r"^RC=\d+$", re.M)  # the exit code line (not the typed command)
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
MODES = ("platform", "namespace")
USERS = ("root", "nobody") if rf.IS_ROOT else ("self",)

# Console ioctls (linux/kd.h, linux/vt.h) and TIOCSTI.
KDGETMODE, KDSETMODE, KDGKBMODE, KDSKBMODE = 0x4B3B, 0x4B3A, 0x4B44, 0x4B45
VT_GETMODE, VT_SETMODE = 0x5601, 0x5602
TIOCSTI = 0x5412

# Run in the sandbox: each console/injection request on each standard
# descriptor and on /dev/tty, then the descriptors the process holds.
PROBE = textwrap.dedent("""
    import fcntl, os, struct, sys
    if len(sys.argv) > 1:
        # The user's terminal by name (Landlock grants only the private one).
        try:
            os.close(os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY))
            print("OPEN-USER-TTY", "OK")
        except OSError as e:
            print("OPEN-USER-TTY", e.strerror.replace(" ", "_"))
    def attempt(fd, req, arg):
        try:
            fcntl.ioctl(fd, req, arg)
            return "OK"
        except OSError as e:
            return e.strerror.replace(" ", "_")
    fds = {"0": 0, "1": 1, "2": 2}
    try:
        fds["tty"] = os.open("/dev/tty", os.O_RDWR)
    except OSError as e:
        print("OPEN /dev/tty", e.strerror)
    for name, fd in fds.items():
        print("PROBE", name,
              "TIOCSTI=" + attempt(fd, 0x5412, b"#"),
              "KDSKBMODE=" + attempt(fd, 0x4B45, 4),
              "KDSETMODE=" + attempt(fd, 0x4B3A, 1),
              "VT_SETMODE=" + attempt(fd, 0x5602, struct.pack("bbhhh", 1, 0, 0, 0, 0)))
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            print("FD", fd, os.readlink("/proc/self/fd/" + fd))
        except OSError:
            pass
    print("PROBE" + "-DONE")
""")

# Raw mode inside: reads three single bytes and leaves the terminal raw.
RAW = textwrap.dedent("""
    import os, sys, tty
    tty.setraw(0)
    print("RAW" + "-READY", end="\\r\\n", flush=True)
    got = [os.read(0, 1)[0] for _ in range(3)]
    print("GOT", got, end="\\r\\n", flush=True)
""")

# tcsetpgrp from a new process group of the command's session.
TCSETPGRP = textwrap.dedent("""
    import os, signal
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.setpgid(0, 0)
    try:
        os.tcsetpgrp(0, os.getpgrp())
        print("TCSETPGRP", "OK", os.tcgetpgrp(0) == os.getpgrp())
    except OSError as e:
        print("TCSETPGRP", "FAILED", e.strerror)
""")


def write_script(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


class Tmux:
    """A tmux server of its own with one 100x30 pane running an interactive
    bash (the user's shell, prompt `outer$ `), as root or nobody."""

    def __init__(self, test, user="root"):
        self.test = test
        # The shell's working directory (the sandbox's workdir), where the
        # scripts the tests run are written.
        self.dir = rf.TempDir()
        self.cwd = self.dir.__enter__()
        self.sock = "rft-" + uuid.uuid4().hex[:10]
        env = ["env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "TERM=screen",
               "HOME=/", "PS1=outer$ ", "LANG=C"]
        shell = env + ["/bin/bash", "--norc", "--noprofile", "-i"]
        if user == "nobody":
            shell = AS_NOBODY + shell
        self.tmux("new-session", "-d", "-x", "100", "-y", "30", "-c", self.cwd, *shell)
        self.expect_prompt(count=1)

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                              text=True, timeout=30, check=check)

    def type(self, text, enter=True):
        self.tmux("send-keys", "-l", text)
        if enter:
            self.tmux("send-keys", "Enter")

    def key(self, name):
        self.tmux("send-keys", name)

    def screen(self):
        r = self.tmux("capture-pane", "-p", "-J", "-S", "-2000", check=False)
        return r.stdout

    def wait_for(self, text, timeout=20, count=1):
        """The pane's text once `text` (a regular expression when it is a
        compiled one) shows up `count` times (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            found = len(text.findall(s)) if isinstance(text, re.Pattern) else s.count(text)
            if found >= count:
                return s
            if time.monotonic() > deadline:
                self.test.fail(f"timed out waiting for {text!r} x{count}; screen:\n{s[-2500:]}")
            time.sleep(0.1)

    def expect_prompt(self, count, prompt="outer$ "):
        return self.wait_for(prompt, count=count)

    def pane_pid(self):
        return int(self.tmux("display-message", "-p", "#{pane_pid}").stdout.strip())

    def pane_tty(self):
        return self.tmux("display-message", "-p", "#{pane_tty}").stdout.strip()

    def stty_g(self):
        """The pane terminal's settings, read from outside (stty -g)."""
        with open(self.pane_tty(), "rb", buffering=0) as f:
            return subprocess.run(["stty", "-g"], stdin=f, capture_output=True, text=True,
                                  timeout=10).stdout.strip()

    def script(self, name, text):
        """`text` written to the working directory; its path."""
        return write_script(self.cwd, name, text)

    def close(self):
        self.tmux("kill-server", check=False)
        self.dir.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def ringfence_pid(shell_pid, timeout=10):
    """The ringfence process the pane's shell started (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{shell_pid}/task/{shell_pid}/children") as f:
                for pid in f.read().split():
                    try:
                        if os.readlink(f"/proc/{pid}/exe") == os.path.realpath(rf.BIN):
                            return int(pid)
                    except OSError:
                        pass
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("ringfence did not start")


@unittest.skipUnless(shutil.which("tmux"), "needs tmux")
class JobControlInside(unittest.TestCase):
    """`ringfence run -- bash -i` from the user's shell: the inner shell owns
    its terminal, so its jobs get Ctrl-C and Ctrl-Z."""

    def inner(self, t, mode, extra=""):
        t.type(f"{rf.BIN} run -q --mode {mode} {extra} -- env PS1='inn''er$ ' "
               f"/bin/bash --norc --noprofile -i")
        t.wait_for("inner$ ")

    def each_inner_shell(self, body):
        """body(t) with an inner shell in each mode, as each user (subtests)."""
        for mode in MODES:
            for user in USERS:
                with self.subTest(mode=mode, user=user), Tmux(self, user) as t:
                    self.inner(t, mode)
                    body(t)

    def key_during(self, t, command, key):
        """Runs `command` in the inner shell, then types `key` (C-c, C-z)
        while it runs: the inner prompt comes back."""
        t.type(command)
        t.wait_for("inner$ " + command)
        time.sleep(0.5)
        t.key(key)
        t.wait_for("inner$ ", count=2, timeout=10)

    def test_ctrl_c_reaches_the_foreground_job(self):
        def body(t):
            self.key_during(t, "sleep 100; echo NOT-$((1))INTERRUPTED", "C-c")
            t.type("echo A$((40+2))")
            s = t.wait_for("A42")
            self.assertNotIn("NOT-1INTERRUPTED", s)
            self.assertNotIn("no job control", s)
            self.assertNotIn("cannot set terminal process group", s)
            t.type("exit 5")
            t.expect_prompt(count=2)
            t.type("echo RC=$?")
            t.wait_for(re.compile(r"RC=5$", re.M))
        self.each_inner_shell(body)

    def test_ctrl_z_jobs_fg_then_ctrl_c(self):
        def body(t):
            self.key_during(t, "sleep 100", "C-z")
            t.type("jobs")
            t.wait_for("Stopped                 sleep 100", count=2)
            t.type("fg")
            t.wait_for("inner$ fg")
            time.sleep(0.5)
            t.key("C-c")
            t.wait_for("inner$ ", count=4, timeout=10)
            t.type("jobs; echo J$((6*7))")
            s = t.wait_for("J42")
            self.assertEqual(s.count("Stopped"), 2, s)  # the two shown before
            t.type("exit")
            t.expect_prompt(count=2)
        self.each_inner_shell(body)

    def test_tcsetpgrp_works(self):
        for mode in MODES:
            with self.subTest(mode=mode), Tmux(self) as t:
                    script = t.script("pgrp.py", TCSETPGRP)
                    t.type(f"{rf.BIN} run -q --mode {mode} -- {rf.PY} {script}; echo RC=$?")
                    s = t.wait_for(RC)
                    self.assertIn("TCSETPGRP OK True", s)
                    self.assertIn("RC=0", s)
        # Control: the probe itself, without ringfence, on the pane.
        with Tmux(self) as t:
            t.type(f"{rf.PY} {t.script('pgrp.py', TCSETPGRP)}; echo RC=$?")
            s = t.wait_for(RC)
            self.assertIn("TCSETPGRP OK True", s)

    def test_resize_reaches_the_command(self):
        for mode in MODES:
            with self.subTest(mode=mode), Tmux(self) as t:
                self.inner(t, mode)
                t.type("stty size")
                t.wait_for("30 100")
                t.tmux("resize-window", "-x", "80", "-y", "20")
                time.sleep(0.5)
                t.type("stty size; tput cols")
                t.wait_for("20 80")
                t.wait_for(re.compile(r"^80$", re.M))
                t.type("exit")
                t.expect_prompt(count=2)


@unittest.skipUnless(shutil.which("tmux"), "needs tmux")
class Relay(unittest.TestCase):
    def test_200mb_flood_completes_with_the_exit_code(self):
        for mode in MODES:
            with self.subTest(mode=mode), Tmux(self) as t:
                start = time.monotonic()
                t.type(f"{rf.BIN} run -q --mode {mode} -- /bin/sh -c "
                       f"\"head -c 200000000 /dev/zero | tr '\\\\0' x; exit 7\"; "
                       f"rc=$?; echo; echo RC=${{rc}}Z")
                t.wait_for("RC=7Z", timeout=240)
                self.assertLess(time.monotonic() - start, 240)

    def type_raw_bytes(self, t):
        """Types a, Ctrl-C, Ctrl-D to the RAW script, which reads them as
        three bytes (raw mode) and exits 0."""
        t.type("a", enter=False)
        t.key("C-c")
        t.key("C-d")
        s = t.wait_for(RC)
        self.assertIn("GOT [97, 3, 4]", s)
        self.assertIn("RC=0", s)

    def test_raw_mode_inside_and_the_terminal_exactly_as_before(self):
        if True:
            for mode in MODES:
                for user in USERS:
                    with self.subTest(mode=mode, user=user), Tmux(self, user) as t:
                        script = t.script("raw.py", RAW)
                        before = t.stty_g()
                        t.type(f"{rf.BIN} run -q --mode {mode} -- {rf.PY} {script}; echo RC=$?")
                        t.wait_for("RAW-READY")
                        self.type_raw_bytes(t)
                        t.expect_prompt(count=2)
                        # The command left its terminal raw; the user's is as before.
                        self.assertEqual(t.stty_g(), before)

    def test_terminal_restored_after_sigterm_and_while_stopped(self):
        # The command sets its terminal raw and waits; ringfence is stopped
        # as a job of the user's shell, continued with fg, then killed by
        # SIGTERM: the user's terminal is theirs, as before, each time.
        hold = ("import sys, time, tty; tty.setraw(0); "
                "print('RAW-' + 'SET', end='\\r\\n', flush=True); time.sleep(100)")
        for mode in MODES:
            with self.subTest(mode=mode), Tmux(self) as t:
                before = t.stty_g()
                t.type(f"{rf.BIN} run -q --mode {mode} -- {rf.PY} -c \"{hold}\"; echo RC=$?")
                t.wait_for("RAW-SET")
                pid = ringfence_pid(t.pane_pid())
                self.assertNotEqual(t.stty_g(), before)  # raw during the run
                os.kill(pid, signal.SIGTSTP)
                t.expect_prompt(count=2)
                self.assertEqual(t.stty_g(), before)
                t.type("fg")
                t.wait_for("outer$ fg")
                deadline = time.monotonic() + 10
                while t.stty_g() == before and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertNotEqual(t.stty_g(), before)  # raw again
                os.kill(pid, signal.SIGTERM)
                t.expect_prompt(count=3)
                self.assertEqual(t.stty_g(), before)
                # The status of the job fg waited for.
                t.type("echo FG=$?")
                t.wait_for(re.compile(r"^FG=143$", re.M))

    def test_sigtstp_without_a_job_control_shell_changes_nothing(self):
        # ringfence under a shell without job control (its process group is
        # orphaned): the kernel discards SIGTSTP, so ringfence must not stay
        # stopped nor leave the terminal cooked: keys are still bytes.
        with Tmux(self) as t:
            script = t.script("raw.py", RAW)
            t.type(f"exec /bin/sh -c '{rf.BIN} run -q -- {rf.PY} {script}; echo RC=$?; sleep 100'")
            t.wait_for("RAW-READY")
            pid = ringfence_pid(t.pane_pid())
            os.kill(pid, signal.SIGTSTP)
            time.sleep(0.5)
            with open(f"/proc/{pid}/stat") as f:
                self.assertNotIn(f.read().rsplit(")", 1)[1].split()[0], ("T", "t"))
            self.type_raw_bytes(t)

    def test_hang_up_of_the_users_terminal_reaches_the_command(self):
        # The user's terminal goes away (the tmux server is killed). The
        # shell's own SIGHUP is kept from ringfence (ignored, then exec), so
        # only the relay can tell the command: it hangs up the command's
        # terminal and sends SIGHUP, as a terminal would.
        hup = ("import signal, sys, time\n"
               "def hup(*a):\n"
               "    open('hup.txt', 'w').write('HUP')\n"
               "    sys.exit(0)\n"
               "signal.signal(signal.SIGHUP, hup)\n"
               "print('WAIT' + 'ING', flush=True)\n"
               "time.sleep(100)\n")
        for mode in MODES:
            with self.subTest(mode=mode), Tmux(self) as t:
                t.script("hup.py", hup)
                marker = os.path.join(t.cwd, "hup.txt")
                t.type(f"trap '' HUP; exec {rf.BIN} run -q --mode {mode} -- {rf.PY} hup.py")
                t.wait_for("WAITING")
                pid = t.pane_pid()  # ringfence itself (exec)
                t.tmux("kill-server", check=False)
                deadline = time.monotonic() + 10
                while not os.path.exists(marker) and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertTrue(os.path.exists(marker), "the command got no SIGHUP")
                while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertFalse(os.path.exists(f"/proc/{pid}"), "ringfence still runs")

    @unittest.skipUnless(rf.IS_ROOT and shutil.which("unshare"), "needs root and unshare")
    def test_no_pseudo_terminal_to_be_had(self):
        # /dev/ptmx is not a pseudo-terminal multiplexer here (/dev/null
        # mounted over it): auto warns and gives the command the user's
        # terminal as before; --tty refuses to run (125).
        with Tmux(self) as t:
            t.script("in.py", "import os; print('IN', os.readlink('/proc/self/fd/0'))")
            for flag in ("", "--tty"):
                t.type(f"unshare -m /bin/sh -c 'mount --bind /dev/null /dev/ptmx && exec "
                       f"{rf.BIN} run -q {flag} -- {rf.PY} in.py'; echo RC=$?")
                t.wait_for(RC, count=1 if not flag else 2)
            s = t.screen()
            self.assertIn("ringfence: warning: a terminal for the command: unlockpt", s)
            self.assertIn(f"IN {t.pane_tty()}\n", s)
            self.assertIn("ringfence: --tty: a terminal for the command: unlockpt", s)
            self.assertEqual(re.findall(r"^RC=(\d+)$", s, re.M), ["0", "125"])

    def test_forced_terminal_with_pipes(self):
        # --tty: a terminal of its own whatever the descriptors are; input
        # from a pipe ends with the end-of-file character (a line left
        # unfinished is ended first), output comes back through the pipe.
        for mode in MODES:
            with self.subTest(mode=mode):
                r = rf.run(["/bin/sh", "-c", "tty; cat; echo CAT=$?; exit 3"],
                           extra=["--mode", mode, "--tty"], input="one\ntwo", timeout=30)
                self.assertEqual(r.returncode, 3, r.stderr)
                # (The terminal echoes the input first.)
                self.assertRegex(r.stdout, r"/dev/pts/\d+\n")
                self.assertIn("one", r.stdout)
                self.assertIn("CAT=0", r.stdout)
        r = rf.run(["/bin/true"], extra=["--tty", "--no-tty"])
        self.assertEqual(r.returncode, 125)
        self.assertIn("--tty and --no-tty both given", r.stderr)

    def test_non_interactive_runs_keep_pipes(self):
        for mode in MODES:
            with self.subTest(mode=mode), Tmux(self) as t:
                t.type(f"echo hello | {rf.BIN} run -q --mode {mode} -- {rf.PY} -c "
                       f"\"import os,sys; print('IN', os.readlink('/proc/self/fd/0'), "
                       f"sys.stdin.read().strip(), os.isatty(0))\"; echo RC=$?")
                s = t.wait_for(RC)
                self.assertRegex(s, r"IN pipe:\[\d+\] hello False")
                self.assertIn("RC=0", s)
        # Output to a pipe: other programs of the pipeline share the user's
        # terminal; the command gets it as it is.
        with Tmux(self) as t:
            t.type(f"{rf.BIN} run -q -- {rf.PY} -c "
                   f"\"import os; print('IN', os.readlink('/proc/self/fd/0'))\" | cat; "
                   f"echo RC=$?")
            s = t.wait_for(RC)
            self.assertIn(f"IN {t.pane_tty()}\n", s)
        # --no-tty: the user's terminal as it is (job control of the
        # caller's shell only).
        with Tmux(self) as t:
            t.type(f"{rf.BIN} run -q --no-tty -- {rf.PY} -c "
                   f"\"import os; print('IN', os.readlink('/proc/self/fd/0'))\"; echo RC=$?")
            s = t.wait_for(RC)
            self.assertIn(f"IN {t.pane_tty()}\n", s)
        # No terminal at all: plain pipes, as before.
        r = rf.run([rf.PY, "-c", "import os; print(os.readlink('/proc/self/fd/0'), "
                    "os.readlink('/proc/self/fd/1'))"], input="")
        self.assertRegex(r.stdout, r"^pipe:\[\d+\] pipe:\[\d+\]", r.stderr)


@unittest.skipUnless(shutil.which("tmux"), "needs tmux")
class UsersTerminalOutOfReach(unittest.TestCase):
    def test_ioctls_reach_only_the_private_terminal(self):
        if True:
            for mode in MODES:
                with self.subTest(mode=mode), Tmux(self) as t:
                    script = t.script("probe.py", PROBE)
                    user_tty = t.pane_tty()
                    before = t.stty_g()
                    t.type(f"{rf.BIN} run -q --mode {mode} -- {rf.PY} {script} {user_tty}; "
                           f"echo RC=$?")
                    s = t.wait_for(RC)
                    self.assertIn("PROBE-DONE", s)
                    self.assertIn("OPEN-USER-TTY Permission_denied", s)
                    lines = [l for l in s.splitlines() if l.startswith(("PROBE ", "FD "))]
                    probes = [l for l in lines if l.startswith("PROBE ")]
                    self.assertEqual(len(probes), 4, s)  # 0, 1, 2 and /dev/tty
                    for l in probes:
                        for req in ("TIOCSTI", "KDSKBMODE", "KDSETMODE", "VT_SETMODE"):
                            self.assertIn(f"{req}=Operation_not_permitted", l)
                    # /dev/tty, opened by the probe, is its controlling terminal.
                    ttys = {l.split()[2] for l in lines
                            if l.startswith("FD ") and l.split()[2].startswith("/dev/")
                            and l.split()[2] != "/dev/tty"}
                    self.assertEqual(len(ttys), 1, lines)
                    private = ttys.pop()
                    self.assertRegex(private, r"^/dev/pts/\d+$")
                    self.assertNotEqual(private, user_tty)
                    self.assertNotIn(user_tty + "\n", s.replace("outer$ ", ""))
                    # Nothing was typed into the user's shell (TIOCSTI "#").
                    t.type("echo AFTER$((1+1))")
                    s = t.wait_for("AFTER2")
                    self.assertNotIn("#echo AFTER", s)
                    self.assertEqual(t.stty_g(), before)
            # Control: the probe itself, without ringfence, reads the pane's
            # terminal on its descriptors (the probe can see it).
            with Tmux(self) as t:
                t.type(f"{rf.PY} {t.script('probe.py', PROBE)} {t.pane_tty()}; echo RC=$?")
                s = t.wait_for(RC)
                self.assertIn(f"FD 0 {t.pane_tty()}", s)
                self.assertIn("OPEN-USER-TTY OK", s)

    def vt_standin(self):
        """A virtual console this process may read modes of, or None."""
        for path in ("/dev/tty1", "/dev/tty2", "/dev/tty0"):
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                fcntl.ioctl(fd, KDGETMODE, struct.pack("i", 0))
                return fd
            except OSError:
                os.close(fd)
        return None

    @unittest.skipUnless(rf.IS_ROOT, "needs root to open a console")
    def test_console_requests_refused_on_a_real_vt(self):
        # A VT given to the command as it is (stdin; stdout and stderr are
        # pipes, so no terminal of its own, as with --no-tty): the console
        # requests are refused by the sandbox.
        # Only reading requests are made (KDGETMODE, KDGKBMODE, VT_GETMODE:
        # the same 0x4Bxx/0x56xx families as the setters, refused by the same
        # rules; tests/unit covers the setters' verdicts), so the console is
        # never changed, even where the sandbox would fail.
        fd = self.vt_standin()
        if fd is None:
            self.skipTest("no virtual console here")
        probe = ("import fcntl, struct\n"
                 "for name, req in (('KDGETMODE', 0x4B3B), ('KDGKBMODE', 0x4B44), "
                 "('VT_GETMODE', 0x5601)):\n"
                 "    try:\n"
                 "        fcntl.ioctl(0, req, bytes(8)); print(name, 'OK')\n"
                 "    except OSError as e: print(name, e.strerror)\n")
        try:
            before = [fcntl.ioctl(fd, r, bytes(8)) for r in (KDGETMODE, KDGKBMODE, VT_GETMODE)]
            control = subprocess.run(AS_NOBODY + [rf.PY, "-c", probe], stdin=fd,
                                     capture_output=True, text=True, timeout=30)
            self.assertIn("KDGETMODE OK", control.stdout, control.stderr)
            for mode in MODES:
                with self.subTest(mode=mode):
                    r = rf.run([rf.PY, "-c", probe], extra=["--mode", mode],
                               stdin=fd)
                    for name in ("KDGETMODE", "KDGKBMODE", "VT_GETMODE"):
                        self.assertIn(f"{name} Operation not permitted", r.stdout, r.stderr)
            after = [fcntl.ioctl(fd, r, bytes(8)) for r in (KDGETMODE, KDGKBMODE, VT_GETMODE)]
            self.assertEqual(before, after)
        finally:
            os.close(fd)


if __name__ == "__main__":
    unittest.main()
