"""Reconnection benchmark driver (see scripts/bench-reconnect.sh).

Two measurements, each for sandbag's relay and for a relay built from
nbdkit's stock parts (the nbd plugin under the retry filter), in the
same run:

restart  one relay, a reader doing 4 KiB random reads every 10 ms; the
         server is stopped, kept down DOWN seconds and started again.
         recovery = from the server listening again to the reader's next
         successful read; stall = the longest gap between two successful
         reads.  Every byte read is checked against the image.
storm    N relays (one process each, as N attached clients would have),
         one connection each, all having read once; the server is
         restarted and every client reads at once.  all_served = from the
         server listening again to the last of the N reads; the server's
         CPU seconds and peak RSS over the storm.

Prints TSV lines "CONFIG TEST ROUND METRIC VALUE" on stdout.
"""
import argparse, os, random, signal, socket, subprocess, sys, threading, time

import nbd

ap = argparse.ArgumentParser()
ap.add_argument("--image", required=True)
ap.add_argument("--pinned", required=True)
ap.add_argument("--server-cmd", required=True, help="shell command, -f")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--relay-plugin", required=True)
ap.add_argument("--tmp", required=True)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--down", type=float, default=2.0)
ap.add_argument("--storm", type=int, default=100)
args = ap.parse_args()

image = open(args.image, "rb").read()
server_uri = "nbd://127.0.0.1:%d" % args.port
pinned_uri = "%s/%s" % (server_uri, args.pinned.replace("@", "%40"))


def emit(config, test, rnd, metric, value):
    print("%s\t%s\t%d\t%s\t%s" % (config, test, rnd, metric, value),
          flush=True)


class Server:
    def __init__(self):
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(args.server_cmd, shell=True,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", args.port), 0.2).close()
                return time.monotonic()
            except OSError:
                time.sleep(0.005)
        raise SystemExit("server did not start")

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def usage(self):
        """(CPU seconds, peak RSS in KiB) of the server process so far."""
        pid = self.proc.pid
        # The shell execs nbdkit, so the pid is nbdkit's.
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        rss = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1])
        return cpu, rss


def relay_cmd(kind, sock, pidfile):
    """The command line of a relay of KIND on SOCK."""
    if kind == "sandbag-relay":
        return ["nbdkit", "-U", sock, "-P", pidfile, "--log=null",
                args.relay_plugin, "server=" + server_uri,
                "export=" + args.pinned, "give-up=120s"]
    # The peer: nbdkit's nbd plugin reconnects when the retry filter
    # reopens it.  It checks nothing but what nbdkit checks (the size).
    return ["nbdkit", "-U", sock, "-P", pidfile, "--log=null",
            "--filter=retry", "nbd", "uri=" + pinned_uri,
            "retries=60", "retry-delay=1", "retry-exponential=no"]


def start_relay(kind, name):
    sock = os.path.join(args.tmp, name + ".sock")
    pidfile = os.path.join(args.tmp, name + ".pid")
    subprocess.run(relay_cmd(kind, sock, pidfile), check=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.01)
    return sock, pidfile


def stop_relay(pidfile):
    try:
        os.kill(int(open(pidfile).read()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def connect(sock):
    h = nbd.NBD()
    h.connect_unix(sock)
    return h


def read_check(h, rng):
    off = rng.randrange(0, len(image) // 4096) * 4096
    data = h.pread(4096, off)
    if data != image[off:off + 4096]:
        raise SystemExit("wrong bytes at %d" % off)


def restart_round(server, kind, rnd):
    sock, pidfile = start_relay(kind, "%s-%d" % (kind, rnd))
    h = connect(sock)
    rng = random.Random(rnd)
    oks, errors, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                read_check(h, rng)
                oks.append(time.monotonic())
            except nbd.Error as e:
                errors.append(str(e))
            time.sleep(0.01)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(1)
    killed = time.monotonic()
    server.stop()
    time.sleep(args.down)
    up = server.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [x for x in oks if x > up]:
        time.sleep(0.01)
    time.sleep(0.5)
    stop.set()
    t.join()
    after = [x for x in oks if x > up]
    before = [x for x in oks if x < killed]
    gaps = [b - a for a, b in zip(oks, oks[1:])]
    emit(kind, "restart", rnd, "recovery_s",
         "%.3f" % (after[0] - up if after else float("nan")))
    emit(kind, "restart", rnd, "stall_s", "%.3f" % max(gaps or [0]))
    emit(kind, "restart", rnd, "errors", len(errors))
    del h
    stop_relay(pidfile)


def storm_round(server, kind, rnd):
    n = args.storm
    relays = [start_relay(kind, "%s-s%d-%d" % (kind, rnd, i))
              for i in range(n)]
    handles = [connect(sock) for sock, _ in relays]
    rng = random.Random(rnd)
    for h in handles:
        read_check(h, rng)
    server.stop()
    time.sleep(args.down)
    cpu0, _ = (0.0, 0)
    up = server.start()
    cpu0, _ = server.usage()
    done, errors = [], []

    def one(h, seed):
        try:
            read_check(h, random.Random(seed))
            done.append(time.monotonic())
        except nbd.Error as e:
            errors.append(str(e))

    threads = [threading.Thread(target=one, args=(h, i))
               for i, h in enumerate(handles)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu1, rss = server.usage()
    emit(kind, "storm", rnd, "all_served_s",
         "%.3f" % (max(done) - up if len(done) == n else float("nan")))
    emit(kind, "storm", rnd, "served", len(done))
    emit(kind, "storm", rnd, "server_cpu_s", "%.3f" % (cpu1 - cpu0))
    emit(kind, "storm", rnd, "server_peak_rss_mib", "%.1f" % (rss / 1024))
    del handles
    for _, pidfile in relays:
        stop_relay(pidfile)


server = Server()
server.start()
try:
    for rnd in range(args.rounds):
        for kind in ("sandbag-relay", "nbd+retry"):
            restart_round(server, kind, rnd)
    for rnd in range(args.rounds):
        for kind in ("sandbag-relay", "nbd+retry"):
            storm_round(server, kind, rnd)
finally:
    server.stop()
