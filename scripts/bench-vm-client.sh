#!/bin/bash
# Benchmark: the two ways a Linux client can mount a sandbag volume,
# measured with the real kernel in the VM harness (tests/vm; issue 10).
#
#   scripts/bench-vm-client.sh                      # as root, about 5 minutes
#   BENCH_VM_NBD_CLIENT=/path/to/nbd-client BENCH_VM_NBD_CLIENT_ARGS=-persist \
#     scripts/bench-vm-client.sh                    # a third client beside them
#
# A sandbag server (the public stack of scripts/serve.sh, on the host)
# serves a pinned version of an erofs image holding one file of
# BENCH_VM_MIB MiB, a pattern that says at every offset where it
# belongs (tests/vm/stall-probe.c).  One guest mounts it at once:
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
#            costs in steady state.
#   restart  stall-probe reading 4 KiB at random every 10 ms on every
#            configuration at once while the server is stopped (SIGTERM),
#            kept down BENCH_DOWN s and started again, BENCH_RESTARTS
#            times: how long the server was down (from SIGTERM to
#            listening again), recovery (from the server listening again,
#            which the host says with its answer, to the next right read;
#            a few ms of the control channel are not counted), the
#            longest stall any read saw, the reads that failed (and that
#            returned other bytes, which would be printed).  A
#            configuration that did not recover within BENCH_AFTER s has
#            no recovery figure.
#   storm    BENCH_VM_STORM more mounts with sandbag-attach -C 1 (one
#            relay each) probed every 100 ms through one restart: the
#            time until the last is served again, and the server's CPU
#            time over BENCH_AFTER s from its start.
# Absolute figures are of a TCG guest (every instruction emulated) on a
# shared machine; compare the ratios, taken within each round.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_RESTARTS (3), BENCH_DOWN
# (2), BENCH_AFTER (8), BENCH_VM_MIB (64), BENCH_VM_STORM (8, at most
# 12), BENCH_VM_NBD_CLIENT, BENCH_VM_NBD_CLIENT_ARGS (-persist),
# SANDBAG_VM_ACCEL, and those of scripts/bench/lib.sh.

set -e
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_RESTARTS=${BENCH_RESTARTS:-3}
BENCH_DOWN=${BENCH_DOWN:-2}
BENCH_AFTER=${BENCH_AFTER:-8}
BENCH_VM_MIB=${BENCH_VM_MIB:-64}
BENCH_VM_STORM=${BENCH_VM_STORM:-8}
BENCH_VM_NBD_CLIENT_ARGS=${BENCH_VM_NBD_CLIENT_ARGS:--persist}
[ "$BENCH_VM_STORM" -le 12 ] || bench_die "BENCH_VM_STORM: at most 12 (16 nbd devices)"
[ "$(id -u)" = 0 ] || bench_die "needs root (qemu's network namespace, mounts)"
command -v qemu-system-x86_64 > /dev/null || bench_die "qemu-system-x86_64 is missing (scripts/install-deps.sh)"
if [ -n "${BENCH_VM_NBD_CLIENT:-}" ] && [ ! -x "$BENCH_VM_NBD_CLIENT" ]; then
  bench_die "BENCH_VM_NBD_CLIENT: $BENCH_VM_NBD_CLIENT is not a program"
fi

bench_build
ninja -C "$BENCH_BUILD" tests/vm/initrd.img tests/vm/client.cpio \
  plugins/sandbag-relay/nbdkit-sandbag-relay-plugin.so \
  tools/sandbag-publish/sandbag-publish > "$tmp/build.log" 2>&1 ||
  bench_die "building the guest failed: $(tail -20 "$tmp/build.log")"
bench_require_module "$SANDBAG_PLUGIN" "the sandbag plugin"

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
echo "server:   public stack (scripts/public-stack.sh), rate ${VM_RATE}; down ${BENCH_DOWN}s per restart"
echo "volume:   erofs, one ${BENCH_VM_MIB} MiB file; $BENCH_ROUNDS seq rounds, $BENCH_RESTARTS restarts, storm of $BENCH_VM_STORM"
bench_describe_module "$SANDBAG_PLUGIN"
bench_describe_module "$BENCH_BUILD/plugins/sandbag-relay/nbdkit-sandbag-relay-plugin.so"
if [ -n "${BENCH_VM_NBD_CLIENT:-}" ]; then
  echo "other:    $BENCH_VM_NBD_CLIENT ($( { "$BENCH_VM_NBD_CLIENT" -V; "$BENCH_VM_NBD_CLIENT" --help; } 2>&1 | grep -m1 -Ei '^nbd-client version|from nbd')) $BENCH_VM_NBD_CLIENT_ARGS"
  vm_add "$BENCH_VM_NBD_CLIENT" nbd-client-other
  vm_set OTHER_ARGS "$BENCH_VM_NBD_CLIENT_ARGS"
