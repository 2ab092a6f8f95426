"""Sorted-set commands (Redis's t_zset.c), on the :class:`SortedSet` value.

A sorted set keeps two views of the same members: ``scores`` (member ->
score, for ZSCORE and membership in O(1)) and ``order``, a
``sortedcontainers.SortedList`` of ``(score, member)`` pairs, which gives
ranks and range bounds in O(log n), the role Redis's skiplist plays.  Pairs
order as Redis orders elements: by score, then by member bytes (memcmp).

The OBJECT ENCODING is state (see shardnode.values): a set starts as
``listpack`` when ZADD creates it with a first member no longer than
zset-max-listpack-value (and entries allowed at all), and becomes
``skiplist`` for good once it holds more than zset-max-listpack-entries
members or one longer than zset-max-listpack-value.  The STORE commands give
their result the compact encoding when it fits, as Redis 7.0 does.

Argument checks run in Redis's order (options, then ranges or scores, then
the key), so a request with several mistakes gets Redis's error.  Scores are
C doubles: NaN is never stored (an increment that would make one fails), and
replies print them as Redis does (``cluster.resp.format_double``).
"""

from __future__ import annotations

import math
import random
import struct

from sortedcontainers import SortedList

from cluster import errors
from cluster.args import (
    LEX_MAX,
    LEX_MIN,
    parse_double,
    parse_int,
    parse_lex_range,
    parse_mpop,
    parse_score_range,
)
from cluster.cursor import parse_cursor, parse_scan_options
from cluster.errors import CommandError
from cluster.glob import compile_glob
from cluster.resp import NULL_ARRAY
from shardnode.journal import journal_as
from shardnode.notify import ZSET, notify
from shardnode.registry import handler
from shardnode.rdb import listpack
from shardnode.rdb.constants import TYPE_ZSET_2, TYPE_ZSET_LISTPACK, TYPE_ZSET_ZIPLIST
from shardnode.rdb.ziplist import decode_ziplist
from shardnode.rdb.encoding import KEEP_ENCODING, RdbFormatError
from shardnode.values import register, type_name

_INF = math.inf
LONG_MAX = 2**63 - 1


class SortedSet:
    """A sorted set: see the module doc.  ``member_bytes`` keeps the size O(1)."""

    __slots__ = ("scores", "order", "encoding", "member_bytes")

    def __init__(self, encoding: str = "listpack"):
        self.scores: dict = {}
        self.order = SortedList()
        self.encoding = encoding
        self.member_bytes = 0

    def __len__(self):
        return len(self.scores)

    def insert(self, member: bytes, score: float) -> None:
        if self.encoding == "listpack":
            score += 0.0  # a listpack keeps -0 as the integer 0
        self.scores[member] = score
        self.order.add((score, member))
        self.member_bytes += len(member)

    def rescore(self, member: bytes, score: float) -> None:
        if self.encoding == "listpack":
            score += 0.0
        self.order.remove((self.scores[member], member))
        self.scores[member] = score
        self.order.add((score, member))

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        self.member_bytes -= len(member)
        return True

    def rank(self, member: bytes) -> int:
        return self.order.bisect_left((self.scores[member], member))

    # -- positions of range bounds ------------------------------------

    def score_span(self, interval) -> tuple:
        """``[start, stop)`` positions of the members whose scores are in ``interval``."""
        order = self.order
        if interval.is_empty():
            return 0, 0
        low = interval.min
        if interval.min_exclusive:
            start = len(order) if low == _INF else order.bisect_left((math.nextafter(low, _INF),))
        else:
            start = order.bisect_left((low,))
        high = interval.max
        if interval.max_exclusive:
            stop = order.bisect_left((high,))
        else:
            stop = len(order) if high == _INF else order.bisect_left((math.nextafter(high, _INF),))
        return start, max(start, stop)

    def lex_span(self, interval, reverse: bool = False) -> tuple:
        """``[start, stop)`` positions of the members inside a lex interval.

        Lex ranges are meant for sets whose scores are all equal; for others
        Redis's answer depends on how it walks the set, and we walk as it does:
        a listpack from one end (the head, or the tail for a reverse range)
        to the first member inside, then on while members stay inside; a
        skiplist by bisection on the member.
        """
        order = self.order
        length = len(order)
        if interval.is_empty() or not length:
            return 0, 0
        if not interval.above_min(order[-1][1]) or not interval.below_max(order[0][1]):
            return 0, 0
        if self.encoding != "listpack":
            start = _bisect_members(order, interval.above_min)
            stop = _bisect_members(order, lambda m: not interval.below_max(m))
            return start, max(start, stop)
        members = [member for _score, member in order]
        if reverse:
            stop = length
            while stop and not interval.below_max(members[stop - 1]):
                stop -= 1
            start = stop
            while start and interval.above_min(members[start - 1]):
                start -= 1
            return start, stop
        start = 0
        while start < length and not interval.above_min(members[start]):
            start += 1
        stop = start
        while stop < length and interval.below_max(members[stop]):
            stop += 1
        return start, stop


