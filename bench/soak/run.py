#!/usr/bin/python3
"""Full soak (issue 11): the real `ringfence run` (namespace mode as root)
confines tests/helpers/fi_load, which keeps 1,000 concurrent CONNECT tunnels
moving a deterministic, byte-compared stream through the proxy to a host
loopback echo server for >= 60 s, then makes 100,000 short connections, then
floods past the connection cap; the supervisor's descriptors and RSS are read
between rounds. Prints a Markdown section on stdout. Loopback only; every
wait bounded.

usage: bench/soak/run.py BUILD_DIR [TUNNELS] [SECONDS] [SHORT]"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/integration"))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
os.environ["RF_TEST_BIN"] = os.path.join(build, "ringfence")
os.environ["RF_TEST_HELPERS"] = os.path.join(build, "helpers")
import rf  # noqa: E402
import test_soak as ts  # noqa: E402

sys.path.insert(0, os.path.join(HERE, ".."))
import lib  # noqa: E402

tunnels = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 60
short = int(sys.argv[4]) if len(sys.argv) > 4 else 100000

with rf.TempDir(0o755) as tmp:
    echo, port = ts.start_echo(seconds * 3 + 600)
    try:
        pol = ts.policy(tmp, port)
        loader = ts.copy_helper(tmp)
        # One warm-up connection first: the proxy's threads and the connect
        # guard start on the command's first connection.
        phases = ["short:1:1", "sync", "tunnels:%d:%d" % (tunnels, seconds), "sync", "short:%d:64" % short,
                  "sync", "tunnels:%d:%d" % (tunnels, max(10, seconds // 4)), "sync",
                  "flood:1100:300", "sync"]
        d = ts.Driver(pol, loader, "up.test:%d" % port, phases)
        samples = []
        t0 = time.time()
        try:
            while d.until_sync(timeout=seconds * 2 + 600):
                n = ts.settle_fds(d.p.pid, samples[1]["fd"] if len(samples) > 1 else 0,
                                  seconds=8 if len(samples) > 1 else 1.5)
                samples.append({"after": (d.results[-1]["phase"] if len(d.results) > 1 else
                                          "warm-up connection") if d.results else "start",
                                "fd": n, "rss_kb": ts.rss_kb(d.p.pid)})
                d.go()
            rc, err = d.finish()
        finally:
            d.kill()
        total = time.time() - t0
    finally:
        ts.stop(echo)

print("### Soak (bench/soak/run.py)\n")
print("`ringfence run` in namespace mode as root confines the epoll load generator "
      "tests/helpers/fi_load.c; the proxy's only allowed upstream is an epoll echo server on "
      "host loopback; every echoed byte is compared with the generated stream. Supervisor "
      "descriptors (/proc/PID/fd) and RSS are sampled between rounds after the proxy closed "
      "its side. Exit code of the run: %d; wall time %.0f s.\n" % (rc, total))
print("| round | result |\n|---|---|")
for r in d.results:
    if r["phase"] == "tunnels":
        txt = ("%d concurrent tunnels for %.1f s: %d intact, %d failed, %d mismatched, "
               "%.2f GiB echoed (%.0f MiB/s)" % (r["n"], r["seconds"], r["ok"], r["failed"],
                                                   r["mismatch"], r["bytes_echoed"] / 2**30,
                                                   r["bytes_echoed"] / 2**20 / r["seconds"]))
    elif r["phase"] == "short":
        txt = ("%d short connections (%d at a time) in %.1f s: %d ok, %d failed, %d non-200, "
               "%d mismatched (%d/s)" % (r["total"], r.get("concurrency", 64), r["seconds"],
                                         r["ok"], r["failed"], r["non200"], r["mismatch"],
                                         r["per_second"]))
    else:
        txt = ("flood of %d tunnels against the cap of 1024: %d x 200, %d x 503, %d closed "
               "unanswered, %d other, %d pending; %d accepted tunnels still echo" %
               (r["n"], r["status200"], r["status503"], r["closed"], r["other"], r["pending"],
                r["echoed_after_hold"]))
    print("| %s | %s |" % (r["phase"], txt))
print("\n| sampled after | supervisor fds | supervisor RSS (KiB) |\n|---|---|---|")
for s in samples:
    print("| %s | %d | %d |" % (s["after"], s["fd"], s["rss_kb"]))
if rc != 0:
    print("\nstderr of the run: `%s`" % err.strip()[-300:])
tun = [r for r in d.results if r["phase"] == "tunnels"]
sh = [r for r in d.results if r["phase"] == "short" and r["total"] > 1]
if tun and sh and samples:
    ref = samples[0]  # after the warm-up connection: the services exist
    lib.headline("- Soak: %d tunnels for %.0f s, %.2f GiB echoed, %d intact; %d short connections at "
                 "%d/s, %d failed; supervisor descriptors %d before the first round → %d after the "
                 "last, RSS %d → %d KiB" % (
                     tun[0]["n"], tun[0]["seconds"], tun[0]["bytes_echoed"] / 2**30, tun[0]["ok"],
                     sh[0]["total"], sh[0]["per_second"], sh[0]["failed"], ref["fd"],
                     samples[-1]["fd"], ref["rss_kb"], samples[-1]["rss_kb"]))
