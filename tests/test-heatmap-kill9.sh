#!/usr/bin/env bash
# heatmap: kill -9 of nbdkit loses no count, even with a sync interval
# far longer than the test (the kernel keeps the dirty pages of the
# shared mapping), and the map loads cleanly in the next run.
source "$(dirname "$0")/functions.sh"
set -e -x

img=$tmp/disk.img
map=$tmp/disk.heatmap
sock=$tmp/sock
head -c $((1024 * 1024)) /dev/urandom > "$img"

start_nbdkit "$tmp/pid" -U "$sock" --filter="$HEATMAP_FILTER" \
  "$SANDBAG_PLUGIN" file="$img" heatmap="$map" heatmap-block=64K \
  heatmap-sync=1d
nbdsh -u "nbd+unix://?socket=$sock" -c '
for i in range(7):
    h.pread(4096, 65536 * (i % 2))
'
pid=$(cat "$tmp/pid")
kill -9 "$pid"
for (( i=0; i < 100; i++ )); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then echo "nbdkit survived kill -9"; exit 1; fi

"$SANDBAG_HEATMAP" csv "$map" > "$tmp/csv1"
cat "$tmp/csv1"
grep -x '0,4,[0-9.]*,[0-9.]*,16384' "$tmp/csv1"
grep -x '65536,3,[0-9.]*,[0-9.]*,12288' "$tmp/csv1"

# The next run loads the same map and keeps counting.
nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$img" \
  heatmap="$map" heatmap-block=64K --run 'nbdsh -u "$uri" -c "h.pread(1, 0)"'
"$SANDBAG_HEATMAP" csv "$map" > "$tmp/csv2"
grep -x '0,5,[0-9.]*,[0-9.]*,16385' "$tmp/csv2"
test "$(ls "$tmp" | grep -c heatmap)" -eq 1