def _bisect_members(order, predicate) -> int:
    """The first position whose member satisfies ``predicate`` (monotonic)."""
    low, high = 0, len(order)
    while low < high:
        mid = (low + high) // 2
        if predicate(order[mid][1]):
            high = mid
        else:
            low = mid + 1
    return low


def _copy(zset: SortedSet) -> SortedSet:
    copied = SortedSet(zset.encoding)
    copied.scores = dict(zset.scores)
    copied.order = SortedList(zset.order)
    copied.member_bytes = zset.member_bytes
    return copied


def _size(zset: SortedSet) -> int:
    """An estimate of Redis's bytes: a listpack packs members and scores;
    a skiplist pays a node, a dict entry and an sds per member."""
    count = len(zset.scores)
    if zset.encoding == "listpack":
        return 16 + zset.member_bytes + 12 * count
    return 16 + 96 + zset.member_bytes + 80 * count


# -- RDB forms: ZSET_LISTPACK for listpack sets, ZSET_2 for skiplists ------------


def _score_text(score: float) -> bytes:
    """d2string, as a listpack stores a score: integers (|x| < 2**52, -0
    included) as such, infinities spelled out, others %.17g."""
    if score == _INF:
        return b"inf"
    if score == -_INF:
        return b"-inf"
    if -4503599627370495 < score < 4503599627370496 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


def _write_listpack(writer, zset: SortedSet) -> None:
    items = []
    for score, member in zset.order:
        items.append(member)
        items.append(_score_text(score))
    writer.write_string(listpack.encode(items))


def _read_listpack(reader, decode=listpack.decode) -> SortedSet:
    items = decode(reader.read_string())
    if not items or len(items) % 2:
        raise RdbFormatError("bad sorted set listpack")
    limits = reader.limits  # rdbLoadObject checks a listpack's length only
    fits = limits is KEEP_ENCODING or len(items) // 2 <= limits.zset_max_listpack_entries
    zset = SortedSet("listpack" if fits else "skiplist")
    for member, text in zip(items[::2], items[1::2]):
        score = float(text)
        if score != score or member in zset.scores:
            raise RdbFormatError("bad sorted set listpack entry")
        zset.insert(member, score)
    return zset


def _read_ziplist(reader) -> SortedSet:
    """Redis 6.2's small sorted set (type 12): converted as a listpack is."""
    return _read_listpack(reader, decode_ziplist)


def _write_skiplist(writer, zset: SortedSet) -> None:
    """Length, then member and little-endian double from the highest down
    (Redis saves from the tail so that loading inserts at the head)."""
    writer.write_length(len(zset))
    for score, member in reversed(zset.order):
        writer.write_string(member)
        writer.write_raw(struct.pack("<d", score))


def _read_skiplist(reader) -> SortedSet:
    count = reader.read_length()
    if count == 0:
        raise RdbFormatError("empty sorted set")
    zset = SortedSet("skiplist")
    longest = 0
    for _ in range(count):
        member = reader.read_string()
        score = struct.unpack("<d", reader.read_raw(8))[0]
        if score != score or member in zset.scores:
            raise RdbFormatError("bad sorted set entry")
        zset.insert(member, score)
        longest = max(longest, len(member))
    limits = reader.limits
    if limits is not KEEP_ENCODING and count <= limits.zset_max_listpack_entries and \
            longest <= limits.zset_max_listpack_value:
        zset.encoding = "listpack"
    return zset


def _rdb_type(zset: SortedSet) -> int:
    return TYPE_ZSET_LISTPACK if zset.encoding == "listpack" else TYPE_ZSET_2


