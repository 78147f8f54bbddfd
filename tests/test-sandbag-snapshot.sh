#!/usr/bin/env bash
# sandbag: each connection keeps the version of the image that existed
# when it connected.  Publishing by renaming a new file over the old
# name affects new connections only; even deleting the image does not
# disturb a connected client.  Checked in dir= and file= mode.
source "$(dirname "$0")/functions.sh"
set -e -x
export tmp

cat > "$tmp/snapshot.py" <<'PY'
import os, sys
import nbd

path, uri = sys.argv[1], sys.argv[2]
tmpname = os.path.join(os.path.dirname(path), ".publish.tmp")

def publish(data):
    with open(tmpname, "wb") as f:
        f.write(data)
    os.rename(tmpname, path)

def connect():
    h = nbd.NBD()
    h.connect_uri(uri)
    return h

def check(h, data):
    assert h.get_size() == len(data), (h.get_size(), len(data))
    for off in range(0, len(data), 256 * 1024):
        assert h.pread(256 * 1024, off) == data[off:off + 256 * 1024]

v1 = os.urandom(1 << 20)
v2 = os.urandom(2 << 20)
v3 = os.urandom(3 << 20)
publish(v1)
old = connect()
check(old, v1)
publish(v2)                    # rename over the name old is reading
new = connect()
check(new, v2)
check(old, v1)                 # old still reads v1, all of it
publish(v3)
newer = connect()
check(newer, v3)
check(new, v2)
check(old, v1)
os.unlink(path)                # even gone, connected clients read on
check(old, v1)
check(new, v2)
check(newer, v3)
try:
    connect()
    raise AssertionError("a removed image was served")
except nbd.Error as e:
    assert e.errno == "ENOENT", e
print("snapshots ok")
PY

mkdir "$tmp/dir"
head -c 512 /dev/zero > "$tmp/dir/disk"
nbdkit -U - "$SANDBAG_PLUGIN" dir="$tmp/dir" \
  --run 'python3 "$tmp/snapshot.py" "$tmp/dir/disk" \
           "nbd+unix:///disk?socket=$unixsocket"'

mkdir "$tmp/file"
head -c 512 /dev/zero > "$tmp/file/disk"
nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/file/disk" \
  --run 'python3 "$tmp/snapshot.py" "$tmp/file/disk" "$uri"'
