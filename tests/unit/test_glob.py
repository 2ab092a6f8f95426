"""Redis's glob dialect and SCAN argument parsing, without a server."""

import pytest

from cluster.cursor import parse_cursor, parse_scan_options
from cluster.errors import CommandError
from cluster.glob import compile_glob, matcher


@pytest.mark.parametrize("pattern,key,expected", [
    (b"*", b"", True),
    (b"h?llo", b"hello", True),
    (b"h?llo", b"hllo", False),
    (b"h*llo", b"hllo", True),
    (b"h*llo", b"heeello", True),
    (b"h[ae]llo", b"hallo", True),
    (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True),
    (b"h[b-a]llo", b"hbllo", True),  # a range written backwards
    (b"h\\*llo", b"h*llo", True),
    (b"h\\*llo", b"hello", False),
    (b"h[\\]]llo", b"h]llo", True),
    (b"[abc", b"b", True),  # unterminated class: the rest of the pattern
    (b"[abc", b"bc", False),
    (b"[]", b"a", False),
    (b"[^]", b"a", True),
    (b"a\\", b"a\\", True),  # a trailing backslash matches itself
    (b"b[-]c", b"b-c", True),
    (b"a-", b"a-", True),
    (b"x.y", b"xzy", False),  # regex characters are literal
    (b"a*", b"a\nb", True),
    (b"\xff*", b"\xff\x00", True),
])
def test_redis_glob(pattern, key, expected):
    assert bool(compile_glob(pattern).fullmatch(key)) is expected


def test_star_needs_no_regex():
    assert matcher(b"*") is None
    assert matcher(b"a*")(b"abc")


@pytest.mark.parametrize("raw,cursor", [
    (b"0", 0), (b"", 0), (b"123", 123), (b"+5", 5), (b"-1", 2**64 - 1),
    (b"18446744073709551615", 2**64 - 1),
])
def test_cursor(raw, cursor):
    assert parse_cursor(raw) == cursor


@pytest.mark.parametrize("raw", [b"x", b"1x", b" 1", b"-", b"+", b"18446744073709551616", b"1.0"])
def test_invalid_cursor(raw):
    with pytest.raises(CommandError, match="ERR invalid cursor"):
        parse_cursor(raw)


def test_scan_options():
    args = [b"SCAN", b"0", b"MATCH", b"a*", b"count", b"5", b"TYPE", b"String"]
    assert parse_scan_options(args, 2, allow_type=True) == (5, b"a*", "string")
    assert parse_scan_options([b"SCAN", b"0", b"MATCH", b"*"], 2) == (10, None, None)
    for bad in ([b"COUNT", b"0"], [b"COUNT"], [b"TYPE", b"string"], [b"FOO", b"1"]):
        with pytest.raises(CommandError, match="ERR syntax error"):
            parse_scan_options([b"SCAN", b"0"] + bad, 2)
    with pytest.raises(CommandError, match="not an integer"):
        parse_scan_options([b"SCAN", b"0", b"COUNT", b"x"], 2)
