"""Internal commands the proxy sends to a shard (``DF.*``).

Coordinated commands (keys on several shards) run like this, driven by the
proxy's coordinator on dedicated links:

1. ``DF.LOCK`` on every shard involved, in shard-id order;
2. ``DF.EXPORT`` the keys that live elsewhere than the executing shard;
3. ``DF.RUN`` on the executing shard: the foreign keys are installed, the
   command runs as if all keys were local, and the foreign keys it wrote are
   returned with their new state (then removed again);
4. ``DF.IMPORT`` that state back on the owners; ``DF.UNLOCK`` everywhere.

A value travels as a pickle of ``(value, deadline_ms or None)``; only links
that presented the cluster secret may send these commands.
"""

import hmac
import pickle

from cluster.args import parse_int
from cluster.errors import CommandError
from shardnode.db import slot_of
from shardnode.registry import handler


@handler("df.link")
def df_link(conn, args):
    if not hmac.compare_digest(args[1], conn.server.secret):
        raise CommandError("ERR unknown command 'DF.LINK'")
    conn.internal = True
    conn.authenticated = True
    conn.parser.authenticated = True
    return "OK"


@handler("df.ctx")
def df_ctx(conn, args):
    conn.on_select(parse_int(args[1]))
    conn.proto = parse_int(args[2])
    flags = args[3]
    conn.notouch = b"t" in flags
    return "OK"


@handler("df.lock")
def df_lock(conn, args):
    # Dispatch already made other holders' commands wait, so the shard is free.
    conn.server.acquire(conn)
    return "OK"


@handler("df.unlock")
def df_unlock(conn, args):
    conn.server.release(conn)
    return "OK"


def export_value(db, key):
    value = db.get(key)
    if value is None:
        return None
    return pickle.dumps((value, db.deadline(key)), protocol=5)


@handler("df.export")
def df_export(conn, args):
    return [export_value(conn.db, key) for key in args[1:]]


def install(db, key, blob):
    """Place a foreign key's value without firing write hooks."""
    slot = slot_of(key)
    bucket = db.slots.setdefault(slot, {})
    if key in bucket:
        db._remove(key, slot, bucket)
        bucket = db.slots.setdefault(slot, {})
    if blob:
        value, deadline = pickle.loads(blob)
        bucket[key] = value
        db.size += 1
        if deadline is not None:
            db.expires[key] = deadline
    elif not bucket:
        del db.slots[slot]


def uninstall(db, key):
    slot = slot_of(key)
    bucket = db.slots.get(slot)
    if bucket is not None and key in bucket:
        db._remove(key, slot, bucket)


@handler("df.run")
def df_run(conn, args):
    n = parse_int(args[1])
    pairs = args[2 : 2 + 2 * n]
    command = args[2 + 2 * n :]
    if not command:
        raise CommandError("ERR DF.RUN without a command")
    db = conn.db
    foreign = {}
    for i in range(0, len(pairs), 2):
        foreign[pairs[i]] = pairs[i + 1]
        install(db, pairs[i], pairs[i + 1])
    written = {}

    def track(wdb, key, slot):
        if key in foreign:
            written[(wdb.index, key)] = wdb

    keyspace = conn.server.keyspace
    keyspace.write_listeners.append(track)
    try:
        # Run through the normal dispatch, unwrapped and without slot checks.
        conn.internal = False
        sharded = conn.server.sharded
        conn.server.sharded = False
        try:
            reply = conn.execute(command)
        finally:
            conn.internal = True
            conn.server.sharded = sharded
    finally:
        keyspace.write_listeners.remove(track)
    out = [reply if reply is not None else b""]
    for (index, key), wdb in written.items():
        if wdb is db:
            out.append(key)
            out.append(export_value(db, key) or b"")
    for key in foreign:
        uninstall(db, key)
    return out


@handler("df.import")
def df_import(conn, args):
    db = conn.db
    if len(args) % 2 == 0:
        raise CommandError("ERR DF.IMPORT takes key/value pairs")
    for i in range(1, len(args), 2):
        key, blob = args[i], args[i + 1]
        if blob:
            value, deadline = pickle.loads(blob)
            db.set(key, value)
            if deadline is not None:
                db.set_deadline(key, deadline)
        else:
            db.delete(key)
    return "OK"

