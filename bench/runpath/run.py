#!/usr/bin/python3
"""Through `ringfence run`: where users are. All on loopback, in one run,
interleaved so that drift hits every case alike.

  * request rate: --cycles short CONNECT + GET cycles over --concurrency (64)
    concurrent clients (bench/proxy/bulk.c `rate`), the client running inside
    `ringfence run` in platform and namespace mode with a binary rule in the
    policy (so every proxy connection needs its caller's identity), against
    tinyproxy and a standalone `ringfence proxy` with the same rule, the
    client outside;
  * connect() latency through the connect guard (connbench.c: the program
    listens itself and connects --connects times): inet and unix, bare vs
    platform vs namespace mode, p50 and p99;
  * concurrent connects: the same number of connects made by 64 threads at
    once vs by one thread, total time.

usage: bench/runpath/run.py RINGFENCE [--cycles N] [--concurrency C]
                            [--connects N] [--runs R]
Needs cc and tinyproxy. Prints Markdown."""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
import lib  # noqa: E402
from run_bench import Bg  # noqa: E402  (a background process, its first line read)

POLICY = """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc, %(work)s]
  read_write: [%(rw)s]
network:
  mode: %(mode)s
  hosts: {bulk.test: 127.0.0.1}
  loopback_ports: [%(lport)d]
  bind_ports: [%(lport)d]
network_policies:
  bench:
    endpoints: [{host: bulk.test, port: %(up)d, allowed_ips: [127.0.0.1/32]}]
    binaries: [{path: %(work)s/bulk}]
"""


def wait_port(port, deadline_s=10):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("nothing listens on %d" % port)