fi

mkdir "$tmp/tree" "$tmp/vol"
"$BENCH_BUILD/tests/vm/stall-probe" make "$tmp/tree/data" "$BENCH_VM_MIB" 1
mkfs.erofs --quiet -T0 "$tmp/vol.erofs" "$tmp/tree"
"$BENCH_BUILD/tools/sandbag-publish/sandbag-publish" publish --version=1 \
  "$tmp/vol" vol "$tmp/vol.erofs" > /dev/null
port=$(free_port)
vm_serve "$tmp/server.pid" "$port" "$tmp/state" dir="$tmp/vol"
for v in ROUNDS RESTARTS DOWN AFTER VM_MIB VM_STORM; do
  eval "vm_set $v \"\$BENCH_$v\""
done
vm_set SERVER "$VM_SERVER"
vm_set PORT "$port"

# The guest's requests: stop and start the server, record a result.
server_cpu0=0
vm_request ()
{
  case $1 in
    stop)
      stopped=${EPOCHREALTIME/./}
      stop_pid "$tmp/server.pid" ;;
    # start: answers how long the server was down (from SIGTERM to
    # listening again) and how many ms ago it started listening.
    start)
      vm_server_start "$tmp/server.pid"
      server_cpu0=$(server_cpu_ticks "$tmp/server.pid")
      vm_reply="$(( (vm_server_up[$tmp/server.pid] - stopped) / 1000 ))"
      vm_reply+=" $(( (${EPOCHREALTIME/./} - vm_server_up[$tmp/server.pid]) / 1000 ))" ;;
    storm-end)
      printf 'relay\tstorm\t%s\tserver_cpu_s\t%s\n' "$2" "$(awk -v t=$(( $(server_cpu_ticks "$tmp/server.pid") - server_cpu0 )) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }')" >> "$results" ;;
    result) shift; printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$results" ;;
    *) return 1 ;;
  esac
}
# Reads fail on the configurations that do not survive a restart.
VM_KERNEL_ALLOW=.

# (The harness's log, the guest's console among it, goes to vm.log.)
vm_run bench - $(( 600 + BENCH_RESTARTS * (BENCH_DOWN + BENCH_AFTER + 60) )) \
  2> "$tmp/vm.log" <<'GUEST' || bench_die "the guest failed: $(grep -v '^+' "$tmp/bench.log" | tail -30)"
