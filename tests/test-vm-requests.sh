#!/usr/bin/env bash
# VM, case 5: what the kernel really sends.  nbdkit's log filter records
# every request the guest's kernel sends for two workloads on a mounted
# volume, attached with the documented nbd-client command
# (-connections 4 and the request timeout), guest caches dropped first:
#   cat   a 32 MiB file read end to end;
#   find  find over a tree of about 1250 entries
# on an erofs image (and, from the second server below, on ext4 and
# squashfs images of the same tree).
# Twice: from the public stack as deployed (the plugin serializes each
# connection's requests, so a connection never has more than one in
# flight at the server), and from sandbag with serialize=false, where
# the log shows how many requests the kernel keeps in flight on one
# connection.  The cat is repeated on the second server with the
# device's readahead raised from its default to 1 MiB, and then also the
# largest request (max_sectors_kb).  The guest has two CPUs, since the
# kernel maps each CPU to one of the connections.
# The figures go to the test log (docs/benchmarks.md quotes them); the
# test checks that they are complete and plausible: the file read (all
# but what the page cache kept), nothing but reads, reads no larger
# than the readahead window and the largest request allowed.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require
requires mkfs.erofs --help
requires mkfs.ext4 -V
requires mksquashfs -version

tree=$tmp/tree
python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tree" 6
head -c $((32 << 20)) /dev/urandom > "$tree/large"
mkdir "$tmp/images"
mkfs.erofs --quiet "$tmp/images/volume.erofs" "$tree"
mkfs.ext4 -q -F -b 4096 -d "$tree" "$tmp/images/volume.ext4" 64M
mksquashfs "$tree" "$tmp/images/volume.squashfs" -quiet -no-progress
find "$tree" | wc -l

# deployed: the public stack, with the log filter outside it.
port_d=$(free_port)
VM_SERVE_FILTERS=(--filter=log)
vm_serve "$tmp/deployed.pid" "$port_d" "$tmp/state" dir="$tmp/images" \
  logfile="$tmp/deployed.log"
# parallel: sandbag alone, not serialized.
port_p=$(free_port)
start_nbdkit "$tmp/parallel.pid" -i 127.0.0.1 -p "$port_p" --filter=log \
  "$SANDBAG_PLUGIN" dir="$tmp/images" serialize=false \
  logfile="$tmp/parallel.log"
vm_set SERVER "$VM_SERVER"
vm_set PORT_DEPLOYED "$port_d"
vm_set PORT_PARALLEL "$port_p"

# begin SERVER PHASE / end SERVER PHASE: delimit a workload in the log.
declare -A first
vm_request ()
{
  local log=$tmp/$2.log
  case $1 in
    begin) first[$2-$3]=$(( $(wc -l < "$log") + 1 )) ;;
    end) python3 "$abs_top_srcdir/tests/vm/request-stats.py" "$log" \
           "${first[$2-$3]}" "$(wc -l < "$log")" "$2-$3" | tee -a "$tmp/figures" ;;
    *) return 1 ;;
  esac
}

SANDBAG_VM_SMP=2 vm_run requests - 300 <<'GUEST'
# workload SERVER PHASE COMMAND...: run COMMAND on a cold cache, between
# the marks.
workload ()
{
  local server=$1 phase=$2
  shift 2
  echo 3 > /proc/sys/vm/drop_caches
  host_request begin $server $phase
  "$@" > /dev/null
  host_request end $server $phase
}
for server in deployed parallel; do
  eval port=\$PORT_$(echo $server | tr a-z A-Z)
  nbd_attach /dev/nbd0 "$SERVER" "$port" volume.erofs -connections 4
  echo "nbd0: read_ahead_kb $(cat /sys/block/nbd0/queue/read_ahead_kb)" \
       "max_sectors_kb $(cat /sys/block/nbd0/queue/max_sectors_kb)" \
       "max_hw_sectors_kb $(cat /sys/block/nbd0/queue/max_hw_sectors_kb)" \
       "nr_requests $(cat /sys/block/nbd0/queue/nr_requests)"
  mount -t erofs -o ro /dev/nbd0 /mnt
  workload $server cat cat /mnt/large
  workload $server find find /mnt
  if [ $server = parallel ]; then
    echo 1024 > /sys/block/nbd0/queue/read_ahead_kb
    workload $server cat-ra1024 cat /mnt/large
    echo 1024 > /sys/block/nbd0/queue/max_sectors_kb
    workload $server cat-ra1024-max1024 cat /mnt/large
    # The settings outlive the attachment: back to the defaults.
    echo 128 > /sys/block/nbd0/queue/read_ahead_kb
    echo 128 > /sys/block/nbd0/queue/max_sectors_kb
  fi
  umount /mnt
  nbd-client -d /dev/nbd0
done
# The same two workloads on ext4 and squashfs images of the tree.
for fs in ext4 squashfs; do
  nbd_attach /dev/nbd0 "$SERVER" "$PORT_PARALLEL" volume.$fs -connections 4
  [ "$(cat /sys/block/nbd0/queue/read_ahead_kb)" = 128 ]
  mount -t $fs -o ro /dev/nbd0 /mnt
  workload parallel $fs-cat cat /mnt/large
  workload parallel $fs-find find /mnt
  umount /mnt
  nbd-client -d /dev/nbd0
done
GUEST

cat "$tmp/figures"
# figure NAME KEY: one figure of the table.
figure () { sed -n "s/^$1: $2 //p" "$tmp/figures"; }
for w in deployed-cat parallel-cat parallel-cat-ra1024 \
         parallel-cat-ra1024-max1024 parallel-ext4-cat parallel-squashfs-cat; do
  [ "$(figure "$w" bytes)" -ge $((31 << 20)) ]
done
[ "$(figure deployed-find reads)" -gt 0 ]
[ "$(figure parallel-find reads)" -gt 0 ]
[ "$(figure parallel-ext4-find reads)" -gt 0 ]
[ "$(figure parallel-squashfs-find reads)" -gt 0 ]
[ "$(figure deployed-cat max_inflight)" = 1 ]
for w in deployed-cat parallel-cat parallel-cat-ra1024 parallel-ext4-cat; do
  [ "$(figure "$w" largest)" -le $((128 << 10)) ]
done
[ "$(figure parallel-cat-ra1024-max1024 largest)" -le $((1024 << 10)) ]
! grep 'other requests' "$tmp/figures"
