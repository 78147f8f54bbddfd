#!/usr/bin/env bash
# Hostile clients against the public stack: many clients from distinct
# addresses (127.0.N.M) with a small ratetier-max-clients: a table full
# of connected clients refuses newcomers, and a churn of short-lived
# clients makes it evict (checked in the status file).
#
# The case: tests/hostile/clients.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/clients.py" --tmp "$tmp"
