#!/usr/bin/env bash
# Hostile clients against the public stack: random bytes instead of a
# handshake, a valid handshake followed by garbage (during options and
# during transmission), truncated requests.
#
# The case: tests/hostile/garbage.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/garbage.py" --tmp "$tmp"
