"""Protected paths inside read-write grants and read denials
(filesystem_policy.protected / deny_read, docs/policy.md "Protected paths").
An agent that may write its repository must not plant a git hook, rewrite
.git/config or a shell's rc file: each way of doing it that sandbox-runtime's
mandatory-deny list and Codex's protected-.git tests try (write, create,
rename over, unlink and recreate, a symlink put in place) is refused in
namespace mode, and in platform mode undone after the run and reported.
Every probe first runs without ringfence, where it succeeds."""
import json
import os
import subprocess
import unittest

import rf

AS_USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/dev/null]
  deny_read: [.env, "**/*.pem"]
network:
  mode: {mode}
"""

# Each attack prints "<name> OK" when it changed the protected file and
# "<name> <errno name>" when refused.
ATTACKS = r"""
import errno, os, sys
def attempt(name, fn):
    try:
        fn()
        print(name, "OK")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, str(e.errno)))
def write(path, data="evil\n", mode="a"):
    with open(path, mode) as f:
        f.write(data)
def rename_over(path):
    write("planted.tmp", "evil\n", "w")
    os.rename("planted.tmp", path)
def unlink_recreate(path):
    os.unlink(path)
    write(path, "evil\n", "w")
def symlink_in_place(path):
    if os.path.lexists(path):
        os.rename(path, path + ".moved")
    os.symlink("/tmp/evil-target", path)
attempt("hook-create", lambda: write(".git/hooks/pre-commit", "#!/bin/sh\necho pwned\n", "w"))
attempt("hook-rename", lambda: rename_over(".git/hooks/pre-push"))
attempt("config-write", lambda: write(".git/config", "[core]\n\tfsmonitor = evil\n"))
attempt("config-rename", lambda: rename_over(".git/config"))
attempt("config-unlink", lambda: unlink_recreate(".git/config"))
attempt("hooks-symlink", lambda: symlink_in_place(".git/hooks"))
attempt("gitmodules-create", lambda: write(".gitmodules", "[submodule]\n", "w"))
attempt("bashrc-write", lambda: write(".bashrc"))
attempt("bashrc-symlink", lambda: symlink_in_place(".bashrc"))
attempt("nested-bashrc", lambda: write("sub/.bashrc"))
attempt("vscode-create", lambda: os.mkdir(".vscode"))
attempt("ordinary-write", lambda: write("README"))
attempt("ordinary-create", lambda: write("new.txt", "x", "w"))
def read(path):
    with open(path) as f:
        f.read()
attempt("env-read", lambda: read(".env"))
attempt("pem-read", lambda: read("sub/key.pem"))
attempt("sibling-read", lambda: read("sub/notes.txt"))
def move_then_read(how):
    how(".env", "sub/moved.env")
    read("sub/moved.env")
