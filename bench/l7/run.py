#!/usr/bin/python3
"""L7 inspection benchmark (issue 25), all on loopback, all in one run.

An nginx upstream serves /1k (1 KiB) and /100m (100 MB) over TLS with a test
CA (tests/integration/l7fixtures.TestCA, leaf for `localhost`). The same
client then goes to it through:

  inspected  `ringfence run` with an endpoint `protocol: rest, access: full`
             (CONNECT, TLS terminated with the run's CA, each request judged,
             TLS again to the upstream, verified through network.upstream_ca)
  tunnel     `ringfence run` with an L4-only endpoint (plain CONNECT tunnel:
             the client's TLS goes end to end)
  nginx      nginx as a TLS-terminating reverse proxy re-encrypting to the
             upstream (direct HTTPS, no CONNECT): the practical limit
  mitmproxy  mitmdump in regular proxy mode (CONNECT, its own CA)

Measures: keep-alive request rate (bench/l7/kaclient.c, CONNS connections,
1 KiB bodies, SECS seconds), bulk (curl, 100 MB GET; mitmproxy gets a smaller
body, it buffers whole bodies and would take minutes), and new connections
(handshake and first response, sequential) with a warm leaf cache.

With --credential: only the keep-alive rate of two inspected cases in the
same run, each request carrying an Authorization header: `plain` (a plain
value, no credential in the policy) and `injected` (the placeholder of a
`credentials` entry bound to the upstream, replaced by the proxy on each
request; docs/credentials.md).

Usage: bench/l7/run.py RINGFENCE [--conns 16] [--secs 5] [--hs 200] [--runs 3] [--credential]
Needs nginx, mitmdump, curl, cc, openssl. Prints Markdown."""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import lib  # noqa: E402
import l7fixtures as fx  # noqa: E402

HOST = "localhost"
BULK = 100_000_000
MITM_BULK = 10_000_000


def wait_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


NGINX_CONF = """daemon off;
worker_processes {workers};
pid {dir}/{name}.pid;
error_log {dir}/{name}-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/{name}-tmp;
  proxy_temp_path {dir}/{name}-ptmp;
  keepalive_requests 1000000;
  sendfile on;
  {body}
}}
"""

UPSTREAM = """server {{
    listen 127.0.0.1:{port} ssl; listen [::1]:{port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    root {root};
    default_type application/octet-stream;
  }}"""

FRONT = """upstream up {{ server 127.0.0.1:{up}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    location / {{
      proxy_pass https://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host {host};
      proxy_buffering off;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate {ca};
      proxy_ssl_name {host};
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
    }}
  }}"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /lib64, /bin, /etc, /proc, /dev/urandom, {dir}]
  read_write: [/dev/null]
network:
  mode: platform
  upstream_ca: {ca}
network_policies:
  bench:
    endpoints:
      - {{host: {host}, port: {port}, allowed_ips: [127.0.0.1]{l7}}}
{credentials}"""

CREDENTIALS = """credentials:
  BENCH_TOKEN:
    from: "env:BENCH_TOKEN_SOURCE"
    endpoints: [{{host: {host}, port: {port}}}]
"""
# What the `plain` case sends: as long as a placeholder (ringfence:cred:NAME:
# and 32 hex digits), so both cases move the same bytes to the proxy.
PLAIN_TOKEN = "x" * len("ringfence:cred:BENCH_TOKEN:" + "0" * 32)


class Proc:
    def __init__(self, argv, **kw):
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True, **kw)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)


def nginx(work, name, body):
    conf = os.path.join(work, name + ".conf")
    os.makedirs(os.path.join(work, name + "-tmp"), exist_ok=True)
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(workers=os.environ.get("L7_NGINX_WORKERS", "auto"), dir=work,
                                  name=name, body=body))
    return Proc(["nginx", "-c", conf, "-p", work, "-e", os.path.join(work, name + "-error.log")])


