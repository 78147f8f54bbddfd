#!/usr/bin/env bash
# sandbag: the data/hole map of a sparse image, as qemu-img map sees it
# over NBD, equals qemu-img map of the image file itself, including for
# an image with more extents than one block status reply may carry.
source "$(dirname "$0")/functions.sh"
set -e -x
requires qemu-img --version
export tmp

# A few large extents, including data at the very end.
truncate -s 64M "$tmp/few.img"
for mib in 1 2 30 31 63; do
  head -c 1M /dev/urandom |
    dd of="$tmp/few.img" bs=1M seek=$mib conv=notrunc iflag=fullblock status=none
done

# Thousands of small extents: 4K data, 8K hole, repeated.
python3 - "$tmp/many.img" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(3000):
    os.pwrite(fd, os.urandom(4096), i * 12288)
os.ftruncate(fd, 3000 * 12288 + 65536)
os.close(fd)
PY

# Same data as qemu-img map lists it, with adjacent entries of the same
# kind merged (clients may see extents split differently).
cat > "$tmp/normalise.py" <<'PY'
import json, sys
out = []
for e in json.load(sys.stdin):
    kind = (e["data"], e["zero"])
    if out and out[-1][2] == kind and out[-1][0] + out[-1][1] == e["start"]:
        out[-1][1] += e["length"]
    else:
        out.append([e["start"], e["length"], kind])
json.dump(out, sys.stdout)
PY

mkdir "$tmp/dir"
ln "$tmp/few.img" "$tmp/dir/few.img"
ln "$tmp/many.img" "$tmp/dir/many.img"
start_nbdkit "$tmp/nbdkit.pid" -U "$tmp/sock" "$SANDBAG_PLUGIN" dir="$tmp/dir"

for img in few.img many.img; do
  qemu-img map --output=json -f raw "$tmp/$img" |
    python3 "$tmp/normalise.py" > "$tmp/$img.file"
  qemu-img map --output=json -f raw "nbd+unix:///$img?socket=$tmp/sock" |
    python3 "$tmp/normalise.py" > "$tmp/$img.nbd"
  cat "$tmp/$img.nbd" | head -c 300; echo
  cmp "$tmp/$img.file" "$tmp/$img.nbd"
done

# The small-extent image really has thousands of extents (the file
# system did not fill the holes), so the bounded reply was exercised.
python3 - "$tmp/many.img.nbd" <<'PY'
import json, sys
assert len(json.load(open(sys.argv[1]))) >= 6000
PY

# One block status request over the whole image gets a correct prefix.
nbdsh --base-allocation -u "nbd+unix:///many.img?socket=$tmp/sock" -c '
entries = []
h.block_status(h.get_size(), 0,
               lambda ctx, offset, e, err: entries.extend(e))
pos = 0
for i in range(0, len(entries), 2):
    length, flags = entries[i], entries[i + 1]
    if pos < 3000 * 12288:
        want = 0 if pos % 12288 == 0 else 3
        assert flags == want, (pos, flags)
    pos += length
assert 0 < pos <= h.get_size()
print("one request covered", pos, "bytes in", len(entries) // 2, "extents")
'
