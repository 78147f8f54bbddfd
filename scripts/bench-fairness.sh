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
# 10.200.0.1:10809.
#
# Per configuration and round, on a freshly started server (so no client
# carries counts over from an earlier measurement):
#   1. unloaded: a light client fetches 32 MiB with 128 KiB reads at depth
#      4 (time to complete), then another does 4 KiB random reads at
#      depth 1 and 50 IOPS for BENCH_RAND_SECS (p99 completion latency);
#   2. a heavy client streams 1 MiB sequential reads over 4 connections,
#      each at depth 16; after BENCH_WARMUP seconds (long enough for it to
#      pass the last threshold of the default tuple: 100000 blocks of
#      4 KiB = 391 MiB),
#   3. loaded: two fresh light clients repeat the fetch and the random
#      reads while the heavy client streams; then the heavy client stops.
# Every light client has its own address, so each starts with a count of
# zero, as a person fetching a few files would.
#
# Configurations (BENCH_CONFIGS, interleaved, order rotated each round):
#   plain       --filter=rate only (the same stack without ratetier)
#   batch       ratetier-schedule=batch over rate
#   continuous  ratetier-schedule=continuous over rate
#   nofilter    nbdkit's nofilter in ratetier's place (validates the
#               harness before ratetier exists)
# Goals (for batch and continuous): loaded fetch <= 1.25 x size/cap;
# loaded 4 KiB p99 <= 2 x unloaded p99; heavy + light >= 90% of the cap.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_RATE (default 400M, in
# nbdkit's size syntax: M = 2^20 bits/s), BENCH_RATE_ARGS (more rate filter
# parameters, e.g. burstiness=0.5), BENCH_TUPLE (default
# 1000:10,10000:4,100000:2), BENCH_RATETIER_ARGS (more ratetier
# parameters), BENCH_WARMUP (default 8 s), BENCH_RAND_SECS (default 6),
# BENCH_SANDBAG_ARGS (extra plugin parameters, e.g. serialize=false),
# BENCH_BASE=file (nbdkit's file plugin under the filters instead of
# sandbag), and those in scripts/bench/lib.sh.  Needs root.  The default
# run takes about 3-4 minutes.

set -e
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_RATE=${BENCH_RATE:-400M}
BENCH_RATE_ARGS=${BENCH_RATE_ARGS:-}
BENCH_TUPLE=${BENCH_TUPLE:-1000:10,10000:4,100000:2}
BENCH_RATETIER_ARGS=${BENCH_RATETIER_ARGS:-}
BENCH_WARMUP=${BENCH_WARMUP:-8}
BENCH_RAND_SECS=${BENCH_RAND_SECS:-6}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
BENCH_BASE=${BENCH_BASE:-sandbag}
fetch_mib=32
port=10809

bench_build
if [ -z "${BENCH_CONFIGS:-}" ]; then
  if [ -f "$RATETIER_FILTER" ]; then
    BENCH_CONFIGS="plain batch continuous"
  else
    echo "note: ratetier is not built yet; running plain and nofilter" >&2
    BENCH_CONFIGS="plain nofilter"
  fi
fi
if [ "$BENCH_BASE" = sandbag ] && [ ! -f "$SANDBAG_PLUGIN" ]; then
  echo "note: the sandbag plugin is not built yet; using nbdkit file" >&2
  BENCH_BASE="file"
fi

# The cap in bits/s as nbdkit's rate filter parses it (binary suffixes).
cap_bits=$($PY -c '
import sys
s = sys.argv[1].strip()
m = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
u = s[-1].upper() if s[-1].isalpha() else ""
print(int(float(s[:len(s) - len(u)]) * m[u]))' "$BENCH_RATE")
cap_mibs=$($PY -c "print($cap_bits / 8 / 2**20)")

bench_header "bench-fairness: light clients beside a bulk downloader on a capped uplink"
echo "uplink:   nbdkit rate filter rate=$BENCH_RATE = $cap_bits bit/s = $cap_mibs MiB/s ${BENCH_RATE_ARGS}"
echo "network:  server in its own namespace, clients in others, $BENCH_NET.0/24 on a bridge (veth)"
echo "heavy:    4 connections x 1 MiB sequential reads at depth 16, ${BENCH_WARMUP}s warm-up"
echo "light:    ${fetch_mib} MiB fetch, 128 KiB reads at depth 4; 4 KiB random at depth 1, 50 IOPS, ${BENCH_RAND_SECS}s"
echo "nbdkit:   --threads=$BENCH_THREADS, base $BENCH_BASE, configs: $BENCH_CONFIGS"
[ -f "$RATETIER_FILTER" ] &&
  echo "ratetier: ratetier=$BENCH_TUPLE $BENCH_RATETIER_ARGS"

if [ "$BENCH_BASE" = sandbag ]; then
  # shellcheck disable=SC2086
  echo "module:   $(bench_describe_module "$SANDBAG_PLUGIN" ${BENCH_SANDBAG_ARGS:-})"
fi
[ -f "$RATETIER_FILTER" ] &&
  echo "module:   $(bench_describe_module "$RATETIER_FILTER")"

image=$tmp/image.raw
bench_make_image "$image" "$BENCH_IMAGE_MIB"

# Client namespaces: 2 heavy, 3 loaded fetch, 4 loaded random,
# 5 unloaded fetch, 6 unloaded random.
netns_setup 5
uri="nbd://$BENCH_NET.1:$port/"

# config_args CONFIG: the nbdkit arguments of a configuration.
config_args ()
{
  local filters=() params=()
  case $1 in
  plain) ;;
  batch|continuous)
    bench_require_module "$RATETIER_FILTER" "the ratetier filter"
    filters+=("--filter=$RATETIER_FILTER")
    params+=("ratetier=$BENCH_TUPLE" "ratetier-schedule=$1" $BENCH_RATETIER_ARGS) ;;
  nofilter)
    filters+=(--filter=nofilter) ;;
  *)
    bench_die "unknown configuration '$1'" ;;
  esac
  filters+=(--filter=rate)
  params+=("rate=$BENCH_RATE" $BENCH_RATE_ARGS)
  if [ "$BENCH_BASE" = sandbag ]; then
    echo "${filters[*]} $SANDBAG_PLUGIN file=$image ${BENCH_SANDBAG_ARGS:-} ${params[*]}"
  else
    echo "${filters[*]} -r file file=$image ${params[*]}"
  fi
}