set +x
result () { host_request result "$@" > /dev/null; }
busy () { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
cpu_of () { [ -n "$1" ] && awk '{ print $14 + $15 }' /proc/$1/stat || echo 0; }
calc () { awk "BEGIN { printf \"%.3f\", $1 }"; }

configs="relay direct"
mkdir -p /mnt/relay /mnt/direct /mnt/other
sandbag-attach mount vol /mnt/relay "nbd://$SERVER:$PORT"
relay_pid=$(cat /run/sandbag-attach/%2Fmnt%2Frelay/vol%401/relay.pid)
nbd-client "$SERVER" "$PORT" /dev/nbd15 -N vol@1 -readonly -timeout 30 \
  -connections 2 > /dev/null
mount -o ro /dev/nbd15 /mnt/direct
if [ -x /vm/nbd-client-other ]; then
  configs="$configs other"
  /vm/nbd-client-other "$SERVER" "$PORT" /dev/nbd14 -N vol@1 -readonly \
    -timeout 30 -connections 2 $OTHER_ARGS > /tmp/other.log 2>&1 &
  until [ "$(cat /sys/block/nbd14/size)" != 0 ]; do sleep 0.2; done
  mount -o ro /dev/nbd14 /mnt/other
fi
echo "attached: $configs"

# seq: each configuration in turn, the order rotated each round.
r=1
while [ $r -le $ROUNDS ]; do
  set -- $configs
  i=1
  while [ $i -lt $r ]; do first=$1; shift; set -- "$@" $first; i=$((i + 1)); done
  for c in "$@"; do
    echo 3 > /proc/sys/vm/drop_caches
    p=; [ $c = relay ] && p=$relay_pid
    t0=$(stall-probe now) b0=$(busy) p0=$(cpu_of $p)
    cat /mnt/$c/data > /dev/null
    t1=$(stall-probe now) b1=$(busy) p1=$(cpu_of $p)
    echo "seq round $r $c: $((t1 - t0)) ms"
    result $c seq $r mib_s $(calc "$VM_MIB * 1000 / ($t1 - $t0)")
    result $c seq $r guest_cpu_ms_per_mib $(calc "($b1 - $b0) * 10 / $VM_MIB")
    [ -z "$p" ] || result $c seq $r relay_cpu_ms_per_mib $(calc "($p1 - $p0) * 10 / $VM_MIB")
  done
  r=$((r + 1))
done

# probe_all TEST ROUND INTERVAL MOUNTS...: probe the mounts through a
# server restart; record each one's figures under TEST.
probe_all ()
{
  local test=$1 round=$2 interval=$3 m rec
  shift 3
  echo 3 > /proc/sys/vm/drop_caches
  for m in "$@"; do
    stall-probe run /mnt/$m/data 1 $interval /tmp/mark > /tmp/probe.$m 2> /tmp/probe.$m.err &
    echo $! > /tmp/probe.$m.pid
  done
  sleep 2
  host_request stop > /dev/null
  sleep $DOWN
  # The server listens since the host's answer says how many ms.
  reply=$(host_request start)
  echo $(( $(stall-probe now) - ${reply##* } )) > /tmp/mark
  reply=${reply% *}
  down_ms=${reply##* }
  # (A probe on a dead device may have ended already: it could not
  # even open the file.)
  for m in "$@"; do kill -USR1 $(cat /tmp/probe.$m.pid) 2> /dev/null || :; done
  sleep $AFTER
  for m in "$@"; do kill $(cat /tmp/probe.$m.pid) 2> /dev/null || :; done
  for m in "$@"; do
    status=0
    wait $(cat /tmp/probe.$m.pid) || status=$?
    [ $test = storm ] || result $m $test $round down_s $(calc "$down_ms / 1000")
    if [ $status = 1 ]; then
      echo "$m: OTHER BYTES: $(head -3 /tmp/probe.$m.err)"
    elif [ $status != 0 ]; then
      echo "$test $round $m: no probe: $(tail -1 /tmp/probe.$m.err)"
      [ $test = storm ] || result $m $test $round recovered 0
      continue
    fi
    echo "$test $round $m: $(tr '\n' ' ' < /tmp/probe.$m)"
    rec=$(sed -n 's/^recovery_ms //p' /tmp/probe.$m)
    [ $test = storm ] && continue
    result $m $test $round stall_s $(calc "$(sed -n 's/^longest_gap_ms //p' /tmp/probe.$m) / 1000")
    result $m $test $round errors $(sed -n 's/^errors //p' /tmp/probe.$m)
    result $m $test $round wrong $(sed -n 's/^wrong //p' /tmp/probe.$m)
    if [ "$rec" -ge 0 ]; then
      result $m $test $round recovery_s $(calc "$rec / 1000")
      result $m $test $round recovered 1
    else
      result $m $test $round recovered 0
    fi
  done
}

r=1
while [ $r -le $RESTARTS ]; do
  probe_all restart $r 10 $configs
  r=$((r + 1))
done

# storm: VM_STORM relays, one connection each, through one restart.
mounts=
i=1
while [ $i -le $VM_STORM ]; do
  mkdir -p /mnt/s$i
  sandbag-attach mount -C 1 vol /mnt/s$i "nbd://$SERVER:$PORT" > /dev/null
  mounts="$mounts s$i"
  i=$((i + 1))
done
if [ -n "$mounts" ]; then
  probe_all storm 1 100 $mounts
  host_request storm-end 1 > /dev/null
  worst=-1 served=0
  for m in $mounts; do
    rec=$(sed -n 's/^recovery_ms //p' /tmp/probe.$m)
    [ "$rec" -ge 0 ] || continue
    served=$((served + 1))
    [ "$rec" -le $worst ] || worst=$rec
  done
  result relay storm 1 served $served
  [ $served != $VM_STORM ] || result relay storm 1 all_served_s $(calc "$worst / 1000")
fi
GUEST

grep -E '^(attached|seq|restart|storm) ' "$tmp/bench.log" | sed 's/^/guest: /'
echo
$PY "$bench_libdir/table.py" "$results" --peer direct \
  --col seq:mib_s:"seq MiB/s" \
  --col seq:guest_cpu_ms_per_mib:"guest CPU ms/MiB" \
  --info seq:relay_cpu_ms_per_mib:"relay CPU ms/MiB" \
  --info restart:recovered:"recovered" \
  --info restart:down_s:"down s" \
  --info restart:recovery_s:"recovery s" \
  --info restart:stall_s:"stall s" \
  --info restart:errors:"read errors" \
  --info restart:wrong:"other bytes"
if [ "$BENCH_VM_STORM" -gt 0 ]; then
  echo
  echo "storm: $(awk -F'\t' '$2 == "storm" { printf "%s %s  ", $4, $5 }' "$results")"
fi
