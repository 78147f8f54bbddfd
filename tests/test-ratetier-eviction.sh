#!/usr/bin/env bash
# ratetier: the client table is bounded.  With ratetier-max-clients=2,
# a third client evicts the least recently seen client without a
# connection (which then starts again from zero), the status file
# counts the eviction, and a client that would need to evict a
# connected client is refused.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version
requires python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.4", 0))'

truncate -s 1M "$tmp/disk"
port=$(free_port)
start_nbdkit "$tmp/pid" -i 127.0.0.1 -p "$port" --log=stderr -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier-max-clients=2 ratetier-status="$tmp/status" \
  ratetier-status-interval=1 2>"$tmp/log"

python3 - "$port" "$tmp/status" <<'PY'
import nbd, sys
from functions import connect_from, wait_for

port, status = int(sys.argv[1]), sys.argv[2]

def connect(source):
    return connect_from(port, source)

def visit(source, blocks):
    h = connect(source)
    for i in range(blocks):
        h.pread(4096, i * 4096)
    h.shutdown()

visit("127.0.0.2", 3)      # oldest
visit("127.0.0.3", 2)
visit("127.0.0.4", 1)      # evicts .2
visit("127.0.0.3", 1)      # still known (count 2)
visit("127.0.0.2", 1)      # forgotten: starts at 0, evicts .4

# Both slots held by connected clients: a third address is refused.
a = connect("127.0.0.2")
b = connect("127.0.0.3")
try:
    connect("127.0.0.5")
    sys.exit("a client beyond ratetier-max-clients was let in")
except nbd.Error as e:
    print("refused as expected:", e)
a.pread(4096, 0)
b.pread(4096, 0)

# The status file reports 2 tracked clients and 2 evictions.
want = ['ratetier_clients_tracked 2',
        'ratetier_clients_forgotten_total{reason="evicted"} 2']

def status_shows_all():
    try:
        lines = open(status).read().splitlines()
    except FileNotFoundError:
        return False
    return all(w in lines for w in want)

wait_for(status_shows_all, "the status file to show %s" % want)
PY

grep 'sched: admit' "$tmp/log" |
  sed 's/.*client=\([^ ]*\) .*delivered=\([0-9]*\).*/\1=\2/' > "$tmp/seen"
cat "$tmp/seen"
# Visits 4 and 5 (the 7th and 8th reads): .3 kept its 2 blocks, .2
# started from zero.
test "$(sed -n 7p "$tmp/seen")" = "127.0.0.3/32=2"
test "$(sed -n 8p "$tmp/seen")" = "127.0.0.2/32=0"
grep "cannot track client 127.0.0.5/32" "$tmp/log"
