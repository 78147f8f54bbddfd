# shellcheck shell=bash
# The VM harness's host side: boot the guest of tests/vm with a test
# script, serve it requests from the guest, and judge the run.  Source
# after tests/functions.sh:
#
#   source "$(dirname "$0")/functions.sh"
#   source "$(dirname "$0")/vm/vm-functions.sh"
#   set -e -x
#
# The guest (kernel + initramfs, tests/vm/build-guest.sh) is built once
# per build directory by meson as a dependency of the VM tests.  See
# tests/vm/README.md for the design: the console on the first serial
# port, the control channel on the second, and what makes a run fail.
#
# Environment:
#   SANDBAG_VM_ACCEL   qemu accelerator (default tcg; kvm where it works)
#   SANDBAG_VM_SMP     guest CPUs (default 1)

vm_dir=$abs_top_builddir/tests/vm
vm_stage=$tmp/vm-stage
mkdir -p "$vm_stage/vm"
: > "$vm_stage/vm/env"

# The address of the host's servers as the guest sees them: user-mode
# networking maps 10.0.2.2 to the host's 127.0.0.1.  vm_netns_setup
# changes it to the server namespace's address.
VM_SERVER=10.0.2.2
VM_SERVER_LISTEN=127.0.0.1
# Run the guest's qemu (VM_NETNS) and servers (VM_SERVER_NS) in these
# network namespaces; empty means the test's own namespace.
VM_NETNS=
VM_SERVER_NS=
# Filters vm_serve puts above (outside) the public stack, such as
# --filter=log.
VM_SERVE_FILTERS=()
# The uplink of the servers vm_serve starts (nbdkit's rate filter, bits
# per second).
VM_RATE=1G
# Kernel messages of error level that the test expects (an extended
# regular expression); every other one fails the run.
VM_KERNEL_ALLOW=
# Extra words for the kernel command line.
VM_APPEND=
# Console input: when VM_EXPECT[i] (an extended regular expression)
# appears on the console, the runner types VM_SEND[i]; one at a time, in
# order.
VM_EXPECT=()
VM_SEND=()

# Archives the guest's initramfs gets before the run's own files
# (vm_require_client adds the client layer).
VM_LAYERS=()

vm_require ()
{
  requires_root
  requires qemu-system-x86_64 --version
  requires ip netns list
  if [ ! -f "$vm_dir/vmlinuz" ] || [ ! -f "$vm_dir/initrd.img" ]; then
    echo "$0: no guest in $vm_dir (meson builds it: ninja tests/vm/initrd.img)" >&2
    exit 1
  fi
}

# vm_require_client: vm_require, and boot with the client layer
# (build-guest.sh --client: sandbag-attach, its relay, nbdkit,
# util-linux's mount tools) as an installed sandbag would have them.
vm_require_client ()
{
  vm_require
  if [ ! -f "$vm_dir/client.cpio" ]; then
    echo "$0: no client layer in $vm_dir (meson builds it: ninja tests/vm/client.cpio)" >&2
    exit 1
  fi
  VM_LAYERS+=("$vm_dir/client.cpio")
}

