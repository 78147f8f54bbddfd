#!/usr/bin/env bash
# VM, case 4: verified blocks.  The host makes a dm-verity hash tree of
# an erofs image with veritysetup format and appends it to the image
# (--hash-offset = the file system's size), so that one export, one file
# and one mv publish both.  The guest attaches the export read-only,
# opens it with veritysetup open, the root hash and the hash offset,
# mounts it and compares every file with the host's manifest.  Then the
# host flips one byte of a file's data in the served image: reading that
# file in the guest fails with an I/O error before the flipped byte,
# which never reaches the reader, and the other files still read back
# exactly.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require
requires mkfs.erofs --help
requires veritysetup --version

tree=$tmp/tree
python3 "$abs_top_srcdir/tests/vm/make-tree.py" "$tree"
mkdir "$tmp/images"
image=$tmp/images/volume.img
mkfs.erofs --quiet "$image" "$tree"
fs_size=$(stat -c %s "$image")
[ $((fs_size % 4096)) = 0 ]
veritysetup format --hash-offset="$fs_size" "$image" "$image" | tee "$tmp/format"
root_hash=$(sed -n 's/^Root hash:[[:space:]]*//p' "$tmp/format")
[ ${#root_hash} = 64 ]
vm_manifest "$tree" > "$tmp/manifest"
vm_add "$tmp/manifest"

# The byte to flip: 5000 bytes into big/blob2's data in the image.
flip_in_file=5000
flip_at=$(python3 - "$image" "$tree/big/blob2" "$flip_in_file" <<'PY'
import sys
image = open(sys.argv[1], "rb").read()
data = open(sys.argv[2], "rb").read()
at = image.find(data[:65536])
assert at >= 0 and image.find(data[:65536], at + 1) < 0
print(at + int(sys.argv[3]))
PY
)

port=$(free_port)
vm_serve "$tmp/pid" "$port" "$tmp/state" dir="$tmp/images"
vm_set SERVER "$VM_SERVER"
vm_set PORT "$port"
vm_set ROOT_HASH "$root_hash"
vm_set HASH_OFFSET "$fs_size"
vm_set FLIP_IN_FILE "$flip_in_file"

# flip: change one byte of the served image in place (what a bad disk,
# a compromised mirror or a man in the middle would do).
vm_request ()
{
  [ "$1" = flip ] || return 1
  python3 - "$image" "$flip_at" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0x40]))
PY
}

# dm-verity reports the block, and nothing else may go wrong.
corrupt="device-mapper: verity: [0-9]+:[0-9]+: data block $((flip_at / 4096)) is corrupted\$"
VM_KERNEL_ALLOW=$corrupt
vm_run verity - 300 <<'GUEST'
nbd_attach /dev/nbd0 "$SERVER" "$PORT" volume.img
veritysetup open /dev/nbd0 volume /dev/nbd0 "$ROOT_HASH" --hash-offset="$HASH_OFFSET"
veritysetup status volume
mount -t erofs -o ro /dev/mapper/volume /mnt
check_manifest /mnt /vm/manifest

host_request flip
echo 3 > /proc/sys/vm/drop_caches
if cat /mnt/big/blob2 > /tmp/blob2 2> /tmp/error; then
  echo "read the corrupted file without an error"
  exit 1
fi
cat /tmp/error
grep -q 'Input/output error' /tmp/error
echo "got $(stat -c %s /tmp/blob2) bytes before the error"
[ "$(stat -c %s /tmp/blob2)" -le "$FLIP_IN_FILE" ]
grep '^\./big/blob1|sha256 ' /vm/manifest | cut -d' ' -f2 > /tmp/want
sha256sum < /mnt/big/blob1 | cut -d' ' -f1 | diff - /tmp/want
GUEST
grep -Eq "$corrupt" "$tmp/verity.kernel"
