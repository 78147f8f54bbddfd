#!/bin/bash
# Benchmark: the two ways a Linux client can mount a sandbag volume,
# measured with the real kernel in the VM harness (tests/vm; issue 10).
#
#   scripts/bench-vm-client.sh                      # as root, about 5 minutes
#   BENCH_VM_NBD_CLIENT=/path/to/nbd-client BENCH_VM_NBD_CLIENT_ARGS=-persist \
#     scripts/bench-vm-client.sh                    # a third client beside them
#
# sandbag servers (the public stack of scripts/serve.sh, on the host),
# one for each added latency of BENCH_VM_DELAYS (ms; nbdkit's delay
# filter outside the stack holds every read that long, as a round trip
# over the Internet would), serve a pinned version of an erofs image
# holding one file of BENCH_VM_MIB MiB, a pattern that says at every
# offset where it belongs (tests/vm/stall-probe.c).  One guest mounts it
# from each server, every way at once:
#
#   relay    with sandbag-attach: the kernel's nbd device on a local
#            relay (nbdkit with the sandbag-relay plugin) that reconnects
#            and checks the version; -C 2.
#   direct   with Debian's nbd-client straight to the server (netlink,
#            -readonly -timeout 30 -connections 2, as docs/deployment.md
#            says for a one-off look): the kernel alone, no relay.
#   other    (if BENCH_VM_NBD_CLIENT is given) that nbd-client binary,
#            copied into the guest, attached like direct plus
#            BENCH_VM_NBD_CLIENT_ARGS: for instance an upstream build
#            whose -persist is meant to reconnect through netlink.
#
# Measured, in the guest:
#   seq      the file read end to end from a cold cache (cat), the
#            configurations in turn, BENCH_ROUNDS times, the order
#            rotated: MiB/s, the guest's CPU time per MiB (all of it:
#            the kernel, and the relay where there is one) and the
#            relay process's own.  Ratios to direct: what the relay
#            costs in steady state, with no added latency (the relay's
#            extra hop and copy are all there is to see) and with some
#            (they are small beside it).
#   restart  stall-probe reading 4 KiB at random every 10 ms on every
#            mount at once while the servers are stopped (SIGTERM), kept
#            down BENCH_DOWN s and started again, BENCH_RESTARTS times:
#            how long a server was down (from SIGTERM to listening
#            again), recovery (from the server listening again, which
#            the host says with its answer, to the next right read; a
#            few ms of the control channel are not counted), the longest
#            stall any read saw, the reads that failed and those that
#            returned other bytes.  A mount that did not recover within
#            BENCH_AFTER s has no recovery figure.
#   storm    BENCH_VM_STORM more mounts with sandbag-attach -C 1 (one
#            relay each) from the first server, probed every 100 ms
#            through one restart: the time until the last is served
#            again, and the server's CPU time over BENCH_AFTER s from its
#            start.
# Absolute figures are of a TCG guest (every instruction emulated) on a
# shared machine; compare the ratios, taken within each round.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_RESTARTS (3), BENCH_DOWN
# (2), BENCH_AFTER (8), BENCH_VM_MIB (32), BENCH_VM_DELAYS ("0 20"),
# BENCH_VM_STORM (8), BENCH_VM_NBD_CLIENT, BENCH_VM_NBD_CLIENT_ARGS
# (-persist), SANDBAG_VM_ACCEL, and those of scripts/bench/lib.sh.

