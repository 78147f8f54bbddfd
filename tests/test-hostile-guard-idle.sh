#!/usr/bin/env bash
# Hostile clients against the public stack: ratetier-idle-timeout closes
# an established connection that sends no request, not one that keeps
# reading.
#
# A well-behaved client on 127.0.0.2 keeps reading and checking data
# meanwhile; see tests/hostile.py for what the case checks and the
# HOSTILE line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile.py" case guard-idle --tmp "$tmp"
