"""Links from a proxy worker to the shards, and the reply slots they fill.

A :class:`ShardLink` is one pipelined RESP connection to one shard, shared by
every client of the worker.  Each request sent is matched with a *reply slot*
-- a two-item list ``[target, data]`` -- appended to the link's FIFO; when the
shard's reply arrives the slot's data is set and ``target.deliver(slot)`` is
called.  Targets are client connections (replies in request order), gathers
(split/fan-out commands, merged when every part is in) and futures
(coordinated commands awaiting a reply).

The shard wraps every reply on a link as one bulk string, so ``data`` is the
reply's exact encoded bytes: the proxy forwards them without re-encoding.
Before a request whose database, protocol or client flags differ from the
link's current ones, the link sends ``DF.CTX`` and ignores its reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import hiredis

from cluster.errors import SHARD_UNAVAILABLE
from cluster.resp import encode_command, encode_error
from cluster.tracking import REDIR_BROKEN, RESP2_INVALIDATE

log = logging.getLogger("damselfly.proxy")

_CONTEXTS: dict = {}

# Frame kinds that carry pub/sub traffic (see shardnode/pubsub.py).
PUBSUB_FRAMES = frozenset((b"M", b"H", b"R", b"X"))


def context(db: int, proto: int, notouch: bool) -> tuple:
    """An interned (db, proto, flags) tuple: links compare contexts by identity."""
    key = (db, proto, notouch)
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        ctx = _CONTEXTS[key] = key
    return ctx


DEFAULT_CONTEXT = context(0, 2, False)


class _Ignore:
    """Target of replies the proxy does not want (DF.LINK, DF.CTX)."""

    __slots__ = ()

    def deliver(self, slot):
        pass


IGNORE = _Ignore()


class FutureTarget:
    """Resolves an asyncio future with the reply bytes (coordinated commands)."""

    __slots__ = ("future",)

    def __init__(self, future):
        self.future = future

    def deliver(self, slot):
        if not self.future.done():
            self.future.set_result(slot[1])


class ShardLink(asyncio.Protocol):
    """One connection to one shard; reconnects by itself when it drops."""

    def __init__(self, worker, shard):
        self.worker = worker
        self.shard = shard  # ShardInfo
        self.transport = None
        self.pending = deque()
        self.deferred: dict = {}  # tag -> slot of a parked request
        self.reader = hiredis.Reader()
        self.ctx = None
        self.wbuf: list = []
        self.connected = asyncio.get_event_loop().create_future()
        self.closed = False
        self.unavailable = encode_error(SHARD_UNAVAILABLE.format(shard.index))
        self.was_connected = False

    # -- connection management ----------------------------------------------

    async def connect(self):
        loop = asyncio.get_running_loop()
        delay = 0.05
        while not self.closed:
            try:
                await loop.create_connection(lambda: self, self.shard.host, self.shard.port)
                return
            except OSError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)

    def connection_made(self, transport):
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket

            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover
                pass
        self.transport = transport
        self.reader = hiredis.Reader()
        self.ctx = None
        # A (re)started shard tells a -LOADING / -MISCONF state when it links.
        self.worker.shard_refusals.pop(self.shard.index, None)
        self.worker.note_shard_memory(self.shard.index, 0)  # and its memory state ("F")
        transport.write(encode_command([b"DF.LINK", self.worker.secret, b"%d" % self.worker.index]))
        self.pending.append([IGNORE, None])
        self.worker.pubsub.link_up(self)  # does its shard have direct subscribers?
        if not self.connected.done():
            self.connected.set_result(True)
        log.debug("link to shard %d up", self.shard.index)
        if self.was_connected:  # a new link: the shard's sessions of this worker are gone
            from proxy.tracking import link_restored

            link_restored(self.worker, self)
        self.was_connected = True

    def connection_lost(self, exc):
        self.transport = None
        self.wbuf = []
        pending, self.pending = self.pending, deque()
        pending.extend(self.deferred.values())
        self.deferred = {}
        for slot in pending:
            slot[1] = self.unavailable
            slot[0].deliver(slot)
        self.worker.flush_clients()
        if self.shard.index in self.worker.monitor_shards:  # (its monitors went with it)
            from proxy.monitor import shard_monitored

            shard_monitored(self.worker, self.shard.index, False)
        self.connected = asyncio.get_event_loop().create_future()
        if not self.closed:
            log.warning("link to shard %d lost; reconnecting", self.shard.index)
            asyncio.ensure_future(self.connect())

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- sending -------------------------------------------------------------

    def send(self, ctx, payload: bytes, slot) -> None:
        """Queue one encoded request; its reply goes to ``slot``."""
        if self.transport is None:
            slot[1] = self.unavailable
            slot[0].deliver(slot)
            return
        if not self.wbuf:
            self.worker.dirty_links.append(self)
        if ctx is not self.ctx and ctx is not None:
            self.ctx = ctx
            switch = [b"DF.CTX", b"%d" % ctx[0], b"%d" % ctx[1], b"t" if ctx[2] else b"-"]
            if len(ctx) > 3:  # a client's session (see ProxyClient.session_ctx)
                switch.append(b"%d" % ctx[3])
            self.wbuf.append(encode_command(switch))
            self.pending.append([IGNORE, None])
        self.wbuf.append(payload)
        self.pending.append(slot)

    def send_forget(self, ctx, args) -> None:
        """Send a request whose reply nobody needs (ctx None: any context)."""
        self.send(ctx, encode_command(args), [IGNORE, None])

    def flush(self) -> None:
        if self.wbuf:
            if self.transport is not None:
                self.transport.write(b"".join(self.wbuf))
            self.wbuf = []

    def request(self, ctx, args) -> asyncio.Future:
        """Send one command now and return a future of its reply bytes.

        Sent at once (not when awaited), so requests keep the order they are
        made in; written with the rest of this event-loop turn's requests.
        """
        future = asyncio.get_running_loop().create_future()
        self.send(ctx, encode_command(args), [FutureTarget(future), None])
        self.worker.flush_soon()
        return future

    # -- receiving -------------------------------------------------------------

    def data_received(self, data):
        reader = self.reader
        reader.feed(data)
        pending = self.pending
        while True:
            reply = reader.gets()
            if reply is False:
                break
            if type(reply) is bytes:  # the oldest request's reply
                slot = pending.popleft()
                slot[1] = reply
                slot[0].deliver(slot)
            else:
                self._out_of_order(reply)
        self.worker.flush_soon()

    def _out_of_order(self, frame) -> None:
        """A parked request (``:tag``), a deferred reply, a push or a wake-up
        (see shardnode/node.py and shardnode/blocking.py)."""
        if type(frame) is int:
            self.deferred[frame] = self.pending.popleft()
            return
        kind = frame[0]
        if kind in PUBSUB_FRAMES:  # M, H, R, X: pub/sub (proxy/pubsub.py)
            self.worker.pubsub.on_frame(self, frame)
            return
        kind, number, payload = frame
        if kind == b"D":
            slot = self.deferred.pop(number, None)
            if slot is not None:
                slot[1] = payload
                slot[0].deliver(slot)
        elif kind == b"P":
            client = self.worker.clients.get(number)
            if client is not None:
                if payload[:1] == b">" and payload.startswith(REDIR_BROKEN):
                    from proxy.tracking import redirect_broken

                    redirect_broken(client, payload)
                else:
                    client.push(payload)
            elif payload.startswith(RESP2_INVALIDATE):  # for a REDIRECT target gone
                from proxy.tracking import no_such_target

                no_such_target(self, number)
        elif kind == b"O":  # whether the shard has monitors (observers) (proxy/monitor.py)
            from proxy.monitor import shard_monitored

            shard_monitored(self.worker, self.shard.index, number == 1)
        elif kind == b"S":  # the shard's PING state: "" or -LOADING / -MISCONF's text
            refusals = self.worker.shard_refusals
            if payload:
                refusals[number] = payload.decode()
            else:
                refusals.pop(number, None)
        elif kind == b"F":  # the shard's memory state: 0 no limit, 1 within, 2 out of memory
            self.worker.note_shard_memory(number, payload)
        elif kind == b"K":  # acknowledge the pushes before it (proxy/tracking.py)
            from proxy.tracking import acknowledge

            acknowledge(self, number)
        elif kind == b"W":  # a wake-up for a cross-shard blocking command
            client = self.worker.clients.get(number)
            if client is not None:
                client.wake(payload)
