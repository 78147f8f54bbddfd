#!/usr/bin/python3
"""Hostile case inflight: hanging up with requests in flight.

Forty times, a client queues 64 reads of 1 MiB and disconnects (orderly
close or reset), sometimes after taking one reply.  On nbdkit 1.32 this
can make a worker thread assert unless the plugin serializes each
connection (see server.py): the server must survive, and its threads
and memory return to where they were.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

from harness import run_case
from rawnbd import CMD_READ, Closed

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = []


def attack(ctx):
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
            if i == 0:
                ctx.during("a client has 64 reads of 1 MiB in flight")
            if i % 3 == 0:
                c.reply()               # take one, then go
        except Closed:
            ctx.held_off += 1
        c.close(reset=bool(i % 2))


if __name__ == "__main__":
    run_case("inflight", attack, PARAMS)
