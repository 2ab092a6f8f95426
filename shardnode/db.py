"""A shard's keyspace: databases of keys bucketed by hash slot, TTLs apart.

Layout, per database:

- ``slots``: slot -> :class:`shardnode.buckets.Bucket` (key -> value, short
  strings packed: read values through its ``value``/``entries``, never its
  raw dict entries).  The slot is the bucket: the forkless
  snapshot serialises bucket by bucket, SCAN walks slots in order (so a key
  that exists for the whole scan is never missed), and CLUSTER
  COUNTKEYSINSLOT / GETKEYSINSLOT are a dict lookup.
- ``expires``: key -> absolute deadline in ms, only for keys with a TTL.
- ``heap``: (deadline, key) pairs for active expiry; entries go stale when a
  TTL changes and are checked against ``expires`` when popped.
- ``stamps``: the access table, one 32-bit word per position, a key's word
  at ``hash(key) & mask`` (Redis's 24-bit LRU clock, or its LFU counter and
  minutes: ``shardnode/eviction.py`` says what the words mean and why a
  table).  No dict entry per key: 3.8 to 7.6 bytes per key, doubled as the
  database grows.  ``probation``: cache mode's FIFO of new keys, else None.

Values are native Python objects; a string is ``bytes`` (a short one packed
in its bucket, handed out as a new ``bytes``); what a value is
(TYPE, encoding, size, copy, RDB form) is ``shardnode/values.py``'s to say.
Every mutation goes
through :meth:`Keyspace.before_write` first -- the key-level hook, where
WATCH (built in: :class:`shardnode.sessions.WatchTable`), the snapshot's
serialise-before-write, wake-ups of blocked clients and memory accounting
attach.  A value changed in place (a container growing) is announced with
:meth:`Database.touch_write` before the change, so the hook sees it too.
Foreign keys that a cross-shard command borrows for a moment go through
:meth:`Database.borrow` / :meth:`Database.give_back`, which deliberately fire
no hook: nothing on this shard changed.
"""

from __future__ import annotations

import heapq
import random
from array import array

from cluster.errors import CommandError, WRONGTYPE
from shardnode.sessions import WatchTable
from shardnode.journal import Journal
from shardnode.eviction import LFU_INIT_VAL, LRU_CLOCK_MAX
from cluster.slots import key_slot as slot_of  # the one slot function, by its local name
from shardnode.buckets import PACK_MAX, Bucket
from shardnode.memory import (BUCKET, EXPIRE_ENTRY, PACKED_ENTRY, entry_footprint,
                              footprint, key_size)

_WRONGTYPE = CommandError(WRONGTYPE)
_TABLE_MIN = 4096  # keys a database's access table is sized for at first