attempt("env-proc-read", lambda: read("/proc/self/cwd/.env"))
attempt("env-link-read", lambda: move_then_read(os.link))
attempt("env-rename-read", lambda: move_then_read(os.rename))
"""

PROTECTED = ["hook-create", "hook-rename", "config-write", "config-rename", "config-unlink",
             "hooks-symlink", "gitmodules-create", "bashrc-write", "bashrc-symlink",
             "nested-bashrc", "vscode-create"]


def make_repo(d):
    repo = os.path.join(d, "repo")
    os.makedirs(os.path.join(repo, ".git", "hooks"))
    os.makedirs(os.path.join(repo, "sub"))
    files = {".git/config": "[core]\n\tbare = false\n", ".git/hooks/pre-push": "#!/bin/sh\n",
             ".bashrc": "# rc\n", "sub/.bashrc": "# rc\n", "README": "hello\n",
             ".env": "SECRET=1\n", "sub/key.pem": "KEY\n", "sub/notes.txt": "notes\n"}
    for rel, text in files.items():
        with open(os.path.join(repo, rel), "w") as f:
            f.write(text)
    for root, dirs, names in os.walk(repo):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o777)
        for n in names:
            os.chmod(os.path.join(root, n), 0o666)
    os.chmod(repo, 0o777)
    return repo, files


def results(out):
    return dict(line.split(" ", 1) for line in out.strip().splitlines() if " " in line)


def snapshot(repo):
    state = {}
    for root, dirs, names in os.walk(repo):
        for n in dirs + names:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, repo)
            if os.path.islink(p):
                state[rel] = "-> " + os.readlink(p)
            elif os.path.isfile(p):
                with open(p) as f:
                    state[rel] = f.read()
            else:
                state[rel] = "dir"
    return state


class Control(unittest.TestCase):
    def test_every_attack_works_without_ringfence(self):
        with rf.TempDir() as d:
            repo, _ = make_repo(d)
            pre = AS_USER if rf.IS_ROOT else []
            r = subprocess.run(pre + [rf.PY, "-c", ATTACKS], cwd=repo, capture_output=True,
                               text=True, timeout=60)
            got = results(r.stdout)
            for name in PROTECTED + ["env-read", "pem-read", "sibling-read", "ordinary-write",
                                     "env-proc-read", "env-link-read", "env-rename-read"]:
                self.assertEqual(got.get(name), "OK", (name, r.stdout, r.stderr))


class NamespaceMode(unittest.TestCase):
    """The mount namespace refuses each attack and leaves the host as it was."""

    def check(self, as_user):
        with rf.TempDir() as d:
            repo, files = make_repo(d)
            before = snapshot(repo)
            pf = os.path.join(d, "p.yaml")
            with open(pf, "w") as f:
                f.write(POLICY.format(mode="namespace"))
            os.chmod(pf, 0o644)
            cmd = [rf.BIN, "run", "-q", "--policy", pf, "--", rf.PY, "-c", ATTACKS]
            pre = AS_USER if as_user and rf.IS_ROOT else []
            r = subprocess.run(pre + cmd, cwd=repo, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = results(r.stdout)
            for name in PROTECTED:
                # EXDEV: a rename into a read-only bind; EEXIST: a placeholder.
                self.assertIn(got.get(name), ("EROFS", "EBUSY", "EACCES", "EPERM", "EXDEV",
                                              "EEXIST"),
                              (name, r.stdout, r.stderr))
            self.assertEqual(got.get("ordinary-write"), "OK", r.stdout)
            self.assertEqual(got.get("ordinary-create"), "OK", r.stdout)
            self.assertEqual(got.get("env-read"), "EACCES", r.stdout)
            self.assertEqual(got.get("pem-read"), "EACCES", r.stdout)
            self.assertEqual(got.get("sibling-read"), "OK", r.stdout)
            for name in ("env-rename-read", "env-link-read", "env-proc-read"):
                self.assertIn(got.get(name), ("EACCES", "EBUSY", "EXDEV", "EPERM"), name)
            after = snapshot(repo)
            for rel in files:
                if rel != "README":
                    self.assertEqual(after.get(rel), before[rel], rel)
            # The placeholders for absent names are gone after the run.
            for absent in (".gitmodules", ".vscode", ".git/hooks/pre-commit", ".profile"):
                self.assertFalse(os.path.lexists(os.path.join(repo, absent)), absent)
            leftovers = set(after) - set(before) - {"new.txt", "planted.tmp"}
            self.assertEqual(leftovers, set())

    def test_as_root(self):
        self.check(as_user=False)

    @unittest.skipUnless(rf.IS_ROOT, "drops to uid 65534")
    def test_as_ordinary_user(self):
        self.check(as_user=True)


class PlatformMode(unittest.TestCase):
    """Without a mount namespace the protected paths are snapshotted and
    restored after the run; each change is reported on stderr and in the
    audit log, and what the sandbox left is kept aside, inert."""

    def test_changes_are_undone_and_reported(self):
        with rf.TempDir() as d:
            repo, files = make_repo(d)
            before = snapshot(repo)
            out = rf.OutsideDir()
            self.addCleanup(out.__exit__)
            log = os.path.join(out.path, "audit.jsonl")
            cmd = [rf.BIN, "run", "--audit", log, "--policy", "/dev/stdin", "--", rf.PY, "-c",
                   ATTACKS]
            r = subprocess.run(cmd, cwd=repo, input=POLICY.format(mode="platform"),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = results(r.stdout)
            self.assertEqual(got.get("config-write"), "OK", r.stdout)  # not refused here
            self.assertEqual(got.get("env-read"), "EACCES", r.stdout)  # Landlock
            self.assertEqual(got.get("pem-read"), "EACCES", r.stdout)
            self.assertEqual(got.get("sibling-read"), "OK", r.stdout)
            for name in ("env-rename-read", "env-link-read", "env-proc-read"):
                self.assertIn(got.get(name), ("EACCES", "EBUSY", "EXDEV", "EPERM"), name)
            after = snapshot(repo)
            for rel in files:
                if rel != "README":
                    self.assertEqual(after.get(rel), before[rel], (rel, r.stderr))
            for absent in (".gitmodules", ".vscode", ".git/hooks/pre-commit"):
                self.assertFalse(os.path.lexists(os.path.join(repo, absent)), absent)
            # Nothing the sandbox planted is left where a program would run it.
            hooks = os.listdir(os.path.join(repo, ".git", "hooks"))
            self.assertEqual(sorted(hooks), ["pre-push"])
            self.assertIn("restored", r.stderr)
            self.assertIn(".git/config", r.stderr)
            with open(log) as f:
                events = [json.loads(line) for line in f]
            restored = [e for e in events if e.get("action") == "restored"]
            self.assertTrue(any(e["subject"].endswith("/.git/config") for e in restored), restored)
            self.assertTrue(any(e["subject"].endswith("/.gitmodules") for e in restored), restored)

    def test_effective_policy_names_the_mechanism(self):
        with rf.TempDir() as d:
            repo, _ = make_repo(d)
            r = subprocess.run([rf.BIN, "policy", "show", "--effective", "--json", "--policy",
                                "/dev/stdin"], cwd=repo, input=POLICY.format(mode="platform"),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = json.loads(r.stdout)["enforcement"]["filesystem"]["protected"]
            config = [l for l in lines if l.startswith(repo + "/.git/config ")]
            self.assertEqual(len(config), 1, lines)
            self.assertIn("snapshot", config[0])
            self.assertIn("not", config[0])  # says what it does not guarantee


DEFAULT_NAMES = [".git/hooks/", ".git/config", ".gitmodules", ".gitconfig", ".bashrc",
                 ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zprofile", ".zshenv",
                 ".ssh/", ".vscode/", ".idea/", ".claude/", ".codex/", ".mcp.json", ".cursor/"]

PLANT_ALL = r"""
import os, sys
for name in sys.argv[1:]:
    try:
        if name.endswith("/"):
            os.makedirs(name, exist_ok=True)
            with open(name + "planted", "w") as f:
                f.write("evil")
        else:
            with open(name, "a") as f:
                f.write("evil")
        print(name, "OK")
    except OSError as e:
        print(name, e.errno)
