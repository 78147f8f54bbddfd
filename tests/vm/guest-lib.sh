# shellcheck shell=dash
# Helpers for the test scripts that run inside the VM harness's guest
# (sourced by tests/vm/init before /vm/test.sh).

# The request timeout of every NBD device the tests attach, in seconds:
# the value the project documents (docs/deployment.md, "Clients").
# Without one, a single-connection device waits forever for the answers
# of a server that died or hangs (a dead mirror hangs an md RAID1 read);
# with it, the kernel gives up on the connection after this long, moves
# the requests to another connection of the device if it has one that
# works, or fails them, and md reissues them on another mirror.
NBD_TIMEOUT=${NBD_TIMEOUT:-30}

# nbd_attach DEVICE HOST PORT EXPORT [NBD-CLIENT-OPTIONS...]: attach an
# export read-only with nbd-client (netlink) and the request timeout.
nbd_attach ()
{
  local dev=$1 host=$2 port=$3 name=$4
  shift 4
  nbd-client "$host" "$port" "$dev" -N "$name" -readonly \
    -timeout "$NBD_TIMEOUT" "$@"
}

# host_request WORDS...: ask the host-side test to do something (restart
# a server, kill one...) and wait until it is done.  The host answers
# "done STATUS [WORDS]", printed as "host: done STATUS [WORDS]";
# returns whether STATUS is 0.
host_request ()
{
  local reply
  echo "sandbag-vm-request $*" >&3
  read -r reply <&3
  echo "host: $reply"
  case $reply in
    "done 0"|"done 0 "*) return 0 ;;
  esac
  return 1
}

# check_manifest DIR MANIFEST: compare the tree at DIR with a manifest
# made on the host by the same script (tests/vm/manifest.sh).
check_manifest ()
{
  sh /lib/sandbag-vm/manifest.sh "$1" > /tmp/manifest.out
  diff -u "$2" /tmp/manifest.out
  echo "manifest: $(wc -l < "$2") entries match"
}

# --- sandbag-attach (tests that boot with the client layer) -------------

# attach_debug: relays started from now on log verbosely to
# /tmp/relay.log, whose end is printed if the script fails.
attach_debug ()
{
  export SANDBAG_ATTACH_RELAY_LOG=/tmp/relay.log
  trap 'status=$?; set +x
        if [ $status != 0 ] && [ -f /tmp/relay.log ]; then
          echo "--- the last lines of /tmp/relay.log:"; tail -n 150 /tmp/relay.log
        fi' EXIT
}

# attach_status MOUNTPOINT KEY: the value of KEY in sandbag-attach's
# status of that mount.
attach_status ()
{
  sandbag-attach status "$1" | sed -n "s/^$2 //p"
}

# reader_start DIR MANIFEST: in the background, check DIR against
# MANIFEST over and over, with the page cache dropped before each pass,
# until reader_stop; reader_pause and reader_resume hold it between two
# passes.  A pass that finds a difference, or any read error, ends the
# reader with the difference: reader_wait and reader_stop then fail.
reader_start ()
{
  rm -f /tmp/reader.stop /tmp/reader.pause /tmp/reader.paused
  : > /tmp/reader.passes
  (
    set +x
    while [ ! -e /tmp/reader.stop ]; do
      if [ -e /tmp/reader.pause ]; then
        touch /tmp/reader.paused
        sleep 0.2
        continue
      fi
      echo 3 > /proc/sys/vm/drop_caches
      sh /lib/sandbag-vm/manifest.sh "$1" > /tmp/reader.out 2>&1
      if ! diff -u "$2" /tmp/reader.out; then
        echo "reader: pass $(( $(wc -l < /tmp/reader.passes) + 1 )) failed"
        exit 1
      fi
      echo "pass at $(cut -d' ' -f1 /proc/uptime)" >> /tmp/reader.passes
    done
  ) &
  reader_pid=$!
}

# reader_wait N: wait until the reader has finished N more passes.
reader_wait ()
{
  local until=$(( $(wc -l < /tmp/reader.passes) + $1 ))
  while [ "$(wc -l < /tmp/reader.passes)" -lt $until ]; do
    if ! kill -0 $reader_pid 2>/dev/null; then
      wait $reader_pid
      return 1
    fi
    sleep 0.2
  done
}

reader_pause ()
{
  touch /tmp/reader.pause
  while [ ! -e /tmp/reader.paused ]; do
    kill -0 $reader_pid
    sleep 0.2
  done
}

reader_resume ()
{
  rm -f /tmp/reader.pause /tmp/reader.paused
}

# reader_stop: stop the reader after its current pass; fails if any
# pass failed.  Prints how many passed.
reader_stop ()
{
  touch /tmp/reader.stop
  wait $reader_pid
  echo "reader: $(wc -l < /tmp/reader.passes) passes, every file right"
}
