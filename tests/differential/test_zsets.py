"""Sorted-set commands against a real redis-server: same replies, errors included.

Keys ``A0``/``B0``/``C0`` live on shard 0 and ``A1``/``B1`` on shard 1 of the
2-shard damselfly, so the set operations and ZRANGESTORE across them run
through the coordinator while redis-server sees one keyspace.  RESP3 runs
compare what hiredis decodes (doubles, nested pairs).
"""

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.differential.test_keyspace import _raw_reply  # one reply's exact bytes
from tests.helpers import names_on_shard

A0, B0, C0 = names_on_shard(0, 3, "z")
A1, B1 = names_on_shard(1, 2, "z")

SCORES = ["0", "1", "-1", "1.5", "0.1", "1e300", "-1e-300", "inf", "-inf", "+inf", "3",
          "10", "2.5e-5", "-0", "7"]


def _fill(diff, key, n=10):
    for i in range(n):
        diff.run("ZADD", key, str(i % 4 + i / 7), "m%d" % i)


# -- ZADD ---------------------------------------------------------------------


def test_zadd_options(diff):
    assert diff.run("ZADD", A0, "1", "a", "2", "b") == 2
    diff.run("ZADD", A0, "NX", "5", "a", "3", "c")
    diff.run("ZADD", A0, "XX", "5", "a", "4", "d")
    diff.run("ZADD", A0, "XX", "CH", "6", "a", "4", "d")
    diff.run("ZADD", A0, "GT", "CH", "1", "a", "9", "b")
    diff.run("ZADD", A0, "LT", "CH", "1", "a", "9", "b")
    diff.run("ZADD", A0, "GT", "XX", "CH", "100", "a", "1", "zz")
    diff.run("ZADD", A0, "CH", "100", "a", "1", "b", "2", "new")
    diff.run("ZADD", A0, "INCR", "2.5", "a")
    diff.run("ZADD", A0, "INCR", "NX", "2.5", "a")
    diff.run("ZADD", A0, "INCR", "XX", "2.5", "missing")
    diff.run("ZADD", A0, "INCR", "GT", "-1", "a")
    diff.run("ZADD", A0, "INCR", "LT", "-1", "a")
    diff.run("ZADD", A0, "INCR", "CH", "1", "fresh")
    diff.run("ZRANGE", A0, "0", "-1", "WITHSCORES")
    diff.run("ZADD", B0, "XX", "1", "a")
    diff.run("ZADD", B0, "XX", "INCR", "1", "a")
    diff.run("EXISTS", B0)
    diff.run("ZADD", B0, "GT", "1", "a")
    diff.run("ZCARD", B0)


@pytest.mark.parametrize("args", [
    ["1"], ["NX"], ["NX", "XX", "1", "a"], ["GT", "LT", "1", "a"], ["NX", "GT", "1", "a"],
    ["NX", "LT", "1", "a"], ["INCR", "1", "a", "2", "b"], ["nan", "a"], ["x", "a"],
    ["1", "a", "x", "b"], ["1", "a", "2"], ["", "a"], [" 1", "a"], ["1 ", "a"],
    ["XX", "NX", "x", "a"], ["INCR", "x", "a", "1", "b"], ["1e400", "a"], ["0x10", "a"],
])
def test_zadd_errors(diff, args):
    diff.run("ZADD", A0, *args)
    diff.run("EXISTS", A0)


def test_zadd_scores_print_as_redis(diff):
    for i, score in enumerate(SCORES):
        diff.run("ZADD", A0, score, "m%d" % i)
        diff.run("ZSCORE", A0, "m%d" % i)
    diff.run("ZRANGE", A0, "0", "-1", "WITHSCORES")
    diff.run("ZINCRBY", A0, "0.2", "m4")
    diff.run("ZINCRBY", A0, "-inf", "m7")  # inf + -inf: NaN, refused
    diff.run("ZINCRBY", A0, "inf", "m7")
    diff.run("ZINCRBY", A0, "x", "m7")
    diff.run("ZINCRBY", B0, "3", "new")
    diff.run("ZINCRBY", B0, "1e308", "new")
    diff.run("ZINCRBY", B0, "1e308", "new")


