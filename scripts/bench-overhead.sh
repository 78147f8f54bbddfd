#!/bin/bash
# Benchmark: the cost of sandbag's filters (issues 3 and 4).
#
#   scripts/bench-overhead.sh [STACK...]
#
# Each STACK is a configuration to compare with sandbag alone: a filter
# name, or several joined by '+' (the first is outermost, as with
# nbdkit's --filter order).  Default: "ratetier heatmap".  Filters:
#   ratetier  --filter=ratetier with one tier whose threshold is never
#             reached ($BENCH_RATETIER_ARGS), so the cost measured is
#             the scheduler's bookkeeping, not throttling
#   heatmap   --filter=heatmap recording into a fresh map in the scratch
#             directory ($BENCH_HEATMAP_ARGS are added)
#   rate      nbdkit's own rate filter with a rate never reached
#             (a reference point for the cost of a simple filter)
#
# Same fio tests as bench-servers.sh: 4 KiB random reads with 32 in
# flight and 1 MiB sequential reads with 8 in flight, each over one
# connection and over BENCH_CONNS connections sharing that depth.  Every
# configuration is its own nbdkit with the same --threads and the same
# plugin parameters, so all rows run a connection's requests the same
# way (the table says which); they are interleaved over the rounds and
# the tables give each one's ratio to sandbag alone.  Goals: ratetier >=
# 0.95, heatmap >= 0.97 (<= 3% cost).
#
# Environment: BENCH_ROUNDS (default 5), BENCH_RUNTIME (default 3),
# BENCH_IMAGE_MIB (default 1024), BENCH_SANDBAG_ARGS (extra plugin
# parameters, e.g. serialize=false), BENCH_BASE=file to put the filters
# over nbdkit's file plugin instead of sandbag, and those in
# scripts/bench/lib.sh.  The default run (two stacks) takes about 5
# minutes.

set -e
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_RUNTIME=${BENCH_RUNTIME:-3}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
BENCH_BASE=${BENCH_BASE:-sandbag}
# A threshold far beyond anything a run delivers.  The weight sets the
# scheduler's cap on one client's requests in flight, so it must not be
# what limits the 32 requests of a test: this measures bookkeeping, not
# a throttle.
BENCH_RATETIER_ARGS=${BENCH_RATETIER_ARGS:-ratetier=1000000000000:32}
read -r -a ratetier_args <<< "$BENCH_RATETIER_ARGS"
read -r -a heatmap_args <<< "${BENCH_HEATMAP_ARGS:-}"
read -r -a sandbag_args <<< "${BENCH_SANDBAG_ARGS:-}"

stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(ratetier heatmap)

bench_build SANDBAG_PLUGIN RATETIER_FILTER HEATMAP_FILTER
image=$tmp/image.raw
case $BENCH_BASE in
sandbag)
  base_label=sandbag
  base_args=("$SANDBAG_PLUGIN" file="$image" "${sandbag_args[@]}") ;;
file)
  base_label="nbdkit file"
  base_args=(-r file file="$image") ;;
*)
  bench_die "BENCH_BASE must be sandbag or file" ;;
esac

bench_header "bench-overhead: $base_label alone vs with filters: ${stacks[*]}"
bench_describe_tests
echo "threads:  --threads=$BENCH_THREADS for every configuration"

bench_make_image "$image" "$BENCH_IMAGE_MIB"

# stack_args NAME STACK: set $args to the nbdkit arguments of a filter
# stack: filters first, then the plugin, then the filter parameters.
stack_args ()
{
  local name=$1 f filters=() params=() fs
  IFS=+ read -r -a fs <<< "$2"
  for f in "${fs[@]}"; do
    case $f in
    ratetier)
      filters+=("--filter=$RATETIER_FILTER")
      params+=("${ratetier_args[@]}") ;;
    heatmap)
      filters+=("--filter=$HEATMAP_FILTER")
      params+=("heatmap=$tmp/$name.heatmap" "${heatmap_args[@]}") ;;
    rate)
      filters+=(--filter=rate)
      params+=(rate=1000G) ;;
    *)
      bench_die "unknown filter '$f' (ratetier, heatmap, rate)" ;;
    esac
  done
  args=("${filters[@]}" "${base_args[@]}" "${params[@]}")
}

start_nbdkit base "$base_label" "${base_args[@]}"
echo "config:   $base_label: nbdkit ${base_args[*]}"
names=(base)
goals=()
i=0
for stack in "${stacks[@]}"; do
  i=$((i+1))
  name=s$i
  label="$base_label+$stack"
  stack_args "$name" "$stack"
  echo "config:   $label: nbdkit ${args[*]}"
  start_nbdkit "$name" "$label" "${args[@]}"
  names+=("$name")
  limit=0.95
  [ "$stack" != heatmap ] || limit=0.97
  for test in "${bench_tests[@]}"; do
    metric=mibs
    [ "${test%%-*}" != rand4k ] || metric=iops
    goals+=(--goal "$label|$base_label|$test|$metric|>=|$limit|$label $test vs $base_label")
  done
done

run_rounds "${names[@]}"
print_tables "$base_label" "${names[@]}" -- "${goals[@]}"
echo "load:     $(bench_load) at end"
