"""Eviction policies and the access bookkeeping on a Keyspace without a network,
on a clock the tests move by hand (shardnode/eviction.py)."""

import pytest

from cluster.config import Config
from shardnode.db import Keyspace
from shardnode.eviction import LFU_INIT_VAL, Evictor, lru_idle_seconds
from shardnode.sessions import ClientSession
from tests.unit.test_db import Clock


@pytest.fixture
def clock():
    return Clock(1_000_000_000)


def make(clock, **values):
    """A keyspace with an evictor configured from ``values``."""
    config = Config(values)
    ks = Keyspace(4, clock)
    Evictor(ks, config)  # sets ks.evictor
    return ks


def advance(ks, clock, seconds):
    clock.ms += seconds * 1000
    ks.tick()


def evict_keys(ks, count):
    """Evict one key at a time (1 byte asked frees one key); the keys evicted."""
    evicted = []
    ks.journal.entries.clear()
    for _ in range(count):
        assert ks.evictor.evict(ks, 1) > 0
    for entry in ks.journal.tail():
        if entry[0] == b"DEL":
            evicted.append(entry[1])
    assert len(evicted) == count
    return evicted


def keys(prefix, n):
    return [b"%s:%d" % (prefix, i) for i in range(n)]


def test_noeviction_evicts_nothing(clock):
    ks = make(clock)
    db = ks.dbs[0]
    for key in keys(b"k", 10):
        db.set(key, b"v")
    assert ks.evictor.evict(ks, 10**6) == 0
    assert db.size == 10 and ks.stats_evicted == 0


def test_allkeys_lru_evicts_the_least_recently_touched(clock):
    ks = make(clock, maxmemory_policy="allkeys-lru", maxmemory_samples=10)
    db = ks.dbs[0]
    cold, hot = keys(b"cold", 60), keys(b"hot", 60)
    for key in cold + hot:
        db.set(key, b"v")
    advance(ks, clock, 100)
    for key in hot:
        assert db.get(key) == b"v"
    evicted = evict_keys(ks, 40)
    # A key sharing a table position with a later-touched one looks younger,
    # never older: no hot key can be taken while cold ones look older.
    assert set(evicted) <= set(cold)
    assert ks.stats_evicted == 40 and db.size == 80


def test_lru_follows_a_scripted_access_pattern(clock):
    """Four generations touched at 10-second steps: the oldest goes first
    (sampling 64 keys per eviction, as precise as Redis's sampling gets)."""
    ks = make(clock, maxmemory_policy="allkeys-lru", maxmemory_samples=64)
    db = ks.dbs[0]
    generations = [keys(b"g%d" % g, 30) for g in range(4)]
    for key in sum(generations, []):
        db.set(key, b"v")
    for generation in generations[1:]:
        advance(ks, clock, 10)
        for key in generation:
            db.get(key)
    evicted = evict_keys(ks, 20)
    assert set(evicted) <= set(generations[0])
    assert db.peek(generations[3][0]) is not None


def test_allkeys_lfu_keeps_the_frequently_read(clock):
    ks = make(clock, maxmemory_policy="allkeys-lfu", maxmemory_samples=10)
    db = ks.dbs[0]
    rare, frequent = keys(b"rare", 60), keys(b"freq", 60)
    for key in rare + frequent:
        db.set(key, b"v")
    for _ in range(30):
        for key in frequent:
            db.get(key)
    evicted = evict_keys(ks, 40)
    assert set(evicted) <= set(rare)


def test_lfu_counter_grows_logarithmically_and_decays(clock):
    ks = make(clock, maxmemory_policy="allkeys-lfu", lfu_log_factor=10, lfu_decay_time=1)
    db = ks.dbs[0]
    db.set(b"k", b"v")
    evictor = ks.evictor
    assert evictor.frequency(db, b"k") == LFU_INIT_VAL
    for _ in range(1000):
        db.get(b"k")
    counter = evictor.frequency(db, b"k")
    assert 12 <= counter <= 30  # ~5 * (counter - 5) ** 2 hits: ~19 after 1k (Redis: ~18)
    advance(ks, clock, 3 * 60)
    assert evictor.frequency(db, b"k") == counter - 3  # one per idle minute


