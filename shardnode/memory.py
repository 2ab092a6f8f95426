"""A shard's memory: what its keys cost, its share of ``maxmemory``, OOM.

What lives here:

- :func:`footprint`: what one value costs this process, in bytes -- the
  Python objects behind it as CPython's allocator hands them out (pymalloc
  rounds small objects up to 16 bytes; dicts, sets and deques keep spare
  room as they grow).  It is O(1) (O(log n) for the spare room of a set or
  dict) and reads only what the value layer keeps up to date (``len``,
  ``nbytes``, ``member_bytes``), so it costs the same for a million members
  as for one.  The value layer's ``size_of`` answers a different question
  (what Redis would allocate); ``used_memory`` must track what *this*
  process's RSS grows by, so the constants here were calibrated against RSS
  growth (tests/e2e/test_memory_accounting.py).
- The per-key costs: the key object and its entry in the slot bucket (plus
  the keyspace's per-key bookkeeping), a bucket dict per slot in use, and a
  key's TTL (its ``expires`` entry, heap tuple and deadline int).
- :class:`ShardMemory`: the shard's share of ``maxmemory``, the peak, and the
  check Redis's ``performEvictions`` makes before a denyoom command: over the
  limit, ask the evictor (``shardnode/eviction.py``) to free the excess; still
  over, the command answers ``-OOM``.

How ``used_memory`` is kept (see ``shardnode/db.py``): every database keeps
``used``, its accounted bytes.  ``Database.set`` and the removal path add and
subtract footprints directly (they hold both values); a value changed in
place is announced with ``touch_write`` before the change, which notes its
footprint then in ``db.pending``; after the command (at the end of the
connection's batch, before an OOM check, before INFO reads it, and on the
shard's timer) :meth:`Keyspace.settle_memory` re-measures the pending keys and
adds the differences.  FLUSHDB/FLUSHALL reset ``used`` to zero; SWAPDB swaps
it with its database.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys

from shardnode.buckets import PACK_MAX

log = logging.getLogger("damselfly.shard")

# -- per-key costs (CPython 3.11, 64-bit; calibrated against RSS) -------------

# A dict entry (hash, key, value: 24 bytes) with the index slot and the spare
# room a dict keeps (usable = 2/3 of its table): ~40 bytes a key on average.
DICT_ENTRY = 40
# Each key sits in its slot's bucket dict; the keyspace's per-key bookkeeping
# is its share of the access table (shardnode/eviction.py): one 4-byte word
# per position, 1 to 2 positions per key.
KEY_BOOKKEEPING = 6
KEY_ENTRY = DICT_ENTRY + KEY_BOOKKEEPING
# A slot's bucket (shardnode/buckets.py) with few keys: the dict's header and
# first table, the packed store's four slots, plus its entry in
# ``Database.slots``.  The store's bytearray exists only in buckets of
# PACK_FROM keys or more: counted in their keys' PACKED_ENTRY.
BUCKET = 232 + 32 + DICT_ENTRY
# A string of at most PACK_MAX bytes is packed into its bucket: its bytes,
# its length byte, and what the store's growth leaves behind -- the spare
# room of the bytearray (an eighth at each growth) and its outgrown buffers
# (a realloc that moves leaves a hole): measured ~20 bytes over the value's
# own for 32-byte values, 60 to a bucket.  Values shorter than the bucket's
# longest pad their cells: not counted.  In a bucket of fewer than PACK_FROM
# keys such a string is still its own bytes object, counted the same: at
# most a few hundred bytes per such bucket, less than its store would cost.
PACKED_ENTRY = 16
# A key with a TTL: its ``expires`` entry, the (deadline, key) heap tuple and
# its list slot, the deadline int.
EXPIRE_ENTRY = DICT_ENTRY + 64 + 8 + 32

_PYMALLOC_MAX = 512  # larger requests go to malloc (an 8-byte chunk header)


def object_size(requested: int) -> int:
    """What an allocation of ``requested`` bytes takes: pymalloc rounds up to
    16 up to 512 bytes; glibc malloc adds its 8-byte header and rounds to 16."""
    if requested <= _PYMALLOC_MAX:
        return (requested + 15) & -16
    return (requested + 23) & -16


def bytes_size(length: int) -> int:
    """A ``bytes`` object of ``length`` (33 bytes of header and NUL)."""
    return (length + 48) & -16 if length < 480 else (length + 56) & -16


def string_size(length: int) -> int:
    """A string value of ``length`` as a bucket keeps it: packed up to
    PACK_MAX bytes, else its own ``bytes`` object."""
    if length <= PACK_MAX:
        return length + PACKED_ENTRY
    return bytes_size(length)


def entry_footprint(bucket, entry) -> int:
    """:func:`footprint` of a bucket's raw entry (an index for a packed string)."""
    if type(entry) is int:
        return bucket.packed_length(entry) + PACKED_ENTRY
    return footprint(entry)


