#!/usr/bin/env bash
# heatmap: sandbag-heatmap metrics turns a directory of maps and
# ratetier's status file into one Prometheus text file with the right
# figures, leaves out what it cannot read (saying so in the metrics),
# and replaces its output atomically, world-readable.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version

mkdir "$tmp/images" "$tmp/maps"
head -c $((1024 * 1024)) /dev/urandom > "$tmp/images/a.img"
head -c $((2 * 1024 * 1024)) /dev/urandom > "$tmp/images/b.img"
export tmp

# ratetier writes its status file when nbdkit stops (and every second).
nbdkit -U - --filter="$RATETIER_FILTER" --filter="$HEATMAP_FILTER" \
  "$SANDBAG_PLUGIN" dir="$tmp/images" \
  ratetier-status="$tmp/ratetier.prom" ratetier-status-interval=1 \
  heatmap-dir="$tmp/maps" heatmap-block=64K \
  --run 'unixsocket=$unixsocket nbdsh -c -' <<'EOF'
import os, nbd
sock = os.environ["unixsocket"]

def reads(name, offsets, size):
    c = nbd.NBD()
    c.set_export_name(name)
    c.connect_unix(sock)
    for o in offsets:
        c.pread(size, o)
    c.shutdown()

reads("a.img", [0, 0, 65536], 512)      # 2 heat blocks, 3 reads, 1536 bytes
reads("b.img", [0], 131072)             # 2 heat blocks, 2 reads, 131072 bytes
EOF
for (( i = 0; i < 100; i++ )); do
  grep -q '^ratetier_admitted_total' "$tmp/ratetier.prom" 2>/dev/null && break
  sleep 0.1
done

# A map renamed aside (an older version) is not a current map; a
# corrupt current map is counted as unreadable, not fatal.
cp "$tmp/maps/a.img.heatmap" "$tmp/maps/a.img.heatmap.1700000000-abcd"
head -c 8192 /dev/zero > "$tmp/maps/corrupt.heatmap"
printf 'garbage\x01 not prometheus\n' > "$tmp/garbage.prom"

out=$tmp/textfile/sandbag.prom
mkdir "$tmp/textfile"
umask 077        # the output must be readable by node_exporter anyway
"$SANDBAG_HEATMAP" metrics -o "$out" --include "$tmp/ratetier.prom" \
  --include "$tmp/garbage.prom" --include "$tmp/missing.prom" \
  "$tmp/maps" 2> "$tmp/err"
umask 022
cat "$out" "$tmp/err"
test "$(stat -c %a "$out")" = 644
test -z "$(ls -A "$tmp/textfile" | grep -v '^sandbag.prom$')"

grep -F "corrupt.heatmap: not a valid heat map" "$tmp/err"
grep -F "garbage.prom: left out: a line is neither" "$tmp/err"
grep -F "missing.prom" "$tmp/err"

a='map="a.img.heatmap",export="a.img",version="[0-9a-f]\{16\}"'
b='map="b.img.heatmap",export="b.img",version="[0-9a-f]\{16\}"'
want=(
  'sandbag_heatmap_maps{state="valid"} 2'
  'sandbag_heatmap_maps{state="unreadable"} 1'
  "sandbag_heatmap_image_bytes{$a} 1048576"
  "sandbag_heatmap_image_bytes{$b} 2097152"
  "sandbag_heatmap_block_bytes{$a} 65536"
  "sandbag_heatmap_blocks{$b} 32"
  "sandbag_heatmap_blocks_read{$a} 2"
  "sandbag_heatmap_blocks_read{$b} 2"
  "sandbag_heatmap_reads_total{$a} 3"
  "sandbag_heatmap_reads_total{$b} 2"
  "sandbag_heatmap_served_bytes_total{$a} 1536"
  "sandbag_heatmap_served_bytes_total{$b} 131072"
  "sandbag_heatmap_last_read_timestamp_seconds{$a} [0-9]\{10\}\.[0-9]\{6\}"
  "sandbag_heatmap_created_timestamp_seconds{$b} [0-9]\{10\}\.[0-9]\{6\}"
  "sandbag_metrics_include_ok{file=\"$tmp/ratetier.prom\"} 1"
  "sandbag_metrics_include_ok{file=\"$tmp/garbage.prom\"} 0"
  "sandbag_metrics_include_ok{file=\"$tmp/missing.prom\"} 0"
  "sandbag_metrics_include_modified_timestamp_seconds{file=\"$tmp/ratetier.prom\"} [0-9.]*"
  '# TYPE sandbag_heatmap_reads_total counter'
  'ratetier_clients_tracked 1'
)
for w in "${want[@]}"; do grep -qx "$w" "$out"; done
# Exactly the two current maps; the included status file copied whole.
test "$(grep -c '^sandbag_heatmap_image_bytes' "$out")" -eq 2
grep -vxF -f "$out" "$tmp/ratetier.prom" && exit 1
! grep -q garbage "$out"
# Every family is announced once, before its samples.
test "$(grep -c '^# TYPE' "$out")" -eq "$(grep '^# TYPE' "$out" | sort -u | wc -l)"

# Usage errors; an output that cannot be written is an error (2).
status=0
"$SANDBAG_HEATMAP" metrics "$tmp/maps" 2> "$tmp/err" || status=$?
test $status -eq 1 && grep -F -- "-o OUT.prom is required" "$tmp/err"
status=0
"$SANDBAG_HEATMAP" metrics -o "$out" --bogus x 2> "$tmp/err" || status=$?
test $status -eq 1 && grep -F "unknown or repeated option" "$tmp/err"
status=0
"$SANDBAG_HEATMAP" metrics -o "$tmp/nodir/x.prom" "$tmp/maps" \
  2> "$tmp/err" || status=$?
test $status -eq 2 && grep -F "$tmp/nodir" "$tmp/err"
