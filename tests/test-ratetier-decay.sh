#!/usr/bin/env bash
# ratetier: counts can be made to fade.
#  - ratetier-decay=1h: a client's delivered count halves every hour.
#    After a client has read 65536 blocks, its count must, sooner or
#    later, go down, and never below what an hour's half-life allows for
#    all the time since before the server started:
#      seen >= 65536 * 2^(-elapsed / 1 h) - (one block of rounding per
#      decay step, at most one step a second)
#    The bound holds however slow the machine is (a slower run only
#    widens it), so elapsed time never decides the verdict; a decay of
#    the wrong unit or speed (2^(-elapsed / 1 s), or twice the factor)
#    falls below it.
#  - ratetier-decay=1s: 256 blocks fall below 32.
#  - ratetier-forget-after=1s: a client without a connection for a
#    second is forgotten (counted in the status file), and starts again
#    from zero.
# The waits for an effect have deadlines only to stop a hung test.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 256M "$tmp/disk"

# check_decay HALF-LIFE-SECONDS: the decay checks above, against the
# server on $tmp/sock-HALF-LIFE (log $tmp/log-HALF-LIFE) started at
# monotonic time $started.
check_decay ()
{
  python3 - "$tmp/log-$1" "$tmp/sock-$1" "$started" "$1" <<'PY'
import math, re, sys, time
import nbd
from functions import wait_for

log, sock, started, half_life = (sys.argv[1], sys.argv[2],
                                 float(sys.argv[3]), float(sys.argv[4]))

def last_delivered():
    """delivered=N found by the last admission in the log."""
    with open(log) as f:
        seen = re.findall(r"sched: admit .* delivered=(\d+)", f.read())
    return int(seen[-1])

h = nbd.NBD()
h.connect_unix(sock)
# Blocks of 4 KiB (ratetier's default): 65536 to see a small decay
# precisely, 256 to see a fast one fall far quickly.
heavy = 65536 if half_life > 1 else 256
chunk = min(heavy, 1024)        # 4 MiB reads
for i in range(heavy // chunk):
    h.pread(chunk * 4096, i * chunk * 4096)
delivered = heavy               # blocks delivered, without decay

def read_and_see():
    """One more 1-block read: returns the count it found and the blocks
    delivered before it; checks the lower bound."""
    global delivered
    h.pread(4096, 0)
    seen, before = last_delivered(), delivered
    delivered += 1
    elapsed = time.monotonic() - started
    bound = (math.floor(heavy * 2 ** (-elapsed / half_life)) -
             math.ceil(elapsed))
    print("seen %d of %d delivered, %.1f s after the start: at least %d"
          % (seen, before, elapsed, bound))
    assert seen >= bound, "decayed too fast: %d < %d" % (seen, bound)
    return seen, before

def fell_below(limit):
    seen, before = read_and_see()
    if seen < limit(before):
        return True
    time.sleep(0.2)
    return False

wait_for(lambda: fell_below(lambda before: before), "the count to decay")
if half_life <= 1:
    wait_for(lambda: fell_below(lambda before: 32),
             "the count to fall below 32")
PY
}

# Decay with a half-life of an hour, then of a second.
for half_life in 3600 1; do
  started=$(python3 -c 'import time; print(time.monotonic())')
  start_nbdkit "$tmp/pid-$half_life" -U "$tmp/sock-$half_life" \
    -v -D ratetier.sched=1 \
    --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
    ratetier-decay="$half_life" 2>"$tmp/log-$half_life"
  check_decay "$half_life"
  kill_nbdkit "$tmp/pid-$half_life"
done

# Without ratetier-decay, nothing fades: the count after a wait is
# exactly what was delivered.  (The status file keeps ratetier's
# housekeeping thread, which would decay counts, running.)
start_nbdkit "$tmp/pid" -U "$tmp/sock" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier-status="$tmp/status" ratetier-status-interval=1 2>"$tmp/log"
nbdsh -u "nbd+unix:///?socket=$tmp/sock" -c '
import os, re, time
h.pread(1 << 20, 0)                             # 256 blocks
log = os.environ["tmp"] + "/log"
time.sleep(2)       # housekeeping rounds (status every second)
h.pread(4096, 0)
seen = re.findall(r"sched: admit .* delivered=(\d+)", open(log).read())
assert seen[-1] == "256", seen[-1]
'
kill_nbdkit "$tmp/pid"

# Forgetting.
uri="nbd+unix:///?socket=$tmp/sock2"
start_nbdkit "$tmp/pid2" -U "$tmp/sock2" -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier-forget-after=1s ratetier-status="$tmp/status" \
  ratetier-status-interval=1 2>"$tmp/log"
nbdsh -u "$uri" -c 'h.pread(16 * 4096, 0)'
wait_for_line "$tmp/status" 'ratetier_clients_forgotten_total{reason="idle"} 1'
grep -xF 'ratetier_clients_tracked 0' "$tmp/status"
nbdsh -u "$uri" -c 'h.pread(4096, 0)'
grep 'sched: admit' "$tmp/log" | tail -n1 | grep ' delivered=0 '
