"""Commands whose keys live on several shards, run as one atomic step.

The recipe is the same for every such command (RENAME, COPY, MSETNX, BITOP,
LCS, and later transactions and scripts):

1. the client's earlier commands finish first and its later ones wait (a
   barrier), so the client sees its own commands in order;
2. every shard involved is locked with ``DF.LOCK`` on a dedicated link, in
   shard-id order -- two coordinated commands can therefore never deadlock;
3. keys owned by other shards are exported to the executing shard, the
   command runs there through the normal dispatch (``DF.RUN``), and the
   foreign keys it wrote are imported back to their owners;
4. every shard is unlocked.  No client ever observes half of the command.

The executing shard is the owner of the key at ``spec.keys(args)[-1]`` for
commands that write their last key with a database option (COPY), else of
the first key.
"""

from __future__ import annotations

import asyncio
import logging

from cluster.errors import CommandError
from cluster.resp import encode_error
from cluster.slots import key_slot
from proxy.fanout import decode_reply
from proxy.links import IGNORE, ShardLink

log = logging.getLogger("damselfly.proxy")

# Commands executed on the shard of their last key (see module doc).
RUN_ON_LAST_KEY = {"copy"}


class Coordinator:
    def __init__(self, worker):
        self.worker = worker
        self.idle: dict = {}  # shard index -> [dedicated ShardLink]

    def start(self, client, spec, args, keys, shards) -> None:
        slot = client.new_slot()
        ready = client.begin_barrier(slot)
        asyncio.ensure_future(self._run(client, spec, args, keys, sorted(shards), slot, ready))

    async def _run(self, client, spec, args, keys, shards, slot, ready):
        try:
            await ready
            data = await self.execute(client.ctx, spec, args, keys, shards)
        except Exception:
            log.exception("coordinated %s failed", spec.name)
            data = encode_error("ERR internal error while coordinating '%s'" % spec.name)
        slot[1] = data
        client.deliver(slot)
        client.end_barrier()

    async def _link(self, shard: int) -> ShardLink:
        pool = self.idle.setdefault(shard, [])
        while pool:
            link = pool.pop()
            if link.transport is not None and not link.closed:
                return link
        link = ShardLink(self.worker, self.worker.topology.shards[shard], dedicated=True)
        await asyncio.wait_for(link.connect(), 2.0)
        return link

    def _release(self, shard: int, link: ShardLink) -> None:
        if link.transport is not None and not link.closed:
            self.idle.setdefault(shard, []).append(link)
        else:
            link.close()

    async def execute(self, ctx, spec, args, keys, shards) -> bytes:
        """Lock, export, run, import, unlock; returns the reply's bytes."""
        owner = self.worker.slot_owner
        anchor = keys[-1] if spec.name in RUN_ON_LAST_KEY else keys[0]
        executor = owner[key_slot(anchor)]
        links = {}
        locked = []
        try:
            for shard in shards:
                try:
                    links[shard] = await self._link(shard)
                except (OSError, asyncio.TimeoutError):
                    return self.worker.links[shard].unavailable
            for shard in shards:  # in shard-id order: no deadlock
                reply = await links[shard].request(ctx, [b"DF.LOCK"])
                if reply != b"+OK\r\n":
                    return reply if reply.startswith(b"-") else encode_error("ERR lock failed")
                locked.append(shard)
            foreign: dict = {}
            for key in dict.fromkeys(keys):
                shard = owner[key_slot(key)]
                if shard != executor:
                    foreign.setdefault(shard, []).append(key)
            exports = await asyncio.gather(*(
                links[shard].request(ctx, [b"DF.EXPORT"] + ks) for shard, ks in foreign.items()
            ))
            run = [b"DF.RUN", b"0"]
            count = 0
            for (shard, ks), data in zip(foreign.items(), exports):
                blobs = decode_reply(data)
                if isinstance(blobs, CommandError):
                    return data
                for key, blob in zip(ks, blobs):
                    run += [key, blob or b""]
                    count += 1
            run[1] = b"%d" % count
            run.extend(args)
            result = decode_reply(await links[executor].request(ctx, run))
            if isinstance(result, CommandError):
                return encode_error(result.args[0])
            reply, writes = result[0], result[1:]
            back: dict = {}
            for i in range(0, len(writes), 2):
                back.setdefault(owner[key_slot(writes[i])], []).extend(writes[i : i + 2])
            if back:
                await asyncio.gather(*(
                    links[shard].request(ctx, [b"DF.IMPORT"] + kv) for shard, kv in back.items()
                ))
            return reply
        finally:
            for shard in locked:
                links[shard].send(ctx, b"*1\r\n$9\r\nDF.UNLOCK\r\n",
                                  [IGNORE, None])
                links[shard].flush()
            for shard, link in links.items():
                self._release(shard, link)

