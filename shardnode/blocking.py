"""Blocking pops on a shard: waiting for keys, served in FIFO order per key.

A blocking command's handler is its non-blocking pop: when it finds data it
answers at once; when every key is empty it raises :class:`MustWait`, and
:meth:`ShardConnection.execute` hands the request to :class:`Blocking`,
which keeps it as a :class:`Waiter` queued on each of its keys:

- a direct client stops there (its later commands wait in its inbox, as
  Redis keeps them unread), and its reply is written when it is served;
- on a proxy link the request is *parked* (``:<tag>``, see shardnode/node.py)
  and its reply goes out later as ``*3 D <tag> <reply>``; the proxy holds
  that client's later commands until then.

The key-level hook (``Keyspace.write_listeners``, registered only while
someone waits) notes each written key that has waiters.  After the command
that wrote it -- after the whole transaction, for MULTI/EXEC -- the shard
walks the ready keys in the order they became ready and, on each, runs its
waiters' commands again in FIFO order while the key holds a value of the
type they wait for; a served command pops from the key that became ready,
as Redis serves it.  Its effect is journalled as the pop it did.

A timeout answers the null array; CLIENT UNBLOCK answers it (TIMEOUT) or an
``-UNBLOCKED`` error (ERROR); a client that goes away is forgotten.  Inside
MULTI/EXEC, and when the proxy runs a cross-shard attempt (DF.RUN), the
handlers answer what they would on timeout instead of waiting.

A proxy running a blocking command whose keys span shards registers
*wake-ups* instead (DF.WAIT, :class:`Waiter` with a token), queued like any
waiter: when its turn comes on a key that got a value the shard pushes
``*3 W <client-id> <token>`` and serves nobody behind it on that key until
the proxy, having retried the command atomically across the shards
(proxy/blocking.py), says it is done (DF.UNWAIT) or waits on (DF.REWAIT) --
so FIFO order per key holds for every waiter.
"""

from __future__ import annotations

import asyncio
from collections import deque

from cluster import errors
from cluster.args import parse_mpop, parse_timeout_ms
from cluster.resp import NULL_ARRAY, encode_error
from shardnode import lists, streams, zsets
from shardnode.journal import journal_as
from shardnode.registry import handler


class MustWait(Exception):
    """Raised by a blocking handler that found nothing to pop.

    ``request``, when given, is the request to run again instead of the one
    sent: XREAD's ``$`` means the last id when the command was called, so
    its handler hands over the request with that id written out.
    ``any_write``: run it again after any write to a key, even one that
    deleted the key or gave it another type (XREADGROUP then answers an
    error, as Redis 7.0 unblocks it)."""

    def __init__(self, keys, kind, timeout_ms: int, request=None, any_write: bool = False):
        self.keys = keys
        self.kind = kind  # the value type whose arrival can serve it
        self.timeout_ms = timeout_ms
        self.request = request
        self.any_write = any_write


# execute() results for a direct client's command that now waits, and for a
# waiter retried in vain (it keeps its place).
BLOCKED = object()
STILL_WAITING = object()


class Waiter:
    """One blocked request (or, with a token, one proxy's wake-up request)."""

    __slots__ = ("conn", "args", "tag", "session", "db_index", "proto", "notouch",
                 "keys", "kind", "timer", "token", "done", "woken", "any_write")

    def __init__(self, conn, args, tag, session, keys, kind, token=None):
        self.conn = conn
        self.args = args
        self.tag = tag  # parked on a link: the tag its deferred reply carries
        self.session = session
        self.db_index = conn.db_index
        self.proto = conn.proto
        self.notouch = conn.notouch
        self.keys = keys
        self.kind = kind
        self.timer = None
        self.token = token
        self.done = False
        self.woken = False  # a wake-up sent, the proxy's answer not in yet
        self.any_write = False  # served after any write to its key (MustWait.any_write)


def timeout_of(conn, raw: bytes) -> int:
    return parse_timeout_ms(raw, conn.server.keyspace.now_ms)


def wait_or_null(conn, keys, kind, timeout_ms: int, null=NULL_ARRAY, request=None,
                 any_write: bool = False):
    """Nothing to pop: wait (raise :class:`MustWait`), or inside a transaction
    answer ``null`` (what the command answers when it may not block)."""
    if conn.in_exec:
        return null
    raise MustWait(keys, kind, timeout_ms, request, any_write)


