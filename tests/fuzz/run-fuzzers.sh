#!/bin/bash
# Fuzz every harness built in BUILDDIR/tests/fuzz for SECONDS each.
#
#   tests/fuzz/run-fuzzers.sh BUILDDIR SECONDS
#
# Each target starts from a copy of its seed corpus (tests/fuzz/corpus/NAME)
# and regression cases (tests/fuzz/regression/NAME) in BUILDDIR/fuzz-work,
# so the repository is never written to.  Prints one verdict line per
# target on stdout ("PASS fuzz:NAME" or "FAIL fuzz:NAME", for
# scripts/test.sh); statistics go to stderr and to BUILDDIR/fuzz-summary.txt
# as "fuzz NAME execs=N execs_per_sec=N corpus_files=N corpus_bytes=N".
# A crash leaves its input in BUILDDIR/fuzz-artifacts; keep it as a
# regression case in tests/fuzz/regression/NAME once it is fixed.
set -u

builddir=$1
seconds=$2
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$builddir/fuzz-work
artifacts=$builddir/fuzz-artifacts
summary=$builddir/fuzz-summary.txt
mkdir -p "$work" "$artifacts"
: > "$summary"

shopt -s nullglob
targets=("$builddir"/tests/fuzz/fuzz-*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "FAIL fuzz:no-targets-built"
  exit 1
fi

status=0
for exe in "${targets[@]}"; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  name=${exe##*/fuzz-}
  corpus=$work/$name
  mkdir -p "$corpus"
  for d in "$src/corpus/$name" "$src/regression/$name"; do
    [ -d "$d" ] && cp -n "$d"/* "$corpus"/ 2>/dev/null
  done
  dict=()
  [ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
  log=$work/$name.log
  # -close_fd_mask=1: the code under test may print; keep the log small.
  "$exe" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -close_fd_mask=1 -artifact_prefix="$artifacts/$name-" \
    "$corpus" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  line="fuzz $name execs=${execs:-0} execs_per_sec=${rate:-0} corpus_files=$files corpus_bytes=$bytes"
  echo "$line" >> "$summary"
  echo "$line" >&2
  if [ $rc -eq 0 ]; then
    echo "PASS fuzz:$name"
  else
    status=1
    echo "FAIL fuzz:$name"
    echo "fuzzer $name failed (exit $rc); log $log; inputs:" >&2
    ls -l "$artifacts" >&2
    tail -60 "$log" >&2
  fi
done
exit $status
