"""Set commands (Redis's t_set.c) and the set value type.

A set is a :class:`RedisSet` (a Python ``set`` of bytes) that remembers the
OBJECT ENCODING Redis 7.0 would give it: ``intset`` while every member reads
as a 64-bit integer (string2ll's strict form) and there are at most
``set_max_intset_entries`` of them, ``hashtable`` from the first member that
breaks either rule on; the conversion is one way, as in Redis.  Redis 7.2
added a ``listpack`` encoding for small sets of strings; 7.0, the reference
here, has none, so neither do we.

Reply order: an intset is kept sorted by Redis, so the members of an
intset-encoded set are listed in ascending numeric order, as redis-server
lists them; a hashtable's order is unspecified in Redis and is Python's here.

RDB: an intset is written as RDB_TYPE_SET_INTSET (Redis's intset blob:
element width, count, sorted little-endian integers), a hashtable as
RDB_TYPE_SET (count, then each member); both are read back with the
encoding Redis's loader would choose.
"""

from __future__ import annotations

import random
import struct

from cluster import errors
from cluster.args import parse_int
from cluster.cursor import parse_cursor, parse_scan_options, scan_page
from cluster.errors import CommandError
from cluster.glob import matcher
from cluster.resp import SetReply
from shardnode.journal import journal_as
from shardnode.notify import SET, notify
from shardnode.rdb.constants import TYPE_SET, TYPE_SET_INTSET
from shardnode.rdb.encoding import KEEP_ENCODING, RdbReader, RdbWriter
from shardnode.registry import handler
from shardnode.values import PickList, allocation_size, dropping_picks, register

INTSET = "intset"
HASHTABLE = "hashtable"
_LOAD_INTSET_CAP = 1 << 30  # rdbLoadObject caps set-max-intset-entries at this
_ROBJ = 16
_I64 = 2**63


class RedisSet(set):
    """A set value; ``encoding`` is its OBJECT ENCODING (see module doc).

    ``picks`` is a :class:`PickList` once SPOP or SRANDMEMBER has needed a
    random member: the mutators below keep it in step (the rarely used ones
    just drop it, to be rebuilt on the next random pick).
    """

    __slots__ = ("encoding", "picks")

    def __init__(self, members=(), encoding: str = INTSET):
        super().__init__(members)
        self.encoding = encoding
        self.picks = None

    def pick_list(self) -> PickList:
        if self.picks is None:
            self.picks = PickList(self)
        return self.picks

    def add(self, member) -> None:
        if self.picks is not None and member not in self:
            self.picks.added(member)
        super().add(member)

    def update(self, *others) -> None:
        picks = self.picks
        if picks is None:
            return super().update(*others)
        add = super().add
        for other in others:
            for member in other:
                if member not in self:
                    add(member)
                    picks.added(member)

    def discard(self, member) -> None:
        if self.picks is not None and member in self:
            self.picks.removed(member)
        super().discard(member)

    def remove(self, member) -> None:
        if self.picks is not None and member in self:
            self.picks.removed(member)
        super().remove(member)

    def difference_update(self, *others) -> None:
        if self.picks is None:
            return super().difference_update(*others)
        for other in others:
            for member in other:
                self.discard(member)

    vars().update(dropping_picks(
        set, "pop", "clear", "intersection_update", "symmetric_difference_update",
        "__ior__", "__isub__", "__iand__", "__ixor__"))

    def pop_random(self):
        """Remove and return a uniformly random member, in O(1)."""
        picks = self.pick_list()
        member = picks.take(picks.live_index(random.random))
        super().discard(member)
        return member

    def random_member(self):
        picks = self.pick_list()
        return picks.items[picks.live_index(random.random)]


def is_int(member: bytes) -> bool:
    """Redis's string2ll: ``member`` is a canonical 64-bit decimal integer."""
    if not member or len(member) > 20:
        return False
    body = member[1:] if member[:1] == b"-" else member
    if not body.isdigit() or (body[:1] == b"0" and member != b"0"):
        return False
    return -_I64 <= int(member) < _I64


def settle_encoding(value: RedisSet, limit: int) -> None:
    """Switch an intset to hashtable once it holds a non-integer or more than
    ``limit`` members (setTypeAdd's conversion; never back)."""
    if value.encoding == INTSET and (len(value) > limit or not all(map(is_int, value))):
        value.encoding = HASHTABLE


