"""Pub/Sub on a shard: who listens here, and delivering a message to them.

A shard has two kinds of listeners, kept in the same maps (name -> {conn:
count}) so a publish walks each map once:

- *direct subscribers*: clients connected to this shard's port, count 1;
- *proxy links*: each proxy worker registers its clients' interest on the
  link (``DF.SUB``/``DF.UNSUB <c|p|s> <name>...``, one per client and name),
  count = how many of the worker's clients listen by that name.  Classic
  channels and patterns are registered on every shard, so any shard can reach
  every proxy subscriber (keyspace events are node-local and go out from the
  shard where they happen); a shard channel only on the shard owning its slot.

:meth:`PubSubHub.publish` is the shard-side API (PUBLISH, keyspace
notifications, the tracking invalidation channel): it writes the message to
the direct subscribers and one ``M`` frame per interested link (the worker
fans it out to its clients), and returns how many clients it reached.  The
frame lists the patterns that matched, so the worker matches nothing itself:

    *<3+k> $1 M <channel> <message> <pattern>*k   (classic: channel and patterns)
    *3     $1 S <channel> <message>               (a shard channel's message)

Counts are exact because a worker adds a client to its fan-out maps only
when the link's reply to DF.SUB arrives (and removes it at DF.UNSUB's):
frames are ordered with replies on a link, so the worker delivers exactly
the messages the shard counted for it.

Frames and messages written while another connection's batch runs are
collected in the target connection's ``out`` list and written once at the
end of the event-loop turn (:meth:`PubSubHub._flush`), or with that
connection's own replies if it runs first: one write per connection per turn,
in order with everything else it is sent.

PUBLISH from a direct client must reach the other shards' direct subscribers
too (Redis Cluster broadcasts it): the shard asks a proxy link to relay it
(``*4 R <tag> <channel> <message>``; the worker runs ``DF.PUBLISH`` on the
other shards and answers ``DF.RELAYED <tag> <count>``) and replies with the
sum.  The publisher waits meanwhile, so its messages stay in order.
"""

from __future__ import annotations

import asyncio
import logging
import time

from cluster import errors
from cluster.args import parse_int
from cluster.config import buffer_limits
from cluster.errors import CommandError
from cluster.glob import compile_glob
from cluster.pubsub import (KINDS, PUBSUB_HELP, Subscriptions, bulk, push_frame,
                            subscribe_replies, unsubscribe_replies)
from cluster.resp import RawReply
from shardnode.blocking import BLOCKED
from shardnode.registry import handler
from shardnode.scripting import ScriptDetached

log = logging.getLogger("damselfly.shard")

_bulk = bulk

class RelayPending(ScriptDetached):
    """The publisher's reply comes when the relay's count is in
    (:meth:`PubSubHub.relayed`).  ``ShardConnection.execute`` answers a
    ScriptDetached with its :meth:`deferred`, the one way a handler says its
    reply comes later; a direct client waits, its next commands in its inbox."""

    def __init__(self):
        Exception.__init__(self)

    def deferred(self, conn):
        return BLOCKED


