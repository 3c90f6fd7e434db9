"""Transparent TCP (`protocol: tcp`) and capture of direct connects
(docs/transparent-tcp.md), in both network modes, end to end with servers
on the host's loopback: the command connects to a policy name's synthetic
address (198.18.0.0/15, as the run's policy DNS hands it out; the tests
read it from `policy show --effective`, which shows the same per-policy
allocation) and the connect guard carries the connection through the
proxy to the real, pinned destination. Each test has a control without
ringfence showing that the probe itself works."""
import json
import os
import shutil
import socket
import subprocess
import unittest

import netfixtures
import rf

NAME = "redis.rf.test"

POLICY = """version: 1
network:
  mode: {mode}
  hosts: {{{name}: 127.0.0.1, web.rf.test: 127.0.0.1}}
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/dev/null]
network_policies:
  redis:
    name: redis-native-tcp
    endpoints:
      - {{host: {name}, port: {port}, protocol: tcp, allowed_ips: [127.0.0.1]}}
      - {{host: web.rf.test, port: {other}, allowed_ips: [127.0.0.1]}}
    binaries:
      - {{path: "/**"}}
"""

# Connects to each (address, port) of argv, sends a line and prints what
# came back, or the errno name of a refused connect.
CLIENT = r"""
import errno, socket, sys
for arg in sys.argv[1:]:
    host, port = arg.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=10)
    except OSError as e:
        print(arg, "refused", errno.errorcode.get(e.errno, e.errno))
        continue
    s.sendall(b"PING transparent\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print(arg, "got", data.decode().strip() or "EOF")
    s.close()
"""


def synthetic_address(policy, name):
    """The synthetic address a run of `policy` hands out for `name`."""
    capture = rf.effective(policy)["network"]["capture"]
    for n in capture.get("names", []):
        if n["name"] == name:
            return n["address"]
    raise AssertionError(f"no synthetic address for {name}: {json.dumps(capture)}")


def audit_events(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class TransparentTcpMixin:
    MODE = None

    def setUp(self):
        self.echo = netfixtures.EchoServer()
        self.addCleanup(self.echo.close)
        self.other = netfixtures.free_port()
        self.policy = POLICY.format(mode=self.MODE, name=NAME, port=self.echo.port,
                                    other=self.other)
        self.out = rf.OutsideDir()
        self.addCleanup(self.out.__exit__)
        self.audit = os.path.join(self.out.path, "audit.jsonl")

    def run_client(self, *targets):
        return rf.run([rf.PY, "-c", CLIENT] + list(targets), policy=self.policy,
                      extra=["--audit", self.audit], timeout=60)

    def test_control_without_ringfence(self):
        r = subprocess.run([rf.PY, "-c", CLIENT, f"127.0.0.1:{self.echo.port}"],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("got PING transparent", r.stdout, r.stderr)

    def test_raw_tcp_allowed_and_another_port_refused(self):
        addr = synthetic_address(self.policy, NAME)
        self.assertTrue(addr.startswith("198.1"), addr)
        spare = netfixtures.free_port()
        r = self.run_client(f"{addr}:{self.echo.port}", f"{addr}:{spare}")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"{addr}:{self.echo.port} got PING transparent", r.stdout, r.stderr)
        self.assertRegex(r.stdout, rf"{addr}:{spare} refused (EACCES|ECONNREFUSED)")
        self.assertEqual(rf.wait_count(lambda: self.echo.count, 1), 1)
        events = audit_events(self.audit)
        allowed = [e for e in events if e.get("action") == "allow" and e.get("captured") == "tcp"]
        self.assertTrue(allowed, events)
        self.assertEqual(allowed[0]["host"], NAME)
        self.assertEqual(allowed[0]["port"], self.echo.port)
        self.assertEqual(allowed[0]["binary"], os.path.realpath(rf.PY))
        self.assertTrue(any(e.get("action") == "deny" and e.get("subject") == f"{NAME}:{spare}"
                            for e in events), events)

    def test_address_never_handed_out_refused(self):
        r = self.run_client(f"198.18.200.7:{self.echo.port}")
        self.assertRegex(r.stdout, r"refused (EACCES|ECONNREFUSED)", r.stderr)
        self.assertEqual(self.echo.count, 0)
        events = audit_events(self.audit)
        self.assertTrue(any(e.get("action") == "deny" and "198.18.200.7" in e.get("subject", "")
                            for e in events), events)

    def test_l4_endpoint_off_80_443_not_captured(self):
        # web.rf.test has no protocol: reached only through the proxy on a
        # port other than 80/443, a direct connect is refused with a hint.
        addr = synthetic_address(self.policy, "web.rf.test")
        r = self.run_client(f"{addr}:{self.other}")
        self.assertRegex(r.stdout, r"refused (EACCES|ECONNREFUSED)", r.stderr)
        events = audit_events(self.audit)
        deny = [e for e in events if e.get("subject") == f"web.rf.test:{self.other}"]
        self.assertTrue(deny and "protocol: tcp" in deny[0].get("hint", ""), events)


@unittest.skipUnless(rf.IS_ROOT, "namespace mode as root")
class NamespaceMode(TransparentTcpMixin, unittest.TestCase):
    MODE = "namespace"


class PlatformMode(TransparentTcpMixin, unittest.TestCase):
    MODE = "platform"


if __name__ == "__main__":
    unittest.main()
