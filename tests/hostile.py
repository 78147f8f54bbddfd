#!/usr/bin/python3
"""Hostile NBD clients against sandbag's public stack.

A small raw NBD protocol library (fixed newstyle handshake, options,
simple and structured replies) that can also misbehave on purpose, a
server harness, a well-behaved client, and the hostile cases that
tests/test-hostile-CASE.sh run:

  hostile.py case NAME --tmp DIR    run one case (exit 0 = pass)
  hostile.py good ...               the well-behaved client (a subprocess)
  hostile.py summary LOG...         table of the HOSTILE lines in test logs

How a case runs.  The harness binds a listening socket on 127.0.0.1 port
0 (so parallel tests never collide) and hands it to nbdkit by socket
activation; nbdkit is looked up on PATH, so the sanitizer and valgrind
runs wrap it.  The server is the public stack (STACK below) over a random
image.  A well-behaved client, source-bound to 127.0.0.2, keeps reading
random ranges and comparing them with the image while the attack runs
from other 127.0.0.0/8 addresses.  The case passes only if:
  - every read of the good client returned the right data, it did at
    least a few reads during the attack, and none took longer than
    GOOD_DEADLINE (liveness, not speed: figures are reported, not judged);
  - the server's peak threads and RSS (sampled from /proc/PID/status)
    stayed under the case's bound, and its threads fall back to the
    baseline once every client has gone (nothing leaks per connection);
  - what the case itself checks about the replies (wrong requests get
    errors and leave the connection usable, and so on);
  - SIGTERM ends the server within SHUTDOWN_DEADLINE.
Each case prints one parseable line:
  HOSTILE case=NAME held_off=N attacks=N peak_threads=N peak_rss_kib=N
          good_reads=N good_p50_ms=X good_p99_ms=X good_max_ms=X
          shutdown_ms=X
where held_off counts hostile connections the server refused or closed
on the attacker, and attacks counts hostile connections opened.
"""

import argparse
import errno
import json
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

# --- protocol -------------------------------------------------------------

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF

FLAG_FIXED_NEWSTYLE = 1
FLAG_NO_ZEROES = 2

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_STARTTLS = 5
OPT_INFO = 6
OPT_GO = 7
OPT_STRUCTURED_REPLY = 8
OPT_LIST_META_CONTEXT = 9
OPT_SET_META_CONTEXT = 10

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_META_CONTEXT = 4
REP_ERR = 1 << 31
REP_ERR_UNKNOWN = REP_ERR + 6

INFO_EXPORT = 0
INFO_BLOCK_SIZE = 3

CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_CACHE = 5
CMD_WRITE_ZEROES = 6
CMD_BLOCK_STATUS = 7

CMD_FLAG_FUA = 1
CMD_FLAG_NO_HOLE = 2
CMD_FLAG_DF = 4
CMD_FLAG_REQ_ONE = 8

FLAG_READ_ONLY = 2

REPLY_FLAG_DONE = 1
REPLY_TYPE_NONE = 0
REPLY_TYPE_OFFSET_DATA = 1
REPLY_TYPE_OFFSET_HOLE = 2
REPLY_TYPE_BLOCK_STATUS = 5
REPLY_TYPE_ERROR = (1 << 15) + 1
REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2

NBD_EPERM = 1
NBD_EINVAL = 22

# nbdkit 1.32 refuses any request over this before it allocates.
NBDKIT_MAX_REQUEST = 64 * 1024 * 1024


class ProtocolError(Exception):
    pass


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


