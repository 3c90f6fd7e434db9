"""`ringfence diagnose`: realistic error logs (tests/fixtures/diagnose/<id>.log)
are recognised, recovery steps printed, --json carries the same content."""
import json
import os
import shutil
import subprocess
import unittest

from rf import BIN, OutsideDir, TempDir, ringfence, run

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../fixtures/diagnose")

# Every catalogue entry has a log fixture named after its id.
EXPECTED_IDS = [
    "cdi-specs-missing", "nvml-insufficient-permissions", "cuda-init-304",
    "persistenced-eacces", "landlock-unavailable", "userns-disabled",
    "pidfd-getfd-blocked", "proxy-port-in-use", "selinux-gpu-device-denied",
    "selinux-runtime-files-denied", "ringfence-policy-denied", "ringfence-direct-connect-denied",
    "nvidia-runtime-missing", "driver-libraries-missing",
]


def fixture(name):
    return os.path.join(FIXTURES, name)


class DiagnoseTest(unittest.TestCase):
    def test_every_entry_from_a_realistic_log(self):
        self.assertEqual(sorted(f[:-4] for f in os.listdir(FIXTURES) if f.endswith(".log")),
                         sorted(EXPECTED_IDS))
        for fid in EXPECTED_IDS:
            with self.subTest(fid):
                text = ringfence("diagnose", fixture(fid + ".log"))
                self.assertEqual(text.returncode, 0, text.stderr)
                self.assertTrue(text.stdout.startswith("[%s] " % fid), text.stdout[:200])
                self.assertIn("Recovery steps:\n  1. ", text.stdout)
                self.assertIn("Retry: ", text.stdout)
                js = ringfence("diagnose", "--json", fixture(fid + ".log"))
                self.assertEqual(js.returncode, 0, js.stderr)
                data = json.loads(js.stdout)
                self.assertTrue(data["known"])
                self.assertEqual([m["id"] for m in data["matches"]], [fid])
                m = data["matches"][0]
                # Same content as the text report.
                self.assertIn(m["summary"], text.stdout)
                self.assertIn(m["explanation"], text.stdout)
                self.assertIn(m["evidence"], text.stdout)
                self.assertIn(m["retry"]["note"], text.stdout)
                self.assertIsInstance(m["retry"]["helps"], bool)
                self.assertGreater(len(m["steps"]), 1)
                for i, step in enumerate(m["steps"], 1):
                    self.assertEqual(step["step"], i)
                    self.assertIn("  %d. %s\n" % (i, step["text"]), text.stdout)
                    for line in step["command"].splitlines():
                        self.assertIn(line, text.stdout)

    def test_cdi_recovery_commands(self):
        r = ringfence("diagnose", "--json", fixture("cdi-specs-missing.log"))
        cmds = [s["command"] for s in json.loads(r.stdout)["matches"][0]["steps"]]
        self.assertEqual(cmds[0], "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml")
        self.assertEqual(cmds[1], "nvidia-ctk cdi list")
        self.assertEqual(json.loads(r.stdout)["matches"][0]["line"], 6)

    def test_policy_denial_names_the_entry_to_add(self):
        r = ringfence("diagnose", fixture("ringfence-policy-denied.log"))
        self.assertEqual(r.returncode, 0)
        self.assertIn("network_policies:", r.stdout)
        self.assertIn("- { host: github.com, port: 443 }", r.stdout)
        audit = ('{"action":"deny","layer":"proxy","reason":"no policy allows it",'
                 '"subject":"registry.npmjs.org:443","time":"2026-11-23T18:00:00.000Z"}\n')
        r = subprocess.run([BIN, "diagnose", "--json", "-"], input=audit, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = json.loads(r.stdout)["matches"][0]
        self.assertEqual(m["id"], "ringfence-policy-denied")
        self.assertTrue(any("{ host: registry.npmjs.org, port: 443 }" in s["command"]
                            for s in m["steps"]))

    @unittest.skipUnless(shutil.which("curl"), "needs curl")
    def test_real_refusal_by_ringfence_is_diagnosed(self):
        # End to end: the embedded default policy grants no egress, so the
        # proxy refuses the CONNECT (before any DNS or connect); the refusal
        # curl and ringfence print, and the audit log, lead to the entry to add.
        with OutsideDir() as d:  # an audit log inside a writable grant is refused
            audit = os.path.join(d, "audit.jsonl")
            r = run(["/usr/bin/curl", "-sS", "https://example.org/"], extra=["--audit", audit],
                    timeout=30)
            self.assertEqual(r.returncode, 56, r.stderr)
            with open(audit) as f:
                audit_text = f.read()
            for text in (r.stderr, audit_text):
                d2 = subprocess.run([BIN, "diagnose", "--json"], input=text, capture_output=True,
                                    text=True, timeout=30)
                self.assertEqual(d2.returncode, 0, text)
                m = json.loads(d2.stdout)["matches"]
                self.assertEqual([x["id"] for x in m], ["ringfence-policy-denied"], text)
                self.assertTrue(any("{ host: example.org, port: 443 }" in s["command"]
                                    for s in m[0]["steps"]), m[0]["steps"])

    def test_stdin_and_several_failures_in_one_log(self):
        log = ""
        for fid in ("proxy-port-in-use", "userns-disabled"):
            with open(fixture(fid + ".log")) as f:
                log += f.read()
        r = subprocess.run([BIN, "diagnose", "--json"], input=log, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([m["id"] for m in json.loads(r.stdout)["matches"]],
                         ["proxy-port-in-use", "userns-disabled"])

    def test_unknown_input_is_generic_and_exit_1(self):
        r = ringfence("diagnose", fixture("unknown.txt"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No known failure matched", r.stdout)
        self.assertIn("ringfence doctor", r.stdout)
        js = ringfence("diagnose", "--json", fixture("unknown.txt"))
        self.assertEqual(js.returncode, 1)
        data = json.loads(js.stdout)
        self.assertFalse(data["known"])
        self.assertEqual(data["matches"], [])
        self.assertTrue(data["generic"]["steps"])
        empty = subprocess.run([BIN, "diagnose", "-"], input="", capture_output=True, text=True,
                               timeout=30)
        self.assertEqual(empty.returncode, 1)

    def test_unreadable_file_is_an_error_on_stderr(self):
        r = ringfence("diagnose", "/nonexistent/rf-log.txt")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        self.assertIn("/nonexistent/rf-log.txt", r.stderr)


if __name__ == "__main__":
    unittest.main()
