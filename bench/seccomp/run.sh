#!/bin/sh
# Seccomp filter cost: the same loops run directly and under `ringfence run`
# (platform mode: the full profile, 490-odd BPF instructions, plus Landlock),
# then the cost of a kernel-answered vs a supervisor-answered (user
# notification) denial. Usage: bench/seccomp/run.sh [path/to/ringfence] [N]
set -eu
RF=${1:-$(dirname "$0")/../../build/ringfence}
N=${2:-200000}
DIR=$(mktemp -d /tmp/rf-bench-seccomp.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
chmod 755 "$DIR"
gcc -O2 -Wall -Wextra -Werror -o "$DIR/sc_bench" "$(dirname "$0")/sc_bench.c"
cat > "$DIR/policy.yaml" <<POL
version: 1
filesystem_policy:
  include_workdir: false
  read_only: [/usr, /lib, /lib64, /etc, $DIR]
  read_write: [/dev/null]
network: {mode: platform}
gpu: "off"
POL
chmod 644 "$DIR/policy.yaml"
echo "== without ringfence"
"$DIR/sc_bench" calls "$N"
echo "== under ringfence run (platform mode)"
"$RF" run -q --policy "$DIR/policy.yaml" --workdir "$DIR" -- "$DIR/sc_bench" calls "$N"
echo "== denied call: errno in the kernel vs user notification"
"$DIR/sc_bench" notify "$N"
