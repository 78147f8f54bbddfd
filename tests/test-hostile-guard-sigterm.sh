#!/usr/bin/env bash
# Hostile clients against the public stack: SIGTERM ends the server
# promptly with connections stalled in every state (silent, mid-
# handshake, established and idle, mid-request); nbdkit 1.32 alone would
# wait for them forever.
#
# A well-behaved client on 127.0.0.2 keeps reading and checking data
# meanwhile; see tests/hostile.py for what the case checks and the
# HOSTILE line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile.py" case guard-sigterm --tmp "$tmp"
