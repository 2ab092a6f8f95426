"""HyperLogLog commands against a real redis-server 7.0: same replies, and the
same bytes in the string value (GET), errors included.

Keys ``A0``/``B0`` live on shard 0 of the 2-shard damselfly and ``A1``/``B1``
on shard 1, so multi-key PFCOUNT and PFMERGE run within a shard and across
shards.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import names_on_shard

A0, B0 = names_on_shard(0, 2, "hll")
A1, B1 = names_on_shard(1, 2, "hll")
KEYS = (A0, B0, A1, B1)
HEADER_SPARSE = b"HYLL\x01" + bytes(11)
HEADER_DENSE = b"HYLL\x00" + bytes(11)


def _elements(start: int, count: int) -> list:
    return ["el:%d" % i for i in range(start, start + count)]


def _add_in_batches(diff, key, start, count, batch=50):
    for at in range(start, start + count, batch):
        diff.run("PFADD", key, *_elements(at, min(batch, start + count - at)))


def _same_value(diff, key):
    """GET and the encoding agree; the count (which caches it) agrees, and
    GET agrees again after the cache was written."""
    diff.run("GET", key)
    diff.run("PFDEBUG", "ENCODING", key)
    diff.run("PFCOUNT", key)
    diff.run("GET", key)
    diff.run("PFCOUNT", key)


@pytest.mark.parametrize("key", [A0, A1])
def test_sparse_and_dense_bytes_and_counts(diff, key):
    diff.run("PFADD", key)  # creates an empty sparse HLL, cache marked invalid
    diff.run("GET", key)
    diff.run("PFCOUNT", key)
    diff.run("GET", key)
    diff.run("PFADD", key, "a", "b", "c", "a")
    diff.run("PFADD", key, "a")  # nothing new: 0, the cache stays valid
    _same_value(diff, key)
    for total in (10, 100, 400, 1000, 3000, 20000):
        _add_in_batches(diff, key, 0, total, batch=500)
        _same_value(diff, key)
    diff.run("PFDEBUG", "GETREG", key)
    diff.run("STRLEN", key)
    diff.run("PFCOUNT", "missing")
    diff.run("PFADD", key, "", "\x00\xff", "x" * 1000)
    _same_value(diff, key)


def test_promotion_exactly_at_the_threshold(diff):
    """One element at a time under a small hll-sparse-max-bytes: the step that
    would pass it promotes to dense, on both servers at the same element."""
    try:
        for limit in ("40", "100"):
            diff.both("FLUSHALL")
            diff.run("CONFIG", "SET", "hll-sparse-max-bytes", limit)
            diff.run("CONFIG", "GET", "hll-sparse-max-bytes")
            for i in range(60):
                diff.run("PFADD", A0, "p%d" % i)
                diff.run("STRLEN", A0)
                diff.run("PFDEBUG", "ENCODING", A0)
            diff.run("GET", A0)
            diff.run("PFCOUNT", A0)
        diff.run("CONFIG", "SET", "hll-sparse-max-bytes", "0")
        diff.both("FLUSHALL")
        diff.run("PFADD", A1, "only")  # XZERO-VAL-XZERO grows the string: dense at once
        diff.run("PFDEBUG", "ENCODING", A1)
        diff.run("GET", A1)
    finally:
        diff.both("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_threshold_config(diff):
    try:
        for value in ("1kb", "0", "12345", "-1", "x", "9223372036854775807", "2gb"):
            diff.run("CONFIG", "SET", "hll-sparse-max-bytes", value)
            diff.run("CONFIG", "GET", "hll-sparse-max-bytes")
    finally:
        diff.both("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_todense_and_dense_sources(diff):
    diff.run("PFADD", A0, *_elements(0, 5))
    diff.run("PFDEBUG", "TODENSE", A0)
    diff.run("PFDEBUG", "TODENSE", A0)
    diff.run("PFDEBUG", "ENCODING", A0)
    _same_value(diff, A0)
    diff.run("PFADD", A1, "x")
    diff.run("PFMERGE", A1, A0)  # a dense source: the destination turns dense
    _same_value(diff, A1)


@pytest.mark.parametrize("register", [30, 40, 45, 50, 51, 63])
def test_registers_too_high_to_count(diff, register):
    """Every register this high makes Redis's estimate overflow its integer
    (llroundl gives LLONG_MIN); the cache it writes then reads as invalid."""
    packed = sum(register << (6 * i) for i in range(16384)).to_bytes(12288, "little")
    diff.both("SET", A0, HEADER_DENSE[:15] + b"\x80" + packed)
    diff.run("PFCOUNT", A0)
    diff.run("GET", A0)
    diff.run("PFCOUNT", A0)
    diff.run("PFCOUNT", A0, A1)
    diff.run("PFMERGE", A1, A0)
    diff.run("PFCOUNT", A1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_crafted_dense_registers(diff, seed):
    """Registers of any 6-bit value (a real HLL rarely goes past 20): counts,
    unions and merges into sparse and dense destinations."""
    import random

    rng = random.Random(seed)
    top = (63, 33, 51)[seed - 1]
    registers = [rng.randint(0, top) if rng.random() < 0.7 else 0 for _ in range(16384)]
    packed = sum(r << (6 * i) for i, r in enumerate(registers)).to_bytes(12288, "little")
    diff.both("SET", A0, HEADER_DENSE[:15] + b"\x80" + packed)
    diff.run("PFCOUNT", A0)
    diff.run("GET", A0)
    diff.run("PFADD", B0, *_elements(0, 100))
    diff.run("PFCOUNT", A0, B0)
    diff.run("PFMERGE", B0, A0)
    _same_value(diff, B0)
    diff.run("PFADD", A0, *_elements(0, 1000))
    _same_value(diff, A0)


def test_multi_key_count_and_merge_across_shards(diff):
    _add_in_batches(diff, A0, 0, 300)
    _add_in_batches(diff, B0, 200, 300)
    _add_in_batches(diff, A1, 100, 5000, batch=1000)
    diff.run("PFADD", B1, "lonely")
    for keys in ((A0, B0), (A0, A1), (A0, B0, A1, B1), (A0, "missing"), ("m1", "m2"),
                 (A1, A1), (B1, A0)):
        diff.run("PFCOUNT", *keys)
    for key in KEYS:  # a multi-key count caches nothing
        diff.run("GET", key)
    diff.run("PFMERGE", "{%s}dest" % A0, A0, B0)  # sparse + sparse on one shard
    _same_value(diff, "{%s}dest" % A0)
    diff.run("PFMERGE", B1, A0, B0)  # sparse into a sparse destination, other shard
    _same_value(diff, B1)
    diff.run("PFMERGE", B0, A1)  # dense source from the other shard
    _same_value(diff, B0)
    diff.run("PFMERGE", "new", A0, A1, B1)
    _same_value(diff, "new")
    diff.run("PFMERGE", "empty")  # no sources: an empty HLL
    diff.run("PFMERGE", "empty")
    _same_value(diff, "empty")
    diff.run("PFMERGE", A0)  # only the destination: its cache marked invalid
    _same_value(diff, A0)


def test_merge_many_sparse_registers(diff):
    try:
        diff.run("CONFIG", "SET", "hll-sparse-max-bytes", "20000")
        _add_in_batches(diff, A0, 0, 4000, batch=1000)
        _add_in_batches(diff, A1, 3000, 4000, batch=1000)
        diff.run("PFDEBUG", "ENCODING", A0)
        diff.run("PFMERGE", B0, A0, A1)
        _same_value(diff, B0)
    finally:
        diff.both("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_values_move_between_servers(diff):
    """An HLL made by one server is read, counted and extended by the other."""
    ref, ours = diff.ref, diff.ours
    for n in (3, 2000):
        diff.both("FLUSHALL")
        ref.call("PFADD", A0, *_elements(0, n))
        ours.call("PFADD", A1, *_elements(n, n))
        from_ref = ref.call("GET", A0)
        from_ours = ours.call("GET", A1)
        ours.call("SET", A0, from_ref)
        ref.call("SET", A1, from_ours)
        diff.run("PFCOUNT", A0)
        diff.run("PFCOUNT", A1)
        diff.run("PFCOUNT", A0, A1)
        diff.run("PFADD", A0, "more", "again")
        diff.run("PFMERGE", A1, A0)
        _same_value(diff, A1)
        diff.run("DUMP", A1)


def test_cache_and_ttl(diff):
    diff.run("PFADD", A0, "a", "b")
    diff.run("EXPIRE", A0, 1000)
    diff.run("PFCOUNT", A0)
    diff.run("TTL", A0)
    diff.run("PFADD", A0, "c")
    diff.run("TTL", A0)
    diff.run("PFMERGE", A0, A1)
    diff.run("TTL", A0)
    diff.run("PFDEBUG", "TODENSE", A0)
    diff.run("TTL", A0)
    diff.run("GET", A0)
    # A cached count is believed as it stands, whatever the registers say.
    value = diff.ref.call("GET", A0)
    forged = value[:8] + (12345).to_bytes(8, "little") + value[16:]
    diff.both("SET", A1, forged)
    diff.run("PFCOUNT", A1)
    diff.run("PFCOUNT", A1, A0)
    diff.run("PEXPIRE", B0, 1)
    diff.both("SET", B0, value, "PX", 1)
    import time
    time.sleep(0.01)
    diff.run("PFCOUNT", B0)
    diff.run("PFADD", B0, "fresh")
    diff.run("TTL", B0)


def test_wrong_types(diff):
    diff.run("RPUSH", A0, "x")
    diff.run("SET", A1, "not an hll at all")
    diff.run("SET", B0, "12345")
    diff.run("SET", B1, "HYLL")
    for key in (A0, A1, B0, B1):
        for command in (("PFADD", key, "x"), ("PFADD", key), ("PFCOUNT", key),
                        ("PFCOUNT", "missing", key), ("PFMERGE", key, "missing"),
                        ("PFMERGE", "dst", key), ("PFDEBUG", "GETREG", key),
                        ("PFDEBUG", "nosuch", key)):
            diff.run(*command)
    diff.run("EXISTS", "dst")
    diff.run("PFADD", "ok", "x")
    diff.run("PFCOUNT", "ok", A0)
    diff.run("PFMERGE", "ok", "missing", A1)


def test_arity_and_debug_errors(diff):
    for command in (("PFADD",), ("PFCOUNT",), ("PFMERGE",), ("PFDEBUG", "GETREG"),
                    ("PFDEBUG", "GETREG", A0, "extra"), ("PFSELFTEST", "x"),
                    ("PFDEBUG", "GETREG", "missing"), ("PFDEBUG", "ENCODING", "missing")):
        diff.run(*command)
    diff.run("PFADD", A0, "x")
    for sub in ("nosuch", "GETREG", "decode", "Encoding", "TODENSE", "DECODE", "ENCODING",
                "bad\x00sub"):
        diff.run("PFDEBUG", sub, A0)
    diff.run("GET", A0)


def _corruptions():
    sparse_ok = HEADER_SPARSE + b"\x7f\xff"
    dense_ok = HEADER_DENSE + bytes(12288)
    return {
        "truncated header": b"HYLL\x01" + bytes(5),
        "bad magic": b"HYLX\x01" + bytes(11) + b"\x7f\xff",
        "bad encoding byte": b"HYLL\x02" + bytes(11) + b"\x7f\xff",
        "encoding 0xff": b"HYLL\xff" + bytes(11) + b"\x7f\xff",
        "dense too short": dense_ok[:-1],
        "dense too long": dense_ok + b"\x00",
        "sparse without opcodes": HEADER_SPARSE,
        "sparse short by one register": HEADER_SPARSE + b"\x7f\xfe",
        "sparse over by a zero run": sparse_ok + b"\x00",
        "sparse over by a value": sparse_ok + b"\x80",
        "sparse over by values": sparse_ok + b"\x84\x88\x00",
        "sparse value past the end": HEADER_SPARSE + b"\x7f\xfd\x83",
        "sparse cut xzero": HEADER_SPARSE + b"\x7f\xfe\x00\x7f",
        "sparse xzero only": HEADER_SPARSE + b"\x7f",
        "sparse max xzeros": HEADER_SPARSE + b"\x7f\xff" * 3,
        "sparse invalid cache": sparse_ok[:15] + b"\x80" + sparse_ok[16:],
    }


@pytest.mark.parametrize("name", sorted(_corruptions()))
def test_corrupted_values_answer_errors_never_crash(diff, name):
    value = _corruptions()[name]
    for command in (("PFCOUNT", A0), ("PFCOUNT", A0, B0), ("PFCOUNT", B0, A0),
                    ("PFADD", A0), ("PFADD", A0, "a"), ("PFADD", A0, *_elements(0, 30)),
                    ("PFMERGE", B0, A0), ("PFMERGE", A0, B0), ("PFMERGE", B1, A0),
                    ("PFDEBUG", "ENCODING", A0), ("PFDEBUG", "DECODE", A0),
                    ("PFDEBUG", "TODENSE", A0), ("PFDEBUG", "GETREG", A0)):
        diff.both("DEL", A0, B0, B1)
        diff.both("SET", A0, value)
        diff.both("PFADD", B0, "b")
        diff.run(*command)
        if name in CUT_XZERO and command[0] == "PFADD" and len(command) > 2:
            continue  # Redis reads its hidden byte past the end: see CUT_XZERO
        for key in (A0, B0, B1):
            diff.run("GET", key)
    diff.run("PING")


# A sparse string ending in the first byte of an XZERO opcode: Redis reads
# the byte after the end of its string for the second (the terminating NUL,
# or after an update the byte its split wrote there, past the new length).
# Replies match; the bytes after PFADD of elements need not.
CUT_XZERO = {"sparse cut xzero", "sparse xzero only"}


def test_resp3_replies(diff):
    diff.both("HELLO", "3")
    diff.run("PFADD", A0, "a", "b")
    diff.run("PFCOUNT", A0)
    diff.run("PFCOUNT", A0, A1)
    diff.run("PFMERGE", A1, A0)
    diff.run("PFDEBUG", "ENCODING", A1)
    diff.run("PFDEBUG", "DECODE", A1)
    diff.run("PFDEBUG", "GETREG", A1)
    diff.run("PFCOUNT", "nokey")


def test_selftest_passes(diff):
    diff.run("PFSELFTEST")


def test_command_getkeys(diff):
    for args in (("PFADD", "a", "x"), ("PFCOUNT", "a", "b", "c"), ("PFMERGE", "d", "s1", "s2"),
                 ("PFDEBUG", "GETREG", "k")):
        diff.run("COMMAND", "GETKEYS", *args)
        diff.run("COMMAND", "GETKEYSANDFLAGS", *args)
    diff.run("COMMAND", "INFO", "pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest")


ELEMENT = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h", "", "\x00"]) | \
    st.integers(0, 5000).map(lambda i: "n%d" % i)
STEPS = st.one_of(
    st.tuples(st.just("PFADD"), st.lists(ELEMENT, max_size=6)),
    st.tuples(st.just("PFADDMANY"), st.integers(0, 100_000), st.integers(1, 400)),
    st.tuples(st.just("PFCOUNT"), st.lists(st.sampled_from(KEYS), max_size=3)),
    st.tuples(st.just("PFMERGE"), st.lists(st.sampled_from(KEYS), max_size=3)),
    st.tuples(st.just("TODENSE")),
    st.tuples(st.just("GET")),
    st.tuples(st.just("SET"), st.sampled_from(sorted(set(_corruptions()) - CUT_XZERO))),
)


def _request(key, step):
    name = step[0]
    if name == "PFADD":
        return ["PFADD", key, *step[1]]
    if name == "PFADDMANY":
        return ["PFADD", key, *_elements(step[1], step[2])]
    if name in ("PFCOUNT", "PFMERGE"):
        return [name, key, *step[1]]
    if name == "TODENSE":
        return ["PFDEBUG", "TODENSE", key]
    if name == "SET":
        return ["SET", key, _corruptions()[step[1]]]
    return ["GET", key]


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(st.sampled_from(KEYS), STEPS), max_size=25),
       limit=st.sampled_from(["3000", "200", "60"]))
def test_random_walk_matches_redis(diff, steps, limit):
    diff.both("FLUSHALL")
    diff.both("CONFIG", "SET", "hll-sparse-max-bytes", limit)
    try:
        for key, step in steps:
            diff.run(*_request(key, step))
        for key in KEYS:
            diff.run("GET", key)
            diff.run("PFCOUNT", key)
            diff.run("DUMP", key)
    finally:
        diff.both("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
