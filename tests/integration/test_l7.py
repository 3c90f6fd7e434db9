"""L7 policy end to end (issue 25, docs/l7.md): endpoints with `protocol:
rest | websocket` are inspected by the proxy, in namespace and platform
mode. Real clients (curl, Python's urllib, Node's fetch through undici, git
over smart HTTP, pip, a stdlib WebSocket client) talk to local HTTP(S)
servers (l7fixtures.py) with their own CA, which the proxy trusts through
`network.upstream_ca`; the command trusts the run's CA through the
environment ringfence exports. Each probe also runs without ringfence
(same client, same arguments, the test CA, names resolved in a private
/etc/hosts): what the sandbox refuses works there, and the servers record
what reached them, so refused requests are shown never to arrive."""
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import unittest

import rf
import l7fixtures as fx
from test_local_services import AS_USER, unprivileged_userns_available

MODES = ("namespace", "platform")
CURL = "/usr/bin/curl"
NODE = "/usr/bin/node"
NODE_CACHE = "/var/tmp/rf-l7-node-undici6"

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, /dev/urandom{extra_ro}]
  read_write: [/dev/null]
network:
  mode: {mode}
{upstream_ca}  hosts: {{api.test: 127.0.0.1, other.test: 127.0.0.1, git.test: 127.0.0.1, pypi.test: 127.0.0.1, wrong.test: 127.0.0.1}}
network_policies:
{policies}"""


def endpoint(host, port, **fields):
    """One endpoint as a YAML flow mapping (JSON is valid flow YAML)."""
    e = {"host": host, "port": port, "allowed_ips": ["127.0.0.1"]}
    e.update(fields)
    return e


def policies(**named):
    """network_policies entries: name -> list of endpoints."""
    out = ""
    for name, eps in named.items():
        out += f"  {name}:\n    endpoints:\n"
        for e in eps:
            out += "      - " + json.dumps(e) + "\n"
    return out


def field(event, name):
    """An event field, top level or under "extra" (docs/audit.md puts the
    layer's fields on the event itself)."""
    if name in event:
        return event[name]
    return (event.get("extra") or {}).get(name)


class Result:
    def __init__(self, code, rc, body, head):
        self.code, self.rc, self.body, self.head = code, rc, body, head

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.code} rc={self.rc} {self.body[:300]!r}>"


class L7Case(unittest.TestCase):
    """Fixtures shared by the classes: one HTTPS and one plain server (new
    ports per class), the test CA, the client script, the hosts view."""
    PREFIX = []  # argv run in front of ringfence (setpriv for uid 65534)

    @classmethod
    def setUpClass(cls):
        cls.tmp = rf.TempDir()
        cls.dir = cls.tmp.__enter__()
        cls.ca = fx.TestCA(cls.dir)
        cls.hosts = fx.HostsView(cls.dir, fx.NAMES + ("wrong.test",))
        fx.write_client(cls.dir)
        cls.https = fx.L7Server(cls.ca)
        cls.http = fx.L7Server(None)
        cls.proxy = fx.ConnectProxy()
        cls.port, cls.hport = cls.https.port, cls.http.port
        cls.seq = 0

    @classmethod
    def tearDownClass(cls):
        cls.https.close()
        cls.http.close()
        cls.proxy.close()
        cls.tmp.__exit__(None, None, None)

    def setUp(self):
        self.https.records.clear()
        self.http.records.clear()
        self.https.ws_messages.clear()
        self.proxy.targets.clear()

    # -- running things ----------------------------------------------------

    def policy_file(self, mode, pols, upstream_ca=True, extra_ro=()):
        type(self).seq += 1
        path = os.path.join(self.dir, f"policy-{self.seq}.yaml")
        with open(path, "w") as f:
            f.write(POLICY.format(mode=mode, policies=pols,
                                  upstream_ca=f"  upstream_ca: {self.ca.ca}\n" if upstream_ca else "",
                                  extra_ro="".join(", " + p for p in extra_ro)))
        os.chmod(path, 0o644)
        return path

    def sandbox(self, mode, pols, argv, upstream_ca=True, extra_ro=(), audit=False, timeout=120):
        """(CompletedProcess, audit events of layer http) for argv run by
        ringfence under the policy made of `pols`."""
        pf = self.policy_file(mode, pols, upstream_ca, extra_ro)
        with rf.OutsideDir(mode=0o777) as out:
            log = os.path.join(out, "audit.jsonl")
            cmd = self.PREFIX + [rf.BIN, "run", "-q", "--policy", pf, "--workdir", self.dir]
            if audit:
                cmd += ["--audit", log]
            env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
            r = subprocess.run(cmd + ["--"] + list(argv), cwd=self.dir, capture_output=True, text=True,
                               timeout=timeout, env=env)
            events, raw = [], ""
            if audit and os.path.exists(log):
                with open(log) as f:
                    raw = f.read()
                events = [json.loads(l) for l in raw.splitlines() if l.strip()]
        # The process layer records the command line, which the tests
        # themselves write secrets into; every other line is the proxy's
        # and the guards', which must never carry a query value or a body.
        r.audit_raw = "\n".join(l for l, e in zip([l for l in raw.splitlines() if l.strip()], events)
                                 if e.get("layer") != "process")
        return r, [e for e in events if e.get("layer") == "http"]

    def control(self, argv, timeout=120, proxy=False):
        """argv without ringfence: names from the private hosts file, the
        test CA where the run's CA would be; no proxy, or (proxy=True) the
        test's plain CONNECT relay in HTTPS_PROXY."""
        if not rf.IS_ROOT:
            self.skipTest("the control's private /etc/hosts needs root")
        env = fx.client_env(self.ca.ca)
        if proxy:
            env["HTTPS_PROXY"] = env["https_proxy"] = self.proxy.url
        return subprocess.run(self.hosts.prefix() + list(argv), cwd=self.dir, capture_output=True,
                              text=True, timeout=timeout, env=env)

    def controls(self):
        """The two control runners: direct, and through the CONNECT relay
        (which must then have carried the run)."""
        return (("direct", lambda argv: self.control(argv)),
                ("connect-proxy", lambda argv: self.control(argv, proxy=True)))

    def assert_proxied(self, how, authority):
        got = [t["authority"] for t in self.proxy.targets.snapshot()]
        if how == "direct":
            self.assertEqual(got, [])
        else:
            self.assertIn(authority, got)

    def curl_script(self, requests):
        """A shell script running one curl per (name, args); each answer's
        status, head and body land in a fresh directory of the workdir."""
        type(self).seq += 1
        out = os.path.join(self.dir, f"curl-{self.seq}")
        os.mkdir(out)
        os.chmod(out, 0o777)
        lines = []
        for name, args in requests:
            q = " ".join(shlex.quote(a) for a in args)
            lines.append(f"c=$({CURL} -s -m 20 -o {out}/{name}.body -D {out}/{name}.head "
                         f"-w '%{{http_code}}' {q}); echo \"{name} $c $?\"")
        return out, ["/bin/sh", "-c", "\n".join(lines)]

    @staticmethod
    def curl_results(out, r):
        res = {}
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue
            name, code, rc = parts
            body = head = b""
            if os.path.exists(f"{out}/{name}.body"):
                with open(f"{out}/{name}.body", "rb") as f:
                    body = f.read()
            if os.path.exists(f"{out}/{name}.head"):
                with open(f"{out}/{name}.head", "rb") as f:
                    head = f.read().decode("latin-1")
            res[name] = Result(int(code or 0), int(rc), body, head)
        return res

    def curl(self, mode, pols, requests, **kw):
        out, argv = self.curl_script(requests)
        r, events = self.sandbox(mode, pols, argv, **kw)
        res = self.curl_results(out, r)
        self.assertEqual(sorted(res), sorted(n for n, _ in requests), r.stdout + r.stderr)
        return res, events, r

    def curl_control(self, requests, proxy=False):
        out, argv = self.curl_script(requests)
        r = self.control(argv, proxy=proxy)
        res = self.curl_results(out, r)
        self.assertEqual(sorted(res), sorted(n for n, _ in requests), r.stdout + r.stderr)
        return res

    def client(self, run, args):
        """(JSON output, CompletedProcess) of l7client.py `args` run by `run`."""
        r = run([rf.PY, "l7client.py"] + list(args))
        try:
            return json.loads(r.stdout), r
        except ValueError:
            self.fail(f"l7client.py {args}: {r.stdout} {r.stderr}")

    def url(self, path, host="api.test"):
        return f"https://{host}:{self.port}{path}"

    # -- assertions ----------------------------------------------------------

    def assert_denied(self, res, method, path, policy="api", rule=None, allow_with=True):
        """A 403 with the JSON body of the contract."""
        self.assertEqual(res.code, 403, res)
        body = res.json()
        self.assertEqual(body.get("error"), "policy_denied", body)
        self.assertEqual(body.get("method"), method, body)
        self.assertEqual(body.get("path"), path, body)
        self.assertTrue(body.get("detail"), body)
        self.assertIn(policy, body.get("endpoint", ""), body)
        if rule:
            self.assertEqual(body.get("rule"), rule, body)
        if allow_with:
            self.assertIn(method, body.get("allow_with", ""), body)
        return body

    def assert_never_reached(self, server, method, path):
        seen = [(r["method"], r["target"]) for r in server.records.snapshot()]
        self.assertFalse([s for s in seen if s[0] == method and s[1].split("?")[0] == path],
                         f"{method} {path} reached the server: {seen}")

    def assert_reached(self, server, method, path):
        seen = [(r["method"], r["target"].split("?")[0]) for r in server.records.snapshot()]
        self.assertIn((method, path), seen)


