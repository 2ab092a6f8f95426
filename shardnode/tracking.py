"""Client-side caching on a shard: who read which key, and the invalidations.

Redis keeps one tracking table: key name -> ids of the clients that read it
(default mode), and prefix -> clients (BCAST).  Here each shard keeps the
table for its own keys, so a write anywhere -- a proxy worker's link, a
client on the shard's port, an expiry, an eviction -- is seen where it
happens, on the key-level hook (:meth:`shardnode.db.Keyspace.before_write`),
and the invalidation leaves from there:

- a client of the shard's port gets it on its connection;
- a proxy client gets it as a push frame ``P <client-id>`` on its worker's
  link (shardnode/node.py ``push``), which the proxy delivers in the client's
  reply order.

A :class:`Tracker` is one tracking client on this shard; it hangs on the
client's :class:`~shardnode.sessions.ClientSession` (``session.tracker``),
so it goes when the session goes (disconnect, DF.GONE, RESET).  The proxy
registers its clients on every shard with ``DF.TRACK`` and sends their
reads in their session (the link context names the client), which is how a
shard knows whose read it runs.

Cost: nothing while no client tracks; then the listener on the hook, and
one flag check per command (``ShardServer.observed``) to remember keys.
As in Redis, an invalidation for a write the tracking client made itself
comes after that command's reply; BCAST invalidations are batched per read
of the connection that wrote (Redis: per event-loop iteration); a table
entry of a client that is gone is dropped lazily, when its key changes.

The cross-worker guarantee.  Redis writes an invalidation to the tracking
client's socket before the writer's reply.  An invalidation pushed on
another link than the writer's (another proxy worker's, or any link for a
writer on the shard's port) crosses a second process, so the writer's
reply is *held* until that worker says it wrote the push: after the P
frames the link gets ``*3 K <token> ""`` and answers ``DF.ACK <token>``
once every push before it is on its clients' sockets.  A writer on a link
gets ``:<tag>`` in its reply's place and the reply later as ``D <tag>``
(the parked-request frames, so the link's other clients move on); a
direct writer's output waits whole, in order (:class:`Hold`).  Writes that
invalidate only clients of the writer's own link, and reads, hold nothing.
"""

from __future__ import annotations

import asyncio

from collections import deque

from cluster.tracking import Tracking, invalidation, redirect_broken

# The frame asking a worker to acknowledge (DF.ACK <token>) the pushes before it.
_ACK_REQUEST = b"*3\r\n$1\r\nK\r\n:%d\r\n$0\r\n\r\n"


class Tracker:
    """One tracking client of this shard and where its messages go."""

    __slots__ = ("conn", "client_id", "session", "options", "proto", "active")

    def __init__(self, conn, client_id, session, options: Tracking, proto: int):
        self.conn = conn  # the client's own connection, or its worker's link
        self.client_id = client_id  # the proxy client's id on a link; None for a direct client
        self.session = session
        self.options = options
        self.proto = proto  # of whoever receives the messages (the REDIRECT target's)
        self.active = True

    def target(self, server):
        """(connection, client id or None, proto) receiving this client's
        messages, or None when its REDIRECT target is gone."""
        redirect = self.options.redirect
        if not redirect:
            return self.conn, self.client_id, self.proto if self.client_id else self.conn.proto
        if self.client_id is None:  # a direct client redirects to another direct client
            other = server.clients.get(redirect)
            if other is None or other.internal or other.transport is None:
                return None
            if other.proto == 2 and other.subs is None:
                return other, None, 0  # RESP2 and not subscribed: nothing is sent
            return other, None, other.proto
        link = server.links_by_worker.get(redirect >> 40)  # proxy ids carry their worker
        if link is None or link.transport is None or redirect in server.tracking.gone_targets:
            return None
        return link, redirect, self.proto

    def send(self, server, keys):
        """Send the invalidation; returns the link it was pushed on (None:
        written to a direct client, or nothing sent)."""
        target = self.target(server)
        if target is None:
            self.redirect_broken()
            return None
        conn, client_id, proto = target
        if not proto:
            return None
        payload = invalidation(keys, proto, bool(self.options.redirect))
        if payload is None:
            return None
        if client_id is None:
            conn.emit(payload)
            return None
        conn.push(client_id, payload)
        return conn

    def redirect_broken(self) -> None:
        """The REDIRECT target is gone: a RESP3 client hears of it, as in
        Redis (a proxy client's worker knows its protocol and decides)."""
        self.options.broken = True
        if self.client_id is not None:
            self.conn.push(self.client_id, redirect_broken(self.options.redirect))
        elif self.proto == 3:
            self.conn.emit(redirect_broken(self.options.redirect))


