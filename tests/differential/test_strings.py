"""String commands against a real redis-server: same replies, errors included.

Keys named ``A0``/``B0`` live on shard 0 of the 2-shard damselfly and
``A1``/``B1`` on shard 1, so MGET/MSET/MSETNX/LCS cross shards here while
redis-server sees one keyspace.  Only strings exist so far, so WRONGTYPE
cannot be produced yet; it is tested where a family adds another type.
"""

import time

import pytest

from tests.helpers import names_on_shard

A0, B0, C0 = names_on_shard(0, 3, "s")
A1, B1, C1 = names_on_shard(1, 3, "s")

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _pttl_close(diff, key, slack=2000):
    """TTLs tick between the two servers: compare within ``slack`` ms."""
    ref, ours = diff.both("PTTL", key)
    assert (ref < 0) == (ours < 0) and abs(ref - ours) <= slack, (ref, ours)


# -- GET / SET -------------------------------------------------------------


def test_get_set_basics(diff):
    diff.run("GET", A0)
    diff.run("SET", A0, "v")
    diff.run("GET", A0)
    diff.run("SET", A0, "")
    diff.run("GET", A0)
    diff.run("SET", A0, b"\x00\xff\r\nbinary")
    diff.run("GET", A0)
    diff.run("SET", A0, "x" * 100000)
    diff.run("GET", A0)
    diff.run("GET")
    diff.run("GET", A0, A1)
    diff.run("SET", A0)


@pytest.mark.parametrize("options", [
    ("NX",), ("XX",), ("GET",), ("NX", "GET"), ("XX", "GET"), ("GET", "NX"),
    ("nx", "nx"), ("XX", "xx"), ("GET", "GET"), ("KEEPTTL",), ("KEEPTTL", "GET", "XX"),
    ("EX", "100"), ("PX", "100000"), ("EX", "100", "EX", "200"),
])
def test_set_options_on_missing_and_existing(diff, options):
    diff.run("SET", A0, "new", *options)
    diff.run("GET", A0)
    diff.run("SET", A0, "old")
    diff.run("SET", A0, "new", *options)
    diff.run("GET", A0)
    diff.run("EXISTS", A0)


@pytest.mark.parametrize("options", [
    ("NX", "XX"), ("XX", "NX"), ("EX",), ("PX",), ("EXAT",), ("PXAT",),
    ("EX", "10", "PX", "100"), ("PX", "100", "EX", "10"), ("EX", "10", "KEEPTTL"),
    ("KEEPTTL", "EX", "10"), ("KEEPTTL", "PXAT", "10"), ("EXAT", "10", "PXAT", "10"),
    ("PERSIST",), ("FOO",), ("NXX",), ("EX", "10", "GET", "PX"), ("E",), ("GETT",),
])
def test_set_syntax_errors(diff, options):
    diff.run("SET", A0, "v", *options)
    diff.run("EXISTS", A0)