class Database:
    """One numbered database of a shard."""

    __slots__ = ("index", "keyspace", "slots", "expires", "heap", "size", "stamps", "mask",
                 "grow_at", "probation", "used", "pending")

    def __init__(self, index: int, keyspace: "Keyspace"):
        self.index = index
        self.keyspace = keyspace
        self.slots: dict = {}
        self.expires: dict = {}
        self.heap: list = []
        self.size = 0
        self.reset_table("I")
        self.probation = None
        # Accounted bytes (shardnode/memory.py), and the keys changed in place
        # whose footprint before the change waits for settle_memory.
        self.used = 0
        self.pending: dict = {}

    # -- reads ----------------------------------------------------------

    def get(self, key: bytes):
        """The live value of ``key`` or None; expires it lazily if due.

        Records the access (OBJECT IDLETIME, LRU/LFU) unless the running
        client asked for CLIENT NO-TOUCH.  The hot path: :meth:`peek` and
        ``Bucket.value`` inlined.
        """
        bucket = self.slots.get(slot_of(key))
        if bucket is not None:
            value = bucket.get(key)
            if value is not None:
                if self.expires and self._expire_if_due(key, bucket):
                    return None
                keyspace = self.keyspace
                if keyspace.touch:
                    count = keyspace.count
                    if count is None:
                        self.stamps[hash(key) & self.mask] = keyspace.lru_clock
                    else:
                        count(self, key)
                if type(value) is int:  # a packed string
                    return bucket.cell.unpack_from(bucket.data, value * bucket.stride)[0]
                return value
        if self.keyspace.count_miss is not None:  # cache mode: the sketch counts misses
            self.keyspace.count_miss(self, key)
        return None

    def peek(self, key: bytes):
        """Like :meth:`get` without recording an access (TYPE, TTL, OBJECT)."""
        bucket = self.slots.get(slot_of(key))
        if bucket is None:
            return None
        value = bucket.get(key)
        if value is not None and self.expires and self._expire_if_due(key, bucket):
            return None
        if type(value) is int:
            return bucket.unpack(value)
        return value

    def stored(self, key: bytes):
        """The value stored under ``key`` or None, as it is: no lazy expiry,
        no access recorded (the journal's reading of a key's whole state)."""
        bucket = self.slots.get(slot_of(key))
        return None if bucket is None else bucket.value(key)

    def _expire_if_due(self, key: bytes, bucket: dict) -> bool:
        """Lazy expiry: remove ``key`` if its deadline passed; True if it did."""
        deadline = self.expires.get(key)
        if deadline is not None and deadline <= self.keyspace.now_ms:
            self._expire(key, bucket)
            return True
        return False

    def get_typed(self, key: bytes, kind: type):
        """Like :meth:`get`, raising WRONGTYPE when the value is not ``kind``."""
        value = self.get(key)
        if value is not None and type(value) is not kind:
            raise _WRONGTYPE
        return value

    def exists(self, key: bytes) -> bool:
        return self.peek(key) is not None

    def ttl_ms(self, key: bytes):
        """Remaining ms, -1 without TTL, -2 missing (Redis's PTTL)."""
        if self.peek(key) is None:
            return -2
        deadline = self.expires.get(key)
        if deadline is None:
            return -1
        return max(0, deadline - self.keyspace.now_ms)

    def deadline(self, key: bytes):
        return self.expires.get(key)

    # -- writes ---------------------------------------------------------

    def set(self, key: bytes, value, keep_ttl: bool = False) -> None:
        """Store ``value`` (any type); drops the TTL unless ``keep_ttl``."""
        slot = slot_of(key)
        self.keyspace.before_write(self, key, slot)
        bucket = self.slots.get(slot)
        if bucket is None:
            bucket = self._new_bucket(slot)
        keyspace = self.keyspace
        old = bucket.get(key)  # the raw entry: an index for a packed string
        if type(value) is bytes:
            n = len(value)  # memory.string_size, inlined
            size = n + PACKED_ENTRY if n <= PACK_MAX else \
                (n + 48) & -16 if n < 480 else (n + 56) & -16
            container = False
        else:
            size = footprint(value)
            container = True
        if old is None:
            self._stamp_new(key)
            self._count_new(key, size)
        else:
            if not keep_ttl and self.expires and self.expires.pop(key, None) is not None:
                self.used -= EXPIRE_ENTRY
            if keyspace.touch:
                self.record_access(key)
            pending = self.pending
            before = pending.pop(key, None) if pending else None
            if before is None:  # memory.entry_footprint, inlined
                before = bucket.data[old * bucket.stride] + PACKED_ENTRY if type(old) is int \
                    else footprint(old)
            self.used += size - before
        if type(old) is int and not container and len(value) < bucket.stride:
            # Bucket.put's commonest case inlined: a packed string rewritten in its cell
            bucket.cell.pack_into(bucket.data, old * bucket.stride, value)
        else:
            bucket.put(key, value, old)
        if container:  # often filled after it is stored: measured again after the command
            self.pending[key] = size
            keyspace.unsettled = True

    def _new_bucket(self, slot: int) -> Bucket:
        bucket = self.slots[slot] = Bucket()
        self.used += BUCKET
        return bucket

    def _stamp_new(self, key: bytes) -> None:
        """A new key's first access word (or cache mode's probation)."""
        keyspace = self.keyspace
        if keyspace.created is None:
            self.stamps[hash(key) & self.mask] = keyspace.new_stamp
        else:
            keyspace.created(self, key)

    def _count_new(self, key: bytes, value_size: int) -> None:
        """A key stored that was not there: its count, the access table's
        size, and its bytes (the value's ``value_size`` and the key's own)."""
        self.size += 1
        if self.size > self.grow_at:
            self._grow_table()
        self.used += value_size + key_size(key)

    def record_access(self, key: bytes) -> None:
        """Count an access to an existing key (an overwrite; TOUCH, whatever
        NO-TOUCH says).  :meth:`get` has it inlined."""
        count = self.keyspace.count
        if count is None:
            self.stamps[hash(key) & self.mask] = self.keyspace.lru_clock
        else:
            count(self, key)

    def set_stamp(self, key: bytes, stamp: int) -> None:
        """Set ``key``'s access word (RESTORE IDLETIME / FREQ)."""
        self.stamps[hash(key) & self.mask] = stamp

    def stamp(self, key: bytes) -> int:
        return self.stamps[hash(key) & self.mask]

    def load(self, key: bytes, value, slot: int, deadline_ms=None) -> bool:
        """Add a key read from a snapshot (its slot already computed, its
        deadline if any); False, and nothing done, if the key is there
        already.  :meth:`set` and :meth:`set_deadline` in one step, for the
        loader's million calls."""
        bucket = self.slots.get(slot)
        if bucket is None:
            bucket = self._new_bucket(slot)
        elif key in bucket:
            return False
        self.keyspace.before_write(self, key, slot)
        bucket.put(key, value)
        self._stamp_new(key)
        self._count_new(key, footprint(value))
        if deadline_ms is not None:
            self.expires[key] = deadline_ms
            self.used += EXPIRE_ENTRY
            heapq.heappush(self.heap, (deadline_ms, key))
        return True

    def touch_write(self, key: bytes) -> None:
        """Announce an in-place mutation of an existing value (APPEND, LPUSH);
        its footprint now is noted for the accounting (see shardnode/memory.py)."""
        slot = slot_of(key)
        keyspace = self.keyspace
        keyspace.before_write(self, key, slot)
        if key not in self.pending:
            bucket = self.slots.get(slot)
            entry = bucket.get(key) if bucket is not None else None
            if entry is not None:
                self.pending[key] = entry_footprint(bucket, entry)
                keyspace.unsettled = True

    def borrow(self, key: bytes, value, deadline) -> None:
        """Place another shard's key here for one command (no hook: see module doc)."""
        slot = slot_of(key)
        bucket = self.slots.get(slot)
        if bucket is not None and key in bucket:
            self._remove(key, slot, bucket)
        if value is None:
            return
        bucket = self.slots.get(slot)
        if bucket is None:
            bucket = self._new_bucket(slot)
        bucket.put(key, value)
        self._count_new(key, footprint(value))  # no access word: nothing here used it
        if deadline is not None:
            self.expires[key] = deadline
            self.used += EXPIRE_ENTRY

    def give_back(self, key: bytes) -> None:
        """Remove a borrowed key again, whatever the command did to it."""
        slot = slot_of(key)
        bucket = self.slots.get(slot)
        if bucket is not None and key in bucket:
            self._remove(key, slot, bucket)

    def delete(self, key: bytes) -> bool:
        slot = slot_of(key)
        bucket = self.slots.get(slot)
        if bucket is None or key not in bucket:
            return False
        if self.expires and self._expire_if_due(key, bucket):
            return False
        self.keyspace.before_write(self, key, slot)
        self._remove(key, slot, bucket)
        return True

    def set_deadline(self, key: bytes, deadline_ms: int) -> None:
        """Give an existing key an absolute expiry (ms since the epoch)."""
        self.keyspace.before_write(self, key, slot_of(key))
        if key not in self.expires:
            self.used += EXPIRE_ENTRY
        self.expires[key] = deadline_ms
        heapq.heappush(self.heap, (deadline_ms, key))
        if len(self.heap) > 2 * len(self.expires) + 1024:
            self._rebuild_heap()

    def persist(self, key: bytes) -> bool:
        if key not in self.expires:
            return False
        self.keyspace.before_write(self, key, slot_of(key))
        del self.expires[key]
        self.used -= EXPIRE_ENTRY
        return True

    def clear(self) -> None:
        self.keyspace.before_flush(self)
        self.slots = {}
        self.expires = {}
        self.heap = []
        self.size = 0
        self.reset_table(self.stamps.typecode)
        if self.probation is not None:
            self.probation = type(self.probation)()
        self.used = 0
        self.pending = {}

    # -- internals ------------------------------------------------------

    def _remove(self, key, slot, bucket):
        gone = bucket.remove(key)  # the value, or a packed string's length
        if not bucket:
            del self.slots[slot]
            self.used -= BUCKET
        self.size -= 1
        if self.expires and self.expires.pop(key, None) is not None:
            self.used -= EXPIRE_ENTRY
        pending = self.pending
        before = pending.pop(key, None) if pending else None
        if before is None:
            before = gone + PACKED_ENTRY if type(gone) is int else footprint(gone)
        self.used -= before + key_size(key)

    def _expire(self, key, bucket):
        slot = slot_of(key)
        self.keyspace.before_write(self, key, slot)
        self._remove(key, slot, bucket)
        self.keyspace.stats_expired += 1
        self.keyspace.journal.expired(self.index, key)  # the command-level hook: DEL

    def reset_table(self, typecode: str) -> None:
        """An empty access table of 32-bit words ("I"), or in cache mode of
        the same bytes as byte cells ("B", two 4-bit counters each, see
        eviction.CacheCounting): the same bytes per key."""
        self.stamps = array(typecode, bytes(4 * _TABLE_MIN))
        self.mask = len(self.stamps) - 1
        # Outgrown 5% past one word per key: just after doubling the table
        # holds 8 / 1.05 = 7.6 bytes per key, so with cache mode's probation
        # (at most 2% of keys, 0.16 bytes) bookkeeping stays under 8 bytes.
        self.grow_at = _TABLE_MIN + _TABLE_MIN // 20

    def _grow_table(self):
        """Double the access table; each word keeps its meaning (see eviction.py)."""
        self.stamps = self.stamps * 2
        self.mask = len(self.stamps) - 1
        self.grow_at *= 2

    def _rebuild_heap(self):
        self.heap = [(d, k) for k, d in self.expires.items()]
        heapq.heapify(self.heap)

    def expire_due(self, now_ms: int, budget: int) -> int:
        """Active expiry: remove up to ``budget`` keys whose deadline passed."""
        heap, expires = self.heap, self.expires
        removed = 0
        while heap and removed < budget and heap[0][0] <= now_ms:
            deadline, key = heapq.heappop(heap)
            if expires.get(key) != deadline:
                continue  # stale entry: TTL changed or key gone
            bucket = self.slots.get(slot_of(key))
            if bucket is not None and key in bucket:
                self._expire(key, bucket)
                removed += 1
            else:  # pragma: no cover - expires and slots always agree
                del expires[key]
        return removed

    def random_key(self):
        """A random live key, or None.  Picks a random slot, then a key."""
        for _ in range(64):
            if not self.slots:
                return None
            slot = random.choice(list(self.slots)) if len(self.slots) < 64 else \
                random.choice(tuple(self.slots))
            bucket = self.slots[slot]
            key = random.choice(tuple(bucket))
            if self.peek(key) is not None:
                return key
        return None

    def keys_in_slot(self, slot: int):
        bucket = self.slots.get(slot)
        return list(bucket) if bucket else []


