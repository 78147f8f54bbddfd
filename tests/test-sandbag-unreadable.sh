#!/usr/bin/env bash
# sandbag: an image the server cannot read (here: nbdkit runs as nobody,
# the file is root's and mode 0600) is refused with the unknown-export
# reply and not listed, while readable images are served.
source "$(dirname "$0")/functions.sh"
set -e -x
requires_root
requires id nobody
export tmp

# nobody must be able to reach the directory.
chmod 0755 "$tmp"
d=$tmp/images
mkdir -m 0755 "$d"
head -c 4096 /dev/urandom > "$d/public.img"
head -c 4096 /dev/urandom > "$d/secret.img"
chmod 0644 "$d/public.img"
chmod 0600 "$d/secret.img"
# The scratch directory must be reachable by nobody (not so if TMPDIR
# is inside a private directory).
requires runuser -u nobody -- test -r "$d/public.img"
cleanup_fn 'cat "$tmp/log" >&2'

timeout 60 nbdkit --user nobody --group nogroup -U - "$SANDBAG_PLUGIN" \
  dir="$d" --run '
    nbdinfo --list --json "$uri" > "$tmp/list.json"
    nbdinfo --size "nbd+unix:///public.img?socket=$unixsocket" > "$tmp/size"
    ! nbdinfo --size "nbd+unix:///secret.img?socket=$unixsocket" \
        2> "$tmp/client-err"
  ' 2> "$tmp/log"

[ "$(cat "$tmp/size")" = 4096 ]
grep "server has no export named 'secret.img'" "$tmp/client-err"
grep 'export "secret.img" refused: not readable' "$tmp/log"
python3 - "$tmp/list.json" <<'PY'
import json, sys
names = [e["export-name"] for e in json.load(open(sys.argv[1]))["exports"]]
assert names == ["public.img"], names
PY
