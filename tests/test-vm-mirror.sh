#!/usr/bin/env bash
# VM, case 3: mirrors.  Three servers (the public stack) serve
# byte-identical copies of one erofs image.  The guest attaches one
# device from each with nbd-client and the request timeout, and
# assembles a read-only md RAID1 over them with mdadm --build
# --assume-clean (no superblock: nothing is ever written, and the copies
# are identical by construction).
#  1. Every file matches the host's manifest.
#  2. Reads are spread: six files read at once, and each server's heat
#     map shows that it served at least one of them.
#  3. The mirror serving a large file's read is killed (kill -9) in the
#     middle of it: its connections close, the kernel fails at once the
#     requests it sends there afterwards, and those it had sent before
#     when the request timeout expires (without a timeout it would wait
#     for them forever); md reads them from another mirror, and the file
#     reads back exactly.
#  4. The mirror serving the next read stops answering (SIGSTOP: a hung
#     server, or a network that drops its packets; its connections stay
#     open) in the middle of it: the same, after the timeout.
#  After each failure the guest marks the dead mirror failed (mdadm
#  --fail), as an admin would; the last mirror alone then serves the
#  file.
# Each mirror has one connection: a server that stops answering stalls
# reads for the timeout once per connection, as each connection's
# requests time out and move to the next connection of the same server.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require
requires mkfs.erofs --help

tree=$tmp/tree
python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tree"
mkdir "$tree/parallel"
for i in 0 1 2 3 4 5; do
  head -c $((4 << 20)) /dev/urandom > "$tree/parallel/p$i"
done
head -c $((40 << 20)) /dev/urandom > "$tree/large"
mkdir "$tmp/a"
mkfs.erofs --quiet "$tmp/a/mirror.erofs" "$tree"
vm_manifest "$tree" > "$tmp/manifest"
vm_add "$tmp/manifest"
large_sum=$(sha256sum < "$tree/large")
vm_set LARGE_SUM "${large_sum%% *}"

# An uplink of 80 Mbit/s per server, so that reading the large file
# takes seconds and the failures land in the middle of it.
VM_RATE=80M
vm_set SERVER "$VM_SERVER"
for s in a b c; do
  [ -d "$tmp/$s" ] || cp -r "$tmp/a" "$tmp/$s"
  port=$(free_port)
  vm_serve "$tmp/$s.pid" "$port" "$tmp/$s.state" dir="$tmp/$s"
  vm_set "PORT_$s" "$port"
done

# served SERVER: the bytes that server has served, from its heat map.
served ()
{
  "$SANDBAG_HEATMAP" summary "$tmp/$1.state/heatmaps/mirror.erofs.heatmap" |
    sed -n 's/^bytes served: *\([0-9]*\) .*/\1/p'
}

# What the kernel may say about the dead mirrors, and only about them:
# their devices are nbd0, nbd1 and nbd2 for servers a, b and c.
dead_devices=
allow_dead_messages ()
{
  local dev=$dead_devices
  VM_KERNEL_ALLOW="block ($dev): (Receive control failed \(result -[0-9]+\)|Connection timed out(, retrying \([0-9]+/[0-9]+ alive\))?|Dead connection, failed to find a fallback)\$"
  VM_KERNEL_ALLOW+="|\] I/O error, dev ($dev), sector [0-9]+ op 0x0:\(READ\) "
  # (mdadm --fail reads the dead device itself.)
  VM_KERNEL_ALLOW+="|\] Buffer I/O error on dev ($dev), logical block [0-9]+, async page read\$"
  VM_KERNEL_ALLOW+="|md/raid1:md0: (($dev): rescheduling sector [0-9]+|redirecting sector [0-9]+ to other mirror: nbd[0-2]|Disk failure on ($dev), disabling device\.|Operation continuing on [12] devices\.)\$"
}

