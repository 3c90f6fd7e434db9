"""`protocol: mcp` and `protocol: json-rpc` end to end (issue 27, docs/l7.md):
the proxy parses the JSON-RPC envelope of every client-to-server POST body
and judges each call before a byte of it goes upstream.

MCP: a real server and a real client, the official SDK
(@modelcontextprotocol/sdk, pinned in tests/integration/mcp/package-lock.json
and installed with `npm ci` into a cache directory outside the repository)
over Streamable HTTP on loopback. The server logs every message that reaches
it before the SDK sees it, so a refused call is shown never to arrive; the
same client run without ringfence (the control) reaches every tool.
JSON-RPC: a small local server (Python) that logs the methods it receives.
Raw curl POSTs cover batches, an SSE response, size limits and malformed
bodies. Both network modes."""
import hashlib
import http.server
import json
import os
import select
import shutil
import subprocess
import threading
import time
import types
import unittest

import rf
from test_local_services import AS_USER, unprivileged_userns_available
import test_l7

NODE = "/usr/bin/node"
CURL = "/usr/bin/curl"
MODES = ("namespace", "platform")
HERE = os.path.dirname(os.path.abspath(__file__))
SDK_SRC = os.path.join(HERE, "mcp")


def sdk_cache():
    """The SDK installed from the project's lock file into a directory named
    by the lock's hash (outside the repository), with the test's server and
    client scripts beside it. None when npm cannot install it."""
    with open(os.path.join(SDK_SRC, "package-lock.json"), "rb") as f:
        tag = hashlib.sha256(f.read()).hexdigest()[:12]
    cache = os.path.join(rf.FIXTURE_ROOT, "rf-mcp-sdk-" + tag)
    if not os.path.isdir(os.path.join(cache, "node_modules", "@modelcontextprotocol", "sdk")):
        os.makedirs(cache, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(SDK_SRC, name), cache)
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=cache,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            return None, r.stderr[-400:]
    for name in ("server.mjs", "client.mjs"):
        shutil.copy(os.path.join(SDK_SRC, name), cache)
    os.chmod(cache, 0o755)
    return cache, ""


def field(event, name):
    """An audit event's field, top level or under "extra"."""
    return event[name] if name in event else (event.get("extra") or {}).get(name)


def read_lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


