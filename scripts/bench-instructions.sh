#!/bin/bash
# Benchmark: what each filter costs per request, counted in instructions.
#
#   scripts/bench-instructions.sh
#
# Timing on a shared machine is noisy (docs/benchmarks.md shows how much).
# Callgrind counts the instructions a process executes, whatever else the
# machine is doing, so the same binaries and requests give the same count.
# For each configuration nbdkit runs under callgrind twice, while fio
# sends it N1 and then N2 reads of 4 KiB at random offsets; the
# difference of the two totals divided by N2 - N1 is the cost of one
# request, with start-up and shutdown cancelled out.  The table gives the
# instructions per request of each stack and the ratio to sandbag alone.
# This is a count of work, not a time: it leaves out what callgrind does
# not see (the kernel, waiting), which is most of a request's time.
#
# Environment: BENCH_N1 (default 2000) and BENCH_N2 (default 12000)
# reads, BENCH_SANDBAG_ARGS, and those in scripts/bench/lib.sh.  Takes
# a few minutes.

set -e
source "$(dirname "$0")/bench/lib.sh"

BENCH_N1=${BENCH_N1:-2000}
BENCH_N2=${BENCH_N2:-12000}
image=$tmp/image.raw

bench_build
bench_require_module "$SANDBAG_PLUGIN" "the sandbag plugin"
bench_require_module "$RATETIER_FILTER" "the ratetier filter"
bench_require_module "$HEATMAP_FILTER" "the heatmap filter"
bench_header "bench-instructions: instructions per 4 KiB read, under callgrind"
echo "reads:    $BENCH_N1 and $BENCH_N2 per configuration, one connection, depth 1"
bench_describe_module "$SANDBAG_PLUGIN"
bench_make_image "$image" 256

# instructions NAME N: total instructions nbdkit executes serving N reads
# (and starting and stopping) with the filters of configuration NAME.
instructions ()
{
  local name=$1 n=$2 out=$tmp/$1.$2 i
  rm -f "$out.sock" "$out.pid" "$out.cg"
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
    nbdkit -f --threads=1 -U "$out.sock" -P "$out.pid" ${filters[$name]} \
    "$SANDBAG_PLUGIN" file="$image" ${BENCH_SANDBAG_ARGS:-} ${params[$name]} \
    > "$out.log" 2>&1 &
  # Under callgrind start-up takes seconds, more than wait_for_file's 10.
  for (( i = 0; i < 600; i++ )); do
    [ -s "$out.pid" ] && break
    sleep 0.1
  done
  [ -s "$out.pid" ] || bench_die "$name: nbdkit did not start: $(cat "$out.log")"
  fio --name=count --ioengine=nbd --uri="nbd+unix:///?socket=$out.sock" \
    --rw=randread --bs=4k --iodepth=1 --number_ios="$n" --size=256m \
    --randrepeat=1 --output="$out.fio" > /dev/null 2>&1 ||
    bench_die "$name: fio failed: $(cat "$out.fio")"
  stop_pid "$out.pid"
  wait
  awk '/^totals:|^summary:/ { print $2; exit }' "$out.cg"
}

# Each configuration's filters and their parameters (split by spaces).
configs=(sandbag ratetier heatmap)
declare -A filters=(
  [sandbag]=""
  [ratetier]="--filter=$RATETIER_FILTER"
  [heatmap]="--filter=$HEATMAP_FILTER"
)
declare -A params=(
  [sandbag]=""
  [ratetier]="ratetier=1000000000000:32"
  [heatmap]="heatmap=$tmp/map.heatmap"
)
declare -A per_request
for c in "${configs[@]}"; do
  a=$(instructions "$c" "$BENCH_N1")
  rm -f "$tmp/map.heatmap"
  b=$(instructions "$c" "$BENCH_N2")
  rm -f "$tmp/map.heatmap"
  per_request[$c]=$(( (b - a) / (BENCH_N2 - BENCH_N1) ))
done

echo
printf '%-18s %18s %10s %20s\n' config "instr/request" ratio "added by the filter"
base=${per_request[sandbag]}
for c in "${configs[@]}"; do
  label=$c
  [ "$c" = sandbag ] || label="sandbag+$c"
  awk -v l="$label" -v x="${per_request[$c]}" -v b="$base" 'BEGIN {
    printf "%-18s %18d %10.3f %20d\n", l, x, x / b, x - b }'
done
echo "(nbdkit's user-space instructions only: the kernel's share of a request, most of it, is not counted)"
