"""Policy DNS (issue 28, docs/dns.md): inside the sandbox, names the policy
can reach resolve to the run's synthetic addresses (198.18.0.0/15), every
other name gets NXDOMAIN and a `dns deny` event, no query ever reaches a
resolver outside, and names under a wildcard are budgeted against
DNS-label exfiltration. End to end: the real binary, getent (glibc's NSS
"files dns") and Python's getaddrinfo inside it, a Python UDP server on
127.0.0.2 playing an outside resolver, and the same probes without
ringfence as the control."""
import json
import os
import re
import subprocess
import time
import unittest

import rf
from netfixtures import UdpSink

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/tmp, /dev/null]
network:
  mode: {mode}
  hosts: {{static.test: 127.0.0.1}}
network_policies:
  api:
    endpoints:
      - {{ host: api.allowed.test, port: 443 }}
      - {{ host: "*.wild.test", port: 443 }}
"""

# Sends one DNS query for NAME to HOST:PORT over UDP and prints "sent", or
# the error the socket calls met.
DIRECT_QUERY = r"""
import socket, struct, sys
host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(q, (host, port))
    s.connect((host, port))
    s.send(q)
    print("sent")
except OSError as e:
    print("ERR", e.errno)
"""

# DNS over TCP (RFC 7766): an idle connection first (it must not hold the
# resolver up), then the queries NAMES pipelined on a second connection.
TCP_QUERY = r"""
import socket, struct, subprocess, sys
def q(name, id):
    m = struct.pack(">HHHHHH", id, 0x0100, 1, 0, 0, 0)
    for l in name.split("."):
        m += bytes([len(l)]) + l.encode()
    return m + b"\0" + struct.pack(">HH", 1, 1)
