"""Sans-IO pieces of the string family: long double arithmetic and the
bit-parallel LCS table, checked against plain definitions."""

import random
from fractions import Fraction

import pytest

from cluster.args import parse_long_double, round_long_double
from cluster.errors import CommandError
from shardnode.strings import LcsTable, format_long_double


def _naive_lcs_table(a: bytes, b: bytes):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table


@pytest.mark.parametrize("seed", range(20))
def test_lcs_table_matches_the_dynamic_programme(seed):
    rng = random.Random(seed)
    a = bytes(rng.choice(b"abcd") for _ in range(rng.randrange(0, 40)))
    b = bytes(rng.choice(b"abcd") for _ in range(rng.randrange(0, 40)))
    naive = _naive_lcs_table(a, b)
    table = LcsTable(a, b)
    assert table.length == naive[len(a)][len(b)]
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            assert table.cell(i, j) == naive[i][j]


def test_long_double_rounds_to_64_bit_significands():
    assert round_long_double(Fraction(2**64 + 1)) == 2**64  # tie: to even
    assert round_long_double(Fraction(2**64 + 2)) == 2**64 + 2  # representable
    assert round_long_double(Fraction(2**64 + 3)) == 2**64 + 4
    assert round_long_double(Fraction(2**64 - 1)) == 2**64 - 1  # fits exactly
    assert round_long_double(Fraction(1, 3)) * 3 != 1
    assert round_long_double(Fraction(2**16384)) == float("inf")
    assert round_long_double(Fraction(-(2**16384))) == float("-inf")
    assert round_long_double(Fraction(1, 2**16446)) == 0  # below half the least subnormal


@pytest.mark.parametrize("text,expected", [
    (b"0.1", b"0.1"), (b"10.5", b"10.5"), (b"-0", b"0"), (b"1e-18", b"0"),
    (b"-1e-18", b"0"), (b"5e-18", b"0"), (b"1.5e-17", b"0.00000000000000002"), (b"0x10", b"16"),
    (b"1e20", b"100000000000000000000"), (b"3.0000000000000000001", b"3"),
    (b"1.5E+2", b"150"), (b"+.5", b"0.5"), (b"7.", b"7"),
])
def test_parse_and_format(text, expected):
    assert format_long_double(parse_long_double(text)) == expected


@pytest.mark.parametrize("text", [b"", b" 1", b"1 ", b"nan", b"1e", b"0x", b"1_0", b"1e5000",
                                  b"1e-5000", b"1" * 5120, b".", b"e1", b"0x1p"])
def test_parse_refuses_what_strtold_and_redis_refuse(text):
    with pytest.raises(CommandError, match="^ERR value is not a valid float$"):
        parse_long_double(text)


def test_parse_infinities_and_long_inputs():
    assert parse_long_double(b"inf") == float("inf")
    assert parse_long_double(b"-Infinity") == float("-inf")
    assert parse_long_double(b"0" * 5000 + b"1") == 1  # beyond int()'s digit guard
    assert parse_long_double(b"1" + b"0" * 4500) > 10**4499


# -- WRONGTYPE ---------------------------------------------------------------
# No other value type exists yet to make a differential test of it, so the
# handlers run here on a Database holding a list value.

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture
def conn():
    from types import SimpleNamespace

    from shardnode.db import Keyspace

    keyspace = Keyspace(dbnum=1, clock=lambda: 1_000_000)
    db = keyspace.dbs[0]
    db.set(b"list", [b"item"])
    db.set(b"str", b"abc")
    config = SimpleNamespace(proto_max_bulk_len=512 * 1024 * 1024)
    return SimpleNamespace(db=db, server=SimpleNamespace(keyspace=keyspace, config=config))


def _run(conn, *args):
    from shardnode.registry import HANDLERS, load_families

    load_families()
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return HANDLERS[args[0].decode().lower()](conn, args)


@pytest.mark.parametrize("args", [
    ("GET", "list"), ("SET", "list", "v", "GET"), ("SET", "list", "v", "NX", "GET"),
    ("GETEX", "list"), ("GETEX", "list", "EX", "10"), ("GETDEL", "list"),
    ("GETSET", "list", "v"), ("APPEND", "list", "v"), ("STRLEN", "list"),
    ("GETRANGE", "list", "0", "1"), ("SUBSTR", "list", "0", "1"),
    ("SETRANGE", "list", "0", "v"), ("SETRANGE", "list", "0", ""), ("INCR", "list"),
    ("DECR", "list"), ("INCRBY", "list", "1"), ("DECRBY", "list", "1"),
    ("INCRBYFLOAT", "list", "1"), ("SETBIT", "list", "0", "1"), ("GETBIT", "list", "0"),
    ("BITCOUNT", "list"), ("BITCOUNT", "list", "x"), ("BITPOS", "list", "1"),
    ("BITOP", "AND", "dest", "str", "list"), ("BITFIELD", "list", "GET", "u8", "0"),
    ("BITFIELD", "list", "SET", "u8", "0", "1"), ("BITFIELD_RO", "list", "GET", "u8", "0"),
])
def test_wrongtype(conn, args):
    with pytest.raises(CommandError, match="^WRONGTYPE "):
        _run(conn, *args)
    assert conn.db.get(b"list") == [b"item"]
    assert conn.db.get(b"dest") is None


@pytest.mark.parametrize("args,error", [
    # Redis checks these arguments before it looks the key up.
    (("SETRANGE", "list", "-1", "v"), "ERR offset is out of range"),
    (("INCRBY", "list", "x"), "ERR value is not an integer or out of range"),
    (("GETRANGE", "list", "x", "1"), "ERR value is not an integer or out of range"),
    (("SETBIT", "list", "0", "2"), "ERR bit is not an integer or out of range"),
    (("GETBIT", "list", "-1"), "ERR bit offset is not an integer or out of range"),
    (("BITPOS", "list", "2"), "ERR The bit argument must be 1 or 0."),
    (("BITFIELD", "list", "GET", "u64", "0"), "ERR Invalid bitfield type. Use something "
     "like i16 u8. Note that u64 is not supported but i64 is."),
    (("SET", "list", "v", "EX", "0", "GET"), "ERR invalid expire time in 'set' command"),
    (("LCS", "list", "str"), "ERR The specified keys must contain string values"),
    (("LCS", "str", "list", "FOO"), "ERR The specified keys must contain string values"),
])
def test_errors_that_come_before_the_type_check(conn, args, error):
    with pytest.raises(CommandError) as exc:
        _run(conn, *args)
    assert exc.value.args[0] == error


def test_commands_that_overwrite_or_skip_other_types(conn):
    assert _run(conn, "MGET", "list", "str") == [None, b"abc"]
    assert _run(conn, "MSETNX", "list", "v", "new", "v") == 0
    assert _run(conn, "SETNX", "list", "v") == 0
    assert _run(conn, "SET", "list", "v") == "OK"
    assert conn.db.get(b"list") == b"v"
    conn.db.set(b"list", [b"item"])
    assert _run(conn, "MSET", "list", "w") == "OK"
    assert conn.db.get(b"list") == b"w"
    conn.db.set(b"list", [b"item"])
    assert _run(conn, "BITOP", "NOT", "list", "str") == 3
    assert conn.db.get(b"list") == bytes(255 - c for c in b"abc")
