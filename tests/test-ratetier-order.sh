#!/usr/bin/env bash
# ratetier: requests are admitted in the order and proportions the tiers
# prescribe.
#
# ratetier=16:4 (a fast tier of weight 4 below 16 blocks, then the
# implicit tier of weight 1), batch schedule, clients on distinct source
# addresses (sockets bound to 127.0.0.N) over TCP.
# A heavy client first reads 16 blocks, which puts it in the implicit
# tier; a light client has read nothing.  The backend is held (nbdkit's
# pause filter, below ratetier) while a plug request occupies the
# server, so that 6 heavy and 12 light reads of one block all queue up
# in ratetier.  When the backend is released, each batch iteration
# starts up to 4 light reads and 1 heavy read, the heavy one only while
# its tier has not had more than its share (1 block for every 4), so
# the admissions must be exactly:
#   H L L L L  H L L L L  H L L L L  H  H  H
# sandbag runs with serialize=false so that each connection can have
# several reads in ratetier at once (sandbag serializes each connection
# by default on nbdkit 1.32).
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version
requires python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.4", 0))'

truncate -s 4M "$tmp/disk"
port=$(free_port)
start_nbdkit "$tmp/pid" -i 127.0.0.1 -p "$port" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" --filter=pause \
  "$SANDBAG_PLUGIN" file="$tmp/disk" serialize=false \
  ratetier=16:4 ratetier-schedule=batch \
  pause-control="$tmp/ctl" 2>"$tmp/log"

python3 - "$tmp/log" "$port" "$tmp/ctl" <<'PY'
import nbd, sys
from functions import PauseControl, connect_from, count, wait_for

log, port, ctl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
handles = []

def connect(source):
    h = connect_from(port, source)
    handles.append(h)
    return h

heavy = connect("127.0.0.2")
for i in range(16):
    heavy.pread(4096, i * 4096)
light = connect("127.0.0.3")
plug = connect("127.0.0.4")

backend = PauseControl(ctl)
backend.pause()

admitted = count(log, "sched: admit")
plug.aio_pread(nbd.Buffer(4096), 0)
wait_for(lambda: count(log, "sched: admit") == admitted + 1, "the plug",
         handles)
queued = count(log, "sched: queue")
for i in range(6):
    heavy.aio_pread(nbd.Buffer(4096), (256 + i) * 4096)
for i in range(12):
    light.aio_pread(nbd.Buffer(4096), (512 + i) * 4096)
wait_for(lambda: count(log, "sched: queue") == queued + 18, "18 queued reads",
         handles)

backend.resume()
for h in handles:
    while h.aio_in_flight() > 0:
        h.poll(-1)
PY

# The admissions after the plug, as H (heavy) and L (light), and the
# tier each was placed in.
grep 'sched: admit' "$tmp/log" | tail -n 18 > "$tmp/admits"
order=$(sed -n 's/.*offset=\([0-9]*\).*/\1/p' "$tmp/admits" |
        while read -r off; do
          if [ "$off" -lt $((512 * 4096)) ]; then echo -n H; else echo -n L; fi
        done)
test "$order" = "HLLLLHLLLLHLLLLHHH"
# Heavy reads ran in the implicit tier 1, light ones in tier 0.
test "$(grep -c 'client=127.0.0.2/32 tier=1 ' "$tmp/admits")" -eq 6
test "$(grep -c 'client=127.0.0.3/32 tier=0 ' "$tmp/admits")" -eq 12
# Each client's reads started in the order they reached ratetier (nbdkit's
# worker threads may pass a connection's requests on in any order).
grep 'sched: queue' "$tmp/log" | tail -n 18 |
  sed -n 's/.*offset=\([0-9]*\).*/\1/p' > "$tmp/arrived"
sed -n 's/.*offset=\([0-9]*\).*/\1/p' "$tmp/admits" > "$tmp/started"
for side in '$1 < 512*4096' '$1 >= 512*4096'; do
  cmp <(awk "$side" "$tmp/arrived") <(awk "$side" "$tmp/started")
done