def test_wrongtype_everywhere(diff):
    diff.run("SET", A0, "x")
    for args in (["ZADD", A0, "1", "a"], ["ZINCRBY", A0, "1", "a"], ["ZREM", A0, "a"],
                 ["ZCARD", A0], ["ZCOUNT", A0, "0", "1"], ["ZLEXCOUNT", A0, "-", "+"],
                 ["ZSCORE", A0, "a"], ["ZMSCORE", A0, "a"], ["ZRANK", A0, "a"],
                 ["ZREVRANK", A0, "a"], ["ZRANGE", A0, "0", "1"], ["ZPOPMIN", A0],
                 ["ZPOPMAX", A0, "0"], ["ZRANDMEMBER", A0], ["ZRANDMEMBER", A0, "0"],
                 ["ZSCAN", A0, "0"], ["ZREMRANGEBYRANK", A0, "0", "1"],
                 ["ZRANGESTORE", B0, A0, "0", "1"], ["ZUNION", "1", A0],
                 ["ZMPOP", "1", A0, "MIN"], ["ZINTERCARD", "1", A0],
                 ["ZRANGEBYSCORE", A0, "x", "1"], ["ZREMRANGEBYSCORE", A0, "x", "1"]):
        diff.run(*args)


# -- reads ----------------------------------------------------------------------


def test_single_member_reads(diff):
    _fill(diff, A0)
    for member in ("m0", "m5", "m9", "nope"):
        diff.run("ZSCORE", A0, member)
        diff.run("ZRANK", A0, member)
        diff.run("ZREVRANK", A0, member)
    diff.run("ZMSCORE", A0, "m1", "nope", "m2")
    diff.run("ZMSCORE", "missing", "m1", "m2")
    diff.run("ZSCORE", "missing", "a")
    diff.run("ZRANK", "missing", "a")
    diff.run("ZCARD", A0)
    diff.run("ZCARD", "missing")


@pytest.mark.parametrize("low,high", [
    ("-inf", "+inf"), ("1", "2"), ("(1", "2"), ("1", "(2"), ("(1", "(1"), ("2", "1"),
    ("(inf", "+inf"), ("-inf", "(-inf"), ("inf", "inf"), ("x", "1"), ("1", "(x"),
    ("", "5"), (" 1", "3"), ("(-inf", "(+inf"), ("1.5", "1e300"), ("nan", "1"),
])
def test_score_ranges(diff, low, high):
    _fill(diff, A0, 12)
    diff.run("ZADD", A0, "inf", "top", "-inf", "bottom")
    diff.run("ZCOUNT", A0, low, high)
    diff.run("ZRANGEBYSCORE", A0, low, high)
    diff.run("ZRANGEBYSCORE", A0, low, high, "WITHSCORES", "LIMIT", "1", "3")
    diff.run("ZREVRANGEBYSCORE", A0, high, low, "WITHSCORES")
    diff.run("ZREVRANGEBYSCORE", A0, high, low, "LIMIT", "2", "-1")
    diff.run("ZRANGE", A0, low, high, "BYSCORE", "LIMIT", "0", "2")
    diff.run("ZRANGE", A0, high, low, "BYSCORE", "REV", "WITHSCORES")
    diff.run("ZREMRANGEBYSCORE", A0, low, high)
    diff.run("ZRANGE", A0, "0", "-1", "WITHSCORES")


@pytest.mark.parametrize("low,high", [
    ("-", "+"), ("[b", "[d"), ("(b", "(d"), ("[b", "(b"), ("[d", "[b"), ("+", "-"),
    ("-", "[c"), ("(c", "+"), ("b", "c"), ("[", "[\xff"), ("-", "-"), ("+", "+"),
    ("[a\x00", "+"), ("(", "+"),
])
def test_lex_ranges(diff, low, high):
    for member in ("a", "b", "bb", "c", "d", "e", "", "a\x00b", "\xff"):
        diff.run("ZADD", A0, "0", member)
    diff.run("ZLEXCOUNT", A0, low, high)
    diff.run("ZRANGEBYLEX", A0, low, high)
    diff.run("ZRANGEBYLEX", A0, low, high, "LIMIT", "1", "2")
    diff.run("ZREVRANGEBYLEX", A0, high, low)
    diff.run("ZREVRANGEBYLEX", A0, high, low, "LIMIT", "0", "3")
    diff.run("ZRANGE", A0, low, high, "BYLEX")
    diff.run("ZRANGE", A0, high, low, "BYLEX", "REV", "LIMIT", "1", "1")
    diff.run("ZREMRANGEBYLEX", A0, low, high)
    diff.run("ZRANGE", A0, "0", "-1")


