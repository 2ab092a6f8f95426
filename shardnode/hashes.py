"""Hash commands (Redis's t_hash.c): values are :class:`Hash` objects.

A hash is a ``dict`` of field -> value (both ``bytes``) that remembers its
OBJECT ENCODING.  Redis 7.0 starts every hash as a listpack and converts it,
one way, to a hashtable when a field or value longer than
``hash-max-listpack-value`` is written or the field count passes
``hash-max-listpack-entries``.  A Python dict keeps insertion order and an
update keeps a field's place, which is exactly a listpack's order, so
HGETALL/HKEYS/HVALS/HSCAN of a listpack hash answer in Redis's order.

Handlers check arguments in the order Redis does (an unparsable increment
is reported before WRONGTYPE, HSET's odd argument count before anything), a
hash emptied by HDEL is deleted, and HINCRBYFLOAT is journalled as the HSET
of its result, as Redis propagates it.

DUMP writes a listpack hash as the listpack blob Redis would build (byte for
byte) and a hashtable one as field/value pairs in dict order (Redis's own
order there is its dict's, so only the contents can match).  RESTORE refuses
a payload with a repeated field, which Redis 7.0 accepts unless
sanitize-dump-payload is on.
"""

from __future__ import annotations

import random
from fractions import Fraction

from cluster import errors
from cluster.args import parse_int, parse_long_double, round_long_double
from cluster.cursor import parse_cursor, parse_scan_options, scan_page
from cluster.errors import CommandError
from cluster.glob import matcher
from shardnode.journal import journal_as
from shardnode.rdb import listpack
from shardnode.rdb.constants import TYPE_HASH, TYPE_HASH_LISTPACK, TYPE_HASH_ZIPLIST, TYPE_HASH_ZIPMAP
from shardnode.rdb.ziplist import decode_ziplist, decode_zipmap
from shardnode.rdb.encoding import KEEP_ENCODING, RdbFormatError, RdbReader, RdbWriter
from shardnode.registry import handler
from shardnode.strings import format_long_double
from shardnode.values import PickList, allocation_size, dropping_picks, register

LISTPACK = "listpack"
HASHTABLE = "hashtable"

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1


class Hash(dict):
    """field -> value, with Redis's current encoding and the byte count of
    its fields and values (kept up to date so the size estimate is O(1))."""

    __slots__ = ("encoding", "nbytes", "picks")

    def __init__(self, *args):
        super().__init__(*args)
        self.encoding = LISTPACK
        self.nbytes = sum(len(f) + len(v) for f, v in self.items())
        self.picks = None  # a PickList of the fields once HRANDFIELD needs one

    def pick_list(self) -> PickList:
        if self.picks is None:
            self.picks = PickList(self)
        return self.picks

    def random_field(self):
        picks = self.pick_list()
        return picks.items[picks.live_index(random.random)]

    # The mutators keep the pick list in step (the rare ones drop it).

    def __setitem__(self, field, item) -> None:
        if self.picks is not None and field not in self:
            self.picks.added(field)
        super().__setitem__(field, item)

    def __delitem__(self, field) -> None:
        if self.picks is not None and field in self:
            self.picks.removed(field)
        super().__delitem__(field)

    _MISSING = object()

    def pop(self, field, default=_MISSING):
        if self.picks is not None and field in self:
            self.picks.removed(field)
        if default is Hash._MISSING:
            return super().pop(field)
        return super().pop(field, default)

    vars().update(dropping_picks(dict, "update", "clear", "popitem", "setdefault", "__ior__"))


def hash_size(value: Hash) -> int:
    """An estimate of what Redis allocates: one listpack (two entries per
    field, a few header bytes each) or a dict with an entry and two sds
    strings per field."""
    if value.encoding == LISTPACK:
        return 16 + allocation_size(7 + value.nbytes + 4 * len(value) + 1)
    table = 8 * max(4, 1 << (len(value) - 1).bit_length()) if value else 0
    return 16 + 96 + table + 24 * len(value) + value.nbytes + 8 * len(value)


def copy_hash(value: Hash) -> Hash:
    twin = Hash(value)
    twin.encoding = value.encoding
    return twin


# -- RDB: a listpack hash as one listpack blob, a hashtable one as pairs ------


def _write_listpack(writer: RdbWriter, value: Hash) -> None:
    flat = []
    for field, item in value.items():
        flat.append(field)
        flat.append(item)
    writer.write_string(listpack.encode(flat))


def _write_pairs(writer: RdbWriter, value: Hash) -> None:
    writer.write_length(len(value))
    for field, item in value.items():
        writer.write_string(field)
        writer.write_string(item)


