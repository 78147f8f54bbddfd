#!/bin/bash
# Benchmark: how a mounted client rides out a server restart (issue 10).
#
#   scripts/bench-reconnect.sh
#
# A sandbag server (the public stack of scripts/serve.sh, on loopback)
# serves a pinned version of a BENCH_IMAGE_MIB MiB image.  Clients read
# it through a local relay, as sandbag-attach sets them up, and the
# server is stopped and started again (scripts/bench/reconnect.py says
# exactly what is measured):
#
#   restart  one client reading 4 KiB every 10 ms: the time from the
#            server listening again to its next read (recovery), and the
#            longest gap it saw (stall); every byte is checked.
#   storm    BENCH_STORM clients (one relay process each) all reading
#            at once when the server comes back: the time until the last
#            is served, and the server's CPU seconds and peak RSS.
#
# Two relays side by side in every round: sandbag's (sandbag-relay,
# which also checks the pinned version on every connection) and one
# built from nbdkit's stock parts (the nbd plugin under the retry filter,
# retry-delay=1, its shortest, which checks nothing but the size).  The table gives
# medians and sandbag-relay's ratio to the stock relay; lower is better.
# The server's caps are raised so that BENCH_STORM connections from one
# address are admitted: this measures reconnection, not the guards.
#
# Environment: BENCH_ROUNDS (default 3), BENCH_DOWN (seconds the server
# stays down, default 2), BENCH_STORM (default 100), BENCH_IMAGE_MIB
# (default 64), and those in scripts/bench/lib.sh.  About 3 minutes.

set -e
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_DOWN=${BENCH_DOWN:-2}
BENCH_STORM=${BENCH_STORM:-100}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-64}
RELAY_PLUGIN=$BENCH_BUILD/plugins/sandbag-relay/nbdkit-sandbag-relay-plugin.so
PUBLISH=$BENCH_BUILD/tools/sandbag-publish/sandbag-publish

bench_build SANDBAG_PLUGIN RATETIER_FILTER HEATMAP_FILTER RELAY_PLUGIN PUBLISH
ulimit -n "$(ulimit -Hn)"

bench_header "reconnection after a server restart"
echo "server:   public stack (limit, ratetier, rate 10G, heatmap), caps raised to $(( BENCH_STORM * 4 )); down ${BENCH_DOWN}s per restart"

mkdir "$tmp/vol" "$tmp/relays"
bench_make_image "$tmp/image" "$BENCH_IMAGE_MIB"
pinned=$("$PUBLISH" publish --version=1 "$tmp/vol" vol "$tmp/image")
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
caps=$(( BENCH_STORM * 4 ))
server_cmd="exec nbdkit -f --log=null -i 127.0.0.1 -p $port \
  --filter=limit --filter=$RATETIER_FILTER --filter=rate \
  --filter=$HEATMAP_FILTER $SANDBAG_PLUGIN dir=$tmp/vol limit=$caps \
  ratetier-max-connections=$caps ratetier-max-handshakes=$caps \
  rate=10G heatmap-dir=$tmp/vol"

$PY "$bench_libdir/reconnect.py" --image "$tmp/image" --pinned "$pinned" \
  --server-cmd "$server_cmd" --port "$port" --relay-plugin "$RELAY_PLUGIN" \
  --tmp "$tmp/relays" --rounds "$BENCH_ROUNDS" --down "$BENCH_DOWN" \
  --storm "$BENCH_STORM" >> "$results"

echo
$PY "$bench_libdir/table.py" "$results" --peer nbd+retry \
  --col restart:recovery_s:"recovery s" \
  --col restart:stall_s:"stall s" \
  --info restart:errors:"read errors" \
  --col storm:all_served_s:"storm: all served s" \
  --col storm:server_cpu_s:"storm: server CPU s" \
  --info storm:server_peak_rss_mib:"storm: server peak RSS MiB" \
  --info storm:served:"storm: clients served"
