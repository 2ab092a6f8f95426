"""SORT and SORT_RO as Redis 7.0's sort.c computes them, sans-IO.

What lives here, used by the shard that runs SORT (shardnode/sort.py) and by
the proxy that coordinates a SORT whose patterns name keys of other shards
(proxy/coordinator.py):

- :func:`parse_sort`: the option loop (BY, LIMIT, GET, ASC/DESC, ALPHA,
  STORE), with Redis's errors in Redis's order;
- :func:`pattern_target`: the key (and hash field) a BY/GET pattern names for
  one element -- lookupKeyByPattern's substitution, C strings included (the
  pattern is read up to its first NUL when looking for ``*`` and ``->``);
- :func:`pattern_keys`: every key a request's patterns can read for some
  elements (the proxy fetches those before the sort runs);
- :func:`sort_elements`: the sort itself over a source's elements, with the
  lookups passed in as functions, returning what SORT replies (or stores).

Comparison rules (sortCompare): numeric weights compare as doubles, ties by
the element's bytes; ALPHA compares with strcoll, which in the C locale is
strcmp -- byte order up to the first NUL -- except with STORE, where Redis
compares the whole strings (memcmp); with a BY pattern and ALPHA a missing
weight sorts first and ties keep their order (glibc's qsort is a stable
merge sort).  One difference remains: with a BY pattern *and* a LIMIT, Redis
uses its own partial quicksort, whose order of ALPHA ties we do not copy.
"""

from __future__ import annotations

from cluster import errors
from cluster.args import parse_int, parse_sort_weight
from cluster.errors import CommandError

# What a GET pattern names when it is the element itself ("GET #").
ELEMENT = "element"


class SortRequest:
    """The parsed options of one SORT/SORT_RO request."""

    __slots__ = ("desc", "alpha", "offset", "count", "store", "by", "gets", "dontsort")

    def __init__(self):
        self.desc = False
        self.alpha = False
        self.offset = 0
        self.count = -1
        self.store = None  # destination key (SORT ... STORE)
        self.by = None  # BY pattern
        self.gets: list = []  # GET patterns, in order
        self.dontsort = False  # BY without '*' (``nosort``): keep the source's order

    def key_patterns(self) -> list:
        """The patterns that read keys: GETs with a ``*``, and BY when it sorts."""
        patterns = [p for p in self.gets if pattern_target(p, b"") not in (None, ELEMENT)]
        if self.by is not None and not self.dontsort:
            patterns.append(self.by)
        return patterns


def _c_string(raw: bytes) -> bytes:
    """What C's string functions see of ``raw``: up to its first NUL."""
    nul = raw.find(b"\0")
    return raw if nul < 0 else raw[:nul]


def _is_hash_self(pattern: bytes) -> bool:
    return _c_string(pattern) == b"#"


def parse_sort(args: list, readonly: bool, cluster: bool = False) -> SortRequest:
    """SORT's options from ``args[2:]`` (sortCommandGeneric's loop).

    ``cluster``: refuse BY patterns and GET as Redis 7.0 does with cluster
    mode enabled (a shard's direct client in sharded mode); Redis 8 would
    accept patterns whose hash tag names the source's slot, 7.0 does not.
    """
    request = SortRequest()
    j = 2
    argc = len(args)
    while j < argc:
        left = argc - j - 1
        option = args[j].lower()
        if option == b"asc":
            request.desc = False
        elif option == b"desc":
            request.desc = True
        elif option == b"alpha":
            request.alpha = True
        elif option == b"limit" and left >= 2:
            request.offset = parse_int(args[j + 1])
            request.count = parse_int(args[j + 2])
            j += 2
        elif not readonly and option == b"store" and left >= 1:
            request.store = args[j + 1]
            j += 1
        elif option == b"by" and left >= 1:
            request.by = args[j + 1]
            if b"*" not in _c_string(request.by):
                request.dontsort = True
            elif cluster:
                raise CommandError(errors.SORT_BY_IN_CLUSTER)
            j += 1
        elif option == b"get" and left >= 1:
            if cluster:
                raise CommandError(errors.SORT_GET_IN_CLUSTER)
            request.gets.append(args[j + 1])
            j += 1
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    return request


