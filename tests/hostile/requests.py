#!/usr/bin/python3
"""Hostile case requests: wrong requests in transmission.

Invalid command types and flags, reads past the end, zero-length and
over-maximum requests, writes, trims and zeroes on the read-only
export: each must get an error reply (EINVAL for a zero-length read) and
leave the connection usable, and the image must be unchanged.  A write
over nbdkit's maximum must make the server close the connection.  Then
NBD_CMD_CACHE and block-status floods from four connections at once.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import threading

from harness import run_case
from rawnbd import (
    CMD_BLOCK_STATUS, CMD_CACHE, CMD_FLAG_FUA, CMD_FLAG_NO_HOLE, CMD_TRIM,
    CMD_WRITE, CMD_WRITE_ZEROES, FLAG_READ_ONLY, NBDKIT_MAX_REQUEST,
    NBD_EINVAL, closed_by_server)

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = []


def attack(ctx):
    c = ctx.hostile()
    c.handshake()
    c.go(structured=False)
    size = c.size
    ctx.check(size == ctx.size, "export size %s" % size)
    ctx.check(bool(c.eflags & FLAG_READ_ONLY), "export not read-only")
    maximum = c.block_size[2] if c.block_size else 32 << 20
    probes = [
        ("unknown command 99", lambda: c.command(99, 0, 4096)),
        ("unknown command 0xffff", lambda: c.command(0xFFFF, 0, 4096)),
        ("read with unknown flag", lambda: c.pread(0, 4096, 0x8000)[0]),
        ("read with FUA+NO_HOLE+DF junk", lambda: c.pread(0, 4096, 0x7ff)[0]),
        ("read past the end", lambda: c.pread(size - 512, 4096)[0]),
        ("read far past the end", lambda: c.pread(1 << 62, 4096)[0]),
        ("read offset overflow", lambda: c.pread((1 << 64) - 512, 4096)[0]),
        # nbdkit refuses it as out of range: EINVAL, no payload (the
        # usable check below would see a stray payload as garbage).
        ("zero-length read", lambda: c.pread(0, 0)[0], NBD_EINVAL),
        ("read over the advertised maximum",
         lambda: c.pread(0, min(maximum + 4096, NBDKIT_MAX_REQUEST))[0]),
        ("read over nbdkit's maximum",
         lambda: c.pread(0, NBDKIT_MAX_REQUEST + 1)[0]),
        ("write", lambda: c.command(CMD_WRITE, 0, 4096, 0, b"w" * 4096)),
        ("write with FUA", lambda: c.command(CMD_WRITE, 0, 512, CMD_FLAG_FUA,
                                             b"w" * 512)),
        ("trim", lambda: c.command(CMD_TRIM, 0, 1 << 20)),
        ("write zeroes", lambda: c.command(CMD_WRITE_ZEROES, 0, 1 << 20)),
        ("write zeroes NO_HOLE", lambda: c.command(CMD_WRITE_ZEROES, 0, 4096,
                                                   CMD_FLAG_NO_HOLE)),
        ("block status without a context",
         lambda: c.command(CMD_BLOCK_STATUS, 0, 4096)),
        ("zero-length cache", lambda: c.command(CMD_CACHE, 0, 0)),
    ]
    for what, probe, *want in probes:
        err = probe()
        print("probe %s: error %d" % (what, err), flush=True)
        if want:
            ctx.check(err == want[0], "%s: error %d, expected %d"
                      % (what, err, want[0]))
        else:
            ctx.check(err != 0, what + ": no error")
        ctx.usable(c, what)
    ctx.during("a connection has sent %d wrong requests" % len(probes))
    # The image is unchanged after the refused writes.
    with open(ctx.image, "rb") as f:
        want = f.read(4096)
    err, got = c.pread(0, 4096)
    ctx.check(err == 0 and got == want, "data changed by refused writes")
    # A write over nbdkit's maximum makes it give up on the connection
    # (it cannot skip the payload): the server must close it, not hang.
    c.request(CMD_WRITE, 0, 3 * NBDKIT_MAX_REQUEST)
    ctx.check(closed_by_server(c.sock, 10 * ctx.slow),
              "oversized write: connection not closed")
    ctx.held_off += 1
    c.close()

    # Floods: many cache and block-status requests pipelined over the
    # whole image, from a few connections at once, until the good client
    # has read during them.
    seen = threading.Event()

    def flood(n):
        f = ctx.hostile("127.0.0.%d" % (10 + n))
        if not f:
            return
        f.handshake()
        f.go(structured=True, meta="base:allocation")
        rounds = 0
        while rounds < 20 or not seen.is_set():
            rounds += 1
            cookies = []
            for i in range(64):
                off = (i * 256 * 1024) % size
                cmd = CMD_CACHE if (i + n) % 2 else CMD_BLOCK_STATUS
                cookies.append(f.request(cmd, off, min(size - off,
                                                       8 << 20)))
            for _ in cookies:
                f.reply()
        f.disconnect()
    threads = [threading.Thread(target=flood, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    ctx.during("four connections flood cache and block-status requests")
    seen.set()
    for t in threads:
        t.join()


if __name__ == "__main__":
    run_case("requests", attack, PARAMS)
