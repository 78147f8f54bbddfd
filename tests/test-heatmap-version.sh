#!/usr/bin/env bash
# heatmap: publishing a new version of the image (same size, new
# content, renamed into place) starts a fresh map for new connections;
# the old map is kept under a name saying which version it described,
# and a connection that opened the old version keeps counting into it.
source "$(dirname "$0")/functions.sh"
set -e -x

img=$tmp/disk.img
map=$tmp/disk.heatmap
head -c $((1024 * 1024)) /dev/urandom > "$img"
head -c $((1024 * 1024)) /dev/urandom > "$tmp/new.img"
export img tmp

nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$img" \
  heatmap="$map" heatmap-block=64K \
  --run 'nbdsh -u "$uri" -c -' <<'EOF'
import os, nbd

old = nbd.NBD()
old.connect_uri(h.get_uri())
old.pread(4096, 0)
old.pread(4096, 0)

# Publish the new version.
os.rename(os.environ["tmp"] + "/new.img", os.environ["img"])

new = nbd.NBD()
new.connect_uri(h.get_uri())
new.pread(4096, 0)
new.pread(4096, 65536)

old.pread(4096, 0)            # the old version, still open
old.shutdown()
new.shutdown()
EOF

ls -l "$tmp"
aside=$(ls "$tmp" | grep '^disk\.heatmap\.[0-9]\{8\}T[0-9]\{6\}Z-[0-9a-f]\{12\}$')
test "$(echo "$aside" | wc -l)" -eq 1

# Old version: three reads of block 0 (two before, one after publishing).
"$SANDBAG_HEATMAP" csv "$tmp/$aside" > "$tmp/old.csv"
grep -x '0,3,[0-9.]*,[0-9.]*,12288' "$tmp/old.csv"
grep -x '65536,0,0,0,0' "$tmp/old.csv"

# New version: one read each of blocks 0 and 1.
"$SANDBAG_HEATMAP" csv "$map" > "$tmp/new.csv"
grep -x '0,1,[0-9.]*,[0-9.]*,4096' "$tmp/new.csv"
grep -x '65536,1,[0-9.]*,[0-9.]*,4096' "$tmp/new.csv"

# The aside name gives the old map's identity, which summary shows.
id=${aside##*-}
"$SANDBAG_HEATMAP" summary "$tmp/$aside" | grep "^image version:    $id"
if "$SANDBAG_HEATMAP" summary "$map" | grep -q "^image version:    $id"; then
  echo "the new map has the old identity"
  exit 1
fi
