"""The value layer: what a stored value is, per Redis type, said once.

A value in a keyspace bucket is a plain Python object and its Python type
says which Redis type it is.  For each such type one :class:`ValueKind` says:

- its TYPE name (TYPE, SCAN TYPE);
- its OBJECT ENCODING, as Redis 7.0 would keep it;
- its size: an estimate of the bytes Redis would use for it (MEMORY USAGE,
  eviction and ``used_memory`` read it), without walking the value;
- how to copy it (COPY): immutable values are shared;
- its RDB encoding: the RDB type id it is written as now, and a writer and
  reader per type id, registered into :mod:`shardnode.rdb.objects`.

A family module that adds a data type (hashes, lists, sets, sorted sets,
streams) describes it with one :func:`register` call at import.  Everything
that needs to know about values (the keyspace commands, DUMP/RESTORE,
cross-shard moves, the snapshot) asks the functions below, never the types.

Strings stay plain ``bytes``: GET/SET never wrap or unwrap them, and their
encoding and size follow from their length (and, up to 20 bytes, whether they
read as a 64-bit integer) in O(1).

Container encodings, the hook: Redis starts a small container in a compact
encoding (listpack, intset) and converts it to a general one (hashtable,
skiplist) when it outgrows a threshold; in 7.0 the conversion is one way, a
container never shrinks back.  So the encoding is state, not a function of the
contents: a container type keeps its current OBJECT ENCODING name in an
``encoding`` attribute on the object (a ``dict`` subclass with
``__slots__ = ("encoding",)``, say), the family code that grows it switches
the attribute when it crosses the threshold, and :func:`register` reads that
attribute unless given another ``encoding`` function.  A container likewise
keeps its size estimate up to date as it changes, so ``size`` stays O(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable

from cluster import errors
from cluster.errors import CommandError
from shardnode.rdb.constants import TYPE_STRING
from shardnode.rdb.encoding import REDIS_DEFAULT_LIMITS, RdbReader, RdbWriter
from shardnode.rdb.objects import (
    dump_version_and_checksum_ok,
    frame_dump,
    read_dump_object,
    read_object,
    register_codec,
    write_object,
)


@dataclass(frozen=True)
class ValueKind:
    name: str  # TYPE reply
    encoding: Callable[[Any], str]  # OBJECT ENCODING reply
    size: Callable[[Any], int]  # estimated bytes, as Redis would use
    copy: Callable[[Any], Any]  # an independent value (COPY)
    rdb_type: Callable[[Any], int]  # the RDB type id the value is written as now


KINDS: dict = {}  # Python type -> ValueKind
TYPE_NAMES: dict = {}  # Python type -> TYPE name (derived from KINDS, for SCAN TYPE)


def register(python_type: type, name: str, *, size, copy, rdb_type, codecs: dict,
             encoding=None) -> ValueKind:
    """Describe one Redis type stored as ``python_type`` (see module doc).

    ``rdb_type`` is a type id, or a function of the value for types whose
    RDB type follows their encoding (a listpack hash is written as
    HASH_LISTPACK, a hashtable one as HASH).  ``codecs`` maps each RDB type id
    the type reads to ``(write, read)``; ``write`` is None for ids read only.
    ``encoding`` defaults to the value's ``encoding`` attribute.
    """
    if python_type in KINDS:
        raise ValueError("%r registered twice" % python_type)
    if isinstance(rdb_type, int):
        rdb_type = _constant(rdb_type)
    kind = ValueKind(name, encoding or attrgetter("encoding"), size, copy, rdb_type)
    for type_id, (write, read) in codecs.items():
        register_codec(type_id, write, read)
    KINDS[python_type] = kind
    TYPE_NAMES[python_type] = name
    return kind


def _constant(result):
    return lambda value: result


# -- what callers ask ------------------------------------------------------


def type_name(value) -> str:
    return TYPE_NAMES[type(value)]


def encoding_of(value) -> str:
    return KINDS[type(value)].encoding(value)


def size_of(value) -> int:
    return KINDS[type(value)].size(value)


def copy_value(value):
    return KINDS[type(value)].copy(value)


def write_value(writer: RdbWriter, value) -> None:
    """The value as an RDB object (type id + body): snapshot, DUMP, moves."""
    write_object(writer, KINDS[type(value)].rdb_type(value), value)


def read_value(reader: RdbReader):
    """One RDB object; raises ``RdbFormatError`` (or ValueError) if malformed."""
    return read_object(reader)


def dump_payload(value) -> bytes:
    """DUMP's reply: the RDB object, the RDB version and a CRC-64."""
    writer = RdbWriter()
    write_value(writer, value)
    return frame_dump(bytes(writer.buffer))


def load_payload(data, limits=REDIS_DEFAULT_LIMITS):
    """RESTORE's reading of a DUMP payload, with Redis's error texts; a
    container gets the encoding ``limits`` (the shard's configuration) give."""
    if not dump_version_and_checksum_ok(data):
        raise CommandError(errors.DUMP_PAYLOAD_INVALID)
    try:
        return read_dump_object(data, limits)
    except (ValueError, IndexError, OverflowError):  # RdbFormatError is a ValueError
        raise CommandError(errors.BAD_DATA_FORMAT) from None


