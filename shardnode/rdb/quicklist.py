"""Redis 7.0's quicklist as RDB writes it (RDB_TYPE_LIST_QUICKLIST_2), sans-IO.

A Redis list is a quicklist: a chain of nodes, each a listpack of entries
(container PACKED = 2) or one element too big for a listpack (PLAIN = 1).
RDB type 18 writes the node count, then per node its container kind and its
blob as an RDB string.  We keep a list as one flat sequence, so the writer
cuts it into nodes again, as Redis's ``_quicklistNodeAllowInsert`` (7.0)
decides when elements are appended at the tail one by one:

- ``fill < 0``: a node's listpack stays within 4, 8, 16, 32 or 64 KB
  (fill -1 .. -5, lower is -5); the estimate is the node's bytes + the
  element's length + 8;
- ``fill >= 0``: at most ``fill`` entries per node (0: one), never past 8 KB;
- an element of ``PACKED_THRESHOLD`` bytes or more gets a PLAIN node of its own.

That is the layout of a list built by RPUSH.  A list built otherwise (LPUSH
fills nodes from the head, LINSERT/LSET/LREM/LTRIM split and merge nodes in
place) may have other boundaries in Redis, so its DUMP holds the same
elements in differently cut nodes; both load anywhere.

Reading accepts any node layout, and also type 14 (RDB_TYPE_LIST_QUICKLIST,
nodes that are ziplists, written by Redis 3.2 .. 6.2), type 10 (one ziplist)
and type 1 (a plain sequence of strings).

Nodes deeper than ``compress_depth`` from both ends are LZF-compressed as
``__quicklistCompressNode`` does it (only blobs of 48 bytes or more, only if
that saves more than 8 bytes), and written as an LZF string.
"""

from __future__ import annotations

import lzf

from shardnode.rdb import listpack
from shardnode.rdb.constants import ENC_LZF, LEN_ENCVAL
from shardnode.rdb.encoding import RdbFormatError, RdbReader, RdbWriter, encode_length
from shardnode.rdb.ziplist import decode_ziplist

PLAIN = 1
PACKED = 2
PACKED_THRESHOLD = 1 << 30  # Redis's default packed_threshold
SIZE_SAFETY_LIMIT = 8192
_OPTIMIZATION_LEVELS = (4096, 8192, 16384, 32768, 65536)
_SIZE_ESTIMATE_OVERHEAD = 8
_EMPTY_LISTPACK = 7  # header (6) + terminator (1)
_MIN_COMPRESS_BYTES = 48
_MIN_COMPRESS_IMPROVE = 8


def _node_limits(fill: int):
    """quicklistNodeLimit: (bytes, entries) a node may hold, None for no limit.
    fill 0 means one entry per node; below -5 the 64 KB level applies."""
    if fill >= 0:
        return None, fill or 1
    return _OPTIMIZATION_LEVELS[min(-fill - 1, len(_OPTIMIZATION_LEVELS) - 1)], None


def _allow_insert(node_bytes: int, node_count: int, element_length: int, fill: int) -> bool:
    """_quicklistNodeAllowInsert: the node's bytes + the element's length + a
    fixed overestimate of an entry's overhead, against the node limits."""
    new_size = node_bytes + element_length + _SIZE_ESTIMATE_OVERHEAD
    size_limit, count_limit = _node_limits(fill)
    if size_limit is not None:
        return new_size <= size_limit
    return new_size <= SIZE_SAFETY_LIMIT and node_count + 1 <= count_limit


def nodes(elements, fill: int = -2) -> list:
    """The list cut into quicklist nodes: ``(container, blob)`` pairs."""
    out = []
    current: list = []
    current_bytes = 0
    for element in elements:
        length = len(element)
        if length >= PACKED_THRESHOLD:
            if current:
                out.append((PACKED, listpack.encode(current)))
                current, current_bytes = [], 0
            out.append((PLAIN, bytes(element)))
            continue
        if current and not _allow_insert(current_bytes, len(current), length, fill):
            out.append((PACKED, listpack.encode(current)))
            current, current_bytes = [], 0
        if not current:
            current_bytes = _EMPTY_LISTPACK
        current.append(element)
        current_bytes += len(listpack.encode((element,))) - _EMPTY_LISTPACK
    if current:
        out.append((PACKED, listpack.encode(current)))
    return out


def _compressed(blob: bytes):
    """__quicklistCompressNode: the LZF form of a node's blob, or None."""
    if len(blob) < _MIN_COMPRESS_BYTES:
        return None
    # python-lzf allows max_len + 1 output bytes; Redis allows len(blob).
    packed = lzf.compress(blob, len(blob) - 1)
    if packed is None or len(packed) + _MIN_COMPRESS_IMPROVE >= len(blob):
        return None
    return packed


def write(writer: RdbWriter, elements, fill: int = -2, compress_depth: int = 0) -> None:
    """The body of a type-18 object holding ``elements``."""
    cut = nodes(elements, fill)
    writer.write_length(len(cut))
    deep = compress_depth > 0 and len(cut) > 2 * compress_depth
    for i, (container, blob) in enumerate(cut):
        writer.write_length(container)
        packed = None
        if deep and compress_depth <= i < len(cut) - compress_depth:
            packed = _compressed(blob)
        if packed is not None:
            writer.write_raw(bytes((LEN_ENCVAL << 6 | ENC_LZF,)) + encode_length(len(packed))
                             + encode_length(len(blob)) + packed)
        else:
            writer.write_string(blob)


def read(reader: RdbReader) -> list:
    """The elements of a type-18 body, in order; empty nodes are skipped."""
    out = []
    for _ in range(reader.read_length()):
        container = reader.read_length()
        blob = reader.read_string()
        if container == PLAIN:
            out.append(blob)
        elif container == PACKED:
            out.extend(listpack.decode(blob))
        else:
            raise RdbFormatError("quicklist node container %d" % container)
    return out


def read_ziplist_nodes(reader: RdbReader) -> list:
    """The elements of a type-14 body (a quicklist of ziplists)."""
    out = []
    for _ in range(reader.read_length()):
        out.extend(decode_ziplist(reader.read_string()))
    return out


def read_plain(reader: RdbReader) -> list:
    """The elements of a type-1 body (a length, then that many strings)."""
    return [reader.read_string() for _ in range(reader.read_length())]


def read_ziplist(reader: RdbReader) -> list:
    """The elements of a type-10 body (one ziplist)."""
    return decode_ziplist(reader.read_string())
