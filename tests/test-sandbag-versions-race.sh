#!/usr/bin/env bash
# sandbag: publishing races with connections.  While versions are
# published as fast as sandbag-publish can, clients connect to the plain
# name and to the default export; each must get exactly the version the
# description (or NBD_INFO_NAME) names: every byte read must hash to
# that version's SHA-256.
source "$(dirname "$0")/functions.sh"
set -e -x
export tmp

vol=$tmp/vol
mkdir "$vol"
head -c 65536 /dev/urandom > "$tmp/img"
"$SANDBAG_PUBLISH" publish --version=0 "$vol" vol "$tmp/img"

cat > "$tmp/publisher.sh" <<'SH'
#!/bin/bash
# Publish versions 1..N of random sizes until told to stop.
set -e
for (( i = 1; ; i++ )); do
  [ -e "$tmp/stop" ] && exit 0
  head -c $(( 4096 * (1 + RANDOM % 32) )) /dev/urandom > "$tmp/next"
  "$SANDBAG_PUBLISH" publish --retention=1 --version=$i "$1" vol \
    "$tmp/next" > /dev/null
done
SH

cat > "$tmp/clients.py" <<'PY'
import hashlib, os, sys
import nbd

# At least ROUNDS connections, and on until three versions have been
# seen (the publisher keeps publishing meanwhile), so that the race is
# really run however the machine schedules the two sides.
sock, rounds = sys.argv[1], int(sys.argv[2])
seen = set()
i = -1
while i + 1 < rounds or len(seen) < 3:
    i += 1
    h = nbd.NBD()
    h.set_full_info(True)
    h.set_export_name("vol" if i % 2 else "")
    try:
        h.connect_unix(sock)
    except nbd.Error as e:
        # Only a version pruned between resolving and opening may vanish.
        assert e.errno == "ENOENT", e
        continue
    desc = h.get_export_description()
    pinned = desc.split(",")[0]
    if i % 2 == 0:
        assert h.get_canonical_export_name() == pinned, (desc, pinned)
    sha = desc.rsplit("sha256 ", 1)[1]
    size = h.get_size()
    assert desc.split(", ")[1] == "%d bytes" % size, desc
    data = h.pread(size, 0)
    assert hashlib.sha256(data).hexdigest() == sha, (pinned, desc)
    seen.add(pinned)
    h.shutdown()
print("versions seen:", len(seen), "in", i + 1, "connections")
PY

start_nbdkit "$tmp/pid" -U "$tmp/sock" "$SANDBAG_PLUGIN" dir="$vol" \
  default=vol
bash "$tmp/publisher.sh" "$vol" &
publisher=$!
cleanup_fn "touch '$tmp/stop'; wait $publisher"
python3 "$tmp/clients.py" "$tmp/sock" 400
touch "$tmp/stop"
wait $publisher
