"""EXEC/WATCH/UNWATCH on a shard (MULTI and DISCARD are cluster/session.py's).

A direct client's transaction is Redis's: :meth:`ShardConnection.execute`
queues its commands while ``conn.multi`` is a list (generic checks first; a
failed check dooms the transaction), and EXEC runs them back to back.  Before
EXEC runs, every key its commands touch must be free of other clients' locks
(:data:`shardnode.sessions.LOCK_REQUESTS`); if one is not, EXEC waits like
any command, so a transaction never interleaves with a cross-shard one.

Through the proxy, WATCH and UNWATCH arrive on a link with the client's
session (``DF.CTX`` with its id) and EXEC arrives as ``DF.EXEC`` (see
shardnode/internal.py), which runs the same :func:`run_queued`.
"""

from __future__ import annotations

from cluster import errors
from cluster.commands import spec_of
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY, RawReply
from shardnode.db import slot_of
from shardnode.registry import handler
from shardnode.sessions import lock_request


def plan_locks(commands, db: int):
    """((db, key) pairs, exclusive, whole shard) for a list of commands.

    SELECT inside the list moves the database of the commands after it.
    """
    entries = []
    exclusive = whole = False
    for args in commands:
        spec = spec_of(args)
        if spec is None:
            continue
        if spec.name == "select" and len(args) == 2 and args[1].isdigit():
            db = int(args[1])
            continue
        if spec.is_write:
            exclusive = True
        if spec.has_keys:
            try:
                keys = spec.keys(args)
            except Exception:  # malformed: the command itself will say so
                continue
            entries.extend((db, key) for key in keys)
        elif spec.is_write and spec.route == "all":
            whole = True
    return entries, exclusive, whole


def watches_hold(conn, session) -> bool:
    """True if no key ``session`` watches has changed (expired ones count as changed)."""
    if not session.watched:
        return True
    dbs = conn.server.keyspace.dbs
    for db, key in session.watched:
        dbs[db].peek(key)  # lazy expiry fires the key-level hook
    return not session.dirty


def run_queued(conn, commands, session):
    """EXEC's work: the encoded replies of ``commands``, or None if a watch broke."""
    held = watches_hold(conn, session)
    conn.server.watches.unwatch_all(session)  # EXEC ends every watch
    return conn.run_transaction(commands) if held else None


# -- direct clients ------------------------------------------------------------


def _leave_multi(conn):
    queued, failed = conn.multi, conn.multi_failed
    conn.multi = None
    conn.multi_failed = False
    conn.refresh_plain()
    return queued, failed


def abort_exec(conn, reason: str) -> str:
    """EXEC refused by a generic check: the transaction and the watches end."""
    _leave_multi(conn)
    conn.unwatch()
    return errors.exec_abort(reason)


def _one_slot(conn, queued) -> bool:
    """Sharded mode: a direct client's transaction stays in one slot, as in Redis Cluster."""
    slot = None
    for args in queued:
        spec = spec_of(args)
        if spec is None or not spec.has_keys:
            continue
        for key in spec.keys(args):
            key_slot = slot_of(key)
            if slot is None:
                slot = key_slot
            elif key_slot != slot:
                return False
    return True


@handler("exec")
def exec_(conn, args):
    if conn.multi is None:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    queued = conn.multi
    if conn.slot_checked and not _one_slot(conn, queued):  # before EXECABORT, as Redis
        refused = errors.CROSSSLOT
    else:
        refused = errors.EXECABORT if conn.multi_failed else None
    if refused is not None:
        _leave_multi(conn)
        conn.unwatch()
        raise CommandError(refused)
    try:  # still in MULTI while its commands run (CLIENT INFO shows flags=x)
        replies = run_queued(conn, queued, conn.session)
    finally:
        _leave_multi(conn)
    if replies is None:
        return NULL_ARRAY
    replies = [reply for reply in replies if reply is not None]
    return RawReply(b"*%d\r\n%b" % (len(replies), b"".join(replies)))


@lock_request("exec")
def exec_locks(conn, args):
    if conn.multi is None or conn.multi_failed or not conn.multi:
        return None
    return plan_locks(conn.multi, conn.db_index) + (conn.session,)


@handler("watch")
def watch(conn, args):
    if conn.multi is not None:
        raise CommandError(errors.WATCH_IN_MULTI)
    session = conn.session
    if session is None:
        raise CommandError("ERR WATCH needs a client session")
    db = conn.db
    watches = conn.server.watches
    for key in args[1:]:
        db.peek(key)  # a key already past its deadline goes now, not after WATCH
        watches.watch(session, db.index, key)
    return "OK"


@lock_request("watch")
def _watch_waits_for_nothing(conn, args):
    return None


@handler("unwatch")
def unwatch(conn, args):
    conn.unwatch()
    return "OK"
