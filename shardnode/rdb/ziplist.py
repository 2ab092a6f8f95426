"""The compact encodings Redis 6.2 and older wrote, read only (sans-IO).

Redis 7.0 converts both on load and never writes them, but a ``dump.rdb``
of a Redis 6.x/5.x (the common migration source) holds them, and RESTORE of
an old DUMP payload too:

- **ziplist** (ziplist.c): header ``zlbytes`` (uint32 LE, the blob's length),
  ``zltail`` (uint32 LE), ``zllen`` (uint16 LE, 65535 = count unknown), then
  entries, then 0xFF.  An entry is ``prevlen`` (1 byte, or 0xFE + uint32 LE),
  an encoding, and its data: a string with a 6, 14 (big endian) or 32-bit
  (big endian) length, or an integer: 0xC0 int16, 0xD0 int32, 0xE0 int64,
  0xF0 int24, 0xFE int8 (all little endian), 0xF1..0xFD the values 0..12.
  Lists (RDB type 10, and each node of type 14), hashes (13: field, value,
  field, value ...) and sorted sets (12: member, score as a string or an
  integer ...) used it.
- **zipmap** (zipmap.c, hashes before Redis 2.6, RDB type 9): ``zmlen``
  (1 byte: the pair count when below 254), then per pair ``len`` field
  ``len`` ``free`` value plus ``free`` unused bytes, then 0xFF; a ``len`` is
  one byte below 254, or 254 followed by a uint32 (little endian).

Anything malformed raises :class:`RdbFormatError`.
"""

from __future__ import annotations

from shardnode.rdb.encoding import RdbFormatError

_ZIP_INTS = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}


def decode_ziplist(blob: bytes) -> list:
    """The entries of a ziplist (Redis <= 6.2's compact encoding) as bytes."""
    if len(blob) < 11 or int.from_bytes(blob[:4], "little") != len(blob) or blob[-1] != 0xFF:
        raise RdbFormatError("ziplist header or terminator is wrong")
    declared = int.from_bytes(blob[8:10], "little")
    out = []
    pos, end = 10, len(blob) - 1
    while pos < end:
        pos += 5 if blob[pos] == 0xFE else 1  # the previous entry's length
        if pos >= end:
            raise RdbFormatError("ziplist entry truncated")
        first = blob[pos]
        kind = first >> 6
        if kind == 0:
            length, pos = first & 0x3F, pos + 1
        elif kind == 1:
            length, pos = (first & 0x3F) << 8 | blob[pos + 1], pos + 2
        elif kind == 2:
            length, pos = int.from_bytes(blob[pos + 1 : pos + 5], "big"), pos + 5
        else:
            width = _ZIP_INTS.get(first)
            if width is not None:
                raw = blob[pos + 1 : pos + 1 + width]
                if len(raw) != width:
                    raise RdbFormatError("ziplist integer truncated")
                out.append(b"%d" % int.from_bytes(raw, "little", signed=True))
                pos += 1 + width
            elif 0xF1 <= first <= 0xFD:
                out.append(b"%d" % ((first & 0x0F) - 1))
                pos += 1
            else:
                raise RdbFormatError("ziplist entry encoding 0x%02x" % first)
            continue
        if pos + length > end:
            raise RdbFormatError("ziplist string truncated")
        out.append(bytes(blob[pos : pos + length]))
        pos += length
    if pos != end or (declared != 0xFFFF and declared != len(out)):
        raise RdbFormatError("ziplist entry count is wrong")
    return out


_ZIPMAP_BIGLEN = 254
_ZIPMAP_END = 0xFF


def _zipmap_length(blob: bytes, pos: int):
    """A zipmap ``len``: (length, position after it)."""
    first = blob[pos]
    if first < _ZIPMAP_BIGLEN:
        return first, pos + 1
    if first == _ZIPMAP_BIGLEN and pos + 5 <= len(blob):
        return int.from_bytes(blob[pos + 1 : pos + 5], "little"), pos + 5
    raise RdbFormatError("zipmap length byte 0x%02x" % first)


def decode_zipmap(blob: bytes) -> list:
    """The (field, value) pairs of a zipmap, in order."""
    if len(blob) < 2 or blob[-1] != _ZIPMAP_END:
        raise RdbFormatError("zipmap header or terminator is wrong")
    declared = blob[0]
    pairs = []
    pos, end = 1, len(blob) - 1
    while pos < end:
        field_length, pos = _zipmap_length(blob, pos)
        field = blob[pos : pos + field_length]
        pos += field_length
        if pos >= end:
            raise RdbFormatError("zipmap entry truncated")
        value_length, pos = _zipmap_length(blob, pos)
        if pos >= end:
            raise RdbFormatError("zipmap entry truncated")
        free = blob[pos]
        value = blob[pos + 1 : pos + 1 + value_length]
        pos += 1 + value_length + free
        if pos > end:
            raise RdbFormatError("zipmap entry truncated")
        pairs.append((bytes(field), bytes(value)))
    if pos != end or (declared < _ZIPMAP_BIGLEN and declared != len(pairs)):
        raise RdbFormatError("zipmap entry count is wrong")
    return pairs
