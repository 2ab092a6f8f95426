"""Transactions sent straight to a shard in ``cluster_mode: sharded`` follow
Redis Cluster, compared reply by reply with a real 2-master Redis 7 cluster
(the fixtures of tests/e2e/test_cluster_replies.py): shard ``i`` must answer
as the real master of the same slot range.

What Redis Cluster does, and these tests pin:

- a command whose key another node owns is refused at once with ``MOVED``
  (not queued) and the transaction is flagged: EXEC answers ``EXECABORT``;
- a single command whose keys span slots is refused with ``CROSSSLOT`` and
  flags the transaction the same way;
- commands each in one slot, but in different slots of this node, are all
  QUEUED; EXEC itself answers ``CROSSSLOT`` and ends the transaction, even
  when a queue-time error had flagged it;
- WATCH obeys the same key rules; the keys watched need not share the slot
  of the transaction's keys.

Through the proxy, a transaction may span shards as on a single Redis.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.e2e.test_cluster_replies import RealCluster, real_sharded  # noqa: F401 (a fixture)
from tests.helpers import (AGAINST_REDIS, DamselflyProcess, Err, RawClient, RedisProcess,
                           names_on_shard)

# Shard / master 0 owns slots 0-8191, shard / master 1 owns 8192-16383.
K0, K0B = names_on_shard(0, 2, "k")  # two keys, two slots, both on node 0
K1 = names_on_shard(1, 1, "k")[0]  # node 1's
T0A, T0B = "{b}1", "{b}2"  # slot 3300: node 0
T1A, T1B = "{a}1", "{a}2"  # slot 15495: node 1

OK, QUEUED = b"OK", b"QUEUED"
EXECABORT = Err("EXECABORT Transaction discarded because of previous errors.")
CROSSSLOT = Err("CROSSSLOT Keys in request don't hash to the same slot")


@pytest.fixture(scope="module")
def sharded():
    """A sharded damselfly; with ``DAMSELFLY_TESTS_AGAINST=redis`` a second real
    cluster stands in for its shards and a plain redis-server for its proxy."""
    if AGAINST_REDIS:
        cluster = RealCluster([(0, 8191), (8192, 16383)]).start()
        plain = RedisProcess().start()
        yield SimpleNamespace(shard_ports=cluster.ports, port=plain.port)
        plain.stop()
        cluster.stop()
    else:
        with DamselflyProcess(shards=2, cluster_mode="sharded", bind="0.0.0.0") as proc:
            yield proc


class Node:
    """One side's node: its connection(s), and MOVED targets told by role."""

    def __init__(self, port, roles):
        self.port = port
        self.roles = roles  # port -> "n0" / "n1"
        self.client = RawClient(port)
        self.peer = RawClient(port)

    def normal(self, reply):
        if isinstance(reply, Err) and reply.startswith(("MOVED ", "ASK ")):
            head, _, port = reply.rpartition(":")
            return Err("%s:%s" % (head, self.roles[int(port)]))
        if isinstance(reply, list):
            return [self.normal(r) for r in reply]
        return reply

    def close(self):
        self.client.close()
        self.peer.close()


class Pair:
    """Shard ``i`` of damselfly and master ``i`` of the real cluster."""

    def __init__(self, mine: Node, theirs: Node):
        self.mine, self.theirs = mine, theirs

    def run(self, *cmd, peer=False):
        a = self.mine.normal((self.mine.peer if peer else self.mine.client).call(*cmd))
        b = self.theirs.normal((self.theirs.peer if peer else self.theirs.client).call(*cmd))
        assert a == b, "%r: redis %r, damselfly %r" % (cmd, b, a)
        return a

    def other(self, *cmd):
        """From a second connection to the same node."""
        return self.run(*cmd, peer=True)


@pytest.fixture(params=[0, 1], ids=["node0", "node1"])
def node(request, sharded, real_sharded):  # noqa: F811
    index = request.param
    mine = Node(sharded.shard_ports[index], dict(zip(sharded.shard_ports, ("n0", "n1"))))
    theirs = Node(real_sharded.ports[index], dict(zip(real_sharded.ports, ("n0", "n1"))))
    for side in (mine, theirs):
        side.client.call("FLUSHALL")
    pair = Pair(mine, theirs)
    pair.index = index
    yield pair
    mine.close()
    theirs.close()


def _keys(node):
    """(two keys of one slot here, two keys of two slots here, a key elsewhere)."""
    if node.index == 0:
        return (T0A, T0B), (K0, K0B), K1
    return (T1A, T1B), tuple(names_on_shard(1, 3, "k")[1:]), K0


def test_one_slot_transaction_runs(node):
    (a, b), _, _ = _keys(node)
    assert node.run("MULTI") == OK
    for cmd in [("SET", a, "1"), ("INCR", a), ("MSET", a, "x", b, "y"), ("MGET", a, b),
                ("RENAME", a, b), ("COPY", b, a), ("MSETNX", a, "1", b, "2"), ("EXISTS", a, b),
                ("DEL", a, b), ("PING",), ("DBSIZE",)]:
        assert node.run(*cmd) == QUEUED
    assert node.run("EXEC") == [OK, 2, OK, [b"x", b"y"], OK, 1, 0, 2, 2, b"PONG", 0]


def test_key_of_another_node_is_moved_and_aborts_exec(node):
    (a, _), _, elsewhere = _keys(node)
    assert node.run("MULTI") == OK
    assert node.run("SET", a, "1") == QUEUED
    moved = node.run("SET", elsewhere, "1")
    assert moved.startswith("MOVED ") and moved.endswith(":n%d" % (1 - node.index))
    assert node.run("GET", elsewhere) == moved
    assert node.run("PING") == QUEUED
    assert node.run("EXEC") == EXECABORT
    assert node.run("EXEC") == Err("ERR EXEC without MULTI")
    assert node.run("GET", a) is None


