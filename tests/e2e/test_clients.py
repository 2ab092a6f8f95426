"""Real client libraries against the real server, unchanged: redis-py (sync
and asyncio, RESP2 and RESP3), redis-cli (arguments, stdin, --pipe) and the
plain asyncio client asyncio_redis; plus a server with two proxy workers."""

from __future__ import annotations

import asyncio
import subprocess
import threading

import pytest
import redis
import redis.asyncio

from cluster.slots import SlotMap, split_slots
from tests.helpers import DamselflyProcess, RawClient

SLOTS = SlotMap(split_slots(2))


def keys_on_both_shards(n: int) -> list:
    """``n`` keys, alternating between shard 0 and shard 1."""
    by_shard = ([], [])
    i = 0
    while min(len(by_shard[0]), len(by_shard[1])) < (n + 1) // 2:
        key = "key:%d" % i
        by_shard[SLOTS.shard_of_key(key.encode())].append(key)
        i += 1
    out = []
    for a, b in zip(*by_shard):
        out += [a, b]
    return out[:n]


# -- redis-py, sync -------------------------------------------------------------


def test_redis_py_basic_commands(r):
    assert r.ping() is True
    assert r.echo("hi") == b"hi"
    assert r.set("bar", "1") is True
    assert r.set("foo", "2") is True
    assert r.get("bar") == b"1" and r.get("foo") == b"2"
    assert r.execute_command("INCR", "bar") == 2
    assert r.mget("bar", "foo", "missing") == [b"2", b"2", None]
    assert r.mset({"a{x}": "1", "b": "2"}) is True
    assert r.exists("a{x}", "b", "nope") == 2
    assert r.expire("b", 100) is True
    assert 0 < r.ttl("b") <= 100
    assert r.delete("a{x}", "b", "nope") == 2
    assert r.dbsize() == 2
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get'"):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError, match="unknown command 'NOSUCHCMD'"):
        r.execute_command("NOSUCHCMD", "x")


def test_redis_py_decoded_and_resp3(server):
    for protocol in (2, 3):
        client = redis.Redis(port=server.port, protocol=protocol, decode_responses=True)
        try:
            assert client.set("greeting", "héllo") is True
            assert client.get("greeting") == "héllo"
            assert client.execute_command("INCR", "counter:%d" % protocol) == 1
            assert client.get("nope") is None
            info = client.execute_command("HELLO", protocol)
            if protocol == 2:  # a flat array of field, value
                info = dict(zip(info[::2], info[1::2]))
            assert info["proto"] == protocol and info["server"] == "redis"
        finally:
            client.close()


def test_redis_py_pipeline_over_both_shards_keeps_order(r):
    keys = keys_on_both_shards(1000)
    pipe = r.pipeline(transaction=False)
    for i, key in enumerate(keys):
        pipe.set(key, i)
        pipe.execute_command("INCR", key)
        pipe.echo("e%d" % i)
        pipe.get(key)
    replies = pipe.execute()
    assert len(replies) == 4000
    for i, key in enumerate(keys):
        assert replies[4 * i : 4 * i + 4] == [True, i + 1, b"e%d" % i, b"%d" % (i + 1)]
    # Errors stay in their place in a non-transactional pipeline.
    pipe = r.pipeline(transaction=False)
    pipe.set(keys[0], "x")
    pipe.execute_command("INCR", keys[0])
    pipe.get(keys[1])
    first, error, third = pipe.execute(raise_on_error=False)
    assert first is True and isinstance(error, redis.ResponseError) and third == b"2"


def test_redis_py_pool_shared_by_threads(server):
    client = redis.Redis(port=server.port, max_connections=8)
    client.delete("threads:bar", "threads:foo")
    errors = []

    def work():
        try:
            for _ in range(200):
                client.execute_command("INCR", "threads:bar")
                client.execute_command("INCR", "threads:foo")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert client.mget("threads:bar", "threads:foo") == [b"1600", b"1600"]
    client.close()


# -- redis-py, asyncio ------------------------------------------------------------


