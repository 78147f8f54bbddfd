#!/usr/bin/env bash
# ratetier: bad parameters stop nbdkit at start-up with a message that
# names the parameter (and, for ratetier=, quotes the offending part),
# and --help lists every parameter the man page documents.
source "$(dirname "$0")/functions.sh"
set -e -x

truncate -s 1M "$tmp/disk"

# The stack every case below adds parameters to.
stack=(--filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" file="$tmp/disk")

refused 'ratetier: thresholds must be strictly increasing, but "(500, 4)"' \
  "${stack[@]}" ratetier='((1000, 10), (500, 4))'
refused 'ratetier: expected' "${stack[@]}" ratetier='1000:10;2000:5'
refused 'ratetier: a weight must be at least 1' "${stack[@]}" ratetier=1000:0
refused 'ratetier: the tier table is empty' "${stack[@]}" ratetier=
refused 'ratetier given more than once' \
  "${stack[@]}" ratetier=1:1 ratetier=2:2
refused 'ratetier-idle-timeout given more than once' \
  "${stack[@]}" ratetier-idle-timeout=1 ratetier-idle-timeout=2
refused 'ratetier-state given more than once' \
  "${stack[@]}" ratetier-state="$tmp/a" ratetier-state="$tmp/b"
refused 'ratetier-colour: unknown ratetier parameter' \
  "${stack[@]}" ratetier-colour=blue
refused 'ratetier-key: expected address|connection, not "ip"' \
  "${stack[@]}" ratetier-key=ip
refused 'ratetier-ipv4-prefix: 33 is not between 0 and 32' \
  "${stack[@]}" ratetier-ipv4-prefix=33
refused 'ratetier-ipv6-prefix' "${stack[@]}" ratetier-ipv6-prefix=/64
refused 'ratetier-max-clients: 0 is not between 1 and 16777216' \
  "${stack[@]}" ratetier-max-clients=0
refused 'ratetier-max-clients: 4294967295 is not between 1 and 16777216' \
  "${stack[@]}" ratetier-max-clients=4294967295
refused 'ratetier-schedule: expected continuous|batch, not "fast"' \
  "${stack[@]}" ratetier-schedule=fast
refused 'ratetier-concurrency: 0 is not between 1 and 1024' \
  "${stack[@]}" ratetier-concurrency=0
refused 'ratetier-block-size' "${stack[@]}" ratetier-block-size=0
refused 'ratetier-decay: could not parse duration' \
  "${stack[@]}" ratetier-decay=soon
refused 'ratetier-forget-after: could not parse duration' \
  "${stack[@]}" ratetier-forget-after=-1
refused 'ratetier-status-interval: 10ms is not between 1000ms' \
  "${stack[@]}" ratetier-status-interval=10ms
refused 'ratetier-idle-timeout: 999999999 is not between 0 and 604800' \
  "${stack[@]}" ratetier-idle-timeout=999999999

# Good parameters are accepted.
serve "${stack[@]}" \
  ratetier=' ( (1000, 10), (10000, 4) ) ' ratetier-block-size=64k \
  ratetier-key=connection ratetier-ipv4-prefix=24 ratetier-ipv6-prefix=48 \
  ratetier-max-clients=10 ratetier-schedule=batch ratetier-concurrency=4 \
  ratetier-decay=1h ratetier-forget-after=7d \
  -- 'assert h.pread(512, 0) == bytearray(512)'
# The largest client table serves its first client.
serve "${stack[@]}" ratetier-max-clients=16777216 \
  -- 'assert h.pread(512, 0) == bytearray(512)'

# Every parameter in the man page is in --help, and the reverse.
pod=$abs_top_srcdir/filters/ratetier/nbdkit-ratetier-filter.pod
nbdkit --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" --help > "$tmp/help"
sed -n 's/^=item B<\(ratetier[a-z0-9-]*\)=.*/\1/p' "$pod" | sort -u > "$tmp/pod-params"
grep -o '^ratetier[a-z0-9-]*=' "$tmp/help" | tr -d = | sort -u > "$tmp/help-params"
diff -u "$tmp/pod-params" "$tmp/help-params"
test "$(wc -l < "$tmp/pod-params")" -ge 14