set -e
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_RESTARTS=${BENCH_RESTARTS:-3}
BENCH_DOWN=${BENCH_DOWN:-2}
BENCH_AFTER=${BENCH_AFTER:-8}
BENCH_VM_MIB=${BENCH_VM_MIB:-32}
BENCH_VM_DELAYS=${BENCH_VM_DELAYS:-0 20}
BENCH_VM_STORM=${BENCH_VM_STORM:-8}
BENCH_VM_NBD_CLIENT_ARGS=${BENCH_VM_NBD_CLIENT_ARGS:--persist}
read -ra delays <<< "$BENCH_VM_DELAYS"
# The guest has 16 nbd devices: three mounts per server at most, and
# the storm's.
if [ $(( ${#delays[@]} * 3 + BENCH_VM_STORM )) -gt 16 ]; then
  bench_die "BENCH_VM_STORM: at most $(( 16 - ${#delays[@]} * 3 )) with ${#delays[@]} delays"
fi
[ "$(id -u)" = 0 ] || bench_die "needs root (mounts, the VM harness)"
command -v qemu-system-x86_64 > /dev/null || bench_die "qemu-system-x86_64 is missing (scripts/install-deps.sh)"
if [ -n "${BENCH_VM_NBD_CLIENT:-}" ] && [ ! -x "$BENCH_VM_NBD_CLIENT" ]; then
  bench_die "BENCH_VM_NBD_CLIENT: $BENCH_VM_NBD_CLIENT is not a program"
fi

# The public stack's modules, and the guest with its client layer (the
# relay, sandbag-attach, stall-probe), which the harness takes from the
# build directory.
PUBLISH=$BENCH_BUILD/tools/sandbag-publish/sandbag-publish
PROBE=$BENCH_BUILD/tests/vm/stall-probe
CLIENT_LAYER=$BENCH_BUILD/tests/vm/client.cpio
bench_build SANDBAG_PLUGIN RATETIER_FILTER HEATMAP_FILTER PUBLISH PROBE \
  CLIENT_LAYER

# The VM harness, as the tests use it (tests/vm/vm-functions.sh), with
# the benchmark's scratch directory and cleanup.
abs_top_srcdir=$bench_srcdir
abs_top_builddir=$BENCH_BUILD
cleanup_fn () { bench_cleanup_fn "$@"; }
kill_nbdkit () { stop_pid "$1"; }
requires_root () { :; }
requires () { "$@" > /dev/null 2>&1 || bench_die "needs $1"; }
# shellcheck source=../tests/vm/vm-functions.sh
source "$bench_srcdir/tests/vm/vm-functions.sh"
vm_require_client

bench_header "the kernel's NBD client with and without sandbag's relay, in a VM"
echo "guest:    $(sed -n 's/^kernel: //p' "$vm_dir/guest.txt"), ${SANDBAG_VM_ACCEL:-tcg}, ${SANDBAG_VM_SMP:-1} CPU, 512 MiB; $(nbd-client -V 2>&1 | head -1)"
echo "servers:  public stack (scripts/public-stack.sh), rate ${VM_RATE}, nbdkit's delay filter outside it: delay-read=${BENCH_VM_DELAYS// /, } ms"
echo "volume:   erofs, one ${BENCH_VM_MIB} MiB file; $BENCH_ROUNDS seq rounds, $BENCH_RESTARTS restarts down ${BENCH_DOWN}s, storm of $BENCH_VM_STORM"
if [ -n "${BENCH_VM_NBD_CLIENT:-}" ]; then
  echo "other:    $BENCH_VM_NBD_CLIENT ($( { "$BENCH_VM_NBD_CLIENT" -V; "$BENCH_VM_NBD_CLIENT" --help; } 2>&1 | grep -m1 -Ei '^nbd-client version|from nbd')) $BENCH_VM_NBD_CLIENT_ARGS"
  vm_add "$BENCH_VM_NBD_CLIENT" nbd-client-other
  vm_set OTHER_ARGS "$BENCH_VM_NBD_CLIENT_ARGS"
fi

mkdir "$tmp/tree" "$tmp/vol"
"$PROBE" make "$tmp/tree/data" "$BENCH_VM_MIB" 1
mkfs.erofs --quiet -T0 "$tmp/vol.erofs" "$tmp/tree"
"$PUBLISH" publish --version=1 \
  "$tmp/vol" vol "$tmp/vol.erofs" > /dev/null
ports=
for d in "${delays[@]}"; do
  port=$(free_port)
  VM_SERVE_FILTERS=(--filter=delay)
  vm_serve "$tmp/server$d.pid" "$port" "$tmp/state$d" dir="$tmp/vol" \
    delay-read="${d}ms"
  ports+="${ports:+ }$d:$port"
done
for v in ROUNDS RESTARTS DOWN AFTER VM_MIB VM_STORM; do
  eval "vm_set $v \"\$BENCH_$v\""
done
vm_set SERVER "$VM_SERVER"
vm_set PORTS "$ports"

# The guest's requests: stop and start the servers, record a result.
server_cpu0=0
declare -A stopped=()
vm_request ()
{
  local d pid
  case $1 in
    stop)
      for d in "${delays[@]}"; do
        stopped[$d]=${EPOCHREALTIME/./}
        stop_pid "$tmp/server$d.pid"
      done ;;
    # start: answers, for each server, DELAY:DOWN:AGO: how long it was
    # down (from SIGTERM to listening again) and how many ms ago it
    # started listening.
    start)
      for d in "${delays[@]}"; do
        vm_server_start "$tmp/server$d.pid"
      done
      server_cpu0=$(server_cpu_ticks "$tmp/server${delays[0]}.pid")
      for d in "${delays[@]}"; do
        pid=$tmp/server$d.pid
        vm_reply+="${vm_reply:+ }$d:$(( (vm_server_up[$pid] - stopped[$d]) / 1000 ))"
        vm_reply+=":$(( (${EPOCHREALTIME/./} - vm_server_up[$pid]) / 1000 ))"
      done ;;
    storm-end)
      printf 'relay\tstorm\t%s\tserver_cpu_s\t%s\n' "$2" "$(awk -v t=$(( $(server_cpu_ticks "$tmp/server${delays[0]}.pid") - server_cpu0 )) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }')" >> "$results" ;;
    result) shift; printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$results" ;;
    *) return 1 ;;
  esac
}
# Reads fail on the mounts that do not survive a restart.
VM_KERNEL_ALLOW=.

