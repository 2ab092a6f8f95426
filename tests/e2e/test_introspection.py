"""Server and connection commands with real clients: INFO parsed by redis-py
(sync and asyncio), CONFIG SET reaching the proxy and every shard, CONFIG
REWRITE, CLIENT LIST/KILL, AUTH with requirepass, HELLO 3 replies on the
wire, DEBUG SLEEP, redis-benchmark's CONFIG fetch and RedisCluster start-up."""

import asyncio
import os
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis
import redis.asyncio

from cluster.slots import key_slot
from tests.helpers import DamselflyProcess, Err, RawClient, encode


def _key_on(shard: int, prefix="k"):
    i = 0
    while True:
        name = "%s%d" % (prefix, i)
        if (key_slot(name.encode()) >= 8192) == bool(shard):
            return name
        i += 1


def test_info_parsed_by_redis_py(r):
    r.set(_key_on(0), "a")
    r.set(_key_on(1), "b")
    r.expire(_key_on(1), 100)
    r.get(_key_on(0))
    info = r.info()
    assert info["redis_version"] == "7.2.0"
    assert info["connected_clients"] >= 1
    assert info["db0"] == {"keys": 2, "expires": 1, "avg_ttl": info["db0"]["avg_ttl"]}
    assert 0 < info["db0"]["avg_ttl"] <= 100_000
    assert info["used_memory"] > 0 and info["cluster_enabled"] == 1
    assert info["role"] == "master"
    assert info["tcp_port"] == r.connection_pool.connection_kwargs["port"]
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["calls"] >= 2
    assert stats["cmdstat_info"]["calls"] >= 1  # sent to both shards, counted once
    everything = r.info("everything")
    assert "cmdstat_get" in everything and "used_cpu_user" in everything
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("SET")
    assert r.info("errorstats")["errorstat_ERR"]["count"] >= 1


def test_info_asyncio_and_resp3(server):
    async def main():
        client = redis.asyncio.Redis(port=server.port, protocol=3)
        await client.flushall()
        await client.set("x", "1")
        info = await client.info("keyspace", "server")
        await client.aclose()
        return info

    info = asyncio.run(main())
    assert info["db0"]["keys"] == 1
    assert info["redis_mode"] == "cluster"
    with RawClient(server.port) as c:
        c.call("HELLO", "3")
        c.send_raw(encode(("INFO", "keyspace")))
        time.sleep(0.2)
        data = c.sock.recv(65536)
        assert data.startswith(b"=") and b"txt:# Keyspace\r\n" in data


