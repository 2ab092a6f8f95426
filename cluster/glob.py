"""Redis's glob-style patterns (``stringmatchlen`` in util.c), compiled to regexes.

KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET share Redis's dialect, which is
not fnmatch's: ``[^a]`` negates a class, a backslash escapes anywhere, a
range may be written backwards (``[z-a]``), an unterminated class runs to the
end of the pattern, and a trailing lone backslash matches itself.  Patterns
are translated once to a byte regex and cached.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _byte(c: int) -> bytes:
    return b"\\x%02x" % c


def _class(pattern: bytes, i: int):
    """Translate the class starting after '[' at ``i``; returns (regex, next i)."""
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # '^'
    if negate:
        i += 1
    parts = []
    while True:
        if i >= n:
            break  # unterminated: the class is the rest of the pattern
        c = pattern[i]
        if c == 0x5C and i + 1 < n:  # backslash escapes the next byte
            parts.append(_byte(pattern[i + 1]))
            i += 2
            continue
        if c == 0x5D:  # ']'
            i += 1
            break
        if i + 2 < n and pattern[i + 1] == 0x2D:  # 'a-z'
            lo, hi = c, pattern[i + 2]
            if lo > hi:
                lo, hi = hi, lo
            parts.append(_byte(lo) + b"-" + _byte(hi))
            i += 3
            continue
        parts.append(_byte(c))
        i += 1
    if not parts:
        return (b"[\\x00-\\xff]" if negate else b"(?!)"), i
    return b"[" + (b"^" if negate else b"") + b"".join(parts) + b"]", i


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes):
    """A compiled regex whose ``fullmatch`` is Redis's stringmatch."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*'
            while i < n and pattern[i] == 0x2A:
                i += 1
            out.append(b".*")
            continue
        if c == 0x3F:  # '?'
            out.append(b".")
        elif c == 0x5B:  # '['
            regex, i = _class(pattern, i + 1)
            out.append(regex)
            continue
        elif c == 0x5C and i + 1 < n:
            i += 1
            out.append(_byte(pattern[i]))
        else:
            out.append(_byte(c))
        i += 1
    return re.compile(b"".join(out), re.DOTALL)


def matcher(pattern: bytes):
    """A predicate ``key -> bool``; ``*`` matches without a regex."""
    if pattern == b"*":
        return None
    return compile_glob(pattern).fullmatch
