#!/usr/bin/env bash
# VM, sandbag-attach 1: a mount survives what the Internet does to its
# connections.  The guest mounts a published volume with sandbag-attach
# (the kernel's nbd device on the local relay, two connections) and
# reads every file against the host's manifest over and over, caches
# dropped before each pass, while the host, one after the other:
#   restart    restarts the server (SIGTERM, as an upgrade would);
#   kill       kills it (SIGKILL) and starts it 2 s later, three times;
#   idle       lets ratetier close the relay's connections as idle (the
#              server's ratetier-idle-timeout is 3 s here; the reader
#              pauses until the server has no connection left);
#   publish    publishes a new version of the volume and restarts the
#              server: the mount stays on its pinned version;
#   block      drops the server's packets (nftables in the server's
#              network namespace) for 4 s.
# Every pass must read the right bytes of the pinned version with no
# error: a failed read fails the guest's script, and any kernel I/O
# error fails the run.  Then sandbag-attach status reports the
# reconnections and no error, and detach leaves nothing behind.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require_client
requires mkfs.erofs --help
requires nft --version

python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tmp/tree1"
cp -a "$tmp/tree1" "$tmp/tree2"
head -c $((3 << 20)) /dev/urandom > "$tmp/tree2/big/blob1"
mkfs.erofs --quiet -T0 "$tmp/vol1.erofs" "$tmp/tree1"
mkfs.erofs --quiet -T0 "$tmp/vol2.erofs" "$tmp/tree2"
mkdir "$tmp/volumes"
"$SANDBAG_PUBLISH" publish --version=1 "$tmp/volumes" vol "$tmp/vol1.erofs"
vm_manifest "$tmp/tree1" > "$tmp/manifest1"
vm_add "$tmp/manifest1"

vm_netns_setup 1
VM_NETNS=$(vm_netns 1)
port=10809
vm_serve "$tmp/pid" "$port" "$tmp/state" dir="$tmp/volumes" \
  ratetier-idle-timeout=3 ratetier-status-interval=1s
vm_set SERVER "nbd://$VM_SERVER:$port"

# established: the server's established connections now.
established ()
{
  ip netns exec "$VM_SERVER_NS" ss -Htn state established "( sport = :$port )" |
    wc -l
}

vm_request ()
{
  local i
  case $1 in
    restart) vm_server_restart "$tmp/pid" ;;
    kill)
      vm_server_kill "$tmp/pid"
      sleep 2
      vm_server_start "$tmp/pid" ;;
    # idle: wait until the server has closed the relay's connection for
    # being idle (its guard counts it) and has none left.
    idle)
      for (( i=0; i < 300; i++ )); do
        if [ "$(established)" = 0 ] &&
           grep -Eq '^ratetier_guard_trips_total\{limit="idle-timeout"\} [1-9]' \
             "$tmp/state/ratetier.prom"; then
          return 0
        fi
        sleep 0.1
      done
      return 1 ;;
    publish)
      "$SANDBAG_PUBLISH" publish --version=2 "$tmp/volumes" vol \
        "$tmp/vol2.erofs"
      vm_server_restart "$tmp/pid" ;;
    block)
      ip netns exec "$VM_SERVER_NS" nft -f - <<EOF
table inet sandbag_block {
  chain input {
    type filter hook input priority 0;
    tcp dport $port drop
  }
}
EOF
      sleep 4
      ip netns exec "$VM_SERVER_NS" nft delete table inet sandbag_block ;;
    *) return 1 ;;
  esac
}

vm_run attach-reconnect - 400 <<'GUEST'
attach_debug
mkdir -p /mnt/vol
sandbag-attach mount --give-up=2m vol /mnt/vol "$SERVER" | tee /tmp/out
grep -Eq '^vol@1 /dev/nbd[0-9]+$' /tmp/out
[ "$(attach_status /mnt/vol mode)" = nbd ]
check_manifest /mnt/vol /vm/manifest1
sleep 1.5                       # the relay's status file is per second
[ "$(attach_status /mnt/vol connections)" -ge 1 ]

reader_start /mnt/vol /vm/manifest1
reader_wait 1
for event in restart kill kill kill idle publish block; do
  [ $event = idle ] && reader_pause
  host_request $event
  reader_resume
  # A whole pass after the event, besides the one it interrupted.
  reader_wait 2
done
reader_stop

sandbag-attach status /mnt/vol | tee /tmp/status
grep -qx 'pinned vol@1' /tmp/status
grep -qx 'state up' /tmp/status
grep -qx 'errors 0' /tmp/status
# Each event but the block (which TCP rides out) cost connections.
[ "$(attach_status /mnt/vol reconnects)" -ge 6 ]

sandbag-attach detach /mnt/vol
! mountpoint -q /mnt/vol
[ -z "$(ls /run/sandbag-attach)" ]
! pidof nbdkit
for dev in /sys/block/nbd*; do [ ! -e $dev/pid ]; done
GUEST
