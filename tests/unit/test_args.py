"""The shared argument parsers (cluster/args.py) read what Redis reads.

The tables were checked against redis-server 7.0 (ZADD for string2d, ZCOUNT
for score ranges, ZLEXCOUNT for lex ranges); the last tests ask a real
redis-server again about thousands of generated arguments.
"""

from __future__ import annotations

import math
import random

import pytest

from cluster import errors
from cluster.args import (
    LEX_MAX,
    LEX_MIN,
    parse_choice,
    parse_db_number,
    parse_double,
    parse_int,
    parse_lex_range,
    parse_score_range,
)
from cluster.errors import CommandError
from tests.helpers import Err, RawClient


def _error_of(fn, *args):
    try:
        fn(*args)
    except CommandError as exc:
        return exc.text
    return None


def test_parse_int_is_string2ll():
    assert parse_int(b"-9223372036854775808") == -(2**63)
    assert parse_int(b"9223372036854775807") == 2**63 - 1
    for bad in (b"", b"+1", b"01", b"-0", b" 1", b"1 ", b"9223372036854775808", b"1.0"):
        assert _error_of(parse_int, bad) == errors.NOT_INTEGER
    assert _error_of(parse_int, b"x", "ERR custom") == "ERR custom"


def test_parse_db_number_and_choice():
    assert parse_db_number(b"-2147483648") == -(2**31)
    assert _error_of(parse_db_number, b"2147483648") == errors.INT_OUT_OF_RANGE
    assert _error_of(parse_db_number, b"x") == errors.NOT_INTEGER
    assert parse_choice(b"BIT", b"bit", b"byte") is True
    assert parse_choice(b"byte", b"bit", b"byte") is False
    assert _error_of(parse_choice, b"bits", b"bit", b"byte") == errors.SYNTAX


# string2d, as ZADD's score shows it (redis-server 7.0.15).
DOUBLES = {
    b"1": 1.0, b"+.5": 0.5, b"5.": 5.0, b"1e5": 1e5, b"-0": -0.0, b"0x10": 16.0,
    b"0x1p3": 8.0, b"1e-310": 1e-310, b"inf": math.inf, b"infinity": math.inf,
    b"-INF": -math.inf,
}
NOT_DOUBLES = (b"", b" 1", b"1 ", b"nan", b"1e400", b"1e-400", b"1\x00", b"1_0", b"0x",
               b"0x1p-1080", b"0x1p2000", b".", b"1e", b"abc")


@pytest.mark.parametrize("text,value", sorted(DOUBLES.items()), ids=repr)
def test_parse_double_accepts(text, value):
    got = parse_double(text)
    assert got == value and math.copysign(1, got) == math.copysign(1, value)


@pytest.mark.parametrize("text", NOT_DOUBLES, ids=repr)
def test_parse_double_refuses(text):
    assert _error_of(parse_double, text) == errors.NOT_FLOAT


# zslParseRange (plain strtod): ZCOUNT over scores 0, 0, 1, 2, 3, 16, 32.
SCORES = (0, 0, 1, 2, 3, 16, 32)
SCORE_RANGES = {
    (b"", b""): 2, (b"(", b"("): 0, (b" 1", b"3"): 3, (b"\t1", b"3"): 3,
    (b"1e400", b"inf"): 0, (b"(1", b"+inf"): 4, (b"0x10", b"0x20"): 2, (b"inf", b"-inf"): 0,
    (b"-inf", b"+inf"): 7, (b"(-inf", b"(+inf"): 7, (b"-infinity", b"INF"): 7,
    (b"1e-400", b"3"): 5, (b"1\x00abc", b"3"): 3, (b"(", b"3"): 3, (b"0", b"(0"): 0,
    (b"(1", b"(2"): 0, (b"+1", b"3"): 3, (b".5", b"3."): 3, (b"0x1p3", b"0x1P4"): 1,
}
BAD_SCORE_RANGES = ((b"nan", b"1"), (b"1e", b"2"), (b"1 ", b"2"), (b"1abc", b"3"),
                    (b"[1", b"2"), (b"-", b"+"), (b"1_0", b"20"), (b".", b"3"), (b"0x", b"3"))


def _count(range_, values) -> int:
    return 0 if range_.is_empty() else sum(1 for v in values if v in range_)


@pytest.mark.parametrize("bounds,count", sorted(SCORE_RANGES.items()), ids=repr)
def test_score_range_counts_as_zcount(bounds, count):
    assert _count(parse_score_range(*bounds), SCORES) == count


@pytest.mark.parametrize("bounds", BAD_SCORE_RANGES, ids=repr)
def test_score_range_refuses(bounds):
    assert _error_of(parse_score_range, *bounds) == "ERR min or max is not a float"


