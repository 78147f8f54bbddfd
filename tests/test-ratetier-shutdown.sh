#!/usr/bin/env bash
# ratetier: SIGTERM with requests queued in ratetier drops them with an
# error and lets the server end.  One slot; the running read sleeps in
# nbdkit's delay filter (below ratetier) and 10 more wait in ratetier's
# queue.  After SIGTERM:
#  - every request is answered, each with an error (ESHUTDOWN): the
#    running one when the delay filter's sleep notices the shutdown, the
#    10 queued ones by ratetier;
#  - ratetier drops the 10 queued requests (trace "drop") and admits
#    none of them: it must not pass them on to a backend that is going
#    away;
#  - once the client hangs up, nbdkit exits.  (nbdkit 1.32 itself waits
#    for a silent client to hang up before it exits; ratetier's part is
#    to let go of the queued requests.)
# The deadlines only catch a hang; the times are printed, not judged.
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
import nbd, os, signal, sys, time
from functions import count, wait_for

log, sock, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])

h = nbd.NBD()
h.connect_unix(sock)
cookies = [h.aio_pread(nbd.Buffer(4096), i * 4096) for i in range(11)]
wait_for(lambda: count(log, "sched: queue") == 11, "11 queued reads", [h])
assert count(log, "sched: admit") == 1, "more than one read admitted"

start = time.monotonic()
os.kill(pid, signal.SIGTERM)
wait_for(lambda: h.aio_in_flight() == 0, "every read to be answered", [h])
print("all requests answered %.2f s after SIGTERM" %
      (time.monotonic() - start))

# Each read failed, with ESHUTDOWN.
errors = []
for cookie in cookies:
    try:
        h.aio_command_completed(cookie)
        errors.append("success")
    except nbd.Error as e:
        errors.append(e.errno)
print("replies:", errors)
assert errors == ["ESHUTDOWN"] * 11, errors
# ratetier dropped the 10 queued reads and let none of them through.
admitted = count(log, "sched: admit") - 1
assert admitted == 0, \
    "ratetier admitted %d queued reads after SIGTERM" % admitted
assert count(log, "sched: drop") == 10, \
    "ratetier dropped %d queued reads, not 10" % count(log, "sched: drop")

del h                                  # hang up
def gone():
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True
wait_for(gone, "nbdkit to exit after the client hung up")
print("nbdkit exited %.2f s after SIGTERM" % (time.monotonic() - start))
PY
