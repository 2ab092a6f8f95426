"""Hash commands against a real redis-server: same replies, errors included.

Keys ``A0``/``B0`` live on shard 0 of the 2-shard damselfly and ``A1``/``B1``
on shard 1.  A listpack hash answers in insertion order on both servers, so
its replies compare exactly; a hashtable's order is Redis's dict order, so
those replies compare as sets.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import names_on_shard

A0, B0 = names_on_shard(0, 2, "h")
A1, B1 = names_on_shard(1, 2, "h")
KEYS = (A0, B0, A1, B1)


def _pairs(flat):
    return sorted(zip(flat[0::2], flat[1::2]))


@pytest.mark.parametrize("key", [A0, A1])
def test_set_get_and_friends(diff, key):
    diff.run("HSET", key, "f1", "v1")
    diff.run("HSET", key, "f1", "v2", "f2", "")
    diff.run("HSET", key, "f3", b"\x00\xff\r\n", b"\x00", "x")
    diff.run("HMSET", key, "f4", "4", "f1", "1")
    diff.run("HGET", key, "f1")
    diff.run("HGET", key, "nope")
    diff.run("HGET", "missing", "f1")
    diff.run("HMGET", key, "f1", "nope", "f2", "f1")
    diff.run("HMGET", "missing", "a", "b")
    diff.run("HGETALL", key)
    diff.run("HGETALL", "missing")
    diff.run("HKEYS", key)
    diff.run("HVALS", key)
    diff.run("HKEYS", "missing")
    diff.run("HVALS", "missing")
    diff.run("HLEN", key)
    diff.run("HLEN", "missing")
    diff.run("HSTRLEN", key, "f3")
    diff.run("HSTRLEN", key, "nope")
    diff.run("HSTRLEN", "missing", "f3")
    diff.run("HEXISTS", key, "f2")
    diff.run("HEXISTS", key, "nope")
    diff.run("HEXISTS", "missing", "f2")
    diff.run("HSETNX", key, "f1", "zzz")
    diff.run("HSETNX", key, "f9", "zzz")
    diff.run("HSETNX", B0, "f", "v")
    diff.run("HGETALL", key)
    diff.run("TYPE", key)
    diff.run("OBJECT", "ENCODING", key)


def test_arity_and_syntax_errors(diff):
    diff.run("HSET", A0, "f")
    diff.run("HSET", A0, "f", "v", "g")
    diff.run("HMSET", A0, "f", "v", "g")
    diff.run("HMSET", A0)
    diff.run("HSETNX", A0, "f")
    diff.run("HGET", A0)
    diff.run("HMGET", A0)
    diff.run("HDEL", A0)
    diff.run("HINCRBY", A0, "f")
    diff.run("HRANDFIELD")
    diff.run("HSCAN", A0)
    diff.run("EXISTS", A0)


def test_wrongtype_everywhere(diff):
    diff.run("SET", A0, "string")
    for command in (("HSET", A0, "f", "v"), ("HMSET", A0, "f", "v"), ("HSETNX", A0, "f", "v"),
                    ("HGET", A0, "f"), ("HMGET", A0, "f"), ("HGETALL", A0), ("HDEL", A0, "f"),
                    ("HLEN", A0), ("HSTRLEN", A0, "f"), ("HEXISTS", A0, "f"), ("HKEYS", A0),
                    ("HVALS", A0), ("HINCRBY", A0, "f", "1"), ("HINCRBYFLOAT", A0, "f", "1"),
                    ("HRANDFIELD", A0), ("HRANDFIELD", A0, "2"), ("HSCAN", A0, "0")):
        diff.run(*command)
    # Argument errors Redis finds before the type check.
    diff.run("HINCRBY", A0, "f", "x")
    diff.run("HINCRBYFLOAT", A0, "f", "x")
    diff.run("HINCRBYFLOAT", A0, "f", "inf")
    diff.run("HSCAN", A0, "x")
    diff.run("HRANDFIELD", A0, "x")
    diff.run("HRANDFIELD", A0, "1", "bad")
    diff.run("HSET", A0, "f")
    diff.run("HSET", A1, "f", "v")
    diff.run("GET", A1)
    diff.run("GET", A0)


def test_hdel_removes_emptied_hash(diff):
    diff.run("HDEL", "missing", "f")
    diff.run("HSET", A1, "a", "1", "b", "2", "c", "3")
    diff.run("HDEL", A1, "a", "a", "nope")
    diff.run("HGETALL", A1)
    diff.run("HDEL", A1, "b", "c", "d")
    diff.run("EXISTS", A1)
    diff.run("TYPE", A1)
    diff.run("HLEN", A1)
    diff.run("HSET", A1, "x", "y")
    diff.run("HGETALL", A1)


def test_hincrby(diff):
    diff.run("HINCRBY", A0, "n", "5")
    diff.run("HINCRBY", A0, "n", "-7")
    diff.run("HINCRBY", A0, "n", "0")
    diff.run("HSET", A0, "s", "abc", "sp", " 1", "big", "9223372036854775807",
             "small", "-9223372036854775808", "lead", "01")
    for field, incr in (("s", "1"), ("sp", "1"), ("big", "1"), ("big", "0"), ("big", "-1"),
                        ("small", "-1"), ("small", "1"), ("lead", "1"), ("n", "1.5"),
                        ("n", "9223372036854775808"), ("n", ""), ("n", "-0"), ("new", "3")):
        diff.run("HINCRBY", A0, field, incr)
    diff.run("HGETALL", A0)
    diff.run("HINCRBY", "fresh", "f", "x")
    diff.run("EXISTS", "fresh")


def test_hincrbyfloat(diff):
    diff.run("HINCRBYFLOAT", A1, "f", "0.1")
    diff.run("HINCRBYFLOAT", A1, "f", "0.2")
    diff.run("HINCRBYFLOAT", A1, "f", "-0.3")
    diff.run("HINCRBYFLOAT", A1, "f", "1e3")
    diff.run("HINCRBYFLOAT", A1, "f", "5.0e3")
    diff.run("HINCRBYFLOAT", A1, "g", "3")
    diff.run("HINCRBYFLOAT", A1, "g", "0x10")
    diff.run("HSET", A1, "s", "abc", "i", "inf", "e", "", "n", "12")
    for field, incr in (("s", "1"), ("i", "1"), ("e", "1"), ("n", "1.5"), ("n", "inf"),
                        ("n", "-inf"), ("n", "nan"), ("n", "abc"), ("n", ""), ("n", "1e5000"),
                        ("n", "1.7976931348623157e308"), ("n", " 1"), ("n", "1 ")):
        diff.run("HINCRBYFLOAT", A1, field, incr)
    diff.run("OBJECT", "ENCODING", A1)  # the 309-digit value made it a hashtable
    ref, ours = diff.both("HGETALL", A1)
    assert _pairs(ref) == _pairs(ours)
    diff.run("HINCRBYFLOAT", "fresh", "f", "nan")
    diff.run("EXISTS", "fresh")


def test_listpack_thresholds(diff):
    """512 fields stay a listpack, the 513th converts; a 64-byte value
    stays, a 65-byte one converts; conversions never go back."""
    for i in range(0, 512, 2):
        diff.run("HSET", A0, "f%d" % i, i, "f%d" % (i + 1), i)
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("HGETALL", A0)
    diff.run("HSET", A0, "f0", "again")
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("HSET", A0, "f512", "x")
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("HDEL", A0, *["f%d" % i for i in range(500)])
    diff.run("OBJECT", "ENCODING", A0)

    diff.run("HSET", A1, "a", "x" * 64, "b" * 64, "y")
    diff.run("OBJECT", "ENCODING", A1)
    diff.run("HSETNX", A1, "c", "x" * 65)
    diff.run("OBJECT", "ENCODING", A1)
    diff.run("HSET", B1, "a" * 65, "1")
    diff.run("OBJECT", "ENCODING", B1)
    # A long field is converted even when HINCRBY / HINCRBYFLOAT writes it.
    diff.run("HINCRBY", B0, "k" * 65, "1")
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("HINCRBYFLOAT", "other", "k" * 65, "1.5")
    diff.run("OBJECT", "ENCODING", "other")
    # An HSET whose too-long argument is not written still converts.
    diff.run("HSET", "conv", "a", "1")
    diff.run("HSET", "conv", "a", "x" * 65, "a", "2")
    diff.run("OBJECT", "ENCODING", "conv")
    ref, ours = diff.both("HGETALL", "conv")
    assert _pairs(ref) == _pairs(ours)


def test_threshold_config(diff):
    try:
        diff.run("CONFIG", "SET", "hash-max-listpack-entries", "4")
        diff.run("CONFIG", "SET", "hash-max-listpack-value", "8")
        diff.run("CONFIG", "GET", "hash-max-listpack-entries")
        diff.run("HSET", A0, "a", 1, "b", 2, "c", 3, "d", 4)
        diff.run("OBJECT", "ENCODING", A0)
        diff.run("HSET", A0, "e", 5)
        diff.run("OBJECT", "ENCODING", A0)
        diff.run("HSET", A1, "a", "12345678")
        diff.run("OBJECT", "ENCODING", A1)
        diff.run("HSET", A1, "b", "123456789")
        diff.run("OBJECT", "ENCODING", A1)
    finally:
        diff.run("CONFIG", "SET", "hash-max-listpack-entries", "512")
        diff.run("CONFIG", "SET", "hash-max-listpack-value", "64")


def test_hashtable_replies_compare_as_sets(diff):
    fields = []
    for i in range(600):
        fields += ["field:%d" % i, "value:%d" % i]
    diff.run("HSET", A1, *fields)
    diff.run("OBJECT", "ENCODING", A1)
    diff.run_unordered("HKEYS", A1)
    diff.run_unordered("HVALS", A1)
    ref, ours = diff.both("HGETALL", A1)
    assert _pairs(ref) == _pairs(ours)
    diff.run("HLEN", A1)


def test_expiry_is_honoured(diff):
    import time

    diff.run("HSET", A0, "f", "v")
    diff.run("PEXPIRE", A0, "50")
    time.sleep(0.15)
    diff.run("HGET", A0, "f")
    diff.run("HLEN", A0)
    diff.run("HSETNX", A0, "f", "new")
    diff.run("HGETALL", A0)
    diff.run("TTL", A0)


def test_hrandfield(diff):
    diff.run("HRANDFIELD", "missing")
    diff.run("HRANDFIELD", "missing", "5")
    diff.run("HRANDFIELD", "missing", "-5", "WITHVALUES")
    diff.run("HRANDFIELD", "missing", "-9223372036854775808")
    diff.run("HRANDFIELD", "missing", "4611686018427387904", "WITHVALUES")
    diff.run("HRANDFIELD", "missing", "-4611686018427387904", "WITHVALUES")
    diff.run("HRANDFIELD", "missing", "4611686018427387903", "WITHVALUES")
    diff.run("HRANDFIELD", "missing", "1", "WITHVALUES", "x")
    diff.run("HSET", A0, "a", "1", "b", "2", "c", "3")
    diff.run("HRANDFIELD", A0, "0")
    diff.run("HRANDFIELD", A0, "0", "WITHVALUES")
    diff.run("HRANDFIELD", A0, "x")
    diff.run("HRANDFIELD", A0, "-9223372036854775808")
    diff.run("HRANDFIELD", A0, "1", "withvaluesx")
    # Whole-hash counts come back in the hash's order.
    diff.run("HRANDFIELD", A0, "3")
    diff.run("HRANDFIELD", A0, "100", "WITHVALUES")
    for proto in (2, 3):
        diff.both("HELLO", proto)
        ref, ours = diff.both("HRANDFIELD", A0)
        assert ours in (b"a", b"b", b"c")
        for count in (1, 2, -1, -10):
            ref, ours = diff.both("HRANDFIELD", A0, count)
            assert len(ref) == len(ours) == abs(count)
            assert set(ours) <= {b"a", b"b", b"c"}
            if count > 0:
                assert len(set(ours)) == count
            ref, ours = diff.both("HRANDFIELD", A0, count, "WITHVALUES")
            if proto == 2:
                assert len(ref) == len(ours) == 2 * abs(count)
                pairs = list(zip(ours[0::2], ours[1::2]))
            else:
                assert len(ref) == len(ours) == abs(count)
                assert all(len(pair) == 2 for pair in ref)
                pairs = [tuple(pair) for pair in ours]
            assert set(pairs) <= {(b"a", b"1"), (b"b", b"2"), (b"c", b"3")}


def test_hrandfield_on_a_big_hash_after_changes(diff):
    """A hashtable hash changed between picks (so the pick list is kept in
    step): counts around Redis's copy threshold (a third of the hash) and
    the whole hash, negative counts; sizes, distinctness and pairs checked
    on both servers' replies."""
    fields = ["f%d" % i for i in range(1500)]
    diff.run("HSET", A0, *[x for f in fields for x in (f, f.upper())])
    diff.run("OBJECT", "ENCODING", A0)

    def check():
        size = diff.run("HLEN", A0)
        current = diff.ours.call("HGETALL", A0)
        current = dict(zip(current[0::2], current[1::2]))
        assert diff.ours.call("HRANDFIELD", A0) in current
        for count in (1, 10, size // 3, size // 3 + 1, size - 1, size, size + 3, -1, -40):
            refs, ours = diff.both("HRANDFIELD", A0, count, "WITHVALUES")
            for reply in (refs, ours):
                pairs = list(zip(reply[0::2], reply[1::2]))
                assert len(pairs) == (min(count, size) if count > 0 else -count)
                if count > 0:
                    assert len({f for f, _ in pairs}) == len(pairs)
            assert all(current.get(f) == v for f, v in zip(ours[0::2], ours[1::2]))

    check()
    diff.run("HDEL", A0, *fields[::3])
    diff.run("HSET", A0, *[x for f in fields[::6] for x in (f, "again")], "new", "1")
    check()
    diff.run("HDEL", A0, *fields[1::3])
    check()
    diff.run("DEL", A0)
    diff.run("HRANDFIELD", A0, "-3")


def test_hscan(diff):
    diff.run("HSCAN", "missing", "0")
    diff.run("HSCAN", "missing", "0", "BOGUS")
    diff.run("HSCAN", "missing", "x")
    diff.run("HSET", A0, "alpha", "1", "beta", "2", "gamma", "3")
    diff.run("HSCAN", A0, "0")
    diff.run("HSCAN", A0, "0", "MATCH", "*a")
    diff.run("HSCAN", A0, "0", "COUNT", "1")
    diff.run("HSCAN", A0, "0", "COUNT", "0")
    diff.run("HSCAN", A0, "0", "COUNT", "x")
    diff.run("HSCAN", A0, "0", "MATCH")
    diff.run("HSCAN", A0, "0", "TYPE", "hash")
    diff.run("HSCAN", A0, "0", "NOVALUES")
    diff.run("HSCAN", A0, "-1")
    # A hashtable walked to its end gives every field (order and pages differ).
    fields = []
    for i in range(700):
        fields += ["f%d" % i, "v%d" % i]
    diff.run("HSET", A1, *fields)
    for args in ((), ("COUNT", "7"), ("MATCH", "f1*", "COUNT", "50")):
        seen = {}
        for client in (diff.ref, diff.ours):
            cursor, found = b"0", {}
            while True:
                cursor, page = client.call("HSCAN", A1, cursor, *args)
                found.update(zip(page[0::2], page[1::2]))
                if cursor == b"0":
                    break
            seen[client] = found
        assert seen[diff.ref] == seen[diff.ours]


def test_resp3_shapes(diff):
    diff.both("HELLO", "3")
    diff.run("HGETALL", "missing")
    diff.run("HSET", A1, "a", "1", "b", "2")
    diff.run("HGETALL", A1)
    diff.run("HMGET", A1, "a", "nope")
    diff.run("HGET", A1, "nope")
    diff.run("HINCRBYFLOAT", A1, "a", "1.5")
    diff.run("HRANDFIELD", "missing")
    diff.run("HRANDFIELD", "missing", "3", "WITHVALUES")
    diff.run("HRANDFIELD", A1, "5", "WITHVALUES")
    diff.run("HSCAN", A1, "0")
    diff.run("HSTRLEN", A1, "a")


FIELDS = st.sampled_from([b"a", b"b", b"c", b"num", b"", b"\x00x", b"f" * 65])
VALUES = st.sampled_from([b"1", b"-3", b"0.5", b"x", b"", b"9223372036854775807", b"v" * 65])
STEPS = st.one_of(
    st.tuples(st.just("HSET"), FIELDS, VALUES),
    st.tuples(st.just("HSETNX"), FIELDS, VALUES),
    st.tuples(st.just("HDEL"), FIELDS),
    st.tuples(st.just("HDEL"), FIELDS, FIELDS),
    st.tuples(st.just("HINCRBY"), FIELDS, st.sampled_from([b"1", b"-2", b"x", b"9223372036854775807"])),
    st.tuples(st.just("HINCRBYFLOAT"), FIELDS, st.sampled_from([b"0.1", b"-1e3", b"inf", b"x"])),
    st.tuples(st.just("HGET"), FIELDS),
    st.tuples(st.just("HMGET"), FIELDS, FIELDS),
    st.tuples(st.just("HSTRLEN"), FIELDS),
    st.tuples(st.just("HEXISTS"), FIELDS),
    st.tuples(st.just("HLEN")),
    st.tuples(st.just("HGETALL")),
    st.tuples(st.just("HKEYS")),
    st.tuples(st.just("HVALS")),
    st.tuples(st.just("HSCAN"), st.just(b"0")),
    st.tuples(st.just("OBJECT"),),
    st.tuples(st.just("SET"), VALUES),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(st.sampled_from(KEYS), STEPS), max_size=25))
