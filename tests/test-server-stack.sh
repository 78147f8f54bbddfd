#!/usr/bin/env bash
# sandbag-server: the public stack as sandbag.service runs it, and as
# scripts/public-stack.sh hands it to serve.sh and the VM tests.  Wrong
# settings and limits that cannot hold the connection caps are refused
# with a message naming what to change (exit 78, which the unit does not
# restart on).  Under socket activation, as systemd starts it, it
# serves the socket it is given; and a restart of the server with the
# listening socket held (as sandbag.socket holds it) is invisible to a
# client reading through the sandbag-relay plugin (what sandbag-attach
# mounts): every read returns the right bytes, and a client connecting
# while no server runs waits and is served, never refused.
source "$(dirname "$0")/functions.sh"
set -e -x

requires nbdsh --version
server=$abs_top_srcdir/tools/sandbag-server/sandbag-server
export SANDBAG_PLUGIN RATETIER_FILTER HEATMAP_FILTER

mkdir "$tmp/vol" "$tmp/state"
head -c $((8 << 20)) /dev/urandom > "$tmp/img"
"$SANDBAG_PUBLISH" publish --version=1 "$tmp/vol" vol "$tmp/img"
export SANDBAG_IMAGES=$tmp/vol SANDBAG_STATE_DIR=$tmp/state

"$server" --help | grep -F "SANDBAG_LIMIT"

# --print-args: the stack's arguments, each ended by a NUL, and nothing
# written; scripts/public-stack.sh (serve.sh, the VM tests) gives the same.
SANDBAG_STATE_DIR=$tmp/nothing SANDBAG_LIMIT=64 "$server" --print-args |
  tr '\0' '\n' > "$tmp/args"
cat "$tmp/args"
test "$(head -4 "$tmp/args" | tr '\n' ' ')" = \
  "--filter=limit --filter=$RATETIER_FILTER --filter=rate --filter=$HEATMAP_FILTER "
grep -Fx "dir=$tmp/vol" "$tmp/args"
grep -Fx "limit=64" "$tmp/args"
grep -Fx "heatmap-dir=$tmp/nothing/heatmaps" "$tmp/args"
test ! -e "$tmp/nothing"
(
  source "$abs_top_srcdir/scripts/public-stack.sh"
  public_stack=()
  SANDBAG_LIMIT=64 public_stack_args "$abs_top_builddir" "$tmp/nothing" 1G \
    "dir=$tmp/vol"
  printf '%s\n' "${public_stack[@]}" > "$tmp/args2"
)
cmp "$tmp/args" "$tmp/args2"

# refused STATUS MESSAGE [VAR=VALUE...]: sandbag-server with these
# settings exits with STATUS and says MESSAGE, and starts nothing.
refused ()
{
  local want=$1 message=$2 status=0
  shift 2
  env "$@" "$server" > "$tmp/out" 2> "$tmp/err" || status=$?
  cat "$tmp/err"
  test "$status" -eq "$want"
  grep -F -- "$message" "$tmp/err"
}
status=0
"$server" --bogus 2> "$tmp/err" || status=$?
test $status -eq 1 && grep -F "usage: sandbag-server" "$tmp/err"
refused 78 'SANDBAG_LIMIT="many": expected a number of at least 1' \
  SANDBAG_LIMIT=many
refused 78 'SANDBAG_LIMIT="0": expected a number of at least 1' \
  SANDBAG_LIMIT=0
refused 78 'SANDBAG_PORT="70000": not a TCP port' SANDBAG_PORT=70000
refused 78 'SANDBAG_RATE="fast": expected bits per second' SANDBAG_RATE=fast
refused 78 "SANDBAG_IMAGES=\"$tmp/none\": not a directory or an image file" \
  SANDBAG_IMAGES="$tmp/none"

# The limits of the unit against the caps (defaults: 128 connections,
# 256 handshakes).
mkdir "$tmp/cg"
echo max > "$tmp/cg/memory.max"
echo 100 > "$tmp/cg/pids.max"
refused 78 "need up to 416 threads, but the service may have 100: set TasksMax=416" \
  SANDBAG_CHECK_LIMITS=1 SANDBAG_CGROUP_DIR="$tmp/cg"
echo 416 > "$tmp/cg/pids.max"
echo $((1 << 30)) > "$tmp/cg/memory.max"
refused 78 "SANDBAG_LIMIT=128 needs up to 8448 MiB (64 MiB per connection + 256 MiB), but the service may have 1024 MiB: set MemoryMax=8448M" \
  SANDBAG_CHECK_LIMITS=1 SANDBAG_CGROUP_DIR="$tmp/cg"
echo max > "$tmp/cg/memory.max"
refused 78 "need up to 1600 open files, but the service may have 1024: set LimitNOFILE=1600" \
  SANDBAG_CHECK_LIMITS=1 SANDBAG_CGROUP_DIR="$tmp/cg" \
  bash -c "ulimit -n 1024 && exec '$server'"
