"""A proxy worker process: accepts clients, owns links to every shard.

Several workers may share the client port (SO_REUSEPORT); each has its own
links, coordinator and statistics.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from cluster import errors
from cluster.config import buffer_limits
from cluster.errors import CommandError
from proxy.client import ProxyClient
from proxy import keyspace_fanout, server_fanout, snapshots  # noqa: F401  (register fan-outs)
from proxy.coordinator import Coordinator
from proxy.fanout import fanout
from proxy.links import ShardLink
from proxy.local import LOCAL_HANDLERS
from proxy.pubsub import WorkerPubSub

log = logging.getLogger("damselfly.proxy")


class ProxyWorker:
    def __init__(self, config, topology, secret: str, index: int = 0):
        self.config = config
        self.topology = topology
        self.secret = secret.encode()
        self.index = index
        self.slot_owner = topology.slot_map.owner
        self.links = [ShardLink(self, shard) for shard in topology.shards]
        self.coordinator = Coordinator(self)
        self.pubsub = WorkerPubSub(self)  # subscribers' fan-out maps (proxy/pubsub.py)
        self.local_handlers = LOCAL_HANDLERS
        self.clients: dict = {}
        # Shard index -> the error PING answers because of it (-LOADING,
        # -MISCONF), as each shard's link tells it (ShardLink, "S" frames).
        self.shard_refusals: dict = {}
        # Shard index -> its memory state as its link tells it ("F" frames,
        # ShardServer.note_memory): 0 no limit, 1 within it, 2 out of memory;
        # and the set of those out of memory (MULTI refuses their commands).
        self.shard_memory = [0] * len(topology.shards)
        self.full_shards: set = set()
        self._client_id = index << 40  # ids stay unique across workers
        self.started = time.time()
        self.dirty_links: list = []
        self.dirty_clients: list = []
        self._flush_pending = False
        self._call_soon = None
        self.stat_commands = 0
        self.stat_connections = 0
        self.errorstats: dict = {}
        # Commands the proxy answers itself (INFO commandstats): name ->
        # [calls, usec, rejected, failed]; shards count the rest.
        self.cmdstats: dict = {}
        self._config_follower = None
        self._save_schedule = None
        self._server = None
        self._limit_text = None
        self._limit = None
        # Shards that have monitors (frame O, proxy/monitor.py); while any
        # has, clients' requests go in their sessions, addresses known.
        self.monitor_shards: set = set()
        self.monitored = False

    def next_client_id(self) -> int:
        self._client_id += 1
        return self._client_id

    def note_shard_memory(self, shard: int, state: int) -> None:
        self.shard_memory[shard] = state
        if state == 2:
            self.full_shards.add(shard)
        else:
            self.full_shards.discard(shard)

    def ping_refusal(self) -> str | None:
        """PING's error while a shard loads (first) or refuses writes."""
        refusals = self.shard_refusals
        if not refusals:
            return None
        if errors.LOADING in refusals.values():
            return errors.LOADING
        return next(iter(refusals.values()))

    def count_error(self, text: str) -> None:
        prefix = text.split(" ", 1)[0]
        self.errorstats[prefix] = self.errorstats.get(prefix, 0) + 1

    def fanout(self, client, spec, args) -> None:
        queued = len(client.queue)
        try:
            fanout(self, client, spec, args)
        except Exception as exc:
            # Drop the reply slots this command created (a late reply for a
            # slot no longer queued is ignored), then answer with an error.
            while len(client.queue) > queued:
                client.queue.pop()
            if isinstance(exc, CommandError):
                client.error_reply(exc.args[0])
            else:
                log.exception("fan-out of %s failed", spec.name)
                client.error_reply("ERR internal error while running '%s'" % spec.name)

    def mark_dirty(self, client) -> None:
        """``client`` has replies to write: it is flushed at the end of this
        turn, whoever queued them (a link's read, a coordinator's task)."""
        self.dirty_clients.append(client)
        if not self._flush_pending:
            self.flush_soon()

    def flush_soon(self) -> None:
        """Write what this event-loop turn queued, once, after all its reads.

        uvloop sends at once on ``transport.write``; flushing after every
        client read would cost one send per shard per read.  Deferring to the
        end of the turn packs every client's requests into one send per shard,
        and every shard's replies for a client into one send to that client.
        """
        if not self._flush_pending:
            self._flush_pending = True
            if self._call_soon is None:
                self._call_soon = asyncio.get_running_loop().call_soon
            self._call_soon(self._flush_turn)

    def _flush_turn(self) -> None:
        self._flush_pending = False
        self.flush_links()
        self.flush_clients()

    def flush_links(self) -> None:
        links = self.dirty_links
        if links:
            self.dirty_links = []
            for link in links:
                link.flush()

    def flush_clients(self) -> None:
        clients = self.dirty_clients
        if clients:
            self.dirty_clients = []
            for client in clients:
                client.flush()
            limit = self.normal_output_limit()
            if limit is not None:
                for client in clients:
                    if not client.subscribed:  # subscribers: the pubsub class, below
                        client.check_output_limit(*limit)
        if self.pubsub.pushed:
            self.pubsub.check_limits()

    def normal_output_limit(self):
        """(hard, soft, soft seconds) of client_output_buffer_limit's normal
        class, or None when it sets no limit; parsed again only when the
        value changes (CONFIG SET)."""
        text = self.config.values["client_output_buffer_limit"]
        if text is not self._limit_text:
            hard, soft, seconds = buffer_limits(text)["normal"]
            self._limit = (hard, soft, seconds) if hard or soft else None
            self._limit_text = text
        return self._limit

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()

    async def start(self):
        await asyncio.gather(*(link.connect() for link in self.links))
        if self.config.proxy_workers > 1:  # CONFIG SET made through another worker
            self._config_follower = asyncio.ensure_future(
                server_fanout.follow_shard_config(self))
        if self.index == 0:  # one worker runs the save schedule (proxy/snapshots.py)
            self._save_schedule = asyncio.ensure_future(snapshots.run_schedule(self))
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.bind else socket.AF_INET,
                             socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.config.bind, self.config.port))
        sock.listen(self.config.tcp_backlog)
        sock.setblocking(False)
        # create_server listens again, with its own default backlog unless told.
        self._server = await loop.create_server(lambda: ProxyClient(self), sock=sock,
                                                backlog=self.config.tcp_backlog)
        return self._server

    async def close(self):
        if self._config_follower is not None:
            self._config_follower.cancel()
        if self._save_schedule is not None:
            self._save_schedule.cancel()
        if self._server is not None:
            self._server.close()
        for client in list(self.clients.values()):
            client.kill()
        for link in self.links:
            link.close()
