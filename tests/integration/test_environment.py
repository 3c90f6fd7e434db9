"""process.environment (docs/process.md, "Environment"): the caller's
secret-shaped variables (tokens, keys, passwords, AWS_*) never reach the
sandboxed command unless the policy's `include` lists them; `inherit: core`
and `none` pass less; `exclude` globs hold back more; `policy show
--effective` names what passes and what is dropped, never a value.

Each case runs the real binary on a real program that reads its own
environment (`env`, and /proc/self/environ from Python), with a control
without ringfence showing the same program sees the variables."""
import json
import os
import subprocess
import tempfile
import unittest

import rf

AS_USER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

# Distinct values, so a leak is found wherever it shows up.
SECRETS = {
    "GITHUB_TOKEN": "ghp_rfEnvTestGithub0000000000000000000001",
    "AWS_SECRET_ACCESS_KEY": "rfEnvTestAwsSecret/0000000000000000000002",
    "AWS_ACCESS_KEY_ID": "AKIARFENVTEST0000003",
    "OPENAI_API_KEY": "sk-rfEnvTestOpenai0000000000000000000004",
    "ANTHROPIC_API_KEY": "sk-ant-rfEnvTestAnthropic00000000000005",
    "Db_Password": "rfEnvTestPassword0000000006",  # names match case-insensitively
    "NPM_TOKEN": "npm_rfEnvTestNpm000000000000000000007",
}
ORDINARY = {"RF_ORDINARY": "plain-value-1", "RF_OTHER": "plain-value-2",
            "LANG": "C.UTF-8", "TERM": "xterm-256color"}

# Prints its environment as the kernel gave it (/proc/self/environ), what
# os.environ holds, and what reading the parent's (the supervisor's, where
# visible) /proc/PID/environ gave.
PROBE = r"""
import json, os
out = {"environ": open("/proc/self/environ", "rb").read().decode("utf-8", "replace"),
       "os": dict(os.environ)}
try:
    out["parent"] = open("/proc/%d/environ" % os.getppid(), "rb").read().decode("utf-8", "replace")
except OSError as e:
    out["parent"] = "error %d" % e.errno
print(json.dumps(out))
"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/dev/null]
process:
  environment:
{environment}
"""


def caller_env(**extra):
    env = dict(os.environ)
    env.update(SECRETS)
    env.update(ORDINARY)
    env.update(extra)
    return env


def policy(environment):
    return POLICY.format(environment="\n".join("    " + line for line in environment))