def parse_rate(out):
    return dict(kv.split("=") for kv in out.split())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ringfence")
    ap.add_argument("--cycles", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--connects", type=int, default=4000)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    rf_bin = os.path.abspath(args.ringfence)
    # /var/tmp: the sandbox's private /tmp would hide a work dir under /tmp.
    work = tempfile.mkdtemp(prefix="rf-bench-runpath-", dir="/var/tmp")
    os.chmod(work, 0o755)
    rw = os.path.join(work, "rw")
    os.mkdir(rw)
    os.chmod(rw, 0o777)
    procs = []
    try:
        bulk = os.path.join(work, "bulk")
        conn = os.path.join(work, "connbench")
        subprocess.run(["cc", "-O2", "-pthread", "-o", bulk,
                        os.path.join(HERE, "..", "proxy", "bulk.c")], check=True)
        subprocess.run(["cc", "-O2", "-pthread", "-o", conn, os.path.join(HERE, "connbench.c")],
                       check=True)
        up = Bg([bulk, "httpserve", "2"])
        procs.append(up)
        up_port = int(up.line)
        lport = lib.free_port()
        policies = {}
        for mode in ("platform", "namespace"):
            policies[mode] = os.path.join(work, "policy-%s.yaml" % mode)
            with open(policies[mode], "w") as f:
                f.write(POLICY % {"work": work, "rw": rw, "mode": mode, "up": up_port,
                                  "lport": lport})
        tp_port = lib.free_port()
        conf = os.path.join(work, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 600\nMaxClients 100\nAllow 127.0.0.1\n"
                    "ConnectPort %d\nLogLevel Critical\n" % (tp_port, up_port))
        tp = Bg(["tinyproxy", "-d", "-c", conf], first_line=False)
        procs.append(tp)
        wait_port(tp_port)
        standalone = Bg([rf_bin, "proxy", "--policy", policies["platform"], "--listen",
                         "127.0.0.1:0"])
        procs.append(standalone)
        sa_port = int(standalone.line.rsplit(":", 1)[1])

        target = "bulk.test:%d" % up_port
        rate_args = [target, str(args.cycles), str(args.concurrency)]
        cases = {
            "tinyproxy": [bulk, "rate", str(tp_port), "127.0.0.1:%d" % up_port] + rate_args[1:],
            "ringfence proxy (standalone)": [bulk, "rate", str(sa_port)] + rate_args,
        }
        for mode in ("platform", "namespace"):
            inner = "exec %s rate \"${HTTP_PROXY##*:}\" %s" % (bulk, " ".join(rate_args))
            cases["ringfence run, %s" % mode] = [rf_bin, "run", "-q", "--policy", policies[mode],
                                                 "--", "/bin/sh", "-c", inner]
        rates = {k: [] for k in cases}
        setup = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                r = subprocess.run(argv, capture_output=True, text=True, timeout=900)
                if r.returncode != 0:
                    sys.exit("rate %s failed: %s %s" % (name, r.stdout, r.stderr))
                v = parse_rate(r.stdout)
                rates[name].append(float(v["rate"]))
                setup[name].append(float(v["setup_p50_us"]))
        tp_rate = statistics.median(rates["tinyproxy"])
        sa_rate = statistics.median(rates["ringfence proxy (standalone)"])
        print("### Through `ringfence run`: request rate with caller identity "
              "(%d short CONNECT + GET cycles, %d concurrent clients, %d runs interleaved)\n"
              % (args.cycles, args.concurrency, args.runs))
        print("| case | cycles/s (median) | all runs | CONNECT setup p50 (µs) | vs tinyproxy "
              "| vs standalone proxy |")
        print("|---|---:|---|---:|---:|---:|")
        for name in cases:
            med = statistics.median(rates[name])
            print("| %s | %.0f | %s | %.0f | %.2f× | %.2f× |" % (
                name, med, " / ".join("%.0f" % x for x in rates[name]),
                statistics.median(setup[name]), med / tp_rate, med / sa_rate))
        print("\nThe policy names the client binary (`binaries: [{path: .../bulk}]`), so every "
              "proxy connection needs its caller's identity. Inside `ringfence run` each "
              "connect() to the proxy is a seccomp notification the connect guard answers.\n"
              "Command: `bench/runpath/run.py build/ringfence --cycles %d --concurrency %d "
              "--runs %d`.\n" % (args.cycles, args.concurrency, args.runs))

        # connect() latency and concurrency through the guard.
        sock_path = os.path.join(rw, "s")

        def connbench(prefix, kind, threads):
            where = str(lport) if kind == "inet" else sock_path
            r = subprocess.run(prefix + [conn, kind, where, str(args.connects), str(threads)],
                               capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                sys.exit("connbench %s %s failed: %s %s" % (kind, prefix, r.stdout, r.stderr))
            p50, p99, total = (float(x) for x in r.stdout.split())
            return p50, p99, total

        prefixes = {"bare": []}
        for mode in ("platform", "namespace"):
            prefixes["ringfence run, %s" % mode] = [rf_bin, "run", "-q", "--policy",
                                                    policies[mode], "--"]
        lat = {}
        conc = {}
        for _ in range(args.runs):
            for name, prefix in prefixes.items():
                for kind in ("inet", "unix"):
                    lat.setdefault((name, kind), []).append(connbench(prefix, kind, 1))
                    conc.setdefault((name, kind), []).append(connbench(prefix, kind, 64))
        print("### connect() through the connect guard (%d connects to a listener of the "
              "program's own, %d runs)\n" % (args.connects, args.runs))
        print("| case | kind | p50 (µs) | p99 (µs) | p50 vs bare | 1 thread total (s) "
              "| 64 threads total (s) | 64 threads / 1 thread |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        summary = {}
        for (name, kind), vals in lat.items():
            p50 = statistics.median(v[0] for v in vals)
            p99 = statistics.median(v[1] for v in vals)
            bare = statistics.median(v[0] for v in lat[("bare", kind)])
            one = statistics.median(v[2] for v in vals)
            many = statistics.median(v[2] for v in conc[(name, kind)])
            summary[(name, kind)] = (p50 / bare, many / one)
            print("| %s | %s | %.1f | %.1f | %.1f× | %.3f | %.3f | %.2f× |" % (
                name, kind, p50, p99, p50 / bare, one, many, many / one))
        print("\nCommand: `bench/runpath/run.py build/ringfence --connects %d --runs %d` "
              "(connbench.c: `connbench inet|unix WHERE N THREADS`).\n" % (args.connects, args.runs))
        rate_ok = all(statistics.median(rates["ringfence run, %s" % m]) >= 1.5 * tp_rate
                      for m in ("platform", "namespace"))
        lat_ok = all(v[0] <= 10 for k, v in summary.items() if k[0] != "bare")
        conc_ok = all(v[1] <= 2 for k, v in summary.items() if k[0] != "bare")
        print("Targets: request rate through `ringfence run` ≥ 1.5× tinyproxy in both modes: "
              "%s; connects through the guard ≤ 10× bare at p50: %s; 64 threads ≤ 2× one thread: "
              "%s.\n" % ("met" if rate_ok else "missed", "met" if lat_ok else "missed",
                         "met" if conc_ok else "missed"))
        lib.headline("- Through `ringfence run` (identity needed, 64 clients): %.2f× tinyproxy "
                     "in platform mode, %.2f× in namespace mode; guard connect p50 %.1f×/%.1f× "
                     "bare (inet/unix, platform)" % (
                         statistics.median(rates["ringfence run, platform"]) / tp_rate,
                         statistics.median(rates["ringfence run, namespace"]) / tp_rate,
                         summary[("ringfence run, platform", "inet")][0],
                         summary[("ringfence run, platform", "unix")][0]))
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
