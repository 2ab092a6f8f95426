"""Streams under load through the proxy: producers and a consumer group of
several consumers on streams of both shards, nothing lost and nothing read
twice by the group; and XREAD without BLOCK costing the shard one request.
"""

import asyncio
import time

import redis.asyncio as aioredis

from tests.helpers import RawClient, names_on_shard

(S0,) = names_on_shard(0, 1, "es")
(S1,) = names_on_shard(1, 1, "es")


def test_a_consumer_group_reads_every_entry_once(server):
    """Four producers add to a stream on each shard; five consumers of one
    group wait on both streams at once (a cross-shard XREADGROUP BLOCK) and
    acknowledge what they read."""
    producers, per_producer, consumers = 4, 150, 5
    total = producers * per_producer

    async def main():
        ctl = aioredis.Redis(port=server.port, single_connection_client=True)
        await ctl.flushall()
        for key in (S0, S1):
            await ctl.xgroup_create(key, "g", id="$", mkstream=True)
        seen: dict = {}  # entry (stream, id) -> consumer
        twice = []
        done = asyncio.Event()

        async def produce(p):
            client = aioredis.Redis(port=server.port, single_connection_client=True)
            for i in range(per_producer):
                await client.xadd(S0 if (p + i) % 2 else S1, {"p": p, "i": i})
                if i % 10 == 0:
                    await asyncio.sleep(0.002)
            await client.aclose()

        async def consume(name):
            client = aioredis.Redis(port=server.port, single_connection_client=True,
                                    socket_timeout=30)
            while not done.is_set():
                reply = await client.xreadgroup("g", name, {S0: ">", S1: ">"}, count=7,
                                                block=100)
                for stream, entries in reply or []:
                    for entry_id, _fields in entries:
                        key = (stream, entry_id)
                        if key in seen:
                            twice.append(key)
                        seen[key] = name
                        await client.xack(stream, "g", entry_id)
            await client.aclose()

        readers = [asyncio.ensure_future(consume("c%d" % k)) for k in range(consumers)]
        await asyncio.gather(*(produce(p) for p in range(producers)))
        deadline = time.monotonic() + 60
        while len(seen) < total and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        done.set()
        await asyncio.gather(*readers)
        pending = [await ctl.xpending(key, "g") for key in (S0, S1)]
        lengths = [await ctl.xlen(key) for key in (S0, S1)]
        await ctl.aclose()
        return seen, twice, pending, lengths

    seen, twice, pending, lengths = asyncio.run(main())
    assert twice == []
    assert len(seen) == total == sum(lengths)
    assert [p["pending"] for p in pending] == [0, 0]
    assert len(set(seen.values())) > 1  # the group's consumers shared the work


def _shard_calls(port) -> dict:
    with RawClient(port) as shard:
        info = shard.call("INFO", "commandstats").decode()
    out = {}
    for line in info.splitlines():
        if line.startswith("cmdstat_"):
            name, stats = line[len("cmdstat_"):].split(":", 1)
            out[name] = int(stats.split("calls=")[1].split(",")[0])
    return out


def test_xread_without_block_is_one_request_to_one_shard(server):
    """XREAD is flagged ``blocking``, so the proxy routes it as a blocking
    command: keys of one shard still cost that shard exactly one request."""
    with RawClient(server.port) as client:
        client.call("FLUSHALL")
        client.call("XADD", S1, "1-1", "f", "v")
        before = _shard_calls(server.shard_ports[1])
        assert client.call("XREAD", "COUNT", "5", "STREAMS", S1, "0") == \
            [[S1.encode(), [[b"1-1", [b"f", b"v"]]]]]
        assert client.call("XREAD", "STREAMS", S1, "1-1") is None
        after = _shard_calls(server.shard_ports[1])
    grown = {name: after[name] - before.get(name, 0) for name in after
             if after[name] != before.get(name, 0) and name != "info"}
    assert grown == {"xread": 2}