def test_random_walk_matches_redis(diff, steps):
    diff.both("FLUSHALL")
    for key, (name, *rest) in steps:
        if name == "OBJECT":
            diff.run("OBJECT", "ENCODING", key)
            continue
        ref, ours = diff.both(name, key, *rest)
        if name in ("HGETALL", "HKEYS", "HVALS", "HSCAN") and isinstance(ref, list) and \
                diff.ref.call("OBJECT", "ENCODING", key) == b"hashtable":
            if name == "HSCAN":  # pages differ; the whole walk is test_hscan's
                continue
            assert sorted(ref) == sorted(ours), (name, key, ref, ours)
        else:
            assert ref == ours, (name, key, rest, ref, ours)
    for key in KEYS:
        diff.run("TYPE", key)
        diff.run("HLEN", key)
        # The final state, byte for byte where Redis's order is defined.
        if diff.run("OBJECT", "ENCODING", key) != b"hashtable":
            diff.run("DUMP", key)


# -- DUMP / RESTORE and moves between shards ---------------------------------

LISTPACK_SHAPES = [
    [("a", "1"), ("b", "2")],
    [("f", "-1"), ("g", "127"), ("h", "128"), ("i", "-4096"), ("j", "4095"), ("k", "-4097"),
     ("l", "32767"), ("m", "-32769"), ("n", "8388607"), ("o", "-8388609"),
     ("p", "2147483647"), ("q", "-2147483649"), ("r", "9223372036854775807"),
     ("s", "-9223372036854775808"), ("t", "007"), ("u", "-0"), ("v", ""), ("w", " 1")],
    [("x" * 63, "y" * 64), ("z" * 20, "binary\x00\xff")],
    [("f%d" % i, "value number %d" % i) for i in range(300)],
]


