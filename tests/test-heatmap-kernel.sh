#!/usr/bin/env bash
# heatmap: with the Linux kernel as client (nbdfuse + mount -o loop,ro
# of an ext4 image), the map shows what the kernel read: the superblock,
# and the blocks of a 4 MiB file that was read end to end.  And
# sandbag-heatmap top, on that real map, lists exactly the ranges its
# man page describes, as computed here from the csv: adjacent blocks
# whose counts are the same power of two merged, never-read blocks left
# out, hottest (highest per-block count, then most reads) first; the
# whole list shows the file's blocks.
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
"$SANDBAG_HEATMAP" top 5 "$tmp/fs.heatmap" | tee "$tmp/top5"
"$SANDBAG_HEATMAP" top 100000 "$tmp/fs.heatmap" > "$tmp/top-all"

python3 - "$tmp" "$start" <<'EOF'
import csv, sys, time
d, start = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(d + "/csv")))
K = 65536
by_offset = {int(r["offset"]): r for r in rows}
# The superblock (at 1024) was read.
assert int(by_offset[0]["count"]) >= 1, by_offset[0]
# Every heat block wholly inside the file's 4 MiB was read, and all the
# bytes of those blocks were delivered at least once.
first = start * 4096
blocks = [o for o in range(0, 64 << 20, K)
          if o >= first and o + K <= first + (4 << 20)]
assert len(blocks) >= 63, len(blocks)
for o in blocks:
    assert int(by_offset[o]["count"]) >= 1, by_offset[o]
    assert int(by_offset[o]["bytes"]) >= K, by_offset[o]
print(f"file at {first}: {len(blocks)} heat blocks read")

# The ranges top must list, from the csv, by sandbag-heatmap(1)'s rules.
ranges = []
for r in rows:
    off, count = int(r["offset"]), int(r["count"])
    if ranges and ranges[-1]["level"] == count.bit_length():
        g = ranges[-1]
    else:
        g = {"offset": off, "level": count.bit_length(), "reads": 0,
             "min": count, "max": count, "bytes": 0, "last": 0.0}
        ranges.append(g)
    g["end"] = off + K
    g["reads"] += count
    g["min"], g["max"] = min(g["min"], count), max(g["max"], count)
    g["bytes"] += int(r["bytes"])
    g["last"] = max(g["last"], float(r["last"]))
ranges = [g for g in ranges if g["max"] > 0]
ranges.sort(key=lambda g: (-g["max"], -g["reads"], g["offset"]))


def line(g):
    per = (str(g["max"]) if g["min"] == g["max"]
           else "%d-%d" % (g["min"], g["max"]))
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(g["last"])))
    return [str(g["offset"]), str(g["end"] - g["offset"]), str(g["reads"]),
            per, str(g["bytes"]), when]


def listed(name):
    lines = open(d + "/" + name).read().splitlines()
    assert lines[0].split() == ["offset", "length", "reads",
                                "per-heat-block", "bytes", "last",
                                "read"], lines[0]
    return [l.split() for l in lines[1:]]


want = [line(g) for g in ranges]
assert listed("top5") == want[:5], (listed("top5"), want[:5])
assert listed("top-all") == want, "top lists other ranges than the map has"
# The file's blocks are in the whole list.
over_file = [g for g in ranges
             if g["offset"] < first + (4 << 20) and g["end"] > first]
assert sum(g["reads"] for g in over_file) >= len(blocks), over_file
print(f"top: {len(ranges)} ranges, {len(over_file)} of them over the file")
EOF
