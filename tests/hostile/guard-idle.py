#!/usr/bin/python3
"""Hostile case guard-idle: ratetier-idle-timeout=5.

An established connection that sends no request is closed after the
timeout; one that keeps reading (every 0.3 s) is not, nor is the good
client.  (5 s, not less: on a loaded machine a client process can stall
for a few seconds, and a stalled client is idle as far as the server
can tell.)

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import time

from harness import run_case
from rawnbd import closed_by_server

IDLE = 5                        # seconds

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = ["ratetier-idle-timeout=%d" % IDLE]


def attack(ctx):
    idle = ctx.hostile("127.0.0.80")
    idle.go()
    busy = ctx.hostile("127.0.0.81")
    busy.go()
    ctx.during("an idle connection is open")
    t0 = time.monotonic()
    while time.monotonic() - t0 < IDLE + 2:
        ctx.usable(busy, "busy connection")
        time.sleep(0.3)
    ctx.check(closed_by_server(idle.sock, 4 * ctx.slow),
              "idle connection not closed")
    ctx.held_off += 1
    idle.close()
    ctx.usable(busy, "busy connection")
    busy.disconnect()


if __name__ == "__main__":
    run_case("guard-idle", attack, PARAMS)
