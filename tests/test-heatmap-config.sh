#!/usr/bin/env bash
# heatmap: nonsense parameters stop nbdkit at start-up with a message
# naming the parameter; good ones are accepted.
source "$(dirname "$0")/functions.sh"
set -e -x

# The stack every case below adds parameters to.
stack=(--filter="$HEATMAP_FILTER" memory 1M)

refused 'give exactly one of heatmap=FILE or heatmap-dir=DIR' "${stack[@]}"
refused 'give exactly one of heatmap=FILE or heatmap-dir=DIR' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-dir="$tmp"
refused 'heatmap given more than once' \
  "${stack[@]}" heatmap="$tmp/a" heatmap="$tmp/b"
refused 'heatmap-dir given more than once' \
  "${stack[@]}" heatmap-dir="$tmp" heatmap-dir="$tmp"
refused "heatmap-dir: $tmp/none: No such file or directory" \
  "${stack[@]}" heatmap-dir="$tmp/none"
refused "heatmap: $tmp/none: No such file or directory" \
  "${stack[@]}" heatmap="$tmp/none/map"
touch "$tmp/file"
refused "heatmap-dir: $tmp/file: not a directory" \
  "${stack[@]}" heatmap-dir="$tmp/file"
refused 'heatmap-block: 3000 must be a power of two from 4K to 1G' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-block=3000
refused 'heatmap-block: 2K must be a power of two' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-block=2K
refused 'heatmap-block: 2G must be a power of two' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-block=2G
refused 'heatmap-block given more than once' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-block=4K heatmap-block=8K
refused 'heatmap-block: 0 must be a power of two' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-block=0
refused 'could not parse size: unknown suffix' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-block=4Q
refused 'heatmap-sync: could not parse duration "10x"' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-sync=10x
refused 'heatmap-sync: 0 is not between 1ms and 604800000ms' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-sync=0
refused 'heatmap-sync: 8d is not between 1ms and 604800000ms' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-sync=8d
refused 'heatmap-sync given more than once' \
  "${stack[@]}" heatmap="$tmp/m" heatmap-sync=1s heatmap-sync=1s

serve "${stack[@]}" heatmap="$tmp/m" heatmap-block=4K heatmap-sync=500ms \
  -- 'h.pread(1, 0)'
"$SANDBAG_HEATMAP" csv "$tmp/m" | grep -x '0,1,[0-9.]*,[0-9.]*,1'

# The help text lists every parameter.
nbdkit --filter="$HEATMAP_FILTER" memory --help > "$tmp/help"
for p in heatmap= heatmap-dir= heatmap-block= heatmap-sync=; do
  grep -- "^$p" "$tmp/help"
done
