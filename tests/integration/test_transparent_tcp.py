"""Transparent TCP (`protocol: tcp`) and capture of direct connects
(docs/transparent-tcp.md), in both network modes, end to end with servers
on the host's loopback: the command connects to a policy name's synthetic
address (198.18.0.0/15, as the run's policy DNS hands it out; the tests
read it from `policy show --effective`, which shows the same per-policy
allocation) and the connect guard carries the connection through the
proxy to the real, pinned destination. Each test has a control without
ringfence showing that the probe itself works."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import unittest

import netfixtures
import rf
from test_clients import FETCH as JAVA_FETCH

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
    capture = rf.effective(policy)["enforcement"]["network"]["capture"]
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

    def test_udp_to_a_policy_name_refused(self):
        # Only TCP is carried: a datagram socket is refused (at connect()
        # in namespace mode, at socket() by seccomp in platform mode).
        addr = synthetic_address(self.policy, NAME)
        script = ("import errno, socket\n"
                  "try:\n"
                  "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  f"    s.connect(('{addr}', {self.echo.port}))\n"
                  "    s.send(b'x')\n"
                  "    print('sent')\n"
                  "except OSError as e:\n"
                  "    print('refused', errno.errorcode.get(e.errno))\n")
        r = rf.run([rf.PY, "-c", script], policy=self.policy, extra=["--audit", self.audit])
        self.assertIn("refused", r.stdout, r.stderr)
        self.assertEqual(self.echo.count, 0)

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


SSHD = "/usr/sbin/sshd"
SSH = shutil.which("ssh") or "/usr/bin/ssh"

SSH_POLICY = """version: 1
network:
  mode: {mode}
  hosts: {{ssh.rf.test: 127.0.0.1}}
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, {keys}]
  read_write: [/dev/null]
network_policies:
  ssh:
    endpoints:
      - {{host: ssh.rf.test, port: {port}, protocol: tcp, allowed_ips: [127.0.0.1]}}
    binaries:
      - {{path: {ssh}}}
