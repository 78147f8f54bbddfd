#!/usr/bin/env bash
# sandbag: bad parameters are refused at start-up with a message naming
# the parameter; a FIFO given as file= does not hang start-up.
source "$(dirname "$0")/functions.sh"
set -e -x
requires mkfifo --version

head -c 4096 /dev/urandom > "$tmp/image"
mkdir "$tmp/dir"
mkfifo "$tmp/fifo"

refused "exactly one of file= or dir=" "$SANDBAG_PLUGIN"
refused "exactly one of file= or dir=" \
  "$SANDBAG_PLUGIN" file="$tmp/image" dir="$tmp/dir"
refused "file given more than once" \
  "$SANDBAG_PLUGIN" file="$tmp/image" file="$tmp/image"
refused "dir given more than once" \
  "$SANDBAG_PLUGIN" dir="$tmp/dir" dir="$tmp/dir"
refused "default: only meaningful with dir=" \
  "$SANDBAG_PLUGIN" file="$tmp/image" default=x
refused "default: invalid export name: name contains '/'" \
  "$SANDBAG_PLUGIN" dir="$tmp/dir" default=a/b
refused "default: invalid export name: name begins with '.'" \
  "$SANDBAG_PLUGIN" dir="$tmp/dir" default=.hidden
refused "default given more than once" \
  "$SANDBAG_PLUGIN" dir="$tmp/dir" default=a default=b
refused "minimum: must be a power of 2" \
  "$SANDBAG_PLUGIN" file="$tmp/image" minimum=3
refused "minimum: must be a power of 2" \
  "$SANDBAG_PLUGIN" file="$tmp/image" minimum=128K
refused "preferred: must be a power of 2" \
  "$SANDBAG_PLUGIN" file="$tmp/image" preferred=256
refused "preferred: must be a power of 2" \
  "$SANDBAG_PLUGIN" file="$tmp/image" minimum=4096 preferred=1024
refused "maximum: must be at least preferred" \
  "$SANDBAG_PLUGIN" file="$tmp/image" maximum=1000
refused "maximum: must be at least preferred" \
  "$SANDBAG_PLUGIN" file="$tmp/image" minimum=4K maximum=6K
refused "maximum: 128M is not between 1 and 67108864 bytes" \
  "$SANDBAG_PLUGIN" file="$tmp/image" maximum=128M
refused "maximum given more than once" \
  "$SANDBAG_PLUGIN" file="$tmp/image" maximum=1M maximum=2M
refused "list-limit: 0 is not between 1 and 10000" \
  "$SANDBAG_PLUGIN" dir="$tmp/dir" list-limit=0
refused "list-limit" "$SANDBAG_PLUGIN" dir="$tmp/dir" list-limit=lots
refused "multi-conn" "$SANDBAG_PLUGIN" file="$tmp/image" multi-conn=maybe
refused "multi-conn given more than once" \
  "$SANDBAG_PLUGIN" file="$tmp/image" multi-conn=true multi-conn=false
refused "unknown parameter 'foo'" "$SANDBAG_PLUGIN" file="$tmp/image" foo=bar
refused "file: $tmp/nonexistent: no such file" \
  "$SANDBAG_PLUGIN" file="$tmp/nonexistent"
refused "file: $tmp/dir: not a regular file" "$SANDBAG_PLUGIN" file="$tmp/dir"
refused "file: $tmp/fifo: not a regular file" \
  "$SANDBAG_PLUGIN" file="$tmp/fifo"
refused "dir: $tmp/nonexistent" "$SANDBAG_PLUGIN" dir="$tmp/nonexistent"
refused "dir: $tmp/image: Not a directory" "$SANDBAG_PLUGIN" dir="$tmp/image"

# And the good forms start.
nbdkit -U - "$SANDBAG_PLUGIN" file="$tmp/image" --run true
nbdkit -U - "$SANDBAG_PLUGIN" dir="$tmp/dir" default=x list-limit=5 \
  minimum=512 preferred=4K maximum=64M multi-conn=off --run true
