#!/bin/bash
# Benchmark: sandbag against nbdkit's file plugin, nbd-server and qemu-nbd
# serving the same image from the page cache (issue 2).
#
#   scripts/bench-servers.sh
#
# Every server listens on a Unix socket and serves one image of
# BENCH_IMAGE_MIB MiB of random data (default 1024) that sits in the page
# cache.  fio's nbd engine (one connection per job) measures 4 KiB random
# reads at depth 32 (rand4k, IOPS) and 1 MiB sequential reads at depth 8
# (seq1m, MiB/s).  The servers are interleaved, their order rotated each
# round, and the table gives medians and each server's ratio to
# `nbdkit file` in the same round.  sandbag and `nbdkit file` run with
# the same --threads.  "srv cpu us/op" is the server's CPU time per
# request (approximate), which a shared machine disturbs less than
# throughput.
#
# Servers:
#   sandbag      nbdkit --threads=N nbdkit-sandbag-plugin.so file=IMAGE
#                (its defaults: on nbdkit < 1.33.10 it serializes the
#                requests of each connection, see its serialize=)
#   sandbag serialize=false  the same with parallel requests in each
#                connection, like nbdkit file (if the plugin has serialize=)
#   nbdkit file  nbdkit --threads=N -r file file=IMAGE
#   nbdkit file (A/A)  a second, identical `nbdkit file`: its ratio to the
#                first shows how much of a difference this run's noise
#                alone produces
#   nbd-server   unixsock, readonly, splice = true, max_threads = N
#   qemu-nbd     -r -f raw --cache=writeback --aio=threads -t -e 0 -k SOCK
#
# Environment: BENCH_ROUNDS (default 5), BENCH_RUNTIME (seconds per run,
# default 3), BENCH_IMAGE_MIB (default 1024), BENCH_SANDBAG_ARGS (extra
# plugin parameters), BENCH_SERVERS (subset, default
# "sandbag sandbagpar file file2 nbdserver qemunbd"), and those in
# scripts/bench/lib.sh.  The default run takes about 5 minutes; for a
# verdict on a busy machine use e.g. BENCH_ROUNDS=15.

set -e
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_RUNTIME=${BENCH_RUNTIME:-3}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
BENCH_SERVERS=${BENCH_SERVERS:-sandbag sandbagpar file file2 nbdserver qemunbd}

bench_build
bench_header "bench-servers: sandbag vs nbdkit file, nbd-server, qemu-nbd"
echo "nbdkit:   --threads=$BENCH_THREADS for sandbag and nbdkit file"
echo "peers:    $(nbd-server -V 2>&1 | head -1 | sed 's/This is //'), $(qemu-nbd --version | head -1)"

image=$tmp/image.raw
bench_make_image "$image" "$BENCH_IMAGE_MIB"

names=()
for s in $BENCH_SERVERS; do
  case $s in
  sandbag)
    if [ -f "$SANDBAG_PLUGIN" ]; then
      # shellcheck disable=SC2086
      start_nbdkit sandbag sandbag "$SANDBAG_PLUGIN" file="$image" \
        ${BENCH_SANDBAG_ARGS:-}
      echo "module:   $(bench_describe_module "$SANDBAG_PLUGIN" ${BENCH_SANDBAG_ARGS:-})"
      names+=(sandbag)
    else
      echo "note:     sandbag plugin not built yet; measuring the others" >&2
    fi ;;
  sandbagpar)
    # sandbag with parallel requests within a connection, as nbdkit
    # file has (the default serializes them on nbdkit < 1.33.10).
    if nbdkit "$SANDBAG_PLUGIN" --help 2>/dev/null | grep -q '^serialize='; then
      # shellcheck disable=SC2086
      start_nbdkit sandbagpar "sandbag serialize=false" "$SANDBAG_PLUGIN" \
        file="$image" serialize=false ${BENCH_SANDBAG_ARGS:-}
      echo "module:   $(bench_describe_module "$SANDBAG_PLUGIN" serialize=false ${BENCH_SANDBAG_ARGS:-})"
      names+=(sandbagpar)
    fi ;;
  file)
    start_nbdkit file "nbdkit file" -r file file="$image"
    names+=(file) ;;
  file2)
    start_nbdkit file2 "nbdkit file (A/A)" -r file file="$image"
    names+=(file2) ;;
  nbdserver)
    start_nbd_server nbdserver nbd-server "$image"
    names+=(nbdserver) ;;
  qemunbd)
    start_qemu_nbd qemunbd qemu-nbd "$image"
    names+=(qemunbd) ;;
  *)
    bench_die "unknown server '$s' in BENCH_SERVERS" ;;
  esac
done

run_rounds "rand4k seq1m" "${names[*]}"

echo
$PY "$bench_libdir/table.py" "$results" --peer "nbdkit file" \
  --col "rand4k:iops:rand4k QD32 IOPS" \
  --col "seq1m:mibs:seq1m QD8 MiB/s" \
  --col "rand4k:cpu_us_op:rand4k cpu us/op" \
  --col "seq1m:cpu_us_op:seq1m cpu us/op" \
  --goal "sandbag|nbdkit file|rand4k|iops|>=|1.0|sandbag rand4k vs nbdkit file" \
  --goal "sandbag|nbdkit file|seq1m|mibs|>=|1.0|sandbag seq1m vs nbdkit file" \
  --goal "sandbag|nbd-server|seq1m|mibs|>=|0.9|sandbag seq1m vs nbd-server" \
  --goal "sandbag serialize=false|nbdkit file|rand4k|iops|>=|1.0|sandbag serialize=false rand4k vs nbdkit file" \
  --goal "sandbag serialize=false|nbdkit file|seq1m|mibs|>=|1.0|sandbag serialize=false seq1m vs nbdkit file" \
  --goal "sandbag serialize=false|nbd-server|seq1m|mibs|>=|0.9|sandbag serialize=false seq1m vs nbd-server"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at end"
