"""The command-level hook: a shard's journal of writes as they took effect.

After a write command has run, the shard records what it did as Redis's
propagation would write it to an AOF or a replica: ``SET k v EX 10`` as
``SET k v PXAT <ms>``, an expiry as ``DEL``, ``INCRBYFLOAT`` as ``SET ..
KEEPTTL``, a write that changed nothing as nothing.  The AOF writer reads
it (and the replication stream is meant to), keyspace notifications hang off
it (:attr:`Journal.notifier`), tests read it (``DF.JOURNAL``).

How an entry gets there:

- :meth:`shardnode.node.ShardConnection.execute`, after a write-flagged
  command returned, compares ``keyspace.dirty`` with :attr:`Journal.mark`
  (the dirty count the journal has accounted for).  If the command changed
  the keyspace it is journalled as sent.  Reads cost one flag check.
- A handler whose effect differs from its request says so with
  :func:`journal_as` once its writes are done (several entries, or none).
  That records the entries and accounts for every write so far, so the
  command is not journalled again as sent.
- Expiry, lazy or active, is journalled where it happens
  (``Database._expire``) as ``DEL key`` by :meth:`Journal.expired`, which
  accounts for exactly that one write: a command that also wrote keys is
  still journalled after the DEL, as Redis propagates them.  Eviction
  likewise, by :meth:`Journal.evicted`.

Keyspace notifications read the journal's hooks: :attr:`Journal.notifier`
(shardnode/notify.py, None while they are off) hears each expiry and
eviction here, and each command's end next to :meth:`command_done`.

The database is made explicit the way an AOF does it: the stream carries a
``SELECT <db>`` before an entry whose database differs from the previous
one's.  Each buffered entry keeps its database index, and
:meth:`Journal.tail` rebuilds the stream for any window, starting with a
SELECT, so a window reads like an AOF of its own.

Listeners (:meth:`Journal.attach`) receive that stream as bytes, one chunk
per entry (a SELECT, when needed, prefixed to the chunk), ready to append to
an AOF or send to a replica.  A new listener's first chunk always starts
with a SELECT.  Nothing is encoded while no listener is attached: the
in-memory buffer keeps the argument lists and encodes them when read.

For cross-shard commands (DF.RUN / DF.IMPORT in ``shardnode/internal.py``)
the rule is that a shard journals only the keys it owns:

- ``with journal.suspended():`` runs a block without recording anything
  (foreign keys installed for a moment, the command run over them);
  leaving the block accounts for its writes, so the command around it is
  not journalled as sent either;
- :meth:`Journal.record_key_state` then journals an owned key's whole
  current state as one entry (``SET key value [PXAT ms]`` for a string,
  ``RESTORE key <abs-ms> <payload> REPLACE ABSTTL`` for other types once the
  value layer's ``dump_payload`` exists, ``DEL key`` for a missing key).

Whatever resets ``keyspace.dirty`` (a SAVE) must call :meth:`Journal.sync`
after it, or the next write compares against a stale mark.
"""

from __future__ import annotations

from collections import deque
from contextlib import contextmanager

from cluster.resp import encode_command

_GROUP_MARKS = (b"MULTI", b"EXEC")
DEFAULT_CAPACITY = 1024  # entries the in-memory buffer keeps (DF.JOURNAL); it
# holds their arguments, so a count, not bytes, bounds it


