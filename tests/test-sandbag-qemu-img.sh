#!/usr/bin/env bash
# sandbag: qemu-img compare finds an export identical to its image (and
# notices a difference), for a sparse image with data at both ends.
source "$(dirname "$0")/functions.sh"
set -e -x
requires qemu-img --version

truncate -s 100M "$tmp/image"
head -c 3M /dev/urandom |
  dd of="$tmp/image" bs=1M conv=notrunc iflag=fullblock status=none
head -c 1M /dev/urandom |
  dd of="$tmp/image" bs=1M seek=99 conv=notrunc iflag=fullblock status=none
head -c 12345 /dev/urandom |
  dd of="$tmp/image" bs=1 seek=50000000 conv=notrunc status=none
cp --sparse=always "$tmp/image" "$tmp/other"
printf 'x' | dd of="$tmp/other" bs=1 seek=77777777 conv=notrunc status=none

mkdir "$tmp/dir"
ln "$tmp/image" "$tmp/dir/disk"
start_nbdkit "$tmp/nbdkit.pid" -U "$tmp/sock" "$SANDBAG_PLUGIN" dir="$tmp/dir"

qemu-img compare -f raw -F raw "nbd+unix:///disk?socket=$tmp/sock" \
  "$tmp/image"
# And it can fail: a one-byte difference is found.
if qemu-img compare -f raw -F raw "nbd+unix:///disk?socket=$tmp/sock" \
     "$tmp/other"; then
  echo "$0: qemu-img compare missed a difference" >&2
  exit 1
fi