def test_redis_py_asyncio(server):
    async def main():
        client = redis.asyncio.Redis(port=server.port, max_connections=256)
        try:
            await client.flushall()
            keys = keys_on_both_shards(200)
            assert all(await asyncio.gather(*(client.set(k, k) for k in keys)))
            assert await asyncio.gather(*(client.get(k) for k in keys)) == [
                k.encode() for k in keys]
            async with client.pipeline(transaction=False) as pipe:
                for k in keys:
                    pipe.execute_command("INCR", "n:" + k)
                    pipe.get(k)
                replies = await pipe.execute()
            assert replies == [x for k in keys for x in (1, k.encode())]
            assert await client.dbsize() == 400
        finally:
            await client.aclose()

    asyncio.run(main())


# -- redis-cli ------------------------------------------------------------------


def redis_cli(port, *args, stdin=None):
    done = subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_redis_cli_commands(server, raw):
    assert redis_cli(server.port, "PING") == b"PONG\n"
    assert redis_cli(server.port, "SET", "bar", "hello world") == b"OK\n"
    assert redis_cli(server.port, "GET", "bar") == b"hello world\n"
    assert redis_cli(server.port, "INCR", "foo") == b"1\n"
    assert redis_cli(server.port, "--no-raw", "INCR", "foo") == b"(integer) 2\n"
    assert redis_cli(server.port, "--no-raw", "MGET", "bar", "foo", "zz") == (
        b'1) "hello world"\n2) "2"\n3) (nil)\n')
    assert redis_cli(server.port, "--no-raw", "GET", "a", "b") == (
        b"(error) ERR wrong number of arguments for 'get' command\n")


def test_redis_cli_reads_commands_from_stdin(server, raw):
    out = redis_cli(server.port, stdin=b'SET bar "two words"\nGET bar\nINCR foo\nECHO \'q\'\n')
    assert out == b"OK\ntwo words\n1\nq\n"


def test_redis_cli_pipe_mode(server, raw):
    n = 5000
    protocol = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" % (len(b"k%d" % i), i)
                        for i in range(n))
    out = redis_cli(server.port, "--pipe", stdin=protocol)
    assert b"errors: 0, replies: %d" % n in out
    assert raw.call("DBSIZE") == n


# -- asyncio_redis ----------------------------------------------------------------


def test_asyncio_redis(server, raw):
    """asyncio_redis 0.16 imports and runs on Python 3.11 unchanged."""
    import asyncio_redis

    async def main():
        conn = await asyncio_redis.Connection.create(host="127.0.0.1", port=server.port)
        pool = await asyncio_redis.Pool.create(host="127.0.0.1", port=server.port, poolsize=4)
        try:
            assert (await conn.set("bar", "v")).status == "OK"
            assert await conn.get("bar") == "v"
            assert await conn.get("missing") is None
            assert await conn.incr("foo") == 1
            reply = await conn.mget(["bar", "foo", "missing"])
            assert await reply.aslist() == ["v", "1", None]
            # Four connections run these concurrently: any order, each value once.
            counts = await asyncio.gather(*(pool.incr("foo") for _ in range(20)))
            assert sorted(counts) == list(range(2, 22))
            assert await conn.delete(["bar", "foo"]) == 2
        finally:
            conn.close()
            pool.close()

    asyncio.run(main())


# -- two proxy workers ----------------------------------------------------------------


def test_two_proxy_workers_share_the_port():
    """Connections land on both workers (a client id's high bits name its
    worker) and every one sees the same data through its own links."""
    with DamselflyProcess(shards=2, proxy_workers=2) as server:
        clients = [RawClient(server.port) for _ in range(40)]
        try:
            workers = {c.call("CLIENT", "ID") >> 40 for c in clients}
            assert workers == {0, 1}
            for i, c in enumerate(clients):
                assert c.call("SET", "w:%d" % i, i) == b"OK"
            for i, c in enumerate(clients):
                other = (i + 1) % len(clients)
                assert c.call("GET", "w:%d" % other) == b"%d" % other
                assert c.call("INCR", "shared") == i + 1
            assert clients[0].call("DBSIZE") == 41
        finally:
            for c in clients:
                c.close()