def test_volatile_lru_never_touches_persistent_keys(clock):
    ks = make(clock, maxmemory_policy="volatile-lru")
    db = ks.dbs[0]
    persistent, volatile = keys(b"p", 20), keys(b"t", 5)
    for key in persistent + volatile:
        db.set(key, b"v")
    for key in volatile:
        db.set_deadline(key, clock.ms + 10**6)
    advance(ks, clock, 50)
    for key in persistent:
        db.get(key)
    evicted = evict_keys(ks, 5)
    assert sorted(evicted) == sorted(volatile)
    assert ks.evictor.evict(ks, 1) == 0  # only persistent keys left
    assert db.size == 20


@pytest.mark.parametrize("policy", ["volatile-random", "volatile-lfu"])
def test_volatile_policies_with_no_ttl_keys_free_nothing(clock, policy):
    ks = make(clock, maxmemory_policy=policy)
    db = ks.dbs[0]
    for key in keys(b"p", 10):
        db.set(key, b"v")
    assert ks.evictor.evict(ks, 1000) == 0
    db.set_deadline(b"p:3", clock.ms + 5000)
    assert evict_keys(ks, 1) == [b"p:3"]


def test_volatile_ttl_evicts_the_nearest_deadlines(clock):
    ks = make(clock, maxmemory_policy="volatile-ttl")
    db = ks.dbs[0]
    for i in range(20):
        db.set(b"t:%d" % i, b"v")
        db.set_deadline(b"t:%d" % i, clock.ms + 10_000 + 1000 * ((i * 7) % 20))
    db.set(b"persistent", b"v")
    db.set_deadline(b"t:0", clock.ms + 99_000)  # a changed TTL leaves a stale heap entry
    evicted = evict_keys(ks, 5)
    by_deadline = sorted((db.deadline(k), k) for k in (b"t:%d" % i for i in range(20))
                         if db.peek(k) is not None)
    assert all(db.peek(k) is None for k in evicted)
    assert all(ks.dbs[0].peek(k) is not None for _, k in by_deadline)
    # every key still there expires later than every key evicted
    assert len(by_deadline) == 15 and by_deadline[0][0] > clock.ms + 10_000 + 4 * 1000
    assert b"t:0" not in evicted


def test_allkeys_random_evicts_over_every_database(clock):
    ks = make(clock, maxmemory_policy="allkeys-random")
    for index in (0, 2):
        for key in keys(b"k", 5):
            ks.dbs[index].set(key, b"v")
    evicted = evict_keys(ks, 10)
    assert len(evicted) == 10 and ks.dbs[0].size == ks.dbs[2].size == 0
    assert ks.evictor.evict(ks, 1) == 0


