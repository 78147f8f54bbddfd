#!/usr/bin/env bash
# ratetier: ratetier-state=FILE keeps delivered counts across restarts.
#  1. A client reads 6 blocks; the server saves the state when it stops.
#  2. Restarted on the same file, the server remembers the 6 blocks.
#  3. While running, the state is also saved every
#     ratetier-state-interval.
#  4. A corrupt file is moved aside with an error in the log, and the
#     server starts with empty counters.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

truncate -s 1M "$tmp/disk"
state=$tmp/state

stack=(-v -D ratetier.sched=1 --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN"
       file="$tmp/disk" ratetier-state="$state")

# delivered=N seen by the first request in log $1.
first_delivered ()
{
  grep -m1 'sched: admit' "$1" | sed 's/.*delivered=\([0-9]*\).*/\1/'
}

# 1. Missing file: start empty; save at shutdown.
serve "${stack[@]}" -- '
for i in range(6): h.pread(4096, i * 4096)
' 2>"$tmp/log1"
test "$(first_delivered "$tmp/log1")" = 0
test "$(head -c 8 "$state")" = RATETIER
test "$(stat -c %s "$state")" -eq $((32 + 40 + 32))

# 2. Loaded at start.
serve "${stack[@]}" -- 'h.pread(4096, 0)' 2>"$tmp/log2"
test "$(first_delivered "$tmp/log2")" = 6

# 3. Periodic save, without stopping the server.
rm "$state"
start_nbdkit "$tmp/pid" -U "$tmp/sock" \
  --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk" \
  ratetier-state="$state" ratetier-state-interval=1
nbdsh -u "nbd+unix:///?socket=$tmp/sock" -c 'h.pread(4096, 0)'
for (( i = 0; i < 300; i++ )); do
  [ -s "$state" ] && break
  sleep 0.1
done
test "$(head -c 8 "$state")" = RATETIER
kill_nbdkit "$tmp/pid"

# 4. Corrupt file: moved aside, start empty, and the server still serves.
echo "not a state file" > "$state"
serve "${stack[@]}" -- 'h.pread(4096, 0)' 2>"$tmp/log4"
grep "ratetier-state: $state: not a ratetier state file (bad magic); moved it aside to $state.bad-" "$tmp/log4"
test "$(first_delivered "$tmp/log4")" = 0
ls "$state".bad-*
test "$(cat "$state".bad-*)" = "not a state file"
# ... and the new state was saved in its place.
test "$(head -c 8 "$state")" = RATETIER
