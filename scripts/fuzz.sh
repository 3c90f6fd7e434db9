#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*.cc, clang + ASan + UBSan) in
# their own build dir and runs each for FUZZ_SECONDS seconds, one after the
# other, starting from the committed seed corpus.
#
#   scripts/fuzz.sh                    # `make fuzz`: 600 s per target
#   FUZZ_SECONDS=20 scripts/fuzz.sh    # smoke run (part of `make test`)
#   scripts/fuzz.sh fuzz_http_request  # only the named target(s)
#
# Environment: FUZZ_SECONDS (default 600), FUZZ_BUILD (default build-fuzz),
# FUZZ_JOBS (parallel fuzzing processes per target, default 1),
# FUZZ_WORK (where the growing corpus and findings go, default
# $FUZZ_BUILD/fuzz-work; the committed seeds in tests/fuzz/corpus are only
# read). Exit status: 0 when no target found anything, 1 otherwise; each
# finding is left as crash-*/leak-*/timeout-*/oom-* in $FUZZ_WORK/<target>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-600}
build=${FUZZ_BUILD:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-1}
work=${FUZZ_WORK:-$build/fuzz-work}

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing (apt-get install clang)" >&2; exit 2; }
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz.sh: libFuzzer runtime missing (apt-get install libclang-rt-14-dev)" >&2
  exit 2
fi

mkdir -p "$build"
(
  flock 9  # two runs at once share the build, not the configure/link steps
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DRF_FUZZ=ON -DRF_STATIC_DEPS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target fuzzers -j "$(nproc)" >&2
) 9>"$build/.fuzz-build.lock"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/tests/fuzz/*.cc; do targets+=("$(basename "$src" .cc)"); done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=""
for t in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/$t"
  out="$work/$t"
  mkdir -p "$out/corpus"
  dict=()
  [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  log="$out/fuzz.log"
  parallel=()
  if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
  # Findings of an earlier run of this target are not this run's findings.
  rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out"/slow-unit-* "$out"/fuzz-*.log
  echo "== $t: ${seconds}s" >&2
  # -timeout: one input taking this long is a finding (a hang in the proxy).
  # -rss_limit_mb/-malloc_limit_mb: a single input may not take more.
  set +e
  (cd "$out" && "$build/$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
     -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=8192 -print_final_stats=1 \
     "${parallel[@]}" -artifact_prefix="$out/" \
     "$out/corpus" "$seeds") >"$log" 2>&1
  rc=$?
  set -e
  if [ "$jobs" -gt 1 ]; then cat "$out"/fuzz-*.log >>"$log" 2>/dev/null || true; fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  findings=$(ls "$out" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
  if [ $rc -ne 0 ] || [ -n "$findings" ]; then
    status=1
    echo "!! $t: exit $rc, findings: ${findings:-none}; log: $log" >&2
    tail -n 40 "$log" >&2
  fi
  line="$t: ${seconds}s, $execs executions, exit $rc"
  echo "$line" >&2
  summary+="$line"$'\n'
done
printf '%s' "$summary"
exit $status