class JsonRpcServer:
    """A JSON-RPC 2.0 server on 127.0.0.1 (POST /rpc): answers each request
    with {"result": "ran METHOD"} and records every message it receives."""

    def __init__(self):
        records = self.records = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = None
                msgs = doc if isinstance(doc, list) else [doc]
                out = []
                for m in msgs:
                    records.append(m)
                    if isinstance(m, dict) and "method" in m and "id" in m:
                        out.append({"jsonrpc": "2.0", "id": m["id"], "result": "ran " + m["method"]})
                body = json.dumps(out if isinstance(doc, list) else (out[0] if out else {})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def methods(self):
        return [m.get("method") for m in list(self.records) if isinstance(m, dict)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, /dev/urandom, {cache}]
  read_write: [/dev/null]
network:
  mode: {mode}
  hosts: {{mcp.test: 127.0.0.1, rpc.test: 127.0.0.1}}
network_policies:
  tools:
    endpoints:
{endpoints}"""

MCP_RULES = {
    "rules": [
        {"allow": {"method": "initialize"}},
        {"allow": {"method": "notifications/initialized"}},
        {"allow": {"method": "tools/list"}},
        {"allow": {"method": "tools/call", "tool": "read_file"}},
    ],
}


def endpoint(host, port, **fields):
    e = {"host": host, "port": port, "allowed_ips": ["127.0.0.1"]}
    e.update(fields)
    return "      - " + json.dumps(e) + "\n"


class McpCase(unittest.TestCase):
    PREFIX = []  # argv run in front of ringfence (setpriv for uid 65534)
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(NODE) or not shutil.which("npm"):
            raise unittest.SkipTest("needs node and npm")
        cls.cache, why = sdk_cache()
        if not cls.cache:
            raise unittest.SkipTest("npm could not install the MCP SDK (registry unreachable?): " + why)
        cls.tmp = rf.TempDir()
        cls.dir = cls.tmp.__enter__()
        cls.log = os.path.join(cls.dir, "mcp-server.jsonl")
        cls.server = subprocess.Popen([NODE, os.path.join(cls.cache, "server.mjs"), "0", cls.log],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        cls.mport = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and cls.mport is None:
            ready, _, _ = select.select([cls.server.stdout], [], [], 1.0)
            if ready:
                line = cls.server.stdout.readline()
                if line.startswith("listening "):
                    cls.mport = int(line.split()[1])
                elif not line:
                    break
        if cls.mport is None:
            cls.server.kill()
            raise AssertionError("the MCP server did not start: " + cls.server.stderr.read()[-400:])
        cls.rpc = JsonRpcServer()
        cls.seq = 0

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait(timeout=10)
        cls.rpc.close()
        cls.tmp.__exit__(None, None, None)

    def setUp(self):
        open(self.log, "w").close()
        self.rpc.records.clear()

    def server_log(self, want=0):
        """The MCP server's log once it holds `want` entries (bounded: the
        server writes it from its own process)."""
        rf.wait_count(lambda: len(read_lines(self.log)), want, timeout=10)
        return read_lines(self.log)

    def sandbox(self, mode, endpoints, argv, audit=False, expect_rc=0):
        type(self).seq += 1
        pf = os.path.join(self.dir, f"policy-{self.seq}.yaml")
        with open(pf, "w") as f:
            f.write(POLICY.format(mode=mode, cache=self.cache, endpoints=endpoints))
        os.chmod(pf, 0o644)
        with rf.OutsideDir(mode=0o777) as out:
            alog = os.path.join(out, "audit.jsonl")
            cmd = self.PREFIX + [rf.BIN, "run", "-q", "--policy", pf, "--workdir", self.dir]
            if audit:
                cmd += ["--audit", alog]
            r = subprocess.run(cmd + ["--"] + list(argv), cwd=self.dir, capture_output=True,
                               text=True, timeout=180)
            raw = ""
            if audit and os.path.exists(alog):
                with open(alog) as f:
                    raw = f.read()
        events = [json.loads(l) for l in raw.splitlines() if l.strip()]
        r.http_events = [e for e in events if e.get("layer") == "http"]
        r.http_raw = "\n".join(json.dumps(e) for e in r.http_events)
        self.assertEqual(r.returncode, expect_rc, r.stdout + r.stderr)
        return r

    @staticmethod
    def steps(stdout):
        out = {}
        for line in stdout.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in ("ok", "error"):
                out[parts[0]] = (parts[1], json.loads(parts[2]))
        return out

    # The L7 tests' curl runner: one curl per (name, args), each answer's
    # status, head and body in a fresh directory of the workdir.
    curl_script = test_l7.L7Case.curl_script

    @staticmethod
    def curl_results(out, stdout):
        got = test_l7.L7Case.curl_results(out, types.SimpleNamespace(stdout=stdout))
        return {name: (r.code, r.body.decode(), r.head) for name, r in got.items()}

    @staticmethod
    def post(url, body, *extra):
        return ["-X", "POST", "-H", "Content-Type: application/json",
                "-H", "Accept: application/json, text/event-stream", *extra,
                "--data-binary", body, url]


class Mcp(McpCase):
    def test_sdk_client_control(self):
        """Without ringfence the same client reaches both tools (the probe
        works, and send_email is a real tool the server runs)."""
        r = subprocess.run([NODE, os.path.join(self.cache, "client.mjs"),
                            f"http://127.0.0.1:{self.mport}/mcp"], capture_output=True, text=True,
                           timeout=120, env={k: v for k, v in os.environ.items()
                                             if "proxy" not in k.lower()})
        steps = self.steps(r.stdout)
        self.assertEqual(steps.get("call_send_email"), ("ok", "sent to boss@example.com"), r.stdout)
        self.assertEqual(steps.get("call_read_file"), ("ok", "contents of /etc/motd"), r.stdout)
        tools = [e["tool"] for e in self.server_log(8) if e.get("method") == "tools/call"]
        self.assertIn("send_email", tools)

    def test_sdk_client_sandboxed(self):
        """initialize, notifications/initialized, the SSE listen GET,
        tools/list, an allowed tools/call, a refused one (a JSON-RPC error;
        the server never sees it), the session goes on, DELETE ends it."""
        for mode in MODES:
            with self.subTest(mode=mode):
                open(self.log, "w").close()
                eps = endpoint("mcp.test", self.mport, path="/mcp", protocol="mcp", **MCP_RULES)
                r = self.sandbox(mode, eps, [NODE, os.path.join(self.cache, "client.mjs"),
                                             f"http://mcp.test:{self.mport}/mcp"], audit=True)
                steps = self.steps(r.stdout)
                self.assertEqual(steps.get("initialize"), ("ok", "rf-test"), r.stdout + r.stderr)
                self.assertEqual(steps.get("tools_list"), ("ok", ["read_file", "send_email"]))
                self.assertEqual(steps.get("call_read_file"), ("ok", "contents of /etc/motd"))
                status, msg = steps.get("call_send_email")
                self.assertEqual(status, "error", r.stdout)
                self.assertIn("policy_denied", msg)
                self.assertIn("send_email", msg)
                self.assertIn("-32001", msg)
                self.assertEqual(steps.get("call_after_refusal"), ("ok", "contents of /again"))
                self.assertEqual(steps.get("terminate"), ("ok", "done"))
                log = self.server_log(7)
                got = [(e["http"], e.get("method"), e.get("tool")) for e in log]
                self.assertIn(("POST", "initialize", None), got)
                self.assertIn(("POST", "notifications/initialized", None), got)
                self.assertIn(("POST", "tools/list", None), got)
                self.assertIn(("POST", "tools/call", "read_file"), got)
                self.assertIn(("GET", None, None), got)
                self.assertIn(("DELETE", None, None), got)
                self.assertNotIn(("POST", "tools/call", "send_email"), got)
                deny = [e for e in r.http_events if e.get("action") == "deny"]
                self.assertEqual(len(deny), 1, r.http_raw)
                self.assertEqual(field(deny[0], "tool"), "send_email")
                self.assertEqual(field(deny[0], "rpc_method"), "tools/call")
                self.assertNotIn("boss@example.com", r.http_raw)  # arguments never logged

    def test_batch_sse_and_limits(self):
        """Raw POSTs: a batch with one refused call is refused whole (an
        error per request id; nothing reaches the server), an allowed batch
        arrives, an SSE response is relayed, a body over max_body_bytes and
        a malformed or ambiguous body are refused."""
        url = f"http://mcp.test:{self.mport}/mcp"
        call = lambda i, tool: {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                "params": {"name": tool, "arguments": {"x": "secret-arg"}}}
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "curl", "version": "1"}}}
        rules = dict(MCP_RULES, mcp={"max_body_bytes": 2048})
        eps = endpoint("mcp.test", self.mport, path="/mcp", protocol="mcp", **rules)
        reqs = [
            ("mixed", self.post(url, json.dumps([call(7, "read_file"), call(8, "send_email")]))),
            ("allowed", self.post(url, json.dumps([call(9, "read_file"), call(10, "read_file")]))),
            ("sse", self.post(url, json.dumps(init))),
            ("big", self.post(url, json.dumps(call(11, "read_file") | {"pad": "x" * 4000}))),
            ("dup", self.post(url, '{"jsonrpc":"2.0","id":12,"method":"tools/list",'
                                   '"method":"tools/call","params":{"name":"send_email"}}')),
            ("notjson", self.post(url, '{"jsonrpc":"2.0",')),
            ("badname", self.post(url, json.dumps(call(13, "read file")))),
            ("put", ["-X", "PUT", "--data-binary", "{}", url]),
            # Variants that must not slip past the body check: a chunked
            # body (not held, so refused), a path the endpoint does not
            # select, a second "name" the server might take.
            ("chunked", self.post(url, json.dumps(call(14, "send_email")),
                                  "-H", "Transfer-Encoding: chunked")),
            ("otherpath", self.post(url.replace("/mcp", "/MCP"), json.dumps(call(15, "send_email")))),
            ("dupname", self.post(url, '{"jsonrpc":"2.0","id":16,"method":"tools/call",'
                                       '"params":{"name":"read_file","name":"send_email"}}')),
        ]
        for mode in MODES:
            with self.subTest(mode=mode):
                open(self.log, "w").close()
                out, argv = self.curl_script(reqs)
                r = self.sandbox(mode, eps, argv, audit=True)
                res = self.curl_results(out, r.stdout)
                code, body, _ = res["mixed"]
                self.assertEqual(code, 403, body)
                errs = json.loads(body)
                self.assertEqual([e["id"] for e in errs], [7, 8])
                self.assertEqual({e["error"]["code"] for e in errs}, {-32001})
                self.assertEqual(errs[0]["error"]["data"]["tool"], "send_email")
                self.assertIn("tool", errs[0]["error"]["data"]["allow_with"])
                code, body, head = res["sse"]
                self.assertEqual(code, 200, body)
                self.assertIn("text/event-stream", head.lower())
                self.assertIn("event: message", body)
                self.assertIn('"serverInfo"', body)
                self.assertEqual(res["big"][0], 413)
                for name in ("dup", "notjson", "badname"):
                    code, body, _ = res[name]
                    self.assertIn(code, (400, 403), (name, body))
                    self.assertIn('"jsonrpc":"2.0"', body.replace(" ", ""), name)
                self.assertEqual(json.loads(res["notjson"][1])["error"]["code"], -32700)
                self.assertEqual(res["put"][0], 403)
                self.assertEqual(res["chunked"][0], 411)
                self.assertEqual(res["otherpath"][0], 403)
                self.assertEqual(res["dupname"][0], 400)
                log = self.server_log(3)
                tools = [(e.get("id"), e.get("tool")) for e in log if e.get("method") == "tools/call"]
                self.assertEqual(sorted(tools), [(9, "read_file"), (10, "read_file")], log)
                self.assertIn("initialize", [e.get("method") for e in log])
                self.assertNotIn("secret-arg", r.http_raw)

    def test_raw_batch_control(self):
        """The refused batch and the duplicate-key body reach a server
        without ringfence (so the refusals above are the proxy's)."""
        url = f"http://127.0.0.1:{self.mport}/mcp"
        batch = json.dumps([{"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                             "params": {"name": "send_email", "arguments": {}}}])
        r = subprocess.run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            *self.post(url, batch)], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.stdout, "000")
        self.assertIn((7, "send_email"), [(e.get("id"), e.get("tool")) for e in self.server_log(1)])

    def test_allow_all_known_methods_with_deny(self):
        """mcp.allow_all_known_mcp_methods without rules: every MCP method
        and tool, except what deny_rules refuse."""
        eps = endpoint("mcp.test", self.mport, path="/mcp", protocol="mcp",
                       mcp={"allow_all_known_mcp_methods": True},
                       deny_rules=[{"method": "tools/call", "tool": "send_*"}])
        r = self.sandbox("namespace", eps, [NODE, os.path.join(self.cache, "client.mjs"),
                                            f"http://mcp.test:{self.mport}/mcp"])
        steps = self.steps(r.stdout)
        self.assertEqual(steps.get("call_read_file"), ("ok", "contents of /etc/motd"), r.stdout)
        self.assertEqual(steps.get("call_send_email")[0], "error")
        self.assertIn("deny_rules[0]", steps.get("call_send_email")[1])


class McpAsNobody(McpCase):
    """The SDK client's allowed and refused calls with ringfence started as
    uid 65534."""
    PREFIX = AS_USER

    def test_sdk_client(self):
        modes = MODES if unprivileged_userns_available() else ("platform",)
        for mode in modes:
            with self.subTest(mode=mode):
                open(self.log, "w").close()
                eps = endpoint("mcp.test", self.mport, path="/mcp", protocol="mcp", **MCP_RULES)
                r = self.sandbox(mode, eps, [NODE, os.path.join(self.cache, "client.mjs"),
                                             f"http://mcp.test:{self.mport}/mcp"])
                steps = self.steps(r.stdout)
                self.assertEqual(steps.get("call_read_file"), ("ok", "contents of /etc/motd"),
                                 r.stdout + r.stderr)
                self.assertEqual(steps.get("call_send_email")[0], "error")
                self.assertIn("policy_denied", steps.get("call_send_email")[1])
                tools = [e.get("tool") for e in self.server_log(7) if e.get("method") == "tools/call"]
                self.assertIn("read_file", tools)
                self.assertNotIn("send_email", tools)


class JsonRpc(McpCase):
    def test_methods(self):
        """Exact methods; a refused one gets a JSON-RPC error with its id and
        the rule that would allow it; a client-sent response object, a batch
        with a refused call, GET and malformed bodies are refused; the
        server sees only the allowed calls."""
        url = f"http://rpc.test:{self.rpc.port}/rpc"
        msg = lambda i, m: {"jsonrpc": "2.0", "id": i, "method": m, "params": {"q": "secret-arg"}}
        eps = endpoint("rpc.test", self.rpc.port, path="/rpc", protocol="json-rpc",
                       json_rpc={"max_body_bytes": 4096},
                       rules=[{"allow": {"method": "reports.list"}}],
                       deny_rules=[{"method": "reports.delete"}])
        reqs = [
            ("allowed", self.post(url, json.dumps(msg(1, "reports.list")))),
            ("denied", self.post(url, json.dumps(msg("a-2", "reports.delete")))),
            ("unlisted", self.post(url, json.dumps(msg(3, "reports.search")))),
            ("response", self.post(url, json.dumps({"jsonrpc": "2.0", "id": 4, "result": 1}))),
            ("batch", self.post(url, json.dumps([msg(5, "reports.list"), msg(6, "reports.delete")]))),
            ("notification", self.post(url, json.dumps({"jsonrpc": "2.0", "method": "reports.list"}))),
            ("get", [url]),
            ("version", self.post(url, json.dumps(msg(7, "reports.list") | {"jsonrpc": "1.0"}))),
        ]
        for mode in MODES:
            with self.subTest(mode=mode):
                self.rpc.records.clear()
                out, argv = self.curl_script(reqs)
                r = self.sandbox(mode, eps, argv, audit=True)
                res = self.curl_results(out, r.stdout)
                code, body, _ = res["allowed"]
                self.assertEqual((code, json.loads(body)["result"]), (200, "ran reports.list"))
                code, body, _ = res["denied"]
                self.assertEqual(code, 403)
                err = json.loads(body)
                self.assertEqual(err["id"], "a-2")
                self.assertEqual(err["error"]["code"], -32001)
                self.assertEqual(err["error"]["data"]["rule"], "deny_rules[0]")
                code, body, _ = res["unlisted"]
                self.assertEqual(code, 403)
                self.assertIn("reports.search", json.loads(body)["error"]["data"]["allow_with"])
                self.assertEqual(res["response"][0], 403)
                self.assertIn("response objects", res["response"][1])
                self.assertEqual(res["batch"][0], 403)
                self.assertEqual([e["id"] for e in json.loads(res["batch"][1])], [5, 6])
                self.assertEqual(res["notification"][0], 200)
                self.assertEqual(res["get"][0], 403)
                self.assertEqual(res["version"][0], 400)
                got = rf.wait_count(lambda: len(self.rpc.methods()), 2, timeout=10)
                self.assertEqual(got, 2)
                self.assertEqual(self.rpc.methods(), ["reports.list", "reports.list"])
                self.assertNotIn("secret-arg", r.http_raw)
                denies = [e for e in r.http_events if e.get("action") == "deny"]
                self.assertIn("reports.delete", [field(e, "rpc_method") for e in denies])

    def test_control(self):
        """Without ringfence the refused messages reach the server."""
        url = f"http://127.0.0.1:{self.rpc.port}/rpc"
        for body in ({"jsonrpc": "2.0", "id": 1, "method": "reports.delete"},
                     {"jsonrpc": "2.0", "id": 4, "result": 1}):
            subprocess.run([CURL, "-s", "-o", "/dev/null", *self.post(url, json.dumps(body))],
                           timeout=60, check=True)
        self.assertEqual(rf.wait_count(lambda: len(self.rpc.records), 2), 2)
        self.assertIn("reports.delete", self.rpc.methods())


class PolicyErrors(unittest.TestCase):
    """OpenShell's load-time rules for mcp and json-rpc endpoints: each bad
    policy is refused by `run` with exit 125, naming file:line and the
    problem; nothing runs."""

    CASES = [
        ({"protocol": "mcp", "access": "full"}, "access` presets are not valid"),
        ({"protocol": "mcp"}, "needs rules unless mcp.allow_all_known_mcp_methods"),
        ({"protocol": "mcp", "rules": [{"allow": {"method": "*"}}]}, "`*` is not valid on protocol: mcp"),
        ({"protocol": "mcp", "rules": [{"allow": {"method": "resources/*"}}]},
         "only for the tools/ method family"),
        ({"protocol": "mcp", "rules": [{"allow": {"method": "tools/list", "tool": "x"}}]},
         "need method: tools/call"),
        ({"protocol": "mcp", "rules": [{"allow": {"tool": "x"}}]}, "method is required unless"),
        ({"protocol": "mcp", "rules": [{"allow": {"method": "tools/call"}},
                                       {"allow": {"method": "tools/call", "tool": "read_file"}}]},
         "cannot be combined with tool-specific allow rules"),
        ({"protocol": "mcp", "rules": [{"allow": {"method": "tools/call", "tool": "read_*"}}],
          "deny_rules": [{"method": "tools/*"}]},
         "cannot be combined with tool-specific allow rules"),
        ({"protocol": "mcp", "mcp": {"strict_tool_names": False},
          "rules": [{"allow": {"method": "tools/call", "tool": {"any": ["read_*"]}}}]},
         "needs mcp.strict_tool_names"),
        ({"protocol": "mcp", "rules": [{"allow": {"method": "tools/call", "params": {"arguments": "x"}}}]},
         "unknown key 'arguments'"),
        ({"protocol": "mcp", "mcp": {"max_body_bytes": 0}, "rules": [{"allow": {"method": "ping"}}]},
         "out of range"),
        ({"protocol": "mcp", "mcp": {"bogus": 1}, "rules": [{"allow": {"method": "ping"}}]},
         "unknown key 'bogus'"),
        ({"protocol": "json-rpc"}, "needs rules with allow.method"),
        ({"protocol": "json-rpc", "rules": [{"allow": {"method": "reports.*"}}]},
         "json-rpc methods are exact names"),
        ({"protocol": "json-rpc", "rules": [{"allow": {"method": "a", "path": "/x"}}]},
         "path and query are REST rule fields"),
        ({"protocol": "json-rpc", "rules": [{"allow": {"method": "a", "tool": "x"}}]},
         "is an MCP rule field"),
        ({"protocol": "rest", "access": "full", "mcp": {"max_body_bytes": 10}}, "needs protocol: mcp"),
        ({"protocol": "mcp", "json_rpc": {"max_body_bytes": 10}, "rules": [{"allow": {"method": "ping"}}]},
         "needs protocol: json-rpc"),
    ]

    @staticmethod
    def policy(fields):
        e = {"host": "mcp.test", "port": 8080}
        e.update(fields)
        return "version: 1\nnetwork_policies:\n  t:\n    endpoints:\n      - " + json.dumps(e) + "\n"

    def test_refused(self):
        for fields, want in self.CASES:
            with self.subTest(fields=fields):
                r = rf.run(["/bin/true"], policy=self.policy(fields))
                self.assertEqual(r.returncode, 125, r.stderr)
                self.assertIn(want, r.stderr)
                self.assertRegex(r.stderr, r"\.yaml:\d+:\d+")
                self.assertNotIn("not supported yet", r.stderr)

    def test_valid(self):
        for fields in (
            {"protocol": "mcp", "mcp": {"allow_all_known_mcp_methods": True},
             "deny_rules": [{"method": "tools/call", "tool": "send_email"}]},
            {"protocol": "mcp", "mcp": {"max_body_bytes": 131072},
             "rules": [{"allow": {"method": "initialize"}},
                       {"allow": {"method": "tools/call", "tool": {"any": ["a", "b_*"]}}},
                       {"allow": {"method": "tools/call", "params": {"name": "c"}}}],
             "deny_rules": [{"method": "tools/call", "tool": "send_email"}]},
            {"protocol": "json-rpc", "rules": [{"allow": {"method": "*"}}],
             "deny_rules": [{"method": "reports.delete"}]},
            # OpenShell's MCP conformance policy (e2e/mcp-conformance): an
            # empty allow under the method profile.
            {"protocol": "mcp", "path": "/mcp", "enforcement": "enforce",
             "mcp": {"max_body_bytes": 131072, "allow_all_known_mcp_methods": True},
             "rules": [{"allow": {}}]},
        ):
            with self.subTest(fields=fields):
                r = rf.run(["/bin/true"], policy=self.policy(fields))
                self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
