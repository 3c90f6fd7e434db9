"""The command line as a user meets it: each test runs the real binary and
checks what it prints and its exit code."""
import glob
import json
import os
import re
import subprocess
import unittest

from rf import BIN, IS_ROOT, TempDir, ringfence, run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))

ALL_KEYS = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /etc]
  read_write: [/tmp]
  protected_extra: [secrets/]
  deny_read: [.env]
landlock: {compatibility: best_effort}
process: {run_as_user: nobody, run_as_group: nogroup, sysv_ipc: false}
network:
  mode: auto
  proxy_port: 0
  loopback_ports: [5173]
  bind_ports: [8080]
  hosts: {api.test: 127.0.0.1}
  unix_sockets: [/run/rf-x.sock, "@abstract"]
  unix_datagram: false
  upstream_proxy: from_env
gpu: "off"
network_policies:
  gh:
    name: github
    endpoints:
      - { host: api.github.com, port: 443 }
      - { host: "*.githubusercontent.com", ports: [443, 80] }
      - { allowed_ips: [10.0.5.0/24], ports: [8080] }
      - { host: api.example.com, port: 443, protocol: rest, enforcement: audit, access: read-only }
    binaries: [{path: /usr/bin/git}, {path: "/usr/lib/git-core/**"}]
"""


def write(d, name, text, mode=0o644):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class Version(unittest.TestCase):
    def test_flag_and_subcommand_print_the_same(self):
        a, b = ringfence("--version"), ringfence("version")
        self.assertEqual((a.returncode, b.returncode), (0, 0))
        self.assertEqual(a.stdout, b.stdout)
        self.assertRegex(a.stdout, r"^ringfence \S+\n$")


class UnknownSubcommand(unittest.TestCase):
    def test_top_level_and_nested(self):
        for args, name in ((["bogus"], "bogus"), (["policy", "bogus"], "policy bogus"),
                           (["gpu", "bogus"], "gpu bogus")):
            with self.subTest(args):
                r = ringfence(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("unknown subcommand '%s'" % name, r.stderr)


class RepeatedMode(unittest.TestCase):
    def test_run_refuses_mode_twice_and_starts_nothing(self):
        with TempDir() as d:
            marker = os.path.join(d, "ran")
            for first in (["--mode", "none"], ["--mode=none"]):
                with self.subTest(first):
                    r = subprocess.run([BIN, "run"] + first + ["--mode", "host", "--", "/bin/touch",
                                                              marker],
                                       capture_output=True, text=True, timeout=30, cwd=d)
                    self.assertEqual(r.returncode, 125, r.stderr)
                    self.assertIn("--mode given twice ('none', then 'host')", r.stderr)
                    self.assertFalse(os.path.exists(marker))
            r = subprocess.run([BIN, "run", "--policy", "/dev/null", "--policy", "/x", "--",
                                "/bin/true"], capture_output=True, text=True, timeout=30, cwd=d)
            self.assertEqual(r.returncode, 125)
            self.assertIn("--policy given twice", r.stderr)
            # Arguments of the command are the command's.
            r = subprocess.run([BIN, "run", "-q", "--mode", "none", "--", "/bin/echo", "--mode",
                                "host"], capture_output=True, text=True, timeout=30, cwd=d)
            self.assertEqual((r.returncode, r.stdout), (0, "--mode host\n"), r.stderr)

    def test_policy_show_mode_twice_and_bogus(self):
        r = ringfence("policy", "show", "--mode", "none", "--mode", "host")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--mode given twice", r.stderr)
        for extra in ([], ["--effective"]):
            r = ringfence("policy", "show", "--mode", "bogus", *extra)
            self.assertEqual(r.returncode, 2, r.stdout)
            self.assertEqual(r.stdout, "")
            self.assertIn("--mode must be auto, namespace, platform, none or host, not 'bogus'",
                          r.stderr)


class UnreadablePolicy(unittest.TestCase):
    def check(self, path, why, as_nobody=False):
        pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_nobody else []
        v = subprocess.run(pre + [BIN, "policy", "validate", path], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(v.returncode, 1)
        self.assertIn("cannot read policy file %s: %s" % (path, why), v.stderr)
        self.assertNotIn("invalid", v.stderr)
        s = subprocess.run(pre + [BIN, "policy", "show", "--policy", path], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(s.returncode, 1)
        self.assertIn("cannot read policy file %s: %s" % (path, why), s.stderr)
        with TempDir() as d:
            marker = os.path.join(d, "ran")
            r = subprocess.run(pre + [BIN, "run", "--policy", path, "--", "/bin/touch", marker],
                               capture_output=True, text=True, timeout=30, cwd=d)
            self.assertEqual(r.returncode, 125)
            self.assertIn("ringfence: cannot read policy file %s: %s: the command was not started"
                          % (path, why), r.stderr)
            self.assertNotIn("invalid policy", r.stderr)
            self.assertFalse(os.path.exists(marker))

    def test_missing(self):
        self.check("/nonexistent/rf-policy.yaml", "No such file or directory")

    def test_directory(self):
        with TempDir() as d:
            self.check(d, "is a directory")

    @unittest.skipUnless(IS_ROOT, "needs root to make a file nobody cannot read")
    def test_permission(self):
        with TempDir() as d:
            path = write(d, "p.yaml", "version: 1\n", 0o600)
            self.check(path, "Permission denied", as_nobody=True)

    def test_invalid_is_still_invalid(self):
        with TempDir() as d:
            path = write(d, "p.yaml", "version: 1\nbogus: 1\n")
            r = run(["/bin/true"], policy=path)
            self.assertEqual(r.returncode, 125)
            self.assertIn("%s:2:1: unknown key 'bogus'" % path, r.stderr)
            self.assertIn("invalid policy", r.stderr)


class ValidateJson(unittest.TestCase):
    def test_valid_with_warning(self):
        with TempDir() as d:
            path = write(d, "p.yaml", "version: 1\nnetwork_policies:\n  a:\n"
                                      "    endpoints: [{host: a.test, port: 443}]\n")
            r = ringfence("policy", "validate", "--json", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
            out = json.loads(r.stdout)
            self.assertEqual((out["file"], out["valid"], out["errors"]), (path, True, []))
            self.assertEqual(len(out["warnings"]), 1)
            w = out["warnings"][0]
            self.assertEqual((w["file"], w["line"], w["column"]), (path, 4, 5))
            self.assertIn("has no binaries", w["message"])

    def test_invalid_lists_every_error_with_its_place(self):
        with TempDir() as d:
            path = write(d, "p.yaml", "version: 1\nbogus: 1\ngpu: maybe\n")
            r = ringfence("policy", "validate", "--json", path)
            self.assertEqual(r.returncode, 1)
            out = json.loads(r.stdout)
            self.assertFalse(out["valid"])
            self.assertEqual([(e["line"], e["column"]) for e in out["errors"]], [(2, 1), (3, 6)])
            self.assertTrue(out["errors"][0]["message"].startswith("unknown key 'bogus'"))
            r = ringfence("policy", "validate", "--json", "/nonexistent/p.yaml")
            self.assertEqual(r.returncode, 1)
            out = json.loads(r.stdout)
            self.assertEqual(out["errors"][0]["line"], None)
            self.assertIn("cannot read policy file", out["errors"][0]["message"])


class WarningsOnce(unittest.TestCase):
    def test_missing_path_warned_once(self):
        with TempDir() as d:
            path = write(d, "p.yaml", "version: 1\nfilesystem_policy:\n  include_workdir: true\n"
                                      "  read_only: [/usr, /lib, /lib64, /bin, /etc, /rf-nonexistent]\n")
            line = "warning: landlock: path /rf-nonexistent skipped: does not exist"
            r = subprocess.run([BIN, "run", "--policy", path, "--", "/bin/true"],
                               capture_output=True, text=True, timeout=30, cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.count(line), 1, r.stderr)
            s = subprocess.run([BIN, "policy", "show", "--effective", "--policy", path],
                               capture_output=True, text=True, timeout=30, cwd=d)
            self.assertEqual(s.stderr.count(line), 1, s.stderr)


class Quiet(unittest.TestCase):
    def test_environment_variable(self):
        with TempDir() as d:
            base = dict(os.environ)
            base.pop("RINGFENCE_QUIET", None)
            for value, quiet in ((None, False), ("1", True), ("0", False), ("", False)):
                env = dict(base)
                if value is not None:
                    env["RINGFENCE_QUIET"] = value
                with self.subTest(value=value):
                    r = subprocess.run([BIN, "run", "--mode", "host", "--", "/bin/true"],
                                       capture_output=True, text=True, timeout=30, cwd=d, env=env)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual("ringfence: process:" in r.stderr, not quiet, r.stderr)
                    # Warnings are never silenced.
                    self.assertIn("warning: network: mode host", r.stderr)


class Validator(unittest.TestCase):
    def test_non_canonical_addresses_and_port_with_ports(self):
        cases = [
            ("{host: 127.1, port: 80}", "host '127.1' is an IPv4 address in a non-canonical form; "
                                        "write it as 127.0.0.1"),
            ("{host: 0x7f.1, port: 80}", "write it as 127.0.0.1"),
            ("{host: 0177.0.0.1, port: 80}", "write it as 127.0.0.1"),
            ("{host: 2130706433, port: 80}", "write it as 127.0.0.1"),
            ("{host: 10.0.0.256, port: 80}", "its last label is all digits"),
            ("{host: a.test, port: 80, ports: [81]}", "has both port and ports: give one"),
            ("{host: a.test, port: 80, allowed_ips: [127.1]}", "'127.1' is not an address or CIDR"),
        ]
        with TempDir() as d:
            for ep, message in cases:
                with self.subTest(ep):
                    path = write(d, "p.yaml", "version: 1\nnetwork_policies:\n  a:\n"
                                              "    endpoints: [%s]\n"
                                              "    binaries: [{path: /usr/bin/curl}]\n" % ep)
                    r = ringfence("policy", "validate", path)
                    self.assertEqual(r.returncode, 1, r.stdout)
                    self.assertIn(message, r.stderr)
            path = write(d, "p.yaml", "version: 1\nnetwork:\n  hosts: {127.1: 127.0.0.1}\n")
            r = ringfence("policy", "validate", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("network.hosts key '127.1' is an IPv4 address in a non-canonical form",
                          r.stderr)
            for ok in ("127.0.0.1", "::1", "a.test"):
                path = write(d, "p.yaml", "version: 1\nnetwork_policies:\n  a:\n"
                                          "    endpoints: [{host: \"%s\", port: 80}]\n"
                                          "    binaries: [{path: /usr/bin/curl}]\n" % ok)
                self.assertEqual(ringfence("policy", "validate", path).returncode, 0, ok)


class ShowRoundTrip(unittest.TestCase):
    """`policy show` output, in all four forms, is a policy `validate`
    accepts; the plain form shown again is the same."""

    def policies(self, d):
        out = {"default": None, "all-keys": write(d, "all.yaml", ALL_KEYS)}
        for p in sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml"))):
            out[os.path.basename(p)] = p
        return out

    def test_every_form_validates(self):
        with TempDir() as d:
            for name, path in self.policies(d).items():
                for form in ([], ["--json"], ["--effective"], ["--effective", "--json"]):
                    with self.subTest(name, form=form):
                        args = ["policy", "show"] + form + (["--policy", path] if path else [])
                        s = subprocess.run([BIN] + args, capture_output=True, text=True,
                                           timeout=30, cwd=d)
                        self.assertEqual(s.returncode, 0, s.stderr)
                        shown = write(d, "shown.yaml", s.stdout)
                        v = ringfence("policy", "validate", "--json", shown)
                        self.assertEqual(v.returncode, 0, s.stdout + v.stdout)
                        if "--effective" in form:
                            self.assertIn("enforcement", s.stdout)
                            continue
                        again = subprocess.run([BIN, "policy", "show", "--policy", shown] + form,
                                               capture_output=True, text=True, timeout=30, cwd=d)
                        self.assertEqual(again.returncode, 0, again.stderr)
                        strip = lambda t: re.sub(r'(?m)^\s*"?source"?:.*\n', "", t)
                        self.assertEqual(strip(again.stdout), strip(s.stdout))


class Docs(unittest.TestCase):
    def test_docs_link_nothing_outside_the_repository(self):
        files = glob.glob(os.path.join(ROOT, "docs", "*.md")) + [os.path.join(ROOT, "README.md")]
        for path in files:
            with open(path) as f:
                text = f.read()
            with self.subTest(os.path.basename(path)):
                self.assertNotRegex(text, r"\.\./shared|DESIGN\.md|/work/")
                for target in re.findall(r"\]\(([^)#]+)", text):
                    if re.match(r"[a-z]+://", target):
                        continue
                    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
                    self.assertTrue(resolved.startswith(ROOT + os.sep), target)
                    self.assertTrue(os.path.exists(resolved), target)

    def test_policy_md_names_only_keys_that_exist(self):
        with open(os.path.join(ROOT, "docs", "proxy.md")) as f:
            self.assertNotIn("dns_servers", f.read())
        with open(os.path.join(ROOT, "docs", "policy.md")) as f:
            self.assertNotIn("dns_servers", f.read())


if __name__ == "__main__":
    unittest.main()
