"""shardnode/buckets.py: a bucket with small strings packed reads back
exactly what a plain dict would hold, through overwrites of every length,
removals, free-list reuse, compaction and the 64 MB offset bound."""

from __future__ import annotations

import random

from shardnode import buckets
from shardnode.buckets import PACK_MAX, Bucket


def _check(bucket: Bucket, model: dict) -> None:
    if bucket.words is None:  # not packing yet
        assert len(bucket) < buckets.PACK_FROM
        assert dict(bucket) == dict(bucket.entries()) == model
        return
    assert dict(bucket.entries()) == model
    assert list(bucket) == list(model)  # dict order: insertion, as a plain dict
    for key, value in model.items():
        assert bucket.value(key) == value
        assert type(bucket.value(key)) is type(value)
    live = sum(len(v) for v in model.values() if type(v) is bytes and len(v) <= PACK_MAX)
    assert len(bucket.data) == live + bucket.garbage
    assert bucket.garbage * 2 <= max(len(bucket.data), 2 * buckets._COMPACT_MIN)


def _random_value(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return [b"a", b"list"]  # any object: containers are kept as they are
    if kind == 1:
        return b"x" * rng.randrange(PACK_MAX + 1, 200)
    return bytes(rng.randrange(256) for _ in range(rng.randrange(PACK_MAX + 1)))


def test_random_writes_and_removals_read_back_as_a_dict_would():
    rng = random.Random(12)
    bucket, model = Bucket(), {}
    for step in range(20000):
        key = b"k%d" % rng.randrange(400)  # past 257 keys: indexes that are not cached ints
        if rng.random() < 0.3 and key in model:
            removed = bucket.remove(key)
            value = model.pop(key)
            if type(value) is bytes and len(value) <= PACK_MAX:
                assert removed == len(value)  # a packed string answers its length
            else:
                assert removed is value
        else:
            value = _random_value(rng)
            bucket.put(key, value, bucket.get(key))
            model[key] = value
        if step % 997 == 0:
            _check(bucket, model)
    _check(bucket, model)
    assert len(bucket.words) <= 400  # freed indexes are reused


def test_packed_values_share_one_bytearray_and_small_int_indexes():
    bucket = Bucket()
    for i in range(200):
        bucket.put(b"key:%d" % i, b"v" * 32)
    assert all(type(entry) is int for entry in dict.values(bucket))
    assert len(bucket.data) == 200 * 32
    assert bucket.value(b"key:7") == b"v" * 32
    assert bucket.value(b"missing") is None


def test_a_bucket_packs_from_its_eighth_key_on():
    bucket = Bucket()
    model = {b"list": [b"x"]}
    bucket.put(b"list", model[b"list"])
    for i in range(buckets.PACK_FROM - 1):
        model[b"%d" % i] = b"%d" % i
        bucket.put(b"%d" % i, b"%d" % i, bucket.get(b"%d" % i))
    assert bucket.words is None and dict(bucket) == model  # all objects still
    bucket.put(b"0", b"zero", bucket.get(b"0"))  # an overwrite of a string packed on the way
    model[b"0"] = b"zero"
    assert [type(e) for e in dict.values(bucket)] == [list] + [int] * (buckets.PACK_FROM - 1)
    assert dict(bucket.entries()) == model and bucket.garbage == 1  # b"0"'s old byte
    bucket.remove(b"list")
    bucket.put(b"a" * 50, b"long" * 20)
    assert bucket.words is not None and dict(bucket.entries())[b"a" * 50] == b"long" * 20


def test_overwrites_in_place_or_at_the_end_and_compaction_keeps_indexes():
    bucket = Bucket()
    for i in range(100):
        bucket.put(b"%d" % i, b"%040d" % i)
    index = bucket.get(b"5")
    bucket.put(b"5", b"short", index)  # shorter: in place, the tail is garbage
    assert bucket.get(b"5") == index and bucket.garbage == 35
    bucket.put(b"5", b"y" * PACK_MAX, index)  # longer: moved to the end
    assert bucket.get(b"5") == index and bucket.garbage == 40
    for i in range(60):  # free over half of the data: compacted on the way
        if i != 5:
            bucket.remove(b"%d" % i)
    assert bucket.garbage == 9 * 40  # the removals since the compaction
    assert len(bucket.data) == 40 * 40 + PACK_MAX + bucket.garbage
    assert bucket.value(b"5") == b"y" * PACK_MAX and bucket.value(b"99") == b"%040d" % 99
    bucket.put(b"5", b"z" * 100, bucket.get(b"5"))  # a long string: an object again
    assert bucket.get(b"5") == b"z" * 100 and bucket.garbage == 9 * 40 + PACK_MAX


def test_a_bucket_past_its_offset_bound_keeps_new_strings_as_objects(monkeypatch):
    monkeypatch.setattr(buckets, "_DATA_MAX", 100)
    monkeypatch.setattr(buckets, "PACK_FROM", 0)
    bucket = Bucket()
    for i in range(5):
        bucket.put(b"%d" % i, b"%030d" % i)
    assert [type(e) for e in dict.values(bucket)] == [int, int, int, bytes, bytes]
    bucket.remove(b"0")
    bucket.put(b"1", b"w" * 35, bucket.get(b"1"))  # compacts to make room
    assert type(bucket.get(b"1")) is int and bucket.value(b"1") == b"w" * 35
    assert dict(bucket.entries()) == {b"1": b"w" * 35, b"2": b"%030d" % 2,
                                      b"3": b"%030d" % 3, b"4": b"%030d" % 4}
