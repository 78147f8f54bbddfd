#!/usr/bin/env bash
# VM, case 3: mirrors.  Two servers (the public stack) serve
# byte-identical copies of one erofs image.  The guest attaches one from
# each with nbd-client -connections 2 and the request timeout, and
# assembles a read-only md RAID1 over them with mdadm --build
# --assume-clean (no superblock: nothing is ever written, and the copies
# are identical by construction).
#  1. Every file matches the host's manifest.
#  2. Reads are spread over both: four files read at once, and each
#     server's heat map shows that it served at least one of them.
#  3. The mirror that is serving a large file's read is killed (kill -9)
#     in the middle of it; the kernel fails the dead mirror's requests
#     when the request timeout expires, md reads them from the other
#     mirror, and the file reads back exactly.  Marking the dead mirror
#     failed (mdadm --fail) leaves the array working on the other.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require
requires mkfs.erofs --help

tree=$tmp/tree
python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tree"
mkdir "$tree/parallel"
for i in 0 1 2 3; do
  head -c $((4 << 20)) /dev/urandom > "$tree/parallel/p$i"
done
head -c $((40 << 20)) /dev/urandom > "$tree/large"
mkdir "$tmp/a" "$tmp/b"
mkfs.erofs --quiet "$tmp/a/mirror.erofs" "$tree"
cp "$tmp/a/mirror.erofs" "$tmp/b/mirror.erofs"
vm_manifest "$tree" > "$tmp/manifest"
vm_add "$tmp/manifest"
large_sum=$(sha256sum < "$tree/large")
vm_set LARGE_SUM "${large_sum%% *}"

# An uplink of 80 Mbit/s per server, so that reading the large file
# takes seconds and the kill lands in the middle of it.
VM_RATE=80M
port_a=$(free_port)
vm_serve "$tmp/a.pid" "$port_a" "$tmp/a.state" dir="$tmp/a"
port_b=$(free_port)
vm_serve "$tmp/b.pid" "$port_b" "$tmp/b.state" dir="$tmp/b"
vm_set SERVER "$VM_SERVER"
vm_set PORT_A "$port_a"
vm_set PORT_B "$port_b"

# served SERVER: the bytes that server has served, from its heat map.
served ()
{
  "$SANDBAG_HEATMAP" summary "$tmp/$1.state/heatmaps/mirror.erofs.heatmap" |
    sed -n 's/^bytes served: *\([0-9]*\) .*/\1/p'
}

declare -A before
victim=
vm_request ()
{
  local s a b
  case $1 in
    # shares-begin / shares-end: each server's share of what was read
    # in between; each must have served at least one 4 MiB file.
    shares-begin)
      for s in a b; do before[$s]=$(served "$s"); done ;;
    shares-end)
      a=$(( $(served a) - before[a] ))
      b=$(( $(served b) - before[b] ))
      echo "vm: shares of the parallel reads: server a $a bytes, server b $b bytes" >&2
      [ "$a" -ge $((4 << 20)) ] && [ "$b" -ge $((4 << 20)) ] ;;
    # kill a|b: kill that server, as a crash would.
    kill)
      victim=$2
      kill -9 "$(cat "$tmp/$victim.pid")"
      allow_victim_messages ;;
    *) return 1 ;;
  esac
}

# What the kernel may say about the dead mirror, and only about it (the
# guest says which one it is when it asks for the kill).
allow_victim_messages ()
{
  local dev other
  case $victim in
    a) dev=nbd0 other=nbd1 ;;
    b) dev=nbd1 other=nbd0 ;;
  esac
  VM_KERNEL_ALLOW="block $dev: (Receive control failed \(result -[0-9]+\)|Connection timed out, retrying \([01]/2 alive\)|Dead connection, failed to find a fallback)\$"
  VM_KERNEL_ALLOW+="|\] I/O error, dev $dev, sector [0-9]+ op 0x0:\(READ\) "
  # (mdadm --fail reads the dead device itself.)
  VM_KERNEL_ALLOW+="|\] Buffer I/O error on dev $dev, logical block [0-9]+, async page read\$"
  VM_KERNEL_ALLOW+="|md/raid1:md0: ($dev: rescheduling sector [0-9]+|redirecting sector [0-9]+ to other mirror: $other|Disk failure on $dev, disabling device\.|Operation continuing on 1 devices\.)\$"
}

vm_run mirror - 300 <<'GUEST'
nbd_attach /dev/nbd0 "$SERVER" "$PORT_A" mirror.erofs -connections 2
nbd_attach /dev/nbd1 "$SERVER" "$PORT_B" mirror.erofs -connections 2
mdadm --build /dev/md0 --level=1 --raid-devices=2 --assume-clean \
  /dev/nbd0 /dev/nbd1
cat /proc/mdstat
grep -q 'md0 : active (read-only) raid1' /proc/mdstat
mount -t erofs -o ro /dev/md0 /mnt

check_manifest /mnt /vm/manifest

echo 3 > /proc/sys/vm/drop_caches
host_request shares-begin
for i in 0 1 2 3; do cat /mnt/parallel/p$i > /dev/null & done
wait
host_request shares-end

# sectors DEVICE: sectors read from DEVICE so far.
sectors () { set -- $(cat /sys/block/$1/stat); echo $3; }
echo 3 > /proc/sys/vm/drop_caches
sha256sum /mnt/large > /tmp/large.sum &
reader=$!
# 8 MiB into the file, kill the mirror that is serving it.
while [ $(sectors md0) -lt 16384 ]; do sleep 0.1; done
a0=$(sectors nbd0) b0=$(sectors nbd1)
sleep 0.5
a=$(( $(sectors nbd0) - a0 )) b=$(( $(sectors nbd1) - b0 ))
echo "sectors read in 0.5 s: nbd0 $a, nbd1 $b"
if [ $a -gt $b ]; then victim=a dead=nbd0; else victim=b dead=nbd1; fi
started=$(date +%s)
host_request kill $victim
kill -0 $reader   # the read was still going when the mirror died
wait $reader
echo "the read finished $(( $(date +%s) - started )) s after the kill"
[ "$(cut -d' ' -f1 /tmp/large.sum)" = "$LARGE_SUM" ]

# The array still counts the dead mirror in; mark it failed, and the
# other mirror alone serves the file again.
mdadm /dev/md0 --fail /dev/$dead
cat /proc/mdstat
grep -Eq '\[2/1\] \[(U_|_U)\]' /proc/mdstat
echo 3 > /proc/sys/vm/drop_caches
[ "$(sha256sum < /mnt/large | cut -d' ' -f1)" = "$LARGE_SUM" ]
GUEST
# md rescheduled the dead mirror's requests: the kill hit reads in flight.
grep -q 'rescheduling sector' "$tmp/mirror.kernel"
