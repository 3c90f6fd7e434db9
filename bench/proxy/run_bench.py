#!/usr/bin/python3
"""Egress proxy benchmark, all on loopback, all in one run:

  * bulk download of --bytes (default 1 GiB) direct, through the minimal
    reference relay (relay.c: plain TCP, a thread per direction, splice),
    through a `ringfence proxy` CONNECT tunnel and through tinyproxy (CONNECT);
  * forward-proxy HTTP: an absolute-form GET of a --bytes body, direct, through
    the relay, ringfence and tinyproxy;
  * request rate: --cycles short CONNECT + GET cycles over --concurrency (64)
    concurrent clients, ringfence vs tinyproxy, p50/p99 setup and cycle latency;
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
sys.path.insert(0, os.path.join(HERE, ".."))
import lib  # noqa: E402


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
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
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
        http_big = Bg([bulk, "httpserve", str(args.bytes)])
        procs.append(http_big)
        http_big.port = int(http_big.line)
        http_small = Bg([bulk, "httpserve", "2"])
        procs.append(http_small)
        http_small.port = int(http_small.line)
        http_relay = Bg([os.path.join(work, "relay"), "0", str(http_big.port)])
        procs.append(http_relay)
        http_relay_port = int(http_relay.line.rsplit(":", 1)[1])
        policy = os.path.join(work, "policy.yaml")
        with open(policy, "w") as f:
            f.write("version: 1\nnetwork:\n  hosts: {bulk.test: 127.0.0.1}\nnetwork_policies:\n"
                    "  bench:\n    endpoints:\n      - { host: bulk.test, ports: [%s, %s, %s, %d, %d],"
                    " allowed_ips: [127.0.0.1/32] }\n" % (up, zero.line, hold.line, http_big.port,
                                                          http_small.port))
        rfp = Bg([args.ringfence, "proxy", "--policy", policy, "--listen", "127.0.0.1:0",
                  "--threads", str(args.threads), "--max-connections", str(args.idle + 100)]
                 + args.rf_args.split())
        procs.append(rfp)
        rf_port = int(rfp.line.rsplit(":", 1)[1])
        # The same proxy without the per-connection caller lookup that only
        # feeds the audit log when no rule names binaries.
        rfq = Bg([args.ringfence, "proxy", "--policy", policy, "--listen", "127.0.0.1:0",
                  "--threads", str(args.threads), "--no-identify-always"] + args.rf_args.split())
        procs.append(rfq)
        rfq_port = int(rfq.line.rsplit(":", 1)[1])
        tp_port = lib.free_port()
        conf = os.path.join(work, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 600\nMaxClients 100\nAllow 127.0.0.1\n"
                    "ConnectPort %d\nConnectPort %s\nConnectPort %d\nLogLevel Critical\n"
                    % (tp_port, up, zero.line, http_small.port))
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
        fwd = {"direct": [], "relay": [], "ringfence": [], "tinyproxy": []}
        hp = "bulk.test:%d" % http_big.port
        for _ in range(args.runs):  # interleaved, so drift hits all alike
            for name, port, target in (("direct", up, None), ("relay", relay_port, None),
                                       ("ringfence", rf_port, "bulk.test:%d" % up),
                                       ("tinyproxy", tp_port, "127.0.0.1:%d" % up)):
                n, secs = get(bulk, port, target)
                if n != args.bytes:
                    sys.exit("%s: got %d bytes, wanted %d" % (name, n, args.bytes))
                results[name].append(n / secs / 1e9)
            for name, argv in (("direct", [str(http_big.port), hp]),
                               ("relay", [str(http_relay_port), hp]),
                               ("ringfence", [str(rf_port), hp, "proxy"]),
                               ("tinyproxy", [str(tp_port), "127.0.0.1:%d" % http_big.port, "proxy"])):
                r = subprocess.run([bulk, "hget"] + argv, capture_output=True, text=True,
                                   timeout=300, check=True)
                n, secs = r.stdout.split()
                if int(n) != args.bytes:
                    sys.exit("forward %s: got %s bytes, wanted %d" % (name, n, args.bytes))
                fwd[name].append(int(n) / float(secs) / 1e9)

        def gb_table(title, res, cmds):
            print("### %s\n" % title)
            print("| path | GB/s median | p10 | p90 | vs direct | vs relay | vs tinyproxy |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            med = {k: statistics.median(v) for k, v in res.items()}
            for k in res:
                print("| %s | %.2f | %.2f | %.2f | %.2f× | %.2f× | %.2f× |" % (
                    k, med[k], lib.pct(res[k], 0.1), lib.pct(res[k], 0.9), med[k] / med["direct"],
                    med[k] / med["relay"], med[k] / med["tinyproxy"]))
            print("\n%d runs of %d MiB each, interleaved; all runs (GB/s): %s\n" % (
                args.runs, args.bytes >> 20, {k: [round(x, 2) for x in v] for k, v in res.items()}))
            print("Commands (bench/proxy/bulk.c; PORT and TARGET are picked by the harness):\n")
            for k, c in cmds:
                print("- `%s`: `%s`" % (k, c))
            print()
            return med

        gbps = gb_table("CONNECT tunnel throughput (bulk download through the proxy)", results, [
            ("direct", "bulk get UPSTREAM"), ("relay", "bulk get RELAY (relay.c: plain TCP, splice)"),
            ("ringfence", "bulk get RF bulk.test:UPSTREAM (ringfence proxy --threads %d)" % args.threads),
            ("tinyproxy", "bulk get TINYPROXY 127.0.0.1:UPSTREAM")])
        plot = lib.bar_plot("proxy_connect", "CONNECT tunnel throughput", results, unit="GB/s", scale=1)
        if plot:
            print("![proxy connect throughput](%s)\n" % plot)
        fgbps = gb_table("Forward-proxy HTTP throughput (absolute-form GET, %d MiB body)"
                         % (args.bytes >> 20), fwd, [
            ("direct", "bulk hget HTTP_UPSTREAM host (origin-form)"),
            ("relay", "bulk hget RELAY host (origin-form through relay.c)"),
            ("ringfence", "bulk hget RF bulk.test:HTTP_UPSTREAM proxy"),
            ("tinyproxy", "bulk hget TINYPROXY 127.0.0.1:HTTP_UPSTREAM proxy")])
        plot = lib.bar_plot("proxy_forward", "Forward-proxy HTTP throughput", fwd, unit="GB/s", scale=1)
        if plot:
            print("![proxy forward throughput](%s)\n" % plot)

        # Short CONNECT + GET cycles, 64 concurrent clients.
        rates = {}
        for name, port, target in (("ringfence", rf_port, "bulk.test:%d" % http_small.port),
                                   ("ringfence --no-identify-always", rfq_port,
                                    "bulk.test:%d" % http_small.port),
                                   ("tinyproxy", tp_port, "127.0.0.1:%d" % http_small.port)):
            r = subprocess.run([bulk, "rate", str(port), target, str(args.cycles), str(args.concurrency)],
                               capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                sys.exit("rate %s failed: %s %s" % (name, r.stdout, r.stderr))
            rates[name] = dict(kv.split("=") for kv in r.stdout.split())
        print("### Request rate and setup latency (%d short CONNECT + GET cycles, %d concurrent clients)\n"
              % (args.cycles, args.concurrency))
        print("| proxy | cycles/s | CONNECT setup p50 (µs) | setup p99 | whole cycle p50 (µs) | cycle p99 | rate vs tinyproxy |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for k, v in rates.items():
            print("| %s | %s | %s | %s | %s | %s | %.2f× |" % (
                k, v["rate"], v["setup_p50_us"], v["setup_p99_us"], v["cycle_p50_us"],
                v["cycle_p99_us"], float(v["rate"]) / float(rates["tinyproxy"]["rate"])))
        print("\nCommand: `bulk rate PROXY TARGET %d %d` (each cycle: connect, CONNECT, GET /, read to EOF, close).\n"
              "`ringfence` resolves the calling process of every connection for the audit log "
              "(identify_always, the default): a standalone `ringfence proxy` has no sandbox to "
              "search, so it scans every process's descriptors on the host; under `ringfence run` the "
              "search covers only the sandbox's processes. With `--no-identify-always` the caller is "
              "looked up only when a rule names binaries (none here), which is tinyproxy's workload.\n"
              % (args.cycles, args.concurrency))

        lat = subprocess.run([bulk, "latency", str(rf_port), "bulk.test:%s" % zero.line,
                              str(args.connects)], capture_output=True, text=True, timeout=600)
        lat_q = subprocess.run([bulk, "latency", str(rfq_port), "bulk.test:%s" % zero.line,
                                str(args.connects)], capture_output=True, text=True, timeout=600)
        lat_tp = subprocess.run([bulk, "latency", str(tp_port), "127.0.0.1:%s" % zero.line,
                                 str(min(args.connects, 2000))], capture_output=True, text=True,
                                timeout=600)
        print("### Sequential CONNECT setup latency (one client)\n")
        print("- ringfence: %s%s" % (lat.stdout.strip(), lat.stderr.strip()))
        print("- ringfence --no-identify-always: %s%s" % (lat_q.stdout.strip(), lat_q.stderr.strip()))
        print("- tinyproxy: %s%s" % (lat_tp.stdout.strip(), lat_tp.stderr.strip()))
        print("\nCommand: `bulk latency PROXY TARGET N`\n")

        rss0 = rss_kib(rfp.p.pid)
        holder = subprocess.Popen([bulk, "hold", str(rf_port), "bulk.test:%s" % hold.line,
                                   str(args.idle)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        ready = holder.stdout.readline().strip()
        time.sleep(0.5)
        rss1 = rss_kib(rfp.p.pid)
        holder.stdin.close()
        holder.wait(30)
        print("### Memory\n")
        print("- ringfence proxy RSS: %d KiB idle, %d KiB with %d idle tunnels open (%s) "
              "= %.1f KiB per tunnel (command: `bulk hold RF TARGET %d`)\n" % (
                  rss0, rss1, args.idle, ready or holder.stderr.read(),
                  (rss1 - rss0) / max(1, args.idle), args.idle))
        ok_connect = gbps["ringfence"] >= 0.9 * gbps["relay"] and gbps["ringfence"] >= 3 * gbps["tinyproxy"]
        tp_rate = float(rates["tinyproxy"]["rate"])
        lib.headline("- Proxy: CONNECT tunnel %.2f GB/s = %.2f× the reference relay, %.2f× tinyproxy; "
                     "forward HTTP %.2f× tinyproxy; 64-client request rate %.2f× tinyproxy "
                     "(%.2f× with per-connection caller identity); %.1f KiB per idle tunnel "
                     "(targets ≥ 0.9× relay, ≥ 3× tinyproxy: %s)" % (
                         gbps["ringfence"], gbps["ringfence"] / gbps["relay"],
                         gbps["ringfence"] / gbps["tinyproxy"], fgbps["ringfence"] / fgbps["tinyproxy"],
                         float(rates["ringfence --no-identify-always"]["rate"]) / tp_rate,
                         float(rates["ringfence"]["rate"]) / tp_rate,
                         (rss1 - rss0) / max(1, args.idle), "met" if ok_connect else "missed"))
        print("Targets (CONNECT throughput >= 0.9× relay and >= 3× tinyproxy): %s (%.2f× relay, %.2f× tinyproxy)."
              % ("met" if ok_connect else "missed", gbps["ringfence"] / gbps["relay"],
                 gbps["ringfence"] / gbps["tinyproxy"]))
        if not ok_connect:
            print("\nWhy, when missed: the tunnel path is splice() through a pipe per direction, the "
                  "same system calls as the reference relay; the difference is epoll wake-ups and "
                  "edge-triggered re-arming on 2 worker threads vs relay.c's blocking thread per "
                  "direction. On this shared 2-core machine run-to-run spread (p10-p90 above) is "
                  "of the same order as the gap; see the all-runs line.")
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
