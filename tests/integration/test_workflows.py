"""Ordinary work, started as root, in a repository a person owns: the
command runs as the repository's owner with a writable home of its own, and
finds its programs the way a shell would. Each assertion shows what the user
sees: the command, what it printed and its exit code."""
import os
import pwd
import shutil
import subprocess
import unittest

import rf

MODES = ("namespace", "platform")


def person():
    """An ordinary account (uid 1000-65533) of this host, else a bare uid:
    the repository's owner, someone other than root and nobody."""
    for e in pwd.getpwall():
        if 1000 <= e.pw_uid < 65534:
            return e.pw_uid, e.pw_gid
    return 4242, 4242


def show(argv, r):
    """The user's view of a run, for assertion messages."""
    return "$ %s\n%s%s[exit %d]" % (" ".join(argv), r.stdout, r.stderr, r.returncode)


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)
    os.lchown(path, uid, gid)


# The embedded default policy's grants, plus what a test adds.
def policy(extra_ro=(), process=""):
    ro = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/proc",
          "/dev/urandom", "/dev/random", "/dev/zero"] + list(extra_ro)
    text = ("version: 1\nfilesystem_policy:\n  include_workdir: true\n"
            "  read_only: [%s]\n  read_write: [/dev/null, /dev/tty]\n" % ", ".join(ro))
    if process:
        text += "process:\n" + process
    return text


class PersonRepo:
    """A git repository with a Makefile and a unit test, owned by `person()`,
    mode 0755 like a checkout in someone's home."""

    def __enter__(self):
        self.uid, self.gid = person()
        self.tmp = rf.TempDir(mode=0o755)
        self.path = os.path.join(self.tmp.path, "project")
        os.mkdir(self.path, 0o755)
        subprocess.run(["git", "init", "-q", self.path], check=True)
        with open(os.path.join(self.path, "Makefile"), "w") as f:
            f.write("all:\n\techo built > out.txt\n")
        with open(os.path.join(self.path, "test_tiny.py"), "w") as f:
            f.write("import unittest\n\n\nclass Tiny(unittest.TestCase):\n"
                    "    def test_adds(self):\n        self.assertEqual(1 + 1, 2)\n")
        chown_tree(self.path, self.uid, self.gid)
        return self

    def __exit__(self, *a):
        self.tmp.__exit__(*a)