def test_resp3_shapes_through_the_proxy(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        def ask(*args):
            s.sendall(encode(args))
            time.sleep(0.15)
            return s.recv(1 << 20)

        assert ask("HELLO", "3").startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")
        assert ask("CONFIG", "GET", "maxmemory") == b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
        info = ask("COMMAND", "INFO", "get")
        assert info.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")
        assert ask("CLIENT", "INFO").startswith(b"=")
        assert ask("COMMAND", "DOCS", "get").startswith(b"%1\r\n$3\r\nget\r\n%")


def test_config_set_reaches_proxy_and_every_shard(server, r):
    try:
        assert r.config_set("maxmemory-policy", "allkeys-lru") is True
        assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        for port in server.shard_ports:  # each shard answers for itself
            shard = redis.Redis(port=port)
            assert shard.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
            assert shard.info("memory")["maxmemory_policy"] == "allkeys-lru"
            shard.close()
        with pytest.raises(redis.ResponseError, match="possibly related to argument 'hz'"):
            r.execute_command("CONFIG", "SET", "maxmemory-policy", "noeviction", "hz", "x")
        assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        assert r.config_get("maxmemory_policy") == {"maxmemory_policy": "allkeys-lru"}
        assert r.config_get("save")["save"] == "" and r.config_get("appendonly") == {
            "appendonly": "no"}
    finally:
        r.config_set("maxmemory-policy", "noeviction")


def test_config_resetstat(r):
    r.set("a", "1")
    r.ping()
    assert r.info("commandstats")["cmdstat_set"]["calls"] >= 1
    assert r.config_resetstat() is True
    stats = r.info("commandstats")
    assert "cmdstat_set" not in stats and "cmdstat_ping" not in stats
    assert r.info("stats")["total_commands_processed"] <= 3


def test_config_rewrite_with_and_without_file(r):
    with pytest.raises(redis.ResponseError, match="running without a config file"):
        r.config_rewrite()
    conf_dir = tempfile.mkdtemp(prefix="damselfly-conf-")
    path = os.path.join(conf_dir, "d.yaml")
    with open(path, "w") as f:
        f.write("# my settings\nmaxmemory: 0   # no limit\nhz: 10\n")
    try:
        with DamselflyProcess(shards=2, config=path) as proc:
            client = redis.Redis(port=proc.port)
            client.config_set("maxmemory", "1mb")
            client.config_set("maxmemory-policy", "allkeys-lfu")
            assert client.info("server")["config_file"] == path
            assert client.config_rewrite() == b"OK"
            text = open(path).read()
            client.close()
        assert text.startswith("# my settings\n")
        assert "maxmemory: 1048576\n" in text and "hz: 10\n" in text
        assert "maxmemory_policy: allkeys-lfu\n" in text
    finally:
        os.remove(path)
        os.rmdir(conf_dir)


def test_client_list_and_kill(server, r):
    r.client_setname("killer")
    victim = RawClient(server.port)
    assert victim.call("CLIENT", "SETNAME", "victim") == b"OK"
    victim_id = victim.call("CLIENT", "ID")
    listed = {c["name"]: c for c in r.client_list()}
    assert {"killer", "victim"} <= set(listed)
    assert int(listed["victim"]["id"]) == victim_id
    assert r.client_info()["name"] == "killer"
    assert r.client_kill_filter(_id=victim_id) == 1
    with pytest.raises((ConnectionError, OSError)):
        victim.call("PING")
        victim.call("PING")
    victim.close()
    assert "victim" not in {c["name"] for c in r.client_list()}
    assert r.client_kill_filter(_id=victim_id) == 0


def test_info_and_hello_with_cluster_mode_off():
    with DamselflyProcess(shards=2, cluster_mode="off") as proc:
        client = redis.Redis(port=proc.port)
        info = client.info("cluster", "server")
        assert info["cluster_enabled"] == 0 and info["redis_mode"] == "standalone"
        hello = client.execute_command("HELLO", "2")
        assert dict(zip(hello[::2], hello[1::2]))[b"mode"] == b"standalone"
        client.close()


def test_requirepass():
    with DamselflyProcess(shards=2, requirepass="s3cret") as proc:
        with RawClient(proc.port) as c:
            assert c.call("GET", "k") == Err("NOAUTH Authentication required.")
            assert c.call("PING") == Err("NOAUTH Authentication required.")
            assert c.call("AUTH", "wrong") == Err(
                "WRONGPASS invalid username-password pair or user is disabled.")
            assert c.call("AUTH", "s3cret") == b"OK"
            assert c.call("SET", "k", "v") == b"OK"
            assert c.call("RESET") == b"RESET"
            assert c.call("GET", "k") == Err("NOAUTH Authentication required.")
            hello = c.call("HELLO", "3", "AUTH", "default", "s3cret")
            assert hello[b"proto"] == 3
            assert c.call("GET", "k") == b"v"
        with RawClient(proc.port) as c:
            assert str(c.call("HELLO", "3")).startswith("NOAUTH HELLO must be called")
        with RawClient(proc.shard_ports[0]) as c:  # a shard port asks for it too
            assert c.call("GET", "k") == Err("NOAUTH Authentication required.")
            assert c.call("AUTH", "s3cret") == b"OK"
        client = redis.Redis(port=proc.port, password="s3cret")
        assert client.get("k") == b"v"
        client.close()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=proc.port, password="nope").ping()


def test_debug_sleep_blocks_like_redis(server, r):
    other = redis.Redis(port=server.port)
    done = {}

    def sleeper():
        t0 = time.monotonic()
        done["reply"] = r.execute_command("DEBUG", "SLEEP", "0.5")
        done["took"] = time.monotonic() - t0

    thread = threading.Thread(target=sleeper)
    thread.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    other.set(_key_on(0), "x")
    other.set(_key_on(1), "y")
    blocked_for = time.monotonic() - t0
    thread.join(5)
    other.close()
    assert done["reply"] == b"OK" and done["took"] >= 0.45
    assert blocked_for >= 0.2  # the shards were busy sleeping
    with pytest.raises(redis.ResponseError, match="unknown subcommand 'NOPE'"):
        r.execute_command("DEBUG", "NOPE")


def test_swapdb_and_select_through_proxy(server):
    a, b = _key_on(0), _key_on(1)
    with RawClient(server.port) as c:
        c.call("FLUSHALL")
        c.call("SET", a, "in0")
        c.call("SELECT", "1")
        c.call("SET", b, "in1")
        assert c.call("SWAPDB", "0", "1") == b"OK"
        assert c.call("GET", a) == b"in0" and c.call("GET", b) is None
        c.call("SELECT", "0")
        assert c.call("GET", b) == b"in1" and c.call("DBSIZE") == 1
        c.call("FLUSHALL")


def test_redis_benchmark_fetches_config(server):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-n", "200", "-c", "2", "-t", "ping",
         "-q"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Could not fetch server CONFIG" not in out.stdout + out.stderr
    assert "PING" in out.stdout