@pytest.mark.parametrize("start,stop", [
    ("0", "-1"), ("0", "0"), ("-1", "-1"), ("-100", "100"), ("5", "2"), ("20", "30"),
    ("2", "-3"), ("-3", "2"), ("x", "1"), ("1", "1.5"), ("9223372036854775807", "-1"),
    ("-9223372036854775808", "0"),
])
def test_rank_ranges(diff, start, stop):
    _fill(diff, A0)
    diff.run("ZRANGE", A0, start, stop)
    diff.run("ZRANGE", A0, start, stop, "WITHSCORES")
    diff.run("ZRANGE", A0, start, stop, "REV", "WITHSCORES")
    diff.run("ZREVRANGE", A0, start, stop)
    diff.run("ZREVRANGE", A0, start, stop, "WITHSCORES")
    diff.run("ZREMRANGEBYRANK", A0, start, stop)
    diff.run("ZRANGE", A0, "0", "-1")
    diff.run("EXISTS", A0)


@pytest.mark.parametrize("options", [
    ["LIMIT", "0", "1"], ["LIMIT", "0", "-1"], ["BYLEX", "WITHSCORES"], ["REV", "REV"],
    ["BYSCORE", "BYLEX"], ["BYSCORE", "LIMIT", "1"], ["BYSCORE", "LIMIT", "x", "1"],
    ["BYSCORE", "LIMIT", "-1", "2"], ["BYSCORE", "LIMIT", "1", "0"],
    ["BYSCORE", "LIMIT", "100", "2"], ["BYSCORE", "LIMIT", "1", "-5"], ["nonsense"],
    ["WITHSCORES", "WITHSCORES"], ["withscores", "rev", "byscore"],
])
def test_zrange_option_parsing(diff, options):
    _fill(diff, A0)
    diff.run("ZRANGE", A0, "0", "10", *options)
    diff.run("ZRANGE", "missing", "0", "10", *options)
    diff.run("ZRANGESTORE", B0, A0, "0", "10", *options)
    diff.run("ZRANGE", B0, "0", "-1", "WITHSCORES")


def test_old_range_commands_refuse_new_options(diff):
    _fill(diff, A0)
    diff.run("ZRANGEBYSCORE", A0, "0", "5", "REV")
    diff.run("ZRANGEBYSCORE", A0, "0", "5", "BYSCORE")
    diff.run("ZREVRANGE", A0, "0", "5", "REV")
    diff.run("ZRANGEBYLEX", A0, "-", "+", "WITHSCORES")
    diff.run("ZREVRANGEBYSCORE", A0, "5", "0", "LIMIT", "1")


def test_zrangestore(diff):
    _fill(diff, A0)
    assert diff.run("ZRANGESTORE", B0, A0, "0", "3") == 4
    diff.run("ZRANGE", B0, "0", "-1", "WITHSCORES")
    diff.run("ZRANGESTORE", A1, A0, "(1", "5", "BYSCORE", "REV", "LIMIT", "1", "2")
    diff.run("ZRANGE", A1, "0", "-1", "WITHSCORES")
    diff.run("ZRANGESTORE", B0, A0, "5", "1")  # empty result: destination deleted
    diff.run("EXISTS", B0)
    diff.run("ZRANGESTORE", B0, "missing", "0", "-1")
    diff.run("SET", B1, "string")
    diff.run("ZRANGESTORE", B1, A0, "0", "1")  # any destination type is replaced
    diff.run("TYPE", B1)
    diff.run("ZRANGESTORE", B0, A0, "0")


# -- removals and pops ------------------------------------------------------------


def test_zrem_deletes_empty_key(diff):
    diff.run("ZADD", A0, "1", "a", "2", "b")
    diff.run("ZREM", A0, "a", "a", "nope")
    diff.run("ZREM", A0, "b")
    diff.run("EXISTS", A0)
    diff.run("ZREM", A0, "b")


