#!/usr/bin/env python3
"""Cost of the supervisor's metadata check (src/landlock/metadata_guard.h):
chmod, utimensat and getxattr on a file inside a read-write grant, with and
without ringfence, and open/stat, which must stay out of the supervisor's
path (their cost unchanged). Each case runs N calls in one process (python's
os module: about 1 us of its own per call) and reports the median of R
runs, in microseconds per call. Usage: run.py RINGFENCE [N] [R]."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

RF = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
R = int(sys.argv[3]) if len(sys.argv) > 3 else 5

PROBE = r"""
import json, os, sys, time
p, n = sys.argv[1], int(sys.argv[2])
os.setxattr(p, "user.rf", b"v")
out = {}
def t(name, fn):
    s = time.perf_counter()
    for _ in range(n):
        fn()
    out[name] = (time.perf_counter() - s) / n * 1e6
t("stat", lambda: os.stat(p))
t("open+close", lambda: os.close(os.open(p, os.O_RDONLY)))
t("chmod", lambda: os.chmod(p, 0o644))
t("utimensat", lambda: os.utime(p, (1, 1)))
t("getxattr", lambda: os.getxattr(p, "user.rf"))
print(json.dumps(out))
"""

POLICY = """version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /bin, /etc]
  read_write: [/dev/null, {d}]
network:
  mode: {mode}
"""


def main():
    d = tempfile.mkdtemp(prefix="rf-bench-meta-", dir="/var/tmp")
    try:
        os.chmod(d, 0o777)
        f = os.path.join(d, "f")
        open(f, "w").close()
        os.chmod(f, 0o666)
        if os.geteuid() == 0:
            os.chown(f, 65534, 65534)
        cases = {"no ringfence": [sys.executable, "-c", PROBE, f, str(N)]}
        for mode in ("platform", "namespace"):
            pol = os.path.join(d, f"{mode}.yaml")
            with open(pol, "w") as fh:
                fh.write(POLICY.format(d=d, mode=mode))
            os.chmod(pol, 0o644)
            cases[f"ringfence ({mode})"] = [RF, "run", "-q", "--policy", pol, "--",
                                            "/usr/bin/python3", "-c", PROBE, f, str(N)]
        results = {c: [] for c in cases}
        for _ in range(R):  # interleaved: drift hits every case alike
            for c, argv in cases.items():
                r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
                if r.returncode != 0:
                    raise SystemExit(f"{c}: {r.returncode} {r.stderr}")
                results[c].append(json.loads(r.stdout.strip().splitlines()[-1]))
        calls = list(results["no ringfence"][0].keys())
        print("## Metadata calls through the supervisor\n")
        print(f"`bench/metadata/run.py build/ringfence {N} {R}`: {N} calls per case in one "
              f"process, median of {R} interleaved runs, microseconds per call (python's os "
              "module adds about 1 us to each).\n")
        print("| call | " + " | ".join(cases) + " |")
        print("|---|" + "---:|" * len(cases))
        for call in calls:
            row = [f"{statistics.median(x[call] for x in results[c]):.2f}" for c in cases]
            print(f"| {call} | " + " | ".join(row) + " |")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
