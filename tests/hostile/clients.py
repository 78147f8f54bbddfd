#!/usr/bin/python3
"""Hostile case clients: more clients than the client table holds.

With ratetier-max-clients=16, clients from 40 addresses that stay
connected fill the table and newcomers are refused; then four threads of
short-lived clients make the table evict (the status file must count an
eviction), while the good client, connected all along, keeps its place.

harness.py runs the case and checks what every case must show (the
well-behaved client, the server's bounds, its shutdown).
"""

import os
import re
import threading
import time

from harness import run_case
from rawnbd import Closed, ProtocolError

# Extra nbdkit parameters for the stack (harness.run_case).
PARAMS = ["ratetier-max-clients=16",
          "ratetier-status-interval=1s",
          "ratetier-status=STATUS"]


def attack(ctx):
    held = []
    for i in range(40):
        c = ctx.hostile(ctx.attacker(1000 + i))
        if not c:
            continue
        try:
            c.go()
            held.append(c)
        except (Closed, ProtocolError):
            ctx.held_off += 1       # table full of connected clients
            c.close()
    ctx.check(len(held) < 40, "a full client table refused nobody")
    ctx.during("the client table is full of connected clients")
    for c in held:
        c.disconnect()
    errors = []
    seen = threading.Event()        # the good client read during the churn

    def churn(base):
        i = 0
        while i < 30 or not seen.is_set():
            c = ctx.hostile(ctx.attacker(base + i % 100))
            i += 1
            if not c:
                continue
            try:
                c.go()
                err, _ = c.pread(4096 * (i % 100), 65536)
                if err:
                    errors.append(err)
                c.disconnect()
            except (Closed, ProtocolError):
                ctx.held_off += 1
                c.close()
    threads = [threading.Thread(target=churn, args=(2000 + 100 * k,))
               for k in range(4)]
    for t in threads:
        t.start()
    ctx.during("short-lived clients churn through the table")
    seen.set()
    for t in threads:
        t.join()
    ctx.check(not errors, "churn reads failed: %s" % errors[:5])
    status = os.path.join(ctx.tmp, "status.prom")
    deadline = time.monotonic() + 10 * ctx.slow
    evicted = 0
    while time.monotonic() < deadline:
        try:
            m = re.search(r'ratetier_clients_forgotten_total'
                          r'\{reason="evicted"\} (\d+)', open(status).read())
            evicted = int(m.group(1)) if m else 0
        except OSError:
            pass
        if evicted > 0:
            break
        time.sleep(0.5)
    print("evicted clients: %d" % evicted, flush=True)
    ctx.check(evicted > 0, "no client evicted from a full table")


if __name__ == "__main__":
    run_case("clients", attack, PARAMS)