def connect(port, source=None, host="127.0.0.1", timeout=10.0):
    """A TCP connection to HOST:PORT, source-bound to SOURCE if given."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    return s


class Conn:
    """One NBD connection, driven step by step so that any step can be
    done wrongly on purpose."""

    def __init__(self, sock):
        self.sock = sock
        self.structured = False
        self.size = None
        self.eflags = 0
        self.block_size = None
        self.next_cookie = 1
        self.pending = {}               # cookie -> (cmd, length)
        self.read_base = {}             # cookie -> offset (structured)
        self.shaken = False

    @classmethod
    def open(cls, port, source=None, timeout=10.0):
        return cls(connect(port, source, timeout=timeout))

    def close(self, reset=False):
        if reset:
            # SO_LINGER 0: close sends RST, like a client that crashes.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        self.sock.close()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed(str(e))

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except ConnectionResetError as e:
                raise Closed(str(e))
            if not chunk:
                raise Closed("EOF after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    # Handshake and options.

    def greeting(self):
        magic, opt, hflags = struct.unpack(">QQH", self.recv_exact(18))
        if magic != NBDMAGIC or opt != IHAVEOPT:
            raise ProtocolError("not a newstyle NBD server")
        if not hflags & FLAG_FIXED_NEWSTYLE:
            raise ProtocolError("server is not fixed newstyle")
        return hflags

    def handshake(self):
        """Greeting and client flags; then options may follow."""
        hflags = self.greeting()
        self.shaken = True
        self.send(struct.pack(">I", hflags & (FLAG_FIXED_NEWSTYLE |
                                              FLAG_NO_ZEROES)))
        return hflags

    def send_option(self, opt, data=b""):
        self.send(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)

    def read_option_reply(self, max_len=1 << 20):
        magic, opt, rtype, length = struct.unpack(">QIII",
                                                  self.recv_exact(20))
        if magic != REPLY_MAGIC:
            raise ProtocolError("bad option reply magic %#x" % magic)
        if length > max_len:
            raise ProtocolError("option reply of %d bytes" % length)
        return opt, rtype, self.recv_exact(length)

    @staticmethod
    def name_payload(name, infos=(INFO_BLOCK_SIZE,)):
        if isinstance(name, str):
            name = name.encode()
        return (struct.pack(">I", len(name)) + name +
                struct.pack(">H", len(infos)) +
                b"".join(struct.pack(">H", i) for i in infos))

    def info_or_go(self, opt, name=b""):
        """NBD_OPT_INFO or NBD_OPT_GO.  Returns None on success (export
        details stored in self), else the error reply type."""
        self.send_option(opt, self.name_payload(name))
        while True:
            _, rtype, data = self.read_option_reply()
            if rtype == REP_ACK:
                return None
            if rtype & REP_ERR:
                return rtype
            if rtype == REP_INFO and len(data) >= 2:
                info, = struct.unpack(">H", data[:2])
                if info == INFO_EXPORT and len(data) == 12:
                    self.size, self.eflags = struct.unpack(">QH", data[2:])
                elif info == INFO_BLOCK_SIZE and len(data) == 14:
                    self.block_size = struct.unpack(">III", data[2:])

    def go(self, name=b"", structured=False, meta=None):
        """Negotiate and enter transmission; raises on refusal."""
        if not self.shaken:
            self.handshake()
        if structured:
            self.send_option(OPT_STRUCTURED_REPLY)
            _, rtype, _ = self.read_option_reply()
            if rtype != REP_ACK:
                raise ProtocolError("structured replies refused")
            self.structured = True
            if meta:
                q = meta.encode()
                n = name.encode() if isinstance(name, str) else name
                self.send_option(OPT_SET_META_CONTEXT,
                                 struct.pack(">I", len(n)) + n +
                                 struct.pack(">II", 1, len(q)) + q)
                while True:
                    _, rtype, _ = self.read_option_reply()
                    if rtype == REP_ACK:
                        break
                    if rtype & REP_ERR:
                        raise ProtocolError("meta context refused")
        err = self.info_or_go(OPT_GO, name)
        if err is not None:
            raise ProtocolError("NBD_OPT_GO refused (%#x)" % err)
        if self.size is None:
            raise ProtocolError("no export size")

    def list_exports(self):
        self.send_option(OPT_LIST)
        names = []
        while True:
            _, rtype, data = self.read_option_reply()
            if rtype == REP_ACK:
                return names
            if rtype & REP_ERR:
                return None
            n, = struct.unpack(">I", data[:4])
            names.append(data[4:4 + n])

    # Transmission.

    def request(self, cmd, offset, length, flags=0, data=b"", cookie=None):
        if cookie is None:
            cookie = self.next_cookie
            self.next_cookie += 1
        self.pending[cookie] = (cmd, length)
        self.send(struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie,
                              offset, length) + data)
        return cookie

    def reply(self):
        """Read one whole reply: returns (cookie, error, data), data being
        the bytes read (reads) or the raw chunks (other structured)."""
        magic, = struct.unpack(">I", self.recv_exact(4))
        if magic == SIMPLE_REPLY_MAGIC:
            error, cookie = struct.unpack(">IQ", self.recv_exact(12))
            cmd, length = self.pending.pop(cookie, (None, 0))
            data = b""
            if error == 0 and cmd == CMD_READ:
                data = self.recv_exact(length)
            return cookie, error, data
        if magic != STRUCTURED_REPLY_MAGIC:
            raise ProtocolError("bad reply magic %#x" % magic)
        error = 0
        parts = []
        while True:
            flags, rtype, cookie, length = struct.unpack(
                ">HHQI", self.recv_exact(16))
            if length > NBDKIT_MAX_REQUEST + 64:
                raise ProtocolError("chunk of %d bytes" % length)
            payload = self.recv_exact(length)
            if rtype in (REPLY_TYPE_ERROR, REPLY_TYPE_ERROR_OFFSET):
                error = struct.unpack(">I", payload[:4])[0]
            else:
                parts.append((rtype, payload))
            if flags & REPLY_FLAG_DONE:
                break
            magic, = struct.unpack(">I", self.recv_exact(4))
            if magic != STRUCTURED_REPLY_MAGIC:
                raise ProtocolError("bad chunk magic %#x" % magic)
        cmd, length = self.pending.pop(cookie, (None, 0))
        if cmd == CMD_READ and not error:
            buf = bytearray(length)
            for rtype, payload in parts:
                off, = struct.unpack(">Q", payload[:8])
                if rtype == REPLY_TYPE_OFFSET_DATA:
                    rel = off - self.read_base[cookie]
                    buf[rel:rel + len(payload) - 8] = payload[8:]
            return cookie, error, bytes(buf)
        return cookie, error, parts

    def pread(self, offset, length, flags=0):
        """A read at depth 1; returns (error, data)."""
        cookie = self.request(CMD_READ, offset, length, flags)
        if self.structured:
            self.read_base[cookie] = offset
        c, error, data = self.reply()
        if c != cookie:
            raise ProtocolError("reply to cookie %d, expected %d" %
                                (c, cookie))
        return error, data

    def command(self, cmd, offset, length, flags=0, data=b""):
        """Any command at depth 1; returns its error."""
        cookie = self.request(cmd, offset, length, flags, data)
        c, error, _ = self.reply()
        if c != cookie:
            raise ProtocolError("reply to cookie %d, expected %d" %
                                (c, cookie))
        return error

    def disconnect(self):
        try:
            self.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC,
                                  0, 0, 0))
        except Closed:
            pass
        self.close()


def closed_by_server(sock, wait):
    """True if the server closes SOCK (EOF or reset) within WAIT seconds.
    Anything it sends meanwhile is discarded."""
    deadline = time.monotonic() + wait
    while True:
        left = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return False
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, BlockingIOError):
            continue


# --- server ---------------------------------------------------------------

# The public stack under test: nbdkit's limit filter caps connections in
# total (outermost, so it refuses before anything else runs), ratetier
# (when built) schedules and guards per client, sandbag serves the image.
# nbdkit's thread settings are left at their defaults, as in
# scripts/serve.sh: on nbdkit < 1.33.10 a client that hangs up with
# requests in flight can make a worker thread assert (SIGABRT, the whole
# server; upstream commit 9d82aa4f), and the sandbag plugin's default
# (serialize=auto) is what prevents it there, one thread per connection.
# See case_inflight.
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


# --- the well-behaved client ----------------------------------------------

def good_client(port, source, image, stop_file, deadline, max_seconds):
    """Read random ranges at depth 1 and check them until STOP_FILE
    exists, reconnecting (as the kernel does) if the server drops or
    refuses us.  Prints one JSON line of results."""
    with open(image, "rb") as f:
        data = f.read()
    size = len(data)
    rnd = random.Random(source)
    lat = []
    bad = 0
    reconnects = 0
    errors = []
    conn = None
    t_end = time.monotonic() + max_seconds
    while time.monotonic() < t_end:
        if os.path.exists(stop_file) and len(lat) >= 20:
            break
        if conn is None:
            try:
                conn = Conn.open(port, source, timeout=deadline)
                conn.go()
            except (OSError, Closed, ProtocolError) as e:
                reconnects += 1
                errors.append("connect: %s" % e)
                conn = None
                time.sleep(0.1)
                continue
        length = rnd.choice((4096, 4096, 65536, 131072))
        offset = rnd.randrange(0, size - length + 1) & ~511
        t0 = time.monotonic()
        try:
            err, got = conn.pread(offset, length)
        except (OSError, Closed, ProtocolError) as e:
            reconnects += 1
            errors.append("read: %s" % e)
            conn.close()
            conn = None
            continue
        lat.append(time.monotonic() - t0)
        if err or got != data[offset:offset + length]:
            bad += 1
            errors.append("read %d+%d: error %d or wrong data" %
                          (offset, length, err))
        time.sleep(0.005)
    if conn:
        conn.disconnect()
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else -1
    print(json.dumps({"reads": len(lat), "bad": bad,
                      "reconnects": reconnects, "errors": errors[:10],
                      "p50_ms": round(pct(0.50), 2),
                      "p99_ms": round(pct(0.99), 2),
                      "max_ms": round(lat[-1] * 1000, 2) if lat else -1}))


class GoodClient:
    def __init__(self, ctx, source="127.0.0.2"):
        self.stop_file = os.path.join(ctx.tmp, "stop-good-" + source)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "good",
             "--port", str(ctx.server.port), "--source", source,
             "--image", ctx.image, "--stop-file", self.stop_file,
             "--deadline", str(ctx.good_deadline),
             "--max-seconds", str(ctx.good_deadline * 3)],
            stdout=subprocess.PIPE, text=True)

    def finish(self):
        with open(self.stop_file, "w"):
            pass
        out, _ = self.proc.communicate(timeout=600)
        return json.loads(out.strip().splitlines()[-1])


# --- cases ----------------------------------------------------------------

class Context:
    def __init__(self, tmp):
        self.tmp = tmp
        self.wrapped = os.environ.get("SANDBAG_WRAP", "")
        slow = {"": 1, "asan": 3, "valgrind": 10}.get(self.wrapped, 3)
        self.slow = slow
        self.good_deadline = 20.0 * slow
        self.shutdown_deadline = 2.0 * slow
        self.image = os.path.join(tmp, "image")
        self.size = 16 * 1024 * 1024
        with open(self.image, "wb") as f:
            f.write(os.urandom(self.size))
        self.held_off = 0
        self.attacks = 0
        self.failures = []
        self.server = None
        self.settle = True          # threads must fall back to baseline
        self.max_handshakes = 256   # ratetier's default
        self.keep = []              # connections left open until the end

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            print("FAILED: " + what, flush=True)

    def attacker(self, n):
        """Source address of attacker number N (127.0.1.1 up)."""
        return "127.0.%d.%d" % (1 + n // 250, 1 + n % 250)

    def hostile(self, source="127.0.0.3", timeout=10.0):
        """A raw connection for an attack; counted."""
        self.attacks += 1
        try:
            return Conn.open(self.server.port, source, timeout=timeout)
        except OSError:
            self.held_off += 1
            return None

    def usable(self, c, what):
        """After abuse, C must still read correct data."""
        with open(self.image, "rb") as f:
            f.seek(4096)
            want = f.read(4096)
        err, got = c.pread(4096, 4096)
        self.check(err == 0 and got == want,
                   "%s: connection unusable afterwards" % what)


def case_garbage(ctx):
    """Random bytes instead of a handshake; a valid handshake and then
    garbage, during options and during transmission; truncated
    requests."""
    rnd = random.Random(1)
    for i in range(60):
        c = ctx.hostile()
        if not c:
            continue
        try:
            if i % 3 == 0:                  # garbage, no handshake
                c.send(os.urandom(rnd.randrange(64, 4096)))
            elif i % 3 == 1:                # handshake, garbage options
                c.handshake()
                c.send(os.urandom(rnd.randrange(64, 4096)))
            else:                           # transmission, garbage
                c.handshake()
                c.go()
                c.send(os.urandom(rnd.randrange(64, 4096)))
            if closed_by_server(c.sock, 10 * ctx.slow):
                ctx.held_off += 1
            else:
                ctx.check(False, "garbage %d: server kept the connection"
                          % i)
        except Closed:
            ctx.held_off += 1
        finally:
            c.close()
    # Truncated requests: part of a header, then EOF or a stall.
    for i in range(30):
        c = ctx.hostile()
        if not c:
            continue
        try:
            c.handshake()
            c.go()
            hdr = struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, 1, 0,
                              4096)
            c.send(hdr[:rnd.randrange(1, len(hdr))])
            if i % 2:
                c.sock.shutdown(socket.SHUT_WR)
                if closed_by_server(c.sock, 10 * ctx.slow):
                    ctx.held_off += 1
                else:
                    ctx.check(False, "truncated request %d then EOF: "
                              "server kept the connection" % i)
        except Closed:
            ctx.held_off += 1
        finally:
            c.close(reset=bool(i % 4 == 0))
    # A write whose payload never comes.
    c = ctx.hostile()
    if c:
        c.handshake()
        c.go()
        c.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, 1, 0,
                           1 << 20) + b"x" * 1000)
        c.close()


def case_requests(ctx):
    """Invalid command types and flags, reads past the end, zero-length
    and over-maximum requests, writes/trims/zeroes: each gets an error
    reply and the connection stays usable.  Then NBD_CMD_CACHE and
    block-status floods."""
    c = ctx.hostile()
    c.handshake()
    c.go(structured=False)
    size = c.size
    ctx.check(size == ctx.size, "export size %s" % size)
    ctx.check(bool(c.eflags & FLAG_READ_ONLY), "export not read-only")
    maximum = c.block_size[2] if c.block_size else 32 << 20
    probes = [
        ("unknown command 99", lambda: c.command(99, 0, 4096)),
        ("unknown command 0xffff", lambda: c.command(0xFFFF, 0, 4096)),
        ("read with unknown flag", lambda: c.pread(0, 4096, 0x8000)[0]),
        ("read with FUA+NO_HOLE+DF junk", lambda: c.pread(0, 4096, 0x7ff)[0]),
        ("read past the end", lambda: c.pread(size - 512, 4096)[0]),
        ("read far past the end", lambda: c.pread(1 << 62, 4096)[0]),
        ("read offset overflow", lambda: c.pread((1 << 64) - 512, 4096)[0]),
        ("zero-length read", None),
        ("read over the advertised maximum",
         lambda: c.pread(0, min(maximum + 4096, NBDKIT_MAX_REQUEST))[0]),
        ("read over nbdkit's maximum",
         lambda: c.pread(0, NBDKIT_MAX_REQUEST + 1)[0]),
        ("write", lambda: c.command(CMD_WRITE, 0, 4096, 0, b"w" * 4096)),
        ("write with FUA", lambda: c.command(CMD_WRITE, 0, 512, CMD_FLAG_FUA,
                                             b"w" * 512)),
        ("trim", lambda: c.command(CMD_TRIM, 0, 1 << 20)),
        ("write zeroes", lambda: c.command(CMD_WRITE_ZEROES, 0, 1 << 20)),
        ("write zeroes NO_HOLE", lambda: c.command(CMD_WRITE_ZEROES, 0, 4096,
                                                   CMD_FLAG_NO_HOLE)),
        ("block status without a context",
         lambda: c.command(CMD_BLOCK_STATUS, 0, 4096)),
        ("zero-length cache", lambda: c.command(CMD_CACHE, 0, 0)),
    ]
    for what, probe in probes:
        if probe is None:               # zero-length read: any answer
            err, data = c.pread(0, 0)
            ctx.check(data == b"", what + ": data returned")
            continue
        err = probe()
        print("probe %s: error %d" % (what, err), flush=True)
        ctx.check(err != 0, what + ": no error")
        ctx.usable(c, what)
    # The image is unchanged after the refused writes.
    with open(ctx.image, "rb") as f:
        want = f.read(4096)
    err, got = c.pread(0, 4096)
    ctx.check(err == 0 and got == want, "data changed by refused writes")
    # A write over nbdkit's maximum makes it give up on the connection
    # (it cannot skip the payload): the server must close it, not hang.
    c.request(CMD_WRITE, 0, 3 * NBDKIT_MAX_REQUEST)
    ctx.check(closed_by_server(c.sock, 10 * ctx.slow),
              "oversized write: connection not closed")
    ctx.held_off += 1
    c.close()

    # Floods: many cache and block-status requests pipelined over the
    # whole image, from a few connections at once.
    def flood(n):
        f = ctx.hostile("127.0.0.%d" % (10 + n))
        if not f:
            return
        f.handshake()
        f.go(structured=True, meta="base:allocation")
        for rnd in range(20):
            cookies = []
            for i in range(64):
                off = (i * 256 * 1024) % size
                cmd = CMD_CACHE if (i + n) % 2 else CMD_BLOCK_STATUS
                cookies.append(f.request(cmd, off, min(size - off,
                                                       8 << 20)))
            for _ in cookies:
                f.reply()
        f.disconnect()
    threads = [threading.Thread(target=flood, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def case_options(ctx):
    """Option floods (LIST, INFO, GO repeated; meta contexts; unknown
    options) and long or hostile export names: every option gets an
    answer until nbdkit's cap on options per connection (32 in 1.32)
    closes the connection, and hostile names are refused."""
    names = [b"x" * 4096, b"../../../etc/passwd", b"/etc/passwd",
             b".", b"..", b".hidden", b"a/b", b"\x00abc", b"\n\r\t",
             b"\xff\xfe\xc0\x80", b"%s%n%s%n", "\u00e9".encode() * 100,
             b"\x1b[2J", bytes(range(1, 256))]
    sent = 0
    conns = 0
    while sent < 1200:
        c = ctx.hostile("127.0.0.%d" % (20 + conns % 4))
        conns += 1
        if not c:
            continue
        try:
            c.handshake()
            i = 0
            while True:
                which = (sent + i) % 5
                i += 1
                sent += 1
                if which == 0:
                    c.list_exports()
                elif which == 1:
                    name = names[sent % len(names)]
                    err = c.info_or_go(OPT_INFO, name)
                    ctx.check(err is not None,
                              "INFO accepted hostile name %r" % name[:40])
                elif which == 2:
                    c.send_option(OPT_LIST_META_CONTEXT,
                                  struct.pack(">II", 0, 0))
                    while True:
                        _, rtype, _ = c.read_option_reply()
                        if rtype == REP_ACK or rtype & REP_ERR:
                            break
                elif which == 3:
                    c.send_option(1000 + sent % 1000, os.urandom(sent % 64))
                    _, rtype, _ = c.read_option_reply()
                    ctx.check(rtype & REP_ERR, "unknown option accepted")
                else:
                    c.info_or_go(OPT_INFO, b"")
        except Closed:
            ctx.held_off += 1           # nbdkit's option cap
        finally:
            c.close()
    # GO with a name length over NBD_MAX_STRING (4096) or announcing
    # 1 GiB: refused or dropped, never allocated.
    for length in (4097, 1 << 30):
        c = ctx.hostile("127.0.0.24")
        c.handshake()
        try:
            c.send_option(OPT_GO, struct.pack(">I", length) + b"x" * 4096)
            _, rtype, _ = c.read_option_reply()
            ctx.check(rtype & REP_ERR, "GO with a %d-byte name accepted"
                      % length)
        except Closed:
            ctx.held_off += 1
        c.close()
    # GO repeated: a fresh connection each time, as fast as we can.
    for i in range(100):
        c = ctx.hostile("127.0.0.30")
        if not c:
            continue
        try:
            c.go()
            c.disconnect()
        except (Closed, ProtocolError):
            ctx.held_off += 1
            c.close()
    # An option payload announced as 4 GiB - 1 and never sent.
    c = ctx.hostile("127.0.0.31")
    c.handshake()
    c.send(struct.pack(">QII", IHAVEOPT, OPT_GO, 0xFFFFFFFF))
    if closed_by_server(c.sock, 10 * ctx.slow):
        ctx.held_off += 1
    else:
        ctx.check(False, "4 GiB option: connection kept")
    c.close()


def case_inflight(ctx):
    """A client that disconnects with many requests in flight, again
    and again (both orderly close and reset)."""
    for i in range(40):
        c = ctx.hostile("127.0.0.%d" % (40 + i % 8))
        if not c:
            continue
        try:
            c.handshake()
            c.go()
            for j in range(64):
                c.request(CMD_READ, (j * (1 << 20)) % (ctx.size - (1 << 20)),
                          1 << 20)
            if i % 3 == 0:
                c.reply()               # take one, then go
        except Closed:
            ctx.held_off += 1
        c.close(reset=bool(i % 2))


def hold(ctx, sources, stage):
    """Open one connection from each of SOURCES and leave it stalled at
    STAGE: 0 = says nothing, 1 = reads the greeting only, 2 = sends half
    the client flags, 3 = half an option.  Returns the connections the
    server did not refuse at once."""
    held = []
    for src in sources:
        c = ctx.hostile(src)
        if not c:
            continue
        try:
            if stage >= 1:
                c.greeting()
            if stage == 2:
                c.send(b"\0\0")
            if stage == 3:
                c.send(struct.pack(">I", 3))
                c.send(struct.pack(">QI", IHAVEOPT, OPT_GO)[:10])
            held.append(c)
        except Closed:
            ctx.held_off += 1       # refused before or in the greeting
            c.close()
    # Refused in .preconnect: closed without a greeting.
    still = []
    deadline = time.monotonic() + 0.5 * ctx.slow
    for c in held:
        if closed_by_server(c.sock, max(0.0, deadline - time.monotonic())):
            ctx.held_off += 1
            c.close()
        else:
            still.append(c)
    return still


def count_closed(ctx, conns, wait):
    """How many of CONNS the server closes within WAIT seconds (all
    watched together); closes them all afterwards."""
    deadline = time.monotonic() + wait
    open_ = list(conns)
    closed = 0
    while open_ and time.monotonic() < deadline:
        r, _, _ = select.select([c.sock for c in open_], [], [],
                                max(0, deadline - time.monotonic()))
        for c in [c for c in open_ if c.sock in r]:
            try:
                if c.sock.recv(65536):
                    continue
            except (ConnectionResetError, BlockingIOError, socket.timeout):
                pass
            closed += 1
            open_.remove(c)
    for c in conns:
        c.close()
    return closed


def late_client(ctx, source, deadline):
    """A new well-behaved connection must get in (retrying, as the
    kernel does) and read correct data within DEADLINE seconds."""
    with open(ctx.image, "rb") as f:
        want = f.read(65536)
    t_end = time.monotonic() + deadline
    tries = 0
    while time.monotonic() < t_end:
        tries += 1
        try:
            c = Conn.open(ctx.server.port, source, timeout=deadline)
            c.go()
            err, got = c.pread(0, 65536)
            c.disconnect()
            ctx.check(err == 0 and got == want, "late client: wrong data")
            return tries
        except (OSError, Closed, ProtocolError):
            time.sleep(0.2)
    ctx.check(False, "late client from %s never got in" % source)
    return tries


def case_slowloris(ctx):
    """Hundreds of connections that stop mid-handshake, from one address
    (the per-client cap refuses most before the handshake) and from many
    (nbdkit's limit refuses the excess, the handshake timeout frees the
    rest); a new client still gets in, and every stalled connection is
    closed by the server."""
    timeout = 3 * ctx.slow
    one = hold(ctx, ["127.0.0.50"] * 200, 0)
    ctx.check(len(one) <= 4, "cap: %d connections from one address held"
              % len(one))
    one += hold(ctx, ["127.0.0.51"] * 4, 2)
    late_client(ctx, "127.0.0.60", 10 * ctx.slow)
    closed = count_closed(ctx, one, timeout + 5 * ctx.slow)
    ctx.held_off += closed
    ctx.check(closed == len(one), "handshake timeout closed %d of %d"
              % (closed, len(one)))
    many = hold(ctx, [ctx.attacker(i) for i in range(300)], 1)
    many += hold(ctx, [ctx.attacker(300 + i) for i in range(30)], 3)
    late_client(ctx, "127.0.0.61", timeout + 15 * ctx.slow)
    closed = count_closed(ctx, many, timeout + 5 * ctx.slow)
    ctx.held_off += closed
    ctx.check(closed == len(many), "handshake timeout closed %d of %d"
              % (closed, len(many)))


def case_clients(ctx):
    """Many clients from distinct addresses: with ratetier-max-clients
    small, connected clients fill the table and newcomers are refused;
    then a churn of short-lived clients makes the table evict, while the
    good client (connected all along) keeps its place."""
    held = []
    for i in range(40):
        c = ctx.hostile(ctx.attacker(1000 + i))
        if not c:
            continue
        try:
            c.go()
            held.append(c)
        except (Closed, ProtocolError):
            ctx.held_off += 1       # table full of connected clients
            c.close()
    ctx.check(len(held) < 40, "a full client table refused nobody")
    for c in held:
        c.disconnect()
    errors = []

    def churn(base):
        for i in range(30):
            c = ctx.hostile(ctx.attacker(base + i))
            if not c:
                continue
            try:
                c.go()
                err, _ = c.pread(4096 * i, 65536)
                if err:
                    errors.append(err)
                c.disconnect()
            except (Closed, ProtocolError):
                ctx.held_off += 1
                c.close()
    threads = [threading.Thread(target=churn, args=(2000 + 100 * k,))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx.check(not errors, "churn reads failed: %s" % errors[:5])
    status = os.path.join(ctx.tmp, "status.prom")
    deadline = time.monotonic() + 10 * ctx.slow
    evicted = 0
    while time.monotonic() < deadline:
        try:
            m = re.search(r'ratetier_clients_forgotten_total'
                          r'\{reason="evicted"\} (\d+)', open(status).read())
            evicted = int(m.group(1)) if m else 0
        except OSError:
            pass
        if evicted > 0:
            break
        time.sleep(0.5)
    print("evicted clients: %d" % evicted, flush=True)
    ctx.check(evicted > 0, "no client evicted from a full table")


def case_guard_handshake(ctx):
    """ratetier-handshake-timeout=2: silent, half-greeted and option-only
    connections are closed after it; one of the same client that reached
    transmission is not; the trips of one client are logged once."""
    stalled = hold(ctx, ["127.0.0.70"] * 3, 0)
    stalled += hold(ctx, ["127.0.0.70"] * 3, 2)
    info = ctx.hostile("127.0.0.70")
    info.handshake()
    ctx.check(info.info_or_go(OPT_INFO, b"") is None, "INFO refused")
    stalled.append(info)            # INFO only: still in the handshake
    # From the same address: the guard must close the stalled
    # connections of a client, not the client's established one.
    done = ctx.hostile("127.0.0.70")
    done.go()
    t0 = time.monotonic()
    closed = count_closed(ctx, stalled, 2 + 6 * ctx.slow)
    took = time.monotonic() - t0
    ctx.held_off += closed
    print("handshake timeout closed %d of %d in %.1f s"
          % (closed, len(stalled), took), flush=True)
    ctx.check(closed == len(stalled), "closed %d of %d stalled"
              % (closed, len(stalled)))
    ctx.check(took >= 1.5, "closed before the timeout (%.1f s)" % took)
    ctx.usable(done, "connection in transmission")
    done.disconnect()
    lines = [l for l in ctx.server.logtext().splitlines()
             if "handshake not finished" in l]
    print("log lines: %d" % len(lines), flush=True)
    ctx.check(len(lines) == 1 and "127.0.0.70" in lines[0],
              "expected one logged trip for 127.0.0.70, got %d" % len(lines))


def case_guard_idle(ctx):
    """ratetier-idle-timeout=2: an established connection that sends no
    request is closed after it; one that keeps reading is not."""
    idle = ctx.hostile("127.0.0.80")
    idle.go()
    busy = ctx.hostile("127.0.0.81")
    busy.go()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4 * ctx.slow:
        ctx.usable(busy, "busy connection")
        time.sleep(0.3)
    ctx.check(closed_by_server(idle.sock, 4 * ctx.slow),
              "idle connection not closed")
    ctx.held_off += 1
    idle.close()
    ctx.usable(busy, "busy connection")
    busy.disconnect()


def case_guard_cap(ctx):
    """ratetier-max-connections=3: the fourth connection of a client is
    refused before the handshake (no greeting), a kernel-like client
    with three connections works, other addresses are not affected, and
    a closed connection frees its place."""
    three = []
    for i in range(3):
        c = ctx.hostile("127.0.0.90")
        c.go()
        three.append(c)
    for c in three:
        ctx.usable(c, "one of three connections")
    for i in range(5):
        c = ctx.hostile("127.0.0.90")
        try:
            c.greeting()
            ctx.check(False, "fourth connection got a greeting")
        except Closed:
            ctx.held_off += 1
        c.close()
    other = ctx.hostile("127.0.0.91")
    other.go()
    ctx.usable(other, "another address")
    other.disconnect()
    three.pop().disconnect()
    deadline = time.monotonic() + 5 * ctx.slow
    while True:
        c = ctx.hostile("127.0.0.90")
        try:
            c.go()
            break
        except Closed:
            c.close()
            ctx.check(time.monotonic() < deadline,
                      "a closed connection did not free its place")
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)
    ctx.usable(c, "replacement connection")
    three.append(c)
    for c in three:
        c.disconnect()
    lines = [l for l in ctx.server.logtext().splitlines()
             if "ratetier-max-connections" in l]
    ctx.check(len(lines) == 1, "cap trips logged %d times" % len(lines))


def case_guard_sigterm(ctx):
    """Stalled connections in every state (silent, mid-handshake,
    established and idle, mid-request) must not keep the server from
    ending on SIGTERM: run_case checks the shutdown deadline."""
    ctx.keep = []
    ctx.keep += hold(ctx, [ctx.attacker(i) for i in range(10)], 0)
    ctx.keep += hold(ctx, [ctx.attacker(10 + i) for i in range(10)], 2)
    for i in range(10):
        c = ctx.hostile(ctx.attacker(20 + i))
        c.go()
        if i % 2:
            c.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, 1,
                               0, 4096)[:20])
        ctx.keep.append(c)
    ctx.settle = False


CASES = {
    "garbage": (case_garbage, []),
    "requests": (case_requests, []),
    "options": (case_options, []),
    "inflight": (case_inflight, []),
    "slowloris": (case_slowloris, ["ratetier-handshake-timeout=3",
                                   "ratetier-max-connections=4",
                                   "ratetier-max-handshakes=64"]),
    "clients": (case_clients, ["ratetier-max-clients=16",
                               "ratetier-status-interval=1s",
                               "ratetier-status=STATUS"]),
    "guard-handshake": (case_guard_handshake,
                        ["ratetier-handshake-timeout=2"]),
    "guard-idle": (case_guard_idle, ["ratetier-idle-timeout=2"]),
    "guard-cap": (case_guard_cap, ["ratetier-max-connections=3"]),
    "guard-sigterm": (case_guard_sigterm, []),
}


def run_case(name, tmp):
    ctx = Context(tmp)
    debug = ("-D", "sandbag.x=0") if os.environ.get("HOSTILE_DEBUG") else ()
    fn, params = CASES[name]
    params = [p.replace("STATUS", os.path.join(tmp, "status.prom"))
              for p in params]
    for p in params:
        if p.startswith("ratetier-max-handshakes="):
            ctx.max_handshakes = int(p.split("=")[1])
    ctx.server = Server(tmp, stack(ctx.image, params), debug)
    base_threads = ctx.server.baseline[0]
    good = GoodClient(ctx)
    time.sleep(0.5)                     # the good client is reading
    try:
        fn(ctx)
    except Exception as e:              # noqa: the case failed, say how
        import traceback
        traceback.print_exc()
        ctx.check(False, "attack raised %r" % e)
    result = good.finish()
    print("good client: %s" % json.dumps(result), flush=True)
    ctx.check(result["bad"] == 0, "good client read wrong data")
    ctx.check(result["reads"] >= 20, "good client did too few reads")
    ctx.check(0 <= result["max_ms"] <= ctx.good_deadline * 1000,
              "good client read took %s ms" % result["max_ms"])
    ctx.check(ctx.server.alive(), "server died")

    # Bounds: threads at most one per connection in the handshake plus
    # the workers of each connection nbdkit lets in (limit), RSS within
    # a fixed allowance over the start, scaled for sanitizers.
    # Threads: one per connection nbdkit lets in (limit) with its
    # workers, one per connection in the handshake (ratetier's
    # max-handshakes), and a few being created or ending.
    workers = workers_per_connection()
    thread_bound = (base_threads + LIMIT * (workers + 1) +
                    ctx.max_handshakes + 16 * ctx.slow)
    rss_bound = ctx.server.baseline[1] + 512 * 1024 * ctx.slow
    ctx.check(ctx.server.peak_threads <= thread_bound,
              "peak threads %d > %d" % (ctx.server.peak_threads,
                                        thread_bound))
    ctx.check(ctx.server.peak_rss <= rss_bound,
              "peak RSS %d KiB > %d KiB" % (ctx.server.peak_rss, rss_bound))
    if ctx.settle:
        settled = ctx.server.wait_threads(base_threads, 10 * ctx.slow)
        ctx.check(settled <= base_threads,
                  "threads did not return to %d after the clients left (%d)"
                  % (base_threads, settled))

    shutdown = ctx.server.stop(ctx.shutdown_deadline)
    ctx.check(shutdown is not None, "server ignored SIGTERM for %g s"
              % ctx.shutdown_deadline)
    print("HOSTILE case=%s held_off=%d attacks=%d peak_threads=%d "
          "peak_rss_kib=%d good_reads=%d good_p50_ms=%s good_p99_ms=%s "
          "good_max_ms=%s shutdown_ms=%s wrap=%s"
          % (name, ctx.held_off, ctx.attacks, ctx.server.peak_threads,
             ctx.server.peak_rss, result["reads"], result["p50_ms"],
             result["p99_ms"], result["max_ms"],
             "%.0f" % (shutdown * 1000) if shutdown is not None else "none",
             ctx.wrapped or "none"), flush=True)
    if ctx.failures:
        print("nbdkit log (tail):\n" + ctx.server.logtext())
        print("%s: %d failures:\n  %s" % (name, len(ctx.failures),
                                         "\n  ".join(ctx.failures)))
        return 1
    return 0


def summary(paths):
    """Print a table of the HOSTILE lines found in PATHS."""
    rows = {}
    for p in paths:
        with open(p, errors="replace") as f:
            for line in f:
                i = line.find("HOSTILE ")
                if i < 0:
                    continue
                kv = dict(w.split("=", 1) for w in line[i + 8:].split()
                          if "=" in w)
                rows[(kv.get("wrap", "none"), kv["case"])] = kv
    cols = ["case", "wrap", "attacks", "held_off", "peak_threads",
            "peak_rss_kib", "good_reads", "good_p50_ms", "good_p99_ms",
            "good_max_ms", "shutdown_ms"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for key in sorted(rows):
        print("| " + " | ".join(rows[key].get(c, "") for c in cols) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("case")
    p.add_argument("name", choices=sorted(CASES))
    p.add_argument("--tmp", required=True)
    p = sub.add_parser("good")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--deadline", type=float, required=True)
    p.add_argument("--max-seconds", type=float, required=True)
    p = sub.add_parser("summary")
    p.add_argument("logs", nargs="+")
    a = ap.parse_args()
    if a.cmd == "case":
        return run_case(a.name, a.tmp)
    if a.cmd == "good":
        good_client(a.port, a.source, a.image, a.stop_file, a.deadline,
                    a.max_seconds)
        return 0
    summary(a.logs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
