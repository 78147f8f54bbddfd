"""A raw NBD client for the hostile suite: the fixed newstyle handshake,
options, and simple and structured replies, driven step by step so that
any step can be done wrongly on purpose (libnbd refuses to misbehave).

Conn wraps one socket; connect() opens one from a chosen source address,
so that one test can play many clients.  Closed means the server closed
the connection (EOF or reset); ProtocolError means it sent something no
NBD server should.
"""

import select
import socket
import struct
import time

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF

FLAG_FIXED_NEWSTYLE = 1
FLAG_NO_ZEROES = 2

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_STARTTLS = 5
OPT_INFO = 6
OPT_GO = 7
OPT_STRUCTURED_REPLY = 8
OPT_LIST_META_CONTEXT = 9
OPT_SET_META_CONTEXT = 10

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_META_CONTEXT = 4
REP_ERR = 1 << 31
REP_ERR_UNKNOWN = REP_ERR + 6

INFO_EXPORT = 0
INFO_BLOCK_SIZE = 3

CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_CACHE = 5
CMD_WRITE_ZEROES = 6
CMD_BLOCK_STATUS = 7

CMD_FLAG_FUA = 1
CMD_FLAG_NO_HOLE = 2
CMD_FLAG_DF = 4
CMD_FLAG_REQ_ONE = 8

FLAG_READ_ONLY = 2

REPLY_FLAG_DONE = 1
REPLY_TYPE_NONE = 0
REPLY_TYPE_OFFSET_DATA = 1
REPLY_TYPE_OFFSET_HOLE = 2
REPLY_TYPE_BLOCK_STATUS = 5
REPLY_TYPE_ERROR = (1 << 15) + 1
REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2

NBD_EPERM = 1
NBD_EINVAL = 22

# nbdkit 1.32 refuses any request over this before it allocates.
NBDKIT_MAX_REQUEST = 64 * 1024 * 1024


class ProtocolError(Exception):
    pass


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


