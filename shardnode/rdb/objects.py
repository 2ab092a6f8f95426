"""RDB objects: one writer and one reader per object type id, and DUMP framing.

A value in RDB is its type id byte followed by a body whose layout the type id
decides.  The codecs are not listed here: the value layer
(``shardnode/values.py``) registers, per Python type, the type ids it writes
and reads, with :func:`register_codec`.  A type id may have a reader only
(encodings older Redis versions wrote that we load but never write: zipmap,
ziplist ...).

A DUMP payload is ``object | RDB version (2 bytes LE) | CRC-64 (8 bytes LE)``,
the CRC covering everything before it (Redis's createDumpPayload).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from shardnode.rdb.checksum import crc64
from shardnode.rdb.constants import OBJECT_TYPES, RDB_VERSION
from shardnode.rdb.encoding import REDIS_DEFAULT_LIMITS, RdbFormatError, RdbReader, RdbWriter

_FOOTER = 10  # version (2) + CRC-64 (8)


@dataclass(frozen=True)
class ObjectCodec:
    type_id: int
    # write(writer, value): the body after the type id byte; None: never written.
    write: Callable[[RdbWriter, Any], None] | None
    # read(reader) -> value: the body after the type id byte.
    read: Callable[[RdbReader], Any]


CODECS: dict = {}  # RDB type id -> ObjectCodec


def register_codec(type_id: int, write, read) -> None:
    if type_id not in OBJECT_TYPES:
        raise ValueError("%d is not an RDB object type id" % type_id)
    if type_id in CODECS:
        raise ValueError("RDB type id %d registered twice" % type_id)
    CODECS[type_id] = ObjectCodec(type_id, write, read)


def write_object(writer: RdbWriter, type_id: int, value) -> None:
    """The type id byte, then the body as that type id's codec writes it."""
    writer.write_byte(type_id)
    CODECS[type_id].write(writer, value)


def read_object(reader: RdbReader):
    """rdbLoadObjectType + rdbLoadObject: a value, or RdbFormatError."""
    type_id = reader.read_byte()
    codec = CODECS.get(type_id)
    if codec is None:
        raise RdbFormatError("no reader for RDB type id %d" % type_id)
    return codec.read(reader)


# -- DUMP payloads ---------------------------------------------------------


def frame_dump(body: bytes) -> bytes:
    """An object's bytes + the RDB version + the CRC-64 of both."""
    data = body + RDB_VERSION.to_bytes(2, "little")
    return data + crc64(data).to_bytes(8, "little")


def dump_version_and_checksum_ok(payload) -> bool:
    """verifyDumpPayload: a footer, a version Redis 7.0 reads, a matching CRC."""
    if len(payload) < _FOOTER:
        return False
    end = len(payload)
    version = int.from_bytes(payload[end - 10 : end - 8], "little")
    if version > RDB_VERSION:
        return False
    return crc64(bytes(payload[: end - 8])) == int.from_bytes(payload[end - 8 :], "little")


def read_dump_object(payload, limits=REDIS_DEFAULT_LIMITS):
    """The value in a verified DUMP payload, its encoding chosen by ``limits``
    (see :class:`shardnode.rdb.encoding.LoadLimits`).

    As Redis, the object is read from the whole payload, footer included: a
    body that runs into the footer bytes is not refused, bytes between the
    object and the footer are ignored.
    """
    return read_object(RdbReader(payload, limits=limits))