def test_pops(diff):
    _fill(diff, A0)
    diff.run("ZPOPMIN", A0)
    diff.run("ZPOPMAX", A0)
    diff.run("ZPOPMIN", A0, "2")
    diff.run("ZPOPMAX", A0, "3")
    diff.run("ZPOPMIN", A0, "0")
    for bad in ("-1", "x", "1.5"):
        diff.run("ZPOPMIN", A0, bad)
    diff.run("ZPOPMIN", A0, "1", "2")
    diff.run("ZPOPMAX", A0, "100")
    diff.run("EXISTS", A0)
    diff.run("ZPOPMIN", A0)
    diff.run("ZPOPMIN", A0, "3")


def test_zmpop(diff):
    _fill(diff, A0, 4)
    _fill(diff, B0, 3)
    diff.run("ZMPOP", "2", "missing", A0, "MIN")
    diff.run("ZMPOP", "2", "missing", A0, "MAX", "COUNT", "2")
    diff.run("ZMPOP", "2", A0, B0, "min", "count", "10")
    diff.run("ZMPOP", "2", A0, B0, "MAX", "COUNT", "10")
    diff.run("ZMPOP", "2", A0, B0, "MAX")
    _fill(diff, A1, 3)  # across shards: the coordinator runs it
    diff.run("ZMPOP", "3", A0, B0, A1, "MIN", "COUNT", "2")
    diff.run("ZRANGE", A1, "0", "-1", "WITHSCORES")
    diff.run("ZMPOP", "2", A1, A0, "MAX", "COUNT", "5")
    diff.run("EXISTS", A1)
    diff.run("ZMPOP", "2", A1, A0, "MAX", "COUNT", "5")
    for bad in (["0", A0, "MIN"], ["-1", A0, "MIN"], ["x", A0, "MIN"], ["2", A0, "MIN"],
                ["1", A0, "MID"], ["1", A0, "MIN", "COUNT"], ["1", A0, "MIN", "COUNT", "0"],
                ["1", A0, "MIN", "COUNT", "1", "COUNT", "2"], ["1", A0, "MIN", "x"]):
        diff.run("ZMPOP", *bad)


def test_pop_replies_in_resp3(diff):
    diff.both("HELLO", "3")
    _fill(diff, A0)
    diff.run("ZPOPMIN", A0)
    diff.run("ZPOPMIN", A0, "2")
    diff.run("ZPOPMAX", A0, "1")
    diff.run("ZPOPMIN", "missing")
    diff.run("ZMPOP", "1", A0, "MIN")
    diff.run("ZMPOP", "1", "missing", "MIN")
    diff.run("ZRANGE", A0, "0", "-1", "WITHSCORES")
    diff.run("ZRANGEBYSCORE", A0, "-inf", "inf", "WITHSCORES")
    diff.run("ZSCORE", A0, "m5")
    diff.run("ZMSCORE", A0, "m5", "none")
    diff.run("ZINCRBY", A0, "1", "m5")
    diff.run("ZADD", A0, "INCR", "1", "m5")
    diff.run("ZUNION", "1", A0, "WITHSCORES")
    diff.run("ZRANDMEMBER", A0, "100", "WITHSCORES")


# -- ZRANDMEMBER / ZSCAN -------------------------------------------------------------


def test_zrandmember(diff):
    _fill(diff, A0, 5)
    members = set(diff.ref.call("ZRANGE", A0, "0", "-1"))
    assert diff.ours.call("ZRANDMEMBER", A0) in members
    diff.run("ZRANDMEMBER", "missing")
    diff.run("ZRANDMEMBER", "missing", "5")
    diff.run("ZRANDMEMBER", A0, "0")
    diff.run("ZRANDMEMBER", A0, "5", "WITHSCORES")  # the whole set, in order
    diff.run("ZRANDMEMBER", A0, "50")
    picked = diff.ours.call("ZRANDMEMBER", A0, "3")
    assert len(picked) == len(set(picked)) == 3 and set(picked) <= members
    repeated = diff.ours.call("ZRANDMEMBER", A0, "-20")
    assert len(repeated) == 20 and set(repeated) <= members
    pairs = diff.ours.call("ZRANDMEMBER", A0, "-4", "WITHSCORES")
    assert len(pairs) == 8
    for member, score in zip(pairs[::2], pairs[1::2]):
        assert diff.ref.call("ZSCORE", A0, member) == score
    for bad in (["x"], ["-9223372036854775808"], ["9223372036854775807", "WITHSCORES"],
                ["-4611686018427387904", "WITHSCORES"], ["1", "WITHSCORE"],
                ["1", "WITHSCORES", "x"]):
        diff.run("ZRANDMEMBER", A0, *bad)


