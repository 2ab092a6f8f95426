"""Redis's listpack (listpack.c, 7.0): the blob inside the *_LISTPACK RDB types.

Layout: total bytes (uint32 LE), element count (uint16 LE, 65535 = "count
them"), the entries, then 0xFF.  Each entry is an encoding header with its
data, then a "backlen" (the size of header + data, 7 bits per byte, read
right to left).  A string that reads as a 64-bit integer (string2ll) is
stored as the smallest integer form; other strings by length in a 6, 12 or
32-bit form.  Only what RDB type ids 16-18 need: whole blobs in and out.
"""

from __future__ import annotations

import struct

from shardnode.rdb.encoding import RdbFormatError

_END = 0xFF


def _as_int(item: bytes):
    """lpStringToInt64: the value when ``item`` is a canonical 64-bit integer."""
    if not item or len(item) > 20:
        return None
    body = item[1:] if item[:1] == b"-" else item
    if not body.isdigit() or (body[:1] == b"0" and len(body) > 1) or item == b"-0":
        return None
    value = int(item)
    return value if -(2**63) <= value < 2**63 else None


def _backlen(size: int) -> bytes:
    out = [size & 127]
    size >>= 7
    while size:
        out.append((size & 127) | 128)
        size >>= 7
    return bytes(reversed(out))


def _entry(item: bytes) -> bytes:
    value = _as_int(item)
    if value is not None:
        if 0 <= value <= 127:
            body = bytes((value,))
        elif -4096 <= value <= 4095:
            value &= 0x1FFF
            body = bytes((0xC0 | value >> 8, value & 0xFF))
        elif -(2**15) <= value < 2**15:
            body = b"\xf1" + value.to_bytes(2, "little", signed=True)
        elif -(2**23) <= value < 2**23:
            body = b"\xf2" + value.to_bytes(3, "little", signed=True)
        elif -(2**31) <= value < 2**31:
            body = b"\xf3" + value.to_bytes(4, "little", signed=True)
        else:
            body = b"\xf4" + value.to_bytes(8, "little", signed=True)
    else:
        length = len(item)
        if length < 64:
            body = bytes((0x80 | length,)) + item
        elif length < 4096:
            body = bytes((0xE0 | length >> 8, length & 0xFF)) + item
        else:
            body = b"\xf0" + struct.pack("<I", length) + item
    return body + _backlen(len(body))


def build(items) -> bytes:
    """A listpack holding ``items`` (bytes) in order."""
    entries = [_entry(item) for item in items]
    count = len(entries)
    body = b"".join(entries)
    total = 6 + len(body) + 1
    return struct.pack("<IH", total, count if count < 65535 else 65535) + body + b"\xff"


def parse(blob: bytes) -> list:
    """The items of a listpack (integers as their decimal bytes)."""
    if len(blob) < 7 or struct.unpack_from("<I", blob)[0] != len(blob) or blob[-1] != _END:
        raise RdbFormatError("bad listpack header")
    items = []
    pos, end = 6, len(blob) - 1
    while pos < end:
        first = blob[pos]
        if first < 0x80:
            item, size = b"%d" % first, 1
        elif first < 0xC0:
            length = first & 0x3F
            item, size = blob[pos + 1:pos + 1 + length], 1 + length
        elif first < 0xE0:
            value = ((first & 0x1F) << 8) | blob[pos + 1]
            item, size = b"%d" % (value - 0x2000 if value >= 0x1000 else value), 2
        elif first < 0xF0:
            length = ((first & 0x0F) << 8) | blob[pos + 1]
            item, size = blob[pos + 2:pos + 2 + length], 2 + length
        elif first == 0xF0:
            length = struct.unpack_from("<I", blob, pos + 1)[0]
            item, size = blob[pos + 5:pos + 5 + length], 5 + length
        elif 0xF1 <= first <= 0xF4:
            width = (2, 3, 4, 8)[first - 0xF1]
            item = b"%d" % int.from_bytes(blob[pos + 1:pos + 1 + width], "little", signed=True)
            size = 1 + width
        else:
            raise RdbFormatError("bad listpack entry")
        if pos + size > end:
            raise RdbFormatError("truncated listpack entry")
        items.append(bytes(item))
        pos += size + len(_backlen(size))
    if pos != end:
        raise RdbFormatError("listpack entries overrun")
    return items
