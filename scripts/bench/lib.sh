# shellcheck shell=bash
# Shared helpers for sandbag's benchmark scripts (scripts/bench-*.sh).
#
# Benchmarks are not tests: they print tables of medians and of ratios
# against a peer measured in the same run, with the servers interleaved
# over several rounds so that drift on a shared machine hits every server
# alike.  Source this file first:
#
#   source "$(dirname "$0")/bench/lib.sh"
#
# Environment (all optional):
#   BENCH_BUILD    build directory with the uninstalled modules
#                  (default: build-bench in the source tree, set up with
#                  -Dbuildtype=release if missing); the modules are
#                  rebuilt first, and a failed build stops the benchmark
#   BENCH_ROUNDS   rounds of interleaved measurements
#   BENCH_RUNTIME  seconds each fio measurement runs (after BENCH_RAMP)
#   BENCH_RAMP     seconds of fio ramp time, not counted
#   BENCH_THREADS  nbdkit --threads for every nbdkit started (default
#                  16), and nbd-server's max_threads
#   BENCH_CONNS    connections of the multi-connection tests (default 4)
#   BENCH_KEEP=1   keep the scratch directory (fio JSON, logs) at exit
#   TMPDIR         where the scratch directory and images go (needs room
#                  for the image; it must not be tmpfs if you want the
#                  page cache to hold it like a real server's disk)
#
# Each measurement is one line in $results:
#   CONFIG <TAB> TEST <TAB> ROUND <TAB> METRIC <TAB> VALUE
# and scripts/bench/table.py turns that file into the tables.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export LC_ALL=C

bench_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_libdir=$bench_srcdir/scripts/bench
BENCH_BUILD=${BENCH_BUILD:-$bench_srcdir/build-bench}
BENCH_THREADS=${BENCH_THREADS:-16}
BENCH_RAMP=${BENCH_RAMP:-1}
PY=/usr/bin/python3

# The modules, as built; bench_build points them at copies.
SANDBAG_PLUGIN=$BENCH_BUILD/plugins/sandbag/nbdkit-sandbag-plugin.so
# shellcheck disable=SC2034 # used by the scripts
RATETIER_FILTER=$BENCH_BUILD/filters/ratetier/nbdkit-ratetier-filter.so
# shellcheck disable=SC2034 # used by the scripts
HEATMAP_FILTER=$BENCH_BUILD/filters/heatmap/nbdkit-heatmap-filter.so

# --- scratch directory and cleanup ------------------------------------------

# The same cleanup stack as tests/functions.sh, kept apart on purpose:
# that file is the test harness (it needs meson's abs_top_* variables,
# names its scratch sandbag-test in /tmp and always removes it, and has a
# start_nbdkit of another form), while a benchmark may keep its scratch
# (BENCH_KEEP) and must clean up on SIGHUP too.

