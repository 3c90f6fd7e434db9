"""Request smuggling and parser hostility against the forward proxy (issue 11),
end to end: the real `ringfence proxy` between a raw socket client and a
recording upstream on loopback. Every hostile head must be refused with a
well-formed 400 (431 for oversized heads, 501 for unsupported transfer
codings), the connection closed, and nothing may reach the upstream. Each
verdict is compared with an independent parser, python3-h11 (as a server);
where h11 is more lenient the case says so and ringfence must still refuse.
Heads that ringfence accepts on purpose (identical duplicate Content-Length,
absolute-form with a different Host) are checked at the upstream: exactly
one request, framed as the proxy counted it. Every wait is bounded."""
import os
import socket
import threading
import time
import unittest

import h11

import test_proxy as px

MAX_HEAD = 8192


def h11_verdict(data):
    """What h11, as the upstream server, makes of `data`: ("reject", status
    hint), ("complete", None) for one whole request, or ("incomplete", None).
    The bytes arrive in 4 KiB reads, as from a socket, with the same head
    limit as the proxy's."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    try:
        for off in range(0, len(data), 4096):
            conn.receive_data(data[off:off + 4096])
            for _ in range(10000):
                ev = conn.next_event()
                if ev is h11.NEED_DATA or ev is h11.PAUSED:
                    break
                if isinstance(ev, h11.EndOfMessage):
                    return ("complete", None)
    except h11.RemoteProtocolError as e:
        return ("reject", e.error_status_hint)
    return ("incomplete", None)


def upstream_requests(data):
    """Splits what the upstream received into requests with h11. Returns
    (requests, leftover bytes, error): each request is (method, target,
    headers, body). Bytes after a `Connection: close` request are leftover."""
    reqs, body, cur = [], b"", None
    conn = h11.Connection(h11.SERVER)
    try:
        conn.receive_data(data)
        for _ in range(10000):
            ev = conn.next_event()
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                break
            if isinstance(ev, h11.Request):
                cur, body = ev, b""
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                reqs.append((cur.method, cur.target, cur.headers, body))
                if conn.their_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()  # raises if the server side may not continue
    except h11.ProtocolError as e:
        return reqs, conn.trailing_data[0], str(e)
    return reqs, conn.trailing_data[0], None


class RecordingUpstream:
    """HTTP/1.1 server on 127.0.0.1 that records every byte each connection
    delivers (until the peer closes, at most 2 s), and answers a small 200
    after the first complete request."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.done = 0  # connections finished
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _serve(self, c, rec):
        c.settimeout(0.1)
        answered = False
        deadline = time.time() + 2
        try:
            while time.time() < deadline:
                try:
                    b = c.recv(65536)
                except socket.timeout:
                    if answered:
                        continue
                    b = None
                if b == b"":
                    break
                if b:
                    rec.extend(b)
                if not answered and h11_verdict(bytes(rec))[0] in ("complete", "reject"):
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                              b"Connection: close\r\n\r\nok")
                    answered = True
                    deadline = min(deadline, time.time() + 0.5)  # smuggled bytes arrive by then
        except OSError:
            pass
        finally:
            c.close()
            with self.lock:
                self.done += 1

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            rec = bytearray()
            with self.lock:
                self.conns.append(rec)
            threading.Thread(target=self._serve, args=(c, rec), daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.conns)

    def wait_done(self, n, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if self.done >= n:
                    return True
            time.sleep(0.02)
        return False

    def close(self):
        self.stop_flag.set()
        self.thread.join(5)
        self.sock.close()


def exchange(addr, data, timeout=5):
    """Sends `data` (without closing the write side) and reads until the proxy
    closes. Returns (response bytes, closed_by_proxy)."""
    s = socket.create_connection(addr, timeout=timeout)
    out = b""
    closed = False
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before everything was sent; the answer is still there
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            out += b
    finally:
        s.close()
    return out, closed


def parse_response(resp):
    """The proxy's answer read by h11 as a client: (status, body) or raises."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(resp)
    conn.receive_data(b"")
    status, body = None, b""
    for _ in range(1000):
        ev = conn.next_event()
        if isinstance(ev, h11.Response):
            status = ev.status_code
        elif isinstance(ev, h11.Data):
            body += ev.data
        elif isinstance(ev, (h11.EndOfMessage, h11.ConnectionClosed)) or ev is h11.NEED_DATA:
            break
    return status, body


# (name, head after the request line, expected ringfence status, h11 expectation)
# h11 expectation: "reject", or a string saying how h11 is more lenient.
def hostile_cases(target):
    host = b"Host: up.test\r\n"  # h11 requires it in HTTP/1.1; the proxy replaces it
    rl = b"POST " + target + b" HTTP/1.1\r\n" + host
    get = b"GET " + target + b" HTTP/1.1\r\n" + host
    smuggled = b"GET " + target + b"smuggled HTTP/1.1\r\nHost: up.test\r\n\r\n"
    long_value = b"a" * 100000
    return [
        ("cl_and_te", rl + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
         {400}, "lenient: h11 lets Transfer-Encoding win over Content-Length"),
        ("te_and_cl", rl + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n" + smuggled,
         {400}, "lenient: h11 lets Transfer-Encoding win over Content-Length"),
        ("duplicate_cl_conflicting", rl + b"Content-Length: 4\r\nContent-Length: 48\r\n\r\nabcd" + smuggled,
         {400}, "reject"),
        ("cl_list_conflicting", rl + b"Content-Length: 4, 48\r\n\r\nabcd" + smuggled, {400}, "reject"),
        ("cl_sign_plus", rl + b"Content-Length: +4\r\n\r\nabcd", {400}, "reject"),
        ("cl_negative", rl + b"Content-Length: -1\r\n\r\n", {400}, "reject"),
        ("cl_inner_space", rl + b"Content-Length: 4 4\r\n\r\nabcd", {400}, "reject"),
        ("cl_hex", rl + b"Content-Length: 0x4\r\n\r\nabcd", {400}, "reject"),
        ("cl_empty", rl + b"Content-Length:\r\n\r\n", {400}, "reject"),
        ("cl_huge", rl + b"Content-Length: " + b"9" * 30 + b"\r\n\r\n", {400},
         "lenient: h11 0.14 accepts any number of digits and waits for the body"),
        ("cl_ws_before_colon", rl + b"Content-Length : 4\r\n\r\nabcd" + smuggled, {400}, "reject"),
        ("te_ws_before_colon", rl + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled,
         {400}, "reject"),
        ("te_duplicate", rl + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         {400}, "reject"),
        # Unsupported codings: 501 (RFC 9112 6.1 asks 400 when chunked is not
        # the final coding; ringfence and h11 both answer 501 there).
        ("te_chunked_identity", rl + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled,
         {400, 501}, "reject"),
        ("te_identity_chunked", rl + b"Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
         {400, 501}, "reject"),
        ("te_xchunked", rl + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", {400, 501}, "reject"),
        ("te_trailing_comma", rl + b"Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", {400, 501}, "reject"),
        ("te_obs_fold", rl + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled,
         {400}, "lenient: h11 unfolds obs-fold"),
        ("obs_fold", get + b"X-A: 1\r\n\tfolded\r\n\r\n", {400}, "lenient: h11 unfolds obs-fold"),
        ("space_before_first_field", b"GET " + target + b" HTTP/1.1\r\n X-A: 1\r\n" + host + b"\r\n",
         {400}, "reject"),
        ("bare_lf_everywhere", (get + b"\r\n").replace(b"\r\n", b"\n"),
         {400}, "lenient: h11 accepts bare LF line ends"),
        ("bare_lf_in_field", get + b"X-A: 1\nTransfer-Encoding: chunked\r\n\r\n",
         {400}, "lenient: h11 accepts bare LF line ends"),
        ("bare_cr_in_field", get + b"X-A: 1\rTransfer-Encoding: chunked\r\n\r\n", {400}, "reject"),
        ("nul_in_field", get + b"X-A: a\x00b\r\n\r\n", {400}, "reject"),
        ("nul_in_target", b"GET " + target + b"\x00 HTTP/1.1\r\n" + host + b"\r\n", {400}, "reject"),
        ("space_in_target", b"GET " + target + b" x HTTP/1.1\r\n" + host + b"\r\n", {400}, "reject"),
        ("http_0_9_version", b"GET " + target + b" HTTP/0.9\r\n" + host + b"\r\n", {400},
         "lenient: h11 accepts any HTTP/d.d version"),
        ("http_1_2_version", b"GET " + target + b" HTTP/1.2\r\n" + host + b"\r\n", {400},
         "lenient: h11 accepts any HTTP/1.x version"),
        ("empty_field_name", get + b": x\r\n\r\n", {400}, "reject"),
        ("field_name_with_slash", get + b"X/A: x\r\n\r\n", {400}, "reject"),
        ("connection_names_content_length",
         rl + b"Connection: Content-Length\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled,
         {400}, "lenient: h11 does not act on Connection options"),
        ("connection_names_transfer_encoding",
         rl + b"Connection: close, Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n"
         + b"%x\r\n" % len(smuggled) + smuggled + b"\r\n0\r\n\r\n",
         {400}, "lenient: h11 does not act on Connection options"),
        ("long_field_line", get + b"X-Long: " + long_value + b"\r\n\r\n", {431}, "reject"),
        ("long_request_line", b"GET " + target + long_value + b" HTTP/1.1\r\n" + host + b"\r\n", {431}, "reject"),
        ("long_line_no_end", get + b"X-Long: " + long_value, {431}, "reject"),
        ("many_fields", get + b"X-F: 0123456789\r\n" * 2000 + b"\r\n", {431}, "reject"),
    ]


def policy_for(port):
    return ("version: 1\nnetwork:\n  hosts: {up.test: 127.0.0.1}\nnetwork_policies:\n  up:\n"
            "    endpoints:\n      - { host: up.test, port: %d, allowed_ips: [127.0.0.1/32] }\n" % port)


class HttpHostility(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = RecordingUpstream()
        cls.proxy = px.Proxy(policy_for(cls.up.port), args=["--max-head-bytes", str(MAX_HEAD)])
        cls.target = b"http://up.test:%d/" % cls.up.port

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.up.close()

    def test_hostile_heads_refused_and_closed(self):
        before = self.up.count()
        fds = self.proxy.fd_count()
        lenient = []
        for name, data, want, h11_expect in hostile_cases(self.target):
            with self.subTest(case=name):
                resp, closed = exchange(self.proxy.addr, data)
                status, body = parse_response(resp)  # well-formed for an HTTP client
                self.assertIn(status, want, "%s: got %r" % (name, resp[:200]))
                self.assertTrue(body, name)  # says why
                self.assertTrue(closed, "%s: proxy left the connection open" % name)
                verdict, hint = h11_verdict(data)
                if h11_expect == "reject":
                    self.assertEqual(verdict, "reject", "%s: h11 accepted it" % name)
                else:
                    # Documented leniency of h11: if h11 rejects after all,
                    # the case list is out of date.
                    self.assertNotEqual(verdict, "reject", "%s: h11 now rejects (%s)" % (name, h11_expect))
                    lenient.append(name)
        self.assertEqual(self.up.count(), before, "a refused request reached the upstream")
        self.assertLessEqual(self.proxy.fd_count(), fds + 2)
        self.assertGreater(len(lenient), 0)

    def test_every_byte_split_still_refused(self):
        """The verdict does not depend on how the bytes are split across reads."""
        before = self.up.count()
        data = (b"POST " + self.target + b" HTTP/1.1\r\nContent-Length: 4\r\n"
                b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n")
        out = self._send_pieces([data[i:i + 1] for i in range(len(data))], gap=0.002)
        self.assertEqual(px.status_of(out), 400, out[:200])
        self.assertEqual(self.up.count(), before)

    def _forward(self, data):
        n = self.up.count()
        resp, closed = exchange(self.proxy.addr, data)
        self.assertGreater(self.up.count(), n, "the request did not reach the upstream")
        self.assertTrue(self.up.wait_done(n + 1, timeout=5))
        with self.up.lock:
            got = bytes(self.up.conns[n])
        return resp, closed, got

    def test_accepted_heads_reach_upstream_as_one_request(self):
        t = self.target
        cases = [
            # RFC 9110 8.6: identical duplicates may be accepted (h11 does too).
            ("identical_duplicate_cl", b"POST " + t + b" HTTP/1.1\r\nHost: up.test\r\nContent-Length: 4\r\n"
             b"Content-Length: 4\r\n\r\nabcd", b"abcd"),
            # RFC 9112 3.2.2: a proxy replaces Host with the target's authority.
            ("absolute_form_other_host", b"POST " + t + b" HTTP/1.1\r\nHost: evil.test\r\n"
             b"Content-Length: 4\r\n\r\nabcd", b"abcd"),
            # Bytes past Content-Length are not relayed (no pipelining).
            ("pipelined_after_body", b"POST " + t + b" HTTP/1.1\r\nHost: up.test\r\n"
             b"Content-Length: 4\r\n\r\nabcd"
             b"GET " + t + b"smuggled HTTP/1.1\r\nHost: up.test\r\n\r\n", b"abcd"),
            ("chunked_body", b"POST " + t + b" HTTP/1.1\r\nHost: up.test\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n"
             b"4\r\nabcd\r\n0\r\n\r\n", b"abcd"),
        ]
        for name, data, body in cases:
            with self.subTest(case=name):
                self.assertNotEqual(h11_verdict(data)[0], "reject", name)
                resp, closed, got = self._forward(data)
                self.assertEqual(px.status_of(resp), 200, "%s: %r" % (name, resp[:200]))
                reqs, leftover, err = upstream_requests(got)
                self.assertIsNone(err, "%s: upstream saw %r" % (name, got[:300]))
                self.assertEqual(len(reqs), 1, "%s: upstream saw %r" % (name, got[:300]))
                self.assertEqual(leftover, b"", "%s: smuggled bytes %r" % (name, leftover[:200]))
                method, target, headers, rbody = reqs[0]
                self.assertEqual(rbody, body, name)
                self.assertNotIn(b"smuggled", got, name)
                hosts = [v for k, v in headers if k == b"host"]
                self.assertEqual(hosts, [b"up.test:%d" % self.up.port], name)
                cls = [v for k, v in headers if k == b"content-length"]
                tes = [v for k, v in headers if k == b"transfer-encoding"]
                self.assertFalse(cls and tes, name)
                self.assertLessEqual(len(cls), 1, name)
                self.assertTrue(target.startswith(b"/"), name)

    def _chunked_head(self):
        return (b"POST " + self.target + b" HTTP/1.1\r\nHost: up.test\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")

    def test_bad_chunk_size_refused(self):
        """A malformed chunked body that arrives with the head is refused
        before any upstream is contacted."""
        data = self._chunked_head() + b"zz\r\nabcd\r\n0\r\n\r\n"
        self.assertEqual(h11_verdict(data)[0], "reject")
        n = self.up.count()
        resp, closed = exchange(self.proxy.addr, data)
        self.assertEqual(px.status_of(resp), 400, resp[:200])
        self.assertIn(b"chunk", resp)
        self.assertTrue(closed)
        self.assertEqual(self.up.count(), n)

    def test_chunked_verdicts_match_h11(self):
        """Each chunked body is judged like h11 judges it; where h11 is more
        lenient (whitespace after the size) ringfence still refuses."""
        cases = [
            # (name, body, ringfence refuses, h11 refuses)
            ("ok_ext_trailers", b"3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", False, False),
            ("ok_uppercase_hex", b"A\r\n0123456789\r\n0\r\n\r\n", False, False),
            ("not_hex", b"zz\r\nabcd\r\n0\r\n\r\n", True, True),
            ("negative", b"-4\r\nabcd\r\n0\r\n\r\n", True, True),
            ("hex_prefix", b"0x4\r\nabcd\r\n0\r\n\r\n", True, True),
            ("data_longer_than_size", b"2\r\nabcd\r\n0\r\n\r\n", True, True),
            ("bare_lf_size", b"4\nabcd\r\n0\r\n\r\n", True, True),
            ("huge_size", b"1" * 24 + b"\r\nabcd\r\n", True, True),
            ("space_after_size", b"4 \r\nabcd\r\n0\r\n\r\n", True, False),
        ]
        for name, body, refuse, h11_refuses in cases:
            with self.subTest(case=name):
                data = self._chunked_head() + body
                self.assertEqual(h11_verdict(data)[0] == "reject", h11_refuses, name)
                n = self.up.count()
                resp, closed = exchange(self.proxy.addr, data)
                if refuse:
                    self.assertEqual(px.status_of(resp), 400, "%s: %r" % (name, resp[:200]))
                    self.assertTrue(closed, name)
                    self.assertEqual(self.up.count(), n, name)
                else:
                    self.assertEqual(px.status_of(resp), 200, "%s: %r" % (name, resp[:200]))

    def test_bytes_after_last_chunk_not_relayed(self):
        """After the terminating 0-chunk (and its trailers) nothing more of
        the client's bytes reaches the upstream, whether they came with the
        head or later."""
        smuggle = b"GET " + self.target + b"smuggled HTTP/1.1\r\nHost: up.test\r\n\r\n"
        data = self._chunked_head() + b"0\r\n\r\n" + smuggle
        resp, closed, got = self._forward(data)
        self.assertEqual(px.status_of(resp), 200)
        self.assertNotIn(b"smuggled", got)
        reqs, leftover, err = upstream_requests(got)
        self.assertIsNone(err)
        self.assertEqual((len(reqs), leftover), (1, b""))

        # Body and smuggled request arrive after the head, in pieces.
        pieces = [self._chunked_head(), b"4\r\nab", b"cd\r\n0\r\nX-T", b": v\r\n\r\n" + smuggle]
        n = self.up.count()
        resp = self._send_pieces(pieces)
        self.assertEqual(px.status_of(resp), 200, resp[:200])
        self.assertTrue(self.up.wait_done(n + 1, timeout=5))
        with self.up.lock:
            got = bytes(self.up.conns[n])
        self.assertNotIn(b"smuggled", got)
        reqs, leftover, err = upstream_requests(got)
        self.assertIsNone(err, got)
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0][3], b"abcd")
        self.assertEqual(leftover, b"")

    def test_bad_chunk_mid_stream_refused(self):
        """A malformed chunk that arrives after a valid part was relayed:
        the client gets a 400 (the upstream had not answered yet), the
        upstream connection is dropped, and the bad bytes never reach it."""
        pieces = [self._chunked_head() + b"4\r\nabcd\r\n", b"zz\r\nEVIL\r\n0\r\n\r\n"]
        n = self.up.count()
        resp = self._send_pieces(pieces)
        self.assertEqual(px.status_of(resp), 400, resp[:200])
        self.assertIn(b"chunk", resp)
        self.assertTrue(self.up.wait_done(n + 1, timeout=5))
        with self.up.lock:
            got = bytes(self.up.conns[n])
        self.assertIn(b"abcd", got)  # the valid part was relayed ...
        self.assertNotIn(b"EVIL", got)  # ... the rest never
        self.assertNotIn(b"zz", got)

    def _send_pieces(self, pieces, gap=0.15, timeout=5):
        """Sends each piece after a pause (so the proxy sees separate reads)
        and reads until the proxy closes. Returns the response."""
        s = socket.create_connection(self.proxy.addr, timeout=timeout)
        out = b""
        try:
            for p in pieces:
                try:
                    s.sendall(p)
                except (BrokenPipeError, ConnectionResetError):
                    break
                time.sleep(gap)
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    b = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not b:
                    break
                out += b
        finally:
            s.close()
        return out

    def test_proxy_survives_and_serves(self):
        """After the hostile cases the proxy still serves a plain request."""
        for _, data, _, _ in hostile_cases(self.target)[:5]:
            exchange(self.proxy.addr, data, timeout=2)
        resp, closed, got = self._forward(b"GET " + self.target + b"ok HTTP/1.1\r\nHost: up.test\r\n\r\n")
        self.assertEqual(px.status_of(resp), 200)
        self.assertTrue(resp.endswith(b"ok"))
        self.assertIsNone(self.proxy.p.poll())
        self.assertNotIn("Sanitizer", self.proxy.stderr())  # when run on an ASan build


if __name__ == "__main__":
    unittest.main()
