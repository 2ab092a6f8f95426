"""Blocking pops under load, through real clients: nothing lost, nothing twice.

Producers and consumers run as asyncio clients on the proxy (redis-py's
asyncio client); queues live on both shards and some consumers wait on keys
of both shards at once, which the proxy runs as a cross-shard wait.  Also:
the direct shard ports in ``sharded`` mode (Redis Cluster's rules), the
journal of a served pop, and the reply shapes redis-py sees.
"""

import asyncio
import random
import time

import pytest
import redis
import redis.asyncio as aioredis

from tests.helpers import DamselflyProcess, RawClient, encode, names_on_shard

Q0 = names_on_shard(0, 4, "load")
Q1 = names_on_shard(1, 4, "load")


async def _client(port):
    return aioredis.Redis(port=port, single_connection_client=True, socket_timeout=60)


async def _stop_when(finished, done, tasks, seconds=60):
    """Let the consumers run until ``finished()`` (or a minute), then stop them."""
    deadline = time.monotonic() + seconds
    while not finished() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    done.set()
    await asyncio.gather(*tasks)


def test_two_thousand_producer_consumer_pairs(server):
    """Each consumer waits on its own queue (half of them on two queues, often
    one on each shard) for the elements its producer pushes at random moments."""
    pairs, per_pair = 2000, 3

    async def consumer(port, keys):
        client = await _client(port)
        got = []
        while len(got) < per_pair:
            key, value = await client.blpop(keys, timeout=30)
            got.append((key, value))
        await client.aclose()
        return got

    async def producer(port, i, keys):
        client = await _client(port)
        for n in range(per_pair):
            await asyncio.sleep(random.random() * 0.2)
            await client.rpush(keys[n % len(keys)], "%d:%d" % (i, n))
        await client.aclose()

    async def main():
        plans = []
        for i in range(pairs):
            same = "pair{%d}" % i
            keys = [same] if i % 2 else ["pa%d" % i, "pb%d" % i]  # one shard / often two
            plans.append(keys)
        consumers = [asyncio.ensure_future(consumer(server.port, keys)) for keys in plans]
        producers = [producer(server.port, i, keys) for i, keys in enumerate(plans)]
        await asyncio.gather(*producers)
        return await asyncio.wait_for(asyncio.gather(*consumers), 120)

    redis.Redis(port=server.port).flushall()
    results = asyncio.run(main())
    for i, got in enumerate(results):
        # Every element once; from each key in the order it was pushed (with
        # two keys, BLPOP takes the first non-empty one, so they interleave).
        assert sorted(value for _key, value in got) == [b"%d:%d" % (i, n) for n in range(per_pair)]
        for key in {key for key, _value in got}:
            values = [value for k, value in got if k == key]
            assert values == sorted(values, key=lambda v: int(v.split(b":")[1]))
    r = redis.Redis(port=server.port)
    assert r.dbsize() == 0
    assert r.info("clients")["blocked_clients"] == 0


def test_consumers_sharing_queues_on_both_shards(server):
    """Many consumers on the same keys (each consumer's keys span the shards):
    every element pushed is received exactly once."""
    consumers_n, elements = 200, 4000
    keys = [Q0[0], Q1[0], Q0[1], Q1[1]]

    async def consumer(port, received, done):
        client = await _client(port)
        mine = keys[:]
        random.shuffle(mine)
        while not done.is_set():
            reply = await client.blpop(mine, timeout=0.2)
            if reply is not None:
                received.append(reply[1])
        await client.aclose()

    async def main():
        received = []
        done = asyncio.Event()
        tasks = [asyncio.ensure_future(consumer(server.port, received, done))
                 for _ in range(consumers_n)]
        producer = await _client(server.port)
        for start in range(0, elements, 100):
            pipe = producer.pipeline(transaction=False)
            for n in range(start, start + 100):
                pipe.rpush(keys[n % len(keys)], n)
            await pipe.execute()
            await asyncio.sleep(0.01)
        await _stop_when(lambda: len(received) >= elements, done, tasks)
        await producer.aclose()
        return received

    redis.Redis(port=server.port).flushall()
    received = asyncio.run(main())
    assert len(received) == elements
    assert sorted(int(v) for v in received) == list(range(elements))
    assert redis.Redis(port=server.port).exists(*keys) == 0


