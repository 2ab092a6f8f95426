"""Keyspace commands (Redis's db.c / expire.c, the "generic" group)."""

import fnmatch

from shardnode.registry import handler


@handler("del")
def del_(conn, args):
    db = conn.db
    return sum(1 for key in args[1:] if db.delete(key))


@handler("exists")
def exists(conn, args):
    db = conn.db
    return sum(1 for key in args[1:] if db.get(key) is not None)


@handler("keys")
def keys(conn, args):
    db = conn.db
    pattern = args[1]
    out = []
    for bucket in list(db.slots.values()):
        for key in list(bucket):
            if fnmatch.fnmatchcase(key, pattern) and db.get(key) is not None:
                out.append(key)
    return out
