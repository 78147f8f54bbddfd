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
# Same fio jobs as bench-servers.sh (rand4k QD32 IOPS, seq1m QD8 MiB/s),
# every configuration its own nbdkit with the same --threads, all
# interleaved over the rounds; the table gives each one's ratio to
# sandbag alone.  Goals: ratetier >= 0.95, heatmap >= 0.97 (<= 3% cost).
#
# Environment: BENCH_ROUNDS (default 5), BENCH_RUNTIME (default 4),
# BENCH_IMAGE_MIB (default 1024), BENCH_SANDBAG_ARGS (extra plugin
# parameters, e.g. serialize=false), BENCH_BASE=file to put the filters over
# nbdkit's file plugin instead of sandbag, and those in
# scripts/bench/lib.sh.  The default run (two stacks) takes about 3
# minutes.

set -e
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_RUNTIME=${BENCH_RUNTIME:-4}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
BENCH_BASE=${BENCH_BASE:-sandbag}
# Thresholds far beyond anything a run delivers.  The weight sets the
# scheduler's cap on requests in flight, so it must not be what limits
# a depth-32 client: this measures bookkeeping, not a throttle.
BENCH_RATETIER_ARGS=${BENCH_RATETIER_ARGS:-ratetier=1000000000000:32}
BENCH_HEATMAP_ARGS=${BENCH_HEATMAP_ARGS:-}

stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(ratetier heatmap)

bench_build
case $BENCH_BASE in
sandbag)
  bench_require_module "$SANDBAG_PLUGIN" "the sandbag plugin"
  base_label=sandbag ;;
file)
  base_label="nbdkit file" ;;
*)
  bench_die "BENCH_BASE must be sandbag or file" ;;
esac

bench_header "bench-overhead: $base_label alone vs with filters: ${stacks[*]}"
echo "nbdkit:   --threads=$BENCH_THREADS for every configuration"

image=$tmp/image.raw
bench_make_image "$image" "$BENCH_IMAGE_MIB"

base_args ()
{
  if [ "$BENCH_BASE" = sandbag ]; then
    echo "$SANDBAG_PLUGIN file=$image ${BENCH_SANDBAG_ARGS:-}"
  else
    echo "-r file file=$image"
  fi
}

# stack_args NAME STACK: print the nbdkit arguments of a filter stack.
# Filters come first, then the plugin, then the filter parameters.
stack_args ()
{
  local name=$1 stack=$2 f filters=() params=()
  IFS=+ read -r -a fs <<< "$stack"
  for f in "${fs[@]}"; do
    case $f in
    ratetier)
      bench_require_module "$RATETIER_FILTER" "the ratetier filter"
      filters+=("--filter=$RATETIER_FILTER")
      params+=($BENCH_RATETIER_ARGS) ;;
    heatmap)
      bench_require_module "$HEATMAP_FILTER" "the heatmap filter"
      filters+=("--filter=$HEATMAP_FILTER")
      params+=("heatmap=$tmp/$name.heatmap" $BENCH_HEATMAP_ARGS) ;;
    rate)
      filters+=(--filter=rate)
      params+=(rate=1000G) ;;
    *)
      bench_die "unknown filter '$f' (ratetier, heatmap, rate)" ;;
    esac
  done
  echo "${filters[*]} $(base_args) ${params[*]}"
}

if [ "$BENCH_BASE" = sandbag ]; then
  # shellcheck disable=SC2086
  echo "module:   $(bench_describe_module "$SANDBAG_PLUGIN" ${BENCH_SANDBAG_ARGS:-})"
fi
for f in "$RATETIER_FILTER" "$HEATMAP_FILTER"; do
  [ -f "$f" ] && echo "module:   $(bench_describe_module "$f")"
done
# shellcheck disable=SC2046
start_nbdkit base "$base_label" $(base_args)
echo "config:   $base_label: nbdkit $(base_args)"
names=(base)
goals=()
i=0
for stack in "${stacks[@]}"; do
  i=$((i+1))
  name=s$i
  label="$base_label+$stack"
  args=$(stack_args "$name" "$stack")
  echo "config:   $label: nbdkit $args"
  # shellcheck disable=SC2086
  start_nbdkit "$name" "$label" $args
  names+=("$name")
  limit=0.95
  case $stack in
  heatmap) limit=0.97 ;;
  esac
  for t in rand4k:iops seq1m:mibs; do
    goals+=(--goal "$label|$base_label|${t%:*}|${t#*:}|>=|$limit|$label ${t%:*} vs $base_label")
  done
done

run_rounds "rand4k seq1m" "${names[*]}"

echo
$PY "$bench_libdir/table.py" "$results" --peer "$base_label" \
  --col "rand4k:iops:rand4k QD32 IOPS" \
  --col "seq1m:mibs:seq1m QD8 MiB/s" \
  --col "rand4k:cpu_us_op:rand4k cpu us/op" \
  --col "seq1m:cpu_us_op:seq1m cpu us/op" \
  "${goals[@]}"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at end"