"""


class EveryDefaultName(unittest.TestCase):
    """Each name of the default list, written where it exists and created
    where it does not, at a repository root: after the run the host has
    each exactly as before (refused by the mount namespace, or undone by the
    snapshot and reported), in both modes."""

    def test_every_default_name_is_refused_or_undone(self):
        for mode in ("namespace", "platform"):
            with self.subTest(mode), rf.TempDir() as d:
                repo, _ = make_repo(d)
                before = snapshot(repo)
                pf = os.path.join(d, "p.yaml")
                with open(pf, "w") as f:
                    f.write(POLICY.format(mode=mode))
                os.chmod(pf, 0o644)
                r = subprocess.run([rf.BIN, "run", "-q", "--policy", pf, "--", rf.PY, "-c",
                                    PLANT_ALL] + DEFAULT_NAMES, cwd=repo, capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                after = snapshot(repo)
                for name in DEFAULT_NAMES:
                    rel = name.rstrip("/")
                    self.assertEqual(after.get(rel), before.get(rel), (mode, name, r.stdout))
                    self.assertNotIn(rel + "/planted", after, (mode, name))
                # What the sandbox did make is kept aside, renamed, and reported.
                for line in r.stdout.splitlines():
                    name, result = line.split(" ", 1)
                    if result == "OK":
                        self.assertIn(os.path.join(repo, name.rstrip("/")), r.stderr,
                                      (mode, name))


class Validation(unittest.TestCase):
    def test_bad_patterns_refused(self):
        for bad in ("../x", "a//b", "./x", ""):
            with self.subTest(bad):
                policy = "version: 1\nfilesystem_policy:\n  protected: [\"%s\"]\n" % bad
                r = subprocess.run([rf.BIN, "policy", "validate", "/dev/stdin"], input=policy,
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("filesystem_policy.protected", r.stderr)

    def test_empty_list_turns_protection_off(self):
        with rf.TempDir() as d:
            repo, _ = make_repo(d)
            policy = POLICY.format(mode="namespace").replace(
                "  deny_read:", "  protected: []\n  deny_read:")
            r = subprocess.run([rf.BIN, "run", "-q", "--policy", "/dev/stdin", "--", rf.PY, "-c",
                                ATTACKS], cwd=repo, input=policy, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(results(r.stdout).get("config-write"), "OK", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