def new_set(members, limit: int) -> RedisSet:
    """A set built by adding ``members`` to an empty intset, as Redis builds
    SADD's, SINTERSTORE's ... results."""
    value = RedisSet(members)
    settle_encoding(value, limit)
    return value


def ordered(value: RedisSet) -> list:
    """Members in the order Redis lists them (sorted numerically for an intset)."""
    if value.encoding == INTSET:
        return sorted(value, key=int)
    return list(value)


def _limit(conn) -> int:
    return conn.server.config.set_max_intset_entries


# -- value layer -------------------------------------------------------------


def _size(value: RedisSet) -> int:
    """An estimate of Redis's bytes: an intset's blob (8-byte members assumed);
    a hashtable's table and entries, with each member as a short sds."""
    n = len(value)
    if value.encoding == INTSET:
        return _ROBJ + allocation_size(8 + 8 * n)
    buckets = 1 << max(2, (n - 1).bit_length())
    return _ROBJ + 96 + 8 * buckets + n * (24 + 32)


def _copy(value: RedisSet) -> RedisSet:
    return RedisSet(value, value.encoding)


def _rdb_type(value: RedisSet) -> int:
    return TYPE_SET_INTSET if value.encoding == INTSET else TYPE_SET


def _write_hashtable(writer: RdbWriter, value: RedisSet) -> None:
    writer.write_length(len(value))
    for member in value:
        writer.write_string(member)


def _read_hashtable(reader: RdbReader) -> RedisSet:
    count = reader.read_length()
    if count == 0:
        raise ValueError("empty set")
    members = [reader.read_string() for _ in range(count)]
    value = RedisSet(members, HASHTABLE)
    if len(value) != count:
        raise ValueError("duplicate set members")
    limits = reader.limits
    if limits is not KEEP_ENCODING:
        # rdbLoadObject: an intset unless too many members (its cap at 2**30
        # included) or one that is not an integer.
        limit = min(limits.set_max_intset_entries, _LOAD_INTSET_CAP)
        value.encoding = INTSET if count <= limit else HASHTABLE
        settle_encoding(value, limit)
    return value


_WIDTH_FORMAT = {2: "h", 4: "i", 8: "q"}


def _write_intset(writer: RdbWriter, value: RedisSet) -> None:
    numbers = sorted(map(int, value))
    low, high = numbers[0], numbers[-1]
    if -2**15 <= low and high < 2**15:
        width = 2
    elif -2**31 <= low and high < 2**31:
        width = 4
    else:
        width = 8
    blob = struct.pack("<II%d%s" % (len(numbers), _WIDTH_FORMAT[width]),
                       width, len(numbers), *numbers)
    writer.write_string(blob)


def _read_intset(reader: RdbReader) -> RedisSet:
    blob = reader.read_string()
    if len(blob) < 8:
        raise ValueError("intset too short")
    width, count = struct.unpack_from("<II", blob)
    fmt = _WIDTH_FORMAT.get(width)
    if fmt is None or count == 0 or len(blob) != 8 + width * count:
        raise ValueError("malformed intset")
    numbers = struct.unpack_from("<%d%s" % (count, fmt), blob, 8)
    if any(a >= b for a, b in zip(numbers, numbers[1:])):
        raise ValueError("intset not sorted")
    value = RedisSet(b"%d" % n for n in numbers)
    limits = reader.limits
    if limits is not KEEP_ENCODING and count > limits.set_max_intset_entries:
        value.encoding = HASHTABLE
    return value


register(RedisSet, "set", size=_size, copy=_copy, rdb_type=_rdb_type,
         codecs={TYPE_SET: (_write_hashtable, _read_hashtable),
                 TYPE_SET_INTSET: (_write_intset, _read_intset)})


# -- single-key commands -------------------------------------------------------


def _get(conn, key):
    return conn.db.get_typed(key, RedisSet)


