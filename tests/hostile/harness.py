"""How a hostile case runs, and what every case must show.

Each case (tests/hostile/CASE.py, run by tests/test-hostile-CASE.sh)
defines attack(ctx) and calls run_case, which:

  1. starts the public stack (server.py) over a 16 MiB random image;
  2. starts the well-behaved client (good_client.py) from 127.0.0.2 and
     waits until it has read correct data once;
  3. runs the attack from other 127.0.0.0/8 addresses, timing it;
  4. stops the good client (it does one last read after the attack) and
     judges what it saw, then the server's bounds and its shutdown.

While the attack's pressure is in place (connections stalled, a flood
running), the case calls ctx.during("what"): it waits until the good
client has sent a read after that moment and had it answered, so the
good client provably reads during the attack, not merely before or
after it, however fast or slow the machine is.  Every case does so at
least once.

The case passes only if:
  - every read of the good client returned the right data, within
    GOOD_DEADLINE, on the one connection it opened before the attack
    (no error, no lost connection);
  - the good client read throughout the attack: at every ctx.during
    point, with a read ended before the attack began and one sent
    after it ended, and never more than GOOD_DEADLINE between two of
    its reads across it (liveness, not speed: the figures are
    reported, never judged against each other);
  - the server's peak threads and RSS stayed under the case's bound,
    and its threads fall back to the baseline once every client has
    gone (nothing leaks per connection);
  - what the case itself checks (ctx.check);
  - SIGTERM ends the server within SHUTDOWN_DEADLINE.
Each case prints one parseable line (summary.py makes a table of them):
  HOSTILE case=NAME held_off=N attacks=N attack_s=X peak_threads=N
          peak_rss_kib=N good_reads=N good_during=N good_gap_ms=X
          good_p50_ms=X good_p99_ms=X good_max_ms=X shutdown_ms=X wrap=W
where held_off counts hostile connections the server refused or closed
on the attacker, attacks counts hostile connections opened, good_during
counts the good client's reads sent and answered inside the attack, and
good_gap_ms is the longest time between two of its reads ending, across
the attack.
"""

import argparse
import os
import select
import socket
import struct
import sys
import time
import traceback

from good_client import GoodClient
from rawnbd import Closed, Conn, IHAVEOPT, OPT_GO, closed_by_server
from server import LIMIT, Server, stack, workers_per_connection

# Deadlines scale with how much slower the server runs under the
# sanitizer and valgrind stages.
SLOWDOWN = {"": 1, "asan": 3, "valgrind": 10}
GOOD_DEADLINE = 20.0            # seconds, per read of the good client
SHUTDOWN_DEADLINE = 2.0         # seconds from SIGTERM to exit


