#!/usr/bin/env bash
# heatmap: with the Linux kernel as client (nbdfuse + mount -o loop,ro
# of an ext4 image), the map shows what the kernel read: the superblock,
# and the blocks of a 4 MiB file that was read end to end, which
# sandbag-heatmap top lists among the hottest ranges.
source "$(dirname "$0")/functions.sh"
set -e -x
requires_root
requires mkfs.ext4 -V
requires nbdfuse --version
requires test -c /dev/fuse

mkdir "$tmp/tree"
head -c $((4 * 1024 * 1024)) /dev/urandom > "$tmp/tree/blob"
echo hello > "$tmp/tree/small.txt"
truncate -s 64M "$tmp/fs.img"
mkfs.ext4 -q -b 4096 -d "$tmp/tree" "$tmp/fs.img"

start_nbdkit "$tmp/pid" -U "$tmp/sock" --filter="$HEATMAP_FILTER" \
  "$SANDBAG_PLUGIN" file="$tmp/fs.img" heatmap="$tmp/fs.heatmap" \
  heatmap-block=64K
expose_and_mount "nbd+unix://?socket=$tmp/sock" "$tmp/fuse/disk" "$tmp/mnt"
cmp "$tmp/mnt/blob" "$tmp/tree/blob"
grep -x hello "$tmp/mnt/small.txt"

# Where the file's data lives, from the file system itself.
start=$(debugfs -R "bmap /blob 0" "$tmp/fs.img" 2>/dev/null)
test -n "$start"

# The counts are in the page cache already; no need to stop nbdkit.
"$SANDBAG_HEATMAP" csv "$tmp/fs.heatmap" > "$tmp/csv"
"$SANDBAG_HEATMAP" summary "$tmp/fs.heatmap"
"$SANDBAG_HEATMAP" top 5 "$tmp/fs.heatmap"

python3 - "$tmp/csv" "$start" <<'EOF'
import csv, sys
rows = {int(r["offset"]): r for r in csv.DictReader(open(sys.argv[1]))}
K = 65536
# The superblock (at 1024) was read.
assert int(rows[0]["count"]) >= 1, rows[0]
# Every heat block wholly inside the file's 4 MiB was read, and all the
# bytes of those blocks were delivered at least once.
first = int(sys.argv[2]) * 4096
blocks = [o for o in range(0, 64 << 20, K)
          if o >= first and o + K <= first + (4 << 20)]
assert len(blocks) >= 63, len(blocks)
for o in blocks:
    assert int(rows[o]["count"]) >= 1, rows[o]
    assert int(rows[o]["bytes"]) >= K, rows[o]
print(f"file at {first}: {len(blocks)} heat blocks read")
EOF
