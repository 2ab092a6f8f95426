"""Per-key access bookkeeping and the eviction policies of a shard.

What lives here:

- the meaning of a database's access table (``Database.stamps``, see
  ``shardnode/db.py``): one 32-bit word per table position, a key's word at
  ``hash(key) & Database.mask``.  Under the LRU-keeping policies (every
  policy but the LFU ones, noeviction included, so OBJECT IDLETIME works as
  in Redis) a word is Redis's 24-bit LRU clock in seconds; under an LFU
  policy it is Redis's 16-bit minutes + 8-bit logarithmic counter; in cache
  mode each word's 4 bytes hold eight 4-bit counters, a frequency sketch
  that counts keys that are *not* stored too (:class:`CacheCounting`);
- :class:`Evictor`: Redis's eight ``maxmemory_policy`` values, and
  ``cache_mode``, as ``evict(keyspace, bytes_needed)``.

Why a table and not a field per key: a key is a ``bytes`` and a string value
is a ``bytes``, so there is no object to hang an access time on, and a dict
entry per key (the former ``access`` dict) costs ~42 bytes.  The table costs
3.8 to 7.6 bytes per key (it doubles when the database outgrows it by 5%, and keeps a
position's word when doubling: ``h & (2m - 1)`` is ``h & (m - 1)`` or that
plus ``m``, and both copies carry the old word).  The price is sharing: keys
that hash to the same position share a word, so a key may look as recently
or as frequently used as its neighbour.  Redis's own LRU is approximate
(sampling 5 keys); this adds a second approximation of the same kind.

Eviction samples as Redis's performEvictions does: ``maxmemory_samples``
random keys per database go into a pool of the 16 best candidates (most
idle, least frequent), and the best one is deleted; volatile-* policies
sample only keys with a TTL (from the expiry heap, O(1) per sample), and
volatile-ttl takes the nearest deadline from the heap exactly.

Cache mode (``cache_mode: yes``, beyond Redis) is a W-TinyLFU-like policy:
new keys enter a probation FIFO (a deque of keys: 8 bytes per key on
probation, 1% of the keys, so 0.08 bytes per key on top of the table's 4 to
8); the oldest probationary key either replaces the least frequently used of
a sample of the other keys, if the sketch says it is used more often (a tie
keeps the resident), or is evicted.  The sketch also counts reads of keys
that are not stored, so a key that keeps coming back is admitted and a
one-pass scan of cold keys is not.

Every eviction deletes through ``Database.delete`` (the key-level hook: WATCH,
snapshot, blocked clients), is journalled as ``DEL key``
(:meth:`Journal.evicted`) and counted in ``keyspace.stats_evicted``.
"""

from __future__ import annotations

import heapq
from array import array
from collections import deque
from random import random, randrange


LRU_CLOCK_MAX = (1 << 24) - 1  # Redis's 24-bit LRU clock, in seconds
LFU_INIT_VAL = 5  # the counter a new key starts with under an LFU policy
POOL_SIZE = 16  # Redis's EVPOOL_SIZE
PROBATION_SHARE = 0.01  # cache mode: the share of keys on probation (W-TinyLFU's window)
_NSLOTS = 16384

# The options that change what the bookkeeping keeps or how eviction chooses.
EVICTION_OPTIONS = frozenset({"maxmemory_policy", "maxmemory_samples", "lfu_log_factor",
                              "lfu_decay_time", "cache_mode"})

def lru_idle_seconds(clock: int, stamp: int) -> int:
    """Seconds since ``stamp`` on Redis's wrapping 24-bit clock (estimateObjectIdleTime)."""
    return clock - stamp if clock >= stamp else clock + LRU_CLOCK_MAX - stamp


