#!/bin/bash
# The scripts run inside the root are single-quoted on purpose.
# shellcheck disable=SC2016
#
# The package stage of scripts/test.sh: build the Debian packages, check
# them with lintian, install them into a clean Debian 12 root made with
# debootstrap, and there use them as an admin would: nbdkit loads the
# add-ons by name, nbdsh reads an export through ratetier and heatmap,
# every tool answers --help, the installed units pass systemd-analyze,
# the installed sandbag-server runs the stack from /etc/default/sandbag
# under socket activation, and promtool accepts the metrics and the
# example alerts.
#
#   tests/package/run-package-test.sh BUILDDIR
#
# Prints one verdict per step on stdout ("PASS package:STEP" or "FAIL
# package:STEP"), for scripts/test.sh to count; the logs go to stderr.
# Needs root, debootstrap, dpkg-dev, debhelper, lintian, and Debian's
# archive (SANDBAG_DEBIAN_MIRROR, default http://deb.debian.org/debian).
#
# BUILDDIR keeps what makes a second run fast: the tarball of the base
# root (debootstrap runs only when it is missing), and apt's downloaded
# packages and lists.  The root itself is unpacked afresh every run.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
builddir=${1:?usage: $0 BUILDDIR}
mirror=${SANDBAG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${SANDBAG_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm

mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
src=$builddir/src
root=$builddir/root
base=$builddir/debootstrap-$suite-minbase.tar.gz
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

exec 3>&1 1>&2       # verdicts on fd 3, everything else on stderr
failed=0
timings=()

# step NAME FUNCTION: run FUNCTION, give its verdict and time.  After a
# failed step the steps that need it are not run (they fail too).
step ()
{
  local name=$1 fn=$2 start=$SECONDS
  echo "=== package:$name"
  if [ "$failed" -eq 0 ] && "$fn"; then
    echo "PASS package:$name" >&3
  else
    echo "FAIL package:$name" >&3
    failed=1
  fi
  timings+=("$name $((SECONDS - start)) s")
}

in_root ()
{
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive HOME=/root "$@"
}

# --- build and lintian ------------------------------------------------------
build ()
{
  # The source as it is (tracked and new files, not ignored ones), in a
  # directory of its own: dpkg-buildpackage writes the packages next to
  # it.
  rm -rf "$src"
  mkdir -p "$src/sandbag"
  (cd "$top" && git ls-files -co --exclude-standard -z |
     xargs -0 cp -a --parents -t "$src/sandbag") || return 1
  (cd "$src/sandbag" && dpkg-buildpackage -us -uc -b) > "$src/build.log" 2>&1
  local r=$?
  tail -n 25 "$src/build.log"
  ls -l "$src"/*.deb
  return $r
}

lintian_check ()
{
  # Clean at every level but the experimental one; what remains is
  # overridden in debian/*.lintian-overrides, each with its reason.
  lintian -I --pedantic --fail-on error,warning,info,pedantic \
    "$src"/sandbag_*.changes
}

# --- the clean root ---------------------------------------------------------
cleanup_root ()
{
  local m
  for m in dev/pts dev proc sys var/cache/apt/archives var/lib/apt/lists; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
  done
  return 0
}
trap cleanup_root EXIT

make_root ()
{
  cleanup_root
  rm -rf "$root"
  if [ ! -f "$base" ]; then
    echo "debootstrap of $suite (minbase) from $mirror, cached as $base"
    debootstrap --variant=minbase "$suite" "$root" "$mirror" || return 1
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -czf "$base.tmp" . && mv "$base.tmp" "$base" || return 1
    rm -rf "$root"
  fi
  mkdir -p "$root"
  tar -C "$root" -xzf "$base" || return 1
  cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # apt's downloads outlive the root, so that a second run fetches
  # little; the root stays as debootstrap made it.
  mkdir -p "$builddir/apt-archives/partial" "$builddir/apt-lists/partial"
  mount --bind "$builddir/apt-archives" "$root/var/cache/apt/archives" &&
  mount --bind "$builddir/apt-lists" "$root/var/lib/apt/lists" &&
  mount -t proc proc "$root/proc" &&
  mount --bind /dev "$root/dev" &&
  mount --bind /dev/pts "$root/dev/pts" &&
  mount --bind /sys "$root/sys"
}

install_packages ()
{
  mkdir -p "$root/tmp/debs"
  cp "$src"/nbdkit-plugin-sandbag_*.deb "$src"/sandbag-tools_*.deb \
     "$src"/sandbag-server_*.deb "$src"/sandbag-client_*.deb \
     "$root/tmp/debs/" || return 1
  in_root apt-get update -qq || return 1
  # apt resolves the packages' own Depends from the archive: a missing
  # dependency fails here or in the steps below.  Besides them: nbdsh
  # to read an export, systemd for systemd-analyze, man-db so that it
  # can check the units' Documentation=.
  in_root sh -c 'apt-get install -y -q --no-install-recommends \
    /tmp/debs/*.deb python3-libnbd systemd man-db' || return 1
  # promtool is a static program in the prometheus package: unpacked
  # from it, not installed with the server and its 35 dependencies.
  in_root sh -c 'cd /tmp && apt-get download -q prometheus' &&
    dpkg-deb --fsys-tarfile "$root"/tmp/prometheus_*.deb |
    tar -x -C "$root/tmp" ./usr/bin/promtool &&
    mv "$root/tmp/usr/bin/promtool" "$root/usr/local/bin/promtool" &&
    rm -f "$root"/tmp/prometheus_*.deb
}

# --- what an admin does with them ------------------------------------------
use_modules ()
{
  cat > "$root/tmp/read.py" <<'PY'
data = open("/tmp/image", "rb").read()
assert h.get_size() == len(data)
assert h.pread(65536, 4096) == data[4096:69632]
print("read 64 KiB of", h.get_export_name())
PY
  in_root bash -e -x -c '
    mkdir -p /tmp/vol /tmp/maps
    head -c 1048576 /dev/urandom > /tmp/image
    sandbag-publish publish --version=1 /tmp/vol debian /tmp/image
    # The add-ons by name, as installed in nbdkit'"'"'s directories.
    nbdkit -U - --filter=ratetier --filter=heatmap \
      sandbag dir=/tmp/vol heatmap-dir=/tmp/maps \
      --run "nbdsh -u \"nbd+unix:///debian%401?socket=\$unixsocket\" -c - < /tmp/read.py"
    sandbag-heatmap summary /tmp/maps/debian%401.heatmap
  '
}

help_pages ()
{
  in_root bash -e -x -c '
    for t in sandbag-heatmap sandbag-publish sandbag-attach sandbag-server; do
      "$t" --help | grep -i usage
      man -w "$t"
    done
    nbdkit sandbag --help | grep -F "dir="
    nbdkit sandbag-relay --help | grep -F "export="
    nbdkit --filter=ratetier null --help | grep -F "ratetier-max-connections"
    nbdkit --filter=heatmap null --help | grep -F "heatmap-dir"
    for p in nbdkit-sandbag-plugin nbdkit-sandbag-relay-plugin \
             nbdkit-ratetier-filter nbdkit-heatmap-filter; do
      man -w "$p"
    done
  '
}

systemd_units ()
{
  in_root bash -e -x -c '
    cd /lib/systemd/system
    out=$(systemd-analyze verify sandbag.socket sandbag.service \
            sandbag-prune.service sandbag-prune.timer \
            sandbag-metrics.service sandbag-metrics.timer 2>&1)
    echo "$out"
    test -z "$out"
    for s in sandbag sandbag-prune sandbag-metrics; do
      systemd-analyze security --offline=true --threshold=49 $s.service |
        tail -1 | tee /dev/stderr |
        grep -E ": [0-4]\.[0-9] (OK|SAFE|PERFECT)"
    done
    # Installed, but nothing enabled or started by the installation.
    for u in sandbag.socket sandbag-prune.timer sandbag-metrics.timer; do
      test "$(systemctl is-enabled $u)" = disabled
    done
  '
}

# The installed sandbag-server with the installed /etc/default/sandbag,
# started as sandbag.socket starts it (socket activation), in a network
# namespace of its own, and confined about as sandbag.service confines
# it (there is no systemd to run the unit here): another user with no
# capability and no new privileges (DynamicUser, CapabilityBoundingSet=,
# NoNewPrivileges), a read-only root but for /tmp, which holds the
# state directory (ProtectSystem=strict, PrivateTmp, StateDirectory).
service_stack ()
{
  cat > "$root/tmp/serve.sh" <<'SH'
set -e -x
set -a
. /etc/default/sandbag
set +a
export SANDBAG_IMAGES=/tmp/vol SANDBAG_STATE_DIR=/tmp/state
export SANDBAG_CHECK_LIMITS=1
test "$(id -u)" = 65534 && ! touch /etc/sandbag-rw 2>/dev/null
# It passes on only the variables named with -E, as systemd passes only
# those of the unit's EnvironmentFile.
systemd-socket-activate -l 127.0.0.1:10809 -E PATH \
  $(env | sed -n 's/^\(SANDBAG_[A-Z_]*\)=.*/-E \1/p') \
  /usr/sbin/sandbag-server 2> /tmp/server.log &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid; cat /tmp/server.log' EXIT
# The first connection starts the server, as with sandbag.socket.
for i in $(seq 50); do
  nbdsh -u nbd://127.0.0.1:10809/debian -c - < /tmp/read.py && break
  sleep 0.2
done
[ "$i" -lt 50 ]
# The plain name is the current version, which the description names.
nbdinfo --json nbd://127.0.0.1:10809/debian |
  grep -F '"description": "debian@1, 1048576 bytes, published'
sleep 6                         # ratetier writes its status every 5 s
test -s /tmp/state/ratetier.prom
test -s /tmp/state/sandbag-server.prom
ls /tmp/state/heatmaps/debian.heatmap     # the map of the name asked for
SH
  rm -rf "$root/tmp/state"
  mkdir -m 0777 "$root/tmp/state"
  unshare --net --mount bash -c '
    ip link set lo up &&
    mount --make-rprivate / &&
    mount --rbind "$1" "$1" && mount -o remount,bind,ro "$1" &&
    mount --bind "$1/tmp" "$1/tmp" && mount -o remount,bind,rw "$1/tmp" &&
    ulimit -n 16384 &&             # the unit'"'"'s LimitNOFILE
    exec chroot "$1" setpriv --reuid=65534 --regid=65534 --clear-groups \
      --inh-caps=-all --bounding-set=-all --no-new-privs \
      /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      LC_ALL=C.UTF-8 bash /tmp/serve.sh' - "$root"
}

prometheus_files ()
{
  in_root bash -e -x -c '
    mkdir -p /tmp/textfile
    sandbag-heatmap metrics -o /tmp/textfile/sandbag.prom \
      --include /tmp/state/ratetier.prom \
      --include /tmp/state/sandbag-server.prom /tmp/state/heatmaps
    grep -F "sandbag_heatmap_maps{state=\"valid\"} 1" /tmp/textfile/sandbag.prom
    /usr/local/bin/promtool check metrics < /tmp/textfile/sandbag.prom
    cd /usr/share/doc/sandbag-server/examples
    /usr/local/bin/promtool check rules sandbag-alerts.yml
    /usr/local/bin/promtool test rules sandbag-alerts.test.yml
  '
}

purge ()
{
  in_root dpkg --purge sandbag-server sandbag-client sandbag-tools \
    nbdkit-plugin-sandbag &&
    test ! -e "$root/etc/default/sandbag" &&
    test ! -e "$root/lib/systemd/system/sandbag.service"
}

step build build
built=$((1 - failed))
step lintian lintian_check
failed=$((1 - built))   # with packages built, go on after a lintian failure
step root make_root
step install install_packages
step modules use_modules
step help help_pages
step systemd systemd_units
step service service_stack
step prometheus prometheus_files
step purge purge
cleanup_root
printf 'package stage: %s\n' "${timings[@]}"
