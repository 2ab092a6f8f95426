"""SCAN-family arguments, parsed as Redis parses them (db.c scanGenericCommand).

Shared by the proxy (which validates the cursor before routing SCAN) and the
shards (SCAN, and the HSCAN/SSCAN/ZSCAN of the type families).
"""

from __future__ import annotations

import heapq
from zlib import crc32

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError

_U64 = 2**64


def parse_cursor(raw: bytes) -> int:
    """Redis's strtoul-based check: optional sign, digits, nothing else.

    As in Redis, an empty cursor is 0 and ``-n`` wraps around 2**64.
    """
    if raw[:1].isspace():
        raise CommandError(errors.INVALID_CURSOR)
    body = raw[1:] if raw[:1] in (b"+", b"-") else raw
    if body and not body.isdigit():
        raise CommandError(errors.INVALID_CURSOR)
    if not body:
        if raw:  # a lone sign: strtoul read nothing
            raise CommandError(errors.INVALID_CURSOR)
        return 0
    value = int(body)
    if value >= _U64:
        raise CommandError(errors.INVALID_CURSOR)
    return (_U64 - value) % _U64 if raw[:1] == b"-" else value


def parse_scan_options(args, start: int, allow_type: bool = False):
    """``[MATCH pattern] [COUNT n] [TYPE t]`` from ``args[start:]``.

    Returns (count, pattern or None, type name in lower case or None).
    """
    count, pattern, kind = 10, None, None
    i, n = start, len(args)
    while i < n:
        if i + 1 >= n:
            raise CommandError(errors.SYNTAX)
        opt = args[i].lower()
        if opt == b"count":
            count = parse_int(args[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
        elif opt == b"match":
            pattern = args[i + 1]
        elif opt == b"type" and allow_type:
            kind = args[i + 1].lower().decode("utf-8", "replace")
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    if pattern == b"*":
        pattern = None
    return count, pattern, kind


def scan_position(member: bytes) -> int:
    """Where a member of a hashtable-encoded container sits in a SCAN walk:
    CRC-32 (stable across restarts) plus one, so cursor 0 means the start."""
    return crc32(member) + 1


def scan_page(members, cursor: int, count: int):
    """One SCAN page of ``members`` from ``cursor``: (members, next cursor).

    Members are walked in :func:`scan_position` order, about ``count`` at a
    time; members sharing the page's last position all go in it, so a member
    present for the whole scan is returned at least once.
    """
    candidates = [(p, m) for m in members if (p := scan_position(m)) >= cursor]
    chosen = heapq.nsmallest(count, candidates)
    if len(chosen) < len(candidates):
        last = chosen[-1][0]
        chosen += [pm for pm in candidates if pm[0] == last and pm not in chosen]
        return [m for _, m in chosen], last + 1
    return [m for _, m in chosen], 0
