#!/usr/bin/env bash
# heatmap: with heatmap-dir every export has its own map, named from the
# export name; hostile export names (slashes, dots, control bytes, very
# long) only ever make plain files inside the directory.
source "$(dirname "$0")/functions.sh"
set -e -x

mkdir "$tmp/images" "$tmp/maps"
head -c $((1024 * 1024)) /dev/urandom > "$tmp/images/a.img"
head -c $((2 * 1024 * 1024)) /dev/urandom > "$tmp/images/b.img"
export tmp

# sandbag dir= mode: a.img is also the default export.
nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" \
  dir="$tmp/images" default=a.img heatmap-dir="$tmp/maps" heatmap-block=64K \
  --run 'unixsocket=$unixsocket nbdsh -c -' <<'EOF'
import os, nbd
sock = os.environ["unixsocket"]

def reads(name, offsets):
    c = nbd.NBD()
    c.set_export_name(name)
    c.connect_unix(sock)
    for o in offsets:
        c.pread(512, o)
    c.shutdown()

reads("a.img", [0, 65536])
reads("", [0])                        # the default export is a.img
reads("b.img", [2 * 1024 * 1024 - 512])
try:
    reads("../a.img", [0])            # refused by sandbag: no map
    raise SystemExit("sandbag accepted ../a.img")
except nbd.Error:
    pass
EOF

ls -A "$tmp/maps"
test "$(ls -A "$tmp/maps" | sort | tr '\n' ' ')" = "a.img.heatmap b.img.heatmap "
"$SANDBAG_HEATMAP" csv "$tmp/maps/a.img.heatmap" | grep -x '0,2,[0-9.]*,[0-9.]*,1024'
"$SANDBAG_HEATMAP" csv "$tmp/maps/a.img.heatmap" | grep -x '65536,1,[0-9.]*,[0-9.]*,512'
"$SANDBAG_HEATMAP" csv "$tmp/maps/b.img.heatmap" | grep -x '2031616,1,[0-9.]*,[0-9.]*,512'
"$SANDBAG_HEATMAP" summary "$tmp/maps/b.img.heatmap" | grep -x 'export: *b.img'

# The memory plugin accepts any export name, so the filter sees hostile
# names itself.
rm -rf "$tmp/maps"/*
nbdkit -U - --filter="$HEATMAP_FILTER" memory 1M \
  heatmap-dir="$tmp/maps" heatmap-block=64K \
  --run 'unixsocket=$unixsocket nbdsh -c -' <<'EOF'
import os, nbd
sock = os.environ["unixsocket"]
names = ["../escape", "/abs/path", ".", "..", ".hidden", "a\nb",
         "x" * 4000, "y/" * 1000, "caf\u00e9", "=default"]
for name in names:
    c = nbd.NBD()
    c.set_export_name(name)
    c.connect_unix(sock)
    c.pread(1, 0)
    c.shutdown()
EOF

ls -A "$tmp/maps"
test "$(ls -A "$tmp/maps" | wc -l)" -eq 10
test ! -e "$tmp/escape.heatmap"
test ! -e /abs
for f in "$tmp/maps"/*; do
  test -f "$f"
  case "$(basename "$f")" in
    .*) echo "hidden file $f"; exit 1 ;;
  esac
  test "$(basename "$f" | wc -c)" -le 201
  "$SANDBAG_HEATMAP" csv "$f" | grep -x '0,1,[0-9.]*,[0-9.]*,1'
done
test -f "$tmp/maps/%2E.%2Fescape.heatmap"
test -f "$tmp/maps/%3Ddefault.heatmap"