def run(argv, timeout=600, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({r.returncode}): {r.stderr[-400:]}")
    return r.stdout.strip().splitlines()[-1].split()


class Bench:
    def __init__(self, rf, work, args):
        self.rf, self.work, self.args = rf, work, args
        self.client = os.path.join(work, "kaclient")
        subprocess.run(["cc", "-O2", "-Wall", "-pthread", "-o", self.client,
                        os.path.join(HERE, "kaclient.c"), "-lssl", "-lcrypto"], check=True)
        os.chmod(work, 0o755)
        self.ca = fx.TestCA(work, names=(HOST,), label="bench")
        root = os.path.join(work, "www")
        os.makedirs(root)
        with open(os.path.join(root, "1k"), "wb") as f:
            f.write(b"x" * 1024)
        for name, size in (("100m", BULK), ("10m", MITM_BULK)):
            with open(os.path.join(root, name), "wb") as f:
                f.truncate(size)
        self.up = lib.free_port()
        self.front = lib.free_port()
        self.mitm = lib.free_port()
        self.procs = [
            nginx(work, "upstream", UPSTREAM.format(port=self.up, cert=self.ca.cert, key=self.ca.key,
                                                    root=root)),
            nginx(work, "front", FRONT.format(up=self.up, port=self.front, cert=self.ca.cert,
                                              key=self.ca.key, host=HOST, ca=self.ca.ca)),
        ]
        self.mitm_dir = os.path.join(work, "mitm")
        self.procs.append(Proc(["mitmdump", "-q", "--listen-host", "127.0.0.1", "-p", str(self.mitm),
                                "--set", "confdir=" + self.mitm_dir,
                                "--set", "ssl_verify_upstream_trusted_ca=" + self.ca.ca,
                                "--set", "connection_strategy=lazy"]))
        for p in (self.up, self.front, self.mitm):
            wait_port(p)
        self.mitm_ca = os.path.join(self.mitm_dir, "mitmproxy-ca-cert.pem")
        self.policies = {}
        rest = ", protocol: rest, access: full"
        for case, l7, creds in (("inspected", rest, ""), ("tunnel", "", ""),
                                ("plain", rest, ""),
                                ("injected", rest, CREDENTIALS.format(host=HOST, port=self.up))):
            path = os.path.join(work, case + ".yaml")
            with open(path, "w") as f:
                f.write(POLICY.format(dir=work, ca=self.ca.ca, host=HOST, port=self.up, l7=l7,
                                      credentials=creds))
            self.policies[case] = path
        # The bodies are sparse files: their pages are made on the first
        # read, which would be charged to whichever path goes first.
        for name in ("100m", "10m"):
            run(["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}\n", "--cacert",
                 self.ca.ca, f"https://{HOST}:{self.up}/{name}"])

    def close(self):
        for p in self.procs:
            p.stop()

    def client_args(self, case):
        """(port, proxy, ca) the client uses for `case`."""
        if case in ("inspected", "plain", "injected"):
            return self.up, "env", None
        if case == "tunnel":
            return self.up, "env", self.ca.ca
        if case == "nginx":
            return self.front, "-", self.ca.ca
        return self.up, f"127.0.0.1:{self.mitm}", self.mitm_ca

    def ka(self, case, mode, path, n, secs=None):
        port, proxy, ca = self.client_args(case)
        tail = [ca] if ca else []
        inner = [self.client, mode, HOST, str(port), path, str(n)] + ([str(secs)] if secs else [])
        env = None
        if proxy == "env":
            # Inside the sandbox the proxy is named by HTTPS_PROXY
            # (http://127.0.0.1:PORT); the client takes host:port.
            script = ('p=${HTTPS_PROXY#http://}; p=${p%/}; exec "$@" "$p" ' +
                      " ".join(tail))
            if case in ("plain", "injected"):
                env = dict(os.environ, BENCH_TOKEN_SOURCE="bench-secret-value",
                           BENCH_TOKEN=PLAIN_TOKEN)
                script = 'export KA_HEADER="Authorization: Bearer $BENCH_TOKEN"; ' + script
            argv = [self.rf, "run", "--policy", self.policies[case], "--", "/bin/sh", "-c", script,
                    "sh"] + inner
        else:
            argv = inner + [proxy] + tail
        return run(argv, timeout=(secs or 0) + 300, env=env)

    def bulk(self, case):
        size = MITM_BULK if case == "mitmproxy" else BULK
        path = "/10m" if case == "mitmproxy" else "/100m"
        curl = ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download} %{time_total}\n"]
        if case == "inspected":
            argv = [self.rf, "run", "--policy", self.policies[case], "--"] + curl + [
                f"https://{HOST}:{self.up}{path}"]
        elif case == "tunnel":
            argv = [self.rf, "run", "--policy", self.policies[case], "--"] + curl + [
                "--cacert", self.ca.ca, f"https://{HOST}:{self.up}{path}"]
        elif case == "nginx":
            argv = curl + ["--cacert", self.ca.ca, f"https://{HOST}:{self.front}{path}"]
        else:
            argv = curl + ["--cacert", self.mitm_ca, "--proxy", f"http://127.0.0.1:{self.mitm}",
                           f"https://{HOST}:{self.up}{path}"]
        n, secs = run(argv)
        if int(n) != size:
            raise RuntimeError(f"{case}: {n} bytes of {size}")
        return size / float(secs) / 1e9


