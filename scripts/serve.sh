#!/bin/bash
# Serve a read-only volume to the public with sandbag, on port 10809.
#
#   scripts/serve.sh               serve the embedded demo volume
#   scripts/serve.sh IMAGE         serve one image as the default export
#   scripts/serve.sh DIRECTORY     serve every image in DIRECTORY by name
#                                  (versions published with sandbag-publish
#                                  as NAME@VERSION, the current one as NAME)
#
# Installs what it needs, builds sandbag if needed, and runs nbdkit in the
# foreground (Ctrl-C stops it) with the recommended public stack of
# docs/deployment.md (scripts/public-stack.sh): nbdkit's limit filter,
# ratetier (fair queues and connection guards), nbdkit's rate filter (the
# uplink) and heatmap.
# The demo volume is an erofs image of sandbag's own source tree, built
# into the build directory and published there with sandbag-publish as
# the pinned version demo@REVISION, served as the default export.
#
# Environment:
#   BUILDDIR   build directory (default: build under the source)
#   PORT       TCP port (default 10809)
#   RATE       uplink capacity in bits per second for nbdkit's rate
#              filter (default 1G); set it a little below the real uplink
#   STATEDIR   ratetier's state and status files and the heat maps
#              (default: BUILDDIR/state)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/scripts/install-deps.sh"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

builddir=${BUILDDIR:-$top/build}
port=${PORT:-10809}
rate=${RATE:-1G}
echo "sandbag: building in $builddir"
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$top" >"$builddir.setup.log" 2>&1 ||
    { cat "$builddir.setup.log" >&2; exit 1; }
fi
ninja -C "$builddir" >/dev/null

target=${1:-}
extra_args=()
if [ -z "$target" ]; then
  # The demo: this source tree, as a version named by its revision.
  revision=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo 1)
  image=$builddir/demo-$revision.erofs
  if [ ! -f "$image" ]; then
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    git -C "$top" archive HEAD 2>/dev/null | tar -x -C "$stage" ||
      cp -a "$top/README.md" "$top/LICENSE" "$top/docs" "$top/plugins" \
            "$top/filters" "$stage"
    mkfs.erofs --quiet "$image.tmp" "$stage"
    mv "$image.tmp" "$image"
  fi
  target=$builddir/volumes
  mkdir -p "$target"
  "$builddir/tools/sandbag-publish/sandbag-publish" publish --no-prune \
    --version="$revision" "$target" demo "$image" > /dev/null
  extra_args=(default=demo)
fi

if [ -d "$target" ]; then
  source_arg=dir=$(realpath "$target")
  uri="nbd://HOST:$port/NAME"
  name_hint="NAME is an export in $target; NAME@VERSION a pinned version"
  [ ${#extra_args[@]} -eq 0 ] || name_hint="$name_hint; the default is demo"
  nbd_name=" -N NAME"
elif [ -f "$target" ]; then
  source_arg=file=$(realpath "$target")
  uri="nbd://HOST:$port/"
  name_hint="NAME is empty for a single image"
  nbd_name=""
else
  echo "$0: $target: not an image file or a directory" >&2
  exit 1
fi

statedir=${STATEDIR:-$builddir/state}
mkdir -p "$statedir/heatmaps"

cat <<MSG
sandbag: serving $target read-only on port $port
  URI:   $uri
Read it from another machine (replace HOST; $name_hint):
  nbdinfo --list nbd://HOST:$port
  sandbag-attach mount NAME /mnt nbd://HOST:$port     (survives reconnects)
  modprobe nbd && nbd-client HOST $port /dev/nbd0$nbd_name -readonly -timeout 30 -connections 4 &&
    mount -o ro /dev/nbd0 /mnt     (docs/deployment.md, "Clients": always give -timeout)
Watch it:
  cat $statedir/ratetier.prom
  $builddir/tools/sandbag-heatmap/sandbag-heatmap summary $statedir/heatmaps/*.heatmap
Stop with Ctrl-C.
MSG

public_stack=()
# shellcheck source=public-stack.sh
source "$top/scripts/public-stack.sh"
public_stack_args "$builddir" "$statedir" "$rate" "$source_arg"
exec nbdkit -f --port "$port" "${public_stack[@]}" "${extra_args[@]}"
