#!/usr/bin/env bash
# sandbag-attach without the kernel's nbd module (this host has none):
# the relay exposed with nbdfuse and a read-only loop device.  A mount
# must survive its server being killed and restarted while a reader
# checks every file, never see another version's bytes (a server that
# comes back with other bytes under the same pinned name is refused
# until give-up, then reads fail with EIO), move to a new version with
# update, and leave nothing behind after detach.  The same cases run
# with the real kernel client in the VM tests.
source "$(dirname "$0")/functions.sh"
set -e -x
requires_root
requires mkfs.erofs --help
requires nbdfuse --version
requires test -c /dev/fuse
export SANDBAG_RELAY_PLUGIN
# Keep the relays' logs with the test's (printed if the test fails).
export SANDBAG_ATTACH_RELAY_LOG=$tmp/relay.log
cleanup_fn "test \$status -eq 0 || tail -200 '$tmp/relay.log' >&2"

attach=$SANDBAG_ATTACH
state=$tmp/state
vol=$tmp/vol
mkdir "$vol" "$tmp/mnt"

# make_tree DIR SEED: files of random content, a few of them large.
make_tree ()
{
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, rng = sys.argv[1], random.Random(int(sys.argv[2]))
for d in range(8):
    for i in range(20):
        p = os.path.join(root, "d%d" % d, "f%02d" % i)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "wb").write(rng.randbytes(rng.randrange(0, 20000)))
open(os.path.join(root, "big"), "wb").write(rng.randbytes(6 << 20))
PY
}
make_tree "$tmp/tree1" 1
make_tree "$tmp/tree2" 2
(cd "$tmp/tree1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) \
  > "$tmp/sums1"
(cd "$tmp/tree2" && find . -type f -print0 | sort -z | xargs -0 sha256sum) \
  > "$tmp/sums2"
mkfs.erofs --quiet -T0 "$tmp/img1" "$tmp/tree1"
mkfs.erofs --quiet -T0 "$tmp/img2" "$tmp/tree2"
"$SANDBAG_PUBLISH" publish --version=1 "$vol" vol "$tmp/img1"

port=$(free_port)
# The public stack's guard ends idle connections (the relay's) at once
# on SIGTERM, which plain nbdkit 1.32 would wait for forever.
# start_server DIR: the public server of the volumes in DIR on $port.
start_server ()
{
  start_nbdkit "$tmp/server.pid" -p "$port" -i 127.0.0.1 \
    --filter="$RATETIER_FILTER" "$SANDBAG_PLUGIN" dir="$1"
}
start_server "$vol"
cleanup_fn "'$attach' --state-dir='$state' detach --lazy '$tmp/mnt' || :"

# check SUMS: every file of the mount, read again from the server.
check ()
{
  echo 3 > /proc/sys/vm/drop_caches
  (cd "$tmp/mnt" && sha256sum --quiet -c "$1")
}

out=$("$attach" --state-dir="$state" --fuse --give-up=15s \
        mount vol "$tmp/mnt" "nbd://127.0.0.1:$port")
[[ $out =~ ^vol@1\ /dev/loop[0-9]+$ ]]
check "$tmp/sums1"
"$attach" --state-dir="$state" status "$tmp/mnt" > "$tmp/status"
grep -Fx "pinned vol@1" "$tmp/status"
grep -Fx "mode fuse" "$tmp/status"
grep -Fx "mounted yes" "$tmp/status"

# The server dies and comes back while a reader checks every file.
( for i in 1 2 3 4 5 6; do check "$tmp/sums1" || exit 1; done ) &
reader=$!
sleep 0.3
kill_nbdkit "$tmp/server.pid"
sleep 2
start_server "$vol"
wait $reader
# The status is rewritten every second: wait for the reconnection.
for (( i = 0; i < 600; i++ )); do
  "$attach" --state-dir="$state" status "$tmp/mnt" > "$tmp/status"
  grep -qE '^reconnects [1-9]' "$tmp/status" && break
  sleep 0.1
done
grep -E '^reconnects [1-9]' "$tmp/status"
grep -Fx "errors 0" "$tmp/status"

# A new version is published; update moves the mount to it.
"$SANDBAG_PUBLISH" publish --version=2 "$vol" vol "$tmp/img2"
out=$("$attach" --state-dir="$state" update "$tmp/mnt")
grep -E '^vol@2 /dev/loop[0-9]+$' <<< "$out"
grep -Fx "detached vol@1" <<< "$out"
check "$tmp/sums2"
out=$("$attach" --state-dir="$state" update "$tmp/mnt")
test "$out" = "vol@2 is the newest version"

# A server that comes back with other bytes under vol@2 is never read:
# the mount's reads fail with EIO once give-up has passed.
kill_nbdkit "$tmp/server.pid"
mkdir "$tmp/liar"
"$SANDBAG_PUBLISH" publish --version=2 "$tmp/liar" vol "$tmp/img1"
start_server "$tmp/liar"
echo 3 > /proc/sys/vm/drop_caches
start=$SECONDS
if cat "$tmp/mnt/big" > /dev/null 2> "$tmp/err"; then
  echo "$0: read other bytes" >&2
  exit 1
fi
grep -i "input/output error" "$tmp/err"
(( SECONDS - start >= 12 ))
"$attach" --state-dir="$state" status "$tmp/mnt" > "$tmp/status"
grep -E "^source nbd://127.0.0.1:$port wrong-version " "$tmp/status"

# detach leaves nothing: no mount, no relay, no state.
# Reads the relay still retries may hold the device until give-up.
"$attach" --state-dir="$state" --drain-timeout=40s detach --lazy "$tmp/mnt"
# (Not "! mountpoint": set -e ignores a negated command, which could
# never fail the test.)
if mountpoint -q "$tmp/mnt"; then
  echo "$0: still mounted after detach" >&2
  exit 1
fi
test -z "$(ls "$state")"
if pgrep -af "nbdkit.*$state" >&2; then
  echo "$0: a relay outlived detach" >&2
  exit 1
fi
