"""The shard's pub/sub hub without a network: who is counted, what each
listener is sent (direct clients: the message; links: one M frame naming the
matched patterns), and the reply encodings shared with the proxy."""

from __future__ import annotations

import hiredis

from cluster.pubsub import Subscriptions, push_frame, subscribe_replies, unsubscribe_replies
from shardnode.pubsub import PubSubHub


class FakeTransport:
    def __init__(self):
        self.written = b""

    def write(self, data):
        self.written += data

    def get_write_buffer_size(self):
        return 0


class FakeConn:
    def __init__(self, internal=False, proto=2):
        self.internal = internal
        self.proto = proto
        self.out = None
        self.transport = FakeTransport()
        self.subs = None


class FakeServer:
    index = 0
    aof_barrier = False

    class config:
        values = {"client_output_buffer_limit": "normal 0 0 0 slave 0 0 0 pubsub 0 0 0"}


def frames(conn) -> list:
    reader = hiredis.Reader()
    reader.feed(conn.transport.written)
    out = []
    while (item := reader.gets()) is not False:
        out.append(item)
    return out


def test_publish_counts_direct_clients_once_and_links_by_their_clients():
    hub = PubSubHub(FakeServer())
    direct, direct3, link = FakeConn(), FakeConn(proto=3), FakeConn(internal=True)
    hub.add(b"c", b"news", direct)
    hub.add(b"p", b"n*", direct3)
    hub.add(b"c", b"news", link, 3)  # three clients of one worker
    hub.add(b"p", b"ne*", link)
    hub.add(b"p", b"x*", link)
    assert hub.publish(b"news", b"hi") == 1 + 1 + 3 + 1
    assert frames(direct) == [[b"message", b"news", b"hi"]]
    assert direct3.transport.written == push_frame(3, b"pmessage", b"n*", b"news", b"hi")
    assert frames(link) == [[b"M", b"news", b"hi", b"ne*"]]  # one frame, matched patterns
    assert hub.publish(b"news", b"direct only", links=False) == 2
    assert len(frames(link)) == 1


def test_removing_interest_and_dropping_a_link():
    hub = PubSubHub(FakeServer())
    link = FakeConn(internal=True)
    hub.add(b"c", b"a", link, 2)
    hub.remove(b"c", b"a", link)
    assert hub.publish(b"a", b"m") == 1
    hub.add(b"s", b"sc", link)
    assert hub.spublish(b"sc", b"m") == 1
    assert frames(link)[-1] == [b"S", b"sc", b"m"]
    hub.drop_connection(link)
    assert hub.publish(b"a", b"m") == 0 and hub.spublish(b"sc", b"m") == 0
    assert not hub.channels and not hub.shard_channels and not hub.patterns


def test_subscription_replies_count_as_redis_does():
    subs = Subscriptions()
    data, added = subscribe_replies(subs, 2, b"c", b"subscribe", "channels", [b"a", b"a"])
    assert added == [b"a"]
    assert data == b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n" * 2
    subscribe_replies(subs, 2, b"p", b"psubscribe", "patterns", [b"p*"])
    data, _ = subscribe_replies(subs, 3, b"s", b"ssubscribe", "shard_channels", [b"s"])
    assert data == b">3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"  # shard channels apart
    data, removed = unsubscribe_replies(subs, 2, b"c", b"unsubscribe", "channels", [])
    assert removed == [b"a"] and data.endswith(b":1\r\n")  # the pattern remains
    data, removed = unsubscribe_replies(subs, 3, b"c", b"unsubscribe", "channels", [])
    assert removed == [] and data == b">3\r\n$11\r\nunsubscribe\r\n_\r\n:1\r\n"