# vm_set NAME VALUE: a shell variable for the guest's test script.
vm_set ()
{
  local quoted=${2//\'/\'\\\'\'}
  echo "$1='$quoted'" >> "$vm_stage/vm/env"
}

# vm_add FILE [NAME]: put FILE into the guest as /vm/NAME.
vm_add ()
{
  cp -a "$1" "$vm_stage/vm/${2:-$(basename "$1")}"
}

# vm_manifest DIR > FILE: the manifest of a tree (tests/vm/manifest.sh),
# for check_manifest in the guest.
vm_manifest ()
{
  sh "$abs_top_srcdir/tests/vm/manifest.sh" "$1"
}

# free_port: a TCP port nobody listens on now.
free_port ()
{
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vm_serve PIDFILE PORT STATEDIR SOURCE-ARG [PARAMS...]: start the
# recommended public stack (scripts/public-stack.sh, what scripts/serve.sh
# runs) in the background on PORT, in VM_SERVER_NS if set, with its
# state, status and heat maps in STATEDIR, the filters of
# VM_SERVE_FILTERS above it and PARAMS after it (a KEY=VALUE of PARAMS
# replaces the stack's own KEY=, as ratetier-idle-timeout=3 does);
# stopped when the test exits.  vm_server_restart PIDFILE restarts it;
# vm_server_start PIDFILE starts it again (after a kill -9) the same way.
# vm_server_up[PIDFILE] is when it last started listening
# (${EPOCHREALTIME/./}, in microseconds).
declare -A vm_server_cmd=()
vm_serve ()
{
  local pidfile=$1 port=$2 statedir=$3 source_arg=$4 param arg
  shift 4
  local -a public_stack stack cmd
  # shellcheck source=../../scripts/public-stack.sh
  source "$abs_top_srcdir/scripts/public-stack.sh"
  public_stack_args "$abs_top_builddir" "$statedir" "$VM_RATE" "$source_arg"
  for arg in "${public_stack[@]}"; do
    for param in "$@"; do
      [[ $param == *=* && $arg == "${param%%=*}="* ]] && continue 2
    done
    stack+=("$arg")
  done
  mkdir -p "$statedir/heatmaps"
  cmd=(nbdkit -P "$pidfile" -i "$VM_SERVER_LISTEN" -p "$port"
       "${VM_SERVE_FILTERS[@]}" "${stack[@]}" "$@")
  [ -z "$VM_SERVER_NS" ] || cmd=(ip netns exec "$VM_SERVER_NS" "${cmd[@]}")
  vm_server_cmd[$pidfile]=$(printf '%q ' "${cmd[@]}")
  vm_server_start "$pidfile"
  cleanup_fn kill_nbdkit "$pidfile"
}

declare -A vm_server_up=()
vm_server_start ()
{
  local pidfile=$1 i
  rm -f "$pidfile"
  eval "${vm_server_cmd[$pidfile]}"
  # nbdkit forks into the background once it listens: when it started
  # listening, in microseconds, for benchmarks.
  vm_server_up[$pidfile]=${EPOCHREALTIME/./}
  # (nbdkit writes its pid file once it listens: look often, so that
  # the guest hears of it at once.)
  for (( i=0; i < 500; i++ )); do
    [ -s "$pidfile" ] && break
    sleep 0.02
  done
  if [ ! -s "$pidfile" ]; then
    echo "$0: the server did not start: ${vm_server_cmd[$pidfile]}" >&2
    exit 1
  fi
}

# vm_server_restart PIDFILE: stop a server vm_serve started (SIGTERM,
# as an admin's restart would) and start it again on the same port.
vm_server_restart ()
{
  kill_nbdkit "$1"
  vm_server_start "$1"
}

# vm_server_kill PIDFILE: kill a server vm_serve started as a crash
# would (SIGKILL), and wait until it is gone.
vm_server_kill ()
{
  local pid i
  pid=$(cat "$1")
  kill -9 "$pid"
  for (( i=0; i < 100; i++ )); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  echo "$0: server $pid outlived SIGKILL" >&2
  return 1
}

# vm_netns_setup N: a server namespace and N client namespaces joined by
# a bridge, so that guests appear to the server as distinct clients
# (user-mode networking alone makes every guest 127.0.0.1).  Client I
# (1..N) is 10.213.0.(10+I); the server is 10.213.0.1.  Sets
# VM_SERVER_NS, VM_SERVER and VM_SERVER_LISTEN; run a guest as client I
# with VM_NETNS=$(vm_netns I).
vm_netns_prefix=sbvm$$
vm_netns () { echo "${vm_netns_prefix}c$1"; }
vm_netns_setup ()
{
  local n=$1 i ns
  VM_SERVER_NS=${vm_netns_prefix}s
  ip netns add "$VM_SERVER_NS"
  cleanup_fn ip netns delete "$VM_SERVER_NS"
  ip -n "$VM_SERVER_NS" link set lo up
  ip -n "$VM_SERVER_NS" link add br0 type bridge
  ip -n "$VM_SERVER_NS" addr add 10.213.0.1/24 dev br0
  ip -n "$VM_SERVER_NS" link set br0 up
  for (( i=1; i <= n; i++ )); do
    ns=$(vm_netns "$i")
    ip netns add "$ns"
    cleanup_fn ip netns delete "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add eth0 type veth peer name "c$i" netns "$VM_SERVER_NS"
    ip -n "$ns" addr add "10.213.0.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$VM_SERVER_NS" link set "c$i" master br0 up
  done
  VM_SERVER=10.213.0.1
  VM_SERVER_LISTEN=10.213.0.1
}

# vm_request WORDS...: what the host does when the guest's script calls
# host_request WORDS...; a test defines its own.  Its exit status goes
# back to the guest, with the words it leaves in vm_reply.
vm_request ()
{
  echo "$0: the guest asked for '$*', which this test does not handle" >&2
  return 1
}

# _vm_serve_channel NAME QEMU-PID DEADLINE: until qemu exits or the
# deadline (in $SECONDS) passes, answer the guest's requests on the
# control channel and type the console input of VM_EXPECT/VM_SEND.
_vm_serve_channel ()
{
  local name=$1 qpid=$2 deadline=$3 rfd wfd cfd part line status vm_reply
  local buffer='' next=0
  exec {rfd}<>"$tmp/$name.ctl.out" {wfd}<>"$tmp/$name.ctl.in" \
       {cfd}<>"$tmp/$name.con.in"
  while kill -0 "$qpid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    if [ "$next" -lt "${#VM_EXPECT[@]}" ] &&
       tr -d '\r' < "$tmp/$name.console" | grep -Eq -- "${VM_EXPECT[$next]}"; then
      echo "vm: $name: console shows '${VM_EXPECT[$next]}', typing '${VM_SEND[$next]}'" >&2
      printf '%s\n' "${VM_SEND[$next]}" >&"$cfd"
      next=$((next + 1))
    fi
    # A line can arrive in pieces (the serial port sends it byte by
    # byte): keep what a timed-out read got.
    part=
    if IFS= read -r -t 0.2 -u "$rfd" part; then
      line=$buffer$part
      buffer=
      line=${line%$'\r'}
      case $line in
        "sandbag-vm-request "*)
          echo "vm: $name: guest asks: ${line#sandbag-vm-request }" >&2
          # shellcheck disable=SC2086  # the request is words
          vm_reply=
          vm_request ${line#sandbag-vm-request } && status=0 || status=$?
          echo "vm: $name: done $status${vm_reply:+ $vm_reply}" >&2
          echo "done $status${vm_reply:+ $vm_reply}" >&"$wfd" ;;
        *)
          [ -z "$line" ] || echo "vm: $name: stray control line: $line" >&2 ;;
      esac
    else
      buffer+=$part
    fi
  done
  exec {rfd}>&- {wfd}>&- {cfd}>&-
}

# vm_run NAME SCRIPT [DEADLINE]: boot the guest with SCRIPT (a file, or
# - for standard input) as its test script, serve its requests, and wait
# up to DEADLINE seconds (default 120) for it to power off.  The console
# is $tmp/NAME.console.  Fails (returns 1, after printing the console)
# unless the guest powered off in time, the script exited 0 (when one
# was given: SCRIPT "" boots with VM_APPEND alone, as the rescue test
# does) and the kernel logged no error-level message nor warning outside
# VM_KERNEL_ALLOW.
vm_run ()
{
  local name=$1 script=$2 deadline=${3:-120}
  local accel=${SANDBAG_VM_ACCEL:-tcg} cpu=max qpid drain start verdict=0
  local -a netns=()
  case $script in
    -) cat > "$vm_stage/vm/test.sh" ;;
    "") rm -f "$vm_stage/vm/test.sh" ;;
    *) cp "$script" "$vm_stage/vm/test.sh" ;;
  esac
  [ "$accel" = kvm ] && cpu=host
  [ -n "$VM_NETNS" ] && netns=(ip netns exec "$VM_NETNS")

  # The guest's initramfs followed by this run's files: the kernel
  # unpacks concatenated cpio archives one over the other.
  (cd "$vm_stage" && find vm | LC_ALL=C sort |
     cpio --quiet -o -H newc -R 0:0) > "$tmp/$name.cpio"
  cat "$vm_dir/initrd.img" "${VM_LAYERS[@]}" "$tmp/$name.cpio" > "$tmp/$name.initrd"

  rm -f "$tmp/$name".{console,ctl.in,ctl.out,con.in,con.out}
  mkfifo "$tmp/$name".{ctl.in,ctl.out,con.in,con.out}
  : > "$tmp/$name.console"
  # Keep qemu's console output flowing; the log file is what counts.
  cat <>"$tmp/$name.con.out" > /dev/null &
  drain=$!
  start=$SECONDS
  "${netns[@]}" qemu-system-x86_64 -nodefaults -display none -no-reboot \
    -accel "$accel" -cpu "$cpu" -smp "${SANDBAG_VM_SMP:-1}" -m 512 \
    -kernel "$vm_dir/vmlinuz" -initrd "$tmp/$name.initrd" \
    -append "console=ttyS0 loglevel=4 panic=-1 no_timer_check $VM_APPEND" \
    -chardev "pipe,id=con,path=$tmp/$name.con,logfile=$tmp/$name.console" \
    -serial chardev:con \
    -chardev "pipe,id=ctl,path=$tmp/$name.ctl" -serial chardev:ctl \
    -netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
    < /dev/null > "$tmp/$name.qemu.log" 2>&1 &
  qpid=$!
  cleanup_fn "kill -9 $qpid $drain 2>/dev/null"
  _vm_serve_channel "$name" "$qpid" $((start + deadline))
  if kill -0 "$qpid" 2>/dev/null; then
    echo "vm: $name: FAIL: the guest did not power off within $deadline s" >&2
    kill -9 "$qpid" 2>/dev/null
    verdict=1
  fi
  wait "$qpid" || true
  kill "$drain" 2>/dev/null || true
  echo "vm: $name: qemu ran for $((SECONDS - start)) s" >&2
  tr -d '\r' < "$tmp/$name.console" > "$tmp/$name.log"
  sed "s/^/vm: $name: console: /" "$tmp/$name.log" >&2
  sed "s/^/vm: $name: qemu: /" "$tmp/$name.qemu.log" >&2

  if grep -q '^sandbag-vm: failed' "$tmp/$name.log"; then
    echo "vm: $name: FAIL: $(grep '^sandbag-vm: failed' "$tmp/$name.log")" >&2
    verdict=1
  fi
  if [ -n "$script" ] &&
     ! grep -qx 'sandbag-vm: exit status 0' "$tmp/$name.log"; then
    echo "vm: $name: FAIL: the test script did not finish with status 0" >&2
    verdict=1
  fi
  # Kernel messages on the console are those of error level or worse
  # (loglevel=4); the init adds the kernel's warnings ("WARNING:").
  vm_kernel_messages "$name" > "$tmp/$name.kernel"
  if [ -n "$VM_KERNEL_ALLOW" ]; then
    grep -Ev -- "$VM_KERNEL_ALLOW" "$tmp/$name.kernel" > "$tmp/$name.kernel-bad" || true
  else
    cp "$tmp/$name.kernel" "$tmp/$name.kernel-bad"
  fi
  if [ -s "$tmp/$name.kernel-bad" ]; then
    echo "vm: $name: FAIL: kernel errors:" >&2
    sed 's/^/  /' "$tmp/$name.kernel-bad" >&2
    verdict=1
  fi
  return $verdict
}

# vm_kernel_messages NAME: the kernel's error-level messages and
# warnings of run NAME, one a line, without the power-off notice.
vm_kernel_messages ()
{
  grep -Eo '(\[ *[0-9]+\.[0-9]{6}\] |^sandbag-vm: kernel warning: ).*' "$tmp/$1.log" |
    grep -Ev '\] reboot: (Power down|Restarting system)$' || true
}
