"""Egress proxy limits and protocol strictness, end to end through the real
`ringfence proxy`: 431 past the head limit, 400/405 for what the proxy does
not serve, header/connect/idle timeouts, the connection cap (503, no crash,
no descriptor leak). Every wait is bounded."""
import os
import socket
import threading
import time
import unittest

import test_proxy as px
from test_proxy_ssrf import connect_req


class HoldListener:
    """Accepts connections and keeps them open without sending anything."""

    def __init__(self, backlog=64, accept=True):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(backlog)
        self.port = self.s.getsockname()[1]
        self.held = []
        self.stop_flag = False
        self.s.settimeout(0.1)
        self.t = None
        if accept:
            self.t = threading.Thread(target=self._run, daemon=True)
            self.t.start()

    def _run(self):
        while not self.stop_flag:
            try:
                self.held.append(self.s.accept()[0])
            except (socket.timeout, OSError):
                pass

    def close(self):
        self.stop_flag = True
        if self.t:
            self.t.join(2)
        for c in self.held:
            c.close()
        self.s.close()


def policy_for(port):
    return ("version: 1\nnetwork:\n  hosts: {up.test: 127.0.0.1}\nnetwork_policies:\n  up:\n"
            "    endpoints:\n      - { host: up.test, port: %d, allowed_ips: [127.0.0.1/32] }\n" % port)


