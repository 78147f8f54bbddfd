# shellcheck shell=bash
# The recommended public stack of docs/deployment.md, as nbdkit
# arguments.  Sourced by scripts/serve.sh and by the VM tests
# (tests/vm/vm-functions.sh), so that the tests serve exactly what
# serve.sh serves.
#
# public_stack_args BUILDDIR STATEDIR RATE SOURCE-ARG: set the array
# public_stack to the filters, the plugin and their parameters (what
# follows nbdkit's own options): modules from BUILDDIR, ratetier's state
# and status files and the heat maps in STATEDIR, nbdkit's rate filter at
# RATE bits per second, and SOURCE-ARG (file=IMAGE or dir=DIRECTORY) for
# the sandbag plugin.

# shellcheck disable=SC2034  # public_stack is for the caller
public_stack_args ()
{
  local builddir=$1 statedir=$2 rate=$3 source_arg=$4
  public_stack=(
    --filter=limit
    --filter="$builddir/filters/ratetier/nbdkit-ratetier-filter.so"
    --filter=rate
    --filter="$builddir/filters/heatmap/nbdkit-heatmap-filter.so"
    "$builddir/plugins/sandbag/nbdkit-sandbag-plugin.so" "$source_arg"
    limit=128
    ratetier='((1000, 10), (10000, 4), (100000, 2))'
    ratetier-max-connections=16 ratetier-max-handshakes=256
    ratetier-handshake-timeout=10 ratetier-idle-timeout=3600
    ratetier-state="$statedir/ratetier.state"
    ratetier-status="$statedir/ratetier.prom"
    rate="$rate"
    heatmap-dir="$statedir/heatmaps"
  )
}
