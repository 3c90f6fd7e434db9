#!/usr/bin/python3
"""Start-up time: `ringfence run -- /bin/true` in each network mode against
bare /bin/true, bubblewrap and firejail, side by side in one hyperfine run.
Usage: bench/startup/run.py RINGFENCE [RUNS]  (prints Markdown)"""
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import lib  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
WHY = open(os.path.join(here, "why.md")).read()
rf = os.path.abspath(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
work = "/tmp/rf-bench-startup"
os.makedirs(work, exist_ok=True)
os.chmod(work, 0o777)
cmds = [("bare", "/bin/true")]
# The floor of any launcher here (bench/startup/floor.c, linked like ringfence).
floor = os.path.join(work, "floor")
for link in (["-static-pie"], []):
    if subprocess.run(["cc", "-O2", *link, "-o", floor, os.path.join(here, "floor.c")],
                      stderr=subprocess.DEVNULL).returncode == 0:
        nolibc = os.path.join(work, "nolibc")
        if os.uname().machine == "x86_64" and subprocess.run(
                ["cc", "-O2", "-static", "-nostdlib", "-o", nolibc,
                 os.path.join(here, "nolibc.c")], stderr=subprocess.DEVNULL).returncode == 0:
            cmds.append(("exec alone, no libc", nolibc))
        cmds.append(("glibc start-up alone", floor))
        cmds.append(("floor: vfork+exec wrapper", f"{floor} /bin/true"))
        break
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
bw = statistics.median(res["bwrap"]) if "bwrap" in res else None
missed = plat - bare > 0.001 or (bw is not None and plat / bw > 1 / 3)
verdict = [f"- platform mode overhead over bare: {(plat - bare) * 1000:.3f} ms (target ≤ 1 ms): "
           f"{'met' if plat - bare <= 0.001 else 'missed'}"]
if bw is not None:
    verdict.append(f"- platform mode / bwrap: {plat / bw:.2f} (target ≤ 0.33): {'met' if plat / bw <= 1 / 3 else 'missed'}")
if "floor: vfork+exec wrapper" in res:
    fl = statistics.median(res["floor: vfork+exec wrapper"])
    verdict.append(f"- any launcher here (the floor wrapper) costs {(fl - bare) * 1000:.3f} ms over bare; "
                   f"ringfence's sandboxing adds {(plat - fl) * 1000:.3f} ms to that floor")
parts = [f"platform mode {plat * 1000:.2f} ms vs bare `/bin/true` {bare * 1000:.2f} ms"]
for peer in ("bwrap", "firejail"):
    if peer in res:
        m = statistics.median(res[peer])
        parts.append(f"{plat / m:.2f}× {peer} ({m * 1000:.2f} ms)")
lib.headline("- Start-up of `ringfence run -- /bin/true`: " + ", ".join(parts) +
             (" (targets ≤ bare + 1 ms and ≤ ⅓ bwrap: missed, see why)" if missed else " (targets met)"))
why = ""
if missed:
    why = WHY
print(out + "\n" + "\n".join(verdict) + "\n" + why + (f"\n![startup]({plot})\n" if plot else ""))