def status_once_recovered(proxy, port, within):
    """The status of a CONNECT to up.test:port, retried until it is 200 or
    `within` seconds have passed (the last status then)."""
    status = None
    deadline = time.time() + within
    while time.time() < deadline:
        status = px.status_of(proxy.raw(connect_req("up.test", port), timeout=2))
        if status == 200:
            break
        time.sleep(0.1)
    return status


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = HoldListener()
        cls.proxy = px.Proxy(policy_for(cls.up.port))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.up.close()

    def status(self, data, **kw):
        return px.status_of(self.proxy.raw(data, **kw))

    def test_431_head_too_large(self):
        big = b"GET http://up.test/ HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
        self.assertEqual(self.status(big), 431)

    def test_431_many_headers(self):
        head = b"CONNECT up.test:1 HTTP/1.1\r\n" + b"X-H: 0123456789012345678901234567\r\n" * 300
        self.assertEqual(self.status(head + b"\r\n"), 431)

    def test_head_just_under_limit_is_parsed(self):
        pad = 8192 - len(b"CONNECT other.test:1 HTTP/1.1\r\nX: \r\n\r\n") - 1
        head = b"CONNECT other.test:1 HTTP/1.1\r\nX: " + b"a" * pad + b"\r\n\r\n"
        self.assertEqual(self.status(head), 403)  # parsed, then denied by policy

    def test_400_origin_form(self):
        self.assertEqual(self.status(b"GET / HTTP/1.1\r\nHost: up.test\r\n\r\n"), 400)

    def test_400_http2_preface(self):
        self.assertEqual(self.status(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 400)

    def test_400_https_absolute_form(self):
        self.assertEqual(self.status(b"GET https://up.test/ HTTP/1.1\r\n\r\n"), 400)

    def test_400_connect_without_port(self):
        self.assertEqual(self.status(b"CONNECT up.test HTTP/1.1\r\n\r\n"), 400)

    def test_400_garbage(self):
        self.assertEqual(self.status(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), 400)

    def test_400_bare_lf(self):
        self.assertEqual(self.status(b"GET http://up.test/ HTTP/1.1\nHost: x\n\n"), 400)

    def test_405_unknown_method(self):
        resp = self.proxy.raw(b"BREW http://up.test/ HTTP/1.1\r\n\r\n")
        self.assertEqual(px.status_of(resp), 405)
        self.assertIn(b"Allow: CONNECT", resp)

    def test_client_eof_before_head_is_harmless(self):
        self.assertEqual(self.proxy.raw(b"CONNECT up", shut=True), b"")
        self.assertEqual(self.status(connect_req("up.test", self.up.port), timeout=1), 200)


class ProxyTimeouts(unittest.TestCase):
    def test_header_timeout_408(self):
        with px.Proxy(policy_for(1), ["--header-timeout-ms", "300"]) as proxy:
            t0 = time.time()
            resp = proxy.raw(b"CONNECT up.te", timeout=5)
            dt = time.time() - t0
        self.assertEqual(px.status_of(resp), 408, resp)
        self.assertTrue(0.25 <= dt < 3, dt)

    def test_connect_timeout_504(self):
        # A listener whose accept queue is full drops SYNs: connect() hangs.
        full = HoldListener(backlog=0, accept=False)
        fillers = []
        try:
            for _ in range(4):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", full.port))
                fillers.append(c)
            time.sleep(0.2)
            with px.Proxy(policy_for(full.port), ["--connect-timeout-ms", "500"]) as proxy:
                t0 = time.time()
                resp = proxy.raw(connect_req("up.test", full.port), timeout=8)
                dt = time.time() - t0
                ev = proxy.events()
            self.assertEqual(px.status_of(resp), 504, resp)
            self.assertTrue(0.4 <= dt < 4, dt)
            self.assertIn("timed out", px.json_body(resp)["reason"])
            self.assertTrue(any(e["action"] == "error" for e in ev), ev)
        finally:
            for c in fillers:
                c.close()
            full.close()

    def test_idle_tunnel_closed(self):
        up = HoldListener()
        try:
            with px.Proxy(policy_for(up.port), ["--idle-timeout-ms", "500"]) as proxy:
                s = socket.create_connection(proxy.addr, timeout=5)
                s.sendall(connect_req("up.test", up.port))
                head = s.recv(4096)
                self.assertEqual(px.status_of(head), 200, head)
                t0 = time.time()
                try:
                    rest = s.recv(4096)
                except ConnectionResetError:
                    rest = b""
                dt = time.time() - t0
                s.close()
            self.assertEqual(rest, b"")
            self.assertTrue(0.3 <= dt < 4, dt)
        finally:
            up.close()

    def test_active_tunnel_not_closed_by_idle_timeout(self):
        # An echo upstream; traffic every 200 ms keeps a 500 ms idle timer away.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        srv.settimeout(5)

        def echo():
            try:
                c, _ = srv.accept()
                c.settimeout(5)
                while True:
                    b = c.recv(100)
                    if not b:
                        break
                    c.sendall(b)
                c.close()
            except OSError:
                pass

        t = threading.Thread(target=echo, daemon=True)
        t.start()
        try:
            with px.Proxy(policy_for(srv.getsockname()[1]), ["--idle-timeout-ms", "500"]) as proxy:
                s = socket.create_connection(proxy.addr, timeout=5)
                s.sendall(connect_req("up.test", srv.getsockname()[1]))
                self.assertEqual(px.status_of(s.recv(4096)), 200)
                for i in range(8):  # 1.6 s in total
                    time.sleep(0.2)
                    s.sendall(b"ping%d" % i)
                    self.assertEqual(s.recv(100), b"ping%d" % i)
                s.close()
        finally:
            srv.close()
            t.join(5)


class ProxyCapacity(unittest.TestCase):
    def test_connection_cap_503_and_recovery_without_fd_leak(self):
        up = HoldListener()
        try:
            with px.Proxy(policy_for(up.port), ["--max-connections", "4"]) as proxy:
                base = proxy.fd_count()
                held = [socket.create_connection(proxy.addr, timeout=5) for _ in range(4)]
                time.sleep(0.2)
                over = [px.status_of(proxy.raw(connect_req("up.test", up.port))) for _ in range(3)]
                self.assertEqual(over, [503, 503, 503])
                for s in held:
                    s.close()
                self.assertEqual(status_once_recovered(proxy, up.port, within=5), 200)
                for c in up.held:  # the upstream ends the half-closed tunnel
                    c.close()
                # Descriptors come back to the baseline once everything closed.
                deadline = time.time() + 5
                while time.time() < deadline and proxy.fd_count() != base:
                    time.sleep(0.1)
                self.assertEqual(proxy.fd_count(), base)
                self.assertIsNone(proxy.p.poll(), "proxy died")
        finally:
            up.close()

    def test_out_of_descriptors_without_spinning(self):
        # Found by review: at the descriptor limit the two workers' reserve
        # descriptors were lost to each other, after which both spun on the
        # level-triggered listener at 100% CPU for good.
        up = HoldListener()

        def cpu_seconds(pid):
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

        try:
            with px.Proxy(policy_for(up.port), ["--header-timeout-ms", "20000"],
                          wrap=["prlimit", "--nofile=64:64"]) as proxy:
                busy = []
                for _ in range(4):  # rounds of 200 idle connections at a 64-descriptor limit
                    socks = []
                    for _ in range(200):
                        s = socket.socket()
                        s.setblocking(False)
                        s.connect_ex(proxy.addr)
                        socks.append(s)
                    time.sleep(0.5)
                    before = cpu_seconds(proxy.p.pid)
                    time.sleep(1.5)
                    busy.append(cpu_seconds(proxy.p.pid) - before)
                    for s in socks:
                        s.close()
                    time.sleep(1)
                # Spinning costs a whole CPU per worker: 1.5 s or more per round.
                self.assertLess(max(busy), 0.75, busy)
                self.assertIsNone(proxy.p.poll(), "proxy died")
                self.assertEqual(status_once_recovered(proxy, up.port, within=10), 200)
        finally:
            up.close()

    def test_many_mixed_connections_no_fd_leak(self):
        up = HoldListener()
        try:
            with px.Proxy(policy_for(up.port)) as proxy:
                base = proxy.fd_count()
                reqs = [connect_req("up.test", up.port), connect_req("no.test", 80),
                        b"GET / HTTP/1.1\r\n\r\n", b"BREW x HTTP/1.1\r\n\r\n",
                        b"GET http://up.test:%d/ HTTP/1.1\r\n\r\n" % (up.port + 1)]
                codes = set()
                for i in range(30):
                    codes.add(px.status_of(proxy.raw(reqs[i % len(reqs)], timeout=0.5)))
                self.assertEqual(codes, {200, 403, 400, 405})
                for c in up.held:
                    c.close()
                deadline = time.time() + 5
                while time.time() < deadline and proxy.fd_count() != base:
                    time.sleep(0.1)
                self.assertEqual(proxy.fd_count(), base)
        finally:
            up.close()


if __name__ == "__main__":
    unittest.main()
