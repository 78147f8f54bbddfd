#!/usr/bin/env bash
# VM, sandbag-attach 3: mirrors.  Two servers serve copies of one
# published volume; the guest (two CPUs, so that the kernel uses both
# of the device's connections) mounts it from both with sandbag-attach
# -C 2 and reads every file against the manifest over and over, caches
# dropped before each pass.  The host kills (SIGKILL) the mirror that
# has the relay's connections, for good, in the middle of a pass: the
# mount goes on reading from the other mirror with no error, and
# sandbag-attach status shows every connection on the live one.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require_client
requires mkfs.erofs --help

python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tmp/tree"
mkfs.erofs --quiet -T0 "$tmp/vol.erofs" "$tmp/tree"
mkdir "$tmp/a"
"$SANDBAG_PUBLISH" publish --version=1 "$tmp/a" vol "$tmp/vol.erofs"
cp -a "$tmp/a" "$tmp/b"
vm_manifest "$tmp/tree" > "$tmp/manifest"
vm_add "$tmp/manifest"

declare -A port
for s in a b; do
  port[$s]=$(free_port)
  vm_serve "$tmp/$s.pid" "${port[$s]}" "$tmp/$s.state" dir="$tmp/$s"
  vm_set "SERVER_$s" "nbd://$VM_SERVER:${port[$s]}"
done

# established SERVER: that server's established connections.
established ()
{
  ss -Htn state established "( sport = :${port[$1]} )" | wc -l
}

vm_request ()
{
  local victim=a
  case $1 in
    # kill-serving: kill the mirror with the most connections; it must
    # have some.  Says which on the guest's console.
    kill-serving)
      echo "vm: connections: a $(established a), b $(established b)" >&2
      [ "$(established b)" -gt "$(established a)" ] && victim=b
      [ "$(established $victim)" -gt 0 ]
      vm_server_kill "$tmp/$victim.pid"
      echo "$victim" > "$tmp/victim" ;;
    # killed SERVER: whether that is the mirror killed.
    killed) [ "$(cat "$tmp/victim")" = "$2" ] ;;
    *) return 1 ;;
  esac
}

SANDBAG_VM_SMP=2 vm_run attach-mirrors - 300 <<'GUEST'
attach_debug
mkdir -p /mnt/vol
sandbag-attach mount -C 2 --give-up=1m vol /mnt/vol "$SERVER_a" "$SERVER_b"
check_manifest /mnt/vol /vm/manifest

reader_start /mnt/vol /vm/manifest
reader_wait 1
host_request kill-serving
reader_wait 2
reader_stop

sleep 1.5                       # the relay's status file is per second
sandbag-attach status /mnt/vol | tee /tmp/status
grep -qx 'errors 0' /tmp/status
grep -qx 'connections 2' /tmp/status
[ "$(attach_status /mnt/vol reconnects)" -ge 1 ]
# Both connections on the live mirror.  (The dead one is "idle" if the
# relay had no reason to try it again, "down" if it did.)
if host_request killed a; then
  dead=$SERVER_a live=$SERVER_b
else
  dead=$SERVER_b live=$SERVER_a
fi
grep -Eq "^source $live up connections=2 " /tmp/status
grep -Eq "^source $dead (idle|down) connections=0 " /tmp/status
sandbag-attach detach /mnt/vol
GUEST