@handler("sadd")
def sadd(conn, args):
    db = conn.db
    key = args[1]
    value = _get(conn, key)
    members = args[2:]
    if value is None:
        value = new_set(members, _limit(conn))
        db.set(key, value)
        return len(value)
    before = len(value)
    new = [m for m in members if m not in value]
    if not new:
        return 0
    db.touch_write(key)
    value.update(new)
    if value.encoding == INTSET and (len(value) > _limit(conn) or not all(map(is_int, new))):
        value.encoding = HASHTABLE
    return len(value) - before


def _remove(conn, key, value, members) -> int:
    """Remove ``members`` from the stored ``value``; delete the key once empty."""
    present = [m for m in set(members) if m in value]
    if not present:
        return 0
    conn.db.touch_write(key)
    value.difference_update(present)
    if not value:
        conn.db.delete(key)
    return len(present)


@handler("srem")
def srem(conn, args):
    value = _get(conn, args[1])
    if value is None:
        return 0
    return _remove(conn, args[1], value, args[2:])


@handler("smembers")
def smembers(conn, args):
    value = _get(conn, args[1])
    return SetReply(ordered(value)) if value is not None else SetReply()


@handler("sismember")
def sismember(conn, args):
    value = _get(conn, args[1])
    return int(value is not None and args[2] in value)


@handler("smismember")
def smismember(conn, args):
    value = _get(conn, args[1]) or ()
    return [int(m in value) for m in args[2:]]


@handler("scard")
def scard(conn, args):
    value = _get(conn, args[1])
    return len(value) if value is not None else 0


# SPOP with a count pops at random while the set keeps more than a fifth of
# the count; past that, Redis 7.0 picks the members that stay instead and
# builds a new set of them (spopWithCountCommand's SPOP_MOVE_STRATEGY_MUL),
# so an intset can come back from a hashtable.  SRANDMEMBER with a count
# above a third of the set copies it (SRANDMEMBER_SUB_STRATEGY_MUL); both are
# O(count) then, and the pick list keeps the other cases O(count) as well.
_SPOP_MOVE_STRATEGY_MUL = 5
_SRANDMEMBER_SUB_STRATEGY_MUL = 3


@handler("spop")
def spop(conn, args):
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    key = args[1]
    if len(args) == 2:
        value = _get(conn, key)
        if value is None:
            return None
        conn.db.touch_write(key)
        member = value.pop_random()
        if not value:
            conn.db.delete(key)
        journal_as(conn, [b"SREM", key, member])
        return member
    count = parse_int(args[2], errors.MUST_BE_POSITIVE)
    if count < 0:
        raise CommandError(errors.MUST_BE_POSITIVE)
    value = _get(conn, key)
    if value is None or count == 0:
        return SetReply()
    if count >= len(value):
        popped = ordered(value)
        conn.db.delete(key)
        journal_as(conn, [b"DEL", key])
        return SetReply(popped)
    conn.db.touch_write(key)
    remaining = len(value) - count
    if remaining * _SPOP_MOVE_STRATEGY_MUL > count:
        popped = [value.pop_random() for _ in range(count)]
    else:
        kept = [value.pop_random() for _ in range(remaining)]
        popped = list(value)
        value.clear()
        value.update(kept)
        value.encoding = INTSET
        settle_encoding(value, _limit(conn))
    entries = [[b"SREM", key, member] for member in popped]
    if len(entries) > 1:  # 7.0 wraps its several SREMs as one transaction
        entries = [[b"MULTI"], *entries, [b"EXEC"]]
    journal_as(conn, *entries)
    return SetReply(popped)


@handler("srandmember")
def srandmember(conn, args):
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        value = _get(conn, args[1])
        if value is None:
            return None
        return value.random_member()
    count = parse_int(args[2])
    if count < -(_I64 - 1):
        raise CommandError(errors.LONG_OUT_OF_RANGE)
    value = _get(conn, args[1])
    if value is None or count == 0:
        return []
    if count < 0:
        return [value.random_member() for _ in range(-count)]
    if count >= len(value):
        return ordered(value)
    if count * _SRANDMEMBER_SUB_STRATEGY_MUL > len(value):
        return random.sample(tuple(value), count)
    return value.pick_list().sample(count, random.random)


