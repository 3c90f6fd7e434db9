#!/usr/bin/python3
"""Many sandboxes at once: N concurrent `ringfence run` per network mode.

Each sandbox runs a shell that says it started and a small program that makes one
connection through the proxy (so the proxy and connect-guard threads exist),
says so, and then waits on its stdin; closing stdin makes it exit with a
code of its own (1..120), which must come back exactly. Measured per mode:

- start-up: from spawning `ringfence run` to the command's first line
  (median and p95 over the N), and the time until all N were running and
  until all N had made their connection;
- memory per sandbox: PSS and RSS (/proc/PID/smaps_rollup) of ringfence's
  own processes (the supervisor with its threads, and init where there is
  one; not the command), summed per sandbox, median over the N;
- idle wake-ups per sandbox per second: context switches of those processes'
  threads over a window while all N sit idle (bench/idle_wakeups.py counts);
- exits: every sandbox exits with its own code.

Loopback only. Everything is bounded: a sandbox that has not reached a step
by the deadline is killed and the run fails with what was missing.

usage: bench/concurrent/run.py BIN [--count N] [--modes platform,namespace]
                                   [--idle-seconds S] [--deadline S] [--markdown]
"""
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import idle_wakeups  # noqa: E402  (the wake-up count, shared)
from lib import pct  # noqa: E402

# The policy (a loopback endpoint) and the program that connects through the
# proxy once are idle_wakeups.py's: with a second argument the program waits
# for the end of its stdin and exits with that code.
POLICY = idle_wakeups.POLICY
SCRIPT = idle_wakeups.SCRIPT


def serve(srv, stop):
    """Accepts and closes (the tunnel ends at once: nothing stays open)."""
    srv.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = srv.accept()
            c.close()
        except socket.timeout:
            continue
        except OSError:
            return


def ringfence_pids(root, binary):
    """The supervisor `root` and its descendants that are still ringfence
    (init; the command has exec'd something else)."""
    exe = os.path.realpath(binary)
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo and len(out) < 64:  # bounded: a sandbox has a few of its own
        pid = todo.pop()
        try:
            if os.path.realpath("/proc/%d/exe" % pid) != exe:
                continue
        except OSError:
            continue
        out.append(pid)
        todo += children.get(pid, [])
    return out


def memory_kib(pids):
    pss = rss = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss


