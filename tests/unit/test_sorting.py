"""The sans-IO SORT (cluster/sorting.py): options, pattern substitution,
LIMIT windows and comparisons, without a server.  The replies themselves are
compared with redis-server in tests/differential/test_sort.py."""

import pytest

from cluster.args import parse_sort_weight
from cluster.commands import lookup
from cluster.errors import CommandError
from cluster.sorting import ELEMENT, parse_sort, pattern_keys, pattern_target, sort_elements, window


def _parse(*words, readonly=False, cluster=False):
    return parse_sort([b"SORT", b"k", *[w.encode() for w in words]], readonly, cluster)


def test_options_last_wins_and_errors_in_order():
    request = _parse("desc", "ASC", "LIMIT", "1", "2", "BY", "w_*", "GET", "#", "GET", "o_*",
                     "STORE", "a", "STORE", "b", "alpha")
    assert (request.desc, request.alpha, request.offset, request.count) == (False, True, 1, 2)
    assert (request.by, request.gets, request.store, request.dontsort) == (
        b"w_*", [b"#", b"o_*"], b"b", False)
    assert _parse("BY", "nosort").dontsort
    with pytest.raises(CommandError, match="^ERR syntax error$"):
        _parse("STORE", "x", readonly=True)
    with pytest.raises(CommandError, match="not an integer"):
        _parse("LIMIT", "1", "x", "BOGUS")
    with pytest.raises(CommandError, match="^ERR BY option of SORT denied in Cluster mode.$"):
        _parse("BY", "w_*", "BOGUS", cluster=True)
    with pytest.raises(CommandError, match="^ERR GET option of SORT denied in Cluster mode.$"):
        _parse("BY", "nosort", "GET", "#", cluster=True)


def test_pattern_target():
    assert pattern_target(b"#", b"e") is ELEMENT
    assert pattern_target(b"#\x00x", b"e") is ELEMENT
    assert pattern_target(b"nostar", b"e") is None
    assert pattern_target(b"w_*", b"e") == (b"w_e", None)
    assert pattern_target(b"a*b->f", b"e") == (b"aeb", b"f")
    assert pattern_target(b"a->f*x", b"e") == (b"a->fex", None)  # '->' before '*'
    assert pattern_target(b"a*->", b"e") == (b"ae->", None)  # no field: a key name
    assert pattern_target(b"a*->f\x00g", b"e") == (b"ae", b"f\x00g")
    assert pattern_target(b"a\x00*", b"e") is None  # the '*' is past C's end


def test_pattern_keys_and_reach():
    request = _parse("BY", "w_*", "GET", "#", "GET", "h_*->f", "GET", "x")
    assert pattern_keys(request, [b"1", b"2"]) == [b"h_1", b"h_2", b"w_1", b"w_2"]
    assert pattern_keys(_parse("BY", "nosort"), [b"1"]) == []
    reach = lookup(b"sort").reach
    assert reach([b"SORT", b"k", b"BY", b"{t}w_*", b"GET", b"{u}*"]) == [b"{u}", b"{t}w_"]
    assert reach([b"SORT", b"k", b"BY", b"w_{t}*"]) == [b"w_{t}"]
    for pattern in (b"w_*", b"{}w_*", b"w_{*}", b"{t*"):
        assert reach([b"SORT", b"k", b"GET", pattern]) is None, pattern
    assert reach([b"SORT", b"k", b"GET", b"#", b"BY", b"nosort"]) == []
    assert reach([b"SORT", b"k", b"BY", b"w_*", b"BOGUS"]) == []  # the shard answers the error


@pytest.mark.parametrize("length, offset, count, expected", [
    (5, 0, -1, (0, 4)), (5, -3, 2, (0, 1)), (5, 4, 10, (4, 4)), (5, 5, 1, (4, 3)),
    (5, 2, 0, (2, 1)), (0, 0, -1, (-1, -2)), (5, 2**63 - 1, 2**63 - 1, (4, 3)),
])
def test_window(length, offset, count, expected):
    assert window(length, offset, count) == expected


def test_sort_elements_comparisons():
    lookup_none = lambda key, field: None  # noqa: E731
    sort = lambda *words, kind="list", elements: sort_elements(  # noqa: E731
        _parse(*words), kind, elements, lookup_none)
    assert sort(elements=[b"10", b"9", b"-1", b"9"]) == [b"-1", b"9", b"9", b"10"]
    assert sort("DESC", elements=[b"1", b"01", b"2"]) == [b"2", b"1", b"01"]  # ties: bytes
    assert sort("ALPHA", elements=[b"b", b"a\x00z", b"a\x00b", b"a"]) == [
        b"a\x00z", b"a\x00b", b"a", b"b"]  # strcmp: equal up to the NUL, stable
    assert sort("ALPHA", "STORE", "d", elements=[b"b", b"a\x00z", b"a\x00b", b"a"]) == [
        b"a", b"a\x00b", b"a\x00z", b"b"]  # memcmp when storing
    assert sort("BY", "nosort", "DESC", "LIMIT", "1", "2", elements=[b"a", b"b", b"c", b"d"]) \
        == [b"c", b"b"]
    assert sort("BY", "nosort", "DESC", kind="set", elements=[b"b", b"a"]) == [b"b", b"a"]
    assert sort("BY", "nosort", "STORE", "d", kind="set", elements=[b"b", b"a"]) == [b"a", b"b"]
    with pytest.raises(CommandError, match="can't be converted into double"):
        sort(elements=[b"1", b"x"])


def test_sort_elements_lookups():
    values = {(b"w_a", None): b"2", (b"w_b", None): b"1", (b"h_a", b"f"): b"x"}
    request = parse_sort([b"SORT", b"k", b"BY", b"w_*", b"GET", b"#", b"GET", b"h_*->f",
                          b"GET", b"none"], False)
    result = sort_elements(request, "list", [b"a", b"b", b"c"],
                           lambda key, field: values.get((key, field)))
    assert result == [b"c", None, None, b"b", None, None, b"a", b"x", None]


def test_sort_weight_is_strtod_checked_as_sort_checks_it():
    assert parse_sort_weight(b"") == 0.0
    assert parse_sort_weight(b" 5") == 5.0
    assert parse_sort_weight(b"0x10") == 16.0
    assert parse_sort_weight(b"1\x00junk") == 1.0
    assert parse_sort_weight(b"007") == 7.0 and parse_sort_weight(b"-12") == -12.0
    assert parse_sort_weight(b"9" * 400) is None  # overflow: ERANGE
    assert parse_sort_weight(b"-infinity") == float("-inf")
    for refused in (b"5 ", b"  ", b"nan", b"1e400", b"1e-400", b"4e-320", b"abc", b"0x", b"1e"):
        assert parse_sort_weight(refused) is None, refused
