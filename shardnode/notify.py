"""Keyspace notifications: the events Redis publishes when keys change.

``notify_keyspace_events`` (cluster/config.py parses Redis's letters into
bits) chooses the classes; each event goes to ``__keyspace@<db>__:<key>``
(message: the event) with K and to ``__keyevent@<db>__:<event>`` (message:
the key) with E.  Every shard publishes the events of the keys it owns,
through its sink (the shard's pub/sub hub: :meth:`Notifier.sink`).

Off (the default) costs one check per command: ``journal.notifier`` is None
and nothing is attached.  On, a :class:`Notifier` hangs off the journal:

- **Hook 1** (``Keyspace.write_listeners``): :meth:`Notifier.key_written`
  notes each key a command writes, in the order it is first written, and
  publishes ``new`` (n) at once for a key being created, as Redis's dbAdd
  does.
- **Expiry and eviction** go through the journal (``Journal.expired``,
  ``Journal.evicted``), which calls :meth:`Notifier.expired` /
  :meth:`Notifier.evicted`: ``expired`` (x) or ``evicted`` (e) at once, and
  the key stops counting as written by the running command.
- **Hook 2**, after the command (``ShardConnection.execute``, next to the
  journal): :meth:`Notifier.command_done` publishes, per written key, the
  command's event.  The default comes from :data:`EVENTS`, one entry per
  write command of the command table (a unit test keeps it complete): the
  event's name and class, and what a key that is gone after the command
  gets -- ``del`` after the event (a container a pop, REM or trim emptied:
  ``lpop`` then ``del``), or ``del`` alone (a STORE whose result was empty
  deletes its destination: just ``del``).
- Where the event depends on what the command did (SET .. EX: ``set`` then
  ``expire``; LMOVE: ``rpush`` on the destination, ``lpop`` on the source;
  RENAME: ``rename_from``/``rename_to``; ZADD INCR: ``zincr``; GETEX;
  XADD's trim; XREADGROUP's new consumer) the handler says so with
  :func:`notify`, which publishes at once, as Redis does from inside the
  command; a key a handler named gets no default event, only the ``del``
  when it is gone and the handler's last event for it did not remove it
  (:func:`quiet`: a written key Redis publishes nothing for).
- **Key misses** (m): after a read command, ``keymiss`` for each key of its
  key spec that is missing (:data:`NO_LOOKUP`, :data:`LOOKUPS_PER_KEY` for
  the exceptions); after a write command, for the keys it reads
  (:data:`READ_KEYS`); the few that read a key they then create or delete
  say it first (:func:`key_misses`).  A command that fails keeps its misses
  and publishes nothing for what it wrote (:meth:`Notifier.command_failed`).
- A write over a key whose TTL has passed but that no lookup expired (SET's
  fast path, MSET) publishes ``expired`` and ``new`` first, as Redis, which
  expires it in that lookup (:attr:`Notifier.stale`).

The journal's AOF form alone cannot give these events (INCRBYFLOAT is
journalled as SET, SET .. EX as one SET .. PXAT, a DEL of three keys of which
one existed as DEL of the three): hence the keys from Hook 1 and the names
from the command table.

Cross-shard commands (DF.RUN, shardnode/internal.py): the executing shard
publishes the events of its own keys and collects those of the borrowed
keys (:attr:`Notifier.capture`); the coordinator hands them with the key's
new state to the owner's DF.IMPORT, which publishes them there
(:meth:`Notifier.replay`), so a RENAME across shards gives ``rename_from``
on the source key's shard and ``rename_to`` on the destination's.
"""

from __future__ import annotations

from cluster.config import KEYSPACE_EVENT_BITS
from cluster.slots import key_slot

KEYSPACE = KEYSPACE_EVENT_BITS["K"]
KEYEVENT = KEYSPACE_EVENT_BITS["E"]
GENERIC = KEYSPACE_EVENT_BITS["g"]
STRING = KEYSPACE_EVENT_BITS["$"]
LIST = KEYSPACE_EVENT_BITS["l"]
SET = KEYSPACE_EVENT_BITS["s"]
HASH = KEYSPACE_EVENT_BITS["h"]
ZSET = KEYSPACE_EVENT_BITS["z"]
EXPIRED = KEYSPACE_EVENT_BITS["x"]
EVICTED = KEYSPACE_EVENT_BITS["e"]
STREAM = KEYSPACE_EVENT_BITS["t"]
NEW = KEYSPACE_EVENT_BITS["n"]
KEY_MISS = KEYSPACE_EVENT_BITS["m"]

