#!/usr/bin/env bash
# heatmap: a map survives a restart of nbdkit: the second run loads the
# map of the first (no new file, nothing renamed aside) and adds to it.
source "$(dirname "$0")/functions.sh"
set -e -x

img=$tmp/disk.img
map=$tmp/disk.heatmap
head -c $((1024 * 1024)) /dev/urandom > "$img"

stack=(--filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$img"
       heatmap="$map" heatmap-block=64K)

serve "${stack[@]}" -- 'for _ in range(3): h.pread(4096, 0)'
"$SANDBAG_HEATMAP" csv "$map" > "$tmp/csv1"
grep -x '0,3,[0-9.]*,[0-9.]*,12288' "$tmp/csv1"
inode1=$(stat -c %i "$map")

serve "${stack[@]}" -- 'h.pread(4096, 0); h.pread(10, 65536)'
"$SANDBAG_HEATMAP" csv "$map" > "$tmp/csv2"
cat "$tmp/csv2"
grep -x '0,4,[0-9.]*,[0-9.]*,16384' "$tmp/csv2"
grep -x '65536,1,[0-9.]*,[0-9.]*,10' "$tmp/csv2"

# The first read time of block 0 is still the one of the first run.
first1=$(grep '^0,' "$tmp/csv1" | cut -d, -f3)
first2=$(grep '^0,' "$tmp/csv2" | cut -d, -f3)
test "$first1" = "$first2"

# Same file, nothing renamed aside.
test "$(stat -c %i "$map")" = "$inode1"
test "$(ls "$tmp" | grep -c heatmap)" -eq 1
