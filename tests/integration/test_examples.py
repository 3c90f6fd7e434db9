"""The policies in examples/: each validates, and each runs a real command
under the real binary. Network destinations are stand-in servers on
loopback: the test maps each example host to 127.0.0.1 (network.hosts, and
allowed_ips, the loopback opt-in) on the stand-in's port, and changes nothing
else of the example. The CUDA example runs against stand-in device nodes in
a private mount namespace, as test_gpu_baseline.py does."""
import http.server
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import unittest

import yaml

from rf import BIN, IS_ROOT, PY, TempDir, ringfence, run

EXAMPLES = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../examples"))
NAMES = ["coding-agent.yaml", "cuda-training.yaml", "offline-build.yaml", "mcp-server.yaml"]


def example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return yaml.safe_load(f)


def write_policy(directory, doc):
    path = os.path.join(directory, "policy.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)
    os.chmod(path, 0o644)
    return path


def to_stand_in(doc, port):
    """Every endpoint host -> 127.0.0.1:port (hosts + allowed_ips)."""
    hosts = {}
    for entry in doc.get("network_policies", {}).values():
        for ep in entry["endpoints"]:
            hosts[ep["host"]] = "127.0.0.1"
            ep.pop("ports", None)
            ep["port"] = port
            ep["allowed_ips"] = ["127.0.0.1/32"]
    doc.setdefault("network", {})["hosts"] = hosts
    return doc


class StandIn:
    """HTTP on 127.0.0.1: answers every GET with 200 "stand-in <host>" and
    records (Host, path, User-Agent)."""

    def __init__(self):
        self.seen = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.headers.get("Host", ""), self.path,
                             self.headers.get("User-Agent", "")))
                body = ("stand-in %s\n" % self.headers.get("Host", "")).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


PY_GET = ("import sys, urllib.request\n"
          "try:\n"
          "    print(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode().strip())\n"
          "except Exception as e:\n"
          "    print('refused', e); sys.exit(3)\n")

NODE_GET = ("const http = require('http');\n"
            "const p = new URL(process.env.HTTP_PROXY);\n"
            "const u = new URL(process.argv[2]);\n"
            "http.get({host: p.hostname, port: p.port, path: u.href, headers: {Host: u.host}},"
            " r => { let b = ''; r.on('data', d => b += d);"
            " r.on('end', () => { console.log(r.statusCode, b.trim()); }); })"
            ".on('error', e => { console.log('error', e.message); process.exit(3); });\n")


class Validate(unittest.TestCase):
    def test_every_example_validates(self):
        self.assertEqual(sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".yaml")),
                         sorted(NAMES))
        for name in NAMES:
            with self.subTest(name):
                r = ringfence("policy", "validate", "--json", os.path.join(EXAMPLES, name))
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                out = json.loads(r.stdout)
                self.assertTrue(out["valid"])
                self.assertEqual(out["errors"], [])
                self.assertEqual(out["warnings"], [])  # binaries listed everywhere

    def test_readme_shows_an_example(self):
        with open(os.path.join(EXAMPLES, "../README.md")) as f:
            readme = f.read()
        with open(os.path.join(EXAMPLES, "coding-agent.yaml")) as f:
            text = f.read()
        # The README's copy is the file itself, from `version: 1` on.
        self.assertIn(text[text.index("version: 1"):], readme)


