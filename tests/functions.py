"""Shared helpers for sandbag's Python test code (the Python half of
tests/functions.sh, which puts this directory on PYTHONPATH):

    from functions import wait_for, count, connect_from

  wait_for(pred, what)      poll until pred() is true, or exit failing
  count(log, pattern)       matches of a regular expression in a log file
  connect_from(port, src)   a libnbd handle over TCP from source address src
  free_port()               a TCP port of 127.0.0.1 that is free now
  PauseControl(path)        hold and release the backend below nbdkit's
                            pause filter (pause-control=path)
  record_kill(pid, why)     note a server killed with SIGKILL for the
                            sanitizer and valgrind stages (see below)

Deadlines here only stop a test that would otherwise hang: they are
generous, and no verdict depends on how long something took.
"""

import os
import re
import socket
import sys
import time

# Long enough for a loaded machine or a valgrind run; a test that needs
# longer is hung.
DEFAULT_DEADLINE = 60.0


def wait_for(pred, what, handles=(), deadline=DEFAULT_DEADLINE):
    """Poll PRED every 50 ms until it returns true; meanwhile let libnbd
    HANDLES make progress on their asynchronous commands.  Exits the
    test with "timed out waiting for WHAT" after DEADLINE seconds."""
    end = time.monotonic() + deadline
    while not pred():
        for h in handles:
            h.poll(0)
        if time.monotonic() > end:
            sys.exit("timed out waiting for " + what)
        time.sleep(0.05)


def count(log, pattern):
    """How many times the regular expression PATTERN occurs in file LOG."""
    with open(log, errors="replace") as f:
        return len(re.findall(pattern, f.read()))


def connect_from(port, source, host="127.0.0.1"):
    """A libnbd handle connected to HOST:PORT over TCP from the source
    address SOURCE (any 127.0.0.0/8 address works on loopback), so that
    one test can play several clients."""
    import nbd

    s = socket.socket()
    s.bind((source, 0))
    s.connect((host, port))
    h = nbd.NBD()
    h.connect_socket(s.detach())        # libnbd owns the fd now
    return h


def free_port(host="127.0.0.1"):
    """A TCP port of HOST that no one listens on now.  (Racy by nature:
    use socket activation where the test owns the listener.)"""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class PauseControl:
    """The control socket of nbdkit's pause filter: pause() returns once
    the backend is held (requests then wait above it), resume() once it
    runs again."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)

    def _command(self, cmd, ack):
        self.sock.send(cmd)
        got = self.sock.recv(1)
        if got != ack:
            sys.exit("pause filter answered %r to %r" % (got, cmd))

    def pause(self):
        self._command(b"p", b"P")

    def resume(self):
        self._command(b"r", b"R")


def record_kill(pid, why):
    """Record that the server PID had to be killed with SIGKILL.

    A server killed that way writes no sanitizer or valgrind report, so
    the asan and valgrind stages would not see what it would have
    reported; scripts/test.sh sets SANDBAG_REPORT_DIR, and
    tests/sanitizers/scan-reports.py counts each killed.PID file there
    as a failure.  Without SANDBAG_REPORT_DIR this does nothing (the
    caller fails the test itself)."""
    d = os.environ.get("SANDBAG_REPORT_DIR")
    if not d:
        return
    with open(os.path.join(d, "killed.%d" % pid), "a") as f:
        f.write("%s: %s\n" % (os.environ.get("SANDBAG_TEST", sys.argv[0]),
                              why))
