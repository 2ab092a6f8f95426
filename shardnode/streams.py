"""Stream commands (Redis's t_stream.c): values are :class:`Stream` objects.

A stream keeps Redis's own layout: a chain of listpack nodes
(:class:`shardnode.rdb.stream.StreamNode`, each with its exact byte count),
cut where Redis 7.0 cuts them under ``stream-node-max-bytes`` and
``stream-node-max-entries``.  That is what makes ``~`` trimming (whole nodes
only), XINFO's radix-tree figures and DUMP match redis-server.  The nodes'
first ids sit in a sorted list, so finding an id or a range start is a
bisection over nodes and then inside one node: O(log n).

Beside the entries a stream keeps Redis 7.0's counters: its last id, first
id, largest deleted id and entries-added count (they give consumer groups'
entries-read and lag), and its consumer groups: each with its last
delivered id, its entries-read counter, its pending entries list (PEL: id ->
:class:`Nack`, a SortedDict) and its consumers, each with its own PEL.

Ids are ``(ms, seq)`` tuples of unsigned 64-bit numbers.  Handlers check
arguments in Redis's order and journal what Redis 7.0 propagates: XADD with
its generated id and its ``~`` trimming made exact, XREADGROUP as XCLAIMs
(or XGROUP SETID under NOACK), XCLAIM/XAUTOCLAIM as XCLAIMs with their
outcome.  XREAD and XREADGROUP wait (shardnode/blocking.py) when given
BLOCK and nothing is there to read.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from sortedcontainers import SortedDict

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY
from shardnode.journal import journal_as
from shardnode.notify import STREAM, notify, quiet
from shardnode.rdb import stream as layout
from shardnode.rdb.constants import TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2
from shardnode.rdb.encoding import RdbFormatError
from shardnode.rdb.stream import DELETED, LISTPACK_MAX, StreamNode
from shardnode.registry import handler
from shardnode.values import allocation_size, register

MAX = (1 << 64) - 1
MIN_ID = (0, 0)
MAX_ID = (MAX, MAX)
INVALID_READ = -1  # SCG_INVALID_ENTRIES_READ


class Nack:
    """A pending entry: delivered to ``consumer``, not acknowledged yet."""

    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, consumer, delivery_time: int, delivery_count: int = 1):
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name: bytes, seen_time: int):
        self.name = name
        self.seen_time = seen_time
        self.pel = SortedDict()  # id -> Nack (the group's, shared)


class Group:
    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    def __init__(self, name: bytes, last_id: tuple, entries_read: int):
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = SortedDict()  # id -> Nack
        self.consumers: dict = {}  # name -> Consumer


class Stream:
    """The entries in listpack nodes, the counters and the groups (see module doc)."""

    __slots__ = ("nodes", "starts", "length", "last_id", "first_id", "max_deleted",
                 "entries_added", "groups", "nbytes")

    def __init__(self):
        self.nodes: list = []  # StreamNode, in id order
        self.starts: list = []  # each node's first id (master id)
        self.length = 0
        self.last_id = MIN_ID
        self.first_id = MIN_ID
        self.max_deleted = MIN_ID
        self.entries_added = 0
        self.groups: dict = {}  # name -> Group
        self.nbytes = 0  # the nodes' listpack bytes (the size estimate)

    # -- adding ---------------------------------------------------------------

    def append(self, entry_id: tuple, fieldvals: list, max_bytes: int, max_entries: int) -> None:
        """streamAppendItem: into the last node unless it is full (its bytes
        plus the new fields and values reach the byte limit, or it holds the
        entry limit counting tombstones), else into a new node."""
        node = self.nodes[-1] if self.nodes else None
        if node is not None:
            limit = max_bytes if 0 < max_bytes <= LISTPACK_MAX else LISTPACK_MAX
            before = node.nbytes()
            if before + sum(map(len, fieldvals)) >= limit:
                node = None
            elif max_entries and node.live + node.deleted >= max_entries:
                node = None
        if node is None:
            node = StreamNode(entry_id, tuple(fieldvals[0::2]))
            self.nodes.append(node)
            self.starts.append(entry_id)
        else:
            self.nbytes -= before
        node.append(entry_id, fieldvals)
        self.nbytes += node.nbytes()
        if not self.length:
            self.first_id = entry_id
        self.length += 1
        self.entries_added += 1
        self.last_id = entry_id

    # -- finding ---------------------------------------------------------------

    def _node_index(self, entry_id: tuple) -> int:
        return max(bisect_right(self.starts, entry_id) - 1, 0)

    def get(self, entry_id: tuple):
        """The field-value list of a live entry, or None."""
        if not self.nodes:
            return None
        node = self.nodes[self._node_index(entry_id)]
        i = node.find(entry_id)
        return node.items[i][1] if i >= 0 else None

    def range(self, start: tuple, end: tuple, reverse: bool = False):
        """Live ``(id, fieldvals)`` with start <= id <= end, in id order (or reversed)."""
        if start > end or not self.nodes:
            return
        nodes = self.nodes
        if not reverse:
            for n in range(self._node_index(start), len(nodes)):
                node = nodes[n]
                ids = node.ids
                for i in range(bisect_left(ids, start), len(ids)):
                    entry_id = ids[i]
                    if entry_id > end:
                        return
                    flags, fieldvals = node.items[i]
                    if not flags & DELETED:
                        yield entry_id, fieldvals
        else:
            for n in range(self._node_index(end), -1, -1):
                node = nodes[n]
                ids = node.ids
                for i in range(bisect_right(ids, end) - 1, -1, -1):
                    entry_id = ids[i]
                    if entry_id < start:
                        return
                    flags, fieldvals = node.items[i]
                    if not flags & DELETED:
                        yield entry_id, fieldvals

    def edge_id(self, first: bool) -> tuple:
        """streamGetEdgeID skipping tombstones: the first (last) live id;
        an empty stream answers MAX_ID (MIN_ID) as Redis does."""
        for entry_id, _ in self.range(MIN_ID, MAX_ID, reverse=not first):
            return entry_id
        return MAX_ID if first else MIN_ID

    # -- removing ----------------------------------------------------------------

    def delete(self, entry_id: tuple) -> bool:
        """streamDeleteItem: a node whose last live entry goes is dropped,
        otherwise the entry stays as a tombstone."""
        if not self.nodes:
            return False
        n = self._node_index(entry_id)
        node = self.nodes[n]
        i = node.find(entry_id)
        if i < 0:
            return False
        if node.live == 1:
            self._drop_node(n)
        else:
            self.nbytes -= node.nbytes()
            node.mark_deleted(i)
            self.nbytes += node.nbytes()
        self.length -= 1
        return True

    def _drop_node(self, n: int) -> None:
        self.nbytes -= self.nodes[n].nbytes()
        del self.nodes[n]
        del self.starts[n]

    def trim(self, maxlen, minid, approx: bool, limit: int) -> int:
        """streamTrim: whole nodes from the head while they go entirely;
        then, unless ``approx``, tombstones inside the next node.  ``limit``
        (0: none) caps the entries removed, node by node."""
        deleted = 0
        while self.nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node = self.nodes[0]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if maxlen is not None:
                remove = self.length - entries >= maxlen
            else:
                remove = node.ids[-1] < minid
            if remove:
                self._drop_node(0)
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            self.nbytes -= node.nbytes()
            for i, entry_id in enumerate(node.ids):
                if maxlen is not None:
                    if self.length <= maxlen:
                        break
                elif entry_id >= minid:
                    break
                if not node.items[i][0] & DELETED:
                    node.mark_deleted(i)
                    self.length -= 1
                    deleted += 1
            self.nbytes += node.nbytes()
            break
        if deleted:
            self.first_id = self.edge_id(True) if self.length else MIN_ID
        return deleted

    # -- consumer groups' counters (Redis 7.0) -------------------------------------

    def estimate_read_counter(self, entry_id: tuple) -> int:
        """streamEstimateDistanceFromFirstEverEntry."""
        if not self.entries_added:
            return 0
        if not self.length and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return INVALID_READ
        if self.max_deleted == MIN_ID or self.max_deleted < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - self.length
            if entry_id == self.first_id:
                return self.entries_added - self.length + 1
        return INVALID_READ

    def has_tombstones_from(self, start: tuple) -> bool:
        """streamRangeHasTombstones(start, +)."""
        if not self.length or self.max_deleted == MIN_ID:
            return False
        if self.first_id > self.max_deleted:
            return False
        return start <= self.max_deleted

    def lag(self, group: Group):
        """streamReplyWithCGLag: None when fragmentation hides it."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_READ and not self.has_tombstones_from(group.last_id):
            return self.entries_added - group.entries_read
        counter = self.estimate_read_counter(group.last_id)
        if counter != INVALID_READ:
            return self.entries_added - counter
        return None

    def radix_tree_nodes(self) -> int:
        """The node count of Redis's rax holding these 16-byte keys: a rax
        node starts at the root, at each child of a branching prefix, and
        where a single-child chain ends (a branch or a key)."""
        keys = [layout.node_key(start) for start in self.starts]
        if not keys:
            return 1
        count = 0

        def walk(group, depth, chain_start):
            nonlocal count
            if depth == 16:
                count += 1  # the key's node
                return
            children = {}
            for key in group:
                children.setdefault(key[depth], []).append(key)
            if len(children) == 1:
                if chain_start:
                    count += 1  # a compressed node starts here
                walk(next(iter(children.values())), depth + 1, False)
                return
            count += 1  # a branching node
            for sub in children.values():
                walk(sub, depth + 1, True)

        walk(keys, 0, True)
        return count