class Blocking:
    """A shard's blocked requests, by key, and the keys ready to serve them."""

    def __init__(self, server):
        self.server = server
        self.waiting: dict = {}  # (db index, key) -> deque of Waiter, FIFO
        self.ready: dict = {}  # (db index, key) -> None, in the order they became ready
        self.count = 0  # blocked clients (INFO blocked_clients)
        self.serving = False  # serve_ready is running

    # -- the write hook --------------------------------------------------------

    def _on_write(self, db, key, slot) -> None:
        entry = (db.index, key)
        if entry in self.waiting:
            self.ready[entry] = None

    def _on_flush(self, db) -> None:
        """SWAPDB / FLUSHDB: any key waited on in ``db`` may have changed."""
        for entry in self.waiting:
            if entry[0] == db.index:
                self.ready[entry] = None

    def _listen(self, on: bool) -> None:
        keyspace = self.server.keyspace
        for listeners, fn in ((keyspace.write_listeners, self._on_write),
                              (keyspace.flush_listeners, self._on_flush)):
            if on:
                listeners.append(fn)
            else:
                listeners.remove(fn)

    # -- waiting ---------------------------------------------------------------

    def wait(self, conn, args, must: MustWait):
        """Queue the request that raised ``must``; what execute() returns for it."""
        retrying = conn.retrying
        if conn.serving is not None:
            return STILL_WAITING
        session = conn.session
        tag = None
        if conn.internal:
            # a link request: parked, or already parked for a lock (keeps its tag)
            tag = retrying.tag if retrying is not None else self.server.next_park_tag()
        waiter = Waiter(conn, must.request or args, tag, session, must.keys, must.kind)
        waiter.any_write = must.any_write
        self._add(waiter)
        self.count += 1
        if session is not None:
            session.blocked = waiter
        if must.timeout_ms:
            waiter.timer = asyncio.get_running_loop().call_later(
                must.timeout_ms / 1000, self._time_out, waiter)
        if tag is None:
            return BLOCKED
        if retrying is not None:
            return None  # resume_parked: it left the lock queue, no reply yet
        return b":%d\r\n" % tag

    def add_wakeup(self, session, conn, token: int, db_index: int, type_name: bytes,
                   keys) -> None:
        """DF.WAIT: push ``W <client> <token>`` when one of ``keys`` gets a
        value of type ``type_name`` (list, zset)."""
        waiter = Waiter(conn, None, None, session, keys, WAITED_TYPES[type_name], token)
        waiter.db_index = db_index
        self._add(waiter)

    def remove_wakeup(self, session, token: int, keep: bool) -> None:
        """DF.UNWAIT (``keep`` False) and DF.REWAIT (True): the proxy has
        tried after a wake-up; either way the key's turn passes on."""
        for queue in list(self.waiting.values()):
            for waiter in list(queue):
                if waiter.token == token and waiter.session is session:
                    for key in waiter.keys:
                        self.ready[(waiter.db_index, key)] = None
                    if keep:
                        waiter.woken = False
                    else:
                        self._forget(waiter)
        if self.ready:
            self.serve_ready()

    def _add(self, waiter) -> None:
        if not self.waiting:
            self._listen(True)
        db = waiter.db_index
        for key in dict.fromkeys(waiter.keys):
            queue = self.waiting.get((db, key))
            if queue is None:
                queue = self.waiting[(db, key)] = deque()
            queue.append(waiter)

    def _forget(self, waiter) -> None:
        if waiter.done:
            return
        waiter.done = True
        if waiter.timer is not None:
            waiter.timer.cancel()
        if waiter.token is None:
            self.count -= 1
            if waiter.session is not None and waiter.session.blocked is waiter:
                waiter.session.blocked = None
        db = waiter.db_index
        for key in dict.fromkeys(waiter.keys):
            queue = self.waiting.get((db, key))
            if queue is not None:
                try:
                    queue.remove(waiter)
                except ValueError:
                    pass
                if not queue:
                    del self.waiting[(db, key)]
        if not self.waiting:
            self.ready.clear()
            self._listen(False)

    # -- serving ----------------------------------------------------------------

    def serve_ready(self) -> None:
        """Serve the waiters of the keys written since the last call (see module doc).

        A served command writes too: the keys it readies are served by the
        loop already running, never by a nested one."""
        if self.serving:
            return
        self.serving = True
        try:
            self._serve_ready()
        finally:
            self.serving = False

    def _serve_ready(self) -> None:
        ready = self.ready
        dbs = self.server.keyspace.dbs
        while ready:
            entry = next(iter(ready))
            del ready[entry]
            queue = self.waiting.get(entry)
            if not queue:
                continue
            db = dbs[entry[0]]
            key = entry[1]
            for waiter in list(queue):
                if waiter.done:
                    continue
                value = db.peek(key)
                if waiter.any_write and waiter.token is None:
                    pass  # it answers whatever the key now holds
                elif value is None:
                    break
                elif type(value) is not waiter.kind:
                    continue
                if waiter.token is not None:
                    # A cross-shard waiter has its turn: the ones behind it
                    # wait until its proxy has tried (DF.UNWAIT / DF.REWAIT).
                    if not waiter.woken:
                        waiter.woken = True
                        waiter.conn.emit(b"*3\r\n$1\r\nW\r\n:%d\r\n:%d\r\n"
                                         % (waiter.session.client_id, waiter.token))
                    break
                self._serve(waiter, key)

    def _serve(self, waiter, key) -> None:
        conn = waiter.conn
        if conn.transport is None:
            self._forget(waiter)
            return
        reply = conn.run_waiter(waiter, key)
        if reply is STILL_WAITING:
            return
        self._forget(waiter)
        self._deliver(waiter, reply)

    def _deliver(self, waiter, reply) -> None:
        conn = waiter.conn
        if waiter.tag is not None:
            if reply is None:
                reply = b"$0\r\n\r\n"  # CLIENT REPLY OFF: the proxy drops it
            conn.emit(b"*3\r\n$1\r\nD\r\n:%d\r\n%b" % (waiter.tag, reply))
            return
        if conn.transport is None:
            return
        if reply is not None:
            conn.transport.write(reply)
        asyncio.get_running_loop().call_soon(conn.resume)  # its later commands

    def _time_out(self, waiter) -> None:
        if waiter.done:
            return
        self._forget(waiter)
        self._deliver(waiter, waiter.conn.encoded_as(NULL_ARRAY, waiter))

    def unblock(self, session, as_error: bool) -> bool:
        """CLIENT UNBLOCK: answer ``session``'s blocked request now."""
        waiter = session.blocked if session is not None else None
        if waiter is None or waiter.done:
            return False
        self._forget(waiter)
        if as_error:
            self.server.count_error(errors.UNBLOCKED)
            reply = encode_error(errors.UNBLOCKED)
            if waiter.tag is not None:
                reply = b"$%d\r\n%b\r\n" % (len(reply), reply)
        else:
            reply = waiter.conn.encoded_as(NULL_ARRAY, waiter)
        self._deliver(waiter, reply)
        return True

    def drop(self, session=None, conn=None) -> None:
        """A client (or a whole link) went away: its waiters go, unanswered --
        except that a link gets a last frame for each parked request it kept."""
        if not self.waiting:
            return
        gone = []
        for queue in self.waiting.values():
            for waiter in queue:
                if (session is not None and waiter.session is session) or \
                        (conn is not None and waiter.conn is conn):
                    gone.append(waiter)
        for waiter in gone:
            if not waiter.done:
                self._forget(waiter)
                if waiter.tag is not None and conn is None:
                    self._deliver(waiter, b"$0\r\n\r\n")