@unittest.skipUnless(os.path.exists(CURL) and rf.IS_ROOT, "needs curl and root")
class Curl(L7Case):
    """curl through the inspected endpoint: the contract's rules one by one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A destination whose certificate chains to another CA.
        cls.rogue_ca = fx.TestCA(cls.dir, label="rogue")
        cls.rogue = fx.L7Server(cls.rogue_ca)

    @classmethod
    def tearDownClass(cls):
        cls.rogue.close()
        super().tearDownClass()

    def test_control_direct(self):
        # Every request the sandboxed runs make reaches the servers directly.
        reqs = [("get", [self.url("/repos/a/issues")]),
                ("post", ["-X", "POST", "-d", "x=1", self.url("/repos/a/pulls")]),
                ("delete", ["-X", "DELETE", self.url("/repos/a/rulesets")]),
                ("encoded", ["--path-as-is", self.url("/repos/a/%72ulesets")]),
                ("dots", ["--path-as-is", self.url("/x/../repos/a/rulesets")]),
                ("slash", [self.url("/files/a%2Fb")]),
                ("host", ["-H", "Host: other.test", self.url("/hosted")]),
                ("plain", [f"http://api.test:{self.hport}/plain"])]
        res = self.curl_control(reqs)
        for name, r in res.items():
            self.assertEqual(r.code, 200, f"{name}: {r}")
        self.assert_reached(self.https, "POST", "/repos/a/pulls")
        self.assertIn("other.test", [r["host"] for r in self.https.records.snapshot()])
        self.assertEqual(res["encoded"].json()["target"], "/repos/a/%72ulesets")
        # SNI other than the name connected to: the server accepts it.
        out, r = self.client(self.control, ["sni", "api.test", str(self.port), "other.test"])
        self.assertEqual(out["handshake"], "ok", r.stdout + r.stderr)
        self.assertIn("other.test", [r["sni"] for r in self.https.records.snapshot()])

    def test_control_through_a_connect_proxy(self):
        res = self.curl_control([("get", [self.url("/c/get")]),
                                 ("post", ["-X", "POST", "-d", "x", self.url("/c/post")])], proxy=True)
        self.assertEqual((res["get"].code, res["post"].code), (200, 200), res)
        self.assert_proxied("proxy", f"api.test:{self.port}")
        self.proxy.targets.clear()
        out, r = self.client(lambda argv: self.control(argv, proxy=True),
                             ["sni", "api.test", str(self.port), "other.test"])
        self.assertEqual(out["handshake"], "ok", r.stdout + r.stderr)
        self.assert_proxied("proxy", f"api.test:{self.port}")

    def test_get_allowed_post_refused_with_json_and_audit(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-only")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, events, r = self.curl(mode, pols, [
                    ("get", [self.url("/repos/a/issues?token=QUERYSECRET42")]),
                    ("post", ["-X", "POST", "-d", "BODYSECRET42", self.url("/repos/a/pulls")])],
                    audit=True)
                self.assertEqual(res["get"].code, 200, (res, r.stderr))
                self.assertEqual(res["get"].json()["target"], "/repos/a/issues?token=QUERYSECRET42")
                body = self.assert_denied(res["post"], "POST", "/repos/a/pulls",
                                          rule="access: read-only")
                self.assertIn("/repos/a/pulls", body["allow_with"])
                self.assertIn("connection: close", res["post"].head.lower())
                self.assert_never_reached(self.https, "POST", "/repos/a/pulls")
                # One event per request; query values and bodies never logged.
                self.assertNotIn("QUERYSECRET42", r.audit_raw)
                self.assertNotIn("BODYSECRET42", r.audit_raw)
                allow = [e for e in events if e.get("action") == "allow"]
                deny = [e for e in events if e.get("action") == "deny"]
                self.assertEqual(len(allow), 1, events)
                self.assertEqual(len(deny), 1, events)
                self.assertEqual(allow[0]["subject"], f"GET api.test:{self.port}/repos/a/issues")
                self.assertEqual(deny[0]["subject"], f"POST api.test:{self.port}/repos/a/pulls")
                for e, method, path in ((allow[0], "GET", "/repos/a/issues"),
                                        (deny[0], "POST", "/repos/a/pulls")):
                    self.assertEqual(field(e, "host"), "api.test", e)
                    self.assertEqual(str(field(e, "port")), str(self.port), e)
                    self.assertEqual(field(e, "method"), method, e)
                    self.assertEqual(field(e, "path"), path, e)
                    self.assertEqual(field(e, "policy"), "api", e)
                    self.assertEqual(field(e, "rule"), "access: read-only", e)
                self.assertEqual(field(deny[0], "status"), 403, deny[0])

    def keepalive_argv(self):
        """One curl, two requests: status and new connections of each."""
        return ["/bin/sh", "-c", f"{CURL} -s -m 20 -o /dev/null -o /dev/null "
                "-w '%{http_code} %{num_connects}\\n' " + shlex.quote(self.url("/no")) + " "
                + shlex.quote(self.url("/ok"))]

    def test_control_keepalive(self):
        r = self.control(self.keepalive_argv())
        self.assertEqual(r.stdout.split("\n")[:2], ["200 1", "200 0"], r.stdout + r.stderr)

    def test_refusal_without_a_body_keeps_the_connection(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest",
                                      rules=[{"allow": {"method": "GET", "path": "/ok"}}])])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                r, _ = self.sandbox(mode, pols, self.keepalive_argv())
                self.assertEqual(r.stdout.split("\n")[:2], ["403 1", "200 0"], r.stdout + r.stderr)
                self.assertEqual(self.https.paths(), ["/ok"])

    def test_deny_rules_win_over_allow(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-write",
                                      deny_rules=[{"method": "*", "path": "/repos/*/rulesets"}])])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, _, r = self.curl(mode, pols, [
                    ("get", [self.url("/repos/a/rulesets")]),
                    ("post", ["-X", "POST", "-d", "{}", self.url("/repos/a/rulesets")]),
                    ("other", ["-X", "POST", "-d", "{}", self.url("/repos/a/issues")]),
                    # The same path spelled otherwise is the same path.
                    ("encoded", ["--path-as-is", self.url("/repos/a/%72ulesets")]),
                    ("dots", ["--path-as-is", self.url("/x/../repos/a/rulesets")]),
                    ("slashes", ["--path-as-is", self.url("//repos//a/./rulesets")]),
                    ("case", ["-X", "get", self.url("/repos/a/rulesets")])])
                for name in ("get", "encoded", "dots", "slashes"):
                    self.assert_denied(res[name], "GET", "/repos/a/rulesets", rule="deny_rules[0]",
                                       allow_with=False)
                self.assert_denied(res["post"], "POST", "/repos/a/rulesets", rule="deny_rules[0]",
                                   allow_with=False)
                self.assertEqual(res["case"].code, 403, res["case"])
                self.assertEqual(res["other"].code, 200, (res, r.stderr))
                self.assertEqual([t for t in self.https.paths() if "ulesets" in t], [])

    def test_presets(self):
        methods = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
        allowed = {"read-only": {"GET", "HEAD", "OPTIONS"},
                   "read-write": {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"},
                   "full": set(methods)}
        for mode in MODES:
            for access, ok in allowed.items():
                with self.subTest(mode=mode, access=access):
                    self.setUp()
                    pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access=access)])
                    reqs = [(m.lower(), (["-I"] if m == "HEAD" else ["-X", m]) + [self.url("/p/" + m)])
                            for m in methods]
                    res, _, r = self.curl(mode, pols, reqs)
                    for m in methods:
                        got = res[m.lower()].code
                        if m in ok:
                            self.assertEqual(got, 200, f"{m}: {res[m.lower()]} {r.stderr}")
                            self.assert_reached(self.https, m, "/p/" + m)
                        else:
                            self.assertEqual(got, 403, f"{m}: {res[m.lower()]}")
                            self.assert_never_reached(self.https, m, "/p/" + m)

    def test_query_matchers(self):
        rules = [{"allow": {"method": "GET", "path": "/search", "query": {"tag": "ok*"}}},
                 {"allow": {"method": "GET", "path": "/list", "query": {"sort": {"any": ["asc", "desc"]}}}}]
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", rules=rules)])
        cases = {"glob": ("/search?tag=okay", 200), "glob_no": ("/search?tag=bad", 403),
                 "second_value": ("/search?tag=ok&tag=evil", 403), "absent": ("/search", 403),
                 "encoded": ("/search?tag=%6Fk1", 200), "any_a": ("/list?sort=asc", 200),
                 "any_d": ("/list?sort=desc", 200), "any_no": ("/list?sort=random", 403)}
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, _, r = self.curl(mode, pols, [(n, [self.url(p)]) for n, (p, _) in cases.items()])
                for n, (p, want) in cases.items():
                    self.assertEqual(res[n].code, want, f"{n} {p}: {res[n]} {r.stderr}")
                seen = self.https.paths()
                for n, (p, want) in cases.items():
                    self.assertEqual(p in seen, want == 200, f"{p} vs {seen}")

    def test_path_selects_the_endpoint(self):
        pols = policies(api=[
            endpoint("api.test", self.port, protocol="rest", access="read-only", path="/api/**"),
            endpoint("api.test", self.port, protocol="rest", path="/upload",
                     rules=[{"allow": {"method": "POST", "path": "/upload"}}])])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, _, r = self.curl(mode, pols, [
                    ("api_get", [self.url("/api/v1/items")]),
                    ("api_post", ["-X", "POST", "-d", "x", self.url("/api/v1/items")]),
                    ("upload_post", ["-X", "POST", "-d", "x", self.url("/upload")]),
                    ("upload_get", [self.url("/upload")]),
                    ("elsewhere", [self.url("/other")])])
                self.assertEqual(res["api_get"].code, 200, (res, r.stderr))
                self.assertEqual(res["upload_post"].code, 200, res)
                for n in ("api_post", "upload_get", "elsewhere"):
                    self.assertEqual(res[n].code, 403, f"{n}: {res[n]}")
                self.assertEqual(sorted(self.https.records.paths()), ["/api/v1/items", "/upload"])
                self.assert_never_reached(self.https, "POST", "/api/v1/items")

    def test_audit_mode_forwards_and_logs_would_deny(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-only",
                                      enforcement="audit")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, events, r = self.curl(mode, pols, [
                    ("get", [self.url("/a")]),
                    ("post", ["-X", "POST", "-d", "x", self.url("/b")])], audit=True)
                self.assertEqual(res["get"].code, 200, (res, r.stderr))
                self.assertEqual(res["post"].code, 200, res)
                self.assert_reached(self.https, "POST", "/b")
                acts = {(field(e, "method"), e.get("action")) for e in events}
                self.assertIn(("POST", "would_deny"), acts, events)
                self.assertIn(("GET", "allow"), acts, events)
                self.assertNotIn("deny", [e.get("action") for e in events], events)

    def test_encoded_slash_only_with_allow_encoded_slash(self):
        for mode in MODES:
            for allow in (False, True):
                with self.subTest(mode=mode, allow_encoded_slash=allow):
                    self.setUp()
                    ep = endpoint("api.test", self.port, protocol="rest", access="read-only")
                    if allow:
                        ep["allow_encoded_slash"] = True
                    res, _, r = self.curl(mode, policies(api=[ep]), [
                        ("slash", [self.url("/files/a%2Fb")]), ("plain", [self.url("/files/ab")])])
                    self.assertEqual(res["plain"].code, 200, (res, r.stderr))
                    if allow:
                        self.assertEqual(res["slash"].code, 200, res)
                        self.assertIn("/files/a%2Fb", self.https.paths())
                    else:
                        # docs/l7.md: a refused spelling is a 400.
                        self.assertEqual(res["slash"].code, 400, res)
                        self.assertEqual(self.https.paths(), ["/files/ab"])

    def test_host_and_sni_must_match_the_connect_host(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-only")],
                        other=[endpoint("other.test", self.port, protocol="rest", access="read-only")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, _, r = self.curl(mode, pols, [
                    ("ok", [self.url("/ok")]),
                    ("host", ["-H", "Host: other.test", self.url("/hosted")]),
                    ("hostport", ["-H", f"Host: other.test:{self.port}", self.url("/hosted")])])
                self.assertEqual(res["ok"].code, 200, (res, r.stderr))
                self.assertEqual(res["host"].code, 403, res["host"])
                self.assertEqual(res["hostport"].code, 403, res["hostport"])
                # SNI: CONNECT api.test, ClientHello for other.test (itself
                # an allowed host): the handshake is refused.
                out, r = self.client(lambda argv: self.sandbox(mode, pols, argv)[0],
                                     ["sni", "api.test", str(self.port), "other.test"])
                self.assertEqual(out["handshake"], "failed", r.stdout + r.stderr)
                self.assertEqual(self.https.paths(), ["/ok"])

    def test_untrusted_upstream_is_a_502(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-only")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, events, r = self.curl(mode, pols, [("get", [self.url("/ok")])], upstream_ca=False,
                                           audit=True)
                self.assertEqual(res["get"].code, 502, (res, r.stderr))
                self.assertEqual(res["get"].json().get("error"), "upstream_tls", res["get"])
                self.assertTrue(res["get"].json().get("detail"), res["get"])
                self.assertEqual(self.https.paths(), [])
                # Audited (docs/l7.md), in whichever layer the proxy uses.
                self.assertIn(f"api.test:{self.port}", r.audit_raw)
                self.assertTrue("upstream" in r.audit_raw or "502" in r.audit_raw, r.audit_raw)

    def test_control_untrusted_upstreams(self):
        # The rogue server works for a client that trusts its own CA, and
        # fails verification against the test CA; wrong.test is not a
        # name in the test leaf.
        rogue = f"https://api.test:{self.rogue.port}/rogue"
        res = self.curl_control([("rogue_own_ca", ["--cacert", self.rogue_ca.ca, rogue]),
                                 ("rogue_test_ca", [rogue]),
                                 ("wrong_name", [f"https://wrong.test:{self.port}/wrong"]),
                                 ("wrong_name_k", ["-k", f"https://wrong.test:{self.port}/wrong"])])
        self.assertEqual(res["rogue_own_ca"].code, 200, res)
        self.assertEqual(res["wrong_name_k"].code, 200, res)
        self.assertEqual((res["rogue_test_ca"].rc, res["wrong_name"].rc), (60, 60), res)

    def test_upstream_verified_against_upstream_ca_and_the_connect_host(self):
        pols = policies(api=[endpoint("api.test", self.rogue.port, protocol="rest", access="read-only")],
                        wrong=[endpoint("wrong.test", self.port, protocol="rest", access="read-only")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                self.rogue.records.clear()
                res, _, r = self.curl(mode, pols, [
                    ("rogue", [f"https://api.test:{self.rogue.port}/rogue"]),
                    ("wrong", [f"https://wrong.test:{self.port}/wrong"])])
                for n in ("rogue", "wrong"):
                    self.assertEqual(res[n].code, 502, (n, res[n], r.stderr))
                    self.assertEqual(res[n].json().get("error"), "upstream_tls", res[n])
                self.assertEqual(self.rogue.paths(), [])
                self.assertEqual(self.https.paths(), [])

    def test_plain_http_through_the_forward_proxy(self):
        pols = policies(api=[endpoint("api.test", self.hport, protocol="rest", access="read-only")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                base = f"http://api.test:{self.hport}"
                res, _, r = self.curl(mode, pols, [
                    ("get", [base + "/plain"]),
                    ("post", ["-X", "POST", "-d", "x", base + "/plain-post"])])
                self.assertEqual(res["get"].code, 200, (res, r.stderr))
                self.assert_denied(res["post"], "POST", "/plain-post", rule="access: read-only")
                self.assertEqual(self.http.paths(), ["/plain"])

    def test_the_command_gets_the_run_ca(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-only")])
        for mode in MODES:
            with self.subTest(mode=mode):
                env = dict(os.environ, JAVA_TOOL_OPTIONS="-Dcaller.option=kept")
                pf = self.policy_file(mode, pols)
                # The environment, then what the command can read of the
                # bundle: the system roots and one more (the run's CA).
                script = ("/usr/bin/env; echo certs=$(grep -c 'BEGIN CERTIFICATE' \"$SSL_CERT_FILE\"); "
                          "store=$(echo \"$JAVA_TOOL_OPTIONS\" | tr ' ' '\\n' | "
                          "sed -n 's/^-Djavax.net.ssl.trustStore=//p'); test -r \"$store\"; echo store=$?")
                r = subprocess.run([rf.BIN, "run", "-q", "--policy", pf, "--workdir", self.dir, "--",
                                    "/bin/sh", "-c", script], cwd=self.dir, capture_output=True, text=True,
                                   timeout=60, env=env)
                got = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
                with open("/etc/ssl/certs/ca-certificates.crt") as f:
                    roots = f.read().count("BEGIN CERTIFICATE")
                self.assertGreaterEqual(int(got.get("certs") or 0), roots + 1, r.stdout + r.stderr)
                self.assertEqual(got.get("store"), "0", r.stdout + r.stderr)
                bundle = got.get("SSL_CERT_FILE")
                self.assertTrue(bundle, r.stdout + r.stderr)
                for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO",
                          "PIP_CERT", "AWS_CA_BUNDLE"):
                    self.assertEqual(got.get(k), bundle, k)
                jto = got.get("JAVA_TOOL_OPTIONS", "")
                self.assertIn("-Dcaller.option=kept", jto)
                self.assertIn("-Djavax.net.ssl.trustStoreType=PKCS12", jto)
                self.assertIn("-Djavax.net.ssl.trustStore=", jto)
                self.assertIn("-Djavax.net.ssl.trustStorePassword=", jto)


    def test_plain_http_inside_a_connect_tunnel_is_inspected(self):
        # TLS is detected from the first byte: plain HTTP in a CONNECT
        # tunnel (curl -p) is parsed directly, with or without tls: skip.
        base = f"http://api.test:{self.hport}"
        for mode in MODES:
            for skip in (False, True):
                fields = {"tls": "skip"} if skip else {}
                pols = policies(api=[endpoint("api.test", self.hport, protocol="rest", access="read-only",
                                              **fields)])
                with self.subTest(mode=mode, tls_skip=skip):
                    self.setUp()
                    res, _, r = self.curl(mode, pols, [
                        ("get", ["-p", base + "/tunnel-get"]),
                        ("post", ["-p", "-X", "POST", "-d", "x", base + "/tunnel-post"])])
                    self.assertEqual(res["get"].code, 200, (res, r.stderr))
                    self.assert_denied(res["post"], "POST", "/tunnel-post", rule="access: read-only")
                    self.assertEqual(self.http.paths(), ["/tunnel-get"])

    def test_tls_skip_refuses_tls(self):
        # docs/l7.md: with tls: skip nothing is terminated, and TLS on an
        # inspected endpoint does not parse as HTTP: refused, not relayed.
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-only", tls="skip")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                res, _, r = self.curl(mode, pols, [("get", [self.url("/skipped")])])
                self.assertNotEqual(res["get"].code, 200, res)
                self.assertEqual(self.https.records.snapshot(), [])


class Validation(unittest.TestCase):
    """OpenShell's load-time rules for L7 fields: a bad endpoint is an
    error naming its place (validate exits 1, run exits 125 and starts
    nothing); the same policy made right validates (the control)."""
    GOOD = {"protocol": "rest", "access": "read-only"}
    BAD = {
        "access and rules": {"protocol": "rest", "access": "read-only",
                             "rules": [{"allow": {"method": "GET", "path": "/**"}}]},
        "neither access nor rules": {"protocol": "rest"},
        "empty rules": {"protocol": "rest", "rules": []},
        "deny without allow": {"protocol": "rest", "deny_rules": [{"method": "POST", "path": "/**"}]},
        "unknown access": {"protocol": "rest", "access": "write-only"},
        "unknown enforcement": {"protocol": "rest", "access": "read-only", "enforcement": "maybe"},
        "websocket method": {"protocol": "websocket", "rules": [{"allow": {"method": "POST", "path": "/ws"}}]},
        "unclosed class": {"protocol": "rest", "rules": [{"allow": {"method": "GET", "path": "/a[b"}}]},
    }

    def policy(self, d, fields):
        path = os.path.join(d, "policy.yaml")
        with open(path, "w") as f:
            f.write("version: 1\nnetwork_policies:\n" + policies(api=[endpoint("api.test", 443, **fields)]))
        os.chmod(path, 0o644)
        return path

    def test_the_corrected_policy_validates(self):
        with rf.TempDir() as d:
            r = rf.ringfence("policy", "validate", self.policy(d, self.GOOD))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_endpoints_are_refused_naming_the_place(self):
        # Audit mode is no way around the checks (today's loader takes audit
        # L7 fields unchecked).
        cases = [(name, enforcement, dict(fields, enforcement=fields.get("enforcement", enforcement)))
                 for name, fields in self.BAD.items() for enforcement in ("enforce", "audit")]
        for name, enforcement, fields in cases:
            with self.subTest(case=name, enforcement=enforcement), rf.TempDir() as d:
                path = self.policy(d, fields)
                v = rf.ringfence("policy", "validate", path)
                self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
                self.assertNotIn("not supported yet", v.stderr)
                self.assertIn("network_policies.api.endpoints[0]", v.stderr)
                self.assertIn(path + ":", v.stderr)
                marker = os.path.join(d, "ran")
                r = rf.run(["/bin/sh", "-c", f"touch {marker}"], policy=path, cwd=d)
                self.assertEqual(r.returncode, 125, r.stderr)
                self.assertFalse(os.path.exists(marker), "the command ran")

    def test_tls_terminate_and_passthrough_are_deprecated_not_refused(self):
        for value in ("terminate", "passthrough"):
            with self.subTest(tls=value), rf.TempDir() as d:
                v = rf.ringfence("policy", "validate", self.policy(d, dict(self.GOOD, tls=value)))
                self.assertEqual(v.returncode, 0, v.stderr)
                self.assertIn("deprecat", v.stderr.lower())


@unittest.skipUnless(rf.IS_ROOT, "the controls need root")
class Clients(L7Case):
    """Python's urllib, Node's fetch, git, pip: allowed and refused."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.git_root = os.path.join(cls.dir, "gitroot")
        os.mkdir(cls.git_root)
        fx.make_git_repo(cls.git_root)
        cls.wheel = fx.build_wheel(cls.dir)
        cls.https.git_root = cls.git_root
        cls.https.wheels = {os.path.basename(cls.wheel): cls.wheel}

    def api(self, **fields):
        return policies(api=[endpoint("api.test", self.port, protocol="rest", **fields)])

    # urllib -----------------------------------------------------------------

    def urllib(self, run, method, path, data=None):
        return self.client(run, ["urllib", method, self.url(path)] + ([data] if data else []))

    def test_control_urllib(self):
        for how, run in self.controls():
            with self.subTest(how=how):
                self.setUp()
                out, r = self.urllib(run, "POST", "/py/post", "x=1")
                self.assertEqual(out["status"], 200, r.stderr)
                self.assert_reached(self.https, "POST", "/py/post")
                self.assert_proxied(how, f"api.test:{self.port}")

    def test_urllib(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                run = lambda argv: self.sandbox(mode, self.api(access="read-only"), argv)[0]
                out, r = self.urllib(run, "GET", "/py/get")
                self.assertEqual(out["status"], 200, r.stderr)
                out, r = self.urllib(run, "POST", "/py/post", "x=1")
                self.assertEqual(out["status"], 403, r.stderr)
                self.assertEqual(json.loads(out["body"])["error"], "policy_denied")
                self.assertEqual(self.https.paths(), ["/py/get"])

    # Node -------------------------------------------------------------------

    NODE_PRELOAD = """// Node 20's fetch ignores HTTPS_PROXY: route it through undici's
// ProxyAgent (the same global dispatcher slot Node's bundled undici reads).
const proxy = process.env.HTTPS_PROXY || process.env.https_proxy;
if (proxy) {
  const { ProxyAgent, setGlobalDispatcher } = require(%s);
  setGlobalDispatcher(new ProxyAgent(proxy));
}
"""
    NODE_MAIN = """(async () => {
  const out = {};
  for (const [name, method] of [["get", "GET"], ["post", "POST"]]) {
    const r = await fetch(process.argv[2] + "/node/" + name,
                          { method, body: method === "POST" ? "x=1" : undefined });
    out[name] = { status: r.status, body: await r.text() };
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ error: String(e), cause: String(e.cause) })); });
"""

    def node_setup(self):
        if not os.path.exists(NODE):
            self.skipTest("needs node")
        undici = os.path.join(NODE_CACHE, "node_modules", "undici")
        if not os.path.isdir(undici):
            r = subprocess.run(["npm", "install", "--prefix", NODE_CACHE, "--no-audit", "--no-fund",
                                "undici@6"], capture_output=True, text=True, timeout=180)
            if r.returncode != 0 or not os.path.isdir(undici):
                self.skipTest("npm could not install undici@6 (registry unreachable?): " + r.stderr[-300:])
        subprocess.run(["chmod", "-R", "a+rX", NODE_CACHE], check=True, timeout=60)
        with open(os.path.join(self.dir, "preload.js"), "w") as f:
            f.write(self.NODE_PRELOAD % json.dumps(undici))
        with open(os.path.join(self.dir, "fetch.js"), "w") as f:
            f.write(self.NODE_MAIN)
        return [NODE, "--require", os.path.join(self.dir, "preload.js"), os.path.join(self.dir, "fetch.js"),
                f"https://api.test:{self.port}"]

    def test_control_node_fetch(self):
        argv = self.node_setup()
        for how, run in self.controls():
            with self.subTest(how=how):
                self.setUp()
                r = run(argv)
                out = json.loads(r.stdout or "{}")
                self.assertEqual((out.get("get", {}).get("status"), out.get("post", {}).get("status")),
                                 (200, 200), r.stdout + r.stderr)
                self.assert_proxied(how, f"api.test:{self.port}")

    def test_node_fetch(self):
        argv = self.node_setup()
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                r, _ = self.sandbox(mode, self.api(access="read-only"), argv, extra_ro=[NODE_CACHE])
                out = json.loads(r.stdout or "{}")
                self.assertEqual(out.get("get", {}).get("status"), 200, r.stdout + r.stderr)
                self.assertEqual(out["post"]["status"], 403, out)
                self.assertEqual(json.loads(out["post"]["body"])["error"], "policy_denied")
                self.assertEqual(self.https.paths(), ["/node/get"])

    # Java -------------------------------------------------------------------

    JAVA_MAIN = """import java.net.*;
// GET then POST with HttpsURLConnection: the proxy and the trust store come
// from system properties (JAVA_TOOL_OPTIONS in the sandbox).
public class Get {
  public static void main(String[] a) throws Exception {
    for (String m : new String[] {"GET", "POST"}) {
      HttpURLConnection c = (HttpURLConnection) new URL(a[0] + "/java/" + m.toLowerCase()).openConnection();
      c.setConnectTimeout(20000);
      c.setReadTimeout(20000);
      c.setRequestMethod(m);
      if (m.equals("POST")) {
        c.setDoOutput(true);
        c.getOutputStream().write("x=1".getBytes());
      }
      System.out.println(m + " " + c.getResponseCode());
    }
  }
}
"""

    def java_setup(self):
        if not all(shutil.which(t) for t in ("java", "javac", "keytool")):
            self.skipTest("needs java, javac and keytool")
        classes = os.path.join(self.dir, "java")
        if not os.path.exists(os.path.join(classes, "Get.class")):
            os.makedirs(classes, exist_ok=True)
            src = os.path.join(classes, "Get.java")
            with open(src, "w") as f:
                f.write(self.JAVA_MAIN)
            # Compiled once: the source launcher would compile on every run.
            subprocess.run(["javac", "-d", classes, src], check=True, capture_output=True, timeout=180)
            subprocess.run(["chmod", "-R", "a+rX", classes], check=True, timeout=30)
        return ["java", "-cp", classes, "Get", f"https://api.test:{self.port}"]

    def test_control_java(self):
        argv = self.java_setup()
        store = os.path.join(self.dir, "test-ca.p12")
        if not os.path.exists(store):
            subprocess.run(["keytool", "-importcert", "-noprompt", "-storetype", "PKCS12", "-keystore", store,
                            "-storepass", "changeit", "-alias", "l7test", "-file", self.ca.ca],
                           check=True, capture_output=True, timeout=120)
        props = [f"-Djavax.net.ssl.trustStore={store}", "-Djavax.net.ssl.trustStoreType=PKCS12",
                 "-Djavax.net.ssl.trustStorePassword=changeit"]
        for how, extra in (("direct", []), ("connect-proxy", ["-Dhttps.proxyHost=127.0.0.1",
                                                             f"-Dhttps.proxyPort={self.proxy.port}"])):
            with self.subTest(how=how):
                self.setUp()
                r = self.control(argv[:1] + props + extra + argv[1:])
                self.assertEqual(r.stdout.split(), ["GET", "200", "POST", "200"], r.stdout + r.stderr)
                self.assert_proxied(how, f"api.test:{self.port}")

    def test_java(self):
        argv = self.java_setup()
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                r, _ = self.sandbox(mode, self.api(access="read-only"), argv)
                self.assertEqual(r.stdout.split(), ["GET", "200", "POST", "403"], r.stdout + r.stderr)
                self.assertEqual(self.https.paths(), ["/java/get"])

    # git --------------------------------------------------------------------

    # The rules of the issue; OpenShell's own github git transport (its
    # providers/github.yaml) is the second set: GET/HEAD/OPTIONS anywhere and
    # POST only to git-upload-pack, so push is refused at receive-pack.
    GIT_RULES = {
        "discovery": [{"allow": {"method": "GET", "path": "/**/info/refs*",
                                 "query": {"service": "git-upload-pack"}}},
                      {"allow": {"method": "POST", "path": "/**/git-upload-pack"}}],
        "openshell": [{"allow": {"method": "GET", "path": "**"}}, {"allow": {"method": "HEAD", "path": "**"}},
                      {"allow": {"method": "OPTIONS", "path": "**"}},
                      {"allow": {"method": "POST", "path": "/**/git-upload-pack"}}],
    }

    def git_script(self, tag):
        """Clone, commit, push; prints what each step returned."""
        url = f"https://git.test:{self.port}/git/repo.git"
        dest = f"clone-{tag}"
        return ["/bin/sh", "-c",
                f"rm -rf {dest}; export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0; "
                f"git clone -q {url} {dest}; echo clone=$?; cat {dest}/README; "
                f"cd {dest} && echo x > new && git add new && "
                f"git -c user.name=t -c user.email=t@test commit -q -m two && "
                f"git push -q origin HEAD:refs/heads/{tag}; echo push=$?"]

    def refs(self):
        r = subprocess.run(["git", "-C", os.path.join(self.git_root, "repo.git"), "for-each-ref",
                            "--format=%(refname)"], capture_output=True, text=True, timeout=30)
        return r.stdout.split()

    def test_control_git_clone_and_push(self):
        for how, run in self.controls():
            with self.subTest(how=how):
                self.setUp()
                r = run(self.git_script("control-" + how))
                self.assertIn("clone=0", r.stdout, r.stderr)
                self.assertIn("cloned-through-l7", r.stdout)
                self.assertIn("push=0", r.stdout, r.stderr)
                self.assertIn("refs/heads/control-" + how, self.refs())
                self.assert_reached(self.https, "POST", "/git/repo.git/git-receive-pack")
                self.assert_proxied(how, f"git.test:{self.port}")

    def test_git_clone_allowed_push_refused(self):
        for mode in MODES:
            for name, rules in self.GIT_RULES.items():
                with self.subTest(mode=mode, rules=name):
                    self.setUp()
                    tag = f"{mode}-{name}"
                    pols = policies(git=[endpoint("git.test", self.port, protocol="rest", rules=rules)])
                    r, _ = self.sandbox(mode, pols, self.git_script(tag))
                    self.assertIn("clone=0", r.stdout, r.stdout + r.stderr)
                    self.assertIn("cloned-through-l7", r.stdout)
                    self.assertRegex(r.stdout, r"push=[1-9]", r.stdout + r.stderr)
                    self.assertIn("403", r.stderr, r.stderr)
                    self.assertNotIn(f"refs/heads/{tag}", self.refs())
                    self.assert_never_reached(self.https, "POST", "/git/repo.git/git-receive-pack")
                    if name == "discovery":
                        self.assertFalse([t for t in self.https.paths() if "receive-pack" in t],
                                         self.https.paths())

    # pip --------------------------------------------------------------------

    def pip_argv(self, target):
        return [rf.PY, "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir",
                "--no-input", "--index-url", f"https://pypi.test:{self.port}/simple/", "--target", target,
                "rfdemo"]

    def test_control_pip(self):
        for how, run in self.controls():
            with self.subTest(how=how):
                self.setUp()
                target = os.path.join(self.dir, "pip-control-" + how)
                r = run(self.pip_argv(target))
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertTrue(os.path.exists(os.path.join(target, "rfdemo.py")))
                self.assert_proxied(how, f"pypi.test:{self.port}")

    def test_pip_from_a_local_index(self):
        rules = [{"allow": {"method": "GET", "path": "/simple/**"}},
                 {"allow": {"method": "GET", "path": "/files/*.whl"}}]
        pols = policies(pypi=[endpoint("pypi.test", self.port, protocol="rest", rules=rules)])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                target = os.path.join(self.dir, f"pip-{mode}")
                r, _ = self.sandbox(mode, pols, self.pip_argv(target))
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertTrue(os.path.exists(os.path.join(target, "rfdemo.py")), r.stdout)
                self.assertEqual({m for m in (x["method"] for x in self.https.records.snapshot())}, {"GET"})


@unittest.skipUnless(rf.IS_ROOT, "the controls need root")
class Bodies(L7Case):
    """8 MiB both ways through TLS, checksummed at the other end."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        data = os.urandom(fx.BLOB_SIZE)
        cls.big_sha = hashlib.sha256(data).hexdigest()
        with open(os.path.join(cls.dir, "big.bin"), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(cls.dir, "big.bin"), 0o644)

    def check(self, run):
        up = [rf.PY, "l7client.py", "upload", self.url("/upload"), str(fx.BLOB_SIZE)]
        down = [rf.PY, "l7client.py", "download", self.url("/blob")]
        r = run(up)
        out = json.loads(r.stdout or "{}")
        self.assertEqual(out.get("status"), 200, r.stdout + r.stderr)
        self.assertEqual(out["length"], fx.BLOB_SIZE)
        self.assertEqual(out["server"], out["sent"])
        rec = self.https.records.snapshot()
        self.assertEqual([(x["method"], x["length"]) for x in rec], [("POST", fx.BLOB_SIZE)])
        r = run(down)
        out = json.loads(r.stdout or "{}")
        self.assertEqual(out.get("status"), 200, r.stdout + r.stderr)
        self.assertEqual((out["length"], out["sha256"]), (fx.BLOB_SIZE, self.https.blob_sha))
        # curl from stdin: chunked, after Expect: 100-continue.
        r = run(["/bin/sh", "-c", f"{CURL} -s -S -m 60 -X POST -T - {self.url('/upload')} < big.bin"])
        out = json.loads(r.stdout or "{}")
        self.assertEqual((out.get("length"), out.get("sha256")), (fx.BLOB_SIZE, self.big_sha),
                         r.stdout + r.stderr)

    def test_control_8mib_both_ways(self):
        for how, run in self.controls():
            with self.subTest(how=how):
                self.setUp()
                self.check(run)
                self.assert_proxied(how, f"api.test:{self.port}")

    def test_8mib_both_ways(self):
        runs = []
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest",
                                      rules=[{"allow": {"method": "POST", "path": "/upload"}},
                                             {"allow": {"method": "GET", "path": "/blob"}}])])
        for mode in MODES:
            runs.append((mode, lambda argv, m=mode: self.sandbox(m, pols, argv)[0]))
        for name, run in runs:
            with self.subTest(mode=name):
                self.setUp()
                self.check(run)


@unittest.skipUnless(rf.IS_ROOT, "the controls need root")
class WebSocket(L7Case):
    """RFC 6455 echo over TLS: the upgrade and text messages judged."""

    def ws(self, run):
        return self.client(run, ["ws", "api.test", str(self.port), "binary:bin-one", "text:hello",
                                 "binary:bin-two"])

    def test_control_echoes_text_and_binary(self):
        for how, run in self.controls():
            with self.subTest(how=how):
                self.setUp()
                out, r = self.ws(run)
                self.assertIn("101", out["upgrade"], r.stderr)
                self.assertEqual([(f["opcode"], f["data"]) for f in out["frames"]],
                                 [(2, "bin-one"), (1, "hello"), (2, "bin-two")])
                self.assertIn((1, b"hello"), [(m["opcode"], m["data"])
                                              for m in self.https.ws_messages.snapshot()])
                self.assert_proxied(how, f"api.test:{self.port}")

    def test_read_only_refuses_text_with_1008(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="websocket", access="read-only")])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                ran = {}

                def run(argv):
                    ran["r"], ran["events"] = self.sandbox(mode, pols, argv, audit=True)
                    return ran["r"]
                out, r = self.ws(run)
                self.assertIn("101", out["upgrade"], r.stdout + r.stderr)
                self.assertEqual(out["frames"][0], {"opcode": 2, "data": "bin-one"}, out)
                self.assertEqual(out["frames"][1].get("opcode"), 8, out)
                self.assertEqual(out["frames"][1].get("code"), 1008, out)
                self.assertEqual(len(out["frames"]), 2, out)
                got = [(m["opcode"], m["data"]) for m in self.https.ws_messages.snapshot()]
                self.assertNotIn((1, b"hello"), got)
                self.assertIn((2, b"bin-one"), got)
                # The upgrade is a request (allowed); the refused text
                # message is an event of its own, its content not logged.
                acts = [(field(e, "method"), e.get("action")) for e in ran["events"]]
                self.assertIn(("GET", "allow"), acts, ran["events"])
                self.assertIn(("WEBSOCKET_TEXT", "deny"), acts, ran["events"])
                self.assertNotIn("hello", ran["r"].audit_raw)

    def test_websocket_text_rule_lets_text_through(self):
        rules = [{"allow": {"method": "GET", "path": "/ws"}},
                 {"allow": {"method": "WEBSOCKET_TEXT", "path": "/ws"}}]
        for mode in MODES:
            for how, fields in (("rules", {"rules": rules}), ("read-write", {"access": "read-write"})):
                pols = policies(api=[endpoint("api.test", self.port, protocol="websocket", **fields)])
                with self.subTest(mode=mode, policy=how):
                    self.setUp()
                    out, r = self.ws(lambda argv: self.sandbox(mode, pols, argv)[0])
                    self.assertIn("101", out["upgrade"], r.stdout + r.stderr)
                    self.assertEqual([(f["opcode"], f["data"]) for f in out["frames"]],
                                     [(2, "bin-one"), (1, "hello"), (2, "bin-two")])

    def test_upgrade_on_a_path_no_rule_allows_is_refused(self):
        rules = [{"allow": {"method": "GET", "path": "/other"}}]
        pols = policies(api=[endpoint("api.test", self.port, protocol="websocket", rules=rules)])
        for mode in MODES:
            with self.subTest(mode=mode):
                self.setUp()
                out, r = self.ws(lambda argv: self.sandbox(mode, pols, argv)[0])
                self.assertIn(" 403", out["upgrade"], r.stdout + r.stderr)
                self.assertEqual(self.https.paths(), [])


@unittest.skipUnless(rf.IS_ROOT and os.path.exists(CURL), "uid 65534 needs root to switch to it")
class AsNobody(L7Case):
    """The basic allow and refuse with ringfence started as uid 65534."""
    PREFIX = AS_USER

    def test_get_allowed_post_refused(self):
        pols = policies(api=[endpoint("api.test", self.port, protocol="rest", access="read-only")])
        modes = MODES if unprivileged_userns_available() else ("platform",)
        for mode in modes:
            with self.subTest(mode=mode):
                self.setUp()
                res, events, r = self.curl(mode, pols, [
                    ("get", [self.url("/n/get")]), ("post", ["-X", "POST", "-d", "x", self.url("/n/post")])],
                    audit=True)
                self.assertEqual(res["get"].code, 200, (res, r.stderr))
                self.assert_denied(res["post"], "POST", "/n/post", rule="access: read-only")
                self.assertEqual(self.https.paths(), ["/n/get"])
                self.assertEqual(sorted(e.get("action") for e in events), ["allow", "deny"], events)


# OpenShell's policies (tests/compat/openshell/) whose only unsupported
# feature was REST/WebSocket inspection: each must now validate and run.
CORPUS = os.path.abspath(os.path.join(os.path.dirname(__file__), "../compat/openshell"))
L7_PROTOCOLS = {"rest", "websocket"}
OTHER_FEATURES = {"mcp", "json_rpc", "persisted_queries", "graphql_persisted_queries",
                  "graphql_max_body_bytes", "credentials", "network_middlewares", "middlewares"}


def _walk(node, protocols, keys):
    if isinstance(node, dict):
        for k, v in node.items():
            keys.add(k)
            if k == "protocol" and isinstance(v, str):
                protocols.add(v)
            _walk(v, protocols, keys)
    elif isinstance(node, list):
        for v in node:
            _walk(v, protocols, keys)


def rest_only_corpus():
    import yaml
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(CORPUS, name)) as f:
            doc = yaml.safe_load(f)
        protocols, keys = set(), set()
        _walk(doc, protocols, keys)
        if protocols and protocols <= L7_PROTOCOLS and not keys & OTHER_FEATURES:
            out.append(name)
    return out


class OpenShellCorpus(unittest.TestCase):
    def test_selection(self):
        # Control: the selection finds the REST files and leaves out those
        # with other features (GraphQL, middleware, transparent TCP).
        names = rest_only_corpus()
        self.assertGreaterEqual(len(names), 5, names)
        for other in ("docs-github-sandbox.yaml", "ex-transparent-tcp-redis__policy.yaml",
                      "docs-sandboxes-policies.yaml", "agent-gator__policy.yaml"):
            self.assertNotIn(other, names)
        self.assertIn("docs-first-network-policy.yaml", names)

    def test_rest_only_policies_validate_and_show(self):
        for name in rest_only_corpus():
            with self.subTest(policy=name):
                path = os.path.join(CORPUS, name)
                v = rf.ringfence("policy", "validate", path)
                self.assertEqual(v.returncode, 0, v.stderr)
                self.assertNotIn("not supported yet", v.stderr)
                shown = rf.ringfence("policy", "show", "--policy", path, "--json")
                self.assertEqual(shown.returncode, 0, shown.stderr)
                self.assertIn('"rest"', shown.stdout)

    @unittest.skipUnless(rf.IS_ROOT, "OpenShell's policies run as its sandbox user")
    def test_rest_only_policies_run(self):
        for name in rest_only_corpus():
            with self.subTest(policy=name), rf.PrivateEtc(
                    passwd=["sandbox:x:4998:4998::/sandbox:/bin/sh"], group=["sandbox:x:4998:"],
                    dirs=["/sandbox"], owner=(4998, 4998)) as etc:
                for mode in MODES:
                    r = etc.run([rf.BIN, "run", "-q", "--policy", os.path.join(CORPUS, name), "--mode", mode,
                                 "--workdir", "/sandbox", "--", "/bin/true"], cwd="/")
                    self.assertEqual(r.returncode, 0, f"{mode}: {r.stderr}")


if __name__ == "__main__":
    unittest.main()
