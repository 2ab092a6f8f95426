"""Redis 7.0's stream layout, sans-IO: listpack nodes and RDB type 19.

A Redis stream is a radix tree of listpack *nodes* keyed by the id of each
node's first entry (its *master* id, 128 bits big endian).  A node's
listpack holds:

- the master entry: live count, deleted count, the number of master fields,
  the master fields (those of the node's first entry), a terminating 0;
- then per entry: flags (1 = deleted, 2 = same fields as the master), the
  ms and seq differences from the master id, [the field count], [each field]
  and each value (fields only without the same-fields flag), and lp-count,
  the number of listpack elements of the entry before it.

:class:`StreamNode` keeps one node as Python data plus its exact listpack
byte count, because Redis decides where a node ends by its bytes (XADD) and
drops whole nodes only (``~`` trimming); XDEL and exact trimming only flag
entries deleted inside their node, as Redis does, so a node keeps its
tombstones until all its entries are gone.  The node's blob is built only
for DUMP (:func:`encode_node`).

RDB type 19 (RDB_TYPE_STREAM_LISTPACKS_2, rdb.c rdbSaveObject): the node
count; per node its 16-byte key and its listpack as RDB strings; the length;
the last id, the first id, the largest deleted id (ms, seq as RDB lengths);
the entries-added count; the group count, then per group (by name) its
name, last id, entries-read (-1 as a 64-bit length), its pending entries
(count, then per entry its raw 16-byte id, delivery time in ms as 8 bytes
little endian and delivery count) and its consumers (count, then per
consumer its name, seen time as 8 bytes, and its pending ids, raw).  Type 15
(5.0 - 6.2) lacks the first id, the largest deleted id, entries-added and
entries-read; it is read, never written.
"""

from __future__ import annotations

from bisect import bisect_left

from shardnode.rdb import listpack
from shardnode.rdb.encoding import RdbFormatError

DELETED = 1
SAME_FIELDS = 2
LISTPACK_MAX = 1 << 30  # STREAM_LISTPACK_MAX_SIZE
_U64 = 1 << 64
_HEADER_AND_END = 7


_isize = listpack.integer_size
_entry_size = listpack.entry_size


def _signed(number: int) -> int:
    """A difference as Redis stores it: cast to int64."""
    return number - _U64 if number >= 1 << 63 else number


class StreamNode:
    """One listpack node (see module doc).  ``ids`` and ``items`` run in
    parallel, tombstones included; an item is ``[flags, fieldvals]``."""

    __slots__ = ("master", "fields", "ids", "items", "live", "deleted", "body")

    def __init__(self, master: tuple, fields: tuple):
        self.master = master
        self.fields = fields
        self.ids = []
        self.items = []
        self.live = 0
        self.deleted = 0
        # bytes of everything but the header, the end byte and the two counters
        self.body = _isize(len(fields)) + sum(map(listpack.entry_size, fields)) + _isize(0)

    def nbytes(self) -> int:
        """lpBytes of the node's listpack."""
        return _HEADER_AND_END + _isize(self.live) + _isize(self.deleted) + self.body

    def append(self, entry_id: tuple, fieldvals: list) -> None:
        """Add an entry at the end (the XADD path: kept cheap)."""
        fields = self.fields
        pairs = len(fieldvals) >> 1
        same = pairs == len(fields) and tuple(fieldvals[0::2]) == fields
        ms_diff = entry_id[0] - self.master[0]
        seq_diff = entry_id[1] - self.master[1]
        # flags (0 or 2: one byte + backlen), the id differences, then
        # values (and fields), and lp-count
        size = 2 + (2 if 0 <= ms_diff <= 127 else _isize(_signed(ms_diff % _U64))) \
            + (2 if 0 <= seq_diff <= 127 else _isize(_signed(seq_diff % _U64)))
        if same:
            size += sum(map(_entry_size, fieldvals[1::2])) + _isize(3 + pairs)
            flags = SAME_FIELDS
        else:
            size += _isize(pairs) + sum(map(_entry_size, fieldvals)) + _isize(4 + 2 * pairs)
            flags = 0
        self.body += size
        self.ids.append(entry_id)
        self.items.append([flags, fieldvals])
        self.live += 1

    def find(self, entry_id: tuple) -> int:
        """The index of a live entry, or -1."""
        i = bisect_left(self.ids, entry_id)
        if i < len(self.ids) and self.ids[i] == entry_id and not self.items[i][0] & DELETED:
            return i
        return -1

    def mark_deleted(self, index: int) -> None:
        self.items[index][0] |= DELETED  # flags 1..3 stay one byte: the size holds
        self.live -= 1
        self.deleted += 1


