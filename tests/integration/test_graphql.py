"""`protocol: graphql` end to end (issue 27, docs/l7.md): a local GraphQL
server (gqlfixtures.py: graphql-core executes every request, resolvers
record the root fields that really ran) behind an inspected endpoint. The
command inside the sandbox sends GraphQL over HTTP (POST JSON, POST
application/graphql, GET) and over WebSocket (graphql-transport-ws) through
the proxy; a control run of the same client without ringfence shows each
probe does what it says (the refused mutation really deletes there).
Refused operations never reach the server: a later allowed request is
waited for (bounded), then the server's record is checked."""
import hashlib
import json
import os
import subprocess
import unittest

import rf

try:
    import gqlfixtures as gx
except ImportError:  # python3-graphql-core missing (scripts/install-deps.sh test)
    gx = None

# Runs inside the sandbox (and without it for the control). argv[1]: a
# JSON list of probes; each goes over its own CONNECT tunnel to the proxy
# in HTTPS_PROXY (directly to the server when there is none). Prints one
# JSON object: probe name -> {status, body} or, for WebSocket, the answers.
CLIENT = r"""
import json, os, socket, struct, sys, urllib.parse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
host, port = sys.argv[1], int(sys.argv[2])
probes = json.loads(sys.argv[3])
proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")

def connect():
    if proxy:
        u = urllib.parse.urlsplit(proxy)
        s = socket.create_connection((u.hostname, u.port), timeout=20)
        s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        f = s.makefile("rb")
        line = f.readline()
        assert b" 200 " in line, line
        while f.readline() not in (b"\r\n", b""):
            pass
        return s, f
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s, s.makefile("rb")

def http(method, target, body=b"", ctype="application/json"):
    s, f = connect()
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
    if body:
        head += f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    s.sendall(head.encode() + b"\r\n" + body)
    status = int(f.readline().split()[1])
    n = 0
    while True:
        l = f.readline()
        if l in (b"\r\n", b""):
            break
        if l.lower().startswith(b"content-length:"):
            n = int(l.split(b":")[1])
    data = f.read(n)
    s.close()
    return {"status": status, "body": data.decode("utf-8", "replace")}

def frame(payload):
    key = os.urandom(4)
    n = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

def read_frame(f):
    h = f.read(2)
    if len(h) < 2:
        return None
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", f.read(2))[0]
    return h[0] & 0x0F, f.read(n)

def websocket(proto, messages):
    s, f = connect()
    s.sendall((f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {proto}\r\n\r\n").encode())
    status = int(f.readline().split()[1])
    while f.readline() not in (b"\r\n", b""):
        pass
    got = []
    for m in messages:
        s.sendall(frame(json.dumps(m).encode()))
        want = 1 if m["type"] == "connection_init" else 2
        for _ in range(want):
            fr = read_frame(f)
            if fr is None:
                got.append("eof")
                break
            if fr[0] == 8:
                got.append("close %d" % struct.unpack("!H", fr[1][:2])[0])
                break
            got.append(json.loads(fr[1]))
        if got and isinstance(got[-1], str):
            break
    s.close()
    return {"status": status, "got": got}

out = {}
for p in probes:
    try:
        if p.get("kind") == "ws":
            out[p["name"]] = websocket(p["proto"], p["messages"])
        else:
            out[p["name"]] = http(p["method"], p["target"], p.get("body", "").encode(),
                                  p.get("ctype", "application/json"))
    except Exception as e:
        out[p["name"]] = {"error": repr(e)}
print(json.dumps(out))
"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, /dev/urandom]
  read_write: [/dev/null]
network:
  mode: {mode}
  hosts: {{api.test: 127.0.0.1}}
network_policies:
  api:
    endpoints:
      - {endpoint}
"""

SECRET_Q = "query { secret }"
SECRET_HASH = hashlib.sha256(SECRET_Q.encode()).hexdigest()
VIEWER_Q = "query Viewer { viewer }"
VIEWER_HASH = hashlib.sha256(VIEWER_Q.encode()).hexdigest()


def post(name, query, op=None, **extra):
    env = {"query": query}
    if op:
        env["operationName"] = op
    env.update(extra)
    return {"name": name, "method": "POST", "target": "/graphql", "body": json.dumps(env)}


def get(name, **params):
    import urllib.parse
    return {"name": name, "method": "GET", "target": "/graphql?" + urllib.parse.urlencode(params)}


