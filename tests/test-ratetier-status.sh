#!/usr/bin/env bash
# ratetier: ratetier-status=FILE is a Prometheus text file, rewritten
# while the server runs, counting requests per tier, clients, and the
# connection guard's trips.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 1M "$tmp/disk"
start_nbdkit "$tmp/pid" -U "$tmp/sock" \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier=2:5 ratetier-status="$tmp/status" ratetier-status-interval=1

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
for (( i = 0; i < 300; i++ )); do
  ok=1
  for w in "${want[@]}"; do
    grep -qxF "$w" "$tmp/status" 2>/dev/null || ok=
  done
  [ "$ok" ] && break
  sleep 0.1
done
cat "$tmp/status"
for w in "${want[@]}"; do grep -qxF "$w" "$tmp/status"; done
grep -q '^# TYPE ratetier_wait_seconds histogram$' "$tmp/status"
# Rewritten atomically: no temporary file is left behind.
test -z "$(ls "$tmp" | grep 'status\.tmp')"

# The connection guard's trips are counted too: with one connection
# allowed per client, a second TCP connection from the same address is
# refused and counted.  (The guard matches TCP connections only.)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
want='ratetier_guard_trips_total{limit="max-connections"} 1'
for (( i = 0; i < 300; i++ )); do
  grep -qxF "$want" "$tmp/status2" 2>/dev/null && break
  sleep 0.1
done
cat "$tmp/status2"
grep -qxF "$want" "$tmp/status2"
grep -qxF 'ratetier_guard_trips_total{limit="handshake-timeout"} 0' "$tmp/status2"
grep -q '^# TYPE ratetier_guard_trips_total counter$' "$tmp/status2"
