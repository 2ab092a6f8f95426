"""Scripts on a shard port in ``sharded`` mode follow Redis Cluster's rules,
compared with a real redis-server in cluster mode that serves the same slots
as damselfly's shard 0 (0..8191): MOVED/CROSSSLOT for declared keys,
"non local" keys, the one-slot rule for shebang scripts and
``allow-cross-slot-keys``, ``no-cluster``."""

import time

import pytest

from tests.conftest import Differential
from tests.helpers import DamselflyProcess, RawClient, RedisProcess, names_on_shard
from tests.reference import missing_reference

A0, A1 = names_on_shard(0, 2, "a")  # shard 0, two different slots
B0 = names_on_shard(1, 1, "b")[0]  # shard 1


@pytest.fixture(scope="module")
def pair():
    if not RedisProcess.available():
        missing_reference("no redis-server binary")
    ref = RedisProcess("--cluster-enabled", "yes", "--cluster-require-full-coverage", "no").start()
    ours = DamselflyProcess(shards=2, cluster_mode="sharded").start()
    try:
        with RawClient(ref.port, ref.host) as admin:
            admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "8191")
            for _ in range(100):
                if admin.call("CLUSTER", "INFO").find(b"cluster_state:ok") >= 0:
                    break
                time.sleep(0.05)
        yield Differential(RawClient(ref.port, ref.host), RawClient(ours.shard_ports[0]))
    finally:
        ours.stop()
        ref.stop()


CASES = [
    ("return redis.call('get', ARGV[1])", [A0], [B0]),
    ("return redis.call('get', ARGV[1])", [A0], [A1]),
    ("#!lua\nreturn redis.call('get', ARGV[1])", [A0], [A1]),
    ("#!lua flags=allow-cross-slot-keys\nreturn redis.call('get', ARGV[1])", [A0], [A1]),
    ("#!lua\nreturn {redis.call('get', ARGV[1]), redis.call('get', ARGV[2])}", [], [A0, A1]),
    ("return {redis.call('get', ARGV[1]), redis.call('get', ARGV[2])}", [], [A0, A1]),
    ("#!lua flags=no-cluster\nreturn 1", [], []),
    ("return 1", [A0, A1], []),
    ("return redis.call('set', KEYS[1], 'v')", [A0], []),
]


@pytest.mark.parametrize("script,keys,argv", CASES)
def test_cluster_rules_for_scripts(pair, script, keys, argv):
    pair.run("EVAL", script, str(len(keys)), *keys, *argv)


def test_moved_for_a_declared_key_of_another_shard(pair):
    expected, actual = pair.both("EVAL", "return 1", "1", B0)
    assert expected.startswith("MOVED ") or expected.startswith("CLUSTERDOWN ")
    assert actual.startswith("MOVED ")  # damselfly's shard 1 serves it


def test_a_shard_port_outside_sharded_mode_refuses_other_shards_keys_clearly(server):
    """In ``emulated`` (and ``off``) mode a shard port is the proxy's back end,
    not a node clients are sent to: a script there runs on that shard's keys,
    and one reaching further gets an error that points at the proxy port."""
    with RawClient(server.shard_ports[0]) as shard, RawClient(server.port) as proxy:
        proxy.call("FLUSHALL")
        proxy.call("SET", A0, "mine")
        proxy.call("SET", B0, "theirs")
        assert shard.call("EVAL", "return redis.call('get', KEYS[1])", "1", A0) == b"mine"
        reply = shard.call("EVAL", "return redis.call('get', ARGV[1])", "0", B0)
        assert reply.startswith("ERR damselfly: the script touched key '%s', which lives on "
                                "another shard; a shard port runs scripts on its own keys "
                                "only (outside sharded mode): send it to the proxy port" % B0)
        reply = shard.call("EVAL", "return redis.call('dbsize')", "0")
        assert reply.startswith("ERR damselfly: the script ran 'dbsize', which needs every shard")
        # the same scripts through the proxy port
        assert proxy.call("EVAL", "return redis.call('get', ARGV[1])", "0", B0) == b"theirs"
        assert proxy.call("EVAL", "return redis.call('dbsize')", "0") == 2