@unittest.skipUnless(gx is not None and rf.IS_ROOT, "needs python3-graphql-core and root")
class GraphqlOverHttp(unittest.TestCase):
    MODE = "namespace"

    @classmethod
    def setUpClass(cls):
        cls.server = gx.GraphqlServer()
        cls.tmp = rf.TempDir()
        cls.dir = cls.tmp.__enter__()
        os.chmod(cls.dir, 0o755)
        with open(os.path.join(cls.dir, "gqlclient.py"), "w") as f:
            f.write(CLIENT)
        cls.server.persisted[SECRET_HASH] = SECRET_Q
        cls.server.persisted[VIEWER_HASH] = VIEWER_Q

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.tmp.__exit__(None, None, None)

    def setUp(self):
        self.server.executed.clear()

    def endpoint(self, **fields):
        e = {"host": "api.test", "port": self.server.port, "allowed_ips": ["127.0.0.1"],
             "protocol": "graphql", "path": "/graphql"}
        e.update(fields)
        return json.dumps(e)

    def run_client(self, endpoint, probes, sandbox=True, audit=False):
        argv = [rf.PY, os.path.join(self.dir, "gqlclient.py"), "api.test", str(self.server.port),
                json.dumps(probes)]
        if not sandbox:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                               env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()})
            return json.loads(r.stdout), r, []
        events = []
        with rf.OutsideDir(mode=0o777) as out:
            pf = os.path.join(out, "policy.yaml")
            with open(pf, "w") as f:
                f.write(POLICY.format(endpoint=endpoint, mode=self.MODE))
            log = os.path.join(out, "audit.jsonl")
            cmd = [rf.BIN, "run", "-q", "--policy", pf, "--workdir", self.dir]
            if audit:
                cmd += ["--audit", log]
            r = subprocess.run(cmd + ["--"] + argv, capture_output=True, text=True, timeout=120)
            if audit and os.path.exists(log):
                with open(log) as f:
                    events = [json.loads(l) for l in f if l.strip()]
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout), r, [e for e in events if e.get("layer") == "http"]

    def executed_after(self, sentinel_count):
        """The server's record once `sentinel_count` fields ran (bounded)."""
        rf.wait_count(lambda: len(self.server.executed.snapshot()), sentinel_count)
        return self.server.executed.snapshot()

    def assert_graphql_refusal(self, res, status=403):
        self.assertEqual(res.get("status"), status, res)
        body = json.loads(res["body"])
        self.assertTrue(body["errors"][0]["message"], body)
        self.assertEqual(body["errors"][0]["extensions"]["code"], "POLICY_DENIED", body)
        return body

    RW_DENY = dict(access="read-write",
                   deny_rules=[{"operation_type": "mutation", "fields": ["deleteRepository"]}])

    def test_query_allowed_mutation_and_tricks_refused(self):
        probes = [
            post("mutation", "mutation { deleteRepository(name: \"zz-secret-arg\") }"),
            post("alias", "mutation { q: deleteRepository(name: \"x\") }"),
            post("fragment", "mutation { ...F } fragment F on Mutation { deleteRepository }"),
            post("inline", "mutation { ... on Mutation { deleteRepository } }"),
            post("comment", "# query { viewer }\nmutation {\n# viewer\n deleteRepository }"),
            post("twoops", "query A { viewer } mutation B { deleteRepository }", op="B"),
            post("twoops_noname", "query A { viewer } mutation B { deleteRepository }"),
            post("cycle", "mutation { ...F } fragment F on Mutation { deleteRepository ...G } "
                          "fragment G on Mutation { ...F }"),
            get("get_mutation", query="mutation { deleteRepository }"),
            {"name": "graphql_body", "method": "POST", "target": "/graphql",
             "body": "mutation { deleteRepository }", "ctype": "application/graphql"},
            post("allowed_create", "mutation { createIssue(name: \"t\") }"),
            post("twoops_query", "query A { viewer } mutation B { deleteRepository }", op="A"),
            get("get_query", query="{ repository(name: \"r\") }"),
        ]
        # Control: without ringfence every probe runs what it names.
        ctl, _, _ = self.run_client(None, probes, sandbox=False)
        self.assertEqual(ctl["mutation"]["status"], 200, ctl)
        ran = self.server.executed.snapshot()
        self.assertGreaterEqual(ran.count("deleteRepository"), 7, ran)
        self.server.executed.clear()

        res, r, events = self.run_client(self.endpoint(**self.RW_DENY), probes, audit=True)
        for name in ("mutation", "alias", "fragment", "inline", "comment", "twoops",
                     "twoops_noname", "cycle", "get_mutation", "graphql_body"):
            self.assert_graphql_refusal(res[name])
        for name in ("allowed_create", "twoops_query", "get_query"):
            self.assertEqual(res[name]["status"], 200, (name, res[name]))
            self.assertNotIn("errors", json.loads(res[name]["body"]), res[name])
        ran = self.executed_after(3)
        self.assertEqual(sorted(ran), ["createIssue", "repository", "viewer"], ran)
        # The audit names operation type and root fields, never arguments.
        denied = [e for e in events if e.get("action") == "deny"]
        self.assertTrue(denied, events)
        ops = [o for e in denied for o in (e.get("graphql") or (e.get("extra") or {}).get("graphql") or [])]
        self.assertIn({"operation_type": "mutation", "fields": ["deleteRepository"]}, ops)
        self.assertNotIn("zz-secret-arg", json.dumps(events))

    def test_fields_rules(self):
        ep = self.endpoint(rules=[{"allow": {"operation_type": "query", "fields": ["viewer"]}}])
        probes = [post("secret_alias", "query { viewer: secret }"),
                  post("mixed", "query { viewer secret }"),
                  post("typename", "query { __typename }"),
                  post("viewer", "query { v: viewer }")]
        res, _, _ = self.run_client(ep, probes)
        for name in ("secret_alias", "mixed", "typename"):
            self.assert_graphql_refusal(res[name])
        self.assertEqual(res["viewer"]["status"], 200, res)
        self.assertEqual(self.executed_after(1), ["viewer"])

    def test_persisted_queries(self):
        apq = lambda name, h: {"name": name, "method": "POST", "target": "/graphql", "body": json.dumps(
            {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": h}}})}
        probes = [apq("secret", SECRET_HASH), apq("viewer", VIEWER_HASH)]
        ctl, _, _ = self.run_client(None, probes, sandbox=False)
        self.assertEqual(sorted(self.server.executed.snapshot()), ["secret", "viewer"], ctl)
        self.server.executed.clear()
        # Denied by default, even on access: full.
        res, _, _ = self.run_client(self.endpoint(access="full"), probes)
        self.assert_graphql_refusal(res["secret"])
        self.assert_graphql_refusal(res["viewer"])
        # Registered: the registry's operation is what the rules judge.
        ep = self.endpoint(access="read-only", persisted_queries="allow_registered",
                           graphql_persisted_queries={
                               VIEWER_HASH: {"operation_type": "query", "fields": ["viewer"]}})
        res, _, _ = self.run_client(ep, probes + [post("after", "{ repository }")])
        self.assert_graphql_refusal(res["secret"])
        self.assertEqual(res["viewer"]["status"], 200, res)
        self.assertEqual(sorted(self.executed_after(2)), ["repository", "viewer"])

    def test_body_limit(self):
        big = "query { viewer }" + " " * 5000
        res, _, _ = self.run_client(self.endpoint(access="full", graphql_max_body_bytes=1024),
                                    [post("big", big), post("small", "{ viewer }")])
        self.assert_graphql_refusal(res["big"], status=413)
        self.assertEqual(res["small"]["status"], 200, res)
        self.assertEqual(self.executed_after(1), ["viewer"])

    def test_websocket(self):
        ep = json.dumps({"host": "api.test", "port": self.server.port, "allowed_ips": ["127.0.0.1"],
                         "protocol": "websocket",
                         "rules": [{"allow": {"method": "GET", "path": "/graphql"}},
                                   {"allow": {"operation_type": "query", "fields": ["viewer"]}}]})
        init = {"type": "connection_init"}
        q = {"type": "subscribe", "id": "1", "payload": {"query": "{ viewer }"}}
        m = {"type": "subscribe", "id": "2", "payload": {"query": "mutation { q: deleteRepository }"}}
        legacy = {"type": "start", "id": "3", "payload": {"query": "mutation { deleteRepository }"}}
        probes = [{"name": "ws", "kind": "ws", "proto": "graphql-transport-ws", "messages": [init, q, m]},
                  {"name": "legacy", "kind": "ws", "proto": "graphql-ws", "messages": [init, legacy]}]
        ctl, _, _ = self.run_client(None, probes, sandbox=False)
        self.assertEqual(sorted(self.server.executed.snapshot()),
                         ["deleteRepository", "deleteRepository", "viewer"], ctl)
        self.server.executed.clear()
        res, _, _ = self.run_client(ep, probes + [post("after", "{ viewer }")])
        ws = res["ws"]
        self.assertEqual(ws["status"], 101, res)
        self.assertEqual(ws["got"][0]["type"], "connection_ack", ws)
        self.assertEqual(ws["got"][1]["payload"]["data"], {"viewer": "viewer-ran"}, ws)
        self.assertEqual(ws["got"][-1], "close 1008", ws)
        self.assertEqual(res["legacy"]["got"][-1], "close 1008", res)
        # The "after" probe is refused (no HTTP GraphQL rules here: only a
        # GET upgrade rule), so the server's record is the one query.
        rf.wait_count(lambda: len(self.server.executed.snapshot()), 1)
        self.assertEqual(self.server.executed.snapshot(), ["viewer"])


class GraphqlOverHttpPlatform(GraphqlOverHttp):
    """The same in platform mode (the proxy on loopback, Landlock and the
    connect guard instead of a network namespace)."""
    MODE = "platform"


if __name__ == "__main__":
    unittest.main()
