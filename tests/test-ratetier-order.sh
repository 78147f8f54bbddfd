#!/usr/bin/env bash
# ratetier: requests are admitted in the order and proportions the tiers
# prescribe.
#
# ratetier=16:4 (a fast tier of weight 4 below 16 blocks, then the
# implicit tier of weight 1), batch schedule, one client per connection.
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

truncate -s 4M "$tmp/disk"
start_nbdkit "$tmp/pid" -U "$tmp/sock" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" --filter=pause \
  "$SANDBAG_PLUGIN" file="$tmp/disk" serialize=false \
  ratetier=16:4 ratetier-schedule=batch ratetier-key=connection \
  pause-control="$tmp/ctl" 2>"$tmp/log"

python3 - "$tmp/log" "$tmp/sock" "$tmp/ctl" <<'PY'
import nbd, re, socket, sys, time

log, sock, ctl = sys.argv[1:]
handles = []

def count(pattern):
    with open(log) as f:
        return len(re.findall(pattern, f.read()))

def wait_for(pred, what):
    deadline = time.monotonic() + 60
    while not pred():
        for h in handles:
            h.poll(0)
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for " + what)
        time.sleep(0.05)

def connect():
    h = nbd.NBD()
    h.connect_unix(sock)
    handles.append(h)
    return h

heavy = connect()
for i in range(16):
    heavy.pread(4096, i * 4096)
light = connect()
plug = connect()

control = socket.socket(socket.AF_UNIX)
control.connect(ctl)
control.send(b"p")
assert control.recv(1) == b"P"

admitted = count("sched: admit")
plug.aio_pread(nbd.Buffer(4096), 0)
wait_for(lambda: count("sched: admit") == admitted + 1, "the plug")
queued = count("sched: queue")
for i in range(6):
    heavy.aio_pread(nbd.Buffer(4096), (256 + i) * 4096)
for i in range(12):
    light.aio_pread(nbd.Buffer(4096), (512 + i) * 4096)
wait_for(lambda: count("sched: queue") == queued + 18, "18 queued reads")

control.send(b"r")
assert control.recv(1) == b"R"
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
test "$(grep -c ' tier=1 ' "$tmp/admits")" -eq 6
test "$(grep -c ' tier=0 ' "$tmp/admits")" -eq 12
# Each client's reads started in the order they reached ratetier (nbdkit's
# worker threads may pass a connection's requests on in any order).
grep 'sched: queue' "$tmp/log" | tail -n 18 |
  sed -n 's/.*offset=\([0-9]*\).*/\1/p' > "$tmp/arrived"
sed -n 's/.*offset=\([0-9]*\).*/\1/p' "$tmp/admits" > "$tmp/started"
for side in '$1 < 512*4096' '$1 >= 512*4096'; do
  cmp <(awk "$side" "$tmp/arrived") <(awk "$side" "$tmp/started")
done