def run_mode(binary, mode, count, idle_seconds, deadline_s):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(256)
    port = srv.getsockname()[1]
    stop = threading.Event()
    t = threading.Thread(target=serve, args=(srv, stop), daemon=True)
    t.start()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(POLICY % {"mode": mode, "port": port})
    os.chmod(f.name, 0o644)
    procs, spawned, lines, buf = [], [], [], []
    sel = selectors.DefaultSelector()
    result = {"mode": mode, "count": count}
    try:
        t0 = time.monotonic()
        for i in range(count):
            # The shell says "started" before the interpreter's own start-up.
            p = subprocess.Popen([binary, "run", "-q", "--policy", f.name, "--", "/bin/sh", "-c",
                                  'echo started; exec /usr/bin/python3 -c "$0" "$@"', SCRIPT,
                                  str(port), str(i % 120 + 1)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, cwd="/")
            os.set_blocking(p.stdout.fileno(), False)
            sel.register(p.stdout, selectors.EVENT_READ, i)
            procs.append(p)
            spawned.append(time.monotonic())
            lines.append({})
            buf.append(b"")
        deadline = t0 + deadline_s
        connected = 0
        while connected < count:
            left = deadline - time.monotonic()
            if left <= 0:
                missing = [i for i in range(count) if "connected" not in lines[i]]
                raise RuntimeError("%s: %d of %d sandboxes not connected within %d s (first: %s)" %
                                   (mode, len(missing), count, deadline_s,
                                    procs[missing[0]].poll()))
            for key, _ in sel.select(timeout=min(left, 1.0)):
                i = key.data
                data = os.read(key.fileobj.fileno(), 4096)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                buf[i] += data
                while b"\n" in buf[i]:
                    line, buf[i] = buf[i].split(b"\n", 1)
                    word = line.decode(errors="replace").strip()
                    if word == "refused":
                        raise RuntimeError("%s: sandbox %d: the proxy refused the connection" %
                                           (mode, i))
                    lines[i][word] = time.monotonic()
                    connected += word == "connected"
        starts = [lines[i]["started"] - spawned[i] for i in range(count)]
        result["all_running"] = max(lines[i]["started"] for i in range(count)) - t0
        result["all_connected"] = max(lines[i]["connected"] for i in range(count)) - t0
        result["start_median"] = statistics.median(starts)
        result["start_p95"] = pct(starts, 0.95)
        time.sleep(1.0)  # pooled pipes and lingering state settle
        own = [ringfence_pids(p.pid, binary) for p in procs]
        mem = [memory_kib(pids) for pids in own]
        result["procs_per_sandbox"] = statistics.median(len(x) for x in own)
        result["pss_kib"] = statistics.median(m[0] for m in mem)
        result["rss_kib"] = statistics.median(m[1] for m in mem)
        before = sum(idle_wakeups.switches(pid) for pids in own for pid in pids)
        time.sleep(idle_seconds)
        after = sum(idle_wakeups.switches(pid) for pids in own for pid in pids)
        result["wakeups"] = (after - before) / idle_seconds / count
        for p in procs:
            p.stdin.close()
        wrong = []
        for i, p in enumerate(procs):
            try:
                rc = p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                rc = "still running"
            if rc != i % 120 + 1:
                wrong.append((i, rc, p.stderr.read(300).decode(errors="replace")))
        result["exit_exact"] = count - len(wrong)
        if wrong:
            raise RuntimeError("%s: %d exit codes wrong, first %r" % (mode, len(wrong), wrong[0]))
        return result
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for s in (p.stdin, p.stdout, p.stderr):
                try:
                    s.close()
                except (OSError, ValueError):
                    pass
        sel.close()
        stop.set()
        srv.close()
        t.join(timeout=5)
        os.unlink(f.name)


def main():
    args = sys.argv[1:]
    opts = {"--count": "100", "--modes": "platform,namespace", "--idle-seconds": "5",
            "--deadline": "120"}
    markdown = "--markdown" in args
    if markdown:
        args.remove("--markdown")
    for k in list(opts):
        if k in args:
            i = args.index(k)
            opts[k] = args[i + 1]
            del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    binary = os.path.abspath(args[0])
    count = int(opts["--count"])
    rows = [run_mode(binary, m, count, float(opts["--idle-seconds"]), float(opts["--deadline"]))
            for m in opts["--modes"].split(",")]
    if markdown:
        print("### %d concurrent sandboxes (bench/concurrent/run.py)" % count)
        print()
        print("| mode | all running (s) | all connected (s) | start-up median (ms) | p95 (ms) | "
              "ringfence processes | PSS/sandbox (KiB) | RSS/sandbox (KiB) | idle wake-ups/s "
              "per sandbox | exact exit codes |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if markdown:
            print("| %s | %.2f | %.2f | %.0f | %.0f | %d | %d | %d | %.2f | %d/%d |" % (
                r["mode"], r["all_running"], r["all_connected"], r["start_median"] * 1000,
                r["start_p95"] * 1000, r["procs_per_sandbox"], r["pss_kib"], r["rss_kib"],
                r["wakeups"], r["exit_exact"], r["count"]))
        else:
            print("%-9s %d sandboxes: all running %.2f s, all connected %.2f s; start-up median "
                  "%.0f ms p95 %.0f ms; %d ringfence processes, PSS %d KiB RSS %d KiB per "
                  "sandbox; %.2f idle wake-ups/s per sandbox; exit codes exact %d/%d" % (
                      r["mode"], r["count"], r["all_running"], r["all_connected"],
                      r["start_median"] * 1000, r["start_p95"] * 1000, r["procs_per_sandbox"],
                      r["pss_kib"], r["rss_kib"], r["wakeups"], r["exit_exact"], r["count"]))


if __name__ == "__main__":
    main()
