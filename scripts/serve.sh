#!/bin/bash
# Serve a read-only volume to the public with sandbag, on port 10809.
#
#   scripts/serve.sh               serve the embedded demo volume
#   scripts/serve.sh IMAGE         serve one image as the default export
#   scripts/serve.sh DIRECTORY     serve every image in DIRECTORY by name
#
# Installs what it needs, builds sandbag if needed, and runs nbdkit in the
# foreground (Ctrl-C stops it).  The demo volume is an erofs image of
# sandbag's own source tree, built into the build directory.
#
# Environment: BUILDDIR (default build under the source), PORT (10809).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/scripts/install-deps.sh"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

builddir=${BUILDDIR:-$top/build}
port=${PORT:-10809}
echo "sandbag: building in $builddir"
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$top" >"$builddir.setup.log" 2>&1 ||
    { cat "$builddir.setup.log" >&2; exit 1; }
fi
ninja -C "$builddir" >/dev/null

target=${1:-}
if [ -z "$target" ]; then
  target=$builddir/demo.erofs
  if [ ! -f "$target" ]; then
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    git -C "$top" archive HEAD 2>/dev/null | tar -x -C "$stage" ||
      cp -a "$top/README.md" "$top/LICENSE" "$top/docs" "$top/plugins" \
            "$top/filters" "$stage"
    mkfs.erofs --quiet "$target.tmp" "$stage"
    mv "$target.tmp" "$target"
  fi
fi

if [ -d "$target" ]; then
  source_arg=dir=$(realpath "$target")
  export_hint="nbd://HOST:$port/NAME   (nbdinfo --list nbd://HOST:$port lists the names)"
elif [ -f "$target" ]; then
  source_arg=file=$(realpath "$target")
  export_hint="nbd://HOST:$port/"
else
  echo "$0: $target: not an image file or a directory" >&2
  exit 1
fi

cat <<MSG
sandbag: serving $target read-only on port $port
  URI:   $export_hint
Read it from another machine (replace HOST):
  nbdinfo nbd://HOST:$port/
  nbdfuse -r /tmp/vol/disk nbd://HOST:$port/ &  mount -o loop,ro /tmp/vol/disk /mnt
  modprobe nbd && nbd-client -R -N NAME HOST $port /dev/nbd0 && mount -o ro /dev/nbd0 /mnt
  (NAME is empty, -N '', for a single image)
Stop with Ctrl-C.
MSG

exec nbdkit -f --port "$port" "$builddir/plugins/sandbag/nbdkit-sandbag-plugin.so" \
  "$source_arg"
