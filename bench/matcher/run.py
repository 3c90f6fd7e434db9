#!/usr/bin/python3
"""Policy matcher: ns per decision with 10, 1,000 and 100,000 host rules
(Google Benchmark). Usage: bench/matcher/run.py BENCH_BINARY"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import lib  # noqa: E402

out = subprocess.run([sys.argv[1], "--benchmark_format=json", "--benchmark_min_time=0.3"],
                     capture_output=True, text=True, check=True, timeout=600).stdout
rows = {}
for b in json.loads(out)["benchmarks"]:
    name, n = b["name"].split("/")
    rows.setdefault(name, {})[int(n)] = b["cpu_time"]
print("### Policy matcher (ns per decision, CPU time, Google Benchmark)\n")
print("| lookup | 10 rules | 1,000 rules | 100,000 rules | 100,000 / 10 |")
print("|---|---:|---:|---:|---:|")
worst = 0.0
for name, r in rows.items():
    ratio = r[100000] / r[10]
    worst = max(worst, ratio)
    dps = 1e9 / r[100000]
    print(f"| {name[3:]} | {r[10]:.1f} | {r[1000]:.1f} | {r[100000]:.1f} ({dps / 1e6:.1f} M decisions/s) | {ratio:.2f}× |")
print(f"\n- worst growth from 10 to 100,000 rules: {worst:.2f}× (target ≤ 3×): {'met' if worst <= 3 else 'missed'}")
print(f"\nCommand: `{sys.argv[1]} --benchmark_min_time=0.3`")
ns = max(r[100000] for r in rows.values())
lib.headline(f"- Policy matcher: 100,000 host rules cost at most {worst:.2f}× 10 rules "
             f"(≤ {ns:.0f} ns per decision; target ≤ 3×)")