@pytest.mark.parametrize("pairs", LISTPACK_SHAPES, ids=["tiny", "integers", "lengths", "300"])
def test_dump_of_a_listpack_hash_is_byte_identical(diff, pairs):
    flat = [part for pair in pairs for part in pair]
    diff.run("HSET", A0, *flat)
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("DUMP", A0)
    diff.run("HSET", A0, flat[0], "changed in place")
    diff.run("DUMP", A0)


def test_payloads_travel_both_ways(diff):
    """Redis's DUMP restores here and ours restores in Redis, in both
    encodings; a restored hash takes the encoding Redis's loader gives."""
    small = ["a", "1", "b", "x" * 10]
    big = []
    for i in range(600):
        big += ["f%d" % i, "v%d" % i]
    long_value = ["a", "x" * 100]
    for name, flat in (("small", small), ("big", big), ("long", long_value)):
        diff.ref.call("HSET", name, *flat)
        diff.ours.call("HSET", name, *flat)
        theirs = diff.ref.call("DUMP", name)
        ours = diff.ours.call("DUMP", name)
        for client, payload in ((diff.ours, theirs), (diff.ref, ours)):
            assert client.call("RESTORE", name + "-copy", "0", payload) == b"OK"
        diff.run("OBJECT", "ENCODING", name + "-copy")
        ref, got = diff.both("HGETALL", name + "-copy")
        assert _pairs(ref) == _pairs(got)
    # A hashtable dump whose hash shrank loads as a listpack again.
    diff.both("HDEL", "big", *["f%d" % i for i in range(598)])
    theirs = diff.ref.call("DUMP", "big")
    assert diff.ours.call("RESTORE", A1, "0", theirs) == b"OK"
    assert diff.ref.call("RESTORE", A1, "0", theirs) == b"OK"
    diff.run("OBJECT", "ENCODING", A1)
    diff.run_unordered("HGETALL", A1)


