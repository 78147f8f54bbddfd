#!/usr/bin/python3
"""Hostile case guard-idle: ratetier-idle-timeout=2.

An established connection that sends no request is closed after the
timeout; one that keeps reading is not.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import time

from harness import run_case
from rawnbd import closed_by_server

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = ["ratetier-idle-timeout=2"]


def attack(ctx):
    idle = ctx.hostile("127.0.0.80")
    idle.go()
    busy = ctx.hostile("127.0.0.81")
    busy.go()
    ctx.during("an idle connection is open")
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


if __name__ == "__main__":
    run_case("guard-idle", attack, PARAMS)
