#!/usr/bin/env bash
# ratetier: counts can be made to fade.
#  - ratetier-decay=1s: a client's delivered count halves every second,
#    so after it has read 256 blocks, a later read finds far fewer.
#  - ratetier-forget-after=1s: a client without a connection for a
#    second is forgotten (counted in the status file), and starts again
#    from zero.
# Both wait for the effect with a generous deadline; time never decides
# the verdict.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 2M "$tmp/disk"
uri="nbd+unix:///?socket=$tmp/sock"

# delivered=N seen by the last admission in the log.
last_delivered ()
{
  grep 'sched: admit' "$tmp/log" | tail -n1 |
    sed 's/.*delivered=\([0-9]*\).*/\1/'
}

# Decay.
start_nbdkit "$tmp/pid" -U "$tmp/sock" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier-decay=1s 2>"$tmp/log"
nbdsh -u "$uri" -c 'h.pread(1024 * 1024, 0)'         # 256 blocks
nbdsh -u "$uri" -c 'h.pread(4096, 0)'
test "$(last_delivered)" -ge 64                       # at most 2 s later
for (( i = 0; i < 100; i++ )); do
  nbdsh -u "$uri" -c 'h.pread(4096, 0)'
  [ "$(last_delivered)" -lt 32 ] && break
  sleep 0.2
done
test "$(last_delivered)" -lt 32
kill_nbdkit "$tmp/pid"

# Forgetting.
uri="nbd+unix:///?socket=$tmp/sock2"
start_nbdkit "$tmp/pid2" -U "$tmp/sock2" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier-forget-after=1s ratetier-status="$tmp/status" \
  ratetier-status-interval=1 2>"$tmp/log"
nbdsh -u "$uri" -c 'h.pread(16 * 4096, 0)'
want='ratetier_clients_forgotten_total{reason="idle"} 1'
for (( i = 0; i < 300; i++ )); do
  grep -qxF "$want" "$tmp/status" 2>/dev/null && break
  sleep 0.1
done
grep -xF "$want" "$tmp/status"
grep -xF 'ratetier_clients_tracked 0' "$tmp/status"
nbdsh -u "$uri" -c 'h.pread(4096, 0)'
test "$(last_delivered)" = 0