class Hold:
    """A writer's reply waiting for workers to acknowledge its invalidations.

    ``links``: the links still to answer DF.ACK.  On a link, ``deferred`` is
    (tag, wrapped reply) sent as ``D`` when released; a direct writer's
    output waits in its ``held`` queue behind the Hold until ``done``.
    """

    __slots__ = ("conn", "links", "deferred", "done")

    def __init__(self, conn, links, deferred=None):
        self.conn = conn
        self.links = links
        self.deferred = deferred
        self.done = False


class TrackingTable:
    """The shard's tracking table, its BCAST prefixes and the messages due."""

    def __init__(self, server):
        self.server = server
        self.keys: dict = {}  # key -> {Tracker: None} (default mode)
        self.prefixes: dict = {}  # prefix -> {Tracker: None} (BCAST)
        self.trackers: dict = {}  # Tracker -> None, the active ones
        self.items = 0  # (key, client) pairs remembered: INFO tracking_total_items
        self.due: list = []  # (Tracker, keys) to send after the running command's reply
        self.bcast_due: dict = {}  # Tracker -> {prefix: {key: None}}
        self.flushed = False  # a flush happened: every tracker gets a null invalidation
        self.flush_scheduled = False
        self.attached = False
        # The cross-worker guarantee (module doc): links owed an ack request
        # for the running command, the (out index, links) of the running
        # read's commands that need one, and the holds awaiting DF.ACK.
        self.acks: dict = {}
        self.new_holds: list = []
        self.holds: dict = {}  # token -> Hold
        self._token = 0
        # Proxy clients a worker said it has not (DF.NOCLIENT): REDIRECT
        # targets that went away (ids are never reused).
        self.gone_targets: set = set()

    # -- registration -----------------------------------------------------

    def enable(self, conn, session, client_id, options: Tracking, proto: int) -> None:
        tracker = session.tracker
        if tracker is not None and tracker.active:
            self._drop_prefixes(tracker)
            tracker.options = options
            tracker.proto = proto
        else:
            tracker = session.tracker = Tracker(conn, client_id, session, options, proto)
            self.trackers[tracker] = None
        for prefix in options.prefixes if options.bcast else ():
            self.prefixes.setdefault(prefix, {})[tracker] = None
        self._attach()

    def disable(self, session) -> None:
        tracker = session.tracker
        if tracker is None:
            return
        session.tracker = None
        tracker.active = False
        self._drop_prefixes(tracker)
        self.trackers.pop(tracker, None)
        self.bcast_due.pop(tracker, None)
        if not self.trackers:
            self._detach()

    def _drop_prefixes(self, tracker) -> None:
        for prefix in tracker.options.prefixes:
            holders = self.prefixes.get(prefix)
            if holders is not None:
                holders.pop(tracker, None)
                if not holders:
                    del self.prefixes[prefix]

    def _attach(self) -> None:
        if not self.attached:
            self.attached = True
            keyspace = self.server.keyspace
            keyspace.write_listeners.append(self.key_changed)
            keyspace.flush_listeners.append(self.db_flushed)
            self.server.observers_changed()

    def _detach(self) -> None:
        if self.attached:
            self.attached = False
            keyspace = self.server.keyspace
            keyspace.write_listeners.remove(self.key_changed)
            keyspace.flush_listeners.remove(self.db_flushed)
            self.keys.clear()
            self.items = 0
            self.due = []
            self.bcast_due = {}
            self.flushed = False
            self.flush_scheduled = False
            self.release_all()  # no tracker left: nobody to be ordered before
            self.server.observers_changed()

    # -- reads ---------------------------------------------------------------

    def remember(self, conn, spec, args) -> None:
        """A read-only command ran: remember its keys for the client's tracker."""
        session = conn.session
        tracker = session.tracker if session is not None else None
        if tracker is None:
            return
        options = tracker.options
        if "readonly" in spec.flags and spec.has_keys and options.remembers():
            keys = self.keys
            for key in spec.keys(args):
                holders = keys.get(key)
                if holders is None:
                    holders = keys[key] = {}
                if tracker not in holders:
                    holders[tracker] = None
                    self.items += 1
        # CLIENT CACHING covers the next command (or transaction), as in Redis;
        # on a link the proxy says when that command is done (DF.CACHING).
        if (options.caching and tracker.client_id is None and conn.multi is None
                and not spec.name.startswith("client|")):
            options.caching = False

    # -- writes --------------------------------------------------------------

    def _writer(self):
        running = self.server.running
        return running.session if running is not None else None

    def key_changed(self, db, key, slot) -> None:
        """The key-level hook: ``key`` is about to change."""
        holders = self.keys.pop(key, None)
        writer = None
        if holders:
            self.items -= len(holders)
            writer = self._writer()
            for tracker in holders:
                if not tracker.active or (tracker.options.noloop and tracker.session is writer):
                    continue
                if tracker.session is writer:
                    self.due.append((tracker, [key]))  # after the writer's own reply
                    self._schedule()
                    if tracker.options.redirect:  # ... but before it leaves, on another link
                        self._ack_elsewhere(tracker)
                else:
                    link = tracker.send(self.server, [key])
                    if link is not None and link is not self.server.running:
                        self.acks[link] = None  # the writer's reply waits for it
        if self.prefixes:
            for prefix, trackers in self.prefixes.items():
                if key.startswith(prefix):
                    if writer is None:
                        writer = self._writer()
                    for tracker in trackers:
                        if tracker.options.noloop and tracker.session is writer:
                            continue
                        self.bcast_due.setdefault(tracker, {}).setdefault(prefix, {})[key] = None
                        if tracker.client_id is not None:
                            self._ack_elsewhere(tracker)
                    self._schedule()

    def db_flushed(self, db) -> None:
        """FLUSHDB / FLUSHALL: every tracking client forgets everything
        (one null invalidation per command, however many databases)."""
        self.keys.clear()
        self.items = 0
        if not self.flushed:
            running = self.server.running
            # Through the proxy a flush reaches every shard: shard 0 tells the
            # proxy's clients, each shard its own direct clients.
            self.flushed = "direct" if running is not None and running.internal and \
                self.server.index != 0 else "all"
            self._schedule()
            if self.flushed == "all" and running is not None:
                for tracker in self.trackers:
                    if tracker.client_id is not None:
                        self._ack_elsewhere(tracker)

    def _schedule(self) -> None:
        """Messages are due: sent when the running read is done (before its
        replies are written), or soon when no read runs (active expiry)."""
        if not self.flush_scheduled:
            self.flush_scheduled = True
            if self.server.running is None:
                try:
                    asyncio.get_running_loop().call_soon(self.send_due)
                except RuntimeError:  # no loop (unit tests): at once
                    self.send_due()

    def send_due(self) -> None:
        self.flush_scheduled = False
        server = self.server
        if self.flushed:
            scope, self.flushed = self.flushed, False
            for tracker in list(self.trackers):
                if scope == "all" or tracker.client_id is None:
                    tracker.send(server, None)
        if self.due:
            due, self.due = self.due, []
            for tracker, keys in due:
                if tracker.active:
                    tracker.send(server, keys)
        if self.bcast_due:
            bcast, self.bcast_due = self.bcast_due, {}
            for tracker, by_prefix in bcast.items():
                if tracker.active:
                    for keys in by_prefix.values():
                        tracker.send(server, list(keys))

    # -- holding a writer's reply until other workers wrote its invalidations --

    def _ack_elsewhere(self, tracker) -> None:
        """An invalidation that leaves after the command (send_due: the
        writer's own, to its REDIRECT target; BCAST's; a flush's), still
        before the reply is written: when it goes on another link than the
        writer's, the reply waits for that worker too."""
        target = tracker.target(self.server)
        if target is not None and target[1] is not None and target[0] is not self.server.running:
            self.acks[target[0]] = None

    def hold_point(self, conn) -> None:
        """A command that pushed invalidations on other links ran (called
        after its handler, before its reply joins ``conn.out``): note where
        its reply goes.  A reply that is not part of a read being run (a
        parked or blocked request retried) is not held."""
        acks, self.acks = self.acks, {}
        if conn is self.server.running and conn.out is not None and \
                conn.retrying is None and conn.serving is None:
            self.new_holds.append((len(conn.out), acks))

    def settle(self, conn, out: list) -> list:
        """The running read of ``conn`` is done: hold the replies that must
        wait; returns what may be written now."""
        new, self.new_holds = self.new_holds, []
        self.acks = {}
        if conn.internal:
            by_reply: dict = {}
            for index, links in new:
                i, n = index, len(out)
                while i < n and out[i][:1] != b"$":  # skip frames emitted meanwhile
                    i += 1
                if i < n:
                    by_reply.setdefault(i, {}).update(links)
            for i, links in by_reply.items():
                tag = self.server.next_park_tag()
                self._ask(Hold(conn, links, (tag, out[i])))
                out[i] = b":%d\r\n" % tag
            return out
        held = conn.held
        if new:
            links: dict = {}
            for _, more in new:
                links.update(more)
            hold = Hold(conn, links)
            if held is None:
                held = conn.held = deque()
            held.append((hold, out))
            self._ask(hold)
            return []
        if held is not None:
            held[-1][1].extend(out)
            return []
        return out

    def _ask(self, hold) -> None:
        hold.links = {link: None for link in hold.links if link.transport is not None}
        if not hold.links:  # (a link that dropped has no client left to wait for)
            self._release(hold)
            return
        self._token += 1
        self.holds[self._token] = hold
        for link in hold.links:
            link.emit(_ACK_REQUEST % self._token)

    def ack(self, link, token: int) -> None:
        """DF.ACK: ``link``'s worker wrote the pushes sent before request ``token``."""
        hold = self.holds.get(token)
        if hold is not None:
            hold.links.pop(link, None)
            if not hold.links:
                del self.holds[token]
                self._release(hold)

    def target_gone(self, client_id: int) -> None:
        """DF.NOCLIENT: a worker got an invalidation for a REDIRECT target it
        has not; the trackers redirecting there are told (Redis tells them
        when it finds the target gone) and are from now on."""
        self.gone_targets.add(client_id)
        for tracker in list(self.trackers):
            if tracker.client_id is not None and tracker.options.redirect == client_id:
                tracker.redirect_broken()

    def link_gone(self, link) -> None:
        """A link dropped: its clients are gone, nothing to wait for."""
        for token, hold in list(self.holds.items()):
            if link in hold.links:
                self.ack(link, token)

    def release_all(self) -> None:
        holds, self.holds = self.holds, {}
        self.acks, self.new_holds = {}, []
        for hold in holds.values():
            self._release(hold)

    def _release(self, hold) -> None:
        conn = hold.conn
        if hold.deferred is not None:
            if conn.transport is not None:
                tag, reply = hold.deferred
                conn.emit(b"*3\r\n$1\r\nD\r\n:%d\r\n%b" % (tag, reply))
            return
        hold.done = True
        held = conn.held
        if held is None:
            return
        chunks = []
        while held and held[0][0].done:
            chunks.extend(held.popleft()[1])
        if not held:
            conn.held = None
        if chunks and conn.transport is not None:
            if self.server.aof_barrier:
                self.server.aof.barrier()
            conn.transport.write(b"".join(chunks))
            if conn.closing and not held:  # QUIT after a held reply
                conn.transport.close()

    # -- INFO --------------------------------------------------------------

    def info_fields(self) -> list:
        return [("tracking_total_keys", len(self.keys)),
                ("tracking_total_items", self.items),
                ("tracking_total_prefixes", len(self.prefixes))]

    def counted(self, for_proxy: bool) -> int:
        """INFO tracking_clients: this shard's direct tracking clients; for
        the proxy's merge, shard 0 adds the proxy's (registered on every
        shard, counted on one) so the shards' figures sum to the server's."""
        if for_proxy and self.server.index == 0:
            return len(self.trackers)
        return sum(1 for t in self.trackers if t.client_id is None)
