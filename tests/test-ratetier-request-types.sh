#!/usr/bin/env bash
# ratetier: every request that reaches the backend goes through the
# scheduler, so no request type bypasses fairness.  Over a writable
# plugin (nbdkit's memory plugin) each NBD command must show up once in
# the scheduler trace, charged its blocks.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

nbdkit -U - -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" memory 1M \
  --run 'nbdsh --base-allocation -u "$uri" -c "
h.pread(3 * 4096 + 1, 0)                 # 4 blocks
h.pwrite(b\"x\" * 8192, 65536)           # 2 blocks
h.zero(4096, 131072)
h.trim(4096, 196608)
h.flush()
h.cache(65536, 262144)                   # 16 blocks
h.block_status(65536, 0, lambda *args: 0)
"' 2>"$tmp/log"

grep 'sched: admit' "$tmp/log" |
  sed 's/.* blocks=\([0-9]*\) offset=\([0-9]*\).*/\1@\2/' > "$tmp/admits"
cat "$tmp/admits"
test "$(tr '\n' ' ' < "$tmp/admits")" = \
  "4@0 2@65536 1@131072 1@196608 1@0 16@262144 1@0 "
# The last request found everything before it counted.
grep 'sched: admit' "$tmp/log" | tail -n1 | grep ' delivered=25 '
