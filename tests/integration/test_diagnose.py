"""`ringfence diagnose`: realistic error logs (tests/fixtures/diagnose/<id>.log)
are recognised, recovery steps printed, --json carries the same content."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from rf import BIN, IS_ROOT, OutsideDir, TempDir, ringfence, run

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../fixtures/diagnose")

# Every catalogue entry has a log fixture named after its id.
EXPECTED_IDS = [
    "cdi-specs-missing", "nvml-insufficient-permissions", "cuda-init-304",
    "persistenced-eacces", "landlock-unavailable", "userns-disabled",
    "pidfd-getfd-blocked", "proxy-port-in-use", "selinux-gpu-device-denied",
    "selinux-runtime-files-denied", "ringfence-policy-denied", "ringfence-direct-connect-denied",
    "nvidia-runtime-missing", "driver-libraries-missing", "nvml-unknown-error",
    "cuda-no-device", "nvml-driver-mismatch", "nvidia-smi-no-driver", "cuda-driver-too-old",
    "dns-resolution-failed", "git-dubious-ownership", "docker-daemon-unreachable",
    "sandbox-permission-denied", "host-loopback-refused",
]

# The real messages users paste (as the tools print them), with the entry
# each must lead to and a recovery command the report must contain.
REAL_MESSAGES = [
    ("Failed to initialize NVML: Unknown Error", "nvml-unknown-error",
     "nvidia-ctk system create-dev-char-symlinks --create-all"),
    ("cuInit failed: CUDA_ERROR_NO_DEVICE", "cuda-no-device", "nvidia-smi -L"),
    ("RuntimeError: CUDA error: no CUDA-capable device is detected", "cuda-no-device",
     "ringfence gpu list"),
    ("Failed to initialize NVML: Driver/library version mismatch", "nvml-driver-mismatch",
     "cat /proc/driver/nvidia/version"),
    ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure "
     "that the latest NVIDIA driver is installed and running.", "nvidia-smi-no-driver",
     "lsmod | grep nvidia"),
    ("CUDA driver version is insufficient for CUDA runtime version", "cuda-driver-too-old",
     "ldconfig -p | grep libcuda.so.1"),
    ("bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
     "non-privileged user namespaces. On e.g. debian this can be enabled with 'sysctl "
     "kernel.unprivileged_userns_clone=1'.", "userns-disabled",
     "ringfence run --mode platform -- CMD"),
    ("cat: /srv/data/train.csv: Permission denied", "sandbox-permission-denied",
     "ringfence why PATH --policy POLICY.yaml"),
    ("npm ERR! request to https://registry.npmjs.org/x failed, reason: getaddrinfo EAI_AGAIN "
     "registry.npmjs.org", "dns-resolution-failed", "ringfence run -- env | grep -i _proxy"),
    ("curl: (6) Could not resolve host: example.org", "dns-resolution-failed",
     "getent hosts HOST"),
    ("curl: (7) Failed to connect to 127.0.0.1 port 18080 after 0 ms: Couldn't connect to server",
     "host-loopback-refused", "- { host: 127.0.0.1, port: 18080, allowed_ips: [127.0.0.1/32] }"),
    ("fatal: detected dubious ownership in repository at '/home/alice/project'",
     "git-dubious-ownership", "run_as_user: OWNER"),
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon "
     "running?", "docker-daemon-unreachable", "unix_sockets: [/var/run/docker.sock]"),
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

    def test_real_messages(self):
        # What the user sees: `ringfence diagnose -` with the message pasted,
        # exit 0, the entry's id and summary first, numbered steps.
        for text, fid, command in REAL_MESSAGES:
            with self.subTest(fid, text=text[:40]):
                r = subprocess.run([BIN, "diagnose", "-"], input=text + "\n",
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertTrue(r.stdout.startswith("[%s] " % fid), r.stdout[:300])
                self.assertIn("  Matched line 1: " + text[:60], r.stdout)
                self.assertIn("Recovery steps:\n  1. ", r.stdout)
                self.assertIn(command, r.stdout)
                self.assertEqual(r.stdout.count("\n["), 0, r.stdout)  # one entry only

    def test_permission_denied_is_the_fallback(self):
        # A bare "Permission denied" points to `ringfence why`; with a more
        # specific cause in the same log only that cause is reported.
        r = subprocess.run([BIN, "diagnose", "--json", "-"],
                           input="open /srv/x: EACCES\n", capture_output=True, text=True,
                           timeout=30)
        self.assertEqual([m["id"] for m in json.loads(r.stdout)["matches"]],
                         ["sandbox-permission-denied"])
        with open(fixture("persistenced-eacces.log")) as f:
            log = "cat: /srv/x: Permission denied\n" + f.read()
        r = subprocess.run([BIN, "diagnose", "--json", "-"], input=log, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual([m["id"] for m in json.loads(r.stdout)["matches"]],
                         ["persistenced-eacces"])

    @unittest.skipUnless(IS_ROOT, "needs root to own a repository as another user")
    def test_real_git_dubious_ownership(self):
        # git's own message, from a repository owned by another user.
        with TempDir() as d:
            subprocess.run(["git", "init", "-q", d], check=True, timeout=30)
            for root, dirs, files in os.walk(d):
                for n in dirs + files:
                    os.lchown(os.path.join(root, n), 12345, 12345)
            os.chown(d, 12345, 12345)
            env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
            env.pop("SUDO_UID", None)
            g = subprocess.run(["git", "-C", d, "status"], capture_output=True, text=True,
                               timeout=30, env=env)
            self.assertEqual(g.returncode, 128, g.stderr)
            r = subprocess.run([BIN, "diagnose", "-"], input=g.stderr, capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, g.stderr)
            self.assertTrue(r.stdout.startswith("[git-dubious-ownership] "), r.stdout[:200])

    @unittest.skipUnless(IS_ROOT and shutil.which("curl"), "needs root (namespace mode) and curl")
    def test_real_refusals_inside_the_sandbox(self):
        # A client that bypasses the proxy cannot resolve anything in the
        # sandbox's empty network namespace; a read outside the grants is
        # refused by Landlock. ringfence's own output plus the command's goes
        # into diagnose, as a user would paste it.
        r = run(["/usr/bin/curl", "-sS", "--noproxy", "*", "http://example.org/"],
                extra=["--mode", "namespace"], timeout=30)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("Could not resolve host", r.stderr)
        d = subprocess.run([BIN, "diagnose", "-"], input=r.stderr, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(d.returncode, 0, r.stderr)
        self.assertTrue(d.stdout.startswith("[dns-resolution-failed] "), d.stdout[:300])
        # /var/tmp: outside the embedded default policy's grants.
        outside = tempfile.mkdtemp(prefix="rf-diag-", dir="/var/tmp")
        try:
            os.chmod(outside, 0o755)
            secret = os.path.join(outside, "secret")
            with open(secret, "w") as f:
                f.write("x\n")
            os.chmod(secret, 0o644)
            with TempDir() as wd:
                r = run(["/bin/cat", secret], timeout=30, cwd=wd)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("Permission denied", r.stderr)
            control = subprocess.run(["/bin/cat", secret], capture_output=True, text=True,
                                     timeout=30)
            self.assertEqual(control.stdout, "x\n")
        finally:
            shutil.rmtree(outside)
        d = subprocess.run([BIN, "diagnose", "-"], input=r.stderr, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(d.returncode, 0, r.stderr)
        self.assertTrue(d.stdout.startswith("[sandbox-permission-denied] "), d.stdout[:300])
        self.assertIn("$ ringfence why PATH --policy POLICY.yaml", d.stdout)

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