# Events after which a key is gone by design: no ``del`` follows them.
REMOVALS = frozenset((b"del", b"rename_from", b"move_from", b"expired", b"evicted"))

THEN_DEL = False  # a key gone after the command: its event, then ``del``
DEL_ONLY = True  # a key gone after the command: ``del`` alone

# Write command -> (event or None for none, class, what a vanished key gets),
# checked against redis-server 7.0 (tests/differential/test_notifications.py).
# "explicit": the handler names its events with notify(); the entry is the
# fallback for keys it did not name.
EVENTS = {
    # strings ($); SET/SETEX/PSETEX/GETEX with a TTL add "expire": explicit
    "set": (b"set", STRING, THEN_DEL),
    "setnx": (b"set", STRING, THEN_DEL),
    "setex": (b"set", STRING, THEN_DEL),
    "psetex": (b"set", STRING, THEN_DEL),
    "getex": (None, STRING, THEN_DEL),  # explicit: expire, persist or del
    "getdel": (b"del", GENERIC, THEN_DEL),
    "getset": (b"set", STRING, THEN_DEL),
    "mset": (b"set", STRING, THEN_DEL),
    "msetnx": (b"set", STRING, THEN_DEL),
    "append": (b"append", STRING, THEN_DEL),
    "setrange": (b"setrange", STRING, THEN_DEL),
    "incr": (b"incrby", STRING, THEN_DEL),
    "decr": (b"incrby", STRING, THEN_DEL),
    "incrby": (b"incrby", STRING, THEN_DEL),
    "decrby": (b"incrby", STRING, THEN_DEL),
    "incrbyfloat": (b"incrbyfloat", STRING, THEN_DEL),
    # bitmaps (string class)
    "setbit": (b"setbit", STRING, THEN_DEL),
    "bitop": (b"set", STRING, DEL_ONLY),
    "bitfield": (b"setbit", STRING, THEN_DEL),
    # keyspace (generic)
    "del": (b"del", GENERIC, THEN_DEL),
    "unlink": (b"del", GENERIC, THEN_DEL),
    "rename": (None, GENERIC, THEN_DEL),  # explicit: rename_from, rename_to
    "renamenx": (None, GENERIC, THEN_DEL),
    "copy": (b"copy_to", GENERIC, THEN_DEL),
    "move": (None, GENERIC, THEN_DEL),  # explicit: move_from, move_to (other db)
    "restore": (b"restore", GENERIC, DEL_ONLY),
    "expire": (b"expire", GENERIC, DEL_ONLY),
    "pexpire": (b"expire", GENERIC, DEL_ONLY),
    "expireat": (b"expire", GENERIC, DEL_ONLY),
    "pexpireat": (b"expire", GENERIC, DEL_ONLY),
    "persist": (b"persist", GENERIC, THEN_DEL),
    "sort": (b"sortstore", LIST, DEL_ONLY),
    # sets
    "sadd": (b"sadd", SET, THEN_DEL),
    "srem": (b"srem", SET, THEN_DEL),
    "spop": (b"spop", SET, THEN_DEL),
    "smove": (None, SET, THEN_DEL),  # explicit: srem source, sadd destination
    "sinterstore": (b"sinterstore", SET, DEL_ONLY),
    "sunionstore": (b"sunionstore", SET, DEL_ONLY),
    "sdiffstore": (b"sdiffstore", SET, DEL_ONLY),
    # hashes
    "hset": (b"hset", HASH, THEN_DEL),
    "hmset": (b"hset", HASH, THEN_DEL),
    "hsetnx": (b"hset", HASH, THEN_DEL),
    "hdel": (b"hdel", HASH, THEN_DEL),
    "hincrby": (b"hincrby", HASH, THEN_DEL),
    "hincrbyfloat": (b"hincrbyfloat", HASH, THEN_DEL),
    # sorted sets
    "zadd": (b"zadd", ZSET, THEN_DEL),  # with INCR: zincr (explicit)
    "zincrby": (b"zincr", ZSET, THEN_DEL),
    "zrem": (b"zrem", ZSET, THEN_DEL),
    "zremrangebyrank": (b"zremrangebyrank", ZSET, THEN_DEL),
    "zremrangebyscore": (b"zremrangebyscore", ZSET, THEN_DEL),
    "zremrangebylex": (b"zremrangebylex", ZSET, THEN_DEL),
    "zpopmin": (b"zpopmin", ZSET, THEN_DEL),
    "zpopmax": (b"zpopmax", ZSET, THEN_DEL),
    "bzpopmin": (b"zpopmin", ZSET, THEN_DEL),
    "bzpopmax": (b"zpopmax", ZSET, THEN_DEL),
    "zmpop": (None, ZSET, THEN_DEL),  # explicit: zpopmin or zpopmax
    "bzmpop": (None, ZSET, THEN_DEL),
    "zrangestore": (b"zrangestore", ZSET, DEL_ONLY),
    "zunionstore": (b"zunionstore", ZSET, DEL_ONLY),
    "zinterstore": (b"zinterstore", ZSET, DEL_ONLY),
    "zdiffstore": (b"zdiffstore", ZSET, DEL_ONLY),
    # lists
    "lpush": (b"lpush", LIST, THEN_DEL),
    "rpush": (b"rpush", LIST, THEN_DEL),
    "lpushx": (b"lpush", LIST, THEN_DEL),
    "rpushx": (b"rpush", LIST, THEN_DEL),
    "lpop": (b"lpop", LIST, THEN_DEL),
    "rpop": (b"rpop", LIST, THEN_DEL),
    "blpop": (b"lpop", LIST, THEN_DEL),
    "brpop": (b"rpop", LIST, THEN_DEL),
    "lmpop": (None, LIST, THEN_DEL),  # explicit: lpop or rpop
    "blmpop": (None, LIST, THEN_DEL),
    "lset": (b"lset", LIST, THEN_DEL),
    "linsert": (b"linsert", LIST, THEN_DEL),
    "lrem": (b"lrem", LIST, THEN_DEL),
    "ltrim": (b"ltrim", LIST, THEN_DEL),
    "lmove": (None, LIST, THEN_DEL),  # explicit: push on destination, pop on source
    "blmove": (None, LIST, THEN_DEL),
    "rpoplpush": (None, LIST, THEN_DEL),
    "brpoplpush": (None, LIST, THEN_DEL),
    # streams
    "xadd": (b"xadd", STREAM, THEN_DEL),  # then xtrim when it trimmed (explicit)
    "xdel": (b"xdel", STREAM, THEN_DEL),
    "xtrim": (b"xtrim", STREAM, THEN_DEL),
    "xsetid": (b"xsetid", STREAM, THEN_DEL),
    "xreadgroup": (None, STREAM, THEN_DEL),  # explicit: xgroup-createconsumer
    "xack": (None, STREAM, THEN_DEL),
    "xclaim": (None, STREAM, THEN_DEL),  # explicit: xgroup-createconsumer
    "xautoclaim": (None, STREAM, THEN_DEL),
    "xgroup|create": (b"xgroup-create", STREAM, THEN_DEL),
    "xgroup|setid": (b"xgroup-setid", STREAM, THEN_DEL),
    "xgroup|destroy": (b"xgroup-destroy", STREAM, THEN_DEL),
    "xgroup|createconsumer": (b"xgroup-createconsumer", STREAM, THEN_DEL),
    "xgroup|delconsumer": (b"xgroup-delconsumer", STREAM, THEN_DEL),
    # hyperloglog (string class; PFMERGE says pfadd)
    "pfadd": (b"pfadd", STRING, THEN_DEL),
    "pfmerge": (b"pfadd", STRING, THEN_DEL),
    "pfdebug": (None, STRING, THEN_DEL),
    # geo (zset class): GEOADD is Redis's ZADD underneath
    "geoadd": (b"zadd", ZSET, THEN_DEL),
    "geosearchstore": (b"geosearchstore", ZSET, DEL_ONLY),
    "georadius": (b"georadiusstore", ZSET, DEL_ONLY),
    "georadiusbymember": (b"georadiusstore", ZSET, DEL_ONLY),
    # server: FLUSHDB/FLUSHALL/SWAPDB publish nothing in 7.0
    "flushdb": (None, GENERIC, THEN_DEL),
    "flushall": (None, GENERIC, THEN_DEL),
    "swapdb": (None, GENERIC, THEN_DEL),
    # functions touch no key
    "function|load": (None, GENERIC, THEN_DEL),
    "function|delete": (None, GENERIC, THEN_DEL),
    "function|flush": (None, GENERIC, THEN_DEL),
    "function|restore": (None, GENERIC, THEN_DEL),
    # internal: the command's own events (DF.RUN) or those handed over (DF.IMPORT)
    "df.run": (None, GENERIC, THEN_DEL),
    "df.import": (None, GENERIC, THEN_DEL),
}
_NO_EVENT = (None, GENERIC, THEN_DEL)  # a read that wrote (PFCOUNT's cache): nothing

