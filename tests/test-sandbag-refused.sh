#!/usr/bin/env bash
# sandbag: hostile export names in dir= mode.  Every refused name gets
# the protocol's unknown-export reply (libnbd: ENOENT, "server has no
# export named"), exactly like a name that does not exist; the server
# logs the escaped name and why; a FIFO never hangs the server; refused
# entries are not listed; good names keep working throughout.
source "$(dirname "$0")/functions.sh"
set -e -x
requires mkfifo --version
export tmp

d=$tmp/images
mkdir "$d" "$d/subdir"
head -c 65536 /dev/urandom > "$d/good.img"
head -c 512 /dev/urandom > "$tmp/outside"
head -c 512 /dev/urandom > "$d/subdir/nested"
echo text > "$d/.good.img.description"
: > "$d/.hidden"
: > "$d/$(printf 'ctl\001name')"
: > "$d/$(printf 'esc\033[2J')"
: > "$d/$(printf 'c1\302\205x')"
: > "$d/$(printf 'bad\377utf8')"
ln -s /etc/passwd "$d/absolute"
ln -s ../outside "$d/relative"
ln -s subdir/../../outside "$d/through"
ln -s relative "$d/chained"
ln -s "$d/good.img" "$d/absolute-inside"   # absolute, but leaves the root
ln -s subdir "$d/dirlink"
ln -s nothing "$d/dangling"
ln -s good.img "$d/inside"                 # served
mkfifo "$d/fifo"
mknod "$d/null" c 1 3
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
  "$d/socket"

cat > "$tmp/refused.py" <<'PY'
import errno, os, sys
import nbd

sock = sys.argv[1]

def connect(name):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix(sock)
    return h

def refused(name):
    h = nbd.NBD()
    h.set_export_name(name)
    try:
        h.connect_unix(sock)
    except nbd.Error as e:
        assert e.errno == "ENOENT", (name, e)
        assert "server has no export named" in e.string, (name, e)
        # Nothing from the server's side (paths, reasons) reaches us.
        assert os.environ["tmp"] not in e.string, e
        assert "refused" not in e.string and "regular" not in e.string, e
        return
    raise AssertionError("export %r was served" % name)

names = ["", ".", "..", ".hidden", ".good.img.description",
         "a/b", "../outside", "/etc/passwd", "subdir/nested", "subdir/",
         "./good.img", "good.img/", "ctl\x01name", "esc\x1b[2J", "c1\x85x",
         "x" * 256, "a" * 4096,
         "absolute", "relative", "through", "chained", "absolute-inside",
         "dirlink", "dangling", "subdir", "fifo", "null", "socket",
         "no-such-image", "GOOD.IMG"]
for name in names:
    refused(name)
    # The server is still fine after each refusal.
    assert connect("good.img").pread(512, 0) == open(
        os.path.join(os.environ["tmp"], "images/good.img"), "rb").read(512)

# A symbolic link that stays inside the directory is followed.
assert connect("inside").get_size() == 65536
print("refused", len(names), "names")
PY

# Run it all under a generous deadline: a FIFO that hung a server thread
# would make a connection hang, and the whole test fail here.
cleanup_fn 'cat "$tmp/log" >&2'
timeout 120 nbdkit -U - "$SANDBAG_PLUGIN" dir="$d" \
  --run 'python3 "$tmp/refused.py" "$unixsocket"' 2> "$tmp/log"

# The server logs why, with client-supplied names escaped.
grep 'export "fifo" refused: not a regular file' "$tmp/log"
grep 'export "null" refused: not a regular file' "$tmp/log"
grep 'export "socket" refused: not a regular file' "$tmp/log"
grep 'export "subdir" refused: not a regular file' "$tmp/log"
grep 'export "absolute" refused: symbolic link leads outside' "$tmp/log"
grep 'export "chained" refused: symbolic link leads outside' "$tmp/log"
grep 'export "\.\." refused: name begins with' "$tmp/log"
grep 'export "a/b" refused: name contains' "$tmp/log"
grep 'export "ctl\\001name" refused: name contains a control' "$tmp/log"
grep 'export "esc\\033\[2J" refused: name contains a control' "$tmp/log"
grep 'export "x\{64\}\.\.\." refused: name too long' "$tmp/log"
grep 'export "no-such-image" refused: no such file' "$tmp/log"
grep 'default export ("") not permitted' "$tmp/log"
# No raw control character reached the log.  (Not "! grep": set -e
# ignores a command negated with !, so that could never fail.)
controls=$(printf '[\001\033]')
if LC_ALL=C grep -q "$controls" "$tmp/log"; then
  echo "$0: a raw control character reached the log:" >&2
  LC_ALL=C grep "$controls" "$tmp/log" | cat -v >&2
  exit 1
fi

# None of the refused entries is listed.
nbdkit -U - "$SANDBAG_PLUGIN" dir="$d" \
  --run 'nbdinfo --list --json "$uri"' > "$tmp/list.json"
python3 - "$tmp/list.json" <<'PY'
import json, sys
names = [e["export-name"] for e in json.load(open(sys.argv[1]))["exports"]]
assert names == ["good.img", "inside"], names
PY

# In file= mode only the default export exists.
timeout 60 nbdkit -U - "$SANDBAG_PLUGIN" file="$d/good.img" --run '
  nbdsh -c - <<PY
import errno, nbd
h = nbd.NBD()
h.set_export_name("good.img")
try:
    h.connect_unix("$unixsocket")
    raise AssertionError("non-default export served in file= mode")
except nbd.Error as e:
    assert e.errno == "ENOENT", e
PY'

# default= names the export served for "".
timeout 60 nbdkit -U - "$SANDBAG_PLUGIN" dir="$d" default=good.img \
  --run 'nbdinfo --size "$uri"' > "$tmp/size"
[ "$(cat "$tmp/size")" = 65536 ]
