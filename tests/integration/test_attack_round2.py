"""Regression tests for the second outside attack round on 95c39b3
(docs/threat-model.md, "Outside attack rounds"): platform mode as an
ordinary user, the proxy's identity logic, Landlock edge cases, hostile
input to the supervisor. Each runs the real binary against a real program,
with a control run without ringfence."""
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

import netfixtures
import rf

AS_USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, {ro}]
  read_write: [/tmp, /dev/null]
network:
  mode: {mode}
"""

MQ = r"""
import ctypes, errno, sys
rt = ctypes.CDLL("librt.so.1", use_errno=True)
rt.mq_open.restype = ctypes.c_int
op, name = sys.argv[1], sys.argv[2].encode()
if op == "create":
    r = rt.mq_open(name, 0o302, 0o666, None)  # O_CREAT|O_EXCL|O_RDWR
elif op == "open":
    r = rt.mq_open(name, 0o2)
else:
    r = rt.mq_unlink(name)
print("OK" if r >= 0 else errno.errorcode.get(ctypes.get_errno()))
"""


def mq(op, name, inside=None, user=True):
    cmd = [rf.PY, "-c", MQ, op, name]
    if inside:
        return rf.run(cmd, policy=POLICY.format(mode=inside, ro="/usr")).stdout.strip()
    pre = AS_USER if (user and rf.IS_ROOT) else []
    return subprocess.run(pre + cmd, capture_output=True, text=True, timeout=30).stdout.strip()


class PosixMessageQueues(unittest.TestCase):
    """Finding 1: mq_open(O_CREAT|O_EXCL) answered EACCES but the queue was
    made (squatted, world-readable), and mq_unlink deleted a queue of the
    same uid. Landlock never sees these names."""

    def setUp(self):
        self.name = f"/rf-mq-{os.getpid()}"
        mq("unlink", self.name)

    def tearDown(self):
        mq("unlink", self.name)
        mq("unlink", self.name + "-host")

    def test_control_queues_work_without_ringfence(self):
        self.assertEqual(mq("create", self.name), "OK")
        self.assertEqual(mq("open", self.name), "OK")
        self.assertEqual(mq("unlink", self.name), "OK")

    def test_no_queue_is_made_or_deleted_from_inside(self):
        host = self.name + "-host"
        self.assertEqual(mq("create", host), "OK")
        for mode in ("platform", "none", "namespace"):
            with self.subTest(mode):
                mq("unlink", self.name)
                inside = mq("create", self.name, inside=mode)
                self.assertNotEqual(inside, "")
                # Whatever it answered, nothing of the host's was made...
                self.assertEqual(mq("open", self.name), "ENOENT", inside)
                # ...or deleted, or opened.
                self.assertNotEqual(mq("unlink", host, inside=mode), "OK")
                self.assertNotEqual(mq("open", host, inside=mode), "OK")
                self.assertEqual(mq("open", host), "OK")


LEASE = r"""
import errno, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
out = []
try:
    fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    out.append("lease OK")
except OSError as e:
    out.append("lease " + errno.errorcode.get(e.errno))
print(";".join(out))
"""


class Leases(unittest.TestCase):
    """Finding 3: a read lease on a read-only granted file made the host's
    next open for writing block for the lease-break time (45 s). Leases are
    refused inside the sandbox."""

    def test_leases_refused(self):
        with rf.TempDir() as d:
            path = os.path.join(d, "shared.txt")
            with open(path, "w") as f:
                f.write("x")
            if rf.IS_ROOT:
                os.chown(path, 65534, 65534)  # a lease needs the file's owner
            control = subprocess.run((AS_USER if rf.IS_ROOT else []) + [rf.PY, "-c", LEASE, path],
                                     capture_output=True, text=True, timeout=30)
            self.assertEqual(control.stdout.strip(), "lease OK", control.stderr)
            for mode in ("platform", "namespace"):
                with self.subTest(mode):
                    r = rf.run([rf.PY, "-c", LEASE, path], policy=POLICY.format(mode=mode, ro=d))
                    self.assertEqual(r.stdout.strip(), "lease EPERM", r.stderr)


CONNECT_VIA = r"""
import socket, sys
def connect_via(proxy_port, port):
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (port, port))
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 4096:
        b = s.recv(1)
        if not b:
            break
        head += b
    s.close()
    return head.split(b"\r\n")[0].decode() or "closed"