def lfu_counter(stamp: int, minutes: int, decay_time: int) -> int:
    """The counter of an LFU word after its decay (Redis's LFUDecrAndReturn)."""
    counter = stamp & 255
    if decay_time:
        last = stamp >> 8
        elapsed = minutes - last if minutes >= last else 65535 - last + minutes
        periods = elapsed // decay_time
        counter = 0 if periods > counter else counter - periods
    return counter


class LfuCounting:
    """Counts an access under an LFU policy or cache mode (Redis's updateLFU).

    ``hit`` replaces the plain LRU stamp in ``Database.get``; only the
    policies that need it pay the function call.
    """

    __slots__ = ("keyspace", "log_factor", "decay_time")

    def __init__(self, keyspace, log_factor: int, decay_time: int):
        self.keyspace = keyspace
        self.log_factor = log_factor
        self.decay_time = decay_time

    def hit(self, db, key: bytes) -> None:
        stamps = db.stamps
        i = hash(key) & db.mask
        minutes = self.keyspace.lfu_minutes
        counter = lfu_counter(stamps[i], minutes, self.decay_time)
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if base <= 0 or random() * (base * self.log_factor + 1) < 1.0:
                counter += 1
        stamps[i] = (minutes << 8) | counter

    def frequency(self, db, key: bytes) -> int:
        return lfu_counter(db.stamps[hash(key) & db.mask], self.keyspace.lfu_minutes,
                           self.decay_time)

    def set_frequency(self, db, key: bytes, freq: int) -> None:
        """RESTORE ... FREQ: the counter, as of this minute."""
        db.set_stamp(key, (self.keyspace.lfu_minutes << 8) | freq)


# Cache mode's sketch: 4-bit counters, two per byte of the access table.
COUNTER_MAX = 15  # a counter saturates here (TinyLFU's 4 bits: enough to rank keys)
_HALVED = bytes((i >> 1) & 0x77 for i in range(256))  # both counters of a byte halved
_AGE_EVERY = 20  # the sketch halves after this many counts per key stored (TinyLFU's W)


