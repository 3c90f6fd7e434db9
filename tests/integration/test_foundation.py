"""Foundation: exit codes, signals, process-tree cleanup, terminal hand-off,
privilege drop, environment, policy errors and the audit log, all through the
real binary."""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import rf


def processes_with(marker):
    """PIDs whose command line contains `marker`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(int(pid))
    return found


def descendants(root):
    """{pid: (ppid, state, name)} of every process whose PPid chain leads to `root`."""
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        procs[int(pid)] = (int(st["PPid"]), st["State"].split()[0], st["Name"].strip())
    found = {}
    for pid, info in procs.items():
        p = info[0]
        for _ in range(len(procs)):  # bounded even if the table changed under us
            if p == root:
                found[pid] = info
                break
            if p not in procs:
                break
            p = procs[p][0]
    return found


def wait_until(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class ExitCodes(unittest.TestCase):
    def test_child_exit_code_is_returned(self):
        for code in (0, 1, 7, 42):
            r = rf.run(["/bin/sh", "-c", f"exit {code}"])
            self.assertEqual(r.returncode, code, r.stderr)

    def test_exit_code_when_the_caller_ignores_sigchld(self):
        # An ignored SIGCHLD survives exec; init must not inherit it (the
        # kernel would reap the command by itself and the run would hang).
        r = subprocess.run([rf.BIN, "run", "-q", "--", "/bin/sh", "-c", "exit 7"],
                           preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 7, r.stderr)

    def test_signal_death_is_128_plus_n(self):
        r = rf.run(["/bin/sh", "-c", "kill -KILL $$"])
        self.assertEqual(r.returncode, 128 + 9, r.stderr)
        r = rf.run(["/bin/sh", "-c", "kill -SEGV $$"])
        self.assertEqual(r.returncode, 128 + 11, r.stderr)

    def test_not_found_is_127(self):
        r = rf.run(["no-such-command-rf"])
        self.assertEqual(r.returncode, 127)
        self.assertIn("command not found", r.stderr)
        r = rf.run(["/nonexistent/bin/x"])
        self.assertEqual(r.returncode, 127)

    def test_not_executable_is_126(self):
        with rf.TempDir() as d:
            path = os.path.join(d, "script")
            with open(path, "w") as f:
                f.write("#!/bin/sh\necho hi\n")
            os.chmod(path, 0o644)
            r = rf.run([path])
            self.assertEqual(r.returncode, 126, r.stderr)
            r = rf.run([d])  # a directory
            self.assertEqual(r.returncode, 126, r.stderr)

    def test_setup_failure_is_125(self):
        r = rf.run(["/bin/true"], extra=["--workdir", "/nonexistent-dir-rf"])
        self.assertEqual(r.returncode, 125)
        self.assertIn("--workdir", r.stderr)
        r = rf.run(["/bin/true"], extra=["--mode", "bogus"])
        self.assertEqual(r.returncode, 125)
        r = subprocess.run([rf.BIN, "run"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 125)

    def test_arguments_after_command_are_passed_verbatim(self):
        r = rf.run(["/bin/echo", "--policy", "-x", "a b"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "--policy -x a b\n")


class Signals(unittest.TestCase):
    SCRIPT = textwrap.dedent("""
        import os, signal, sys, time
        def h(sig, frame):
            name = signal.Signals(sig).name
            print(name, flush=True)
            if sig == signal.SIGTERM:
                sys.exit(3)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH):
            signal.signal(s, h)
        print("ready", flush=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)
        sys.exit(9)
    """)

    def test_signals_are_forwarded(self):
        with rf.TempDir() as d:
            script = os.path.join(d, "sig.py")
            with open(script, "w") as f:
                f.write(self.SCRIPT)
            os.chmod(script, 0o644)
            # The script is in the working directory: the default policy grants it.
            p = subprocess.Popen([rf.BIN, "run", "-q", "--", rf.PY, script], cwd=d,
                                 stdout=subprocess.PIPE, text=True, start_new_session=True)
            try:
                self.assertEqual(self._line(p), "ready")
                for sig in (signal.SIGWINCH, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT):
                    p.send_signal(sig)
                    self.assertEqual(self._line(p), sig.name)
                p.send_signal(signal.SIGTERM)
                self.assertEqual(self._line(p), "SIGTERM")
                self.assertEqual(p.wait(timeout=10), 3)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()

    def _line(self, p):
        r, _, _ = select.select([p.stdout], [], [], 10)
        self.assertTrue(r, "timed out waiting for the sandboxed program")
        return p.stdout.readline().strip()


class ProcessTree(unittest.TestCase):
    def test_background_processes_die_with_the_command(self):
        marker = f"31{os.getpid() % 1000}.25"
        marker2 = f"32{os.getpid() % 1000}.25"
        r = rf.run(["/bin/sh", "-c",
                    f"sleep {marker} & setsid sleep {marker2} & sleep 0.2; exit 0"])
        self.assertEqual(r.returncode, 0, r.stderr)
        # ringfence returns only after the whole tree is reaped.
        self.assertEqual(processes_with(f"sleep {marker}"), [])
        self.assertEqual(processes_with(f"sleep {marker2}"), [])

    def test_sigkill_of_ringfence_kills_the_sandbox(self):
        marker = f"41{os.getpid() % 1000}.5"
        marker2 = f"42{os.getpid() % 1000}.5"
        p = subprocess.Popen([rf.BIN, "run", "-q", "--", "/bin/sh", "-c",
                              f"sleep {marker} & setsid sleep {marker2} & wait"],
                             start_new_session=True)
        try:
            self.assertTrue(wait_until(lambda: processes_with(f"sleep {marker}") and
                                       processes_with(f"sleep {marker2}")),
                            "sandboxed sleeps never started")
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)
            self.assertTrue(wait_until(lambda: not processes_with(f"sleep {marker}") and
                                       not processes_with(f"sleep {marker2}"), timeout=10),
                            "sandboxed processes survived SIGKILL of ringfence")
        finally:
            for pid in processes_with(f"sleep {marker}") + processes_with(f"sleep {marker2}"):
                os.kill(pid, signal.SIGKILL)

    def test_no_zombies_left(self):
        # A child that leaves a zombie grandchild and a detached one behind.
        r = rf.run(["/bin/sh", "-c", "(sleep 0.1 &) ; (setsid sh -c 'sleep 0.1' &); exit 0"])
        self.assertEqual(r.returncode, 0)
        # ringfence has returned: it has no children left at all.
        self.assertEqual(processes_with("sleep 0.1"), [])


    def test_orphans_are_reaped_while_the_command_runs(self):
        marker = f"51{os.getpid() % 1000}.75"
        # Orphans: a sleep and an exiting shell left behind by subshells; they
        # reparent to the sandbox's init (a subreaper), which must reap them.
        # Control: `sleep MARKER` never waits, so the `sleep 0.05` it inherits
        # from the shell it replaced stays a zombie under a live parent.
        script = (f'(sleep 0.1 &); (sh -c "exit 0" &); sh -c "sleep 0.05 & exec sleep {marker}" & '
                  'sleep 0.6; echo ready; sleep 3')
        for mode in ("namespace", "platform") if rf.IS_ROOT else ("platform",):
            with self.subTest(mode), rf.TempDir() as d:
                p = subprocess.Popen([rf.BIN, "run", "-q", "--mode", mode, "--workdir", d, "--",
                                      "/bin/sh", "-c", script],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
                try:
                    r, _, _ = select.select([p.stdout], [], [], 15)
                    self.assertTrue(r, "timed out waiting for the sandboxed program")
                    self.assertEqual(p.stdout.readline().strip(), "ready")
                    marker_pids = set(processes_with(f"sleep {marker}"))
                    self.assertTrue(marker_pids, "control process not found")
                    tree = {}

                    def only_the_control_zombie():
                        tree.clear()
                        tree.update(descendants(p.pid))
                        zombies = {pid for pid, (_, state, _) in tree.items() if state == "Z"}
                        control = {pid for pid in zombies if tree[pid][0] in marker_pids}
                        return len(control) == 1 and zombies == control

                    # The command sleeps 3 s more: everything below happens while it runs.
                    self.assertTrue(wait_until(only_the_control_zombie, timeout=2.0),
                                    f"zombies in the sandbox (pid: ppid, state, name): {tree}")
                    self.assertIsNone(p.poll(), "the command ended before the check")
                    self.assertEqual(p.wait(timeout=15), 0)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait(timeout=15)
                    p.stdout.close()


class Terminal(unittest.TestCase):
    OUTER = textwrap.dedent("""
        import os, subprocess, sys, termios
        before = termios.tcgetattr(0)
        rc = subprocess.call([sys.argv[1], "run", "-q", "--", "/bin/bash", "--norc", "--noprofile", "-i"])
        after = termios.tcgetattr(0)
        fg = os.tcgetpgrp(0) == os.getpgrp()
        print(f"OUTER rc={rc} fg={fg} attrs={before == after}", flush=True)
    """)

    class Pty:
        """A program on a new pseudo-terminal (its session leader), read
        until expected text shows up; killed on exit."""

        def __init__(self, test, argv, env):
            self.test, self.out = test, b""
            self.pid, self.fd = pty.fork()
            if self.pid == 0:
                try:
                    os.environ.update(env)
                    os.execv(argv[0], argv)
                finally:
                    os._exit(127)

        def write(self, data):
            os.write(self.fd, data)

        def expect(self, pattern, timeout=10):
            deadline = time.monotonic() + timeout
            while pattern.encode() not in self.out:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.test.fail(f"timed out waiting for {pattern!r}; got {self.out[-600:]!r}")
                r, _, _ = select.select([self.fd], [], [], left)
                if r:
                    try:
                        chunk = os.read(self.fd, 4096)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self.test.fail(f"terminal closed waiting for {pattern!r}; got {self.out[-600:]!r}")
                    self.out += chunk
            self.out = self.out[self.out.index(pattern.encode()) + len(pattern):]

        def __enter__(self):
            return self

        def __exit__(self, *a):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            os.close(self.fd)

    def outer_shell(self):
        """An interactive bash (job control on) on a new terminal."""
        return self.Pty(self, ["/bin/bash", "--norc", "--noprofile", "-i"],
                        {"PS1": "outer$ ", "TERM": "dumb"})

    def run_and_suspend(self, t, script):
        """At the shell's prompt, `ringfence run` python3 running `script`
        once it has printed READY (the echoed command line does not contain
        that word), then Ctrl-Z it."""
        t.expect("outer$ ")
        script = "print('RE' + 'ADY', flush=True); " + script
        t.write(f"{rf.BIN} run -q -- /usr/bin/python3 -c \"{script}\"\n".encode())
        t.expect("READY")
        t.write(b"\x1a")  # Ctrl-Z
        t.expect("Stopped")

    def fg_and_answer(self, t):
        """`fg` the stopped ringfence job; its command reads a line from the
        terminal, answers and exits 0."""
        t.write(b"fg\n")
        time.sleep(0.5)
        t.write(b"hello\n")
        t.expect("GOT hello")
        t.expect("outer$ ")
        t.write(b"echo RC$?\n")
        t.expect("RC0")

    def test_output_suspended_by_the_command_is_resumed_at_exit(self):
        # Found by review: a command that stops the terminal's output
        # (tcflow TCOOFF) left the caller's terminal hung after the run.
        with self.outer_shell() as t:
            t.expect("outer$ ")
            t.write(f"{rf.BIN} run -q -- /usr/bin/python3 -c \"import termios; "
                    f"termios.tcflow(0, termios.TCOOFF)\"; echo AFT''ER$?\n".encode())
            t.expect("AFTER0", timeout=15)

    def test_ctrl_z_suspends_ringfence_in_the_callers_shell(self):
        # Job control: Ctrl-Z stops the command, ringfence relays it so the
        # caller's shell sees a stopped job and gets the terminal back; `fg`
        # gives the terminal back to the command, which goes on reading it.
        with self.outer_shell() as t:
            self.run_and_suspend(t, "import sys; print('GOT', sys.stdin.readline().strip())")
            t.expect("outer$ ")
            # The shell has the terminal: it runs commands again.
            t.write(b"echo S$((6*7)); jobs\n")
            t.expect("S42")
            t.expect("ringfence")
            self.fg_and_answer(t)

    def test_after_bg_the_shell_keeps_the_terminal(self):
        # Ctrl-Z, then `bg`: the command finishes in the background and
        # ringfence must not take the terminal from the shell when it exits.
        with self.outer_shell() as t:
            self.run_and_suspend(t, "import time; time.sleep(1); print('DO' + 'NE')")
            t.write(b"bg\n")
            t.expect("DONE", timeout=15)
            time.sleep(0.5)
            t.write(b"echo ALIVE$((1+1))\n")
            t.expect("ALIVE2")
            t.write(b"echo AGAIN$((2+2))\n")
            t.expect("AGAIN4")

    def test_started_in_the_background_then_brought_to_the_foreground(self):
        # `ringfence run ... &`: the command reading the terminal from the
        # background is stopped (SIGTTIN), ringfence shows as a stopped job,
        # and `fg` hands it the terminal.
        with self.outer_shell() as t:
            t.expect("outer$ ")
            t.write(f"{rf.BIN} run -q -- /usr/bin/python3 -c \"print('GOT', input())\" &\n".encode())
            t.expect("outer$ ")
            time.sleep(1)
            t.write(b"jobs\n")
            t.expect("Stopped")
            t.expect("outer$ ")
            self.fg_and_answer(t)

    def test_interactive_shell_gets_the_terminal(self):
        with rf.TempDir() as d:
            outer = os.path.join(d, "outer.py")
            with open(outer, "w") as f:
                f.write(self.OUTER)
            with self.Pty(self, [rf.PY, outer, rf.BIN], {"PS1": "rfprompt$ ", "TERM": "dumb"}) as t:
                t.expect("rfprompt$ ")
                t.write(b"echo A$((40+2))\n")
                t.expect("A42")
                # The shell's job is in the foreground: Ctrl-C reaches it.
                t.write(b"sleep 30; echo NOT-INTERRUPTED\n")
                time.sleep(0.5)
                t.write(b"\x03")
                t.expect("rfprompt$ ", timeout=5)
                t.write(b"echo B$((2+2)) $RINGFENCE_SANDBOX\n")
                t.expect("B4 1")
                # Leave the terminal in a changed state: ringfence restores it.
                t.write(b"stty -echo -icanon; exit 4\n")
                t.expect("OUTER rc=4 fg=True attrs=True")
                self.assertNotIn(b"NOT-INTERRUPTED", t.out)


@unittest.skipUnless(rf.IS_ROOT, "needs root")
class PrivilegeDrop(unittest.TestCase):
    def test_runs_as_nobody_without_capabilities(self):
        r = rf.run(["/bin/cat", "/proc/self/status"])
        self.assertEqual(r.returncode, 0, r.stderr)
        status = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
        self.assertEqual(status["Uid"].split(), ["65534"] * 4)
        self.assertEqual(status["Gid"].split(), ["65534"] * 4)
        self.assertEqual(status["Groups"].strip(), "")
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(status[cap], 16), 0, cap)
        self.assertEqual(status["NoNewPrivs"].strip(), "1")

    def test_cannot_regain_root(self):
        r = rf.run([rf.PY, "-c",
                    "import os\ntry:\n os.setuid(0)\n print('REGAINED')\nexcept PermissionError:\n print('denied')"])
        self.assertEqual(r.stdout.strip(), "denied", r.stderr)

    def test_core_limit_is_zero(self):
        r = rf.run([rf.PY, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_CORE))"])
        self.assertEqual(r.stdout.strip(), "(0, 0)", r.stderr)

    def test_run_as_user_from_policy(self):
        r = rf.run(["/usr/bin/id", "-u"], policy="version: 1\nprocess: {run_as_user: '12345', run_as_group: '12345'}\n")
        self.assertEqual(r.stdout.strip(), "12345", r.stderr)


@unittest.skipUnless(rf.IS_ROOT, "needs root to start ringfence as another user")
class UnprivilegedStart(unittest.TestCase):
    DROP = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all"]
    PROBE = ["/bin/sh", "-c", "grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' /proc/self/status; "
             "grep '^Max core file size' /proc/self/limits; ulimit -c"]

    def _start(self, cmd, cwd):
        # The caller allows core dumps and leaves no_new_privs unset: what the
        # command reports beyond that comes from ringfence.
        return subprocess.run(["/bin/sh", "-c", 'ulimit -c unlimited && exec "$@"', "sh"] + self.DROP + cmd,
                              capture_output=True, text=True, timeout=60, cwd=cwd)

    def _parse(self, out):
        lines = out.splitlines()
        status = {k: v.strip() for k, v in (l.split(":", 1) for l in lines if ":" in l)}
        core = [l.split()[4:6] for l in lines if l.startswith("Max core file size")]
        return status, core, lines[-1] if lines else ""

    def test_no_new_privs_and_core_limit_without_root(self):
        with rf.TempDir() as d:
            policy = os.path.join(d, "policy.yaml")
            with open(policy, "w") as f:
                f.write("version: 1\nfilesystem_policy:\n  include_workdir: true\n"
                        "  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]\n  read_write: [/dev/null]\n"
                        "network: {mode: platform}\n")
            os.chmod(policy, 0o644)
            # Control: the caller itself is unprivileged, without no_new_privs, with core dumps.
            ctl = self._start(self.PROBE, d)
            status, core, ulimit = self._parse(ctl.stdout)
            self.assertEqual(status["Uid"].split(), ["65534"] * 4, ctl.stdout + ctl.stderr)
            self.assertEqual(int(status["CapEff"], 16), 0)
            self.assertEqual(int(status["CapBnd"], 16), 0)
            self.assertEqual(status["NoNewPrivs"], "0")
            self.assertEqual(core, [["unlimited", "unlimited"]])
            self.assertEqual(ulimit, "unlimited")
            r = self._start([rf.BIN, "run", "-q", "--policy", policy, "--workdir", d, "--"] + self.PROBE, d)
            self.assertEqual(r.returncode, 0, r.stderr)
            status, core, ulimit = self._parse(r.stdout)
            self.assertEqual(status["Uid"].split(), ["65534"] * 4, r.stdout)
            self.assertEqual(status["NoNewPrivs"], "1", r.stdout)
            self.assertEqual(core, [["0", "0"]], r.stdout)
            self.assertEqual(ulimit, "0", r.stdout)


class Environment(unittest.TestCase):
    def test_environment_is_callers_minus_ringfence_plus_marker(self):
        env = dict(os.environ, RF_PROBE_VAR="kept", RINGFENCE_SECRET="dropped")
        r = rf.run(["/usr/bin/env"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("RF_PROBE_VAR=kept", lines)
        self.assertIn("RINGFENCE_SANDBOX=1", lines)
        self.assertFalse([l for l in lines if l.startswith("RINGFENCE_SECRET")])


class PolicyErrors(unittest.TestCase):
    CASES = {
        "unknown key": ("version: 1\nfilesystem_policy:\n  read_only: [/usr]\n  writable: [/tmp]\n", 4, 3, "unknown key 'writable'"),
        "wrong type": ("version: 1\nprocess:\n  sysv_ipc: maybe\n", 3, 13, "true or false"),
        "relative path": ("version: 1\nfilesystem_policy:\n  read_write:\n    - tmp/x\n", 4, 7, "absolute"),
        "dot-dot": ("version: 1\nfilesystem_policy:\n  read_only: [/usr/../root]\n", 3, 15, "'..'"),
        "duplicate key": ("version: 1\nnetwork:\n  bind_ports: [80]\n  bind_ports: [81]\n", 4, 3, "duplicate key"),
        "port range": ("version: 1\nnetwork:\n  loopback_ports: [5173, 65536]\n", 3, 26, "out of range"),
        "port zero": ("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n      - {host: a.test, port: 0}\n", 5, 30, "out of range"),
        "syntax": ("version: 1\nnetwork: [\n", 3, 1, "YAML syntax error"),
    }

    def test_validate_reports_file_line_column(self):
        for name, (text, line, col, msg) in self.CASES.items():
            with self.subTest(name), tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                f.write(text)
                f.flush()
                r = rf.ringfence("policy", "validate", f.name)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(f"{f.name}:{line}:{col}: ", r.stderr)
                self.assertIn(msg, r.stderr)

    def test_valid_policy_validates(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("version: 1\nfilesystem_policy: {read_only: [/usr]}\n")
            f.flush()
            r = rf.ringfence("policy", "validate", f.name)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_run_with_bad_policy_exits_125_and_never_starts(self):
        with rf.TempDir() as d:
            marker = os.path.join(d, "started")
            for name, (text, line, col, _) in self.CASES.items():
                with self.subTest(name):
                    r = rf.run(["/bin/touch", marker], policy=text)
                    self.assertEqual(r.returncode, 125, r.stderr)
                    self.assertIn(f":{line}:{col}: ", r.stderr)
                    self.assertFalse(os.path.exists(marker), "command ran despite a bad policy")
            r = rf.run(["/bin/touch", marker], policy="/nonexistent/policy.yaml")
            self.assertEqual(r.returncode, 125)
            self.assertFalse(os.path.exists(marker))

    def test_policy_show_effective_adds_workdir(self):
        with rf.TempDir() as d:
            r = rf.ringfence("policy", "show", "--effective", "--json", cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            eff = json.loads(r.stdout)
            self.assertIn(os.path.realpath(d), eff["filesystem_policy"]["read_write"])
            self.assertIn("process", eff["enforcement"])

    def test_policy_show_prints_readable_yaml(self):
        with rf.TempDir() as d:
            ro, rw = os.path.join(d, "ro-data"), os.path.join(d, "rw-data")
            os.mkdir(ro)
            os.mkdir(rw)
            path = os.path.join(d, "policy.yaml")
            with open(path, "w") as f:
                f.write(f"version: 1\nfilesystem_policy:\n  include_workdir: false\n"
                        f"  read_only: [/usr, {ro}]\n  read_write: [{rw}]\nnetwork: {{mode: platform}}\n")
            r = rf.ringfence("policy", "show", "--policy", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRaises(ValueError, json.loads, r.stdout)
            lines = r.stdout.splitlines()
            for want in ("filesystem_policy:", f"  read_only: [/usr, {ro}]", f"  read_write: [{rw}]",
                         "network:", "  mode: platform", "process:", "  run_as_user: nobody",
                         f"source: {path}", "version: 1"):
                self.assertIn(want, lines, r.stdout)
            self.assertNotIn("enforcement:", lines)
            # --effective adds each layer's enforcement, still as text.
            r = rf.ringfence("policy", "show", "--effective", "--policy", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRaises(ValueError, json.loads, r.stdout)
            lines = r.stdout.splitlines()
            for want in ("enforcement:", "  landlock:", "  network:", "    decision: platform (requested)",
                         "  process:", "    no_new_privs: true", "    rlimit_core: 0", "  seccomp:",
                         f"        path: {ro}", f"        path: {rw}", "filesystem_policy:", "  mode: platform",
                         f"source: {path}"):
                self.assertIn(want, lines, r.stdout)
            # Without a policy: the embedded default, named as such.
            r = rf.ringfence("policy", "show", cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertIn("source: <embedded default policy>", lines, r.stdout)
            self.assertIn("filesystem_policy:", lines, r.stdout)
            self.assertTrue(any(l.startswith("  read_only: [/usr") for l in lines), r.stdout)

    def test_help_on_every_subcommand(self):
        for args in (["--help"], ["run", "--help"], ["policy", "--help"], ["policy", "validate", "--help"],
                     ["policy", "show", "--help"], ["version", "--help"]):
            r = rf.ringfence(*args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("Usage", r.stdout + r.stderr, args)
        r = rf.ringfence("version")
        self.assertRegex(r.stdout, r"^ringfence \d+\.\d+\.\d+")


class Audit(unittest.TestCase):
    def test_start_and_exit_events(self):
        with rf.OutsideDir() as d:
            log = os.path.join(d, "audit.jsonl")
            r = rf.run(["/bin/sh", "-c", "exit 3"], extra=["--audit", log])
            self.assertEqual(r.returncode, 3)
            with open(log) as f:
                events = [json.loads(l) for l in f]
            for e in events:
                for key in ("time", "layer", "action", "subject", "reason"):
                    self.assertIn(key, e)
            actions = [(e["layer"], e["action"]) for e in events]
            self.assertIn(("process", "start"), actions)
            self.assertIn(("process", "exit"), actions)
            exit_ev = [e for e in events if e["action"] == "exit"][0]
            self.assertEqual(exit_ev["exit_code"], 3)
            start_ev = [e for e in events if e["action"] == "start"][0]
            self.assertIsInstance(start_ev["pid"], int)


if __name__ == "__main__":
    unittest.main()


class Limits(unittest.TestCase):
    def test_command_gets_the_callers_descriptor_limit(self):
        # The supervisor raises its own soft limit for the proxy; the
        # command must see the caller's.
        r = subprocess.run(["/bin/sh", "-c", f"ulimit -Sn 1000; {rf.BIN} run -q -- /bin/sh -c 'ulimit -Sn'"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.stdout.strip(), "1000", r.stderr)
