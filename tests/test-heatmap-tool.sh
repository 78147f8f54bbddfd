#!/usr/bin/env bash
# heatmap: sandbag-heatmap summary and top give the right answers for a
# known pattern of reads, and every command fails with its documented
# exit code and a clear message on missing, foreign or truncated files
# and on bad usage.
source "$(dirname "$0")/functions.sh"
set -e -x

img=$tmp/disk.img
map=$tmp/disk.heatmap
head -c $((1024 * 1024)) /dev/urandom > "$img"

nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$img" \
  heatmap="$map" heatmap-block=64K --run 'nbdsh -u "$uri" -c "
for i in range(10): h.pread(512, 0)             # heat block 0: 10 reads
for i in range(3): h.pread(131072, 196608)      # heat blocks 3-4: 3 each
h.pread(1, 524288)                              # heat block 8: 1
"'

"$SANDBAG_HEATMAP" summary "$map" > "$tmp/summary"
cat "$tmp/summary"
grep -x 'image size:       1048576 bytes (1.0 MiB)' "$tmp/summary"
grep -x 'heat block:       65536 bytes (64.0 KiB), 16 heat blocks' "$tmp/summary"
grep -x 'heat blocks read: 4 of 16 (25.0%)' "$tmp/summary"
grep -x 'reads:            17 .*' "$tmp/summary"
grep -x 'bytes served:     398337 (389.0 KiB)' "$tmp/summary"
grep -x 'hottest range:    0-65535 (64.0 KiB), 10 to 10 reads per heat block' \
  "$tmp/summary"
grep -x 'coldest range:    589824-1048575 (448.0 KiB), never read' \
  "$tmp/summary"
grep -x 'export:           (default export)' "$tmp/summary"
grep -x 'image version:    [0-9a-f]\{16\} (size=1048576 desc=1048576 bytes, modified .*)' \
  "$tmp/summary"

# top: adjacent heat blocks of the same heat merged, hottest first.
"$SANDBAG_HEATMAP" top 10 "$map" > "$tmp/top"
cat "$tmp/top"
test "$(wc -l < "$tmp/top")" -eq 4
sed -n 2p "$tmp/top" | grep '^0  *65536  *10  *10  *5120  '
sed -n 3p "$tmp/top" | grep '^196608  *131072  *6  *3  *393216  '
sed -n 4p "$tmp/top" | grep '^524288  *65536  *1  *1  *1  '
"$SANDBAG_HEATMAP" top 1 "$map" | tail -n +2 > "$tmp/top1"
test "$(wc -l < "$tmp/top1")" -eq 1

# expect STATUS MESSAGE CMD...: CMD exits with STATUS and says MESSAGE.
expect ()
{
  local want=$1 msg=$2 status=0
  shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" || status=$?
  cat "$tmp/err"
  test "$status" -eq "$want"
  grep -F -- "$msg" "$tmp/err"
}

# 1: usage.
expect 1 'no command given' "$SANDBAG_HEATMAP"
expect 1 'unknown command "frob"' "$SANDBAG_HEATMAP" frob "$map"
expect 1 'summary takes one FILE' "$SANDBAG_HEATMAP" summary
expect 1 'top: N must be a positive number' "$SANDBAG_HEATMAP" top 0 "$map"
expect 1 'top: N must be a positive number' "$SANDBAG_HEATMAP" top x "$map"
expect 1 'render takes -o OUT.png' "$SANDBAG_HEATMAP" render "$map"
expect 1 'merge takes -o OUT and at least two' \
  "$SANDBAG_HEATMAP" merge -o "$tmp/m" "$map"
"$SANDBAG_HEATMAP" --help | grep '^usage: sandbag-heatmap summary FILE'

# 2: missing or unreadable.
for cmd in summary csv; do
  expect 2 "open $tmp/none: No such file or directory" \
    "$SANDBAG_HEATMAP" $cmd "$tmp/none"
done
expect 2 "not a regular file" "$SANDBAG_HEATMAP" csv "$tmp"

# 3: not a valid map.
expect 3 "$img: not a valid heat map (foreign)" \
  "$SANDBAG_HEATMAP" summary "$img"
head -c 4500 "$map" > "$tmp/short"
expect 3 "$tmp/short: not a valid heat map (truncated)" \
  "$SANDBAG_HEATMAP" top 3 "$tmp/short"
cp "$map" "$tmp/bad"
printf 'Z' | dd of="$tmp/bad" bs=1 seek=100 conv=notrunc status=none
expect 3 "$tmp/bad: not a valid heat map (corrupt): header checksum mismatch" \
  "$SANDBAG_HEATMAP" csv "$tmp/bad"
