"""RESP2/RESP3 codec, sans-IO: bytes in, commands out; values in, bytes out.

Requests: :class:`RequestParser` turns client bytes into argument lists.
``hiredis.Reader`` does the common work in C; a small exact parser written
after Redis's ``processInlineBuffer``/``processMultibulkBuffer`` takes over for
what hiredis does not do as Redis does: inline commands, ``*-5`` (ignored by
Redis), bulk lengths over ``proto_max_bulk_len`` (refused before the data
arrives), and the precise protocol error texts.

Replies: handlers return plain Python values and :func:`encode` writes them in
the connection's protocol version.  The mapping is:

===================  ==================  ==================
value                RESP2               RESP3
===================  ==================  ==================
bytes                bulk string         bulk string
str                  simple string       simple string
int                  integer             integer
None                 null bulk           null
float                bulk (%.17g)        double
list / tuple         array               array
dict                 flat array          map
SetReply             array               set
Verbatim             bulk string         verbatim string
Push                 array               push
NULL_ARRAY           ``*-1``             null
CommandError         error               error
RawReply             as is               as is
bool                 integer 1/0         boolean
===================  ==================  ==================
"""

from __future__ import annotations

import math
import re

import hiredis

from cluster.errors import CommandError, ProtocolError

CRLF = b"\r\n"
OK = b"+OK\r\n"
QUEUED = b"+QUEUED\r\n"
PONG = b"+PONG\r\n"
NULL_BULK = b"$-1\r\n"
NULL_RESP3 = b"_\r\n"
EMPTY_ARRAY = b"*0\r\n"

# Redis limits (src/server.h).
PROTO_INLINE_MAX_SIZE = 64 * 1024
PROTO_MBULK_BIG_ARG = 32 * 1024
INT_MAX = 2**31 - 1
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384

# A multibulk count of eight digits or more somewhere in the bytes.
_HUGE_COUNT = re.compile(rb"\*[0-9]{8}")


class SetReply(list):
    """An array that RESP3 sends as a set (``~``)."""

    __slots__ = ()


class Push(list):
    """An out-of-band message: RESP3 push (``>``), RESP2 array."""

    __slots__ = ()


class Verbatim(bytes):
    """Text that RESP3 sends as a verbatim string (``=``, format ``txt``)."""

    __slots__ = ()


class RawReply(bytes):
    """Bytes already encoded in the right protocol: written as they are."""

    __slots__ = ()


class _NullArray:
    __slots__ = ()

    def __repr__(self):
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()


class _NoReply:
    __slots__ = ()


# Returned by a handler whose command sends nothing back (CLIENT REPLY OFF).
NO_REPLY = _NoReply()

_int_cache = [b":%d\r\n" % i for i in range(-1, 1025)]
_len_cache = [b"$%d\r\n" % i for i in range(0, 1025)]
_array_cache = [b"*%d\r\n" % i for i in range(0, 1025)]


def encode_int(n: int) -> bytes:
    if -1 <= n < 1024:
        return _int_cache[n + 1]
    return b":%d\r\n" % n


def encode_bulk(b: bytes) -> bytes:
    n = len(b)
    if n < 1025:
        return _len_cache[n] + b + CRLF
    return b"$%d\r\n%b\r\n" % (n, b)


def encode_error(text: str) -> bytes:
    """An error line.  A newline would end it early and desynchronise the
    client; client bytes echoed in the text come back as they were sent
    (surrogate escapes, see :func:`cluster.errors.echo`)."""
    return b"-" + text.replace("\r", " ").replace("\n", " ").encode(
        "utf-8", "surrogateescape") + CRLF


