#!/usr/bin/env bash
# heatmap: the filter's own identity reads respect the block sizes the
# backend advertises (a small maximum, a large minimum and an image size
# that is not a multiple of it), so the map is still made and counts.
source "$(dirname "$0")/functions.sh"
set -e -x

# 1 MiB + 8 KiB: the last 8 KiB are not a whole 64 KiB minimum block.
head -c $((1024 * 1024 + 8192)) /dev/urandom > "$tmp/odd.img"
nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$tmp/odd.img" \
  minimum=64K preferred=64K maximum=64K \
  heatmap="$tmp/odd.heatmap" heatmap-block=64K \
  --run 'nbdsh -u "$uri" -c "h.pread(65536, 65536)"' 2> "$tmp/log"
cat "$tmp/log"
test ! -s "$tmp/log"
"$SANDBAG_HEATMAP" csv "$tmp/odd.heatmap" | grep -x '65536,1,[0-9.]*,[0-9.]*,65536'

# A maximum request size of 4 KiB: the 64 KiB samples are read in pieces.
head -c $((1024 * 1024)) /dev/urandom > "$tmp/disk.img"
nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" \
  file="$tmp/disk.img" minimum=512 preferred=4K maximum=4K \
  heatmap="$tmp/disk.heatmap" heatmap-block=64K \
  --run 'nbdsh -u "$uri" -c "h.pread(4096, 0)"' 2> "$tmp/log"
cat "$tmp/log"
test ! -s "$tmp/log"
"$SANDBAG_HEATMAP" csv "$tmp/disk.heatmap" | grep -x '0,1,[0-9.]*,[0-9.]*,4096'
