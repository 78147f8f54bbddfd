#!/usr/bin/env bash
# Hostile clients against the public stack: clients that disconnect
# (close or reset) with many requests in flight, again and again.  On
# nbdkit < 1.33.10 with worker threads this kills the server (an
# assertion in nbdkit); the sandbag plugin serializes requests for that
# reason.
#
# The case: tests/hostile/inflight.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/inflight.py" --tmp "$tmp"
