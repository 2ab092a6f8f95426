"""Pipelined requests through the proxy's hot path keep Redis's order and replies.

The proxy forwards plain single-key commands on a fast path, sends each
event-loop turn's requests to a shard in one write and each client's replies
in one write; these tests drive those paths with deep pipelines from several
connections at once, mixed with commands that take the generic path (local,
split, errors), and compare every reply with redis-server's.
"""

from __future__ import annotations

import socket
import threading

from tests.helpers import RawClient, encode


def _mixed_pipeline(tag: str, n: int) -> list:
    """Commands over keys on every shard, with generic-path ones in between."""
    cmds = []
    for i in range(n):
        key = "%s:%d" % (tag, i)
        cmds.append(("SET", key, "v%d" % i))
        cmds.append(("GET", key))
        cmds.append(("INCR", "%s:n:%d" % (tag, i % 7)))
        if i % 5 == 0:
            cmds.append(("PING",))
            cmds.append(("ECHO", "e%d" % i))
        if i % 9 == 0:
            cmds.append(("MGET", key, "%s:%d" % (tag, i + 1), "%s:missing" % tag))
            cmds.append(("GET",))  # wrong arity, answered by the proxy
            cmds.append(("get", "{%s}:tagged" % tag))  # lower case, hash tag
            cmds.append(("INCR", key))  # ERR not an integer, from the shard
        if i % 13 == 0:
            cmds.append(("NOSUCH", key))
            cmds.append(("DEL", key, "%s:n:1" % tag))
    return cmds


def test_deep_pipeline_matches_redis(server, redis_ref, diff):
    cmds = _mixed_pipeline("p", 300)
    ours = RawClient(server.port)
    ref = RawClient(redis_ref.port, redis_ref.host)
    try:
        assert ours.pipeline(cmds) == ref.pipeline(cmds)
    finally:
        ours.close()
        ref.close()


def test_pipeline_sent_byte_by_byte_matches_redis(server, redis_ref, diff):
    """Requests split across reads at every byte: nothing lost or reordered."""
    cmds = _mixed_pipeline("b", 12)
    payload = b"".join(encode(c) for c in cmds)
    replies = {}
    for name, port in (("ours", server.port), ("ref", redis_ref.port)):
        client = RawClient(port)
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for i in range(len(payload)):
                client.send_raw(payload[i:i + 1])
            replies[name] = [client.read() for _ in cmds]
        finally:
            client.close()
    assert replies["ours"] == replies["ref"]


def test_concurrent_pipelined_clients_each_get_their_own_replies(server, redis_ref, diff):
    """Many connections share the shard links; each sees its replies in its order."""
    results = {}

    def run(index: int) -> None:
        cmds = _mixed_pipeline("c%d" % index, 60)
        client = RawClient(server.port)
        try:
            results[index] = (cmds, client.pipeline(cmds))
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == list(range(8))
    ref = RawClient(redis_ref.port, redis_ref.host)
    try:
        for index in range(8):
            cmds, ours = results[index]
            assert ours == ref.pipeline(cmds), "client %d" % index
    finally:
        ref.close()


def test_pipelined_cross_shard_commands_fold_into_one_plan_in_order(server, redis_ref, diff):
    """A cross-shard command takes the pipelined keyed commands behind it
    into its plan (one lock round for all); replies and effects keep Redis's
    order, and anything the plan cannot run stops the fold."""
    from tests.helpers import names_on_shard

    a, b = names_on_shard(0, 2, "fold")
    c, d = names_on_shard(1, 2, "fold")
    cmds = []
    for i in range(40):
        cmds += [("MSET", a, str(i), c, str(i)), ("INCR", a), ("MGET", a, c, b),
                 ("SET", d, "x%d" % i), ("EXISTS", a, b, c, d), ("GET", d)]
        if i % 7 == 0:
            cmds += [("MSET", a, "1", c), ("PING",), ("RENAME", d, b), ("MGET", b, d),
                     ("NOSUCH", a), ("DEL", b, c), ("GET",), ("INCR", c)]
        if i % 11 == 0:
            cmds += [("MULTI",), ("MSET", b, "m", d, "n"), ("EXEC",), ("MGET", b, d)]
    ours = RawClient(server.port)
    ref = RawClient(redis_ref.port, redis_ref.host)
    try:
        assert ours.pipeline(cmds) == ref.pipeline(cmds)
        assert ours.call("MGET", a, b, c, d) == ref.call("MGET", a, b, c, d)
    finally:
        ours.close()
        ref.close()
