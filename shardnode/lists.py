"""List commands (Redis's t_list.c): values are :class:`List` objects.

A list is a ``collections.deque`` of ``bytes``: push and pop at both ends
are O(1); LINDEX/LSET walk from the nearer end, as a quicklist does; LRANGE
slices lazily (itertools.islice), from the nearer end, so the first 100 of a
long list cost 100 steps.  Redis 7.0 keeps every list as a quicklist (the
listpack encoding for small lists came in 7.2), so OBJECT ENCODING always
answers "quicklist".  A list remembers ``list-max-listpack-size`` and
``list-compress-depth`` as they were when it was created (Redis's
quicklistSetOptions at creation), because those decide how DUMP cuts it into
nodes (:mod:`shardnode.rdb.quicklist`); a list loaded by RESTORE takes the
defaults, as no connection is at hand there.

Handlers check arguments in Redis's order (LRANGE's indexes before the key,
LSET's key before its index), a list emptied by a pop, LREM, LTRIM or LMOVE
is deleted, and the pops are journalled as Redis 7.0 propagates them.

The pops and the move are one piece each, :func:`pop_first` and
:func:`move`: LPOP/RPOP/LMPOP and LMOVE/RPOPLPUSH use them, and so do the
blocking commands (shardnode/blocking.py) when they are served.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from cluster import errors
from cluster.args import parse_int, parse_mpop
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY
from shardnode.journal import journal_as
from shardnode.notify import LIST, notify
from shardnode.rdb import quicklist
from shardnode.rdb.constants import (
    TYPE_LIST,
    TYPE_LIST_QUICKLIST,
    TYPE_LIST_QUICKLIST_2,
    TYPE_LIST_ZIPLIST,
)
from shardnode.rdb.encoding import RdbFormatError
from shardnode.registry import handler
from shardnode.values import allocation_size, register
from shardnode.zsets import _rank_span as rank_span  # Redis's one rule for index ranges

QUICKLIST = "quicklist"
DEFAULT_FILL = -2  # list-max-listpack-size
DEFAULT_COMPRESS_DEPTH = 0  # list-compress-depth
_NODE_BYTES = 8192  # a node's listpack under the default fill


class List(deque):
    """The elements, the byte count of all of them (kept up to date, so the
    size estimate is O(1)), and the quicklist options of its creation."""

    __slots__ = ("nbytes", "fill", "compress_depth")

    def __init__(self, elements=(), fill: int = DEFAULT_FILL,
                 compress_depth: int = DEFAULT_COMPRESS_DEPTH):
        super().__init__(elements)
        self.nbytes = sum(map(len, self))
        self.fill = fill
        self.compress_depth = compress_depth


def list_size(value: List) -> int:
    """An estimate of what Redis allocates: the robj (16), the quicklist
    header (40, in a 48-byte class), then per 8 KB node a node header (32)
    and its listpack (each entry about its bytes + 2).  Three short
    elements come to 112, MEMORY USAGE's figure without the key's share."""
    payload = value.nbytes + 2 * len(value)
    node_count = payload // _NODE_BYTES + 1
    return 16 + 48 + 32 * node_count + allocation_size(7 * node_count + payload)


def copy_list(value: List) -> List:
    return List(value, value.fill, value.compress_depth)


def _write_quicklist(writer, value: List) -> None:
    quicklist.write(writer, value, value.fill, value.compress_depth)


def _loaded(read):
    """A reader of one RDB list form giving a :class:`List`; an empty list is
    refused, as Redis refuses it."""
    def read_list(reader):
        elements = read(reader)
        if not elements:
            raise RdbFormatError("empty list")
        return List(elements)
    return read_list


register(List, "list", encoding=lambda value: QUICKLIST, size=list_size, copy=copy_list,
         rdb_type=TYPE_LIST_QUICKLIST_2,
         codecs={TYPE_LIST_QUICKLIST_2: (_write_quicklist, _loaded(quicklist.read)),
                 TYPE_LIST_QUICKLIST: (None, _loaded(quicklist.read_ziplist_nodes)),
                 TYPE_LIST_ZIPLIST: (None, _loaded(quicklist.read_ziplist)),
                 TYPE_LIST: (None, _loaded(quicklist.read_plain))})


# -- lookups and changes ---------------------------------------------------------


def _new_list(conn) -> List:
    config = conn.server.config
    return List((), config.list_max_listpack_size, config.list_compress_depth)


def _push(value: List, elements, left: bool) -> None:
    if left:
        value.extendleft(elements)
    else:
        value.extend(elements)
    value.nbytes += sum(map(len, elements))


def _take(value: List, count: int, left: bool) -> list:
    """Remove ``count`` (<= len) elements from one end, in popping order."""
    pop = value.popleft if left else value.pop
    taken = [pop() for _ in range(count)]
    value.nbytes -= sum(map(len, taken))
    return taken


def _emptied(conn, key: bytes, value: List) -> None:
    if not value:
        conn.db.delete(key)


# -- the two shared pieces: popping and moving -----------------------------------


def pop_first(conn, keys, left: bool, count: int | None, *, journal: bool = True):
    """LMPOP's core: the first key of ``keys`` (in order) holding a non-empty
    list; pops ``count`` elements (None: one element, the reply form of LPOP
    without a count) from its left/right end, deletes the key if emptied, and
    journals ``LPOP/RPOP key [count]`` as Redis 7.0 propagates (B)LMPOP and
    BLPOP (the count actually popped); ``journal=False`` leaves the command
    journalled as sent (LPOP/RPOP themselves).  Returns ``(key, popped)``,
    popped a list of bytes (one bytes when ``count`` is None), or None when
    every key is missing.  WRONGTYPE for a key of another type met before a
    list."""
    db = conn.db
    for key in keys:
        value = db.get_typed(key, List)
        if not value:
            continue
        db.touch_write(key)
        taken = _take(value, 1 if count is None else min(count, len(value)), left)
        notify(conn, LIST, b"lpop" if left else b"rpop", key)
        _emptied(conn, key, value)
        if journal:
            entry = [b"LPOP" if left else b"RPOP", key]
            if count is not None:
                entry.append(b"%d" % len(taken))
            journal_as(conn, entry)
        return key, (taken[0] if count is None else taken)
    return None


def move(conn, source: bytes, destination: bytes, from_left: bool, to_left: bool, *,
         journal: bool = True):
    """LMOVE's core: pop from ``source``, push to ``destination`` (created if
    missing; WRONGTYPE for it only once the source is known to be a list),
    delete ``source`` if emptied, journal ``LMOVE source destination
    LEFT|RIGHT LEFT|RIGHT`` as Redis 7.0 propagates a served BLMOVE
    (``journal=False``: as sent, for LMOVE/RPOPLPUSH themselves).  Returns
    the moved element, or None when the source is missing.  Source and
    destination may be the same list (a rotation)."""
    db = conn.db
    value = db.get_typed(source, List)
    if not value:
        return None
    target = db.get_typed(destination, List)
    db.touch_write(source)
    element = _take(value, 1, from_left)[0]
    if target is None:
        target = _new_list(conn)
        db.set(destination, target)
    elif destination != source:
        db.touch_write(destination)
    _push(target, (element,), to_left)
    notify(conn, LIST, b"lpush" if to_left else b"rpush", destination)
    notify(conn, LIST, b"lpop" if from_left else b"rpop", source)
    _emptied(conn, source, value)
    if journal:
        journal_as(conn, [b"LMOVE", source, destination, b"LEFT" if from_left else b"RIGHT",
                          b"LEFT" if to_left else b"RIGHT"])
    return element


def side(raw: bytes) -> bool:
    """getListPositionFromObjectOrReply: LEFT (True) or RIGHT, else a syntax error."""
    word = raw.lower()
    if word == b"left":
        return True
    if word == b"right":
        return False
    raise CommandError(errors.SYNTAX)


# -- pushes ------------------------------------------------------------------------


@handler("lpush", "rpush", "lpushx", "rpushx")
def push(conn, args):
    """LPUSH/RPUSH create a missing list; LPUSHX/RPUSHX leave it missing (0)."""
    db = conn.db
    key = args[1]
    value = db.get_typed(key, List)
    if value is None:
        if len(args[0]) == 6:  # the X forms
            return 0
        value = _new_list(conn)
        db.set(key, value)
    else:
        db.touch_write(key)
    _push(value, args[2:], args[0][:1] in (b"l", b"L"))
    return len(value)


# -- pops and moves ------------------------------------------------------------------


@handler("lpop", "rpop")
def pop(conn, args):
    if len(args) > 3:
        raise CommandError(errors.wrong_arity(args[0].lower().decode("utf-8", "replace")))
    count = None
    if len(args) == 3:
        count = parse_int(args[2], errors.MUST_BE_POSITIVE)
        if count < 0:
            raise CommandError(errors.MUST_BE_POSITIVE)
    key = args[1]
    if count == 0:
        value = conn.db.get_typed(key, List)
        return NULL_ARRAY if value is None else []
    found = pop_first(conn, (key,), args[0][:1] in (b"l", b"L"), count, journal=False)
    if found is None:
        return None if count is None else NULL_ARRAY
    return found[1]


SIDES = {b"left": True, b"right": False}


@handler("lmpop")
def lmpop(conn, args):
    keys, left, count = parse_mpop(args, 1, SIDES)
    found = pop_first(conn, keys, left, count or 1)
    if found is None:
        return NULL_ARRAY
    return [found[0], found[1]]


@handler("lmove")
def lmove(conn, args):
    from_left = side(args[3])
    to_left = side(args[4])
    return move(conn, args[1], args[2], from_left, to_left, journal=False)


@handler("rpoplpush")
def rpoplpush(conn, args):
    return move(conn, args[1], args[2], False, True, journal=False)


# -- reads -----------------------------------------------------------------------------


@handler("llen")
def llen(conn, args):
    value = conn.db.get_typed(args[1], List)
    return 0 if value is None else len(value)


def _range(value: List, start: int, end: int) -> list:
    """addListRangeReply: Redis's index rules, then the elements, walked from
    the nearer end without copying the rest of the list."""
    length = len(value)
    span = rank_span(start, end, length)
    if span is None:
        return []
    start, stop = span
    if start <= length - stop:
        return list(islice(value, start, stop))
    tail = list(islice(reversed(value), length - stop, length - start))
    tail.reverse()
    return tail


@handler("lrange")
def lrange(conn, args):
    start = parse_int(args[2])
    end = parse_int(args[3])
    value = conn.db.get_typed(args[1], List)
    return [] if value is None else _range(value, start, end)


@handler("lindex")
def lindex(conn, args):
    value = conn.db.get_typed(args[1], List)
    if value is None:
        return None
    index = parse_int(args[2])
    if index < 0:
        index += len(value)
    if not 0 <= index < len(value):
        return None
    return value[index]


@handler("lpos")
def lpos(conn, args):
    """LPOS: the indexes (from the head) of the matches of an element; RANK
    picks the first match to report (negative: searching from the tail),
    COUNT how many (0: all), MAXLEN how many elements to compare at most."""
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(args):
        option = args[i].lower()
        more = i + 1 < len(args)
        if option == b"rank" and more:
            rank = parse_int(args[i + 1])
            if rank == 0:
                raise CommandError(errors.LPOS_RANK_ZERO)
        elif option == b"count" and more:
            count = parse_int(args[i + 1], errors.LPOS_COUNT_NEGATIVE)
            if count < 0:
                raise CommandError(errors.LPOS_COUNT_NEGATIVE)
        elif option == b"maxlen" and more:
            maxlen = parse_int(args[i + 1], errors.LPOS_MAXLEN_NEGATIVE)
            if maxlen < 0:
                raise CommandError(errors.LPOS_MAXLEN_NEGATIVE)
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    value = conn.db.get_typed(args[1], List)
    if value is None:
        return None if count is None else []
    element = args[2]
    length = len(value)
    walk = value if rank > 0 else reversed(value)
    skip = abs(rank) - 1
    if maxlen:
        walk = islice(walk, maxlen)
    found = []
    wanted = 1 if count is None else count
    if rank == -(2**63):
        # Redis 7.0 negates the rank in a C long: LONG_MIN stays negative,
        # so the first match from the tail counts and COUNT never stops it.
        skip = 0
        if count is not None:
            wanted = 0
    for position, item in enumerate(walk):
        if item == element:
            if skip:
                skip -= 1
                continue
            found.append(position if rank > 0 else length - 1 - position)
            if len(found) == wanted:
                break
    if count is None:
        return found[0] if found else None
    return found


# -- writes in the middle ----------------------------------------------------------------


@handler("lset")
def lset(conn, args):
    db = conn.db
    key = args[1]
    value = db.get_typed(key, List)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    index = parse_int(args[2])
    if index < 0:
        index += len(value)
    if not 0 <= index < len(value):
        raise CommandError(errors.OUT_OF_RANGE)
    db.touch_write(key)
    element = args[3]
    value.nbytes += len(element) - len(value[index])
    value[index] = element
    return "OK"


@handler("linsert")
def linsert(conn, args):
    where = args[2].lower()
    if where not in (b"before", b"after"):
        raise CommandError(errors.SYNTAX)
    db = conn.db
    key = args[1]
    value = db.get_typed(key, List)
    if value is None:
        return 0
    try:
        at = value.index(args[3])
    except ValueError:
        return -1
    db.touch_write(key)
    element = args[4]
    value.insert(at if where == b"before" else at + 1, element)
    value.nbytes += len(element)
    return len(value)


@handler("lrem")
def lrem(conn, args):
    """LREM: ``count`` > 0 removes that many matches from the head, < 0 from
    the tail, 0 every match; answers how many went."""
    count = parse_int(args[2])
    db = conn.db
    key = args[1]
    value = db.get_typed(key, List)
    if value is None:
        return 0
    element = args[3]
    limit = abs(count) or len(value)
    walk = value if count >= 0 else reversed(value)
    kept = []
    removed = 0
    for item in walk:
        if removed < limit and item == element:
            removed += 1
        else:
            kept.append(item)
    if not removed:
        return 0
    if count < 0:
        kept.reverse()
    db.touch_write(key)
    value.clear()
    value.extend(kept)
    value.nbytes -= removed * len(element)
    _emptied(conn, key, value)
    return removed


@handler("ltrim")
def ltrim(conn, args):
    start = parse_int(args[2])
    end = parse_int(args[3])
    db = conn.db
    key = args[1]
    value = db.get_typed(key, List)
    if value is None:
        return "OK"
    length = len(value)
    span = rank_span(start, end, length)
    left, right = (length, 0) if span is None else (span[0], length - span[1])
    if left or right:
        db.touch_write(key)
        _take(value, left, True)
        _take(value, right, False)
        _emptied(conn, key, value)
    else:
        # Redis signals the key as modified even when nothing was trimmed
        # (a WATCH sees it), but counts no write (nothing is propagated).
        watches = conn.server.keyspace.watches
        if watches.count:
            watches.touch(db.index, key)
        notify(conn, LIST, b"ltrim", key)  # and notifies it, too
    return "OK"
