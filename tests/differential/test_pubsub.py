"""Pub/Sub against a real redis-server 7.0: (un)subscribe replies, messages,
subscribed mode and PUBSUB, byte for byte in RESP2 and RESP3.

Each test opens its own connections on both servers (subscriptions are
connection state) and closes them, so counts seen by later tests start at
zero.  Through the proxy the subscribe replies wait for the shards to register
the subscription; the bytes a client reads are still Redis's.
"""

import contextlib
import time

import pytest

from tests.helpers import RawClient, encode, read_raw_replies


@contextlib.contextmanager
def pair(diff, proto=2, n=1):
    """``n`` fresh connections on each server (reference first), in ``proto``."""
    clients = []
    try:
        for _ in range(n):
            ref = RawClient(diff.ref.sock.getpeername()[1])
            ours = RawClient(diff.ours.sock.getpeername()[1])
            clients.append((ref, ours))
            if proto == 3:
                assert isinstance(ref.call("HELLO", "3"), dict)
                assert isinstance(ours.call("HELLO", "3"), dict)
        yield clients[0] if n == 1 else clients
    finally:
        for ref, ours in clients:
            ref.close()
            ours.close()
        time.sleep(0.05)  # the servers see the connections go


def same_bytes(ref, ours, commands, replies):
    """Send ``commands`` pipelined on both; the next ``replies`` replies' bytes match."""
    data = b"".join(encode(c) for c in commands)
    ref.send_raw(data)
    ours.send_raw(data)
    expected, actual = read_raw_replies(ref, replies), read_raw_replies(ours, replies)
    assert actual == expected, "%r:\nredis     %r\ndamselfly %r" % (commands, expected, actual)
    return actual


def split_frames(data: bytes) -> list:
    """Pub/sub frames (arrays or pushes of bulk strings and integers) one by one."""
    frames, i = [], 0
    while i < len(data):
        start = i
        end = data.index(b"\r\n", i)
        count = int(data[i + 1:end])
        i = end + 2
        for _ in range(count):
            end = data.index(b"\r\n", i)
            if data[i:i + 1] == b"$":
                i = end + 2 + int(data[i + 1:end]) + 2
            else:
                i = end + 2
        frames.append(data[start:i])
    return frames


SEQUENCE = [
    ["SUBSCRIBE", "a"],
    ["PSUBSCRIBE", "p*", "q?"],
    ["SUBSCRIBE", "x", "y", "x"],
    ["SSUBSCRIBE", "s1"],
    ["SSUBSCRIBE", "s1", "s2"],
    ["UNSUBSCRIBE", "zz", "x", "y"],  # one name of each kind left: Redis's order of
    ["PUNSUBSCRIBE", "q?"],           # several is its hash table's, seeded at random
    ["SUNSUBSCRIBE", "s1", "nope"],
    ["UNSUBSCRIBE"],
    ["PUNSUBSCRIBE"],
    ["SUNSUBSCRIBE"],
    ["UNSUBSCRIBE"],
    ["PUNSUBSCRIBE"],
    ["SUNSUBSCRIBE"],
]
SEQUENCE_REPLIES = 1 + 2 + 3 + 1 + 2 + 3 + 1 + 2 + 1 + 1 + 1 + 1 + 1 + 1


@pytest.mark.parametrize("proto", [2, 3])
def test_subscribe_and_unsubscribe_replies(diff, proto):
    """Counts (channels plus patterns; shard channels apart), repeated names,
    names never subscribed, and the no-argument forms with and without
    subscriptions (RESP2 nil / RESP3 null name)."""
    with pair(diff, proto) as (ref, ours):
        same_bytes(ref, ours, SEQUENCE, SEQUENCE_REPLIES)
        # nothing left: an ordinary connection again
        same_bytes(ref, ours, [["SET", "k", "v"], ["GET", "k"]], 2)


@pytest.mark.parametrize("proto", [2, 3])
def test_unsubscribe_on_a_fresh_connection(diff, proto):
    with pair(diff, proto) as (ref, ours):
        same_bytes(ref, ours, [["UNSUBSCRIBE"], ["PUNSUBSCRIBE"], ["SUNSUBSCRIBE"],
                               ["UNSUBSCRIBE", "a", "b"], ["PING"]], 6)


