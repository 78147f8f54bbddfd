#!/bin/bash
# Benchmark: sandbag against nbdkit's file plugin, nbd-server and qemu-nbd
# serving the same image from the page cache (issue 2).
#
#   scripts/bench-servers.sh
#
# Every server listens on a Unix socket and serves one image of
# BENCH_IMAGE_MIB MiB of random data (default 1024) that sits in the page
# cache.  fio's nbd engine measures 4 KiB random reads with 32 requests in
# flight (rand4k, IOPS) and 1 MiB sequential reads with 8 in flight
# (seq1m, MiB/s), each twice: over one connection (rand4k-1x32,
# seq1m-1x8) and over BENCH_CONNS connections sharing the same total
# (rand4k-4x8, seq1m-4x2), because the nbd engine opens one connection
# per fio job and a server that serializes the requests of a connection
# works on one of them at a time.  Every server gets the same
# connections and the same total depth.  The servers are interleaved,
# their order rotated each round, and the tables give medians and each
# server's ratio to `nbdkit file` in the same round, first throughput,
# then the server's CPU time per request (approximate; a shared machine
# disturbs it less than throughput).  Each row says whether that server
# runs the requests of one connection in parallel or serialized.
#
# Servers (BENCH_SERVERS, default all, in this order; file, the peer, is
# required):
#   sandbag      nbdkit --threads=N nbdkit-sandbag-plugin.so file=IMAGE,
#                its defaults (on nbdkit < 1.33.10 it serializes the
#                requests of each connection, see its serialize=)
#   sandbagpar   the same with serialize=false: parallel, like nbdkit file
#   file         nbdkit --threads=N -r file file=IMAGE, the peer
#   file2        a second, identical `nbdkit file`: its ratio to the
#                first shows how much of a difference this run's noise
#                alone produces (A/A)
#   fileserial   nbdkit --threads=1 -r file file=IMAGE: nbdkit serves each
#                connection from one thread, the same request path as a
#                serialized sandbag, so sandbag's like-for-like peer
#   nbdserver    nbd-server: unixsock, readonly, splice, max_threads = N
#   qemunbd      qemu-nbd -r -f raw --cache=writeback --aio=threads
#
# Environment: BENCH_ROUNDS (default 5), BENCH_RUNTIME (seconds per run,
# default 3), BENCH_IMAGE_MIB (default 1024), BENCH_SANDBAG_ARGS (extra
# plugin parameters), BENCH_SERVERS, and those in scripts/bench/lib.sh
# (BENCH_CONNS, BENCH_THREADS...).  The default run takes about 12
# minutes; on a busy machine use more rounds.

set -e
# shellcheck source=bench/lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/bench/lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_RUNTIME=${BENCH_RUNTIME:-3}
BENCH_IMAGE_MIB=${BENCH_IMAGE_MIB:-1024}
BENCH_SERVERS=${BENCH_SERVERS:-sandbag sandbagpar file file2 fileserial nbdserver qemunbd}
read -r -a sandbag_args <<< "${BENCH_SANDBAG_ARGS:-}"
case " $BENCH_SERVERS " in
*" file "*) ;;
*) bench_die "BENCH_SERVERS must include file, the peer of the ratios" ;;
esac

bench_build SANDBAG_PLUGIN
bench_header "bench-servers: sandbag vs nbdkit file, nbd-server, qemu-nbd"
bench_describe_tests
echo "threads:  --threads=$BENCH_THREADS for every nbdkit but fileserial, max_threads=$BENCH_THREADS for nbd-server"
echo "peers:    $(nbd-server -V 2>&1 | head -1 | sed 's/This is //'), $(qemu-nbd --version | head -1)"

image=$tmp/image.raw
bench_make_image "$image" "$BENCH_IMAGE_MIB"

names=()
for s in $BENCH_SERVERS; do
  case $s in
  sandbag)
    start_nbdkit sandbag sandbag "$SANDBAG_PLUGIN" file="$image" \
      "${sandbag_args[@]}" ;;
  sandbagpar)
    start_nbdkit sandbagpar "sandbag serialize=false" "$SANDBAG_PLUGIN" \
      file="$image" "${sandbag_args[@]}" serialize=false ;;
  file)
    start_nbdkit file "nbdkit file" -r file file="$image" ;;
  file2)
    start_nbdkit file2 "nbdkit file (A/A)" -r file file="$image" ;;
  fileserial)
    nbdkit_threads=1 start_nbdkit fileserial "nbdkit file --threads=1" \
      -r file file="$image" ;;
  nbdserver)
    start_nbd_server nbdserver nbd-server "$image" ;;
  qemunbd)
    start_qemu_nbd qemunbd qemu-nbd "$image" ;;
  *)
    bench_die "unknown server '$s' in BENCH_SERVERS" ;;
  esac
  names+=("$s")
done

# The goals of issue 2, for sandbag as it comes and with parallel
# requests, over one connection and over several.
goals=()
for label in sandbag "sandbag serialize=false"; do
  for test in "${bench_tests[@]}"; do
    case $test in
    rand4k-*)
      goals+=(--goal "$label|nbdkit file|$test|iops|>=|1.0|$label $test vs nbdkit file") ;;
    seq1m-*)
      goals+=(--goal "$label|nbdkit file|$test|mibs|>=|1.0|$label $test vs nbdkit file"
              --goal "$label|nbd-server|$test|mibs|>=|0.9|$label $test vs nbd-server") ;;
    esac
  done
done

run_rounds "${names[@]}"
print_tables "nbdkit file" "${names[@]}" -- "${goals[@]}"
echo "load:     $(bench_load) at end"
