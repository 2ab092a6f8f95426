"""SORT and SORT_RO on a shard: read the source and the pattern keys here,
sort with the one sans-IO implementation (cluster/sorting.py), reply or
store the result as a list.

Every key the command reads must be on this shard: the proxy sends a SORT
whose patterns may name keys of other shards to its coordinator, which
lends this shard those keys for the one command (DF.RUN).  A direct client
in ``sharded`` mode gets Redis 7.0 Cluster's refusal of BY patterns and GET.

Like Redis 7.0, sorting a sorted set converts a listpack-encoded one to a
skiplist for good (zsetConvert in sortCommandGeneric).  SORT ... STORE is
journalled as sent, as Redis propagates it.
"""

from __future__ import annotations

from cluster import errors
from cluster.errors import CommandError
from cluster.sorting import parse_sort, sort_elements
from shardnode.hashes import Hash
from shardnode.lists import List, _new_list, _push
from shardnode.registry import handler
from shardnode.sets import RedisSet, ordered
from shardnode.zsets import SortedSet


def _source(value) -> tuple:
    """``(kind, elements in the value's own order)``; a missing key is an
    empty list, as in Redis."""
    if value is None:
        return "list", []
    kind = type(value)
    if kind is List:
        return "list", list(value)
    if kind is RedisSet:
        return "set", ordered(value)
    if kind is SortedSet:
        value.encoding = "skiplist"
        return "zset", [member for _score, member in value.order]
    raise CommandError(errors.WRONGTYPE)


def _lookup(db):
    """lookupKeyByPattern's read: a string key's value, a hash's field, or None."""

    def lookup(key, field):
        value = db.get(key)
        if field is None:
            return value if type(value) is bytes else None
        return value.get(field) if type(value) is Hash else None

    return lookup


def _sort(conn, args, readonly: bool):
    request = parse_sort(args, readonly, cluster=conn.server.sharded and not conn.internal)
    db = conn.db
    kind, elements = _source(db.get(args[1]))
    result = sort_elements(request, kind, elements, _lookup(db))
    if request.store is None:
        return result
    if result:
        stored = _new_list(conn)
        _push(stored, [b"" if element is None else element for element in result], left=False)
        db.set(request.store, stored)
    else:
        db.delete(request.store)
    return len(result)


@handler("sort")
def sort(conn, args):
    return _sort(conn, args, readonly=False)


@handler("sort_ro")
def sort_ro(conn, args):
    return _sort(conn, args, readonly=True)