def stream_size(value: Stream) -> int:
    """robj + stream struct + rax overhead per node + the listpacks."""
    return 16 + 64 + 48 * len(value.nodes) + allocation_size(value.nbytes) \
        + 96 * len(value.groups)


def copy_stream(value: Stream) -> Stream:
    out = Stream()
    for name in ("length", "last_id", "first_id", "max_deleted", "entries_added", "nbytes"):
        setattr(out, name, getattr(value, name))
    out.starts = list(value.starts)
    for node in value.nodes:
        twin = StreamNode(node.master, node.fields)
        twin.ids = list(node.ids)
        twin.items = [[flags, list(fv)] for flags, fv in node.items]
        twin.live, twin.deleted, twin.body = node.live, node.deleted, node.body
        out.nodes.append(twin)
    for name, group in value.groups.items():
        twin = out.groups[name] = Group(name, group.last_id, group.entries_read)
        for cname, consumer in group.consumers.items():
            twin.consumers[cname] = Consumer(cname, consumer.seen_time)
        for entry_id, nack in group.pel.items():
            consumer = twin.consumers[nack.consumer.name]
            copy = Nack(consumer, nack.delivery_time, nack.delivery_count)
            twin.pel[entry_id] = copy
            consumer.pel[entry_id] = copy
    return out


def _reader(version2: bool):
    def read_stream(reader) -> Stream:
        parts = layout.read(reader, version2)
        value = Stream()
        value.nodes = parts["nodes"]
        value.starts = [node.master for node in value.nodes]
        value.nbytes = sum(node.nbytes() for node in value.nodes)
        value.length = parts["length"]
        if value.length != sum(node.live for node in value.nodes):
            raise RdbFormatError("stream length does not match its entries")
        value.last_id = parts["last_id"]
        if value.nodes and value.nodes[-1].ids[-1] > value.last_id:
            raise RdbFormatError("stream last id below its entries")
        if version2:
            value.first_id = parts["first_id"]
            value.max_deleted = parts["max_deleted"]
            value.entries_added = parts["entries_added"]
        else:
            value.first_id = value.edge_id(True) if value.length else MIN_ID
            value.entries_added = value.length
        for name, last_id, entries_read, pel, consumers in parts["groups"]:
            if name in value.groups:
                raise RdbFormatError("duplicate consumer group")
            group = value.groups[name] = Group(name, last_id, entries_read)
            if not version2:
                group.entries_read = value.estimate_read_counter(last_id)
            for entry_id, delivery_time, count in pel:
                group.pel[entry_id] = Nack(None, delivery_time, count)
            for cname, seen, ids in consumers:
                consumer = group.consumers[cname] = Consumer(cname, seen)
                for entry_id in ids:
                    nack = group.pel.get(entry_id)
                    if nack is None or nack.consumer is not None:
                        raise RdbFormatError("consumer PEL entry not in the group PEL")
                    nack.consumer = consumer
                    consumer.pel[entry_id] = nack
            if any(nack.consumer is None for nack in group.pel.values()):
                raise RdbFormatError("group PEL entry without a consumer")
        return value
    return read_stream


