#!/usr/bin/env bash
# ratetier: a backend error while a request is admitted passes through
# to the client and frees the slot; the failed read is not counted as
# delivered.  One slot (ratetier='()'); nbdkit's error filter below
# ratetier fails every read while $tmp/inject exists.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 1M "$tmp/disk"
touch "$tmp/inject"
export tmp
nbdkit -U - -v -D ratetier.sched=1 \
  --filter="$RATETIER_FILTER" --filter=error \
  "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier='()' error-pread=EIO error-pread-rate=1 error-file="$tmp/inject" \
  --run 'timeout 60 nbdsh -u "$uri" -c "
import errno, os
for i in range(3):
    try:
        h.pread(4096, 0)
        raise SystemExit(\"a read did not fail\")
    except nbd.Error as e:
        assert e.errno in (\"EIO\", errno.EIO), e
os.unlink(os.environ[\"tmp\"] + \"/inject\")
# With one slot, a slot leaked by a failure would hang these.
for i in range(3):
    h.pread(4096, 0)
"' 2>"$tmp/log"

# Six admissions; the reads after the failures found nothing delivered.
test "$(grep -c 'sched: admit' "$tmp/log")" -eq 6
test "$(grep 'sched: admit' "$tmp/log" | sed -n 4p |
        sed 's/.*delivered=\([0-9]*\).*/\1/')" = 0
test "$(grep 'sched: admit' "$tmp/log" | sed -n 6p |
        sed 's/.*delivered=\([0-9]*\).*/\1/')" = 2
