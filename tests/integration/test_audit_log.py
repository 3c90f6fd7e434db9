"""The audit log survives: whole lines on a full disk, a run starting on a
fresh line, and the log delivered to stderr, an inherited descriptor and a
FIFO (as containers collect it) with the same integrity, out of the
command's reach (docs/audit.md)."""
import json
import os
import stat
import subprocess
import threading
import time
import unittest

import rf

AS_USER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

# Refused calls (ptrace) each make a seccomp/deny event of about 250 bytes.
DENIALS = ("import ctypes\n"
           "l = ctypes.CDLL(None)\n"
           "for _ in range(%d): l.syscall(101, 0, 0, 0, 0)\n")

# What the command sees of its descriptors, and whether it can write to `fd`.
FD_PROBE = ("import os, sys\n"
            "fd = int(sys.argv[1])\n"
            "links = {}\n"
            "for e in os.listdir('/proc/self/fd'):\n"
            "    try: links[int(e)] = os.readlink('/proc/self/fd/' + e)\n"
            "    except OSError: pass\n"
            "try:\n"
            "    os.write(fd, b'{\"layer\":\"process\",\"action\":\"exit\",\"forged\":true}\\n')\n"
            "    w = 'WROTE'\n"
            "except OSError as e:\n"
            "    w = 'REFUSED %d' % e.errno\n"
            "print(w, sorted(links.items()), flush=True)\n")


def events(text):
    """Every line of `text`, parsed; fails on one that is not whole JSON."""
    if text and not text.endswith("\n"):
        raise AssertionError("the log ends inside a line: %r" % text[-300:])
    out = []
    for n, line in enumerate(text.split("\n")[:-1]):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise AssertionError("line %d is not a whole JSON event (%s): %r\n%s"
                                 % (n + 1, e, line[:200], text[-600:]))
    return out


def lifecycle(evs, subject_word):
    return [e["action"] for e in evs
            if e.get("layer") == "process" and subject_word in e.get("subject", "")]


