#!/usr/bin/env bash
# Writes bench/startup/order.txt: the functions ringfence runs while it starts
# a sandbox, in the order perf first samples them. CMakeLists.txt links
# ringfence with lld and this list, so that start-up touches a few 64 KiB
# windows of text (each page fault maps one) instead of most of the 3 MiB.
#
#   bench/startup/order.sh build/ringfence [RUNS]
#
# Needs perf (Debian: linux-perf). Rebuild afterwards. Sampling misses some
# short functions in any one run, so the names already in the list that this
# run did not sample are kept after the new ones, if the binary still has them. A stale list costs only
# speed: lld ignores names that no longer exist, and functions missing from
# it keep their place.
set -euo pipefail
rf=$(readlink -f "$1")
runs=${2:-1500}
out=$(dirname "$0")/order.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/loop.sh" <<EOF
#!/bin/sh
for i in \$(seq $runs); do "$rf" run -q --mode platform --workdir /tmp -- /bin/true; done
for i in \$(seq $((runs / 15 + 1))); do
  for m in namespace none auto; do "$rf" run -q --mode \$m --workdir /tmp -- /bin/true; done
done
EOF
chmod +x "$tmp/loop.sh"
perf record -q -e cpu-clock:u -F 50000 -o "$tmp/perf.data" "$tmp/loop.sh" >/dev/null
perf script -i "$tmp/perf.data" --comm ringfence -F ip,sym,dso --no-demangle 2>/dev/null |
  awk -v dso="($rf)" '$NF == dso && $2 != "[unknown]" && !seen[$2]++ { print $2 }' >"$tmp/order"
n=$(wc -l <"$tmp/order")
[ "$n" -ge 100 ] || { echo "order.sh: only $n functions sampled; is perf working?" >&2; exit 1; }
if [ -f "$out" ]; then
  # Earlier names the binary still defines (removed functions drop out).
  nm --defined-only "$rf" | awk '{ print $3 }' | sort -u >"$tmp/defined"
  grep -Fxf "$tmp/defined" "$out" >"$tmp/earlier" || true
  awk 'NR == FNR { seen[$0] = 1; print; next } !seen[$0]++' "$tmp/order" "$tmp/earlier" >"$tmp/merged"
  mv "$tmp/merged" "$tmp/order"
fi
mv "$tmp/order" "$out"
echo "wrote $out ($n functions sampled, $(wc -l <"$out") listed)"