register(SortedSet, "zset", size=_size, copy=_copy, rdb_type=_rdb_type,
         codecs={TYPE_ZSET_LISTPACK: (_write_listpack, _read_listpack),
                 TYPE_ZSET_2: (_write_skiplist, _read_skiplist),
                 TYPE_ZSET_ZIPLIST: (None, _read_ziplist)})


# -- encoding thresholds -------------------------------------------------------


def _limits(conn) -> tuple:
    config = conn.server.config
    return config.zset_max_listpack_entries, config.zset_max_listpack_value


def _new_for_zadd(conn, first_member: bytes) -> SortedSet:
    """ZADD/ZINCRBY's new set: compact unless the first member already rules it out."""
    entries, value = _limits(conn)
    return SortedSet("skiplist" if entries == 0 or len(first_member) > value else "listpack")


def _make_room(conn, zset: SortedSet, member: bytes) -> None:
    """Before inserting ``member``: the one-way switch to the skiplist encoding
    when it would not fit the listpack (the new member then goes straight to
    the skiplist, as in Redis's zsetAdd)."""
    if zset.encoding == "listpack":
        entries, value = _limits(conn)
        if len(zset.scores) + 1 > entries or len(member) > value:
            zset.encoding = "skiplist"


def store_result(conn, key: bytes, pairs) -> int:
    """Store ``(member, score)`` pairs at ``key`` (delete it when there are
    none), compact when the result fits; returns the count stored."""
    db = conn.db
    if not pairs:
        db.delete(key)
        return 0
    entries, value = _limits(conn)
    fits = len(pairs) <= entries and max(len(member) for member, _ in pairs) <= value
    zset = SortedSet("listpack" if fits else "skiplist")
    for member, score in pairs:
        zset.insert(member, score)
    db.set(key, zset)
    return len(zset)


# -- replies ---------------------------------------------------------------------


def _pairs_reply(conn, pairs, with_scores: bool) -> list:
    """Members, or members with scores: flat in RESP2, pairs in RESP3."""
    if not with_scores:
        return [member for member, _score in pairs]
    if conn.proto >= 3:
        return [[member, score] for member, score in pairs]
    reply = []
    for member, score in pairs:
        reply.append(member)
        reply.append(score)
    return reply


def _get(conn, key):
    return conn.db.get_typed(key, SortedSet)


def _removed(conn, key: bytes, zset: SortedSet) -> None:
    """A container emptied no longer exists."""
    if not zset.scores:
        conn.db.delete(key)


# -- ZADD / ZINCRBY -----------------------------------------------------------------

_ZADD_FLAGS = {b"nx": "nx", b"xx": "xx", b"ch": "ch", b"incr": "incr", b"gt": "gt", b"lt": "lt"}


@handler("zadd")
def zadd(conn, args):
    options = set()
    index = 2
    while index < len(args):
        flag = _ZADD_FLAGS.get(args[index].lower())
        if flag is None:
            break
        options.add(flag)
        index += 1
    pairs = len(args) - index
    if pairs % 2 or not pairs:
        raise CommandError(errors.SYNTAX)
    if "nx" in options and "xx" in options:
        raise CommandError(errors.ZADD_NX_XX)
    if ("nx" in options and ("gt" in options or "lt" in options)) or \
            ("gt" in options and "lt" in options):
        raise CommandError(errors.ZADD_GT_LT_NX)
    incr = "incr" in options
    if incr and pairs > 2:
        raise CommandError(errors.ZADD_INCR_PAIR)
    scores = [parse_double(args[i]) for i in range(index, len(args), 2)]
    members = args[index + 1::2]
    key = args[1]
    zset = _get(conn, key)
    if zset is None:
        if "xx" in options:
            return None if incr else 0
        zset = _new_for_zadd(conn, members[0])
        conn.db.set(key, zset)
    added = updated = 0
    result = None
    for score, member in zip(scores, members):
        outcome = _add(conn, key, zset, member, score, options, incr)
        if outcome is None:
            continue
        kind, result = outcome
        if kind == "added":
            added += 1
        elif kind == "updated":
            updated += 1
    if incr:
        if added or updated:
            notify(conn, ZSET, b"zincr", key)
        return result
    return added + updated if "ch" in options else added