# (The harness's log, the guest's console among it, goes to vm.log.)
vm_run bench - $(( 900 + BENCH_RESTARTS * (BENCH_DOWN + BENCH_AFTER + 60) )) \
  2> "$tmp/vm.log" <<'GUEST' || bench_die "the guest failed: $(grep -v '^+' "$tmp/bench.log" | tail -30)"
set +x
result () { host_request result "$@" > /dev/null; }
busy () { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
cpu_of () { [ -n "$1" ] && awk '{ print $14 + $15 }' /proc/$1/stat || echo 0; }
calc () { awk "BEGIN { printf \"%.3f\", $1 }"; }

# Mounts: relayD, directD, otherD from the server with delay D, on
# devices counted down from nbd15 for nbd-client (sandbag-attach takes
# the first free ones).
configs="relay direct"
[ -x /vm/nbd-client-other ] && configs="$configs other"
delays= mounts= dev=15
for dp in $PORTS; do
  d=${dp%%:*} port=${dp#*:}
  delays="$delays $d"
  for c in $configs; do
    mkdir -p /mnt/$c$d
    case $c in
      relay) sandbag-attach mount vol /mnt/$c$d "nbd://$SERVER:$port" ;;
      direct) nbd-client "$SERVER" $port /dev/nbd$dev -N vol@1 -readonly \
                -timeout 30 -connections 2 > /dev/null ;;
      other) /vm/nbd-client-other "$SERVER" $port /dev/nbd$dev -N vol@1 \
               -readonly -timeout 30 -connections 2 $OTHER_ARGS \
               > /tmp/other$d.log 2>&1 &
             until [ "$(cat /sys/block/nbd$dev/size)" != 0 ]; do sleep 0.2; done ;;
    esac
    if [ $c != relay ]; then
      mount -o ro /dev/nbd$dev /mnt/$c$d
      dev=$((dev - 1))
    fi
    mounts="$mounts $c$d"
  done
done
relay_pid () { cat /run/sandbag-attach/%2Fmnt%2Frelay$1/vol%401/relay.pid; }
echo "attached:$mounts"

# seq: for each delay, each configuration in turn, the order rotated
# each round.
for d in $delays; do
  r=1
  while [ $r -le $ROUNDS ]; do
    set -- $configs
    i=1
    while [ $i -lt $r ]; do first=$1; shift; set -- "$@" $first; i=$((i + 1)); done
    for c in "$@"; do
      echo 3 > /proc/sys/vm/drop_caches
      p=; [ $c = relay ] && p=$(relay_pid $d)
      t0=$(stall-probe now) b0=$(busy) p0=$(cpu_of $p)
      cat /mnt/$c$d/data > /dev/null
      t1=$(stall-probe now) b1=$(busy) p1=$(cpu_of $p)
      echo "seq delay $d round $r $c: $((t1 - t0)) ms"
      result $c seq$d $r mib_s $(calc "$VM_MIB * 1000 / ($t1 - $t0)")
      result $c seq$d $r guest_cpu_ms_per_mib $(calc "($b1 - $b0) * 10 / $VM_MIB")
      [ -z "$p" ] || result $c seq$d $r relay_cpu_ms_per_mib $(calc "($p1 - $p0) * 10 / $VM_MIB")
    done
    r=$((r + 1))
  done
done