def test_redis_cluster_client_starts_on_the_proxy(server):
    rc = redis.RedisCluster(host="127.0.0.1", port=server.port)
    try:
        assert rc.set("{user}:1", "a") is True
        assert rc.get("{user}:1") == b"a"
        parser = rc.commands_parser
        assert parser.commands["mset"]["step_count"] == 2
        assert parser.get_keys(rc, "MSET", "k1", "v1", "k2", "v2") == ["k1", "k2"]
        assert rc.mget("{user}:1", "{user}:2") == [b"a", None]
        rc.delete("{user}:1")
    finally:
        rc.close()


def test_info_on_a_shard_port_is_its_own(server):
    a, b = _key_on(0), _key_on(1)
    with RawClient(server.port) as c:
        c.call("FLUSHALL")
        c.call("SET", a, "1")
        c.call("SET", b, "2")
        c.call("SET", b + "x" if key_slot((b + "x").encode()) >= 8192 else b, "3")
    shard0 = redis.Redis(port=server.shard_ports[0])
    info = shard0.info()
    assert info["db0"]["keys"] == 1
    assert info["damselfly_role"] == "shard" and info["tcp_port"] == server.shard_ports[0]
    shard0.close()
    # COMMAND is answered from the same table on a shard port as on the proxy.
    with RawClient(server.port) as proxy, RawClient(server.shard_ports[0]) as shard:
        for args in (("COMMAND", "COUNT"), ("COMMAND", "INFO", "mset", "client"),
                     ("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2")):
            assert shard.call(*args) == proxy.call(*args)
        # The proxy's links are not clients of the shard: not listed, not killable.
        listed = shard.call("CLIENT", "LIST").splitlines()
        assert len(listed) == 1 and listed[0].startswith(b"id=%d " % shard.call("CLIENT", "ID"))
        assert shard.call("CLIENT", "KILL", "SKIPME", "yes") == 0
        assert proxy.call("PING") == b"PONG"


def test_config_set_requirepass_at_runtime(server):
    admin = RawClient(server.port)
    try:
        assert admin.call("CONFIG", "SET", "requirepass", "runtime-pw") == b"OK"
        with RawClient(server.port) as newcomer:
            assert newcomer.call("GET", "k") == Err("NOAUTH Authentication required.")
            assert newcomer.call("AUTH", "runtime-pw") == b"OK"
            assert newcomer.call("GET", "k") is None
        with RawClient(server.shard_ports[1]) as direct:
            assert direct.call("PING") == Err("NOAUTH Authentication required.")
        assert admin.call("PING") == b"PONG"  # connections already in stay in
    finally:
        assert admin.call("CONFIG", "SET", "requirepass", "") == b"OK"
        admin.close()
    with RawClient(server.port) as c:
        assert c.call("PING") == b"PONG"


def test_asyncio_client_config_and_clients_resp3(server):
    async def main():
        admin = redis.asyncio.Redis(port=server.port, protocol=3, client_name="async-admin")
        other = redis.asyncio.Redis(port=server.port, protocol=2, client_name="async-other")
        try:
            assert await other.ping() is True
            assert await admin.config_set("hz", "20") is True
            assert await admin.config_get("hz") == {"hz": "20"}
            names = {c["name"]: c for c in await admin.client_list()}
            assert {"async-admin", "async-other"} <= set(names)
            assert names["async-admin"]["resp"] == "3" and names["async-other"]["resp"] == "2"
            killed = await admin.client_kill_filter(_id=int(names["async-other"]["id"]))
            assert killed == 1
            names = {c["name"] for c in await admin.client_list()}
            assert "async-other" not in names
            info = await admin.info("server")
            assert info["hz"] == 20
        finally:
            await admin.config_set("hz", "10")
            await admin.aclose()
            await other.aclose()

    asyncio.run(main())


def test_config_set_reaches_every_proxy_worker():
    """CONFIG SET through one worker: the other follows within seconds."""
    with DamselflyProcess(shards=2, proxy_workers=2) as proc:
        by_worker = {}
        opened = []
        for _ in range(40):  # SO_REUSEPORT spreads connections over workers
            c = RawClient(proc.port)
            opened.append(c)
            by_worker.setdefault(c.call("CLIENT", "ID") >> 40, c)
            if len(by_worker) == 2:
                break
        try:
            assert len(by_worker) == 2, "every connection landed on one worker"
            first, second = by_worker[0], by_worker[1]
            assert first.call("CONFIG", "SET", "maxmemory-policy", "volatile-ttl") == b"OK"
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                got = second.call("CONFIG", "GET", "maxmemory-policy")
                if got == [b"maxmemory-policy", b"volatile-ttl"]:
                    break
                time.sleep(0.1)
            assert got == [b"maxmemory-policy", b"volatile-ttl"]
            assert first.call("CONFIG", "GET", "maxmemory-policy")[1] == b"volatile-ttl"
        finally:
            for c in opened:
                c.close()
