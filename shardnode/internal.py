"""Internal commands the proxy sends to a shard (``DF.*``).

Only links that presented the cluster secret (``DF.LINK``) may send them.

Sessions: ``DF.CTX <db> <proto> <flags> [<client-id>]`` sets what the link's
next requests run with; with a client id they run in that client's
:class:`~shardnode.sessions.ClientSession` (made on first use).  ``DF.GONE
<client-id>`` drops the session when the client disconnects.

Commands whose keys live on several shards run under key-level locks, which
the proxy's coordinator takes shard after shard in shard-id order (so two of
them never deadlock):

- ``DF.LOCK <client-id> <r|w|a> <n> [<db> <key>]*``: lock the keys (``a``:
  the whole shard) for the client's session; waits (parks) while another
  session holds them.  Replies 1 if a key the session WATCHes has changed,
  else 0.
- ``DF.EXEC <client-id> <flags> <n> [<db> <argc> <arg>*]*``: run commands
  back to back for the session (waiting for their keys first); flags ``w``:
  abort with a null reply if a watched key changed, and forget the watches;
  ``u``: release the session's locks afterwards.  Replies with the list of
  the commands' encoded replies.
- ``DF.UNLOCK <client-id>``: release the session's locks.

These name the client in an argument rather than with ``DF.CTX``, so a
coordinated command costs no context switches on a link busy with other
clients' plain requests.

When one command needs keys of two shards (RENAME, COPY, MSETNX, BITOP, LCS)
the values travel in Redis's DUMP format (the one serialiser,
:mod:`shardnode.values`), never as pickle:

- ``DF.EXPORT <db> key...``: ``[payload-or-nil, deadline-or--1]`` per key;
- ``DF.RUN <db> <n> [key payload deadline]* <command...>``: borrow the foreign
  keys, run the command, return ``[reply, key, payload, deadline ...]`` for
  the foreign keys it wrote, and give them back;
- ``DF.IMPORT <db> [key payload deadline]*``: the owners store the result
  through the keyspace (hooks fire there, where the keys live).
"""

import hmac

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY
from shardnode.memory import any_denyoom
from shardnode.registry import handler
from shardnode.sessions import ClientSession, lock_request
from shardnode.transactions import plan_locks, run_queued, watches_hold
from shardnode.rdb.encoding import KEEP_ENCODING
from shardnode.values import dump_payload, load_payload


@handler("df.link")
def df_link(conn, args):
    if not hmac.compare_digest(args[1], conn.server.secret):
        raise CommandError("ERR unknown command 'DF.LINK'")
    conn.internal = True
    conn.wrap = True
    conn.authenticated = True
    conn.parser.authenticated = True
    conn.sessions = {}
    conn.session = None
    return "OK"


@handler("df.ctx")
def df_ctx(conn, args):
    conn.on_select(parse_int(args[1]))
    conn.proto = parse_int(args[2])
    conn.notouch = b"t" in args[3]
    conn.session = _session(conn, args[4]) if len(args) > 4 else None
    return "OK"


@handler("df.gone")
def df_gone(conn, args):
    session = conn.sessions.pop(int(args[1]), None)
    if session is not None:
        if conn.session is session:
            conn.session = None
        conn.server.drop_session(session)
    return "OK"


@handler("df.wait")
def df_wait(conn, args):
    conn.server.blocking.add_wakeup(_session(conn, args[1]), conn, int(args[2]),
                                    int(args[3]), args[4], args[5:])
    return "OK"


@handler("df.unwait", "df.rewait")
def df_unwait(conn, args):
    session = conn.sessions.get(int(args[1]))
    if session is not None:
        conn.server.blocking.remove_wakeup(session, int(args[2]),
                                           args[0].lower() == b"df.rewait")
    return "OK"


@handler("df.unblock")
def df_unblock(conn, args):
    session = conn.sessions.get(int(args[1]))
    return int(conn.server.blocking.unblock(session, args[2] == b"1"))


def _session(conn, raw: bytes):
    """The session of proxy client ``raw`` on this link, made on first use."""
    client_id = int(raw)
    session = conn.sessions.get(client_id)
    if session is None:
        session = conn.sessions[client_id] = ClientSession(client_id)
    return session


def _pairs(args, start):
    n = parse_int(args[start])
    return [(int(args[i]), args[i + 1]) for i in range(start + 1, start + 1 + 2 * n, 2)]


@lock_request("df.lock")
def df_lock_wants(conn, args):
    session = _session(conn, args[1])
    mode = args[2]
    if mode == b"a":
        return (), True, True, session
    return _pairs(args, 3), mode == b"w", False, session


@handler("df.lock")
def df_lock(conn, args):
    session = _session(conn, args[1])
    locks = conn.server.locks
    if args[2] == b"a":
        locks.acquire_all(session)
    else:
        locks.acquire(session, _pairs(args, 3), args[2] == b"w")
    return 0 if watches_hold(conn, session) else 1


@handler("df.unlock")
def df_unlock(conn, args):
    conn.server.release_locks(_session(conn, args[1]))
    return "OK"


