#!/usr/bin/env bash
# sandbag: the export size is the image size, in file= and dir= mode,
# including empty, odd-sized and large sparse images.
source "$(dirname "$0")/functions.sh"
set -e -x

mkdir "$tmp/images"
: > "$tmp/images/empty"
head -c 12345 /dev/urandom > "$tmp/images/odd"
truncate -s 3G "$tmp/images/sparse"
head -c 1M /dev/urandom > "$tmp/images/one-mib"

start_nbdkit "$tmp/dir.pid" -U "$tmp/dir.sock" "$SANDBAG_PLUGIN" \
  dir="$tmp/images"

for f in empty odd sparse one-mib; do
  expected=$(stat -c %s "$tmp/images/$f")
  size=$(nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/images/$f" \
           --run 'nbdinfo --size "$uri"')
  [ "$size" = "$expected" ]
  size=$(nbdinfo --size "nbd+unix:///$f?socket=$tmp/dir.sock")
  [ "$size" = "$expected" ]
done

# The magic parameter: a bare image name means file=.
size=$(nbdkit -U - "$SANDBAG_PLUGIN" "$tmp/images/odd" \
         --run 'nbdinfo --size "$uri"')
[ "$size" = 12345 ]
