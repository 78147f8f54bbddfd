#!/usr/bin/python3
"""Hostile case guard-sigterm: SIGTERM with connections stalled.

Connections stalled in every state (silent, mid-handshake, established
and idle, mid-request) are left open at the end: they must not keep the
server from ending on SIGTERM within the shutdown deadline, which the
harness checks (nbdkit 1.32 alone would wait for them forever).

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import struct

from harness import run_case
from rawnbd import CMD_READ, REQUEST_MAGIC

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = []


def attack(ctx):
    ctx.keep = []
    ctx.keep += ctx.hold([ctx.attacker(i) for i in range(10)], 0)
    ctx.keep += ctx.hold([ctx.attacker(10 + i) for i in range(10)], 2)
    for i in range(10):
        c = ctx.hostile(ctx.attacker(20 + i))
        c.go()
        if i % 2:
            c.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, 1,
                               0, 4096)[:20])
        ctx.keep.append(c)
    ctx.during("connections are stalled in every state")
    ctx.settle = False


if __name__ == "__main__":
    run_case("guard-sigterm", attack, PARAMS)
