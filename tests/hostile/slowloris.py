#!/usr/bin/python3
"""Hostile case slowloris: hundreds of connections that stall.

Connections that stop mid-handshake, first from one address (ratetier's
per-client cap of 4 refuses the rest before the handshake) and then
from 330 addresses (nbdkit's limit refuses the excess, ratetier's
handshake timeout of 3 s frees the rest).  After each wave a new client
must still get in, and every stalled connection must be closed by the
server.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import time

from harness import run_case
from rawnbd import Closed, Conn, ProtocolError

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = ["ratetier-handshake-timeout=3",
          "ratetier-max-connections=4",
          "ratetier-max-handshakes=64"]


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



def attack(ctx):
    timeout = 3 * ctx.slow
    one = ctx.hold(["127.0.0.50"] * 200, 0)
    ctx.check(len(one) <= 4, "cap: %d connections from one address held"
              % len(one))
    one += ctx.hold(["127.0.0.51"] * 4, 2)
    ctx.during("%d connections of two addresses are stalled" % len(one))
    late_client(ctx, "127.0.0.60", 10 * ctx.slow)
    closed = ctx.count_closed(one, timeout + 5 * ctx.slow)
    ctx.held_off += closed
    ctx.check(closed == len(one), "handshake timeout closed %d of %d"
              % (closed, len(one)))
    many = ctx.hold([ctx.attacker(i) for i in range(300)], 1)
    many += ctx.hold([ctx.attacker(300 + i) for i in range(30)], 3)
    ctx.during("%d connections of 330 addresses are stalled" % len(many))
    late_client(ctx, "127.0.0.61", timeout + 15 * ctx.slow)
    closed = ctx.count_closed(many, timeout + 5 * ctx.slow)
    ctx.held_off += closed
    ctx.check(closed == len(many), "handshake timeout closed %d of %d"
              % (closed, len(many)))


if __name__ == "__main__":
    run_case("slowloris", attack, PARAMS)
