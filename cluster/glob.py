"""Redis's glob-style patterns (``stringmatchlen`` in util.c), matched in bounded time.

KEYS, SCAN MATCH and PSUBSCRIBE share Redis's dialect, which is not
fnmatch's: ``[^a]`` negates a class, a backslash escapes anywhere (inside a
class it compares exactly, even without case), a range may be written
backwards (``[z-a]``) and compares bytes as C's signed ``char`` (``[a-\\xff]``
is -1..97), an unterminated class runs to the end of the pattern, and a
trailing lone backslash matches itself.  Two quirks of Redis's loop are kept:
the empty string matches only the empty pattern (``KEYS *`` lists the empty
key only because KEYS skips matching for ``*``), and a pattern that needs more
than 1000 ``*`` groups before its end matches nothing (Redis's nesting guard).

Why not a plain regex: ``a*a*a*...b`` translated to ``a.*a.*...b`` backtracks
exponentially and pins a shard.  A pattern is the runs between its ``*``
groups, each a fixed-length sequence of one-byte sets: the first run must
match at the start, the last at the end, and each middle run may be placed at
its leftmost position after the previous one, never reconsidered, because a
later placement only leaves less room for the rest.  (Redis 7 reaches the
same result with its ``skipLongerMatches`` recursion.)  The regex built here
says exactly that: each middle run is found by ``.*?`` inside an atomic group,
written as a lookahead plus backreference so that Python 3.10 has it too,
which bounds a match at O(len(key) * len(pattern)) steps, all in C.
"""

from __future__ import annotations

import re
from functools import lru_cache

ALL_BYTES = bytes(range(256))

# Redis's nesting guard: the recursion for the 1001st '*' group returns "no match".
MAX_STAR_GROUPS = 1000


def _signed(c: int) -> int:
    """The byte as C's (signed) ``char`` compares it in a range."""
    return c - 256 if c >= 128 else c


def _lower(c: int) -> int:
    """C's ``tolower`` in the C locale (Redis never sets LC_CTYPE): A-Z only."""
    return c + 32 if 65 <= c <= 90 else c


def _literal(c: int, nocase: bool) -> bytes:
    if nocase and (65 <= c <= 90 or 97 <= c <= 122):
        return bytes(sorted((c, c ^ 0x20)))
    return bytes([c])


def _class(pattern: bytes, i: int, nocase: bool):
    """The class whose first byte after '[' is at ``i``: (matching bytes, next i)."""
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # '^'
    if negate:
        i += 1
    items = []  # bytes compared exactly (int) and ranges (lo, hi) as written
    while True:
        if i >= n:
            break  # unterminated: the class is the rest of the pattern
        c = pattern[i]
        if c == 0x5C and n - i >= 2:  # an escaped byte compares exactly
            i += 1
            items.append(-1 - pattern[i])
        elif c == 0x5D:  # ']'
            i += 1
            break
        elif n - i >= 3 and pattern[i + 1] == 0x2D:  # 'a-z'
            items.append((c, pattern[i + 2]))
            i += 2
        else:
            items.append(c)
        i += 1
    return _members(tuple(items), negate, nocase), i


@lru_cache(maxsize=1024)
def _members(items: tuple, negate: bool, nocase: bool) -> bytes:
    """The bytes a class matches; ``items``: a byte (>= 0, compared as a literal),
    -1 - byte (escaped: compared exactly, even without case) or a range (lo, hi)."""
    members = set()
    for item in items:
        if item.__class__ is int:
            if item < 0:
                members.add(-1 - item)
            else:
                members.update(_literal(item, nocase))
            continue
        lo, hi = _signed(item[0]), _signed(item[1])
        if lo > hi:
            lo, hi = hi, lo
        if nocase:
            lo, hi = _lower(lo), _lower(hi)
            members.update(b for b in range(256) if lo <= _lower(_signed(b)) <= hi)
        else:  # -128..-1 are the bytes 128..255
            members.update(range(lo + 256 if lo < 0 else 256, (hi if hi < 0 else -1) + 257))
            members.update(range(lo if lo > 0 else 0, hi + 1))
    if negate:
        members = set(range(256)) - members
    return bytes(sorted(members))


def _parse(pattern: bytes, nocase: bool):
    """The pattern's runs between '*' groups, each a list of one-byte sets."""
    runs = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*'
            while i < n and pattern[i] == 0x2A:
                i += 1
            runs.append([])
            continue
        if c == 0x3F:  # '?'
            runs[-1].append(ALL_BYTES)
        elif c == 0x5B:  # '['
            members, i = _class(pattern, i + 1, nocase)
            runs[-1].append(members)
            continue
        else:
            if c == 0x5C and i + 1 < n:
                i += 1
            runs[-1].append(_literal(pattern[i], nocase))
        i += 1
    return runs


@lru_cache(maxsize=1024)
def _regex_class(members: bytes) -> bytes:
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    if len(members) == 1:
        return re.escape(members)
    # Sorted members as runs: [\x61-\x7a] rather than 26 bytes.
    runs, start = [], members[0]
    for prev, c in zip(members, members[1:]):
        if c != prev + 1:
            runs.append((start, prev))
            start = c
    runs.append((start, members[-1]))
    return b"[" + b"".join(b"\\x%02x-\\x%02x" % run for run in runs) + b"]"


def _run(sets) -> bytes:
    return b"".join(_regex_class(s) for s in sets)


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes, nocase: bool = False):
    """A predicate ``key -> truthy``: Redis's stringmatchlen(pattern, key, nocase)."""
    if not pattern:
        return _is_empty
    runs = _parse(pattern, nocase)
    stars = len(runs) - 1
    trailing = stars > 0 and not runs[-1]
    if stars - trailing > MAX_STAR_GROUPS or any(not s for run in runs for s in run):
        return _never  # past Redis's nesting guard, or a class that matches nothing
    if not any(runs):
        return bool  # only '*': every key but the empty one
    if not nocase and all(len(s) == 1 for run in runs for s in run):
        first = b"".join(runs[0])
        if stars == 0:
            return first.__eq__
        if stars == 1 and trailing:
            return _prefix(first)
    parts = [_run(runs[0])]
    for i, run in enumerate(runs[1:-1]):
        parts.append(b"(?=(?P<r%d>.*?%s))(?P=r%d)" % (i, _run(run), i))
    if stars:
        parts.append(b".*" + _run(runs[-1]))
    return re.compile(b"".join(parts), re.DOTALL).fullmatch


def _is_empty(key: bytes) -> bool:
    return not key


def _never(key: bytes) -> bool:
    return False


def _prefix(prefix: bytes):
    startswith = bytes.startswith

    def match(key: bytes) -> bool:
        return startswith(key, prefix)
    return match


def stringmatch(pattern: bytes, key: bytes, nocase: bool = False) -> bool:
    """Redis's ``stringmatchlen(pattern, key, nocase)``."""
    return bool(compile_glob(pattern, nocase)(key))


def matcher(pattern: bytes):
    """A predicate ``key -> truthy``, or None for ``*``: KEYS and SCAN take every key then."""
    if pattern == b"*":
        return None
    return compile_glob(pattern)