@handler("smove")
def smove(conn, args):
    db = conn.db
    src_key, dst_key, member = args[1], args[2], args[3]
    src = db.get(src_key)
    dst = db.get(dst_key)
    if src is None:
        return 0
    if type(src) is not RedisSet or (dst is not None and type(dst) is not RedisSet):
        raise CommandError(errors.WRONGTYPE)
    if src is dst:
        return int(member in src)
    if member not in src:
        return 0
    _remove(conn, src_key, src, (member,))
    notify(conn, SET, b"srem", src_key)
    if dst is None:
        db.set(dst_key, new_set((member,), _limit(conn)))
    elif member not in dst:
        db.touch_write(dst_key)
        dst.add(member)
        if dst.encoding == INTSET and (len(dst) > _limit(conn) or not is_int(member)):
            dst.encoding = HASHTABLE
    else:
        return 1
    notify(conn, SET, b"sadd", dst_key)
    return 1


# -- SSCAN -----------------------------------------------------------------------



@handler("sscan")
def sscan(conn, args):
    """An intset is returned whole with cursor 0 (as Redis does for compact
    encodings); a hashtable is walked in CRC-32 order (cluster.cursor.scan_page),
    so a member present for the whole walk is returned."""
    cursor = parse_cursor(args[2])
    value = _get(conn, args[1])
    if value is None:
        return [b"0", []]
    count, pattern, _ = parse_scan_options(args, 3)
    match = matcher(pattern) if pattern is not None else None
    if value.encoding == INTSET:
        page, cursor = ordered(value), 0
    else:
        page, cursor = scan_page(value, cursor, count)
    if match is not None:
        page = [m for m in page if match(m)]
    return [b"%d" % cursor, page]


# -- several sets ------------------------------------------------------------------


def _sets(conn, keys) -> list:
    """Each key's set (None for a missing key); WRONGTYPE if any is not a set."""
    return [_get(conn, key) for key in keys]


def _intersection(sets: list, limit: int = 0) -> list:
    """Members of every set, walked in the smallest set's order (Redis sorts
    the sets by size and walks the first); ``limit`` > 0 stops early."""
    if not sets or any(s is None for s in sets):
        return []
    sets = sorted(sets, key=len)
    first, others = sets[0], sets[1:]
    out = []
    for member in ordered(first):
        if all(member in s for s in others):
            out.append(member)
            if limit and len(out) >= limit:
                break
    return out


def _union(sets: list) -> set:
    out = set()
    for s in sets:
        if s is not None:
            out |= s
    return out


def _difference(sets: list) -> set:
    if not sets or sets[0] is None:
        return set()
    out = set(sets[0])
    for s in sets[1:]:
        if s is not None:
            out -= s
            if not out:
                break
    return out


def _store(conn, args, members) -> int:
    """Write the result of a *STORE command: replace the destination, or
    delete it for an empty result (then nothing is journalled unless the
    destination existed, as Redis 7.0 propagates it)."""
    db = conn.db
    if members:
        db.set(args[1], new_set(members, _limit(conn)))
    else:
        db.delete(args[1])
    return len(members)


@handler("sinter")
def sinter(conn, args):
    return SetReply(_intersection(_sets(conn, args[1:])))


@handler("sinterstore")
def sinterstore(conn, args):
    sets = _sets(conn, args[2:])
    if any(s is None for s in sets):  # Redis's early exit: a write only if dst existed
        conn.db.delete(args[1])
        return 0
    return _store(conn, args, _intersection(sets))


@handler("sintercard")
def sintercard(conn, args):
    numkeys = parse_int(args[1], errors.NUMKEYS_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_POSITIVE)
    if numkeys > len(args) - 2:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].lower() == b"limit" and i + 1 < len(args):
            limit = parse_int(args[i + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return len(_intersection(_sets(conn, args[2:2 + numkeys]), limit))


def _reply(members, conn) -> SetReply:
    """A computed result listed as Redis lists its temporary result set."""
    return SetReply(ordered(new_set(members, _limit(conn))))


@handler("sunion")
def sunion(conn, args):
    return _reply(_union(_sets(conn, args[1:])), conn)


@handler("sunionstore")
def sunionstore(conn, args):
    return _store(conn, args, _union(_sets(conn, args[2:])))


@handler("sdiff")
def sdiff(conn, args):
    return _reply(_difference(_sets(conn, args[1:])), conn)


@handler("sdiffstore")
def sdiffstore(conn, args):
    return _store(conn, args, _difference(_sets(conn, args[2:])))