@unittest.skipUnless(rf.IS_ROOT, "the owner rule applies when ringfence starts as root")
class PersonsRepository(unittest.TestCase):
    def sandboxed(self, repo, argv, mode=None, pol=None, env=None):
        extra = ["--mode", mode] if mode else []
        return rf.run(argv, policy=pol, cwd=repo.path, extra=extra, env=env)

    def test_control_nobody_cannot_work_there(self):
        # Control: the commands themselves, as the old default user (nobody)
        # outside any sandbox, fail exactly as the issue says.
        with PersonRepo() as repo:
            nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
            r = subprocess.run(nobody + ["make"], cwd=repo.path, capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0, show(["make"], r))
            r = subprocess.run(nobody + ["git", "status"], cwd=repo.path, capture_output=True,
                               text=True, env=dict(os.environ, HOME="/root"))
            self.assertIn("dubious ownership", r.stderr, show(["git", "status"], r))

    def test_git_status_make_and_unittest_succeed(self):
        for mode in MODES:
            with self.subTest(mode=mode), PersonRepo() as repo:
                for argv in (["git", "status"], ["make"],
                             [rf.PY, "-m", "unittest", "-v", "test_tiny"]):
                    r = self.sandboxed(repo, argv, mode)
                    view = "%s mode:\n%s" % (mode, show(argv, r))
                    self.assertEqual(r.returncode, 0, view)
                    self.assertNotIn("dubious ownership", r.stderr, view)
                    self.assertNotIn("Permission denied", r.stderr, view)
                    self.assertNotIn("unable to access", r.stderr, view)
                out = os.path.join(repo.path, "out.txt")
                with open(out) as f:
                    self.assertEqual(f.read(), "built\n")
                # Written as the repository's owner, not as root or nobody.
                self.assertEqual(os.stat(out).st_uid, repo.uid)
                r = self.sandboxed(repo, ["id", "-u"], mode)
                self.assertEqual(r.stdout.strip(), str(repo.uid), show(["id", "-u"], r))

    def test_home_is_writable_and_bash_starts_quietly(self):
        for mode in MODES:
            with self.subTest(mode=mode), PersonRepo() as repo:
                argv = ["bash", "-ic", "true"]
                r = self.sandboxed(repo, argv, mode)
                view = "%s mode:\n%s" % (mode, show(argv, r))
                self.assertEqual(r.returncode, 0, view)
                self.assertNotIn("Permission denied", r.stderr, view)
                self.assertNotIn("/root", r.stderr, view)
                argv = ["sh", "-c", "echo HOME=$HOME; echo CONFIG=$XDG_CONFIG_HOME; "
                        "echo CACHE=$XDG_CACHE_HOME; echo DATA=$XDG_DATA_HOME; "
                        "echo STATE=$XDG_STATE_HOME; touch \"$HOME/f\" && echo wrote; "
                        "git config --global user.name Agent && git config --global user.name"]
                r = self.sandboxed(repo, argv, mode)
                view = "%s mode:\n%s" % (mode, show(argv, r))
                self.assertEqual(r.returncode, 0, view)
                vals = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
                home = vals["HOME"]
                self.assertNotEqual(home, "/root", view)
                self.assertTrue(home.startswith("/"), view)
                self.assertEqual(vals["CONFIG"], home + "/.config", view)
                self.assertEqual(vals["CACHE"], home + "/.cache", view)
                self.assertEqual(vals["DATA"], home + "/.local/share", view)
                self.assertEqual(vals["STATE"], home + "/.local/state", view)
                self.assertIn("wrote", r.stdout, view)
                self.assertIn("Agent", r.stdout, view)
                self.assertNotIn("warning", r.stderr, view)
                # The per-run home is gone after the run, and it never was
                # inside the repository.
                self.assertFalse(os.path.exists(home), view)
                self.assertFalse(home.startswith(repo.path), view)

    def test_persistent_home_is_kept_per_working_directory(self):
        with PersonRepo() as repo, PersonRepo() as other:
            pol = policy(process="  home: persistent\n")
            argv = ["sh", "-c", "echo $HOME; cat \"$HOME/note\" 2>/dev/null; "
                    "echo kept > \"$HOME/note\""]
            first = self.sandboxed(repo, argv, pol=pol)
            home = first.stdout.splitlines()[0] if first.stdout else ""
            try:
                self.assertEqual(first.returncode, 0, show(argv, first))
                self.assertNotIn("kept", first.stdout, show(argv, first))
                second = self.sandboxed(repo, argv, pol=pol)
                self.assertEqual(second.returncode, 0, show(argv, second))
                self.assertIn("kept", second.stdout, show(argv, second))
                self.assertEqual(second.stdout.splitlines()[0], home)
                st = os.stat(home)
                self.assertEqual((st.st_uid, st.st_mode & 0o777), (repo.uid, 0o700))
                # Another working directory gets another home.
                elsewhere = self.sandboxed(other, argv, pol=pol)
                self.assertNotEqual(elsewhere.stdout.splitlines()[0], home,
                                    show(argv, elsewhere))
                shutil.rmtree(elsewhere.stdout.splitlines()[0], ignore_errors=True)
            finally:
                if home.startswith("/var/lib/ringfence/homes/"):
                    shutil.rmtree(home, ignore_errors=True)

    def test_home_by_path_is_made_for_the_sandbox_user(self):
        with PersonRepo() as repo, rf.TempDir(mode=0o755) as d:
            home = os.path.join(d, "agent-home")
            argv = ["sh", "-c", "echo $HOME; echo hi > \"$HOME/f\" && echo wrote"]
            r = self.sandboxed(repo, argv, pol=policy(process="  home: %s\n" % home))
            self.assertEqual(r.returncode, 0, show(argv, r))
            self.assertEqual(r.stdout.split(), [home, "wrote"], show(argv, r))
            st = os.stat(home)
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (repo.uid, 0o700))

    def test_home_setting_is_checked(self):
        for bad in ("relative/home", "/", "/a/../b", "sometimes"):
            r = rf.ringfence("policy", "validate", "/dev/stdin",
                             input=policy(process="  home: %s\n" % bad))
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn("process.home", r.stdout + r.stderr, bad)

    def test_run_as_user_in_the_policy_wins_and_an_unwritable_grant_is_named(self):
        with PersonRepo() as repo:
            argv = ["sh", "-c", "id -u; touch made && echo wrote"]
            r = self.sandboxed(repo, argv, pol=policy(process="  run_as_user: nobody\n"))
            view = show(argv, r)
            self.assertEqual(r.stdout.splitlines()[0], "65534", view)
            self.assertNotIn("wrote", r.stdout, view)
            self.assertIn("cannot write the read-write working directory " + repo.path, r.stderr,
                          view)
            self.assertIn("process.run_as_user", r.stderr, view)
            hard = policy(process="  run_as_user: nobody\n") + \
                "landlock: {compatibility: hard_requirement}\n"
            r = self.sandboxed(repo, argv, pol=hard)
            view = show(argv, r)
            self.assertEqual(r.returncode, 125, view)
            self.assertEqual(r.stdout, "", view)
            self.assertIn("cannot write the read-write working directory", r.stderr, view)
            self.assertIn("hard_requirement", r.stderr, view)