def encode_node(node: StreamNode) -> bytes:
    """The node's listpack as Redis builds it."""
    out = [b"%d" % node.live, b"%d" % node.deleted, b"%d" % len(node.fields), *node.fields, b"0"]
    ms0, seq0 = node.master
    for entry_id, (flags, fieldvals) in zip(node.ids, node.items):
        out.append(b"%d" % flags)
        out.append(b"%d" % _signed((entry_id[0] - ms0) % _U64))
        out.append(b"%d" % _signed((entry_id[1] - seq0) % _U64))
        pairs = len(fieldvals) // 2
        if flags & SAME_FIELDS:
            out.extend(fieldvals[1::2])
            out.append(b"%d" % (3 + pairs))
        else:
            out.append(b"%d" % pairs)
            out.extend(fieldvals)
            out.append(b"%d" % (4 + 2 * pairs))
    return listpack.encode(out)


def decode_node(master: tuple, blob: bytes) -> StreamNode:
    """A node from its rax key's id and its listpack; RdbFormatError if malformed."""
    elements = listpack.decode(blob)
    try:
        numbers = _Reader(elements)
        live, deleted, nfields = numbers.int(), numbers.int(), numbers.int()
        fields = tuple(numbers.take(nfields))
        if numbers.int() != 0:
            raise RdbFormatError("stream master entry not terminated")
        node = StreamNode(master, fields)
        while not numbers.done():
            flags = numbers.int()
            entry_id = ((master[0] + numbers.int()) % _U64, (master[1] + numbers.int()) % _U64)
            if flags & SAME_FIELDS:
                fieldvals = []
                for field, value in zip(fields, numbers.take(nfields)):
                    fieldvals += (field, value)
            else:
                fieldvals = list(numbers.take(2 * numbers.int()))
            numbers.int()  # lp-count
            if node.ids and entry_id <= node.ids[-1]:
                raise RdbFormatError("stream node ids out of order")
            node.append(entry_id, fieldvals)
            node.items[-1][0] = flags
            if flags & DELETED:
                node.live -= 1
                node.deleted += 1
    except (IndexError, ValueError) as exc:
        raise RdbFormatError("malformed stream node: %s" % exc) from None
    if (node.live, node.deleted) != (live, deleted) or not node.ids:
        raise RdbFormatError("stream node counters are wrong")
    # the blob's own size, whatever flags its writer chose
    node.body = len(blob) - _HEADER_AND_END - _isize(live) - _isize(deleted)
    return node


class _Reader:
    __slots__ = ("elements", "pos")

    def __init__(self, elements):
        self.elements = elements
        self.pos = 0

    def int(self) -> int:
        value = int(self.elements[self.pos])
        self.pos += 1
        return value

    def take(self, count: int) -> list:
        if count < 0 or self.pos + count > len(self.elements):
            raise RdbFormatError("stream entry runs past its node")
        out = self.elements[self.pos : self.pos + count]
        self.pos += count
        return out

    def done(self) -> bool:
        return self.pos >= len(self.elements)