def _add(conn, key, zset: SortedSet, member: bytes, score: float, options, incr: bool):
    """zsetAdd: None when nothing happened, else (what happened, the new score).

    The key is announced (``touch_write``) only before a real change, so a
    ZADD that changes nothing leaves WATCH and the journal alone, as in Redis.
    """
    current = zset.scores.get(member)
    if current is not None:
        if "nx" in options:
            return None
        if incr:
            score += current
            if score != score:
                raise CommandError(errors.SCORE_NAN)
        if ("lt" in options and score >= current) or ("gt" in options and score <= current):
            return None
        if score != current:
            conn.db.touch_write(key)
            zset.rescore(member, score)
            return "updated", zset.scores[member]
        return "same", score
    if "xx" in options:
        return None
    conn.db.touch_write(key)
    _make_room(conn, zset, member)
    zset.insert(member, score)
    return "added", zset.scores[member]


@handler("zincrby")
def zincrby(conn, args):
    key, member = args[1], args[3]
    increment = parse_double(args[2])
    zset = _get(conn, key)
    if zset is None:
        zset = _new_for_zadd(conn, member)
        conn.db.set(key, zset)
    return _add(conn, key, zset, member, increment, (), True)[1]


# -- ZREM and the range removals ------------------------------------------------------


@handler("zrem")
def zrem(conn, args):
    key = args[1]
    zset = _get(conn, key)
    if zset is None:
        return 0
    present = [m for m in args[2:] if m in zset.scores]
    if not present:
        return 0
    conn.db.touch_write(key)
    removed = sum(zset.remove(m) for m in present)
    _removed(conn, key, zset)
    return removed


def _rank_span(start: int, end: int, length: int):
    """Redis's rank rules: negative ranks count from the end, then clamp;
    None when the range is empty."""
    if start < 0:
        start += length
    if end < 0:
        end += length
    if start < 0:
        start = 0
    if start > end or start >= length:
        return None
    if end >= length:
        end = length - 1
    return start, end + 1


def _remove_span(conn, key, zset, start, stop) -> int:
    if stop <= start:
        return 0
    conn.db.touch_write(key)
    doomed = zset.order[start:stop]
    for _score, member in doomed:
        zset.remove(member)
    _removed(conn, key, zset)
    return len(doomed)


def _parse_ranks(low: bytes, high: bytes) -> tuple:
    return parse_int(low), parse_int(high)


# ZREMRANGEBY*: name -> (parse the bounds, span of a set inside them).  The
# bounds are parsed before the key is read, as in Redis.
_REMOVE_FORMS = {
    "zremrangebyrank": (_parse_ranks,
                        lambda zset, ranks: _rank_span(*ranks, len(zset)) or (0, 0)),
    "zremrangebyscore": (parse_score_range, lambda zset, interval: zset.score_span(interval)),
    "zremrangebylex": (parse_lex_range, lambda zset, interval: zset.lex_span(interval)),
}


@handler(*_REMOVE_FORMS)
def zremrange(conn, args):
    parse, span_of = _REMOVE_FORMS[args[0].lower().decode()]
    bounds = parse(args[2], args[3])
    zset = _get(conn, args[1])
    if zset is None:
        return 0
    return _remove_span(conn, args[1], zset, *span_of(zset, bounds))


# -- single-member reads ------------------------------------------------------------------


@handler("zcard")
def zcard(conn, args):
    zset = _get(conn, args[1])
    return 0 if zset is None else len(zset)


@handler("zscore")
def zscore(conn, args):
    zset = _get(conn, args[1])
    return None if zset is None else zset.scores.get(args[2])


@handler("zmscore")
def zmscore(conn, args):
    zset = _get(conn, args[1])
    if zset is None:
        return [None] * (len(args) - 2)
    scores = zset.scores
    return [scores.get(member) for member in args[2:]]


@handler("zrank", "zrevrank")
def zrank(conn, args):
    zset = _get(conn, args[1])
    if zset is None or args[2] not in zset.scores:
        return None
    rank = zset.rank(args[2])
    return rank if args[0].lower() == b"zrank" else len(zset) - 1 - rank


@handler("zcount")
def zcount(conn, args):
    interval = parse_score_range(args[2], args[3])
    zset = _get(conn, args[1])
    if zset is None:
        return 0
    start, stop = zset.score_span(interval)
    return stop - start


