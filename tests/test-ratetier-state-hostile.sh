#!/usr/bin/env bash
# ratetier: a state file with a valid checksum but extreme values (as a
# buggy or hostile program could write) is read without arithmetic
# overflow, and a file larger than ratetier-max-clients allows is set
# aside without being read.
#  1. Idle times whose sum or product in milliseconds would wrap around
#     are still "idle for ever": forgotten under ratetier-forget-after
#     when the file is loaded.
#  2. A file saved at the most negative time is "down for ever".
#  3. The largest delivered count stays the largest: more blocks
#     delivered do not wrap it around to a light client's count, with
#     or without decay.
#  4. A file of more clients than ratetier-max-clients is moved aside.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 1M "$tmp/disk"
state=$tmp/state

# make_state DELIVERED IDLE SAVED_AT [N]: a valid state file of N
# (default 1) records for this uid (a Unix-socket client), the I-th with
# uid + I, and the given counts, saved at SAVED_AT (seconds since the
# epoch, or "now").
make_state ()
{
  python3 - "$state" "$(id -u)" "$@" <<'PY'
import hashlib, struct, sys, time
path, uid, delivered, idle, saved_at = sys.argv[1:6]
n = int(sys.argv[6]) if len(sys.argv) > 6 else 1
saved_at = int(time.time()) if saved_at == "now" else int(saved_at)
b = b"RATETIER" + struct.pack("<IIBBHIq", 1, 4096, 32, 64, 0, n, saved_at)
for i in range(n):
    key = struct.pack("<BB6xQ8x", 3, 0, int(uid) + i)   # CLIENT_KEY_UID
    b += key + struct.pack("<QQ", int(delivered), int(idle))
open(path, "wb").write(b + hashlib.sha256(b).digest())
PY
}

# two_reads ARGS...: two reads of one block through ratetier on $state;
# the log (with every scheduling decision) goes to $tmp/log.
two_reads ()
{
  serve -v -D ratetier.sched=1 \
    --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
    ratetier=100:10 ratetier-state="$state" "$@" \
    -- 'h.pread(4096, 0); h.pread(4096, 0)' 2>"$tmp/log"
}

# delivered N: the client's delivered blocks seen by the N-th request.
delivered ()
{
  grep 'sched: admit' "$tmp/log" | sed -n "$1p" |
    sed 's/.*delivered=\([0-9]*\).*/\1/'
}

u64_max=18446744073709551615
# 1000 blocks, in the file's unit (1/256 block).
units=256000

# 1. Idle for ceil(2^64 / 1000) s: times 1000 that wraps to 384 ms.
make_state $units 18446744073709552 now
two_reads ratetier-forget-after=1h
grep 'ratetier-state: restored 0 clients, skipped 1' "$tmp/log"
test "$(delivered 1)" = 0
# ... and the most idle possible, 10 s before now: plus 10 s that wraps.
make_state $units $u64_max $(( $(date +%s) - 10 ))
two_reads ratetier-forget-after=1h
test "$(delivered 1)" = 0

# 2. Saved at the most negative time, idle 0: down for ever.
make_state $units 0 -9223372036854775808
two_reads ratetier-forget-after=1h
test "$(delivered 1)" = 0
# Without ratetier-forget-after it is kept, and decay has halved it
# more than enough times to reach zero.
make_state $units 0 -9223372036854775808
two_reads ratetier-decay=1d
test "$(delivered 1)" = 0

# 3. The largest count, with and without decay: the client stays in
#    the last tier, and its count does not wrap around after a read.
for decay in ratetier-decay=1d ""; do
  make_state $u64_max 0 now
  two_reads $decay
  test "$(delivered 1)" -gt 1000000000000
  test "$(delivered 2)" -gt 1000000000000
  grep 'sched: admit.* tier=1 ' "$tmp/log"
  ! grep 'sched: admit.* tier=0 ' "$tmp/log" || exit 1
done

# 4. Two records with ratetier-max-clients=1: set aside unread.
make_state $units 0 now 2
cp "$state" "$tmp/expected"
two_reads ratetier-max-clients=1
grep "ratetier-state: $state: larger than 104 bytes: more clients than ratetier-max-clients=1; moved it aside to $state.bad-" "$tmp/log"
test "$(delivered 1)" = 0
cmp "$state".bad-* "$tmp/expected"
