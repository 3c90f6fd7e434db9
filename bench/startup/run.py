#!/usr/bin/python3
"""Start-up time: `ringfence run -- /bin/true` in each network mode against
bare /bin/true, bubblewrap and firejail, side by side in one hyperfine run.
Usage: bench/startup/run.py RINGFENCE [RUNS]  (prints Markdown)"""
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import lib  # noqa: E402

rf = os.path.abspath(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
work = "/tmp/rf-bench-startup"
os.makedirs(work, exist_ok=True)
os.chmod(work, 0o777)
cmds = [("bare", "/bin/true")]
for mode in ("platform", "namespace", "none"):
    cmds.append((f"ringfence {mode}", f"{rf} run -q --mode {mode} --workdir {work} -- /bin/true"))
if shutil.which("bwrap"):
    cmds.append(("bwrap", "bwrap --unshare-all --die-with-parent --ro-bind / / /bin/true"))
if shutil.which("firejail"):
    cmds.append(("firejail", "firejail --quiet --noprofile /bin/true"))
res = lib.hyperfine(cmds, runs)
plot = lib.bar_plot("startup", "Start-up: run /bin/true", res)
out = lib.table(f"Start-up ({runs} runs each, hyperfine -N)", res, "bare", commands=cmds)
bare = statistics.median(res["bare"])
plat = statistics.median(res["ringfence platform"])
verdict = [f"- platform mode overhead over bare: {(plat - bare) * 1000:.3f} ms (target ≤ 1 ms): "
           f"{'met' if plat - bare <= 0.001 else 'missed'}"]
if "bwrap" in res:
    bw = statistics.median(res["bwrap"])
    verdict.append(f"- platform mode / bwrap: {plat / bw:.2f} (target ≤ 0.33): {'met' if plat / bw <= 1 / 3 else 'missed'}")
print(out + "\n" + "\n".join(verdict) + "\n" + (f"\n![startup]({plot})\n" if plot else ""))
