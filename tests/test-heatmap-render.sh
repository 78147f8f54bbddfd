#!/usr/bin/env bash
# heatmap: sandbag-heatmap render writes a valid PNG (checked chunk by
# chunk with its CRCs and decoded) of the documented dimensions, with
# read cells coloured and never-read cells grey, for a small volume and
# for a 1 TiB one.
source "$(dirname "$0")/functions.sh"
set -e -x

# check_png FILE WIDTH HEIGHT [X,Y,COLOUR]...: FILE is a valid PNG of
# WIDTH x HEIGHT pixels (every chunk CRC checked, the image data
# inflated to the right length) whose pixel at (X, Y) has COLOUR, "R,G,B"
# or "read" for anything but the never-read grey and the background.
check_png ()
{
  python3 - "$@" <<'EOF'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
points = [a.split(",", 2) for a in sys.argv[4:]]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
pos, chunks = 8, []
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
    assert zlib.crc32(kind + body) == crc, f"CRC of {kind}"
    chunks.append((kind, body))
    pos += 12 + n
assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
W, H, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
assert (W, H) == (w, h), f"size {W}x{H}, expected {w}x{h}"
assert depth == 8 and interlace == 0
bpp = {2: 3, 6: 4}[ctype]
raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
stride = W * bpp
assert len(raw) == H * (stride + 1), "image data length"
# Undo the scanline filters, down to the lowest pixel to check.
rows, prev = [], bytearray(stride)
last_y = max([int(p[1]) for p in points], default=-1)
for y in range(last_y + 1):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 2:
        line = bytearray((u + v) & 255 for u, v in zip(line, prev))
    elif f != 0:
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc
                                      else b if pb <= pc else c)) & 255
            else: raise AssertionError(f"filter {f}")
    rows.append(line)
    prev = line
grey, white = (219, 219, 219), (255, 255, 255)
for x, y, colour in points:
    x, y = int(x), int(y)
    got = tuple(rows[y][x * bpp:x * bpp + 3])
    if colour == "read":
        assert got not in (grey, white), f"({x},{y}) is {got}"
    else:
        want = tuple(int(v) for v in colour.split(","))
        assert got == want, f"({x},{y}) is {got}, expected {want}"
print(f"{path}: valid PNG {W}x{H}")
EOF
}

# Geometry constants from render.h.
left=130 top=80 width=$((130 + 1024 + 220))

# 1 MiB in 64 KiB heat blocks: 16 cells, 4 per row, 256 pixels each.
head -c $((1024 * 1024)) /dev/urandom > "$tmp/small.img"
nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" \
  file="$tmp/small.img" heatmap="$tmp/small.heatmap" heatmap-block=64K \
  --run 'nbdsh -u "$uri" -c "h.pread(1, 0); h.pread(1, 5 * 65536)"'
"$SANDBAG_HEATMAP" render -o "$tmp/small.png" "$tmp/small.heatmap" \
  | grep -x "$tmp/small.png: ${width}x1134 pixels, 16 cells of 1 heat blocks"
# Cells 0 and 5 (row 1, column 1) were read; cells 1 and 2 were not.
check_png "$tmp/small.png" $width $((80 + 1024 + 30)) \
  $((left + 128)),$((top + 128)),read \
  $((left + 256 + 128)),$((top + 256 + 128)),read \
  $((left + 256 + 128)),$((top + 128)),219,219,219 \
  $((left + 512 + 128)),$((top + 10)),219,219,219

# 1 TiB (sparse) in the default 1 MiB heat blocks: 512 x 512 cells
# of 4 heat blocks, 2 pixels each.  Read the first cell only.
truncate -s 1T "$tmp/big.img"
nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" \
  file="$tmp/big.img" heatmap="$tmp/big.heatmap" \
  --run 'nbdsh -u "$uri" -c "h.pread(4096, 0)"'
test "$(stat -c %s "$tmp/big.heatmap")" -eq $((4096 + 32 * 1024 * 1024))
"$SANDBAG_HEATMAP" render -o "$tmp/big.png" "$tmp/big.heatmap" \
  | grep -x "$tmp/big.png: ${width}x1134 pixels, 262144 cells of 4 heat blocks"
check_png "$tmp/big.png" $width 1134 \
  $left,$top,read \
  $((left + 1)),$((top + 1)),read \
  $((left + 2)),$top,219,219,219 \
  $((left + 300)),$((top + 2)),219,219,219
