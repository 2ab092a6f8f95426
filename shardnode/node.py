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
The link protocol (frames from shard to proxy) is:

- ``$<n> <reply>``: the reply to the link's oldest unanswered request;
- ``:<tag>``: that request is *parked* (it waits for a key lock held by a
  transaction); its reply comes later, out of band, and the link's pipeline
  moves on for every other client;
- ``*3 D <tag> <reply>``: the deferred reply of the parked request ``tag``;
- ``*3 P <client-id> <payload>``: a push for one client of the link
  (wake-ups, invalidations, MONITOR lines);
- ``*3 K <token> ""``: answer ``DF.ACK <token>`` once the pushes before it are
  written: a writer's reply waits for it (shardnode/tracking.py);
- ``*3 O <0|1> ""``: whether this shard has monitors now (shardnode/monitor.py);
- ``*<3+k> M <channel> <message> <pattern>*k``: a pub/sub message for every
  client of the worker that listens by the channel or one of the patterns
  listed (sent once per link, not per client: the worker fans it out);
- ``*3 H <channel> <message>``: the same for a shard channel;
- ``*4 R <tag> <channel> <message>``: run this PUBLISH (of a direct client)
  on the other shards and answer ``DF.RELAYED <tag> <count>`` (tag 0: no
  answer wanted);
- ``*2 X <0|1>``: this shard has (1, to acknowledge with ``DF.DIRECTACK``)
  or no longer has (0) direct classic subscribers, so PUBLISH through the
  proxy must (need not) visit it.  See :mod:`shardnode.pubsub`.

A direct client whose command must wait for a lock stops reading: its later
commands wait in its inbox, in order, and run when the lock is released.
Per-client state (WATCH, locks) lives in :mod:`shardnode.sessions`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections import deque

from cluster import errors
from cluster.commands import resolve
from cluster.commands.transactions import OOM_EXEMPT_IN_MULTI, RUN_INSIDE_MULTI
from cluster.errors import CommandError, ProtocolError
from cluster.pubsub import SUBSCRIBED_ALLOWED
from cluster.resp import NO_REPLY, RawReply, RequestParser, encode, encode_error
from cluster.session import Session, refused_to_monitors
from shardnode.blocking import BLOCKED, STILL_WAITING, Blocking, MustWait
from shardnode.db import Keyspace, slot_of
from shardnode.pubsub import PubSubHub
from shardnode.memory import any_denyoom
from shardnode.registry import HANDLERS, load_families
from shardnode.scripting import ScriptDetached, busy_refusal, end_proxy_busy
from shardnode.sessions import LOCK_REQUESTS, ClientSession, LockTable
from shardnode.monitor import Monitors
from shardnode.tracking import TrackingTable

log = logging.getLogger("damselfly.shard")

_perf = time.perf_counter

