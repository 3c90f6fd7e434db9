#!/usr/bin/python3
"""Where the start-up time of `ringfence run -- /bin/true` goes, phase by
phase, from timestamps the supervisor, init and the command take on the
shared memory. Needs a build with bench/startup/phases.patch applied:

  git apply bench/startup/phases.patch && cmake --build build
  bench/startup/phases.py build/ringfence [RUNS]
  git apply -R bench/startup/phases.patch && cmake --build build

Prints the median of each step over RUNS runs (default 400), in µs."""
import os
import statistics
import subprocess
import sys

rf = os.path.abspath(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 400
steps = [
    (0, 1, "policy (built-in default)"),
    (1, 2, "plan: mode, enrichment, user ids, network layer (proxy listener)"),
    (2, 3, "plan: Landlock ruleset (probe, rules)"),
    (3, 4, "plan: seccomp program, summary"),
    (4, 5, "environment, command lookup, proxy object"),
    (5, 6, "spawn: pipes, stacks, signal mask"),
    (6, 7, "clone of init until init runs"),
    (7, 8, "init: setup, clone of the command until it runs"),
    (8, 9, "command: process group, privilege drop, rlimits, no_new_privs, signals"),
    (10, 11, "command: Landlock restrict_self"),
    (11, 13, "command: seccomp filter (convert + JIT) and listener hand-off"),
    (13, 14, "execve until the supervisor knows the command started"),
    (14, 15, "/bin/true runs and exits; init reaps and reports"),
    (15, 16, "supervisor: status read, init reaped"),
    (16, 17, "supervisor: tree check, terminal, audit"),
]
acc = {s: [] for s in steps}
env = dict(os.environ, RF_PHASES="1")
for _ in range(runs):
    p = subprocess.run([rf, "run", "-q", "--mode", "platform", "--workdir", "/tmp", "--",
                        "/bin/true"], env=env, stderr=subprocess.PIPE, timeout=30)
    ts = {}
    for line in p.stderr.decode().splitlines():
        if line.startswith("phase "):
            _, i, t = line.split()
            ts[int(i)] = int(t)
    for s in steps:
        a, b, _ = s
        if ts.get(a) and ts.get(b):
            acc[s].append((ts[b] - ts[a]) / 1e3)
if not any(acc.values()):
    sys.exit("no phase timestamps: is bench/startup/phases.patch applied?")
total = 0.0
print(f"| step | median µs |\n|---|---|")
for s in steps:
    if acc[s]:
        m = statistics.median(acc[s])
        total += m
        print(f"| {s[2]} | {m:.1f} |")
print(f"| sum of medians (main() to exit of RunMain) | {total:.1f} |")
