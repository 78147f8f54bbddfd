#!/usr/bin/env bash
# Hostile clients against the public stack: ratetier-handshake-timeout
# closes silent, half-greeted and NBD_OPT_INFO-only connections, never
# one in transmission, and logs one client's trips once per interval.
#
# The case: tests/hostile/guard-handshake.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/guard-handshake.py" --tmp "$tmp"