@handler("zlexcount")
def zlexcount(conn, args):
    interval = parse_lex_range(args[2], args[3])
    zset = _get(conn, args[1])
    if zset is None:
        return 0
    start, stop = zset.lex_span(interval)
    return stop - start


# -- ZRANGE and its family ---------------------------------------------------------------

_RANK, _SCORE, _LEX = "rank", "score", "lex"


def _parse_zrange(args, first: int, by, reverse, store: bool):
    """zrangeGenericCommand's options after ``key min max`` at ``args[first:]``:
    returns (kind, reverse, offset, limit, with_scores)."""
    with_scores = False
    offset, limit = 0, -1
    i = first + 3
    while i < len(args):
        word = args[i].lower()
        left = len(args) - i - 1
        if word == b"withscores" and not store:
            with_scores = True
        elif word == b"limit" and left >= 2:
            offset, limit = parse_int(args[i + 1]), parse_int(args[i + 2])
            i += 2
        elif word == b"rev" and reverse is None:
            reverse = True
        elif word == b"bylex" and by is None:
            by = _LEX
        elif word == b"byscore" and by is None:
            by = _SCORE
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    by = by or _RANK
    if limit != -1 and by == _RANK:
        raise CommandError(errors.ZRANGE_LIMIT_NEEDS_BY)
    if with_scores and by == _LEX:
        raise CommandError(errors.ZRANGE_WITHSCORES_BYLEX)
    return by, bool(reverse), offset, limit, with_scores


def _zrange_pairs(conn, key, low_raw, high_raw, by, reverse, offset, limit):
    """The selected (member, score) pairs, or None for a missing key."""
    if reverse and by != _RANK:
        low_raw, high_raw = high_raw, low_raw
    if by == _RANK:
        start, end = parse_int(low_raw), parse_int(high_raw)
    elif by == _SCORE:
        interval = parse_score_range(low_raw, high_raw)
    else:
        interval = parse_lex_range(low_raw, high_raw)
    zset = _get(conn, key)
    if zset is None:
        return None
    order = zset.order
    length = len(order)
    if by == _RANK:
        span = _rank_span(start, end, length)
        if span is None:
            return []
        if reverse:
            span = (length - span[1], length - span[0])
        selected = order[span[0]:span[1]]
        if reverse:
            selected.reverse()
        return [(member, score) for score, member in selected]
    span = zset.score_span(interval) if by == _SCORE else zset.lex_span(interval, reverse)
    if offset < 0 or (offset > 0 and offset >= length):
        return []
    start, stop = span
    if reverse:
        hi = stop - offset
        lo = start if limit < 0 else max(start, hi - limit)
        selected = order[lo:hi] if hi > lo else []
        selected.reverse()
    else:
        lo = start + offset
        hi = stop if limit < 0 else min(stop, lo + limit)
        selected = order[lo:hi] if hi > lo else []
    return [(member, score) for score, member in selected]


def _zrange_reply(conn, args, first: int, by=None, reverse=None):
    by, reverse, offset, limit, with_scores = _parse_zrange(args, first, by, reverse, False)
    pairs = _zrange_pairs(conn, args[first], args[first + 1], args[first + 2], by, reverse,
                          offset, limit)
    return _pairs_reply(conn, pairs or [], with_scores)


# The fixed-form range commands: name -> (range kind, reverse); ZRANGE picks both.
_RANGE_FORMS = {
    "zrange": (None, None),
    "zrevrange": (_RANK, True),
    "zrangebyscore": (_SCORE, False),
    "zrevrangebyscore": (_SCORE, True),
    "zrangebylex": (_LEX, False),
    "zrevrangebylex": (_LEX, True),
}


@handler(*_RANGE_FORMS)
def zrange(conn, args):
    by, reverse = _RANGE_FORMS[args[0].lower().decode()]
    return _zrange_reply(conn, args, 1, by, reverse)


@handler("zrangestore")
def zrangestore(conn, args):
    by, reverse, offset, limit, _ = _parse_zrange(args, 2, None, None, True)
    pairs = _zrange_pairs(conn, args[2], args[3], args[4], by, reverse, offset, limit)
    return store_result(conn, args[1], pairs or [])


# -- pops ----------------------------------------------------------------------------------


