#!/usr/bin/env bash
# Hostile clients against the public stack: ratetier-idle-timeout closes
# an established connection that sends no request, not one that keeps
# reading.
#
# The case: tests/hostile/guard-idle.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/guard-idle.py" --tmp "$tmp"
