# shellcheck shell=bash
# The recommended public stack of docs/deployment.md, as nbdkit
# arguments.  Sourced by scripts/serve.sh and by the VM tests
# (tests/vm/vm-functions.sh), so that the tests serve exactly what
# serve.sh serves; and the stack itself is sandbag-server's
# (tools/sandbag-server, what the sandbag.service unit runs), so that
# they serve exactly what the service serves.
#
# public_stack_args BUILDDIR STATEDIR RATE SOURCE-ARG: set the array
# public_stack to the filters, the plugin and their parameters (what
# follows nbdkit's own options): modules from BUILDDIR, ratetier's state
# and status files and the heat maps in STATEDIR, nbdkit's rate filter at
# RATE bits per second, and SOURCE-ARG (file=IMAGE or dir=DIRECTORY) for
# the sandbag plugin.  Other settings of sandbag-server(8) in the
# environment (SANDBAG_LIMIT, ...) apply.  Returns 1 (after
# sandbag-server said why) if the settings are wrong.

public_stack_args ()
{
  local builddir=$1 statedir=$2 rate=$3 source_arg=$4
  local server
  server=$(dirname "${BASH_SOURCE[0]}")/../tools/sandbag-server/sandbag-server
  mapfile -d '' -t public_stack < <(
    SANDBAG_PLUGIN=$builddir/plugins/sandbag/nbdkit-sandbag-plugin.so \
    RATETIER_FILTER=$builddir/filters/ratetier/nbdkit-ratetier-filter.so \
    HEATMAP_FILTER=$builddir/filters/heatmap/nbdkit-heatmap-filter.so \
    SANDBAG_STATE_DIR=$statedir SANDBAG_RATE=$rate \
    SANDBAG_IMAGES=${source_arg#*=} \
      "$server" --print-args)
  [ ${#public_stack[@]} -gt 0 ]
}
