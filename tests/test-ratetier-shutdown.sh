#!/usr/bin/env bash
# ratetier: SIGTERM with requests queued in ratetier ends the server
# promptly.  One slot; the running read sleeps in nbdkit's delay filter
# (below ratetier) and 10 more wait in ratetier's queue.  After SIGTERM
# every request must be answered (with an error) and, once the client
# hangs up, nbdkit must exit.  (nbdkit 1.32 itself waits for a silent
# client to hang up before it exits; ratetier's part is to let go of
# the queued requests.)  The issue asks for about a second; the
# deadlines here are a generous 10 s each.
# sandbag runs with serialize=false so that one connection can queue
# several reads (it serializes each connection by default on nbdkit
# 1.32).
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 1M "$tmp/disk"
start_nbdkit "$tmp/pid" -U "$tmp/sock" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" --filter=delay \
  "$SANDBAG_PLUGIN" file="$tmp/disk" serialize=false \
  ratetier='()' delay-read=60 2>"$tmp/log"
pid=$(cat "$tmp/pid")

python3 - "$tmp/log" "$tmp/sock" "$pid" <<'PY'
import nbd, os, re, signal, sys, time

log, sock, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])

def count(pattern):
    with open(log) as f:
        return len(re.findall(pattern, f.read()))

h = nbd.NBD()
h.connect_unix(sock)
for i in range(11):
    h.aio_pread(nbd.Buffer(4096), i * 4096)
deadline = time.monotonic() + 60
while count("sched: queue") < 11:
    h.poll(0)
    if time.monotonic() > deadline:
        sys.exit("requests never queued")
    time.sleep(0.05)
assert count("sched: admit") == 1

start = time.monotonic()
os.kill(pid, signal.SIGTERM)
while h.aio_in_flight() > 0:
    h.poll(100)
    if time.monotonic() - start > 10:
        sys.exit("requests still pending 10 s after SIGTERM")
print("all requests answered %.2f s after SIGTERM" % (time.monotonic() - start))
del h                                  # hang up
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    if time.monotonic() - start > 20:
        sys.exit("nbdkit still running 10 s after the client hung up")
    time.sleep(0.02)
print("nbdkit exited %.2f s after SIGTERM" % (time.monotonic() - start))
PY
