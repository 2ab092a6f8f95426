"""Bitmap commands against a real redis-server: same replies, errors included.

BITOP's destination and sources are spread over both shards of the 2-shard
damselfly (``A0``/``B0`` on shard 0, ``A1``/``B1`` on shard 1), so the
coordinator runs it while redis-server sees one keyspace.
"""

import random

import pytest

from tests.helpers import names_on_shard

A0, B0, C0 = names_on_shard(0, 3, "b")
A1, B1, C1 = names_on_shard(1, 3, "b")

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_BULK = 512 * 1024 * 1024


# -- SETBIT / GETBIT -------------------------------------------------------


def test_setbit_getbit(diff):
    assert diff.run("GETBIT", A0, "0") == 0
    assert diff.run("SETBIT", A0, "7", "1") == 0
    assert diff.run("GET", A0) == b"\x01"
    assert diff.run("SETBIT", A0, "7", "1") == 1
    assert diff.run("SETBIT", A0, "7", "0") == 1
    diff.run("SETBIT", A0, "0", "1")
    diff.run("SETBIT", A0, "100", "1")  # grows with zero bytes
    diff.run("GET", A0)
    diff.run("STRLEN", A0)
    for offset in ("0", "1", "7", "100", "101", "1000", str(MAX_BULK * 8 - 1)):
        diff.run("GETBIT", A0, offset)
    diff.run("SETBIT", A1, "3", "0")  # a clear bit still creates the key
    diff.run("GET", A1)
    diff.run("SET", A1, "12")  # "1" is 0x31
    diff.run("GETBIT", A1, "2")
    diff.run("GETBIT", A1, "3")
    diff.run("SETBIT", A1, "6", "1")
    diff.run("GET", A1)


def test_setbit_keeps_ttl(diff):
    diff.run("SET", A0, "a", "EX", "100")
    diff.run("SETBIT", A0, "1", "0")
    diff.run("SETBIT", A0, "20", "1")
    diff.run("TTL", A0)


@pytest.mark.parametrize("offset,value", [
    ("-1", "1"), ("abc", "1"), ("1.5", "1"), (str(MAX_BULK * 8), "1"),
    (str(INT64_MAX), "1"), ("99999999999999999999", "1"), ("0", "2"), ("0", "-1"),
    ("0", "x"), ("0", ""), ("#1", "1"), ("abc", "x"),
])
def test_setbit_errors(diff, offset, value):
    diff.run("SETBIT", A0, offset, value)
    diff.run("GETBIT", A0, offset)
    diff.run("EXISTS", A0)


def test_setbit_getbit_arity(diff):
    diff.run("SETBIT", A0, "1")
    diff.run("GETBIT", A0)
    diff.run("GETBIT", A0, "1", "2")


def test_setbit_high_offset_allocates(diff):
    diff.run("SETBIT", A0, str(8 * 1024 * 1024 - 1), "1")
    diff.run("STRLEN", A0)
    diff.run("BITCOUNT", A0)
    diff.run("BITPOS", A0, "1")


# -- BITCOUNT --------------------------------------------------------------


@pytest.mark.parametrize("args", [
    (), ("0", "-1"), ("0", "0"), ("1", "1"), ("-2", "-1"), ("-1", "-2"), ("-100", "100"),
    ("5", "3"), ("100", "200"), ("0", "-1", "BIT"), ("0", "-1", "byte"), ("1", "5", "BIT"),
    ("5", "30", "bit"), ("-5", "-1", "BIT"), ("-1", "-5", "BIT"), ("7", "7", "BIT"),
    ("0", "1000", "BIT"), ("3", "3", "bit"), ("8", "15", "BIT"), ("9", "14", "BIT"),
    (str(INT64_MIN), str(INT64_MAX)), (str(INT64_MIN), str(INT64_MAX), "BIT"),
    ("0",), ("0", "1", "BOTH"), ("0", "1", "BIT", "x"), ("a", "1"), ("0", "b"),
    ("a", "b", "FOO"),
])
def test_bitcount(diff, args):
    diff.run("SET", A0, "foobar\x00\xff\x81")
    diff.run("BITCOUNT", A0, *args)
    diff.run("BITCOUNT", "missing", *args)  # 0 whatever the arguments
    diff.run("SET", A1, "")
    diff.run("BITCOUNT", A1, *args)


