"""The shardnode process: a single-threaded RESP server for its slot range.

:class:`ShardServer` owns the keyspace, the dispatch table and the background
work (active expiry); :class:`ShardConnection` is the thin asyncio protocol
that feeds bytes to the parser, runs commands through :meth:`execute` and
writes the replies of one read in one write.

Every generic check happens once, in :meth:`ShardConnection.execute`, before
a handler runs: command lookup, subcommand, arity, AUTH, internal-only
commands, and in sharded cluster mode CROSSSLOT/MOVED.

Proxy links (connections that sent ``DF.LINK <secret>``) get each reply
wrapped as one bulk string, so the proxy can forward it without decoding.
While a coordinated command holds the shard (``DF.LOCK``), every other
connection's commands wait in its inbox, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from cluster import errors
from cluster.commands import resolve
from cluster.errors import CommandError, ProtocolError
from cluster.resp import NO_REPLY, RequestParser, encode, encode_error
from cluster.session import Session
from shardnode.db import Keyspace, slot_of
from shardnode.registry import HANDLERS, load_families

log = logging.getLogger("damselfly.shard")

_perf = time.perf_counter


class ShardServer:
    def __init__(self, config, index: int, topology, secret: str, clock=None):
        self.config = config
        self.index = index
        self.topology = topology
        self.info = topology.shards[index]
        self.secret = secret.encode()
        self.keyspace = Keyspace(config.dbnum, clock)
        self.clients: dict = {}
        self._client_id = 0
        self.started = time.time()
        self.lock_owner = None
        self.lock_waiters: deque = deque()
        self.active_expire_enabled = True  # DEBUG SET-ACTIVE-EXPIRE 0|1
        self.sharded = config.cluster_mode == "sharded"
        self.slot_owner = topology.slot_map.owner
        self.dispatch = build_dispatch()
        # Statistics (INFO stats / commandstats / errorstats).
        self.stat_commands = 0
        self.stat_connections = 0
        self.stat_rejected = 0
        self.cmdstats: dict = {}  # name -> [calls, usec, rejected, failed]
        self.errorstats: dict = {}  # error prefix -> count
        self._server = None
        self._expiry_handle = None

    def next_client_id(self) -> int:
        self._client_id += 1
        return self._client_id

    async def start(self, host: str, port: int):
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ShardConnection(self), host, port, reuse_address=True,
            backlog=self.config.tcp_backlog
        )
        self._schedule_expiry()
        return self._server

    async def close(self):
        if self._expiry_handle:
            self._expiry_handle.cancel()
        if self._server:
            self._server.close()
        for client in list(self.clients.values()):
            client.kill()

    # -- active expiry ----------------------------------------------------

    def _schedule_expiry(self, delay=None):
        loop = asyncio.get_event_loop()
        if delay is None:
            delay = 1.0 / self.config.hz
        self._expiry_handle = loop.call_later(delay, self._expiry_cycle)

    def _expiry_cycle(self):
        """Remove due keys in bounded steps; come back soon while more are due."""
        if self.lock_owner is not None or not self.active_expire_enabled:
            self._schedule_expiry()
            return
        removed = self.keyspace.active_expire(budget=500)
        self._schedule_expiry(0.001 if removed >= 500 else None)

    # -- coordination lock ---------------------------------------------------

    def acquire(self, conn) -> None:
        self.lock_owner = conn

    def release(self, conn) -> None:
        if self.lock_owner is not conn:
            return
        self.lock_owner = None
        waiters, self.lock_waiters = self.lock_waiters, deque()
        loop = asyncio.get_event_loop()
        for waiter in waiters:
            loop.call_soon(waiter.resume)

    # -- errors ------------------------------------------------------------

    def count_error(self, text: str) -> None:
        prefix = text.split(" ", 1)[0]
        self.errorstats[prefix] = self.errorstats.get(prefix, 0) + 1


def build_dispatch() -> dict:
    """Command name bytes (lower and upper case) -> (spec, handler, plain).

    ``plain`` marks commands that need none of the generic checks but arity
    once the connection itself is plain (see :meth:`ShardConnection.refresh_plain`):
    no subcommands, not internal, not connection-level (those change the
    connection's state).
    """
    from cluster.commands import COMMANDS

    load_families()
    table = {}
    for spec in COMMANDS.values():
        fn = HANDLERS.get(spec.name)
        if fn is None and not spec.subcommands:
            raise LookupError("no shard handler for command %r" % spec.name)
        for sub in spec.subcommands.values():
            if sub.name not in HANDLERS:
                raise LookupError("no shard handler for %r" % sub.name)
        plain = not spec.subcommands and spec.group not in ("internal", "connection")
        entry = (spec, fn, plain)
        table[spec.name_bytes] = entry
        table[spec.name_bytes.upper()] = entry
    return table


class ShardConnection(asyncio.Protocol, Session):
    """One client or proxy link."""

    def __init__(self, server: ShardServer):
        self.server = server
        self.transport = None
        self.internal = False
        self.inbox: deque = deque()
        self.blocked = False
        self.parser = RequestParser(server.config.proto_max_bulk_len)
        self.db = server.keyspace.dbs[0]
        self.protocol_error = None

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        self.init_session(self.server, "%s:%s" % peer[:2], "%s:%s" % sock[:2])
        self.parser.authenticated = self.authenticated
        self.refresh_plain()
        self.server.stat_connections += 1

    def connection_lost(self, exc):
        self.end_session()
        self.server.release(self)
        self.transport = None

    def data_received(self, data):
        while True:
            try:
                cmds = self.parser.feed(data)
            except ProtocolError as exc:
                cmds = exc.args[1]
                self.protocol_error = exc.args[0]
            if self.blocked or self.inbox:
                self.inbox.extend(cmds)
            else:
                self.run(cmds, 0)
            if self.protocol_error and not self.inbox:
                self._fail_protocol()
                return
            # Before AUTH the parser hands out one command at a time (see
            # RequestParser.buffered): parse on once each has run.
            if not (cmds and self.parser.buffered and not self.blocked
                    and not self.closing and self.transport is not None):
                return
            data = b""

    def _fail_protocol(self):
        text = self.protocol_error
        self.protocol_error = None
        self.server.count_error(text)
        if self.transport:
            self.transport.write(self._wrap(encode_error(text)) if self.internal
                                 else encode_error(text))
            self.transport.close()

    # -- execution -----------------------------------------------------------

    def run(self, cmds, start: int) -> None:
        """Execute cmds[start:] and write their replies in one write."""
        server = self.server
        keyspace = server.keyspace
        keyspace.tick()
        keyspace.touch = not self.notouch  # CLIENT NO-TOUCH: reads keep access times
        out = []
        execute = self.execute
        n = len(cmds)
        i = start
        while i < n:
            owner = server.lock_owner
            if owner is not None and owner is not self:
                self._block(cmds[i:])
                break
            reply = execute(cmds[i])
            if reply is not None:
                out.append(reply)
            i += 1
            if self.closing:
                break
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
        if self.closing and self.transport is not None:
            self.transport.close()

    def _block(self, rest) -> None:
        self.blocked = True
        self.inbox.extend(rest)
        self.server.lock_waiters.append(self)
        if self.transport is not None and len(self.inbox) > 10000:
            self.transport.pause_reading()

    def resume(self) -> None:
        """The shard lock was released: run what waited, in order."""
        if self.transport is None:
            return
        self.blocked = False
        pending = list(self.inbox)
        self.inbox.clear()
        self.transport.resume_reading()
        self.run(pending, 0)
        if self.protocol_error and not self.inbox:
            self._fail_protocol()
        elif self.parser.buffered and not self.blocked:
            self.data_received(b"")

    def execute(self, args) -> bytes | None:
        """Run one command; returns the encoded reply (None: send nothing)."""
        server = self.server
        entry = server.dispatch.get(args[0])
        if entry is None:
            entry = server.dispatch.get(args[0].lower())
            if entry is None:
                return self._error(errors.unknown_command(args[0], args[1:]), None)
        spec, fn, plain = entry
        if plain and self.plain:  # the common case: arity (and in sharded mode, the slot)
            argc = len(args)
            arity = spec.arity
            if argc != arity and (arity > 0 or argc < -arity):
                return self._error(errors.wrong_arity(spec.name), spec)
            if self.slot_checked and spec.has_keys:
                moved = self.check_slots(spec, args)
                if moved is not None:
                    return self._error(moved, spec)
        else:
            plain = False
            if spec.subcommands:
                spec = resolve(spec, args)
                if type(spec) is str:
                    return self._error(spec, None)
                fn = HANDLERS[spec.name]
            if not spec.arity_ok(len(args)):
                return self._error(errors.wrong_arity(spec.name), spec)
            if spec.group == "internal" and not self.internal and spec.name != "df.link":
                return self._error(errors.unknown_command(args[0], args[1:]), None)
            if not self.authenticated and "no_auth" not in spec.flags:
                return self._error(errors.NOAUTH, spec)
            if server.sharded and spec.has_keys and not self.internal:
                moved = self.check_slots(spec, args)
                if moved is not None:
                    return self._error(moved, spec)
        stats = server.cmdstats.get(spec.name)
        if stats is None:
            stats = server.cmdstats[spec.name] = [0, 0.0, 0, 0]
        t0 = _perf()
        try:
            reply = fn(self, args)
        except CommandError as exc:
            stats[0] += 1
            stats[3] += 1
            return self._error(exc.args[0], None)
        except Exception:  # a bug must not take the shard down
            log.exception("command %r failed", args[:3])
            stats[0] += 1
            stats[3] += 1
            return self._error("ERR internal error while running '%s'" % spec.name, None)
        stats[0] += 1
        stats[1] += _perf() - t0
        server.stat_commands += 1
        if not plain:  # AUTH, HELLO, CLIENT REPLY, DF.LINK ... may change the state
            self.parser.authenticated = self.authenticated
            if self.internal and not self.parser.trusted:
                self.parser.trust()  # a proxy link: see RequestParser.trust
            self.refresh_plain()
            server.keyspace.touch = not self.notouch  # CLIENT NO-TOUCH, DF.CTX
        self.last_command = spec.name
        if self.reply_mode:
            if reply is NO_REPLY or self.reply_mode == 1:
                return None
            self.reply_mode = 0  # SKIP: this one is skipped, the next is sent
            return None
        if reply is NO_REPLY:
            return None
        data = encode(reply, self.proto)
        if self.internal:
            return b"$%d\r\n%b\r\n" % (len(data), data)  # _wrap, inlined
        return data

    def refresh_plain(self) -> None:
        """Plain: authenticated and replies on.  Slot-checked: a direct client in sharded mode."""
        self.plain = self.authenticated and not self.reply_mode
        self.slot_checked = self.server.sharded and not self.internal

    def _error(self, text: str, spec) -> bytes:
        self.server.count_error(text)
        if spec is not None:
            stats = self.server.cmdstats.setdefault(spec.name, [0, 0.0, 0, 0])
            stats[2] += 1
        data = encode_error(text)
        return self._wrap(data) if self.internal else data

    @staticmethod
    def _wrap(data: bytes) -> bytes:
        return b"$%d\r\n%b\r\n" % (len(data), data)

    def check_slots(self, spec, args):
        """Sharded mode: CROSSSLOT across slots, MOVED for slots not ours."""
        if spec.single_key:
            slot = slot_of(args[1])
        else:
            keys = spec.keys(args)
            if not keys:
                return None
            slot = slot_of(keys[0])
            for key in keys[1:]:
                if slot_of(key) != slot:
                    return errors.CROSSSLOT
        owner = self.server.slot_owner[slot]
        if owner != self.server.index:
            topology = self.server.topology
            ip = topology.announced_ip(self.laddr.rpartition(":")[0])  # as CLUSTER SLOTS says
            return "MOVED %d %s:%d" % (slot, ip, topology.shards[owner].port)
        return None

    # -- Session hooks ---------------------------------------------------------

    def on_select(self, index: int) -> None:
        self.db_index = index
        self.db = self.server.keyspace.dbs[index]

    def on_close_requested(self) -> None:
        self.closing = True

    def kill(self) -> None:
        if self.transport is not None:
            self.transport.close()
