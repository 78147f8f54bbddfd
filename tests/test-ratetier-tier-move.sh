#!/usr/bin/env bash
# ratetier: a client moves to slower tiers as its delivered blocks cross
# the thresholds.  One client reads one block at a time; the scheduler
# trace (-D ratetier.sched=1) must place read N in the tier its count
# of N - 1 delivered blocks selects.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

log=$tmp/log

truncate -s 1M "$tmp/disk"
nbdkit -U - -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier='((4, 3), (8, 2))' \
  --run 'nbdsh -u "$uri" -c "
for i in range(12):
    h.pread(4096, i * 4096)
# Two blocks at once count as two.
h.pread(8192, 0)
h.pread(1, 0)
"' 2>"$log"

# Tier of each admitted read, in order.
tiers=$(grep -o 'sched: admit client=uid:[0-9]* tier=[0-9]' "$log" |
        sed 's/.*tier=//' | tr -d '\n')
test "$tiers" = "00001111222222"

# Delivered blocks seen at each admission: 0..11, then 12, then 14.
delivered=$(grep 'sched: admit' "$log" | sed 's/.*delivered=\([0-9]*\).*/\1/' |
            tr '\n' ' ')
test "$delivered" = "0 1 2 3 4 5 6 7 8 9 10 11 12 14 "
