"""Endpoints of different inspected protocols on one host (found in review
of the merged inspector): an MCP endpoint must not turn a GraphQL
endpoint's operation rules off, and a body on an MCP path must not carry a
credential placeholder past the scan. Local servers only; bounded waits."""
import http.server
import os
import tempfile
import threading
import unittest

import gqlfixtures as gx
import rf

CLIENT_GQL = r"""
import os, socket, sys, urllib.parse
host, port = sys.argv[1], int(sys.argv[2])
u = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
for accept in ["text/event-stream", "*/*"]:
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
    f = s.makefile("rb")
    f.readline()
    while f.readline() not in (b"\r\n", b""):
        pass
    q = urllib.parse.quote("mutation { deleteRepository }")
    s.sendall(("GET /graphql?query=%s HTTP/1.1\r\nHost: %s:%d\r\nAccept: %s\r\n"
               "Connection: close\r\n\r\n" % (q, host, port, accept)).encode())
    print(accept, f.read(600).decode(errors="replace").split("\r\n", 1)[0], flush=True)
"""

CLIENT_BODY = r"""
import os, socket, sys, urllib.parse
host, port = sys.argv[1], int(sys.argv[2])
u = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
for path in ["/other", "/mcp"]:
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
    f = s.makefile("rb")
    f.readline()
    while f.readline() not in (b"\r\n", b""):
        pass
    body = ("token=" + os.environ["TOKEN"]).encode()
    s.sendall(("PUT %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, host, port, len(body))).encode()
              + body)
    print(path, f.read(300).decode(errors="replace").split("\r\n", 1)[0], flush=True)
"""


def policy(mode, endpoints, extra=""):
    return """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, %%(dir)s]
network:
  mode: %s
  hosts: {api.test: 127.0.0.1}
%snetwork_policies:
  api:
    endpoints:
%s""" % (mode, extra, "".join("      - %s\n" % e for e in endpoints))


class Mixed(unittest.TestCase):
    def run_client(self, source, pol, port, env=None):
        with rf.TempDir() as d:
            prog = os.path.join(d, "client.py")
            with open(prog, "w") as f:
                f.write(source)
            os.chmod(prog, 0o644)
            return rf.run([rf.PY, prog, "api.test", str(port)], policy=pol % {"dir": d},
                          timeout=120, env=env)

    def check_graphql_rules_hold_beside_mcp(self, mode):
        srv = gx.GraphqlServer()
        try:
            p = srv.port
            mcp = ("{host: api.test, port: %d, allowed_ips: [127.0.0.1], protocol: mcp, "
                   "rules: [{allow: {method: initialize}}]}" % p)
            gql = ("{host: api.test, port: %d, allowed_ips: [127.0.0.1], protocol: graphql, "
                   "path: /graphql, rules: [{allow: {operation_type: query, fields: [viewer]}}]}" % p)
            r = self.run_client(CLIENT_GQL, policy(mode, [mcp, gql]), p)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("200", r.stdout, r.stdout)
            self.assertEqual(r.stdout.count("403"), 2, r.stdout)
            self.assertNotIn("deleteRepository", srv.executed.snapshot())
            # Control: the same server executes the mutation when asked directly.
            import urllib.parse
            import urllib.request
            q = urllib.parse.quote("mutation { deleteRepository }")
            urllib.request.urlopen("http://127.0.0.1:%d/graphql?query=%s" % (p, q), timeout=10).read()
            self.assertIn("deleteRepository", srv.executed.snapshot())
        finally:
            srv.close()

    def test_graphql_rules_hold_beside_mcp_platform(self):
        self.check_graphql_rules_hold_beside_mcp("platform")

    @unittest.skipUnless(rf.IS_ROOT, "namespace mode needs root here")
    def test_graphql_rules_hold_beside_mcp_namespace(self):
        self.check_graphql_rules_hold_beside_mcp("namespace")

    def test_placeholder_in_a_body_on_an_mcp_path_never_reaches_upstream(self):
        got = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_PUT(self):
                n = int(self.headers.get("Content-Length", "0"))
                got.append((self.path, self.rfile.read(n).decode(errors="replace")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        p = srv.server_address[1]
        try:
            creds = ('credentials:\n  TOKEN:\n    from: "env:RF_MIXED_TOKEN"\n'
                     '    endpoints: [{host: api.test, port: %d, path: "/bound/**"}]\n' % p)
            mcp = ("{host: api.test, port: %d, allowed_ips: [127.0.0.1], protocol: mcp, path: /mcp, "
                   "rules: [{allow: {method: initialize}}]}" % p)
            rest = "{host: api.test, port: %d, allowed_ips: [127.0.0.1], protocol: rest, access: full}" % p
            env = dict(os.environ, RF_MIXED_TOKEN="s3cr3t-mixed-value")
            r = self.run_client(CLIENT_BODY, policy("platform", [mcp, rest], creds), p, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("/other HTTP/1.1 403", r.stdout)
            self.assertIn("/mcp HTTP/1.1 403", r.stdout)
            self.assertEqual(got, [], got)  # nothing of either reached the upstream
        finally:
            srv.shutdown()


if __name__ == "__main__":
    unittest.main()
