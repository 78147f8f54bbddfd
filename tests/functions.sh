# Shared helpers for sandbag's shell tests.  Source this first:
#
#   source "$(dirname "$0")/functions.sh"
#   set -e -x
#
# meson passes abs_top_srcdir and abs_top_builddir; from them this file
# sets the paths of the built, uninstalled modules and tools:
#   $SANDBAG_PLUGIN   nbdkit-sandbag-plugin.so
#   $RATETIER_FILTER  nbdkit-ratetier-filter.so
#   $HEATMAP_FILTER   nbdkit-heatmap-filter.so
#   $SANDBAG_HEATMAP  the sandbag-heatmap tool
#   $SANDBAG_PUBLISH  the sandbag-publish tool
#   $SANDBAG_ATTACH   the sandbag-attach tool
#   $SANDBAG_RELAY_PLUGIN  nbdkit-sandbag-relay-plugin.so
# and gives each test a private scratch directory, $tmp, removed at exit
# (exported, like the module paths, for the test's Python).
#
# Helpers (each defined here only; tests never define their own):
#   start_nbdkit / kill_nbdkit   a background server and its shutdown
#   serve ARGS... -- PYTHON      a captive server with an nbdsh client
#   refused MESSAGE ARGS...      nbdkit must refuse ARGS with MESSAGE
#   free_port                    a free TCP port of 127.0.0.1
#   wait_for_line FILE LINE      until a background writer wrote LINE
#   requires / requires_root     skip what the machine truly lacks
#   expose_and_mount             the kernel as client (nbdfuse + loop)
# Python test code imports the same kind of helpers from
# tests/functions.py (wait_for, count, connect_from, ...), which this
# file puts on PYTHONPATH.

: "${abs_top_srcdir:?run the tests through meson test}"
: "${abs_top_builddir:?run the tests through meson test}"

# nbdsh needs Debian's python3 (the one with the nbd module), which a
# pyenv or venv python3 earlier on PATH would hide.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

SANDBAG_PLUGIN=$abs_top_builddir/plugins/sandbag/nbdkit-sandbag-plugin.so
RATETIER_FILTER=$abs_top_builddir/filters/ratetier/nbdkit-ratetier-filter.so
HEATMAP_FILTER=$abs_top_builddir/filters/heatmap/nbdkit-heatmap-filter.so
SANDBAG_HEATMAP=$abs_top_builddir/tools/sandbag-heatmap/sandbag-heatmap
SANDBAG_PUBLISH=$abs_top_builddir/tools/sandbag-publish/sandbag-publish
SANDBAG_ATTACH=$abs_top_builddir/tools/sandbag-attach/sandbag-attach
SANDBAG_RELAY_PLUGIN=$abs_top_builddir/plugins/sandbag-relay/nbdkit-sandbag-relay-plugin.so
export SANDBAG_PLUGIN RATETIER_FILTER HEATMAP_FILTER SANDBAG_HEATMAP
export SANDBAG_PUBLISH SANDBAG_ATTACH SANDBAG_RELAY_PLUGIN

export PYTHONPATH=$abs_top_srcdir/tests${PYTHONPATH:+:$PYTHONPATH}
# The test's name, for records that outlive it (see record_kill).
SANDBAG_TEST=$(basename "$0" .sh)
export SANDBAG_TEST

# Exit status that meson counts as a skip.  CI counts a skip as a failure,
# so use it only for what the machine truly lacks.
SKIP=77

