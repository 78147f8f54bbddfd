#!/usr/bin/env bash
# heatmap: the maps are flushed (msync) every heatmap-sync interval
# while nbdkit runs, not only at shutdown.  Observed with strace; the
# only deadline is a generous one for liveness.
source "$(dirname "$0")/functions.sh"
set -e -x
requires strace -V

head -c $((1024 * 1024)) /dev/urandom > "$tmp/disk.img"
export tmp
# In the sanitizer run: LeakSanitizer cannot work under ptrace.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# While nbdkit runs (inside --run, a POSIX shell), wait for three
# msyncs of the map (4096 + 32 bytes: one 1 MiB heat block).
strace -f -qq -e trace=msync -o "$tmp/trace" \
  nbdkit -U - --filter="$HEATMAP_FILTER" "$SANDBAG_PLUGIN" \
  file="$tmp/disk.img" heatmap="$tmp/disk.heatmap" heatmap-sync=100ms \
  --run '
    nbdsh -u "$uri" -c "h.pread(1, 0)"
    i=0
    while [ $i -lt 300 ]; do
      n=$(grep -c "^[0-9]* *msync(.*, 4128, MS_SYNC) = 0" "$tmp/trace" || :)
      [ "$n" -ge 3 ] && exit 0
      sleep 0.1
      i=$((i + 1))
    done
    echo "only $n msyncs in 30 seconds"
    exit 1
  '
grep msync "$tmp/trace"