declare -A before
vm_request ()
{
  local s share ok=0 pid
  case $1 in
    # shares-begin / shares-end: each server's share of what was read
    # in between; each must have served at least one 4 MiB file.
    shares-begin)
      for s in a b c; do before[$s]=$(served "$s"); done ;;
    shares-end)
      for s in a b c; do
        share=$(( $(served "$s") - before[$s] ))
        echo "vm: share of the parallel reads: server $s $share bytes" >&2
        [ "$share" -ge $((4 << 20)) ] || ok=1
      done
      return $ok ;;
    # kill|freeze SERVER: kill that server as a crash would, or stop it
    # as a hang would (killed for good when the test ends).
    kill|freeze)
      pid=$(cat "$tmp/$2.pid")
      dead_devices+=${dead_devices:+|}nbd$(( $(printf %d "'$2") - 97 ))
      allow_dead_messages
      if [ "$1" = kill ]; then
        kill -9 "$pid"
      else
        kill -STOP "$pid"
        cleanup_fn "kill -9 $pid"
      fi ;;
    *) return 1 ;;
  esac
}

vm_run mirror - 300 <<'GUEST'
nbd_attach /dev/nbd0 "$SERVER" "$PORT_a" mirror.erofs
nbd_attach /dev/nbd1 "$SERVER" "$PORT_b" mirror.erofs
nbd_attach /dev/nbd2 "$SERVER" "$PORT_c" mirror.erofs
mdadm --build /dev/md0 --level=1 --raid-devices=3 --assume-clean \
  /dev/nbd0 /dev/nbd1 /dev/nbd2
cat /proc/mdstat
grep -q 'md0 : active (read-only) raid1' /proc/mdstat
mount -t erofs -o ro /dev/md0 /mnt

check_manifest /mnt /vm/manifest

echo 3 > /proc/sys/vm/drop_caches
host_request shares-begin
for i in 0 1 2 3 4 5; do cat /mnt/parallel/p$i > /dev/null & done
wait
host_request shares-end

# sectors DEVICE: sectors read from DEVICE so far.
sectors () { set -- $(cat /sys/block/$1/stat); echo $3; }
# serving: the server (a, b or c) whose device read the most in half a
# second, of those not marked failed yet.
serving ()
{
  local d most=-1 best before n
  for d in 0 1 2; do eval s$d=$(sectors nbd$d); done
  sleep 0.5
  for d in 0 1 2; do
    grep -q "nbd$d\[[0-9]*\](F)" /proc/mdstat && continue
    eval "before=\$s$d"
    n=$(( $(sectors nbd$d) - before ))
    echo "nbd$d read $n sectors in 0.5 s" >&2
    if [ $n -gt $most ]; then most=$n best=$d; fi
  done
  echo abc | cut -c$((best + 1))
}
# fail_while_reading kill|freeze: read the large file and, 8 MiB into
# it, have the mirror serving it killed or frozen; the read must finish
# with the right data.  Then mark that mirror failed, as an admin would,
# so that md stops trying it.
fail_while_reading ()
{
  local reader victim started start
  echo 3 > /proc/sys/vm/drop_caches
  start=$(sectors md0)
  sha256sum /mnt/large > /tmp/large.sum &
  reader=$!
  while [ $(( $(sectors md0) - start )) -lt 16384 ]; do sleep 0.1; done
  victim=$(serving)
  started=$(date +%s)
  host_request $1 $victim
  kill -0 $reader   # the read was still going when the mirror failed
  wait $reader
  echo "$1 $victim: the read finished $(( $(date +%s) - started )) s later"
  [ "$(cut -d' ' -f1 /tmp/large.sum)" = "$LARGE_SUM" ]
  mdadm /dev/md0 --fail /dev/nbd$(( $(printf %d "'$victim") - 97 ))
  cat /proc/mdstat
}
fail_while_reading kill
fail_while_reading freeze

# The last mirror alone serves the file.
grep -Eq '\[3/1\] \[(U__|_U_|__U)\]' /proc/mdstat
echo 3 > /proc/sys/vm/drop_caches
[ "$(sha256sum < /mnt/large | cut -d' ' -f1)" = "$LARGE_SUM" ]
GUEST
# md rescheduled the dead mirrors' requests: the failures hit reads in
# flight.
grep -q 'rescheduling sector' "$tmp/mirror.kernel"