def _loaded(pairs, from_listpack: bool, limits) -> Hash:
    """A restored hash, refused when empty or holding a field twice (Redis
    rejects both), in the encoding Redis's loader picks under ``limits``: a
    listpack stays one unless it has too many fields; pairs become a
    listpack unless too many or one is too long.  KEEP_ENCODING keeps the
    encoding the RDB type names."""
    value = Hash(pairs)
    if not value or len(value) != len(pairs):
        raise RdbFormatError("empty hash or duplicate field")
    if limits is KEEP_ENCODING:
        hashtable = not from_listpack
    else:
        longest = limits.hash_max_listpack_value
        hashtable = len(value) > limits.hash_max_listpack_entries or not from_listpack and \
            any(len(f) > longest or len(v) > longest for f, v in pairs)
    if hashtable:
        value.encoding = HASHTABLE
    return value


def _read_listpack(reader: RdbReader, decode=listpack.decode) -> Hash:
    entries = decode(reader.read_string())
    if len(entries) % 2:
        raise RdbFormatError("hash listpack with an odd entry count")
    return _loaded(list(zip(entries[0::2], entries[1::2])), True, reader.limits)


def _read_ziplist(reader: RdbReader) -> Hash:
    """Redis 6.2's small hash (type 13): converted as a listpack is loaded."""
    return _read_listpack(reader, decode_ziplist)


def _read_zipmap(reader: RdbReader) -> Hash:
    """A hash of Redis < 2.6 (type 9): Redis 7.0 converts it like loose
    pairs, a hashtable when a field or value is too long."""
    return _loaded(decode_zipmap(reader.read_string()), False, reader.limits)


def _read_pairs(reader: RdbReader) -> Hash:
    count = reader.read_length()
    return _loaded([(reader.read_string(), reader.read_string()) for _ in range(count)], False,
                   reader.limits)


register(Hash, "hash", size=hash_size, copy=copy_hash,
         rdb_type=lambda value: TYPE_HASH_LISTPACK if value.encoding == LISTPACK else TYPE_HASH,
         codecs={TYPE_HASH_LISTPACK: (_write_listpack, _read_listpack),
                 TYPE_HASH: (_write_pairs, _read_pairs),
                 TYPE_HASH_ZIPLIST: (None, _read_ziplist),
                 TYPE_HASH_ZIPMAP: (None, _read_zipmap)})


# -- encoding ----------------------------------------------------------------


def _convert_for_lengths(conn, value: Hash, items) -> None:
    """Redis's hashTypeTryConversion: a listpack meeting a field or value
    longer than hash-max-listpack-value becomes a hashtable before the write."""
    if value.encoding == LISTPACK:
        limit = conn.server.config.hash_max_listpack_value
        for item in items:
            if len(item) > limit:
                value.encoding = HASHTABLE
                return


def _store(conn, value: Hash, field: bytes, new: bytes) -> bool:
    """Set one field (Redis's hashTypeSet); True if the field was new.  A
    listpack holding more than hash-max-listpack-entries fields converts."""
    old = value.get(field)
    value[field] = new
    if old is None:
        value.nbytes += len(field) + len(new)
        if value.encoding == LISTPACK and len(value) > conn.server.config.hash_max_listpack_entries:
            value.encoding = HASHTABLE
        return True
    value.nbytes += len(new) - len(old)
    return False


def _write_target(conn, key: bytes) -> Hash:
    """Redis's hashTypeLookupWriteOrCreate: the hash at ``key`` announced for
    an in-place change, or a new empty one stored there."""
    db = conn.db
    value = db.get_typed(key, Hash)
    if value is None:
        value = Hash()
        db.set(key, value)
    else:
        db.touch_write(key)
    return value


# -- writes --------------------------------------------------------------------


@handler("hset", "hmset")
def hset(conn, args):
    if len(args) % 2:
        raise CommandError(errors.wrong_arity(args[0].lower().decode("utf-8", "replace")))
    value = _write_target(conn, args[1])
    _convert_for_lengths(conn, value, args[2:])
    created = 0
    for i in range(2, len(args), 2):
        created += _store(conn, value, args[i], args[i + 1])
    if args[0][1:2] in (b"s", b"S"):
        return created
    return "OK"


@handler("hsetnx")
def hsetnx(conn, args):
    key, field = args[1], args[2]
    value = conn.db.get_typed(key, Hash)
    if value is not None and field in value:
        return 0
    value = _write_target(conn, key)
    _convert_for_lengths(conn, value, args[2:4])
    _store(conn, value, field, args[3])
    return 1


@handler("hdel")
def hdel(conn, args):
    db = conn.db
    key = args[1]
    value = db.get_typed(key, Hash)
    if value is None:
        return 0
    deleted = 0
    for field in args[2:]:
        if field in value:
            if not deleted:
                db.touch_write(key)
            old = value.pop(field)
            value.nbytes -= len(field) + len(old)
            deleted += 1
            if not value:
                db.delete(key)
                break
    return deleted


