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

from cluster.errors import CommandError, ProtocolError, echo

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
    if value == int(value) and abs(value) < 1e17 and (value or math.copysign(1.0, value) > 0):
        return b"%d" % int(value)  # -0.0 is left to %.17g: "-0", as Redis prints it
    return (b"%.17g" % value)


def _encode_items(parts: list, items, proto: int) -> bytes:
    """An aggregate's elements after its header: bulk strings (LRANGE,
    HGETALL, MGET ...) framed inline, anything else through :func:`encode`."""
    append = parts.append
    for item in items:
        if type(item) is bytes:
            n = len(item)
            append(_len_cache[n] if n < 1025 else b"$%d\r\n" % n)
            append(item)
            append(CRLF)
        else:
            append(encode(item, proto))
    return b"".join(parts)


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
        return _encode_items([_array_header(len(value))], value, proto)
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
        return _encode_items(parts, value, proto)
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

    hiredis parses; the exact parser (:class:`_ExactParser`) checks the
    frame still incomplete at the end of a read, so that a bad header is
    refused before its data is awaited, and takes over when hiredis cannot
    parse as Redis does (inline commands, huge counts, errors).  Both keep
    their place inside a partial frame, so every byte is parsed a bounded
    number of times however the stream is split: cost stays linear in the
    bytes received, as in Redis.
    """

    __slots__ = (
        "max_bulk",
        "_reader",
        "_chunks",
        "_unchecked",
        "_chunk_bytes",
        "_returned",
        "_returned_bytes",
        "_tail",
        "_check_after",
        "_tracking",
        "_exact",
        "_slow",
        "authenticated",
        "trusted",
    )

    # Beyond this many bytes since the last frame boundary we stop checking
    # with the exact parser (whose copy of the arguments would double the
    # memory) and fall back to a plain size guard.
    TRACK_LIMIT = 1 << 20

    def __init__(self, max_bulk: int = 512 * 1024 * 1024):
        self.max_bulk = max_bulk
        self.authenticated = True
        self._reader = hiredis.Reader()
        # The stretch since the last frame boundary: its size, and the bytes
        # of it the exact parser has not checked yet.
        self._chunks: list = []
        self._unchecked = 0
        self._chunk_bytes = 0
        self._returned = 0  # commands hiredis returned from the stretch
        self._returned_bytes = 0  # and the bytes they used
        self._tracking = True
        self._tail = b""  # the last bytes fed, for a header split across reads
        self._check_after = 0  # no new header can be complete before this
        self._exact = None  # the exact parser checking the stretch, if any yet
        self._slow = None  # the exact parser, when it has taken over from hiredis
        self.trusted = False  # see trust()

    def trust(self) -> None:
        """The peer is one of our own processes (a proxy link on a shard).

        Its requests come from :func:`encode_command`, so hiredis alone parses
        them: none of the exactness checks, whose cost grows with every byte
        of a deep pipeline split across reads.
        """
        if self._slow is None:
            self.trusted = True
            self._chunks = []
            self._exact = None

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
        if self._slow is not None:
            return self._feed_slow(data)
        if not self._chunk_bytes and (data[:1] != b"*" or not self.authenticated):
            # At a frame boundary and not a multibulk: inline command(s).
            # Before AUTH every frame is checked against Redis's small limits.
            self._slow = _ExactParser()
            return self._feed_slow(data)
        tail = self._tail
        chunks = self._chunks
        chunks.append(data)
        self._unchecked += len(data)
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
            # A frame boundary: nothing pending, forget the stretch.  (hiredis's
            # has_data() cannot tell: it is also false inside an array whose
            # elements so far are all parsed.)
            self._new_stretch()
            return out
        self._returned += len(out)
        self._returned_bytes = done
        self._tail = data[-9:] if len(data) >= 9 else (tail + data)[-9:]
        pending = self._chunk_bytes - done
        rebased = out and 0 < pending <= len(data) and data[len(data) - pending] == 42
        if rebased:
            # Commands ended in this read and what follows starts a frame
            # ("*"): the stretch starts there, so checks never see a
            # command hiredis has already returned.
            self._chunks = [data[len(data) - pending :]]
            self._unchecked = self._chunk_bytes = pending
            self._returned = self._returned_bytes = 0
            self._tracking = True
            self._check_after = 0
            self._exact = None
        if self._tracking:
            if self._chunk_bytes > self.TRACK_LIMIT:
                self._tracking = False
                self._chunks = []
                self._unchecked = 0
                self._exact = None
            elif self._unchecked >= self._check_after:
                # Check the pending frame's headers now, so a huge length is
                # refused before its data is awaited.
                return self._check_pending(out, rebased)
        elif self._chunk_bytes - done > self.max_bulk + PROTO_MBULK_BIG_ARG:
            # Untracked: only a size guard on the command still incomplete.
            raise ProtocolError("ERR Protocol error: invalid bulk length", out)
        return out

    def _new_stretch(self) -> None:
        """At a frame boundary: nothing held, nothing to check."""
        self._chunks = []
        self._unchecked = 0
        self._chunk_bytes = 0
        self._returned = 0
        self._returned_bytes = 0
        self._tracking = True
        self._tail = b""
        self._check_after = 0
        self._exact = None

    def _check_stretch(self, before: int):
        """Give the exact parser the bytes it has not seen yet.

        Returns (its commands that hiredis had not returned before this
        read, error text or None, parser).  The exact parser is the
        authority: hiredis also takes simple strings or integers as array
        elements, which Redis refuses.  ``before``: commands of the stretch
        hiredis returned in earlier reads.
        """
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        exact = self._exact
        if exact is None:
            exact = self._exact = _ExactParser(data)
        else:
            exact.feed(data)
        self._chunks = []
        self._unchecked = 0
        seen = exact.completed
        try:
            cmds, error = exact.parse(self.max_bulk, True), None
        except ProtocolError as exc:
            cmds, error = exc.args[1], exc.args[0]
        skip = before - seen
        return (cmds[skip:] if skip > 0 else cmds), error, exact

    def _check_pending(self, out, rebased):
        """The exact parser over the stretch; ``rebased``: ``out`` is not in it."""
        head, before = (out, 0) if rebased else ([], self._returned - len(out))
        cmds, error, exact = self._check_stretch(before)
        if error is not None:
            raise ProtocolError(error, head + cmds)
        if exact.completed > self._returned:
            # hiredis read an inline command as RESP (a "$..." line after a
            # multibulk): the exact parser takes over from here.
            self._reset_reader()
            self._slow = exact
            return head + cmds
        self._check_after = exact.need - len(exact.buf)
        return out

    def _recover(self, out):
        """hiredis refused the stream: the exact parser takes over the stretch."""
        if not self._tracking:
            self._reset_reader()
            raise ProtocolError("ERR Protocol error: invalid multibulk length", out)
        cmds, error, exact = self._check_stretch(self._returned)
        self._reset_reader()
        if error is not None:
            raise ProtocolError(error, cmds)
        if not exact.idle:
            self._slow = exact
        return cmds

    def _reset_reader(self):
        self._reader = hiredis.Reader()
        self._new_stretch()

    @property
    def buffered(self) -> bool:
        """Bytes are held that a further ``feed(b"")`` may turn into commands.

        Before AUTH the exact parser hands out one command per call, because
        Redis checks each command against the limits in force when it is
        read: ``AUTH pw`` and a large command in one read must both pass.
        """
        return self._slow is not None and bool(self._slow.buf)

    def _feed_slow(self, data: bytes) -> list:
        slow = self._slow
        slow.feed(data)
        # raises ProtocolError with the parsed commands
        out = slow.parse(self.max_bulk, self.authenticated,
                         None if self.authenticated else 1)
        if slow.idle:
            # Back at a boundary with nothing pending: hiredis again.
            self._slow = None
        return out


class _ExactParser:
    """Redis's request grammar (``processInlineBuffer``/``processMultibulkBuffer``).

    Resumable, as Redis is: inside a multibulk it keeps the arguments read
    so far and how many remain, and drops the bytes it has consumed, so a
    frame received in many pieces is parsed once, not again with each piece.
    """

    __slots__ = ("buf", "args", "remaining", "need", "scanned", "nul_in_line", "completed")

    def __init__(self, data=b""):
        # The bytes not consumed yet: the first piece as given (often parsed
        # whole at once), a bytearray once more is appended to it.
        self.buf = data
        self.args = None  # the multibulk being read: its arguments so far
        self.remaining = 0  # and how many are still to come
        # Nothing more can be learnt before the buffer holds this many bytes
        # (the end of a bulk being read, or one more byte of a line).
        self.need = 0
        self.scanned = 0  # an incomplete line holds no terminator before this
        self.nul_in_line = False  # an inline line with a NUL never completes
        self.completed = 0  # commands returned since this parser began

    def feed(self, data) -> None:
        if self.buf.__class__ is bytes:
            self.buf = bytearray(self.buf)
        self.buf += data

    @property
    def idle(self) -> bool:
        """At a frame boundary with nothing held."""
        return not self.buf and self.args is None

    def parse(self, max_bulk: int, authenticated: bool, limit=None) -> list:
        """The commands completed so far, or at most ``limit`` of them."""
        buf = self.buf
        if len(buf) < self.need:
            return []
        self.need = 0
        out = []
        pos = 0
        try:
            while True:
                if self.args is None:
                    if pos >= len(buf) or limit is not None and len(out) >= limit:
                        break
                    if buf[pos] != 42:  # not '*': an inline command
                        cmd, pos = self._inline(pos)
                        if cmd is None:
                            break
                        if cmd:
                            out.append(cmd)
                        continue
                    line, nxt = self._line(pos + 1, "mbulk count string")
                    if line is None:
                        break
                    count = _parse_ll(line)
                    if count is None or count > INT_MAX:
                        raise ProtocolError("ERR Protocol error: invalid multibulk length")
                    if count > UNAUTH_MAX_MULTIBULK and not authenticated:
                        raise ProtocolError(
                            "ERR Protocol error: unauthenticated multibulk length")
                    pos = nxt
                    if count <= 0:
                        continue  # Redis skips empty and negative counts
                    self.args = []
                    self.remaining = count
                pos = self._bulks(pos, max_bulk, authenticated)
                if self.remaining:
                    break
                out.append(self.args)
                self.args = None
        except ProtocolError as exc:
            raise ProtocolError(exc.args[0], out) from None
        finally:
            self.completed += len(out)
            if pos:
                if buf.__class__ is bytes:
                    self.buf = buf[pos:]
                else:
                    del buf[:pos]
                # Positions kept for the next call move with the buffer.
                self.scanned = self.scanned - pos if self.scanned > pos else 0
                self.need = self.need - pos if self.need > pos else 0
        return out

    def _line(self, start: int, what: str):
        """The line from ``start`` to CRLF and the position after it, or (None, start)."""
        buf = self.buf
        scanned = self.scanned
        end = buf.find(b"\r\n", start if start > scanned else scanned)
        if end < 0:
            if len(buf) - start > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("ERR Protocol error: too big %s" % what)
            # The last byte may be the CR of a CRLF still to come.
            self.scanned = start if start > len(buf) - 1 else len(buf) - 1
            self.need = len(buf) + 1
            return None, start
        self.scanned = 0
        return buf[start:end], end + 2

    def _bulks(self, pos: int, max_bulk: int, authenticated: bool) -> int:
        """Read the current multibulk's arguments as far as the buffer goes."""
        buf = self.buf
        n = len(buf)
        args = self.args
        remaining = self.remaining
        while remaining:
            if pos >= n:
                self.need = pos + 1
                break
            if buf[pos] != 36:  # '$'
                raise ProtocolError("ERR Protocol error: expected '$', got '%s'"
                                    % echo(buf[pos : pos + 1]))
            line, nxt = self._line(pos + 1, "bulk count string")
            if line is None:
                break
            size = _parse_ll(line)
            if size is None or size < 0 or size > max_bulk:
                raise ProtocolError("ERR Protocol error: invalid bulk length")
            if size > UNAUTH_MAX_BULK and not authenticated:
                raise ProtocolError("ERR Protocol error: unauthenticated bulk length")
            end = nxt + size
            if end + 2 > n:
                self.need = end + 2
                break
            args.append(bytes(buf[nxt:end]))
            pos = end + 2
            remaining -= 1
        self.remaining = remaining
        return pos

    def _inline(self, pos: int):
        """One inline command and the position after it, or (None, pos)."""
        buf = self.buf
        start = max(pos, self.scanned)
        end = -1 if self.nul_in_line else buf.find(b"\n", start)
        if not self.nul_in_line and buf.find(b"\0", start, end if end >= 0 else len(buf)) >= 0:
            # Redis looks for the newline with strchr: a NUL hides it for good.
            self.nul_in_line = True
            end = -1
        if end < 0:
            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("ERR Protocol error: too big inline request")
            self.scanned = len(buf)
            self.need = len(buf) + 1
            return None, pos
        self.scanned = 0
        line = bytes(buf[pos:end])
        if line.endswith(b"\r"):
            line = line[:-1]
        args = split_inline(line)
        if args is None:
            raise ProtocolError("ERR Protocol error: unbalanced quotes in request")
        return args, end + 1


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
