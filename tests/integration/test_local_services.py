"""Services on the host's loopback (docs/policy.md "Services on the host's
loopback"): an agent in the sandbox calls a local API server the host runs
on 127.0.0.1. With an endpoint {host: 127.0.0.1, port: P, allowed_ips:
[127.0.0.1/32]} the proxy carries the request (127.0.0.1 is then left out of
NO_PROXY), so a plain `curl http://127.0.0.1:P/` gets the page in namespace
and platform mode, started as root and as an ordinary user. Without the
endpoint the connect fails and the audit log has a network denial whose hint
is the whole recipe; `ringfence diagnose` gives the same recipe."""
import http.server
import json
import os
import subprocess
import threading
import unittest

import rf

CURL = "/usr/bin/curl"
BODY = "hello-from-the-host-api"

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc]
  read_write: [/dev/null]
network:
  mode: {mode}
network_policies:
{entries}"""

ENDPOINT = """  local_api:
    endpoints:
      - {{ host: 127.0.0.1, port: {port}, allowed_ips: [127.0.0.1/32] }}
"""

NOTHING = "  other:\n    endpoints: [{ host: example.org, port: 443 }]\n"

AS_USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (BODY + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def unprivileged_userns_available():
    r = subprocess.run(AS_USER + ["unshare", "--user", "--net", "true"], capture_output=True,
                       timeout=30)
    return r.returncode == 0


@unittest.skipUnless(os.path.exists(CURL), "needs curl")
class HostLoopbackService(unittest.TestCase):
    def setUp(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.hits = 0
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def users(self):
        users = [("root", [])] if rf.IS_ROOT else [("caller", [])]
        if rf.IS_ROOT:
            users.append(("uid 65534", AS_USER))
        return users

    def curl_in_sandbox(self, d, mode, entries, prefix, audit=None):
        pf = os.path.join(d, "policy.yaml")
        with open(pf, "w") as f:
            f.write(POLICY.format(mode=mode, entries=entries))
        os.chmod(pf, 0o644)
        cmd = prefix + [rf.BIN, "run", "-q", "--policy", pf]
        if audit:
            cmd += ["--audit", audit]
        cmd += ["--", CURL, f"http://127.0.0.1:{self.port}/"]
        return subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=60)

    def modes(self, prefix):
        modes = ["platform"]
        if not prefix or unprivileged_userns_available():
            modes.insert(0, "namespace")
        return modes

    def test_control_without_ringfence(self):
        r = subprocess.run([CURL, "-s", f"http://127.0.0.1:{self.port}/"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), BODY, r.stderr)

    def test_documented_policy_reaches_the_host_service(self):
        for who, prefix in self.users():
            for mode in self.modes(prefix):
                with self.subTest(who=who, mode=mode), rf.TempDir() as d:
                    r = self.curl_in_sandbox(d, mode, ENDPOINT.format(port=self.port), prefix)
                    self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                    self.assertEqual(r.stdout.strip(), BODY, r.stderr)

    def test_without_the_endpoint_an_audited_denial_with_the_recipe(self):
        for who, prefix in self.users():
            for mode in self.modes(prefix):
                with self.subTest(who=who, mode=mode), rf.TempDir() as d, \
                        rf.OutsideDir(mode=0o777) as out:
                    audit = os.path.join(out, "audit.jsonl")
                    r = self.curl_in_sandbox(d, mode, NOTHING, prefix, audit=audit)
                    self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
                    self.assertNotIn(BODY, r.stdout)
                    with open(audit) as f:
                        events = [json.loads(l) for l in f if l.strip()]
                    target = f"127.0.0.1:{self.port}"
                    denials = [e for e in events if e.get("action") == "deny"
                               and target in json.dumps(e)]
                    self.assertTrue(denials, f"no denial of {target} in {events}")
                    hint = denials[0].get("hint", "")
                    self.assertIn(f"host: 127.0.0.1, port: {self.port}", hint, denials[0])
                    self.assertIn("allowed_ips: [127.0.0.1/32]", hint, denials[0])
                    # diagnose reads the same log and gives the whole recipe.
                    dg = rf.ringfence("diagnose", audit)
                    self.assertIn("allowed_ips: [127.0.0.1/32]", dg.stdout, dg.stdout)

    def test_the_sandboxs_own_server_is_connected_without_a_denial(self):
        # Namespace mode: a port the sandbox itself listens on is connected
        # as before (the check reads the namespace's listeners), no event.
        code = ("import socket\n"
                "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
                "c = socket.create_connection(s.getsockname(), timeout=10)\n"
                "a, _ = s.accept(); c.sendall(b'own'); print(a.recv(3).decode())\n")
        with rf.TempDir() as d, rf.OutsideDir() as out:
            audit = os.path.join(out, "audit.jsonl")
            r = rf.run([rf.PY, "-c", code],
                       extra=["--workdir", d, "--mode", "namespace", "--audit", audit])
            self.assertEqual(r.stdout.strip(), "own", r.stdout + r.stderr)
            with open(audit) as f:
                self.assertNotIn('"deny"', f.read())

    def test_no_proxy_leaves_out_only_the_hosts_the_policy_names(self):
        with rf.TempDir() as d:
            pf = os.path.join(d, "policy.yaml")
            with open(pf, "w") as f:
                f.write(POLICY.format(mode="platform", entries=ENDPOINT.format(port=self.port)))
            r = rf.run(["/usr/bin/env"], policy=pf, extra=["--workdir", d])
            env = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
            self.assertEqual(env.get("NO_PROXY"), "localhost,::1", r.stdout)
            self.assertEqual(env.get("no_proxy"), "localhost,::1", r.stdout)
            self.assertIn("-Dhttp.nonProxyHosts=localhost|[::1]", env.get("JAVA_TOOL_OPTIONS", ""))
            r = rf.run(["/usr/bin/env"], extra=["--workdir", d, "--mode", "platform"])
            self.assertIn("NO_PROXY=localhost,127.0.0.1,::1", r.stdout)


if __name__ == "__main__":
    unittest.main()