def test_asking_does_not_let_a_moved_key_in(node):
    _, _, elsewhere = _keys(node)
    assert node.run("MULTI") == OK
    assert node.run("ASKING") == QUEUED
    assert node.run("GET", elsewhere).startswith("MOVED ")
    assert node.run("EXEC") == EXECABORT


def test_one_command_across_slots_is_crossslot_and_aborts_exec(node):
    (a, _), (s1, s2), elsewhere = _keys(node)
    assert node.run("MULTI") == OK
    for cmd in [("MGET", s1, s2), ("MSET", s1, "1", s2, "2"), ("DEL", s1, s2), ("EXISTS", s1, a),
                ("RENAME", s1, s2), ("COPY", s1, s2), ("MSETNX", s1, "1", s2, "2"),
                ("MGET", a, elsewhere)]:
        assert node.run(*cmd) == CROSSSLOT, cmd
    assert node.run("SET", a, "1") == QUEUED
    assert node.run("EXEC") == EXECABORT
    assert node.run("GET", a) is None


def test_commands_in_different_slots_are_queued_then_exec_is_crossslot(node):
    (a, _), (s1, s2), _ = _keys(node)
    assert node.run("MULTI") == OK
    assert node.run("SET", s1, "1") == QUEUED
    assert node.run("PING") == QUEUED
    assert node.run("SET", s2, "1") == QUEUED
    assert node.run("EXEC") == CROSSSLOT
    assert node.run("EXEC") == Err("ERR EXEC without MULTI")  # EXEC ended it
    assert node.run("MGET", s1) == [None]
    assert node.run("GET", s2) is None
    # CROSSSLOT comes before EXECABORT when both apply.
    assert node.run("MULTI") == OK
    assert node.run("SET", s1, "1") == QUEUED
    assert node.run("SET", a, "1") == QUEUED
    assert isinstance(node.run("NOSUCH"), Err)
    assert node.run("EXEC") == CROSSSLOT
    # DISCARD needs no slot check.
    assert node.run("MULTI") == OK
    assert node.run("SET", s1, "1") == QUEUED
    assert node.run("SET", s2, "1") == QUEUED
    assert node.run("DISCARD") == OK


def test_keyless_and_connection_commands_inside_multi(node):
    (a, _), _, _ = _keys(node)
    assert node.run("MULTI") == OK
    for cmd in [("SET", a, "1"), ("KEYS", "*"), ("DBSIZE",), ("SELECT", "1"), ("SELECT", "0"),
                ("READONLY",), ("READWRITE",), ("ECHO", "e"), ("FLUSHALL",), ("DBSIZE",)]:
        assert node.run(*cmd) == QUEUED
    assert node.run("EXEC") == [OK, [a.encode()], 1,
                                Err("ERR SELECT is not allowed in cluster mode"),
                                OK, OK, OK, b"e", OK, 0]


def test_watch_follows_the_key_rules(node):
    (a, b), (s1, s2), elsewhere = _keys(node)
    assert node.run("WATCH", elsewhere).startswith("MOVED ")
    assert node.run("WATCH", s1, s2) == CROSSSLOT
    assert node.run("WATCH", a, b) == OK
    # A watched slot need not be the transaction's slot.
    assert node.run("MULTI") == OK
    assert node.run("SET", s1, "x") == QUEUED
    assert node.run("EXEC") == [OK]
    assert node.run("WATCH", a) == OK
    assert node.other("SET", a, "changed") == OK
    assert node.run("MULTI") == OK
    assert node.run("GET", a) == QUEUED
    assert node.run("EXEC") is None
    assert node.run("WATCH", s1) == OK
    assert node.run("WATCH", s2) == OK  # a second WATCH in another slot is fine
    assert node.other("DEL", s1) == 1
    assert node.run("MULTI") == OK
    assert node.run("GET", s2) == QUEUED
    assert node.run("EXEC") is None


def test_through_the_proxy_a_transaction_spans_shards(sharded, redis_ref):  # noqa: F811
    a, b = names_on_shard(0, 1, "p")[0], names_on_shard(1, 1, "p")[0]
    commands = [("FLUSHALL",), ("MULTI",), ("SET", a, "1"), ("SET", b, "2"), ("MGET", a, b),
                ("RENAME", a, "{b}moved"), ("EXEC",), ("MGET", a, b, "{b}moved")]
    with RawClient(sharded.port) as mine, RawClient(redis_ref.port) as plain:
        expected = [OK, OK, QUEUED, QUEUED, QUEUED, QUEUED,
                    [OK, OK, [b"1", b"2"], OK], [None, b"2", b"1"]]
        assert plain.pipeline(commands) == expected
        assert mine.pipeline(commands) == expected


def test_through_the_proxy_slots_of_one_shard_mix_freely(sharded, redis_ref):  # noqa: F811
    """The proxy is a single Redis to its clients: a transaction part whose
    keys share a shard but not a slot runs there without CROSSSLOT, and so do
    multi-key commands across those slots."""
    a, c = names_on_shard(0, 2, "q")
    b = names_on_shard(1, 1, "q")[0]
    commands = [("FLUSHALL",), ("MULTI",), ("MSET", a, "1", c, "3"), ("MGET", a, c, b),
                ("RENAME", a, "x" + c), ("EXEC",), ("MGET", a, c, "x" + c),
                ("MSET", a, "5", c, "6", b, "7"), ("MGET", c, a, b)]
    with RawClient(sharded.port) as mine, RawClient(redis_ref.port) as plain:
        expected = plain.pipeline(commands)
        assert expected[5] == [OK, [b"1", b"3", None], OK]
        assert mine.pipeline(commands) == expected
