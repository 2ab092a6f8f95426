"""Redis's glob dialect and SCAN argument parsing, without a server."""

import time

import pytest
from hypothesis import given, settings, strategies as st

from cluster.cursor import parse_cursor, parse_scan_options
from cluster.errors import CommandError
from cluster.glob import matcher, stringmatch


def _tolower(c):
    return c + 32 if 65 <= c <= 90 else c


def _signed(c):
    return c - 256 if c >= 128 else c


def redis_stringmatch(p, s, nocase=False, nesting=0):
    """A plain model of util.c's loop, for small inputs only (it backtracks)."""
    if nesting > 1000:
        return False
    eq = (lambda a, b: _tolower(a) == _tolower(b)) if nocase else (lambda a, b: a == b)
    i = j = 0
    while i < len(p) and j < len(s):
        c = p[i]
        if c == 0x2A:
            while i + 1 < len(p) and p[i + 1] == 0x2A:
                i += 1
            if i == len(p) - 1:
                return True
            return any(redis_stringmatch(p[i + 1:], s[k:], nocase, nesting + 1)
                       for k in range(j, len(s)))
        if c == 0x3F:
            pass
        elif c == 0x5B:
            i += 1
            negate = i < len(p) and p[i] == 0x5E
            i += negate
            hit = False
            while True:
                if i < len(p) and p[i] == 0x5C and len(p) - i >= 2:
                    i += 1
                    hit |= p[i] == s[j]
                elif i < len(p) and p[i] == 0x5D:
                    break
                elif i >= len(p):
                    i -= 1
                    break
                elif len(p) - i >= 3 and p[i + 1] == 0x2D:
                    lo, hi = sorted((_signed(p[i]), _signed(p[i + 2])))
                    x = _signed(s[j])
                    if nocase:
                        lo, hi, x = _tolower(lo), _tolower(hi), _tolower(x)
                    hit |= lo <= x <= hi
                    i += 2
                else:
                    hit |= eq(p[i], s[j])
                i += 1
            if hit == negate:
                return False
        else:
            if c == 0x5C and len(p) - i >= 2:
                i += 1
            if not eq(p[i], s[j]):
                return False
        i += 1
        j += 1
        if j == len(s):
            while i < len(p) and p[i] == 0x2A:
                i += 1
            break
    return i == len(p) and j == len(s)


@pytest.mark.parametrize("pattern,key,expected", [
    (b"*", b"", False),  # Redis: the empty key matches only the empty pattern
    (b"", b"", True),
    (b"**", b"a", True),
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
    assert stringmatch(pattern, key) is expected
    assert redis_stringmatch(pattern, key) is expected


@pytest.mark.parametrize("pattern,key,expected", [
    (b"[a-\xff]", b"a", True),  # ranges compare C's signed char: -1..97
    (b"[a-\xff]", b"b", False),
    (b"[a-\xff]", b"\xff", True),
    (b"[a-\xff]", b"\x80", False),
    (b"[\x80-\x7f]", b"\x00", True),
    (b"[", b"a", False),  # an empty class matches nothing
    (b"[^", b"a", True),
    (b"[a-]", b"^", True),  # ']'..'a' (written backwards), and the class is unterminated
    (b"[a-]", b"b", False),
    (b"[\\", b"\\", True),
    (b"*a" * 1000, b"a" * 1001, True),  # Redis's nesting guard, checked on redis-server
    (b"*a" * 1001, b"a" * 1001, False),
    (b"a*" * 1001, b"a" * 1001, True),  # a trailing '*' costs no nesting
    (b"?*", b"", False),
])
def test_redis_quirks(pattern, key, expected):
    assert stringmatch(pattern, key) is expected


@pytest.mark.parametrize("pattern,key,expected", [
    (b"HeLLo", b"hello", True),
    (b"h[A-Z]llo", b"hello", True),
    (b"h[\\E]llo", b"hello", False),  # an escaped byte in a class compares exactly
    (b"h\\Ello", b"hello", True),
    (b"[Z-a]", b"z", False),  # swapped as written, then lowered: 'z'..'a' is empty
    (b"maxmemory*", b"MAXMEMORY-policy", True),
    (b"\xc9", b"\xe9", False),  # tolower in the C locale: ASCII only
])
def test_nocase(pattern, key, expected):
    assert stringmatch(pattern, key, nocase=True) is expected
    assert redis_stringmatch(pattern, key, nocase=True) is expected


KEY40 = b"a" * 40
PATHOLOGICAL = [
    b"a*a*a*a*a*a*a*a*a*a*b",
    b"*?*?*?*?*?*?*?*?x",
    b"[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*b",
    b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    b"?" + b"*?" * 60 + b"[^a]",
    b"*" + b"[ab]" * 20 + b"*[ab]c",
]


@pytest.mark.exclusive
@pytest.mark.parametrize("pattern", PATHOLOGICAL)
def test_pathological_patterns_are_fast(pattern):
    """These pinned a shard at 100% CPU when translated to a backtracking regex."""
    started = time.perf_counter()
    for _ in range(10):
        assert stringmatch(pattern, KEY40) is False
        assert stringmatch(pattern, b"a" * 4000) is False
    assert time.perf_counter() - started < 0.2


_pattern_bytes = st.sampled_from(b"ab*?[]^-\\\xff")
_key_bytes = st.sampled_from(b"ab-]\\*\xff")


@settings(max_examples=3000, deadline=None)
@given(st.lists(_pattern_bytes, max_size=10).map(bytes),
       st.lists(_key_bytes, max_size=8).map(bytes), st.booleans())
def test_same_as_redis_loop(pattern, key, nocase):
    assert stringmatch(pattern, key, nocase) is redis_stringmatch(pattern, key, nocase)


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