# Key misses (m): Redis publishes ``keymiss`` where a command looks a key up
# to read it and finds nothing (lookupKeyRead).  A read command does so for
# every key of its key spec, but for these, which look nothing up:
NO_LOOKUP = frozenset((
    "watch", "object|encoding", "object|freq", "object|idletime", "object|refcount",
    "eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro",  # their commands do
    "spublish", "ssubscribe", "sunsubscribe",  # channels, not keys
))
LOOKUPS_PER_KEY = {"xread": 2}  # XREAD looks each stream up twice (checked)
# A write command reads these of its keys so; a key it also wrote is left
# out (SINTERSTORE a a b).  GETSET, SET .. GET, GETEX, GETDEL and PFMERGE
# read a key they then create or delete: their handlers say keymiss, first,
# with key_misses().
_FIRST = slice(0, 1)
_SOURCES = slice(1, None)
READ_KEYS = {
    "copy": _FIRST, "sort": _FIRST,
    "georadius": _FIRST, "georadiusbymember": _FIRST, "xclaim": _FIRST,
    "xautoclaim": _FIRST, "xreadgroup": slice(None),
    "sinterstore": _SOURCES, "sunionstore": _SOURCES, "sdiffstore": _SOURCES,
    "zunionstore": _SOURCES, "zinterstore": _SOURCES, "zdiffstore": _SOURCES,
    "zrangestore": _SOURCES, "geosearchstore": _SOURCES, "bitop": _SOURCES,
}


