#!/usr/bin/env bash
# Hostile clients against the public stack: SIGTERM ends the server
# promptly with connections stalled in every state (silent, mid-
# handshake, established and idle, mid-request); nbdkit 1.32 alone would
# wait for them forever.
#
# The case: tests/hostile/guard-sigterm.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/guard-sigterm.py" --tmp "$tmp"