def _commands(args):
    """Decode ``<n> [<db> <argc> <arg>*]*`` from args[3:] into [(db, args)]."""
    n = parse_int(args[3])
    out = []
    i = 4
    for _ in range(n):
        db, argc = int(args[i]), int(args[i + 1])
        out.append((db, args[i + 2 : i + 2 + argc]))
        i += 2 + argc
    return out


def _with_selects(commands, current):
    """The commands as one list, with a SELECT wherever the database changes.

    The proxy answers SELECT itself, so every SELECT here is one added.
    """
    flat = []
    for db, cmd in commands:
        if db != current:
            flat.append(_SELECTS[db] if db < len(_SELECTS) else [b"SELECT", b"%d" % db])
            current = db
        flat.append(cmd)
    return flat


_SELECTS = [[b"SELECT", b"%d" % db] for db in range(16)]


@lock_request("df.exec")
def df_exec_wants(conn, args):
    commands = _commands(args)
    if not commands:
        return None
    entries, exclusive, whole = plan_locks(_with_selects(commands, conn.db_index), conn.db_index)
    return entries, exclusive, whole, _session(conn, args[1])


@handler("df.exec")
def df_exec(conn, args):
    session = _session(conn, args[1])
    flags = args[2]
    commands = _commands(args)
    if conn.server.memory.limit and any_denyoom(args for _, args in commands) \
            and conn.server.memory.out_of_memory():
        if b"w" in flags:
            conn.server.watches.unwatch_all(session)  # EXEC refused ends the watches too
        if b"u" in flags:
            conn.server.release_locks(session)
        raise CommandError(errors.OOM)  # the proxy makes it EXEC's EXECABORT
    start_db = conn.db_index
    flat = _with_selects(commands, start_db)
    try:
        if b"w" in flags:
            replies = run_queued(conn, flat, session)
        else:
            replies = conn.run_transaction(flat)
    finally:
        conn.on_select(start_db)
        if b"u" in flags:
            conn.server.release_locks(session)
    if replies is None:
        return NULL_ARRAY
    if len(flat) != len(commands):
        replies = [reply for cmd, reply in zip(flat, replies) if cmd[0] != b"SELECT"]
    return [b"" if reply is None else reply for reply in replies]


# -- values crossing shards ------------------------------------------------------


def _export(db, key):
    value = db.get(key)
    if value is None:
        return [None, -1]
    deadline = db.deadline(key)
    return [dump_payload(value), -1 if deadline is None else deadline]


@handler("df.export")
def df_export(conn, args):
    db = conn.server.keyspace.dbs[int(args[1])]
    out = []
    for key in args[2:]:
        out.extend(_export(db, key))
    return out


def _triples(args, start, count):
    for i in range(start, start + 3 * count, 3):
        payload = args[i + 1]
        deadline = int(args[i + 2])
        value = load_payload(payload, KEEP_ENCODING) if payload else None  # a move keeps it
        yield args[i], value, (
            None if deadline < 0 else deadline)


@handler("df.run")
def df_run(conn, args):
    db = conn.server.keyspace.dbs[int(args[1])]
    n = parse_int(args[2])
    command = args[3 + 3 * n :]
    if not command:
        raise CommandError("ERR DF.RUN without a command")
    foreign = []
    for key, value, deadline in _triples(args, 3, n):
        db.borrow(key, value, deadline)
        foreign.append(key)
    written = set()
    borrowed = set(foreign)
    owned_writes = []

    def track(wdb, key, slot):
        if wdb is db and key in borrowed:
            written.add(key)
        else:
            owned_writes.append((wdb, key))

    keyspace = conn.server.keyspace
    journal = keyspace.journal
    keyspace.write_listeners.append(track)
    try:  # the coordinator holds the locks; this shard journals only keys it owns
        with journal.suspended():
            reply = conn.run_transaction([command])[0]
    finally:
        keyspace.write_listeners.remove(track)
    for wdb, key in dict.fromkeys(owned_writes):
        journal.record_key_state(wdb, key)
    out = [reply if reply is not None else b""]
    for key in foreign:
        if key in written:
            out.append(key)
            out.extend(_export(db, key))
        db.give_back(key)
    return out


@handler("df.import")
def df_import(conn, args):
    db = conn.server.keyspace.dbs[int(args[1])]
    if (len(args) - 2) % 3:
        raise CommandError("ERR DF.IMPORT takes key/payload/deadline triples")
    journal = conn.server.keyspace.journal
    for key, value, deadline in _triples(args, 2, (len(args) - 2) // 3):
        if value is None:
            db.delete(key)
        else:
            db.set(key, value)
            if deadline is not None:
                db.set_deadline(key, deadline)
        journal.record_key_state(db, key)  # what the key is now, owned here
    return "OK"


@handler("df.journal")
def df_journal(conn, args):
    """DF.JOURNAL [count]: the last entries as commands, SELECTs included."""
    if len(args) > 2:
        raise CommandError(errors.SYNTAX)
    count = None
    if len(args) == 2:
        count = parse_int(args[1])
        if count < 0:
            raise CommandError(errors.SYNTAX)
    return conn.server.keyspace.journal.tail(count)
