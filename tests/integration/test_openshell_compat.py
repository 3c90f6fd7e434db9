"""OpenShell's published policies (tests/compat/openshell/, sources in its
SOURCES.md) run unchanged, or are refused naming the feature ringfence does
not implement yet, as tests/compat/openshell/EXPECTED says for each file."""
import json
import os
import unittest

import rf

CORPUS = os.path.abspath(os.path.join(os.path.dirname(__file__), "../compat/openshell"))
MODES = ("namespace", "platform")
# The account and directory OpenShell's images have.
SANDBOX_UID = 4998


def expected():
    out = {}
    with open(os.path.join(CORPUS, "EXPECTED")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, verdict = line.split(": ", 1)
            out[name] = verdict
    return out


class Corpus(unittest.TestCase):
    def test_every_file_has_an_expectation(self):
        files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".yaml"))
        self.assertGreaterEqual(len(files), 10)
        self.assertEqual(files, sorted(expected()))

    def check(self, name, verdict):
        path = os.path.join(CORPUS, name)
        v = rf.ringfence("policy", "validate", path)
        if verdict == "runs":
            self.assertEqual(v.returncode, 0, v.stderr)
            self.assertIn("valid", v.stdout)
            shown = rf.ringfence("policy", "show", "--policy", path, "--json")
            self.assertEqual(shown.returncode, 0, shown.stderr)
            user = json.loads(shown.stdout)["process"]["run_as_user"]
            uid = {"sandbox": SANDBOX_UID, "nobody": 65534}[user]
            with open(path) as f:
                if "run_as_user" not in f.read():
                    # No user named: as root, the command runs as the owner of
                    # the working directory (docs/process.md), /sandbox here,
                    # which is also OpenShell's own default user.
                    uid = SANDBOX_UID
            if not rf.IS_ROOT:
                self.skipTest("running OpenShell's policies needs root (the sandbox user)")
            with rf.PrivateEtc(passwd=[f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}::/sandbox:/bin/sh"],
                               group=[f"sandbox:x:{SANDBOX_UID}:"], dirs=["/sandbox"],
                               owner=(SANDBOX_UID, SANDBOX_UID)) as etc:
                for mode in MODES:
                    r = etc.run([rf.BIN, "run", "-q", "--policy", path, "--mode", mode,
                                 "--workdir", "/sandbox", "--", "/bin/sh", "-c",
                                 "/bin/true && id -u"], cwd="/")
                    self.assertEqual(r.returncode, 0, f"{mode}: {r.stderr}")
                    self.assertEqual(r.stdout.strip(), str(uid), mode)
            return
        self.assertTrue(verdict.startswith("refused: "), verdict)
        features = verdict[len("refused: "):].split("; ")
        self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
        for feature in features:
            self.assertIn("not supported yet: " + feature, v.stderr)
        self.assertNotIn("unknown key", v.stderr)
        with rf.TempDir() as d:
            marker = os.path.join(d, "ran")
            r = rf.run(["/bin/sh", "-c", f"touch {marker}"], policy=path, cwd=d)
            self.assertEqual(r.returncode, 125, r.stderr)
            self.assertIn("not supported yet: " + features[0], r.stderr)
            self.assertFalse(os.path.exists(marker), "the command ran")


class L4Schema(unittest.TestCase):
    """OpenShell's L4 forms validate; what deserves a second look is a
    warning with its place, not an error."""
    POLICY = """version: 1
network_policies:
  legacy:
    endpoints:
      - { port: 443, allowed_ips: [10.0.5.0/24] }
      - { host: "*-aiplatform.googleapis.com", port: 443 }
      - { host: registry.test, port: 443, allowed_ips: [198.18.0.0/15, 203.0.113.0/24] }
"""

    def test_validates_with_warnings(self):
        with rf.TempDir() as d:
            path = os.path.join(d, "p.yaml")
            with open(path, "w") as f:
                f.write(self.POLICY)
            r = rf.ringfence("policy", "validate", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{path}:7:57: warning: ", r.stderr)
        self.assertIn("benchmarking range", r.stderr)
        self.assertIn(f"{path}:7:72: warning: ", r.stderr)
        self.assertIn(f"{path}:4:5: warning: network_policies.legacy has no binaries", r.stderr)


def _add(name, verdict):
    test = name.replace(".yaml", "").replace("-", "_").replace(".", "_")
    setattr(Corpus, "test_" + test, lambda self: self.check(name, verdict))


for _name, _verdict in expected().items():
    _add(_name, _verdict)


if __name__ == "__main__":
    unittest.main()
