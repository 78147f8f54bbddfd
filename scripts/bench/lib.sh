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
#                  -Dbuildtype=release and built if missing)
#   BENCH_ROUNDS   rounds of interleaved measurements
#   BENCH_RUNTIME  seconds each fio measurement runs (after BENCH_RAMP)
#   BENCH_RAMP     seconds of fio ramp time, not counted
#   BENCH_THREADS  nbdkit --threads for every nbdkit started (default 16)
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

SANDBAG_PLUGIN=$BENCH_BUILD/plugins/sandbag/nbdkit-sandbag-plugin.so
RATETIER_FILTER=$BENCH_BUILD/filters/ratetier/nbdkit-ratetier-filter.so
HEATMAP_FILTER=$BENCH_BUILD/filters/heatmap/nbdkit-heatmap-filter.so

# --- scratch directory and cleanup ------------------------------------------

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

# bench_build: set up $BENCH_BUILD if needed and rebuild the three
# modules.  Other components may be half-written while a benchmark runs,
# so each module is built on its own and a failure only warns (the
# benchmark then stops if it needs that module).
bench_build ()
{
  local target
  if [ ! -f "$BENCH_BUILD/build.ninja" ]; then
    meson setup "$BENCH_BUILD" "$bench_srcdir" -Dbuildtype=release \
      > "$tmp/setup.log" 2>&1 ||
      bench_die "meson setup $BENCH_BUILD failed: $(tail -20 "$tmp/setup.log")"
  fi
  for target in "$SANDBAG_PLUGIN" "$RATETIER_FILTER" "$HEATMAP_FILTER"; do
    target=${target#"$BENCH_BUILD"/}
    ninja -C "$BENCH_BUILD" -t targets all 2>/dev/null |
      grep -q "^$target:" || continue
    ninja -C "$BENCH_BUILD" "$target" > "$tmp/build.log" 2>&1 ||
      echo "warning: building $target failed; using what is there" >&2
  done
}

# bench_require_module PATH NAME: stop with a clear message if a module
# has not been built (yet).
bench_require_module ()
{
  [ -f "$1" ] || bench_die "$2 is not built ($1 missing)"
}

# --- what machine, what load -------------------------------------------------

# bench_header TITLE: print the conditions of this run.  Ratios are the
# result; absolute figures only describe this machine at this moment.
bench_header ()
{
  echo "== $1"
  echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine:  $(uname -n), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), kernel $(uname -r)"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
  echo "versions: nbdkit $(nbdkit --version | cut -d' ' -f2), $(fio --version)"
  if [ -n "${BENCH_RUNTIME:-}" ]; then
    echo "fio:      ioengine=nbd, ${BENCH_RUNTIME}s per run after ${BENCH_RAMP}s ramp, $BENCH_ROUNDS rounds, servers interleaved"
  elif [ -n "${BENCH_ROUNDS:-}" ]; then
    echo "fio:      ioengine=nbd, $BENCH_ROUNDS rounds, configurations interleaved"
  fi
}

# bench_describe_module PATH [PARAMS...]: one line naming the source
# version a module was built from and, for a plugin, the thread model
# nbdkit will use with PARAMS (sandbag serializes each connection's
# requests on nbdkit < 1.33.10 unless serialize=false).
bench_describe_module ()
{
  local path=$1 rev tm='' dir
  shift
  # The component's source directory, from the module's place in the
  # build tree; its last commit, and whether it has uncommitted edits.
  dir=$(dirname "${path#"$BENCH_BUILD"/}")
  rev=$(git -C "$bench_srcdir" log -1 --format=%h -- "$dir" 2>/dev/null)
  [ -n "$(git -C "$bench_srcdir" status --porcelain -- "$dir" 2>/dev/null)" ] &&
    rev="$rev+uncommitted"
  case $path in
  *-plugin.so)
    tm=$(nbdkit --dump-plugin "$path" "$@" 2>/dev/null |
         sed -n 's/^thread_model=//p')
    tm=", thread_model=$tm" ;;
  esac
  echo "$(basename "$path"): $dir at ${rev:-?}, built $(date -u -r "$path" '+%H:%M UTC')$tm${*:+ with $*}"
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
# names); these arrays hold what the table needs.
declare -A srv_uri srv_pidfile srv_label

