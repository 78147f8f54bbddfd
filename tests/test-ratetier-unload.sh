#!/usr/bin/env bash
# ratetier: no code of the filter runs after nbdkit has unloaded it.
#
# A server with an established connection and one stalled in the
# handshake is stopped with SIGTERM.  nbdkit then neither closes those
# connections' handles nor waits for their threads' exit-time
# destructors before it unloads the filter, so the filter must leave
# nothing to run there.  tests/late-thread-exit.c makes any such
# destructor run late and announce itself: it must not appear, and the
# server must exit cleanly.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

shim=$abs_top_builddir/tests/late-thread-exit.so
test -f "$shim"
truncate -s 1M "$tmp/disk"
port=$(free_port)

LD_PRELOAD="$shim${LD_PRELOAD:+ $LD_PRELOAD}" \
  nbdkit -f -v -i 127.0.0.1 -p "$port" -P "$tmp/pid" \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  2>"$tmp/log" &
server=$!
cleanup_fn "kill -9 $server 2>/dev/null"
for (( i = 0; i < 100; i++ )); do
  [ -s "$tmp/pid" ] && break
  sleep 0.1
done
test -s "$tmp/pid"

# One client reads and stays; another connects and never speaks.  Both
# are open when the server is told to stop.
python3 - "$port" "$server" <<'PY'
import nbd, os, signal, socket, sys

port, server = int(sys.argv[1]), int(sys.argv[2])
h = nbd.NBD()
h.connect_tcp("127.0.0.1", str(port))
assert h.pread(4096, 0) == bytearray(4096)
stalled = socket.create_connection(("127.0.0.1", port))
stalled.recv(16)                        # the server's greeting
os.kill(server, signal.SIGTERM)
stalled.settimeout(30)
while stalled.recv(4096):               # until the server closes it
    pass
PY

status=0
wait $server || status=$?
cat "$tmp/log"
! grep 'late-thread-exit' "$tmp/log" || exit 1
# The server exits cleanly.  Under the sanitizer and valgrind stages
# (SANDBAG_WRAP), LeakSanitizer's abort (134) or valgrind's error status
# (99) may stand for nbdkit's own leftovers at exit, which
# scan-reports.py judges; a crash is any other status.
case $status in
  0) ;;
  134|99) test -n "${SANDBAG_WRAP:-}" ;;
  *) echo "$0: nbdkit exited with status $status" >&2; exit 1 ;;
esac
