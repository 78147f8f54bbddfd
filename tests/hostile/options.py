#!/usr/bin/python3
"""Hostile case options: option floods and hostile export names.

LIST, INFO, GO, meta-context and unknown options over and over: every
option gets an answer until nbdkit's cap on options per connection (32
in 1.32) closes the connection; hostile names (paths, control
characters, invalid UTF-8, 4 KiB) are refused; GO with a name length
over NBD_MAX_STRING or announcing 1 GiB is refused or dropped, never
allocated; an option payload announced as 4 GiB and never sent makes the
server close the connection.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import os
import struct

from harness import run_case
from rawnbd import (
    Closed, IHAVEOPT, OPT_GO, OPT_INFO, OPT_LIST_META_CONTEXT, ProtocolError,
    REP_ACK, REP_ERR, closed_by_server)

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = []


def attack(ctx):
    names = [b"x" * 4096, b"../../../etc/passwd", b"/etc/passwd",
             b".", b"..", b".hidden", b"a/b", b"\x00abc", b"\n\r\t",
             b"\xff\xfe\xc0\x80", b"%s%n%s%n", "\u00e9".encode() * 100,
             b"\x1b[2J", bytes(range(1, 256))]
    sent = 0
    conns = 0
    during = False
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
                if sent >= 600 and not during:
                    ctx.during("options flood in (%d so far)" % sent)
                    during = True
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
    ctx.during("an option of 4 GiB is announced")
    if closed_by_server(c.sock, 10 * ctx.slow):
        ctx.held_off += 1
    else:
        ctx.check(False, "4 GiB option: connection kept")
    c.close()


if __name__ == "__main__":
    run_case("options", attack, PARAMS)
