#!/usr/bin/env bash
# sandbag: reads return the image byte for byte, at many offsets and
# lengths, including unaligned ones and ones that end at the last byte,
# in file= and dir= mode.
source "$(dirname "$0")/functions.sh"
set -e -x

# An odd size, so that the end is not aligned to anything.
head -c $(( 8*1024*1024 + 4321 )) /dev/urandom > "$tmp/image"
mkdir "$tmp/dir"
ln "$tmp/image" "$tmp/dir/disk.img"
export IMAGE=$tmp/image tmp

cat > "$tmp/check.py" <<'PY'
import os, random
image = open(os.environ["IMAGE"], "rb").read()
size = len(image)
assert h.get_size() == size
rng = random.Random(2026)
cases = [(0, 1), (0, 512), (1, 4095), (4095, 2), (size - 1, 1),
         (size - 4096, 4096), (size - 12345, 12345), (0, 4 << 20),
         (size - (4 << 20), 4 << 20), (0, 32 << 20 if size >= 32 << 20 else size)]
for i in range(400):
    length = rng.choice([1, 7, 512, 4096, 65536, 1 << 20,
                         rng.randint(1, 1 << 21)])
    cases.append((rng.randint(0, size - length), length))
for offset, length in cases:
    got = h.pread(length, offset)
    assert got == image[offset:offset + length], (offset, length)
print("checked", len(cases), "reads")
PY

nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/image" \
  --run 'nbdsh -u "$uri" -c - < "$tmp/check.py"'
nbdkit -U - "$SANDBAG_PLUGIN" dir="$tmp/dir" \
  --run 'nbdsh -u "nbd+unix:///disk.img?socket=$unixsocket" \
               -c - < "$tmp/check.py"'