register(Stream, "stream", encoding=lambda value: "stream", size=stream_size, copy=copy_stream,
         rdb_type=TYPE_STREAM_LISTPACKS_2,
         codecs={TYPE_STREAM_LISTPACKS_2: (layout.write, _reader(True)),
                 TYPE_STREAM_LISTPACKS: (None, _reader(False))})


# -- ids -----------------------------------------------------------------------------


def _strtoull(text: bytes):
    """string2ull: string2ll when it reads (negative refused), else C's
    strtoull whole-string rules (blanks and a sign allowed, negatives wrap)."""
    try:
        number = parse_int(text)
        return number if number >= 0 else None
    except CommandError:
        pass
    body = text.lstrip(b" \t\n\v\f\r")
    negative = body[:1] == b"-"
    if body[:1] in (b"+", b"-"):
        body = body[1:]
    if not body.isdigit():
        return None
    number = int(body)
    if number > MAX:
        return None
    return (-number) % (1 << 64) if negative else number


def format_id(entry_id: tuple) -> bytes:
    return b"%d-%d" % entry_id


def parse_id(raw: bytes, missing_seq: int = 0, strict: bool = False, allow_star: bool = False):
    """streamGenericParseIDOrReply: ``ms-seq``, ``ms`` (seq = missing_seq),
    ``-``/``+`` unless strict, ``ms-*`` with allow_star (seq None)."""
    if len(raw) > 127:
        raise CommandError(errors.STREAM_ID_INVALID)
    if not strict and raw == b"-":
        return MIN_ID
    if not strict and raw == b"+":
        return MAX_ID
    ms_part, dash, seq_part = raw.partition(b"-")
    ms = _strtoull(ms_part)
    if ms is None:
        raise CommandError(errors.STREAM_ID_INVALID)
    if not dash:
        return ms, missing_seq
    if allow_star and seq_part == b"*":
        return ms, None
    seq = _strtoull(seq_part)
    if seq is None:
        raise CommandError(errors.STREAM_ID_INVALID)
    return ms, seq


def _incr(entry_id: tuple):
    ms, seq = entry_id
    if seq < MAX:
        return ms, seq + 1
    if ms < MAX:
        return ms + 1, 0
    return None


def _decr(entry_id: tuple):
    ms, seq = entry_id
    if seq > 0:
        return ms, seq - 1
    if ms > 0:
        return ms - 1, MAX
    return None


def _interval_bound(raw: bytes, missing_seq: int, start: bool):
    """streamParseIntervalIDOrReply: ``(id`` is exclusive."""
    if len(raw) > 1 and raw[:1] == b"(":
        entry_id = parse_id(raw[1:], missing_seq, strict=True)
        moved = _incr(entry_id) if start else _decr(entry_id)
        if moved is None:
            raise CommandError(errors.STREAM_START_INVALID if start else errors.STREAM_END_INVALID)
        return moved
    return parse_id(raw, missing_seq)


def _entry(entry_id: tuple, fieldvals: list) -> list:
    return [format_id(entry_id), list(fieldvals)]


def _now(conn) -> int:
    return conn.server.keyspace.now_ms


def _stream(conn, key: bytes):
    return conn.db.get_typed(key, Stream)


def _new_stream(conn, key: bytes) -> Stream:
    value = Stream()
    conn.db.set(key, value)
    return value


# -- XADD / XTRIM ---------------------------------------------------------------------


class _Trim:
    __slots__ = ("maxlen", "minid", "approx", "limit", "at")

    def __init__(self):
        self.maxlen = self.minid = None
        self.approx = False
        self.limit = 0
        self.at = 0  # index of the threshold argument


def _parse_trim(conn, args, i: int, xadd: bool):
    """streamParseAddOrTrimArgsOrReply: options from args[i]; returns
    (trim, index where parsing stopped, nomkstream, given id or None)."""
    trim = _Trim()
    nomkstream = False
    limit_given = False
    given = None
    argc = len(args)
    while i < argc:
        more = argc - 1 - i
        word = args[i].lower()
        if xadd and args[i] == b"*":
            break
        if word in (b"maxlen", b"minid") and more:
            if trim.at:
                raise CommandError(errors.TRIM_BOTH)
            trim.approx = False
            following = args[i + 1]
            if more >= 2 and following in (b"~", b"="):
                trim.approx = following == b"~"
                i += 1
            if word == b"maxlen":
                trim.maxlen = parse_int(args[i + 1])
                if trim.maxlen < 0:
                    raise CommandError(errors.TRIM_MAXLEN_NEGATIVE)
            else:
                trim.minid = parse_id(args[i + 1], strict=True)
            i += 1
            trim.at = i
        elif word == b"limit" and more:
            trim.limit = parse_int(args[i + 1])
            if trim.limit < 0:
                raise CommandError(errors.TRIM_LIMIT_NEGATIVE)
            limit_given = True
            i += 1
        elif xadd and word == b"nomkstream":
            nomkstream = True
        elif xadd:
            given = parse_id(args[i], strict=True, allow_star=True)
            break
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if trim.limit and not trim.at:
        raise CommandError(errors.TRIM_LIMIT_NO_STRATEGY)
    if not xadd and not trim.at:
        raise CommandError(errors.XTRIM_NO_STRATEGY)
    if limit_given:
        if not trim.approx:
            raise CommandError(errors.TRIM_LIMIT_NOT_APPROX)
    elif trim.approx:
        trim.limit = 100 * conn.server.config.stream_node_max_entries
        if trim.limit <= 0 or trim.limit > 1000000:
            trim.limit = 10000
    return trim, i, nomkstream, given


def _apply_trim(value: Stream, trim: _Trim) -> int:
    if not trim.at:
        return 0
    return value.trim(trim.maxlen, trim.minid, trim.approx, trim.limit)


def _exact_trim_args(args, value: Stream, trim: _Trim) -> list:
    """``~`` becomes ``=`` and the threshold what the trim actually reached
    (streamRewriteApproxSpecifier / streamRewriteTrimArgument)."""
    out = list(args)
    out[trim.at - 1] = b"="
    out[trim.at] = b"%d" % value.length if trim.maxlen is not None \
        else format_id(value.first_id)
    return out