def test_zset_consumers_across_shards(server):
    """BZPOPMIN consumers on sorted sets of both shards, racing producers."""
    keys = [Q0[2], Q1[2]]
    total = 600

    async def consumer(port, received):
        client = await _client(port)
        while True:
            reply = await client.bzpopmin(keys, timeout=1)
            if reply is None:
                break
            received.append(reply[1])
        await client.aclose()

    async def main():
        received = []
        tasks = [asyncio.ensure_future(consumer(server.port, received)) for _ in range(50)]
        producer = await _client(server.port)
        for n in range(total):
            await producer.zadd(keys[n % 2], {"m%d" % n: n})
        await asyncio.gather(*tasks)
        await producer.aclose()
        return received

    redis.Redis(port=server.port).flushall()
    received = asyncio.run(main())
    assert sorted(received) == sorted(b"m%d" % n for n in range(total))


def test_blmove_workers_move_every_job_once(server):
    """Reliable-queue workers (BLMOVE pending -> processing, then LREM), the
    queue on one shard and the processing lists on the other."""
    pending, workers_n, jobs = Q0[3], 20, 500
    processing = Q1[3]

    async def worker(port, done, handled):
        client = await _client(port)
        while not done.is_set():
            job = await client.blmove(pending, processing, 0.2, "RIGHT", "LEFT")
            if job is not None:
                handled.append(job)
                await client.lrem(processing, 1, job)
        await client.aclose()

    async def main():
        done, handled = asyncio.Event(), []
        tasks = [asyncio.ensure_future(worker(server.port, done, handled))
                 for _ in range(workers_n)]
        producer = await _client(server.port)
        for n in range(jobs):
            await producer.lpush(pending, "job%d" % n)
        await _stop_when(lambda: len(handled) >= jobs, done, tasks)
        await producer.aclose()
        return handled

    redis.Redis(port=server.port).flushall()
    handled = asyncio.run(main())
    assert sorted(handled) == sorted(b"job%d" % n for n in range(jobs))
    r = redis.Redis(port=server.port)
    assert r.llen(pending) == 0 and r.llen(processing) == 0


def test_redis_py_sees_redis_shapes(server):
    r = redis.Redis(port=server.port, protocol=3)
    r.flushall()
    started = time.monotonic()
    assert r.blpop([Q0[0], Q1[0]], timeout=0.3) is None
    assert 0.25 <= time.monotonic() - started < 5
    r.zadd(Q1[0], {"m": 2.5})
    assert r.bzpopmin([Q0[0], Q1[0]], timeout=1) == [Q1[0].encode(), b"m", 2.5]
    r.rpush(Q0[0], "a", "b")
    assert r.blmpop(1, 2, Q1[0], Q0[0], direction="RIGHT", count=5) == [
        Q0[0].encode(), [b"b", b"a"]]


def test_client_unblock_through_redis_py(server):
    r = redis.Redis(port=server.port)
    r.flushall()
    waiter = redis.Redis(port=server.port, single_connection_client=True)
    wid = waiter.client_id()
    result = {}

    async def run():
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, lambda: waiter.brpop([Q0[0], Q1[0]], timeout=0))
        deadline = time.monotonic() + 10
        while r.info("clients")["blocked_clients"] != 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        result["unblock"] = r.client_unblock(wid, error=True)
        try:
            await future
        except redis.ResponseError as exc:
            result["error"] = str(exc)

    asyncio.run(run())
    assert result == {"unblock": True,
                      "error": "UNBLOCKED client unblocked via CLIENT UNBLOCK"}
    waiter.close()


def test_sharded_mode_follows_redis_cluster():
    """On a shard port the keys of one blocking call must share a slot."""
    with DamselflyProcess(shards=2, cluster_mode="sharded") as proc:
        port = proc.shard_ports[0]
        with RawClient(port) as client, RawClient(port) as pusher:
            a, b = names_on_shard(0, 2, "sq")
            assert str(client.call("BLPOP", a, b, 0)).startswith("CROSSSLOT")
            other = names_on_shard(1, 1, "sq")[0]
            assert str(client.call("BLPOP", other, 0)).startswith("MOVED")
            source, target = "{%s}src" % a, "{%s}dst" % a  # one slot, shard 0's
            client.send_raw(encode(["BLMOVE", source, target, "LEFT", "RIGHT", 0]))
            deadline = time.monotonic() + 10
            while b"blocked_clients:1" not in pusher.call("INFO", "clients"):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert pusher.call("RPUSH", source, "job") == 1
            assert client.read() == b"job"
            assert pusher.call("LRANGE", target, 0, -1) == [b"job"]