def test_evict_frees_at_least_what_is_asked_by_the_accounting(clock):
    """The bytes freed are the drop of ``keyspace.used_memory`` (memory.py)."""
    ks = make(clock, maxmemory_policy="allkeys-lru")
    db = ks.dbs[0]
    for key in keys(b"k", 100):
        db.set(key, b"x" * 1000)
    per_key = ks.used_memory / 100
    before = ks.used_memory
    freed = ks.evictor.evict(ks, 5000)
    assert freed == before - ks.used_memory
    assert db.size == 100 - -(-5000 // per_key)  # whole keys, just enough of them


def test_eviction_goes_through_the_key_level_hook_and_journals_del(clock):
    ks = make(clock, maxmemory_policy="allkeys-lru")
    db = ks.dbs[1]
    db.set(b"watched", b"v")
    seen = []
    ks.write_listeners.append(lambda db_, key, slot: seen.append((db_.index, key)))
    session = ClientSession(7)
    ks.watches.watch(session, 1, b"watched")
    assert ks.evictor.evict(ks, 1) > 0
    assert seen == [(1, b"watched")]
    assert session.dirty
    assert ks.journal.tail()[-2:] == [[b"SELECT", b"1"], [b"DEL", b"watched"]]


def test_restore_idletime_round_trip_and_policy_switch(clock):
    ks = make(clock, maxmemory_policy="allkeys-lru")
    db = ks.dbs[0]
    db.set(b"k", b"v")
    advance(ks, clock, 7)
    assert lru_idle_seconds(ks.lru_clock, db.stamp(b"k")) == 7
    ks.evictor.config.values["maxmemory_policy"] = "allkeys-lfu"
    ks.evictor.configure()
    assert ks.lfu and ks.new_stamp & 255 == LFU_INIT_VAL
    db.set(b"new", b"v")
    assert ks.evictor.frequency(db, b"new") == LFU_INIT_VAL


def test_cache_mode_resists_a_scan_and_admits_what_comes_back(clock):
    """Established keys read a few times survive a one-pass scan of as many
    new keys (LRU would lose them all); a key missed often is admitted."""
    ks = make(clock, cache_mode=True)
    db = ks.dbs[0]
    resident = keys(b"r", 100)
    for key in resident:
        db.get(key)  # a miss: the sketch counts it
        db.set(key, b"v")
    for _ in range(3):
        for key in resident:
            db.get(key)
    db.probation.clear()  # all established
    for key in keys(b"scan", 100):
        db.get(key)
        db.set(key, b"v")
        assert ks.evictor.evict(ks, 1) > 0
    assert db.size == 100
    assert sum(db.peek(key) is not None for key in resident) >= 80
    for _ in range(20):
        db.get(b"wanted")  # misses of a key that keeps coming back
    db.set(b"wanted", b"v")
    for key in keys(b"later", 20):
        db.set(key, b"v")
        ks.evictor.evict(ks, 1)
    assert db.peek(b"wanted") is not None


def test_cache_mode_sketch_counts_misses_saturates_and_halves_with_age(clock):
    """Counts of missing keys too (the least of four 4-bit counters), up to
    15; after twenty counts per stored key (at least 1024) every counter
    halves."""
    ks = make(clock, cache_mode=True)
    db = ks.dbs[0]
    assert db.stamps.typecode == "B"
    for _ in range(12):
        db.get(b"absent")
    assert ks.evictor.frequency(db, b"absent") == 12
    for _ in range(28):
        db.get(b"absent")
    assert ks.evictor.frequency(db, b"absent") == 15
    counting = ks.evictor.counting
    counting.counted = 20 * 1024  # the next count ages the sketch
    db.get(b"absent")
    assert ks.evictor.frequency(db, b"absent") == 7
    ks.evictor.config.values["cache_mode"] = False
    ks.evictor.configure()
    assert db.stamps.typecode == "I" and db.probation is None


def test_cache_mode_counters_are_independent_and_survive_the_table_doubling(clock):
    """Two counters share a byte: counting keys to saturation never spills
    into a neighbour (every other key still reads what it was read), and a
    database that outgrows its table keeps every count."""
    ks = make(clock, cache_mode=True)
    db = ks.dbs[0]
    reads = {b"c:%d" % i: i % 17 for i in range(2000)}  # 16,000 counts: no ageing
    for key, n in reads.items():
        for _ in range(n):
            db.get(key)
    freq = ks.evictor.frequency
    # count-min: never below the true count (saturated at 15)
    assert all(freq(db, key) >= min(n, 15) for key, n in reads.items())
    exact = sum(freq(db, key) == min(n, 15) for key, n in reads.items())
    assert exact >= 0.9 * len(reads)
    before = {key: freq(db, key) for key in reads}
    size = len(db.stamps)
    for i in range(5000):
        db.set(b"s:%d" % i, b"v")
    assert len(db.stamps) == 2 * size
    assert {key: freq(db, key) for key in reads} == before


def test_cache_mode_restore_freq_sets_the_counters(clock):
    ks = make(clock, cache_mode=True)
    db = ks.dbs[0]
    db.set(b"k", b"v")
    ks.evictor.set_frequency(db, b"k", 9)
    assert ks.evictor.frequency(db, b"k") == 9
    ks.evictor.set_frequency(db, b"k", 200)
    assert ks.evictor.frequency(db, b"k") == 15
    ks.evictor.set_frequency(db, b"k", 0)
    assert ks.evictor.frequency(db, b"k") == 0


def test_cache_mode_probation_stays_bounded_without_evictions(clock):
    """Keys created while there is room leave probation past twice its share
    (1%): the deque never holds every key."""
    ks = make(clock, cache_mode=True)
    db = ks.dbs[0]
    for i in range(20_000):
        db.set(b"k:%d" % i, b"v")
    assert len(db.probation) <= 2 * 0.01 * 20_000 + 17
    assert list(db.probation)[-1] == b"k:19999"  # the newest are the ones on probation
