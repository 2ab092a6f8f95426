"""Glob patterns (KEYS, SCAN MATCH) against a real redis-server: Redis's own
dialect, quirks included, on keys spread over both shards."""

import random

import pytest

KEYS = [b"", b"a", b"b", b"ab", b"ba", b"aab", b"abab", b"^", b"]", b"-", b"\\", b"*", b"?",
        b"[", b"\xff", b"\x80", b"a\xff", b"A", b"hello", b"hallo", b"h]llo", b"h*llo",
        b"a" * 40, b"a" * 39 + b"b", b"a\nb", b"x.y"]

PATTERNS = [b"**", b"*?*", b"?", b"", b"[a-\xff]", b"[!-\xff]", b"[\x80-\x7f]", b"[", b"[^",
            b"[a-]", b"[\\", b"a\\", b"\\", b"h[^e]llo", b"h[b-a]llo", b"h\\*llo", b"h[\\]]llo",
            b"[abc", b"[]", b"[^]", b"x.y", b"a*", b"*b", b"a*a*a*a*a*a*a*a*a*a*b",
            b"*?*?*?*?*?*?*?*?x", b"[a-z]*[a-z]*[a-z]*[a-z]*b", b"A", b"[A-Z]"]


def _fill(diff):
    for key in KEYS:
        diff.run("SET", key, "v")


@pytest.mark.parametrize("pattern", PATTERNS)
def test_keys_pattern(diff, pattern):
    _fill(diff)
    diff.run_unordered("KEYS", pattern)


def test_scan_match_quirks(diff):
    _fill(diff)
    for pattern in (b"**", b"[a-\xff]", b"a*a*a*a*a*a*a*a*a*a*b", b"*"):
        expected = set(_scan_all(diff.ref, pattern))
        assert set(_scan_all(diff.ours, pattern)) == expected, pattern


def _scan_all(client, pattern):
    cursor, out = b"0", []
    while True:
        cursor, page = client.call("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
        out += page
        if cursor == b"0":
            return out


def test_random_patterns(diff):
    """Short random patterns over the dialect's special bytes."""
    _fill(diff)
    rng = random.Random(20240607)
    alphabet = b"ab*?[]^-\\\xffA"
    for _ in range(300):
        pattern = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        diff.run_unordered("KEYS", pattern)
