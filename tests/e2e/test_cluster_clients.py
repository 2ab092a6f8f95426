"""Cluster-aware clients against damselfly, end to end (issue 3).

- ``emulated`` (the default): the proxy is a one-node cluster; redis-py's
  ``RedisCluster`` (sync and asyncio) works through the proxy port alone.
- ``sharded``: clients read the topology and talk straight to the shards;
  a shard answers MOVED for keys it does not own, CROSSSLOT for multi-key
  commands over several slots; redis-cli -c, redis-benchmark --cluster and
  ioredis work.
- Plain clients on the proxy port are unchanged in every mode.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
import redis
import redis.asyncio.cluster
from redis._parsers import CommandsParser
from redis._parsers.commands import RequestPolicy, ResponsePolicy
from redis.cluster import RedisCluster
from redis.commands.policies import DynamicPolicyResolver

from tests.helpers import DamselflyProcess, RawClient, run_node_script

KEYS = 3000


@pytest.fixture(scope="module")
def sharded():
    with DamselflyProcess(shards=2, cluster_mode="sharded") as proc:
        yield proc


@pytest.fixture(scope="module", params=["emulated", "sharded"])
def any_cluster(request, server, sharded):
    """A running damselfly of each cluster mode (emulated: the session server)."""
    proc = server if request.param == "emulated" else sharded
    with RawClient(proc.port) as c:
        c.call("FLUSHALL")
    return request.param, proc


def _spread_keys(n=KEYS):
    return ["user:%d" % i for i in range(n)]


def test_redis_py_cluster_reads_and_writes_over_all_slots(any_cluster):
    mode, proc = any_cluster
    rc = RedisCluster(host="127.0.0.1", port=proc.port)
    try:
        nodes = sorted(n.port for n in rc.get_primaries())
        expected = [proc.port] if mode == "emulated" else proc.shard_ports
        assert nodes == expected
        keys = _spread_keys()
        for k in keys:
            rc.set(k, k[::-1])
        assert [rc.get(k) for k in keys] == [k[::-1].encode() for k in keys]
        slots = {rc.keyslot(k) for k in keys}
        assert len(slots) > 2500  # the keys really spread over the slots
        # Hash-tagged multi-key commands stay on one slot.
        rc.mset({"{acct:7}:a": "1", "{acct:7}:b": "2", "{acct:7}:c": "3"})
        assert rc.mget("{acct:7}:a", "{acct:7}:b", "{acct:7}:c") == [b"1", b"2", b"3"]
        # A cluster pipeline groups commands by node.
        pipe = rc.pipeline()
        for k in keys[:200]:
            pipe.set("n:" + k, k)
        for k in keys[:200]:
            pipe.get("n:" + k)
        assert pipe.execute() == [True] * 200 + [k.encode() for k in keys[:200]]
        per_node = [rc.get_redis_connection(n).dbsize() for n in rc.get_primaries()]
        assert sum(per_node) == KEYS + 3 + 200
        assert all(per_node)
        # DBSIZE over every primary, summed: each key counted once (no node
        # but the shards).  A bare dbsize() asks redis-py's default node only.
        assert rc.dbsize(target_nodes=RedisCluster.PRIMARIES) == KEYS + 3 + 200
        # COMMAND's tips give redis-py the same policy: every shard, summed.
        policy = DynamicPolicyResolver(CommandsParser(rc)).resolve("dbsize")
        assert (policy.request_policy, policy.response_policy) == (
            RequestPolicy.ALL_SHARDS, ResponsePolicy.AGG_SUM)
    finally:
        rc.close()
    # Every key is where the topology says: on its shard (sharded) or behind the proxy.
    with RawClient(proc.port) as c:
        assert c.call("DBSIZE") == KEYS + 3 + 200


def test_redis_py_cluster_recovers_from_a_stale_topology(sharded):
    """A client whose slot table points at the wrong shard follows MOVED."""
    rc = RedisCluster(host="127.0.0.1", port=sharded.port)
    try:
        rc.set("stale-check", "1")
        manager = rc.nodes_manager
        first = manager.get_node(host="127.0.0.1", port=sharded.shard_ports[0])
        for slot in list(manager.slots_cache):
            manager.slots_cache[slot] = [first]  # everything "on shard 0"
        keys = ["stale:%d" % i for i in range(300)]
        for k in keys:
            rc.set(k, k)
        assert [rc.get(k) for k in keys] == [k.encode() for k in keys]
        # The client learnt the real layout again.
        owners = {manager.slots_cache[rc.keyslot(k)][0].port for k in keys}
        assert owners == set(sharded.shard_ports)
    finally:
        rc.close()


def test_asyncio_redis_cluster(any_cluster):
    mode, proc = any_cluster

    async def scenario():
        rc = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=proc.port)
        try:
            await rc.initialize()
            keys = _spread_keys(2000)
            values = []
            for i in range(0, len(keys), 25):  # 25 in flight: within the pool
                batch = keys[i:i + 25]
                await asyncio.gather(*(rc.set(k, "v" + k) for k in batch))
                values += await asyncio.gather(*(rc.get(k) for k in batch))
            assert values == [("v" + k).encode() for k in keys]
            await rc.mset({"{t}1": "a", "{t}2": "b"})
            assert await rc.mget("{t}1", "{t}2") == [b"a", b"b"]
            async with rc.pipeline() as pipe:
                for k in keys[:100]:
                    pipe.exists(k)
                assert await pipe.execute() == [1] * 100
            return sorted(n.port for n in rc.get_primaries())
        finally:
            await rc.aclose()

    ports = asyncio.run(scenario())
    assert ports == ([proc.port] if mode == "emulated" else proc.shard_ports)


def test_shard_answers_moved_and_crossslot(sharded):
    """A shard port behaves like a Redis Cluster master of its range."""
    first, second = sharded.shard_ports
    rc = redis.Redis(port=first)  # plain client, straight to shard 0
    slot_foo = 12182  # CLUSTER KEYSLOT foo; owned by shard 1 (8192-16383)
    with pytest.raises(redis.exceptions.MovedError) as moved:
        rc.get("foo")
    assert (moved.value.slot_id, moved.value.node_addr) == (slot_foo, ("127.0.0.1", second))
    with RawClient(first) as c:
        assert c.call("CLUSTER", "KEYSLOT", "foo") == slot_foo
        assert c.call("SET", "foo", "x") == "MOVED 12182 127.0.0.1:%d" % second
        assert c.call("MGET", "a", "b") == "CROSSSLOT Keys in request don't hash to the same slot"
        assert c.call("MSET", "{b}1", "x", "{b}2", "y") == b"OK"  # slot 3300: shard 0
        assert c.call("MGET", "{b}1", "{b}2") == [b"x", b"y"]
        # ASKING / READONLY / READWRITE answer +OK and change nothing here.
        assert c.pipeline([("ASKING",), ("GET", "foo")]) == [
            b"OK", "MOVED 12182 127.0.0.1:%d" % second]
        assert c.call("READONLY") == b"OK" and c.call("READWRITE") == b"OK"
    with RawClient(second) as c:
        assert c.call("SET", "foo", "y") == b"OK"
        assert c.call("CLUSTER", "COUNTKEYSINSLOT", slot_foo) == 1
        assert c.call("CLUSTER", "GETKEYSINSLOT", slot_foo, 10) == [b"foo"]
    rc.close()


def test_proxy_never_moves_and_spans_shards(any_cluster):
    """Through the proxy port, plain clients see a single Redis in every mode."""
    mode, proc = any_cluster
    r = redis.Redis(port=proc.port)
    try:
        keys = ["p:%d" % i for i in range(200)]
        r.mset({k: k for k in keys})  # spans both shards
        assert r.mget(keys) == [k.encode() for k in keys]
        assert r.delete(*keys) == 200
        assert r.execute_command("CLUSTER", "COUNTKEYSINSLOT", 12182) == 0
        r.set("foo", "bar")
        assert r.execute_command("CLUSTER", "COUNTKEYSINSLOT", 12182) == 1
        assert r.execute_command("CLUSTER", "GETKEYSINSLOT", 12182, 5) == [b"foo"]
    finally:
        r.close()


@pytest.fixture(scope="module")
def cluster_off():
    with DamselflyProcess(shards=2, cluster_mode="off") as proc:
        yield proc


@pytest.fixture(params=["off", "emulated", "sharded"])
def every_mode(request, server, sharded, cluster_off):
    proc = {"off": cluster_off, "emulated": server, "sharded": sharded}[request.param]
    with RawClient(proc.port) as c:
        c.call("FLUSHALL")
    return request.param, proc


def test_plain_clients_on_the_proxy_in_every_mode(every_mode):
    import asyncio_redis

    mode, proc = every_mode
    r = redis.Redis(port=proc.port)
    try:
        keys = ["plain:%d" % i for i in range(100)]
        assert r.mset({k: k for k in keys})  # spans both shards
        assert r.mget(keys) == [k.encode() for k in keys]
        assert r.dbsize() == 100
        if mode == "off":
            with pytest.raises(redis.ResponseError, match="cluster support disabled"):
                r.execute_command("CLUSTER", "SLOTS")
    finally:
        r.close()

    async def scenario():
        conn = await asyncio_redis.Connection.create(host="127.0.0.1", port=proc.port)
        try:
            await conn.set("ar:a", "1")
            await conn.set("ar:zz", "2")
            return [await conn.get("ar:a"), await conn.get("ar:zz")]
        finally:
            conn.close()

    assert asyncio.run(scenario()) == ["1", "2"]


def test_redis_cli_follows_moved(sharded):
    cli = shutil.which("redis-cli")
    first, second = sharded.shard_ports

    def run(*args):
        out = subprocess.run([cli, "-c", "-p", str(first), *args], capture_output=True,
                             text=True, timeout=20)
        return out.stdout.strip()

    assert run("SET", "foo", "via-cli") == "OK"  # slot 12182: redirected to shard 1
    assert run("GET", "foo") == "via-cli"
    with RawClient(second) as c:
        assert c.call("GET", "foo") == b"via-cli"
    # Without -c, the redirection is shown as it is.
    plain = subprocess.run([cli, "-p", str(first), "GET", "foo"], capture_output=True,
                           text=True, timeout=20).stdout.strip()
    assert plain == "MOVED 12182 127.0.0.1:%d" % second  # (no tty: no "(error)")


def test_redis_cli_cluster_info_counts_each_key_once(sharded):
    """redis-cli --cluster info asks DBSIZE of every master it is told of:
    only the shards, so the total is the keyspace's size, not more."""
    with RawClient(sharded.port) as c:
        c.call("FLUSHALL")
        assert c.call("MSET", *[x for i in range(300) for x in ("info:%d" % i, "v")]) == b"OK"
    for seed in sharded.shard_ports:
        out = subprocess.run(["redis-cli", "--cluster", "info", "127.0.0.1:%d" % seed],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "[OK] 300 keys in 2 masters." in out.stdout
        lines = [line for line in out.stdout.splitlines() if " keys | " in line]
        assert sorted(int(line.split(":")[1].split()[0]) for line in lines) == \
            sorted(sharded.shard_ports)
        assert all("8192 slots" in line for line in lines)


@pytest.mark.parametrize("entry", ["proxy", "shard"])
def test_redis_benchmark_cluster_mode(sharded, entry):
    """redis-benchmark --cluster reads CLUSTER NODES and drives both shards."""
    port = sharded.port if entry == "proxy" else sharded.shard_ports[0]
    with RawClient(sharded.port) as c:
        c.call("FLUSHALL")
    out = subprocess.run(
        ["redis-benchmark", "--cluster", "-p", str(port), "-t", "set", "-n", "4000",
         "-c", "8", "-r", "10000", "-q"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Cluster has 2 master nodes" in out.stdout
    assert "SET: " in out.stdout and "requests per second" in out.stdout
    counts = []
    for p in sharded.shard_ports:
        with RawClient(p) as c:
            counts.append(c.call("DBSIZE"))
    assert all(n > 0 for n in counts), counts  # keys landed on both shards directly


def test_ioredis_cluster(sharded):
    with RawClient(sharded.port) as c:
        c.call("FLUSHALL")
    result = run_node_script("cluster_test.js", sharded.port)
    assert "error" not in result, result["error"]
    assert result["masters"] == sorted(sharded.shard_ports)
    assert result["read_ok"] is True
    assert result["mget"] == ["1", "2", "3"]
    assert result["pipeline_last"] == 50
    assert result["dbsize_sum"] == 2000 + 3 + 1
    assert result["moved"] == "MOVED %d %s" % (result["slot"], result["owner"])
