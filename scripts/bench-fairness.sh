#!/bin/bash
# Benchmark: does ratetier keep light clients fast on a saturated uplink?
# (issue 3)
#
#   scripts/bench-fairness.sh
#
# The uplink is emulated with nbdkit's rate filter BELOW ratetier
#   nbdkit --filter=ratetier --filter=rate sandbag file=IMAGE \
#          ratetier=TUPLE ratetier-schedule=MODE rate=400M
# (the first --filter is the outermost, nearest the client, so requests
# queue in ratetier, where they can be ordered, and then pay for the link
# in rate).  Clients sit on distinct addresses: the server runs in its own
# network namespace, each client in another, joined by veth pairs to a
# bridge in the server's namespace (10.200.0.0/24, private to these
# namespaces, removed at exit).  fio's nbd engine talks TCP to
# 10.200.0.1:10809, one connection per fio job.
#
# Per configuration and round, on a freshly started server (so no client
# carries counts over from an earlier measurement):
#   1. unloaded: a light client fetches 32 MiB with 128 KiB reads, 4 in
#      flight on one connection (time to complete), then another does
#      4 KiB random reads, one at a time at 50 IOPS, for BENCH_RAND_SECS
#      (p99 completion latency);
#   2. a heavy client streams 1 MiB sequential reads over 4 connections,
#      16 in flight on each; after BENCH_WARMUP seconds (long enough for
#      it to pass the last threshold of the default tuple: 100000 blocks
#      of 4 KiB = 391 MiB),
#   3. loaded: two fresh light clients repeat the fetch and the random
#      reads while the heavy client streams; then the heavy client stops.
# Every light client has its own address, so each starts with a count of
# zero, as a person fetching a few files would.
#
# How the server runs the requests of one connection changes what the
# clients above ask of it: serialized, the heavy client has 4 requests
# at work (one per connection) and the light fetch 1; parallel, 64 and 4.
# So every configuration runs in each mode of BENCH_MODES, in the same
# rounds, and each row of the table names its mode:
#   serialized  sandbag serialize=true (its default on nbdkit < 1.33.10),
#               or nbdkit file --threads=1 with BENCH_BASE=file
#   parallel    sandbag serialize=false, or nbdkit file
# Configurations (BENCH_CONFIGS, interleaved, order rotated each round):
#   plain       --filter=rate only (the same stack without ratetier)
#   batch       ratetier-schedule=batch over rate
#   continuous  ratetier-schedule=continuous over rate
#   nofilter    nbdkit's nofilter in ratetier's place (checks the harness)
# Goals (for batch and continuous): loaded fetch <= 1.25 x size/cap;
# loaded 4 KiB p99 <= 2 x unloaded p99; heavy + light >= 90% of the cap.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_MODES (default "serialized
# parallel"), BENCH_CONFIGS (default "plain batch continuous"),
# BENCH_RATE (default 400M, in nbdkit's size syntax: M = 2^20 bits/s),
# BENCH_RATE_ARGS (more rate filter parameters, e.g. burstiness=0.5),
# BENCH_TUPLE (default 1000:10,10000:4,100000:2), BENCH_RATETIER_ARGS
# (more ratetier parameters), BENCH_WARMUP (default 8 s),
# BENCH_RAND_SECS (default 6), BENCH_SANDBAG_ARGS (extra plugin
# parameters), BENCH_BASE=file (nbdkit's file plugin under the filters
# instead of sandbag), and those in scripts/bench/lib.sh.  Needs root.
# The default run takes about 8 minutes.

set -e
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_MODES=${BENCH_MODES:-serialized parallel}
BENCH_CONFIGS=${BENCH_CONFIGS:-plain batch continuous}
BENCH_RATE=${BENCH_RATE:-400M}
BENCH_TUPLE=${BENCH_TUPLE:-1000:10,10000:4,100000:2}
BENCH_WARMUP=${BENCH_WARMUP:-8}
BENCH_RAND_SECS=${BENCH_RAND_SECS:-6}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
BENCH_BASE=${BENCH_BASE:-sandbag}
read -r -a rate_args <<< "${BENCH_RATE_ARGS:-}"
read -r -a ratetier_args <<< "${BENCH_RATETIER_ARGS:-}"
read -r -a sandbag_args <<< "${BENCH_SANDBAG_ARGS:-}"
fetch_mib=32
port=10809