class Notifier:
    """A shard's keyspace notifications while ``notify_keyspace_events`` has a class.

    ``sink(channel, message)`` publishes one message (both bytes).
    """

    def __init__(self, keyspace, flags: int, sink):
        self.keyspace = keyspace
        self.flags = flags
        self.sink = sink
        self.written: dict = {}  # (db index, key) -> None: the running command's writes
        self.said: dict = {}  # (db index, key) -> the last event a handler named
        # DF.RUN: (db index, key) of borrowed keys -> [(class, event) ...]
        # collected instead of published, for the owner's DF.IMPORT.
        self.capture = None
        self.muted = 0  # DF.IMPORT storing another shard's result: no hook events
        self.stale = None  # (db index, key) written while its TTL had passed: key_written

    # -- publishing -------------------------------------------------------------

    def publish(self, cls: int, event: bytes, key: bytes, db_index: int) -> None:
        """One event, on the channels the flags ask for (Redis's notifyKeyspaceEvent)."""
        flags = self.flags
        if not flags & cls:
            return
        capture = self.capture
        if capture is not None:
            events = capture.get((db_index, key))
            if events is not None:
                events.append((cls, event))
                return
        if flags & KEYSPACE:
            self.sink(b"__keyspace@%d__:%b" % (db_index, key), event)
        if flags & KEYEVENT:
            self.sink(b"__keyevent@%d__:%b" % (db_index, event), key)

    def said_event(self, cls: int, event: bytes, key: bytes, db_index: int) -> None:
        """A handler named ``event`` for ``key`` (see :func:`notify`)."""
        self.said[(db_index, key)] = event
        self.publish(cls, event, key, db_index)

    # -- hooks ------------------------------------------------------------------

    def key_written(self, db, key: bytes, slot: int) -> None:
        """Hook 1: ``key`` is about to change; ``new`` if it is being created."""
        if self.muted:
            return
        if self.stale is not None:
            self.overwrote_stale()
        entry = (db.index, key)
        if entry not in self.written:
            self.written[entry] = None
        bucket = db.slots.get(slot)
        if bucket is None or key not in bucket:
            if self.flags & NEW:
                self.publish(NEW, b"new", key, db.index)
        elif db.expires:
            deadline = db.expires.get(key)
            if deadline is not None and deadline <= self.keyspace.now_ms:
                # Expiring now (Database._expire: expired() follows), or a
                # write that looked nothing up (SET's fast path) replacing a
                # key whose time is up: Redis expires it first, then creates it.
                self.stale = entry

    def overwrote_stale(self) -> None:
        """The key in :attr:`stale` was written over, not expired: its
        ``expired`` and ``new``, before the command's own event."""
        db_index, key = self.stale
        self.stale = None
        self.publish(EXPIRED, b"expired", key, db_index)
        self.publish(NEW, b"new", key, db_index)

    def expired(self, db_index: int, key: bytes) -> None:
        self.stale = None
        self.written.pop((db_index, key), None)
        self.publish(EXPIRED, b"expired", key, db_index)

    def evicted(self, db_index: int, key: bytes) -> None:
        self.written.pop((db_index, key), None)
        self.publish(EVICTED, b"evicted", key, db_index)

    def command_done(self, conn, spec, args) -> None:
        """Hook 2: the command's events for the keys it wrote (see module doc)."""
        if self.stale is not None:
            self.overwrote_stale()
        if self.flags & KEY_MISS:
            self.key_misses(conn.db, spec, args)
        written, said = self.written, self.said
        if not written:
            if said:
                said.clear()
            return
        event, cls, del_only = EVENTS.get(spec.name, _NO_EVENT)
        dbs = self.keyspace.dbs
        self.written = {}
        for db_index, key in written:
            last = said.get((db_index, key))
            bucket = dbs[db_index].slots.get(key_slot(key))  # no lazy expiry here
            exists = bucket is not None and key in bucket
            if last is None and event is not None:
                last = event if exists or not del_only else b"del"
                self.publish(GENERIC if last == b"del" else cls, last, key, db_index)
            if not exists and last and last not in REMOVALS:
                self.publish(GENERIC, b"del", key, db_index)
        said.clear()

    def command_failed(self, conn, spec, args) -> None:
        """The command raised an error: its key misses still count (XREADGROUP's
        NOGROUP looked the stream up), what it had written is forgotten."""
        if self.stale is not None:
            self.overwrote_stale()
        if self.flags & KEY_MISS:
            self.key_misses(conn.db, spec, args)
        self.written = {}
        self.said.clear()

    def key_misses(self, db, spec, args) -> None:
        if spec.is_write:
            part = READ_KEYS.get(spec.name)
            if part is None:
                return
            keys = spec.keys(args)[part]
            passes = 1
        else:
            if not spec.has_keys or spec.name in NO_LOOKUP:
                return
            keys = spec.keys(args)
            passes = LOOKUPS_PER_KEY.get(spec.name, 1)
        written = self.written
        for _ in range(passes):
            for key in keys:
                bucket = db.slots.get(key_slot(key))
                if (bucket is None or key not in bucket) and (db.index, key) not in written:
                    self.publish(KEY_MISS, b"keymiss", key, db.index)

    def replay(self, db_index: int, key: bytes, events) -> None:
        """DF.IMPORT: publish the events another shard collected for ``key``."""
        for cls, event in events:
            self.publish(cls, event, key, db_index)


