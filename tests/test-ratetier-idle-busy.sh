#!/usr/bin/env bash
# ratetier's idle guard counts idleness only while no request is in
# flight, from the end of the last one: a read that runs (or waits in a
# queue) longer than ratetier-idle-timeout completes, and a connection
# that then stays silent is still closed once the timeout passes.
source "$(dirname "$0")/functions.sh"
set -e -x
export tmp

head -c 1M /dev/urandom > "$tmp/disk"
port=$(free_port)
# The delay filter below ratetier makes every read take 3 s; the idle
# timeout is 1 s.  The guard watches TCP connections only.
start_nbdkit "$tmp/pid" -i 127.0.0.1 -p "$port" \
  --filter="$RATETIER_FILTER" --filter=delay "$SANDBAG_PLUGIN" \
  file="$tmp/disk" delay-read=3 ratetier-idle-timeout=1

python3 - "$port" <<'PY'
import sys, time
import nbd

h = nbd.NBD()
h.connect_uri("nbd://127.0.0.1:%s" % sys.argv[1])
want = open(__import__("os").environ["tmp"] + "/disk", "rb").read(4096)
t = time.monotonic()
assert h.pread(4096, 0) == want          # 3 s in flight: not idle
print("slow read took %.1f s" % (time.monotonic() - t))
# Silent for longer than the timeout: now the guard closes it.
time.sleep(3)
try:
    h.pread(4096, 0)
    raise AssertionError("an idle connection was not closed")
except nbd.Error as e:
    print("idle connection closed:", e)
PY