def test_zscan(diff):
    _fill(diff, A0)
    diff.run("ZSCAN", A0, "0")
    diff.run("ZSCAN", A0, "0", "MATCH", "m1*")
    diff.run("ZSCAN", A0, "0", "COUNT", "2")
    diff.run("ZSCAN", "missing", "0")
    diff.run("ZSCAN", A0, "x")
    diff.run("ZSCAN", A0, "0", "COUNT", "0")
    diff.run("ZSCAN", A0, "0", "MATCH")


def test_zscan_of_a_big_set_returns_every_member(diff):
    members = {b"m%d" % i for i in range(300)}
    diff.ours.call("ZADD", A0, *[x for m in members for x in (b"1", m)])
    cursor, seen = b"0", set()
    while True:
        cursor, page = diff.ours.call("ZSCAN", A0, cursor, "COUNT", "50")
        seen.update(page[::2])
        if cursor == b"0":
            break
    assert seen == members


# -- set operations --------------------------------------------------------------------


def _sources(diff):
    diff.run("ZADD", A0, "1", "a", "2", "b", "3", "c", "inf", "i")
    diff.run("ZADD", B0, "10", "b", "20", "c", "30", "d", "-inf", "i")
    diff.run("ZADD", A1, "5", "c", "6", "e", "inf", "i")
    diff.run("ZADD", B1, "1", "a", "1", "c", "1", "z")


@pytest.mark.parametrize("options", [
    [], ["WITHSCORES"], ["WEIGHTS", "2", "0.5", "-1"], ["AGGREGATE", "MIN", "WITHSCORES"],
    ["AGGREGATE", "MAX", "WITHSCORES"], ["WEIGHTS", "0", "1", "1", "WITHSCORES"],
    ["WEIGHTS", "1", "x", "1"], ["WEIGHTS", "1", "1"], ["AGGREGATE", "AVG"],
    ["AGGREGATE"], ["WITHSCORES", "WEIGHTS", "1", "2", "3", "AGGREGATE", "sum"],
    ["LIMIT", "1"],
])
def test_union_inter_diff(diff, options):
    _sources(diff)
    for op in ("ZUNION", "ZINTER", "ZDIFF"):
        diff.run(op, "3", A0, B0, A1, *options)
        diff.run(op, "2", A0, "missing", *options)
    for op in ("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"):
        opts = [o for o in options if o != "WITHSCORES"]
        diff.run(op, C0, "3", A0, B0, A1, *opts)
        diff.run("ZRANGE", C0, "0", "-1", "WITHSCORES")
        diff.run(op, "dst", "3", A0, B0, A1, *options)


@pytest.mark.parametrize("options", [
    [], ["WEIGHTS", "2", "-0.5", "3"], ["AGGREGATE", "MIN"], ["AGGREGATE", "MAX"],
    ["WEIGHTS", "inf", "1", "-inf", "AGGREGATE", "SUM"],
])
def test_set_operations_take_plain_sets(diff, options):
    """A plain set is a sorted set whose scores are all 1 (WEIGHTS apply), in
    each of its encodings: a small intset, a big intset gone hashtable, a
    hashtable of strings; on both shards, so the coordinator moves them."""
    diff.run("SADD", A0, "1", "2", "3", "-9223372036854775808")
    diff.run("SADD", B0, *[str(i) for i in range(0, 1200, 2)])  # past 512: hashtable
    diff.run("SADD", A1, "a", "2", "b", "1")
    diff.run("ZADD", B1, "5", "2", "7", "a", "-inf", "1", "0.5", "z")
    for key in (A0, B0, A1):
        diff.run("OBJECT", "ENCODING", key)
    for keys in ([A0, B0, A1], [A1, B1, A0], [B0, A0, B1]):
        for op in ("ZUNION", "ZINTER", "ZDIFF"):
            opts = [] if op == "ZDIFF" else options
            diff.run(op, "3", *keys, *opts, "WITHSCORES")
            for dst in (C0, B1):
                diff.run(op + "STORE", dst, "3", *keys, *opts)
                diff.run("ZRANGE", dst, "0", "-1", "WITHSCORES")
                diff.run("OBJECT", "ENCODING", dst)
                diff.run("TYPE", dst)
        diff.run("ZINTERCARD", "3", *keys)
        diff.run("ZINTERCARD", "2", *keys[:2], "LIMIT", "1")