case $BENCH_BASE in
sandbag|file) ;;
*) bench_die "BENCH_BASE must be sandbag or file" ;;
esac

bench_build SANDBAG_PLUGIN RATETIER_FILTER

# The cap in bits/s as nbdkit's rate filter parses it (binary suffixes).
cap_bits=$($PY -c '
import sys
s = sys.argv[1].strip()
m = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
u = s[-1].upper() if s[-1].isalpha() else ""
print(int(float(s[:len(s) - len(u)]) * m[u]))' "$BENCH_RATE")
cap_mibs=$($PY -c "print($cap_bits / 8 / 2**20)")

bench_header "bench-fairness: light clients beside a bulk downloader on a capped uplink"
echo "fio:      ioengine=nbd (one connection per job), $BENCH_ROUNDS rounds, configurations interleaved"
echo "uplink:   nbdkit rate filter rate=$BENCH_RATE = $cap_bits bit/s = $cap_mibs MiB/s ${rate_args[*]}"
echo "network:  server in its own namespace, clients in others, $BENCH_NET.0/24 on a bridge (veth)"
echo "heavy:    4 connections x 16 requests in flight, 1 MiB sequential reads, ${BENCH_WARMUP}s warm-up"
echo "light:    ${fetch_mib} MiB fetch, 1 connection x 4 in flight, 128 KiB reads; 4 KiB random, 1 connection x 1, 50 IOPS, ${BENCH_RAND_SECS}s"
echo "nbdkit:   --threads=$BENCH_THREADS, base $BENCH_BASE, configs: $BENCH_CONFIGS, modes: $BENCH_MODES"
echo "ratetier: ratetier=$BENCH_TUPLE ${ratetier_args[*]}"

image=$tmp/image.raw
bench_make_image "$image" "$BENCH_IMAGE_MIB"

# Client namespaces: 2 heavy, 3 loaded fetch, 4 loaded random,
# 5 unloaded fetch, 6 unloaded random.
netns_setup 5
uri="nbd://$BENCH_NET.1:$port/"

declare -A name_of
name_of[plain]="no ratetier"
name_of[batch]="ratetier batch"
name_of[continuous]="ratetier continuous"
name_of[nofilter]="nofilter"

# config_args CONFIG MODE: set $args to the nbdkit arguments of a
# configuration (--threads first) and $label to its name in the tables.
config_args ()
{
  local filters=() params=() threads=$BENCH_THREADS base
  case $1 in
  plain) ;;
  batch|continuous)
    filters+=("--filter=$RATETIER_FILTER")
    params+=("ratetier=$BENCH_TUPLE" "ratetier-schedule=$1" "${ratetier_args[@]}") ;;
  nofilter)
    filters+=(--filter=nofilter) ;;
  *)
    bench_die "unknown configuration '$1'" ;;
  esac
  filters+=(--filter=rate)
  params+=("rate=$BENCH_RATE" "${rate_args[@]}")
  case $BENCH_BASE/$2 in
  sandbag/serialized) base=("$SANDBAG_PLUGIN" file="$image" "${sandbag_args[@]}" serialize=true) ;;
  sandbag/parallel)   base=("$SANDBAG_PLUGIN" file="$image" "${sandbag_args[@]}" serialize=false) ;;
  file/serialized)    base=(-r file file="$image"); threads=1 ;;
  file/parallel)      base=(-r file file="$image") ;;
  *) bench_die "unknown mode '$2' (serialized, parallel)" ;;
  esac
  args=("--threads=$threads" "${filters[@]}" "${base[@]}" "${params[@]}")
  label="${name_of[$1]}, $2"
  # The stack must run a connection's requests as the mode says.
  case $(nbdkit_model "$threads" "${filters[@]}" "${base[@]}" "${params[@]}") in
  "$2"*) ;;
  *) bench_die "$label: nbdkit does not run it $2: $(nbdkit_model "$threads" "${base[@]}")" ;;
  esac
}

runs=()
for c in $BENCH_CONFIGS; do
  for m in $BENCH_MODES; do
    config_args "$c" "$m"
    echo "config:   $label: nbdkit ${args[*]}"
    runs+=("$c/$m")
  done
done

