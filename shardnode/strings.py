"""String commands (Redis's t_string.c): values are ``bytes``.

Each handler checks its arguments in the order Redis does, so that a request
with several mistakes gets the same error as from Redis.  Commands that
change a value in place (APPEND, SETRANGE, INCR ...) store a new ``bytes``
with ``keep_ttl=True``; SET and GETSET drop the TTL as Redis's setKey does.

INCRBYFLOAT computes in 80-bit extended precision (Redis uses C's long
double) with exact rationals, so that ``INCRBYFLOAT k 0.1`` gives "0.1" and
not the 17th digit a double would show.
"""

from fractions import Fraction

from cluster import errors
from cluster.args import parse_int, parse_long_double, round_long_double
from cluster.errors import CommandError
from shardnode.journal import journal_as
from shardnode.notify import GENERIC, STRING, key_misses, notify
from shardnode.registry import handler

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)



def check_string_length(conn, size: int, append: int) -> None:
    """Redis's checkStringLength: a value may not outgrow proto-max-bulk-len."""
    if size + append > conn.server.config.proto_max_bulk_len:
        raise CommandError(errors.STRING_TOO_LONG)


def clamp_range(start: int, end: int, size: int):
    """Redis's index rules for GETRANGE/BITCOUNT/BITPOS: negative indexes
    count from the end, then both are clamped to [0, size-1]."""
    if start < 0:
        start = max(size + start, 0)
    if end < 0:
        end = max(size + end, 0)
    if end >= size:
        end = size - 1
    return start, end


# -- GET / SET family ------------------------------------------------------


@handler("get")
def get(conn, args):
    return conn.db.get_typed(args[1], bytes)


# SET / GETEX option bits (Redis's OBJ_* flags in t_string.c).
_NX, _XX, _GET, _KEEPTTL, _PERSIST, _EX, _PX, _EXAT, _PXAT = (1 << i for i in range(9))
_EXPIRES = _EX | _PX | _EXAT | _PXAT
# Option -> (bit, options it cannot be combined with, takes a value).  SET and GETEX
# each accept their own table; anything else is a syntax error.
_SET_OPTIONS = {
    b"nx": (_NX, _XX, False),
    b"xx": (_XX, _NX, False),
    b"get": (_GET, 0, False),
    b"keepttl": (_KEEPTTL, _PERSIST | _EXPIRES, False),
    b"ex": (_EX, _KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT, True),
    b"px": (_PX, _KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT, True),
    b"exat": (_EXAT, _KEEPTTL | _PERSIST | _EX | _PX | _PXAT, True),
    b"pxat": (_PXAT, _KEEPTTL | _PERSIST | _EX | _EXAT | _PX, True),
}
_GETEX_OPTIONS = {
    b"persist": (_PERSIST, _EXPIRES | _KEEPTTL, False),
    b"ex": _SET_OPTIONS[b"ex"],
    b"px": _SET_OPTIONS[b"px"],
    b"exat": _SET_OPTIONS[b"exat"],
    b"pxat": _SET_OPTIONS[b"pxat"],
}


def parse_string_options(args, start: int, table: dict):
    """Redis's parseExtendedStringArgumentsOrReply: (flags, expire argument).

    An option may repeat (the last expire wins) but not meet one it
    excludes; an expire option without a value is a syntax error.
    """
    flags = 0
    expire = None
    i, argc = start, len(args)
    while i < argc:
        option = table.get(args[i].lower())
        if option is None:
            raise CommandError(errors.SYNTAX)
        bit, excluded, takes_value = option
        if flags & excluded:
            raise CommandError(errors.SYNTAX)
        if takes_value:
            if i + 1 == argc:
                raise CommandError(errors.SYNTAX)
            i += 1
            expire = args[i]
        flags |= bit
        i += 1
    return flags, expire