def node_key(entry_id: tuple) -> bytes:
    return entry_id[0].to_bytes(8, "big") + entry_id[1].to_bytes(8, "big")


def key_id(raw: bytes) -> tuple:
    if len(raw) != 16:
        raise RdbFormatError("stream node key is not 128 bits")
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


# -- RDB type 19 (and 15) ------------------------------------------------------------


def write(writer, stream) -> None:
    """``stream`` has nodes, length, last_id, first_id, max_deleted,
    entries_added and groups (name -> group with last_id, entries_read, pel:
    id -> nack with delivery_time and delivery_count, consumers: name ->
    consumer with seen_time and pel)."""
    writer.write_length(len(stream.nodes))
    for node in stream.nodes:
        writer.write_string(node_key(node.master))
        writer.write_string(encode_node(node))
    writer.write_length(stream.length)
    for entry_id in (stream.last_id, stream.first_id, stream.max_deleted):
        writer.write_length(entry_id[0])
        writer.write_length(entry_id[1])
    writer.write_length(stream.entries_added)
    groups = stream.groups
    writer.write_length(len(groups))
    for name in sorted(groups):
        group = groups[name]
        writer.write_string(name)
        writer.write_length(group.last_id[0])
        writer.write_length(group.last_id[1])
        writer.write_length(group.entries_read % _U64)
        writer.write_length(len(group.pel))
        for entry_id, nack in group.pel.items():
            writer.write_raw(node_key(entry_id))
            writer.write_raw(nack.delivery_time.to_bytes(8, "little", signed=True))
            writer.write_length(nack.delivery_count)
        consumers = group.consumers
        writer.write_length(len(consumers))
        for cname in sorted(consumers):
            consumer = consumers[cname]
            writer.write_string(cname)
            writer.write_raw(consumer.seen_time.to_bytes(8, "little", signed=True))
            writer.write_length(len(consumer.pel))
            for entry_id in consumer.pel:
                writer.write_raw(node_key(entry_id))


def read(reader, version2: bool) -> dict:
    """The parts of a stream, as plain data (the caller builds the value):
    nodes, length, last_id, first_id, max_deleted, entries_added, and groups
    as ``(name, last_id, entries_read, pel, consumers)`` with pel a list of
    ``(id, delivery_time, delivery_count)`` and consumers a list of
    ``(name, seen_time, ids)``."""
    nodes = []
    for _ in range(reader.read_length()):
        master = key_id(reader.read_string())
        blob = reader.read_string()
        node = decode_node(master, blob)
        if node.ids[0] != master or (nodes and master <= nodes[-1].ids[-1]):
            raise RdbFormatError("stream node key does not match its entries")
        nodes.append(node)
    out = {"nodes": nodes, "length": reader.read_length()}
    out["last_id"] = (reader.read_length(), reader.read_length())
    if version2:
        out["first_id"] = (reader.read_length(), reader.read_length())
        out["max_deleted"] = (reader.read_length(), reader.read_length())
        out["entries_added"] = reader.read_length()
    groups = []
    for _ in range(reader.read_length()):
        name = reader.read_string()
        last_id = (reader.read_length(), reader.read_length())
        entries_read = -1
        if version2:
            entries_read = reader.read_length()
            if entries_read >= 1 << 63:
                entries_read -= _U64
        pel = []
        for _ in range(reader.read_length()):
            entry_id = key_id(reader.read_raw(16))
            delivery_time = int.from_bytes(reader.read_raw(8), "little", signed=True)
            pel.append((entry_id, delivery_time, reader.read_length()))
        consumers = []
        for _ in range(reader.read_length()):
            cname = reader.read_string()
            seen = int.from_bytes(reader.read_raw(8), "little", signed=True)
            ids = [key_id(reader.read_raw(16)) for _ in range(reader.read_length())]
            consumers.append((cname, seen, ids))
        groups.append((name, last_id, entries_read, pel, consumers))
    out["groups"] = groups
    return out