class Context:
    """What an attack works with: the server, the image, the checks, and
    the counts that end up in the HOSTILE line."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.wrapped = os.environ.get("SANDBAG_WRAP", "")
        self.slow = SLOWDOWN.get(self.wrapped, 3)
        self.good_deadline = GOOD_DEADLINE * self.slow
        self.shutdown_deadline = SHUTDOWN_DEADLINE * self.slow
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
        self.good = None            # the good client (GoodClient)
        self.during_points = []     # what ctx.during was called for

    def during(self, what):
        """The attack's pressure (WHAT) is in place: wait until the good
        client has sent a read after now and had it answered."""
        t = time.monotonic()
        ok = self.good.read_after(t)
        self.check(ok, "good client did not read while %s" % what)
        if ok:
            print("good client read while %s" % what, flush=True)
        self.during_points.append(what)

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

    def hold(self, sources, stage):
        """Open one connection from each of SOURCES and leave it stalled
        at STAGE: 0 = says nothing, 1 = reads the greeting only, 2 = sends
        half the client flags, 3 = half an option.  Returns the
        connections the server did not refuse at once."""
        held = []
        for src in sources:
            c = self.hostile(src)
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
                self.held_off += 1  # refused before or in the greeting
                c.close()
        # Refused in .preconnect: closed without a greeting.
        still = []
        deadline = time.monotonic() + 0.5 * self.slow
        for c in held:
            if closed_by_server(c.sock,
                                max(0.0, deadline - time.monotonic())):
                self.held_off += 1
                c.close()
            else:
                still.append(c)
        return still

    def count_closed(self, conns, wait):
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
                except (ConnectionResetError, BlockingIOError,
                        socket.timeout):
                    pass
                closed += 1
                open_.remove(c)
        for c in conns:
            c.close()
        return closed


def judge_good(ctx, good, start, end):
    """Check what the GOOD client saw against the attack, which ran from
    START to END (monotonic seconds); return its figures."""
    reads = good.reads
    print("good client: %d good reads, %d failures, %d lost connections%s"
          % (len(reads), len(good.failures), good.lost,
             "".join("\n  " + f for f in good.failures[:10])), flush=True)
    ctx.check(good.done, "good client did not finish")
    ctx.check(not good.failures, "good client: %d reads or connections "
              "failed" % len(good.failures))
    ctx.check(ctx.during_points != [],
              "the case never checked the good client during the attack")
    lat = sorted(t1 - t0 for t0, t1 in reads)
    ctx.check(bool(lat) and lat[-1] <= ctx.good_deadline,
              "good client: a read took %.1f s (deadline %g s)"
              % (lat[-1] if lat else -1, ctx.good_deadline))

    # Throughout the attack: reads on both sides of it, and never a long
    # wait between two of them across it.
    ends = sorted(t1 for _, t1 in reads)
    before = [t for t in ends if t <= start]
    after = [t for t in ends if t >= end]
    during = sum(1 for t0, t1 in reads if t0 >= start and t1 <= end)
    ctx.check(bool(before), "good client: no read before the attack")
    ctx.check(any(t0 >= end for t0, _ in reads),
              "good client: no read after the attack")
    lo = before[-1] if before else start
    hi = after[0] if after else end
    across = [lo] + [t for t in ends if lo < t < hi] + [hi]
    gap = max(b - a for a, b in zip(across, across[1:]))
    ctx.check(gap <= ctx.good_deadline,
              "good client: %.1f s without a read during the attack "
              "(deadline %g s)" % (gap, ctx.good_deadline))

    def pct(p):
        return round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1000, 2) \
            if lat else -1
    return {"good_reads": len(reads), "good_during": during,
            "good_gap_ms": round(gap * 1000, 1),
            "good_p50_ms": pct(0.50), "good_p99_ms": pct(0.99),
            "good_max_ms": round(lat[-1] * 1000, 2) if lat else -1}


def check_bounds(ctx, base_threads):
    """Threads and RSS under the case's bound; threads back to the
    baseline once the clients have gone."""
    # Threads: one per connection nbdkit lets in (limit) with its
    # workers, one per connection in the handshake (ratetier's
    # max-handshakes), and a few being created or ending.  RSS: a fixed
    # allowance over the start, scaled for sanitizers.
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


def run_case(name, attack, params=()):
    """Run the case NAME: ATTACK(ctx) against the stack with the extra
    nbdkit PARAMS (STATUS in a parameter is replaced by the path of a
    status file in the scratch directory).  Exits with 0 if it passed."""
    ap = argparse.ArgumentParser(description="hostile case " + name)
    ap.add_argument("--tmp", required=True, help="scratch directory")
    tmp = ap.parse_args().tmp
    ctx = Context(tmp)
    debug = ("-D", "sandbag.x=0") if os.environ.get("HOSTILE_DEBUG") else ()
    params = [p.replace("STATUS", os.path.join(tmp, "status.prom"))
              for p in params]
    for p in params:
        if p.startswith("ratetier-max-handshakes="):
            ctx.max_handshakes = int(p.split("=")[1])
    ctx.server = Server(tmp, stack(ctx.image, params), debug)
    base_threads = ctx.server.baseline[0]

    ctx.good = GoodClient(ctx.server.port, ctx.image, ctx.good_deadline)
    ready = ctx.good.read_after(0)
    ctx.check(ready, "good client never read before the attack")
    start = time.monotonic()
    if ready:
        try:
            attack(ctx)
        except Exception as e:          # noqa: the case failed, say how
            traceback.print_exc()
            ctx.check(False, "attack raised %r" % e)
    end = time.monotonic()
    ctx.good.finish()
    figures = judge_good(ctx, ctx.good, start, end)
    ctx.check(ctx.server.alive(), "server died")
    check_bounds(ctx, base_threads)

    shutdown = ctx.server.stop(ctx.shutdown_deadline)
    ctx.check(shutdown is not None, "server ignored SIGTERM for %g s"
              % ctx.shutdown_deadline)
    line = {"case": name, "held_off": ctx.held_off, "attacks": ctx.attacks,
            "attack_s": "%.2f" % (end - start),
            "peak_threads": ctx.server.peak_threads,
            "peak_rss_kib": ctx.server.peak_rss}
    line.update(figures)
    line["shutdown_ms"] = ("%.0f" % (shutdown * 1000)
                           if shutdown is not None else "none")
    line["wrap"] = ctx.wrapped or "none"
    print("HOSTILE " + " ".join("%s=%s" % kv for kv in line.items()),
          flush=True)
    if ctx.failures:
        print("nbdkit log (tail):\n" + ctx.server.logtext())
        print("%s: %d failures:\n  %s" % (name, len(ctx.failures),
                                         "\n  ".join(ctx.failures)))
        sys.exit(1)
    sys.exit(0)