# The types a blocking command can wait for, by TYPE name (DF.WAIT).
WAITED_TYPES = {b"list": lists.List, b"zset": zsets.SortedSet, b"stream": streams.Stream}


# -- the commands ------------------------------------------------------------------


def _candidates(conn, keys):
    """The keys to pop from: all, in order; when serving, the one that became ready."""
    key = conn.serving_key
    return keys if key is None else [key]


@handler("blpop", "brpop")
def blpop(conn, args):
    keys = args[1:-1]
    timeout = timeout_of(conn, args[-1])
    found = lists.pop_first(conn, _candidates(conn, keys), args[0].lower() == b"blpop", None)
    if found is None:
        return wait_or_null(conn, keys, lists.List, timeout)
    return [found[0], found[1]]


@handler("blmpop")
def blmpop(conn, args):
    timeout = timeout_of(conn, args[1])
    keys, left, count = parse_mpop(args, 2, lists.SIDES)
    found = lists.pop_first(conn, _candidates(conn, keys), left, count or 1)
    if found is None:
        return wait_or_null(conn, keys, lists.List, timeout)
    return [found[0], found[1]]


def _blocking_move(conn, source, destination, from_left, to_left, raw_timeout, rpoplpush):
    timeout = timeout_of(conn, raw_timeout)
    moved = lists.move(conn, source, destination, from_left, to_left, journal=not rpoplpush)
    if moved is None:
        return wait_or_null(conn, [source], lists.List, timeout, None)
    if rpoplpush:
        journal_as(conn, [b"RPOPLPUSH", source, destination])  # as Redis propagates it
    return moved


@handler("blmove")
def blmove(conn, args):
    return _blocking_move(conn, args[1], args[2], lists.side(args[3]), lists.side(args[4]),
                          args[5], False)


@handler("brpoplpush")
def brpoplpush(conn, args):
    return _blocking_move(conn, args[1], args[2], False, True, args[3], True)


@handler("bzpopmin", "bzpopmax")
def bzpopminmax(conn, args):
    keys = args[1:-1]
    timeout = timeout_of(conn, args[-1])
    highest = args[0].lower() == b"bzpopmax"
    found = zsets.pop_first(conn, _candidates(conn, keys), highest, None)
    if found is None:
        return wait_or_null(conn, keys, zsets.SortedSet, timeout)
    key, pairs = found
    member, score = pairs[0]
    return [key, member, score]


@handler("bzmpop")
def bzmpop(conn, args):
    timeout = timeout_of(conn, args[1])
    keys, highest, count = parse_mpop(args, 2, zsets.SIDES)
    found = zsets.pop_first(conn, _candidates(conn, keys), highest, count or 1)
    if found is None:
        return wait_or_null(conn, keys, zsets.SortedSet, timeout)
    key, pairs = found
    return [key, [[member, score] for member, score in pairs]]