_bench_cleanup_fns=()
bench_cleanup_fn ()
{
  _bench_cleanup_fns+=("$*")
}
_bench_run_cleanup ()
{
  local status=$? i
  set +e
  for (( i=${#_bench_cleanup_fns[@]}-1; i >= 0; i-- )); do
    eval "${_bench_cleanup_fns[$i]}"
  done
  exit $status
}
trap _bench_run_cleanup EXIT
trap 'exit 130' INT TERM HUP

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/sandbag-bench.XXXXXX")
if [ "${BENCH_KEEP:-0}" = 1 ]; then
  bench_cleanup_fn "echo 'bench: scratch kept in $tmp' >&2"
else
  bench_cleanup_fn rm -rf "$tmp"
fi
results=$tmp/results.tsv
: > "$results"

bench_die ()
{
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# --- build -----------------------------------------------------------------

# bench_build VAR...: set up $BENCH_BUILD if needed, build the targets
# whose paths in $BENCH_BUILD are in the variables VAR... (the header
# needs SANDBAG_PLUGIN), and stop the benchmark if that fails: old
# binaries must never be measured under a new revision's name.  The built files
# are then copied into the scratch directory and the variables pointed
# at the copies, so that a rebuild while the benchmark runs cannot change
# what later rounds measure.  Sets $bench_rev to the revision built, with
# "+uncommitted" and a hash of the changes when the source tree differs
# from it.
bench_build ()
{
  local src before after var targets=() vars=("$@")
  if [ ! -f "$BENCH_BUILD/build.ninja" ]; then
    meson setup "$BENCH_BUILD" "$bench_srcdir" -Dbuildtype=release \
      > "$tmp/setup.log" 2>&1 ||
      bench_die "meson setup $BENCH_BUILD failed: $(tail -20 "$tmp/setup.log")"
  fi
  src=$($PY -c 'import json, sys
print(json.load(open(sys.argv[1]))["directories"]["source"])' \
    "$BENCH_BUILD/meson-info/meson-info.json") ||
    bench_die "$BENCH_BUILD: no meson-info; is it a meson build directory?"
  for var in "${vars[@]}"; do
    targets+=("${!var#"$BENCH_BUILD"/}")
  done
  before=$(bench_tree_state "$src") || exit 1
  ninja -C "$BENCH_BUILD" -j "$(nproc)" "${targets[@]}" \
    > "$tmp/build.log" 2>&1 ||
    bench_die "the build failed, so nothing was measured:
$(tail -30 "$tmp/build.log")"
  after=$(bench_tree_state "$src") || exit 1
  [ "$before" = "$after" ] ||
    bench_die "the source tree changed during the build; run again"
  bench_rev=$after
  bench_buildtype=$(meson introspect --buildoptions "$BENCH_BUILD" |
    $PY -c 'import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))')
  mkdir "$tmp/built"
  for var in "${vars[@]}"; do
    cp "${!var}" "$tmp/built/"
    printf -v "$var" '%s' "$tmp/built/$(basename "${!var}")"
  done
}

# bench_tree_state DIR: the commit checked out in the git tree DIR, and
# if anything differs from it (edits, new files), "+uncommitted" and a
# short hash of those differences.
bench_tree_state ()
{
  local rev changes
  rev=$(git -C "$1" rev-parse --short=10 HEAD) ||
    bench_die "$1 is not a git tree: cannot say what revision is measured"
  changes=$(git -C "$1" status --porcelain --untracked-files=all)
  if [ -n "$changes" ]; then
    rev="$rev+uncommitted-$( { echo "$changes"; git -C "$1" diff HEAD; } |
      sha1sum | cut -c1-8)"
  fi
  echo "$rev"
}

# nbdkit_model THREADS NBDKIT-ARGS...: how an nbdkit started with
# --threads=THREADS and these plugin, filter and parameter arguments
# handles the requests of one connection: "serialized" (one at a time:
# nbdkit's serialize_* thread models, or a single thread) or "parallel
# (N threads)".  The thread model of a stack is the lowest of its plugin
# and filters, which nbdkit --dump-plugin reports.
nbdkit_model ()
{
  local threads=$1 tm
  shift
  tm=$(nbdkit "$@" --dump-plugin 2>/dev/null | sed -n 's/^thread_model=//p')
  [ -n "$tm" ] || bench_die "nbdkit $* --dump-plugin reports no thread model"
  if [ "$tm" = parallel ] && [ "$threads" -gt 1 ]; then
    echo "parallel ($threads threads)"
  else
    echo "serialized"
  fi
}

# --- what machine, what load, what build -----------------------------------

# bench_header TITLE: print the conditions of this run.  Ratios are the
# result; absolute figures only describe this machine at this moment.
bench_header ()
{
  echo "== $1"
  echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine:  $(uname -n), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), kernel $(uname -r)"
  echo "load:     $(bench_load) at start"
  echo "versions: nbdkit $(nbdkit --version | cut -d' ' -f2), $(fio --version)"
  echo "build:    sandbag $bench_rev, $bench_buildtype, built by this run in $BENCH_BUILD"
  echo "sandbag:  its defaults on this nbdkit: $(nbdkit_model "$BENCH_THREADS" "$SANDBAG_PLUGIN" file=/dev/null) requests in each connection"
}

# bench_load: the load averages, for the first and last lines.
bench_load ()
{
  echo "$(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
}

# --- images -------------------------------------------------------------------

# bench_make_image FILE MIB: a non-sparse image of random data, read
# once so that it sits in the page cache.
bench_make_image ()
{
  local file=$1 mib=$2
  head -c "${mib}M" /dev/urandom > "$file"
  bench_warm_cache "$file"
}

# bench_warm_cache FILE: read FILE so it is in the page cache, and say
# how much of it is resident.
bench_warm_cache ()
{
  cat "$1" > /dev/null
  if command -v fincore >/dev/null; then
    fincore -n -o RES,SIZE -b "$1" |
      awk -v f="$1" '{ printf "image:    %s, %d MiB, %.0f%% in page cache\n", f, $2/1048576, 100*$1/$2 }'
  fi
}

# --- servers -------------------------------------------------------------------

# wait_for_file FILE: wait up to 10 s for FILE to appear and be non-empty
# (a pid file) or to exist (a socket).
wait_for_file ()
{
  local i
  for (( i=0; i < 100; i++ )); do
    [ -s "$1" ] || [ -S "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# stop_pid PIDFILE: TERM the process in PIDFILE and wait for it.
stop_pid ()
{
  local pid i
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  for (( i=0; i < 100; i++ )); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
}

# Every server is known by a name (NAME is a short word, used in file
# names); these arrays hold what the tables need.  srv_model says how the
# server handles the requests of one connection: one at a time
# ("serialized") or several at once ("parallel").
declare -A srv_uri srv_pidfile srv_label srv_model

# start_nbdkit NAME LABEL [NBDKIT-ARGS...]: nbdkit on a Unix socket with
# --threads=$BENCH_THREADS (or $nbdkit_threads, if set).  Pass plugin,
# filters and parameters.
start_nbdkit ()
{
  local name=$1 label=$2 threads=${nbdkit_threads:-$BENCH_THREADS}
  shift 2
  local sock=$tmp/$name.sock pidfile=$tmp/$name.pid
  rm -f "$sock" "$pidfile"
  nbdkit --threads="$threads" -U "$sock" -P "$pidfile" "$@" \
    2> "$tmp/$name.log" ||
    bench_die "nbdkit for $label did not start: $(cat "$tmp/$name.log")"
  wait_for_file "$pidfile" || bench_die "nbdkit for $label wrote no pid file"
  bench_cleanup_fn stop_pid "$pidfile"
  srv_uri[$name]="nbd+unix:///?socket=$sock"
  srv_pidfile[$name]=$pidfile
  srv_label[$name]=$label
  srv_model[$name]=$(nbdkit_model "$threads" "$@") || exit 1
}

# start_nbd_server NAME LABEL IMAGE: nbd-server on a Unix socket
# (unixsock, newstyle only), read-only, splice on, export "bench".  It
# forks a process per connection, whose main thread reads requests and
# hands each to a pool of max_threads threads.
start_nbd_server ()
{
  local name=$1 label=$2 image=$3
  local sock=$tmp/$name.sock pidfile=$tmp/$name.pid conf=$tmp/$name.conf
  rm -f "$sock" "$pidfile"
  cat > "$conf" <<EOF
[generic]
    unixsock = $sock
    max_threads = $BENCH_THREADS
[bench]
    exportname = $image
    readonly = true
    splice = true
EOF
  nbd-server -C "$conf" -p "$pidfile" 2> "$tmp/$name.log" ||
    bench_die "nbd-server did not start: $(cat "$tmp/$name.log")"
  if ! wait_for_file "$pidfile" || ! wait_for_file "$sock"; then
    bench_die "nbd-server did not start: $(cat "$tmp/$name.log")"
  fi
  bench_cleanup_fn stop_pid "$pidfile"
  srv_uri[$name]="nbd+unix:///bench?socket=$sock"
  srv_pidfile[$name]=$pidfile
  srv_label[$name]=$label
  srv_model[$name]="parallel ($BENCH_THREADS threads)"
}

# start_qemu_nbd NAME LABEL IMAGE: qemu-nbd on a Unix socket, read-only,
# raw, --cache=writeback (its default: reads go through the page cache
# like the other servers) and --aio=threads, persistent, any number of
# connections.  One event loop serves every connection, up to 16
# requests of each at once (qemu's MAX_NBD_REQUESTS), and hands the reads
# themselves to a thread pool.
start_qemu_nbd ()
{
  local name=$1 label=$2 image=$3
  local sock=$tmp/$name.sock pidfile=$tmp/$name.pid
  rm -f "$sock" "$pidfile"
  qemu-nbd --fork --persistent --shared=0 --read-only --format=raw \
    --cache=writeback --aio=threads \
    --socket="$sock" --pid-file="$pidfile" "$image" \
    2> "$tmp/$name.log" ||
    bench_die "qemu-nbd did not start: $(cat "$tmp/$name.log")"
  wait_for_file "$pidfile" || bench_die "qemu-nbd wrote no pid file"
  bench_cleanup_fn stop_pid "$pidfile"
  srv_uri[$name]="nbd+unix:///?socket=$sock"
  srv_pidfile[$name]=$pidfile
  srv_label[$name]=$label
  srv_model[$name]="parallel (16, 1 thread + aio pool)"
}

# server_cpu_ticks PIDFILE: CPU time (clock ticks) of the server and of
# its reaped children (nbd-server forks one child per client).
server_cpu_ticks ()
{
  local pid
  pid=$(cat "$1")
  # Fields 14-17 of /proc/PID/stat: utime stime cutime cstime.  The
  # command name (field 2) may hold spaces, so cut after its ')'.
  sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}

# --- fio ----------------------------------------------------------------------

# The server benchmarks run each kind of job twice with the same total
# number of requests in flight: over one connection, and spread over
# $BENCH_CONNS connections.  fio's nbd engine opens one connection per
# job, so the connections are fio jobs (--numjobs).  A test is named
# KIND-CxD: C connections, each with D requests in flight.
#   rand4k  4 KiB random reads, 32 in flight in total (IOPS)
#   seq1m   1 MiB sequential reads, 8 in flight in total (MiB/s); each
#           connection streams its own 1/C of the image
# Over one connection a server that serializes its requests works on
# one request while the others wait; over C connections, on C.
BENCH_CONNS=${BENCH_CONNS:-4}
case $BENCH_CONNS in
1|2|4|8) ;;
*) bench_die "BENCH_CONNS must divide 8 (1, 2, 4 or 8)" ;;
esac
bench_tests=(rand4k-1x32 "rand4k-${BENCH_CONNS}x$(( 32 / BENCH_CONNS ))"
             seq1m-1x8 "seq1m-${BENCH_CONNS}x$(( 8 / BENCH_CONNS ))")

# fio_job_args TEST: the fio arguments of TEST (KIND-CxD).  Uses
# $BENCH_IMAGE_MIB.
fio_job_args ()
{
  local kind=${1%-*} cxd=${1#*-}
  local conns=${cxd%x*} depth=${cxd#*x}
  case $kind in
  rand4k) echo --rw=randread --bs=4k ;;
  seq1m)
    echo --rw=read --bs=1M --size=$(( BENCH_IMAGE_MIB / conns ))M \
      --offset_increment=$(( BENCH_IMAGE_MIB / conns ))M ;;
  *) bench_die "unknown test '$1'" ;;
  esac
  echo --numjobs="$conns" --iodepth="$depth" --group_reporting
}

# bench_describe_tests: header lines saying how fio runs.
bench_describe_tests ()
{
  echo "fio:      ioengine=nbd (one connection per job), ${BENCH_RUNTIME}s per run after ${BENCH_RAMP}s ramp, $BENCH_ROUNDS rounds, servers interleaved"
  echo "tests:    ${bench_tests[*]} (CxD: C connections x D requests in flight each)"
}

# fio_json OUT URI [FIO-ARGS...]: run fio with the nbd engine against
# URI and write its JSON report to OUT.
fio_json ()
{
  local out=$1 uri=$2
  shift 2
  fio --name=bench --ioengine=nbd --uri="$uri" \
    --output-format=json --output="$out" "$@" > "$out.stdout" 2>&1 ||
    bench_die "fio failed against $uri: $(cat "$out.stdout")"
}

# measure NAME TEST ROUND: run TEST against server NAME for
# $BENCH_RUNTIME seconds and record IOPS, MiB/s and the server's CPU time
# per request into $results.
measure ()
{
  local name=$1 test=$2 round=$3
  local out=$tmp/fio-$name-$test-$round.json t0 t1 args
  args=$(fio_job_args "$test") || exit 1
  t0=$(server_cpu_ticks "${srv_pidfile[$name]}")
  # shellcheck disable=SC2086 # $args is a list of words
  fio_json "$out" "${srv_uri[$name]}" $args \
    --time_based --runtime="$BENCH_RUNTIME" --ramp_time="$BENCH_RAMP"
  sleep 0.3     # let nbd-server reap its per-connection children
  t1=$(server_cpu_ticks "${srv_pidfile[$name]}")
  $PY "$bench_libdir/fioparse.py" "$out" \
    --config "${srv_label[$name]}" --test "$test" --round "$round" \
    --cpu-ticks $(( t1 - t0 )) --ramp "$BENCH_RAMP" >> "$results"
}

# run_rounds NAME...: for each round, every test against every server
# NAME, the order of the servers rotated each round.
run_rounds ()
{
  local names=("$@") n r i test
  n=${#names[@]}
  for (( r=1; r <= BENCH_ROUNDS; r++ )); do
    echo "round $r/$BENCH_ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    for test in "${bench_tests[@]}"; do
      for (( i=0; i < n; i++ )); do
        measure "${names[$(( (i + r - 1) % n ))]}" "$test" "$r"
      done
    done
  done
}

# print_tables PEER NAME... [-- TABLE.PY-ARGS...]: a throughput table and
# a server-CPU table of the servers NAME, with ratios to the one labelled
# PEER and a column saying how each handles one connection's requests.
# TABLE.PY-ARGS (--goal ...) go to the throughput table.
print_tables ()
{
  local peer=$1 models=() tput=() cpu=() test what
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    models+=(--model "${srv_label[$1]}|${srv_model[$1]}")
    shift
  done
  [ $# -eq 0 ] || shift
  for test in "${bench_tests[@]}"; do
    case $test in
    rand4k-*) what=iops:IOPS ;;
    *) what=mibs:MiB/s ;;
    esac
    tput+=(--col "$test:${what%%:*}:${test/-/ } ${what#*:}")
    cpu+=(--col "$test:cpu_us_op:${test/-/ } us/op")
  done
  echo
  $PY "$bench_libdir/table.py" "$results" --peer "$peer" "${models[@]}" \
    "${tput[@]}" "$@"
  echo
  echo "server CPU time per request (user + system; lower is better):"
  $PY "$bench_libdir/table.py" "$results" --peer "$peer" "${models[@]}" \
    "${cpu[@]}"
}

# --- network namespaces ---------------------------------------------------------

# A private network for benchmarks that need clients on distinct
# addresses: a server namespace holding a bridge with BENCH_NET.1, and one
# namespace per client, each joined to the bridge by a veth pair.  Every
# address lives only inside these namespaces, so no packet reaches the
# root namespace or any real interface; all of them are deleted at exit.
BENCH_NET=${BENCH_NET:-10.200.0}
netns_prefix=sbb$$
netns_server=${netns_prefix}srv

# netns_setup N: the server namespace and client namespaces 2..N+1;
# client K has address $BENCH_NET.K in namespace ${netns_prefix}cK.
netns_setup ()
{
  local n=$1 k ns
  [ "$(id -u)" -eq 0 ] || bench_die "network namespaces need root"
  ip netns add "$netns_server" || bench_die "cannot create a network namespace"
  bench_cleanup_fn ip netns del "$netns_server"
  ip -n "$netns_server" link set lo up
  ip -n "$netns_server" link add br0 type bridge
  ip -n "$netns_server" addr add "$BENCH_NET.1/24" dev br0
  ip -n "$netns_server" link set br0 up
  for (( k=2; k <= n+1; k++ )); do
    ns=${netns_prefix}c$k
    ip netns add "$ns"
    bench_cleanup_fn ip netns del "$ns"
    ip -n "$ns" link set lo up
    ip -n "$netns_server" link add "p$k" type veth peer name eth0 netns "$ns"
    ip -n "$netns_server" link set "p$k" master br0 up
    ip -n "$ns" addr add "$BENCH_NET.$k/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

# in_server CMD...: run CMD in the server namespace.
in_server ()
{
  ip netns exec "$netns_server" "$@"
}

# in_client K CMD...: run CMD in client K's namespace.
in_client ()
{
  local k=$1
  shift
  ip netns exec "${netns_prefix}c$k" "$@"
}
