"""Pub/Sub end to end: 2 shards behind 2 proxy workers, shard ports, sharded
mode, and real clients (redis-py threaded and asyncio, asyncio_redis,
ioredis, RedisCluster's sharded pub/sub).

What is checked: PUBLISH's count is exact whichever worker or shard port the
publisher and the subscribers use; a subscribe reply means later messages
arrive (and an unsubscribe reply that they stop); each subscriber gets each
message once, in its publisher's order; a client that goes away, even
abruptly, leaves no count behind.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time

import pytest

from cluster.slots import key_slot
from tests.helpers import DamselflyProcess, Err, RawClient, clients_on_both_workers, run_node_script


@pytest.fixture(scope="module")
def two_workers():
    with DamselflyProcess(shards=2, proxy_workers=2) as proc:
        yield proc


@pytest.fixture(scope="module")
def sharded():
    with DamselflyProcess(shards=2, proxy_workers=2, cluster_mode="sharded") as proc:
        yield proc


def worker_of(client: RawClient) -> int:
    return client.call("CLIENT", "ID") >> 40


def close_all(clients) -> None:
    for c in clients:
        c.close()


def hard_close(client: RawClient) -> None:
    """Close with a reset (SO_LINGER 0): the abrupt end of a crashed client."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.sock.close()


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_counts_exact_across_workers_and_shard_ports(two_workers):
    """Subscribers on both workers and on both shard ports, by channel and by
    pattern: every publisher (either worker, either shard port) counts them
    all, and each gets the message once."""
    proxy_subs = clients_on_both_workers(two_workers.port, 3)
    direct_subs = [RawClient(p) for p in two_workers.shard_ports]
    publishers = clients_on_both_workers(two_workers.port, 1) + \
        [RawClient(p) for p in two_workers.shard_ports]
    try:
        for i, c in enumerate(proxy_subs + direct_subs):
            assert c.call("SUBSCRIBE", "news") == [b"subscribe", b"news", 1]
            if i % 2:
                c.call("PSUBSCRIBE", "ne*")  # two receptions for these
        receivers = len(proxy_subs + direct_subs) + len(proxy_subs + direct_subs) // 2
        for n, pub in enumerate(publishers):
            message = b"m%d" % n
            assert pub.call("PUBLISH", "news", message) == receivers
            for i, c in enumerate(proxy_subs + direct_subs):
                assert c.read() == [b"message", b"news", message]
                if i % 2:
                    assert c.read() == [b"pmessage", b"ne*", b"news", message]
        assert publishers[0].call("PUBLISH", "nobody", "x") == 0
        assert publishers[0].call("PUBSUB", "NUMSUB", "news") == [b"news", 8]
        assert publishers[0].call("PUBSUB", "NUMPAT") == 1
        for c in proxy_subs + direct_subs:  # nothing more came
            c.sock.settimeout(0.2)
            with pytest.raises(socket.timeout):
                c.read()
    finally:
        close_all(proxy_subs + direct_subs + publishers)


def test_subscribe_reply_means_registered_everywhere(two_workers):
    """Right after its subscribe reply, a publish through the other worker
    counts the new subscriber and reaches it; after the unsubscribe reply it
    neither counts nor reaches it."""
    a, b = clients_on_both_workers(two_workers.port, 1)
    try:
        for round_ in range(30):
            sub, pub = (a, b) if round_ % 2 else (b, a)
            kind = ("SUBSCRIBE", "PSUBSCRIBE")[round_ % 3 == 0]
            name = "r%d" % round_ if kind == "SUBSCRIBE" else "r%d*" % round_
            assert sub.call(kind, name)[2] == 1
            assert pub.call("PUBLISH", "r%d" % round_, "hi") == 1
            assert sub.read()[-1] == b"hi"
            assert sub.call(kind.replace("SUB", "UNSUB"), name)[2] == 0
            assert pub.call("PUBLISH", "r%d" % round_, "gone") == 0
    finally:
        close_all([a, b])


def test_a_shard_port_subscriber_is_counted_as_soon_as_it_is_answered(two_workers):
    """PUBLISH through the proxy visits only the shards that have direct
    subscribers: the first one's subscribe reply waits until every worker
    knows, so a publisher on either worker reaches it right away."""
    publishers = clients_on_both_workers(two_workers.port, 2)
    try:
        for round_ in range(10):
            for port in two_workers.shard_ports:
                with RawClient(port) as direct:
                    kind = ("SUBSCRIBE", "PSUBSCRIBE")[round_ % 2]
                    assert direct.call(kind, "dr*" if round_ % 2 else "dr")[2] == 1
                    for pub in publishers:
                        assert pub.call("PUBLISH", "dr", "x") == 1
                        assert direct.read()[-1] == b"x"
                    assert direct.call(kind.replace("SUB", "UNSUB"))[2] == 0
                    for pub in publishers:
                        assert pub.call("PUBLISH", "dr", "y") == 0
    finally:
        close_all(publishers)


