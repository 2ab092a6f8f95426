"""An RDB *file* (Redis 7.0, format version 10), sans-IO: writer and reader.

The object format (a value's type id and body) is :mod:`shardnode.rdb.objects`;
this module adds what surrounds the objects in a file, as Redis 7.0's
``rdbSaveRio`` writes it and ``rdbLoadRio`` reads it::

    "REDIS0010"
    AUX redis-ver, redis-bits, ctime, used-mem, aof-base (+ ours, below)
    FUNCTION2 <library code>                 per FUNCTION LOAD library
    SELECTDB <n> RESIZEDB <keys> <expires>   per non-empty database
      [EXPIRETIME_MS <8 bytes LE>] <type id> <key> <object body>   per key
    EOF <CRC-64 of everything before, 8 bytes LE; 0 = not computed>

Our own AUX fields (Redis ignores AUX fields it does not know):
``df-shard`` and ``df-shards`` (this file's shard index and the shard count
that wrote it) and ``df-snapshot`` (the id tying one snapshot's files
together, see :mod:`shardnode.rdb.snapshot`).

:class:`RdbFileWriter` writes to anything with ``write(bytes)`` (a file, a
``BytesIO``, a list's ``append``-like sink): its bytes leave in chunks as its
buffer fills, so a snapshot can feed it one bucket at a time.
:func:`read_rdb` walks a whole file held in a bytes-like object (``bytes``,
an ``mmap``) and yields records; any defect raises :class:`RdbFileError`
saying what is wrong and where, never a half-silent result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

from shardnode.rdb.checksum import crc64
from shardnode.rdb.constants import (
    MAGIC,
    OBJECT_TYPES,
    OPCODE_AUX,
    OPCODE_EOF,
    OPCODE_EXPIRETIME,
    OPCODE_EXPIRETIME_MS,
    OPCODE_FREQ,
    OPCODE_FUNCTION2,
    OPCODE_FUNCTION_PRE_GA,
    OPCODE_IDLE,
    OPCODE_MODULE_AUX,
    OPCODE_RESIZEDB,
    OPCODE_SELECTDB,
    RDB_VERSION,
    TYPE_STRING,
)
from shardnode.rdb.encoding import (
    REDIS_DEFAULT_LIMITS,
    RdbFormatError,
    RdbReader,
    RdbWriter,
    encode_string,
)
from shardnode.rdb.objects import CODECS
from shardnode.values import KINDS

# The Redis version our files claim in their redis-ver field: the version
# whose format (10) they are.
WRITER_REDIS_VERSION = b"7.0.0"
# Our AUX field names (Redis skips unknown AUX fields on load).
AUX_SHARD = b"df-shard"
AUX_SHARDS = b"df-shards"
AUX_SNAPSHOT = b"df-snapshot"

_FLUSH_AT = 1 << 16  # buffered bytes that make the writer hand a chunk to its stream
_HEADER_LEN = len(MAGIC) + 4


class RdbFileError(ValueError):
    """A file that is not a valid RDB file; the message says what and where."""


# -- writing -----------------------------------------------------------------


class RdbFileWriter:
    """Writes one RDB file to ``stream`` (anything with ``write(bytes)``).

    Call in file order: :meth:`write_header`, :meth:`write_function` per
    library, then per database :meth:`select_db` and its keys
    (:meth:`write_key`, or :meth:`write_raw_object` for an object already in
    RDB form), then :meth:`finish`.  Bytes reach the stream in chunks of about
    64 KB; :meth:`flush` forces the pending ones out.
    """

    def __init__(self, stream, compress: bool = True, checksum: bool = True):
        self.stream = stream
        self.out = RdbWriter(compress)
        self.checksum = checksum  # rdbchecksum: False writes 0 as the trailer
        self.keys_written = 0
        self.bytes_written = 0

    def write_header(self, *, ctime: int | None = None, used_mem: int = 0,
                     aux: dict | None = None) -> None:
        """Magic, version and the AUX fields Redis 7.0 writes, then ``aux``
        (name -> bytes or int) such as our shard and snapshot fields."""
        out = self.out
        out.write_raw(MAGIC + b"%04d" % RDB_VERSION)
        self.write_aux(b"redis-ver", WRITER_REDIS_VERSION)
        self.write_aux(b"redis-bits", 64)
        self.write_aux(b"ctime", int(time.time()) if ctime is None else ctime)
        self.write_aux(b"used-mem", used_mem)
        self.write_aux(b"aof-base", 0)
        for name, value in (aux or {}).items():
            self.write_aux(name, value)

    def write_aux(self, name: bytes, value) -> None:
        """rdbSaveAuxField; an int is written as its decimal string (which
        the string encoder stores as an integer, as rdbSaveAuxFieldStrInt)."""
        out = self.out
        out.write_byte(OPCODE_AUX)
        out.write_string(name)
        out.write_string(b"%d" % value if isinstance(value, int) else value)

    def write_function(self, code: bytes) -> None:
        """One function library (FUNCTION LOAD's code), as rdbSaveFunctions."""
        self.out.write_byte(OPCODE_FUNCTION2)
        self.out.write_string(code)

    def select_db(self, db: int, keys: int, expires: int) -> None:
        """SELECTDB, then RESIZEDB: the database's key and TTL counts (a hint
        for the loader's table sizes)."""
        out = self.out
        out.write_byte(OPCODE_SELECTDB)
        out.write_length(db)
        out.write_byte(OPCODE_RESIZEDB)
        out.write_length(keys)
        out.write_length(expires)

    def _key_prefix(self, key: bytes, expire_ms) -> None:
        if expire_ms is not None:
            self.out.write_byte(OPCODE_EXPIRETIME_MS)
            self.out.write_raw(int(expire_ms).to_bytes(8, "little", signed=True))

    def write_key(self, key: bytes, value, expire_ms: int | None = None) -> None:
        """One key: its deadline (absolute ms) if any, the type id the value
        layer gives the value, the key, the object body."""
        out = self.out
        type_id = KINDS[type(value)].rdb_type(value)
        self._key_prefix(key, expire_ms)
        out.write_byte(type_id)
        out.write_string(key)
        # write_object writes the type byte itself: write the key between.
        CODECS[type_id].write(out, value)
        self._counted()

    def write_bucket(self, bucket, expires: dict) -> None:
        """Every key of ``bucket`` (a ``shardnode.buckets.Bucket``) with its deadline in
        ``expires``: :meth:`write_key` per key, with strings (most keys)
        encoded inline, so a snapshot spends its steps on few calls."""
        out = self.out
        buffer = out.buffer
        encode = encode_string
        compress = out.compress
        write_key = self.write_key
        for key, value in bucket.entries():
            if expires:
                deadline = expires.get(key)
                if deadline is not None:
                    write_key(key, value, deadline)
                    continue
            if type(value) is bytes:
                buffer.append(TYPE_STRING)
                buffer += encode(key, compress)
                buffer += encode(value, compress)
                self.keys_written += 1
            else:
                write_key(key, value)
        if len(buffer) >= _FLUSH_AT:
            self.flush()

    def write_raw_object(self, key: bytes, type_id: int, body, expire_ms: int | None = None) -> None:
        """One key whose object body is already RDB bytes: a merge copies
        objects from shard files unchanged (:attr:`RdbKey.body_start`)."""
        out = self.out
        self._key_prefix(key, expire_ms)
        out.write_byte(type_id)
        out.write_string(key)
        out.write_raw(body)
        self._counted()

    def _counted(self) -> None:
        self.keys_written += 1
        if len(self.out.buffer) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        data = self.out.take()
        if data:
            self.bytes_written += len(data)
            self.stream.write(data)

    def finish(self) -> None:
        """EOF and the CRC-64 of the whole file (0 without ``checksum``)."""
        self.out.write_byte(OPCODE_EOF)
        self.flush()
        crc = self.out.crc if self.checksum else 0
        trailer = crc.to_bytes(8, "little")
        self.bytes_written += len(trailer)
        self.stream.write(trailer)


# -- reading -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RdbAux:
    """An AUX field of the header (redis-ver, ctime, df-shard ...)."""
    name: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class RdbDbSize:
    """SELECTDB's database and RESIZEDB's counts (None when absent)."""
    db: int
    keys: int | None
    expires: int | None


@dataclass(frozen=True, slots=True)
class RdbFunction:
    """One function library's code (FUNCTION2), kept for FUNCTION RESTORE."""
    code: bytes


class RdbKey(NamedTuple):
    """One key: its database, name, value (as the value layer loads it),
    absolute deadline in ms or None, RDB type id, and where its object body
    (after the type byte and the key) lies: ``data[body_start:body_end]``.
    (A tuple: one is made per key of a file, and a tuple is made fastest.)"""
    db: int
    key: bytes
    value: object
    expire_ms: int | None
    type_id: int
    body_start: int
    body_end: int


@dataclass(frozen=True, slots=True)
class RdbEnd:
    """The EOF opcode was read and the checksum verified (``checksum`` 0:
    the file was written without one)."""
    checksum: int


def read_rdb(data, limits=REDIS_DEFAULT_LIMITS, *, decode_values: bool = True,
             check_checksum: bool = True, check_duplicates: bool = True):
    """Yield the records of the RDB file in ``data`` (a bytes-like object),
    in file order: :class:`RdbAux`, :class:`RdbFunction`, :class:`RdbDbSize`,
    :class:`RdbKey` and finally :class:`RdbEnd`.

    Accepts what redis-server 1.x .. 7.0 writes (versions 1 to 10); LRU/LFU
    hints (IDLE, FREQ) are read and dropped.  ``limits`` chooses container
    encodings (see :class:`shardnode.rdb.encoding.LoadLimits`).  With
    ``decode_values`` False a key's ``value`` is None (its object is still
    parsed, to find where the next record starts).  ``check_duplicates``
    False leaves finding a key twice to the caller (a loader that looks the
    key up anyway), sparing a set of every key.  Raises
    :class:`RdbFileError` on any defect: a bad magic or version, a
    truncation, an unknown opcode or type, a module value, a malformed
    object, a duplicate key, a checksum mismatch, bytes after the trailer.
    """
    total = len(data)
    if total < _HEADER_LEN or bytes(data[: len(MAGIC)]) != MAGIC:
        raise RdbFileError("not an RDB file (wrong signature)")
    digits = bytes(data[len(MAGIC):_HEADER_LEN])
    if not digits.isdigit():
        raise RdbFileError("not an RDB file (version %r is not a number)" % digits)
    version = int(digits)
    if version < 1 or version > RDB_VERSION:
        raise RdbFileError("unknown RDB format version %d (this server reads 1 to %d)"
                           % (version, RDB_VERSION))
    reader = RdbReader(data, _HEADER_LEN, limits=limits)
    read_string = reader.read_string
    codec_readers = {type_id: codec.read for type_id, codec in CODECS.items()}
    codec_readers[TYPE_STRING] = None  # read inline: most keys are strings
    db = 0
    expire_ms = None
    seen: set = set()  # (db, key) pairs: Redis refuses a duplicate key
    while True:
        record_at = reader.pos
        try:
            if record_at >= total:
                raise RdbFormatError("truncated: 1 bytes wanted at offset %d" % record_at)
            opcode = data[record_at]
            reader.pos = record_at + 1
            if opcode < OPCODE_FUNCTION2:  # an object: the common case first
                if opcode not in OBJECT_TYPES:
                    raise RdbFileError("unknown opcode or type %d at offset %d"
                                       % (opcode, record_at))
                key = read_string()
                body_start = reader.pos
                if opcode == TYPE_STRING:
                    value = read_string()
                else:
                    codec_read = codec_readers.get(opcode)
                    if codec_read is None:
                        raise RdbFileError(_unsupported_type(opcode, key, db))
                    value = codec_read(reader)
            elif opcode == OPCODE_EXPIRETIME_MS:
                expire_ms = int.from_bytes(reader.read_raw(8), "little", signed=True)
                continue
            elif opcode == OPCODE_EXPIRETIME:
                expire_ms = int.from_bytes(reader.read_raw(4), "little", signed=True) * 1000
                continue
            elif opcode == OPCODE_IDLE:
                reader.read_length()
                continue
            elif opcode == OPCODE_FREQ:
                reader.read_byte()
                continue
            elif opcode == OPCODE_SELECTDB:
                db = reader.read_length()
                if reader.pos < total and data[reader.pos] == OPCODE_RESIZEDB:
                    reader.read_byte()
                    keys, expires = reader.read_length(), reader.read_length()
                    yield RdbDbSize(db, keys, expires)
                else:
                    yield RdbDbSize(db, None, None)
                continue
            elif opcode == OPCODE_RESIZEDB:
                keys, expires = reader.read_length(), reader.read_length()
                yield RdbDbSize(db, keys, expires)
                continue
            elif opcode == OPCODE_AUX:
                name = reader.read_string()
                yield RdbAux(name, reader.read_string())
                continue
            elif opcode == OPCODE_FUNCTION2:
                yield RdbFunction(reader.read_string())
                continue
            elif opcode == OPCODE_FUNCTION_PRE_GA:
                raise RdbFileError("function library in the format of Redis 7.0 release "
                                   "candidates (opcode 246) at offset %d is not supported"
                                   % record_at)
            elif opcode == OPCODE_MODULE_AUX:
                raise RdbFileError("module data (MODULE_AUX) at offset %d: modules are "
                                   "not supported" % record_at)
            elif opcode == OPCODE_EOF:
                break
            else:
                raise RdbFileError("unknown opcode %d at offset %d" % (opcode, record_at))
        except RdbFileError:
            raise
        except RdbFormatError as exc:
            raise RdbFileError("%s (record at offset %d)" % (exc, record_at)) from None
        except (ValueError, IndexError, OverflowError, KeyError) as exc:
            raise RdbFileError("malformed data at offset %d: %s" % (record_at, exc)) from None
        if check_duplicates:
            marker = (db, key)
            if marker in seen:
                raise RdbFileError("duplicate key %r in db %d at offset %d" % (key, db, record_at))
            seen.add(marker)
        yield RdbKey(db, key, value if decode_values else None, expire_ms, opcode,
                     body_start, reader.pos)
        expire_ms = None
    end_of_data = reader.pos
    checksum = 0
    if version >= 5:
        if total - end_of_data < 8:
            raise RdbFileError("truncated: the file ends inside its checksum")
        checksum = int.from_bytes(bytes(data[end_of_data : end_of_data + 8]), "little")
        if check_checksum and checksum != 0 and checksum != _crc_of(data, end_of_data):
            raise RdbFileError("wrong checksum (the file is corrupt)")
        end_of_data += 8
    if end_of_data != total:
        raise RdbFileError("%d unexpected bytes after the end of the file" % (total - end_of_data))
    yield RdbEnd(checksum)


def _crc_of(data, end: int) -> int:
    """CRC-64 of ``data[:end]`` in 1 MB steps (no copy of a whole mmap)."""
    crc = 0
    view = memoryview(data)
    step = 1 << 20
    for at in range(0, end, step):
        crc = crc64(bytes(view[at : min(at + step, end)]), crc)
    view.release()
    return crc


def _unsupported_type(type_id: int, key: bytes, db: int) -> str:
    from shardnode.rdb.constants import TYPE_MODULE_2, TYPE_MODULE_PRE_GA

    if type_id in (TYPE_MODULE_2, TYPE_MODULE_PRE_GA):
        what = "a module value (modules are not supported)"
    else:
        what = "RDB type %d, which this server cannot load" % type_id
    return "key %r in db %d is %s" % (key, db, what)