"""


class SshMixin:
    """Debian's ssh client to a throwaway sshd on loopback, through a
    protocol: tcp endpoint, with no ProxyCommand: ssh itself connects to the
    name's address."""
    MODE = None

    def setUp(self):
        self.keys = rf.TempDir(mode=0o755)
        self.addCleanup(self.keys.__exit__)
        d = self.keys.path
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(d, name)], check=True, timeout=60)
        shutil.copy(os.path.join(d, "client.pub"), os.path.join(d, "authorized_keys"))
        # ssh refuses a private key others can read; the sandbox runs as nobody.
        os.chown(os.path.join(d, "client"), 65534, 65534)
        os.makedirs("/run/sshd", exist_ok=True)
        self.port = netfixtures.free_port()
        self.sshd = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", "/dev/null", "-p", str(self.port),
             "-o", "ListenAddress=127.0.0.1", "-o", "HostKey=" + os.path.join(d, "host"),
             "-o", "AuthorizedKeysFile=" + os.path.join(d, "authorized_keys"),
             "-o", "PermitRootLogin=prohibit-password", "-o", "StrictModes=no",
             "-o", "UsePAM=no", "-o", "PidFile=none"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self._stop_sshd)
        self.assertEqual(rf.wait_count(self._listening, 1, timeout=20), 1, "sshd did not listen")

    def _stop_sshd(self):
        self.sshd.terminate()
        try:
            self.sshd.wait(10)
        except subprocess.TimeoutExpired:
            self.sshd.kill()
            self.sshd.wait(10)
        self.sshd.stderr.close()

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return 1
        except OSError:
            return 0

    def ssh_argv(self, host):
        return [SSH, "-F", "/dev/null", "-i", os.path.join(self.keys.path, "client"),
                "-p", str(self.port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
                "root@" + host, "echo", "hello-over-ssh"]

    def test_control_without_ringfence(self):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                           + self.ssh_argv("127.0.0.1"),
                           capture_output=True, text=True, timeout=60)
        self.assertIn("hello-over-ssh", r.stdout, r.stderr)

    def test_ssh_through_protocol_tcp(self):
        policy = SSH_POLICY.format(mode=self.MODE, keys=self.keys.path, port=self.port,
                                   ssh=os.path.realpath(SSH))
        addr = synthetic_address(policy, "ssh.rf.test")
        r = rf.run(self.ssh_argv(addr), policy=policy, timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("hello-over-ssh", r.stdout, r.stderr)
        # Another binary of the sandbox is refused the same destination.
        r = rf.run([rf.PY, "-c", CLIENT, f"{addr}:{self.port}"], policy=policy, timeout=60)
        self.assertRegex(r.stdout, r"refused (EACCES|ECONNREFUSED)", r.stderr)


HTTPS_POLICY = """version: 1
network:
  mode: {mode}
  hosts: {{web.rf.test: {ip}}}
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, {certs}]
  read_write: [/dev/null]
network_policies:
  web:
    endpoints:
      - {{host: web.rf.test, port: 443, allowed_ips: ["{ip}"]}}
    binaries:
      - {{path: "/**"}}
"""

# A TLS client that ignores proxy variables: connects to argv[1]:443 with
# SNI argv[2], trusting argv[3], and prints the body or the failure.
TLS_CLIENT = r"""
import socket, ssl, sys
addr, sni, ca = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
try:
    s = socket.create_connection((addr, 443), timeout=10)
except OSError as e:
    print("connect", type(e).__name__, e.errno)
    sys.exit(0)
try:
    t = ctx.wrap_socket(s, server_hostname=sni)
    t.sendall(b"GET / HTTP/1.1\r\nHost: " + sni.encode() + b"\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = t.recv(4096)
        if not chunk:
            break
        data += chunk
    print("body", data.split(b"\r\n\r\n", 1)[-1].decode().strip())
except (OSError, ssl.SSLError) as e:
    print("tls", type(e).__name__)
"""


class HttpsCaptureMixin:
    """A client that ignores the proxy reaches an ordinary (L4) endpoint on
    443 by a direct connect: the proxy reads the ClientHello's SNI, which
    must name the host the address was given to. The server listens on
    port 443 of a loopback address of its own (127.0.0.0/8 is all local)."""
    MODE = None

    def setUp(self):
        self.certs = rf.TempDir(mode=0o755)
        self.addCleanup(self.certs.__exit__)
        self.ip = f"127.{os.getpid() % 200 + 20}.{os.getpid() // 200 % 250 + 1}.9"
        try:
            self.server = netfixtures.HttpsServer(self.certs.path, name="web.rf.test",
                                                  body=b"captured-https", address=(self.ip, 443))
        except OSError as e:
            self.skipTest(f"cannot listen on {self.ip}:443: {e}")
        self.addCleanup(self.server.close)
        self.policy = HTTPS_POLICY.format(mode=self.MODE, ip=self.ip, certs=self.certs.path)

    def test_control_without_ringfence(self):
        r = subprocess.run([rf.PY, "-c", TLS_CLIENT, self.ip, "web.rf.test", self.server.cert],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("body captured-https", r.stdout, r.stderr)
        r = subprocess.run([rf.PY, "-c", TLS_CLIENT, self.ip, "other.rf.test", self.server.cert],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("body captured-https", r.stdout, r.stderr)  # the server takes any SNI

    def test_sni_decides(self):
        addr = synthetic_address(self.policy, "web.rf.test")
        out = rf.OutsideDir()
        self.addCleanup(out.__exit__)
        audit = os.path.join(out.path, "audit.jsonl")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        r = rf.run([rf.PY, "-c", TLS_CLIENT, addr, "web.rf.test", self.server.cert],
                   policy=self.policy, extra=["--audit", audit], env=env)
        self.assertIn("body captured-https", r.stdout, r.stderr)
        r = rf.run([rf.PY, "-c", TLS_CLIENT, addr, "other.rf.test", self.server.cert],
                   policy=self.policy, extra=["--audit", audit], env=env)
        self.assertIn("tls", r.stdout, r.stderr)
        self.assertNotIn("captured-https", r.stdout)
        events = audit_events(audit)
        self.assertTrue(any(e.get("action") == "allow" and e.get("captured") == "http"
                            for e in events), events)
        self.assertTrue(any(e.get("action") == "deny" and "SNI names other.rf.test"
                            in e.get("reason", "") for e in events), events)


NODE = "/usr/bin/node"
JAVA = shutil.which("java") or "/usr/bin/java"
JAVAC = shutil.which("javac") or "/usr/bin/javac"

# Node 20's fetch reads no proxy variable: it resolves the name and connects.
NODE_FETCH = r"""
fetch(process.argv[1]).then(r => r.text()).then(t => console.log("body", t.trim()),
  e => console.log("error", (e.cause && e.cause.code) || e.message));
"""


class ByNameMixin:
    """Clients that resolve the policy name through the sandbox's policy DNS
    (docs/dns.md) and connect to the address it answers: a raw TCP client by
    name, and Node 20's fetch to an HTTPS endpoint on 443."""
    MODE = None

    def setUp(self):
        self.echo = netfixtures.EchoServer()
        self.addCleanup(self.echo.close)
        self.certs = rf.TempDir(mode=0o755)
        self.addCleanup(self.certs.__exit__)
        self.ip = f"127.{os.getpid() % 200 + 20}.{os.getpid() // 200 % 250 + 1}.10"
        try:
            self.server = netfixtures.HttpsServer(self.certs.path, name="web.rf.test",
                                                  body=b"node-fetch-ok", address=(self.ip, 443))
        except OSError as e:
            self.skipTest(f"cannot listen on {self.ip}:443: {e}")
        self.addCleanup(self.server.close)
        self.policy = f"""version: 1
network:
  mode: {self.MODE}
  hosts: {{{NAME}: 127.0.0.1, web.rf.test: {self.ip}}}
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, {self.certs.path}]
  read_write: [/dev/null]
network_policies:
  redis:
    endpoints:
      - {{host: {NAME}, port: {self.echo.port}, protocol: tcp, allowed_ips: [127.0.0.1]}}
      - {{host: web.rf.test, port: 443, allowed_ips: ["{self.ip}"]}}
    binaries:
      - {{path: "/**"}}
"""
        self.env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}

    def test_control_without_ringfence(self):
        r = subprocess.run(["/usr/bin/env", "NODE_EXTRA_CA_CERTS=" + self.server.cert, NODE,
                            "-e", NODE_FETCH, f"https://{self.ip}/"], env=self.env,
                           capture_output=True, text=True, timeout=60)
        # The certificate names web.rf.test, not the address: the probe
        # reaches the server and checks its certificate.
        self.assertIn("ERR_TLS_CERT_ALTNAME_INVALID", r.stdout, r.stderr)

    def test_raw_tcp_by_name(self):
        r = rf.run([rf.PY, "-c", CLIENT, f"{NAME}:{self.echo.port}"], policy=self.policy,
                   env=self.env)
        self.assertIn(f"{NAME}:{self.echo.port} got PING transparent", r.stdout, r.stderr)

    @unittest.skipUnless(os.path.exists(NODE), "needs node")
    def test_node_fetch(self):
        r = rf.run(["/usr/bin/env", "NODE_EXTRA_CA_CERTS=" + self.server.cert, NODE, "-e",
                    NODE_FETCH, "https://web.rf.test/"],
                   policy=self.policy, env=self.env)
        self.assertIn("body node-fetch-ok", r.stdout, r.stderr)
        r = rf.run(["/usr/bin/env", "NODE_EXTRA_CA_CERTS=" + self.server.cert, NODE, "-e",
                    NODE_FETCH, "https://other.rf.test/"], policy=self.policy, env=self.env)
        self.assertIn("error ENOTFOUND", r.stdout, r.stderr)

    @unittest.skipUnless(os.path.exists(JAVAC), "needs a JDK")
    def test_java_httpclient_without_proxy_flags(self):
        d = self.certs.path
        with open(os.path.join(d, "Fetch.java"), "w") as f:
            f.write(JAVA_FETCH)
        subprocess.run([JAVAC, "-d", d, os.path.join(d, "Fetch.java")], check=True,
                       capture_output=True, timeout=120)
        store = os.path.join(d, "trust.p12")
        subprocess.run(["keytool", "-importcert", "-noprompt", "-file", self.server.cert,
                        "-alias", "web", "-keystore", store, "-storetype", "PKCS12",
                        "-storepass", "changeit"], check=True, capture_output=True, timeout=120)
        os.chmod(store, 0o644)
        # No JAVA_TOOL_OPTIONS (ringfence's proxy flags): the JVM connects
        # to the name itself.
        argv = ["/usr/bin/env", "-u", "JAVA_TOOL_OPTIONS", JAVA, "-Djavax.net.ssl.trustStore=" + store,
                "-Djavax.net.ssl.trustStorePassword=changeit", "-cp", d, "Fetch",
                "https://web.rf.test/", "https://other.rf.test/"]
        # Control: the same JVM and trust store reach the server directly,
        # the name resolved from a hosts file of the JVM's own.
        hosts = os.path.join(d, "hosts")
        with open(hosts, "w") as f:
            f.write(f"{self.ip} web.rf.test\n")
        control = argv[:6] + ["-Djdk.net.hosts.file=" + hosts] + argv[6:10]
        r = subprocess.run(control, env=self.env, capture_output=True, text=True, timeout=120)
        self.assertIn("200 node-fetch-ok", r.stdout, r.stderr)
        r = rf.run(argv, policy=self.policy, env=self.env, timeout=120)
        self.assertIn("200 node-fetch-ok", r.stdout, r.stderr)
        self.assertIn("ERR ConnectException", r.stdout, r.stderr)


# Plain HTTP to argv[1]:80 with Host argv[2]: prints the status line and
# body, or "closed".
HTTP_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sys.argv[2].encode())
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except ConnectionResetError:
    data = b""  # refused: closed with the request unread
print(data.split(b"\r\n", 1)[0].decode(), data.split(b"\r\n\r\n", 1)[-1].decode()
      if data else "closed")
"""


class HttpCaptureMixin:
    """Plain HTTP on port 80 to an ordinary endpoint by a direct connect: the
    Host header must name the host the address was given to."""
    MODE = None

    def setUp(self):
        self.ip = f"127.{os.getpid() % 200 + 20}.{os.getpid() // 200 % 250 + 1}.11"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "10")
                self.end_headers()
                self.wfile.write(b"plain-http")

            def log_message(self, *a):
                pass

        try:
            self.httpd = http.server.ThreadingHTTPServer((self.ip, 80), Handler)
        except OSError as e:
            self.skipTest(f"cannot listen on {self.ip}:80: {e}")
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
        self.addCleanup(self.httpd.server_close)
        self.addCleanup(self.httpd.shutdown)
        self.policy = HTTPS_POLICY.format(mode=self.MODE, ip=self.ip, certs="/usr").replace(
            "port: 443", "port: 80")

    def test_control_without_ringfence(self):
        r = subprocess.run([rf.PY, "-c", HTTP_CLIENT, self.ip, "other.rf.test"],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("200 OK plain-http", r.stdout, r.stderr)

    def test_host_decides(self):
        addr = synthetic_address(self.policy, "web.rf.test")
        r = rf.run([rf.PY, "-c", HTTP_CLIENT, addr, "web.rf.test"], policy=self.policy)
        self.assertIn("200 OK plain-http", r.stdout, r.stderr)
        r = rf.run([rf.PY, "-c", HTTP_CLIENT, addr, "other.rf.test"], policy=self.policy)
        self.assertIn("closed", r.stdout, r.stderr)


INSPECTED_POLICY = """version: 1
network:
  mode: {mode}
  hosts: {{api.rf.test: 127.0.0.1}}
  upstream_ca: {cert}
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/dev/null]
network_policies:
  api:
    endpoints:
      - {{host: api.rf.test, port: {port}, protocol: rest, access: read-only,
          allowed_ips: [127.0.0.1]}}
    binaries:
      - {{path: "/**"}}
