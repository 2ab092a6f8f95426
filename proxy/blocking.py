"""Blocking commands through the proxy (BLPOP, BLMOVE, BZPOPMIN ...).

The client's later commands wait until the blocking one has answered (the
client is *held*, as for coordinated work), so they run after it as they
would on Redis; every other client keeps being served.

- Keys on one shard (the common case, and the only one a Redis Cluster
  client can send): the command goes to that shard in the client's session,
  which waits for the keys itself and serves its waiters in FIFO order per
  key (shardnode/blocking.py).  It costs what the non-blocking pop costs.
- Keys on several shards: :class:`CrossShardWait` runs the command as one
  atomic cross-shard command (proxy/coordinator.py), which cannot block and
  answers null when every key is empty.  Then it asks each shard for a
  wake-up (``DF.WAIT``: a ``W`` frame when one of the keys gets a value),
  tries once more -- a value that arrived before the wake-ups were in place
  is seen by that try -- and from then on tries again at each wake-up until
  it pops, times out, is unblocked or its client goes.  A shard wakes it in
  its FIFO turn among the key's waiters and holds those behind it until the
  proxy has tried (DF.UNWAIT or DF.REWAIT).  One difference from Redis
  remains: when several of its keys get values at once, the retry pops from
  the first non-empty key in argument order, not the first to get one.

XREAD and XREADGROUP are flagged ``blocking`` always (as in Redis 7.0), so
they come here with or without BLOCK; without BLOCK they go on as ordinary
keyed commands (one shard: forwarded and pipelined, one round trip; several:
the coordinator), never holding the client.  Their timeout is BLOCK's, in
milliseconds.  XREAD's ``$``
means "the last id when the command was called", so before the first
attempt :meth:`CrossShardWait._prepare` writes each ``$`` out as that
stream's last id: one more coordinated round trip (an ``XINFO STREAM`` per
``$`` key, read under the keys' locks), paid only by cross-shard XREADs
that name ``$``.  A cross-shard XREADGROUP wakes on new entries only (a
group or stream deleted under it is noticed at its timeout, not at once as
on one shard).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time

from cluster.args import parse_timeout_ms
from cluster.commands import spec_of
from cluster.errors import UNBLOCKED
from cluster.resp import NULL_ARRAY, encode, encode_command, encode_error
from cluster.slots import key_slot

log = logging.getLogger("damselfly.proxy")

# What a blocking command answers when it found nothing and could not wait.
_NULLS = frozenset((b"*-1\r\n", b"$-1\r\n", b"_\r\n"))

# Where the timeout is, and which keys are waited on (BLMOVE waits on its
# source only); the rest of the keys are written, not waited for.
_TIMEOUT_FIRST = frozenset(("blmpop", "bzmpop"))
_SOURCE_ONLY = frozenset(("blmove", "brpoplpush"))

_tokens = itertools.count(1)
_STREAM_READS = frozenset(("xread", "xreadgroup"))
# The type a command waits for, by its COMMAND DOCS group (DF.WAIT's word).
_WAITED_TYPE = {"list": b"list", "sorted-set": b"zset", "stream": b"stream"}
_LAST_ID = re.compile(rb"last-generated-id\r\n\$\d+\r\n(\d+-\d+)\r\n")


def _block_ms(args):
    """XREAD's and XREADGROUP's BLOCK milliseconds, None without BLOCK; a
    BLOCK that does not parse reads as 0 here (the shard refuses it)."""
    i = 1
    while i < len(args) - 1:
        word = args[i].lower()
        if word == b"streams":
            return None
        if word == b"block":
            try:
                return max(int(args[i + 1]), 0)
            except ValueError:
                return 0
        i += 3 if word == b"group" else 2 if word == b"count" else 1
    return None


def run(client, spec, args) -> None:
    """Route one blocking command (checked already: lookup, arity, auth)."""
    worker = client.worker
    owner = worker.slot_owner
    keys = spec.keys(args)
    shards = {owner[key_slot(k)] for k in keys}
    if spec.name in _STREAM_READS and _block_ms(args) is None:
        # No BLOCK: an ordinary keyed command, pipelined like any other.
        if len(shards) > 1:
            worker.coordinator.run_command(client, spec, args)
        else:
            client.forward(shards.pop() if shards else 0, args)
        return
    if len(shards) > 1:
        wait = CrossShardWait(client, spec, args)
        if spec.name != "xread":  # XREAD counts as blocked once its $ are read
            client.blocked = wait
        client.hold(wait)
        asyncio.ensure_future(wait.run())
        return
    shard = shards.pop() if shards else 0  # no keys: a bad numkeys, the shard says so
    target = OnShard(client, shard)
    slot = client.new_slot()
    slot[0] = target
    client.blocked = target
    client.hold(target)
    client.note_sessions((shard,))
    worker.links[shard].send(client.session_ctx(), encode_command(args), slot)


class OnShard:
    """Target of the reply slot of a blocking command sent to one shard."""

    __slots__ = ("client", "shard")
    # In its key's queue once sent: whatever reaches the shard later is behind it.
    waiting = True

    def __init__(self, client, shard):
        self.client = client
        self.shard = shard

    def deliver(self, slot) -> None:
        client = self.client
        if client.blocked is self:
            client.blocked = None
        client.deliver(slot)
        client.release_hold(self)

    def unblock(self, as_error: bool) -> bool:
        """CLIENT UNBLOCK: the shard answers the waiting request (if it still
        waits: one served meanwhile keeps its reply)."""
        link = self.client.worker.links[self.shard]
        link.send_forget(None, [b"DF.UNBLOCK", b"%d" % self.client.id, b"1" if as_error else b"0"])
        self.client.worker.flush_soon()
        return True

    def client_gone(self) -> None:
        pass  # DF.GONE (ProxyClient.end_sessions) makes the shard forget it


class CrossShardWait:
    """A blocking command whose keys span shards (see module doc)."""

    def __init__(self, client, spec, args):
        self.client = client
        self.spec = spec
        self.args = args
        self.slot = client.new_slot()
        self.token = next(_tokens)
        self.woken = asyncio.Event()
        self.outcome = None  # the reply CLIENT UNBLOCK (or a disconnect) decided
        self.registered: dict = {}  # shard -> keys it wakes us up for
        self.waiting = False  # in the keys' queues (DF.WAIT sent): INFO counts it blocked

    def wake(self, token: int) -> None:
        if token == self.token:
            self.woken.set()

    def unblock(self, as_error: bool) -> bool:
        if self.outcome is not None:
            return False
        self.outcome = (encode_error(UNBLOCKED) if as_error
                        else encode(NULL_ARRAY, self.client.proto))
        self.woken.set()
        return True

    def client_gone(self) -> None:
        if self.outcome is None:
            self.outcome = b""
        self.woken.set()

    async def _attempt(self) -> bytes:
        """The command once, atomically across its shards, never waiting."""
        from proxy.coordinator import Plan

        client = self.client
        worker = client.worker
        plan = Plan(worker)
        plan.add(self.spec, self.args, client.db_index)
        result = await worker.coordinator.execute(client, plan, False, False)
        return result if type(result) is bytes else result[0]

    def _register(self) -> None:
        client = self.client
        worker = client.worker
        owner = worker.slot_owner
        keys = self.spec.keys(self.args)
        if self.spec.name in _SOURCE_ONLY:
            keys = keys[:1]
        for key in dict.fromkeys(keys):
            self.registered.setdefault(owner[key_slot(key)], []).append(key)
        client.note_sessions(self.registered)
        head = [b"DF.WAIT", b"%d" % client.id, b"%d" % self.token, b"%d" % client.db_index,
                _WAITED_TYPE[self.spec.group]]
        for shard, keys in self.registered.items():
            worker.links[shard].send_forget(None, head + keys)
        worker.flush_soon()
        self.waiting = True

    def _unregister(self, keep: bool = False) -> None:
        """Tell the shards we are done (or, ``keep``, that we wait on: the
        waiters behind us on a key may be served now)."""
        worker = self.client.worker
        done = [b"DF.REWAIT" if keep else b"DF.UNWAIT", b"%d" % self.client.id,
                b"%d" % self.token]
        for shard in self.registered:
            worker.links[shard].send_forget(None, done)
        if not keep:
            self.registered = {}
        worker.flush_soon()

    async def run(self) -> None:
        client = self.client
        client.coordinating += 1  # DF.GONE waits for us (ProxyClient.end_sessions)
        try:
            data = await self._wait()
        except Exception:
            log.exception("a cross-shard blocking command failed")
            data = encode_error("ERR internal error while running '%s'" % self.spec.name)
        finally:
            client.coordinating -= 1
            if self.registered:
                self._unregister()
        if client.blocked is self:
            client.blocked = None
        self.slot[1] = data
        client.deliver(self.slot)
        client.release_hold(self)
        if client.transport is None and not client.coordinating:
            client.end_sessions()

    async def _prepare(self) -> bytes | None:
        """XREAD's ``$`` ids written out as their streams' last ids now (see
        module doc); an error reply if reading them failed."""
        from proxy.coordinator import Plan

        args = self.args
        streams_at = next(i for i in range(1, len(args)) if args[i].lower() == b"streams") + 1
        half = (len(args) - streams_at) // 2
        dollars = [streams_at + half + j for j in range(half)
                   if args[streams_at + half + j] == b"$"]
        if not dollars:
            return None
        client = self.client
        plan = Plan(client.worker)
        for at in dollars:
            request = [b"XINFO", b"STREAM", args[at - half]]
            info = spec_of(request)
            plan.add(info, request, client.db_index)
        replies = await client.worker.coordinator.execute(client, plan, False, False)
        if type(replies) is bytes:
            return replies  # an error before any reply (a lock refused)
        args = list(args)
        for at, reply in zip(dollars, replies):
            if reply.startswith(b"-WRONGTYPE"):
                return reply
            found = _LAST_ID.search(reply)
            args[at] = found.group(1) if found else b"0-0"  # no such key: 0-0, as Redis
        self.args = args
        return None

    async def _wait(self) -> bytes:
        stream_read = self.spec.name in _STREAM_READS
        if self.spec.name == "xread":
            failed = await self._prepare()
            if failed is not None:
                return failed
            if self.client.transport is None:
                return b""
            self.client.blocked = self
        data = await self._attempt()
        if data not in _NULLS or self.outcome is not None:
            return self.outcome if data in _NULLS else data
        if stream_read:
            timeout_ms = _block_ms(self.args)
            if timeout_ms is None:
                return data  # no BLOCK: the attempt is the answer
        else:
            raw = self.args[1] if self.spec.name in _TIMEOUT_FIRST else self.args[-1]
            timeout_ms = parse_timeout_ms(raw, int(time.time() * 1000))  # the shard accepted it
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000 if timeout_ms else None
        self._register()
        data = await self._attempt()
        while data in _NULLS and self.outcome is None:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            try:
                await asyncio.wait_for(self.woken.wait(), remaining)
            except asyncio.TimeoutError:
                break
            self.woken.clear()
            if self.outcome is not None or self.client.transport is None:
                break
            data = await self._attempt()
            if data in _NULLS:
                self._unregister(keep=True)
        if data not in _NULLS:
            return data  # it popped: an unblock that came meanwhile is too late
        if self.outcome is not None:
            return self.outcome
        return encode(NULL_ARRAY, self.client.proto)