def key_size(key: bytes) -> int:
    """A key's own cost beyond its value: the key object and its entries."""
    return bytes_size(len(key)) + KEY_ENTRY


# The mean rounding of a small object to pymalloc's 16-byte classes, for
# members whose individual lengths are not kept (only their total).
_MEAN_ROUNDING = 8
_BYTES_HEADER = 33 + _MEAN_ROUNDING


def _dict_bytes(size: int) -> int:
    index_bytes = 1 if size <= 128 else 2 if size <= 1 << 15 else 4 if size <= 1 << 31 else 8
    return object_size(32 + size * index_bytes + (size * 2 // 3) * 24)


def dict_table(count: int) -> int:
    """Bytes of a dict's table holding ``count`` items (indices + entries).

    A dict resizes when its usable two thirds are taken, to the power of two
    above three times its items.  Tables never shrink, so removals leave the
    bytes in place.  The tables it outgrew that came from malloc (past
    pymalloc's 512 bytes) partly stay in the heap (measured: about half of
    them, depending on what reuses the space): counted at half."""
    if not count:
        return 0
    size = 8
    outgrown = 0
    while count > size * 2 // 3:
        table = _dict_bytes(size)
        if table > _PYMALLOC_MAX:
            outgrown += table
        size = 1 << ((size * 2 // 3) * 3).bit_length()
    return _dict_bytes(size) + outgrown // 2


def set_table(count: int) -> int:
    """Bytes of a set's table holding ``count`` members, beyond the 8 slots
    inside the set object: a set resizes once three fifths of its slots are
    filled, to the power of two above four times its members (twice, past
    50,000); outgrown tables from malloc are counted at half, as for dicts."""
    size = 8
    outgrown = 0
    while count >= ((size - 1) * 3 + 4) // 5:
        if size > 8 and size * 16 > _PYMALLOC_MAX:
            outgrown += object_size(size * 16)
        used = ((size - 1) * 3 + 4) // 5
        wanted = used * 4 if used <= 50000 else used * 2
        size = 8
        while size <= wanted:
            size <<= 1
    return 0 if size == 8 else object_size(size * 16) + outgrown // 2


# -- per type ---------------------------------------------------------------


def _hash(value) -> int:
    """A dict subclass: the object, its table, a bytes object per field and value."""
    n = len(value)
    return 80 + dict_table(n) + value.nbytes + 2 * n * _BYTES_HEADER


def _set(value) -> int:
    """A set subclass: the object (its small table inline), the table, the
    members; the members' total length is not kept, so a few are sampled."""
    return _sampled_set(value, 8)


def _sampled_set(value, samples: int) -> int:
    n = len(value)
    taken = total = 0
    for member in value:
        total += len(member)
        taken += 1
        if taken == samples:
            break
    return 248 + set_table(n) + n * (_BYTES_HEADER + (total // taken if taken else 0))


def _list(value) -> int:
    """A deque: its object, a 64-slot block (528 bytes) per 64 elements, the elements."""
    n = len(value)
    return 120 + 528 * (n // 64 + 1) + value.nbytes + n * _BYTES_HEADER


def _zset(value) -> int:
    """The score dict, and per member a (score, member) tuple, its float and
    its slot in the sorted list (sortedcontainers: lists of ~1000 plus an
    index, and the spare room of each; measured at ~26 bytes a member)."""
    n = len(value.scores)
    return 400 + dict_table(n) + value.member_bytes + n * (_BYTES_HEADER + 64 + 32 + 26)


def _stream(value) -> int:
    """Entries kept as Python lists per node: about three times the
    listpack bytes the value layer counts, plus per entry its id tuple."""
    from shardnode.values import size_of

    return 3 * size_of(value) + 120 * value.length


_BY_TYPE_NAME = {"hash": _hash, "set": _set, "list": _list, "zset": _zset, "stream": _stream}
_FOOTPRINTS: dict = {}  # Python type -> function, from the value layer's registry


def footprint(value) -> int:
    """What ``value`` costs this process (see module doc)."""
    if type(value) is bytes:
        return string_size(len(value))
    fn = _FOOTPRINTS.get(type(value))
    if fn is None:
        from shardnode.values import KINDS, size_of

        kind = KINDS.get(type(value))
        fn = _BY_TYPE_NAME.get(kind.name) if kind is not None else None
        if fn is None:  # a type this module does not know: the value layer's
            fn = size_of if kind is not None else sys.getsizeof  # estimate, or Python's
        _FOOTPRINTS[type(value)] = fn
    return fn(value)


def key_usage(db, key: bytes, value) -> int:
    """MEMORY USAGE: what removing ``key`` frees -- value, key, entries, TTL."""
    usage = footprint(value) + key_size(key)
    if key in db.expires:
        usage += EXPIRE_ENTRY
    return usage


# -- returning memory to the system ---------------------------------------------

_libc = None


def _malloc_trim():
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
        if _libc and not hasattr(_libc, "malloc_trim"):
            _libc = False  # not glibc
    return _libc.malloc_trim if _libc else None


def release_free_memory() -> bool:
    """Hand freed memory back to the system where CPython lets us: collect
    cycles, then glibc's ``malloc_trim(0)`` returns free pages of the heap
    (pymalloc returns its empty arenas itself).  True if trimming ran."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


_RELEASE_AFTER = 4 << 20  # freed by one flush, worth a gc pass and a trim


def released_after_flush(freed: int) -> None:
    """FLUSHDB/FLUSHALL dropped ``freed`` accounted bytes: give the memory
    back to the system once the command's reply has left (see
    :func:`release_free_memory`), when it is worth the few milliseconds."""
    if freed < _RELEASE_AFTER:
        return
    try:
        import asyncio

        asyncio.get_running_loop().call_soon(release_free_memory)
    except RuntimeError:  # no event loop (handlers called directly)
        release_free_memory()


# -- the limit ---------------------------------------------------------------------


def shard_limit(maxmemory: int, shards: int) -> int:
    """A shard's share of ``maxmemory`` (0: no limit): keys are spread evenly
    over slots, so each shard gets an equal part (at least one byte, so a
    tiny limit still limits)."""
    if not maxmemory:
        return 0
    return max(1, maxmemory // max(1, shards))


def any_denyoom(commands) -> bool:
    """Whether a transaction's queue (argument lists) holds a denyoom
    command -- a script or function counts by its declared flags, as Redis
    counts them when it queues one -- : Redis then refuses its EXEC while
    over the limit."""
    from cluster.commands import spec_of
    from cluster.commands.scripting import SCRIPT_CALLS
    from shardnode.scripting import script_denies_oom

    for args in commands:
        spec = spec_of(args)
        if spec is not None and ("denyoom" in spec.flags or (
                spec.name in SCRIPT_CALLS and script_denies_oom(args))):
            return True
    return False


class ShardMemory:
    """The shard's share of ``maxmemory`` and the check before denyoom commands."""

    def __init__(self, server):
        from shardnode.eviction import Evictor

        self.server = server
        self.keyspace = server.keyspace
        self.shards = len(server.topology.shards)
        self.limit = shard_limit(server.config.maxmemory, self.shards)
        self.peak = 0
        self.evictor = Evictor(server.keyspace, server.config)

    def used(self) -> int:
        used = self.keyspace.used_memory
        if used > self.peak:
            self.peak = used
        return used

    def configure(self) -> None:
        """CONFIG SET maxmemory: the new share; a smaller one evicts down to it
        now (as Redis does at the next command), and the checked dispatch
        and the proxy links follow whether there is a limit at all."""
        self.limit = shard_limit(self.server.config.maxmemory, self.shards)
        self.server.set_write_check(False)
        if self.limit:
            self.out_of_memory()
        self.server.note_memory()  # the proxy links learn the new state

    def out_of_memory(self) -> bool:
        """Redis's performEvictions before a denyoom command: over the limit,
        evict the excess; True when still over it (the command gets -OOM)."""
        used = self.used()
        limit = self.limit
        if used <= limit:
            return False
        self.evictor.evict(self.keyspace, used - limit)
        return self.keyspace.used_memory > limit

    def overhead(self) -> int:
        """The part of ``used_memory`` that is bookkeeping, not data: the
        per-key entries, the buckets, the TTL entries (used_memory_overhead)."""
        total = 0
        for db in self.keyspace.dbs:
            if db.size:
                total += db.size * KEY_ENTRY + len(db.slots) * BUCKET \
                    + len(db.expires) * EXPIRE_ENTRY
        return total


# -- MEMORY (the handlers are shardnode/server.py's) --------------------------------

# Redis's reply for an instance with under 5 MB of data (a reply text, kept as sent).
DOCTOR_EMPTY = ("Hi Sam, this instance is empty or is using very little memory, my issues "
                "detector can't be used in these conditions. Please, leave for your mission on "
                "Earth and fill it with some data. The new Sam and I will be back to our "
                "programming as soon as I finished rebooting.\n")
DOCTOR_FINE = ("Hi Sam, I can't find any memory issue in your instance. I can only account "
               "for what occurs on this base.\n")
_DOCTOR_MIN = 5 << 20


def usage_of(db, key: bytes, value, samples: int) -> int:
    """MEMORY USAGE: :func:`key_usage`, a set's members sampled ``samples``
    times (0: all), as Redis samples a container's elements."""
    usage = key_usage(db, key, value)
    if type(value).__name__ == "RedisSet":
        usage += _sampled_set(value, samples or len(value)) - _set(value)
    return usage


def stats_of(server) -> dict:
    """MEMORY STATS for this shard, Redis 7.0's fields in its order."""
    memory = server.memory
    used = memory.used()
    peak = memory.peak
    from cluster.info_sections import memory_stats_totals, rss_bytes

    rss = rss_bytes()
    out = {
        b"peak.allocated": peak,
        b"total.allocated": used,
        b"startup.allocated": 0,
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": 0,
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": 0,
        b"functions.caches": 0,
    }
    keys = 0
    overhead = 0
    for db in server.keyspace.dbs:
        if db.size:
            main = db.size * KEY_ENTRY + len(db.slots) * BUCKET
            expires = len(db.expires) * EXPIRE_ENTRY
            out[b"db.%d" % db.index] = {b"overhead.hashtable.main": main,
                                        b"overhead.hashtable.expires": expires,
                                        b"overhead.hashtable.slot-to-keys": 0}
            keys += db.size
            overhead += main + expires
    dataset = max(0, used - overhead)
    out.update(memory_stats_totals(overhead, keys, used, peak, dataset, rss))
    return out


def doctor_report(used: int, peak: int, limit: int) -> str:
    """MEMORY DOCTOR: Redis's reply for little data; otherwise what this
    server can tell (its own words): a past peak, a limit nearly reached."""
    if used < _DOCTOR_MIN:
        return DOCTOR_EMPTY
    issues = []
    if peak > 1.5 * used:
        issues.append(" * Peak memory: used_memory was once more than 150% of what it is now; "
                      "the memory freed since may stay with the process. MEMORY PURGE returns "
                      "what the allocator can give back.\n\n")
    if limit and used > 0.9 * limit:
        issues.append(" * Near maxmemory: the data uses more than 90% of maxmemory; writes "
                      "will evict keys or, under noeviction, fail with -OOM.\n\n")
    if not issues:
        return DOCTOR_FINE
    return "Sam, I detected a few issues in this instance's memory:\n\n" + "".join(issues)
