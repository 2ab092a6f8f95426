"""A slot's bucket: its keys and their values, small strings packed.

Why: a string value kept as its own ``bytes`` object costs its length plus
33 bytes of header and NUL, rounded up to pymalloc's 16-byte classes -- 80
bytes for 32.  Most keys of a cache hold such strings, so that object was
the largest part of a key's footprint.  Redis keeps a short string inside
its object header (embstr, up to 44 bytes); here the short strings of a
bucket share one ``bytearray`` instead, and a key costs its value's bytes
plus a 4-byte word.

Layout: a :class:`Bucket` is a dict key -> entry.  An entry is the value
itself, or, for a ``bytes`` value of at most :data:`PACK_MAX` bytes, an
``int``: its index into ``words``, where ``words[index]`` is ``offset << 6
| length`` of the value's bytes in ``data``.  CPython shares the ints up to
256, so a bucket of up to 257 packed values allocates nothing per entry;
past that an index costs a 32-byte int, still well under a bytes object.
A freed index joins a free list threaded through ``words`` (the length
field :data:`_FREE`, the offset field the next free index + 1).  The bytes
a removal or a longer overwrite leaves behind are garbage, counted, and
compacted away once they are over half of ``data``; compaction moves
offsets, never indexes, so the dict itself is not touched.

A bucket packs from its :data:`PACK_FROM`-th key on (its store, two
objects, would cost more than it saves in a bucket of two or three keys); the
short strings it holds then are packed at once, and it stays packed.

The dict's own methods see raw entries; they are for this module and for
``shardnode/db.py`` (which inlines :meth:`value` on the GET path).  Everyone
else reads values through :meth:`value` and :meth:`entries`, and writes only
through the database.  Containers and longer strings are entries as before,
so ``type(entry) is int`` is what says "packed": no value is an ``int``.
"""

from __future__ import annotations

from array import array
from struct import Struct

PACK_MAX = 44  # Redis's embstr bound (OBJ_ENCODING_EMBSTR_SIZE_LIMIT), measured as good as 64
_FREE = 63  # the length field of a word on the free list (> PACK_MAX)
_DATA_MAX = 1 << 26  # offsets have 26 bits: a bucket past 64 MB keeps new values as objects
_COMPACT_MIN = 256  # garbage below this is not worth a compaction
# A bucket packs once it holds this many keys: its store (a bytearray and a
# word array, ~150 bytes) is worth it from about 5 short strings on.
PACK_FROM = 8
# One ``unpack_from`` per length: a ``bytes`` straight from the bytearray in
# one C call (slicing makes a bytearray first: measured twice as slow).
_READ = [Struct("%ds" % n).unpack_from for n in range(PACK_MAX + 1)]


class Bucket(dict):
    """key -> entry, small strings packed (see module doc)."""

    __slots__ = ("data", "words", "free", "garbage")

    def __init__(self):
        self.data = None  # bytearray, once the bucket packs (see _start_packing)
        self.words = None  # array("I"), likewise
        self.free = -1  # head of the free list of indexes
        self.garbage = 0  # bytes of ``data`` no word points at

    # -- reads --------------------------------------------------------------

    def unpack(self, index: int) -> bytes:
        """The packed value at ``index`` as a new ``bytes``."""
        word = self.words[index]
        return _READ[word & 63](self.data, word >> 6)[0]

    def value(self, key: bytes):
        """The value stored under ``key`` (materialised if packed), or None."""
        entry = self.get(key)
        if type(entry) is int:
            return self.unpack(entry)
        return entry

    def entries(self):
        """(key, value) pairs, packed values materialised, in dict order."""
        words, data = self.words, self.data
        for key, entry in self.items():
            if type(entry) is int:
                word = words[entry]
                yield key, _READ[word & 63](data, word >> 6)[0]
            else:
                yield key, entry

    def packed_length(self, index: int) -> int:
        """The length of the packed value at ``index`` (its footprint's input)."""
        return self.words[index] & 63

    # -- writes -------------------------------------------------------------

    def put(self, key: bytes, value, old=None) -> None:
        """Store ``value`` under ``key``; ``old`` is the raw entry there now
        (None if the key is new): the caller has looked it up already."""
        if type(value) is bytes and len(value) <= PACK_MAX:
            n = len(value)
            words = self.words
            if words is None:
                if len(self) < PACK_FROM:
                    self[key] = value
                    return
                self._start_packing()
                words = self.words
                old = self.get(key)  # packed now, if it was a short string
            if type(old) is int:
                word = words[old]
                start, had = word >> 6, word & 63
                if n <= had:  # overwrite in place; the tail left over is garbage
                    self.data[start:start + n] = value
                    words[old] = (start << 6) | n
                    self.garbage += had - n
                elif self._room(n):  # (may compact: self.data read after)
                    data = self.data
                    words[old] = (len(data) << 6) | n
                    data += value
                    self.garbage += had
                else:
                    self._release(old)
                    self[key] = value
                    return
                if self.garbage > _COMPACT_MIN and self.garbage * 2 > len(self.data):
                    self.compact()
                return
            if not self._room(n):
                self[key] = value
                return
            data = self.data
            word = (len(data) << 6) | n
            data += value
            index = self.free
            if index >= 0:
                self.free = (words[index] >> 6) - 1
                words[index] = word
            else:
                index = len(words)
                words.append(word)
            self[key] = index
            return
        if type(old) is int:
            self._release(old)
        self[key] = value

    def remove(self, key: bytes):
        """Drop ``key`` (it must be there); returns the object stored, or for
        a packed string its length (an ``int``: enough for its footprint)."""
        entry = self.pop(key)
        if type(entry) is int:
            return self._release(entry)
        return entry

    # -- internals ----------------------------------------------------------

    def _start_packing(self) -> None:
        """Give the bucket its store and pack the short strings it holds."""
        self.data = bytearray()
        self.words = array("I")
        for key, entry in list(self.items()):
            if type(entry) is bytes and len(entry) <= PACK_MAX:
                self.put(key, entry, entry)

    def _release(self, index: int) -> int:
        """Put ``index`` on the free list; its bytes become garbage."""
        words = self.words
        length = words[index] & 63
        words[index] = ((self.free + 1) << 6) | _FREE
        self.free = index
        self.garbage += length
        if self.garbage > _COMPACT_MIN and self.garbage * 2 > len(self.data):
            self.compact()
        return length

    def _room(self, n: int) -> bool:
        """Whether ``n`` more bytes fit the offsets (compacting if that helps)."""
        if len(self.data) + n < _DATA_MAX:
            return True
        if self.garbage:
            self.compact()
        return len(self.data) + n < _DATA_MAX

    def compact(self) -> None:
        """Rewrite ``data`` without its garbage; indexes stay, offsets move."""
        old = memoryview(self.data)
        data = bytearray()
        words = self.words
        for index, word in enumerate(words):
            length = word & 63
            if length != _FREE:
                start = word >> 6
                words[index] = (len(data) << 6) | length
                data += old[start:start + length]
        old.release()
        self.data = data
        self.garbage = 0
