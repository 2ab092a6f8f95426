"""shardnode/buckets.py: a bucket with small strings packed reads back
exactly what a plain dict would hold, through overwrites of every length,
removals, free-cell reuse and lay-outs (a longer value, half the cells free)."""

from __future__ import annotations

import random

from shardnode import buckets
from shardnode.buckets import PACK_FROM, PACK_MAX, Bucket


def _short(value) -> bool:
    return type(value) is bytes and len(value) <= PACK_MAX


def _check(bucket: Bucket, model: dict) -> None:
    assert dict(bucket.entries()) == model
    assert list(bucket) == list(model)  # dict order: insertion, as a plain dict
    for key, value in model.items():
        assert bucket.value(key) == value and type(bucket.value(key)) is type(value)
    if bucket.data is None:  # not packing yet: every entry is the value itself
        assert len(bucket) < PACK_FROM and dict(bucket) == model
        return
    packed = [e for e in dict.values(bucket) if type(e) is int]
    assert len(packed) == sum(1 for v in model.values() if _short(v))
    cells = len(bucket.data) // bucket.stride
    assert len(bucket.data) == cells * bucket.stride
    assert sorted(packed + bucket.free) == list(range(cells))  # each cell live or free, once
    assert bucket.stride > max((len(v) for v in model.values() if _short(v)), default=0)


def _random_value(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return [b"a", b"list"]  # any object: containers are kept as they are
    if kind == 1:
        return b"x" * rng.randrange(PACK_MAX + 1, 200)
    if kind < 5:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(PACK_MAX + 1)))
    return b"%020d" % rng.randrange(10**20)  # most values of one length, as in a cache


def test_random_writes_and_removals_read_back_as_a_dict_would():
    rng = random.Random(12)
    bucket, model = Bucket(), {}
    for step in range(20000):
        key = b"k%d" % rng.randrange(rng.choice((10, 400)))  # past 257 cells: uncached ints
        if rng.random() < 0.3 and key in model:
            removed = bucket.remove(key)
            value = model.pop(key)
            if _short(value):
                assert removed == len(value)  # a packed string answers its length
            else:
                assert removed is value
        else:
            value = _random_value(rng)
            bucket.put(key, value, bucket.get(key))
            model[key] = value
        if step % 499 == 0:
            _check(bucket, model)
    _check(bucket, model)


def test_values_of_one_length_take_their_bytes_and_a_length_byte():
    bucket = Bucket()
    for i in range(200):
        bucket.put(b"key:%d" % i, b"%032d" % i)
    assert all(type(entry) is int and entry < 257 for entry in dict.values(bucket))
    assert bucket.stride == 33 and len(bucket.data) == 200 * 33
    assert bucket.value(b"key:7") == b"%032d" % 7
    assert bucket.value(b"missing") is None
    bucket.put(b"key:7", b"", bucket.get(b"key:7"))  # in its cell
    assert bucket.value(b"key:7") == b"" and len(bucket.data) == 200 * 33


def test_a_bucket_packs_from_its_eighth_key_on():
    bucket = Bucket()
    model = {b"list": [b"x"]}
    bucket.put(b"list", model[b"list"])
    for i in range(PACK_FROM - 1):
        model[b"%d" % i] = b"%d" % i
        bucket.put(b"%d" % i, b"%d" % i, bucket.get(b"%d" % i))
    assert bucket.data is None and dict(bucket) == model  # all objects still
    bucket.put(b"0", b"zero", bucket.get(b"0"))  # an overwrite of a string packed on the way
    model[b"0"] = b"zero"
    assert [type(e) for e in dict.values(bucket)] == [list] + [int] * (PACK_FROM - 1)
    assert dict(bucket.entries()) == model and bucket.stride == 5


def test_a_longer_value_lays_the_bucket_out_again_and_freeing_half_compacts():
    bucket = Bucket()
    for i in range(100):
        bucket.put(b"%d" % i, b"%010d" % i)
    assert bucket.stride == 11
    bucket.put(b"50", b"y" * PACK_MAX, bucket.get(b"50"))
    assert bucket.stride == PACK_MAX + 1 and len(bucket.data) == 100 * (PACK_MAX + 1)
    assert bucket.value(b"49") == b"%010d" % 49 and bucket.value(b"50") == b"y" * PACK_MAX
    bucket.remove(b"50")
    for i in range(50):  # the 51st free cell of 100: laid out densely, the stride shrinks
        bucket.remove(b"%d" % i)
    assert bucket.stride == 11 and len(bucket.data) == 49 * 11 and bucket.free == []
    assert dict(bucket.entries()) == {b"%d" % i: b"%010d" % i for i in range(51, 100)}
    bucket.put(b"99", b"z" * 100, bucket.get(b"99"))  # a long string: an object again
    assert bucket.get(b"99") == b"z" * 100 and bucket.free == [48]
    bucket.put(b"new", b"n")
    assert bucket.get(b"new") == 48 and bucket.free == []  # the free cell is reused


def test_small_buckets_keep_their_free_cells(monkeypatch):
    monkeypatch.setattr(buckets, "PACK_FROM", 0)
    bucket = Bucket()
    for i in range(10):
        bucket.put(b"%d" % i, b"v")
    for i in range(9):
        bucket.remove(b"%d" % i)
    assert len(bucket.free) == 9 and len(bucket.data) == 10 * 2  # under _RELAYOUT_MIN cells
    assert dict(bucket.entries()) == {b"9": b"v"}


def test_packed_buckets_save_as_they_were_at_the_start_and_load_back():
    """The forkless snapshot (shardnode/rdb/save.py) reads packed buckets
    through ``entries``: writes between its steps that re-lay buckets out
    (longer values, mass deletes) leave the file the image of its start."""
    import io

    from cluster.slots import key_slot
    from shardnode.db import Keyspace
    from shardnode.rdb.file import RdbKey, read_rdb
    from shardnode.rdb.save import PointInTimeSave

    def image(keyspace):
        return {(db.index, key): value for db in keyspace.dbs
                for bucket in db.slots.values() for key, value in bucket.entries()}

    keys = [b"{t%d}k%d" % (i % 20, i) for i in range(1000)]  # 20 buckets of 50 keys
    ks = Keyspace(2, clock=lambda: 1_000_000)
    for i, key in enumerate(keys):
        ks.dbs[0].set(key, b"%d" % i)
    assert all(type(e) is int for b in ks.dbs[0].slots.values() for e in dict.values(b))
    before = image(ks)
    out = io.BytesIO()
    save = PointInTimeSave(ks, out, lambda slot: True)
    save.start()
    rng = random.Random(3)
    while not save.step(budget_s=0, min_keys=10):
        for _ in range(20):
            key = rng.choice(keys)
            if rng.random() < 0.5:
                ks.dbs[0].delete(key)
            else:
                ks.dbs[0].set(key, b"n" * rng.randrange(PACK_MAX + 1))
    records = [r for r in read_rdb(out.getvalue()) if type(r) is RdbKey]
    assert {(r.db, r.key): r.value for r in records} == before
    loaded = Keyspace(2, clock=lambda: 1_000_000)
    for r in records:
        assert loaded.dbs[r.db].load(r.key, r.value, key_slot(r.key))
    assert image(loaded) == before
    assert all(type(e) is int for b in loaded.dbs[0].slots.values() for e in dict.values(b))
