#!/usr/bin/env bash
# sandbag: 64 concurrent connections, each with many requests in flight,
# all read correct data (parallel thread model, no shared lock).
source "$(dirname "$0")/functions.sh"
set -e -x
export tmp

head -c 16M /dev/urandom > "$tmp/image"
mkdir "$tmp/dir"
ln "$tmp/image" "$tmp/dir/a.img"
ln "$tmp/image" "$tmp/dir/b.img"

cat > "$tmp/concurrent.py" <<'PY'
import os, random, sys
import nbd

sock = sys.argv[1]
image = open(os.path.join(os.environ["tmp"], "image"), "rb").read()
size = len(image)
rng = random.Random(64)

# Open all 64 connections first, so they are all open at once.
handles = []
for i in range(64):
    h = nbd.NBD()
    h.set_export_name("a.img" if i % 2 else "b.img")
    h.connect_unix(sock)
    assert h.get_size() == size
    handles.append(h)

# Queue 16 reads on every connection, then run them all together.
pending = []
for h in handles:
    for j in range(16):
        length = rng.choice([4096, 65536, 1 << 20])
        offset = rng.randrange(0, size - length)
        buf = nbd.Buffer(length)
        cookie = h.aio_pread(buf, offset)
        pending.append((h, cookie, buf, offset, length))
# The server works on all connections at once; drain them in turn
# (blocking poll, no busy loop).
for h in handles:
    while h.aio_in_flight() > 0:
        h.poll(-1)
for h, cookie, buf, offset, length in pending:
    assert h.aio_command_completed(cookie)
    assert buf.to_bytearray() == image[offset:offset + length], (offset, length)
for h in handles:
    h.shutdown()
print(len(handles), "connections,", len(pending), "reads ok")
PY

nbdkit -U - "$SANDBAG_PLUGIN" dir="$tmp/dir" \
  --run 'timeout 120 python3 "$tmp/concurrent.py" "$unixsocket"'
