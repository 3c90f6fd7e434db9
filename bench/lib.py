"""Shared helpers for the benchmark scripts: hyperfine runs turned into
Markdown tables (median, p10, p90, ratio to a reference) and gnuplot data."""
import json
import os
import socket
import statistics
import subprocess
import tempfile

PLOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "bench")


def headline(text):
    """Records one headline line for the README (bench/run.sh collects them
    through $RF_BENCH_HEADLINES); a no-op when a script runs on its own."""
    path = os.environ.get("RF_BENCH_HEADLINES")
    if path:
        with open(path, "a") as f:
            f.write(text.rstrip("\n") + "\n")


def free_port():
    """A loopback TCP port free at the time of the call."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pct(values, q):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def hyperfine(commands, runs, warmup=20, shell=False):
    """commands: list of (name, command string). Returns {name: [seconds...]}."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = ["hyperfine", "--warmup", str(warmup), "--runs", str(runs), "--export-json", out.name,
                "--style", "none"]
        if not shell:
            argv.append("-N")
        for name, cmd in commands:
            argv += ["-n", name, cmd]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
        data = json.load(open(out.name))
    return {r["command"]: r["times"] for r in data["results"]}


def table(title, results, reference, unit="ms", scale=1000.0, commands=None, note=""):
    """Markdown table of median/p10/p90 and the ratio of medians to `reference`."""
    ref = statistics.median(results[reference])
    lines = [f"### {title}", ""]
    if note:
        lines += [note, ""]
    lines += [f"| case | median ({unit}) | p10 | p90 | ratio to {reference} |", "|---|---:|---:|---:|---:|"]
    for name, times in results.items():
        med = statistics.median(times)
        lines.append(f"| {name} | {med * scale:.3f} | {pct(times, 0.1) * scale:.3f} | "
                     f"{pct(times, 0.9) * scale:.3f} | {med / ref:.2f}× |")
    if commands:
        lines += ["", "Commands:", ""]
        lines += [f"- `{name}`: `{cmd}`" for name, cmd in commands]
    return "\n".join(lines) + "\n"


def bar_plot(name, title, results, unit="ms", scale=1000.0):
    """A PNG bar chart of the medians under docs/bench/<name>.png (gnuplot)."""
    os.makedirs(PLOTS, exist_ok=True)
    dat = os.path.join(PLOTS, name + ".dat")
    with open(dat, "w") as f:
        for i, (case, times) in enumerate(results.items()):
            f.write(f'{i} "{case}" {statistics.median(times) * scale:.4f} {pct(times, 0.1) * scale:.4f} '
                    f'{pct(times, 0.9) * scale:.4f}\n')
    png = os.path.join(PLOTS, name + ".png")
    script = f"""
set terminal pngcairo size 900,420 noenhanced
set output '{png}'
set title '{title}'
set ylabel '{unit} (median, p10-p90)'
set style fill solid 0.6
set boxwidth 0.6
set xtics rotate by -20
set yrange [0:*]
set grid ytics
plot '{dat}' using 1:3:xtic(2) with boxes notitle, '' using 1:3:4:5 with yerrorbars notitle lc rgb 'black'
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        os.unlink(dat)
    return os.path.relpath(png, os.path.join(PLOTS, "..", ".."))