@handler("hincrby")
def hincrby(conn, args):
    increment = parse_int(args[3])
    key, field = args[1], args[2]
    value = conn.db.get_typed(key, Hash)
    current = 0
    if value is not None:
        old = value.get(field)
        if old is not None:
            current = parse_int(old, errors.HASH_NOT_INTEGER)
    if (increment < 0 and current < 0 and increment < LLONG_MIN - current) or \
            (increment > 0 and current > 0 and increment > LLONG_MAX - current):
        raise CommandError(errors.INCR_OVERFLOW)
    total = current + increment
    value = _write_target(conn, key)
    new = b"%d" % total
    _convert_for_lengths(conn, value, (field, new))
    _store(conn, value, field, new)
    return total


@handler("hincrbyfloat")
def hincrbyfloat(conn, args):
    increment = parse_long_double(args[3])
    if isinstance(increment, float):  # inf or -inf
        raise CommandError(errors.HASH_INCREMENT_NAN_OR_INF)
    key, field = args[1], args[2]
    value = conn.db.get_typed(key, Hash)
    current = Fraction(0)
    if value is not None:
        old = value.get(field)
        if old is not None:
            try:
                current = parse_long_double(old)
            except CommandError:
                raise CommandError(errors.HASH_NOT_FLOAT) from None
    if isinstance(current, float):
        raise CommandError(errors.NAN_OR_INF)
    total = round_long_double(current + increment)
    if isinstance(total, float):
        raise CommandError(errors.NAN_OR_INF)
    text = format_long_double(total)
    value = _write_target(conn, key)
    _convert_for_lengths(conn, value, (field, text))
    _store(conn, value, field, text)
    # The result, not the increment: a replica must not redo float arithmetic.
    journal_as(conn, [b"HSET", key, field, text])
    return text


# -- reads ---------------------------------------------------------------------


@handler("hget")
def hget(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    return None if value is None else value.get(args[2])


@handler("hmget")
def hmget(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    if value is None:
        return [None] * (len(args) - 2)
    get = value.get
    return [get(field) for field in args[2:]]


@handler("hgetall")
def hgetall(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    return {} if value is None else dict(value)


@handler("hkeys")
def hkeys(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    return [] if value is None else list(value)


@handler("hvals")
def hvals(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    return [] if value is None else list(value.values())


@handler("hlen")
def hlen(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    return 0 if value is None else len(value)


@handler("hstrlen")
def hstrlen(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    if value is None:
        return 0
    return len(value.get(args[2], b""))


@handler("hexists")
def hexists(conn, args):
    value = conn.db.get_typed(args[1], Hash)
    return int(value is not None and args[2] in value)


@handler("hrandfield")
def hrandfield(conn, args):
    """Redis's hrandfieldCommand: without a count one field (or nil); with a
    count distinct fields (at most the hash's size), with a negative count
    that many picks with repeats; WITHVALUES pairs each with its value, flat
    in RESP2 and as two-element arrays in RESP3."""
    if len(args) == 2:
        value = conn.db.get_typed(args[1], Hash)
        if value is None:
            return None
        return value.random_field()
    count = parse_int(args[2])
    if count < -LONG_MAX:
        raise CommandError(errors.range_error(-LONG_MAX, LONG_MAX))
    with_values = False
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"withvalues"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 4:
        with_values = True
        if count < -(LONG_MAX // 2) or count > LONG_MAX // 2:
            raise CommandError(errors.OUT_OF_RANGE_VALUE)
    value = conn.db.get_typed(args[1], Hash)
    if value is None or count == 0:
        return []
    # As Redis: the whole hash for a count at least its size, a copy thinned
    # out for more than a third of it (HRANDFIELD_SUB_STRATEGY_MUL), else
    # picks from the pick list, so the work is O(count) in every case.
    if count < 0:
        picks = [value.random_field() for _ in range(-count)]
    elif count >= len(value):
        picks = list(value)
    elif count * 3 > len(value):
        picks = random.sample(list(value), count)
    else:
        picks = value.pick_list().sample(count, random.random)
    if not with_values:
        return picks
    if conn.proto == 2:
        out = []
        for field in picks:
            out.append(field)
            out.append(value[field])
        return out
    return [[field, value[field]] for field in picks]


@handler("hscan")
def hscan(conn, args):
    """A listpack hash comes whole in one page (cursor 0), as in Redis.  A
    hashtable is walked in the order of a 32-bit hash of each field: the
    cursor is the next hash value to visit, so a field present for the whole
    scan is returned at least once whatever else changes meanwhile."""
    cursor = parse_cursor(args[2])
    value = conn.db.get_typed(args[1], Hash)
    if value is None:
        return [b"0", []]
    count, pattern, _kind = parse_scan_options(args, 3)
    match = matcher(pattern) if pattern is not None else None
    if value.encoding == LISTPACK:
        page, cursor = list(value), 0
    else:
        page, cursor = scan_page(value, cursor, count)
    out = []
    for field in page:
        if match is None or match(field):
            out.append(field)
            out.append(value[field])
    return [b"%d" % cursor, out]
