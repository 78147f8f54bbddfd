#!/usr/bin/env bash
# Hostile clients against the public stack: ratetier-max-connections
# refuses a client's connections over the cap before the handshake, lets
# a kernel-like client keep its several connections, and frees a place
# when a connection closes.
#
# The case: tests/hostile/guard-cap.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/guard-cap.py" --tmp "$tmp"