class CacheCounting:
    """Cache mode's frequency sketch over the access table: a count-min
    sketch of 4-bit counters (two per byte: 8 to 16 counters per stored key
    in the 3.8 to 7.6 bytes the table has per key), four counters per key, in
    the bytes at ``h + n * step`` (double hashing, ``step`` odd from the
    hash's high half: four different bytes), the low or high half of each
    as a bit of the hash's top says; the smallest one is the count and only
    the smallest ones grow (conservative update).  Reads of stored and
    missing keys count alike; all counters halve after ``_AGE_EVERY`` counts
    per stored key, so old popularity fades (TinyLFU's reset).  New keys go
    on probation (``Database.probation``) without a count of their own.

    Why 4 bits and four counters: a one-pass scan is rejected only if its
    keys (read once) look less read than the residents they would replace.
    The table sees ~5 times more distinct keys between ageings than it
    stores; with two byte counters per key, over half of the scanned keys
    read 2 or more from neighbours, and ~9,000 of the 50,000 scanned keys of
    bench/cache.py's scan trace were admitted (a third of the cache per
    scan).  Twice as many counters at 4 bits, four per key, cut that to 15%
    reading 2 and ~4,000 admitted; ageing after 20 counts per stored key
    rather than 10 lets residents' counts rise further above that noise
    (~3,400 admitted).  No key needs to count past 15 to win admission.
    Positions stay valid when the table doubles (``Database._grow_table``):
    a position is an integer ``& mask``, and the doubled table repeats the
    old one.
    """

    __slots__ = ("keyspace", "counted")

    def __init__(self, keyspace):
        self.keyspace = keyspace
        self.counted = 0

    def hit(self, db, key: bytes) -> None:
        # Inlined _cells (a GET's cost in cache mode): four bytes, and in each
        # the low or high counter as a bit of the hash's top says.
        h = hash(key)
        stamps = db.stamps
        mask = db.mask
        step = (h >> 32) | 1
        i = h & mask
        j = (i + step) & mask
        k = (j + step) & mask
        n = (k + step) & mask
        si, sj, sk, sn = (h >> 60) & 4, (h >> 59) & 4, (h >> 58) & 4, (h >> 57) & 4
        a = stamps[i] >> si & 15
        b = stamps[j] >> sj & 15
        c = stamps[k] >> sk & 15
        d = stamps[n] >> sn & 15
        low = a if a < b else b
        if c < low:
            low = c
        if d < low:
            low = d
        if low < COUNTER_MAX:  # below 15 no carry reaches the byte's other counter
            if a == low:
                stamps[i] += 1 << si
            if b == low:
                stamps[j] += 1 << sj
            if c == low:
                stamps[k] += 1 << sk
            if d == low:
                stamps[n] += 1 << sn
        self.counted += 1
        if self.counted > _AGE_EVERY * max(db.size, 1024):
            self.age()

    def age(self) -> None:
        self.counted = 0
        for db in self.keyspace.dbs:
            db.stamps = array("B", bytes(db.stamps).translate(_HALVED))

    @staticmethod
    def _cells(db, key: bytes):
        """The key's four counters as (byte position, shift)."""
        h = hash(key)
        mask = db.mask
        step = (h >> 32) | 1
        return [((h + n * step) & mask, (h >> (60 - n)) & 4) for n in range(4)]

    def frequency(self, db, key: bytes) -> int:
        # _cells inlined: eviction reads six of these per key it evicts.
        h = hash(key)
        stamps = db.stamps
        mask = db.mask
        step = (h >> 32) | 1
        i = h & mask
        low = stamps[i] >> ((h >> 60) & 4) & 15
        i = (i + step) & mask
        count = stamps[i] >> ((h >> 59) & 4) & 15
        if count < low:
            low = count
        i = (i + step) & mask
        count = stamps[i] >> ((h >> 58) & 4) & 15
        if count < low:
            low = count
        i = (i + step) & mask
        count = stamps[i] >> ((h >> 57) & 4) & 15
        return count if count < low else low

    def set_frequency(self, db, key: bytes, freq: int) -> None:
        """RESTORE ... FREQ: the key's counters, saturated at 15."""
        freq = min(freq, COUNTER_MAX)
        stamps = db.stamps
        for i, shift in self._cells(db, key):
            stamps[i] = (stamps[i] & ~(15 << shift)) | (freq << shift)

    def created(self, db, key: bytes) -> None:
        """A new key goes on probation, uncounted: the read that missed it
        counted already (counting the SET too admitted one-pass scans).

        Evictions take probation's oldest keys, so under a limit it stays
        near its share; keys created while there is room (no limit yet, or
        below it) would pile up, so past twice the share the oldest one
        leaves probation admitted, as W-TinyLFU's window overflows into a
        main space that is not full.  That also keeps the deque's 8 bytes a
        key to a bounded share of the keys."""
        probation = db.probation
        if probation is None:
            probation = db.probation = deque()
        probation.append(key)
        if len(probation) > 2 * PROBATION_SHARE * db.size + 16:
            probation.popleft()


