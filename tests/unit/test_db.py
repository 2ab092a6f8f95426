"""The shard's keyspace without a network: lookups, expiry, access times, and
the helpers keyspace commands rely on, on a clock the tests move by hand."""

import pytest

from cluster.errors import CommandError
from shardnode.db import Keyspace, slot_of


class Clock:
    def __init__(self, ms=1_000_000):
        self.ms = ms

    def __call__(self):
        return self.ms


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ks(clock):
    return Keyspace(4, clock)


def test_keys_are_bucketed_by_slot(ks):
    db = ks.dbs[0]
    db.set(b"{user}:a", b"1")
    db.set(b"{user}:b", b"2")
    db.set(b"other", b"3")
    assert db.size == 3
    assert sorted(db.keys_in_slot(slot_of(b"user"))) == [b"{user}:a", b"{user}:b"]
    assert db.delete(b"{user}:a") and not db.delete(b"{user}:a")
    assert db.delete(b"{user}:b")
    assert slot_of(b"user") not in db.slots  # empty buckets go
    assert db.size == 1


def test_get_typed_raises_wrongtype(ks):
    db = ks.dbs[0]
    db.set(b"l", [b"x"])
    with pytest.raises(CommandError) as err:
        db.get_typed(b"l", bytes)
    assert err.value.text.startswith("WRONGTYPE")
    assert db.get_typed(b"missing", bytes) is None


def test_lazy_expiry_at_the_deadline(ks, clock):
    db = ks.dbs[0]
    db.set(b"k", b"v")
    db.set_deadline(b"k", clock.ms + 100)
    clock.ms += 99
    ks.tick()
    assert db.get(b"k") == b"v" and db.ttl_ms(b"k") == 1
    clock.ms += 1
    ks.tick()
    assert db.peek(b"k") is None
    assert db.size == 0 and not db.expires and ks.stats_expired == 1
    assert db.ttl_ms(b"k") == -2


def test_delete_of_an_expired_key_reports_nothing_deleted(ks, clock):
    db = ks.dbs[0]
    db.set(b"k", b"v")
    db.set_deadline(b"k", clock.ms + 10)
    clock.ms += 10
    ks.tick()
    assert db.delete(b"k") is False
    assert db.size == 0


def test_active_expiry_is_bounded_and_skips_stale_entries(ks, clock):
    db = ks.dbs[1]
    for i in range(10):
        db.set(b"k%d" % i, b"v")
        db.set_deadline(b"k%d" % i, clock.ms + 10)
    db.set_deadline(b"k0", clock.ms + 1000)  # the old heap entry is now stale
    db.persist(b"k1")
    clock.ms += 10
    assert ks.active_expire(budget=5) == 5
    assert ks.active_expire(budget=100) == 3
    assert sorted(k for b in db.slots.values() for k in b) == [b"k0", b"k1"]
    assert db.size == 2 and list(db.expires) == [b"k0"]


def test_set_drops_the_ttl_unless_kept(ks, clock):
    db = ks.dbs[0]
    db.set(b"k", b"v")
    db.set_deadline(b"k", clock.ms + 100)
    db.set(b"k", b"w", keep_ttl=True)
    assert db.deadline(b"k") == clock.ms + 100
    db.set(b"k", b"x")
    assert db.deadline(b"k") is None


def test_access_times_follow_reads_unless_no_touch(ks, clock):
    db = ks.dbs[0]
    db.set(b"k", b"v")
    created = db.stamp(b"k")
    clock.ms += 5000
    ks.tick()
    db.peek(b"k")
    assert db.stamp(b"k") == created
    ks.touch = False
    db.get(b"k")
    db.set(b"k", b"w")  # an update by a NO-TOUCH client keeps it too
    assert db.stamp(b"k") == created
    ks.touch = True
    db.get(b"k")
    assert db.stamp(b"k") == created + 5


def test_access_table_costs_no_dict_entry_and_keeps_words_when_it_grows(ks, clock):
    """The table doubles as keys arrive; a word read before reads the same after."""
    db = ks.dbs[0]
    db.set(b"old", b"v")
    clock.ms += 3000
    ks.tick()
    first = len(db.stamps)
    for i in range(3 * first):
        db.set(b"k%d" % i, b"v")
    assert len(db.stamps) >= 3 * first and len(db.stamps) & (len(db.stamps) - 1) == 0
    assert len(db.stamps) <= 2 * db.size  # 4 to 8 bytes per key
    # "old"'s word, unless a later key landed on its position
    assert db.stamp(b"old") in (ks.lru_clock - 3, ks.lru_clock)


def test_write_hook_sees_every_mutation(ks, clock):
    seen = []
    ks.write_listeners.append(lambda db, key, slot: seen.append(key))
    db = ks.dbs[0]
    db.set(b"a", b"1")
    db.set_deadline(b"a", clock.ms + 5)
    db.persist(b"a")
    db.touch_write(b"a")
    db.delete(b"a")
    assert seen == [b"a"] * 5


def test_swap_and_clear(ks):
    ks.dbs[0].set(b"a", b"1")
    ks.swap(0, 2)
    assert ks.dbs[2].get(b"a") == b"1" and ks.dbs[2].index == 2
    assert ks.dbs[0].size == 0
    ks.dbs[2].clear()
    assert ks.dbs[2].size == 0 and len(ks.dbs[2].stamps) == 4096


def test_random_key_skips_expired_keys(ks, clock):
    db = ks.dbs[0]
    assert db.random_key() is None
    db.set(b"gone", b"v")
    db.set_deadline(b"gone", clock.ms)
    db.set(b"here", b"v")
    assert {db.random_key() for _ in range(20)} == {b"here"}
