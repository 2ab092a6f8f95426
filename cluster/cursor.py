"""SCAN-family arguments, parsed as Redis parses them (db.c scanGenericCommand).

Shared by the proxy (which validates the cursor before routing SCAN) and the
shards (SCAN, and the HSCAN/SSCAN/ZSCAN of the type families).
"""

from __future__ import annotations

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
