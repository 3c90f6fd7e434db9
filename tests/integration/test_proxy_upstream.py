"""Upstream (corporate) proxy chaining, end to end through the real
`ringfence proxy` and `ringfence run`: with `network.upstream_proxy`,
every allowed destination is reached by CONNECT through a local upstream
proxy that logs what it carried and requires credentials; the policy, the
SSRF rule and DNS pinning apply to the destination as before (the upstream
is asked for the checked address and never sees a refused one); loopback
destinations are dialed directly (NO_PROXY matching: the unit tests); the
credentials never reach the sandbox. Every wait is bounded."""
import base64
import os
import socket
import threading
import unittest

import rf
import test_proxy as px
from netfixtures import EchoServer

USER, PASSWORD = "corp-user", "s3cret-upstream"


class UpstreamProxy(EchoServer):
    """A corporate proxy stand-in on 127.0.0.1: answers CONNECT with 407
    unless Proxy-Authorization carries USER:PASSWORD, logs every request
    head, and tunnels each accepted CONNECT to `target_port` on 127.0.0.1
    whatever address was asked (the tests ask for unroutable ones)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.log = []  # (request line, authorization header or None)
        self.lock = threading.Lock()
        super().__init__()

    def _serve(self, c):
        c.settimeout(10)
        try:
            head = rf.read_head(c)
            if not head:
                return
            lines = head.decode("latin-1").split("\r\n")
            auth = next((l.split(":", 1)[1].strip() for l in lines
                         if l.lower().startswith("proxy-authorization:")), None)
            with self.lock:
                self.log.append((lines[0], auth))
            want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if not lines[0].startswith("CONNECT ") or auth != want:
                c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                return
            up = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            t = threading.Thread(target=self._copy, args=(up, c), daemon=True)
            t.start()
            self._copy(c, up)
            t.join(10)
            up.close()
        except OSError:
            pass
        finally:
            c.close()

    @staticmethod
    def _copy(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
        except OSError:
            pass

    def requests(self):
        with self.lock:
            return list(self.log)


POLICY = """version: 1
network:
  upstream_proxy: from_env
  hosts: {api.test: 203.0.113.7, meta.test: 169.254.169.254, direct.test: 127.0.0.1}
network_policies:
  a:
    endpoints:
      - { host: api.test, port: 443 }
      - { host: meta.test, port: 443 }
      - { host: direct.test, port: %d, allowed_ips: [127.0.0.1/32] }
"""


class UpstreamChaining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo = EchoServer()
        cls.upstream = UpstreamProxy(cls.echo.port)
        url = f"http://{USER}:{PASSWORD}@127.0.0.1:{cls.upstream.port}"
        cls.proxy = px.Proxy(POLICY % cls.echo.port,
                             wrap=["env", "HTTPS_PROXY=" + url])

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.upstream.close()
        cls.echo.close()

    def test_allowed_destination_goes_through_the_upstream(self):
        before = len(self.upstream.requests())
        s, status = px.connect_tunnel(self.proxy, "api.test", 443)
        try:
            self.assertEqual(status, 200, self.proxy.stderr())
            data = os.urandom(20000)
            self.assertEqual(px.echo_roundtrip(s, data, timeout=10), data)
        finally:
            s.close()
        got = self.upstream.requests()[before:]
        self.assertEqual(len(got), 1, got)
        # The checked address, not the name: the upstream resolves nothing.
        self.assertEqual(got[0][0], "CONNECT 203.0.113.7:443 HTTP/1.1")
        allow = [e for e in self.proxy.events() if e["action"] == "allow" and e["host"] == "api.test"]
        self.assertEqual(allow[-1]["upstream_proxy"], "127.0.0.1:%d" % self.upstream.port)
        with open(self.proxy.audit) as f:
            self.assertNotIn(PASSWORD, f.read())

    def test_refused_destinations_never_reach_the_upstream(self):
        before = len(self.upstream.requests())
        for host, port, words in (("other.test", 443, "no network policy"),
                                  ("api.test", 8443, "port 8443 is not allowed"),
                                  ("meta.test", 443, "link-local")):
            resp = self.proxy.raw(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                                  % (host.encode(), port, host.encode(), port))
            self.assertEqual(px.status_of(resp), 403, resp)
            self.assertIn(words, px.json_body(resp)["reason"])
        self.assertEqual(self.upstream.requests()[before:], [])

    def test_loopback_destination_is_dialed_directly(self):
        before, echoed = len(self.upstream.requests()), self.echo.count
        s, status = px.connect_tunnel(self.proxy, "direct.test", self.echo.port)
        try:
            self.assertEqual(status, 200, self.proxy.stderr())
            self.assertEqual(px.echo_roundtrip(s, b"hello", timeout=10), b"hello")
        finally:
            s.close()
        self.assertEqual(self.upstream.requests()[before:], [])
        self.assertEqual(rf.wait_count(lambda: self.echo.count, echoed + 1), echoed + 1)

    def test_wrong_credentials_are_a_502_naming_the_upstream_answer(self):
        url = f"http://{USER}:wrong@127.0.0.1:{self.upstream.port}"
        proxy = px.Proxy(POLICY % self.echo.port, wrap=["env", "HTTPS_PROXY=" + url])
        try:
            resp = proxy.raw(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n")
            self.assertEqual(px.status_of(resp), 502, resp)
            self.assertIn("407 Proxy Authentication Required", px.json_body(resp)["reason"])
            self.assertNotIn(b"wrong", resp)
        finally:
            proxy.stop()

    def test_a_malformed_upstream_setting_is_fatal(self):
        with self.assertRaises(AssertionError) as ctx:
            px.Proxy(POLICY % self.echo.port, wrap=["env", "HTTPS_PROXY=socks5://u:pw@h:1"])
        self.assertIn("only http:// proxies are supported", str(ctx.exception))
        self.assertNotIn("pw@", str(ctx.exception))


class SandboxNeverSeesTheCredentials(unittest.TestCase):
    def test_environment_and_policy_show(self):
        env = dict(os.environ, HTTPS_PROXY=f"http://{USER}:{PASSWORD}@127.0.0.1:9",
                   https_proxy=f"http://{USER}:{PASSWORD}@127.0.0.1:9")
        policy = "version: 1\nnetwork: {upstream_proxy: from_env}\n"
        r = rf.run(["/bin/sh", "-c", "env; echo done"], policy=policy, env=env,
                   extra=["--mode", "platform"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("done", r.stdout)
        self.assertIn("HTTPS_PROXY=http://127.0.0.1:", r.stdout)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        with rf.TempDir() as d:
            path = os.path.join(d, "p.yaml")
            with open(path, "w") as f:
                f.write(f"version: 1\nnetwork: {{upstream_proxy: 'http://{USER}:{PASSWORD}@proxy.test:3128'}}\n")
            shown = rf.ringfence("policy", "show", "--policy", path)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("http://<credentials>@proxy.test:3128", shown.stdout)
        self.assertNotIn(PASSWORD, shown.stdout)


if __name__ == "__main__":
    unittest.main()