class Environment(unittest.TestCase):
    def probe(self, pol=None, pre=(), env=None):
        """The probe's view from inside the sandbox: (env dict, raw stdout)."""
        env = env or caller_env()
        if pre:
            cmd = list(pre) + [rf.BIN, "run", "-q"]
            tmp = None
            if pol:
                tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
                tmp.write(pol)
                tmp.close()
                os.chmod(tmp.name, 0o644)
                cmd += ["--policy", tmp.name]
            with rf.TempDir() as d:
                try:
                    r = subprocess.run(cmd + ["--", rf.PY, "-c", PROBE], capture_output=True,
                                       text=True, timeout=60, env=env, cwd=d)
                finally:
                    if tmp:
                        os.unlink(tmp.name)
        else:
            with rf.TempDir() as d:
                r = rf.run([rf.PY, "-c", PROBE], policy=pol, env=env, cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        # Both views agree: os.environ is what the kernel passed (Python sets
        # LC_CTYPE itself when no locale variable is set, PEP 538).
        from_kernel = dict(kv.split("=", 1) for kv in out["environ"].split("\0") if "=" in kv)
        if "LC_CTYPE" not in from_kernel:
            out["os"].pop("LC_CTYPE", None)
        self.assertEqual(from_kernel, out["os"])
        return out, r

    def assertNoSecret(self, text, names=SECRETS):
        for name in names:
            self.assertNotIn(SECRETS[name], text, name)

    def test_control_without_ringfence_sees_everything(self):
        r = subprocess.run([rf.PY, "-c", PROBE], capture_output=True, text=True, timeout=30,
                           env=caller_env())
        out = json.loads(r.stdout)
        for name, value in {**SECRETS, **ORDINARY}.items():
            self.assertEqual(out["os"].get(name), value, name)
            self.assertIn(name + "=" + value, out["environ"])
        e = subprocess.run(["env"], capture_output=True, text=True, timeout=30, env=caller_env())
        self.assertIn("GITHUB_TOKEN=" + SECRETS["GITHUB_TOKEN"], e.stdout)

    def test_secret_shaped_names_withheld_by_default(self):
        # `ringfence run -- env`, no policy: the default policy.
        with rf.TempDir() as d:
            e = rf.run(["env"], env=caller_env(), cwd=d)
        self.assertEqual(e.returncode, 0, e.stderr)
        self.assertNoSecret(e.stdout + e.stderr)
        for name in SECRETS:
            self.assertNotIn(name + "=", e.stdout)
        self.assertIn("RF_ORDINARY=plain-value-1", e.stdout)
        self.assertIn("RINGFENCE_SANDBOX=1", e.stdout)
        out, r = self.probe()
        self.assertNoSecret(r.stdout + r.stderr)
        self.assertEqual(out["os"].get("RF_ORDINARY"), "plain-value-1")
        self.assertEqual(out["os"].get("LANG"), "C.UTF-8")
        # The supervisor holds the caller's environment: the sandbox cannot
        # read it through /proc either.
        self.assertNoSecret(out["parent"])

    def test_secret_shaped_names_withheld_when_run_unprivileged(self):
        # Started as uid 65534: sandbox and supervisor share the uid.
        out, r = self.probe(pre=AS_USER)
        self.assertNoSecret(r.stdout + r.stderr)
        self.assertNoSecret(out["parent"])
        self.assertEqual(out["os"].get("RF_ORDINARY"), "plain-value-1")

    def test_run_says_what_it_withheld_by_name_only(self):
        with rf.TempDir() as d:
            r = subprocess.run([rf.BIN, "run", "--", "/bin/true"], capture_output=True, text=True,
                               timeout=60, env=caller_env(), cwd=d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("environment: secret-shaped", r.stderr)
        self.assertIn("GITHUB_TOKEN", r.stderr)
        self.assertNoSecret(r.stderr)

    def test_include_passes_a_listed_name(self):
        out, r = self.probe(policy(["include: [OPENAI_API_KEY]"]))
        self.assertEqual(out["os"].get("OPENAI_API_KEY"), SECRETS["OPENAI_API_KEY"])
        self.assertNoSecret(r.stdout, [n for n in SECRETS if n != "OPENAI_API_KEY"])
        self.assertEqual(out["os"].get("RF_ORDINARY"), "plain-value-1")

    def test_include_glob(self):
        out, r = self.probe(policy(["include: ['AWS_*']"]))
        self.assertEqual(out["os"].get("AWS_ACCESS_KEY_ID"), SECRETS["AWS_ACCESS_KEY_ID"])
        self.assertEqual(out["os"].get("AWS_SECRET_ACCESS_KEY"), SECRETS["AWS_SECRET_ACCESS_KEY"])
        self.assertNoSecret(r.stdout, ["GITHUB_TOKEN", "OPENAI_API_KEY", "Db_Password"])

    def test_inherit_none(self):
        out, r = self.probe(policy(["inherit: none"]))
        self.assertNoSecret(r.stdout)
        for name in ORDINARY:
            self.assertNotIn(name, out["os"])
        # What ringfence sets is always there: the marker, the sandbox's
        # home, the proxy (this policy's mode has one).
        self.assertEqual(out["os"].get("RINGFENCE_SANDBOX"), "1")
        self.assertIn("HOME", out["os"])
        self.assertTrue(out["os"].get("HTTP_PROXY", "").startswith("http://127.0.0.1:"),
                        out["os"])

    def test_inherit_none_with_include(self):
        out, _ = self.probe(policy(["inherit: none", "include: [RF_OTHER, GITHUB_TOKEN]"]))
        self.assertEqual(out["os"].get("RF_OTHER"), "plain-value-2")
        self.assertEqual(out["os"].get("GITHUB_TOKEN"), SECRETS["GITHUB_TOKEN"])
        self.assertNotIn("RF_ORDINARY", out["os"])

    def test_inherit_core(self):
        out, r = self.probe(policy(["inherit: core"]), env=caller_env(LC_TIME="C", TZ="UTC"))
        self.assertNoSecret(r.stdout)
        self.assertNotIn("RF_ORDINARY", out["os"])
        self.assertNotIn("RF_OTHER", out["os"])
        for name, value in {"LANG": "C.UTF-8", "TERM": "xterm-256color", "LC_TIME": "C",
                            "TZ": "UTC", "PATH": os.environ["PATH"]}.items():
            self.assertEqual(out["os"].get(name), value, name)
        self.assertEqual(out["os"].get("RINGFENCE_SANDBOX"), "1")

    def test_exclude_glob_and_it_wins_over_include(self):
        out, _ = self.probe(policy(["exclude: ['rf_ord*', GITHUB_TOKEN]",
                                    "include: [GITHUB_TOKEN]"]))
        self.assertNotIn("RF_ORDINARY", out["os"])
        self.assertNotIn("GITHUB_TOKEN", out["os"])
        self.assertEqual(out["os"].get("RF_OTHER"), "plain-value-2")

    def test_effective_lists_names_never_values(self):
        pol = policy(["include: [OPENAI_API_KEY]", "exclude: [RF_OTHER]"])
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(pol)
            f.flush()
            for fmt in (["--json"], []):
                r = rf.ringfence("policy", "show", "--effective", "--policy", f.name, *fmt,
                                 env=caller_env())
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNoSecret(r.stdout + r.stderr)
                self.assertNotIn("plain-value", r.stdout)
            r = rf.ringfence("policy", "show", "--effective", "--json", "--policy", f.name,
                             env=caller_env())
        env = json.loads(r.stdout)["enforcement"]["environment"]
        self.assertEqual(env["inherit"], "all")
        self.assertIn("RF_ORDINARY", env["passed"])
        self.assertIn("OPENAI_API_KEY", env["passed"])
        self.assertIn("secret-shaped", env["dropped"]["GITHUB_TOKEN"])
        self.assertIn("secret-shaped", env["dropped"]["AWS_ACCESS_KEY_ID"])
        self.assertIn("excluded", env["dropped"]["RF_OTHER"])
        self.assertIn("RINGFENCE_SANDBOX", env["set_by_ringfence"])
        # The sandbox's home replaces the caller's HOME at run time.
        self.assertIn("HOME", env["set_by_ringfence"])
        self.assertNotIn("HOME", env["passed"])
        self.assertIn("*_TOKEN", env["secret_shaped"])

    def test_bad_input_is_refused_naming_the_key(self):
        cases = [
            (["inherit: some"], "process.environment.inherit must be all, core or none, not 'some'"),
            (["include: OPENAI_API_KEY"], "process.environment.include must be a list"),
            (["exclude: ['A=B']"], "process.environment.exclude entry 'A=B' must be a variable"),
            (["exclude: ['[A']"], "process.environment.exclude entry '[A'"),
            (["inherits: all"], "unknown key 'inherits' in process.environment"),
        ]
        for environment, message in cases:
            with self.subTest(environment=environment):
                pol = policy(environment)
                with rf.TempDir() as d:
                    marker = os.path.join(d, "ran")
                    r = rf.run(["/bin/touch", marker], policy=pol, env=caller_env(), cwd=d)
                    self.assertEqual(r.returncode, 125, r.stderr)
                    self.assertIn(message, r.stderr)
                    self.assertRegex(r.stderr, r"\.yaml:\d+:\d+")
                    self.assertFalse(os.path.exists(marker))
                with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                    f.write(pol)
                    f.flush()
                    v = rf.ringfence("policy", "validate", f.name)
                self.assertEqual(v.returncode, 1, v.stdout)
                self.assertIn(message, v.stderr)


if __name__ == "__main__":
    unittest.main()
