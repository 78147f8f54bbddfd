#!/usr/bin/env bash
# ratetier: ratetier-status=FILE is a Prometheus text file, rewritten
# while the server runs, counting requests per tier, clients, and the
# connection guard's trips.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 1M "$tmp/disk"
mkdir "$tmp/prom"
status=$tmp/prom/ratetier.prom
start_nbdkit "$tmp/pid" -U "$tmp/sock" \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier=2:5 ratetier-status="$status" ratetier-status-interval=1

nbdsh -u "nbd+unix:///?socket=$tmp/sock" -c '
for i in range(5): h.pread(4096, i * 4096)
'

# 2 reads in tier 0 (below 2 blocks), 3 in the implicit tier 1.
want=(
  'ratetier_tier_info{tier="0",below="2",weight="5"} 1'
  'ratetier_tier_info{tier="1",below="+Inf",weight="1"} 1'
  'ratetier_admitted_total{tier="0"} 2'
  'ratetier_admitted_total{tier="1"} 3'
  'ratetier_wait_seconds_count{tier="1"} 3'
  'ratetier_queue_length{tier="0"} 0'
  'ratetier_running{tier="1"} 0'
  'ratetier_clients_tracked 1'
)
for w in "${want[@]}"; do wait_for_line "$status" "$w"; done
cat "$status"
grep -q '^# TYPE ratetier_wait_seconds histogram$' "$status"

# Rewritten atomically, as node_exporter's textfile collector needs: a
# reader never sees a partial file.  Deterministically: a reader holding
# the file open across a rewrite keeps the whole old file (the new one
# replaced it by rename, it was not rewritten in place), and the path
# then names a new, whole file.  And by force: a reader reading the file
# over and over, across several rewrites, never sees a partial one.
python3 - "$status" <<'PY'
import os, sys
from functions import wait_for

path = sys.argv[1]

def whole(text):
    """A whole status file: every line ended, the last family there."""
    return (text.endswith("\n") and
            "\nratetier_guard_trips_total{" in text)

with open(path) as held:
    old = held.read()
    inode = os.fstat(held.fileno()).st_ino
    assert whole(old), "partial file:\n" + old
    wait_for(lambda: os.stat(path).st_ino != inode,
             "the status file to be replaced by a new one")
    held.seek(0)
    assert held.read() == old, "the old file was changed in place"
    with open(path) as new:
        assert whole(new.read()), "the new file is partial"

reads = rewrites = 0
inode = os.stat(path).st_ino
def two_rewrites():
    """Read the file 500 times as fast as possible; True after two
    rewrites."""
    global reads, rewrites, inode
    for _ in range(500):
        with open(path) as f:
            text = f.read()
            now = os.fstat(f.fileno()).st_ino
        reads += 1
        assert whole(text), "read %d is partial:\n%s" % (reads, text)
        if now != inode:
            rewrites += 1
            inode = now
    return rewrites >= 2
wait_for(two_rewrites, "two rewrites of the status file")
print("%d reads across %d rewrites, every one whole" % (reads, rewrites))
PY

# Nothing but the status file is left in its directory (no temporary
# file) once the server has stopped.
kill_nbdkit "$tmp/pid"
test "$(ls -A "$tmp/prom")" = ratetier.prom

# The connection guard's trips are counted too: with one connection
# allowed per client, a second TCP connection from the same address is
# refused and counted.  (The guard matches TCP connections only.)
port=$(free_port)
start_nbdkit "$tmp/pid2" -i 127.0.0.1 -p "$port" \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier-max-connections=1 \
  ratetier-status="$tmp/status2" ratetier-status-interval=1
python3 - "$port" <<'PY'
import nbd, sys
uri = "nbd://127.0.0.1:%s/" % sys.argv[1]
first = nbd.NBD()
first.connect_uri(uri)
second = nbd.NBD()
try:
    second.connect_uri(uri)
except nbd.Error as e:
    print("second connection refused as expected: %s" % e)
else:
    sys.exit("a second connection was allowed over ratetier-max-connections=1")
first.pread(512, 0)
PY
wait_for_line "$tmp/status2" \
  'ratetier_guard_trips_total{limit="max-connections"} 1'
cat "$tmp/status2"
grep -qxF 'ratetier_guard_trips_total{limit="handshake-timeout"} 0' "$tmp/status2"
grep -q '^# TYPE ratetier_guard_trips_total counter$' "$tmp/status2"