def test_set_operations_errors(diff):
    _sources(diff)
    for args in (["ZUNION", "0", A0], ["ZUNION", "-1", A0], ["ZUNION", "x", A0],
                 ["ZUNION", "3", A0, B0], ["ZINTER", "2", A0, B1, "WITHSCORES"],
                 ["ZUNION", "2", A0, B1, "WITHSCORES"], ["ZDIFF", "2", A0, B1],
                 ["ZDIFF", "1", A0, "WEIGHTS", "1"], ["ZUNIONSTORE", C0, "0", A0],
                 ["ZINTERSTORE", C0, "2", A0, "missing"], ["EXISTS", C0],
                 ["ZINTERCARD", "3", A0, B0, A1], ["ZINTERCARD", "2", A0, B0, "LIMIT", "1"],
                 ["ZINTERCARD", "2", A0, B0, "LIMIT", "0"], ["ZINTERCARD", "2", A0, B0,
                                                               "LIMIT", "-1"],
                 ["ZINTERCARD", "0", A0], ["ZINTERCARD", "2", A0, B0, "WITHSCORES"],
                 ["ZINTERCARD", "2", A0, B0, "LIMIT"], ["ZINTERCARD", "1", B1]):
        diff.run(*args)
    diff.run("SET", C0, "x")
    diff.run("ZUNION", "2", A0, C0)
    diff.run("ZUNIONSTORE", C0, "1", A0)  # replaces the string
    diff.run("TYPE", C0)


# -- encodings -------------------------------------------------------------------------


def test_encoding_thresholds(diff):
    for i in range(128):
        diff.run("ZADD", A0, str(i), "m%d" % i)
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("ZADD", A0, "1", "one-more")
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("ZREMRANGEBYRANK", A0, "0", "-3")  # one way: stays a skiplist
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("ZADD", B0, "1", "x" * 64)
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("ZADD", B0, "1", "y" * 65)
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("ZADD", C0, "1", "y" * 65)  # created with a long first member
    diff.run("OBJECT", "ENCODING", C0)
    diff.run("ZINCRBY", A1, "1", "y" * 65)
    diff.run("OBJECT", "ENCODING", A1)
    diff.run("ZUNIONSTORE", B1, "1", A0)  # a small result is stored compact
    diff.run("OBJECT", "ENCODING", B1)
    diff.run("ZRANGESTORE", B1, C0, "0", "-1")
    diff.run("OBJECT", "ENCODING", B1)


def test_encoding_follows_config(diff):
    try:
        diff.run("CONFIG", "SET", "zset-max-listpack-entries", "2")
        diff.run("ZADD", A0, "1", "a", "2", "b")
        diff.run("OBJECT", "ENCODING", A0)
        diff.run("ZADD", A0, "3", "c")
        diff.run("OBJECT", "ENCODING", A0)
        diff.run("CONFIG", "SET", "zset-max-listpack-entries", "0")
        diff.run("ZADD", B0, "1", "a")
        diff.run("OBJECT", "ENCODING", B0)
    finally:
        diff.both("CONFIG", "SET", "zset-max-listpack-entries", "128")


def test_expiry_is_honoured(diff):
    diff.run("ZADD", A0, "1", "a")
    diff.run("PEXPIRE", A0, "1")
    import time

    time.sleep(0.01)
    diff.run("ZCARD", A0)
    diff.run("ZADD", A0, "2", "b")
    diff.run("ZRANGE", A0, "0", "-1", "WITHSCORES")
    diff.run("TTL", A0)


