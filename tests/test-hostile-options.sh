#!/usr/bin/env bash
# Hostile clients against the public stack: option floods (LIST, INFO,
# GO, LIST_META_CONTEXT, unknown options) and long or hostile export
# names.
#
# The case: tests/hostile/options.py.  A well-behaved client on
# 127.0.0.2 keeps reading and checking data throughout the attack; see
# tests/hostile/harness.py for what every case checks and the HOSTILE
# line it prints.
source "$(dirname "$0")/functions.sh"
set -e -x

python3 "$abs_top_srcdir/tests/hostile/options.py" --tmp "$tmp"
