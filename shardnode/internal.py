"""Internal commands the proxy sends to a shard (``DF.*``).

Only links that presented the cluster secret (``DF.LINK``) may send them.

Sessions: ``DF.CTX <db> <proto> <flags> [<client-id>]`` sets what the link's
next requests run with; with a client id they run in that client's
:class:`~shardnode.sessions.ClientSession` (made on first use).  ``DF.GONE
<client-id>`` drops the session when the client disconnects.

Commands whose keys live on several shards run under key-level locks, which
the proxy's coordinator takes shard after shard in shard-id order (so two of
them never deadlock):

- ``DF.LOCK <client-id> <r|w|a>[o|s] <n> [<db> <key>]* [<command> <script>]*``:
  lock the keys (``a``: the whole shard) for the client's session; waits
  (parks) while another session holds them.  Replies 1 if a key the session
  WATCHes has changed, else 0.  With ``o`` it first refuses with -OOM (and
  locks nothing) while the shard is out of memory: the coordinator checks
  every shard of a denyoom command before any part runs; with ``s``, the
  same only if one of the trailing script commands (``EVALSHA <sha>``,
  ``FCALL <function>``) counts as denyoom by its declared flags here.
- ``DF.EXEC <client-id> <flags> <n> [<db> <argc> <arg>*]*``: run commands
  back to back for the session (waiting for their keys first); flags ``w``:
  abort with a null reply if a watched key changed, and forget the watches;
  ``u``: release the session's locks afterwards; ``m``: memory was checked
  in the lock round (DF.LOCK ``o``), run even if the shard is out of memory
  now (without it a queue with a denyoom command is refused with -OOM);
  ``n``: journal nothing (a proxy-mode script after
  ``redis.set_repl(redis.REPL_NONE)``).  Replies with the list of the
  commands' encoded replies.
- ``DF.UNLOCK <client-id>``: release the session's locks.

These name the client in an argument rather than with ``DF.CTX``, so a
coordinated command costs no context switches on a link busy with other
clients' plain requests.

When one command needs keys of two shards (RENAME, COPY, MSETNX, BITOP, LCS)
the values travel in Redis's DUMP format (the one serialiser,
:mod:`shardnode.values`), never as pickle:

- ``DF.EXPORT <db> key...``: ``[payload-or-nil, deadline-or--1]`` per key;
- ``DF.RUN <db>[o] <n> [key payload deadline]* <command...>``: borrow the
  foreign keys, run the command, return ``[reply, key, payload, deadline,
  events ...]`` for the foreign keys it wrote, and give them back (``o``: a
  lending shard is out of memory -- a script meets the limit at its first
  denyoom call, as on that shard);
- ``DF.IMPORT <db> [key payload deadline events]*``: the owners store the
  result through the keyspace (hooks fire there, where the keys live) and
  publish the key's keyspace notifications.

``events`` is what the command published for that key while it was borrowed
(shardnode/notify.py: collected on the executing shard, published by the
owner), as ``<class bit> <event>`` pairs separated by spaces; empty when
notifications are off.
"""

import hmac

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError
from cluster.resp import NULL_ARRAY
from shardnode.memory import any_denyoom
from shardnode.scripting import script_denies_oom
from shardnode.registry import handler
from shardnode.sessions import ClientSession, lock_request
from shardnode.transactions import plan_locks, run_queued, watches_hold
from shardnode.rdb.encoding import KEEP_ENCODING
from shardnode.values import dump_payload, load_payload
from cluster.tracking import Tracking


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
    server = conn.server
    server.links_by_worker[parse_int(args[2])] = conn
    if server.monitors.targets:  # shardnode/monitor.py
        from shardnode.monitor import announce

        announce(conn, True)
    if conn.server.told_refusal is not None:  # after the reply: the proxy's PING follows it
        conn.emit(conn.server.state_frame())
    if conn.server.told_memory:  # a limit: the proxy checks it (ShardServer.note_memory)
        conn.emit(conn.server.memory_frame())
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
    mode = args[2][:1]
    if mode == b"a":
        return (), True, True, session
    return _pairs(args, 3), mode == b"w", False, session


@handler("df.lock")
def df_lock(conn, args):
    session = _session(conn, args[1])
    mode = args[2]
    if len(mode) > 1 and conn.server.memory.limit and _refused_for_memory(conn, args):
        raise CommandError(errors.OOM)  # before the WATCH check, as Redis's EXEC
    locks = conn.server.locks
    if mode[:1] == b"a":
        locks.acquire_all(session)
    else:
        locks.acquire(session, _pairs(args, 3), mode[:1] == b"w")
    return 0 if watches_hold(conn, session) else 1


