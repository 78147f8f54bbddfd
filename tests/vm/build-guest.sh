#!/bin/bash
# Build the VM harness's guest: Debian's cloud kernel and an initramfs
# with busybox, nbd-client, mdadm, veritysetup, the kernel modules the
# tests need, and the harness's init (tests/vm/init); and the client
# layer, a second archive with sandbag's own client that the
# sandbag-attach tests append to it.
#
#   build-guest.sh OUTDIR
#   build-guest.sh --client OUTDIR RELAY-PLUGIN SANDBAG-ATTACH STALL-PROBE
#
# The first writes OUTDIR/vmlinuz, OUTDIR/initrd.img and OUTDIR/guest.txt
# (what is inside).  Everything comes from Debian packages: busybox-static,
# nbd-client and cryptsetup-bin are installed on the host by
# scripts/install-deps.sh and copied with the libraries ldd lists; the
# kernel and mdadm are downloaded with `apt-get download` into
# OUTDIR/cache and only unpacked, never installed (installing mdadm
# would pull systemd and udev onto the host, and the host's own kernel
# is not the one under test).  A second build reuses the cached .debs
# and needs no network.
#
# The second writes OUTDIR/client.cpio and OUTDIR/client.txt: what a
# Debian machine running sandbag-attach has beyond the guest, at the
# paths an installed sandbag puts them: the host's nbdkit, the built
# relay plugin in nbdkit's plugin directory, the built sandbag-attach,
# util-linux's mount, umount and mountpoint (busybox has no mountpoint,
# and its umount no --lazy), the stall probe of the benchmark, and the
# libraries they need that initrd.img lacks.  Built apart from the
# guest, so that a change to the client rebuilds a few megabytes, not
# the guest.
usage="usage: build-guest.sh OUTDIR | --client OUTDIR RELAY-PLUGIN SANDBAG-ATTACH STALL-PROBE"
client=false
if [ "${1:-}" = --client ]; then
  client=true
  shift
  [ $# = 4 ] || { echo "$usage" >&2; exit 1; }
fi
out=${1:?$usage}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out/cache"
out=$(cd "$out" && pwd)
cache=$out/cache

die () { echo "build-guest: $*" >&2; exit 1; }

# Dynamically linked programs with their libraries, at the paths ldd
# gives (the guest has the host's loader and libc), into $root; a
# library that $root or the guest's initrd.img (the paths in $base)
# already holds is left out.
declare -A base=()
copy_with_libs ()
{
  local src=$1 dest=$2 lib
  mkdir -p "$root$(dirname "$dest")"
  cp "$src" "$root$dest"
  for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
    # (/lib64 is a link to /lib in the guest.)
    [ -z "${base[${lib/#\/lib64\//\/lib\/}]:-}" ] || continue
    if [ ! -e "$root$lib" ]; then
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    fi
  done
}

# make_archive DIR FILE: FILE is a cpio archive (newc, owned by root) of
# the tree at DIR, in a stable order.
make_archive ()
{
  (cd "$1" && find . -print0 | LC_ALL=C sort -z |
     cpio --quiet -o -0 -H newc -R 0:0) > "$2"
}

# The client layer (see above).  Besides the built programs, everything
# comes from the host's Debian packages (nbdkit, mount).
build_client ()
{
  local relay=$1 attach=$2 probe=$3 path plugindir sanitizers
  [ -f "$out/initrd.img" ] || die "build the guest first ($out/initrd.img)"
  command -v nbdkit > /dev/null || die "nbdkit is missing (run scripts/install-deps.sh)"
  for path in $(cpio --quiet -it < "$out/initrd.img"); do
    base[/${path#./}]=1
  done
  work=$(mktemp -d "$out/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  root=$work/root
  mkdir -p "$root"
  plugindir=$(nbdkit --dump-config | sed -n 's/^plugindir=//p')

  copy_with_libs "$attach" /sbin/sandbag-attach
  copy_with_libs "$relay" "$plugindir/nbdkit-sandbag-relay-plugin.so"
  copy_with_libs "$probe" /bin/stall-probe
  for path in mount umount mountpoint; do
    copy_with_libs "$(command -v $path)" "/bin/$path"
  done
  # A relay built with sanitizers (the asan stage of scripts/test.sh)
  # needs their runtimes loaded first into the uninstrumented nbdkit,
  # as tests/sanitizers/nbdkit does on the host: nbdkit becomes a
  # wrapper, and reports go to /tmp/sanitizer.*, which the init turns
  # into a failure.  Leaks are the host's tests' business.
  sanitizers=$(ldd "$relay" | grep -o '/[^ ]*lib[a-z]*san\.so[^ ]*' | tr '\n' ' ')
  if [ -n "$sanitizers" ]; then
    copy_with_libs "$(command -v nbdkit)" /lib/sandbag-vm/nbdkit
    cat > "$root/bin/nbdkit" <<EOF
#!/bin/sh
# nbdkit with the sanitizer runtimes of the relay plugin loaded first.
export ASAN_OPTIONS=log_path=/tmp/sanitizer:detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=log_path=/tmp/sanitizer:halt_on_error=1:print_stacktrace=1
LD_PRELOAD="${sanitizers% }" exec /lib/sandbag-vm/nbdkit "\$@"
EOF
    chmod 755 "$root/bin/nbdkit"
  else
    copy_with_libs "$(command -v nbdkit)" /bin/nbdkit
  fi

  make_archive "$root" "$work/client.cpio"
  {
    for path in nbdkit mount; do
      dpkg-query -W -f='${Package}: ${Version}\n' "$path"
    done
    echo "built: $attach, $relay, $probe${sanitizers:+ (with $sanitizers)}"
    echo "size: $(du -k "$work/client.cpio" | cut -f1) KiB"
    (cd "$root" && find . -type f | LC_ALL=C sort | sed 's/^\./  /')
  } > "$work/client.txt"
  mv "$work/client.cpio" "$work/client.txt" "$out/"
}
if $client; then
  build_client "$2" "$3" "$4"
  exit 0
fi

# The kernel modules the tests load, by module name; their dependencies
# come from the kernel's modules.dep.
modules=(virtio_pci virtio_net nbd raid1 dm-verity erofs squashfs)
# The programs the guest runs besides busybox.
programs=(/usr/sbin/nbd-client /usr/sbin/veritysetup mdadm:/sbin/mdadm)

# cached GLOB: the first file of the cache matching GLOB, or nothing.
cached ()
{
  local f
  for f in "$cache"/$1; do
    [ -f "$f" ] && echo "$f" && return
  done
  return 0
}

# fetch PACKAGE: the path of PACKAGE's .deb in the cache, downloaded
# the first time.
fetch ()
{
  local deb
  deb=$(cached "$1_*.deb")
  if [ -z "$deb" ]; then
    (cd "$cache" && apt-get download -q "$1" >&2) ||
      (cd "$cache" && [ "$(id -u)" = 0 ] && apt-get update -qq >&2 &&
       apt-get download -q "$1" >&2) ||
      die "cannot download $1 (apt-get update, or check the Debian mirror)"
    deb=$(cached "$1_*.deb")
  fi
  echo "$deb"
}

# The cloud kernel's image package: the one the metapackage depends on,
# or the one already cached.
kdeb=$(cached "linux-image-*-cloud-amd64_*.deb")
if [ -z "$kdeb" ]; then
  kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
         sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
  [ -n "$kpkg" ] || die "apt-cache knows no linux-image-cloud-amd64 (run apt-get update)"
  kdeb=$(fetch "$kpkg")
fi
mdeb=$(fetch mdadm)

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kdeb" "$work/kernel"
dpkg-deb -x "$mdeb" "$work/mdadm"
kver=$(ls "$work/kernel/lib/modules")
if [ -z "$kver" ] || [ ! -f "$work/kernel/boot/vmlinuz-$kver" ]; then
  die "$kdeb: no kernel inside"
fi
depmod -b "$work/kernel" "$kver"

root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,mnt,etc,vm,lib/modules,lib/sandbag-vm}
ln -s lib "$root/lib64"

# Modules in load order, each once, with the options modprobe would
# give (none: -C /dev/null ignores the host's modprobe.d).
declare -A loaded=()
: > "$root/etc/modules.order"
for m in "${modules[@]}"; do
  deps=$(modprobe -C /dev/null -d "$work/kernel" -S "$kver" --show-depends "$m") ||
    die "no module $m in $kdeb"
  while read -r verb path args; do
    [ "$verb" = insmod ] || die "$m: unexpected modprobe output: $verb $path"
    name=$(basename "$path")
    [ -z "${loaded[$name]:-}" ] || continue
    loaded[$name]=1
    cp "$path" "$root/lib/modules/"
    echo "$name $args" >> "$root/etc/modules.order"
  done <<< "$deps"
done

# busybox and its applets.
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

for p in "${programs[@]}"; do
  case $p in
    mdadm:*) copy_with_libs "$work/mdadm${p#mdadm:}" "/sbin/mdadm" ;;
    *) [ -x "$p" ] || die "$p is missing (run scripts/install-deps.sh)"
       copy_with_libs "$p" "/sbin/$(basename "$p")" ;;
  esac
done

install -m 755 "$here/init" "$root/init"
install -m 644 "$here/guest-lib.sh" "$here/manifest.sh" "$root/lib/sandbag-vm/"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

make_archive "$root" "$work/initrd.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
{
  echo "kernel: $(basename "$kdeb")"
  echo "mdadm: $(basename "$mdeb")"
  for p in busybox-static nbd-client cryptsetup-bin; do
    dpkg-query -W -f='${Package}: ${Version}\n' "$p"
  done
  echo "modules:"
  sed 's/^/  /' "$root/etc/modules.order"
} > "$work/guest.txt"
mv "$work/vmlinuz" "$work/initrd.img" "$work/guest.txt" "$out/"