class PubSubHub:
    """This shard's listeners; ``server.pubsub``."""

    def __init__(self, server):
        self.server = server
        self.channels: dict = {}  # channel -> {conn: count}
        self.patterns: dict = {}  # pattern -> [match, {conn: count}]
        self.shard_channels: dict = {}  # shard channel -> {conn: count}
        self._dirty: list = []  # connections with an ``out`` list to write (_flush)
        self._flush_pending = False
        self._relays: dict = {}  # tag -> (publisher conn, count so far, relaying link)
        self._relay_tag = 0
        self._limit_text = None
        self._limit = None

    # -- the publish API ----------------------------------------------------------

    def publish(self, channel: bytes, message: bytes, links: bool = True) -> int:
        """Deliver a classic message from this shard to its direct subscribers
        and (``links``) to every proxy subscriber of the channel or of a
        matching pattern, once each; returns how many received it."""
        count = 0
        frames = None  # link -> patterns matched for it
        encoded = {}  # proto -> the message as direct clients read it
        subs = self.channels.get(channel)
        if subs:
            for conn, n in subs.items():
                if conn.internal:
                    if links:
                        count += n
                        if frames is None:
                            frames = {}
                        frames[conn] = []
                else:
                    count += 1
                    data = encoded.get(conn.proto)
                    if data is None:
                        data = encoded[conn.proto] = push_frame(conn.proto, b"message",
                                                                channel, message)
                    self._send(conn, data)
        if self.patterns:
            for pattern, (match, subs) in self.patterns.items():
                if not match(channel):
                    continue
                pdata = None
                for conn, n in subs.items():
                    if conn.internal:
                        if links:
                            count += n
                            if frames is None:
                                frames = {}
                            matched = frames.get(conn)
                            if matched is None:
                                frames[conn] = [pattern]
                            else:
                                matched.append(pattern)
                    else:
                        count += 1
                        if pdata is None or conn.proto != pdata[0]:
                            pdata = (conn.proto, push_frame(conn.proto, b"pmessage", pattern,
                                                            channel, message))
                        self._send(conn, pdata[1])
        if frames:
            head = b"$1\r\nM\r\n%b%b" % (_bulk(channel), _bulk(message))
            for conn, matched in frames.items():
                if matched:
                    self._send(conn, b"*%d\r\n%b%b" % (3 + len(matched), head,
                                                       b"".join(_bulk(p) for p in matched)))
                else:
                    self._send(conn, b"*3\r\n" + head)
        return count

    def spublish(self, channel: bytes, message: bytes) -> int:
        """Deliver a shard channel's message to its direct and proxy subscribers."""
        subs = self.shard_channels.get(channel)
        if not subs:
            return 0
        count = 0
        frame = None
        for conn, n in subs.items():
            count += n
            if conn.internal:
                if frame is None or frame[0] != -1:
                    frame = (-1, b"*3\r\n$1\r\nS\r\n%b%b" % (_bulk(channel), _bulk(message)))
            elif frame is None or frame[0] != conn.proto:
                frame = (conn.proto, push_frame(conn.proto, b"smessage", channel, message))
            self._send(conn, frame[1])
        return count

    # -- writing ------------------------------------------------------------------

    def _send(self, conn, data: bytes) -> None:
        out = conn.out
        if out is None:
            if conn.transport is None:
                return
            out = conn.out = []
            self._dirty.append(conn)
            if not self._flush_pending:
                self._flush_pending = True
                try:
                    asyncio.get_running_loop().call_soon(self._flush)
                except RuntimeError:  # no loop (handlers called directly in a test)
                    self._flush()
        out.append(data)

    def _flush(self) -> None:
        self._flush_pending = False
        dirty, self._dirty = self._dirty, []
        server = self.server
        limit = None
        for conn in dirty:
            out = conn.out
            if out is None:  # its own batch wrote it
                continue
            conn.out = None
            transport = conn.transport
            if transport is None:
                continue
            if server.aof_barrier:
                server.aof.barrier()
            transport.write(b"".join(out))
            if conn.subs is not None:
                if limit is None:
                    limit = self.output_limit()
                if limit[0] or limit[1]:
                    self.check_output_limit(conn, *limit)

    def output_limit(self) -> tuple:
        """client_output_buffer_limit's pubsub class: (hard, soft, seconds)."""
        text = self.server.config.values["client_output_buffer_limit"]
        if text is not self._limit_text:
            self._limit = buffer_limits(text)["pubsub"]
            self._limit_text = text
        return self._limit

    def check_output_limit(self, conn, hard: int, soft: int, seconds: int) -> None:
        """A direct subscriber that does not read: closed past the hard limit,
        or past the soft one for ``seconds``, as Redis does."""
        used = conn.transport.get_write_buffer_size()
        over = bool(hard) and used >= hard
        if not over and soft and used >= soft:
            since = getattr(conn, "soft_limit_since", None)
            now = time.monotonic()
            if since is None:
                conn.soft_limit_since = now
            elif now - since >= seconds:
                over = True
        elif not over:
            conn.soft_limit_since = None
        if over:
            log.warning("Client id=%d addr=%s closed for overcoming of output buffer limits "
                        "(%d bytes buffered).", conn.id, conn.addr, used)
            conn.transport.abort()

    # -- interest -----------------------------------------------------------------

    def add(self, kind: bytes, name: bytes, conn, n: int = 1) -> None:
        """``conn`` listens by ``name`` (``n`` more clients behind a link)."""
        if kind == b"p":
            entry = self.patterns.get(name)
            if entry is None:
                entry = self.patterns[name] = [compile_glob(name), {}]
            subs = entry[1]
        else:
            table = self.channels if kind == b"c" else self.shard_channels
            subs = table.get(name)
            if subs is None:
                subs = table[name] = {}
        subs[conn] = subs.get(conn, 0) + n

    def remove(self, kind: bytes, name: bytes, conn, n: int = 1) -> None:
        if kind == b"p":
            entry = self.patterns.get(name)
            subs = entry[1] if entry is not None else None
            table = self.patterns
        else:
            table = self.channels if kind == b"c" else self.shard_channels
            subs = table.get(name)
        if subs is None or conn not in subs:
            return
        left = subs[conn] - n
        if left > 0:
            subs[conn] = left
        else:
            del subs[conn]
            if not subs:
                del table[name]

    def drop_connection(self, conn) -> None:
        """A direct subscriber or a link went away: nothing of it stays counted."""
        if conn.internal:
            for table in (self.channels, self.shard_channels):
                for name in [n for n, subs in table.items() if conn in subs]:
                    self.remove(b"c" if table is self.channels else b"s", name, conn,
                                table[name][conn])
            for name in [n for n, (_, subs) in self.patterns.items() if conn in subs]:
                self.remove(b"p", name, conn, self.patterns[name][1][conn])
            for tag, (publisher, count, link) in list(self._relays.items()):
                if link is conn:  # the relay is lost: answer with what is known
                    self.relayed(tag, 0)
        elif conn.subs is not None:
            subs, conn.subs = conn.subs, None
            for name in subs.channels:
                self.remove(b"c", name, conn)
            for name in subs.patterns:
                self.remove(b"p", name, conn)
            for name in subs.shard_channels:
                self.remove(b"s", name, conn)

    # -- relaying a direct client's PUBLISH to the other shards ---------------------

    def relay(self, conn, channel: bytes, message: bytes, count: int) -> int:
        """Ask a proxy link to run the PUBLISH on the other shards.  Returns
        ``count`` when the publisher cannot wait (inside EXEC or a script: the
        message still goes everywhere, the count is this shard's); raises
        :class:`RelayPending` when it waits for the sum."""
        server = self.server
        if len(server.topology.shards) == 1:
            return count
        link = next((c for c in server.clients.values()
                     if c.internal and c.transport is not None), None)
        if link is None:  # no proxy: nobody can relay
            return count
        wait = not (conn.in_exec or conn.serving is not None or conn.retrying is not None
                    or conn.internal)
        tag = 0
        if wait:
            self._relay_tag += 1
            tag = self._relay_tag
            self._relays[tag] = (conn, count, link)
        self._send(link, b"*4\r\n$1\r\nR\r\n:%d\r\n%b%b" % (tag, _bulk(channel), _bulk(message)))
        if wait:
            raise RelayPending()
        return count

    def relayed(self, tag: int, count: int) -> None:
        """DF.RELAYED: the other shards' count is in; the publisher gets the sum."""
        entry = self._relays.pop(tag, None)
        if entry is None:
            return
        conn, local, _ = entry
        if conn.transport is None:
            return
        self._send(conn, b":%d\r\n" % (local + count))
        asyncio.get_running_loop().call_soon(conn.resume)

    # -- introspection --------------------------------------------------------------

    def counts_of(self, table: dict, name: bytes, links: bool) -> int:
        subs = table.get(name)
        if not subs:
            return 0
        if links:
            return sum(subs.values())
        return sum(1 for conn in subs if not conn.internal)

    def names(self, table: dict, links: bool) -> list:
        if links:
            return list(table)
        return [name for name, subs in table.items()
                if any(not conn.internal for conn in subs)]

    def pattern_names(self, links: bool) -> list:
        if links:
            return list(self.patterns)
        return [name for name, (_, subs) in self.patterns.items()
                if any(not conn.internal for conn in subs)]

    def info_fields(self, conn) -> list:
        """INFO stats' pubsub_* fields.  Through the proxy the shards' values
        are summed: a link reads proxy subscribers' names on shard 0 only."""
        links = not conn.internal or self.server.index == 0
        return [("pubsub_channels", len(self.names(self.channels, links))),
                ("pubsub_patterns", len(self.pattern_names(links))),
                ("pubsubshard_channels", len(self.names(self.shard_channels, True)))]


