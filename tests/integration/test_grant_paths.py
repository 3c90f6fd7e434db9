"""What a filesystem grant really reaches, end to end: the working directory
that include_workdir adds (never `/` however it is spelled or reached; the
caller's home only with a warning), and rule paths that are, or pass
through, symbolic links (followed only when no other user could have planted
or swapped them; docs/landlock.md "Symbolic links in rule paths").

Each case runs as root (the command then runs as nobody) and as uid 65534
(an ordinary user: the command keeps that uid), with a control run without
ringfence showing that only the sandbox stands between the command and the
file."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from rf import BIN, IS_ROOT

SYSTEM_RO = [p for p in ("/usr", "/lib", "/lib64", "/bin", "/etc") if os.path.exists(p)]
AS_NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
NOBODY = 65534
OTHER_USER = 4242  # owns the secrets: neither the caller nor the sandbox user
SECRET = "TOPSECRET\n"


def callers():
    """(label, uid, prefix) of each caller the tests start ringfence as."""
    out = [("caller uid %d" % os.geteuid(), os.geteuid(), [])]
    if IS_ROOT:
        out.append(("caller uid 65534", NOBODY, AS_NOBODY))
    return out


def policy_text(read_only=(), read_write=(), compat="best_effort", include_workdir=False):
    return ("version: 1\n"
            "filesystem_policy:\n"
            f"  include_workdir: {'true' if include_workdir else 'false'}\n"
            f"  read_only: {json.dumps(SYSTEM_RO + list(read_only))}\n"
            f"  read_write: {json.dumps(list(read_write))}\n"
            f"landlock: {{compatibility: {compat}}}\n"
            "network: {mode: none}\n"
            "gpu: \"off\"\n")


class Scratch:
    """Temporary directories removed at the end, whoever made their contents."""

    def __init__(self):
        self.dirs = []

    def mkdtemp(self, parent, mode, owner=None):
        d = tempfile.mkdtemp(prefix="rf-it-gp-", dir=parent)
        if owner is not None:
            os.chown(d, owner, owner)
        os.chmod(d, mode)
        self.dirs.append(d)
        return d

    def cleanup(self):
        for d in reversed(self.dirs):
            shutil.rmtree(d, ignore_errors=True)


def write_file(path, text, mode=0o666, owner=None):
    with open(path, "w") as f:
        f.write(text)
    if owner is not None:
        os.chown(path, owner, owner)
    os.chmod(path, mode)


class GrantTestCase(unittest.TestCase):
    def setUp(self):
        self.scratch = Scratch()
        # Policy files live here: readable by the sandbox user, writable by no one else.
        self.conf = self.scratch.mkdtemp("/tmp", 0o755)

    def tearDown(self):
        self.scratch.cleanup()

    def policy_file(self, text):
        fd, path = tempfile.mkstemp(suffix=".yaml", dir=self.conf)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def rf(self, prefix, args, policy=None, extra=(), cwd=None, env=None):
        cmd = list(prefix) + [BIN, "run", "-q"]
        if policy is not None:
            cmd += ["--policy", self.policy_file(policy)]
        cmd += list(extra) + ["--"] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd, env=env)

    def control(self, prefix, args):
        return subprocess.run(list(prefix) + list(args), capture_output=True, text=True, timeout=30)


@unittest.skipUnless(IS_ROOT, "sets up files of other users and drops to uid 65534")
class WorkdirGrant(GrantTestCase):
    """include_workdir grants the working directory read-write: it passes the
    checks a read_write entry of the policy gets, on its real path."""

    def setUp(self):
        super().setUp()
        # Outside every default grant, writable by anyone: only Landlock can refuse.
        self.victim_dir = self.scratch.mkdtemp("/var/tmp", 0o777)
        self.victim = os.path.join(self.victim_dir, "bashrc")
        write_file(self.victim, "original\n")

    def append_cmd(self):
        return ["/bin/sh", "-c", f"echo escaped >> {self.victim}"]

    def assert_victim_intact(self, r):
        with open(self.victim) as f:
            self.assertEqual(f.read(), "original\n", r.stderr)

    def test_started_in_root_is_refused(self):
        for label, _, prefix in callers():
            with self.subTest(label):
                c = self.control(prefix, self.append_cmd())  # control: DAC lets it write
                self.assertEqual(c.returncode, 0, c.stderr)
                write_file(self.victim, "original\n")
                r = self.rf(prefix, self.append_cmd(), cwd="/")
                self.assertEqual(r.returncode, 125, r.stderr)
                self.assertIn("--workdir", r.stderr)
                self.assertIn("include_workdir: false", r.stderr)
                self.assert_victim_intact(r)

    def test_every_spelling_of_root_is_refused(self):
        safe = self.scratch.mkdtemp("/run", 0o755)
        to_root = os.path.join(safe, "to-root")
        os.symlink("/", to_root)  # root-owned, in a root-owned directory: followed
        up = self.scratch.mkdtemp("/tmp", 0o755)
        for label, _, prefix in callers():
            for spelling in ["/", "//", "/.", "/tmp/..", "/./tmp/../", to_root, up + "/../.."]:
                with self.subTest(label, workdir=spelling):
                    r = self.rf(prefix, self.append_cmd(), extra=["--workdir", spelling])
                    self.assertEqual(r.returncode, 125, r.stderr)
                    self.assertIn("'/'", r.stderr)
                    self.assert_victim_intact(r)

    def test_bind_mount_of_root_is_refused(self):
        mnt = self.scratch.mkdtemp("/tmp", 0o755)
        probe = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "--bind",
                                "/", mnt], capture_output=True, timeout=30)
        if probe.returncode != 0:
            self.skipTest("cannot bind-mount here: " + probe.stderr.decode(errors="replace"))
        inner = " ".join(
            [BIN, "run", "-q", "--workdir", mnt, "--", "/bin/sh", "-c",
             f"'echo escaped >> {self.victim}'"])
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                            f"mount --bind / {mnt} && exec {inner}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("'/'", r.stderr)
        self.assert_victim_intact(r)

    def test_root_without_include_workdir_runs(self):
        for label, _, prefix in callers():
            with self.subTest(label):
                r = self.rf(prefix, ["/bin/sh", "-c", "echo ran"],
                            policy=policy_text(read_write=["/dev/null"]), cwd="/")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, "ran\n")

    def test_home_directory_runs_with_a_warning(self):
        for label, uid, prefix in callers():
            with self.subTest(label):
                home = self.scratch.mkdtemp("/tmp", 0o755, owner=uid)
                write_file(os.path.join(home, ".bashrc"), "# rc\n", 0o644, owner=uid)
                os.mkdir(os.path.join(home, ".ssh"), 0o700)
                os.chown(os.path.join(home, ".ssh"), uid, uid)
                env = dict(os.environ, HOME=home)
                r = self.rf(prefix, ["/bin/sh", "-c", "echo ran"], cwd=home, env=env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, "ran\n")
                self.assertIn("warning", r.stderr)
                self.assertIn("home directory", r.stderr)
                self.assertIn(".bashrc", r.stderr)
                self.assertIn(".ssh", r.stderr)


@unittest.skipUnless(IS_ROOT, "sets up files of other users and drops to uid 65534")
class SymlinkGrants(GrantTestCase):
    """A granted path replaced by a symlink between runs does not carry the
    grant to the link's target unless the link could only have been made by
    root or the caller."""

    def make_secret(self):
        # Another user's directory that DAC leaves open: only Landlock can refuse.
        secret = self.scratch.mkdtemp("/var/tmp", 0o777, owner=OTHER_USER)
        write_file(os.path.join(secret, "secret.txt"), SECRET, owner=OTHER_USER)
        return secret

    def plant(self, grant, target):
        """The attacker's step: rm -rf GRANT; ln -s TARGET GRANT."""
        shutil.rmtree(grant)
        os.symlink(target, grant)
        os.lchown(grant, OTHER_USER, OTHER_USER)

    def probe_cmd(self, d, marker):
        return ["/bin/sh", "-c", f"cat {d}/secret.txt; echo planted > {d}/planted; touch {marker}"]

    def check_swapped_grant(self, prefix, uid, base_mode, intermediate):
        base = self.scratch.mkdtemp("/tmp", base_mode, owner=uid)  # /tmp/x
        ok = os.path.join(base, "ok")  # a plain grant that stays valid
        os.mkdir(ok)
        os.chown(ok, NOBODY, NOBODY)  # the sandbox's uid, as root and as 65534
        marker = os.path.join(ok, "started")
        secret = self.make_secret()
        if intermediate:
            # The link is a directory on the way: /tmp/x/proj -> secret's parent.
            proj = os.path.join(base, "proj")
            os.makedirs(os.path.join(proj, "cache"))
            grant = os.path.join(proj, "cache")
            os.makedirs(os.path.join(secret, "cache"))
            os.chown(os.path.join(secret, "cache"), OTHER_USER, OTHER_USER)
            os.chmod(os.path.join(secret, "cache"), 0o777)
            write_file(os.path.join(secret, "cache", "secret.txt"), SECRET, owner=OTHER_USER)
            reach = os.path.join(secret, "cache")
            self.plant(proj, secret)
        else:
            grant = os.path.join(base, "agent-cache")
            os.mkdir(grant)
            reach = secret
            self.plant(grant, secret)
        pol = policy_text(read_write=[grant, ok])

        c = self.control(prefix, ["/bin/cat", grant + "/secret.txt"])  # control: the link reaches it
        self.assertEqual(c.stdout, SECRET, c.stderr)

        r = self.rf(prefix, self.probe_cmd(grant, marker), policy=pol)
        self.assertNotIn("TOPSECRET", r.stdout, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(reach, "planted")), r.stderr)
        self.assertTrue(os.path.exists(marker), r.stderr)  # it ran, without the grant
        self.assertIn("warning: landlock: path " + grant + " skipped", r.stderr)
        self.assertIn("symlink", r.stderr)
        os.unlink(marker)

        r = self.rf(prefix, self.probe_cmd(grant, marker),
                    policy=policy_text(read_write=[grant, ok], compat="hard_requirement"))
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn(grant, r.stderr)
        self.assertFalse(os.path.exists(marker), "the command was started")
        self.assertFalse(os.path.exists(os.path.join(reach, "planted")), r.stderr)

    def test_grant_swapped_for_a_link_in_a_shared_directory(self):
        for label, uid, prefix in callers():
            for mode in (0o777, 0o755):  # /tmp/x writable by the sandbox, or only /tmp
                with self.subTest(label, base_mode=oct(mode)):
                    self.check_swapped_grant(prefix, uid, mode, intermediate=False)

    def test_directory_on_the_way_swapped_for_a_link(self):
        for label, uid, prefix in callers():
            with self.subTest(label):
                self.check_swapped_grant(prefix, uid, 0o777, intermediate=True)

    def test_workdir_through_a_planted_link_is_refused(self):
        for label, uid, prefix in callers():
            with self.subTest(label):
                base = self.scratch.mkdtemp("/tmp", 0o777, owner=uid)
                secret = self.make_secret()
                link = os.path.join(base, "work")
                os.symlink(secret, link)
                r = self.rf(prefix, ["/bin/sh", "-c", "cat secret.txt; echo planted > planted"],
                            extra=["--workdir", link])
                self.assertEqual(r.returncode, 125, r.stderr)
                self.assertIn(link, r.stderr)
                self.assertNotIn("TOPSECRET", r.stdout)
                self.assertFalse(os.path.exists(os.path.join(secret, "planted")))

    def test_link_of_root_or_the_caller_in_a_safe_directory_is_followed(self):
        for label, uid, prefix in callers():
            with self.subTest(label):
                safe = self.scratch.mkdtemp("/run", 0o755, owner=uid)
                data = self.scratch.mkdtemp("/tmp", 0o755, owner=NOBODY)  # the sandbox's uid
                write_file(os.path.join(data, "file"), "granted\n", 0o644, owner=NOBODY)
                link = os.path.join(safe, "cache")
                os.symlink(data, link)
                os.lchown(link, uid, uid)
                pol = policy_text(read_write=[link])
                r = self.rf(prefix, ["/bin/sh", "-c", f"cat {link}/file && echo new > {link}/new"],
                            policy=pol)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, "granted\n")
                self.assertNotIn("warning", r.stderr)
                with open(os.path.join(data, "new")) as f:
                    self.assertEqual(f.read(), "new\n")
                # --workdir through the same link: the command runs in the target.
                r = self.rf(prefix, ["/bin/sh", "-c", "pwd; cat file"], extra=["--workdir", link],
                            policy=policy_text(include_workdir=True))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, f"{data}\ngranted\n")
                # policy show --effective names the link's target.
                j = self.show(prefix, pol)
                rules = {x["path"]: x for x in j["enforcement"]["landlock"]["rules"]}
                self.assertEqual(rules[link]["resolved"], data, rules[link])
                self.assertEqual(rules[link]["symlinks"], [f"{link} -> {data}"])
                text = self.show(prefix, pol, as_json=False)
                self.assertIn(f"resolved: {data}", text)

    def show(self, prefix, pol, as_json=True):
        cmd = list(prefix) + [BIN, "policy", "show", "--effective", "--policy",
                              self.policy_file(pol)] + (["--json"] if as_json else [])
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=self.conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout) if as_json else r.stdout

    def test_merged_usr_links_keep_working(self):
        # No /usr grant: /bin, /lib and /lib64 reach /usr/* only through their links.
        links = [p for p in ("/bin", "/lib", "/lib64") if os.path.islink(p)]
        if len(links) < 3:
            self.skipTest("not a merged-/usr system")
        pol = ("version: 1\nfilesystem_policy:\n  include_workdir: false\n"
               "  read_only: [/bin, /lib, /lib64]\n  read_write: [/dev/null]\n"
               "landlock: {compatibility: hard_requirement}\nnetwork: {mode: none}\n"
               "gpu: \"off\"\n")
        for label, _, prefix in callers():
            with self.subTest(label):
                r = self.rf(prefix, ["/bin/sh", "-c", "echo works"], policy=pol, cwd=self.conf)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, "works\n")
                j = self.show(prefix, pol)
                rules = {x["path"]: x for x in j["enforcement"]["landlock"]["rules"]}
                self.assertEqual(rules["/bin"]["resolved"], os.path.realpath("/bin"))
                self.assertEqual(rules["/bin"]["symlinks"], ["/bin -> usr/bin"])


if __name__ == "__main__":
    unittest.main()
