#!/usr/bin/python3
"""Hostile case guard-handshake: ratetier-handshake-timeout=2.

Silent, half-greeted and INFO-only connections of one client are closed
after the timeout (not before 1.5 s), while a connection of the same
client that reached transmission is not; the trips of one client are
logged once.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import time

from harness import run_case
from rawnbd import OPT_INFO

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = ["ratetier-handshake-timeout=2"]


def attack(ctx):
    stalled = ctx.hold(["127.0.0.70"] * 3, 0)
    stalled += ctx.hold(["127.0.0.70"] * 3, 2)
    info = ctx.hostile("127.0.0.70")
    info.handshake()
    ctx.check(info.info_or_go(OPT_INFO, b"") is None, "INFO refused")
    stalled.append(info)            # INFO only: still in the handshake
    # From the same address: the guard must close the stalled
    # connections of a client, not the client's established one.
    done = ctx.hostile("127.0.0.70")
    done.go()
    t0 = time.monotonic()
    ctx.during("%d connections of one client are stalled" % len(stalled))
    closed = ctx.count_closed(stalled, 2 + 6 * ctx.slow)
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


if __name__ == "__main__":
    run_case("guard-handshake", attack, PARAMS)