# -- commands from direct clients ---------------------------------------------------


@handler("subscribe", "psubscribe", "ssubscribe")
def subscribe(conn, args):
    if conn.internal:  # the proxy answers these itself (proxy/pubsub.py)
        raise CommandError(errors.unknown_command(args[0], args[1:]))
    kind, reply_name, attr = KINDS[args[0].lower().decode()]
    if conn.subs is None:
        conn.subs = Subscriptions()
    data, added = subscribe_replies(conn.subs, conn.proto, kind, reply_name, attr, args[1:])
    hub = conn.server.pubsub
    for name in added:
        hub.add(kind, name, conn)
    conn.refresh_plain()
    return RawReply(data)  # one reply per name, written as they are


@handler("unsubscribe", "punsubscribe", "sunsubscribe")
def unsubscribe(conn, args):
    if conn.internal:
        raise CommandError(errors.unknown_command(args[0], args[1:]))
    kind, reply_name, attr = KINDS[args[0].lower().decode()]
    subs = conn.subs if conn.subs is not None else Subscriptions()
    data, removed = unsubscribe_replies(subs, conn.proto, kind, reply_name, attr, args[1:])
    hub = conn.server.pubsub
    for name in removed:
        hub.remove(kind, name, conn)
    if conn.subs is not None and subs.empty():
        conn.subs = None
        conn.refresh_plain()
    return RawReply(data)


