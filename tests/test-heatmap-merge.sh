#!/usr/bin/env bash
# heatmap: sandbag-heatmap merge combines the maps of two mirrors of the
# same image version (counts and bytes summed, earliest first read,
# latest last read) and refuses maps of another version or block size.
source "$(dirname "$0")/functions.sh"
set -e -x

img=$tmp/disk.img
head -c $((1024 * 1024)) /dev/urandom > "$img"
cp -p "$img" "$tmp/copy.img"      # the same version on a second mirror
head -c $((1024 * 1024)) /dev/urandom > "$tmp/other.img"

stack=(--filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN")

serve "${stack[@]}" file="$img" heatmap="$tmp/a.heatmap" heatmap-block=64K \
  -- 'h.pread(4096, 0); h.pread(4096, 65536)'
sleep 0.01
serve "${stack[@]}" file="$tmp/copy.img" heatmap="$tmp/b.heatmap" \
  heatmap-block=64K -- \
  'h.pread(4096, 0); h.pread(4096, 0); h.pread(10, 131072)'

"$SANDBAG_HEATMAP" merge -o "$tmp/m.heatmap" "$tmp/a.heatmap" "$tmp/b.heatmap"
for f in a b m; do
  "$SANDBAG_HEATMAP" csv "$tmp/$f.heatmap" > "$tmp/$f.csv"
done
cat "$tmp/m.csv"
python3 - "$tmp" <<'EOF'
import csv, sys
d = sys.argv[1]
a, b, m = (list(csv.DictReader(open(f"{d}/{n}.csv"))) for n in "abm")
assert len(m) == 16
for ra, rb, rm in zip(a, b, m):
    assert int(rm["count"]) == int(ra["count"]) + int(rb["count"]), rm
    assert int(rm["bytes"]) == int(ra["bytes"]) + int(rb["bytes"]), rm
    firsts = [float(r["first"]) for r in (ra, rb) if r["first"] != "0"]
    lasts = [float(r["last"]) for r in (ra, rb)]
    assert rm["first"] == ("0" if not firsts else
                           min((ra, rb), key=lambda r: float(r["first"]) if r["first"] != "0" else 1e30)["first"]), rm
    assert rm["last"] == max((ra, rb), key=lambda r: float(r["last"]))["last"], rm
assert (m[0]["count"], m[0]["bytes"]) == ("3", "12288")
assert m[0]["first"] == a[0]["first"] and m[0]["last"] == b[0]["last"]
assert (m[1]["count"], m[2]["count"]) == ("1", "1")
EOF
# The merged map describes the same version and loads like any other.
"$SANDBAG_HEATMAP" summary "$tmp/a.heatmap" | grep '^image version' > "$tmp/va"
"$SANDBAG_HEATMAP" summary "$tmp/m.heatmap" | grep '^image version' > "$tmp/vm"
cmp "$tmp/va" "$tmp/vm"

# Merging into one of the inputs works too (written aside, then renamed).
"$SANDBAG_HEATMAP" merge -o "$tmp/a.heatmap" "$tmp/a.heatmap" "$tmp/b.heatmap"
"$SANDBAG_HEATMAP" csv "$tmp/a.heatmap" | cmp - "$tmp/m.csv"

# Another image version: refused with exit 4, nothing written.
serve "${stack[@]}" file="$tmp/other.img" heatmap="$tmp/o.heatmap" \
  heatmap-block=64K -- 'h.pread(1, 0)'
status=0
"$SANDBAG_HEATMAP" merge -o "$tmp/x.heatmap" "$tmp/b.heatmap" \
  "$tmp/o.heatmap" 2> "$tmp/err" || status=$?
cat "$tmp/err"
test $status -eq 4
grep "describe different image versions" "$tmp/err"
test ! -e "$tmp/x.heatmap"

# Same version, other block size: refused with exit 4.
serve "${stack[@]}" file="$img" heatmap="$tmp/c.heatmap" heatmap-block=128K \
  -- 'h.pread(1, 0)'
status=0
"$SANDBAG_HEATMAP" merge -o "$tmp/x.heatmap" "$tmp/b.heatmap" \
  "$tmp/c.heatmap" 2> "$tmp/err" || status=$?
cat "$tmp/err"
test $status -eq 4
grep "has heat blocks of 65536 bytes but .*c.heatmap has 131072" "$tmp/err"
test ! -e "$tmp/x.heatmap"