class Keyspace:
    """All databases of one shard, the write hook and the shard's clock."""

    def __init__(self, dbnum: int = 16, clock=None):
        import time

        self.clock = clock or (lambda: int(time.time() * 1000))
        self.now_ms = self.clock()
        self.now_s = self.now_ms // 1000
        # The access bookkeeping (shardnode/eviction.py): the words a new key
        # and an access write, refreshed once a second by tick().
        self.lru_clock = self.now_s & LRU_CLOCK_MAX
        self.lfu_minutes = (self.now_s // 60) & 0xFFFF
        self.lfu = False  # an LFU policy or cache mode: words are counters
        self.new_stamp = self.lru_clock
        self.count = None  # LFU / cache mode: called (db, key) for an access
        self.count_miss = None  # cache mode: called (db, key) for a read that missed
        self.created = None  # cache mode: called (db, key) for a new key
        # False while a CLIENT NO-TOUCH client's commands run: reads leave
        # access times alone.  Set per batch by the connection running it.
        self.touch = True
        self.dbs = [Database(i, self) for i in range(dbnum)]
        self.dirty = 0  # writes since the last save (INFO rdb_changes_since_last_save)
        self.journal = Journal(self)  # writes as they took effect (shardnode/journal.py)
        self.stats_expired = 0
        self.stats_evicted = 0
        # Some database has keys changed in place whose footprint is not
        # settled yet (Database.pending; see shardnode/memory.py).
        self.unsettled = False
        # Callables (db, key, slot) run before any mutation; see module doc.
        self.write_listeners: list = []
        self.flush_listeners: list = []
        self.watches = WatchTable(dbnum)

    def tick(self) -> int:
        """Read the clock once; commands in this batch share the reading."""
        self.now_ms = now = self.clock()
        if now // 1000 != self.now_s:
            self.now_s = now // 1000
            self.refresh_stamps()
        return now

    def refresh_stamps(self) -> None:
        """The clock words for this second (after a tick or a policy change)."""
        now_s = self.now_s
        self.lru_clock = now_s & LRU_CLOCK_MAX
        self.lfu_minutes = (now_s // 60) & 0xFFFF
        self.new_stamp = (self.lfu_minutes << 8) | LFU_INIT_VAL if self.lfu \
            else self.lru_clock

    def before_write(self, db: Database, key: bytes, slot: int) -> None:
        """The key-level hook: ``key`` is about to change (see module doc)."""
        self.dirty += 1
        if self.watches.count:
            self.watches.touch(db.index, key)
        if self.write_listeners:
            for listener in self.write_listeners:
                listener(db, key, slot)

    @property
    def used_memory(self) -> int:
        """The shard's accounted bytes: values, keys and their entries."""
        if self.unsettled:
            self.settle_memory()
        return sum(db.used for db in self.dbs)

    def settle_memory(self) -> None:
        """Add what the values changed in place grew or shrank by since their
        ``touch_write``: called between commands, never inside one."""
        self.unsettled = False
        for db in self.dbs:
            if db.pending:
                pending, db.pending = db.pending, {}
                slots = db.slots
                used = db.used
                for key, before in pending.items():
                    bucket = slots.get(slot_of(key))
                    entry = bucket.get(key) if bucket is not None else None
                    if entry is not None:
                        used += entry_footprint(bucket, entry) - before
                db.used = used

    def before_flush(self, db: Database) -> None:
        self.dirty += 1
        if self.watches.count:
            self.watches.touch_db(db.index, db.exists)
        for listener in self.flush_listeners:
            listener(db)

    def swap(self, a: int, b: int) -> None:
        if self.watches.count and a != b:  # SWAPDB 0 0 changes nothing a WATCH sees
            first, second = self.dbs[a], self.dbs[b]

            def exists(key):
                return first.exists(key) or second.exists(key)

            self.watches.touch_db(a, exists)
            self.watches.touch_db(b, exists)
        for listener in self.flush_listeners:
            listener(self.dbs[a])
            listener(self.dbs[b])
        self.dbs[a], self.dbs[b] = self.dbs[b], self.dbs[a]
        self.dbs[a].index, self.dbs[b].index = a, b
        self.dirty += 1

    def active_expire(self, budget: int = 200) -> int:
        """One cycle over every database; returns keys removed."""
        now = self.tick()
        removed = 0
        for db in self.dbs:
            if db.heap:
                removed += db.expire_due(now, budget - removed)
                if removed >= budget:
                    break
        return removed