echo $((1 << 30)) > "$tmp/cg/memory.max"
# Lower caps fit: 12 connections x 64 MiB + 256 MiB = 1024 MiB.
echo max > "$tmp/cg/pids.max"
export SANDBAG_CHECK_LIMITS=1 SANDBAG_CGROUP_DIR=$tmp/cg SANDBAG_LIMIT=12

# Socket activation and restarts: hold the listening socket as systemd
# does, start the server on it, read through a relay while the server
# is stopped and started again.
export server tmp
python3 - <<'EOF'
import os, random, signal, socket, subprocess, sys, threading, time
import nbd

server, tmp = os.environ["server"], os.environ["tmp"]
# A server that dies at start would leave clients queued for ever.
signal.alarm(120)
image = open(f"{tmp}/img", "rb").read()

# The listening socket, as sandbag.socket: it outlives the servers.
lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.bind(("127.0.0.1", 0))
lsock.listen(64)
port = lsock.getsockname()[1]

def start_server(log):
    """Start sandbag-server as systemd does: the socket as fd 3,
    LISTEN_FDS=1 and LISTEN_PID naming the process."""
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC)
        os.dup2(fd, 2)
        if lsock.fileno() == 3:
            os.set_inheritable(3, True)
        else:
            os.dup2(lsock.fileno(), 3)
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
        os.execve(server, [server], env)
    running.add(pid)
    return pid

running = set()

def stop_server(pid):
    """SIGTERM, and nbdkit exits cleanly: with status 0, or under the
    sanitizer stage with LeakSanitizer's abort for nbdkit's own
    leftovers, which scripts/test.sh judges from the reports."""
    running.discard(pid)
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code == 0 or (code == -signal.SIGABRT and
                         os.environ.get("SANDBAG_WRAP")), code

pid = start_server(f"{tmp}/server1.log")

# A plain client by the pinned name, then the relay (sandbag-attach's).
h = nbd.NBD()
h.set_export_name("vol@1")
h.connect_tcp("127.0.0.1", str(port))
assert h.pread(4096, 4096) == image[4096:8192]
h.shutdown()

relay = subprocess.Popen(
    ["nbdkit", "-f", "-U", f"{tmp}/relay.sock",
     os.environ["SANDBAG_RELAY_PLUGIN"], f"server=nbd://127.0.0.1:{port}",
     "export=vol@1", "give-up=60s", f"status={tmp}/relay.status"],
    stderr=open(f"{tmp}/relay.log", "w"))
try:
    for _ in range(100):
        if os.path.exists(f"{tmp}/relay.sock"):
            break
        time.sleep(0.1)

    # A reader through the relay, checking every read, all along.
    stop = threading.Event()
    reads, failures = [0], []
    def reader():
        r = nbd.NBD()
        r.connect_unix(f"{tmp}/relay.sock")
        rng = random.Random(1)
        while not stop.is_set():
            off = rng.randrange(0, (len(image) - 65536) // 4096) * 4096
            try:
                if r.pread(65536, off) != image[off:off + 65536]:
                    failures.append(f"wrong bytes at {off}")
            except nbd.Error as e:
                failures.append(f"error at {off}: {e}")
            reads[0] += 1
        r.shutdown()
    t = threading.Thread(target=reader)
    t.start()
    time.sleep(1)

    # Restart: stop the server; a new client connects while none runs;
    # a new server starts on the same socket 1.5 s later.
    before = reads[0]
    stop_server(pid)
    waiting = {}
    def late_client():
        c = nbd.NBD()
        c.set_export_name("vol@1")
        t0 = time.monotonic()
        c.connect_tcp("127.0.0.1", str(port))
        waiting["s"] = time.monotonic() - t0
        waiting["ok"] = c.pread(4096, 0) == image[:4096]
        c.shutdown()
    lc = threading.Thread(target=late_client)
    lc.start()
    time.sleep(1.5)
    pid = start_server(f"{tmp}/server2.log")
    lc.join(30)
    time.sleep(2)
    stop.set()
    t.join(60)
    print(f"reads: {reads[0]} ({before} before the restart); "
          f"late client waited {waiting.get('s', -1):.2f} s")
    assert not failures, failures[:5]
    assert reads[0] > before + 10, "no reads after the restart"
    assert waiting.get("ok"), "the client connecting during the restart failed"
    assert waiting["s"] >= 1.0, "that client did not wait for the new server"
    status = open(f"{tmp}/relay.status").read()
    print(status)
    assert "\nreconnects 0\n" not in status, "the relay never reconnected"
finally:
    relay.terminate()
    relay.wait(30)
    for p in list(running):
        stop_server(p)
EOF

# The server wrote what it was started with, for the metrics, and the
# stack's own files.
grep -x 'sandbag_server_connection_limit 12' "$tmp/state/sandbag-server.prom"
grep -x 'sandbag_server_rate_bytes_per_second 134217728' \
  "$tmp/state/sandbag-server.prom"
grep -q '^ratetier_admitted_total' "$tmp/state/ratetier.prom"
test -f "$tmp/state/ratetier.state"
ls "$tmp/state/heatmaps" | grep -Fx 'vol%401.heatmap'