def test_publish_order_per_publisher(two_workers):
    """Pipelined PUBLISHes (one publisher per worker and one per shard port,
    to a channel and a pattern) arrive in order at subscribers of both workers."""
    subs = clients_on_both_workers(two_workers.port, 2)
    pubs = clients_on_both_workers(two_workers.port, 1) + \
        [RawClient(p) for p in two_workers.shard_ports]
    n = 300
    try:
        for i, c in enumerate(subs):
            c.call("SUBSCRIBE", "ordered") if i % 2 else c.call("PSUBSCRIBE", "order*")
        threads = []
        for p_index, pub in enumerate(pubs):
            commands = [("PUBLISH", "ordered", "%d:%d" % (p_index, i)) for i in range(n)]

            def send(pub=pub, commands=commands):
                assert pub.pipeline(commands) == [len(subs)] * n
            threads.append(threading.Thread(target=send))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for c in subs:
            seen = {}
            for _ in range(n * len(pubs)):
                who, i = c.read()[-1].split(b":")
                assert int(i) == seen.get(who, -1) + 1, "out of order or twice"
                seen[who] = int(i)
            assert all(v == n - 1 for v in seen.values()) and len(seen) == len(pubs)
    finally:
        close_all(subs + pubs)


def test_abrupt_disconnect_leaves_no_counts(two_workers):
    subs = clients_on_both_workers(two_workers.port, 2) + \
        [RawClient(p) for p in two_workers.shard_ports]
    probe = RawClient(two_workers.port)
    shard_channel = "{gone}s"
    try:
        for c in subs:
            c.call("SUBSCRIBE", "gone1", "gone2")
            c.read()
            c.call("PSUBSCRIBE", "gone*")
        owner_port = two_workers.shard_ports[key_slot(shard_channel.encode()) >= 8192]
        for c in subs[:4]:  # through the proxy: to the owner; on a shard port: there
            c.call("SSUBSCRIBE", shard_channel)
        assert probe.call("PUBSUB", "NUMSUB", "gone1", "gone2") == [b"gone1", 6, b"gone2", 6]
        assert probe.call("PUBSUB", "SHARDNUMSUB", shard_channel) == [shard_channel.encode(), 4]
        assert probe.call("PUBLISH", "gone1", "x") == 12
        for c in subs:
            hard_close(c)
        assert wait_for(lambda: probe.call("PUBSUB", "NUMSUB", "gone1", "gone2")
                        == [b"gone1", 0, b"gone2", 0])
        assert wait_for(lambda: probe.call("PUBSUB", "NUMPAT") == 0)
        assert probe.call("PUBSUB", "SHARDNUMSUB", shard_channel) == [shard_channel.encode(), 0]
        assert probe.call("PUBSUB", "CHANNELS", "gone*") == []
        assert probe.call("PUBLISH", "gone1", "x") == 0
        with RawClient(owner_port) as direct:
            assert direct.call("PUBSUB", "NUMSUB", "gone1") == [b"gone1", 0]
            info = direct.call("INFO", "stats")
            assert b"pubsub_patterns:0" in info
    finally:
        probe.close()


def test_reset_and_quit_drop_subscriptions(two_workers):
    with RawClient(two_workers.port) as c, RawClient(two_workers.port) as probe:
        c.call("SUBSCRIBE", "reset1")
        c.call("PSUBSCRIBE", "reset*")
        assert c.call("GET", "x") == Err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / "
                                         "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
                                         "in this context")
        assert c.call("RESET") == b"RESET"
        assert c.call("GET", "x") is None
        assert wait_for(lambda: probe.call("PUBLISH", "reset1", "x") == 0)
        c.call("SUBSCRIBE", "reset1")
        assert probe.call("PUBLISH", "reset1", "y") == 1
        assert c.read() == [b"message", b"reset1", b"y"]
        assert c.call("QUIT") == b"OK"
        assert wait_for(lambda: probe.call("PUBLISH", "reset1", "z") == 0)


def test_client_list_of_subscribers(two_workers):
    with RawClient(two_workers.port) as c:
        c.call("HELLO", "3")
        c.call("SUBSCRIBE", "a", "b")
        c.read()  # (one reply per channel)
        c.call("PSUBSCRIBE", "x*")
        c.call("SSUBSCRIBE", "s")
        line = bytes(c.call("CLIENT", "INFO"))
        assert b" flags=P " in line and b" sub=2 psub=1 ssub=1 " in line
        listed = bytes(c.call("CLIENT", "LIST", "TYPE", "pubsub"))
        assert b"id=%d " % c.call("CLIENT", "ID") in listed
        assert bytes(c.call("CLIENT", "LIST", "TYPE", "normal")).count(b"flags=P") == 0


