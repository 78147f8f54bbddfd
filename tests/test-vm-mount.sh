#!/usr/bin/env bash
# VM, case 1: the Linux kernel's own NBD client mounts volumes served by
# the recommended public stack (scripts/public-stack.sh) over TCP.
# ext4, erofs and squashfs images of one generated tree are published
# as versions (sandbag-publish) and served in dir= mode; the guest lists
# them with nbd-client -l, attaches each pinned version read-only with
# nbd-client (netlink) -connections 4 and the request timeout, mounts it
# read-only and compares every file with the host's manifest.  The
# default export (default=, and a single-image server's file=) is
# attached without -N.  The guest runs in a network namespace of its
# own, and the host checks that the server has exactly four connections
# from the guest's address (not 127.0.0.1) while a volume is attached.
# Then the guest has the host restart the server, and attaches again.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require
requires mkfs.ext4 -V
requires mkfs.erofs --help
requires mksquashfs -version

tree=$tmp/tree
python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tree"
mkdir "$tmp/images" "$tmp/volumes"
mkfs.ext4 -q -F -b 4096 -d "$tree" "$tmp/images/root.ext4" 32M
mkfs.erofs --quiet "$tmp/images/root.erofs" "$tree"
mksquashfs "$tree" "$tmp/images/root.squashfs" -quiet -no-progress
# Published as versions, as docs/deployment.md says: root.FS and the
# pinned root.FS@1.
for fs in ext4 erofs squashfs; do
  "$SANDBAG_PUBLISH" publish --version=1 "$tmp/volumes" "root.$fs" \
    "$tmp/images/root.$fs"
done
vm_manifest "$tree" > "$tmp/manifest"
vm_add "$tmp/manifest"

vm_netns_setup 1
port=10809
vm_serve "$tmp/pid" "$port" "$tmp/state" dir="$tmp/volumes" \
  default=root.erofs
# One image as the default export, as scripts/serve.sh IMAGE serves it.
vm_serve "$tmp/single.pid" 10810 "$tmp/single.state" \
  file="$tmp/images/root.erofs"
vm_set SERVER "$VM_SERVER"
vm_set PORT "$port"
guest_address=10.213.0.11
VM_NETNS=$(vm_netns 1)

# connections N: the server has N established connections, all from the
# guest's namespace.  restart: restart the server.
vm_request ()
{
  local all mine
  if [ "$1" = restart ]; then
    vm_server_restart "$tmp/pid"
    return
  fi
  [ "$1" = connections ] || return 1
  ip netns exec "$VM_SERVER_NS" ss -Htn state established \
    "( sport = :$port or sport = :10810 )" > "$tmp/ss"
  cat "$tmp/ss" >&2
  all=$(wc -l < "$tmp/ss")
  mine=$(grep -c " $guest_address:" "$tmp/ss" || true)
  [ "$all" = "$2" ] && [ "$mine" = "$2" ]
}

vm_run mount - 300 <<'GUEST'
nbd-client -l "$SERVER" "$PORT" | tee /tmp/list
for fs in ext4 erofs squashfs; do
  grep -q "^root.$fs: " /tmp/list
  grep -q "^root.$fs@1: " /tmp/list
done
for fs in ext4 erofs squashfs; do
  nbd_attach /dev/nbd0 "$SERVER" "$PORT" "root.$fs@1" -connections 4
  host_request connections 4
  [ "$(cat /sys/block/nbd0/ro)" = 1 ]
  mount -t "$fs" -o ro /dev/nbd0 /mnt
  check_manifest /mnt /vm/manifest
  [ "$(stat -c %i /mnt/big/blob1)" = "$(stat -c %i /mnt/hard/blob1-again)" ]
  umount /mnt
  nbd-client -d /dev/nbd0
done

# The default export, without -N: of the directory (default=, as
# scripts/serve.sh serves the demo) and of a single-image server.
for port in "$PORT" 10810; do
  nbd-client "$SERVER" $port /dev/nbd1 -readonly -timeout 30 -connections 4
  host_request connections 4
  mount -t erofs -o ro /dev/nbd1 /mnt
  check_manifest /mnt /vm/manifest
  umount /mnt
  nbd-client -d /dev/nbd1
done

# A server restarted in the middle of the script serves the next attach.
host_request restart
host_request connections 0
nbd_attach /dev/nbd0 "$SERVER" "$PORT" root.erofs
mount -t erofs -o ro /dev/nbd0 /mnt
grep -qx deep /mnt/a/b/c/d/e/f/g/deep.txt
umount /mnt
nbd-client -d /dev/nbd0
GUEST

# The server saw one client, at the guest's address.
grep -x 'ratetier_clients_tracked 1' "$tmp/state/ratetier.prom"
