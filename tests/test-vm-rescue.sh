#!/usr/bin/env bash
# VM, case 2: a rescue system booted from sandbag.  scripts/mkrescue.sh
# builds a rescue volume (busybox and a few tools, erofs); the public
# stack serves it; the guest boots with the kernel command line of
# docs/deployment.md (root=/dev/nbd0 nbdroot=SERVER:PORT/rescue.erofs),
# its initramfs attaches the volume read-only with nbd-client and the
# request timeout, mounts it and switch_roots into it.  The rescue
# volume's init starts a shell on the console, and the test types
# commands into it as an admin would: their output shows that they ran
# from the served volume (its release file, its root mount, a program
# from it with its libraries), and "exit" powers the machine off.
source "$(dirname "$0")/functions.sh"
source "$(dirname "$0")/vm/vm-functions.sh"
set -e -x
vm_require
requires mkfs.erofs --help

mkdir "$tmp/images"
stamp="rescue test build $$-$RANDOM"
bash "$abs_top_srcdir/scripts/mkrescue.sh" -m "$stamp" "$tmp/images/rescue.erofs"

port=$(free_port)
vm_serve "$tmp/pid" "$port" "$tmp/state" dir="$tmp/images"

VM_APPEND="root=/dev/nbd0 nbdroot=$VM_SERVER:$port/rescue.erofs"
VM_EXPECT=('^rescue# ')
VM_SEND=("echo rescue-check \$((6 * 7)); cat /etc/rescue-release; grep ' / ' /proc/mounts; e2fsck -V; exit")
vm_run rescue "" 120

log=$tmp/rescue.log
grep -x 'rescue-check 42' "$log"
grep -Fx "$stamp" "$log"
grep -x '/dev/nbd0 / erofs ro,.*' "$log"
grep '^e2fsck [0-9]' "$log"
grep -E '^\s+Using EXT2FS Library version [0-9.]+, ' "$log"
grep -x 'rescue: powering off' "$log"
