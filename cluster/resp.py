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
    # A newline would end the error early and desynchronise the client.
    return b"-" + text.replace("\r", " ").replace("\n", " ").encode() + CRLF


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
        "_tracking",
        "_slow_buf",
        "authenticated",
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
        self._tracking = True
        self._slow_buf = None

    def feed(self, data: bytes) -> list:
        if self._slow_buf is not None:
            return self._feed_slow(data)
        chunks = self._chunks
        if not chunks and data[:1] != b"*":
            # At a frame boundary and not a multibulk: inline command(s).
            self._slow_buf = bytearray()
            return self._feed_slow(data)
        reader = self._reader
        reader.feed(data)
        chunks.append(data)
        self._chunk_bytes += len(data)
        out = []
        try:
            while True:
                cmd = reader.gets()
                if cmd is False:
                    break
                if cmd.__class__ is not list or not cmd:
                    raise hiredis.ProtocolError("not a non-empty array")
                for a in cmd:
                    if a.__class__ is not bytes:
                        raise hiredis.ProtocolError("non-bulk element")
                out.append(cmd)
        except hiredis.ProtocolError:
            return self._recover(out)
        if not reader.has_data():
            # A frame boundary: nothing pending, forget the copy.
            chunks.clear()
            self._chunk_bytes = 0
            self._returned = 0
            self._tracking = True
            return out
        self._returned += len(out)
        if self._tracking:
            if self._chunk_bytes > self.TRACK_LIMIT:
                self._tracking = False
            elif not self.authenticated or len(data) < PROTO_MBULK_BIG_ARG:
                # Check the pending frame's headers now, so a huge length is
                # refused before its data is awaited.
                self._check_pending(out)
        elif self._chunk_bytes > self.max_bulk + PROTO_MBULK_BIG_ARG:
            raise ProtocolError("ERR Protocol error: invalid bulk length", out)
        if not self._tracking:
            chunks.clear()
            chunks.append(b"")  # keep "not at a boundary" without the data
        return out

    def _check_pending(self, out):
        buf = b"".join(self._chunks)
        parser = _ExactParser(buf, self.max_bulk, self.authenticated)
        try:
            parser.skip(self._returned)
            parser.parse_all()
        except ProtocolError as exc:
            raise ProtocolError(exc.args[0], out) from None

    def _recover(self, out):
        """hiredis refused the stream: re-parse from the last boundary exactly."""
        buf = b"".join(self._chunks) if self._tracking else b""
        already = self._returned + len(out)
        self._reset_reader()
        if not self._tracking:
            raise ProtocolError("ERR Protocol error: invalid multibulk length", out)
        parser = _ExactParser(buf, self.max_bulk, self.authenticated)
        try:
            parser.skip(already)
            more = parser.parse_all()
        except ProtocolError as exc:
            raise ProtocolError(exc.args[0], out + list(exc.args[1])) from None
        out.extend(more)
        rest = buf[parser.pos :]
        if rest:
            self._slow_buf = bytearray(rest)
        return out

    def _reset_reader(self):
        self._reader = hiredis.Reader()
        self._chunks = []
        self._chunk_bytes = 0
        self._returned = 0
        self._tracking = True

    def _feed_slow(self, data: bytes) -> list:
        buf = self._slow_buf
        buf += data
        parser = _ExactParser(bytes(buf), self.max_bulk, self.authenticated)
        out = parser.parse_all()  # raises ProtocolError with parsed commands
        del buf[: parser.pos]
        if not buf:
            # Back at a boundary with nothing pending: hiredis again.
            self._slow_buf = None
        return out


class _ExactParser:
    """Redis's request grammar, for the cases hiredis does not cover."""

    __slots__ = ("buf", "pos", "max_bulk", "authenticated", "out")

    def __init__(self, buf: bytes, max_bulk: int, authenticated: bool):
        self.buf = buf
        self.pos = 0
        self.max_bulk = max_bulk
        self.authenticated = authenticated
        self.out = []

    def skip(self, n: int):
        for _ in range(n):
            if self._one() is None:  # pragma: no cover - hiredis agreed
                break
        self.out = []

    def parse_all(self) -> list:
        try:
            while self.pos < len(self.buf):
                cmd = self._one()
                if cmd is None:
                    break
                if cmd:
                    self.out.append(cmd)
        except ProtocolError as exc:
            raise ProtocolError(exc.args[0], self.out) from None
        return self.out

    def _line(self, start: int, what: str):
        end = self.buf.find(b"\r\n", start)
        if end < 0:
            if len(self.buf) - start > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("ERR Protocol error: too big %s" % what)
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
        max_count = INT_MAX if self.authenticated else UNAUTH_MAX_MULTIBULK
        if count is None or count > max_count:
            raise ProtocolError("ERR Protocol error: invalid multibulk length")
        if count <= 0:
            self.pos = nxt
            return []
        args = []
        pos = nxt
        max_bulk = self.max_bulk if self.authenticated else UNAUTH_MAX_BULK
        for _ in range(count):
            if pos >= len(buf):
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
            if nxt + size + 2 > len(buf):
                return None
            args.append(buf[nxt : nxt + size])
            pos = nxt + size + 2
        self.pos = pos
        return args

    def _inline(self):
        buf = self.buf
        end = buf.find(b"\n", self.pos)
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
    if not body.isdigit() or (len(body) > 1 and body[:1] == b"0"):
        return None
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

    Returns None for unbalanced quotes.
    """
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