# probe_all TEST ROUND INTERVAL MOUNTS...: probe the mounts through a
# restart of the servers; record each one's figures under TEST (storm:
# print them only).
probe_all ()
{
  local test=$1 round=$2 interval=$3 m c d dda rec status down
  shift 3
  echo 3 > /proc/sys/vm/drop_caches
  for m in "$@"; do
    d=${m##*[a-z]}
    stall-probe run /mnt/$m/data 1 $interval /tmp/mark$d > /tmp/probe.$m 2> /tmp/probe.$m.err &
    echo $! > /tmp/probe.$m.pid
  done
  sleep 2
  host_request stop > /dev/null
  sleep $DOWN
  # Each server listens since the host's answer says how many ms.
  reply=$(host_request start)
  now=$(stall-probe now)
  for dda in ${reply#host: done 0}; do
    d=${dda%%:*} ago=${dda##*:} down=${dda#*:}
    echo $((now - ago)) > /tmp/mark$d
    echo ${down%:*} > /tmp/down$d
  done
  # (A probe on a dead device may have ended already: it could not
  # even open the file.)
  for m in "$@"; do kill -USR1 $(cat /tmp/probe.$m.pid) 2> /dev/null || :; done
  sleep $AFTER
  for m in "$@"; do kill $(cat /tmp/probe.$m.pid) 2> /dev/null || :; done
  for m in "$@"; do
    c=${m%%[0-9]*} d=${m##*[a-z]}
    status=0
    wait $(cat /tmp/probe.$m.pid) || status=$?
    if [ $status = 1 ]; then
      echo "$m: OTHER BYTES: $(head -3 /tmp/probe.$m.err)"
    elif [ $status != 0 ]; then
      echo "$test $round $m: no probe: $(tail -1 /tmp/probe.$m.err)"
      [ $test = storm ] || result $c $test$d $round recovered 0
      continue
    fi
    echo "$test $round $m: $(tr '\n' ' ' < /tmp/probe.$m)"
    [ $test = storm ] && continue
    result $c $test$d $round down_s $(calc "$(cat /tmp/down$d) / 1000")
    result $c $test$d $round stall_s $(calc "$(sed -n 's/^longest_gap_ms //p' /tmp/probe.$m) / 1000")
    result $c $test$d $round errors $(sed -n 's/^errors //p' /tmp/probe.$m)
    result $c $test$d $round wrong $(sed -n 's/^wrong //p' /tmp/probe.$m)
    rec=$(sed -n 's/^recovery_ms //p' /tmp/probe.$m)
    if [ "$rec" -ge 0 ]; then
      result $c $test$d $round recovery_s $(calc "$rec / 1000")
      result $c $test$d $round recovered 1
    else
      result $c $test$d $round recovered 0
    fi
  done
}

r=1
while [ $r -le $RESTARTS ]; do
  probe_all restart $r 10 $mounts
  r=$((r + 1))
done

# storm: VM_STORM relays from the first server, one connection each,
# through one restart; stormaD, stormbD...
set -- $PORTS
d=${1%%:*} port=${1#*:}
storm=
i=1
while [ $i -le $VM_STORM ]; do
  m=storm$(echo abcdefghijklmnop | cut -c$i)$d
  mkdir -p /mnt/$m
  sandbag-attach mount -C 1 vol /mnt/$m "nbd://$SERVER:$port" > /dev/null
  storm="$storm $m"
  i=$((i + 1))
done
if [ -n "$storm" ]; then
  probe_all storm 1 100 $storm
  host_request storm-end 1 > /dev/null
  worst=-1 served=0
  for m in $storm; do
    rec=$(sed -n 's/^recovery_ms //p' /tmp/probe.$m)
    [ -n "$rec" ] && [ "$rec" -ge 0 ] || continue
    served=$((served + 1))
    [ "$rec" -le $worst ] || worst=$rec
  done
  result relay storm 1 served $served
  [ $served != $VM_STORM ] || result relay storm 1 all_served_s $(calc "$worst / 1000")
fi
GUEST

grep -E '^(attached|seq|restart|storm) ' "$tmp/bench.log" | sed 's/^/guest: /'
for d in "${delays[@]}"; do
  echo
  echo "sequential reads, each read delayed $d ms at the server:"
  $PY "$bench_libdir/table.py" "$results" --peer direct \
    --col "seq$d:mib_s:seq MiB/s" \
    --col "seq$d:guest_cpu_ms_per_mib:guest CPU ms/MiB" \
    --info "seq$d:relay_cpu_ms_per_mib:relay CPU ms/MiB"
done
for d in "${delays[@]}"; do
  echo
  echo "server restarts, each read delayed $d ms:"
  $PY "$bench_libdir/table.py" "$results" --peer direct \
    --info "restart$d:recovered:recovered" \
    --info "restart$d:down_s:down s" \
    --info "restart$d:recovery_s:recovery s" \
    --info "restart$d:stall_s:stall s" \
    --info "restart$d:errors:read errors" \
    --info "restart$d:wrong:other bytes"
done
if [ "$BENCH_VM_STORM" -gt 0 ]; then
  echo
  echo "storm of $BENCH_VM_STORM relays, each read delayed ${delays[0]} ms: $(awk -F'\t' '$2 == "storm" { printf "%s %s  ", $4, $5 }' "$results")"
fi
