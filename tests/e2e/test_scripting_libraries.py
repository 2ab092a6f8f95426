"""Unchanged scripts of widely used libraries, through the libraries' own Lua
and their own client code, on damselfly and on a real redis-server:

- redis-py's ``Lock`` (its acquire-token release / extend / reacquire scripts);
- ``limits`` (rate limiting: fixed window, moving window and sliding window
  counter scripts, and its ``clear`` script, which runs KEYS inside Lua --
  every shard, so proxy mode);
- ``dramatiq``'s Redis broker, whose ``dispatch.lua`` declares only the
  namespace and builds every key it touches (queues, acks, heartbeats) from
  it: undeclared keys, which damselfly runs in proxy mode.

The replies (or the work done) must be the same on both servers.
"""

from __future__ import annotations

import time

import redis

from tests.helpers import names_on_shard

A = names_on_shard(0, 1, "lib")[0]
B = names_on_shard(1, 1, "lib")[0]


def _servers(server, redis_ref):
    return [("redis", redis_ref.port), ("damselfly", server.port)]


def test_redis_py_lock_scripts(server, redis_ref):
    from redis.exceptions import LockError, LockNotOwnedError

    outcomes = []
    for _, port in _servers(server, redis_ref):
        client = redis.Redis(port=port)
        client.flushall()
        seen = []
        for name in (A, B):
            lock = client.lock(name, timeout=30)
            other = client.lock(name, timeout=30)
            seen.append(lock.acquire(blocking=False))
            seen.append(other.acquire(blocking=False))
            seen.append(lock.extend(10))
            seen.append(0 < client.pttl(name) <= 40000)
            seen.append(lock.reacquire())
            seen.append(0 < client.pttl(name) <= 30000)
            for attempt in (other.release, lambda: other.extend(5), other.reacquire):
                other.local.token = b"not the owner's token"  # release() forgets it
                try:  # each runs its script, which finds another token
                    attempt()
                except LockNotOwnedError as exc:
                    seen.append(type(exc).__name__)
            lock.release()
            seen.append(client.exists(name))
            try:
                lock.release()
            except LockError as exc:
                seen.append(type(exc).__name__)
        outcomes.append(seen)
        client.close()
    assert outcomes[0] == outcomes[1]


def test_limits_rate_limiters(server, redis_ref):
    import limits
    from limits.storage import RedisStorage
    from limits.strategies import (FixedWindowRateLimiter, MovingWindowRateLimiter,
                                   SlidingWindowCounterRateLimiter)

    rate = limits.parse("5/minute")
    outcomes = []
    for _, port in _servers(server, redis_ref):
        redis.Redis(port=port).flushall()
        storage = RedisStorage("redis://127.0.0.1:%d" % port)
        seen = []
        for strategy in (FixedWindowRateLimiter, MovingWindowRateLimiter,
                         SlidingWindowCounterRateLimiter):
            limiter = strategy(storage)
            for user in ("alice", "bob", "carol"):  # keys on both shards
                seen.append([limiter.hit(rate, strategy.__name__, user) for _ in range(7)])
                seen.append(limiter.test(rate, strategy.__name__, user))
                stats = limiter.get_window_stats(rate, strategy.__name__, user)
                seen.append(stats.remaining)
        seen.append(redis.Redis(port=port).dbsize() > 0)
        storage.reset()  # its clear_keys.lua: KEYS LIMITS* and DEL inside the script
        seen.append(redis.Redis(port=port).dbsize())
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][-1] == 0


def test_dramatiq_redis_broker(server, redis_ref):
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    outcomes = []
    for _, port in _servers(server, redis_ref):
        client = redis.Redis(port=port)
        client.flushall()
        broker = RedisBroker(url="redis://127.0.0.1:%d" % port, namespace="dq")

        @dramatiq.actor(broker=broker, queue_name="jobs", max_retries=0)
        def add(n):
            client.incrby("sum", n)
            client.rpush("seen", n)

        @dramatiq.actor(broker=broker, queue_name="other", max_retries=0)
        def mark(name):
            client.sadd("marks", name)

        for n in range(1, 41):
            add.send(n)
        for name in ("x", "y", "z"):
            mark.send(name)
        queued = (client.llen("dq:jobs"), client.llen("dq:other"))
        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
        worker.start()
        try:
            deadline = time.monotonic() + 60
            while (int(client.get("sum") or 0) < 820 or client.scard("marks") < 3) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            broker.join("jobs", timeout=30000)
            broker.join("other", timeout=30000)
        finally:
            worker.stop()
            broker.close()
        outcomes.append((queued, int(client.get("sum")), sorted(int(x) for x in
                                                                 client.lrange("seen", 0, -1)),
                         sorted(client.smembers("marks")),
                         client.llen("dq:jobs"), client.llen("dq:other")))
        client.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][1] == 820
