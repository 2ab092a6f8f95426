"""shardnode/memory.py: the incremental used_memory equals a recount from
scratch after any mix of writes, in-place changes, TTLs, deletes, flushes."""

from __future__ import annotations

import random

import pytest

from shardnode.db import Keyspace
from shardnode.memory import BUCKET, EXPIRE_ENTRY, footprint, key_size
from shardnode.registry import load_families

load_families()
from shardnode.hashes import Hash  # noqa: E402
from shardnode.lists import List  # noqa: E402


def _recount(ks) -> int:
    total = 0
    for db in ks.dbs:
        for bucket in db.slots.values():
            total += BUCKET
            for key, value in bucket.entries():
                total += footprint(value) + key_size(key)
        total += EXPIRE_ENTRY * len(db.expires)
    return total


@pytest.mark.parametrize("tags, longest", [
    (0, 1000),  # keys spread over slots: buckets of a key or two
    (5, 60),  # five buckets of ~60 keys, short strings packed (shardnode/buckets.py)
])
def test_used_memory_matches_a_recount_after_random_operations(tags, longest):
    rng = random.Random(7)
    ks = Keyspace(4, clock=lambda: 1_000_000)
    for step in range(5000):
        db = ks.dbs[rng.randrange(2)]
        n = rng.randrange(300)
        key = b"{t%d}k%d" % (n % tags, n) if tags else b"k%d" % n
        op = rng.randrange(8)
        value = db.peek(key)
        if op == 0:
            db.set(key, b"v" * rng.randrange(longest))
        elif op == 1:
            db.delete(key)
        elif op == 2:
            db.set(key, Hash(), keep_ttl=True)
            db.get(key)[b"f"] = b"x" * rng.randrange(50)  # filled after it is stored
            db.get(key).nbytes = 1 + len(db.get(key)[b"f"])
        elif op == 3 and type(value) is Hash:
            db.touch_write(key)
            value[b"g%d" % step] = b"y" * 30
            value.nbytes += len(b"g%d" % step) + 30
            if rng.random() < 0.3:
                db.delete(key)  # changed, then gone in the same command
        elif op == 4 and value is not None:
            db.set_deadline(key, 2_000_000_000)
        elif op == 5 and value is not None:
            db.persist(key)
        elif op == 6 and type(value) is not List and value is not None and rng.random() < 0.05:
            db.clear()
        elif op == 7:
            db.set(key, List([b"a"] * rng.randrange(1, 200)))
        if rng.random() < 0.2:
            ks.settle_memory()  # the end of a batch
    assert ks.used_memory == _recount(ks)
    for db in ks.dbs:
        db.clear()
    assert ks.used_memory == 0


def test_swapdb_keeps_each_database_count():
    ks = Keyspace(2)
    ks.dbs[0].set(b"a", b"1" * 100)
    used = ks.used_memory
    ks.swap(0, 1)
    assert ks.dbs[1].used == used and ks.dbs[0].used == 0 and ks.used_memory == used
