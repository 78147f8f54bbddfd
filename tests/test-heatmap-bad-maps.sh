#!/usr/bin/env bash
# heatmap: a foreign, truncated, corrupt or future-version file where the
# map should be never stops reads: it is renamed aside unchanged, the log
# says what was wrong and where the file went, and a new map counts.
source "$(dirname "$0")/functions.sh"
set -e -x

img=$tmp/disk.img
map=$tmp/disk.heatmap
head -c $((1024 * 1024)) /dev/urandom > "$img"

# read_and_log LOG: serve the image, read 4 KiB at 64 KiB and check the
# data; nbdkit's messages go to LOG.
read_and_log ()
{
  serve --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$img" \
    heatmap="$map" heatmap-block=64K -- '
import os
with open(os.environ["tmp"] + "/disk.img", "rb") as f:
    f.seek(65536)
    assert h.pread(4096, 65536) == f.read(4096)
' 2> "$1"
  cat "$1"
}

# A valid map to damage.
make_map ()
{
  rm -f "$map"
  read_and_log "$tmp/log0"
  test -s "$map"
}

# check KIND: the file now at $map.KIND-* is the damaged one, the log
# says why, and the new map counted the read.
check ()
{
  local kind=$1 aside
  read_and_log "$tmp/log-$kind"
  aside=$(ls "$tmp" | grep "^disk\.heatmap\.$kind-[0-9]\{8\}T[0-9]\{6\}Z$")
  cmp "$tmp/damaged" "$tmp/$aside"
  grep "heatmap: $map: $kind: .*; renamed it to $tmp/$aside and started a new map" \
    "$tmp/log-$kind"
  "$SANDBAG_HEATMAP" csv "$map" | grep -x '65536,1,[0-9.]*,[0-9.]*,4096'
  rm "$tmp/$aside"
}

# Foreign: some other file.
printf 'not a heat map\n' > "$map"
cp "$map" "$tmp/damaged"
check foreign

# Truncated: a map cut short (as by a full disk during a copy).
make_map
truncate -s 4500 "$map"
cp "$map" "$tmp/damaged"
check truncated

# Corrupt: one header byte flipped.
make_map
printf '\377' | dd of="$map" bs=1 seek=30 conv=notrunc status=none
cp "$map" "$tmp/damaged"
check corrupt

# A later format version (what a newer sandbag might write).
make_map
printf '\002' | dd of="$map" bs=1 seek=8 conv=notrunc status=none
cp "$map" "$tmp/damaged"
check unsupported

# A directory where the map should be: renamed aside too.
rm -f "$map"
mkdir "$map"
read_and_log "$tmp/log-dir"
grep "heatmap: $map: not a regular file; renamed it to" "$tmp/log-dir"
"$SANDBAG_HEATMAP" csv "$map" | grep -x '65536,1,[0-9.]*,[0-9.]*,4096'
