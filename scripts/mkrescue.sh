#!/bin/bash
# Build a rescue volume: a small read-only root file system (busybox and
# a few tools) that a kernel mounts from a sandbag server and boots into.
#
#   scripts/mkrescue.sh [-t erofs|squashfs] [-a PROGRAM]... [-m TEXT] OUTPUT
#
#   -t TYPE     file system of the image: erofs (default, lz4hc
#               compressed) or squashfs (xz compressed)
#   -a PROGRAM  add PROGRAM (a path) and the libraries ldd lists for it;
#               may be repeated.  Always included: busybox (all its
#               applets), nbd-client, e2fsck, mke2fs, debugfs.
#   -m TEXT     a line for /etc/rescue-release (say which build this is)
#
# The volume's /sbin/init mounts /proc, /sys, /dev and tmpfs on /tmp and
# /run, prints /etc/rescue-release, and runs a shell on the console;
# when that shell exits, the machine powers off.  Nothing is ever
# written to the volume.  Serve OUTPUT with scripts/serve.sh and boot it
# as docs/deployment.md ("A rescue system booted from sandbag") says.
#
# Needs busybox-static, e2fsprogs, nbd-client and erofs-utils or
# squashfs-tools (scripts/install-deps.sh installs them).
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

usage ()
{
  echo "usage: $0 [-t erofs|squashfs] [-a PROGRAM]... [-m TEXT] OUTPUT" >&2
  exit 2
}

fstype=erofs
message=
programs=(/usr/sbin/nbd-client /usr/sbin/e2fsck /usr/sbin/mke2fs /usr/sbin/debugfs)
while getopts t:a:m: opt; do
  case $opt in
    t) fstype=$OPTARG ;;
    a) programs+=("$OPTARG") ;;
    m) message=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || usage
output=$1
case $fstype in
  erofs) mkfs=mkfs.erofs ;;
  squashfs) mkfs=mksquashfs ;;
  *) echo "$0: -t $fstype: not erofs or squashfs" >&2; exit 2 ;;
esac
command -v "$mkfs" >/dev/null ||
  { echo "$0: $mkfs is missing (run scripts/install-deps.sh)" >&2; exit 1; }
# busybox-static's /bin/busybox needs no libraries (ldd fails on it).
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
  echo "$0: /bin/busybox is not busybox-static (run scripts/install-deps.sh)" >&2
  exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/mkrescue.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,dev,proc,sys,run,tmp,root,mnt,lib,usr/bin,usr/sbin}
chmod 1777 "$root/tmp"
ln -s lib "$root/lib64"

cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  case $applet in busybox|init) ;; *) ln -s busybox "$root/bin/$applet" ;; esac
done

# A program and its libraries, at the paths where ldd finds them.
for program in "${programs[@]}"; do
  [ -x "$program" ] || { echo "$0: $program: no such program" >&2; exit 1; }
  cp "$program" "$root/usr/sbin/$(basename "$program")"
  for lib in $(ldd "$program" | grep -o '/[^ ]*'); do
    if [ ! -e "$root$lib" ]; then
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    fi
  done
done

{
  echo "sandbag rescue system, built $(date -u +%Y-%m-%dT%H:%M:%SZ) by $(basename "$0")"
  echo "busybox $(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)"
  [ -z "$message" ] || echo "$message"
} > "$root/etc/rescue-release"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
echo rescue > "$root/etc/hostname"
cat > "$root/etc/profile" <<'EOF'
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
PS1='rescue# '
EOF

cat > "$root/sbin/init" <<'EOF'
#!/bin/sh
# The rescue volume's init (scripts/mkrescue.sh): the volume is mounted
# read-only, so everything writable lives in tmpfs.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
grep -q " /dev devtmpfs " /proc/mounts || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname -F /etc/hostname
echo
cat /etc/rescue-release
echo "root file system: $(grep ' / ' /proc/mounts | grep -v '^rootfs')"
echo "Type exit to power off."
setsid cttyhack sh -l
echo "rescue: powering off"
sync
poweroff -f
EOF
chmod 755 "$root/sbin/init"

rm -f "$output.tmp"
case $fstype in
  erofs) mkfs.erofs --quiet -zlz4hc --all-root "$output.tmp" "$root" ;;
  squashfs) mksquashfs "$root" "$output.tmp" -quiet -no-progress -comp xz -all-root ;;
esac
mv "$output.tmp" "$output"
echo "$0: $output: $fstype, $(du -k --apparent-size "$output" | cut -f1) KiB"