def format_double(value: float) -> bytes:
    """Redis's human form of a double: %.17g, with inf/-inf/nan spelled out."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value != value:
        return b"nan"
    if value == int(value) and abs(value) < 1e17:
        return b"%d" % int(value)
    return (b"%.17g" % value)


def encode(value, proto: int = 2) -> bytes:
    """Encode one reply value (see the module table)."""
    t = type(value)
    if t is bytes:
        return encode_bulk(value)
    if t is str:
        if value == "OK":
            return OK
        return b"+" + value.encode() + CRLF
    if t is int:
        return encode_int(value)
    if value is None:
        return NULL_RESP3 if proto == 3 else NULL_BULK
    if t is list or t is tuple:
        parts = [_array_header(len(value))]
        parts.extend(encode(v, proto) for v in value)
        return b"".join(parts)
    if t is RawReply:
        return value
    if isinstance(value, CommandError):
        return encode_error(value.args[0])
    if t is dict:
        if proto == 3:
            parts = [b"%%%d\r\n" % len(value)]
        else:
            parts = [_array_header(2 * len(value))]
        for k, v in value.items():
            parts.append(encode(k, proto))
            parts.append(encode(v, proto))
        return b"".join(parts)
    if t is float:
        if proto == 3:
            return b",%b\r\n" % format_double(value)
        return encode_bulk(format_double(value))
    if t is bool:
        if proto == 3:
            return b"#t\r\n" if value else b"#f\r\n"
        return b":1\r\n" if value else b":0\r\n"
    if t is SetReply or t is Push:
        if proto == 3:
            head = b"~%d\r\n" if t is SetReply else b">%d\r\n"
            parts = [head % len(value)]
        else:
            parts = [_array_header(len(value))]
        parts.extend(encode(v, proto) for v in value)
        return b"".join(parts)
    if t is Verbatim:
        if proto == 3:
            return b"=%d\r\ntxt:%b\r\n" % (len(value) + 4, value)
        return encode_bulk(bytes(value))
    if value is NULL_ARRAY:
        return NULL_RESP3 if proto == 3 else b"*-1\r\n"
    if isinstance(value, (bytearray, memoryview)):
        return encode_bulk(bytes(value))
    raise TypeError("cannot encode reply of type %s" % t.__name__)


# Bytes around a bulk string of each length: "$<len>\r\n" and "\r\n".
_BULK_FRAMING = tuple(len(b"$%d\r\n" % m) + 2 for m in range(65536))


def _array_header_size(n: int) -> int:
    return len(_array_cache[n]) if n < 1025 else len(b"*%d\r\n" % n)


def _array_header(n: int) -> bytes:
    if n < 1025:
        return _array_cache[n]
    return b"*%d\r\n" % n


def encode_command(args) -> bytes:
    """A request as a RESP array of bulk strings (what a client sends)."""
    n = len(args)
    if n == 2 or n == 3:  # GET k, SET k v ...: one format, the proxy's hot path
        try:
            if n == 2:
                a, b = args
                return b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(a), a, len(b), b)
            a, b, c = args
            return b"*3\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
                len(a), a, len(b), b, len(c), c)
        except TypeError:  # a str or int argument: the general path converts it
            pass
    parts = [_array_header(n)]
    for a in args:
        if type(a) is not bytes:
            a = a if isinstance(a, bytes) else str(a).encode()
        n = len(a)
        parts.append(_len_cache[n] if n < 1025 else b"$%d\r\n" % n)
        parts.append(a)
        parts.append(CRLF)
    return b"".join(parts)


# --------------------------------------------------------------------------
# Requests


class RequestParser:
    """Turns a client's byte stream into commands (lists of bytes).

    ``feed(data)`` returns the complete commands found so far.  When the
    stream is malformed it raises :class:`ProtocolError` carrying the text
    Redis would send; commands parsed before the bad frame are kept in
    ``ProtocolError.args[1]`` so the caller can still run and answer them.
    """

    __slots__ = (
        "max_bulk",
        "_reader",
        "_chunks",
        "_chunk_bytes",
        "_returned",
        "_returned_bytes",
        "_tail",
        "_check_after",
        "_tracking",
        "_slow_buf",
        "authenticated",
        "trusted",
    )

    # Beyond this many bytes since the last frame boundary we stop keeping a
    # copy for the exact parser and fall back to a plain size guard.
    TRACK_LIMIT = 1 << 20

    def __init__(self, max_bulk: int = 512 * 1024 * 1024):
        self.max_bulk = max_bulk
        self.authenticated = True
        self._reader = hiredis.Reader()
        self._chunks: list = []
        self._chunk_bytes = 0
        self._returned = 0
        self._returned_bytes = 0
        self._tracking = True
        self._tail = b""  # the last bytes fed, for a header split across reads
        self._check_after = 0  # no new header can be complete before this
        self._slow_buf = None
        self.trusted = False  # see trust()

    def trust(self) -> None:
        """The peer is one of our own processes (a proxy link on a shard).

        Its requests come from :func:`encode_command`, so hiredis alone parses
        them: none of the exactness checks, whose cost grows with every byte
        of a deep pipeline split across reads.
        """
        if self._slow_buf is None:
            self.trusted = True
            self._chunks = []

    def feed(self, data: bytes) -> list:
        if self.trusted:
            reader = self._reader
            reader.feed(data)
            out = []
            cmd = reader.gets()
            while cmd is not False:
                out.append(cmd)
                cmd = reader.gets()
            return out
        if self._slow_buf is not None:
            return self._feed_slow(data)
        chunks = self._chunks
        if not chunks and (data[:1] != b"*" or not self.authenticated):
            # At a frame boundary and not a multibulk: inline command(s).
            # Before AUTH every frame is checked against Redis's small limits.
            self._slow_buf = bytearray()
            return self._feed_slow(data)
        tail = self._tail
        chunks.append(data)
        self._chunk_bytes += len(data)
        if self._tracking and (
            _HUGE_COUNT.search(data) is not None
            or tail and _HUGE_COUNT.search(tail + data[:9]) is not None
        ):
            # hiredis would allocate the whole array at its header (and take
            # seconds to free it): let the exact parser have this stretch.
            return self._recover([])
        reader = self._reader
        reader.feed(data)
        out = []
        done = self._returned_bytes
        try:
            while True:
                cmd = reader.gets()
                if cmd is False:
                    break
                if cmd.__class__ is not list or not cmd:
                    raise hiredis.ProtocolError("not a non-empty array")
                # hiredis takes lengths only in canonical form, so the bytes a
                # command used can be counted from the command itself.
                done += _array_header_size(len(cmd))
                for a in cmd:
                    if a.__class__ is not bytes:
                        raise hiredis.ProtocolError("non-bulk element")
                    m = len(a)
                    done += m + (_BULK_FRAMING[m] if m < 65536 else len(b"$%d\r\n" % m) + 2)
                out.append(cmd)
        except hiredis.ProtocolError:
            return self._recover(out)
        if done == self._chunk_bytes and not reader.has_data():
            # A frame boundary: nothing pending, forget the copy.  (hiredis's
            # has_data() cannot tell: it is also false inside an array whose
            # elements so far are all parsed.)
            chunks.clear()
            self._chunk_bytes = 0
            self._returned = 0
            self._returned_bytes = 0
            self._tracking = True
            self._tail = b""
            self._check_after = 0
            return out
        self._returned += len(out)
        self._returned_bytes = done
        self._tail = data[-9:] if len(data) >= 9 else (tail + data)[-9:]
        pending = self._chunk_bytes - done
        rebased = out and 0 < pending <= len(data) and data[len(data) - pending] == 42
        if rebased:
            # Commands ended in this read and what follows starts a frame
            # ("*"): keep only that, so the copy never grows past one command.
            self._chunks = chunks = [data[len(data) - pending :]]
            self._chunk_bytes = pending
            self._returned = self._returned_bytes = done = 0
            self._tracking = True
            self._check_after = 0
        if self._tracking:
            if self._chunk_bytes > self.TRACK_LIMIT:
                self._tracking = False
            elif self._chunk_bytes >= self._check_after and (
                    len(data) < PROTO_MBULK_BIG_ARG
                    or self._chunk_bytes == len(data) or not reader.has_data()):
                # Check the pending frame's headers now, so a huge length is
                # refused before its data is awaited.
                return self._check_pending(out, rebased)
        elif self._chunk_bytes - done > self.max_bulk + PROTO_MBULK_BIG_ARG:
            # Untracked: only a size guard on the command still incomplete.
            raise ProtocolError("ERR Protocol error: invalid bulk length", out)
        if not self._tracking:
            chunks.clear()
            chunks.append(b"")  # keep "not at a boundary" without the data
        return out

    def _reparse(self):
        """The exact parser over every byte since the last frame boundary.

        Returns (commands, error text or None, parser).  The exact parser is
        the authority: hiredis also takes simple strings or integers as array
        elements, which Redis refuses.
        """
        parser = _ExactParser(b"".join(self._chunks), self.max_bulk, self.authenticated)
        try:
            return parser.parse_all(), None, parser
        except ProtocolError as exc:
            return exc.args[1], exc.args[0], parser

    def _check_pending(self, out, rebased):
        """The exact parser over the copy; ``rebased``: ``out`` is not in it."""
        cmds, error, parser = self._reparse()
        if rebased:
            head, before = out, 0
        else:
            head, before = [], self._returned - len(out)
        if error is not None:
            raise ProtocolError(error, head + cmds[before:])
        rest = parser.buf[parser.pos :]
        if len(cmds) > self._returned:
            # hiredis read an inline command as RESP (a "$..." line after a
            # multibulk): the exact parser takes over from here.
            self._reset_reader()
            self._slow_buf = bytearray(rest)
            return head + cmds[before:]
        # Every command before parser.pos is verified: keep only the one
        # still incomplete, so the next check does not parse them again.
        self._chunks = [rest]
        self._chunk_bytes = len(rest)
        self._returned = 0
        self._returned_bytes = 0
        self._check_after = parser.need - parser.pos
        return out

    def _recover(self, out):
        """hiredis refused the stream: re-parse from the last boundary exactly."""
        tracking = self._tracking
        before = self._returned
        if not tracking:
            self._reset_reader()
            raise ProtocolError("ERR Protocol error: invalid multibulk length", out)
        cmds, error, parser = self._reparse()
        self._reset_reader()
        if error is not None:
            raise ProtocolError(error, cmds[before:])
        rest = parser.buf[parser.pos :]
        if rest:
            self._slow_buf = bytearray(rest)
        return cmds[before:]

    def _reset_reader(self):
        self._reader = hiredis.Reader()
        self._chunks = []
        self._chunk_bytes = 0
        self._returned = 0
        self._returned_bytes = 0
        self._tracking = True
        self._tail = b""
        self._check_after = 0

    @property
    def buffered(self) -> bool:
        """Bytes are held that a further ``feed(b"")`` may turn into commands.

        Before AUTH the exact parser hands out one command per call, because
        Redis checks each command against the limits in force when it is
        read: ``AUTH pw`` and a large command in one read must both pass.
        """
        return bool(self._slow_buf)

    def _feed_slow(self, data: bytes) -> list:
        buf = self._slow_buf
        buf += data
        parser = _ExactParser(bytes(buf), self.max_bulk, self.authenticated)
        # raises ProtocolError with the parsed commands
        out = parser.parse_all(None if self.authenticated else 1)
        del buf[: parser.pos]
        if not buf:
            # Back at a boundary with nothing pending: hiredis again.
            self._slow_buf = None
        return out


class _ExactParser:
    """Redis's request grammar, for the cases hiredis does not cover."""

    __slots__ = ("buf", "pos", "max_bulk", "authenticated", "out", "need")

    def __init__(self, buf: bytes, max_bulk: int, authenticated: bool):
        self.buf = buf
        self.pos = 0
        self.max_bulk = max_bulk
        self.authenticated = authenticated
        self.out = []
        # When the last command is incomplete: the buffer length before which
        # nothing more can be learnt about it (the end of a bulk being read).
        self.need = 0

    def parse_all(self, limit=None) -> list:
        """Every complete command, or at most ``limit`` of them."""
        try:
            while self.pos < len(self.buf):
                cmd = self._one()
                if cmd is None:
                    break
                if cmd:
                    self.out.append(cmd)
                    if limit is not None and len(self.out) >= limit:
                        break
        except ProtocolError as exc:
            raise ProtocolError(exc.args[0], self.out) from None
        return self.out

    def _line(self, start: int, what: str):
        end = self.buf.find(b"\r\n", start)
        if end < 0:
            if len(self.buf) - start > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("ERR Protocol error: too big %s" % what)
            self.need = len(self.buf) + 1
            return None, start
        return self.buf[start:end], end + 2

    def _one(self):
        """One command: list of args, [] for an empty one, None if incomplete."""
        buf = self.buf
        if buf[self.pos : self.pos + 1] != b"*":
            return self._inline()
        line, nxt = self._line(self.pos + 1, "mbulk count string")
        if line is None:
            return None
        count = _parse_ll(line)
        if count is None or count > INT_MAX:
            raise ProtocolError("ERR Protocol error: invalid multibulk length")
        if count > UNAUTH_MAX_MULTIBULK and not self.authenticated:
            raise ProtocolError("ERR Protocol error: unauthenticated multibulk length")
        if count <= 0:
            self.pos = nxt
            return []
        args = []
        pos = nxt
        max_bulk = self.max_bulk
        authenticated = self.authenticated
        for _ in range(count):
            if pos >= len(buf):
                self.need = pos + 1
                return None
            if buf[pos : pos + 1] != b"$":
                raise ProtocolError(
                    "ERR Protocol error: expected '$', got '%s'"
                    % buf[pos : pos + 1].decode("latin-1")
                )
            line, nxt = self._line(pos + 1, "bulk count string")
            if line is None:
                return None
            size = _parse_ll(line)
            if size is None or size < 0 or size > max_bulk:
                raise ProtocolError("ERR Protocol error: invalid bulk length")
            if size > UNAUTH_MAX_BULK and not authenticated:
                raise ProtocolError("ERR Protocol error: unauthenticated bulk length")
            if nxt + size + 2 > len(buf):
                self.need = nxt + size + 2
                return None
            args.append(buf[nxt : nxt + size])
            pos = nxt + size + 2
        self.pos = pos
        return args

    def _inline(self):
        buf = self.buf
        end = buf.find(b"\n", self.pos)
        if end >= 0 and buf.find(b"\0", self.pos, end) >= 0:
            end = -1  # Redis looks for the newline with strchr: a NUL hides it
        if end < 0:
            if len(buf) - self.pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("ERR Protocol error: too big inline request")
            return None
        line = buf[self.pos : end]
        if line.endswith(b"\r"):
            line = line[:-1]
        self.pos = end + 1
        args = split_inline(line)
        if args is None:
            raise ProtocolError("ERR Protocol error: unbalanced quotes in request")
        return args


