"""Per-client state on a shard, key-level locks and WATCH.

A shard serves two kinds of connection: clients that reach its port directly
(sharded cluster mode, tools) and proxy links, each shared by every client of
one proxy worker.  Either way the state a Redis client keeps on a server
(WATCHed keys, locks taken by its transaction, later a parked blocking
command and subscriptions) lives in a :class:`ClientSession`:

- a direct connection owns one session for its whole life;
- a link keeps one session per proxy client id, made when ``DF.CTX`` names a
  client and dropped by ``DF.GONE`` (the client went away) or when the link
  drops.  Requests that name no client (the hot path: GET, SET ...) run
  without a session: they need none.

:class:`LockTable` holds the key-level locks that make commands spanning
shards atomic (see proxy/coordinator.py).  A lock belongs to a session;
commands of other sessions that touch a locked key wait (they are *parked*,
see shardnode/node.py) while every other key keeps being served.  Readers
share a lock, writers take it alone; ``ALL`` locks the whole shard for
keyspace-wide commands (FLUSHALL inside a transaction).

:class:`WatchTable` maps each watched key to the sessions watching it; the
key-level hook (:meth:`shardnode.db.Keyspace.before_write`) marks them dirty.
Watches are per database *number*, as in Redis: SWAPDB leaves them in place.
"""

from __future__ import annotations

# Spec name -> function(conn, args) giving ((db, key) pairs, exclusive,
# whole_shard, session) for commands whose locks are not their key specs'
# (EXEC, DF.LOCK, DF.EXEC: the session is the client they run for), or None
# when they wait for nothing.
LOCK_REQUESTS: dict = {}


def lock_request(name: str):
    def register(fn):
        LOCK_REQUESTS[name] = fn
        return fn

    return register


class ClientSession:
    """What one client keeps on this shard."""

    __slots__ = ("client_id", "watched", "dirty", "locks", "lock_all", "waiting", "blocked",
                 "tracker", "monitor_addr")

    def __init__(self, client_id):
        self.client_id = client_id
        self.watched: set = set()  # {(db index, key)}
        self.dirty = False  # a watched key changed since WATCH
        self.locks: list = []  # [(db index, key)] held in the LockTable
        self.lock_all = False
        self.waiting = 0  # this session's parked requests (kept in order)
        self.blocked = None  # its request waiting for a key (shardnode/blocking.py Waiter)
        self.tracker = None  # its CLIENT TRACKING on this shard (shardnode/tracking.py)
        self.monitor_addr = None  # a proxy client's address, for MONITOR lines (DF.ADDR)

    def __repr__(self):
        return "<ClientSession %s>" % (self.client_id,)


class _Lock:
    __slots__ = ("owners", "exclusive")

    def __init__(self, owner, exclusive):
        self.owners = [owner]
        self.exclusive = exclusive


class LockTable:
    """Key-level locks: (db index, key) -> holders; one optional whole-shard holder."""

    def __init__(self):
        self.keys: dict = {}
        self.all_owner = None
        self.held = 0  # entries held, plus one for the whole-shard lock: 0 is the fast path

    def conflict(self, session, entries, exclusive: bool) -> bool:
        """Would ``session`` touching ``entries`` ((db, key) pairs) clash with another's lock?"""
        if self.all_owner is not None and self.all_owner is not session:
            return True
        table = self.keys
        if not table:
            return False
        for entry in entries:
            lock = table.get(entry)
            if lock is None:
                continue
            if lock.exclusive:
                if lock.owners[0] is not session:
                    return True
            elif exclusive and (len(lock.owners) > 1 or lock.owners[0] is not session):
                return True
        return False

    def conflict_any(self, session) -> bool:
        """A keyspace-wide write must wait for every other session's lock."""
        if self.all_owner is not None:
            return self.all_owner is not session
        for lock in self.keys.values():
            for owner in lock.owners:
                if owner is not session:
                    return True
        return False

    def acquire(self, session, entries, exclusive: bool) -> None:
        """Take the locks on (db, key) pairs (the caller checked :meth:`conflict` first)."""
        table = self.keys
        for entry in entries:
            lock = table.get(entry)
            if lock is None:
                table[entry] = _Lock(session, exclusive)
                session.locks.append(entry)
                self.held += 1
            elif session not in lock.owners:
                lock.owners.append(session)
                session.locks.append(entry)
            elif exclusive:
                lock.exclusive = True

    def acquire_all(self, session) -> None:
        if self.all_owner is None:
            self.all_owner = session
            session.lock_all = True
            self.held += 1

    def release(self, session) -> bool:
        """Drop every lock of ``session``; True if it held any."""
        released = False
        if session.lock_all:
            session.lock_all = False
            self.all_owner = None
            self.held -= 1
            released = True
        if session.locks:
            table = self.keys
            for entry in session.locks:
                lock = table.get(entry)
                if lock is None or session not in lock.owners:
                    continue
                lock.owners.remove(session)
                if not lock.owners:
                    del table[entry]
                    self.held -= 1
            session.locks = []
            released = True
        return released


class WatchTable:
    """db index -> {key: [sessions]}; marks sessions dirty when a key changes."""

    def __init__(self, dbnum: int):
        self.by_db = [dict() for _ in range(dbnum)]
        self.count = 0  # watched (session, key) pairs: 0 keeps the write hook off

    def watch(self, session, db: int, key: bytes) -> None:
        entry = (db, key)
        if entry in session.watched:
            return
        session.watched.add(entry)
        self.by_db[db].setdefault(key, []).append(session)
        self.count += 1

    def unwatch_all(self, session) -> None:
        for db, key in session.watched:
            sessions = self.by_db[db].get(key)
            if sessions is not None and session in sessions:
                sessions.remove(session)
                self.count -= 1
                if not sessions:
                    del self.by_db[db][key]
        session.watched = set()
        session.dirty = False

    def touch(self, db: int, key: bytes) -> None:
        """The key-level hook: ``key`` of database ``db`` is about to change."""
        sessions = self.by_db[db].get(key)
        if sessions:
            for session in sessions:
                session.dirty = True

    def touch_db(self, db: int, exists) -> None:
        """FLUSHDB/FLUSHALL/SWAPDB: every watched key that ``exists(key)`` changes."""
        for key, sessions in self.by_db[db].items():
            if exists(key):
                for session in sessions:
                    session.dirty = True
