"""Sans-IO pieces of the string family: long double arithmetic and the
bit-parallel LCS table, checked against plain definitions."""

import random
from fractions import Fraction

import pytest

from cluster.errors import CommandError
from shardnode.strings import (
    LcsTable,
    format_long_double,
    parse_long_double,
    round_long_double,
)


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
