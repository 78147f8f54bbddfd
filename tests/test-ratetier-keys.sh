#!/usr/bin/env bash
# ratetier: who a client is.  Over TCP, with clients on distinct source
# addresses (sockets bound to 127.0.0.N before connecting):
#  - ratetier-key=address: a client's count survives reconnection, and
#    another address is another client;
#  - ratetier-ipv4-prefix=24: addresses of one /24 are one client;
#  - ratetier-key=connection: every connection starts from zero.
# The scheduler trace shows the delivered count each request found.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version
requires python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))'

truncate -s 1M "$tmp/disk"

# run NAME RATETIER-ARGS...: serve on a free TCP port of 127.0.0.1 and
# run the client script below; the log goes to $tmp/NAME.log.
run ()
{
  local name=$1 port
  shift
  port=$(free_port)
  start_nbdkit "$tmp/$name.pid" -i 127.0.0.1 -p "$port" -v -D ratetier.sched=1 \
    --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
    "$@" 2>"$tmp/$name.log"
  python3 - "$port" <<'PY'
import sys
from functions import connect_from

port = int(sys.argv[1])

def read_from(source, blocks):
    h = connect_from(port, source)
    for i in range(blocks):
        h.pread(4096, i * 4096)
    h.shutdown()

read_from("127.0.0.2", 5)     # first visit
read_from("127.0.0.2", 1)     # reconnection
read_from("127.0.0.3", 1)     # another address
PY
  kill_nbdkit "$tmp/$name.pid"
}

# delivered=N at the first admission of each connection (1st, 6th, 7th
# request) and the client key.
first_seen ()
{
  grep 'sched: admit' "$tmp/$1.log" | sed -n '1p;6p;7p' |
    sed 's/.*client=\([^ ]*\) .*delivered=\([0-9]*\).*/\1=\2/' | tr '\n' ' '
}

run address
test "$(first_seen address)" = "127.0.0.2/32=0 127.0.0.2/32=5 127.0.0.3/32=0 "

run prefix ratetier-ipv4-prefix=24
test "$(first_seen prefix)" = "127.0.0.0/24=0 127.0.0.0/24=5 127.0.0.0/24=6 "

run connection ratetier-key=connection
test "$(first_seen connection | sed 's/connection:[0-9]*=/C=/g')" = "C=0 C=0 C=0 "