@pytest.mark.parametrize("name", ["zadd", "zrange", "zunionstore", "zunion", "zmpop",
                                  "zrangestore", "zintercard", "zpopmin", "zscan"])
def test_command_info_matches_redis(diff, name):
    diff.run("COMMAND", "INFO", name)


# -- random walk --------------------------------------------------------------------------

_KEYS = [A0, B0, A1]
_MEMBERS = ["a", "b", "c", "d", "", "e\x00", "ff"]
_SCORE_ARGS = ["0", "1", "-1", "2.5", "inf", "-inf", "1e-3", "(1", "(2.5", "x"]
_LEX_ARGS = ["-", "+", "[a", "(b", "[c", "(ff", "[", "x"]


def _command(rnd: random.Random):
    key = rnd.choice(_KEYS)
    member = rnd.choice(_MEMBERS)
    score = rnd.choice(_SCORE_ARGS[:7])
    shape = rnd.randrange(16)
    if shape == 0:
        options = rnd.sample(["NX", "XX", "GT", "LT", "CH", "INCR"], rnd.randrange(3))
        return ["ZADD", key, *options, score, member]
    if shape == 1:
        return ["ZADD", key, score, member, rnd.choice(_SCORE_ARGS[:7]), rnd.choice(_MEMBERS)]
    if shape == 2:
        return ["ZINCRBY", key, score, member]
    if shape == 3:
        return ["ZREM", key, member, rnd.choice(_MEMBERS)]
    if shape == 4:
        return ["ZRANGE", key, str(rnd.randint(-5, 5)), str(rnd.randint(-5, 5)),
                *rnd.sample(["REV", "WITHSCORES"], rnd.randrange(3))]
    if shape == 5:
        return ["ZRANGEBYSCORE", key, rnd.choice(_SCORE_ARGS), rnd.choice(_SCORE_ARGS),
                "WITHSCORES", "LIMIT", str(rnd.randint(-1, 3)), str(rnd.randint(-1, 3))]
    if shape == 6:
        return ["ZRANGEBYLEX", key, rnd.choice(_LEX_ARGS), rnd.choice(_LEX_ARGS)]
    if shape == 7:
        return [rnd.choice(["ZRANK", "ZREVRANK", "ZSCORE"]), key, member]
    if shape == 8:
        return [rnd.choice(["ZPOPMIN", "ZPOPMAX"]), key, str(rnd.randint(0, 3))]
    if shape == 9:
        return ["ZCOUNT", key, rnd.choice(_SCORE_ARGS), rnd.choice(_SCORE_ARGS)]
    if shape == 10:
        return ["ZREMRANGEBYSCORE", key, rnd.choice(_SCORE_ARGS), rnd.choice(_SCORE_ARGS)]
    if shape == 11:
        return ["ZREMRANGEBYRANK", key, str(rnd.randint(-3, 3)), str(rnd.randint(-3, 3))]
    if shape == 12:
        return [rnd.choice(["ZUNION", "ZINTER", "ZDIFF"]), "2", key, rnd.choice(_KEYS),
                "WITHSCORES"]
    if shape == 13:
        return [rnd.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), rnd.choice(_KEYS),
                "2", key, rnd.choice(_KEYS)]
    if shape == 14:
        return ["ZMPOP", "2", key, rnd.choice(_KEYS), rnd.choice(["MIN", "MAX"])]
    return ["ZRANGESTORE", rnd.choice(_KEYS), key, "0", str(rnd.randint(-1, 4))]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_random_walk_matches_redis(diff, seed):
    diff.both("FLUSHALL")
    rnd = random.Random(seed)
    for _ in range(40):
        diff.run(*_command(rnd))
    for key in _KEYS:
        diff.run("ZRANGE", key, "0", "-1", "WITHSCORES")
        diff.run("OBJECT", "ENCODING", key)
        diff.run("DUMP", key)  # the same bytes: the same order, encoding and scores


# -- DUMP / RESTORE -----------------------------------------------------------------------