def test_bitcount_matches_on_random_data(diff):
    rng = random.Random(11)
    data = bytes(rng.randrange(256) for _ in range(300))
    diff.run("SET", A0, data)
    for _ in range(40):
        start, end = rng.randrange(-2600, 2600), rng.randrange(-2600, 2600)
        diff.run("BITCOUNT", A0, start, end, "BIT")
        diff.run("BITCOUNT", A0, start // 8, end // 8)


# -- BITPOS ----------------------------------------------------------------


@pytest.mark.parametrize("value", [
    b"", b"\x00", b"\xff", b"\xff\xf0\x00", b"\x00\x0f\xff", b"\xff\xff\xff",
    b"\x00\x00\x00", b"\x80", b"\x01", b"\x10\x00\x01",
])
@pytest.mark.parametrize("bit", ["0", "1"])
@pytest.mark.parametrize("args", [
    (), ("0",), ("1",), ("-1",), ("0", "-1"), ("1", "1"), ("2", "1"), ("0", "0"),
    ("-2", "-1"), ("0", "-1", "BIT"), ("3", "12", "BIT"), ("4", "4", "bit"),
    ("7", "9", "BIT"), ("-3", "-1", "BIT"), ("100", "200"), ("0", "100", "BIT"),
    ("16", "23", "BIT"), ("9", "22", "BIT"), ("0", "-1", "BYTE"), ("-100", "-50"),
])
def test_bitpos(diff, value, bit, args):
    diff.run("SET", A0, value)
    diff.run("BITPOS", A0, bit, *args)


def test_bitpos_missing_and_errors(diff):
    diff.run("BITPOS", "missing", "0")
    diff.run("BITPOS", "missing", "1")
    diff.run("BITPOS", "missing", "1", "x", "y", "z")  # missing key: no argument check
    diff.run("SET", A0, "\x00\xff")
    for args in (("2",), ("-1",), ("x",), ("1", "x"), ("1", "0", "x"), ("1", "0", "1", "BOTH"),
                 ("1", "0", "1", "BIT", "x"), ("1", "x", "1", "BOTH"), ("1", "0", "x", "BOTH"),
                 ("1", "0", "x", "BIT")):
        diff.run("BITPOS", A0, *args)
    diff.run("BITPOS", A0)


def test_bitpos_matches_on_random_data(diff):
    rng = random.Random(5)
    data = bytes(rng.choice((0, 0, 255, 255, rng.randrange(256))) for _ in range(120))
    diff.run("SET", A0, data)
    for _ in range(60):
        bit = rng.choice("01")
        start, end = rng.randrange(-1000, 1000), rng.randrange(-1000, 1000)
        diff.run("BITPOS", A0, bit, start, end, "BIT")
        diff.run("BITPOS", A0, bit, start // 8, end // 8)
        diff.run("BITPOS", A0, bit, start // 8)


def test_bitcount_bitpos_on_strings_longer_than_a_chunk(diff):
    """Big strings are read 64 KB at a time: hits on both sides of a chunk
    boundary and at the very end."""
    size = 200 * 1024
    diff.run("SETBIT", A0, str(size * 8 - 1), "1")
    diff.run("BITPOS", A0, "1")
    diff.run("SETBIT", A0, str(65536 * 8), "1")
    diff.run("SETBIT", A0, str(65536 * 8 - 1), "1")
    diff.run("BITCOUNT", A0)
    diff.run("BITPOS", A0, "1")
    diff.run("BITPOS", A0, "1", "65536")
    diff.run("BITPOS", A0, "1", str(65536 * 8 + 1), "-1", "BIT")
    diff.run("BITCOUNT", A0, "1", "-1")
    diff.run("BITCOUNT", A0, str(65536 * 8), str(size * 8 - 2), "BIT")
    diff.run("SET", B0, b"\xff" * size)
    diff.run("BITPOS", B0, "0")
    diff.run("BITPOS", B0, "0", "0", "-1")
    diff.run("SETBIT", B0, str(size * 8 - 3), "0")
    diff.run("BITPOS", B0, "0", "10")
    diff.run("BITCOUNT", B0)


# -- BITOP -----------------------------------------------------------------


@pytest.mark.parametrize("op", ["AND", "OR", "XOR", "and", "Xor"])
@pytest.mark.parametrize("dest,sources", [
    (C0, (A0, B0)), (C0, (A1, B1)), (C1, (A0, B1, "missing")), (A0, (A0, A1)),
    (C1, (A0,)), (C0, ("missing", A1)),
])
def test_bitop(diff, op, dest, sources):
    diff.run("MSET", A0, "foobar", B0, "abc", A1, b"\xff\x00\x0f\xf0\x99", B1, "")
    diff.run("SET", dest, "old", "EX", "100")
    diff.run("BITOP", op, dest, *sources)
    diff.run("GET", dest)
    diff.run("TTL", dest)  # a new value: no TTL


@pytest.mark.parametrize("dest,source", [(C0, A0), (C1, A0), (A1, A1), (C0, "missing")])
def test_bitop_not(diff, dest, source):
    diff.run("MSET", A0, "foobar", A1, b"\x00\xff")
    diff.run("BITOP", "NOT", dest, source)
    diff.run("GET", dest)
    diff.run("EXISTS", dest)


def test_bitop_empty_result_deletes_destination(diff):
    diff.run("MSET", C0, "old", C1, "old", A1, "")
    diff.run("BITOP", "OR", C0, "missing", A1)
    diff.run("EXISTS", C0)
    diff.run("BITOP", "AND", C1, A1, "missing2")
    diff.run("EXISTS", C1)
    diff.run("BITOP", "XOR", "nothing", "missing")
    diff.run("EXISTS", "nothing")


def test_bitop_errors(diff):
    diff.run("SET", A0, "x")
    diff.run("BITOP", "NAND", C0, A0)
    diff.run("BITOP", "NOT", C0, A0, A1)
    diff.run("BITOP", "NOT", C0, A0, B0)
    diff.run("BITOP", "AND", C0)
    diff.run("BITOP", "NOT", C0)
    diff.run("EXISTS", C0)


def test_bitop_on_random_data(diff):
    rng = random.Random(3)
    values = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))) for _ in range(4)]
    diff.run("MSET", A0, values[0], B1, values[1], C0, values[2], C1, values[3])
    for op in ("AND", "OR", "XOR"):
        diff.run("BITOP", op, B0, A0, B1, C0, C1)
        diff.run("GET", B0)