@pytest.mark.parametrize("option,value", [
    ("EX", "0"), ("EX", "-1"), ("PX", "0"), ("PX", "-5"), ("EXAT", "0"), ("PXAT", "-1"),
    ("EX", "abc"), ("EX", "1.5"), ("EX", " 1"), ("EX", "01"), ("EX", str(INT64_MAX)),
    ("EX", str(INT64_MAX // 1000)), ("EX", str(INT64_MAX // 1000 + 1)),
    ("PX", str(INT64_MAX)), ("EXAT", str(INT64_MAX // 1000 + 1)), ("PXAT", str(INT64_MAX)),
    ("EX", "99999999999999999999"),
])
def test_set_expire_errors(diff, option, value):
    diff.run("SET", A0, "v", option, value)
    diff.run("EXISTS", A0)
    diff.run("SETEX", A0, value, "v") if option == "EX" else None
    diff.run("PSETEX", A0, value, "v") if option == "PX" else None


def test_set_expiry_options(diff):
    now = int(time.time())
    diff.run("SET", A0, "v", "EX", "100")
    _pttl_close(diff, A0)
    diff.run("SET", A0, "v2", "KEEPTTL")
    _pttl_close(diff, A0)
    diff.run("SET", A0, "v3")  # a plain SET drops the TTL
    diff.run("TTL", A0)
    diff.run("SET", A0, "v", "px", "50000")
    _pttl_close(diff, A0)
    diff.run("SET", A0, "v", "EXAT", str(now + 1000))
    _pttl_close(diff, A0)
    diff.run("SET", A0, "v", "PXAT", str((now + 1000) * 1000))
    _pttl_close(diff, A0)
    diff.run("SET", A0, "v", "EXAT", "1")  # already past: the key is gone
    diff.run("GET", A0)
    diff.run("EXISTS", A0)
    diff.run("SET", A0, "v", "PXAT", "1", "GET")
    diff.run("SET", A0, "v", "EX", "100", "GET")
    diff.run("SET", A0, "w", "XX", "PX", "100000", "GET")
    _pttl_close(diff, A0)


def test_set_get_returns_old_value_and_nx_get(diff):
    diff.run("SET", A0, "a", "GET")
    diff.run("SET", A0, "b", "GET")
    diff.run("SET", A0, "c", "NX", "GET")  # not set, old value returned
    diff.run("GET", A0)
    diff.run("SET", A1, "c", "XX", "GET")  # not set, nil
    diff.run("EXISTS", A1)


def test_setnx_setex_psetex(diff):
    diff.run("SETNX", A0, "1")
    diff.run("SETNX", A0, "2")
    diff.run("GET", A0)
    diff.run("SETEX", A0, "100", "x")
    _pttl_close(diff, A0)
    diff.run("PSETEX", A1, "100000", "y")
    _pttl_close(diff, A1)
    diff.run("GET", A1)
    diff.run("SETNX", A0)
    diff.run("SETEX", A0, "10")
    diff.run("PSETEX", A0, "10", "v", "x")
    diff.run("SETEX", A0, "0", "v")
    diff.run("SETEX", A0, "x", "v")
    diff.run("PSETEX", A0, "-1", "v")


def test_getex(diff):
    diff.run("GETEX", A0)
    diff.run("GETEX", A0, "EX", "-1")  # missing key: nil before the expire check
    diff.run("GETEX", A0, "FOO")  # syntax first
    diff.run("SET", A0, "v")
    diff.run("GETEX", A0)
    diff.run("TTL", A0)
    diff.run("GETEX", A0, "EX", "100")
    _pttl_close(diff, A0)
    diff.run("GETEX", A0, "PERSIST")
    diff.run("TTL", A0)
    diff.run("GETEX", A0, "PX", "100000")
    _pttl_close(diff, A0)
    diff.run("GETEX", A0, "EXAT", str(int(time.time()) + 500))
    _pttl_close(diff, A0)
    diff.run("GETEX", A0, "PXAT", str(int(time.time() * 1000) + 500000))
    _pttl_close(diff, A0)
    for bad in (("EX", "0"), ("EX", "abc"), ("PX", "-1"), ("EX", str(INT64_MAX)),
                ("PX", str(INT64_MAX)), ("NX",), ("XX",), ("GET",), ("KEEPTTL",),
                ("EX",), ("PERSIST", "EX", "10"), ("EX", "10", "PERSIST"),
                ("EX", "10", "PX", "10"), ("PERSIST", "PERSIST")):
        diff.run("GETEX", A0, *bad)
    diff.run("GETEX", A0, "EXAT", "1")  # in the past: the value, then deleted
    diff.run("EXISTS", A0)
    diff.run("SET", A0, "v")
    diff.run("GETEX", A0, "PXAT", "1")
    diff.run("EXISTS", A0)
    diff.run("GETEX")


def test_getdel_getset(diff):
    diff.run("GETDEL", A0)
    diff.run("SET", A0, "v", "EX", "100")
    diff.run("GETSET", A0, "w")  # drops the TTL
    diff.run("TTL", A0)
    diff.run("GETDEL", A0)
    diff.run("EXISTS", A0)
    diff.run("GETSET", A1, "fresh")
    diff.run("GET", A1)
    diff.run("GETDEL", A1, A0)
    diff.run("GETSET", A1)


# -- MGET / MSET / MSETNX --------------------------------------------------


def test_mget_mset_across_shards(diff):
    diff.run("MSET", A0, "1", A1, "2", B0, "3", B1, "4")
    diff.run("MGET", A0, A1, "missing", B0, B1, A0)
    diff.run("MSET", A0, "x", A0, "y")  # the last one wins
    diff.run("GET", A0)
    diff.run("MSET", A0, "1", A1)  # odd: the arity error, nothing written
    diff.run("MSET", A0, "1", A1, "2", B1)
    diff.run("MGET", A0, A1, B1)
    diff.run("MSET", A0)
    diff.run("MGET")


def test_mset_clears_ttls(diff):
    diff.run("SET", A0, "v", "EX", "100")
    diff.run("SET", A1, "v", "EX", "100")
    diff.run("MSET", A0, "w", A1, "w")
    diff.run("TTL", A0)
    diff.run("TTL", A1)


@pytest.mark.parametrize("keys", [(A0, B0), (A0, A1), (A1, B0, C1, C0)])
def test_msetnx_all_or_none(diff, keys):
    pairs = []
    for i, key in enumerate(keys):
        pairs += [key, "v%d" % i]
    diff.run("MSETNX", *pairs)
    diff.run("MGET", *keys)
    diff.run("MSETNX", *(p + "x" if i % 2 else p for i, p in enumerate(pairs)))
    diff.run("MGET", *keys)
    diff.run("DEL", keys[0])
    diff.run("MSETNX", keys[0], "again", *pairs[2:])  # one still exists: none set
    diff.run("MGET", *keys)
    diff.run("DEL", *keys[1:])
    diff.run("MSETNX", *pairs)
    diff.run("MGET", *keys)


def test_msetnx_errors(diff):
    diff.run("MSETNX", A0, "1", A1)
    diff.run("MSETNX", A0, "1", B0)
    diff.run("MSETNX", A0)
    diff.run("EXISTS", A0, A1, B0)
    diff.run("MSETNX", A0, "1", A0, "2")
    diff.run("GET", A0)


# -- APPEND / STRLEN / GETRANGE / SETRANGE ---------------------------------


def test_append_strlen(diff):
    diff.run("STRLEN", A0)
    diff.run("APPEND", A0, "")  # creates an empty string
    diff.run("EXISTS", A0)
    diff.run("STRLEN", A0)
    diff.run("APPEND", A0, "hello")
    diff.run("APPEND", A0, " world")
    diff.run("GET", A0)
    diff.run("STRLEN", A0)
    diff.run("SET", A1, "12", "EX", "100")
    diff.run("APPEND", A1, "34")  # keeps the TTL
    _pttl_close(diff, A1)
    diff.run("GET", A1)
    diff.run("INCR", A1)
    diff.run("APPEND", A0)
    diff.run("STRLEN", A0, A1)


@pytest.mark.parametrize("start,end", [
    (0, -1), (0, 0), (0, 3), (3, 1), (-3, -1), (-1, -3), (-100, 100), (-100, -50),
    (5, 100), (100, 200), (-1, 0), (0, -100), (2, -2), (INT64_MIN, INT64_MAX),
    (INT64_MAX, INT64_MAX), (-11, -11), (10, 10), (11, 11),
])
def test_getrange_substr(diff, start, end):
    diff.run("SET", A0, "Hello World")
    diff.run("GETRANGE", A0, start, end)
    diff.run("SUBSTR", A0, start, end)
    diff.run("GETRANGE", "missing", start, end)
    diff.run("SET", A1, "")
    diff.run("GETRANGE", A1, start, end)
    diff.run("SET", A1, "-12345")
    diff.run("GETRANGE", A1, start, end)


def test_getrange_errors(diff):
    diff.run("GETRANGE", A0, "a", "1")
    diff.run("GETRANGE", A0, "0", "1.5")
    diff.run("GETRANGE", A0, "0", "99999999999999999999")
    diff.run("GETRANGE", A0, "0")
    diff.run("SUBSTR", A0, "0", "1", "2")


def test_setrange(diff):
    diff.run("SETRANGE", A0, "0", "")  # nothing on a missing key: 0, no key
    diff.run("EXISTS", A0)
    diff.run("SETRANGE", A0, "5", "abc")  # zero padded
    diff.run("GET", A0)
    diff.run("SETRANGE", A0, "0", "XY")
    diff.run("SETRANGE", A0, "7", "ZZZZ")
    diff.run("GET", A0)
    diff.run("SETRANGE", A0, "100", "")  # nothing to write: the length
    diff.run("STRLEN", A0)
    diff.run("SETRANGE", A0, "20", "!")
    diff.run("GET", A0)
    diff.run("SET", A1, "v", "EX", "100")
    diff.run("SETRANGE", A1, "1", "w")
    _pttl_close(diff, A1)
    diff.run("SETRANGE", A1, "-1", "x")
    diff.run("SETRANGE", A1, "x", "x")
    diff.run("SETRANGE", A1, str(512 * 1024 * 1024 - 1), "x")
    diff.run("SETRANGE", A1, str(512 * 1024 * 1024), "x")
    diff.run("SETRANGE", "missing", str(512 * 1024 * 1024), "x")
    diff.run("SETRANGE", "missing", str(INT64_MAX), "x")
    diff.run("SETRANGE", "missing", str(512 * 1024 * 1024), "")
    diff.run("SETRANGE", A1, "-1", "")
    diff.run("SETRANGE", A1, "1")


# -- counters --------------------------------------------------------------


def test_incr_decr(diff):
    diff.run("INCR", A0)
    diff.run("INCR", A0)
    diff.run("DECR", A0)
    diff.run("DECR", A1)
    diff.run("INCRBY", A0, "100")
    diff.run("INCRBY", A0, "-300")
    diff.run("DECRBY", A0, "-50")
    diff.run("DECRBY", A0, "7")
    diff.run("GET", A0)
    diff.run("SET", A0, "-0")
    diff.run("INCR", A0)
    for bad in ("", " 1", "1 ", "+1", "01", "1.0", "abc", "99999999999999999999", "0x1"):
        diff.run("SET", A0, bad)
        diff.run("INCR", A0)
        diff.run("INCRBY", A1, bad)
        diff.run("DECRBY", A1, bad)
    diff.run("INCR", A0, "1")
    diff.run("INCRBY", A0)


def test_incr_overflow_limits(diff):
    diff.run("SET", A0, str(INT64_MAX))
    diff.run("INCR", A0)
    diff.run("INCRBY", A0, "0")
    diff.run("DECR", A0)
    diff.run("SET", A0, str(INT64_MIN))
    diff.run("DECR", A0)
    diff.run("INCRBY", A0, str(INT64_MAX))
    diff.run("SET", A0, "1")
    diff.run("INCRBY", A0, str(INT64_MAX))
    diff.run("DECRBY", A0, str(INT64_MIN))  # negating LLONG_MIN
    diff.run("DECRBY", A0, str(INT64_MAX))
    diff.run("DECRBY", A0, "2")
    diff.run("GET", A0)
    diff.run("INCRBY", A1, str(INT64_MIN))
    diff.run("INCRBY", A1, "-1")


def test_incr_keeps_ttl(diff):
    diff.run("SET", A0, "10", "EX", "100")
    diff.run("INCR", A0)
    diff.run("INCRBYFLOAT", A0, "1.5")
    _pttl_close(diff, A0)
    diff.run("GET", A0)


@pytest.mark.parametrize("start,increment", [
    ("10.50", "0.1"), ("0", "0.1"), ("0", "0.2"), ("0.1", "0.2"), ("5.0e3", "2.0e2"),
    ("5.0e3", "-5000"), ("1", "-1.5"), ("-0.5", "0.5"), ("3", "1e-20"), ("0", "1e-17"),
    ("0", "-1e-18"), ("1", "0x10"), ("0x1p-2", "0"), ("0X.8", "1"), ("1.", "1"),
    (".5", "1"), ("1e308", "1e308"), ("1", "1e400"), ("1e4000", "1"),
    ("123456789012345678", "1"), ("0", "3.0000000000000000001"), ("17", "+1"),
    ("0", "1234567.891"), ("0", "-0.0"), ("-1", "0"), ("0", "1e-4940"),
])
def test_incrbyfloat_formatting(diff, start, increment):
    diff.run("SET", A0, start)
    diff.run("INCRBYFLOAT", A0, increment)
    diff.run("GET", A0)


@pytest.mark.parametrize("value", [
    "", " 1", "1 ", "abc", "1e", "nan", "NaN", "-nan", "1,5", "1_0", "0x", "0x1p", "1e5000",
    "1e-5000", "inf", "-inf", "Infinity", "+INF", "1.5.5", "--1", "e5", ".", "\t1",
])
def test_incrbyfloat_errors(diff, value):
    diff.run("INCRBYFLOAT", A0, value)
    diff.run("SET", A0, value)
    diff.run("INCRBYFLOAT", A0, "1")
    diff.run("SET", A0, "1")
    diff.run("INCRBYFLOAT", A0, value)


def test_incrbyfloat_sequence(diff):
    for step in ("0.1", "0.1", "0.1", "-0.3", "1e10", "0.000001", "-1e10", "3.14159"):
        diff.run("INCRBYFLOAT", A0, step)
    diff.run("INCRBYFLOAT", A0)
    diff.run("INCRBYFLOAT", A0, "1", "2")


# -- LCS -------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [
    ("ohmytext", "mynewtext"), ("", ""), ("abc", ""), ("abc", "abc"), ("abc", "xyz"),
    ("aaaa", "aa"), ("ABCBDAB", "BDCABA"), ("xaxbxcx", "abc"), ("abcdefgh", "hgfedcba"),
    ("1234567890" * 3, "0987654321123"), ("mississippi", "missouri"),
])
@pytest.mark.parametrize("keys", [(A0, B0), (A0, A1)])
def test_lcs(diff, a, b, keys):
    k1, k2 = keys
    diff.run("MSET", k1, a, k2, b)
    diff.run("LCS", k1, k2)
    diff.run("LCS", k2, k1)
    diff.run("LCS", k1, k2, "LEN")
    diff.run("LCS", k1, k2, "IDX")
    diff.run("LCS", k2, k1, "IDX", "WITHMATCHLEN")
    diff.run("LCS", k1, k2, "IDX", "MINMATCHLEN", "2", "WITHMATCHLEN")
    diff.run("LCS", k1, k2, "IDX", "MINMATCHLEN", "-5")


def test_lcs_missing_and_errors(diff):
    diff.run("LCS", A0, A1)
    diff.run("LCS", A0, A1, "IDX")
    diff.run("SET", A0, "abc")
    diff.run("LCS", A0, "missing", "LEN")
    diff.run("LCS", A0, A0)
    for options in (("LEN", "IDX"), ("FOO",), ("MINMATCHLEN",), ("MINMATCHLEN", "x"),
                    ("IDX", "MINMATCHLEN", "1.5"), ("idx", "len"), ("withmatchlen",)):
        diff.run("LCS", A0, A1, *options)
    diff.run("LCS", A0)


def test_lcs_larger_strings(diff):
    import random

    rng = random.Random(7)
    a = "".join(rng.choice("ACGT") for _ in range(600))
    b = "".join(rng.choice("ACGT") for _ in range(500))
    diff.run("MSET", A0, a, A1, b)
    diff.run("LCS", A0, A1)
    diff.run("LCS", A0, A1, "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    diff.run("LCS", A1, A0, "LEN")


def test_lcs_memory_limit(diff):
    diff.run("CONFIG", "SET", "proto-max-bulk-len", str(1024 * 1024))
    try:
        diff.run("SET", A0, "a" * 600)
        diff.run("SET", A1, "b" * 600)
        diff.run("LCS", A0, A1)
        diff.run("SET", A1, "b" * 300)
        diff.run("LCS", A0, A1, "LEN")
    finally:
        diff.run("CONFIG", "SET", "proto-max-bulk-len", str(512 * 1024 * 1024))


# -- the table -------------------------------------------------------------

STRING_COMMANDS = ("get set setnx setex psetex getex getdel getset mget mset msetnx "
                   "append strlen incr decr incrby decrby incrbyfloat getrange substr "
                   "setrange lcs").split()


@pytest.mark.parametrize("name", STRING_COMMANDS)
def test_command_info_matches_redis(diff, name):
    """Arity, flags, key positions, ACL categories, tips and key specs."""
    diff.run("COMMAND", "INFO", name)


@pytest.mark.parametrize("args", [("MSET", "a", "1", "b", "2"), ("MSETNX", "a", "1"),
                                  ("LCS", "a", "b"), ("SET", "a", "b", "GET"),
                                  ("GETEX", "a", "PERSIST")])
def test_command_getkeys(diff, args):
    diff.run("COMMAND", "GETKEYS", *args)
    diff.run("COMMAND", "GETKEYSANDFLAGS", *args)


def test_resp3_replies(diff):
    """LCS IDX is a map in RESP3; the rest keep their RESP2 shapes."""
    diff.both("HELLO", "3")
    diff.run("MSET", A0, "ohmytext", A1, "mynewtext")
    diff.run("LCS", A0, A1, "IDX", "WITHMATCHLEN")
    diff.run("LCS", A0, A1, "LEN")
    diff.run("INCRBYFLOAT", B0, "1.5")
    diff.run("GET", "missing")
    diff.run("SET", A0, "v", "NX")
    diff.run("MGET", A0, "missing")
    diff.run("GETEX", "missing")


def test_random_mix_of_string_and_bitmap_commands(diff):
    """A seeded random walk over the family, edge values included, with keys
    on both shards (cross-shard MSETNX/BITOP/LCS among them)."""
    import random

    rng = random.Random(2024)
    keys = [A0, A1, B0, B1]
    numbers = ["0", "1", "-1", "7", "-7", "100", str(INT64_MAX), str(INT64_MIN), "x", "",
               "3.5", "1e3", "-0", "63", "64", "#2", "8"]

    def value():
        return rng.choice(["", "a", "hello", "12", "-5", "3.14", "\x00\xff", "ohmytext",
                           str(INT64_MAX - 1), "1e10", rng.choice(numbers)])

    def some(options, most):
        return rng.sample(options, rng.randrange(most + 1))

    makers = [
        lambda k: ["SET", k, value()] + some(["NX", "XX", "GET", "KEEPTTL"], 2),
        lambda k: ["GET", k],
        lambda k: ["APPEND", k, value()],
        lambda k: ["INCR", k],
        lambda k: ["INCRBY", k, rng.choice(numbers)],
        lambda k: ["DECRBY", k, rng.choice(numbers)],
        lambda k: ["INCRBYFLOAT", k, rng.choice(numbers + ["0.1", "-0.25", "1e-3"])],
        lambda k: ["GETRANGE", k, rng.choice(numbers), rng.choice(numbers)],
        lambda k: ["SETRANGE", k, rng.choice(numbers[:6]), value()],
        lambda k: ["STRLEN", k],
        lambda k: ["GETDEL", k],
        lambda k: ["GETSET", k, value()],
        lambda k: ["GETEX", k] + some(["PERSIST", "EX", "100", "PX"], 2),
        lambda k: ["MSETNX", k, value(), rng.choice(keys), value()],
        lambda k: ["SETBIT", k, rng.choice(numbers), rng.choice(["0", "1", "2"])],
        lambda k: ["GETBIT", k, rng.choice(numbers)],
        lambda k: ["BITCOUNT", k] + rng.sample(numbers, 2) + some(["BIT", "BYTE"], 1),
        lambda k: ["BITPOS", k, rng.choice("01")] + some(numbers, 2) + some(["BIT", "BYTE"], 1),
        lambda k: ["BITOP", rng.choice(["AND", "OR", "XOR", "NOT"]), k] +
                  rng.sample(keys, rng.randrange(1, 4)),
        lambda k: ["BITFIELD", k] + [rng.choice(x) for x in (
            ["GET", "SET", "INCRBY", "OVERFLOW"], ["u8", "i5", "i64", "u63", "SAT", "FAIL"],
            numbers, numbers)],
        lambda k: ["LCS", k, rng.choice(keys)] + some(["LEN", "IDX", "WITHMATCHLEN"], 2),
    ]
    for _ in range(1500):
        diff.run(*rng.choice(makers)(rng.choice(keys)))