@handler("publish")
def publish(conn, args):
    hub = conn.server.pubsub
    if conn.internal and not conn.in_exec:  # the proxy's fan-out: it reaches the others
        return hub.publish(args[1], args[2])
    count = hub.publish(args[1], args[2])
    return hub.relay(conn, args[1], args[2], count)


@handler("spublish")
def spublish(conn, args):
    return conn.server.pubsub.spublish(args[1], args[2])


@handler("df.publish")
def df_publish(conn, args):
    """A message relayed from another shard or sent by the proxy: this shard's
    direct subscribers only (the proxy's were reached where it came from)."""
    return conn.server.pubsub.publish(args[1], args[2], links=False)


@handler("df.relayed")
def df_relayed(conn, args):
    conn.server.pubsub.relayed(parse_int(args[1]), parse_int(args[2]))
    return "OK"


@handler("df.sub", "df.unsub")
def df_sub(conn, args):
    """A proxy worker's clients listen (or stop) by these names, one client each."""
    hub = conn.server.pubsub
    kind = args[1]
    if kind not in (b"c", b"p", b"s"):
        raise CommandError(errors.SYNTAX)
    change = hub.add if args[0].lower() == b"df.sub" else hub.remove
    for name in args[2:]:
        change(kind, name, conn)
    return "OK"


@handler("df.patterns")
def df_patterns(conn, args):
    """PUBSUB NUMPAT through the proxy: the names, so the proxy counts each once."""
    return conn.server.pubsub.pattern_names(True)


def _links(conn) -> bool:
    """Whether this shard's answer includes the proxy's subscribers: always
    for a direct client; through the proxy, which sums the shards, on shard 0
    only (every shard holds the same proxy interest)."""
    return not conn.internal or conn.server.index == 0


def _pattern_filter(args):
    if len(args) > 2:
        match = compile_glob(args[2])
        return lambda names: [n for n in names if match(n)]
    return lambda names: names


@handler("pubsub|channels")
def pubsub_channels(conn, args):
    hub = conn.server.pubsub
    return _pattern_filter(args)(hub.names(hub.channels, _links(conn)))


@handler("pubsub|shardchannels")
def pubsub_shardchannels(conn, args):
    hub = conn.server.pubsub
    return _pattern_filter(args)(hub.names(hub.shard_channels, True))


@handler("pubsub|numsub", "pubsub|shardnumsub")
def pubsub_numsub(conn, args):
    hub = conn.server.pubsub
    if args[1].lower() == b"numsub":
        table, links = hub.channels, _links(conn)
    else:  # a shard channel's proxy interest lives on its owner only: always counted
        table, links = hub.shard_channels, True
    out = []
    for name in args[2:]:
        out += [name, hub.counts_of(table, name, links)]
    return out


@handler("pubsub|numpat")
def pubsub_numpat(conn, args):
    return len(conn.server.pubsub.pattern_names(_links(conn)))


@handler("pubsub|help")
def pubsub_help(conn, args):
    return PUBSUB_HELP