class Journal:
    """One shard's journal: a bounded buffer of entries and the listeners."""

    def __init__(self, keyspace, capacity: int = DEFAULT_CAPACITY):
        self.keyspace = keyspace
        self.mark = keyspace.dirty  # dirty count accounted for by the journal
        self.entries: deque = deque(maxlen=capacity)  # (db index, args)
        self.listeners: list = []
        self.stream_db = None  # database the listeners' stream last SELECTed
        self.suspended_depth = 0
        self.recorded = 0  # entries ever recorded (SELECTs not counted)
        self.grouping = False  # inside grouped()
        # Keyspace notifications (shardnode/notify.py), None while off.
        self.notifier = None

    # -- recording -----------------------------------------------------------

    def record(self, db_index: int, args) -> None:
        """Append one entry (a command's arguments, bytes) in database ``db_index``."""
        if self.suspended_depth:
            return
        self.entries.append((db_index, args))
        self.recorded += 1
        if self.listeners:
            data = encode_command(args)
            if db_index != self.stream_db:
                self.stream_db = db_index
                data = encode_command((b"SELECT", b"%d" % db_index)) + data
            for listener in self.listeners:
                listener(data)

    def command_done(self, conn, args) -> None:
        """A write command changed the keyspace and did not say how: as sent.

        The hot path of every write (SET, INCR): :meth:`record` inlined.
        """
        self.mark = self.keyspace.dirty
        if self.suspended_depth:
            return
        if self.listeners:
            self.record(conn.db.index, args)
            return
        self.entries.append((conn.db.index, args))
        self.recorded += 1

    def record_effect(self, db_index: int, commands) -> None:
        """The running command took effect as ``commands`` (see :func:`journal_as`)."""
        self.mark = self.keyspace.dirty
        for args in commands:
            self.record(db_index, args)

    def expired(self, db_index: int, key: bytes) -> None:
        """A key expired (lazily or actively): its one write, as ``DEL key``."""
        self.mark += 1
        self.record(db_index, [b"DEL", key])
        if self.notifier is not None:
            self.notifier.expired(db_index, key)

    def evicted(self, db_index: int, key: bytes) -> None:
        """A key was evicted (shardnode/eviction.py): its one write, as ``DEL key``,
        as Redis propagates an eviction."""
        self.mark += 1
        self.record(db_index, [b"DEL", key])
        if self.notifier is not None:
            self.notifier.evicted(db_index, key)

    def record_key_state(self, db, key: bytes) -> None:
        """Journal ``key``'s whole current state in ``db`` as one entry.

        For a key that arrived from another shard (DF.IMPORT): whatever the
        command did to it, replaying this entry gives its value and deadline.
        Reads the buckets directly, so no lazy expiry or access is recorded.
        """
        self.mark = self.keyspace.dirty
        value = db.stored(key)
        deadline = db.expires.get(key)
        if value is None or (deadline is not None and deadline <= self.keyspace.now_ms):
            self.record(db.index, [b"DEL", key])
        elif type(value) is bytes:
            entry = [b"SET", key, value]
            if deadline is not None:
                entry += [b"PXAT", b"%d" % deadline]
            self.record(db.index, entry)
        else:
            from shardnode import values  # the value layer's serialiser (DUMP)

            payload = values.dump_payload(value)
            self.record(db.index, [b"RESTORE", key, b"%d" % (deadline or 0), payload,
                                   b"REPLACE", b"ABSTTL"])

    @contextmanager
    def grouped(self):
        """Journal the block's entries as one unit: wrapped in MULTI/EXEC when
        there are several, as Redis 7.0 propagates a script's effects and a
        transaction (EXEC, a DF.EXEC part: ShardConnection.run_transaction).

        While the block runs, entries collect in a list of their own (the
        listeners hear nothing), so :meth:`command_done`'s fast path needs no
        extra check; at the end they are recorded again around MULTI/EXEC.
        """
        if self.grouping:  # inside another group (a script in a transaction): one unit
            yield
            return
        self.grouping = True
        entries, listeners, recorded = self.entries, self.listeners, self.recorded
        captured = self.entries = deque()
        self.listeners = []
        try:
            yield
        finally:
            self.entries, self.listeners, self.recorded = entries, listeners, recorded
            self.grouping = False
            if len(captured) > 1:
                # A handler's own MULTI/EXEC (SPOP with a count, XREADGROUP's
                # claims) joins the one unit rather than nesting in it.
                captured = [e for e in captured if e[1][0] not in _GROUP_MARKS]
            if len(captured) > 1:
                first_db = captured[0][0]
                self.record(first_db, [b"MULTI"])
                for db_index, args in captured:
                    self.record(db_index, args)
                self.record(captured[-1][0], [b"EXEC"])
            elif captured:
                self.record(*captured[0])
            self.mark = self.keyspace.dirty

    def restart_stream(self) -> None:
        """The listeners' next chunk starts with a SELECT (the AOF switched
        to a new file, which must say its database itself)."""
        self.stream_db = None

    def sync(self) -> None:
        """Account for every write so far without recording one."""
        self.mark = self.keyspace.dirty

    @contextmanager
    def suspended(self):
        """Record nothing during the block; its writes count as accounted for."""
        self.suspended_depth += 1
        try:
            yield self
        finally:
            self.suspended_depth -= 1
            self.mark = self.keyspace.dirty

    # -- reading -------------------------------------------------------------

    def attach(self, listener) -> None:
        """Send every later entry to ``listener`` (a callable taking bytes)."""
        self.listeners.append(listener)
        self.stream_db = None  # its first chunk must say which database

    def detach(self, listener) -> None:
        self.listeners.remove(listener)

    def tail(self, count: int | None = None) -> list:
        """The last ``count`` entries (all buffered ones by default) as a
        stream of commands: a SELECT first and wherever the database changes."""
        entries = list(self.entries)
        if count is not None:
            entries = entries[len(entries) - count:] if count < len(entries) else entries
        out = []
        current = None
        for db_index, args in entries:
            if db_index != current:
                current = db_index
                out.append([b"SELECT", b"%d" % db_index])
            out.append(list(args))
        return out


