#!/usr/bin/python3
"""CPU time of `ringfence run` per binary, interleaved (each binary once per
round, so all see the same load): user + system time of the run and
everything it waited for (init, the command), from wait4's rusage. Less
sensitive to a busy machine than wall time.

usage: bench/startup/cpu_interleave.py ROUNDS BIN [BIN...] -- RUN_ARGS...
  e.g. ... 400 /tmp/old build/ringfence -- -q --mode platform -- /bin/true
"""
import os
import statistics
import sys

from_here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, from_here)
from lib import pct  # noqa: E402


def main():
    if "--" not in sys.argv or len(sys.argv) < 4:
        sys.exit(__doc__)
    split = sys.argv.index("--")
    rounds, bins, run_args = int(sys.argv[1]), sys.argv[2:split], sys.argv[split + 1:]
    cpu = {b: [] for b in bins}
    devnull = os.open("/dev/null", os.O_RDWR)
    for _ in range(rounds):
        for b in bins:
            pid = os.posix_spawn(b, [b, "run"] + run_args, os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                               (os.POSIX_SPAWN_DUP2, devnull, 2)])
            _, status, usage = os.wait4(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit("%s run %s: exit %d" % (b, " ".join(run_args),
                                                  os.waitstatus_to_exitcode(status)))
            cpu[b].append((usage.ru_utime + usage.ru_stime) * 1000)
    for b in bins:
        v = cpu[b]
        print("%-40s CPU median %.3f ms  p25 %.3f  p75 %.3f" % (b, statistics.median(v),
                                                               pct(v, 0.25), pct(v, 0.75)))


if __name__ == "__main__":
    main()
