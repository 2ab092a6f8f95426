"""Transactions under concurrency, with real clients (redis-py sync and asyncio).

Every transaction here spans both shards of a 2-shard damselfly (``X`` on
shard 0, ``Y`` on shard 1), so EXEC must lock keys on two shards and apply
both parts as one step: no reader may ever see half of a transfer, whether
it reads with a plain MGET or with an MGET inside MULTI, and no optimistic
(WATCH) increment may be lost.  A shard killed in the middle of a stream of
such transactions must leave no lock behind.

``DAMSELFLY_TESTS_AGAINST=redis`` runs the server-agnostic tests against a
real redis-server (tests/helpers.py ``server_under_test``); the shard-kill
test is damselfly's own.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import threading
import time

import pytest
import redis
import redis.asyncio

from tests.e2e.test_supervisor import children, wait_new_child
from tests.helpers import DamselflyProcess, names_on_shard, run_threads, server_under_test

X = names_on_shard(0, 1, "x")[0]
Y = names_on_shard(1, 1, "y")[0]
TOTAL = 20_000


@pytest.fixture(scope="module")
def server():
    """This module's own server (conftest's ``r`` follows it), so it can be a
    redis-server stand-in."""
    with server_under_test() as proc:
        yield proc


async def _transfer_storm(port: int, clients: int, per_client: int, stats: dict) -> None:
    """``clients`` asyncio connections, each running ``per_client`` MULTI/EXEC
    transfers of a random amount between X and Y (either way)."""

    async def one_client(seed: int):
        rng = random.Random(seed)
        client = redis.asyncio.Redis(port=port, socket_timeout=10)
        try:
            for _ in range(per_client):
                n = rng.randint(1, 50)
                src, dst = (X, Y) if rng.random() < 0.5 else (Y, X)
                async with client.pipeline(transaction=True) as pipe:
                    pipe.decrby(src, n)
                    pipe.incrby(dst, n)
                    after_src, after_dst = await pipe.execute()
                assert isinstance(after_src, int) and isinstance(after_dst, int)
                stats["transfers"] += 1
        finally:
            await client.aclose()

    await asyncio.gather(*(one_client(seed) for seed in range(clients)))


def test_cross_shard_transfers_never_show_half_a_transfer(server, r):
    """3,000 transfers from 10 asyncio clients; 4 sync readers check the sum
    with MGET outside MULTI (it must be atomic across shards too) and inside."""
    r.mset({X: TOTAL // 2, Y: TOTAL // 2})
    stats = {"transfers": 0, "plain MGET": 0, "MGET in MULTI": 0}
    bad = []
    done = threading.Event()

    def reader(in_multi: bool):
        client = redis.Redis(port=server.port, socket_timeout=10)
        label = "MGET in MULTI" if in_multi else "plain MGET"
        try:
            while not done.is_set():
                if in_multi:
                    pipe = client.pipeline(transaction=True)
                    pipe.mget(X, Y)
                    values = pipe.execute()[0]
                else:
                    values = client.mget(X, Y)
                total = int(values[0]) + int(values[1])
                if total != TOTAL:
                    bad.append((label, values))
                stats[label] += 1
        finally:
            client.close()

    def writers():
        try:
            asyncio.run(_transfer_storm(server.port, 10, 300, stats))
        finally:
            done.set()

    started = time.monotonic()
    run_threads([threading.Thread(target=writers)]
                + [threading.Thread(target=reader, args=(i % 2 == 1,)) for i in range(4)],
                timeout=60)
    elapsed = time.monotonic() - started
    print("transfers: %(transfers)d, plain MGET reads: %(plain MGET)d, "
          "MGET-in-MULTI reads: %(MGET in MULTI)d" % stats, "in %.1fs" % elapsed)
    assert stats["transfers"] == 3000
    assert bad == [], bad[:5]
    assert int(r.get(X)) + int(r.get(Y)) == TOTAL
    assert stats["plain MGET"] > 50 and stats["MGET in MULTI"] > 50
    assert elapsed < 20


def test_watch_increments_from_20_clients_lose_nothing(server, r):
    """WATCH k; GET k; MULTI; SET k v+1; EXEC, retried on a null EXEC: 20
    clients, counters on both shards, plus a two-key WATCH spanning them."""
    a, b = names_on_shard(0, 1, "ca")[0], names_on_shard(1, 1, "cb")[0]
    per_client = 15
    retries = [0]
    lock = threading.Lock()

    def increment(client, keys):
        while True:
            with client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(*keys)
                    values = [int(v or 0) for v in pipe.mget(*keys)]
                    pipe.multi()
                    for key, value in zip(keys, values):
                        pipe.set(key, value + 1)
                    pipe.execute()
                    return
                except redis.WatchError:
                    with lock:
                        retries[0] += 1

    def worker():
        client = redis.Redis(port=server.port, socket_timeout=10)
        try:
            for _ in range(per_client):
                increment(client, [a])
                increment(client, [b])
                increment(client, [a, b])
        finally:
            client.close()

    started = time.monotonic()
    run_threads([threading.Thread(target=worker) for _ in range(20)], timeout=60)
    print("%d optimistic increments, %d retries, %.1fs"
          % (20 * per_client * 3, retries[0], time.monotonic() - started))
    assert r.mget(a, b) == [str(20 * per_client * 2).encode()] * 2
    assert retries[0] > 0  # the clients did collide: the test tested WATCH


@pytest.mark.exclusive
def test_unrelated_keys_answer_during_a_storm_of_cross_shard_transactions(server, r):
    """While transactions lock X and Y on both shards, GET and SET of other
    keys of the same shards keep answering fast: locks are per key, never
    per shard.  (DEBUG SLEEP inside MULTI cannot show this in damselfly:
    DEBUG goes to every shard and stops each whole process.)"""
    r.mset({X: 0, Y: 0})
    others = names_on_shard(0, 2, "free") + names_on_shard(1, 2, "free")
    r.mset({k: "v" for k in others})
    done = threading.Event()
    tx_latency, get_latency = [], []

    def storm():
        client = redis.Redis(port=server.port, socket_timeout=10)
        try:
            while not done.is_set():
                started = time.perf_counter()
                pipe = client.pipeline(transaction=True)
                pipe.incr(X)
                pipe.set(Y + "-copy", "x")
                pipe.incr(Y)
                pipe.mget(X, Y)
                pipe.execute()
                tx_latency.append(time.perf_counter() - started)
        finally:
            client.close()

    def sampler():
        client = redis.Redis(port=server.port, socket_timeout=10)
        try:
            time.sleep(0.3)  # let the storm build up
            for i in range(300):
                key = others[i % len(others)]
                started = time.perf_counter()
                assert client.get(key) == b"v"
                assert client.set(key, "v") is True
                get_latency.append(time.perf_counter() - started)
        finally:
            client.close()
            done.set()

    run_threads([threading.Thread(target=storm) for _ in range(6)]
                + [threading.Thread(target=sampler)], timeout=60)
    assert len(tx_latency) > 100 and len(get_latency) == 300
    get_latency.sort()
    p50, p99 = statistics.median(get_latency), get_latency[int(len(get_latency) * 0.99)]
    print("%d transactions (median %.2f ms); unrelated GET+SET: median %.2f ms, "
          "p99 %.2f ms, max %.2f ms" % (len(tx_latency), statistics.median(tx_latency) * 1e3,
                                         p50 * 1e3, p99 * 1e3, get_latency[-1] * 1e3))
    assert r.get(X) == r.get(Y) == str(len(tx_latency)).encode()
    assert p99 < 0.1 and get_latency[-1] < 1.0


def test_killed_shard_leaves_no_lock_held():
    """SIGKILL shard 1 in the middle of a stream of cross-shard transactions:
    once the supervisor has restarted it, every key of every shard reads and
    writes within seconds, and transactions and WATCH work again."""
    keys = names_on_shard(0, 5, "k") + names_on_shard(1, 5, "k") + [X, Y]
    with DamselflyProcess(shards=2) as server:
        stop = threading.Event()
        outcomes = {"ok": 0, "error": 0}

        def stream():
            client = redis.Redis(port=server.port, socket_timeout=5)
            try:
                while not stop.is_set():
                    try:
                        pipe = client.pipeline(transaction=True)
                        pipe.incr(X)
                        pipe.mset({k: "s" for k in keys[:-2]})
                        pipe.incr(Y)
                        pipe.execute()
                        outcomes["ok"] += 1
                    except (redis.ResponseError, redis.ConnectionError):
                        outcomes["error"] += 1
                        time.sleep(0.01)
            finally:
                client.close()

        threads = [threading.Thread(target=stream) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            old = children(server)["shard 1"]
            os.kill(old, signal.SIGKILL)
            assert wait_new_child(server, "shard 1", old, 5) is not None
            time.sleep(0.5)  # the stream keeps going against the restarted shard
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        assert not any(t.is_alive() for t in threads), "a transaction hung"
        assert outcomes["ok"] > 0

        client = redis.Redis(port=server.port, socket_timeout=3)
        deadline = time.monotonic() + 10
        pending = list(keys)
        while pending and time.monotonic() < deadline:
            key = pending[0]
            try:
                client.get(key)
                assert client.set(key, "after") is True
                assert client.get(key) == b"after"
                pending.pop(0)
            except (redis.ResponseError, redis.ConnectionError):
                time.sleep(0.1)
        assert pending == [], "keys still unusable (locked?) 10 s after the restart: %r" % pending
        pipe = client.pipeline(transaction=True)
        pipe.set(X, 1)
        pipe.set(Y, 2)
        pipe.mget(X, Y)
        assert pipe.execute() == [True, True, [b"1", b"2"]]
        with client.pipeline(transaction=True) as pipe:
            pipe.watch(X, Y)
            pipe.multi()
            pipe.incr(X)
            pipe.incr(Y)
            assert pipe.execute() == [2, 3]
        client.close()


def test_a_write_on_a_shard_port_breaks_a_watch_made_through_the_proxy():
    """WATCH lives on the shard that owns the key, so a client writing there
    directly (as a cluster client does) is seen like any other."""
    with DamselflyProcess(shards=2) as proc:
        for shard, key in ((0, X), (1, Y)):
            watcher = redis.Redis(port=proc.port, socket_timeout=10)
            direct = redis.Redis(port=proc.shard_ports[shard], socket_timeout=10)
            try:
                with watcher.pipeline(transaction=True) as pipe:
                    pipe.watch(key)
                    direct.set(key, "from the shard port")
                    pipe.multi()
                    pipe.set(key, "from the watcher")
                    with pytest.raises(redis.WatchError):
                        pipe.execute()
                assert watcher.get(key) == b"from the shard port"
                with watcher.pipeline(transaction=True) as pipe:  # untouched: it runs
                    pipe.watch(key)
                    pipe.multi()
                    pipe.set(key, "second")
                    assert pipe.execute() == [True]
                assert direct.get(key) == b"second"
            finally:
                watcher.close()
                direct.close()
