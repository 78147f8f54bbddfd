#!/usr/bin/env bash
# heatmap: when the map cannot be written (read-only file system, full
# file system) every read is still served, the reason is logged once,
# and no stray file is left behind.
source "$(dirname "$0")/functions.sh"
set -e -x
requires_root
requires mount --version

img=$tmp/disk.img
head -c $((1024 * 1024)) /dev/urandom > "$img"
truncate -s 64M "$tmp/sparse.img"

# read_three IMAGE MAP LOG: serve IMAGE with its map at MAP; three
# connections each read and check 64 KiB; nbdkit's messages go to LOG.
read_three ()
{
  IMAGE=$1 serve --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$1" \
    heatmap="$2" heatmap-block=4K -- '
import os
want = open(os.environ["IMAGE"], "rb").read(65536)
for i in range(3):
    c = nbd.NBD()
    c.connect_uri(os.environ["uri"])
    assert c.pread(65536, 0) == want
    c.shutdown()
' 2> "$3"
  cat "$3"
}

# Read-only file system.
mkdir "$tmp/ro"
mount -t tmpfs -o ro,size=1m tmpfs "$tmp/ro"
cleanup_fn umount "$tmp/ro"
read_three "$img" "$tmp/ro/disk.heatmap" "$tmp/log-ro"
test "$(grep -c 'Read-only file system' "$tmp/log-ro")" -eq 1
grep "heatmap: create a temporary file for $tmp/ro/disk.heatmap: Read-only file system; serving this export without a heat map" \
  "$tmp/log-ro"

# Full file system: a 64 MiB image in 4 KiB blocks needs a 512 KiB map,
# the file system has 64 KiB.  posix_fallocate fails at creation, so the
# filter never touches a page it cannot write.
mkdir "$tmp/full"
mount -t tmpfs -o size=64k tmpfs "$tmp/full"
cleanup_fn umount "$tmp/full"
read_three "$tmp/sparse.img" "$tmp/full/sparse.heatmap" "$tmp/log-full"
test "$(grep -c 'No space left on device' "$tmp/log-full")" -eq 1
grep "heatmap: allocate 528384 bytes: .*: No space left on device; serving this export without a heat map" \
  "$tmp/log-full"
test -z "$(ls -A "$tmp/full")"
