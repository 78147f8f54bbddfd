#!/bin/bash
# Benchmark: what each filter costs per request, counted in instructions.
#
#   scripts/bench-instructions.sh
#
# Timing on a shared machine is noisy (docs/benchmarks.md shows how much).
# Callgrind counts the instructions a process executes, whatever else the
# machine is doing, so the same binaries and requests give nearly the
# same count.  For each configuration nbdkit runs under callgrind twice,
# while fio sends it N1 and then N2 reads of 4 KiB at random offsets over
# one connection, one at a time; the difference of the two totals divided
# by N2 - N1 is the cost of one request, with start-up and shutdown
# cancelled out.
#
# nbdkit runs with the same --threads as in the other benchmarks, so a
# configuration that runs a connection's requests in parallel pays here
# for handing each request to a worker thread, and one that serializes
# them does not (nbdkit then reads, serves and answers each request in
# the connection's own thread).  The table says which, and gives each
# configuration's ratio to sandbag alone with the same thread model:
#   sandbag, +ratetier, +heatmap           sandbag's defaults
#   ... serialize=false                     the same, parallel
#   nbdkit file, nbdkit file --threads=1    the peer in both models
# This is a count of work, not a time: it leaves out what callgrind does
# not see (the kernel, waiting), which is most of a request's time.
#
# Environment: BENCH_N1 (default 2000) and BENCH_N2 (default 12000)
# reads, BENCH_SANDBAG_ARGS, and those in scripts/bench/lib.sh.  Takes
# under a minute.

set -e
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/bench/lib.sh"

BENCH_N1=${BENCH_N1:-2000}
BENCH_N2=${BENCH_N2:-12000}
read -r -a sandbag_args <<< "${BENCH_SANDBAG_ARGS:-}"
image=$tmp/image.raw

bench_build SANDBAG_PLUGIN RATETIER_FILTER HEATMAP_FILTER
bench_header "bench-instructions: instructions per 4 KiB read, under callgrind"
echo "reads:    $BENCH_N1 and $BENCH_N2 per configuration, one connection, one request at a time"
echo "threads:  --threads=$BENCH_THREADS unless the configuration says otherwise"
echo "callgrind: $(valgrind --version)"
bench_make_image "$image" 256

# Configurations, in table order: a label, the --threads to use, and the
# nbdkit arguments (split at spaces; no path here holds one).
labels=() threads=() configs=()
add_config ()
{
  labels+=("$1")
  threads+=("$2")
  configs+=("$3")
}
sandbag="$SANDBAG_PLUGIN file=$image ${sandbag_args[*]}"
add_config sandbag "$BENCH_THREADS" "$sandbag"
add_config sandbag+ratetier "$BENCH_THREADS" \
  "--filter=$RATETIER_FILTER $sandbag ratetier=1000000000000:32"
add_config sandbag+heatmap "$BENCH_THREADS" \
  "--filter=$HEATMAP_FILTER $sandbag heatmap=$tmp/map.heatmap"
add_config "sandbag serialize=false" "$BENCH_THREADS" "$sandbag serialize=false"
add_config "sandbag serialize=false+ratetier" "$BENCH_THREADS" \
  "--filter=$RATETIER_FILTER $sandbag serialize=false ratetier=1000000000000:32"
add_config "sandbag serialize=false+heatmap" "$BENCH_THREADS" \
  "--filter=$HEATMAP_FILTER $sandbag serialize=false heatmap=$tmp/map.heatmap"
add_config "nbdkit file" "$BENCH_THREADS" "-r file file=$image"
add_config "nbdkit file --threads=1" 1 "-r file file=$image"

# count_instructions K N: set $total to the instructions nbdkit executes
# serving N reads (and starting and stopping) as configuration K.
count_instructions ()
{
  local k=$1 n=$2 out=$tmp/count vg reads i
  local -a args
  read -r -a args <<< "${configs[$k]}"
  rm -f "$out".* "$tmp/map.heatmap"
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
    nbdkit -f --threads="${threads[$k]}" -U "$out.sock" -P "$out.pid" \
    "${args[@]}" > "$out.log" 2>&1 &
  vg=$!
  # Under callgrind start-up takes seconds, more than wait_for_file's 10.
  for (( i = 0; i < 600; i++ )); do
    [ -s "$out.pid" ] || ! kill -0 "$vg" 2>/dev/null && break
    sleep 0.1
  done
  [ -s "$out.pid" ] ||
    bench_die "${labels[$k]}: nbdkit did not start: $(cat "$out.log")"
  fio --name=count --ioengine=nbd --uri="nbd+unix:///?socket=$out.sock" \
    --rw=randread --bs=4k --iodepth=1 --number_ios="$n" --size=256m \
    --randrepeat=1 --output-format=json --output="$out.fio" \
    > "$out.fio.stdout" 2>&1 ||
    bench_die "${labels[$k]}: fio failed: $(cat "$out.fio.stdout")"
  stop_pid "$out.pid"
  wait "$vg" ||
    bench_die "${labels[$k]}: nbdkit under callgrind failed: $(cat "$out.log")"
  reads=$($PY -c 'import json, sys
t = open(sys.argv[1]).read()
print(sum(j["read"]["total_ios"] for j in json.loads(t[t.index("{"):])["jobs"]))' \
    "$out.fio")
  [ "$reads" = "$n" ] ||
    bench_die "${labels[$k]}: fio made $reads reads, not $n"
  total=$(awk '/^(totals|summary):/ { print $2; exit }' "$out.cg" 2>/dev/null)
  if ! [[ $total =~ ^[0-9]+$ ]] || [ "$total" -eq 0 ]; then
    bench_die "${labels[$k]}: no instruction total in $out.cg: $(tail -5 "$out.log")"
  fi
}

models=() per_request=()
for k in "${!configs[@]}"; do
  # shellcheck disable=SC2086 # the arguments are words
  models[k]=$(nbdkit_model "${threads[$k]}" ${configs[$k]}) || exit 1
  count_instructions "$k" "$BENCH_N1"
  a=$total
  count_instructions "$k" "$BENCH_N2"
  b=$total
  per_request[k]=$(( (b - a) / (BENCH_N2 - BENCH_N1) ))
  echo "${labels[$k]}: $a and $b instructions in all" >&2
done

# The ratio of each configuration to sandbag alone (no filter, no other
# plugin) with the same thread model.
declare -A base
for k in "${!configs[@]}"; do
  case ${labels[$k]} in
  sandbag|"sandbag serialize=false") base[${models[$k]}]=${per_request[$k]} ;;
  esac
done

echo
printf '%-32s  %-21s  %13s  %5s  %9s\n' config requests/conn instr/request ratio "+/-"
for k in "${!configs[@]}"; do
  b=${base[${models[$k]}]:-}
  if [ -n "$b" ]; then
    awk -v l="${labels[$k]}" -v m="${models[$k]}" -v x="${per_request[$k]}" -v b="$b" 'BEGIN {
      printf "%-32s  %-21s  %13d  %5.2f  %+9d\n", l, m, x, x / b, x - b }'
  else
    printf '%-32s  %-21s  %13d  %5s  %9s\n' "${labels[$k]}" "${models[$k]}" \
      "${per_request[$k]}" - -
  fi
done
echo "(ratio and +/-: to sandbag alone with the same requests/conn; nbdkit's"
echo " user-space instructions only: the kernel's share of a request, most of it,"
echo " is not counted)"
echo "load:     $(bench_load) at end"