def test_score_range_bounds():
    r = parse_score_range(b"(1.5", b"+inf")
    assert (r.min, r.max, r.min_exclusive, r.max_exclusive) == (1.5, math.inf, True, False)
    assert 1.5 not in r and 2 in r and math.inf in r
    assert parse_score_range(b"2", b"(2").is_empty()
    assert not parse_score_range(b"2", b"2").is_empty()


# zslParseLexRange: ZLEXCOUNT over members a, b, c, d (all score 0).
MEMBERS = (b"a", b"b", b"c", b"d")
LEX_RANGES = {
    (b"-", b"+"): 4, (b"[a", b"(c"): 2, (b"+\x00", b"[z"): 0, (b"(", b"["): 0,
    (b"[", b"-"): 0, (b"-", b"-"): 0, (b"+", b"-"): 0, (b"[b", b"[b"): 1, (b"(b", b"[b"): 0,
    (b"-", b"(c"): 2, (b"[c", b"+"): 2, (b"-\x00x", b"+"): 4,
}
BAD_LEX_RANGES = ((b"a", b"+"), (b"+x", b"+"), (b"", b"+"), (b"-", b"1"))


@pytest.mark.parametrize("bounds,count", sorted(LEX_RANGES.items()), ids=repr)
def test_lex_range_counts_as_zlexcount(bounds, count):
    assert _count(parse_lex_range(*bounds), MEMBERS) == count


@pytest.mark.parametrize("bounds", BAD_LEX_RANGES, ids=repr)
def test_lex_range_refuses(bounds):
    assert _error_of(parse_lex_range, *bounds) == "ERR min or max not valid string range item"


def test_lex_range_bounds():
    r = parse_lex_range(b"-", b"(b")
    assert (r.min, r.max, r.min_exclusive, r.max_exclusive) == (LEX_MIN, b"b", True, True)
    assert b"" in r and b"a\xff" in r and b"b" not in r
    assert parse_lex_range(b"[b", b"+").max is LEX_MAX


# -- against a real redis-server ---------------------------------------------------


def _generated(seed: int, alphabet: bytes, n: int) -> list:
    rng = random.Random(seed)
    return [bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 7))) for _ in range(n)]


NUMBERISH = b"0123456789.eE+-xXpPinfINFa( \t\x00"


def test_parse_double_agrees_with_zadd(redis_ref):
    texts = list(DOUBLES) + list(NOT_DOUBLES) + _generated(5, NUMBERISH, 1500)
    with RawClient(redis_ref.port, redis_ref.host) as ref:
        replies = ref.pipeline([c for t in texts for c in (("ZADD", "args:d", t, "m"),
                                                           ("ZSCORE", "args:d", "m"))])
        ref.call("DEL", "args:d")
    for text, added, score in zip(texts, replies[::2], replies[1::2]):
        mine = _error_of(parse_double, text)
        if isinstance(added, Err):
            assert mine == errors.NOT_FLOAT, text
        else:
            assert mine is None, text
            assert parse_double(text) == float(score), text


def _ranges_agree(redis_ref, command, members, pairs, parse, values):
    """``command`` (ZCOUNT, ZLEXCOUNT) on redis-server over a sorted set of
    ``members`` (score, member pairs) and our parser over ``values`` agree
    on every pair of bounds: the same count or the same error."""
    with RawClient(redis_ref.port, redis_ref.host) as ref:
        ref.call("DEL", "args:z")
        ref.call("ZADD", "args:z", *[x for pair in members for x in pair])
        replies = ref.pipeline([(command, "args:z", a, b) for a, b in pairs])
        ref.call("DEL", "args:z")
    for (a, b), reply in zip(pairs, replies):
        if isinstance(reply, Err):
            assert _error_of(parse, a, b) == str(reply), (a, b)
        else:
            assert _count(parse(a, b), values) == reply, (a, b)


def test_score_ranges_agree_with_zcount(redis_ref):
    scores = (-math.inf, -1.5, 0, 1, 2, 1e-310, 16, math.inf)
    bounds = _generated(7, NUMBERISH, 3000)
    pairs = list(zip(bounds[::2], bounds[1::2])) + list(SCORE_RANGES) + list(BAD_SCORE_RANGES)
    _ranges_agree(redis_ref, "ZCOUNT", [(s, i) for i, s in enumerate(scores)], pairs,
                  parse_score_range, scores)


def test_lex_ranges_agree_with_zlexcount(redis_ref):
    members = (b"", b"\x00", b"a", b"ab", b"b", b"\xff")
    bounds = _generated(9, b"[(-+ab\x00\xff", 3000)
    pairs = list(zip(bounds[::2], bounds[1::2])) + list(LEX_RANGES) + list(BAD_LEX_RANGES)
    _ranges_agree(redis_ref, "ZLEXCOUNT", [(0, m) for m in members], pairs,
                  parse_lex_range, members)
