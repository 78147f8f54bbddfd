"""The server side of the hostile suite: nbdkit running the public stack
over an image, on a loopback port the kernel chose, watched for its peak
threads and RSS (sampled from /proc/PID/status every 50 ms).

nbdkit gets its listening socket by socket activation (LISTEN_FDS), so
parallel tests never collide, and is looked up on PATH, so that the
sanitizer and valgrind stages of scripts/test.sh wrap it.
"""

import os
import re
import signal
import socket
import subprocess
import threading
import time

from functions import record_kill
from rawnbd import Closed, Conn, ProtocolError

# The public stack under test: nbdkit's limit filter caps connections in
# total (outermost, so it refuses before anything else runs), ratetier
# (when built) schedules and guards per client, sandbag serves the image.
# nbdkit's thread settings are left at their defaults, as in
# scripts/serve.sh: on nbdkit < 1.33.10 a client that hangs up with
# requests in flight can make a worker thread assert (SIGABRT, the whole
# server; upstream commit 9d82aa4f), and the sandbag plugin's default
# (serialize=auto) is what prevents it there, one thread per connection.
# See inflight.py.
LIMIT = 32
NBDKIT_DEFAULT_THREADS = 16


def workers_per_connection():
    """Worker threads nbdkit gives a connection of the stack: none when
    the plugin serializes requests, else nbdkit's default --threads."""
    out = subprocess.run(["nbdkit", os.environ["SANDBAG_PLUGIN"],
                          "--dump-plugin"], capture_output=True, text=True,
                         check=True).stdout
    if "thread_model=serialize_requests" in out.split("\n"):
        return 0
    return NBDKIT_DEFAULT_THREADS


def stack(image, extra_params=()):
    """nbdkit arguments for the public stack over IMAGE."""
    ratetier = os.environ.get("RATETIER_FILTER", "")
    if not os.path.exists(ratetier):
        raise SystemExit("ratetier filter not built: %r" % ratetier)
    return (["--filter=limit",
             "--filter=" + ratetier, os.environ["SANDBAG_PLUGIN"],
             "file=" + image, "limit=%d" % LIMIT,
             "ratetier=1000:10,10000:4,100000:2"] + list(extra_params))


def proc_status(pid):
    """(threads, VmRSS in KiB) of PID, or None once it has gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return None
    threads = int(re.search(r"^Threads:\s*(\d+)", text, re.M).group(1))
    m = re.search(r"^VmRSS:\s*(\d+)", text, re.M)
    return threads, int(m.group(1)) if m else 0


class Server:
    """nbdkit on a socket-activated, kernel-chosen loopback port."""

    def __init__(self, tmp, args, debug=()):
        self.log = os.path.join(tmp, "nbdkit.log")
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1024)
        self.port = lsock.getsockname()[1]
        argv = ["nbdkit", "-f", "-v" if debug else None] + list(debug) + args
        argv = [a for a in argv if a]
        print("server: " + " ".join(argv), flush=True)
        logfd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                        0o644)
        pid = os.fork()
        if pid == 0:
            try:
                if lsock.fileno() != 3:
                    os.dup2(lsock.fileno(), 3)
                os.set_inheritable(3, True)
                os.dup2(logfd, 2)
                os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
                os.closerange(4, 65536)
                env = dict(os.environ, LISTEN_PID=str(os.getpid()),
                           LISTEN_FDS="1")
                os.execvpe("nbdkit", argv, env)
            finally:
                os._exit(127)
        os.close(logfd)
        lsock.close()
        self.pid = pid
        self.exited = None
        self.peak_threads = 0
        self.peak_rss = 0
        self._stop = threading.Event()
        self._mon = threading.Thread(target=self._monitor, daemon=True)
        self._mon.start()
        self.wait_ready()
        self.baseline = self.sample()

    def _monitor(self):
        while not self._stop.is_set():
            st = proc_status(self.pid)
            if st:
                self.peak_threads = max(self.peak_threads, st[0])
                self.peak_rss = max(self.peak_rss, st[1])
            self._stop.wait(0.05)

    def sample(self):
        return proc_status(self.pid)

    def alive(self):
        if self.exited is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.exited = status
            return False
        return True

    def wait_ready(self, timeout=60):
        """Until the server completes a handshake (modules loaded)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise SystemExit("nbdkit exited at start:\n" + self.logtext())
            try:
                c = Conn.open(self.port, "127.0.0.1")
                c.go()
                c.disconnect()
                return
            except (OSError, Closed, ProtocolError):
                if time.monotonic() > deadline:
                    raise SystemExit("nbdkit never served:\n" +
                                     self.logtext())
                time.sleep(0.2)

    def wait_threads(self, limit, timeout):
        """Wait until the server has at most LIMIT threads; return the
        last count seen."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.sample()
            if st is None or st[0] <= limit or time.monotonic() > deadline:
                return st[0] if st else 0
            time.sleep(0.1)

    def stop(self, deadline):
        """SIGTERM; returns seconds until exit (SIGKILL after DEADLINE)."""
        t0 = time.monotonic()
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
        while self.alive():
            if time.monotonic() - t0 > deadline:
                # No sanitizer or valgrind report from a killed server:
                # note the kill so that those stages fail too.
                record_kill(self.pid, "did not exit within %g s of SIGTERM"
                            % deadline)
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self._stop.set()
                return None
            time.sleep(0.01)
        self._stop.set()
        return time.monotonic() - t0

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-20000:]
        except OSError:
            return ""
