#!/usr/bin/python3
"""The well-behaved client of the hostile suite, in a process of its own
(so that the attack's threads and the GIL cannot slow it down).

It connects once from its own source address and reads random ranges
at depth 1, comparing each with the image, until a line arrives on its
stdin (or stdin closes: the harness died); then it does one last read
and disconnects.  It reports as it goes, one line per event on stdout:

  read T0 T1          a read that returned the right data
  fail T0 T1 WHAT     a read that got an error reply or wrong data
  lost WHAT           the connection failed (a timeout after DEADLINE
                      seconds, a reset, a refusal); it connects again
  done                the end

T0 and T1 are when the read was sent and answered, in seconds of
CLOCK_MONOTONIC (time.monotonic(), the same clock in every process), so
that the harness can place every read against the attack.  GoodClient,
below, is the harness's side; harness.py judges what it collected.
"""

import argparse
import os
import random
import select
import subprocess
import sys
import threading
import time

from rawnbd import Closed, Conn, ProtocolError


def told_to_stop():
    r, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(r)


def say(line):
    print(line, flush=True)


def run(port, source, image, deadline):
    with open(image, "rb") as f:
        data = f.read()
    size = len(data)
    rnd = random.Random(source)
    conn = None
    last = False
    while True:
        if not last and told_to_stop():
            last = True             # one read after the attack has ended
        if conn is None:
            try:
                conn = Conn.open(port, source, timeout=deadline)
                conn.go()
            except (OSError, Closed, ProtocolError) as e:
                say("lost connect: %s" % e)
                conn = None
                if last:
                    break
                time.sleep(0.1)
                continue
        length = rnd.choice((4096, 4096, 65536, 131072))
        offset = rnd.randrange(0, size - length + 1) & ~511
        t0 = time.monotonic()
        try:
            err, got = conn.pread(offset, length)
        except (OSError, Closed, ProtocolError) as e:
            say("lost read %d+%d: %s" % (offset, length, e))
            conn.close()
            conn = None
            if last:
                break
            continue
        t1 = time.monotonic()
        if err or got != data[offset:offset + length]:
            say("fail %.6f %.6f read %d+%d: %s" %
                (t0, t1, offset, length,
                 "error %d" % err if err else "wrong data"))
        else:
            say("read %.6f %.6f" % (t0, t1))
        if last:
            break
        time.sleep(0.005)
    if conn:
        conn.disconnect()
    say("done")


class GoodClient:
    """The harness's side: starts the client and collects its reports
    in a thread, so that the attack can wait for a read (read_after)."""

    def __init__(self, port, image, deadline, source="127.0.0.2"):
        self.deadline = deadline
        self.reads = []             # (t0, t1) of each good read
        self.failures = []          # what went wrong, in words
        self.lost = 0               # connections lost (each reconnects)
        self.done = False
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__),
             "--port", str(port), "--source", source, "--image", image,
             "--deadline", str(deadline)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self):
        for line in self.proc.stdout:
            word, _, rest = line.strip().partition(" ")
            with self._cond:
                if word == "read":
                    t0, t1 = rest.split()
                    self.reads.append((float(t0), float(t1)))
                elif word == "fail":
                    self.failures.append(rest.split(" ", 2)[2])
                elif word == "lost":
                    self.lost += 1
                    self.failures.append(rest)
                elif word == "done":
                    self.done = True
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def read_after(self, t):
        """Wait until a good read sent at or after T (monotonic seconds)
        has been answered; True if one was within the deadline."""
        end = time.monotonic() + self.deadline
        with self._cond:
            while not any(t0 >= t for t0, _ in reversed(self.reads)):
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self._cond.wait(min(left, 1.0))
            return True

    def finish(self):
        """Tell the client to stop, and wait for its last read."""
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=2 * self.deadline)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--deadline", type=float, required=True)
    a = ap.parse_args()
    run(a.port, a.source, a.image, a.deadline)


if __name__ == "__main__":
    main()