def test_resp2_subscribed_mode_allows_only_pubsub_ping_reset_quit(diff):
    with pair(diff) as (ref, ours):
        same_bytes(ref, ours, [["SUBSCRIBE", "a"], ["GET", "x"], ["PING"], ["PING", "hi"],
                               ["CLIENT", "LIST"], ["PUBLISH", "a", "m"], ["SPUBLISH", "a", "m"],
                               ["PUBSUB", "NUMSUB", "a"], ["SELECT", "1"], ["MULTI"],
                               ["HELLO"], ["PSUBSCRIBE", "b*"], ["SSUBSCRIBE", "c"]], 13)
        same_bytes(ref, ours, [["RESET"], ["PING"], ["SET", "k", "1"], ["GET", "k"]], 4)
    with pair(diff) as (ref, ours):  # only shard channels: subscribed mode too
        same_bytes(ref, ours, [["SSUBSCRIBE", "c"], ["GET", "x"], ["PING"],
                               ["SUNSUBSCRIBE"], ["PING"], ["GET", "x"]], 6)
    with pair(diff) as (ref, ours):
        same_bytes(ref, ours, [["SUBSCRIBE", "a"], ["QUIT"]], 2)


@pytest.mark.parametrize("proto", [2, 3])
def test_subscribe_inside_multi(diff, proto):
    """Redis 7.0 runs (un)subscribe commands queued in MULTI: their replies are
    EXEC's elements, and the connection is subscribed afterwards."""
    with pair(diff, proto) as (ref, ours):
        same_bytes(ref, ours, [["MULTI"], ["SUBSCRIBE", "a"], ["EXEC"], ["PING"]], 4)
        same_bytes(ref, ours, [["MULTI"], ["PSUBSCRIBE", "b*"], ["UNSUBSCRIBE", "a"], ["EXEC"],
                               ["PING"]], 5)


def test_resp3_subscribers_run_any_command(diff):
    with pair(diff, 3) as (ref, ours):
        same_bytes(ref, ours, [["SUBSCRIBE", "a"], ["SET", "k", "1"], ["GET", "k"], ["PING"],
                               ["PING", "hi"], ["PUBSUB", "NUMSUB", "a"], ["PUBLISH", "zz", "m"],
                               ["UNSUBSCRIBE", "a"]], 8)


@pytest.mark.parametrize("proto", [2, 3])
def test_messages_and_counts(diff, proto):
    """message, pmessage (a client matched by two patterns and the channel gets
    all three), smessage; PUBLISH/SPUBLISH count every receiver."""
    with pair(diff, proto, n=3) as clients:
        (rs, os_), (rs2, os2), (rp, op) = clients
        same_bytes(rs, os_, [["SUBSCRIBE", "news.1"], ["PSUBSCRIBE", "news.*", "n*"],
                             ["SSUBSCRIBE", "shardy"]], 4)
        same_bytes(rs2, os2, [["SUBSCRIBE", "news.1", "other"]], 2)
        same_bytes(rp, op, [["PUBLISH", "news.1", "hello"], ["PUBLISH", "other", ""],
                            ["PUBLISH", "nobody", "x"], ["PUBLISH", "news.2", "b\r\nin"],
                            ["SPUBLISH", "shardy", "s"], ["SPUBLISH", "nobody", "s"]], 6)
        # the first subscriber: news.1 by channel and both patterns, news.2 and
        # nobody by pattern(s), then the shard message.  Redis 7.0 walks its
        # patterns in its hash table's (randomly seeded) order: compared as sets
        # of frames, each frame byte for byte.  (Through the proxy a shard
        # channel's message comes from its own shard, so it may overtake the
        # classic ones published before it.)
        ref_frames = split_frames(read_raw_replies(rs, 7))
        our_frames = split_frames(read_raw_replies(os_, 7))
        assert sorted(our_frames) == sorted(ref_frames)
        classic = [f for f in our_frames if b"smessage" not in f]
        assert classic[0] == ref_frames[0]  # the channel's own message first
        same_bytes(rs2, os2, [], 2)


