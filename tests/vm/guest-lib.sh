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
# "done STATUS"; returns that status.
host_request ()
{
  local reply
  echo "sandbag-vm-request $*" >&3
  read -r reply <&3
  echo "host: $reply"
  [ "$reply" = "done 0" ]
}

# check_manifest DIR MANIFEST: compare the tree at DIR with a manifest
# made on the host by the same script (tests/vm/manifest.sh).
check_manifest ()
{
  sh /lib/sandbag-vm/manifest.sh "$1" > /tmp/manifest.out
  diff -u "$2" /tmp/manifest.out
  echo "manifest: $(wc -l < "$2") entries match"
}