def expire_deadline(conn, raw: bytes, flags: int, name: str) -> int:
    """Redis's getExpireMillisecondsOrReply: the absolute deadline in ms."""
    when = parse_int(raw)
    if when <= 0 or (flags & (_EX | _EXAT) and when > LLONG_MAX // 1000):
        raise CommandError(errors.INVALID_EXPIRE.format(name))
    if flags & (_EX | _EXAT):
        when *= 1000
    if flags & (_EX | _PX):
        when += conn.server.keyspace.now_ms
        if when > LLONG_MAX:  # wraps negative in C
            raise CommandError(errors.INVALID_EXPIRE.format(name))
    return when


def _set(conn, args, key, value, flags, deadline, ok_reply, abort_reply):
    """Redis's setGenericCommand once the options are parsed.

    Journalled as Redis propagates it: with an expiry as ``SET k v PXAT
    <ms>`` (a replica must not count the TTL from its own clock), else
    without GET (the reply is nobody's business downstream).
    """
    db = conn.db
    old = None
    if flags & _GET:
        old = db.get_typed(key, bytes)
        if old is None:
            key_misses(conn, (key,))
    found = db.get(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if flags & _GET else abort_reply
    db.set(key, value, keep_ttl=bool(flags & _KEEPTTL))
    if deadline is not None:
        db.set_deadline(key, deadline)
        journal_as(conn, [b"SET", key, value, b"PXAT", b"%d" % deadline])
        notify(conn, STRING, b"set", key)
        notify(conn, GENERIC, b"expire", key)
    elif flags & _GET:
        journal_as(conn, args[:3] + [a for a in args[3:] if a.lower() != b"get"])
    return old if flags & _GET else ok_reply


@handler("set")
def set_(conn, args):
    if len(args) == 3:  # the common case: no options
        conn.db.set(args[1], args[2])
        return "OK"
    flags, expire = parse_string_options(args, 3, _SET_OPTIONS)
    deadline = None if expire is None else expire_deadline(conn, expire, flags, "set")
    return _set(conn, args, args[1], args[2], flags, deadline, "OK", None)


@handler("setnx")
def setnx(conn, args):
    return _set(conn, args, args[1], args[2], _NX, None, 1, 0)


@handler("setex")
def setex(conn, args):
    deadline = expire_deadline(conn, args[2], _EX, "setex")
    return _set(conn, args, args[1], args[3], _EX, deadline, "OK", None)


@handler("psetex")
def psetex(conn, args):
    deadline = expire_deadline(conn, args[2], _PX, "psetex")
    return _set(conn, args, args[1], args[3], _PX, deadline, "OK", None)


@handler("getex")
def getex(conn, args):
    """Journalled as the TTL change it made: PEXPIREAT, DEL or PERSIST."""
    flags, expire = parse_string_options(args, 2, _GETEX_OPTIONS)
    db = conn.db
    key = args[1]
    value = db.get_typed(key, bytes)
    if value is None:
        key_misses(conn, (key,))
        return None
    if expire is not None:
        deadline = expire_deadline(conn, expire, flags, "getex")
        if flags & (_EXAT | _PXAT) and deadline <= conn.server.keyspace.now_ms:
            db.delete(key)
            journal_as(conn, [b"DEL", key])
            notify(conn, GENERIC, b"del", key)
        else:
            db.set_deadline(key, deadline)
            journal_as(conn, [b"PEXPIREAT", key, b"%d" % deadline])
            notify(conn, GENERIC, b"expire", key)
    elif flags & _PERSIST and db.persist(key):
        journal_as(conn, [b"PERSIST", key])
        notify(conn, GENERIC, b"persist", key)
    return value


@handler("getdel")
def getdel(conn, args):
    db = conn.db
    value = db.get_typed(args[1], bytes)
    if value is not None:
        db.delete(args[1])
        journal_as(conn, [b"DEL", args[1]])
    else:
        key_misses(conn, args[1:2])
    return value


@handler("getset")
def getset(conn, args):
    db = conn.db
    old = db.get_typed(args[1], bytes)
    if old is None:
        key_misses(conn, args[1:2])
    db.set(args[1], args[2])
    journal_as(conn, [b"SET", args[1], args[2]])  # as Redis propagates GETSET
    return old


@handler("mget")
def mget(conn, args):
    db = conn.db
    out = []
    for key in args[1:]:
        value = db.get(key)
        out.append(value if type(value) is bytes else None)
    return out


@handler("mset")
def mset(conn, args):
    if len(args) % 2 == 0:
        raise CommandError(errors.wrong_arity("mset"))
    db = conn.db
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    return "OK"


@handler("msetnx")
def msetnx(conn, args):
    """All or none; across shards the coordinator makes it one step."""
    if len(args) % 2 == 0:
        raise CommandError(errors.wrong_arity("msetnx"))
    db = conn.db
    for i in range(1, len(args), 2):
        if db.get(args[i]) is not None:
            return 0
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    return 1


# -- in-place edits --------------------------------------------------------


@handler("append")
def append(conn, args):
    db = conn.db
    key, tail = args[1], args[2]
    value = db.get_typed(key, bytes)
    if value is None:
        db.set(key, tail)
        return len(tail)
    check_string_length(conn, len(value), len(tail))
    value += tail
    db.set(key, value, keep_ttl=True)
    return len(value)


@handler("strlen")
def strlen(conn, args):
    value = conn.db.get_typed(args[1], bytes)
    return 0 if value is None else len(value)


def _getrange(conn, args):
    start = parse_int(args[2])
    end = parse_int(args[3])
    value = conn.db.get_typed(args[1], bytes)
    if value is None:
        return b""
    if start < 0 and end < 0 and start > end:
        return b""
    start, end = clamp_range(start, end, len(value))
    if start > end:
        return b""
    return value[start : end + 1]


handler("getrange", "substr")(_getrange)


@handler("setrange")
def setrange(conn, args):
    db = conn.db
    key, patch = args[1], args[3]
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError(errors.OFFSET_OUT_OF_RANGE)
    value = db.get_typed(key, bytes)
    if value is None:
        if not patch:
            return 0
        check_string_length(conn, offset, len(patch))
        db.set(key, bytes(offset) + patch)
        return offset + len(patch)
    if not patch:
        return len(value)
    check_string_length(conn, offset, len(patch))
    value = splice(value, offset, patch)
    db.set(key, value, keep_ttl=True)
    return len(value)


def splice(value: bytes, offset: int, patch: bytes) -> bytes:
    """``value`` with ``patch`` written at ``offset`` (zero bytes fill any
    gap), built in one copy: SETRANGE and SETBIT on big strings."""
    if offset > len(value):
        return b"".join((value, bytes(offset - len(value)), patch))
    view = memoryview(value)
    return b"".join((view[:offset], patch, view[offset + len(patch):]))


# -- counters --------------------------------------------------------------


def _incr_by(conn, key, increment: int) -> int:
    db = conn.db
    value = db.get_typed(key, bytes)
    current = 0 if value is None else parse_int(value)
    new = current + increment
    if not LLONG_MIN <= new <= LLONG_MAX:
        raise CommandError(errors.INCR_OVERFLOW)
    db.set(key, b"%d" % new, keep_ttl=True)
    return new


@handler("incr")
def incr(conn, args):
    return _incr_by(conn, args[1], 1)


@handler("decr")
def decr(conn, args):
    return _incr_by(conn, args[1], -1)


@handler("incrby")
def incrby(conn, args):
    return _incr_by(conn, args[1], parse_int(args[2]))


@handler("decrby")
def decrby(conn, args):
    decrement = parse_int(args[2])
    if decrement == LLONG_MIN:  # negating it overflows
        raise CommandError(errors.DECREMENT_OVERFLOW)
    return _incr_by(conn, args[1], -decrement)


def _long_str(n: int) -> str:
    """str() for non-negative ints beyond Python's 4300-digit guard."""
    if n < 10**4000:
        return str(n)
    high, low = divmod(n, 10**4000)
    return _long_str(high) + str(low).rjust(4000, "0")


def format_long_double(value: Fraction) -> bytes:
    """Redis's ld2string in LD_STR_HUMAN mode: "%.17Lf", trailing zeros and
    a trailing dot removed, "-0" written "0"."""
    scaled = round(value * 10**17)  # half to even, as glibc's printf
    digits = _long_str(abs(scaled)).rjust(18, "0")
    text = (digits[:-17] + "." + digits[-17:]).rstrip("0")
    if text.endswith("."):
        text = text[:-1]
    if value < 0 and text != "0":
        text = "-" + text
    return text.encode()


@handler("incrbyfloat")
def incrbyfloat(conn, args):
    db = conn.db
    key = args[1]
    value = db.get_typed(key, bytes)
    current = Fraction(0) if value is None else parse_long_double(value)
    increment = parse_long_double(args[2])
    if isinstance(current, float) or isinstance(increment, float):
        raise CommandError(errors.NAN_OR_INF)  # an infinity gives inf or NaN
    total = round_long_double(current + increment)
    if isinstance(total, float):
        raise CommandError(errors.NAN_OR_INF)
    text = format_long_double(total)
    db.set(key, text, keep_ttl=True)
    # The result, not the increment: replaying the sum must not depend on
    # the replica's float arithmetic.
    journal_as(conn, [b"SET", key, text, b"KEEPTTL"])
    return text


# -- LCS -------------------------------------------------------------------


class LcsTable:
    """The LCS length table of Redis's lcsCommand, one bit per cell.

    Bit-parallel (Allison-Dix / Hyyro): for each prefix of the shorter
    string, a bit vector over the longer one whose bit ``k`` is clear where
    the LCS grows at position ``k``.  Memory and time: min(len) big-int
    steps of max(len) bits, instead of a Python loop over every cell.
    """

    __slots__ = ("a_is_long", "vectors", "length")

    def __init__(self, a: bytes, b: bytes):
        self.a_is_long = len(a) >= len(b)
        long, short = (a, b) if self.a_is_long else (b, a)
        full = (1 << len(long)) - 1
        masks: dict = {}
        for pos, byte in enumerate(long):
            masks[byte] = masks.get(byte, 0) | (1 << pos)
        vector = full
        self.vectors = vectors = [vector]
        for byte in short:
            match = vector & masks.get(byte, 0)
            vector = ((vector + match) | (vector - match)) & full
            vectors.append(vector)
        self.length = len(long) - vector.bit_count()

    def cell(self, i: int, j: int) -> int:
        """LCS of a[:i] and b[:j]."""
        short_prefix, long_prefix = (j, i) if self.a_is_long else (i, j)
        vector = self.vectors[short_prefix]
        return long_prefix - (vector & ((1 << long_prefix) - 1)).bit_count()


@handler("lcs")
def lcs(conn, args):
    db = conn.db
    a, b = db.get(args[1]), db.get(args[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise CommandError(errors.LCS_NOT_STRINGS)
    a = a or b""
    b = b or b""
    want_len = want_idx = with_match_len = False
    min_match_len = 0
    i, argc = 3, len(args)
    while i < argc:
        option = args[i].lower()
        if option == b"idx":
            want_idx = True
        elif option == b"len":
            want_len = True
        elif option == b"withmatchlen":
            with_match_len = True
        elif option == b"minmatchlen" and i + 1 < argc:
            min_match_len = max(parse_int(args[i + 1]), 0)
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if want_len and want_idx:
        raise CommandError(errors.LCS_LEN_AND_IDX)
    if (len(a) + 1) * (len(b) + 1) * 4 > conn.server.config.proto_max_bulk_len:
        raise CommandError(errors.LCS_TOO_BIG)
    table = LcsTable(a, b)
    if want_len:
        return table.length
    return _lcs_walk(a, b, table, want_idx, min_match_len, with_match_len)


def _lcs_walk(a, b, table, want_idx, min_match_len, with_match_len):
    """Redis's walk back through the table: the LCS string, or the matched
    ranges (latest first) with the same tie-breaks as Redis."""
    cell = table.cell
    alen = len(a)
    out = bytearray(table.length)
    idx = table.length
    matches = []
    unset = alen  # Redis marks "no current range" with alen
    a_start = unset
    a_end = b_start = b_end = 0
    i, j = alen, len(b)
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out[idx - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            up, left = cell(i - 1, j), cell(i, j - 1)
            if up > left:
                i -= 1
            else:
                j -= 1
            if a_start != unset:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if want_idx and (min_match_len == 0 or match_len >= min_match_len):
                entry = [[a_start, a_end], [b_start, b_end]]
                if with_match_len:
                    entry.append(match_len)
                matches.append(entry)
            a_start = unset
    if want_idx:
        return {b"matches": matches, b"len": table.length}
    return bytes(out)