def read(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise SystemExit("closed")
        b += chunk
    return b
idle = socket.create_connection(("127.0.0.1", 53), timeout=5)
idle.sendall(b"\0")  # half a length prefix, never finished
print("udp", subprocess.run(["getent", "hosts", "api.allowed.test"], capture_output=True,
                            text=True, timeout=30).stdout.split(" ")[0])
s = socket.create_connection(("127.0.0.1", 53), timeout=5)
names = sys.argv[1:]
s.sendall(b"".join(struct.pack(">H", len(q(n, i))) + q(n, i) for i, n in enumerate(names)))
for n in names:
    m = read(s, struct.unpack(">H", read(s, 2))[0])
    an = struct.unpack(">H", m[6:8])[0]
    print(n, m[3] & 0xf, socket.inet_ntoa(m[-4:]) if an else "-")
"""

GETADDRINFO = r"""
import socket, sys
for name in sys.argv[1:]:
    try:
        print(name, socket.getaddrinfo(name, 443, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
    except socket.gaierror as e:
        print(name, "gaierror", e.errno)
"""


def events(path, layer, action=None):
    out = []
    try:
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if e.get("layer") == layer and (action is None or e.get("action") == action):
                    out.append(e)
    except FileNotFoundError:
        pass
    return out


class PolicyDns:
    """Mixin: subclasses set MODE."""
    MODE = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = rf.TempDir()
        cls.dir = cls.tmp.__enter__()
        cls.out = rf.OutsideDir()
        cls.outdir = cls.out.__enter__()
        cls.policy = os.path.join(cls.dir, "p.yaml")
        with open(cls.policy, "w") as f:
            f.write(POLICY.format(mode=cls.MODE))
        os.chmod(cls.policy, 0o644)
        for name, text in (("direct.py", DIRECT_QUERY), ("gai.py", GETADDRINFO),
                           ("tcp.py", TCP_QUERY)):
            with open(os.path.join(cls.dir, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(cls.dir, name), 0o644)

    @classmethod
    def tearDownClass(cls):
        cls.out.__exit__(None, None, None)
        cls.tmp.__exit__(None, None, None)

    def sandbox(self, script, audit=None):
        extra = ["--workdir", self.dir]
        if audit:
            extra += ["--audit", audit]
        return rf.run(["/bin/sh", "-c", script], policy=self.policy, extra=extra, cwd=self.dir)

    def audit_path(self, name):
        return os.path.join(self.outdir, f"{self.MODE}-{name}.jsonl")

    def test_policy_name_resolves_other_name_nxdomain_audited(self):
        if self.MODE == "platform":
            self.skipTest("platform mode does not serve policy DNS yet (docs/dns.md)")
        audit = self.audit_path("getent")
        r = self.sandbox("getent hosts api.allowed.test; echo rc=$?; "
                         "getent hosts static.test; echo rc=$?; "
                         "getent hosts x.wild.test; echo rc=$?; "
                         "getent hosts other.test; echo rc=$?", audit)
        lines = r.stdout.split("\n")
        self.assertRegex(lines[0], r"^198\.1[89]\.\d+\.\d+\s+api\.allowed\.test$", r.stdout + r.stderr)
        self.assertEqual(lines[1], "rc=0")
        self.assertRegex(lines[2], r"^198\.1[89]\.\d+\.\d+\s+static\.test$")
        self.assertRegex(lines[4], r"^198\.1[89]\.\d+\.\d+\s+x\.wild\.test$")
        self.assertEqual(lines[6], "rc=2", r.stdout)  # not found
        self.assertEqual(len(set(l.split()[0] for l in (lines[0], lines[2], lines[4]))), 3)
        n = rf.wait_count(lambda: len([e for e in events(audit, "dns", "deny")
                                       if e["subject"] == "other.test"]), 1)
        self.assertGreaterEqual(n, 1, events(audit, "dns"))
        deny = [e for e in events(audit, "dns", "deny") if e["subject"] == "other.test"][0]
        self.assertEqual(deny["rcode"], "NXDOMAIN")
        self.assertIn("network_policies", deny["hint"])
        self.assertEqual(deny.get("binary"), "/usr/bin/getent", deny)  # who asked
        self.assertGreater(deny.get("pid", 0), 0)
        self.assertFalse([e for e in events(audit, "dns") if e["subject"] != "other.test"
                          and e["action"] == "deny"])

    def test_python_getaddrinfo(self):
        if self.MODE == "platform":
            self.skipTest("platform mode does not serve policy DNS yet (docs/dns.md)")
        r = self.sandbox(f"{rf.PY} gai.py api.allowed.test other.test")
        got = dict(l.split(" ", 1) for l in r.stdout.splitlines())
        self.assertRegex(got.get("api.allowed.test", ""), r"^198\.1[89]\.", r.stdout + r.stderr)
        self.assertTrue(got.get("other.test", "").startswith("gaierror"), r.stdout)

    def test_a_non_policy_name_never_resolves(self):
        # Both modes: NXDOMAIN from the sandbox's resolver, or no DNS at all.
        r = self.sandbox(f"getent hosts other.test; echo rc=$?; {rf.PY} gai.py other.test")
        self.assertEqual(r.stdout.split("\n")[0], "rc=2", r.stdout + r.stderr)
        self.assertIn("other.test gaierror", r.stdout)

    def test_query_to_another_resolver_never_arrives(self):
        outside = UdpSink("127.0.0.2", 5353)
        try:
            control = subprocess.run([rf.PY, os.path.join(self.dir, "direct.py"), "127.0.0.2",
                                      "5353", "other.test"], capture_output=True, text=True,
                                     timeout=30)
            self.assertEqual(control.stdout.strip(), "sent")
            self.assertEqual(rf.wait_count(lambda: outside.count.n, 2), 2)  # the probe works
            r = self.sandbox(f"{rf.PY} direct.py 127.0.0.2 5353 other.test")
            self.assertIn(r.stdout.strip().split(" ")[0], ("sent", "ERR"), r.stdout + r.stderr)
            # Nothing more arrives (bounded wait for a datagram that must not come).
            self.assertEqual(rf.wait_count(lambda: outside.count.n, 3, timeout=1.0), 2)
        finally:
            outside.close()

    def test_exfiltration_shaped_names_audited_and_rate_limited(self):
        if self.MODE == "platform":
            self.skipTest("platform mode does not serve policy DNS yet (docs/dns.md)")
        audit = self.audit_path("exfil")
        names = [f"{i:02d}{'a' * 48}.wild.test" for i in range(10)]
        r = self.sandbox(f"{rf.PY} gai.py " + " ".join(names), audit)
        got = dict(l.split(" ", 1) for l in r.stdout.splitlines())
        answered = [n for n in names if got.get(n, "").startswith("198.1")]
        self.assertEqual(len(answered), 6, r.stdout + r.stderr)  # the shaped budget a minute
        self.assertEqual(answered, names[:6])
        n = rf.wait_count(lambda: len(events(audit, "dns", "suspect")), 6)
        self.assertEqual(n, 6)
        refused = [e for e in events(audit, "dns", "deny") if e.get("rcode") == "REFUSED"]
        self.assertGreaterEqual(len(refused), 4)
        self.assertTrue(all(e["wildcard"] == "*.wild.test" for e in refused))

    def test_control_without_ringfence(self):
        # The host's resolver as usual: localhost from /etc/hosts, and the
        # test names are not real names (so only the sandbox makes them resolve).
        r = subprocess.run(["getent", "hosts", "localhost"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0)
        r = subprocess.run(["getent", "hosts", "api.allowed.test"], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("198.18.", r.stdout)


@unittest.skipUnless(rf.IS_ROOT, "namespace mode as root")
class NamespaceMode(PolicyDns, unittest.TestCase):
    MODE = "namespace"

    def test_resolv_conf_and_hosts_are_the_sandboxs(self):
        r = self.sandbox("cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; "
                         "echo x > /etc/resolv.conf; echo rc=$?; getent hosts localhost")
        conf, hosts, rest = r.stdout.split("---\n")
        self.assertIn("nameserver 127.0.0.1", conf)
        self.assertNotIn("nameserver", conf.replace("nameserver 127.0.0.1", ""))
        self.assertIn("localhost", hosts)
        self.assertNotIn("rc=0", rest)
        self.assertRegex(rest, r"(127\.0\.0\.1|::1)\s+localhost")
        me = subprocess.run(["hostname"], capture_output=True, text=True, timeout=30).stdout.strip()
        if me and me != "localhost":
            r = self.sandbox("getent hosts $(hostname)")
            self.assertRegex(r.stdout, r"^127\.0\.1\.1\s+" + re.escape(me), r.stdout + r.stderr)

    def test_dns_over_tcp(self):
        r = self.sandbox(f"{rf.PY} tcp.py api.allowed.test other.test x.wild.test")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 4, r.stdout + r.stderr)
        self.assertRegex(lines[0], r"^udp 198\.1[89]\.")
        self.assertRegex(lines[1], r"^api\.allowed\.test 0 198\.1[89]\.")
        self.assertEqual(lines[2], "other.test 3 -")  # NXDOMAIN
        self.assertRegex(lines[3], r"^x\.wild\.test 0 198\.1[89]\.")

    def test_effective_policy_shows_the_dns_set_up(self):
        with open(self.policy) as f:
            e = rf.effective(f.read())
        dns = e["enforcement"]["network"]["dns"]
        self.assertIn("127.0.0.1:53", dns["resolver"])
        self.assertIn("api.allowed.test", dns["names"])
        self.assertIn("static.test", dns["names"])
        self.assertTrue(any("*.wild.test" in w for w in dns["wildcard_warnings"]))

    def test_unprivileged_namespace_mode_serves_dns(self):
        as_user = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                   "--inh-caps=-all", "--bounding-set=-all"]
        r = subprocess.run(as_user + [rf.BIN, "run", "--policy", self.policy, "--workdir",
                                      self.dir, "--", "getent", "hosts", "api.allowed.test"],
                           capture_output=True, text=True, timeout=60, cwd=self.dir)
        if "unprivileged user namespace" not in r.stderr:
            self.skipTest("no unprivileged user namespaces here: " + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^198\.1[89]\.")


class PlatformMode(PolicyDns, unittest.TestCase):
    MODE = "platform"

    def test_effective_policy_says_dns_is_not_served(self):
        with open(self.policy) as f:
            e = rf.effective(f.read())
        dns = e["enforcement"]["network"]["dns"]
        self.assertIn("not served", dns["status"])


if __name__ == "__main__":
    unittest.main()