def test_pubsub_introspection(diff):
    with pair(diff, 2, n=3) as clients:
        (r1, o1), (r2, o2), (r3, o3) = clients
        same_bytes(r1, o1, [["SUBSCRIBE", "ch1", "ch2"], ["PSUBSCRIBE", "c*"]], 3)
        same_bytes(r2, o2, [["SUBSCRIBE", "ch2", "other"], ["PSUBSCRIBE", "c*", "o*"],
                            ["SSUBSCRIBE", "{t}a", "{t}b"]], 6)
        diff.run_unordered("PUBSUB", "CHANNELS")
        diff.run_unordered("PUBSUB", "CHANNELS", "ch*")
        diff.run("PUBSUB", "CHANNELS", "nomatch*")
        diff.run("PUBSUB", "NUMSUB", "ch1", "ch2", "other", "none")
        diff.run("PUBSUB", "NUMSUB")
        diff.run("PUBSUB", "NUMPAT")
        diff.run_unordered("PUBSUB", "SHARDCHANNELS")
        diff.run("PUBSUB", "SHARDCHANNELS", "{t}a")
        diff.run("PUBSUB", "SHARDNUMSUB", "{t}a", "{t}b", "x")
        diff.run("PUBSUB", "SHARDNUMSUB")
        diff.run("PUBSUB", "NUMPAT", "extra")
        diff.run("PUBSUB", "NOSUCH")
        diff.run("PUBSUB")
        ref, ours = diff.both("PUBSUB", "HELP")
        topics = lambda lines: {l.split()[0] for l in lines[1:] if not l.startswith(b" ")}
        assert topics(ours) == topics(ref)
        # the stats fields as Redis 7.0 names and counts them
        ref_info, our_info = diff.both("INFO", "stats")
        for field in (b"pubsub_channels:", b"pubsub_patterns:", b"pubsubshard_channels:"):
            line = lambda text: [l for l in text.split(b"\r\n") if l.startswith(field)]
            assert line(our_info) == line(ref_info)
        o3.call("PING")  # the third pair: no subscriptions
    time.sleep(0.1)
    diff.run("PUBSUB", "NUMSUB", "ch1", "ch2", "other")
    diff.run("PUBSUB", "NUMPAT")
    diff.run("PUBSUB", "CHANNELS")


def test_client_list_shows_subscriptions(diff):
    """CLIENT INFO of a RESP3 subscriber: flags=P and its sub/psub/ssub counts."""
    def fields(text):
        parts = dict(f.split(b"=", 1) for f in bytes(text).strip().split(b" "))
        return {k: parts[k] for k in (b"flags", b"sub", b"psub", b"ssub", b"multi")}

    with pair(diff, 3) as (ref, ours):
        same_bytes(ref, ours, [["SUBSCRIBE", "a", "b"], ["PSUBSCRIBE", "x*"],
                               ["SSUBSCRIBE", "s"]], 4)
        assert fields(ours.call("CLIENT", "INFO")) == fields(ref.call("CLIENT", "INFO"))
    ref_list = diff.ref.call("CLIENT", "LIST", "TYPE", "pubsub")
    ours_list = diff.ours.call("CLIENT", "LIST", "TYPE", "pubsub")
    assert ref_list == ours_list == b""


def test_command_metadata(diff):
    diff.run("COMMAND", "INFO", "subscribe", "unsubscribe", "psubscribe", "punsubscribe",
             "publish", "ssubscribe", "sunsubscribe", "spublish")
    ref, ours = diff.both("COMMAND", "INFO", "pubsub")  # subcommands: in Redis's hash order
    assert ours[0][:9] == ref[0][:9]
    assert sorted(ours[0][9]) == sorted(ref[0][9])
    diff.run("COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b")
    diff.run("COMMAND", "GETKEYS", "SPUBLISH", "a", "m")
    diff.run("COMMAND", "GETKEYSANDFLAGS", "SUNSUBSCRIBE", "a")
    diff.run("COMMAND", "GETKEYS", "PUBLISH", "a", "m")
    diff.run("SUBSCRIBE")
    diff.run("PUBLISH", "a")
    diff.run("SPUBLISH", "a", "b", "c")
