#!/bin/bash
# Install every Debian package sandbag needs to build, serve, test and
# benchmark.  Idempotent: packages already present are not touched, and
# apt-get runs only when something is missing.  Used by both README commands.
set -euo pipefail

packages=(
  # build
  gcc meson ninja-build pkg-config perl
  nbdkit nbdkit-plugin-dev libglib2.0-dev libnbd-dev
  libpng-dev libcairo2-dev
  # clients and peers used by tests, tools and benchmarks
  libnbd-bin python3-libnbd fuse3 nbd-client nbd-server qemu-utils fio
  e2fsprogs erofs-utils squashfs-tools iproute2 procps psmisc
  # sanitizers, fuzzing and memcheck
  clang libclang-rt-14-dev valgrind
  # heatmap's sync test watches msync calls
  strace
  # the VM tests (tests/vm) and scripts/mkrescue.sh: qemu, and what the
  # guest's initramfs and the rescue volume are made of (the guest's
  # kernel and mdadm are downloaded and unpacked by tests/vm/build-guest.sh,
  # never installed)
  qemu-system-x86 busybox-static cryptsetup-bin kmod cpio
  # sandbag-heatmap render frees fontconfig's caches at exit
  libfontconfig-dev
  # the Debian packages and the package stage of scripts/test.sh
  dpkg-dev debhelper lintian debootstrap
  # tools/sandbag-server/: systemd-analyze for the units, nft for the firewall, rsync
  # for the mirror recipe
  systemd nftables rsync
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "$0: these Debian packages are missing: ${missing[*]}" >&2
  echo "$0: run this script as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "$0: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
