"""Blocking XREAD / XREADGROUP against a real redis-server 7.0: when they
wait, what serves them, in which order, and what they answer when the
stream or the group goes away (scenarios as in test_blocking.py).

Keys ``A0``/``B0`` live on shard 0 of the 2-shard damselfly and ``A1`` on
shard 1, so XREAD over ``A0 A1`` waits across shards (the proxy's
CrossShardWait) and over ``A0 B0`` on one shard.
"""

import pytest

from tests.differential.test_blocking import Clients, blocked, on_both
from tests.helpers import RawClient, encode, names_on_shard

A0, B0 = names_on_shard(0, 2, "bs")
(A1,) = names_on_shard(1, 1, "bs")
PAIRS = [(A0, B0), (A0, A1)]


def _xadd_serves_xread(port, a, b):
    """``$`` is the last id when XREAD was called; only the stream that got
    data is in the reply."""
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        ctl.call("XADD", a, "1-1", "f", "old")
        waiter.send_raw(encode(["XREAD", "BLOCK", "0", "STREAMS", a, b, "$", "$"]))
        blocked(ctl, 1)
        out = [ctl.call("XADD", b, "5-1", "f", "new")]
        out.append(waiter.read())
        blocked(ctl, 0)
        waiter.send_raw(encode(["XREAD", "BLOCK", "0", "COUNT", "1", "STREAMS", a, b, "1-1",
                                "5-1"]))
        blocked(ctl, 1)
        out.append(ctl.call("XADD", a, "2-1", "f", "x"))
        out.append(waiter.read())
        return out


@pytest.mark.parametrize("a,b", PAIRS)
def test_xadd_serves_a_blocked_xread(server, redis_ref, a, b):
    on_both(server, redis_ref, _xadd_serves_xread, a, b)




def _timeout_and_null(port, a, proto):
    with RawClient(port) as client:
        client.call("HELLO", proto)
        return [client.call("XREAD", "BLOCK", "20", "STREAMS", a, "$"),
                client.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "20", "STREAMS", a, ">")
                if client.call("XGROUP", "CREATE", a, "g", "$", "MKSTREAM") == b"OK" else None]


@pytest.mark.parametrize("proto", [2, 3])
def test_timeouts_answer_null(server, redis_ref, proto):
    on_both(server, redis_ref, _timeout_and_null, A0, proto)


def _group_readers_fifo(port, key, count):
    with Clients(port) as c:
        ctl = c.new()
        ctl.call("XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
        waiters = []
        for i in range(count):
            waiter = c.new()
            waiter.send_raw(encode(["XREADGROUP", "GROUP", "g", "c%d" % i, "BLOCK", "0",
                                    "STREAMS", key, ">"]))
            blocked(ctl, i + 1)
            waiters.append(waiter)
        out = []
        for i in range(count):
            out.append(ctl.call("XADD", key, "%d-1" % (i + 1), "n", str(i)))
            out.append(waiters[i].read())
        out.append(ctl.call("XPENDING", key, "g"))
        return out


def test_group_readers_are_served_in_fifo_order(server, redis_ref):
    on_both(server, redis_ref, _group_readers_fifo, A1, 3)


def _xread_readers_all_served(port, key):
    with Clients(port) as c:
        ctl = c.new()
        waiters = []
        for i in range(3):
            waiter = c.new()
            waiter.send_raw(encode(["XREAD", "BLOCK", "0", "STREAMS", key, "$"]))
            blocked(ctl, i + 1)
            waiters.append(waiter)
        out = [ctl.call("XADD", key, "1-1", "f", "v")]
        out += [w.read() for w in waiters]
        return out


def test_one_xadd_serves_every_xread(server, redis_ref):
    on_both(server, redis_ref, _xread_readers_all_served, A0)


def _deleted_under_a_group_reader(port, key):
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        out = []
        for remove in (["DEL", key], ["XGROUP", "DESTROY", key, "g"]):
            ctl.call("XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
            waiter.send_raw(encode(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS",
                                    key, ">"]))
            blocked(ctl, 1)
            out.append(ctl.call(*remove))
            out.append(waiter.read())
            blocked(ctl, 0)
            ctl.call("DEL", key)
        return out


def test_stream_or_group_deleted_under_a_group_reader(server, redis_ref):
    on_both(server, redis_ref, _deleted_under_a_group_reader, A0)


def _xread_survives_del(port, key):
    with Clients(port) as c:
        ctl, waiter = c.new(), c.new()
        ctl.call("XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
        waiter.send_raw(encode(["XREAD", "BLOCK", "0", "STREAMS", key, "$"]))
        blocked(ctl, 1)
        out = [ctl.call("DEL", key), ctl.call("XADD", key, "1-1", "a", "1")]
        out.append(waiter.read())
        return out


def test_xread_waits_through_a_del(server, redis_ref):
    on_both(server, redis_ref, _xread_survives_del, A1)


def test_inside_multi_they_do_not_wait(diff):
    diff.run("XGROUP", "CREATE", A0, "g", "$", "MKSTREAM")
    diff.run("MULTI")
    diff.run("XREAD", "BLOCK", "0", "STREAMS", A0, "$")
    diff.run("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", A0, ">")
    diff.run("EXEC")