def connect(port, source=None, host="127.0.0.1", timeout=10.0):
    """A TCP connection to HOST:PORT, source-bound to SOURCE if given."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    return s


class Conn:
    """One NBD connection, driven step by step so that any step can be
    done wrongly on purpose."""

    def __init__(self, sock):
        self.sock = sock
        self.structured = False
        self.size = None
        self.eflags = 0
        self.block_size = None
        self.next_cookie = 1
        self.pending = {}               # cookie -> (cmd, length)
        self.read_base = {}             # cookie -> offset (structured)
        self.shaken = False

    @classmethod
    def open(cls, port, source=None, timeout=10.0):
        return cls(connect(port, source, timeout=timeout))

    def close(self, reset=False):
        if reset:
            # SO_LINGER 0: close sends RST, like a client that crashes.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        self.sock.close()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed(str(e))

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except ConnectionResetError as e:
                raise Closed(str(e))
            if not chunk:
                raise Closed("EOF after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    # Handshake and options.

    def greeting(self):
        magic, opt, hflags = struct.unpack(">QQH", self.recv_exact(18))
        if magic != NBDMAGIC or opt != IHAVEOPT:
            raise ProtocolError("not a newstyle NBD server")
        if not hflags & FLAG_FIXED_NEWSTYLE:
            raise ProtocolError("server is not fixed newstyle")
        return hflags

    def handshake(self):
        """Greeting and client flags; then options may follow."""
        hflags = self.greeting()
        self.shaken = True
        self.send(struct.pack(">I", hflags & (FLAG_FIXED_NEWSTYLE |
                                              FLAG_NO_ZEROES)))
        return hflags

    def send_option(self, opt, data=b""):
        self.send(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)

    def read_option_reply(self, max_len=1 << 20):
        magic, opt, rtype, length = struct.unpack(">QIII",
                                                  self.recv_exact(20))
        if magic != REPLY_MAGIC:
            raise ProtocolError("bad option reply magic %#x" % magic)
        if length > max_len:
            raise ProtocolError("option reply of %d bytes" % length)
        return opt, rtype, self.recv_exact(length)

    @staticmethod
    def name_payload(name, infos=(INFO_BLOCK_SIZE,)):
        if isinstance(name, str):
            name = name.encode()
        return (struct.pack(">I", len(name)) + name +
                struct.pack(">H", len(infos)) +
                b"".join(struct.pack(">H", i) for i in infos))

    def info_or_go(self, opt, name=b""):
        """NBD_OPT_INFO or NBD_OPT_GO.  Returns None on success (export
        details stored in self), else the error reply type."""
        self.send_option(opt, self.name_payload(name))
        while True:
            _, rtype, data = self.read_option_reply()
            if rtype == REP_ACK:
                return None
            if rtype & REP_ERR:
                return rtype
            if rtype == REP_INFO and len(data) >= 2:
                info, = struct.unpack(">H", data[:2])
                if info == INFO_EXPORT and len(data) == 12:
                    self.size, self.eflags = struct.unpack(">QH", data[2:])
                elif info == INFO_BLOCK_SIZE and len(data) == 14:
                    self.block_size = struct.unpack(">III", data[2:])

    def go(self, name=b"", structured=False, meta=None):
        """Negotiate and enter transmission; raises on refusal."""
        if not self.shaken:
            self.handshake()
        if structured:
            self.send_option(OPT_STRUCTURED_REPLY)
            _, rtype, _ = self.read_option_reply()
            if rtype != REP_ACK:
                raise ProtocolError("structured replies refused")
            self.structured = True
            if meta:
                q = meta.encode()
                n = name.encode() if isinstance(name, str) else name
                self.send_option(OPT_SET_META_CONTEXT,
                                 struct.pack(">I", len(n)) + n +
                                 struct.pack(">II", 1, len(q)) + q)
                while True:
                    _, rtype, _ = self.read_option_reply()
                    if rtype == REP_ACK:
                        break
                    if rtype & REP_ERR:
                        raise ProtocolError("meta context refused")
        err = self.info_or_go(OPT_GO, name)
        if err is not None:
            raise ProtocolError("NBD_OPT_GO refused (%#x)" % err)
        if self.size is None:
            raise ProtocolError("no export size")

    def list_exports(self):
        self.send_option(OPT_LIST)
        names = []
        while True:
            _, rtype, data = self.read_option_reply()
            if rtype == REP_ACK:
                return names
            if rtype & REP_ERR:
                return None
            n, = struct.unpack(">I", data[:4])
            names.append(data[4:4 + n])

    # Transmission.

    def request(self, cmd, offset, length, flags=0, data=b"", cookie=None):
        if cookie is None:
            cookie = self.next_cookie
            self.next_cookie += 1
        self.pending[cookie] = (cmd, length)
        self.send(struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie,
                              offset, length) + data)
        return cookie

    def reply(self):
        """Read one whole reply: returns (cookie, error, data), data being
        the bytes read (reads) or the raw chunks (other structured)."""
        magic, = struct.unpack(">I", self.recv_exact(4))
        if magic == SIMPLE_REPLY_MAGIC:
            error, cookie = struct.unpack(">IQ", self.recv_exact(12))
            cmd, length = self.pending.pop(cookie, (None, 0))
            data = b""
            if error == 0 and cmd == CMD_READ:
                data = self.recv_exact(length)
            return cookie, error, data
        if magic != STRUCTURED_REPLY_MAGIC:
            raise ProtocolError("bad reply magic %#x" % magic)
        error = 0
        parts = []
        while True:
            flags, rtype, cookie, length = struct.unpack(
                ">HHQI", self.recv_exact(16))
            if length > NBDKIT_MAX_REQUEST + 64:
                raise ProtocolError("chunk of %d bytes" % length)
            payload = self.recv_exact(length)
            if rtype in (REPLY_TYPE_ERROR, REPLY_TYPE_ERROR_OFFSET):
                error = struct.unpack(">I", payload[:4])[0]
            else:
                parts.append((rtype, payload))
            if flags & REPLY_FLAG_DONE:
                break
            magic, = struct.unpack(">I", self.recv_exact(4))
            if magic != STRUCTURED_REPLY_MAGIC:
                raise ProtocolError("bad chunk magic %#x" % magic)
        cmd, length = self.pending.pop(cookie, (None, 0))
        if cmd == CMD_READ and not error:
            buf = bytearray(length)
            for rtype, payload in parts:
                off, = struct.unpack(">Q", payload[:8])
                if rtype == REPLY_TYPE_OFFSET_DATA:
                    rel = off - self.read_base[cookie]
                    buf[rel:rel + len(payload) - 8] = payload[8:]
            return cookie, error, bytes(buf)
        return cookie, error, parts

    def pread(self, offset, length, flags=0):
        """A read at depth 1; returns (error, data)."""
        cookie = self.request(CMD_READ, offset, length, flags)
        if self.structured:
            self.read_base[cookie] = offset
        c, error, data = self.reply()
        if c != cookie:
            raise ProtocolError("reply to cookie %d, expected %d" %
                                (c, cookie))
        return error, data

    def command(self, cmd, offset, length, flags=0, data=b""):
        """Any command at depth 1; returns its error."""
        cookie = self.request(cmd, offset, length, flags, data)
        c, error, _ = self.reply()
        if c != cookie:
            raise ProtocolError("reply to cookie %d, expected %d" %
                                (c, cookie))
        return error

    def disconnect(self):
        try:
            self.send(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC,
                                  0, 0, 0))
        except Closed:
            pass
        self.close()


def closed_by_server(sock, wait):
    """True if the server closes SOCK (EOF or reset) within WAIT seconds.
    Anything it sends meanwhile is discarded."""
    deadline = time.monotonic() + wait
    while True:
        left = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return False
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, BlockingIOError):
            continue
