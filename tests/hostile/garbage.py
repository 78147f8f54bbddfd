#!/usr/bin/python3
"""Hostile case garbage: bytes that are not NBD.

Random bytes instead of a handshake; a valid handshake and then garbage,
during options and during transmission; truncated requests (then EOF or
a stall); a write whose payload never comes.  Each such connection must
be closed by the server (counted as held off), never kept.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import os
import random
import socket
import struct

from harness import run_case
from rawnbd import CMD_READ, CMD_WRITE, Closed, REQUEST_MAGIC, closed_by_server

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = []


def attack(ctx):
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
            if i < 3:
                ctx.during("a connection sends garbage %s" %
                           ["instead of a handshake", "for options",
                            "in transmission"][i])
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
            if i == 0:
                ctx.during("a request header stalls halfway")
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
        ctx.during("a write's payload stalls")
        c.close()


if __name__ == "__main__":
    run_case("garbage", attack, PARAMS)