CASES = ("inspected", "tunnel", "nginx", "mitmproxy")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ringfence")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--mitm-secs", type=float, default=3)
    ap.add_argument("--hs", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--credential", action="store_true",
                    help="only: inspected request rate with and without header injection")
    args = ap.parse_args()
    for tool in ("nginx", "mitmdump", "curl", "cc", "openssl"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            print(f"_L7 benchmark skipped: {tool} is not installed "
                  "(scripts/install-deps.sh bench)_")
            return 0
    work = tempfile.mkdtemp(prefix="rf-l7-bench-", dir="/var/tmp")
    b = None
    try:
        b = Bench(os.path.abspath(args.ringfence), work, args)
        if args.credential:
            cred = {c: [] for c in ("plain", "injected")}
            for _ in range(args.runs):
                for c in cred:
                    cred[c].append(float(b.ka(c, "rate", "/1k", args.conns, args.secs)[2]))
            report_credential(args, cred)
            return 0
        rate = {c: [] for c in CASES}
        bulk = {c: [] for c in CASES}
        # Interleaved rounds: each round measures every case once.
        for _ in range(args.runs):
            for c in CASES:
                secs = args.mitm_secs if c == "mitmproxy" else args.secs
                rate[c].append(float(b.ka(c, "rate", "/1k", args.conns, secs)[2]))
            for c in CASES:
                if c == "mitmproxy" and len(bulk[c]) >= 1:
                    continue  # one mitmproxy bulk run is enough to place it
                bulk[c].append(b.bulk(c))
        hs = {}
        for c in ("inspected", "tunnel", "nginx", "mitmproxy"):
            n = max(20, args.hs // 5) if c == "mitmproxy" else args.hs
            b.ka(c, "hs", "/1k", 5)  # warm: the leaf for the host is made once
            hs[c] = [float(x) for x in b.ka(c, "hs", "/1k", n)]
        report(args, rate, bulk, hs)
    finally:
        if b:
            b.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report_credential(args, rate):
    med = {c: statistics.median(v) for c, v in rate.items()}
    print(f"### Credential header injection: inspected keep-alive request rate ({args.conns} "
          f"connections, 1 KiB bodies, median of {args.runs} interleaved runs of {args.secs:g} s)")
    print()
    print("| case | req/s | runs | vs plain |")
    print("|---|---:|---|---:|")
    for c in ("plain", "injected"):
        print(f"| {c} | {med[c]:,.0f} | {', '.join(f'{x:,.0f}' for x in rate[c])} | "
              f"{med[c] / med['plain']:.2f}x |")
    print()
    lib.headline(f"- Credential injection (Authorization header, inspected HTTPS): "
                 f"{med['injected'] / med['plain']:.2f}x the request rate without it")


def report(args, rate, bulk, hs):
    med = {c: statistics.median(rate[c]) for c in CASES}
    bmed = {c: statistics.median(bulk[c]) for c in CASES}
    print(f"### L7 inspection: keep-alive request rate ({args.conns} connections, 1 KiB bodies, "
          f"median of {args.runs} interleaved runs of {args.secs:g} s; mitmproxy {args.mitm_secs:g} s)")
    print()
    print("| path | req/s | runs | vs nginx | vs mitmproxy |")
    print("|---|---:|---|---:|---:|")
    for c in CASES:
        print(f"| {c} | {med[c]:,.0f} | {', '.join(f'{x:,.0f}' for x in rate[c])} | "
              f"{med[c] / med['nginx']:.2f}x | {med[c] / med['mitmproxy']:.1f}x |")
    print()
    print(f"### L7 inspection: bulk GET with curl ({BULK // 1_000_000} MB; mitmproxy "
          f"{MITM_BULK // 1_000_000} MB, median of runs)")
    print()
    print("| path | GB/s | runs | vs nginx | vs mitmproxy |")
    print("|---|---:|---|---:|---:|")
    for c in CASES:
        print(f"| {c} | {bmed[c]:.3f} | {', '.join(f'{x:.3f}' for x in bulk[c])} | "
              f"{bmed[c] / bmed['nginx']:.2f}x | {bmed[c] / bmed['mitmproxy']:.1f}x |")
    print()
    print("### L7 inspection: new connections, warm leaf cache (sequential, one client)")
    print()
    print("| path | connections/s | p50 connect+CONNECT+TLS ms | p50 to first 1 KiB response ms |")
    print("|---|---:|---:|---:|")
    for c in CASES:
        print(f"| {c} | {hs[c][0]:,.0f} | {hs[c][1]:.2f} | {hs[c][2]:.2f} |")
    print()
    lib.headline(f"- L7 inspection (HTTPS, 16 keep-alive connections): "
                 f"{med['inspected'] / med['nginx']:.2f}x nginx's TLS-terminating proxy, "
                 f"{med['inspected'] / med['mitmproxy']:.0f}x mitmproxy; 100 MB bulk "
                 f"{bmed['inspected'] / bmed['nginx']:.2f}x nginx")


if __name__ == "__main__":
    sys.exit(main())
