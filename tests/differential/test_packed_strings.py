"""Short strings packed in their slot's bucket (shardnode/buckets.py) answer
every string and keyspace command as redis-server does.

A bucket packs from its 8th key on, so the keys here share a hash tag: one
slot, one bucket of 40 keys, packed from the start of each test, with values
of every length around the packing bound (44 bytes), integers among them
(OBJECT ENCODING int/embstr/raw), containers and long strings in the same
bucket, and enough removals to lay the bucket out again.
"""

import random
import time

import pytest

KEYS = ["{pk}:%d" % i for i in range(40)]


def _value(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(-10**6, 10**6))  # an int encoding
    if kind == 1:
        return "x" * rng.randrange(40, 50)  # either side of the 44-byte bound
    if kind == 2:
        return ""
    return "".join(rng.choice("abc\r\n\x00\xff") for _ in range(rng.randrange(1, 45)))


def _fill(diff, rng):
    for key in KEYS:
        diff.run("SET", key, _value(rng))
    diff.run("RPUSH", "{pk}:list", "a", "b")  # a container in the same bucket
    diff.run("SET", "{pk}:long", "L" * 300)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_string_commands_on_one_packed_bucket(diff, seed):
    rng = random.Random(seed)
    _fill(diff, rng)
    # Keys last changed by APPEND/SETRANGE: Redis keeps those "raw" whatever
    # their length, damselfly answers from the value (as before packing, see
    # shardnode/values.py string_encoding): OBJECT ENCODING skips them.
    edited = set()
    for _ in range(400):
        key = rng.choice(KEYS)
        op = rng.randrange(14)
        if op == 0:
            diff.run("SET", key, _value(rng))
        elif op == 1:
            diff.run("GET", key)
        elif op == 2:
            diff.run("APPEND", key, "y" * rng.randrange(1, 10))
            edited.add(key)
            continue
        elif op == 3:
            diff.run("SETRANGE", key, rng.randrange(50), "zz")
            edited.add(key)
            continue
        elif op == 4:
            if not isinstance(diff.run("INCRBY", key, rng.randrange(-5, 5)), Exception):
                edited.discard(key)
            continue
        elif op == 5:
            diff.run("GETDEL", key)
        elif op == 6:
            other = rng.choice(KEYS)
            diff.run("DEL", key, other)
            edited.discard(other)
        elif op == 7:
            diff.run("STRLEN", key)
            diff.run("GETRANGE", key, 1, -2)
            continue
        elif op == 8:
            if key not in edited:
                diff.run("OBJECT", "ENCODING", key)
            diff.run("TYPE", key)
            continue
        elif op == 9:
            diff.run("GETSET", key, _value(rng))
        elif op == 10:
            if diff.run("SETNX", key, _value(rng)) == 0:
                continue
        elif op == 11:
            diff.run("MGET", *rng.sample(KEYS, 5))
            continue
        elif op == 12:
            diff.run("SET", key, "w" * 100)  # a long string replaces a packed one
        else:
            target = rng.choice(KEYS)
            if diff.run("COPY", key, target, "REPLACE") == 1:  # the copy keeps the encoding
                if key in edited:
                    edited.add(target)
                else:
                    edited.discard(target)
            continue
        edited.discard(key)
    diff.run("MGET", *KEYS)
    diff.run_unordered("KEYS", "{pk}:*")
    diff.run("LRANGE", "{pk}:list", 0, -1)
    diff.run("GET", "{pk}:long")


def test_removing_most_keys_keeps_the_rest(diff):
    rng = random.Random(4)
    _fill(diff, rng)
    for key in KEYS[:30]:  # over half the cells free: the bucket is laid out again
        diff.run("DEL", key)
    diff.run("MGET", *KEYS)
    for key in KEYS[:30]:
        diff.run("SET", key, "again-" + key)
    diff.run("MGET", *KEYS)
    diff.run("DBSIZE")


def test_dump_restore_rename_and_ttl_of_packed_strings(diff):
    rng = random.Random(5)
    _fill(diff, rng)
    for key in KEYS[:10]:
        ref, ours = diff.both("DUMP", key)
        assert (ref is None) == (ours is None)
        diff.run("RESTORE", key + "r", 0, ours)  # our payload, loaded by both
        diff.run("GET", key + "r")
        diff.run("RENAME", key, key + "n")
        diff.run("GET", key + "n")
        diff.run("EXPIRE", key + "n", 100)
        diff.run("TTL", key + "n")
        diff.run("PERSIST", key + "n")
        diff.run("TTL", key + "n")
    diff.run("SET", KEYS[20], "short", "PX", 1)
    diff.run("SET", KEYS[21], "short", "KEEPTTL")
    time.sleep(0.05)  # KEYS[20] expired on both: lazily, on the read
    diff.run("EXISTS", *KEYS)
    diff.run("GET", KEYS[20])
