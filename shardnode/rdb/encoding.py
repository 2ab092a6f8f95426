"""The RDB primitives: lengths and strings, written to and read from buffers.

Sans-IO: :class:`RdbWriter` appends to a ``bytearray`` that its owner drains
with :meth:`RdbWriter.take` (a DUMP keeps the whole buffer, a snapshot writes
each drained chunk to its file), and :class:`RdbReader` walks any bytes-like
object (``bytes``, ``bytearray``, ``memoryview``, an ``mmap`` of a file).
Neither knows about sockets or files.

Strings are written as Redis's ``rdbSaveRawString`` writes them with
``rdbcompression yes``: as an int8/16/32 when the string is the canonical
decimal of such an integer, else LZF-compressed when longer than 20 bytes and
the compression saves at least 4 bytes, else raw.  So a DUMP from damselfly is
byte-identical to redis-server's.  The reader accepts every encoding and raises
:class:`RdbFormatError` for anything malformed; it never reads past its buffer
and never allocates more than the buffer could justify.
"""

from __future__ import annotations

from dataclasses import dataclass

import lzf

from shardnode.rdb.checksum import crc64
from shardnode.rdb.constants import (
    ENC_INT8,
    ENC_INT16,
    ENC_INT32,
    ENC_LZF,
    LEN_14BIT,
    LEN_32BIT,
    LEN_64BIT,
    LEN_6BIT,
    LEN_ENCVAL,
)

# rdbSaveRawString: "under 20 bytes it's unable to compress even aaaaaaaaaaaaaaaaaa".
LZF_MIN_LENGTH = 21
# rdbSaveLzfStringObject wants the output at least 4 bytes shorter than the input.
_LZF_MIN_SAVING = 4
# One LZF back-reference (3 bytes) expands to at most 264 bytes: a declared
# length above this ratio can never decompress, so it is refused unallocated.
_LZF_MAX_RATIO = 88
_LZF_MARKER = LEN_ENCVAL << 6 | ENC_LZF  # the first byte of an LZF string
_LZF_HEAD = bytes((_LZF_MARKER,))
_INT_ENCODABLE_MAX_LEN = 11  # len("-2147483648"): longer strings are never int32


class RdbFormatError(ValueError):
    """The bytes are not a valid RDB encoding (truncated, unknown code ...)."""


# rdbSaveLen of 0 .. 63: one byte each, made once (a snapshot writes two per key).
_SHORT_LENGTHS = tuple(bytes((LEN_6BIT << 6 | n,)) for n in range(1 << 6))


def encode_length(length: int) -> bytes:
    """rdbSaveLen: the shortest of the 6, 14, 32 and 64-bit forms."""
    if length < 1 << 6:
        return _SHORT_LENGTHS[length]
    if length < 1 << 14:
        return bytes(((LEN_14BIT << 6) | (length >> 8), length & 0xFF))
    if length <= 0xFFFFFFFF:
        return bytes((LEN_32BIT,)) + length.to_bytes(4, "big")
    return bytes((LEN_64BIT,)) + length.to_bytes(8, "big")


def encode_integer(value: int) -> bytes | None:
    """rdbEncodeInteger: the int8/16/32 special encoding, or None if too big."""
    if -(1 << 7) <= value < 1 << 7:
        return bytes((LEN_ENCVAL << 6 | ENC_INT8,)) + value.to_bytes(1, "little", signed=True)
    if -(1 << 15) <= value < 1 << 15:
        return bytes((LEN_ENCVAL << 6 | ENC_INT16,)) + value.to_bytes(2, "little", signed=True)
    if -(1 << 31) <= value < 1 << 31:
        return bytes((LEN_ENCVAL << 6 | ENC_INT32,)) + value.to_bytes(4, "little", signed=True)
    return None


def _integer_encoding(data: bytes) -> bytes | None:
    """rdbTryIntegerEncoding: only a canonical decimal ("7", not "07" or "+7")."""
    if not data or len(data) > _INT_ENCODABLE_MAX_LEN:
        return None
    first = data[0]
    if first > 57 or (first < 48 and first != 45):  # not a digit or "-": no int (cheap)
        return None
    try:
        value = int(data)
    except ValueError:
        return None
    if b"%d" % value != data:
        return None
    return encode_integer(value)


def encode_string(data: bytes, compress: bool = True) -> bytes:
    """One string as rdbSaveRawString writes it (see the module docstring)."""
    length = len(data)
    if length <= _INT_ENCODABLE_MAX_LEN:
        encoded = _integer_encoding(data)
        if encoded is not None:
            return encoded
    elif compress and length >= LZF_MIN_LENGTH:
        # python-lzf allows max_len + 1 output bytes: this asks liblzf for the
        # same output limit as Redis's lzf_compress(s, len, out, len - 4).
        packed = lzf.compress(data if type(data) is bytes else bytes(data),
                              length - _LZF_MIN_SAVING - 1)
        if packed is not None:
            return b"".join((_LZF_HEAD, encode_length(len(packed)), encode_length(length),
                             packed))
    if length < 1 << 6:
        return _SHORT_LENGTHS[length] + data
    return encode_length(length) + data


class RdbWriter:
    """Accumulates RDB bytes; :meth:`take` drains them into a running CRC-64.

    ``compress`` is Redis's ``rdbcompression`` (LZF for long strings).
    """

    __slots__ = ("buffer", "compress", "crc")

    def __init__(self, compress: bool = True):
        self.buffer = bytearray()
        self.compress = compress
        self.crc = 0  # CRC-64 of everything taken so far

    def write_byte(self, value: int) -> None:
        self.buffer.append(value)

    def write_raw(self, data) -> None:
        self.buffer += data

    def write_length(self, length: int) -> None:
        self.buffer += encode_length(length)

    def write_string(self, data: bytes) -> None:
        self.buffer += encode_string(data, self.compress)

    def take(self) -> bytes:
        """The bytes written since the last take; they join :attr:`crc`."""
        data = bytes(self.buffer)
        self.buffer.clear()
        self.crc = crc64(data, self.crc)
        return data