def journal_as(conn, *commands) -> None:
    """The running write command took effect as ``commands`` (lists of bytes).

    Call it after the command's writes: it records the entries and accounts
    for every write so far, so the command is not journalled as sent.  With
    no commands the write is journalled as nothing.
    """
    conn.server.keyspace.journal.record_effect(conn.db.index, commands)


# How each write command is journalled when it changed the keyspace (a write
# that changed nothing is journalled as nothing).  Checked against what Redis
# 7.0 appends to its AOF; tests/unit/test_journal.py keeps the table complete.
AS_SENT = "as sent"
EFFECTS = {
    # strings
    "set": "SET k v PXAT <ms> with EX/PX/EXAT/PXAT (NX/XX/GET dropped); "
           "else as sent without GET",
    "setnx": AS_SENT,
    "setex": "SET k v PXAT <ms>",
    "psetex": "SET k v PXAT <ms>",
    "getex": "PEXPIREAT k <ms>; DEL k for a deadline in the past; PERSIST k",
    "getdel": "DEL k",
    "getset": "SET k v",
    "mset": AS_SENT,
    "msetnx": AS_SENT,
    "append": AS_SENT,
    "setrange": AS_SENT,
    "incr": AS_SENT,
    "decr": AS_SENT,
    "incrby": AS_SENT,
    "decrby": AS_SENT,
    "incrbyfloat": "SET k <new value> KEEPTTL",
    # bitmaps
    "setbit": AS_SENT,
    "bitop": AS_SENT,
    "bitfield": AS_SENT + " (only GETs, or writes that left every bit as it was: nothing)",
    # sets
    "sadd": AS_SENT,
    "srem": AS_SENT,
    "spop": "SREM k member; with a count MULTI, SREM k m for each member, EXEC "
            "(one SREM alone unwrapped); DEL k when it takes every member",
    "smove": AS_SENT,
    "sinterstore": AS_SENT,
    "sunionstore": AS_SENT,
    "sdiffstore": AS_SENT,
    # hashes
    "hset": AS_SENT,
    "hmset": AS_SENT,
    "hsetnx": AS_SENT,
    "hdel": AS_SENT,
    "hincrby": AS_SENT,
    "hincrbyfloat": "HSET k field <new value>",
    # sorted sets
    "zadd": AS_SENT,
    "zincrby": AS_SENT,
    "zrem": AS_SENT,
    "zremrangebyrank": AS_SENT,
    "zremrangebyscore": AS_SENT,
    "zremrangebylex": AS_SENT,
    "zpopmin": AS_SENT,
    "zpopmax": AS_SENT,
    "zmpop": "ZPOPMIN/ZPOPMAX k <count popped> for the key it popped from",
    "zrangestore": AS_SENT,
    "zunionstore": AS_SENT,
    "zinterstore": AS_SENT,
    "zdiffstore": AS_SENT,
    # lists
    "lpush": AS_SENT,
    "rpush": AS_SENT,
    "lpushx": AS_SENT,
    "rpushx": AS_SENT,
    "lpop": AS_SENT,
    "rpop": AS_SENT,
    "lmpop": "LPOP/RPOP k <count popped> for the key it popped from",
    # blocking pops: the pop they did, when they found data or were served
    "blpop": "LPOP k for the key it popped from",
    "brpop": "RPOP k for the key it popped from",
    "blmpop": "LPOP/RPOP k <count popped> for the key it popped from",
    "blmove": "LMOVE source destination LEFT|RIGHT LEFT|RIGHT",
    "brpoplpush": "RPOPLPUSH source destination",
    "bzpopmin": "ZPOPMIN k for the key it popped from",
    "bzpopmax": "ZPOPMAX k for the key it popped from",
    "bzmpop": "ZPOPMIN/ZPOPMAX k <count popped> for the key it popped from",
    "lmove": AS_SENT,
    "rpoplpush": AS_SENT,
    "lset": AS_SENT,
    "linsert": AS_SENT,
    "lrem": AS_SENT,
    "ltrim": AS_SENT,
    # streams
    "xadd": "XADD k [NOMKSTREAM] [trim] <id generated> ...; a ~ trim made exact: "
            "MAXLEN = <length left> / MINID = <first id left>",
    "xtrim": "XTRIM k MAXLEN|MINID = <threshold reached> for a ~ trim; else as sent",
    "xdel": AS_SENT,
    "xsetid": AS_SENT,
    "xack": AS_SENT,
    "xreadgroup": "per entry delivered to the PEL: XCLAIM k g consumer 0 id TIME <ms> "
                  "RETRYCOUNT <n> FORCE JUSTID LASTID <group last id>; under NOACK "
                  "XGROUP SETID k g <last id> ENTRIESREAD <n> (after XGROUP CREATECONSUMER "
                  "for a new consumer); several entries inside MULTI/EXEC",
    "xclaim": "XCLAIM k g consumer 0 id TIME <ms> RETRYCOUNT <n> FORCE JUSTID LASTID "
              "<group last id> per claimed entry, and per deleted entry it drops (with its old "
              "consumer); several inside MULTI/EXEC; XGROUP SETID when only LASTID moved",
    "xautoclaim": "as XCLAIM, per claimed entry, and per deleted entry it drops (with its old "
                  "consumer); several inside MULTI/EXEC",
    "xgroup|create": AS_SENT,
    "xgroup|setid": AS_SENT,
    "xgroup|destroy": AS_SENT,
    "xgroup|createconsumer": AS_SENT,
    "xgroup|delconsumer": AS_SENT,
    # hyperloglog (PFCOUNT, a read, journals itself as sent when it writes the
    # cached count; PFDEBUG only when GETREG/TODENSE converted to dense)
    "pfadd": AS_SENT,
    "pfmerge": AS_SENT,
    "pfdebug": AS_SENT,
    # geo (GEORADIUS/GEORADIUSBYMEMBER write only with STORE/STOREDIST)
    "geoadd": "ZADD k [NX|XX] [CH] <score> member ... (lower-case zadd, as Redis runs it)",
    "geosearchstore": AS_SENT,
    "georadius": AS_SENT,
    "georadiusbymember": AS_SENT,
    # sort (SORT without STORE, or a STORE that changed nothing: nothing)
    "sort": AS_SENT,
    # keyspace
    "del": AS_SENT,
    "unlink": AS_SENT,
    "rename": AS_SENT,
    "renamenx": AS_SENT,
    "copy": AS_SENT,
    "move": AS_SENT,
    "expire": "PEXPIREAT k <ms> [options]; DEL k for a deadline in the past",
    "pexpire": "PEXPIREAT k <ms> [options]; DEL k for a deadline in the past",
    "expireat": "PEXPIREAT k <ms> [options]; DEL k for a deadline in the past",
    "pexpireat": "PEXPIREAT k <ms> [options]; DEL k for a deadline in the past",
    "persist": AS_SENT,
    "restore": "RESTORE k <abs ms> payload [options] ABSTTL for a relative TTL; "
               "DEL k when the deadline has passed",
    # server
    "flushdb": AS_SENT,
    "flushall": AS_SENT,
    "swapdb": AS_SENT,
    # functions (the libraries, as Redis 7.0 propagates them: as sent)
    "function|load": AS_SENT,
    "function|delete": AS_SENT,
    "function|flush": AS_SENT,
    "function|restore": AS_SENT,
    # internal: the executing shard suspends the journal around the command
    # and each shard journals the state of the keys it owns (internal.py)
    "df.run": "the state of each owned key the command wrote (record_key_state)",
    "df.import": "the state of each imported key (record_key_state)",
}

# Commands that journal what they ran rather than themselves: a script is
# journalled as the writes its redis.call commands made (each as its own
# EFFECTS entry says), wrapped in MULTI/EXEC when there are several
# (shardnode/scripting.py, Journal.grouped); the AOF never re-runs Lua.
SCRIPT_EFFECTS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")
