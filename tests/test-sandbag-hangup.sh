#!/usr/bin/env bash
# Clients that hang up with many reads in flight must not take the
# server down.  nbdkit before 1.33.10 aborts on an assertion in that case
# when a connection has several worker threads, so the plugin's default
# (serialize=auto) handles each connection's requests one at a time on
# such an nbdkit.  Check the thread model, then attack a server run with
# default settings (nbdkit's default --threads included) and check that
# it still serves correct data and shuts down cleanly.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdkit --version

# The thread model follows the nbdkit the plugin was built against.
version=$(nbdkit --version | awk '{print $2}')
if printf '1.33.10\n%s\n' "$version" | sort -V -C; then
  expected=parallel
else
  expected=serialize_requests
fi
nbdkit "$SANDBAG_PLUGIN" --dump-plugin | grep -x "thread_model=$expected"
nbdkit "$SANDBAG_PLUGIN" serialize=false --dump-plugin |
  grep -x "thread_model=parallel"
nbdkit "$SANDBAG_PLUGIN" serialize=true --dump-plugin |
  grep -x "thread_model=serialize_requests"
if nbdkit "$SANDBAG_PLUGIN" serialize=maybe --dump-plugin 2>"$tmp/err"; then
  echo "serialize=maybe was accepted" >&2
  exit 1
fi
grep "serialize: expected a boolean" "$tmp/err"

head -c 48M /dev/urandom > "$tmp/image"
start_nbdkit "$tmp/pid" -U "$tmp/sock" "$SANDBAG_PLUGIN" file="$tmp/image"

python3 - "$abs_top_srcdir/tests/hostile" "$tmp/sock" "$tmp/image" <<'PY'
import socket, struct, sys
sys.path.insert(0, sys.argv[1])
import rawnbd

sock_path, image = sys.argv[2], sys.argv[3]
MiB = 1 << 20

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock_path)
    c = rawnbd.Conn(s)
    c.handshake()
    c.go()
    return c

# 30 clients each pipeline 64 reads of 1 MiB and hang up, half of them
# with a reset, some after taking one reply.
for i in range(30):
    c = conn()
    for j in range(64):
        c.request(rawnbd.CMD_READ, (j * MiB) % (47 * MiB), MiB)
    if i % 3 == 0:
        c.reply()
    c.close(reset=bool(i % 2))

# The server is still there and serves the right bytes.
with open(image, "rb") as f:
    want = f.read()
c = conn()
for off in (0, 5 * MiB + 17, 47 * MiB):
    error, got = c.pread(off, 4096)
    assert error == 0, "read at %d failed: %d" % (off, error)
    assert got == want[off:off + 4096], "wrong data at %d" % off
c.disconnect()
print("server survived 30 hang-ups with 64 reads in flight")
PY

# Still alive, and stops cleanly.
kill -0 "$(cat "$tmp/pid")"
kill_nbdkit "$tmp/pid"