def pattern_target(pattern: bytes, element: bytes):
    """The ``(key, field)`` a pattern names for ``element`` (field None: a
    string key), :data:`ELEMENT` for ``#``, or None when the pattern has no
    ``*`` (it names nothing)."""
    if _is_hash_self(pattern):
        return ELEMENT
    head = _c_string(pattern)
    star = head.find(b"*")
    if star < 0:
        return None
    arrow = head.find(b"->", star + 1)
    if arrow >= 0 and arrow + 2 < len(head):
        return pattern[:star] + element + pattern[star + 1 : arrow], pattern[arrow + 2 :]
    return pattern[:star] + element + pattern[star + 1 :], None


def pattern_keys(request: SortRequest, elements) -> list:
    """Every key the request's BY and GET patterns may read for ``elements``,
    without repeats (what the proxy fetches before running the sort)."""
    keys: dict = {}
    for pattern in request.key_patterns():
        for element in elements:
            keys[pattern_target(pattern, element)[0]] = None
    return list(keys)


def window(length: int, offset: int, count: int) -> tuple:
    """LIMIT's first and last positions (sortCommandGeneric's sanity checks):
    a negative offset is 0, a negative count means to the end."""
    start = max(offset, 0)
    end = length - 1 if count < 0 else start + count - 1
    if start >= length:
        start, end = length - 1, length - 2
    return start, min(end, length - 1)


def sort_elements(request: SortRequest, kind: str, elements: list, lookup) -> list:
    """SORT's result over a source of ``kind`` ("list", "set" or "zset"; a
    missing key is an empty list) whose elements are given in its own order
    (a sorted set's by rank).

    ``lookup(key, field)`` returns a string key's value (field None) or a
    hash field's value, or None (missing key, other type, missing field).
    Returns the reply's elements (None for a missing GET value); raises
    ``CommandError`` when a weight is no double.
    """
    dontsort, alpha, by = request.dontsort, request.alpha, request.by
    if dontsort and kind == "set" and request.store is not None:
        # A set's order is its hash table's: a stored result must not
        # depend on it (Redis sorts it as ALPHA then).
        dontsort, alpha, by = False, True, None
    start, end = window(len(elements), request.offset, request.count)
    if dontsort and kind != "set":
        # Lists and sorted sets keep their order, read from the tail for DESC.
        ordered = elements[::-1] if request.desc else elements
        vector = ordered[start : end + 1] if end >= start else []
        start, end = 0, len(vector) - 1
    elif dontsort:
        vector = elements
    else:
        vector = _sorted(request, elements, alpha, by, lookup)
    chosen = vector[start : end + 1] if end >= start else []
    if not request.gets:
        return list(chosen)
    out = []
    for element in chosen:
        for pattern in request.gets:
            target = pattern_target(pattern, element)
            if target is ELEMENT:
                out.append(element)
            elif target is None:
                out.append(None)
            else:
                out.append(lookup(*target))
    return out


def _weight_of(by, element, lookup):
    """The BY value of ``element`` (a BY pattern that sorts has a ``*``)."""
    return lookup(*pattern_target(by, element))


def _sorted(request, elements, alpha, by, lookup) -> list:
    desc = request.desc
    if alpha:
        whole = request.store is not None  # compareStringObjects, else strcoll
        if by is None:
            if whole:
                return sorted(elements, reverse=desc)
            return sorted(elements, key=_c_string, reverse=desc)
        keyed = []
        for element in elements:
            weight = _weight_of(by, element, lookup)
            if weight is None:
                keyed.append(((0, b""), element))
            else:
                keyed.append(((1, weight if whole else _c_string(weight)), element))
        keyed.sort(key=lambda pair: pair[0], reverse=desc)
        return [element for _weight, element in keyed]
    keyed = []
    failed = False
    for element in elements:
        raw = _weight_of(by, element, lookup) if by is not None else element
        if raw is None:
            score = 0.0
        else:
            score = parse_sort_weight(raw)
            if score is None:
                failed = True
                score = 0.0
        keyed.append((score, element))
    if failed:
        raise CommandError(errors.SORT_NOT_DOUBLE)
    keyed.sort(reverse=desc)
    return [element for _score, element in keyed]