class FullDisk(unittest.TestCase):
    """A log on a tmpfs that fills up in the middle of the run."""

    def run_in_full_tmpfs(self, mnt, steps):
        script = "mount -t tmpfs -o size=64k,mode=0755 rf-audit-full %s && %s" % (mnt, steps)
        return subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                               script], capture_output=True, text=True, timeout=120)

    def test_full_disk_leaves_whole_lines_and_the_next_run_starts_fresh(self):
        with rf.OutsideDir() as d:
            mnt = os.path.join(d, "full")
            os.mkdir(mnt)
            log = os.path.join(mnt, "audit.jsonl")
            run = "%s run -q --audit %s -- %s -c '%s'" % (rf.BIN, log, rf.PY, DENIALS % 600)
            # 1: 600 events (~150 KB) into 64 KiB less a padding file; 2: the
            # padding freed, a line left unfinished by someone else (an older
            # version, a killed writer); 3: a second run appends.
            steps = ("dd if=/dev/zero of=%s/pad bs=1k count=4 2>/dev/null; "
                     "%s; echo rc1=$?; rm -f %s/pad; "
                     "printf '{\"layer\":\"process\",\"act' >> %s; cp %s %s/first.jsonl; "
                     "%s run -q --audit %s -- /bin/echo second; echo rc2=$?; cp %s %s/second.jsonl"
                     % (mnt, run, mnt, log, log, d, rf.BIN, log, log, d))
            r = self.run_in_full_tmpfs(mnt, steps)
            self.assertFalse(os.path.exists(log), "mount leaked")
            self.assertIn("rc1=0", r.stdout, r.stderr)
            self.assertIn("rc2=0", r.stdout, r.stderr)
            with open(os.path.join(d, "first.jsonl")) as f:
                first = f.read()
            with open(os.path.join(d, "second.jsonl")) as f:
                second = f.read()
        # The first run: whole lines only, though the disk filled mid-line.
        partial = '{"layer":"process","act'
        self.assertTrue(first.endswith(partial), first[-300:])
        evs = events(first[:-len(partial)])
        self.assertGreater(len(evs), 50)
        self.assertLess(len(evs), 600)
        self.assertEqual(evs[0]["action"], "start")
        self.assertTrue(all(e["layer"] == "seccomp" for e in evs[1:]), evs[-1])
        # The second run begins on a line of its own after the unfinished one.
        self.assertTrue(second.startswith(first), "the log was rewritten")
        rest = second[len(first):]
        self.assertTrue(rest.startswith("\n"), rest[:200])
        evs2 = events(rest[1:])
        self.assertEqual(lifecycle(evs2, "second"), ["start", "exit"], rest)
        # The events it could not take are counted and said.
        self.assertIn("events could not be written", r.stderr)
        self.assertEqual(r.stderr.count("audit log write failed"), 1, r.stderr)

    def test_control_without_the_space_problem(self):
        # The same run on a disk with room: every event is written, so the
        # loss above is the full disk's.
        with rf.OutsideDir() as d:
            log = os.path.join(d, "audit.jsonl")
            r = rf.run([rf.PY, "-c", DENIALS % 600], extra=["--audit", log], timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(log) as f:
                evs = events(f.read())
        self.assertEqual(len(evs), 602)
        self.assertNotIn("could not be written", r.stderr)


class Streams(unittest.TestCase):
    """--audit -, /dev/stderr, --audit-fd and a FIFO."""

    def check_stderr_log(self, audit_arg):
        with rf.OutsideDir() as d:
            r = subprocess.run([rf.BIN, "run", "-q", "--audit", audit_arg, "--", "/bin/sh", "-c",
                                "echo on-stdout; echo on-stderr >&2; exit 3"],
                               capture_output=True, text=True, timeout=60, cwd=d)
            self.assertEqual(os.listdir(d), [], "a file was made for " + audit_arg)
        self.assertEqual(r.returncode, 3, r.stderr)
        # stdout is the command's alone.
        self.assertEqual(r.stdout, "on-stdout\n")
        lines = r.stderr.split("\n")
        self.assertIn("on-stderr", lines)
        evs = events("".join(l + "\n" for l in lines if l.startswith("{")))
        self.assertEqual(lifecycle(evs, "on-stdout"), ["start", "exit"], r.stderr)
        self.assertEqual(evs[-1]["exit_code"], 3)

    def test_dash_is_stderr(self):
        self.check_stderr_log("-")

    def test_dev_stderr(self):
        self.check_stderr_log("/dev/stderr")

    def test_dev_stdout_when_asked_for(self):
        with rf.OutsideDir() as d:
            r = subprocess.run([rf.BIN, "run", "-q", "--audit", "/dev/stdout", "--", "/bin/echo",
                                "on-stdout"], capture_output=True, text=True, timeout=60, cwd=d)
            self.assertEqual(os.listdir(d), [])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split("\n")
        self.assertIn("on-stdout", lines)
        evs = events("".join(l + "\n" for l in lines if l.startswith("{")))
        self.assertEqual(lifecycle(evs, "on-stdout"), ["start", "exit"], r.stdout)

    def test_audit_fd_pipe_is_not_inherited(self):
        self.check_audit_fd([])

    def test_audit_fd_pipe_platform_mode(self):
        self.check_audit_fd([], ["--mode", "platform"])

    def test_audit_fd_pipe_as_an_ordinary_user(self):
        for mode in ("namespace", "platform"):
            with self.subTest(mode=mode):
                self.check_audit_fd(AS_USER, ["--mode", mode])

    def check_audit_fd(self, prefix, extra=()):
        work = rf.TempDir()
        self.addCleanup(work.__exit__)
        r_end, w_end = os.pipe()
        try:
            p = subprocess.Popen(prefix + [rf.BIN, "run", "-q", "--audit-fd", str(w_end)] +
                                 list(extra) + ["--", rf.PY, "-c", FD_PROBE, str(w_end)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 pass_fds=[w_end], cwd=work.path)
            os.close(w_end)
            w_end = -1
            chunks = []

            def reader():
                while True:
                    b = os.read(r_end, 65536)
                    if not b:
                        return
                    chunks.append(b)
            t = threading.Thread(target=reader, daemon=True)
            t.start()
            out, err = p.communicate(timeout=60)
            t.join(30)
            self.assertFalse(t.is_alive(), "the audit pipe was not closed")
            pipe_id = os.fstat(r_end).st_ino
        finally:
            os.close(r_end)
            if w_end >= 0:
                os.close(w_end)
        self.assertEqual(p.returncode, 0, err)
        # The command has no descriptor on the audit pipe and cannot write it.
        self.assertTrue(out.startswith("REFUSED 9 "), out)
        self.assertNotIn("pipe:[%d]" % pipe_id, out)
        text = b"".join(chunks).decode()
        evs = events(text)
        self.assertEqual(lifecycle(evs, "os.write"), ["start", "exit"], text)
        self.assertFalse([e for e in evs if "forged" in e], text)
        self.assertEqual(len(evs), 2, text)

    def test_control_fd_probe_without_ringfence(self):
        r_end, w_end = os.pipe()
        try:
            out = subprocess.run([rf.PY, "-c", FD_PROBE, str(w_end)], capture_output=True,
                                 text=True, timeout=30, pass_fds=[w_end]).stdout
            pipe_id = os.fstat(r_end).st_ino
            os.close(w_end)
            w_end = -1
            got = os.read(r_end, 4096)
        finally:
            os.close(r_end)
            if w_end >= 0:
                os.close(w_end)
        self.assertTrue(out.startswith("WROTE "), out)
        self.assertIn("pipe:[%d]" % pipe_id, out)
        self.assertIn(b"forged", got)

    def test_fifo_read_by_the_test(self):
        with rf.OutsideDir() as d:
            fifo = os.path.join(d, "audit.fifo")
            os.mkfifo(fifo, 0o600)
            got = []

            def reader():
                time.sleep(0.5)  # ringfence is there first and waits for us
                with open(fifo, "rb") as f:
                    got.append(f.read())
            t = threading.Thread(target=reader, daemon=True)
            t.start()
            probe = ("import os\n"
                     "try:\n"
                     "    os.open(%r, os.O_WRONLY | os.O_NONBLOCK); print('OPENED')\n"
                     "except OSError as e:\n"
                     "    print('REFUSED', e.errno)\n" % fifo)
            r = rf.run([rf.PY, "-c", probe], extra=["--audit", fifo], timeout=60)
            t.join(30)
            self.assertFalse(t.is_alive(), "the FIFO was not closed")
            self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertEqual(r.returncode, 0, r.stderr)
        # The FIFO is outside every grant: the command cannot open it.
        self.assertEqual(r.stdout.strip(), "REFUSED 13", r.stdout)
        text = got[0].decode()
        self.assertEqual(lifecycle(events(text), "os.open"), ["start", "exit"], text)

    def test_fifo_without_reader_is_a_clear_error(self):
        with rf.OutsideDir() as d:
            fifo = os.path.join(d, "audit.fifo")
            os.mkfifo(fifo, 0o600)
            t0 = time.monotonic()
            r = rf.run(["/bin/echo", "never"], extra=["--audit", fifo], timeout=60)
            dt = time.monotonic() - t0
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("no reader opened the FIFO", r.stderr)
        self.assertLess(dt, 30)

    def test_fifo_inside_a_grant_is_refused(self):
        with rf.TempDir() as d:
            fifo = os.path.join(d, "audit.fifo")
            os.mkfifo(fifo, 0o600)
            got = []

            def reader():
                with open(fifo, "rb") as f:
                    got.append(f.read())
            t = threading.Thread(target=reader, daemon=True)
            t.start()
            r = rf.run(["/bin/echo", "never"], extra=["--audit", fifo, "--workdir", d],
                       timeout=60)
            t.join(30)
            self.assertFalse(t.is_alive())
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("is inside the read-write grant", r.stderr)
        self.assertNotIn(b"start", got[0])

    def test_stderr_file_inside_a_grant_is_refused(self):
        for arg in ("/dev/stderr", "-"):
            with rf.TempDir() as d:
                err = os.path.join(d, "err.log")
                with open(err, "w") as f:
                    r = subprocess.run([rf.BIN, "run", "-q", "--audit", arg, "--workdir", d,
                                        "--", "/bin/echo", "never"],
                                       stdout=subprocess.PIPE, stderr=f, text=True, timeout=60,
                                       cwd=d)
                with open(err) as f:
                    said = f.read()
            self.assertEqual(r.returncode, 125, said)
            self.assertEqual(r.stdout, "")
            self.assertIn("(%s) is inside the read-write grant" % err, said)

    def test_stderr_file_outside_grants_starts_a_fresh_line(self):
        with rf.OutsideDir() as d, rf.TempDir() as work:
            err = os.path.join(d, "err.log")
            with open(err, "w") as f:
                f.write("unfinished")
            with open(err, "a") as f:
                r = subprocess.run([rf.BIN, "run", "-q", "--audit", "-", "--", "/bin/echo",
                                    "fresh"], stdout=subprocess.PIPE, stderr=f, text=True,
                                   timeout=60, cwd=work)
            with open(err) as f:
                said = f.read()
        self.assertEqual(r.returncode, 0, said)
        self.assertTrue(said.startswith("unfinished\n{"), said[:300])
        self.assertEqual(lifecycle(events(said[len("unfinished\n"):]), "fresh"),
                         ["start", "exit"])

    def test_long_event_on_a_pipe_stays_within_pipe_buf(self):
        # A policy with many errors: its policy/invalid event names each.
        bad = "version: 1\n" + "".join("bogus_key_%d: 1\n" % i for i in range(400))
        with rf.OutsideDir() as d:
            pol = os.path.join(d, "bad.yaml")
            with open(pol, "w") as f:
                f.write(bad)
            r = subprocess.run([rf.BIN, "run", "-q", "--policy", pol, "--audit", "-", "--",
                                "/bin/true"], capture_output=True, text=True, timeout=60, cwd=d)
        self.assertEqual(r.returncode, 125)
        lines = [l for l in r.stderr.split("\n") if l.startswith('{"')]
        self.assertEqual(len(lines), 1, r.stderr[-2000:])
        self.assertLessEqual(len(lines[0].encode()) + 1, 4096)
        ev = json.loads(lines[0])
        self.assertEqual((ev["layer"], ev["action"], ev["truncated"]),
                         ("policy", "invalid", True))

    def test_bad_audit_fd(self):
        read_only = open("/etc/passwd")
        self.addCleanup(read_only.close)
        for args, want in ((["--audit-fd", "99"], "descriptor 99 is not open"),
                           (["--audit-fd", "x"], "not a descriptor number"),
                           (["--audit-fd", "0"], "not open for writing"),
                           (["--audit", "/var/tmp/x.jsonl", "--audit-fd", "2"], "give one")):
            r = subprocess.run([rf.BIN, "run", "-q"] + args + ["--", "/bin/echo", "never"],
                               capture_output=True, text=True, timeout=30,
                               stdin=read_only)
            self.assertEqual(r.returncode, 125, (args, r.stderr))
            self.assertEqual(r.stdout, "")
            self.assertIn(want, r.stderr)
        self.assertFalse(os.path.exists("/var/tmp/x.jsonl"))


if __name__ == "__main__":
    unittest.main()