@unittest.skipUnless(rf.IS_ROOT, "the sandbox's user differs from the caller only as root")
class CommandLookup(unittest.TestCase):
    """PATH searched as a shell would, for the sandbox's user and grants."""

    def setUp(self):
        self.t = rf.TempDir(mode=0o755)
        # Like /root/.pyenv/shims: only root can search it.
        self.shims = os.path.join(self.t.path, "root-only", "shims")
        os.makedirs(self.shims)
        os.chmod(os.path.dirname(self.shims), 0o700)
        for name in ("python3", "onlyshim"):
            p = os.path.join(self.shims, name)
            with open(p, "w") as f:
                f.write("#!/bin/sh\necho shim\n")
            os.chmod(p, 0o755)
        # Readable by everyone, granted by no policy.
        self.ungranted = os.path.join(self.t.path, "ungranted")
        os.mkdir(self.ungranted, 0o755)
        p = os.path.join(self.ungranted, "onlyhere")
        with open(p, "w") as f:
            f.write("#!/bin/sh\necho here\n")
        os.chmod(p, 0o755)
        self.work = rf.TempDir()
        self.env = dict(os.environ, PATH="%s:%s:/usr/bin:/bin" % (self.shims, self.ungranted))
        # Granted, so that only the file's permissions stand in the way.
        self.pol = policy(extra_ro=[self.shims])

    def tearDown(self):
        self.t.__exit__()
        self.work.__exit__()

    def test_control_a_shell_skips_what_its_user_cannot_search(self):
        argv = ["sh", "-c", "command -v python3; python3 -c 'print(42)'"]
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True)
        self.assertEqual(r.stdout.split(), [os.path.join(self.shims, "python3"), "shim"],
                         show(argv, r))
        r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534",
                            "--clear-groups"] + argv, env=self.env, capture_output=True,
                           text=True, cwd="/")
        self.assertEqual(r.stdout.split(), ["/usr/bin/python3", "42"], show(argv, r))

    def test_python3_behind_an_unreadable_path_entry_is_found(self):
        argv = ["python3", "-c", "import sys; print(sys.executable)"]
        for mode in MODES:
            for pol in (None, self.pol):
                r = rf.run(argv, policy=pol, env=self.env, cwd=self.work.path,
                           extra=["--mode", mode])
                view = "%s mode:\n%s" % (mode, show(argv, r))
                self.assertEqual(r.returncode, 0, view)
                self.assertEqual(r.stdout.strip(), "/usr/bin/python3", view)

    def test_126_says_file_permissions_refused(self):
        argv = ["onlyshim"]
        r = rf.run(argv, policy=self.pol, env=self.env, cwd=self.work.path)
        view = show(argv, r)
        self.assertEqual(r.returncode, 126, view)
        self.assertIn(os.path.join(self.shims, "onlyshim"), r.stderr, view)
        self.assertIn("refused by file permissions", r.stderr, view)
        self.assertNotIn("refused by the policy", r.stderr, view)

    def test_126_says_the_policy_refused(self):
        argv = ["onlyhere"]
        r = rf.run(argv, env=self.env, cwd=self.work.path)
        view = show(argv, r)
        self.assertEqual(r.returncode, 126, view)
        self.assertIn(os.path.join(self.ungranted, "onlyhere"), r.stderr, view)
        self.assertIn("refused by the policy (Landlock", r.stderr, view)
        self.assertNotIn("refused by file permissions", r.stderr, view)
        # Control: the program itself runs.
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True)
        self.assertEqual(r.stdout, "here\n", show(argv, r))

    def test_not_found_stays_127(self):
        argv = ["rf-no-such-command"]
        r = rf.run(argv, env=self.env, cwd=self.work.path)
        self.assertEqual(r.returncode, 127, show(argv, r))
        self.assertIn("command not found", r.stderr, show(argv, r))


if __name__ == "__main__":
    unittest.main()
