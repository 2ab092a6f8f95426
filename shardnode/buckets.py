"""A slot's bucket: its keys and their values, small strings packed.

Why: a string value kept as its own ``bytes`` object costs its length plus
33 bytes of header and NUL, rounded up to pymalloc's 16-byte classes -- 80
bytes for 32.  Most keys of a cache hold such strings, so that object was
the largest part of a key's footprint.  Redis keeps a short string inside
its object header (embstr, up to 44 bytes); here the short strings of a
bucket share one ``bytearray`` instead, and a key costs its value's bytes
plus a length byte.

Layout: a :class:`Bucket` is a dict key -> entry.  An entry is the value
itself, or, for a ``bytes`` value of at most :data:`PACK_MAX` bytes, an
``int``: its cell's index in ``data``, a bytearray of cells of ``stride``
bytes each.  A cell is a Pascal string (a length byte, the bytes, zero
padding), so one ``struct`` call reads it back as a ``bytes`` and the cell's
place is computed, not looked up: a read touches the same one spot of memory
a value object would (measured: an offset table beside the data cost a
second cache miss per GET, ~1 us on a large keyspace).  The stride is the
longest packed value's length + 1; a longer value lays the bucket out again
with the larger stride (at most PACK_MAX times in a bucket's life; values of
one size, a cache's usual case, waste nothing).  CPython shares the ints up
to 256, so a bucket of up to 257 cells allocates nothing per entry; past
that an index costs a 32-byte int, still well under a bytes object.  A
freed cell's index goes on ``free`` for the next new value; once over half
the cells are free the bucket is laid out again densely, indexes renumbered
in the dict (values changed in place: the dict's table does not move).

A bucket packs from its :data:`PACK_FROM`-th key on (its store would cost
more than it saves in a bucket of two or three keys); the short strings it
holds then are packed at once, and it stays packed.

The dict's own methods see raw entries; they are for this module and for
``shardnode/db.py`` (which inlines :meth:`value` on the GET path).  Everyone
else reads values through :meth:`value` and :meth:`entries`, and writes only
through the database.  Containers and longer strings are entries as before,
so ``type(entry) is int`` is what says "packed": no value is an ``int``.
"""

from __future__ import annotations

from struct import Struct

PACK_MAX = 44  # Redis's embstr bound (OBJ_ENCODING_EMBSTR_SIZE_LIMIT)
# A bucket packs once it holds this many keys: its store (a bytearray, ~60
# bytes with its buffer's header) is not worth it for two or three keys.
PACK_FROM = 8
_RELAYOUT_MIN = 16  # cells: a smaller bucket keeps its free cells
# The cell format per stride: a Pascal string of stride - 1 bytes at most.
_CELLS = [None] + [Struct("%dp" % stride) for stride in range(1, PACK_MAX + 2)]


class Bucket(dict):
    """key -> entry, small strings packed (see module doc)."""

    __slots__ = ("data", "stride", "cell", "free")

    def __init__(self):
        self.data = None  # bytearray of cells, once the bucket packs
        self.stride = 0
        self.cell = None  # _CELLS[stride]
        self.free = None  # indexes of free cells (a list)

    # -- reads --------------------------------------------------------------

    def unpack(self, index: int) -> bytes:
        """The packed value at ``index`` as a new ``bytes``."""
        return self.cell.unpack_from(self.data, index * self.stride)[0]

    def value(self, key: bytes):
        """The value stored under ``key`` (materialised if packed), or None."""
        entry = self.get(key)
        if type(entry) is int:
            return self.cell.unpack_from(self.data, entry * self.stride)[0]
        return entry

    def entries(self):
        """(key, value) pairs, packed values materialised, in dict order."""
        read, data, stride = self.cell.unpack_from if self.cell else None, self.data, self.stride
        for key, entry in self.items():
            if type(entry) is int:
                yield key, read(data, entry * stride)[0]
            else:
                yield key, entry

    def packed_length(self, index: int) -> int:
        """The length of the packed value at ``index`` (its footprint's input)."""
        return self.data[index * self.stride]

    # -- writes -------------------------------------------------------------

    def put(self, key: bytes, value, old=None) -> None:
        """Store ``value`` under ``key``; ``old`` is the raw entry there now
        (None if the key is new): the caller has looked it up already."""
        if type(value) is bytes and len(value) <= PACK_MAX:
            if self.data is None:
                if len(self) < PACK_FROM:
                    self[key] = value
                    return
                self._start_packing()
                old = self.get(key)  # packed now, if it was a short string
            if len(value) >= self.stride:
                self._lay_out(len(value) + 1)
                old = self.get(key)  # renumbered
            if type(old) is int:
                self.cell.pack_into(self.data, old * self.stride, value)
                return
            free = self.free
            if free:
                index = free.pop()
                self.cell.pack_into(self.data, index * self.stride, value)
            else:
                data = self.data
                index = len(data) // self.stride
                data += self.cell.pack(value)
            self[key] = index
            return
        self[key] = value
        if type(old) is int:
            self._release(old)  # (after: a lay-out must not see the key's old cell)

    def remove(self, key: bytes):
        """Drop ``key`` (it must be there); returns the object stored, or for
        a packed string its length (an ``int``: enough for its footprint)."""
        entry = self.pop(key)
        if type(entry) is int:
            length = self.data[entry * self.stride]
            self._release(entry)
            return length
        return entry

    # -- internals ----------------------------------------------------------

    def _start_packing(self) -> None:
        """Give the bucket its store and pack the short strings it holds."""
        self.data = bytearray()
        self.free = []
        longest = max((len(e) for e in self.values() if type(e) is bytes and len(e) <= PACK_MAX),
                      default=0)
        self.stride = longest + 1
        self.cell = _CELLS[self.stride]
        for key, entry in list(self.items()):
            if type(entry) is bytes and len(entry) <= PACK_MAX:
                self.put(key, entry, entry)

    def _release(self, index: int) -> None:
        free = self.free
        free.append(index)
        if len(free) * 2 > len(self.data) // self.stride >= _RELAYOUT_MIN:
            self._lay_out(max((self.data[e * self.stride] for e in self.values()
                               if type(e) is int), default=0) + 1)

    def _lay_out(self, stride: int) -> None:
        """Rewrite ``data`` with cells of ``stride`` bytes, the live ones only,
        renumbered in dict order (free cells dropped)."""
        old, old_stride, old_cell = self.data, self.stride, self.cell
        cell = _CELLS[stride]
        data = bytearray()
        index = 0
        for key, entry in self.items():  # assigning existing keys: the table stays
            if type(entry) is int:
                data += cell.pack(old_cell.unpack_from(old, entry * old_stride)[0])
                self[key] = index
                index += 1
        self.data, self.stride, self.cell, self.free = data, stride, cell, []
