#!/usr/bin/env bash
# VM, sandbag-attach 2: versions.  A mount never reads a block of
# another version than the one it mounted:
#  1. update: version 2 is published; sandbag-attach update moves the
#     mount to it (a new device, then a remount) and every file reads
#     back as version 2, while a program that kept a file open in
#     version 1 goes on reading version 1 from the old device, which is
#     detached once it is closed.
#  2. retention: version 1, mounted by its pinned name, is pruned on the
#     server (sandbag-publish prune --retention=0) and the server
#     restarted, so the relay must reconnect: the server refuses the
#     pinned name, and reads fail with EIO once the give-up time (10 s)
#     has passed, never with version 2's bytes (the plain name's).  The
#     version-2 mount reads on.
#  3. identity: the server comes back with other bytes under the pinned
#     name vol@2 (the same size, another SHA-256): the relay refuses it
#     and reads fail with EIO after give-up.
# The kernel may report I/O errors on those two devices only, after the
# guest has said which they are.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require_client
requires mkfs.erofs --help

python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tmp/tree1"
cp -a "$tmp/tree1" "$tmp/tree2"
head -c $((3 << 20)) /dev/urandom > "$tmp/tree2/big/blob1"
mkfs.erofs --quiet -T0 "$tmp/vol1.erofs" "$tmp/tree1"
mkfs.erofs --quiet -T0 "$tmp/vol2.erofs" "$tmp/tree2"
# The same size: only the SHA-256 tells the liar's vol@2 from the real.
test "$(stat -c %s "$tmp/vol1.erofs")" = "$(stat -c %s "$tmp/vol2.erofs")"
mkdir "$tmp/volumes" "$tmp/liar"
"$SANDBAG_PUBLISH" publish --version=1 "$tmp/volumes" vol "$tmp/vol1.erofs"
"$SANDBAG_PUBLISH" publish --version=2 "$tmp/liar" vol "$tmp/vol1.erofs"
for v in 1 2; do
  vm_manifest "$tmp/tree$v" > "$tmp/manifest$v"
  vm_add "$tmp/manifest$v"
done
sum=$(sha256sum < "$tmp/tree1/big/blob1")
vm_set BLOB1_V1 "${sum%% *}"

port=$(free_port)
vm_serve "$tmp/pid" "$port" "$tmp/state" dir="$tmp/volumes"
vm_set SERVER "nbd://$VM_SERVER:$port"

failing_devices=
vm_request ()
{
  case $1 in
    publish)
      "$SANDBAG_PUBLISH" publish --version=2 "$tmp/volumes" vol \
        "$tmp/vol2.erofs" ;;
    prune)
      "$SANDBAG_PUBLISH" prune --retention=0 "$tmp/volumes" vol
      "$SANDBAG_PUBLISH" list "$tmp/volumes" vol > "$tmp/list"
      cat "$tmp/list" >&2
      ! grep -q 'vol@1' "$tmp/list"
      vm_server_restart "$tmp/pid" ;;
    liar)
      kill_nbdkit "$tmp/pid"
      vm_serve "$tmp/liar.pid" "$port" "$tmp/liar.state" dir="$tmp/liar" ;;
    # expect-errors nbdN: reads of that device are about to fail.
    expect-errors)
      failing_devices+=${failing_devices:+|}$2
      VM_KERNEL_ALLOW="\] (Buffer )?I/O error,? (on )?dev ($failing_devices),"
      VM_KERNEL_ALLOW+="|\] block ($failing_devices): Other side returned error \(5\)$"
      VM_KERNEL_ALLOW+="|\] erofs: \(device ($failing_devices)\): " ;;
    *) return 1 ;;
  esac
}

vm_run attach-versions - 300 <<'GUEST'
attach_debug
mkdir -p /mnt/a /mnt/old
sandbag-attach mount --give-up=10s vol /mnt/a "$SERVER" | tee /tmp/out
grep -Eq '^vol@1 /dev/nbd[0-9]+$' /tmp/out
check_manifest /mnt/a /vm/manifest1

# 1. update, with a file of version 1 held open.
exec 4< /mnt/a/big/blob1
host_request publish
sandbag-attach update /mnt/a | tee /tmp/out
grep -Eq '^vol@2 /dev/nbd[0-9]+$' /tmp/out
[ "$(attach_status /mnt/a pinned)" = vol@2 ]
echo 3 > /proc/sys/vm/drop_caches
check_manifest /mnt/a /vm/manifest2
[ "$(sha256sum <&4 | cut -d' ' -f1)" = "$BLOB1_V1" ]
sandbag-attach status /mnt/a | grep -qx 'draining vol@1'
exec 4<&-
sandbag-attach status /mnt/a | tee /tmp/out
grep -qx 'detached vol@1' /tmp/out
! grep -q '^draining' /tmp/out
[ "$(sandbag-attach update /mnt/a)" = "vol@2 is the newest version" ]

# 2. retention: version 1 by its pinned name, then pruned.
sandbag-attach mount --give-up=10s vol@1 /mnt/old "$SERVER" | tee /tmp/out
grep -Eq '^vol@1 /dev/nbd[0-9]+$' /tmp/out
check_manifest /mnt/old /vm/manifest1
host_request expect-errors "$(basename "$(attach_status /mnt/old device)")"
host_request prune
echo 3 > /proc/sys/vm/drop_caches
start=$(cut -d. -f1 /proc/uptime)
if cat /mnt/old/big/blob1 > /dev/null 2> /tmp/err; then
  echo "a pruned version was read"
  exit 1
fi
cat /tmp/err
grep -q 'Input/output error' /tmp/err
[ $(( $(cut -d. -f1 /proc/uptime) - start )) -ge 9 ]
sleep 1.5                       # the relay's status file is per second
[ "$(attach_status /mnt/old errors)" -ge 1 ]
attach_status /mnt/old source | grep -E '^nbd://[^ ]+ down '
check_manifest /mnt/a /vm/manifest2

# 3. other bytes under the pinned name vol@2.
host_request expect-errors "$(basename "$(attach_status /mnt/a device)")"
host_request liar
echo 3 > /proc/sys/vm/drop_caches
if cat /mnt/a/big/blob1 > /dev/null 2> /tmp/err; then
  echo "other bytes were read under vol@2"
  exit 1
fi
grep -q 'Input/output error' /tmp/err
attach_status /mnt/a source | grep -E '^nbd://[^ ]+ wrong-version '

sandbag-attach detach --lazy /mnt/a
sandbag-attach detach --lazy /mnt/old
[ -z "$(ls /run/sandbag-attach)" ]
! pidof nbdkit
GUEST
