#!/usr/bin/python3
"""Hostile case guard-cap: ratetier-max-connections=3.

The fourth connection of a client is refused before the handshake (no
greeting), a kernel-like client with three connections works, other
addresses are not affected, a closed connection frees its place, and the
cap's trips are logged once.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import time

from harness import run_case
from rawnbd import Closed

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = ["ratetier-max-connections=3"]


def attack(ctx):
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
    ctx.during("a client holds its three connections")
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


if __name__ == "__main__":
    run_case("guard-cap", attack, PARAMS)
