#!/usr/bin/python3
"""Start-up time: `ringfence run -- /bin/true` in each network mode against
bare /bin/true, bubblewrap and firejail, side by side in one hyperfine run.
Usage: bench/startup/run.py RINGFENCE [RUNS]  (prints Markdown)"""
import json
import os
import re
import shutil
import statistics
import struct
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


def platform_program(path):
    """ringfence's precompiled platform-mode seccomp program (as `run` uses it:
    connect() notified, nothing else optional) from the generated table next
    to the binary, as raw sock_filter structs in `path`."""
    gen = os.path.join(os.path.dirname(rf), "seccomp_precompiled.cc")
    if not os.path.exists(gen):
        return False
    src = open(gen).read()
    m = re.search(r"o\.mode\) == 2 && o\.sysv_ipc == false && o\.notify_connect == true && "
                  r"o\.notify_denials == false && o\.unix_dgram == false[^)]*\) return \{(kProg\d+),",
                  src)
    body = m and re.search(r"const sock_filter " + m.group(1) + r"\[\] = \{\n(.*?)\n\};", src, re.S)
    if not body:
        return False
    insns = re.findall(r"\{0x([0-9a-f]+), (\d+), (\d+), 0x([0-9a-f]+)u\}", body.group(1))
    with open(path, "wb") as f:
        for code, jt, jf, k in insns:
            f.write(struct.pack("<HBBI", int(code, 16), int(jt), int(jf), int(k, 16)))
    return True


def minimal_sandbox(link):
    """Rows for bench/startup/minsandbox.c: only the kernel work platform mode
    needs (same Landlock ruleset paths, same seccomp program, init + command,
    privilege drop), i.e. the least any launcher with these protections costs."""
    exe = os.path.join(work, "minsandbox")
    if subprocess.run(["cc", "-O2", *link, "-o", exe, os.path.join(here, "minsandbox.c")],
                      stderr=subprocess.DEVNULL).returncode != 0:
        return []
    eff = json.loads(subprocess.run([rf, "policy", "show", "--effective", "--json", "--mode", "platform"],
                                    cwd=work, capture_output=True, check=True).stdout)
    fs = eff["filesystem_policy"]
    paths = " ".join([f"-r {p}" for p in fs["read_only"]] + [f"-w {p}" for p in fs["read_write"]])
    rows = [("minimal sandbox, no seccomp rules", f"{exe} allow {paths} -- /bin/true")]
    prog = os.path.join(work, "platform.bpf")
    if platform_program(prog):
        rows.append(("minimal sandbox, ringfence's seccomp program", f"{exe} {prog} {paths} -- /bin/true"))
        # Without the init process: not what ringfence may do (issue 1: the
        # whole tree dies with ringfence), only to show what init costs.
        rows.append(("minimal sandbox without init (no tree-kill guarantee)",
                     f"{exe} --no-init {prog} {paths} -- /bin/true"))
    return rows


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
        cmds += minimal_sandbox(link)
        break
for mode in ("platform", "namespace", "none"):
    cmds.append((f"ringfence {mode}", f"{rf} run -q --mode {mode} --workdir {work} -- /bin/true"))
if shutil.which("bwrap"):
    cmds.append(("bwrap", "bwrap --unshare-all --die-with-parent --ro-bind / / /bin/true"))
if shutil.which("firejail"):
    cmds.append(("firejail", "firejail --quiet --noprofile /bin/true"))
# This machine drifts between faster and slower spells lasting seconds to
# minutes; one hyperfine block per command would put each command in a
# different spell. So the runs are taken in rounds, every command in each.
rounds = 6
res = {}
for _ in range(rounds):
    for name, times in lib.hyperfine(cmds, max(runs // rounds, 10), warmup=5).items():
        res.setdefault(name, []).extend(times)
plot = lib.bar_plot("startup", "Start-up: run /bin/true", res)
out = lib.table(f"Start-up ({len(res['bare'])} runs each in {rounds} rounds, hyperfine -N)", res, "bare", commands=cmds)
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
if "minimal sandbox, ringfence's seccomp program" in res:
    ms = statistics.median(res["minimal sandbox, ringfence's seccomp program"])
    ms0 = statistics.median(res["minimal sandbox, no seccomp rules"])
    line = (f"- the kernel work alone (minimal sandbox, bench/startup/minsandbox.c) costs "
            f"{(ms - bare) * 1000:.3f} ms over bare with ringfence's seccomp program and "
            f"{(ms0 - bare) * 1000:.3f} ms with none")
    if bw is not None:
        line += f"; that is {ms / bw:.2f} and {ms0 / bw:.2f} of bwrap's time (target for ringfence ≤ 0.33)"
    verdict.append(line + f"; ringfence's own work adds {(plat - ms) * 1000:.3f} ms to it")
    no_init = "minimal sandbox without init (no tree-kill guarantee)"
    if no_init in res and bw is not None:
        mn = statistics.median(res[no_init])
        d = (ms - mn) * 1000
        verdict.append(f"- without its init process (which issue 1 requires) the minimal sandbox still "
                       f"costs {mn / bw:.2f} of bwrap's time ({abs(d):.3f} ms {'less' if d >= 0 else 'more'} "
                       f"than with it)")
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
