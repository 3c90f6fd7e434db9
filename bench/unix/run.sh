#!/bin/sh
# Cost of one notified unix connect(): bare vs ringfence (platform and
# namespace mode). Usage: bench/unix/run.sh RINGFENCE [N]   (prints Markdown)
set -eu
RF=$(readlink -f "$1"); N=${2:-2000}
DIR=$(mktemp -d /tmp/rf-bench-unix.XXXXXX); trap 'rm -rf "$DIR"' EXIT; chmod 777 "$DIR"
cc -O2 -pthread -o "$DIR/ux_bench" "$(dirname "$0")/ux_bench.c"
cd "$DIR"
bare=$(./ux_bench "$N")
plat=$("$RF" run -q --mode platform --workdir "$DIR" -- ./ux_bench "$N")
ns=$("$RF" run -q --mode namespace --workdir "$DIR" -- ./ux_bench "$N" 2>/dev/null || echo "n/a n/a")
echo "### Unix connect() latency ($N connects to a socket the program serves)"
echo
echo "| case | p50 (µs) | p99 (µs) |"
echo "|---|---:|---:|"
echo "| bare | ${bare% *} | ${bare#* } |"
echo "| ringfence platform (notified, connect on behalf) | ${plat% *} | ${plat#* } |"
echo "| ringfence namespace (notified, connect on behalf) | ${ns% *} | ${ns#* } |"
echo
echo "Command: \`bench/unix/run.sh build/ringfence $N\`"
