"""A client connection to the proxy: parse, check, route, reply in order.

The hot path for a keyed command is: hiredis parses the request, the name is
looked up in the command table, the key's slot picks the shard, the request is
re-encoded onto that shard's link with a reply slot, and when the shard's
reply bytes arrive they are written to the client -- in request order, since
the client's reply slots form a FIFO (:attr:`ProxyClient.queue`).

Generic checks (lookup, subcommand, arity, AUTH) are done here once; routing
then follows the spec's ``route``: LOCAL handlers answer at once, KEYED goes
to one shard (or the coordinator when keys span shards), SPLIT and ALL go
through ``proxy.fanout``.

Flow control: the links to the shards are shared by every client of the
worker, so no client may fill them.  A client has at most ``budget`` reply
slots queued; the commands of a read beyond that wait in
:attr:`ProxyClient.held` and the client is not read from until its queue
drains to half the budget, so each turn a heavy pipeline adds a bounded
number of requests to the links and other clients' requests interleave.
The budget starts at :data:`MIN_QUEUED` and doubles each time the client
drains it, up to :data:`MAX_QUEUED`; it falls back to the minimum whenever
the client's socket buffer fills (``pause_writing``: it does not read, or
its replies are large), so the replies in flight for one client stay few
when they are big.  A client that does not read its replies is not read
from either, and ``client_output_buffer_limit`` (normal class) disconnects
it when its buffered replies pass the limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from binascii import crc_hqx
from collections import deque
from time import perf_counter

from cluster import errors
from cluster.commands import ALL, KEYED, LOCAL, LOOKUP, SPLIT, resolve
from cluster.commands.transactions import RUN_INSIDE_MULTI
from cluster.errors import CommandError, ProtocolError
from cluster.pubsub import SUBSCRIBED_ALLOWED
from cluster.resp import NO_REPLY, RequestParser, encode, encode_command, encode_error
from cluster.session import Session, refused_to_monitors
from cluster.slots import SLOT_MASK, key_slot
from cluster.tracking import as_resp3
from proxy.coordinator import reach_shards
from proxy import blocking, monitor, tracking
from proxy.links import context
from proxy.scripting import KEYED_HOOKS
import proxy.script_proxy  # noqa: F401  (registers the EVAL routing hooks)
from proxy.transactions import oom_in_multi

QUEUED = b"+QUEUED\r\n"

log = logging.getLogger("damselfly.proxy")

# Name as sent -> spec, for the commands :meth:`ProxyClient.dispatch` forwards
# without the generic path: one key at args[1], routed to its shard, no
# subcommands.  A client uses this table only while nothing about its state
# (AUTH pending, CLIENT REPLY, ...) asks for the generic checks.
KEYED_FAST = {name: spec for name, spec in LOOKUP.items()
              if spec.route is KEYED and spec.single_key and not spec.subcommands
              and spec.group != "internal"}
NO_FAST: dict = {}

# Reply slots a client may have queued (its budget, see the module doc)
# before the proxy stops routing its commands and reading from it.  Measured
# with 1,000,000 pipelined INCRs next to a client timing GETs on the same
# shard (2 shards, 2 busy cores): the other client's median wait grows with
# the maximum (128: 1.3 ms, 256: 2.4 ms, 512: 4.2 ms, 1024: 8 ms, 2048: 18 ms)
# while the pipeline's own rate stays flat from 256 up (~120k/s; 128: ~105k/s).
# The minimum stays above the pipelines of ordinary clients (-P 16).
MAX_QUEUED = 256
MIN_QUEUED = 32


class ProxyClient(asyncio.Protocol, Session):
    subs = None  # pub/sub Subscriptions (proxy/pubsub.py), made at the first subscribe
    subscribed = False  # it has a subscription: subscribed mode in RESP2, pubsub buffer class
    limit_check = False  # given messages this turn: WorkerPubSub.check_limits looks at it

    def __init__(self, worker):
        self.worker = worker
        self.server = worker
        self.transport = None
        self.queue: deque = deque()  # reply slots awaiting their turn
        self.outbuf: list = []
        self.backlog = None  # commands held while coordinated work is sent (hold())
        self.hold_owner = None
        self.ctx = None
        self.parser = RequestParser(worker.config.proto_max_bulk_len)
        self.discard = None  # slots whose reply CLIENT REPLY OFF/SKIP drops
        self.watch_shards: set = set()  # shards holding this client's WATCHes
        self.session_shards: set = set()  # shards that keep a session for this client
        self._session_ctx = None
        self.coordinating = 0  # coordinated operations in flight (proxy/coordinator.py)
        self.blocked = None  # its blocking command while it waits (proxy/blocking.py)
        # Flow control (see the module doc): commands read but not routed
        # yet; whether reading is paused for that or for pause_writing.
        self.held = None
        self.budget = MIN_QUEUED
        self.throttled = False
        self.write_paused = False
        self.soft_limit_since = None  # client_output_buffer_limit soft limit
        self.monitoring = False  # sent MONITOR (proxy/monitor.py)
        self.tracking_proto = 2  # the protocol the shards encode its invalidations in

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        self.init_session(self.worker, "%s:%s" % peer[:2], "%s:%s" % sock[:2])
        self.local_ip = sock[0]
        self.local_port = sock[1]
        self.parser.authenticated = self.authenticated
        self.ctx = context(0, 2, False)
        if self.worker.monitored:  # requests go in its session, its address known
            monitor.send_address(self)
            self.ctx = self.session_ctx()
        self.fast = KEYED_FAST if self.authenticated else NO_FAST
        self.worker.stat_connections += 1
        if len(self.worker.clients) > self.worker.config.maxclients:
            transport.write(encode_error("ERR max number of clients reached"))
            transport.close()

    def connection_lost(self, exc):
        self.end_session()
        self.transport = None
        # Nothing of a gone client may grow: its held commands are never
        # routed and its replies are dropped (those still to come are too,
        # by flush); the slots stay queued, empty, so a coordinated command
        # behind them still runs after them.
        self.held = None
        self.outbuf = []
        if self.blocked is not None:
            self.blocked.client_gone()
        if self.subs is not None:
            self.worker.pubsub.drop(self)
        for slot in self.queue:
            if slot[1] is not None:
                slot[1] = b""
        if not self.coordinating:
            self.end_sessions()

    def end_sessions(self) -> None:
        """The client is gone: its shards drop its watches, locks, parked requests.

        With coordinated work in flight this waits until that work is done
        (the coordinator calls it), so no session outlives its client.
        """
        if self.session_shards:
            gone = [b"DF.GONE", b"%d" % self.id]
            for shard in self.session_shards:
                self.worker.links[shard].send_forget(None, gone)
            self.session_shards = set()
            self.worker.flush_soon()

    def pause_writing(self):
        """The client's socket buffer is full: read no more from it."""
        self.write_paused = True
        self.budget = MIN_QUEUED
        self._throttle()

    def resume_writing(self):
        self.write_paused = False
        self._unthrottle()

    def data_received(self, data):
        more = self._take(data)
        # Before AUTH the parser hands out one command at a time (see
        # RequestParser.buffered): parse on once each has run.
        while (more and self.parser.buffered and not self.closing and self.backlog is None
               and self.held is None):
            more = self._take(b"")
        if self.closing:
            self.worker.flush_links()
            self.flush()
        else:
            self.worker.flush_soon()

    def _take(self, data) -> bool:
        """Parse and run what ``data`` completes; False once nothing more can run."""
        protocol_error = None
        try:
            cmds = self.parser.feed(data)
        except ProtocolError as exc:
            cmds, protocol_error = exc.args[1], exc.args[0]
        held = self.held
        if held is not None:  # read before the pause took effect: after the held ones
            held.extend(cmds)
            if protocol_error:
                held.append(protocol_error)
            return False
        if self.backlog is not None:
            self.backlog.extend(cmds)
            if protocol_error:
                self.backlog.append(protocol_error)
            return False
        self.process(cmds, 0)
        if protocol_error:
            if self.backlog is not None:
                self.backlog.append(protocol_error)
            else:
                self._protocol_error(protocol_error)
            return False
        return bool(cmds)

    def _protocol_error(self, text: str) -> None:
        self.worker.count_error(text)
        self.local_reply(encode_error(text))
        self.closing = True
        self.transport.pause_reading()

    # -- routing -------------------------------------------------------------

    def process(self, cmds, start: int) -> None:
        """Route cmds[start:] in order.

        The fast path is inlined here: while the connection is in the plain
        state (``self.fast`` is :data:`KEYED_FAST`), a single-key command
        (GET, SET, INCR ...) with a valid arity goes straight to its shard's
        link, with the lookups done once per read.  Everything else goes
        through :meth:`dispatch`.  Code that gives a connection state needing
        the generic checks (MULTI, pub/sub ...) must make :meth:`refresh_fast`
        empty ``self.fast``.

        At most ``self.budget`` slots may be queued: the commands beyond are
        held (:meth:`_hold`) -- one compare per call, none per command.
        """
        worker = self.worker
        owner = worker.slot_owner
        links = worker.links
        queue = self.queue
        fast = self.fast
        ctx = self.ctx
        fast_count = 0
        last = None
        n = len(cmds)
        if n - start > self.budget - len(queue):
            n = self._hold(cmds, start)
        i = start
        while i < n:
            item = cmds[i]
            i += 1
            spec = fast.get(item[0])
            if spec is not None:
                argc = len(item)
                arity = spec.arity
                if argc == arity or (arity < 0 and argc >= -arity):
                    key = item[1]
                    slot = [self, None]
                    queue.append(slot)
                    link = links[owner[key_slot(key) if b"{" in key
                                       else crc_hqx(key, 0) & SLOT_MASK]]
                    link.send(ctx, encode_command(item), slot)
                    fast_count += 1
                    last = spec
                    continue
            if fast_count:
                worker.stat_commands += fast_count
                self.last_command = last.name
                fast_count = 0
            if type(item) is str:  # a protocol error queued behind a barrier
                self._protocol_error(item)
                return
            self.dispatch(item)
            if self.tracking is not None and self.tracking.caching:
                tracking.after_command(self, item)
            if self.backlog is not None:
                self.backlog.extend(cmds[i:n])
                return
            if self.closing:
                return
            fast = self.fast
            ctx = self.ctx
        if fast_count:
            worker.stat_commands += fast_count
            self.last_command = last.name

    # -- flow control ------------------------------------------------------------

    def _hold(self, cmds, start: int) -> int:
        """Keep the commands beyond this turn's room aside; returns the cut."""
        cut = start + max(self.budget - len(self.queue), 0)
        rest = cmds[cut:]
        if self.held:  # commands read later than these
            rest.extend(self.held)
        self.held = rest
        self._throttle()
        return cut

    def _throttle(self) -> None:
        if not self.throttled:
            self.throttled = True
            if self.transport is not None:
                self.transport.pause_reading()

    def _unthrottle(self) -> None:
        """Route held commands and read again, once replies have drained."""
        if (self.write_paused or self.transport is None or self.closing
                or len(self.queue) > self.budget >> 1):
            return
        held = self.held
        if held is not None:
            if self.backlog is not None:
                return  # release_hold routes the backlog, then comes back here
            if self.budget < MAX_QUEUED:  # it keeps up: let it have more in flight
                self.budget <<= 1
            self.held = None
            self.process(held, 0)
            self.worker.flush_soon()
            if self.held is not None or self.backlog is not None or self.closing:
                return
        self.throttled = False
        self.transport.resume_reading()
        if self.parser.buffered:
            self.data_received(b"")

    def output_bytes(self) -> int:
        return self.buffered_reply_bytes()

    def buffered_reply_bytes(self) -> int:
        """Reply bytes waiting for this client: the socket's buffer, outbuf and
        the replies queued behind one still missing."""
        transport = self.transport
        total = transport.get_write_buffer_size() if transport is not None else 0
        for data in self.outbuf:
            total += len(data)
        for slot in self.queue:
            data = slot[1]
            if data is not None:
                total += len(data)
        return total

    def check_output_limit(self, hard: int, soft: int, seconds: int) -> None:
        """client_output_buffer_limit, normal class: close at the hard limit
        at once, over the soft limit once it has lasted ``seconds``."""
        if self.transport is None:
            return
        used = self.buffered_reply_bytes()
        if hard and used >= hard:
            self._close_over_limit(used)
            return
        if soft and used >= soft:
            if self.soft_limit_since is None:
                self.soft_limit_since = time.monotonic()
                asyncio.get_running_loop().call_later(
                    seconds, self._check_soft_limit, self.soft_limit_since)
        else:
            self.soft_limit_since = None

    def _check_soft_limit(self, since: float) -> None:
        """Still over the soft limit, continuously since ``since``?"""
        if self.soft_limit_since != since or self.transport is None:
            return
        limit = (self.worker.pubsub.output_limit() if self.subscribed
                 else self.worker.normal_output_limit())
        if limit is None or not limit[1]:
            self.soft_limit_since = None
            return
        used = self.buffered_reply_bytes()
        if used < limit[1]:
            self.soft_limit_since = None
        elif time.monotonic() - since >= limit[2]:
            self._close_over_limit(used)
        else:  # the seconds were raised meanwhile
            asyncio.get_running_loop().call_later(
                since + limit[2] - time.monotonic(), self._check_soft_limit, since)

    def _close_over_limit(self, used: int) -> None:
        log.warning("Client id=%d addr=%s closed for overcoming of output buffer limits "
                    "(%d bytes buffered).", self.id, self.addr, used)
        self.soft_limit_since = None
        self.transport.abort()  # what is buffered is not sent

    def dispatch(self, args) -> None:
        """Check and route one command (see :meth:`process` for the fast path)."""
        spec = LOOKUP.get(args[0])
        if spec is None:
            spec = LOOKUP.get(args[0].lower())
        if spec is None or spec.group == "internal":  # DF.* only on shard links
            self._reject(errors.unknown_command(args[0], args[1:]))
            return
        if spec.subcommands:
            spec = resolve(spec, args)
            if type(spec) is str:
                self._reject(spec)
                return
        if not spec.arity_ok(len(args)):
            if spec.name == "exec":
                from proxy.transactions import abort_exec

                self.error_reply(abort_exec(self, errors.wrong_arity(spec.name)))
                return
            self._reject(errors.wrong_arity(spec.name))
            return
        if not self.authenticated and "no_auth" not in spec.flags:
            self._reject(errors.NOAUTH)
            return
        if self.monitoring and refused_to_monitors(spec):
            self._reject(errors.MONITOR_KEYSPACE)
            return
        worker = self.worker
        if self.multi is not None and worker.full_shards and oom_in_multi(self, spec, args):
            self._reject(errors.OOM)  # a shard is out of memory (proxy/transactions.py)
            return
        if self.subscribed and self.proto == 2 and spec.name not in SUBSCRIBED_ALLOWED:
            self._reject(errors.subscribed_context(spec.name))
            return
        if self.multi is not None and spec.name not in RUN_INSIDE_MULTI:
            if "no_multi" in spec.flags:
                self._reject(errors.NO_MULTI)
                return
            if not self.multi_failed:  # a doomed queue keeps nothing, as Redis's
                self.multi.append(args)
            if self.reply_mode:  # CLIENT REPLY OFF / SKIP
                if self.reply_mode == 2:
                    self.reply_mode = 0
            else:
                self.local_reply(QUEUED)
            worker.stat_commands += 1
            return
        worker.stat_commands += 1
        self.last_command = spec.name
        if "blocking" in spec.flags:
            blocking.run(self, spec, args)
            return
        route = spec.route
        if route is KEYED:
            if spec.single_key:
                key = args[1]
                if b"{" in key:
                    shard = worker.slot_owner[key_slot(key)]
                else:
                    shard = worker.slot_owner[crc_hqx(key, 0) & SLOT_MASK]
                self.forward(shard, args)
                return
            hook = KEYED_HOOKS.get(spec)
            if hook is not None and hook(self, spec, args):  # EVAL: proxy/script_proxy.py
                return
            keys = spec.keys(args)
            owner = worker.slot_owner
            shards = {owner[key_slot(k)] for k in keys}
            if spec.reach_hook is not None:  # SORT's BY/GET patterns
                shards |= reach_shards(worker, spec, args)
            if len(shards) <= 1:
                self.forward(shards.pop() if shards else 0, args)
            else:
                worker.coordinator.run_command(self, spec, args)
            return
        if route is LOCAL:
            self.run_local(spec, args)
            return
        if route is SPLIT or route is ALL:
            if route is ALL and worker.full_shards and "denyoom" in spec.flags:
                # FUNCTION LOAD/RESTORE: every shard or none, or their libraries differ
                self.error_reply(errors.OOM)
                return
            worker.fanout(self, spec, args)
            return
        self.error_reply("ERR command routing %r is not supported" % route)

    def _reject(self, text: str) -> None:
        """A generic check failed; inside MULTI that dooms the transaction."""
        if self.multi is not None:
            self.multi_failed = True
        self.error_reply(text)

    def forward(self, shard: int, args) -> None:
        slot = [self, None]
        self.queue.append(slot)
        if self.reply_mode:
            self._mark_discard(slot)
        self.worker.links[shard].send(self.ctx, encode_command(args), slot)

    def new_slot(self) -> list:
        """A reply slot in this client's order, to be filled later."""
        slot = [self, None]
        self.queue.append(slot)
        if self.reply_mode:
            self._mark_discard(slot)
        return slot

    def run_local(self, spec, args) -> None:
        fn = self.worker.local_handlers.get(spec.name)
        if fn is None:
            self.error_reply("ERR '%s' is not supported by the proxy" % spec.name)
            return
        stats = self.worker.cmdstats.get(spec.name)
        if stats is None:
            stats = self.worker.cmdstats[spec.name] = [0, 0, 0, 0]
        stats[0] += 1
        t0 = perf_counter()
        try:
            reply = fn(self, args)
        except CommandError as exc:
            stats[3] += 1
            if self.worker.monitored:
                monitor.report_local(self, spec, args)
            self.error_reply(exc.args[0])
            return
        except Exception:
            stats[3] += 1
            log.exception("local command %r failed", args[:3])
            self.error_reply("ERR internal error while running '%s'" % spec.name)
            return
        stats[1] += (perf_counter() - t0) * 1_000_000
        if self.worker.monitored:
            monitor.report_local(self, spec, args)
        # HELLO, AUTH, SELECT, RESET, CLIENT NO-TOUCH change what links need.
        self.refresh_context()
        if self.tracking is not None and self.tracking_proto != self.proto:
            tracking.announce(self)  # HELLO: invalidations in the new protocol
        self.parser.authenticated = self.authenticated
        self.refresh_fast()
        if reply is NO_REPLY:
            return
        if self.reply_mode:
            if self.reply_mode == 2:
                self.reply_mode = 0
            return
        self.local_reply(encode(reply, self.proto))

    def error_reply(self, text: str) -> None:
        self.worker.count_error(text)
        if self.reply_mode:
            if self.reply_mode == 2:
                self.reply_mode = 0
            return
        self.local_reply(encode_error(text))

    def local_reply(self, data: bytes) -> None:
        if self.queue:
            self.queue.append([self, data])
            return
        if not self.outbuf:
            self.worker.mark_dirty(self)
        self.outbuf.append(data)

    def refresh_fast(self) -> None:
        """Allow the fast path of :meth:`dispatch` only in the plain state."""
        self.fast = KEYED_FAST if (
            self.authenticated and not self.reply_mode and self.multi is None
            and not (self.subscribed and self.proto == 2) and not self.monitoring
            and (self.tracking is None or not self.tracking.caching)) else NO_FAST

    def _mark_discard(self, slot) -> None:
        if self.discard is None:
            self.discard = set()
        self.discard.add(id(slot))
        if self.reply_mode == 2:
            self.reply_mode = 0

    # -- replies ---------------------------------------------------------------

    def deliver(self, slot) -> None:
        """A reply for one of this client's slots arrived (or was merged)."""
        queue = self.queue
        if not queue or queue[0] is not slot:
            return  # an earlier reply is still missing; it will pull this one
        out = self.outbuf
        if not out:
            self.worker.mark_dirty(self)
        discard = self.discard
        while queue:
            head = queue[0]
            data = head[1]
            if data is None:
                break
            queue.popleft()
            if discard and id(head) in discard:
                discard.discard(id(head))
                continue
            out.append(data)

    def flush(self) -> None:
        if self.outbuf:
            if self.transport is not None:
                self.transport.write(b"".join(self.outbuf))
            self.outbuf = []
        if self.closing and not self.queue and self.transport is not None:
            self.transport.close()
        if self.throttled:
            self._unthrottle()

    # -- holding later commands while coordinated work is sent -----------------

    def hold(self, owner) -> None:
        """Keep this client's next commands back until ``owner`` releases them.

        Coordinated work sends its requests over several rounds; the client's
        later commands must reach each shard after them, as a client expects.
        """
        self.backlog = []
        self.hold_owner = owner

    def release_hold(self, owner) -> None:
        if self.hold_owner is not owner:
            return  # released already; a later command may hold the client now
        self.hold_owner = None
        backlog, self.backlog = self.backlog, None
        if backlog and self.transport is not None:
            self.process(backlog, 0)
        self.worker.flush_soon()
        if self.throttled and self.backlog is None:
            self._unthrottle()

    # -- sessions on the shards ---------------------------------------------------

    def session_ctx(self) -> tuple:
        """The link context that runs requests in this client's shard sessions."""
        ctx = self._session_ctx
        if ctx is None or ctx[:3] != self.ctx[:3]:
            ctx = self._session_ctx = self.ctx + (self.id,)
        return ctx

    def note_sessions(self, shards) -> None:
        self.session_shards.update(shards)

    def unwatch(self, skip=None) -> None:
        """Forget this client's WATCHes on every shard but ``skip`` (which
        forgets them itself, as DF.EXEC's ``w`` does)."""
        if self.watch_shards:
            ctx = self.session_ctx()  # UNWATCH runs in the client's session
            for shard in self.watch_shards:
                if shard != skip:
                    self.worker.links[shard].send_forget(ctx, [b"UNWATCH"])
            self.watch_shards = set()

    def unblock(self, as_error: bool) -> bool:
        blocked = self.blocked
        return blocked is not None and blocked.unblock(as_error)

    def is_blocked(self) -> bool:
        """Waiting in a blocking command (not while a cross-shard one still
        makes its first, non-blocking try)."""
        return self.blocked is not None and self.blocked.waiting

    def wake(self, token: int) -> None:
        """A shard saw a key this client's cross-shard blocking command waits for."""
        if self.blocked is not None and hasattr(self.blocked, "wake"):
            self.blocked.wake(token)

    def push(self, data: bytes) -> None:
        """An out-of-band frame from a shard for this client, in reply order.

        With no reply before it, it is written at once rather than at the end
        of the turn: an invalidation then reaches its client before the reply
        of the write that caused it (read from the link after it) reaches the
        writer through this worker.  A ``__redis__:invalidate`` message (the
        only push starting with ``*``: REDIRECT) reaches a RESP2 client only
        in pub/sub mode, as in Redis, and a RESP3 client as a push.
        """
        if data[:1] == b"*":  # a REDIRECT target's invalidation (cluster/tracking.py)
            if self.proto == 3:
                data = as_resp3(data)
            elif not self.subscribed:
                return
        if self.queue or self.outbuf or self.throttled or self.transport is None:
            self.local_reply(data)  # (with outbuf: flushed this turn, in the order marked)
            return
        self.transport.write(data)
        limit = self.worker.normal_output_limit()
        if limit is not None:
            self.check_output_limit(*limit)

    def subscription_counts(self) -> tuple:
        return (0, 0, 0) if self.subs is None else self.subs.counts()

    def drop_subscriptions(self) -> None:
        self.worker.pubsub.drop(self)

    # -- Session hooks -----------------------------------------------------------

    def on_select(self, index: int) -> None:
        self.db_index = index
        self.refresh_context()

    def refresh_context(self) -> None:
        """The link context of its requests: in its session while it tracks
        keys or anyone monitors (the shards must know whose command runs)."""
        self.ctx = context(self.db_index, self.proto, self.notouch)
        if self.tracking is not None or self.worker.monitored:
            self.ctx = self.session_ctx()

    # -- CLIENT TRACKING and MONITOR (proxy/tracking.py, proxy/monitor.py) -------

    def client_exists(self, client_id: int) -> bool:
        return tracking.client_exists(self, client_id)

    def set_tracking(self, options) -> None:
        tracking.set_tracking(self, options)

    def set_caching(self) -> None:
        tracking.set_caching(self)

    def stop_monitoring(self) -> None:
        monitor.stop_monitoring(self)


    def on_close_requested(self) -> None:
        self.closing = True

    def kill(self) -> None:
        if self.transport is not None:
            self.transport.close()