# client_fio CLIENT OUT FIO-ARGS...: one fio job from a client namespace.
client_fio ()
{
  local k=$1 out=$2
  shift 2
  in_client "$k" fio --name=bench --ioengine=nbd --uri="$uri" \
    --output-format=json --output="$out" "$@" > "$out.stdout" 2>&1 ||
    bench_die "fio failed in client $k: $(cat "$out.stdout")"
}

# light_fetch CLIENT OUT: the 32 MiB fetch.
light_fetch ()
{
  client_fio "$1" "$2" --rw=read --bs=128k --iodepth=4 \
    --offset=512M --size="${fetch_mib}M"
}

# light_rand CLIENT OUT: 4 KiB random reads at 50 IOPS.
light_rand ()
{
  client_fio "$1" "$2" --rw=randread --bs=4k --iodepth=1 \
    --rate_iops=50 --time_based --runtime="$BENCH_RAND_SECS" \
    --offset=256M --size=256M
}

# record OUT LABEL TEST ROUND
record ()
{
  $PY "$bench_libdir/fioparse.py" "$1" --config "$2" \
    --test "$3" --round "$4" >> "$results"
}

# run_config CONFIG MODE ROUND
run_config ()
{
  local c=$1 m=$2 r=$3 pidfile=$tmp/server.pid o=$tmp/$1-$2-$3
  config_args "$c" "$m"
  rm -f "$pidfile"
  in_server nbdkit -i "$BENCH_NET.1" -p "$port" -P "$pidfile" "${args[@]}" \
    2> "$o.server.log" ||
    bench_die "nbdkit ($label) did not start: $(cat "$o.server.log")"
  wait_for_file "$pidfile" || bench_die "nbdkit ($label) wrote no pid file"

  light_fetch 5 "$o.fetch0.json"
  light_rand 6 "$o.rand0.json"

  # Not through a shell function: $! must be fio itself, which stops
  # on SIGTERM and still writes its report.
  ip netns exec "${netns_prefix}c2" fio --name=heavy --ioengine=nbd --uri="$uri" \
    --rw=read --bs=1M --iodepth=16 --numjobs=4 --group_reporting \
    --size=256M --offset_increment=256M \
    --time_based --runtime=3600 --ramp_time="$BENCH_WARMUP" \
    --output-format=json --output="$o.heavy.json" > "$o.heavy.stdout" 2>&1 &
  heavy_pid=$!
  sleep "$BENCH_WARMUP"
  sleep 0.5

  light_fetch 3 "$o.fetch.json"
  light_rand 4 "$o.rand.json"

  kill -TERM "$heavy_pid"
  wait "$heavy_pid" || :     # fio exits non-zero after a signal
  heavy_pid=
  grep -q '"jobs"' "$o.heavy.json" ||
    bench_die "heavy fio failed ($label): $(cat "$o.heavy.stdout")"
  stop_pid "$pidfile"

  record "$o.fetch0.json" "$label" fetch_unloaded "$r"
  record "$o.rand0.json" "$label" rand_unloaded "$r"
  record "$o.fetch.json" "$label" fetch_loaded "$r"
  record "$o.rand.json" "$label" rand_loaded "$r"
  record "$o.heavy.json" "$label" heavy "$r"
}

# Whatever server and heavy client are running when the script stops
# go with it.
heavy_pid=
bench_cleanup_fn stop_pid "$tmp/server.pid"
# shellcheck disable=SC2016 # $heavy_pid is read when the cleanup runs
bench_cleanup_fn '[ -z "$heavy_pid" ] || kill "$heavy_pid" 2>/dev/null'

n=${#runs[@]}
for (( r=1; r <= BENCH_ROUNDS; r++ )); do
  echo "round $r/$BENCH_ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  for (( i=0; i < n; i++ )); do
    run=${runs[$(( (i + r - 1) % n ))]}
    run_config "${run%/*}" "${run#*/}" "$r"
  done
done

goal_configs=
for run in "${runs[@]}"; do
  case $run in
  batch/*|continuous/*) goal_configs+="${name_of[${run%/*}]}, ${run#*/}|" ;;
  esac
done

echo
$PY "$bench_libdir/fairness.py" "$results" --cap-mibs "$cap_mibs" \
  --fetch-mib "$fetch_mib" --goal-configs "$goal_configs"
echo "load:     $(bench_load) at end"