@unittest.skipUnless(IS_ROOT, "runs as root (namespace mode, the sandbox user nobody)")
class CodingAgent(unittest.TestCase):
    def setUp(self):
        self.server = StandIn()
        self._tmp = TempDir()
        self.dir = self._tmp.__enter__()
        self.repo = os.path.join(self.dir, "repo")
        os.mkdir(self.repo)
        os.chmod(self.repo, 0o777)
        for name, body in (("get.py", PY_GET), ("get.js", NODE_GET), (".env", "TOKEN=secret\n")):
            with open(os.path.join(self.repo, name), "w") as f:
                f.write(body)
            os.chmod(os.path.join(self.repo, name), 0o644)
        self.policy = write_policy(self.dir, to_stand_in(example("coding-agent.yaml"),
                                                         self.server.port))

    def tearDown(self):
        self.server.close()
        self._tmp.__exit__(None, None, None)

    def sandboxed(self, argv):
        return run(argv, policy=self.policy, cwd=self.repo, timeout=60)

    def url(self, host, path="/"):
        return "http://%s:%d%s" % (host, self.server.port, path)

    def test_registry_git_host_and_model_api(self):
        # pip's interpreter reaches PyPI.
        r = self.sandboxed([PY, "get.py", self.url("pypi.org", "/simple/")])
        self.assertEqual(r.stdout.strip(), "stand-in pypi.org:%d" % self.server.port, r.stderr)
        # git reaches the git host (the stand-in is no git server: git then
        # fails, but its request arrived).
        if shutil.which("git"):
            self.sandboxed(["/usr/bin/git", "ls-remote", self.url("github.com", "/o/r.git")])
            self.assertTrue(any(p.startswith("/o/r.git/info/refs") and ua.startswith("git/")
                                for _, p, ua in self.server.seen), self.server.seen)
        # The agent's runtime (node) reaches the model API.
        if os.path.exists("/usr/bin/node"):
            r = self.sandboxed(["/usr/bin/node", "get.js", self.url("api.anthropic.com", "/v1/models")])
            self.assertEqual(r.stdout.strip(),
                             "200 stand-in api.anthropic.com:%d" % self.server.port, r.stderr)

    def test_other_programs_and_hosts_are_refused(self):
        before = len(self.server.seen)
        # python is not git: the git host refuses it; no entry names example.org.
        for url in (self.url("github.com"), self.url("example.org")):
            r = self.sandboxed([PY, "get.py", url])
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            self.assertIn("403", r.stdout)
        # curl is listed nowhere: not even the model API.
        if shutil.which("curl"):
            r = self.sandboxed(["/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                self.url("api.anthropic.com")])
            self.assertEqual(r.stdout, "403", r.stderr)
        self.assertEqual(len(self.server.seen), before)
        # Secrets in the repository stay unreadable; the rest is read-write.
        r = self.sandboxed(["/bin/sh", "-c", "cat .env; echo ok > built.txt"])
        self.assertIn("Permission denied", r.stderr)
        self.assertNotIn("secret", r.stdout)
        with open(os.path.join(self.repo, "built.txt")) as f:
            self.assertEqual(f.read(), "ok\n")
        # Control: without ringfence the stand-in answers python directly.
        c = subprocess.run([PY, os.path.join(self.repo, "get.py"), self.url("127.0.0.1")],
                           capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin"})
        self.assertIn("stand-in", c.stdout)


@unittest.skipUnless(IS_ROOT and shutil.which("cc") and shutil.which("make"),
                     "needs root, cc and make")
class OfflineBuild(unittest.TestCase):
    def test_make_builds_and_nothing_is_reached(self):
        server = StandIn()
        try:
            with TempDir() as d:
                src = os.path.join(d, "src")
                os.mkdir(src)
                os.chmod(src, 0o777)
                with open(os.path.join(src, "hello.c"), "w") as f:
                    f.write('#include <stdio.h>\nint main(void){puts("built offline");return 0;}\n')
                with open(os.path.join(src, "Makefile"), "w") as f:
                    f.write("hello: hello.c\n\tcc -o hello hello.c\n"
                            "test: hello\n\t./hello\n")
                policy = os.path.join(EXAMPLES, "offline-build.yaml")
                r = run(["/usr/bin/make", "test"], policy=policy, cwd=src, timeout=120)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("built offline", r.stdout)
                with open(os.path.join(src, "get.py"), "w") as f:
                    f.write(PY_GET)
                r = run([PY, "get.py", "http://127.0.0.1:%d/" % server.port], policy=policy,
                        cwd=src, timeout=60)
                self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
                self.assertEqual(server.seen, [])
                # Control: the same fetch works outside.
                c = subprocess.run([PY, os.path.join(src, "get.py"),
                                    "http://127.0.0.1:%d/" % server.port],
                                   capture_output=True, text=True, timeout=30,
                                   env={"PATH": "/usr/bin:/bin"})
                self.assertIn("stand-in", c.stdout)
        finally:
            server.close()


MCP_SERVER = r'''
import json, sys, urllib.request
for line in sys.stdin:
    msg = json.loads(line)
    if msg["method"] == "initialize":
        result = {"protocolVersion": "2025-06-18", "serverInfo": {"name": "stand-in"},
                  "capabilities": {"tools": {}}}
    elif msg["params"]["name"] == "read":
        try:
            result = {"content": [{"type": "text", "text": open(msg["params"]["arguments"]["path"]).read()}]}
        except OSError as e:
            result = {"isError": True, "content": [{"type": "text", "text": str(e)}]}
    elif msg["params"]["name"] == "write":
        try:
            open(msg["params"]["arguments"]["path"], "w").write("x")
            result = {"content": [{"type": "text", "text": "written"}]}
        except OSError as e:
            result = {"isError": True, "content": [{"type": "text", "text": str(e)}]}
    else:
        try:
            text = urllib.request.urlopen(msg["params"]["arguments"]["url"], timeout=20).read().decode()
        except Exception as e:
            text = "refused %s" % e
        result = {"content": [{"type": "text", "text": text}]}
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
'''


@unittest.skipUnless(IS_ROOT, "runs as root (namespace mode, the sandbox user nobody)")
class McpServer(unittest.TestCase):
    def test_stdio_server_reads_the_project_and_reaches_its_api_only(self):
        server = StandIn()
        try:
            with TempDir() as d:
                project = os.path.join(d, "project")
                os.mkdir(project)
                os.chmod(project, 0o755)
                for name, body in (("server.py", MCP_SERVER), ("README", "project notes\n")):
                    with open(os.path.join(project, name), "w") as f:
                        f.write(body)
                    os.chmod(os.path.join(project, name), 0o644)
                # Outside every grant (the example grants /tmp read-write).
                outside_dir = tempfile.mkdtemp(prefix="rf-outside-", dir="/var/tmp")
                self.addCleanup(shutil.rmtree, outside_dir, True)
                os.chmod(outside_dir, 0o755)
                outside = os.path.join(outside_dir, "outside.txt")
                with open(outside, "w") as f:
                    f.write("not for the server\n")
                os.chmod(outside, 0o644)
                doc = to_stand_in(example("mcp-server.yaml"), server.port)
                doc["filesystem_policy"]["read_only"] = [
                    project if p == "/srv/project" else p
                    for p in doc["filesystem_policy"]["read_only"]]
                policy = write_policy(d, doc)

                def call(i, name, **arguments):
                    return {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                            "params": {"name": name, "arguments": arguments}}

                api = "http://api.linear.app:%d/graphql" % server.port
                msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                        call(2, "read", path=os.path.join(project, "README")),
                        call(3, "read", path=outside),
                        call(4, "write", path=os.path.join(project, "README")),
                        call(5, "fetch", url=api),
                        call(6, "fetch", url="http://example.org:%d/" % server.port)]
                stdin = "".join(json.dumps(m) + "\n" for m in msgs)
                env = dict(os.environ, RINGFENCE_QUIET="1")
                p = subprocess.run([BIN, "run", "--policy", policy, "--workdir", project, "--",
                                    PY, "server.py"], input=stdin, capture_output=True,
                                   text=True, timeout=60, env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertNotIn("ringfence: process:", p.stderr)  # RINGFENCE_QUIET
                out = {m["id"]: m["result"] for m in map(json.loads, p.stdout.splitlines())}
                text = {i: r["content"][0]["text"] for i, r in out.items() if "content" in r}
                self.assertEqual(out[1]["serverInfo"]["name"], "stand-in")
                self.assertEqual(text[2], "project notes\n")
                self.assertTrue(out[3]["isError"])
                self.assertIn("Permission denied", text[3])
                self.assertTrue(out[4]["isError"])
                self.assertEqual(text[5].strip(), "stand-in api.linear.app:%d" % server.port)
                self.assertIn("403", text[6])
                with open(os.path.join(project, "README")) as f:
                    self.assertEqual(f.read(), "project notes\n")
        finally:
            server.close()


TRAIN = r'''
import fcntl, os, socket, sys
for node in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-uvm"):
    fd = os.open(node, os.O_RDWR)
    os.close(fd)
data = open(sys.argv[1] + "/train.csv").read()
open("checkpoint.pt", "w").write("weights for %d rows\n" % len(data.splitlines()))
try:
    open(sys.argv[1] + "/train.csv", "a").write("poison\n")
    print("dataset written")
except OSError as e:
    print("dataset read-only:", e.strerror)
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5)
    print("network reached")
except OSError as e:
    print("no network:", e.strerror)
'''


@unittest.skipUnless(IS_ROOT, "needs root for a private mount namespace and mknod")
class CudaTraining(unittest.TestCase):
    def test_gpu_nodes_dataset_and_no_network(self):
        listener = StandIn()
        try:
            with TempDir() as d:
                # The dataset lives outside /tmp, which the example grants
                # read-write.
                data = tempfile.mkdtemp(prefix="rf-datasets-", dir="/var/tmp")
                self.addCleanup(shutil.rmtree, data, True)
                run_dir = os.path.join(d, "run")
                os.mkdir(run_dir)
                os.chmod(data, 0o777)
                os.chmod(run_dir, 0o777)
                with open(os.path.join(data, "train.csv"), "w") as f:
                    f.write("a,b\n1,2\n3,4\n")
                os.chmod(os.path.join(data, "train.csv"), 0o666)
                with open(os.path.join(run_dir, "train.py"), "w") as f:
                    f.write(TRAIN)
                doc = example("cuda-training.yaml")
                doc["filesystem_policy"]["read_only"] = [
                    data if p == "/srv/datasets" else p for p in doc["filesystem_policy"]["read_only"]]
                policy = write_policy(d, doc)
                q = shlex.quote
                script = "\n".join([
                    "set -e",
                    "mount -t tmpfs -o mode=755 rf-test-dev /dev",
                    "mkdir /dev/shm",
                    "mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5",
                    "mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9",
                    # Stand-ins: the major/minor of /dev/null under NVIDIA's names.
                    "for n in nvidiactl nvidia0 nvidia-uvm; do mknod -m 666 /dev/$n c 1 3; done",
                    "set +e",
                    "cd %s" % q(run_dir),
                    " ".join(q(a) for a in [BIN, "run", "-q", "--policy", policy, "--", PY,
                                            "train.py", data, str(listener.port)]),
                ])
                p = subprocess.run(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                    script], capture_output=True, text=True, timeout=90)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("dataset read-only: Permission denied", p.stdout)
                self.assertIn("no network:", p.stdout)
                self.assertNotIn("network reached", p.stdout)
                with open(os.path.join(run_dir, "checkpoint.pt")) as f:
                    self.assertEqual(f.read(), "weights for 3 rows\n")
                with open(os.path.join(data, "train.csv")) as f:
                    self.assertNotIn("poison", f.read())
                self.assertEqual(listener.seen, [])
        finally:
            listener.close()


if __name__ == "__main__":
    unittest.main()