# A direct client's read holding more commands than this runs them this many
# at a time, and stops between batches while the client is not reading its
# replies (pause_writing): what it makes the shard buffer stays bounded
# (256 GETs of a 100 KB value: 25 MB; 1024 measured 103 MB, and a GET of
# another client waited 160 ms behind them).  Proxy links run whole reads:
# the proxy bounds what each of its clients has in flight.
RUN_BATCH = 256


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
        self.locks = LockTable()
        self.watches = self.keyspace.watches
        self.parked: deque = deque()  # link requests waiting for a lock (Parked)
        self.busy = None  # the script past busy_reply_threshold (shardnode/scripting.py)
        self.lock_waiters: deque = deque()  # direct connections waiting for a lock
        self._park_tag = 0
        self.blocking = Blocking(self)  # requests waiting for a key to get a value
        self.pubsub = PubSubHub(self)  # subscribers and publish (shardnode/pubsub.py)
        self.active_expire_enabled = True  # DEBUG SET-ACTIVE-EXPIRE 0|1
        self.sharded = config.cluster_mode == "sharded"
        self.slot_owner = topology.slot_map.owner
        self.dispatch = self.ready_dispatch = build_dispatch()
        # Statistics (INFO stats / commandstats / errorstats).
        self.stat_commands = 0
        self.stat_connections = 0
        self.stat_rejected = 0
        self.cmdstats: dict = {}  # name -> [calls, usec, rejected, failed]
        self.errorstats: dict = {}  # error prefix -> count
        self._server = None
        self._expiry_handle = None
        # Loading the snapshot on start (load_data): commands without the
        # "loading" flag answer -LOADING meanwhile.
        self.loading = False
        self.load_progress = None  # shardnode.rdb.snapshot.LoadProgress while/after loading
        self.rdb_functions: list = []  # FUNCTION libraries the loaded files held (code)
        self.told_refusal = None  # the PING state the proxy links were told (set_write_check)
        # The memory state the proxy links were told (note_memory): 0 no
        # limit, 1 within it, 2 out of memory; and keyspace.dirty then.
        self.told_memory = 0
        self.memory_dirty = -1
        from shardnode.snapshots import ShardSnapshots

        self.snapshots = ShardSnapshots(self)  # SAVE, BGSAVE, LASTSAVE, MISCONF
        from shardnode.aof import AppendOnlyFile

        self.aof = AppendOnlyFile(self)  # shardnode/aof.py; started by load_data
        # Set when AOF records wait to be written (and, with appendfsync
        # always, fsynced) before the next replies leave: see run().
        self.aof_barrier = False
        # Client tracking and MONITOR (shardnode/tracking.py, shardnode/monitor.py):
        # ``observed`` is their one check per command, False while neither is used.
        self.tracking = TrackingTable(self)
        self.monitors = Monitors(self)
        self.observed = False
        self.running = None  # the connection whose read is being run (run())
        self.links_by_worker: dict = {}  # proxy worker index -> its link
        self.loop = self.loop_thread = None  # set by start()
        from shardnode.memory import ShardMemory

        self.memory = ShardMemory(self)  # used_memory, maxmemory's share, OOM
        self.set_write_check(False)
        from shardnode import notify

        notify.configure(self)  # keyspace notifications, when configured

    def publish_event(self, channel: bytes, message: bytes) -> None:
        """A keyspace notification (shardnode/notify.py) to this shard's subscribers:
        its direct clients and, through the proxy links, the proxy workers'.

        A script running in the script thread (shardnode/scripting.py) hands
        its events to the event loop, which alone writes to transports; they
        keep their order there."""
        if self.loop_thread is None or threading.get_ident() == self.loop_thread:
            self.pubsub.publish(channel, message)
        else:
            self.loop.call_soon_threadsafe(self.pubsub.publish, channel, message)

    def observers_changed(self) -> None:
        self.observed = self.tracking.attached or bool(self.monitors.targets)

    def observe(self, conn, spec, args) -> None:
        """A command ran while someone tracks keys or monitors: tell them."""
        if self.tracking.attached:
            self.tracking.remember(conn, spec, args)
            if self.tracking.acks:  # its reply waits for other workers (shardnode/tracking.py)
                self.tracking.hold_point(conn)
        if self.monitors.targets:
            self.monitors.feed(conn, spec, args)

    def send_due(self) -> None:
        """Messages held until the running read's replies were made: a
        client's invalidation for its own write, a monitor's own command."""
        if self.tracking.flush_scheduled:
            self.tracking.send_due()
        if self.monitors.due:
            self.monitors.send_due()

    def next_client_id(self) -> int:
        self._client_id += 1
        return self._client_id

    async def start(self, host: str, port: int):
        loop = asyncio.get_running_loop()
        self.loop, self.loop_thread = loop, threading.get_ident()
        self._server = await loop.create_server(
            lambda: ShardConnection(self), host, port, reuse_address=True,
            backlog=self.config.tcp_backlog
        )
        self._schedule_expiry()
        return self._server

    async def load_data(self) -> None:
        """Load the snapshot in ``dir`` (shardnode/rdb/snapshot.py), keeping
        this shard's slots, while serving: until it is done every command
        without the "loading" flag answers -LOADING (the dispatch table is
        swapped for one whose entries all take execute's checked path, so the
        hot path pays nothing).  With appendonly on and an AOF present, the
        AOF is replayed instead (it wins over the snapshot, as in Redis).
        Then the AOF starts (shardnode/aof.py).  Raises SnapshotError when
        there is data that cannot be read: the shard must not start without it."""
        from shardnode import aof
        from shardnode.functions import load_saved_libraries
        from shardnode.rdb.snapshot import LoadProgress, SnapshotError, find_snapshot, load_files

        manifest = files = resharded = None
        if self.config.appendonly:
            manifest = aof.find_manifest(self.config, self.index, len(self.topology.shards))
            if manifest is None:  # the AOF of another shard count, re-distributed
                resharded = aof.find_other_count(self.config, len(self.topology.shards))
        if manifest is None and resharded is None:
            files = find_snapshot(self.config.dir, self.config.dbfilename)
        if files is None and manifest is None and resharded is None:
            self.aof.start(None)
            return
        self.loading = True
        self.set_write_check(True)
        progress = self.load_progress = LoadProgress(started=time.time())
        owner, index = self.slot_owner, self.index
        next_report = time.monotonic() + 5.0
        if manifest is not None:
            log.info("replaying the append-only files %s", ", ".join(manifest.names()))
            steps = aof.replay(self, manifest, progress)
        elif resharded is not None:
            log.info("replaying the append-only files of %d shards %s", len(resharded),
                     ", ".join(name for name, _ in resharded))
            steps = aof.replay_other_count(self, resharded, progress)
        else:
            log.info("loading %s", ", ".join(files.paths))
            steps = load_files(files, self.keyspace, lambda slot: owner[slot] == index,
                               self.config, progress, self.rdb_functions)
        # Loading creates live objects only: no cyclic collection meanwhile,
        # and afterwards the loaded data joins the permanent generation, so
        # full collections (a stall of the shard) never walk it again.
        gc.disable()
        try:
            for _ in steps:
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + 5.0
                    log.info("loading: %.0f%% of %d bytes, %d keys kept",
                             100.0 * progress.loaded_bytes / max(1, progress.total_bytes),
                             progress.total_bytes, progress.keys_loaded)
                await asyncio.sleep(0)
        finally:
            gc.enable()
        gc.freeze()
        try:  # the libraries the files held (FUNCTION2), as Redis loads them with the RDB
            if files is not None:  # (an AOF's base: replay loads them before the rest)
                load_saved_libraries(self.rdb_functions)
        except CommandError as exc:
            raise SnapshotError("a function library in %s: %s"
                                % (", ".join(files.paths), exc.args[0]))
        self.keyspace.dirty = 0
        self.keyspace.journal.sync()
        self.loading = False
        self.set_write_check(False)
        if resharded is not None:
            self.aof.start_resharded(resharded)
        else:
            self.aof.start(manifest)
        log.info("loaded %d keys of this shard's slots in %.3f s (%d keys read, %d expired "
                 "skipped, %d function libraries)", progress.keys_loaded,
                 time.time() - progress.started, progress.keys_read,
                 progress.expired_skipped, len(self.rdb_functions))

    def set_write_check(self, on: bool) -> None:
        """Route every command through execute's checked path while the
        shard loads or may refuse writes after a failed save (MISCONF), the
        denyoom ones while there is a memory limit (the OOM check), and back
        to the plain dispatch when none holds: without a limit, the hot path
        pays nothing for any of the checks.  The proxy links are told the new
        state (:meth:`state_frame`), for the PING the proxy answers itself."""
        if on or self.loading or not self.snapshots.snapshot_ok:
            self.dispatch = {name: (spec, fn, False)
                             for name, (spec, fn, _) in self.ready_dispatch.items()}
        elif self.memory.limit:
            self.dispatch = {name: (spec, fn, plain and "denyoom" not in spec.flags)
                             for name, (spec, fn, plain) in self.ready_dispatch.items()}
        else:
            self.dispatch = self.ready_dispatch
        refusal = self.ping_refusal()
        if refusal != self.told_refusal:
            self.told_refusal = refusal
            self.tell_links(self.state_frame())

    def note_memory(self) -> None:
        """Tell the proxy links when this shard enters or leaves the out of
        memory state (``F`` frames, :meth:`memory_frame`).  A proxy queues a
        client's MULTI itself; with this it refuses a command queued for an
        out of memory shard at once, as Redis does, and knows which shards
        have a limit at all (proxy/coordinator.py checks those before a
        cross-shard EXEC runs).  Called after a batch that changed data, by
        the expiry timer and when the limit changes; out of the limit, the
        policy evicts first (what the next denyoom command would do) -- not
        while loading, when Redis evicts nothing either."""
        if self.loading:
            return  # the first batch after the load tells it
        memory = self.memory
        self.memory_dirty = self.keyspace.dirty
        state = 0 if not memory.limit else 2 if memory.out_of_memory() else 1
        if state != self.told_memory:
            self.told_memory = state
            self.tell_links(self.memory_frame())

    def tell_links(self, frame: bytes) -> None:
        """An out-of-band frame to every proxy link."""
        for conn in list(self.clients.values()):
            if conn.internal:
                conn.emit(frame)

    def memory_frame(self) -> bytes:
        """``*3 F <shard> <state>``: see :meth:`note_memory`."""
        return b"*3\r\n$1\r\nF\r\n:%d\r\n:%d\r\n" % (self.index, self.told_memory)

    def ping_refusal(self) -> str | None:
        """The error PING answers now, as Redis 7.0's processCommand decides
        it: -LOADING while loading, -MISCONF while writes are refused after a
        failed save; None: PONG."""
        if self.loading:
            return errors.LOADING
        if not self.snapshots.snapshot_ok and self.snapshots.writes_refused():
            return errors.MISCONF
        return None

    def state_frame(self) -> bytes:
        """``*3 S <shard> <refusal or "">``: this shard's PING state, sent to
        each proxy link when it opens (unless it is "": a new link starts
        with none) and when the state changes."""
        text = (self.told_refusal or "").encode()
        return b"*3\r\n$1\r\nS\r\n:%d\r\n$%d\r\n%b\r\n" % (self.index, len(text), text)

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()

    def save_on_stop(self, signum) -> None:
        """Stopping: save this shard's file of the shutdown snapshot if the
        signal asks for it (cluster/shutdown.py).  The shards of one server
        share the snapshot id the supervisor gave them."""
        import os
        import signal

        from cluster.shutdown import schedule_configured
        from shardnode.snapshots import SaveFailed

        if signum == signal.SIGUSR2 or signum is None or self.loading:
            return  # (a shard still loading has only part of the data to save)
        if signum != signal.SIGUSR1 and not schedule_configured(self.config):
            return
        self.stop_listening()
        snapshots = self.snapshots
        if snapshots.running is not None:  # a BGSAVE gives way, as Redis kills its child
            snapshots.abandon()
        snapshot_id = os.environ.get("DAMSELFLY_SHUTDOWN_SNAPSHOT")
        count = len(self.topology.shards)
        if snapshot_id is None:  # no supervisor: this shard alone
            from cluster.snapshot_id import new_snapshot_id

            snapshot_id, count = new_snapshot_id(), 1
        log.warning("saving the final snapshot before exiting")
        from cluster.supervisor import saving_file

        marker = saving_file(self.index)  # the supervisor waits while it exists
        if marker:
            open(marker, "w").close()
        try:
            snapshots.save(snapshot_id, count)
        except SaveFailed as exc:
            log.warning("Error trying to save the DB on exit: %s", exc)
        finally:
            if marker:
                os.unlink(marker)

    async def close(self):
        if self._expiry_handle:
            self._expiry_handle.cancel()
        self.aof.close()
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
        if not self.active_expire_enabled or self.busy is not None:
            self._schedule_expiry()
            return
        removed = self.keyspace.active_expire(budget=500)
        self.memory.used()  # settles what commands changed in place; the peak
        if self.memory.limit and self.keyspace.dirty != self.memory_dirty:
            self.note_memory()
        self._schedule_expiry(0.001 if removed >= 500 else None)

    # -- key locks and parked requests ----------------------------------------

    def next_park_tag(self) -> int:
        self._park_tag += 1
        return self._park_tag

    def release_locks(self, session) -> None:
        """Drop ``session``'s locks; whatever waited for them runs now, in order
        (a blocked request whose key was locked may be served now, too)."""
        blocking = self.blocking
        if blocking.waiting and (session.locks or session.lock_all):
            waiting = blocking.waiting
            for entry in (waiting if session.lock_all else session.locks):
                if entry in waiting:
                    blocking.ready[entry] = None
        if self.locks.release(session):
            self.run_parked()
        if blocking.ready:
            blocking.serve_ready()

    def run_parked(self) -> None:
        parked = self.parked
        if parked:
            self.parked = deque()
            stalled = set()  # sessions with an earlier request still waiting
            for request in parked:
                if request.conn.transport is None:
                    continue
                if request.session is not None and request.session in stalled:
                    self.parked.append(request)
                    continue
                if not request.conn.resume_parked(request):
                    self.parked.append(request)
                    if request.session is not None:
                        stalled.add(request.session)
        if self.lock_waiters:
            waiters, self.lock_waiters = self.lock_waiters, deque()
            for waiter in waiters:
                waiter.resume()

    def drop_session(self, session) -> None:
        """The client went away: its watches, locks and parked requests go."""
        if self.busy is not None:  # a proxy-mode script of this client made the shard busy
            end_proxy_busy(self, session.client_id)
        self.watches.unwatch_all(session)
        if session.tracker is not None:
            self.tracking.disable(session)
        if self.monitors.targets:
            self.monitors.remove(session)
        if session.blocked is not None or self.blocking.waiting:
            self.blocking.drop(session)
        if session.waiting:
            self.parked = deque(r for r in self.parked if r.session is not session)
            session.waiting = 0
        self.release_locks(session)

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
        plain = not spec.subcommands and spec.group not in ("internal", "connection",
                                                            "transactions")
        entry = (spec, fn, plain)
        table[spec.name_bytes] = entry
        table[spec.name_bytes.upper()] = entry
    return table