"""

PROXY_SESSION = CONNECT_VIA + r"""
import os
port = int(sys.argv[1])
print(os.environ["HTTP_PROXY"].rsplit(":", 1)[1], flush=True)
sys.stdin.readline()  # the host's client has had its turn
print(connect_via(int(os.environ["HTTP_PROXY"].rsplit(":", 1)[1]), port), flush=True)
"""


class ForeignProxyClients(unittest.TestCase):
    """Finding 2: in platform mode the proxy listens on the host's loopback;
    a connection the connect guard never made (another local process or
    user) was served like the sandbox's, named "unknown", and endpoints
    without `binaries` accepted it. Under `run`, a connection with no guard
    record is refused, whatever the rule; the sandbox's own still works."""

    def test_connection_not_made_by_the_sandbox_is_refused(self):
        target = netfixtures.TcpListener("127.0.0.1", 0)
        try:
            policy = POLICY.format(mode="platform", ro="/usr") + \
                "network_policies:\n  local:\n    endpoints: [{host: 127.0.0.1, port: %d, " \
                "allowed_ips: [127.0.0.1]}]\n" % target.port
            with rf.TempDir() as d:
                pf = os.path.join(d, "p.yaml")
                with open(pf, "w") as f:
                    f.write(policy)
                p = subprocess.Popen([rf.BIN, "run", "-q", "--policy", pf, "--", rf.PY, "-c",
                                      PROXY_SESSION, str(target.port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=d)
                try:
                    proxy_port = int(p.stdout.readline().strip())
                    clients = {"root": [rf.PY], "another user": AS_USER + [rf.PY]}
                    for who, pre in clients.items():
                        host = subprocess.run(pre + ["-c", CONNECT_VIA +
                                                     "print(connect_via(%d, %d))" %
                                                     (proxy_port, target.port)],
                                              capture_output=True, text=True, timeout=30)
                        self.assertIn("403", host.stdout, (who, host.stderr))
                    self.assertEqual(rf.wait_count(lambda: target.count.n, 1, timeout=0.5), 0)
                    out, err = p.communicate("go\n", timeout=60)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertIn("200", out, err)  # the sandbox's own connection
                self.assertEqual(rf.wait_count(lambda: target.count.n, 1), 1)
        finally:
            target.close()


class TerminalEscapes(unittest.TestCase):
    """Finding 5: the end-of-run denial summary printed a binary named with
    terminal escapes raw on stderr (the title changed, colours leaked).
    Everything the sandbox can name is escaped for the terminal."""

    def test_denied_binary_name_is_escaped(self):
        with rf.TempDir() as d:
            evil = "x\x1b]0;PWNED-TITLE\x07\x1b[31mRED"
            shutil.copy("/usr/bin/curl", os.path.join(d, evil))
            policy = POLICY.format(mode="platform", ro="/usr") + \
                "network_policies:\n  p:\n    endpoints: [{host: allowed.test, port: 80}]\n" \
                "    binaries: [{path: /usr/bin/wget}]\n"
            r = subprocess.run([rf.BIN, "run", "--policy", "/dev/stdin", "--workdir", d, "--",
                                "./" + evil, "-s", "-m", "5", "http://allowed.test/"],
                               input=policy, capture_output=True, text=True, timeout=60, cwd=d)
            self.assertIn("proxy denied", r.stderr)
            self.assertIn("PWNED-TITLE", r.stderr)  # shown, but inert
            self.assertNotIn("\x1b", r.stderr)
            self.assertNotIn("\x07", r.stderr)
            self.assertIn("\\x1b]0;PWNED-TITLE\\x07", r.stderr)


def alias_bomb(endpoints=2000, policies=2000):
    """One anchored list of `endpoints` endpoints reused by `policies`
    policies: about 150 KB (the report's was 137 KB) that expands to millions of nodes."""
    lines = ["version: 1", "network_policies:", "  p0:", "    binaries: &b [{path: /usr/bin/curl}]",
             "    endpoints: &e"]
    lines += [f"      - {{host: h{i}.x.test, port: 1}}" for i in range(endpoints)]
    lines += [f"  p{i}: {{endpoints: *e, binaries: *b}}" for i in range(1, policies)]
    return "\n".join(lines) + "\n"


class PolicyAliasBomb(unittest.TestCase):
    """Finding 8: YAML anchors and aliases multiplied the loader's work below
    the 4 MiB size limit: a 137 KB policy (one anchored list of 2,000
    endpoints reused by 2,000 policies) took 13.8 s and 1.29 GB. The
    expanded size is bounded; the refusal is fast and names the limit."""

    MEASURE = """import resource, subprocess, sys, time
t0 = time.monotonic()
try:
    p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=30)
    rc, out = p.returncode, p.stdout + p.stderr
except subprocess.TimeoutExpired:
    rc, out = 'timeout', ''
print(rc, round(time.monotonic() - t0, 3), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
print(out)
"""

    def measure(self, *argv):
        r = subprocess.run([rf.PY, "-c", self.MEASURE] + list(argv), capture_output=True,
                           text=True, timeout=90)
        head, _, out = r.stdout.partition("\n")
        rc, secs, mib = head.split()
        return rc, float(secs), int(mib), out

    def test_control_the_bomb_is_valid_yaml_and_small(self):
        import yaml  # noqa: F401  (python3-yaml, when present, reads it as the loader would)
        text = alias_bomb()
        self.assertLess(len(text), 160 * 1024)
        self.assertGreater(len(text), 130 * 1024)
        doc = yaml.safe_load(text)
        self.assertEqual(len(doc["network_policies"]), 2000)
        self.assertEqual(len(doc["network_policies"]["p1999"]["endpoints"]), 2000)

    def test_alias_bomb_refused_fast_by_validate_and_run(self):
        with rf.TempDir() as d:
            path = os.path.join(d, "bomb.yaml")
            with open(path, "w") as f:
                f.write(alias_bomb())
            os.chmod(path, 0o644)
            rc, secs, mib, out = self.measure(rf.BIN, "policy", "validate", path)
            self.assertEqual(rc, "1", out)
            self.assertLess(secs, 1.0, out)
            self.assertLess(mib, 200, out)
            self.assertRegex(out, r"bomb\.yaml:\d+:\d+: .*more than [0-9,]+ (YAML nodes|endpoints)")
            self.assertIn("aliases", out)
            marker = os.path.join(d, "ran")
            rc, secs, mib, out = self.measure(rf.BIN, "run", "--policy", path, "--",
                                              "/bin/sh", "-c", f": > {marker}")
            self.assertEqual(rc, "125", out)
            self.assertLess(secs, 1.0, out)
            self.assertLess(mib, 200, out)
            self.assertIn("invalid policy", out)
            self.assertFalse(os.path.exists(marker))

    def test_billion_laughs_and_self_reference_refused(self):
        # Three anchored lists multiplied along the schema: 1,000 policies
        # x 1,000 endpoints x 1,000 allowed_ips in about 90 KB.
        laughs = (["version: 1", "x-ips: &i"] + ["  - 10.0.0.1"] * 1000 + ["x-eps: &e"] +
                  ["  - {host: a.test, port: 1, allowed_ips: *i}"] * 1000 +
                  ["network_policies:"] + [f"  p{i}: {{endpoints: *e}}" for i in range(1000)])
        cases = {
            "laughs": "\n".join(laughs) + "\n",
            # A 1 MiB scalar named 64 times per policy by 64 policies.
            "big scalar": "version: 1\nx: &big " + "a" * (1 << 20) + "\nnetwork_policies:\n" +
            "".join(f"  p{i}: {{name: *big, endpoints: [" +
                    ", ".join(["{host: *big, port: 1}"] * 64) + "]}\n" for i in range(64)),
            # An anchor used inside its own node.
            "cycle": "version: 1\nx: &c [a, *c]\n",
            "deep": "version: 1\nx: " + "[" * 500 + "]" * 500 + "\n",
        }
        for name, text in cases.items():
            with self.subTest(name), rf.TempDir() as d:
                path = os.path.join(d, "p.yaml")
                with open(path, "w") as f:
                    f.write(text)
                os.chmod(path, 0o644)
                rc, secs, mib, out = self.measure(rf.BIN, "policy", "validate", path)
                self.assertEqual(rc, "1", out[:2000])
                self.assertLess(secs, 2.0, out[:2000])
                self.assertLess(mib, 300, out[:2000])
                self.assertRegex(out[:2000], r"p\.yaml:\d+:\d+: ")
                self.assertLess(len(out), 64 * 1024)

    def test_a_large_real_policy_still_loads(self):
        # 500 policies with 10 endpoints and 2 binaries each, written out.
        lines = ["version: 1", "network_policies:"]
        for i in range(500):
            lines.append(f"  p{i}:")
            lines.append("    endpoints:")
            lines += [f"      - {{host: h{j}.p{i}.example.test, port: 443}}" for j in range(10)]
            lines.append("    binaries: [{path: /usr/bin/curl}, {path: /usr/bin/git}]")
        with rf.TempDir() as d:
            path = os.path.join(d, "big.yaml")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(path, 0o644)
            rc, secs, mib, out = self.measure(rf.BIN, "policy", "validate", path)
            self.assertEqual(rc, "0", out[:2000])


PRELOAD_C = r"""
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
/* Runs in the process it is preloaded into: with RF_PRE_CHILD set, forks a
   python3 that has shed the preload (no marker in its own environment). */
__attribute__((constructor)) static void pre(void) {
  if (!getenv("RF_PRE_CHILD")) return;
  pid_t pid = fork();
  if (pid == 0) {
    unsetenv("LD_PRELOAD");
    unsetenv("RF_PRE_CHILD");
    char* argv[] = {"/usr/bin/python3", getenv("RF_PROBE"), NULL};
    execv(argv[0], argv);
    _exit(127);
  }
  if (pid > 0) waitpid(pid, NULL, 0);
}
"""

LAUNCH_C = r"""
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
/* An allowed binary that runs python3 with the loader variables removed. */
int main(void) {
  pid_t pid = fork();
  if (pid == 0) {
    const char* vars[] = {"LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "GCONV_PATH"};
    for (unsigned i = 0; i < sizeof vars / sizeof *vars; ++i) unsetenv(vars[i]);
    /* Or gives python one: below the clean allowed binary it keeps the grant. */
    if (getenv("RF_CHILD_LDLP")) setenv("LD_LIBRARY_PATH", getenv("RF_CHILD_LDLP"), 1);
    char* argv[] = {"/usr/bin/python3", getenv("RF_PROBE"), NULL};
    execv(argv[0], argv);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  return 0;
}
"""

PROBE_PY = """import os, socket
print("probe-ran", flush=True)
h, p = os.environ["RINGFENCE_PROXY"][7:].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=10)
s.sendall(b"CONNECT " + os.environ["RF_TARGET"].encode() + b" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
print("status", s.recv(4096).split(b" ")[1].decode(), flush=True)
"""


class LoaderInjectedAncestors(unittest.TestCase):
    """Finding 6: the LD_PRELOAD marker was checked on the connecting process
    only: `LD_PRELOAD=pre.so curl`, whose constructor forks python3, let
    python use curl's binary grant. Every process of the chain the grant is
    taken from is checked now; a loader variable in a granting process's
    environment strips its grant."""

    @classmethod
    def setUpClass(cls):
        import socket
        import threading
        cls.tmp = rf.TempDir()
        d = cls.d = cls.tmp.__enter__()
        for name, src, args in (("pre.so", PRELOAD_C, ["-shared", "-fPIC"]),
                                ("launch", LAUNCH_C, [])):
            with open(os.path.join(d, name + ".c"), "w") as f:
                f.write(src)
            subprocess.run(["cc", "-O1", "-o", os.path.join(d, name), os.path.join(d, name + ".c")]
                           + args, check=True, timeout=120)
            os.chmod(os.path.join(d, name), 0o755)
        with open(os.path.join(d, "probe.py"), "w") as f:
            f.write(PROBE_PY)
        os.chmod(os.path.join(d, "probe.py"), 0o644)
        cls.server = socket.socket()
        cls.server.bind(("127.0.0.1", 0))
        cls.server.listen(16)
        cls.port = cls.server.getsockname()[1]
        cls.accepted = 0

        def serve():
            while True:
                try:
                    c, _ = cls.server.accept()
                except OSError:
                    return
                cls.accepted += 1
                c.close()
        threading.Thread(target=serve, daemon=True).start()
        cls.policy = f"""version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/tmp, /dev/null]
network:
  hosts: {{local.test: 127.0.0.1}}
network_policies:
  granted:
    endpoints: [{{ host: local.test, port: {cls.port}, allowed_ips: [127.0.0.1] }}]
    binaries: [{{ path: /usr/bin/curl }}, {{ path: {d}/launch }}]
"""

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.tmp.__exit__()

    def env(self, **extra):
        e = dict(os.environ, RF_PROBE=os.path.join(self.d, "probe.py"),
                 RF_TARGET=f"local.test:{self.port}")
        e.update(extra)
        return e

    def probe(self, mode, argv, **extra):
        import json
        before = self.accepted
        with rf.OutsideDir() as out:
            log = os.path.join(out, "audit.jsonl")
            r = rf.run(argv, policy=self.policy, env=self.env(**extra),
                       extra=["--workdir", self.d, "--mode", mode, "--audit", log], cwd=self.d)
            with open(log) as f:
                r.denials = " ".join(e["reason"] for e in map(json.loads, f)
                                     if e["layer"] == "proxy" and e["action"] == "deny")
        self.assertIn("probe-ran", r.stdout, r.stdout + r.stderr)
        status = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("status ")]
        want = 1 if status == ["200"] else 0
        self.assertEqual(rf.wait_count(lambda: self.accepted - before, want, timeout=5), want)
        return (status or ["none"])[0], r

    def test_control_preload_forks_python_without_ringfence(self):
        r = subprocess.run(["/usr/bin/curl", "--version"], capture_output=True, text=True,
                           timeout=60, env=self.env(LD_PRELOAD=os.path.join(self.d, "pre.so"),
                                                    RF_PRE_CHILD="1"))
        self.assertIn("probe-ran", r.stdout)
        self.assertIn("curl", r.stdout)

    def test_grant_not_taken_from_a_loader_injected_ancestor(self):
        pre = os.path.join(self.d, "pre.so")
        launch = os.path.join(self.d, "launch")
        for mode in (["namespace"] if rf.IS_ROOT else []) + ["platform"]:
            with self.subTest(mode):
                # Control: below the clean allowed binary, python has its grant.
                status, r = self.probe(mode, [launch])
                self.assertEqual(status, "200", r.stderr)
                # A loader variable below the clean allowed binary costs only
                # that process its own grant (docs/threat-model.md).
                status, r = self.probe(mode, [launch], RF_CHILD_LDLP=self.d)
                self.assertEqual(status, "200", r.stderr)
                # The report: curl with a preload whose constructor forks python.
                status, r = self.probe(mode, ["/usr/bin/curl", "--version"], LD_PRELOAD=pre,
                                       RF_PRE_CHILD="1")
                self.assertEqual(status, "403", r.stderr)
                self.assertIn("/usr/bin/curl (LD_PRELOAD)", r.denials)
                # The same allowed binary, started with each loader variable.
                for var in ("LD_PRELOAD", "LD_LIBRARY_PATH", "GCONV_PATH", "LD_AUDIT"):
                    value = {"LD_PRELOAD": pre, "LD_AUDIT": "/nonexistent-audit.so"}.get(var, self.d)
                    with self.subTest(var=var):
                        status, r = self.probe(mode, [launch], **{var: value})
                        self.assertEqual(status, "403", r.stderr)
                        self.assertIn(f"{launch} ({var})", r.denials)


# Truncates the log named by $1 and appends a forged exit event, then
# leaves the marker $2 (so a test can tell that the command ran).
FORGE = ('exec 2>/dev/null; true > "$1"; '
         'echo \'{"layer":"process","action":"exit","subject":"forged","reason":"forged"}\' '
         '>> "$1"; true > "$2"; true')


class AuditLogOutsideGrants(unittest.TestCase):
    """Finding 4: with --audit inside a read-write grant the command
    truncated the log and appended a forged process/exit line. An audit
    path the sandbox could write (by name, through a link, a bind mount or
    another hard link) is refused with exit 125 before anything starts."""

    POLICY_RW = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc]
  read_write: [/tmp, /dev/null, {rw}]
