"""process.run_as_user / run_as_group against the accounts of the host, with
Debian's stock nsswitch.conf (`passwd: files systemd`): an account that does
not exist is an error naming it (never a crash inside an NSS module), a
numeric id needs no account, a present account runs as its ids."""
import os
import unittest

import rf

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/dev/null]
process:
  run_as_user: {user}
  run_as_group: {group}
"""

PROBE = ["/bin/sh", "-c", "echo ids $(id -u) $(id -g)"]
MODES = ("namespace", "platform")


@unittest.skipUnless(rf.IS_ROOT, "run_as_user applies only when ringfence starts as root")
class Accounts(unittest.TestCase):
    def _policy(self, d, user, group):
        path = os.path.join(d, "policy.yaml")
        with open(path, "w") as f:
            f.write(POLICY.format(user=user, group=group))
        os.chmod(path, 0o644)
        return path

    def _run(self, etc, d, policy, mode, argv=PROBE):
        return etc.run([rf.BIN, "run", "-q", "--policy", policy, "--mode", mode,
                        "--workdir", d, "--"] + list(argv), cwd=d)

    def test_the_stock_nsswitch_is_in_effect(self):
        # Control: inside the private view NSS really asks systemd after files
        # (getent is linked dynamically, so its modules load safely).
        with rf.PrivateEtc() as etc:
            r = etc.run(["/bin/sh", "-c", "grep '^passwd:' /etc/nsswitch.conf; "
                         "getent passwd rf-absent-user; echo getent=$?"])
        self.assertIn("files systemd", r.stdout, r.stderr)
        self.assertIn("getent=2", r.stdout, r.stderr)
        self.assertTrue(os.path.exists("/lib/x86_64-linux-gnu/libnss_systemd.so.2")
                        or os.path.exists("/usr/lib/x86_64-linux-gnu/libnss_systemd.so.2"),
                        "libnss_systemd is not installed: this test would not exercise it")

    def _refused(self, user, group, missing, field):
        with rf.PrivateEtc() as etc, rf.TempDir() as d:
            policy = self._policy(d, user, group)
            marker = os.path.join(d, "ran")
            for mode in MODES:
                r = self._run(etc, d, policy, mode, ["/bin/sh", "-c", f"touch {marker}"])
                self.assertEqual(r.returncode, 125, f"{mode}: {r.returncode} {r.stderr}")
                self.assertIn(f"{field} '{missing}'", r.stderr, mode)
                self.assertIn("does not exist", r.stderr, mode)
                self.assertFalse(os.path.exists(marker), f"{mode}: the command ran")

    def test_absent_user_exits_125_naming_it(self):
        self._refused("sandbox", "nogroup", "sandbox", "process.run_as_user")

    def test_absent_group_exits_125_naming_it(self):
        self._refused("nobody", "sandbox", "sandbox", "process.run_as_group")

    def test_validate_warns_about_an_absent_account(self):
        with rf.PrivateEtc() as etc, rf.TempDir() as d:
            policy = self._policy(d, "sandbox", "sandbox")
            r = etc.run([rf.BIN, "policy", "validate", policy])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{policy}:7:16: warning: process.run_as_user 'sandbox'", r.stderr)
        self.assertIn(f"{policy}:8:17: warning: process.run_as_group 'sandbox'", r.stderr)
        self.assertIn("valid", r.stdout)

    def test_validate_is_quiet_about_present_accounts(self):
        with rf.PrivateEtc() as etc, rf.TempDir() as d:
            policy = self._policy(d, "nobody", "4321")
            r = etc.run([rf.BIN, "policy", "validate", policy])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("warning", r.stderr)

    def test_numeric_ids_need_no_account(self):
        with rf.PrivateEtc() as etc, rf.TempDir() as d:
            policy = self._policy(d, "'4321'", "'4322'")
            for mode in MODES:
                r = self._run(etc, d, policy, mode)
                self.assertEqual(r.returncode, 0, f"{mode}: {r.stderr}")
                self.assertEqual(r.stdout.strip(), "ids 4321 4322", mode)

    def test_present_account_runs_as_its_ids(self):
        # The account OpenShell's images have: sandbox, with its own group.
        with rf.PrivateEtc(passwd=["sandbox:x:4998:4999:sandbox:/sandbox:/bin/sh"],
                           group=["sandbox:x:4999:"]) as etc, rf.TempDir() as d:
            policy = self._policy(d, "sandbox", "sandbox")
            for mode in MODES:
                r = self._run(etc, d, policy, mode)
                self.assertEqual(r.returncode, 0, f"{mode}: {r.stderr}")
                self.assertEqual(r.stdout.strip(), "ids 4998 4999", mode)


if __name__ == "__main__":
    unittest.main()