def _pop(conn, key, zset, count: int, highest: bool) -> list:
    """Take up to ``count`` members from one end: (member, score) pairs."""
    conn.db.touch_write(key)
    order = zset.order
    count = min(count, len(order))
    taken = order[len(order) - count:][::-1] if highest else order[:count]
    for _score, member in taken:
        zset.remove(member)
    _removed(conn, key, zset)
    return [(member, score) for score, member in taken]


@handler("zpopmin", "zpopmax")
def zpopminmax(conn, args):
    if len(args) > 3:
        raise CommandError(errors.SYNTAX)
    count = None
    if len(args) == 3:
        count = parse_int(args[2], errors.MUST_BE_POSITIVE)
        if count < 0:
            raise CommandError(errors.MUST_BE_POSITIVE)
    zset = _get(conn, args[1])
    if zset is None or count == 0:
        return []
    pairs = _pop(conn, args[1], zset, 1 if count is None else count,
                 args[0].lower() == b"zpopmax")
    if count is not None and conn.proto >= 3:
        return [[member, score] for member, score in pairs]
    return [x for pair in pairs for x in pair]  # flat, also in RESP3 without a count


SIDES = {b"min": False, b"max": True}


def pop_first(conn, keys, highest: bool, count):
    """ZMPOP's core: pop ``count`` members (None: one, BZPOPMIN's way) from
    the first non-empty sorted set among ``keys`` (WRONGTYPE for a key of
    another type met before it); (key, [(member, score)]) or None.
    Journalled as Redis 7.0 propagates it: ZPOPMIN/ZPOPMAX with the count
    actually popped, or without one."""
    for key in keys:
        zset = _get(conn, key)
        if zset is None:
            continue
        pairs = _pop(conn, key, zset, count or 1, highest)
        notify(conn, ZSET, b"zpopmax" if highest else b"zpopmin", key)
        entry = [b"ZPOPMAX" if highest else b"ZPOPMIN", key]
        if count is not None:
            entry.append(b"%d" % len(pairs))
        journal_as(conn, entry)
        return key, pairs
    return None


@handler("zmpop")
def zmpop(conn, args):
    keys, highest, count = parse_mpop(args, 1, SIDES)
    found = pop_first(conn, keys, highest, count or 1)
    if found is None:
        return NULL_ARRAY
    key, pairs = found
    return [key, [[member, score] for member, score in pairs]]


# -- ZRANDMEMBER / ZSCAN -------------------------------------------------------------------