@pytest.mark.parametrize("members", [
    [("1", "a"), ("2.5", "b"), ("-0", "c"), ("inf", "d"), ("-inf", "e"), ("0.1", "f"),
     ("1e20", "g"), ("3", "123"), ("4", "-77777"), ("5", "x" * 64)],
    [(str(i / 3), "m%d" % i) for i in range(200)],
    [("1", "y" * 100)],
])
def test_dump_is_byte_compatible(diff, members):
    args = [x for pair in members for x in pair]
    diff.run("ZADD", A0, *args)
    payload = diff.run("DUMP", A0)
    diff.run("RESTORE", B0, "0", payload)
    diff.run("ZRANGE", B0, "0", "-1", "WITHSCORES")
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("RESTORE", A1, "0", payload)
    diff.run("ZRANGE", A1, "0", "-1", "WITHSCORES")


def test_big_sets(diff):
    """Past the listpack threshold: ranks, ranges and pops over a skiplist."""
    args = []
    for i in range(300):
        args += [str((i * 37) % 101 / 4), "m%03d" % i]
    diff.run("ZADD", A0, *args)
    diff.run("ZADD", A0, "-0", "negzero", "0", "zero")
    diff.run("ZSCORE", A0, "negzero")
    diff.run("ZRANK", A0, "m150")
    diff.run("ZREVRANK", A0, "m150")
    diff.run("ZRANGE", A0, "100", "120", "WITHSCORES")
    diff.run("ZRANGEBYSCORE", A0, "(3", "7.5", "LIMIT", "5", "10")
    diff.run("ZREVRANGEBYSCORE", A0, "(20", "-inf", "WITHSCORES", "LIMIT", "3", "4")
    diff.run("ZCOUNT", A0, "2", "(9")
    diff.run("ZRANDMEMBER", A0, "1000", "WITHSCORES")  # the whole set, highest first
    diff.run("ZPOPMAX", A0, "5")
    diff.run("ZREMRANGEBYRANK", A0, "10", "40")
    diff.run("ZREMRANGEBYSCORE", A0, "10", "(12")
    diff.run("ZCARD", A0)
    diff.run("DUMP", A0)
    diff.run("ZUNIONSTORE", B0, "2", A0, A1, "WEIGHTS", "2", "1")
    diff.run("OBJECT", "ENCODING", B0)
    diff.run("DUMP", B0)


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_bytes(diff, proto):
    diff.both("HELLO", proto)
    diff.run("ZADD", A0, "0.1", "a", "-0", "b", "inf", "c", "2", "d", "1e-7", "e")
    diff.run("ZADD", B0, *[x for i in range(200) for x in ("-0" if i == 0 else str(i / 3),
                                                            "m%d" % i)])
    for args in (["ZSCORE", A0, "a"], ["ZSCORE", A0, "b"], ["ZSCORE", B0, "m0"],
                 ["ZMSCORE", A0, "c", "x", "e"], ["ZRANGE", A0, "0", "-1", "WITHSCORES"],
                 ["ZPOPMIN", A0], ["ZPOPMAX", A0, "2"], ["ZMPOP", "1", A0, "MIN"],
                 ["ZMPOP", "1", "missing", "MIN"], ["ZINCRBY", A0, "1.5", "new"],
                 ["ZADD", A0, "XX", "INCR", "1", "missing"],
                 ["ZRANGE", B0, "0", "2", "WITHSCORES"], ["ZRANDMEMBER", "missing", "3"],
                 ["ZRANDMEMBER", "missing"]):
        expected, actual = _raw_reply(diff.ref, *args), _raw_reply(diff.ours, *args)
        assert actual == expected, "%r: redis %r, damselfly %r" % (args, expected, actual)


def test_a_zadd_that_changes_nothing_leaves_watch_alone(diff):
    diff.run("ZADD", A0, "1", "a")
    for client in (diff.ref, diff.ours):
        client.call("WATCH", A0)
    diff.run("ZADD", A0, "NX", "5", "a")
    diff.run("ZADD", A0, "1", "a")
    diff.run("ZADD", A0, "GT", "0", "a")
    diff.run("MULTI")
    diff.run("ZCARD", A0)
    diff.run("EXEC")
    for client in (diff.ref, diff.ours):
        client.call("WATCH", A0)
    diff.run("ZADD", A0, "2", "a")
    diff.run("MULTI")
    diff.run("ZCARD", A0)
    diff.run("EXEC")
