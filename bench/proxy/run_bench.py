#!/usr/bin/python3
"""Egress proxy benchmark, all on loopback, all in one run:

  * bulk download of --bytes (default 1 GiB) direct, through the minimal
    reference relay (relay.c: plain TCP, a thread per direction, splice),
    through a `ringfence proxy` CONNECT tunnel and through tinyproxy (CONNECT);
  * CONNECT setup latency (p50/p99 over --connects sequential CONNECTs);
  * proxy RSS with --idle tunnels open.

Usage: bench/proxy/run_bench.py [--ringfence build-proxy/ringfence] [--bytes N]
       [--runs 3] [--connects 10000] [--idle 1000] [--rf-args "--no-splice"]
Needs cc and tinyproxy (apt-get install -y tinyproxy). Prints a Markdown table."""
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


def build(work):
    for name in ("relay", "bulk"):
        subprocess.run(["cc", "-O2", "-Wall", "-pthread", "-o", os.path.join(work, name),
                        os.path.join(HERE, name + ".c")], check=True)


class Bg:
    """A background process whose first stdout line is read (bounded)."""

    def __init__(self, argv, first_line=True, stdin=None):
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=stdin)
        self.line = self.p.stdout.readline().strip() if first_line else ""

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        return self.p.stderr.read() if self.p.stderr else ""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(bulk, port, target=None, timeout=300):
    argv = [bulk, "get", str(port)] + ([target] if target else [])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True)
    n, secs = r.stdout.split()
    return int(n), float(secs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringfence", default=os.path.join(HERE, "../../build-proxy/ringfence"))
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connects", type=int, default=10000)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rf-args", default="", help="extra `ringfence proxy` arguments, e.g. --no-splice")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rf-bench-proxy-")
    procs = []
    try:
        build(work)
        bulk = os.path.join(work, "bulk")
        src = Bg([bulk, "serve", str(args.bytes)])
        procs.append(src)
        up = int(src.line)
        relay = Bg([os.path.join(work, "relay"), "0", str(up)])
        procs.append(relay)
        relay_port = int(relay.line.rsplit(":", 1)[1])
        zero = Bg([bulk, "serve", "0"])
        procs.append(zero)
        hold = Bg([bulk, "serve", "-1"])
        procs.append(hold)
        policy = os.path.join(work, "policy.yaml")
        with open(policy, "w") as f:
            f.write("version: 1\nnetwork:\n  hosts: {bulk.test: 127.0.0.1}\nnetwork_policies:\n"
                    "  bench:\n    endpoints:\n      - { host: bulk.test, ports: [%s, %s, %s],"
                    " allowed_ips: [127.0.0.1/32] }\n" % (up, zero.line, hold.line))
        rfp = Bg([args.ringfence, "proxy", "--policy", policy, "--listen", "127.0.0.1:0",
                  "--threads", str(args.threads), "--max-connections", str(args.idle + 100)]
                 + args.rf_args.split())
        procs.append(rfp)
        rf_port = int(rfp.line.rsplit(":", 1)[1])
        tp_port = free_port()
        conf = os.path.join(work, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 600\nMaxClients 100\nAllow 127.0.0.1\n"
                    "ConnectPort %d\nConnectPort %s\nLogLevel Critical\n" % (tp_port, up, zero.line))
        tp = Bg(["tinyproxy", "-d", "-c", conf], first_line=False)
        procs.append(tp)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", tp_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

        results = {"direct": [], "relay": [], "ringfence": [], "tinyproxy": []}
        for _ in range(args.runs):  # interleaved, so drift hits all alike
            for name, port, target in (("direct", up, None), ("relay", relay_port, None),
                                       ("ringfence", rf_port, "bulk.test:%d" % up),
                                       ("tinyproxy", tp_port, "127.0.0.1:%d" % up)):
                n, secs = get(bulk, port, target)
                if n != args.bytes:
                    sys.exit("%s: got %d bytes, wanted %d" % (name, n, args.bytes))
                results[name].append(n / secs / 1e9)
        gbps = {k: statistics.median(v) for k, v in results.items()}

        lat = subprocess.run([bulk, "latency", str(rf_port), "bulk.test:%s" % zero.line,
                              str(args.connects)], capture_output=True, text=True, timeout=600)
        lat_tp = subprocess.run([bulk, "latency", str(tp_port), "127.0.0.1:%s" % zero.line,
                                 str(min(args.connects, 2000))], capture_output=True, text=True,
                                timeout=600)
        rss0 = rss_kib(rfp.p.pid)
        holder = subprocess.Popen([bulk, "hold", str(rf_port), "bulk.test:%s" % hold.line,
                                   str(args.idle)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        ready = holder.stdout.readline().strip()
        time.sleep(0.5)
        rss1 = rss_kib(rfp.p.pid)
        holder.stdin.close()
        holder.wait(30)

        print("| path | GB/s (median of %d, %d MiB each) | vs direct | vs relay | vs tinyproxy |"
              % (args.runs, args.bytes >> 20))
        print("|---|---|---|---|---|")
        for k in ("direct", "relay", "ringfence", "tinyproxy"):
            print("| %s | %.2f | %.2fx | %.2fx | %.2fx |" % (
                k, gbps[k], gbps[k] / gbps["direct"], gbps[k] / gbps["relay"],
                gbps[k] / gbps["tinyproxy"]))
        print("\nall runs (GB/s):", {k: [round(x, 2) for x in v] for k, v in results.items()})
        print("\nCONNECT setup, ringfence proxy: %s%s" % (lat.stdout.strip(), lat.stderr.strip()))
        print("CONNECT setup, tinyproxy (for context): %s%s" % (lat_tp.stdout.strip(),
                                                            lat_tp.stderr.strip()))
        print("\nringfence proxy RSS: %d KiB before, %d KiB with %d idle tunnels (%s) "
              "= %.1f KiB per tunnel" % (rss0, rss1, args.idle, ready or holder.stderr.read(),
                                          (rss1 - rss0) / max(1, args.idle)))
        targets_ok = gbps["ringfence"] >= 0.9 * gbps["relay"] and gbps["ringfence"] >= 3 * gbps["tinyproxy"]
        print("\ntargets (>= 0.9x relay, >= 3x tinyproxy): %s" % ("met" if targets_ok else "NOT met"))
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