@handler("xadd")
def xadd(conn, args):
    trim, i, nomkstream, given = _parse_trim(conn, args, 2, True)
    fields_at = i + 1
    pairs = len(args) - fields_at
    if pairs < 2 or pairs % 2:
        raise CommandError(errors.wrong_arity("xadd"))
    if given is not None and given == MIN_ID:
        raise CommandError(errors.XADD_ID_ZERO)
    key = args[1]
    value = _stream(conn, key)
    if value is None:
        if nomkstream:
            return None
        created = True
    else:
        created = False
    last = value.last_id if value is not None else MIN_ID
    if last == MAX_ID:
        raise CommandError(errors.STREAM_EXHAUSTED)
    if given is None:
        now = _now(conn)
        entry_id = (now, 0) if now > last[0] else _incr(last)
    elif given[1] is None:
        if given[0] == last[0]:
            if last[1] == MAX:
                raise CommandError(errors.XADD_ID_TOO_SMALL)
            entry_id = (given[0], last[1] + 1)
        else:
            entry_id = (given[0], 0)
        if entry_id <= last:
            raise CommandError(errors.XADD_ID_TOO_SMALL)
    else:
        entry_id = given
        if entry_id <= last:
            raise CommandError(errors.XADD_ID_TOO_SMALL)
    if created:
        value = _new_stream(conn, key)
    else:
        conn.db.touch_write(key)
    limits = conn.server.config.values  # the dict itself: no __getattr__ on the XADD path
    value.append(entry_id, list(args[fields_at:]), limits["stream_node_max_bytes"],
                 limits["stream_node_max_entries"])
    trimmed = _apply_trim(value, trim)
    notify(conn, STREAM, b"xadd", key)
    if trimmed:
        notify(conn, STREAM, b"xtrim", key)
    reply = format_id(entry_id)
    effect = _exact_trim_args(args, value, trim) if trim.approx else list(args)
    effect[i] = reply
    journal_as(conn, effect)
    return reply


@handler("xtrim")
def xtrim(conn, args):
    trim, i, _, _ = _parse_trim(conn, args, 2, False)
    key = args[1]
    value = _stream(conn, key)
    if value is None:
        return 0
    conn.db.touch_write(key)
    removed = _apply_trim(value, trim)
    if not removed:
        journal_as(conn)
        quiet(conn, key)
    elif trim.approx:
        journal_as(conn, _exact_trim_args(args, value, trim))
    return removed


# -- reading ---------------------------------------------------------------------------


@handler("xlen")
def xlen(conn, args):
    value = _stream(conn, args[1])
    return value.length if value is not None else 0


def _parse_count(args, at: int):
    """``[COUNT n]`` after the range; negative counts read as 0 (nothing)."""
    if len(args) == at:
        return None
    if len(args) == at + 2 and args[at].lower() == b"count":
        return parse_int(args[at + 1])
    raise CommandError(errors.SYNTAX)


def _xrange(conn, args, reverse: bool):
    low_raw, high_raw = (args[3], args[2]) if reverse else (args[2], args[3])
    start = _interval_bound(low_raw, 0, True)
    end = _interval_bound(high_raw, MAX, False)
    count = _parse_count(args, 4)
    if count is not None and count < 0:
        count = 0
    value = _stream(conn, args[1])
    if value is None:
        return []
    if count == 0:
        return NULL_ARRAY
    out = []
    for entry_id, fieldvals in value.range(start, end, reverse):
        out.append(_entry(entry_id, fieldvals))
        if count is not None and len(out) >= count:
            break
    return out


@handler("xrange")
def xrange(conn, args):
    return _xrange(conn, args, False)


@handler("xrevrange")
def xrevrange(conn, args):
    return _xrange(conn, args, True)


# -- XDEL / XSETID --------------------------------------------------------------------------


@handler("xdel")
def xdel(conn, args):
    ids = [parse_id(raw, strict=True) for raw in args[2:]]
    key = args[1]
    value = _stream(conn, key)
    if value is None:
        return 0
    deleted = 0
    first_gone = False
    for entry_id in ids:
        if value.get(entry_id) is None:
            continue
        if not deleted:
            conn.db.touch_write(key)
        value.delete(entry_id)
        if entry_id == value.first_id:
            first_gone = True
        if entry_id > value.max_deleted:
            value.max_deleted = entry_id
        deleted += 1
    if deleted:
        if not value.length:
            value.first_id = MIN_ID
        elif first_gone:
            value.first_id = value.edge_id(True)
    return deleted


