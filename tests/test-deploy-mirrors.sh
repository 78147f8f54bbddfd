#!/usr/bin/env bash
# docs/deployment.md, "Several mirrors": published versions copied from
# a master with the guide's two rsync passes are the same pinned
# versions on the mirror (same names, sizes, SHA-256, and the same
# image identity for the heat maps); a relay given both servers keeps
# reading, every block right, when the master dies; and the two
# servers' heat maps of the version merge into one.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version
requires rsync --version

master=$tmp/master
mirror=$tmp/mirror
mkdir "$master" "$mirror" "$tmp/maps-master" "$tmp/maps-mirror"
head -c $((4 << 20)) /dev/urandom > "$tmp/v1"
head -c $((6 << 20)) /dev/urandom > "$tmp/v2"
"$SANDBAG_PUBLISH" publish --version=1 "$master" vol "$tmp/v1"
"$SANDBAG_PUBLISH" publish --version=2 "$master" vol "$tmp/v2"
mkdir "$master/subdir"           # not copied: only the directory's files

# The guide's recipe: versions first, then the links.
rsync -a --exclude='/*/' --no-links "$master/" "$mirror/"
test ! -e "$mirror/vol"          # no link yet to a version not yet there
rsync -a --exclude='/*/' "$master/" "$mirror/"
test "$(readlink "$mirror/vol")" = vol@2
test ! -e "$mirror/subdir"
"$SANDBAG_PUBLISH" list "$master" vol > "$tmp/list-master"
"$SANDBAG_PUBLISH" list "$mirror" vol > "$tmp/list-mirror"
cat "$tmp/list-mirror"
cmp "$tmp/list-master" "$tmp/list-mirror"

# Both servers, as a client sees them.
port_master=$(free_port)
serve ()
{
  start_nbdkit "$tmp/$1.pid" -p "$2" -i 127.0.0.1 \
    --filter="$RATETIER_FILTER" --filter="$HEATMAP_FILTER" \
    "$SANDBAG_PLUGIN" dir="$3" heatmap-dir="$4"
}
serve master "$port_master" "$master" "$tmp/maps-master"
port_mirror=$(free_port)
serve mirror "$port_mirror" "$mirror" "$tmp/maps-mirror"
for p in "$port_master" "$port_mirror"; do
  nbdinfo --json "nbd://127.0.0.1:$p/vol" |
    sed -n 's/.*"description": "\(.*\)",*$/\1/p'
done > "$tmp/descriptions"
cat "$tmp/descriptions"
test "$(sort -u "$tmp/descriptions" | wc -l)" -eq 1
grep -q '^vol@2, 6291456 bytes, ' "$tmp/descriptions"

# A relay of vol@2 from both; the master dies while it reads.
export tmp port_master port_mirror
python3 - <<'EOF'
import os, random, signal, subprocess, time
import nbd

tmp = os.environ["tmp"]
image = open(f"{tmp}/v2", "rb").read()
h = None
relay = subprocess.Popen(
    ["nbdkit", "-f", "-U", f"{tmp}/relay.sock",
     os.environ["SANDBAG_RELAY_PLUGIN"],
     f"server=nbd://127.0.0.1:{os.environ['port_master']}",
     f"server=nbd://127.0.0.1:{os.environ['port_mirror']}",
     "export=vol@2", "give-up=10s", f"status={tmp}/relay.status"],
    stderr=open(f"{tmp}/relay.log", "w"))
try:
    for _ in range(100):
        if os.path.exists(f"{tmp}/relay.sock"):
            break
        time.sleep(0.1)
    h = nbd.NBD()
    h.connect_unix(f"{tmp}/relay.sock")
    rng = random.Random(2)

    def check(n):
        for _ in range(n):
            off = rng.randrange(0, (len(image) - 65536) // 4096) * 4096
            assert h.pread(65536, off) == image[off:off + 65536], off

    check(200)
    os.kill(int(open(f"{tmp}/master.pid").read()), signal.SIGTERM)
    check(400)          # from the mirror, after the master is gone
    h.shutdown()
    time.sleep(1.2)     # the status file is rewritten every second
    status = open(f"{tmp}/relay.status").read()
    print(status)
    assert "errors 0\n" in status
    mirror_line = [l for l in status.splitlines()
                   if l.startswith(f"source nbd://127.0.0.1:{os.environ['port_mirror']} ")]
    # The reads after the master died came from the mirror (one read may
    # have been under way on the master when it died).
    assert mirror_line, status
    served = int(mirror_line[0].split("requests=")[1].split()[0])
    assert served >= 399, mirror_line
finally:
    # nbdkit 1.32 waits at exit for its clients: close ours first
    # (dropping the handle closes it).
    h = None
    relay.terminate()
    relay.wait(30)
EOF

# Both servers' maps of vol@2 describe the same image version: they
# merge.  (Each server read the first and last 64 KiB at least.)
kill_nbdkit "$tmp/mirror.pid"
ls "$tmp/maps-master" "$tmp/maps-mirror"
"$SANDBAG_HEATMAP" merge -o "$tmp/all.heatmap" \
  "$tmp/maps-master/vol%402.heatmap" "$tmp/maps-mirror/vol%402.heatmap"
"$SANDBAG_HEATMAP" summary "$tmp/all.heatmap" | grep -x 'export: *vol@2'