# -- BITFIELD --------------------------------------------------------------


def test_bitfield_get_set_incrby(diff):
    diff.run("BITFIELD", A0)
    diff.run("EXISTS", A0)
    diff.run("BITFIELD", A0, "GET", "u8", "0")
    diff.run("EXISTS", A0)
    diff.run("BITFIELD", A0, "SET", "u8", "0", "255", "GET", "u8", "0", "GET", "i8", "0")
    diff.run("BITFIELD", A0, "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "i8", "8", "200")
    diff.run("GET", A0)
    diff.run("BITFIELD", A0, "SET", "i5", "#3", "-7", "GET", "i5", "#3", "GET", "u5", "#3")
    diff.run("BITFIELD", A0, "get", "u4", "#100", "set", "u4", "#2", "9")
    diff.run("GET", A0)
    diff.run("BITFIELD", A0, "SET", "i64", "0", str(INT64_MIN), "GET", "i64", "0",
             "GET", "u63", "1", "GET", "u63", "0")
    diff.run("BITFIELD", A0, "INCRBY", "i64", "0", "-1", "INCRBY", "i64", "0", "1")
    diff.run("BITFIELD", A0, "SET", "u1", "7", "1", "SET", "i1", "7", "0", "GET", "i1", "7")
    diff.run("GET", A0)


@pytest.mark.parametrize("overflow", ["WRAP", "SAT", "FAIL"])
@pytest.mark.parametrize("field,values", [
    ("u8", ("255", "256", "-1", "-256", "1000", str(INT64_MAX), str(INT64_MIN))),
    ("u1", ("1", "2", "-1", "-2")),
    ("u63", (str(INT64_MAX), "-1", str(INT64_MIN), "1")),
    ("i8", ("127", "128", "-128", "-129", "300", "-300", str(INT64_MAX), str(INT64_MIN))),
    ("i1", ("0", "-1", "1", "-2")),
    ("i63", (str(INT64_MIN), str(INT64_MAX), str(2**62), str(-(2**62) - 1))),
    ("i64", (str(INT64_MAX), str(INT64_MIN), "-1", "1")),
])
def test_bitfield_overflow(diff, overflow, field, values):
    for value in values:
        diff.run("BITFIELD", A0, "OVERFLOW", overflow, "SET", field, "3", value)
        diff.run("BITFIELD", A0, "OVERFLOW", overflow, "INCRBY", field, "3", value)
        diff.run("BITFIELD", A0, "OVERFLOW", overflow, "INCRBY", field, "3", value,
                 "GET", field, "3")
    diff.run("GET", A0)


def test_bitfield_fail_still_creates_the_key(diff):
    diff.run("BITFIELD", A0, "OVERFLOW", "FAIL", "INCRBY", "u8", "40", "300")
    diff.run("GET", A0)
    diff.run("BITFIELD", A0, "OVERFLOW", "FAIL", "SET", "u8", "100", "-1")
    diff.run("STRLEN", A0)


def test_bitfield_on_existing_data_and_ttl(diff):
    diff.run("SET", A0, "hello world", "EX", "100")
    diff.run("BITFIELD", A0, "GET", "i16", "3", "GET", "u15", "60", "GET", "i64", "40",
             "GET", "u8", "88", "GET", "i9", "85")
    diff.run("BITFIELD", A0, "INCRBY", "u12", "5", "1234", "SET", "i3", "17", "-2")
    diff.run("GET", A0)
    diff.run("TTL", A0)


@pytest.mark.parametrize("args", [
    ("GET",), ("GET", "u8"), ("SET", "u8", "0"), ("INCRBY", "u8", "0"), ("FOO", "u8", "0"),
    ("OVERFLOW",), ("OVERFLOW", "BAD", "GET", "u8", "0"), ("GET", "u64", "0"),
    ("GET", "i65", "0"), ("GET", "u0", "0"), ("GET", "U8", "0"), ("GET", "I8", "0"),
    ("GET", "x8", "0"), ("GET", "u", "0"), ("GET", "u08", "0"), ("GET", "i-1", "0"),
    ("GET", "u8", "-1"), ("GET", "u8", "x"), ("GET", "u8", "#-1"), ("GET", "u8", "#"),
    ("GET", "u8", str(MAX_BULK * 8)), ("GET", "u8", "#" + str(MAX_BULK)),
    ("GET", "u8", "#" + str(2**61)), ("GET", "u8", "#" + str(2**60 + 1)),
    ("SET", "u8", "0", "x"), ("SET", "u8", "0", "1.5"), ("INCRBY", "i8", "0", "99999999999999999999"),
    ("GET", "u8", "0", "SET", "u8"), ("SET", "u8", "0", "1", "GET", "bad", "0"),
    ("overflow", "wrap", "overflow", "sat", "overflow", "fail"),
])
def test_bitfield_errors(diff, args):
    diff.run("BITFIELD", A0, *args)
    diff.run("BITFIELD_RO", A0, *args)
    diff.run("EXISTS", A0)


def test_bitfield_ro(diff):
    diff.run("SET", A0, "\x12\x34\x56")
    diff.run("BITFIELD_RO", A0, "GET", "u8", "0", "GET", "i12", "4", "GET", "u4", "#5")
    diff.run("BITFIELD_RO", A0, "OVERFLOW", "SAT", "GET", "u8", "0")
    diff.run("BITFIELD_RO", A0, "SET", "u8", "0", "1")
    diff.run("BITFIELD_RO", A0, "GET", "u8", "0", "INCRBY", "u8", "0", "1")
    diff.run("BITFIELD_RO", "missing", "GET", "u8", "0")
    diff.run("BITFIELD_RO", A0)
    diff.run("BITFIELD_RO")
    diff.run("GET", A0)


def test_bitfield_random_operations(diff):
    rng = random.Random(9)
    for _ in range(80):
        signed = rng.random() < 0.5
        bits = rng.randrange(1, 65 if signed else 64)
        field = ("i%d" if signed else "u%d") % bits
        offset = str(rng.randrange(0, 200))
        value = str(rng.randrange(-(2**bits), 2**bits))
        op = rng.choice(("SET", "INCRBY", "GET"))
        over = rng.choice(("WRAP", "SAT", "FAIL"))
        if op == "GET":
            diff.run("BITFIELD", A0, "GET", field, offset)
        else:
            diff.run("BITFIELD", A0, "OVERFLOW", over, op, field, offset, value)
    diff.run("GET", A0)


# -- the table -------------------------------------------------------------

BITMAP_COMMANDS = "setbit getbit bitcount bitpos bitop bitfield bitfield_ro".split()


@pytest.mark.parametrize("name", BITMAP_COMMANDS)
def test_command_info_matches_redis(diff, name):
    diff.run("COMMAND", "INFO", name)


@pytest.mark.parametrize("args", [
    ("BITOP", "AND", "d", "a", "b", "c"), ("BITOP", "NOT", "d", "a"),
    ("BITFIELD", "a", "GET", "u8", "0"), ("BITFIELD", "a", "SET", "u8", "0", "1"),
    ("BITFIELD", "a"), ("BITFIELD", "a", "OVERFLOW", "SAT", "GET", "u8", "0"),
    ("BITFIELD", "a", "GET", "u8"), ("BITFIELD_RO", "a", "GET", "u8", "0"),
    ("SETBIT", "a", "1", "1"), ("BITPOS", "a", "1"),
])
def test_command_getkeys(diff, args):
    diff.run("COMMAND", "GETKEYS", *args)
    diff.run("COMMAND", "GETKEYSANDFLAGS", *args)