@handler("xsetid")
def xsetid(conn, args):
    entry_id = parse_id(args[2], strict=True)
    entries_added = None
    max_deleted = None
    i = 3
    while i < len(args):
        word = args[i].lower()
        if word == b"entriesadded" and i + 1 < len(args):
            entries_added = parse_int(args[i + 1])
            if entries_added < 0:
                raise CommandError(errors.ENTRIES_ADDED_NEGATIVE)
        elif word == b"maxdeletedid" and i + 1 < len(args):
            max_deleted = parse_id(args[i + 1], strict=True)
            if entry_id < max_deleted:
                raise CommandError(errors.XSETID_BELOW_MAX_DELETED)
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    key = args[1]
    value = _stream(conn, key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if value.length:
        if entry_id < value.edge_id(False):  # the last entry, not the last id
            raise CommandError(errors.XSETID_TOO_SMALL)
        if entries_added is not None and value.length > entries_added:
            raise CommandError(errors.XSETID_ADDED_TOO_SMALL)
    conn.db.touch_write(key)
    value.last_id = entry_id
    if entries_added is not None:
        value.entries_added = entries_added
    if max_deleted is not None:
        value.max_deleted = max_deleted
    return "OK"


# -- consumer groups ----------------------------------------------------------------------


def _group_or_error(value, key: bytes, name: bytes, for_key: bool = False):
    """The group, or NOGROUP in the wording of the asking command."""
    group = value.groups.get(name) if value is not None else None
    if group is None:
        key_text, name_text = key.decode("utf-8", "replace"), name.decode("utf-8", "replace")
        if for_key:
            raise CommandError(errors.NOGROUP_FOR_KEY % (name_text, key_text))
        raise CommandError(errors.NOGROUP_KEY_OR_GROUP % (key_text, name_text))
    return group


def _consumer(group: Group, name: bytes, now: int, refresh: bool = True):
    """streamLookupConsumer, creating it; (consumer, created)."""
    consumer = group.consumers.get(name)
    if consumer is None:
        consumer = group.consumers[name] = Consumer(name, now)
        return consumer, True
    if refresh:
        consumer.seen_time = now
    return consumer, False


def _claiming_consumer(conn, key: bytes, group: Group, name: bytes, now: int):
    """XCLAIM/XAUTOCLAIM's consumer, created on first use as Redis does
    (which publishes xgroup-createconsumer then)."""
    consumer, created = _consumer(group, name, now)
    if created:
        notify(conn, STREAM, b"xgroup-createconsumer", key)
    return consumer


def _parse_entries_read(raw: bytes) -> int:
    number = parse_int(raw)
    if number < 0 and number != INVALID_READ:
        raise CommandError(errors.ENTRIES_READ_INVALID)
    return number


def _group_start(value, raw: bytes) -> tuple:
    if raw == b"$":
        return value.last_id if value is not None else MIN_ID
    return parse_id(raw, strict=True)


@handler("xgroup|create")
def xgroup_create(conn, args):
    key, name = args[2], args[3]
    mkstream = False
    entries_read = INVALID_READ
    i = 5
    while i < len(args):
        word = args[i].lower()
        if word == b"mkstream":
            mkstream = True
            i += 1
        elif word == b"entriesread" and i + 1 < len(args):
            entries_read = _parse_entries_read(args[i + 1])
            i += 2
        else:
            raise CommandError(errors.subcommand_syntax(args[1], "xgroup"))
    value = _stream(conn, key)
    start_raw = args[4]
    if start_raw != b"$":
        start = parse_id(start_raw, strict=True)
    if value is None and not mkstream:
        raise CommandError(errors.XGROUP_NEEDS_KEY)
    start = _group_start(value, start_raw) if start_raw == b"$" else start
    if value is not None and name in value.groups:
        raise CommandError(errors.BUSYGROUP)
    if value is None:
        value = _new_stream(conn, key)
    else:
        conn.db.touch_write(key)
    value.groups[name] = Group(name, start, entries_read)
    return "OK"


@handler("xgroup|setid")
def xgroup_setid(conn, args):
    key, name = args[2], args[3]
    entries_read = INVALID_READ
    if len(args) > 5:
        if len(args) == 7 and args[5].lower() == b"entriesread":
            entries_read = _parse_entries_read(args[6])
        else:
            raise CommandError(errors.subcommand_syntax(args[1], "xgroup"))
    value = _stream(conn, key)
    if value is None:
        raise CommandError(errors.XGROUP_NEEDS_KEY)
    start = _group_start(value, args[4])
    group = _group_or_error(value, key, name, for_key=True)
    conn.db.touch_write(key)
    group.last_id = start
    group.entries_read = entries_read
    return "OK"


@handler("xgroup|destroy")
def xgroup_destroy(conn, args):
    key, name = args[2], args[3]
    value = _stream(conn, key)
    if value is None:
        raise CommandError(errors.XGROUP_NEEDS_KEY)
    if name not in value.groups:
        journal_as(conn)
        return 0
    conn.db.touch_write(key)
    del value.groups[name]
    return 1


def _xgroup_target(conn, args) -> Group:
    """The group an XGROUP subcommand names (args[2] key, args[3] group)."""
    value = _stream(conn, args[2])
    if value is None:
        raise CommandError(errors.XGROUP_NEEDS_KEY)
    return _group_or_error(value, args[2], args[3], for_key=True)


@handler("xgroup|createconsumer")
def xgroup_createconsumer(conn, args):
    key, cname = args[2], args[4]
    group = _xgroup_target(conn, args)
    if cname in group.consumers:
        journal_as(conn)
        return 0
    conn.db.touch_write(key)
    group.consumers[cname] = Consumer(cname, _now(conn))
    return 1


@handler("xgroup|delconsumer")
def xgroup_delconsumer(conn, args):
    key, cname = args[2], args[4]
    group = _xgroup_target(conn, args)
    consumer = group.consumers.get(cname)
    if consumer is None:
        journal_as(conn)
        return 0
    conn.db.touch_write(key)
    pending = len(consumer.pel)
    for entry_id in consumer.pel:
        del group.pel[entry_id]
    del group.consumers[cname]
    return pending


@handler("xgroup|help")
def xgroup_help(conn, args):
    return [
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ]


@handler("xack")
def xack(conn, args):
    key, name = args[1], args[2]
    value = _stream(conn, key)
    group = value.groups.get(name) if value is not None else None
    ids = [parse_id(raw, strict=True) for raw in args[3:]]
    if group is None:
        return 0
    acked = 0
    for entry_id in ids:
        nack = group.pel.pop(entry_id, None)
        if nack is None:
            continue
        if not acked:
            conn.db.touch_write(key)
        del nack.consumer.pel[entry_id]
        acked += 1
    return acked


# -- XREAD / XREADGROUP -------------------------------------------------------------------


def _deliver_new(conn, value: Stream, group: Group, consumer: Consumer, start: tuple, count,
                 noack: bool, key: bytes, effects: list) -> list:
    """streamReplyWithRange for a group reading ``>``: moves the group's last
    id and entries-read, adds PEL entries (or re-owns them), and notes the
    XCLAIMs Redis propagates."""
    out = []
    now = _now(conn)
    moved = False
    for entry_id, fieldvals in value.range(start, MAX_ID):
        if entry_id > group.last_id:
            if group.entries_read != INVALID_READ and not value.has_tombstones_from(entry_id):
                group.entries_read += 1
            elif value.entries_added:
                group.entries_read = value.estimate_read_counter(entry_id)
            group.last_id = entry_id
            moved = True
        if not noack:
            nack = group.pel.get(entry_id)
            if nack is None:
                nack = group.pel[entry_id] = Nack(consumer, now)
            else:
                del nack.consumer.pel[entry_id]
                nack.consumer = consumer
                nack.delivery_time = now
                nack.delivery_count = 1
            consumer.pel[entry_id] = nack
            effects.append(_xclaim_effect(key, group, consumer.name, entry_id, nack))
        out.append(_entry(entry_id, fieldvals))
        if count and len(out) >= count:
            break
    if moved and noack:
        effects.append([b"XGROUP", b"SETID", key, group.name, format_id(group.last_id),
                        b"ENTRIESREAD", b"%d" % group.entries_read])
    return out


def _journal_effects(conn, effects: list) -> None:
    """What a group command propagated, as Redis 7.0 does: several entries
    inside MULTI/EXEC, one alone, none as nothing."""
    if len(effects) > 1:
        journal_as(conn, [b"MULTI"], *effects, [b"EXEC"])
    else:
        journal_as(conn, *effects)


def _xclaim_effect(key, group, cname, entry_id, nack) -> list:
    return [b"XCLAIM", key, group.name, cname, b"0", format_id(entry_id), b"TIME",
            b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count, b"FORCE",
            b"JUSTID", b"LASTID", format_id(group.last_id)]


def _deliver_history(conn, value: Stream, consumer: Consumer, start: tuple, count) -> list:
    """streamReplyWithRangeFromConsumerPEL: the consumer's own pending
    entries from ``start``; a deleted one reads as ``[id, nil]``."""
    out = []
    now = _now(conn)
    for entry_id in consumer.pel.irange(start):
        if count and len(out) >= count:
            break
        fieldvals = value.get(entry_id)
        if fieldvals is None:
            out.append([format_id(entry_id), NULL_ARRAY])
        else:
            nack = consumer.pel[entry_id]
            nack.delivery_time = now
            nack.delivery_count += 1
            out.append(_entry(entry_id, fieldvals))
    return out


class _ReadRequest:
    __slots__ = ("timeout", "count", "group", "consumer", "noack", "keys", "ids_at", "raw_ids")


def parse_read(conn, args, xreadgroup: bool) -> _ReadRequest:
    request = _ReadRequest()
    request.timeout = None
    request.count = 0
    request.group = request.consumer = None
    request.noack = False
    streams_at = 0
    argc = len(args)
    i = 1
    name = b"xreadgroup" if xreadgroup else b"xread"
    while i < argc:
        more = argc - i - 1
        word = args[i].lower()
        if word == b"block" and more:
            i += 1
            request.timeout = _block_timeout(args[i])
        elif word == b"count" and more:
            i += 1
            request.count = max(parse_int(args[i]), 0)
        elif word == b"streams" and more:
            streams_at = i + 1
            if (argc - streams_at) % 2:
                raise CommandError(errors.XREAD_UNBALANCED % (name.decode().upper(),
                                                               ">" if xreadgroup else "$"))
            break
        elif word == b"group" and more >= 2:
            if not xreadgroup:
                raise CommandError(errors.XREAD_GROUP_OPTION)
            request.group, request.consumer = args[i + 1], args[i + 2]
            i += 2
        elif word == b"noack":
            if not xreadgroup:
                raise CommandError(errors.XREAD_NOACK_OPTION)
            request.noack = True
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if not streams_at:
        raise CommandError(errors.SYNTAX)
    if xreadgroup and request.group is None:
        raise CommandError(errors.XREADGROUP_MISSING_GROUP)
    half = (argc - streams_at) // 2
    request.keys = args[streams_at : streams_at + half]
    request.ids_at = streams_at + half
    request.raw_ids = args[streams_at + half :]
    return request


def _block_timeout(raw: bytes) -> int:
    """BLOCK's milliseconds (getTimeoutFromObjectOrReply, UNIT_MILLISECONDS)."""
    try:
        ms = parse_int(raw, errors.TIMEOUT_NOT_INTEGER)
    except CommandError:
        raise CommandError(errors.TIMEOUT_NOT_INTEGER) from None
    if ms < 0:
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    return ms


def read_streams(conn, args, xreadgroup: bool):
    """XREAD and XREADGROUP: the reply, or (keys, ids) to wait for when BLOCK
    was given and nothing could be served."""
    request = parse_read(conn, args, xreadgroup)
    db = conn.db
    serving = getattr(conn, "serving_key", None)
    if xreadgroup and serving is not None:
        # Served after a write to its key (it waits with any_write): Redis
        # 7.0 unblocks it with an error when the stream or the group is gone.
        value = db.peek(serving)
        if type(value) is not Stream:
            raise CommandError(errors.XREADGROUP_KEY_GONE)
        if request.group not in value.groups:
            raise CommandError(errors.XREADGROUP_GROUP_GONE)
    keys = request.keys
    starts = []
    groups = []
    for key, raw in zip(keys, request.raw_ids):
        value = db.get_typed(key, Stream)
        group = None
        if xreadgroup:
            group = value.groups.get(request.group) if value is not None else None
            if group is None:
                raise CommandError(errors.XREADGROUP_NOGROUP % (
                    key.decode("utf-8", "replace"), request.group.decode("utf-8", "replace")))
        groups.append(group)
        if raw == b"$":
            if xreadgroup:
                raise CommandError(errors.XREADGROUP_DOLLAR)
            starts.append(value.last_id if value is not None else MIN_ID)
        elif raw == b">":
            if not xreadgroup:
                raise CommandError(errors.XREAD_GT_WITHOUT_GROUP)
            starts.append(None)
        else:
            starts.append(parse_id(raw, strict=True))
    out = {}
    effects = []
    now = _now(conn)
    for index, key in enumerate(keys):
        if serving is not None and key != serving:
            continue
        value = db.get_typed(key, Stream)
        if value is None:
            continue
        after = starts[index]
        if xreadgroup:
            group = groups[index]
            if after is None and (not value.length or value.edge_id(False) <= group.last_id):
                continue  # nothing new: served later, or never (no consumer made)
            consumer, created = _consumer(group, request.consumer, now)
            db.touch_write(key)
            if created:
                notify(conn, STREAM, b"xgroup-createconsumer", key)
            if after is not None:
                begin = _incr(after)
                entries = [] if begin is None else \
                    _deliver_history(conn, value, consumer, begin, request.count)
                out[key] = entries
                continue
            before = len(effects)
            out[key] = _deliver_new(conn, value, group, consumer, _incr(group.last_id),
                                    request.count, request.noack, key, effects)
            if created and request.noack and len(effects) > before:
                effects.insert(before, [b"XGROUP", b"CREATECONSUMER", key, group.name,
                                        request.consumer])
            continue
        if not value.length or value.edge_id(False) <= after:
            continue
        begin = _incr(after)
        entries = []
        for entry_id, fieldvals in value.range(begin, MAX_ID):
            entries.append(_entry(entry_id, fieldvals))
            if request.count and len(entries) >= request.count:
                break
        out[key] = entries
    if xreadgroup:
        _journal_effects(conn, effects)
    if out:
        return out, request
    return None, request


def _reply_map(conn, found: dict):
    if conn.proto == 3:
        return found
    return [[key, entries] for key, entries in found.items()]


@handler("xread")
def xread(conn, args):
    found, request = read_streams(conn, args, False)
    if found is not None:
        return _reply_map(conn, found)
    return _wait_or_null(conn, args, request, False)


@handler("xreadgroup")
def xreadgroup(conn, args):
    found, request = read_streams(conn, args, True)
    if found is not None:
        return _reply_map(conn, found)
    return _wait_or_null(conn, args, request, True)


def _wait_or_null(conn, args, request, xreadgroup: bool):
    """Nothing to read: null without BLOCK, else wait for the keys.  A ``$``
    is written out as the stream's last id now (0-0 for a missing key), so
    the retries read what arrives after the call, not after the retry."""
    if request.timeout is None:
        return NULL_ARRAY
    from shardnode.blocking import wait_or_null

    rewritten = None
    if b"$" in request.raw_ids:
        rewritten = list(args)
        for j, raw in enumerate(request.raw_ids):
            if raw == b"$":
                value = conn.db.peek(request.keys[j])
                last = value.last_id if type(value) is Stream else MIN_ID
                rewritten[request.ids_at + j] = format_id(last)
    return wait_or_null(conn, request.keys, Stream, request.timeout, request=rewritten,
                        any_write=xreadgroup)


# -- XPENDING / XCLAIM / XAUTOCLAIM ------------------------------------------------------------


@handler("xpending")
def xpending(conn, args):
    key, name = args[1], args[2]
    argc = len(args)
    extended = argc >= 6
    if argc != 3 and not 6 <= argc <= 9:
        raise CommandError(errors.SYNTAX)
    min_idle = 0
    i = 3
    if extended:
        if args[3].lower() == b"idle":
            min_idle = parse_int(args[4])
            if min_idle < 0:
                min_idle = 0
            i = 5
            if argc - i < 3:
                raise CommandError(errors.SYNTAX)
        start = _interval_bound(args[i], 0, True)
        end = _interval_bound(args[i + 1], MAX, False)
        count = parse_int(args[i + 2])
        if count < 0:
            count = 0
        cname = args[i + 3] if argc > i + 3 else None
    value = _stream(conn, key)
    group = _group_or_error(value, key, name)
    if not extended:
        if not group.pel:
            return [0, None, None, None]
        owners: dict = {}
        for nack in group.pel.values():
            owners[nack.consumer.name] = owners.get(nack.consumer.name, 0) + 1
        return [len(group.pel), format_id(group.pel.keys()[0]), format_id(group.pel.keys()[-1]),
                [[cname, b"%d" % owners[cname]] for cname in sorted(owners)]]
    if cname is not None:
        consumer = group.consumers.get(cname)
        pel = consumer.pel if consumer is not None else SortedDict()
    else:
        pel = group.pel
    now = _now(conn)
    out = []
    if count == 0 or start > end:
        return out
    for entry_id in pel.irange(start, end):
        nack = pel[entry_id]
        idle = now - nack.delivery_time
        if idle < 0:
            idle = 0
        if min_idle and idle < min_idle:
            continue
        out.append([format_id(entry_id), nack.consumer.name, idle, nack.delivery_count])
        if len(out) >= count:
            break
    return out


def _claim_head(conn, args, idle_error: str) -> tuple:
    """XCLAIM's and XAUTOCLAIM's common head: key, group name, consumer
    name, the stream, the group (None: NOGROUP, said after the options) and
    min-idle-time (negative reads as 0)."""
    key, name, cname = args[1], args[2], args[3]
    value = _stream(conn, key)
    group = value.groups.get(name) if value is not None else None
    try:
        min_idle = parse_int(args[4])
    except CommandError:
        raise CommandError(idle_error) from None
    return key, name, cname, value, group, max(min_idle, 0)


def _take_over(nack: Nack, consumer: Consumer, entry_id: tuple) -> None:
    """A pending entry changes owner (XCLAIM, XAUTOCLAIM, a re-read)."""
    if nack.consumer is not consumer:
        del nack.consumer.pel[entry_id]
        nack.consumer = consumer
        consumer.pel[entry_id] = nack


def _claim_option(raw: bytes, name: str) -> int:
    """XCLAIM's IDLE/TIME/RETRYCOUNT integer, with its own error text."""
    try:
        return parse_int(raw)
    except CommandError:
        raise CommandError(errors.XCLAIM_BAD_OPTION % name) from None


@handler("xclaim")
def xclaim(conn, args):
    key, name, cname, value, group, min_idle = _claim_head(
        conn, args, errors.XCLAIM_BAD % "min-idle-time")
    ids = []
    i = 5
    while i < len(args):
        try:
            ids.append(parse_id(args[i], strict=True))
        except CommandError:
            break
        i += 1
    now = _now(conn)
    delivery_time = now
    retry = None
    force = justid = False
    last_id = None
    while i < len(args):
        word = args[i].lower()
        more = len(args) - i - 1
        if word == b"force":
            force = True
        elif word == b"justid":
            justid = True
        elif word == b"idle" and more:
            i += 1
            delivery_time = now - _claim_option(args[i], "IDLE")
        elif word == b"time" and more:
            i += 1
            delivery_time = _claim_option(args[i], "TIME")
        elif word == b"retrycount" and more:
            i += 1
            retry = _claim_option(args[i], "RETRYCOUNT")
        elif word == b"lastid" and more:
            i += 1
            last_id = parse_id(args[i], strict=True)
        else:
            raise CommandError(errors.XCLAIM_UNKNOWN_OPTION % args[i].decode("utf-8", "replace"))
        i += 1
    if group is None:
        raise CommandError(errors.NOGROUP_KEY_OR_GROUP % (key.decode("utf-8", "replace"),
                                                          name.decode("utf-8", "replace")))
    if delivery_time > now:
        delivery_time = now  # a time in the future reads as now
    effects = []
    touched = False
    if last_id is not None and last_id > group.last_id:
        conn.db.touch_write(key)
        touched = True
        group.last_id = last_id
    consumer = None
    out = []
    for entry_id in ids:
        nack = group.pel.get(entry_id)
        exists = value.get(entry_id) is not None
        if force and nack is None and exists:
            if consumer is None:
                consumer = _claiming_consumer(conn, key, group, cname, now)
            nack = group.pel[entry_id] = Nack(consumer, now, 0)
            consumer.pel[entry_id] = nack
            if not touched:
                conn.db.touch_write(key)
                touched = True
        if nack is None:
            continue
        if not exists:
            del group.pel[entry_id]
            del nack.consumer.pel[entry_id]
            if not touched:
                conn.db.touch_write(key)
                touched = True
            effects.append(_xclaim_effect(key, group, nack.consumer.name, entry_id, nack))
            continue
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _claiming_consumer(conn, key, group, cname, now)
        if not touched:
            conn.db.touch_write(key)
            touched = True
        _take_over(nack, consumer, entry_id)
        nack.delivery_time = delivery_time
        if retry is not None:
            nack.delivery_count = retry
        elif not justid:
            nack.delivery_count += 1
        effects.append(_xclaim_effect(key, group, cname, entry_id, nack))
        out.append(format_id(entry_id) if justid else _entry(entry_id, value.get(entry_id)))
    if touched and not effects:  # only LASTID moved the group
        effects.append([b"XGROUP", b"SETID", key, name, format_id(group.last_id),
                        b"ENTRIESREAD", b"%d" % group.entries_read])
    _journal_effects(conn, effects)
    return out


@handler("xautoclaim")
def xautoclaim(conn, args):
    key, name, cname, value, group, min_idle = _claim_head(
        conn, args, errors.XAUTOCLAIM_MIN_IDLE)
    start = _interval_bound(args[5], 0, True)
    count = 100
    justid = False
    i = 6
    while i < len(args):
        word = args[i].lower()
        if word == b"count" and i + 1 < len(args):
            count = parse_int(args[i + 1], errors.XAUTOCLAIM_COUNT)
            if count < 1 or count > (1 << 63) // 10:
                raise CommandError(errors.XAUTOCLAIM_COUNT)
            i += 2
        elif word == b"justid":
            justid = True
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
    if group is None:
        raise CommandError(errors.NOGROUP_KEY_OR_GROUP % (key.decode("utf-8", "replace"),
                                                          name.decode("utf-8", "replace")))
    now = _now(conn)
    attempts = count * 10
    claimed = []
    deleted = []
    effects = []
    consumer = None
    next_id = MIN_ID
    ids = list(group.pel.irange(start))
    pos = 0
    while attempts > 0 and pos < len(ids) and count > 0:
        entry_id = ids[pos]
        pos += 1
        attempts -= 1
        nack = group.pel[entry_id]
        fieldvals = value.get(entry_id)
        if fieldvals is None:
            del group.pel[entry_id]
            del nack.consumer.pel[entry_id]
            deleted.append(format_id(entry_id))
            count -= 1
            effects.append(_xclaim_effect(key, group, nack.consumer.name, entry_id, nack))
            continue
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _claiming_consumer(conn, key, group, cname, now)
        _take_over(nack, consumer, entry_id)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        effects.append(_xclaim_effect(key, group, cname, entry_id, nack))
        claimed.append(format_id(entry_id) if justid else _entry(entry_id, fieldvals))
        count -= 1
    if pos < len(ids):
        next_id = ids[pos]
    if effects:
        conn.db.touch_write(key)
    _journal_effects(conn, effects)
    return [format_id(next_id), claimed, deleted]


# -- XINFO -----------------------------------------------------------------------------------


def _group_info(value: Stream, group: Group) -> dict:
    return {
        b"name": group.name,
        b"consumers": len(group.consumers),
        b"pending": len(group.pel),
        b"last-delivered-id": format_id(group.last_id),
        b"entries-read": group.entries_read if group.entries_read != INVALID_READ else None,
        b"lag": value.lag(group),
    }


def _reply(conn, mapping: dict):
    return mapping if conn.proto == 3 else [x for pair in mapping.items() for x in pair]


@handler("xinfo|stream")
def xinfo_stream(conn, args):
    key = args[2]
    full = False
    count = 10
    if len(args) > 3:
        if args[3].lower() != b"full" or len(args) not in (4, 6) or \
                (len(args) == 6 and args[4].lower() != b"count"):
            raise CommandError(errors.subcommand_syntax(args[1], "xinfo"))
        full = True
        if len(args) == 6:
            count = max(parse_int(args[5]), 0)
    value = _stream(conn, key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    head = {
        b"length": value.length,
        b"radix-tree-keys": len(value.nodes),
        b"radix-tree-nodes": value.radix_tree_nodes(),
        b"last-generated-id": format_id(value.last_id),
        b"max-deleted-entry-id": format_id(value.max_deleted),
        b"entries-added": value.entries_added,
        b"recorded-first-entry-id": format_id(value.first_id),
    }
    if not full:
        head[b"groups"] = len(value.groups)
        first = next(value.range(MIN_ID, MAX_ID), None)
        last = next(value.range(MIN_ID, MAX_ID, True), None)
        head[b"first-entry"] = _entry(*first) if first else None
        head[b"last-entry"] = _entry(*last) if last else None
        return _reply(conn, head)
    entries = []
    for entry_id, fieldvals in value.range(MIN_ID, MAX_ID):
        if count and len(entries) >= count:
            break
        entries.append(_entry(entry_id, fieldvals))
    head[b"entries"] = entries
    groups = []
    for name in sorted(value.groups):
        group = value.groups[name]
        info = _group_info(value, group)
        del info[b"consumers"], info[b"pending"]
        info[b"pel-count"] = len(group.pel)
        pending = []
        for entry_id, nack in group.pel.items():
            if count and len(pending) >= count:
                break
            pending.append([format_id(entry_id), nack.consumer.name, nack.delivery_time,
                            nack.delivery_count])
        info[b"pending"] = pending
        consumers = []
        for cname in sorted(group.consumers):
            consumer = group.consumers[cname]
            cpending = []
            for entry_id, nack in consumer.pel.items():
                if count and len(cpending) >= count:
                    break
                cpending.append([format_id(entry_id), nack.delivery_time, nack.delivery_count])
            consumers.append(_reply(conn, {b"name": cname, b"seen-time": consumer.seen_time,
                                           b"pel-count": len(consumer.pel),
                                           b"pending": cpending}))
        info[b"consumers"] = consumers
        groups.append(_reply(conn, info))
    head[b"groups"] = groups
    return _reply(conn, head)


@handler("xinfo|groups")
def xinfo_groups(conn, args):
    value = _stream(conn, args[2])
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    return [_reply(conn, _group_info(value, value.groups[name])) for name in sorted(value.groups)]


@handler("xinfo|consumers")
def xinfo_consumers(conn, args):
    key, name = args[2], args[3]
    value = _stream(conn, key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    group = _group_or_error(value, key, name, for_key=True)
    now = _now(conn)
    return [_reply(conn, {b"name": cname, b"pending": len(group.consumers[cname].pel),
                          b"idle": max(now - group.consumers[cname].seen_time, 0)})
            for cname in sorted(group.consumers)]


@handler("xinfo|help")
def xinfo_help(conn, args):
    return [
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ]