# Cleanup actions, run in reverse order when the test exits.
_cleanup_fns=()
_killed=                        # set when kill_nbdkit used SIGKILL
cleanup_fn ()
{
  _cleanup_fns+=("$*")
}
_run_cleanup ()
{
  local status=$? i
  set +e
  for (( i=${#_cleanup_fns[@]}-1; i >= 0; i-- )); do
    eval "${_cleanup_fns[$i]}"
  done
  if [ "$status" -eq 0 ] && [ -n "$_killed" ]; then
    echo "$0: failed: a server had to be killed with SIGKILL" >&2
    status=1
  fi
  exit $status
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sandbag-test.XXXXXX")
export tmp
cleanup_fn rm -rf "$tmp"

# requires CMD [ARGS...]: skip the test unless CMD runs successfully.
requires ()
{
  if ! "$@" >/dev/null 2>&1; then
    echo "$0: skipped: required command failed: $*" >&2
    exit $SKIP
  fi
}

# requires_root: loop devices, mounts and namespaces need root.
requires_root ()
{
  if [ "$(id -u)" -ne 0 ]; then
    echo "$0: skipped: needs root" >&2
    exit $SKIP
  fi
}

# start_nbdkit PIDFILE [NBDKIT-ARGS...]: start nbdkit in the background
# with -P PIDFILE, wait until it has written the pid file (it does so once
# it listens), and stop it when the test exits.
start_nbdkit ()
{
  local pidfile=$1 i
  shift
  rm -f "$pidfile"
  nbdkit -P "$pidfile" "$@"
  for (( i=0; i < 100; i++ )); do
    [ -s "$pidfile" ] && break
    sleep 0.1
  done
  if [ ! -s "$pidfile" ]; then
    echo "$0: nbdkit did not start: nbdkit $*" >&2
    exit 1
  fi
  cleanup_fn kill_nbdkit "$pidfile"
}

# kill_nbdkit PIDFILE: stop that nbdkit with SIGTERM and wait for it.
# A server still running after SANDBAG_SHUTDOWN_SECONDS (default 10 s,
# more under valgrind) is killed with SIGKILL, recorded (record_kill),
# and kill_nbdkit fails: a server that ignores SIGTERM is a bug, and one
# killed that way leaves no sanitizer or valgrind report.
kill_nbdkit ()
{
  local pid i tries
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || return 0
  tries=$(( ${SANDBAG_SHUTDOWN_SECONDS:-10} * 10 ))
  for (( i=0; i < tries; i++ )); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "$0: nbdkit $pid did not exit within $(( tries / 10 )) s of SIGTERM, killing it" >&2
  record_kill "$pid" "did not exit within $(( tries / 10 )) s of SIGTERM"
  kill -9 "$pid" 2>/dev/null
  _killed=1
  return 1
}

# record_kill PID WHY: note in $SANDBAG_REPORT_DIR (set by scripts/test.sh
# in the asan and valgrind stages) that server PID was killed with
# SIGKILL; tests/sanitizers/scan-reports.py counts each such note as a
# failure, since the killed server could write no report.
record_kill ()
{
  if [ -n "${SANDBAG_REPORT_DIR:-}" ]; then
    echo "$SANDBAG_TEST: $2" >> "$SANDBAG_REPORT_DIR/killed.$1"
  fi
}

# serve NBDKIT-ARGS... -- PYTHON: run nbdkit with ARGS captive on a Unix
# socket, and PYTHON in nbdsh connected to it (the handle is h; $uri and
# $tmp are in os.environ).  Fails if nbdkit or PYTHON fails, or if the
# whole takes over 5 minutes (a hang).
serve ()
{
  local args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    args+=("$1")
    shift
  done
  if [ $# -ne 2 ]; then
    echo "$0: usage: serve NBDKIT-ARGS... -- PYTHON" >&2
    return 2
  fi
  SERVE_PYTHON=$2 timeout 300 nbdkit -U - "${args[@]}" \
    --run 'export uri; nbdsh -u "$uri" -c "$SERVE_PYTHON"'
}

# refused MESSAGE NBDKIT-ARGS...: nbdkit with ARGS must refuse to start
# (within a minute: a hang is a failure too) and print MESSAGE.  The
# whole of what it printed is in $tmp/refused.err.
refused ()
{
  local message=$1
  shift
  if timeout 60 nbdkit -U - "$@" --run true 2> "$tmp/refused.err"; then
    echo "$0: nbdkit accepted: $*" >&2
    exit 1
  fi
  cat "$tmp/refused.err"
  if ! grep -qF -- "$message" "$tmp/refused.err"; then
    echo "$0: nbdkit refused $*, but without: $message" >&2
    exit 1
  fi
}

# wait_for_line FILE LINE: wait until FILE (a status file rewritten in
# the background, a log) holds exactly the line LINE; fail after a
# minute (a hang: no verdict depends on how long it took).
wait_for_line ()
{
  local i
  for (( i=0; i < 600; i++ )); do
    grep -qxF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$0: $1 never had the line: $2" >&2
  [ -e "$1" ] && cat "$1" >&2
  return 1
}

# free_port: print a TCP port of 127.0.0.1 that no one listens on now.
free_port ()
{
  python3 -c 'import functions; print(functions.free_port())'
}

# expose_and_mount URI FILE MOUNTPOINT: expose the export at URI as FILE
# with nbdfuse, then have the kernel mount it read-only through a loop
# device.  Both are undone when the test exits.
expose_and_mount ()
{
  local uri=$1 file=$2 mnt=$3 dir i
  dir=$(dirname "$file")
  mkdir -p "$dir" "$mnt"
  nbdfuse -r "$file" "$uri" &
  cleanup_fn "fusermount3 -u '$dir' 2>/dev/null || umount -l '$dir'"
  for (( i=0; i < 100; i++ )); do
    [ -f "$file" ] && break
    sleep 0.1
  done
  [ -f "$file" ] || { echo "$0: nbdfuse did not expose $uri" >&2; return 1; }
  mount -o loop,ro "$file" "$mnt"
  cleanup_fn "umount '$mnt'"
}

# Sanitizer and valgrind runs (scripts/test.sh): SANDBAG_NBDKIT_WRAPPER_DIR
# names a directory holding an `nbdkit` wrapper (tests/sanitizers/nbdkit)
# that runs the real nbdkit under AddressSanitizer or valgrind; put it
# first on PATH so that every nbdkit a test starts goes through it.
if [ -n "${SANDBAG_NBDKIT_WRAPPER_DIR:-}" ]; then
  export PATH=$SANDBAG_NBDKIT_WRAPPER_DIR:$PATH
fi