def _refused_for_memory(conn, args) -> bool:
    """DF.LOCK's memory check (``o``, or ``s`` with script commands)."""
    if args[2][1:] == b"s":
        refs = args[4 + 2 * parse_int(args[3]):]
        if not any(script_denies_oom(refs[i:i + 2]) for i in range(0, len(refs), 2)):
            return False
    return conn.server.memory.out_of_memory()


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
    if conn.server.memory.limit and b"m" not in flags \
            and any_denyoom(args for _, args in commands) and conn.server.memory.out_of_memory():
        if b"w" in flags:
            conn.server.watches.unwatch_all(session)  # EXEC refused ends the watches too
        if b"u" in flags:
            conn.server.release_locks(session)
        raise CommandError(errors.OOM)  # the proxy makes it EXEC's EXECABORT
    start_db = conn.db_index
    flat = _with_selects(commands, start_db)
    try:
        if b"n" in flags:  # a proxy-mode script's command after redis.set_repl(REPL_NONE)
            with conn.server.keyspace.journal.suspended():
                replies = conn.run_transaction(flat)
        elif b"w" in flags:
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
    db = conn.server.keyspace.dbs[int(args[1].rstrip(b"o"))]
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
    notifier = journal.notifier
    if notifier is not None:  # the borrowed keys' events go to their owners
        notifier.capture = {(db.index, key): [] for key in foreign}
    keyspace.write_listeners.append(track)
    conn.oom_elsewhere = args[1].endswith(b"o")
    try:  # the coordinator holds the locks; this shard journals only keys it owns
        with journal.suspended():
            reply = conn.run_transaction([command])[0]
    finally:
        conn.oom_elsewhere = False
        keyspace.write_listeners.remove(track)
        captured = notifier.capture if notifier is not None else None
        if notifier is not None:
            notifier.capture = None
    for wdb, key in dict.fromkeys(owned_writes):
        journal.record_key_state(wdb, key)
    out = [reply if reply is not None else b""]
    for key in foreign:
        events = captured.get((db.index, key)) if captured else None
        if key in written or events:
            out.append(key)
            out.extend(_export(db, key))
            out.append(b" ".join(b"%d %b" % pair for pair in events) if events else b"")
        db.give_back(key)
    return out


@handler("df.import")
def df_import(conn, args):
    db = conn.server.keyspace.dbs[int(args[1])]
    if (len(args) - 2) % 4:
        raise CommandError("ERR DF.IMPORT takes key/payload/deadline/events quads")
    journal = conn.server.keyspace.journal
    notifier = journal.notifier
    for i in range(2, len(args), 4):
        key, payload, deadline = args[i], args[i + 1], int(args[i + 2])
        value = load_payload(payload, KEEP_ENCODING) if payload else None  # a move keeps it
        if notifier is not None:
            notifier.muted += 1  # storing the result is no event of its own
        try:
            if value is None:
                db.delete(key)
            else:
                db.set(key, value)
                if deadline >= 0:
                    db.set_deadline(key, deadline)
        finally:
            if notifier is not None:
                notifier.muted -= 1
        journal.record_key_state(db, key)  # what the key is now, owned here
        if notifier is not None and args[i + 3]:
            pairs = args[i + 3].split(b" ")
            notifier.replay(db.index, key, [(int(pairs[j]), pairs[j + 1])
                                            for j in range(0, len(pairs), 2)])
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


# -- CLIENT TRACKING and MONITOR for proxy clients (shardnode/tracking.py,
# shardnode/monitor.py) ------------------------------------------------------


@handler("df.track")
def df_track(conn, args):
    """DF.TRACK <client-id> <flags|-> [<proto> <redirect> <prefix>*]: a proxy
    client's CLIENT TRACKING (flags as cluster.tracking.Tracking.flags_arg)."""
    session = _session(conn, args[1])
    tracking = conn.server.tracking
    if args[2] == b"-":
        tracking.disable(session)
        return "OK"
    options = Tracking.from_flags(args[2], parse_int(args[4]), args[5:])
    tracking.enable(conn, session, int(args[1]), options, parse_int(args[3]))
    return "OK"


@handler("df.ack")
def df_ack(conn, args):
    """DF.ACK <token>: this link's worker wrote the invalidations pushed
    before the shard's K <token> frame (shardnode/tracking.py)."""
    conn.server.tracking.ack(conn, parse_int(args[1]))
    return "OK"


@handler("df.noclient")
def df_noclient(conn, args):
    """DF.NOCLIENT <client-id>: the link's worker has no such client: a
    REDIRECT target went away (shardnode/tracking.py)."""
    conn.server.tracking.target_gone(parse_int(args[1]))
    return "OK"


@handler("df.caching")
def df_caching(conn, args):
    """DF.CACHING <client-id> <y|->: CLIENT CACHING holds (or no longer) for
    the proxy client's next command."""
    session = conn.sessions.get(int(args[1]))
    if session is not None and session.tracker is not None:
        session.tracker.options.caching = args[2] == b"y"
    return "OK"


@handler("df.monitor")
def df_monitor(conn, args):
    """DF.MONITOR <client-id> [off]: a proxy client monitors (its lines go on
    this link), or no longer (RESET)."""
    session = _session(conn, args[1])
    if len(args) > 2:
        conn.server.monitors.remove(session)
    else:
        conn.server.monitors.add(session, conn, int(args[1]))
    return "OK"


@handler("df.addr")
def df_addr(conn, args):
    """DF.ADDR <client-id> <addr>: the proxy client's address, for monitor lines."""
    _session(conn, args[1]).monitor_addr = args[2].decode("utf-8", "replace")
    return "OK"


@handler("df.monlog")
def df_monlog(conn, args):
    """DF.MONLOG <db> <addr> <command...>: a command a proxy worker answered
    itself, for the proxy's monitors."""
    monitors = conn.server.monitors
    if monitors.targets:
        monitors.send(parse_int(args[1]), args[2].decode("utf-8", "replace"), args[3:],
                      links_only=True)
    return "OK"