network:
  mode: {mode}
"""

    def forge(self, audit, workdir, policy=None, user=False, cwd=None):
        marker = os.path.join(workdir, f"ran-{os.getpid()}")
        if os.path.exists(marker):
            os.unlink(marker)
        argv = [rf.BIN, "run", "-q", "--workdir", workdir, "--audit", audit]
        tmp = None
        if policy:
            tmp = os.path.join(workdir, "policy.yaml")
            with open(tmp, "w") as f:
                f.write(policy)
            os.chmod(tmp, 0o644)
            argv += ["--policy", tmp]
        argv += ["--", "/bin/sh", "-c", FORGE, "sh", audit, marker]
        pre = AS_USER if (user and rf.IS_ROOT) else []
        r = subprocess.run(pre + argv, capture_output=True, text=True, timeout=60,
                           cwd=cwd or workdir)
        r.ran = os.path.exists(marker)
        return r

    def assertRefused(self, r, audit, grant):
        self.assertEqual(r.returncode, 125, r.stdout + r.stderr)
        self.assertFalse(r.ran, "the command ran")
        self.assertIn("--audit", r.stderr)
        self.assertIn(grant, r.stderr)
        self.assertIn("read-write grant", r.stderr)

    def assertNotForged(self, audit):
        # The command line names "forged" too: look for the forged event.
        if os.path.exists(audit):
            with open(audit) as f:
                self.assertNotIn('"subject":"forged"', f.read())

    def test_control_the_probe_forges_a_log_without_ringfence(self):
        with rf.TempDir() as d:
            log = os.path.join(d, "audit.jsonl")
            with open(log, "w") as f:
                f.write('{"layer":"process","action":"start"}\n')
            subprocess.run(["/bin/sh", "-c", FORGE, "sh", log, os.path.join(d, "m")], timeout=30)
            with open(log) as f:
                self.assertEqual(f.read().count("\n"), 1)
            self.assertRaises(AssertionError, self.assertNotForged, log)

    def test_audit_inside_the_workdir_refused(self):
        for user in ([False, True] if rf.IS_ROOT else [False]):
            with self.subTest(user=user), rf.TempDir() as d:
                if user:
                    os.chown(d, 65534, 65534)
                audit = os.path.join(d, "audit.jsonl")
                r = self.forge(audit, d, user=user)
                self.assertRefused(r, audit, d)
                self.assertIn(audit, r.stderr)
                self.assertFalse(os.path.exists(audit), "the refused log was left behind")
                # An existing log is left as it was (neither truncated nor forged).
                with open(audit, "w") as f:
                    f.write("earlier run\n")
                if user:
                    os.chown(audit, 65534, 65534)
                r = self.forge("audit.jsonl", d, user=user)  # relative to the workdir
                self.assertRefused(r, audit, d)
                with open(audit) as f:
                    self.assertEqual(f.read(), "earlier run\n")

    def test_audit_in_tmp_refused_when_the_policy_lists_tmp(self):
        # A policy that lists /tmp grants the host's /tmp read-write.
        d = tempfile.mkdtemp(prefix="rf-it-audit-", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o777)
        with rf.OutsideDir() as w:
            audit = os.path.join(d, "audit.jsonl")
            r = self.forge(audit, w, policy=self.POLICY_RW.format(rw="/dev/zero", mode="platform"))
            self.assertRefused(r, audit, "/tmp")
            self.assertNotForged(audit)

    def test_audit_in_hosts_tmp_is_safe_with_a_private_tmp(self):
        # The default policy's /tmp is the sandbox's own: the host's is not
        # granted, so a log there is accepted and cannot be forged.
        d = tempfile.mkdtemp(prefix="rf-it-audit-", dir="/tmp")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o777)
        with rf.TempDir() as w:  # the workdir, writable by the sandbox user
            audit = os.path.join(d, "audit.jsonl")
            r = self.forge(audit, w)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.ran)
            self.assertNotForged(audit)

    def test_variants_refused(self):
        for mode in ("platform", "namespace"):
            with self.subTest(mode), rf.TempDir() as d, rf.OutsideDir() as out:
                # A policy read_write grant outside /tmp.
                granted = os.path.join(out, "granted")
                os.mkdir(granted)
                os.chmod(granted, 0o777)
                audit = os.path.join(granted, "audit.jsonl")
                r = self.forge(audit, d, policy=self.POLICY_RW.format(rw=granted, mode=mode))
                self.assertRefused(r, audit, granted)
                self.assertNotForged(audit)
                # A directory link outside every grant that leads into the workdir.
                os.symlink(d, os.path.join(out, "link"))
                audit = os.path.join(out, "link", "audit.jsonl")
                r = self.forge(audit, d, policy=self.POLICY_RW.format(rw="/dev/zero", mode=mode))
                self.assertRefused(r, audit, d)
                self.assertNotForged(os.path.join(d, "audit.jsonl"))
                # A second name (hard link) of the log inside the workdir.
                audit = os.path.join(out, "linked.jsonl")
                with open(audit, "w") as f:
                    f.write("earlier run\n")
                os.link(audit, os.path.join(d, "alias.jsonl"))
                r = self.forge(os.path.join(d, "alias.jsonl"), d,
                               policy=self.POLICY_RW.format(rw="/dev/zero", mode=mode))
                self.assertRefused(r, audit, d)
                r = self.forge(audit, d, policy=self.POLICY_RW.format(rw="/dev/zero", mode=mode))
                self.assertEqual(r.returncode, 125, r.stderr)
                self.assertIn("hard link", r.stderr)
                self.assertFalse(r.ran)
                with open(audit) as f:
                    self.assertEqual(f.read(), "earlier run\n")

    @unittest.skipUnless(rf.IS_ROOT, "bind mounts need root")
    def test_bind_mounts_refused(self):
        with rf.TempDir() as d, rf.OutsideDir() as out:
            # The workdir mounted again outside every grant.
            view = os.path.join(out, "view")
            os.mkdir(view)
            subprocess.run(["mount", "--bind", d, view], check=True, timeout=30)
            try:
                r = self.forge(os.path.join(view, "audit.jsonl"), d)
                self.assertRefused(r, os.path.join(view, "audit.jsonl"), d)
                self.assertNotForged(os.path.join(d, "audit.jsonl"))
            finally:
                subprocess.run(["umount", view], timeout=30)
            # A directory outside the grants mounted inside the workdir.
            logs = os.path.join(out, "logs")
            os.mkdir(logs)
            inside = os.path.join(d, "logs")
            os.mkdir(inside)
            subprocess.run(["mount", "--bind", logs, inside], check=True, timeout=30)
            try:
                audit = os.path.join(logs, "audit.jsonl")
                r = self.forge(audit, d)
                self.assertRefused(r, audit, d)
                self.assertNotForged(audit)
            finally:
                subprocess.run(["umount", inside], timeout=30)

    def test_audit_outside_the_grants_works_and_cannot_be_touched(self):
        for user in ([False, True] if rf.IS_ROOT else [False]):
            with self.subTest(user=user), rf.TempDir() as d, rf.OutsideDir(0o777) as out:
                audit = os.path.join(out, "audit.jsonl")
                r = self.forge(audit, d, user=user)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.ran)
                self.assertNotForged(audit)
                with open(audit) as f:
                    self.assertIn('"action":"exit"', f.read())


if __name__ == "__main__":
    unittest.main()