"""

# A direct TLS connection trusting the run's CA (SSL_CERT_FILE, set by
# ringfence), one request of method argv[3]: prints the status line.
INSPECTED_CLIENT = r"""
import os, socket, ssl, sys
addr, port, method = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
t = ctx.wrap_socket(socket.create_connection((addr, port), timeout=10),
                    server_hostname="api.rf.test")
t.sendall(method.encode() + b" / HTTP/1.1\r\nHost: api.rf.test:%d\r\nContent-Length: 0\r\n"
          b"Connection: close\r\n\r\n" % port)
data = b""
while b"\r\n" not in data:
    chunk = t.recv(4096)
    if not chunk:
        break
    data += chunk
print("status", data.split(b"\r\n", 1)[0].decode())
"""


class InspectedCaptureMixin:
    """A direct connect to an inspected (protocol: rest) endpoint's name takes
    the proxy's L7 path: TLS terminated with the run's CA, each request
    decided (GET allowed by access: read-only, POST refused)."""
    MODE = None

    def setUp(self):
        self.certs = rf.TempDir(mode=0o755)
        self.addCleanup(self.certs.__exit__)
        self.server = netfixtures.HttpsServer(self.certs.path, name="api.rf.test",
                                              body=b"inspected-ok")
        self.addCleanup(self.server.close)
        self.policy = INSPECTED_POLICY.format(mode=self.MODE, cert=self.server.cert,
                                              port=self.server.port)

    def test_control_without_ringfence(self):
        env = dict(os.environ, SSL_CERT_FILE=self.server.cert)
        r = subprocess.run([rf.PY, "-c", INSPECTED_CLIENT, "127.0.0.1", str(self.server.port),
                            "GET"], env=env, capture_output=True, text=True, timeout=60)
        self.assertIn("status HTTP/1.0 200", r.stdout, r.stderr)

    def test_rules_apply_to_a_captured_connection(self):
        addr = synthetic_address(self.policy, "api.rf.test")
        port = str(self.server.port)
        r = rf.run([rf.PY, "-c", INSPECTED_CLIENT, addr, port, "GET"], policy=self.policy)
        self.assertRegex(r.stdout, r"status HTTP/1.[01] 200", r.stderr)
        r = rf.run([rf.PY, "-c", INSPECTED_CLIENT, addr, port, "POST"], policy=self.policy)
        self.assertRegex(r.stdout, r"status HTTP/1.[01] 403", r.stderr)


def per_mode(mixin, modes=("namespace", "platform"), needs=None, why=""):
    """One TestCase per network mode: `<Name>Namespace` (root only) and
    `<Name>Platform`; `needs`: a further condition for both."""
    for mode in modes:
        name = mixin.__name__.replace("Mixin", "") + mode.capitalize()
        cls = type(name, (mixin, unittest.TestCase), {"MODE": mode})
        if mode == "namespace":
            cls = unittest.skipUnless(rf.IS_ROOT, "namespace mode as root")(cls)
        if needs is not None:
            cls = unittest.skipUnless(needs, why)(cls)
        globals()[name] = cls


per_mode(TransparentTcpMixin)
per_mode(SshMixin, needs=rf.IS_ROOT and os.path.exists(SSHD), why="needs root and openssh-server")
per_mode(HttpsCaptureMixin, needs=rf.IS_ROOT, why="binds port 443")
per_mode(HttpCaptureMixin, needs=rf.IS_ROOT, why="binds port 80")
per_mode(InspectedCaptureMixin)
# Platform mode has no policy DNS yet (docs/dns.md).
per_mode(ByNameMixin, modes=("namespace",))


if __name__ == "__main__":
    unittest.main()
