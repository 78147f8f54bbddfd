#!/usr/bin/env bash
# heatmap: after a known pattern of reads from several concurrent
# connections, including reads that straddle heat-block boundaries,
# every heat block has the exact count and bytes, and times that lie
# within the phase of the test in which the block was read.
source "$(dirname "$0")/functions.sh"
set -e -x

img=$tmp/disk.img
map=$tmp/disk.heatmap
head -c $((1024 * 1024)) /dev/urandom > "$img"

export tmp

# 16 heat blocks of 64 KiB.
nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" file="$img" \
  heatmap="$map" heatmap-block=64K \
  --run 'nbdsh -u "$uri" -c -' <<'EOF'
import threading, time, os, nbd

uri = h.get_uri()
K = 65536
t0 = time.time_ns() // 1000

def client(i):
    c = nbd.NBD()
    c.connect_uri(uri)
    for _ in range(5):
        c.pread(4096, 0)                 # block 0
    c.pread(8192, K - 4096)              # straddles blocks 0 and 1
    c.pread(3 * K, 4 * K)                # blocks 4, 5, 6 exactly
    c.pread(1, 10 * K + i)               # one byte of block 10
    c.pread(100, 16 * K - 100)           # the last 100 bytes (block 15)
    c.shutdown()

threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
t1 = time.time_ns() // 1000

# Phase 2: one more read of block 15, strictly later.
time.sleep(0.01)
t2 = time.time_ns() // 1000
h.pread(1, 15 * K)
t3 = time.time_ns() // 1000
with open(os.environ["tmp"] + "/times", "w") as f:
    f.write(f"{t0} {t1} {t2} {t3}\n")
EOF

"$SANDBAG_HEATMAP" csv "$map" > "$tmp/csv"
cat "$tmp/csv"

python3 - "$tmp/csv" "$tmp/times" <<'EOF'
import csv, sys
K = 65536
t0, t1, t2, t3 = map(int, open(sys.argv[2]).read().split())
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 16, len(rows)
want = {0: (24, 4 * (5 * 4096 + 4096)), 1: (4, 4 * 4096),
        4: (4, 4 * K), 5: (4, 4 * K), 6: (4, 4 * K),
        10: (4, 4), 15: (5, 401)}
def us(s):
    a, _, b = s.partition(".")
    return int(a) * 1000000 + int(b or 0)
for i, r in enumerate(rows):
    assert int(r["offset"]) == i * K, r
    count, nbytes = want.get(i, (0, 0))
    assert (int(r["count"]), int(r["bytes"])) == (count, nbytes), (i, r)
    first, last = us(r["first"]), us(r["last"])
    if count == 0:
        assert first == 0 and last == 0, (i, r)
    elif i == 15:
        assert t0 <= first <= t1, (i, r)
        assert t2 <= last <= t3, (i, r)
    else:
        assert t0 <= first <= last <= t1, (i, r)
print("all counts, bytes and times as expected")
EOF
