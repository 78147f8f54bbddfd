#!/usr/bin/env bash
# Hostile clients against the public stack: invalid command types and
# flags, reads past the end, zero-length and over-maximum requests,
# writes/trims/zeroes (each refused with the connection still usable),
# NBD_CMD_CACHE and block-status floods.
#
# The case: tests/hostile/requests.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/requests.py" --tmp "$tmp"