def notify(conn, cls: int, event: bytes, key: bytes, db_index: int | None = None) -> None:
    """The running command did ``event`` to ``key`` (in the connection's
    database unless ``db_index``): published now, when notifications are on."""
    notifier = conn.server.keyspace.journal.notifier
    if notifier is not None:
        notifier.said_event(cls, event, key, conn.db.index if db_index is None else db_index)


def quiet(conn, key: bytes) -> None:
    """The running command wrote ``key`` but Redis publishes nothing for it
    (BITFIELD creating a key with no field written)."""
    notifier = conn.server.keyspace.journal.notifier
    if notifier is not None:
        notifier.said[(conn.db.index, key)] = b""


def key_misses(conn, keys) -> None:
    """The running write command looks ``keys`` up to read them, and then
    may create one (GETSET, PFMERGE; see READ_KEYS): ``keymiss`` for the
    missing ones now, before what it writes."""
    notifier = conn.server.keyspace.journal.notifier
    if notifier is not None and notifier.flags & KEY_MISS:
        db = conn.db
        for key in keys:
            if db.peek(key) is None:
                notifier.publish(KEY_MISS, b"keymiss", key, db.index)


def configure(server) -> None:
    """Attach or detach the shard's notifier after ``notify_keyspace_events``
    changed (start, CONFIG SET).  Without K or E, or without a class, nothing
    would be published: the notifier stays off."""
    keyspace = server.keyspace
    journal = keyspace.journal
    flags = server.config.notify_keyspace_events
    on = flags & (KEYSPACE | KEYEVENT) and flags & ~(KEYSPACE | KEYEVENT)
    current = journal.notifier
    if current is not None:
        if on:
            current.flags = flags
            return
        keyspace.write_listeners.remove(current.key_written)
        journal.notifier = None
        return
    if on:
        notifier = Notifier(keyspace, flags, server.publish_event)
        keyspace.write_listeners.append(notifier.key_written)
        journal.notifier = notifier