class Evictor:
    """A shard's eviction: the policy in force and the pool of candidates.

    Built from the configuration; :meth:`configure` applies a change
    (CONFIG SET maxmemory-policy, cache-mode, lfu-*, maxmemory-samples) and
    sets the keyspace's bookkeeping to match.
    """

    def __init__(self, keyspace, config):
        self.keyspace = keyspace
        self.config = config
        self.policy = "noeviction"
        self.cache_mode = False
        self.samples = 5
        self.pool: list = []  # (score, db index, key), best (highest score) last
        self.counting = None
        self._next_db = 0
        keyspace.evictor = self  # OBJECT FREQ asks it
        self.configure()

    def configure(self) -> None:
        keyspace = self.keyspace
        config = self.config
        values = config.values
        self.policy = values.get("maxmemory_policy", "noeviction")
        self.cache_mode = bool(values.get("cache_mode", False))
        self.samples = values.get("maxmemory_samples", 5)
        self.pool = []
        factor = values.get("lfu_log_factor", 10)
        decay = values.get("lfu_decay_time", 1)
        if self.cache_mode:
            self.counting = CacheCounting(keyspace)
            keyspace.count = self.counting.hit
            keyspace.count_miss = self.counting.hit
            keyspace.created = self.counting.created
        elif self.policy.endswith("lfu"):
            self.counting = LfuCounting(keyspace, factor, decay)
            keyspace.count = self.counting.hit
            keyspace.count_miss = keyspace.created = None
        else:
            self.counting = None
            keyspace.count = keyspace.count_miss = keyspace.created = None
        typecode = "B" if self.cache_mode else "I"
        for db in keyspace.dbs:
            if db.stamps.typecode != typecode:
                db.reset_table(typecode)  # what the words meant no longer holds
            if not self.cache_mode:
                db.probation = None
        keyspace.lfu = self.counting is not None
        keyspace.refresh_stamps()

    # -- what OBJECT FREQ / IDLETIME read ---------------------------------------

    def frequency(self, db, key: bytes) -> int:
        return self.counting.frequency(db, key)

    def set_frequency(self, db, key: bytes, freq: int) -> None:
        self.counting.set_frequency(db, key, freq)

    # -- eviction ----------------------------------------------------------------

    def evict(self, keyspace, bytes_needed: int) -> int:
        """Evict keys until ``bytes_needed`` bytes are freed or nothing more
        may go; returns the bytes freed (0 under noeviction)."""
        if self.cache_mode:
            pick = self._pick_cache
        else:
            policy = self.policy
            if policy == "noeviction":
                return 0
            if policy.endswith("random"):
                pick = self._pick_random
            elif policy == "volatile-ttl":
                pick = self._pick_nearest_deadline
            else:
                pick = self._pick_from_pool
        freed = 0
        while freed < bytes_needed:
            victim = pick(keyspace)
            if victim is None:
                break
            db, key = victim
            freed += self.delete(keyspace, db, key)
        return freed

    def delete(self, keyspace, db, key: bytes) -> int:
        """Evict one key through the normal delete path; the bytes it freed
        (the drop of the accounted ``used_memory``, shardnode/memory.py)."""
        before = keyspace.used_memory
        if db.delete(key):  # else gone, or it just expired (freed all the same)
            keyspace.stats_evicted += 1
            keyspace.journal.evicted(db.index, key)
        return max(0, before - keyspace.used_memory)

    # -- the policies' choices -----------------------------------------------------

    def _volatile(self) -> bool:
        return self.policy.startswith("volatile")

    def _pick_random(self, keyspace):
        """allkeys-random / volatile-random: one random key, databases in turn."""
        dbs = keyspace.dbs
        volatile = self._volatile()
        for step in range(len(dbs)):
            db = dbs[(self._next_db + step) % len(dbs)]
            key = _random_volatile_key(db) if volatile else _random_key(db)
            if key is not None:
                self._next_db = (self._next_db + step + 1) % len(dbs)
                return db, key
        return None

    def _pick_nearest_deadline(self, keyspace):
        """volatile-ttl: the key whose deadline comes first, over the databases."""
        best = None
        for db in keyspace.dbs:
            heap, expires = db.heap, db.expires
            while heap and expires.get(heap[0][1]) != heap[0][0]:
                heapq.heappop(heap)  # stale: TTL changed or key gone
            if heap and (best is None or heap[0][0] < best[0]):
                best = (heap[0][0], db)
        if best is None:
            return None
        db = best[1]
        return db, db.heap[0][1]

    def _score(self, keyspace, db, key: bytes) -> int:
        """Higher is a better victim: idle seconds (LRU), 255 - counter (LFU)."""
        if self.counting is not None:
            return 255 - self.counting.frequency(db, key)
        return lru_idle_seconds(keyspace.lru_clock, db.stamps[hash(key) & db.mask])

    def _pick_from_pool(self, keyspace):
        """*-lru and *-lfu: sample into the pool, take its best live key."""
        volatile = self._volatile()
        pool = self.pool
        dbs = keyspace.dbs
        for db in dbs:
            if not (db.expires if volatile else db.size):
                continue
            for _ in range(self.samples):
                key = _random_volatile_key(db) if volatile else _random_key(db)
                if key is None:
                    break
                entry = (self._score(keyspace, db, key), db.index, key)
                if entry in pool:
                    continue
                if len(pool) < POOL_SIZE:
                    pool.append(entry)
                    pool.sort()
                elif entry > pool[0]:
                    pool[0] = entry
                    pool.sort()
        while pool:
            _, index, key = pool.pop()
            db = dbs[index]
            if db.peek(key) is not None and (not volatile or key in db.expires):
                return db, key
        return None

    def _pick_cache(self, keyspace):
        """Cache mode: the probation FIFO's oldest key against the least
        frequent of a sample: the more often read one stays (a tie keeps
        the resident).  Over its share, the oldest probationary key leaves
        probation either way (admitted, or evicted); within its share it
        still competes, and stays on probation if it wins: an eviction that
        needs more than one key (a bigger value, a new slot bucket) must not
        take a resident that a probationary key read once is worth less than
        (a scan would erode the residents through that)."""
        counting = self.counting
        for db in keyspace.dbs:
            probation = db.probation
            if not db.size:
                continue
            while probation:
                key = probation[0]
                if db.peek(key) is None:
                    probation.popleft()
                    continue
                over = len(probation) > db.size * PROBATION_SHARE
                rival, rival_freq = self._least_frequent_sample(db, key)
                if rival is not None and counting.frequency(db, key) > rival_freq:
                    if over:
                        probation.popleft()  # admitted
                    return db, rival
                probation.popleft()
                return db, key
            rival = self._least_frequent_sample(db, None)[0]
            if rival is not None:
                return db, rival
        return None

    def _least_frequent_sample(self, db, besides):
        """(key, its count): the least read of ``maxmemory_samples`` random
        keys other than ``besides``; (None, None) if there is none."""
        frequency = self.counting.frequency
        best = best_freq = None
        for _ in range(self.samples):
            key = _random_key(db)
            if key is None or key == besides:
                continue
            freq = frequency(db, key)
            if best is None or freq < best_freq:
                best, best_freq = key, freq
        return best, best_freq


def _random_key(db):
    """A random key of ``db`` (without expiring it), or None when empty.

    Probes random slots first (O(1) on a populated shard); a sparse keyspace
    picks among its non-empty buckets.  ``int(random() * n)``, not
    ``randrange``: a sample costs a few probes, and randrange's Python code
    was most of an eviction's time (~1 us a call).
    """
    slots = db.slots
    if not slots:
        return None
    bucket = None
    if len(slots) >= 1024:
        get = slots.get
        for _ in range(32):
            bucket = get(int(random() * _NSLOTS))
            if bucket:
                break
    if not bucket:
        buckets = list(slots.values())
        bucket = buckets[int(random() * len(buckets))]
    if len(bucket) == 1:
        for key in bucket:
            return key
    keys = list(bucket)
    return keys[int(random() * len(keys))]


def _random_volatile_key(db):
    """A random key with a TTL, from the expiry heap (stale entries skipped)."""
    heap, expires = db.heap, db.expires
    if not expires:
        return None
    for _ in range(16):
        deadline, key = heap[randrange(len(heap))]
        if expires.get(key) == deadline:
            return key
    db._rebuild_heap()  # mostly stale entries: compact, then take any
    return db.heap[randrange(len(db.heap))][1]