# -- strings ---------------------------------------------------------------

_EMBSTR_MAX = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT
_ROBJ = 16  # sizeof(robj)


def string_encoding(value: bytes) -> str:
    """Redis's choice for a string: int, embstr (<= 44 bytes) or raw."""
    if len(value) <= 20 and value:
        body = value[1:] if value[:1] == b"-" else value
        if body.isdigit() and (body == b"0" or body[:1] != b"0") and value != b"-0" \
                and -(2**63) <= int(value) < 2**63:
            return "int"
    return "embstr" if len(value) <= _EMBSTR_MAX else "raw"


def allocation_size(request: int) -> int:
    """The jemalloc size class a request of ``request`` bytes gets (Redis's
    default allocator): 8, 16, then steps of 16 to 128, then four classes per
    doubling (160, 192, 224, 256, 320 ...)."""
    if request <= 8:
        return 8
    if request <= 128:
        return (request + 15) & ~15
    step = 1 << ((request - 1).bit_length() - 3)
    return (request + step - 1) & ~(step - 1)


def _sds_header(length: int) -> int:
    """sdsReqType's header for a string this long (sdshdr8/16/32/64)."""
    if length < 1 << 8:
        return 3
    if length < 1 << 16:
        return 5
    if length < 1 << 32:
        return 9
    return 17


def string_size(value: bytes) -> int:
    """objectComputeSize for a string: an int lives in the robj itself; an
    embstr is one allocation (robj + sdshdr8 + bytes + NUL); a raw string is
    the robj plus its own sds allocation.  Matches MEMORY USAGE of a key
    minus the key's own share (its sds and dict entry)."""
    length = len(value)
    if length <= 20 and string_encoding(value) == "int":
        return _ROBJ
    if length <= _EMBSTR_MAX:
        return allocation_size(_ROBJ + 3 + length + 1)
    return _ROBJ + allocation_size(_sds_header(length) + length + 1)


register(bytes, "string", encoding=string_encoding, size=string_size,
         copy=lambda value: value, rdb_type=TYPE_STRING,
         codecs={TYPE_STRING: (RdbWriter.write_string, RdbReader.read_string)})


# -- uniform random members of big containers ---------------------------------


class PickList:
    """The members of a set or the fields of a hash in a list, so that a
    uniformly random one is found in O(1): SPOP, SRANDMEMBER and HRANDFIELD
    on a million members would otherwise copy the whole container per call
    (a Python set or dict cannot be indexed).  Redis picks a random bucket of
    its own hash table instead; this is our equivalent.

    A container builds one on its first random pick and then reports each
    change to it: :meth:`added` for a member that was not there,
    :meth:`removed` for one that left.  A removal only marks the entry
    ``stale`` (finding its position would cost a second index); stale
    entries are skipped by the picks, dropped when a pick meets one, and
    all swept out once they are half the list, so every pick stays O(1)
    amortised and every live member appears exactly once.
    """

    __slots__ = ("items", "stale")

    def __init__(self, members):
        self.items = list(members)
        self.stale = set()

    def added(self, member) -> None:
        if member in self.stale:
            self.stale.discard(member)  # its old entry is live again
        else:
            self.items.append(member)

    def removed(self, member) -> None:
        self.stale.add(member)
        if len(self.stale) * 2 > len(self.items):
            stale = self.stale
            self.items = [m for m in self.items if m not in stale]
            stale.clear()

    def live_index(self, rng) -> int:
        """The position of a uniformly random live member (there must be one);
        stale entries met on the way are dropped."""
        items, stale = self.items, self.stale
        while True:
            index = int(rng() * len(items))
            if items[index] not in stale:
                return index
            stale.discard(self.take(index))

    def take(self, index: int):
        """Remove the entry at ``index`` (the last entry moves there)."""
        items = self.items
        member = items[index]
        last = items.pop()
        if index < len(items):
            items[index] = last
        return member

    def sample(self, count: int, rng) -> list:
        """``count`` distinct live members, for ``count`` well below the
        live size (the caller copies the container otherwise)."""
        items, stale = self.items, self.stale
        chosen = set()
        out = []
        while len(out) < count:
            index = int(rng() * len(items))
            if index in chosen or items[index] in stale:
                continue
            chosen.add(index)
            out.append(items[index])
        return out


def dropping_picks(base: type, *names: str) -> dict:
    """Overrides of ``base``'s mutators ``names`` that drop the container's
    pick list (rebuilt on the next random pick): for the mutators the family
    code does not use, where keeping the list in step is not worth the code.
    Meant for a class body: ``vars().update(dropping_picks(set, "pop"))``."""
    def dropping(name):
        original = getattr(base, name)

        def mutate(self, *args, **kwargs):
            self.picks = None
            return original(self, *args, **kwargs)
        mutate.__name__ = name
        return mutate
    return {name: dropping(name) for name in names}