def _payload(type_id: int, body: bytes) -> bytes:
    """A DUMP payload with a correct version and CRC around ``body``."""
    from shardnode.rdb.checksum import crc64

    framed = bytes((type_id,)) + body + b"\x0a\x00"
    return framed + crc64(framed, 0).to_bytes(8, "little")


def test_restore_refuses_malformed_hash_payloads(diff):
    from shardnode.rdb.encoding import encode_string

    truncated = b"\x0b\x00\x00\x00\x02\x00\x81a\x02\x01"
    for payload in (_payload(16, encode_string(b"\x07\x00\x00\x00\x00\x00\xff")),  # empty
                    _payload(4, b"\x00"),  # no pairs
                    _payload(16, encode_string(truncated)),
                    _payload(4, b"\x02" + encode_string(b"a"))):
        diff.run("RESTORE", A0, "0", payload)
        diff.run("EXISTS", A0)


def test_scan_type_and_generic_commands(diff):
    diff.run("HSET", A0, "f", "v")
    diff.run("HSET", A1, "f", "v")
    diff.run("SET", B0, "string")
    for client in (diff.ref, diff.ours):
        cursor, found = b"0", []
        while True:
            cursor, page = client.call("SCAN", cursor, "TYPE", "hash")
            found += page
            if cursor == b"0":
                break
        assert sorted(found) == sorted([A0.encode(), A1.encode()])
    diff.run("TYPE", A0)
    diff.run("EXPIRE", A0, "100")
    diff.run("TTL", A0)
    diff.run("PERSIST", A0)
    diff.run("OBJECT", "REFCOUNT", A0)
    diff.run("UNLINK", A0, A1)
    diff.run("TYPE", A0)


def test_cross_shard_rename_copy_and_transactions(diff):
    diff.run("HSET", A0, "a", "1", "b", "2")
    diff.run("RENAME", A0, A1)
    diff.run("HGETALL", A1)
    diff.run("EXISTS", A0)
    diff.run("COPY", A1, B0)
    diff.run("HGETALL", B0)
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("HSET", B0, "c", "x" * 100)
    diff.run("RENAMENX", B0, A1)
    diff.run("RENAME", B0, A0)
    diff.run("OBJECT", "ENCODING", A0)
    diff.run_unordered("HGETALL", A0)
    diff.run("MULTI")
    diff.run("HINCRBY", A0, "a", "5")
    diff.run("HDEL", A1, "a", "b")
    diff.run("HLEN", A1)
    diff.run("EXEC")
    diff.run("EXISTS", A0, A1, B0)
    diff.run("TYPE", A0)
    diff.run("DEL", A0, A1, B0)
    diff.run("EXISTS", A0, A1, B0)
