#!/usr/bin/env bash
# tools/sandbag-server/systemd: the units pass "systemd-analyze verify" without a
# word, "systemd-analyze security" rates every service OK or better,
# and sandbag.service's MemoryMax, TasksMax and LimitNOFILE hold the
# connection caps of the shipped /etc/default/sandbag, with which the
# stack starts.  (The installed units, at their installed paths, are
# verified again in the package stage of scripts/test.sh.)
source "$(dirname "$0")/functions.sh"
set -e -x

requires systemd-analyze --version

units=$abs_top_srcdir/tools/sandbag-server/systemd
defaults=$abs_top_srcdir/tools/sandbag-server/default/sandbag
server=$abs_top_srcdir/tools/sandbag-server/sandbag-server

# The units name their programs at installed paths; here the programs
# of the source tree and the build stand in for them, and nothing else
# changes.
mkdir "$tmp/units"
for u in "$units"/*; do
  sed -e "s|^ExecStart=/usr/sbin/sandbag-server|ExecStart=$server|" \
      -e "s|^ExecStart=/usr/bin/sandbag-heatmap|ExecStart=$SANDBAG_HEATMAP|" \
      -e "s|^ExecStart=/usr/bin/sandbag-publish|ExecStart=$SANDBAG_PUBLISH|" \
      "$u" > "$tmp/units/$(basename "$u")"
done
ls "$tmp/units"
test "$(ls "$tmp/units" | wc -l)" -eq 6

# verify: not a word on either stream.
status=0
systemd-analyze verify --man=no "$tmp"/units/* > "$tmp/verify" 2>&1 ||
  status=$?
cat "$tmp/verify"
test $status -eq 0
test ! -s "$tmp/verify"

# security: every service OK (exposure below 5.0) or better.
for s in sandbag sandbag-prune sandbag-metrics; do
  systemd-analyze security --offline=true --threshold=49 \
    "$tmp/units/$s.service" > "$tmp/security"
  tail -1 "$tmp/security"
  tail -1 "$tmp/security" |
    grep -E "^→ Overall exposure level for $s.service: [0-4]\.[0-9] (OK|SAFE|PERFECT)"
done
# The main service: no capability, its own user, the file system read-only
# but for its state, as promised.
systemd-analyze security --offline=true "$tmp/units/sandbag.service" \
  > "$tmp/security"
for want in 'User=/DynamicUser=' 'CapabilityBoundingSet=~CAP_SYS_ADMIN' \
            'NoNewPrivileges=' 'ProtectSystem=' 'ProtectHome=' \
            'PrivateTmp=' 'AmbientCapabilities='; do
  grep -F "✓ $want" "$tmp/security"
done

# The unit's limits against the shipped defaults: sandbag-server checks
# them (SANDBAG_CHECK_LIMITS=1, as the unit sets it) and then the whole
# stack starts with those settings.
unit_value ()
{
  sed -n "s/^$1=//p" "$units/sandbag.service"
}
memory_mib=$(unit_value MemoryMax | sed 's/M$//')
tasks=$(unit_value TasksMax)
files=$(unit_value LimitNOFILE)
[[ $memory_mib =~ ^[0-9]+$ && $tasks =~ ^[0-9]+$ && $files =~ ^[0-9]+$ ]]
grep -Fx 'Environment=SANDBAG_STATE_DIR=/var/lib/sandbag SANDBAG_CHECK_LIMITS=1' \
  "$units/sandbag.service"
mkdir "$tmp/cg" "$tmp/images" "$tmp/state"
echo $((memory_mib << 20)) > "$tmp/cg/memory.max"
echo "$tasks" > "$tmp/cg/pids.max"
truncate -s 1M "$tmp/images/disk"
port=$(free_port)
(
  set -a
  # shellcheck source=/dev/null
  . "$defaults"
  set +a
  ulimit -n "$files"
  SANDBAG_CHECK_LIMITS=1 SANDBAG_CGROUP_DIR=$tmp/cg \
  SANDBAG_IMAGES=$tmp/images SANDBAG_STATE_DIR=$tmp/state \
  SANDBAG_PORT=$port SANDBAG_EXTRA_ARGS="--run true" \
    "$server"
)
grep -x 'sandbag_server_connection_limit 128' "$tmp/state/sandbag-server.prom"
# One more connection than the unit's memory holds is refused.
echo $(((memory_mib - 64) << 20)) > "$tmp/cg/memory.max"
(
  set -a
  # shellcheck source=/dev/null
  . "$defaults"
  set +a
  ulimit -n "$files"
  SANDBAG_CHECK_LIMITS=1 SANDBAG_CGROUP_DIR=$tmp/cg \
  SANDBAG_IMAGES=$tmp/images SANDBAG_STATE_DIR=$tmp/state \
  SANDBAG_PORT=$port SANDBAG_EXTRA_ARGS="--run true" \
    "$server"
) 2> "$tmp/err" && exit 1
grep -F "set MemoryMax=${memory_mib}M" "$tmp/err"