# start_nbdkit NAME LABEL [NBDKIT-ARGS...]: nbdkit on a Unix socket with
# --threads=$BENCH_THREADS.  Pass plugin, filters and parameters.
start_nbdkit ()
{
  local name=$1 label=$2
  shift 2
  local sock=$tmp/$name.sock pidfile=$tmp/$name.pid
  rm -f "$sock" "$pidfile"
  nbdkit --threads="$BENCH_THREADS" -U "$sock" -P "$pidfile" "$@" \
    2> "$tmp/$name.log" ||
    bench_die "nbdkit for $label did not start: $(cat "$tmp/$name.log")"
  wait_for_file "$pidfile" || bench_die "nbdkit for $label wrote no pid file"
  bench_cleanup_fn stop_pid "$pidfile"
  srv_uri[$name]="nbd+unix:///?socket=$sock"
  srv_pidfile[$name]=$pidfile
  srv_label[$name]=$label
}

# start_nbd_server NAME LABEL IMAGE: nbd-server on a Unix socket
# (unixsock, newstyle only), read-only, splice on, export "bench".
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
}

# start_qemu_nbd NAME LABEL IMAGE: qemu-nbd on a Unix socket, read-only,
# raw, --cache=writeback (its default: reads go through the page cache
# like the other servers) and --aio=threads, persistent, any number of
# connections.
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

# The two standard jobs of the server benchmarks.
declare -A bench_job
bench_job[rand4k]="--rw=randread --bs=4k --iodepth=32"
bench_job[seq1m]="--rw=read --bs=1M --iodepth=8"

# fio_json OUT URI [FIO-ARGS...]: run one fio job with the nbd engine
# against URI and write its JSON report to OUT.
fio_json ()
{
  local out=$1 uri=$2
  shift 2
  fio --name=bench --ioengine=nbd --uri="$uri" \
    --output-format=json --output="$out" "$@" > "$out.stdout" 2>&1 ||
    bench_die "fio failed against $uri: $(cat "$out.stdout")"
}

# measure NAME TEST ROUND: run the standard job TEST against server NAME
# for $BENCH_RUNTIME seconds and record IOPS, MiB/s and the server's CPU
# time per request into $results.
measure ()
{
  local name=$1 test=$2 round=$3
  local out=$tmp/fio-$name-$test-$round.json t0 t1
  t0=$(server_cpu_ticks "${srv_pidfile[$name]}")
  # shellcheck disable=SC2086
  fio_json "$out" "${srv_uri[$name]}" ${bench_job[$test]} \
    --time_based --runtime="$BENCH_RUNTIME" --ramp_time="$BENCH_RAMP"
  sleep 0.2     # let nbd-server reap its per-client child
  t1=$(server_cpu_ticks "${srv_pidfile[$name]}")
  $PY "$bench_libdir/fioparse.py" "$out" \
    --config "${srv_label[$name]}" --test "$test" --round "$round" \
    --cpu-ticks $(( t1 - t0 )) --ramp "$BENCH_RAMP" >> "$results"
}

# run_rounds TESTS NAMES: for each round, every test against every
# server, the order of the servers rotated each round.
run_rounds ()
{
  local tests=$1 names=($2) n r i k test
  n=${#names[@]}
  for (( r=1; r <= BENCH_ROUNDS; r++ )); do
    echo "round $r/$BENCH_ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    for test in $tests; do
      for (( i=0; i < n; i++ )); do
        k=$(( (i + r - 1) % n ))
        measure "${names[$k]}" "$test" "$r"
      done
    done
  done
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
