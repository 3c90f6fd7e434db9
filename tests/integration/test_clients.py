"""Clients that ignore the proxy variables (docs/proxy.md, "Clients"): the
JVM reads none of HTTP_PROXY and friends, only its own properties, which
ringfence passes in JAVA_TOOL_OPTIONS after the caller's own options. A real
JDK (Debian's openjdk-17) fetches from a loopback server through the proxy;
a destination outside the policy gets the proxy's 403."""
import http.server
import os
import shutil
import subprocess
import threading
import unittest

import netfixtures
import rf

JAVA = shutil.which("java") or "/usr/bin/java"

FETCH = r"""
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpClient c = HttpClient.newHttpClient();
        for (String url : args) {
            try {
                HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(url)).build(),
                                                HttpResponse.BodyHandlers.ofString());
                System.out.println(r.statusCode() + " " + r.body().trim());
            } catch (Exception e) {
                System.out.println("ERR " + e.getClass().getSimpleName());
            }
        }
        System.out.println("opts=" + System.getProperty("ringfence.test.mine"));
    }
}
"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/dev/null]
network:
  mode: {mode}
  hosts: {{java.test: 127.0.0.1, other.test: 127.0.0.1}}
network_policies:
  jvm:
    endpoints: [{{host: java.test, port: {port}, allowed_ips: [127.0.0.1]}}]
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello-from-loopback\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@unittest.skipUnless(os.path.exists(JAVA), "needs a JDK (openjdk-17-jdk-headless)")
class JavaThroughTheProxy(unittest.TestCase):
    def setUp(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def java(self, d, mode):
        src = os.path.join(d, "Fetch.java")
        with open(src, "w") as f:
            f.write(FETCH)
        os.chmod(src, 0o644)
        pf = os.path.join(d, "p.yaml")
        with open(pf, "w") as f:
            f.write(POLICY.format(mode=mode, port=self.port))
        os.chmod(pf, 0o644)
        env = dict(os.environ, JAVA_TOOL_OPTIONS="-Dringfence.test.mine=kept")
        return subprocess.run([rf.BIN, "run", "-q", "--policy", pf, "--", JAVA,
                               "-XX:-UsePerfData", "Fetch.java",
                               "http://java.test:%d/" % self.port,
                               "http://other.test:%d/" % self.port],
                              cwd=d, env=env, capture_output=True, text=True, timeout=180)

    def test_jvm_uses_the_proxy_and_keeps_the_callers_options(self):
        for mode in ("namespace", "platform"):
            with self.subTest(mode), rf.TempDir() as d:
                r = self.java(d, mode)
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.splitlines()
                self.assertEqual(lines[0], "200 hello-from-loopback", r.stdout + r.stderr)
                self.assertTrue(lines[1].startswith("403 "), r.stdout)  # the proxy's denial
                self.assertEqual(lines[2], "opts=kept")  # the caller's option survived

    def test_control_without_ringfence_java_goes_direct(self):
        # The names exist only in the policy's hosts map: without the proxy
        # the JVM cannot even resolve them.
        with rf.TempDir() as d:
            src = os.path.join(d, "Fetch.java")
            with open(src, "w") as f:
                f.write(FETCH)
            r = subprocess.run([JAVA, "-XX:-UsePerfData", src,
                                "http://127.0.0.1:%d/" % self.port,
                                "http://java.test:%d/" % self.port],
                               capture_output=True, text=True, timeout=180, cwd=d)
            self.assertEqual(r.stdout.splitlines()[0], "200 hello-from-loopback", r.stderr)
            self.assertTrue(r.stdout.splitlines()[1].startswith("ERR"), r.stdout)


if __name__ == "__main__":
    unittest.main()