def _parse_ll(line: bytes):
    """Redis's string2ll: optional '-', digits only, no leading '+' or spaces."""
    if not line or len(line) > 20:
        return None
    body = line[1:] if line[:1] == b"-" else line
    if not body.isdigit() or (body[:1] == b"0" and len(line) > 1):
        return None  # "007" and "-0" too, as string2ll
    return int(line)


_ESCAPES = {
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("b"): b"\b",
    ord("a"): b"\a",
}
_HEX = b"0123456789abcdefABCDEF"


def split_inline(line: bytes):
    """Redis's sdssplitargs: words, "double quoted" with escapes, 'single'.

    Returns None for unbalanced quotes.  Redis reads the line as a C string,
    so a NUL byte ends it (and leaves an open quote unbalanced).
    """
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (
                    c == 92
                    and i + 3 < n
                    and line[i + 1] == ord("x")
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    cur += _ESCAPES.get(line[i], bytes([line[i]]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None
                    inq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        return None
                    insq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\0":
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


class ReplyParser:
    """Replies from a RESP server (the proxy's shard links), via hiredis."""

    __slots__ = ("_reader",)

    def __init__(self):
        self._reader = hiredis.Reader(replyError=CommandError)

    def feed(self, data: bytes):
        self._reader.feed(data)

    def gets(self):
        return self._reader.gets()
