"""Redis's listpack blob (listpack.c), sans-IO: a list of entries to bytes and back.

RDB v10 stores small hashes, sorted sets and list nodes as one listpack
written as an RDB string, so DUMP of a compact container is byte-compatible
only if the blob is built exactly as Redis builds it:

- header: total bytes (uint32 LE), entry count (uint16 LE, 65535 = unknown);
- per entry: an encoding byte (and data), then "backlen", the entry's size
  written so it can be read right to left;
- a final 0xFF.

An entry that reads as a 64-bit integer (Redis's string2ll rules: no
leading zeros, no "-0", no blanks) is stored in the narrowest integer
encoding; anything else as a string with a 6, 12 or 32-bit length.
"""

from __future__ import annotations

from cluster.args import parse_int
from cluster.errors import CommandError
from shardnode.rdb.encoding import RdbFormatError

_HEADER = 6
_END = 0xFF
_COUNT_UNKNOWN = 0xFFFF


def _as_integer(entry: bytes):
    if not entry or len(entry) > 20:
        return None
    try:
        return parse_int(entry)
    except CommandError:
        return None


def _encode_entry(entry: bytes) -> bytes:
    number = _as_integer(entry)
    if number is not None:
        if 0 <= number <= 127:
            body = bytes((number,))
        elif -4096 <= number <= 4095:
            number &= 0x1FFF
            body = bytes((0xC0 | number >> 8, number & 0xFF))
        elif -32768 <= number <= 32767:
            body = b"\xf1" + number.to_bytes(2, "little", signed=True)
        elif -(1 << 23) <= number < 1 << 23:
            body = b"\xf2" + number.to_bytes(3, "little", signed=True)
        elif -(1 << 31) <= number < 1 << 31:
            body = b"\xf3" + number.to_bytes(4, "little", signed=True)
        else:
            body = b"\xf4" + number.to_bytes(8, "little", signed=True)
    else:
        length = len(entry)
        if length < 64:
            body = bytes((0x80 | length,)) + entry
        elif length < 4096:
            body = bytes((0xE0 | length >> 8, length & 0xFF)) + entry
        else:
            body = b"\xf0" + length.to_bytes(4, "little") + entry
    return body + _backlen(len(body))


def entry_size(entry: bytes) -> int:
    """The bytes one entry takes in a listpack (encoding, data, backlen), as
    :func:`encode` would write it, without building it: a stream keeps its
    nodes' byte counts up to date, as Redis cuts nodes by size."""
    if entry and len(entry) <= 20 and entry[0] in _INT_START:
        number = _as_integer(entry)
        if number is not None:
            return integer_size(number)
    length = len(entry)
    body = length + (1 if length < 64 else 2 if length < 4096 else 5)
    return body + _backlen_size(body)


_INT_START = frozenset(b"-0123456789")


def integer_size(number: int) -> int:
    """entry_size of a number's decimal form (an integer encoding + backlen)."""
    if 0 <= number <= 127:
        return 2
    if -4096 <= number <= 4095:
        return 3
    if -32768 <= number <= 32767:
        return 4
    if -(1 << 23) <= number < 1 << 23:
        return 5
    if -(1 << 31) <= number < 1 << 31:
        return 6
    return 10


def _backlen_size(size: int) -> int:
    return 1 if size <= 127 else 2 if size < 1 << 14 else 3 if size < 1 << 21 \
        else 4 if size < 1 << 28 else 5


def _backlen(size: int) -> bytes:
    """lpEncodeBacklen: 7 bits per byte, the first byte without the high bit."""
    if size <= 127:
        return bytes((size,))
    groups = []
    while size:
        groups.append(size & 127)
        size >>= 7
    groups.reverse()
    return bytes([groups[0]] + [g | 128 for g in groups[1:]])


def encode(entries) -> bytes:
    """The listpack holding ``entries`` (bytes), as lpAppend builds it."""
    body = b"".join(_encode_entry(entry) for entry in entries)
    count = len(entries)
    total = _HEADER + len(body) + 1
    return (total.to_bytes(4, "little")
            + (count if count < _COUNT_UNKNOWN else _COUNT_UNKNOWN).to_bytes(2, "little")
            + body + bytes((_END,)))


def decode(blob: bytes) -> list:
    """The entries of a listpack, as bytes; RdbFormatError if it is malformed."""
    if len(blob) < _HEADER + 1 or int.from_bytes(blob[:4], "little") != len(blob) \
            or blob[-1] != _END:
        raise RdbFormatError("listpack header or terminator is wrong")
    declared = int.from_bytes(blob[4:6], "little")
    out = []
    pos, end = _HEADER, len(blob) - 1
    while pos < end:
        first = blob[pos]
        if first < 0x80:
            entry, size = b"%d" % first, 1
        elif first < 0xC0:
            length = first & 0x3F
            entry, size = blob[pos + 1 : pos + 1 + length], 1 + length
        elif first < 0xE0:
            number = (first & 0x1F) << 8 | blob[pos + 1]
            if number >= 1 << 12:
                number -= 1 << 13
            entry, size = b"%d" % number, 2
        elif first < 0xF0:
            length = (first & 0x0F) << 8 | blob[pos + 1]
            entry, size = blob[pos + 2 : pos + 2 + length], 2 + length
        elif first == 0xF0:
            length = int.from_bytes(blob[pos + 1 : pos + 5], "little")
            entry, size = blob[pos + 5 : pos + 5 + length], 5 + length
        elif 0xF1 <= first <= 0xF4:
            width = (2, 3, 4, 8)[first - 0xF1]
            raw = blob[pos + 1 : pos + 1 + width]
            if len(raw) != width:
                raise RdbFormatError("listpack integer truncated")
            entry, size = b"%d" % int.from_bytes(raw, "little", signed=True), 1 + width
        else:
            raise RdbFormatError("listpack entry encoding 0x%02x" % first)
        backlen = _backlen(size)
        if pos + size + len(backlen) > end or blob[pos + size : pos + size + len(backlen)] != backlen:
            raise RdbFormatError("listpack entry at %d is malformed" % pos)
        out.append(bytes(entry))
        pos += size + len(backlen)
    if pos != end or (declared != _COUNT_UNKNOWN and declared != len(out)):
        raise RdbFormatError("listpack entry count is wrong")
    return out
