"""RESTORE gives a container the encoding Redis 7.0's loader gives it under
the thresholds configured now (rdbLoadObject reads the live configuration),
while a value moved between shards (RENAME, SMOVE, ZUNIONSTORE ... across
shards through the coordinator) keeps its encoding, as the very object does
inside one redis-server.

Keys ``A0``/``B0`` live on shard 0, ``A1`` on shard 1 of the 2-shard damselfly.
"""

import contextlib

import pytest

from tests.helpers import names_on_shard

A0, B0 = names_on_shard(0, 2, "load")
(A1,) = names_on_shard(1, 1, "load")

DEFAULTS = {"hash-max-listpack-entries": "512", "hash-max-listpack-value": "64",
            "zset-max-listpack-entries": "128", "zset-max-listpack-value": "64",
            "set-max-intset-entries": "512"}


@contextlib.contextmanager
def configured(diff, **settings):
    """CONFIG SET on both servers for the block, the defaults back after."""
    try:
        for name, value in settings.items():
            diff.run("CONFIG", "SET", name.replace("_", "-"), str(value))
        yield
    finally:
        for name, value in DEFAULTS.items():
            diff.run("CONFIG", "SET", name, value)


def _hash(diff, n, length=1):
    diff.run("HSET", A0, *[x for i in range(n) for x in ("f%d" % i, "v" * length)])


def _zset(diff, n, length=1):
    diff.run("ZADD", A0, *[x for i in range(n) for x in (str(i), "%s%d" % ("m" * length, i))])


def _set(diff, members):
    diff.run("SADD", A0, *members)


# (what to build under the defaults, the settings for the RESTORE)
CASES = {
    "hash listpack, too many": (lambda d: _hash(d, 3), {"hash_max_listpack_entries": 2}),
    "hash listpack, long value": (lambda d: _hash(d, 1, 10), {"hash_max_listpack_value": 5}),
    "hash listpack, no entries": (lambda d: _hash(d, 1), {"hash_max_listpack_entries": 0}),
    "hash hashtable, fits now": (lambda d: _hash(d, 600), {"hash_max_listpack_entries": 1000}),
    "hash hashtable, long fits": (lambda d: _hash(d, 2, 100), {"hash_max_listpack_value": 200}),
    "hash hashtable, exactly": (lambda d: _hash(d, 600), {"hash_max_listpack_entries": 600}),
    "zset listpack, too many": (lambda d: _zset(d, 3), {"zset_max_listpack_entries": 2}),
    "zset listpack, long member": (lambda d: _zset(d, 2, 10), {"zset_max_listpack_value": 5}),
    "zset listpack, no entries": (lambda d: _zset(d, 1), {"zset_max_listpack_entries": 0}),
    "zset skiplist, fits now": (lambda d: _zset(d, 200), {"zset_max_listpack_entries": 300}),
    "zset skiplist, long fits": (lambda d: _zset(d, 2, 100), {"zset_max_listpack_value": 200}),
    "zset skiplist, too long": (lambda d: _zset(d, 200), {"zset_max_listpack_entries": 300,
                                                          "zset_max_listpack_value": 1}),
    "set intset, too many": (lambda d: _set(d, [str(i) for i in range(10)]),
                             {"set_max_intset_entries": 5}),
    "set hashtable, fits now": (lambda d: _set(d, [str(i) for i in range(600)]),
                                {"set_max_intset_entries": 1000}),
    "set hashtable, exactly": (lambda d: _set(d, [str(i) for i in range(600)]),
                               {"set_max_intset_entries": 600}),
    "set hashtable of strings": (lambda d: _set(d, [str(i) for i in range(600)] + ["a"]),
                                 {"set_max_intset_entries": 1000}),
    "set intset, none allowed": (lambda d: _set(d, ["1"]), {"set_max_intset_entries": 0}),
}


@pytest.mark.parametrize("case", CASES)
def test_restore_encodes_by_the_current_thresholds(diff, case):
    build, settings = CASES[case]
    build(diff)
    diff.run("OBJECT", "ENCODING", A0)
    ref_payload = diff.ref.call("DUMP", A0)  # both servers restore Redis's bytes
    with configured(diff, **settings):
        for key in (B0, A1):
            diff.run("RESTORE", key, "0", ref_payload)
            if diff.run("OBJECT", "ENCODING", key) in (b"listpack", b"intset"):
                diff.run("DUMP", key)  # a hashtable's order is its own
        # a RESTORE ... REPLACE over an existing value, through the same reader
        diff.run("RESTORE", B0, "0", ref_payload, "REPLACE")
        diff.run("OBJECT", "ENCODING", B0)


def test_moves_between_shards_keep_the_encoding(diff):
    """Values whose encoding a reload would change: a 3-member listpack zset
    after the limit drops to 2, a hashtable set of integers (it once held a
    string), a hashtable hash whose long field is gone.  Moved across shards
    they keep it, as inside one redis-server."""
    _zset(diff, 3)
    diff.run("SADD", B0, "1", "2", "x")
    diff.run("SREM", B0, "x")
    diff.run("HSET", "h", "f", "v" * 100, "g", "1")
    diff.run("HDEL", "h", "f")
    with configured(diff, zset_max_listpack_entries=2):
        moves = [("RENAME", A0, A1), ("RENAME", A1, A0), ("RENAME", B0, A1),
                 ("SMOVE", A1, B0, "1"), ("RENAME", "h", A1), ("RENAME", A1, B0)]
        for move in moves:
            diff.run(*move)
            for key in (A0, B0, A1):
                diff.run("OBJECT", "ENCODING", key)
        diff.run("ZUNIONSTORE", A1, "1", A0)  # a new result: encoded by the settings
        diff.run("OBJECT", "ENCODING", A1)
        diff.run("ZRANGESTORE", A1, A0, "0", "0")
        diff.run("OBJECT", "ENCODING", A1)
