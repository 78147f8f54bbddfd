#!/usr/bin/env bash
# Hostile clients against the public stack: hundreds of connections that
# stop mid-handshake, from one address (ratetier-max-connections refuses
# them before the handshake) and from many (ratetier-max-handshakes and
# nbdkit's limit refuse the excess, ratetier-handshake-timeout closes
# the rest); a new client still gets in.
#
# The case: tests/hostile/slowloris.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/slowloris.py" --tmp "$tmp"