@handler("zrandmember")
def zrandmember(conn, args):
    if len(args) == 2:
        zset = _get(conn, args[1])
        if zset is None:
            return None
        return zset.order[random.randrange(len(zset.order))][1]
    count = parse_int(args[2])
    if count < -LONG_MAX:
        raise CommandError(errors.range_error(-LONG_MAX, LONG_MAX))
    with_scores = False
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"withscores"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 4:
        with_scores = True
        if count < -(LONG_MAX // 2) or count > LONG_MAX // 2:
            raise CommandError(errors.OUT_OF_RANGE_PLAIN)
    zset = _get(conn, args[1])
    if zset is None or count == 0:
        return []
    order = zset.order
    if count < 0:
        picked = [order[random.randrange(len(order))] for _ in range(-count)]
    elif count >= len(order):
        picked = list(reversed(order))  # the whole set, highest first, as Redis 7.0 gives it
    else:
        picked = [order[i] for i in sorted(random.sample(range(len(order)), count))]
        random.shuffle(picked)
    return _pairs_reply(conn, [(member, score) for score, member in picked], with_scores)


@handler("zscan")
def zscan(conn, args):
    """A page of members in score order; the cursor is the next position.

    A listpack set comes back whole in one page with cursor 0, as from
    Redis; a big one pages through its order (Redis pages through a hash
    table, so its cursors and pages differ, but every member present for
    the whole scan is returned).
    """
    cursor = parse_cursor(args[2])
    count, pattern, _ = parse_scan_options(args, 3)
    zset = _get(conn, args[1])
    if zset is None:
        return [b"0", []]
    order = zset.order
    if zset.encoding == "listpack":
        page, cursor = list(order), 0
    else:
        page = order[cursor:cursor + count]
        cursor = cursor + count if cursor + count < len(order) else 0
    match = compile_glob(pattern) if pattern is not None else None
    reply = []
    for score, member in page:
        if match is None or match(member):
            reply.append(member)
            reply.append(score)
    return [b"%d" % cursor, reply]


# -- set operations: ZUNION, ZINTER, ZDIFF, ZINTERCARD and the STORE forms ------------------


def _source_pairs(value):
    """(member, score) of one input: a sorted set, or a set (scores 1)."""
    if value is None:
        return {}
    if type(value) is SortedSet:
        return value.scores
    if type_name(value) == "set":
        return dict.fromkeys(value, 1.0)
    raise CommandError(errors.WRONGTYPE)


def _aggregate(how: str, a: float, b: float) -> float:
    """zunionInterAggregate: a NaN sum (inf + -inf) counts as 0; MIN and MAX
    keep the running value when the new one is NaN (C comparisons)."""
    if how == "sum":
        total = a + b
        return 0.0 if total != total else total
    if how == "min":
        return b if b < a else a
    return b if b > a else a


def _set_operation(conn, args, numkeys_at: int, op: str, store: bool, card: bool = False):
    """zunionInterDiffGenericCommand: (result pairs in order, with_scores, limit)."""
    name = args[0].lower().decode()
    count = parse_int(args[numkeys_at])
    if count < 1:
        raise CommandError(errors.ZSET_NEEDS_KEY % name)
    if count > len(args) - numkeys_at - 1:
        raise CommandError(errors.SYNTAX)
    keys = args[numkeys_at + 1:numkeys_at + 1 + count]
    sources = [_source_pairs(conn.db.get(key)) for key in keys]
    weights = [1.0] * count
    how, with_scores, limit = "sum", False, 0
    i = numkeys_at + 1 + count
    while i < len(args):
        word = args[i].lower()
        left = len(args) - i
        if op != "diff" and not card and left >= count + 1 and word == b"weights":
            weights = [parse_double(w, errors.WEIGHT_NOT_FLOAT)
                       for w in args[i + 1:i + 1 + count]]
            i += 1 + count
        elif op != "diff" and not card and left >= 2 and word == b"aggregate":
            how = args[i + 1].lower().decode("utf-8", "replace")
            if how not in ("sum", "min", "max"):
                raise CommandError(errors.SYNTAX)
            i += 2
        elif not store and not card and word == b"withscores":
            with_scores = True
            i += 1
        elif card and left >= 2 and word == b"limit":
            limit = parse_int(args[i + 1])
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    if op == "diff":
        first, rest = sources[0], sources[1:]
        result = {m: s for m, s in first.items() if not any(m in other for other in rest)}
    else:
        weighted = sorted(zip(sources, weights), key=lambda sw: len(sw[0]))
        result = {}
        if op == "inter":
            smallest, weight = weighted[0]
            for member, score in smallest.items():
                total = _weighted(score, weight)
                for other, other_weight in weighted[1:]:
                    other_score = other.get(member)
                    if other_score is None:
                        break
                    # Only the first source's product is cleared of NaN (0 * inf).
                    total = _aggregate(how, total, other_score * other_weight)
                else:
                    result[member] = total
                    if card and limit and len(result) >= limit:
                        break
        else:
            for source, weight in weighted:
                for member, score in source.items():
                    value = _weighted(score, weight)
                    if member in result:
                        result[member] = _aggregate(how, result[member], value)
                    else:
                        result[member] = value
    ordered = sorted(result.items(), key=lambda pair: (pair[1], pair[0]))
    return ordered, with_scores


def _weighted(score: float, weight: float) -> float:
    value = score * weight
    return 0.0 if value != value else value


@handler("zunion", "zinter", "zdiff")
def zunion_inter_diff(conn, args):
    op = args[0].lower().decode()[1:]
    pairs, with_scores = _set_operation(conn, args, 1, op, False)
    return _pairs_reply(conn, pairs, with_scores)


@handler("zunionstore", "zinterstore", "zdiffstore")
def zstore(conn, args):
    op = args[0].lower().decode()[1:-5]
    pairs, _ = _set_operation(conn, args, 2, op, True)
    return store_result(conn, args[1], pairs)


@handler("zintercard")
def zintercard(conn, args):
    pairs, _ = _set_operation(conn, args, 1, "inter", False, card=True)
    return len(pairs)


__all__ = ["SortedSet", "LEX_MIN", "LEX_MAX"]