class Parked:
    """A link request waiting for a key lock, with the context it arrived in."""

    __slots__ = ("conn", "session", "args", "db_index", "proto", "notouch", "tag")

    def __init__(self, conn, args, tag, session):
        self.conn = conn
        self.session = session
        self.args = args
        self.db_index = conn.db_index
        self.proto = conn.proto
        self.notouch = conn.notouch
        self.tag = tag


# Returned by execute() for a direct client's command that must wait for a lock.
# Internal commands served while a script is busy: none reads or writes keys
# (DF.RUN, DF.IMPORT, DF.EXEC ... get BUSY, as every client command does).
BUSY_EXEMPT = frozenset({"df.link", "df.ctx", "df.gone", "df.unlock", "df.unwait", "df.rewait",
                         "df.busy",
                         "df.unblock", "df.journal", "df.misconf", "df.sub", "df.unsub",
                         "df.publish", "df.relayed", "df.patterns", "df.directack",
                         "df.directsubs", "df.track", "df.caching", "df.monitor", "df.addr",
                         "df.monlog", "df.ack",
                         "df.noclient"})

PARKED = object()




class ShardConnection(asyncio.Protocol, Session):
    """One client or proxy link."""

    in_script = False  # running a script's redis.call: MONITOR shows it as "lua"
    oom_elsewhere = False  # DF.RUN for a script lent keys of a full shard

    def __init__(self, server: ShardServer):
        self.server = server
        self.transport = None
        self.internal = False  # a proxy link (DF.LINK): trusted, no slot checks
        self.wrap = False  # replies wrapped in one bulk string (a link, outside DF.EXEC)
        self.inbox: deque = deque()
        self.blocked = False
        self.parser = RequestParser(server.config.proto_max_bulk_len)
        self.db = server.keyspace.dbs[0]
        self.protocol_error = None
        self.session = None  # the client the running request belongs to
        self.sessions = None  # links: proxy client id -> ClientSession
        self.in_exec = False  # running a transaction's commands: no queueing, no lock waits
        self.retrying = None  # the parked request being retried
        self.serving = None  # the blocked request being retried (shardnode/blocking.py)
        self.serving_key = None  # ... on the key that became ready
        self.out = None  # replies of the batch being run (see emit)
        self.write_paused = False  # the peer's socket is full (pause_writing)
        self.subs = None  # a direct client's pub/sub Subscriptions, None while it has none
        self.held = None  # a direct writer's output held for acks (shardnode/tracking.py Hold)

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        self.init_session(self.server, "%s:%s" % peer[:2], "%s:%s" % sock[:2])
        self.session = ClientSession(self.id)
        self.parser.authenticated = self.authenticated
        self.refresh_plain()
        self.server.stat_connections += 1

    def connection_lost(self, exc):
        self.end_session()
        self.transport = None
        server = self.server
        for worker, link in list(server.links_by_worker.items()):
            if link is self:
                del server.links_by_worker[worker]
        if self.internal and server.tracking.holds:
            server.tracking.link_gone(self)
        if self.sessions is not None:  # a link: every client behind it is gone
            sessions, self.sessions = self.sessions, {}
            for session in sessions.values():
                server.drop_session(session)
        elif self.session is not None:
            server.drop_session(self.session)
        if server.parked:
            server.parked = deque(r for r in server.parked if r.conn is not self)
        if self.subs is not None or self.internal:
            server.pubsub.drop_connection(self)
        self.inbox.clear()

    def pause_writing(self):
        """The peer does not read its replies: read no more requests from it
        (they wait in the socket) until the buffer drains."""
        self.write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self):
        self.write_paused = False
        if self.transport is None or self.blocked:
            return  # a blocked connection resumes when the lock is released
        self._run_inbox()

    def data_received(self, data):
        while True:
            try:
                cmds = self.parser.feed(data)
            except ProtocolError as exc:
                cmds = exc.args[1]
                self.protocol_error = exc.args[0]
            if self.blocked or self.inbox or self.write_paused:
                self.inbox.extend(cmds)
            elif len(cmds) > RUN_BATCH and not self.internal:
                self._run_batches(cmds)
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
            self.transport.write(self._wrap(encode_error(text)) if self.wrap
                                 else encode_error(text))
            self.transport.close()

    # -- execution -----------------------------------------------------------

    def run(self, cmds, start: int) -> None:
        """Execute cmds[start:] and write their replies in one write."""
        server = self.server
        keyspace = server.keyspace
        keyspace.tick()
        keyspace.touch = not self.notouch  # CLIENT NO-TOUCH: reads keep access times
        out = self.out  # pub/sub messages may wait there (shardnode/pubsub.py)
        if out is None:
            out = self.out = []
        execute = self.execute
        running, server.running = server.running, self
        n = len(cmds)
        i = start
        while i < n:
            reply = execute(cmds[i])
            if reply is not None:
                if reply is PARKED:
                    self._block(cmds[i:])
                    break
                if reply is BLOCKED:  # waits for a key: its reply comes when served
                    self._wait_here(cmds[i + 1:])
                    break
                out.append(reply)
            i += 1
            if self.closing:
                break
        server.running = running
        if server.memory.limit and keyspace.dirty != server.memory_dirty \
                and server.busy is None:
            server.note_memory()  # a frame behind this batch's replies
        if server.observed:
            server.send_due()
            if self.held is not None or server.tracking.new_holds:
                out = server.tracking.settle(self, out)
        self.out = None
        if keyspace.unsettled and server.busy is None:
            keyspace.settle_memory()
        if out and self.transport is not None:
            if server.aof_barrier:  # the AOF records of these writes go first
                server.aof.barrier()
            self.transport.write(b"".join(out))
        if self.closing and self.transport is not None and self.held is None:
            self.transport.close()  # (with replies held: once they are written)

    def _block(self, rest) -> None:
        """A direct client waits for a lock: it stops here, in order."""
        self.blocked = True
        self.inbox.extend(rest)
        self.server.lock_waiters.append(self)
        if self.transport is not None and len(self.inbox) > 10000:
            self.transport.pause_reading()

    def _wait_here(self, rest) -> None:
        """A direct client waits for a key: its later commands stay unread."""
        self.blocked = True
        self.inbox.extend(rest)
        if self.transport is not None and len(self.inbox) > 10000:
            self.transport.pause_reading()

    def _run_batches(self, cmds) -> None:
        """Run a long read RUN_BATCH commands at a time; what is left when the
        connection blocks or its peer stops reading waits in the inbox."""
        n = len(cmds)
        i = 0
        while i < n:
            self.run(cmds[i:i + RUN_BATCH], 0)
            i += RUN_BATCH
            if self.closing or self.transport is None:
                return
            if self.blocked or self.write_paused:
                self.inbox.extend(cmds[i:])
                return

    def resume(self) -> None:
        """A lock was released: run what waited, in order."""
        if self.transport is None:
            return
        self.blocked = False
        if not self.write_paused:  # else resume_writing runs the inbox
            self._run_inbox()

    def _run_inbox(self) -> None:
        pending = list(self.inbox)
        self.inbox.clear()
        self.transport.resume_reading()
        if len(pending) > RUN_BATCH and not self.internal:
            self._run_batches(pending)
        else:
            self.run(pending, 0)
        if self.protocol_error and not self.inbox:
            self._fail_protocol()
        elif self.parser.buffered and not self.blocked and not self.inbox:
            self.data_received(b"")

    def _park(self, spec, args, session):
        """The command touches a key locked by another client: it waits.

        A direct client stops (:data:`PARKED`); on a link only this request
        waits and the link gets ``:<tag>`` in its place (see module doc).
        """
        if self.serving is not None:
            return STILL_WAITING  # a blocked request whose key is locked: later
        if not self.internal or self.retrying is not None:
            return PARKED  # resume_parked keeps the request where it was
        server = self.server
        tag = server.next_park_tag()
        server.parked.append(Parked(self, args, tag, session))
        if session is not None:
            session.waiting += 1
        return b":%d\r\n" % tag

    def run_waiter(self, waiter, key):
        """Retry a blocked request on ``key``, in the context it arrived in:
        its encoded reply, or STILL_WAITING."""
        saved = (self.session, self.db_index, self.proto, self.notouch)
        keyspace = self.server.keyspace
        touch = keyspace.touch
        self.session = waiter.session
        self.on_select(waiter.db_index)
        self.proto = waiter.proto
        self.notouch = waiter.notouch
        keyspace.touch = not waiter.notouch
        self.serving = waiter
        self.serving_key = key
        try:
            return self.execute(waiter.args)
        finally:
            self.serving = self.serving_key = None
            session, db_index, self.proto, self.notouch = saved
            self.session = session
            self.on_select(db_index)
            keyspace.touch = touch

    def unblock(self, as_error: bool) -> bool:
        return self.server.blocking.unblock(self.session, as_error)

    def is_blocked(self) -> bool:
        return self.session is not None and self.session.blocked is not None

    def encoded_as(self, value, waiter) -> bytes:
        """``value`` encoded for a waiter's protocol (wrapped on a link)."""
        data = encode(value, waiter.proto)
        return self._wrap(data) if waiter.tag is not None else data

    def resume_parked(self, request) -> bool:
        """Retry a parked link request; True once it ran (its reply is pushed)."""
        saved = (self.session, self.db_index, self.proto, self.notouch)
        self.session = request.session
        self.on_select(request.db_index)
        self.proto = request.proto
        self.notouch = request.notouch
        self.retrying = request
        try:
            reply = self.execute(request.args)
        finally:
            self.retrying = None
            session, db_index, self.proto, self.notouch = saved
            self.session = session
            self.on_select(db_index)
        if reply is PARKED:
            return False
        if request.session is not None:
            request.session.waiting -= 1
        if reply is not None:
            self.emit(b"*3\r\n$1\r\nD\r\n:%d\r\n%b" % (request.tag, reply))
        return True

    def emit(self, frame: bytes) -> None:
        """Write an out-of-band frame after every reply this connection has made
        so far (a ``:tag`` still in the batch being run must reach the proxy first)."""
        if self.out is not None:
            self.out.append(frame)
        elif self.held is not None:  # behind replies waiting for acks
            self.held[-1][1].append(frame)
        elif self.transport is not None:
            if self.server.aof_barrier:
                self.server.aof.barrier()
            self.transport.write(frame)

    def push(self, client_id: int, payload: bytes) -> None:
        """An out-of-band frame for one client behind this link."""
        self.emit(b"*3\r\n$1\r\nP\r\n:%d\r\n$%d\r\n%b\r\n"
                  % (client_id, len(payload), payload))

    def check_locks(self, spec, args):
        """None when the command may run now; else what :meth:`_park` returns."""
        if "allow_busy" in spec.flags:  # SCRIPT KILL: never behind a script's locks
            refusal = busy_refusal(self.server, spec) if self.server.busy is not None else None
            return None if refusal is None else self._error(refusal, spec)
        busy = self.server.busy
        if busy is not None and spec.name not in BUSY_EXEMPT and not busy.lets(spec, args, self.session):
            return self._error(errors.BUSY_FUNCTION if self.server.busy.as_function
                               else errors.BUSY_SCRIPT, spec)  # shardnode/scripting.py ScriptRun
        special = LOCK_REQUESTS.get(spec.name)
        if special is None and spec.group == "internal":
            return None  # DF.CTX, DF.UNLOCK, DF.GONE ... never wait
        if special is not None:
            wanted = special(self, args)
            if wanted is None:
                return None
            keys, exclusive, whole, session = wanted
        else:
            session = self.session
            if spec.has_keys:
                db = self.db_index
                keys = [(db, key) for key in spec.keys(args)]
                exclusive, whole = spec.is_write, False
            else:
                keys, exclusive, whole = (), False, spec.is_write and spec.route == "all"
        if session is not None and session.waiting and self.retrying is None:
            return self._park(spec, args, session)  # behind this client's earlier request
        locks = self.server.locks
        if whole:
            if locks.conflict_any(session):
                return self._park(spec, args, session)
        elif locks.conflict(session, keys, exclusive):
            return self._park(spec, args, session)
        return None

    def execute(self, args) -> bytes | None:
        """Run one command; returns the encoded reply (None: send nothing)."""
        server = self.server
        entry = server.dispatch.get(args[0])
        if entry is None:
            entry = server.dispatch.get(args[0].lower())
            if entry is None:
                return self._reject(errors.unknown_command(args[0], args[1:]), None)
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
            if server.locks.held and not self.in_exec:
                parked = self.check_locks(spec, args)
                if parked is not None:
                    return parked
        else:
            plain = False
            if spec.subcommands:
                spec = resolve(spec, args)
                if type(spec) is str:
                    return self._reject(spec, None)
                fn = HANDLERS[spec.name]
            if spec.group == "internal" and not self.internal and spec.name != "df.link":
                return self._reject(errors.unknown_command(args[0], args[1:]), None)
            if not spec.arity_ok(len(args)):
                if spec.name == "exec":  # the transaction ends, as in Redis
                    from shardnode.transactions import abort_exec

                    return self._error(abort_exec(self, errors.wrong_arity(spec.name)), spec)
                return self._reject(errors.wrong_arity(spec.name), spec)
            if not self.authenticated and "no_auth" not in spec.flags:
                return self._reject(errors.NOAUTH, spec)
            if self.monitoring and refused_to_monitors(spec):
                return self._reject(errors.MONITOR_KEYSPACE, spec)
            if server.sharded and spec.has_keys and not self.internal:
                moved = self.check_slots(spec, args)
                if moved is not None:
                    return self._reject(moved, spec)
            if server.loading and "loading" not in spec.flags and spec.group != "internal":
                return self._reject(errors.LOADING, spec)
            if spec.is_write and not server.snapshots.snapshot_ok and \
                    server.snapshots.writes_refused():
                return self._reject(errors.MISCONF, spec)
            if server.memory.limit and not self.in_exec and self.oom_refused(spec):
                if spec.name == "exec":
                    from shardnode.transactions import abort_exec

                    abort_exec(self, errors.OOM)
                    return self._error(errors.EXECABORT_OOM, spec)
                return self._reject(errors.OOM, spec)
            if self.subs is not None and self.proto == 2 and \
                    spec.name not in SUBSCRIBED_ALLOWED:
                return self._reject(errors.subscribed_context(spec.name), spec)
            if self.multi is not None and not self.in_exec:
                if "no_multi" in spec.flags:
                    return self._reject(errors.NO_MULTI, spec)
                if spec.name not in RUN_INSIDE_MULTI:
                    if not self.multi_failed:  # a doomed queue keeps nothing, as Redis's
                        self.multi.append(args)
                    return self._encoded("QUEUED")
            if server.locks.held and not self.in_exec:
                parked = self.check_locks(spec, args)
                if parked is not None:
                    return parked
        stats = server.cmdstats.get(spec.name)
        if stats is None:
            stats = server.cmdstats[spec.name] = [0, 0.0, 0, 0]
        t0 = _perf()
        try:
            reply = fn(self, args)
        except CommandError as exc:
            stats[0] += 1
            stats[3] += 1
            if server.keyspace.journal.notifier is not None:
                server.keyspace.journal.notifier.command_failed(self, spec, args)
            if server.observed:
                server.observe(self, spec, args)
            return self._error(exc.args[0], None)
        except MustWait as must:  # a blocking command found nothing to pop
            return server.blocking.wait(self, args, must)
        except ScriptDetached as detached:  # a script past busy_reply_threshold
            return detached.deferred(self)
        except Exception:  # a bug must not take the shard down
            log.exception("command %r failed", args[:3])
            stats[0] += 1
            stats[3] += 1
            return self._error("ERR internal error while running '%s'" % spec.name, None)
        stats[0] += 1
        stats[1] += _perf() - t0
        server.stat_commands += 1
        if server.observed:
            server.observe(self, spec, args)
        journal = server.keyspace.journal
        if spec.is_write and server.keyspace.dirty != journal.mark:
            journal.command_done(self, args)  # journalled as sent
        if journal.notifier is not None:  # keyspace notifications (shardnode/notify.py)
            journal.notifier.command_done(self, spec, args)
        if server.blocking.ready and not self.in_exec:
            server.blocking.serve_ready()  # keys this command gave a value to
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
        if self.wrap:
            return b"$%d\r\n%b\r\n" % (len(data), data)  # _wrap, inlined
        return data

    def oom_refused(self, spec) -> bool:
        """Redis's processCommand memory check: a denyoom command (EXEC when
        it queued one, a script by its declared flags: shardnode/scripting.py
        checks those), or anything queued inside MULTI but EXEC/DISCARD/
        QUIT/RESET, is refused while the shard is over its limit after
        evicting what the policy allows.  EXEC's check comes before its
        EXECABORT for earlier errors, as in Redis; the queue holds only what
        was queued before the first error (see :meth:`execute`)."""
        if self.multi is not None:
            if spec.name == "exec":
                if not any_denyoom(self.multi):
                    return False
            elif spec.name in OOM_EXEMPT_IN_MULTI:
                return False
        elif "denyoom" not in spec.flags:
            return False
        return self.server.memory.out_of_memory()

    def _encoded(self, reply) -> bytes:
        data = encode(reply, self.proto)
        return self._wrap(data) if self.wrap else data

    def _reject(self, text: str, spec) -> bytes:
        """A generic check failed; inside MULTI that dooms the transaction."""
        if self.multi is not None and not self.in_exec:
            self.multi_failed = True
        return self._error(text, spec)

    def run_transaction(self, commands) -> list:
        """Run queued commands back to back; their encoded replies (None for
        none), unwrapped.

        The caller checked the locks for every key first, so nothing waits
        and no other client runs in between: the transaction is atomic.
        """
        wrap, self.in_exec = self.wrap, True
        self.wrap = False
        replies = []
        try:
            with self.server.keyspace.journal.grouped():  # MULTI/EXEC in the AOF
                for args in commands:
                    reply = self.execute(args)  # None: CLIENT REPLY OFF
                    if type(reply) is RawReply:  # EVAL's: plain bytes, as callers frame them
                        reply = bytes(reply)
                    replies.append(reply)
        finally:
            self.wrap = wrap
            self.in_exec = False
        return replies

    def refresh_plain(self) -> None:
        """Plain: authenticated, replies on, not subscribed, not monitoring.  Slot-checked:
        a direct client in sharded mode."""
        self.plain = (self.authenticated and not self.reply_mode and self.multi is None
                      and self.subs is None and not self.monitoring)
        self.slot_checked = self.server.sharded and not self.internal

    def _error(self, text: str, spec) -> bytes:
        self.server.count_error(text)
        if spec is not None:
            stats = self.server.cmdstats.setdefault(spec.name, [0, 0.0, 0, 0])
            stats[2] += 1
        data = encode_error(text)
        return self._wrap(data) if self.wrap else data

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

    def unwatch(self) -> None:
        if self.session is not None:
            self.server.watches.unwatch_all(self.session)

    def client_exists(self, client_id: int) -> bool:
        other = self.server.clients.get(client_id)
        return other is not None and not other.internal

    def set_tracking(self, tracking) -> None:
        self.tracking = tracking
        if tracking is None:
            self.server.tracking.disable(self.session)
        else:
            self.server.tracking.enable(self, self.session, None, tracking, self.proto)

    def stop_monitoring(self) -> None:
        if self.monitoring:
            self.monitoring = False
            self.server.monitors.remove(self.session)

    def subscription_counts(self) -> tuple:
        subs = self.subs
        if subs is None:
            return (0, 0, 0)
        return (len(subs.channels), len(subs.patterns), len(subs.shard_channels))

    def drop_subscriptions(self) -> None:
        if self.subs is not None:
            self.server.pubsub.drop_connection(self)
            self.refresh_plain()

    def output_bytes(self) -> int:
        transport = self.transport
        used = transport.get_write_buffer_size() if transport is not None else 0
        if self.out is not None:
            used += sum(len(data) for data in self.out)
        return used

    def kill(self) -> None:
        if self.transport is not None:
            self.transport.close()