@dataclass(frozen=True)
class LoadLimits:
    """The container encoding thresholds a value is loaded under: Redis's
    rdbLoadObject reads them from the live configuration, so a RESTORE after
    ``CONFIG SET zset-max-listpack-entries 2`` gives a 3-member sorted set a
    skiplist.  The shard passes its configuration object (it has these
    attributes, under these names); this class holds Redis 7.0's defaults
    for readers that have none.

    ``limits=None`` (:data:`KEEP_ENCODING`) is for a value moved between
    shards: it keeps the encoding its RDB type id names (every container
    type writes a distinct id per encoding), since in one Redis a RENAME or
    an SMOVE keeps the very object, encoding and all."""

    hash_max_listpack_entries: int = 512
    hash_max_listpack_value: int = 64
    set_max_intset_entries: int = 512
    zset_max_listpack_entries: int = 128
    zset_max_listpack_value: int = 64


REDIS_DEFAULT_LIMITS = LoadLimits()
KEEP_ENCODING = None


class RdbReader:
    """Reads RDB primitives from a bytes-like buffer, from ``pos`` on;
    ``limits`` (a :class:`LoadLimits` or the configuration) is what the
    container readers encode by."""

    __slots__ = ("data", "pos", "end", "limits")

    def __init__(self, data, pos: int = 0, end: int | None = None,
                 limits=REDIS_DEFAULT_LIMITS):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.limits = limits

    def _advance(self, count: int) -> int:
        start = self.pos
        if count < 0 or start + count > self.end:
            raise RdbFormatError("truncated: %d bytes wanted at offset %d" % (count, start))
        self.pos = start + count
        return start

    def read_byte(self) -> int:
        return self.data[self._advance(1)]

    def read_raw(self, count: int) -> bytes:
        start = self._advance(count)
        return bytes(self.data[start : start + count])

    def read_length_or_code(self) -> tuple[int, bool]:
        """rdbLoadLenByRef: ``(length, False)`` or ``(ENC_* code, True)``."""
        first = self.read_byte()
        kind = first >> 6
        if kind == LEN_ENCVAL:
            return first & 0x3F, True
        if kind == LEN_6BIT:
            return first & 0x3F, False
        if kind == LEN_14BIT:
            return (first & 0x3F) << 8 | self.read_byte(), False
        if first == LEN_32BIT:
            return int.from_bytes(self.read_raw(4), "big"), False
        if first == LEN_64BIT:
            return int.from_bytes(self.read_raw(8), "big"), False
        raise RdbFormatError("unknown length encoding 0x%02x" % first)

    def read_length(self) -> int:
        """A plain length.  As Redis's rdbLoadLen(rdb, NULL), an encoded-string
        marker here reads as its low 6 bits rather than failing."""
        return self.read_length_or_code()[0]

    def read_string(self) -> bytes:
        """rdbGenericLoadStringObject: any string encoding, as bytes.  The
        common forms (a raw string with a 6 or 14-bit length, an LZF one)
        are decoded inline: loading calls this twice per key."""
        pos, data, end = self.pos, self.data, self.end
        if pos < end:
            first = data[pos]
            if first < 0x40:  # a raw string under 64 bytes (most keys)
                stop = pos + 1 + first
                if stop <= end:
                    self.pos = stop
                    chunk = data[pos + 1 : stop]  # bytes from bytes and mmap
                    return chunk if type(chunk) is bytes else bytes(chunk)
            elif first < 0x80 and pos + 1 < end:  # 14-bit length
                stop = pos + 2 + ((first & 0x3F) << 8 | data[pos + 1])
                if stop <= end:
                    self.pos = stop
                    return bytes(data[pos + 2 : stop])
            elif first == _LZF_MARKER:
                self.pos = pos + 1
                return self._read_lzf()
        length, encoded = self.read_length_or_code()
        if not encoded:
            return self.read_raw(length)
        if length == ENC_INT8:
            return b"%d" % int.from_bytes(self.read_raw(1), "little", signed=True)
        if length == ENC_INT16:
            return b"%d" % int.from_bytes(self.read_raw(2), "little", signed=True)
        if length == ENC_INT32:
            return b"%d" % int.from_bytes(self.read_raw(4), "little", signed=True)
        if length == ENC_LZF:
            return self._read_lzf()
        raise RdbFormatError("unknown string encoding %d" % length)

    def _read_lzf(self) -> bytes:
        pos, data = self.pos, self.data
        if pos + 1 < self.end and data[pos] < 0x40 and data[pos + 1] < 0x40:
            packed_length, length = data[pos], data[pos + 1]  # both 6-bit (short values)
            self.pos = pos + 2
        else:
            packed_length = self.read_length()
            length = self.read_length()
        start = self._advance(packed_length)
        packed = self.data[start : start + packed_length]
        if type(packed) is not bytes:
            packed = bytes(packed)
        if length == 0:  # lzf_decompress into 0 bytes returns 0: Redis accepts it
            return b""
        if length > packed_length * _LZF_MAX_RATIO:
            raise RdbFormatError("LZF lengths %d -> %d are impossible" % (packed_length, length))
        try:
            data = lzf.decompress(packed, length)
        except ValueError:  # liblzf: EINVAL, corrupt back-reference
            data = None
        if data is None or len(data) != length:
            raise RdbFormatError("invalid LZF data")
        return data
