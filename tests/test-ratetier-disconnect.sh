#!/usr/bin/env bash
# ratetier: a request whose client disconnects while it waits in the
# queue is dropped promptly and counted nowhere.
#
# One slot (ratetier='()'), the backend held by nbdkit's pause filter:
# a plug request takes the slot, and client X queues 5 reads behind it,
# then vanishes.  The 5 reads must be dropped (trace "drop") while the
# backend is still held, and once it is released, the next request of
# the same client key (all Unix-socket clients here share uid 0) must
# find only the plug's block delivered.
# sandbag runs with serialize=false so that X's reads all wait in
# ratetier at once: this is also the case where nbdkit 1.32 can abort
# if the dropped requests' error replies race (see DROP_SPACING_US in
# scheduler.c), so the test also checks that the server survives.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 1M "$tmp/disk"
start_nbdkit "$tmp/pid" -U "$tmp/sock" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" --filter=pause \
  "$SANDBAG_PLUGIN" file="$tmp/disk" serialize=false \
  ratetier='()' pause-control="$tmp/ctl" 2>"$tmp/log"

python3 - "$tmp/log" "$tmp/sock" "$tmp/ctl" <<'PY'
import nbd, os, socket, sys
from functions import PauseControl, count, wait_for

log, sock, ctl = sys.argv[1:]

plug = nbd.NBD()
plug.connect_unix(sock)
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
x = nbd.NBD()
x.connect_socket(os.dup(s.fileno()))

backend = PauseControl(ctl)
backend.pause()

plug.aio_pread(nbd.Buffer(4096), 0)
wait_for(lambda: count(log, "sched: admit") == 1, "the plug", [plug])
for i in range(5):
    x.aio_pread(nbd.Buffer(4096), (10 + i) * 4096)
wait_for(lambda: count(log, "sched: queue") == 6, "5 queued reads", [x])

s.shutdown(socket.SHUT_RDWR)          # X vanishes
wait_for(lambda: count(log, "sched: drop") == 5, "5 dropped reads")
assert count(log, "sched: admit") == 1, "a read of a vanished client ran"

backend.resume()
while plug.aio_in_flight() > 0:
    plug.poll(-1)

y = nbd.NBD()
y.connect_unix(sock)
y.pread(4096, 0)
PY

grep 'sched: admit' "$tmp/log" | tail -n1 | grep ' delivered=1 '
# The server is still running.
kill -0 "$(cat "$tmp/pid")"
test "$(grep -c 'sched: admit' "$tmp/log")" -eq 2