# -- sharded mode, shard ports ---------------------------------------------------------------


def _channel_on(shard: int, prefix: str = "ch") -> str:
    i = 0
    while (key_slot(("%s%d" % (prefix, i)).encode()) >= 8192) != bool(shard):
        i += 1
    return "%s%d" % (prefix, i)


def test_sharded_pubsub_on_shard_ports(sharded):
    """MOVED for another shard's channel, CROSSSLOT across slots, and a shard
    channel's messages reaching direct and proxy subscribers."""
    p0, p1 = sharded.shard_ports
    mine, theirs = _channel_on(0), _channel_on(1)
    with RawClient(p0) as direct, RawClient(sharded.port) as via_proxy, \
            RawClient(p0) as pub:
        moved = direct.call("SSUBSCRIBE", theirs)
        assert moved == Err("MOVED %d 127.0.0.1:%d" % (key_slot(theirs.encode()), p1))
        assert direct.call("SSUBSCRIBE", mine, theirs) == Err(
            "CROSSSLOT Keys in request don't hash to the same slot")
        assert pub.call("SPUBLISH", theirs, "x") == Err(
            "MOVED %d 127.0.0.1:%d" % (key_slot(theirs.encode()), p1))
        assert direct.call("SSUBSCRIBE", mine) == [b"ssubscribe", mine.encode(), 1]
        # through the proxy the channels may be on both shards
        assert via_proxy.call("SSUBSCRIBE", mine, theirs) == [b"ssubscribe", mine.encode(), 1]
        assert via_proxy.read() == [b"ssubscribe", theirs.encode(), 2]
        assert pub.call("SPUBLISH", mine, "hello") == 2
        assert direct.read() == [b"smessage", mine.encode(), b"hello"]
        assert via_proxy.read() == [b"smessage", mine.encode(), b"hello"]
        with RawClient(p1) as pub1:
            assert pub1.call("SPUBLISH", theirs, "there") == 1
        assert via_proxy.read() == [b"smessage", theirs.encode(), b"there"]
        # classic PUBLISH on a shard port reaches everyone, any channel
        with RawClient(p1) as sub1:
            sub1.call("SUBSCRIBE", theirs)
            assert pub.call("PUBLISH", theirs, "all") == 1
            assert sub1.read() == [b"message", theirs.encode(), b"all"]
        assert pub.call("PUBSUB", "SHARDCHANNELS") == [mine.encode()]


def test_redis_cluster_sharded_pubsub(sharded):
    """redis-py's RedisCluster: ssubscribe goes to the channel's shard, spublish
    too; the messages arrive."""
    from redis.cluster import RedisCluster

    rc = RedisCluster(host="127.0.0.1", port=sharded.shard_ports[0])
    try:
        channels = [_channel_on(0, "rc"), _channel_on(1, "rc")]
        pubsubs = []
        for ch in channels:
            ps = rc.pubsub()
            ps.ssubscribe(ch)
            msg = ps.get_sharded_message(timeout=5)
            assert msg["type"] == "ssubscribe"
            pubsubs.append(ps)
        for ch, ps in zip(channels, pubsubs):
            assert rc.spublish(ch, "hello " + ch) == 1
            msg = ps.get_sharded_message(timeout=5)
            assert msg["type"] == "smessage" and msg["data"] == ("hello " + ch).encode()
        for ps in pubsubs:
            ps.close()
    finally:
        rc.close()


# -- real clients through the proxy ------------------------------------------------------------


def test_redis_py_pubsub_in_a_thread(two_workers):
    import redis

    r = redis.Redis(port=two_workers.port)
    got = []
    done = threading.Event()
    n = 200

    def on_message(message):
        got.append((message["type"], message["data"]))
        if len(got) == 2 * n:
            done.set()

    ps = r.pubsub()
    ps.subscribe(**{"py:news": on_message})
    ps.psubscribe(**{"py:*": on_message})
    runner = ps.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        assert wait_for(lambda: r.pubsub_numsub("py:news") == [(b"py:news", 1)])
        for i in range(n):
            assert r.publish("py:news", "m%d" % i) == 2
        assert done.wait(15)
        assert [d for t, d in got if t == "message"] == [b"m%d" % i for i in range(n)]
        assert [d for t, d in got if t == "pmessage"] == [b"m%d" % i for i in range(n)]
    finally:
        runner.stop()
        runner.join(5)
        ps.close()
    assert wait_for(lambda: r.pubsub_numsub("py:news") == [(b"py:news", 0)])
    r.close()