declare -A label
label[plain]="no ratetier"
label[batch]="ratetier batch"
label[continuous]="ratetier continuous"
label[nofilter]="nofilter"

for c in $BENCH_CONFIGS; do
  args=$(config_args "$c")
  echo "config:   ${label[$c]}: nbdkit $args"
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

# record OUT CONFIG TEST ROUND
record ()
{
  $PY "$bench_libdir/fioparse.py" "$1" --config "${label[$2]}" \
    --test "$3" --round "$4" >> "$results"
}

# run_config CONFIG ROUND
run_config ()
{
  local c=$1 r=$2 pidfile=$tmp/server.pid heavy o=$tmp/$1-$2 args
  args=$(config_args "$c")
  rm -f "$pidfile"
  # shellcheck disable=SC2086
  in_server nbdkit --threads="$BENCH_THREADS" -i "$BENCH_NET.1" -p "$port" \
    -P "$pidfile" $args 2> "$o.server.log" ||
    bench_die "nbdkit ($c) did not start: $(cat "$o.server.log")"
  wait_for_file "$pidfile" || bench_die "nbdkit ($c) wrote no pid file"

  light_fetch 5 "$o.fetch0.json"
  light_rand 6 "$o.rand0.json"

  # Not through a shell function: $! must be fio itself, which stops
  # on SIGTERM and still writes its report.
  ip netns exec "${netns_prefix}c2" fio --name=heavy --ioengine=nbd --uri="$uri" \
    --rw=read --bs=1M --iodepth=16 --numjobs=4 --group_reporting \
    --size=256M --offset_increment=256M \
    --time_based --runtime=3600 --ramp_time="$BENCH_WARMUP" \
    --output-format=json --output="$o.heavy.json" > "$o.heavy.stdout" 2>&1 &
  heavy=$!
  heavy_pid=$heavy
  sleep "$BENCH_WARMUP"
  sleep 0.5

  light_fetch 3 "$o.fetch.json"
  light_rand 4 "$o.rand.json"

  kill -TERM "$heavy"
  wait "$heavy" || :     # fio exits non-zero after a signal
  heavy_pid=
  grep -q '"jobs"' "$o.heavy.json" ||
    bench_die "heavy fio failed ($c): $(cat "$o.heavy.stdout")"
  stop_pid "$pidfile"

  record "$o.fetch0.json" "$c" fetch_unloaded "$r"
  record "$o.rand0.json" "$c" rand_unloaded "$r"
  record "$o.fetch.json" "$c" fetch_loaded "$r"
  record "$o.rand.json" "$c" rand_loaded "$r"
  record "$o.heavy.json" "$c" heavy "$r"
}

# Whatever server and heavy client are running when the script stops
# go with it.
heavy_pid=
bench_cleanup_fn stop_pid "$tmp/server.pid"
bench_cleanup_fn '[ -z "$heavy_pid" ] || kill "$heavy_pid" 2>/dev/null'

configs=($BENCH_CONFIGS)
n=${#configs[@]}
for (( r=1; r <= BENCH_ROUNDS; r++ )); do
  echo "round $r/$BENCH_ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  for (( i=0; i < n; i++ )); do
    run_config "${configs[$(( (i + r - 1) % n ))]}" "$r"
  done
done

goal_configs=
for c in $BENCH_CONFIGS; do
  case $c in
  batch|continuous) goal_configs+="${label[$c]}," ;;
  esac
done

echo
$PY "$bench_libdir/fairness.py" "$results" --cap-mibs "$cap_mibs" \
  --fetch-mib "$fetch_mib" --goal-configs "$goal_configs"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at end"
