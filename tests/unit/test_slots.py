"""Hash slots: key_slot must agree with Redis Cluster for every key, and the
slot ranges must cover 0..16383 exactly once whatever the shard count."""

from __future__ import annotations

import random

import pytest

from cluster.config import Config
from cluster.slots import SLOT_COUNT, SlotMap, key_slot, split_slots
from cluster.topology import Topology
from tests.helpers import RawClient, RedisProcess
from tests.reference import reference_binary

# Slots as a real redis-server 7.0 (cluster-enabled) answers CLUSTER KEYSLOT.
KNOWN = {
    b"foo": 12182,
    b"bar": 5061,
    b"key:1": 6657,
    b"{user1000}.following": 3443,
    b"{user1000}.followers": 3443,
    b"": 0,
    b"\x00\xff": 7920,
    # "{}" has an empty tag: the whole key is hashed.
    b"{}": 15257,
    b"{}x": 10595,
    b"a{}{b}": 15033,
    # The first "{" and the first "}" after it decide.
    b"a{b}{c}": 3300,
    b"{{a}}": 10276,  # the tag is "{a"
    b"{a": 10276,
    b"}{a}": 15495,
    b"{a}b{": 15495,
    b"a{b": 13340,
    b"a}": 5921,
    b"{": 4092,
    b"}": 12090,
    b"x" * 100: 2134,
}


@pytest.mark.parametrize("key,slot", sorted(KNOWN.items()), ids=repr)
def test_key_slot_matches_redis(key, slot):
    assert key_slot(key) == slot


def test_keys_with_the_same_tag_share_a_slot():
    rng = random.Random(3)
    for _ in range(200):
        tag = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 8))).replace(b"}", b"")
        if not tag:
            continue
        a = b"pre" + b"{" + tag + b"}" + b"suffix-a"
        b = b"{" + tag + b"}" + bytes(rng.randrange(256) for _ in range(5))
        assert key_slot(a) == key_slot(b) == key_slot(tag)


def test_key_slot_matches_cluster_keyslot_for_random_keys():
    """A cluster-enabled redis-server is the judge for 2,000 random keys."""
    reference_binary()
    ref = RedisProcess("--cluster-enabled", "yes").start()
    try:
        rng = random.Random(11)
        alphabet = b"ab{}xyz:\x00\xff"
        keys = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
                for _ in range(2000)]
        with RawClient(ref.port) as client:
            slots = client.pipeline([("CLUSTER", "KEYSLOT", k) for k in keys])
        assert [key_slot(k) for k in keys] == slots
    finally:
        ref.stop()


@pytest.mark.parametrize("shards", [1, 2, 3, 7, 8, 64, 1000, 16384])
def test_split_slots_covers_every_slot_once(shards):
    ranges = split_slots(shards)
    assert len(ranges) == shards
    assert ranges[0][0] == 0 and ranges[-1][1] == SLOT_COUNT - 1
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert start == end + 1
    sizes = [end - start + 1 for start, end in ranges]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    owner = SlotMap(ranges).owner
    assert len(owner) == SLOT_COUNT
    for shard, (start, end) in enumerate(ranges):
        assert owner[start] == owner[end] == shard


def test_split_slots_refuses_impossible_counts():
    for bad in (0, -1, SLOT_COUNT + 1):
        with pytest.raises(ValueError):
            split_slots(bad)


def test_two_shards_split_at_8192():
    slot_map = SlotMap(split_slots(2))
    assert slot_map.ranges == [(0, 8191), (8192, 16383)]
    assert slot_map.shard_of_key(b"bar") == 0  # 5061
    assert slot_map.shard_of_key(b"foo") == 1  # 12182
    assert slot_map.shard_of_slot(8191) == 0 and slot_map.shard_of_slot(8192) == 1
    assert len(slot_map) == 2


def test_topology_from_config():
    topo = Topology(Config({"port": 7000, "proactor_threads": 3, "bind": "0.0.0.0"}))
    assert [s.port for s in topo.shards] == [7001, 7002, 7003]
    assert [s.slots for s in topo.shards] == split_slots(3)
    assert all(s.host == "127.0.0.1" for s in topo.shards)
    ids = {s.node_id for s in topo.shards} | {topo.proxy_node_id}
    assert len(ids) == 4 and all(len(i) == 40 for i in ids)
    # Node ids are stable across restarts (same configuration, same ids).
    again = Topology(Config({"port": 7000, "proactor_threads": 3, "bind": "0.0.0.0"}))
    assert [s.node_id for s in again.shards] == [s.node_id for s in topo.shards]
    explicit = Topology(Config({"port": 7000, "proactor_threads": 2, "shard_port": 9000}))
    assert [s.port for s in explicit.shards] == [9000, 9001]


# -- every copy of the slot function agrees with key_slot ------------------------

def _tricky_keys() -> list:
    """Keys around hash tags: empty tags, "{" without "}", several tags, bytes."""
    rng = random.Random(29)
    alphabet = b"ab{}:\x00\xff"
    keys = list(KNOWN) + [bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 10)))
                          for _ in range(3000)]
    keys += [b"user:%d" % i for i in range(500)]  # the common case: no tag at all
    return keys


class _RecordingLinks:
    """Stands for a worker's links: remembers which index each request went to."""

    def __init__(self):
        self.sent = []

    def __getitem__(self, index):
        sent = self.sent

        class Link:
            def send(self, ctx, payload, slot):
                sent.append(index)

        return Link()


def _routing_client():
    """A ProxyClient whose worker maps slot s to "shard" s, so routing shows the slot."""
    from types import SimpleNamespace

    from proxy.client import KEYED_FAST, ProxyClient

    worker = SimpleNamespace(
        config=Config(), slot_owner=list(range(SLOT_COUNT)), links=_RecordingLinks(),
        stat_commands=0, clients={})
    client = ProxyClient(worker)
    client.fast, client.ctx, client.authenticated = KEYED_FAST, None, True
    client.reply_mode, client.closing, client.last_command = 0, False, "NULL"
    client.budget = 1 << 30  # routing only: flow control is tests/e2e/test_fairness.py's
    return client, worker.links.sent


def test_shard_db_slot_function_is_key_slot():
    from shardnode.db import slot_of

    assert slot_of is key_slot


def test_proxy_fast_path_routes_by_key_slot():
    client, sent = _routing_client()
    keys = _tricky_keys()
    client.process([[b"GET", k] for k in keys], 0)
    assert sent == [key_slot(k) for k in keys]


def test_proxy_dispatch_routes_by_key_slot():
    client, sent = _routing_client()
    client.fast = {}  # a connection outside the plain state: every command is dispatched
    keys = _tricky_keys()
    client.process([[b"get", k] for k in keys], 0)
    assert sent == [key_slot(k) for k in keys]