def test_redis_py_asyncio_pubsub(two_workers):
    import redis.asyncio as aioredis

    async def scenario():
        r = aioredis.Redis(port=two_workers.port)
        ps = r.pubsub()
        await ps.subscribe("aio:a")
        await ps.psubscribe("aio:*")
        first = await ps.get_message(timeout=5)
        assert first["type"] == "subscribe"
        assert (await ps.get_message(timeout=5))["type"] == "psubscribe"
        assert await r.publish("aio:a", "one") == 2
        assert await r.publish("aio:b", "two") == 1
        got = []
        while len(got) < 3:
            message = await ps.get_message(ignore_subscribe_messages=True, timeout=5)
            assert message is not None
            got.append((message["type"], message["channel"], message["data"]))
        assert got == [("message", b"aio:a", b"one"), ("pmessage", b"aio:a", b"one"),
                       ("pmessage", b"aio:b", b"two")]
        await ps.unsubscribe()
        await ps.punsubscribe()
        await ps.aclose()
        await r.aclose()

    asyncio.run(scenario())


def test_redis_py_resp3_pubsub(two_workers):
    """A RESP3 client receives pushes and keeps running commands meanwhile."""
    import redis

    r = redis.Redis(port=two_workers.port, protocol=3)
    ps = r.pubsub()
    ps.subscribe("r3:news")
    assert ps.get_message(timeout=5)["type"] == "subscribe"
    assert r.publish("r3:news", "pushed") == 1
    assert ps.get_message(timeout=5)["data"] == b"pushed"
    ps.close()
    r.close()


def test_asyncio_redis_subscriber(two_workers):
    import asyncio_redis

    async def scenario():
        sub = await asyncio_redis.Connection.create(host="127.0.0.1", port=two_workers.port)
        pub = await asyncio_redis.Connection.create(host="127.0.0.1", port=two_workers.port)
        subscriber = await sub.start_subscribe()
        await subscriber.subscribe(["ar:news"])
        await subscriber.psubscribe(["ar:*"])
        # asyncio_redis sends (P)SUBSCRIBE without waiting for the replies, so
        # a PUBLISH on the other connection could overtake them: wait until
        # the server has both subscriptions.
        with RawClient(two_workers.port) as probe:
            for _ in range(250):
                if (probe.call("PUBSUB", "NUMSUB", "ar:news") == [b"ar:news", 1]
                        and probe.call("PUBSUB", "NUMPAT") == 1):
                    break
                await asyncio.sleep(0.02)
        assert await pub.publish("ar:news", "hello") == 2
        got = [await asyncio.wait_for(subscriber.next_published(), 5) for _ in range(2)]
        assert sorted((m.channel, m.value, m.pattern or "") for m in got) == [
            ("ar:news", "hello", ""), ("ar:news", "hello", "ar:*")]
        sub.close()
        pub.close()

    asyncio.run(scenario())


def test_ioredis_subscribers(two_workers):
    n = 100
    result = run_node_script("pubsub_test.js", two_workers.port, n)
    assert "error" not in result, result["error"]
    assert result["subscribed"] == 2 and result["psubscribed"] == 1
    assert result["counts"] == [2] * n
    assert result["channel"] == ["js:news=m%d" % i for i in range(n)]
    assert result["pattern"] == ["js:*:js:news=m%d" % i for i in range(n)]
    assert result["unsubscribed"] == 1
    assert result["numsub"] == ["js:news", 0, "js:other", 1]


def test_subscribers_survive_a_shard_restart():
    """A killed shard comes back knowing nothing; each worker registers its
    subscribers there again when its link reopens, so counts stay exact."""
    import signal

    from tests.e2e.test_supervisor import children, wait_new_child

    with DamselflyProcess(shards=2, proxy_workers=1) as server:
        sub = RawClient(server.port)
        sub.call("SUBSCRIBE", "survive")
        sub.call("PSUBSCRIBE", "surv*")
        shard_channel = _channel_on(1, "surv")
        sub.call("SSUBSCRIBE", shard_channel)
        pubs = [RawClient(server.port) for _ in range(2)]  # one per parity of client id
        old = children(server)["shard 1"]
        os.kill(old, signal.SIGKILL)
        assert wait_new_child(server, "shard 1", old, 5) is not None
        assert wait_for(lambda: pubs[0].call("SPUBLISH", shard_channel, "s") == 1, 10)
        assert sub.read() == [b"smessage", shard_channel.encode(), b"s"]
        for pub in pubs:
            assert pub.call("PUBLISH", "survive", "m") == 2
            assert sub.read() == [b"message", b"survive", b"m"]
            assert sub.read() == [b"pmessage", b"surv*", b"survive", b"m"]
        close_all([sub] + pubs)
