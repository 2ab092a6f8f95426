"""CLIENT TRACKING / CACHING / TRACKINGINFO / GETREDIR and the invalidation
messages, compared with a real redis-server (RESP2 and RESP3).

Keys written together share a hash tag, so one shard sends their
invalidation as Redis does (a BCAST write spanning shards comes as one
message per shard).
"""

from __future__ import annotations

import time

import pytest

from tests.helpers import RawClient

ARGUMENT_SEQUENCE = [
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "GETREDIR"),
    ("CLIENT", "TRACKING"),
    ("CLIENT", "TRACKING", "maybe"),
    ("CLIENT", "TRACKING", "on", "foo"),
    ("CLIENT", "TRACKING", "on", "redirect"),
    ("CLIENT", "TRACKING", "on", "redirect", "abc"),
    ("CLIENT", "TRACKING", "on", "redirect", "999999"),
    ("CLIENT", "TRACKING", "on", "prefix", "a"),
    ("CLIENT", "TRACKING", "on", "optin", "optout"),
    ("CLIENT", "TRACKING", "on", "bcast", "optin"),
    ("CLIENT", "TRACKING", "off", "bogus"),
    ("CLIENT", "CACHING", "yes"),
    ("CLIENT", "CACHING", "maybe"),
    ("CLIENT", "CACHING"),
    ("CLIENT", "TRACKING", "on"),
    ("CLIENT", "CACHING", "yes"),
    ("CLIENT", "CACHING", "no"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "GETREDIR"),
    ("CLIENT", "TRACKING", "on", "bcast"),
    ("CLIENT", "TRACKING", "on", "noloop"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "TRACKING", "off"),
    ("CLIENT", "TRACKING", "on", "optin"),
    ("CLIENT", "CACHING", "maybe"),
    ("CLIENT", "CACHING", "no"),
    ("CLIENT", "CACHING", "yes"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "TRACKING", "on", "optout"),
    ("CLIENT", "TRACKING", "off"),
    ("CLIENT", "TRACKING", "on", "optout", "noloop"),
    ("CLIENT", "CACHING", "no"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "TRACKING", "off"),
    ("CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "ab"),
    ("CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "a"),
    ("CLIENT", "TRACKING", "on", "bcast", "prefix", "b", "prefix", "a"),
    ("CLIENT", "TRACKING", "on", "bcast", "prefix", "abc"),
    ("CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "c"),
    ("CLIENT", "TRACKING", "on", "bcast", "prefix", "c"),
    ("CLIENT", "TRACKING", "on", "bcast", "prefix", "d", "prefix", "d"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "TRACKING", "on"),
    ("CLIENT", "TRACKING", "off"),
    ("CLIENT", "TRACKING", "off"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "GETREDIR"),
]


@pytest.mark.parametrize("proto", ["2", "3"])
def test_arguments_errors_and_info_replies(diff, proto):
    diff.both("HELLO", proto)  # (the version and mode differ by design)
    for args in ARGUMENT_SEQUENCE:
        diff.run(*args)
    diff.both("HELLO", "2")


def test_redirect_replies(diff, redis_ref, server):
    """REDIRECT to an existing client: GETREDIR and TRACKINGINFO name it."""
    targets = [RawClient(redis_ref.port, redis_ref.host), RawClient(server.port)]
    ids = [t.call("CLIENT", "ID") for t in targets]
    for client, target_id in zip((diff.ref, diff.ours), ids):
        assert client.call("CLIENT", "TRACKING", "on", "REDIRECT", str(target_id)) == b"OK"
        assert client.call("CLIENT", "GETREDIR") == target_id
        info = client.call("CLIENT", "TRACKINGINFO")
        assert info == [b"flags", [b"on"], b"redirect", target_id, b"prefixes", []]
        assert client.call("CLIENT", "TRACKING", "on", "REDIRECT", str(target_id),
                           "REDIRECT", str(target_id)) == \
            diff.ref.call("CLIENT", "TRACKING", "on", "REDIRECT", str(ids[0]),
                          "REDIRECT", str(ids[0]))
        client.call("CLIENT", "TRACKING", "off")
    for t in targets:
        t.close()


def _pushes(client: RawClient, wait: float = 0.3) -> list:
    """Every frame that arrives within ``wait`` seconds, unasked."""
    out = []
    client.sock.settimeout(wait)
    try:
        while True:
            out.append(client.read())
    except (TimeoutError, OSError):
        pass
    finally:
        client.sock.settimeout(10)
    return out


def _scenario(port: int, host: str, tracking_options, steps):
    """Run ``steps`` ((who, args): who is "t" the tracker or "w" a writer)
    and return what the tracker saw: replies and pushes, in order."""
    tracker = RawClient(port, host)
    writer = RawClient(port, host)
    seen = []
    try:
        writer.call("FLUSHALL")
        tracker.call("HELLO", "3")
        seen.append(tracker.call("CLIENT", "TRACKING", "on", *tracking_options))
        for who, args in steps:
            if who == "t":
                seen.append(("reply", tracker.call(*args)))
            else:
                writer.call(*args)
                time.sleep(0.05)
            seen.extend(("push", p) for p in _pushes(tracker, 0.15))
    finally:
        tracker.close()
        writer.close()
    return seen


SCENARIOS = {
    "default": ((), [
        ("t", ("GET", "{t}a")), ("t", ("MGET", "{t}b", "{t}c")),
        ("w", ("SET", "{t}a", "1")), ("w", ("SET", "{t}a", "2")),  # the second: forgotten
        ("w", ("DEL", "{t}b", "{t}c")),
        ("t", ("GET", "{t}a")), ("t", ("SET", "{t}a", "mine")),  # own write: after the reply
        ("t", ("GET", "{t}a")), ("w", ("FLUSHDB",)),
        ("t", ("HGETALL", "{t}h")), ("w", ("HSET", "{t}h", "f", "v")),
        ("t", ("STRLEN", "{t}s")), ("w", ("APPEND", "{t}s", "x")),
        ("t", ("GET", "{t}x")), ("w", ("FLUSHALL",)),
    ]),
    "noloop": (("NOLOOP",), [
        ("t", ("GET", "{t}a")), ("t", ("SET", "{t}a", "mine")),
        ("t", ("GET", "{t}a")), ("w", ("SET", "{t}a", "theirs")),
    ]),
    "bcast": (("BCAST", "PREFIX", "{t}p", "PREFIX", "{t}q"), [
        ("w", ("SET", "{t}p1", "1")), ("w", ("MSET", "{t}p2", "1", "{t}q1", "1", "{t}r", "1")),
        ("t", ("SET", "{t}p3", "mine")), ("w", ("SET", "{t}zz", "1")),
    ]),
    "bcast-all": (("BCAST",), [
        ("w", ("SET", "{t}a", "1")), ("w", ("INCR", "{t}n")),
    ]),
    "optin": (("OPTIN",), [
        ("t", ("GET", "{t}a")), ("t", ("CLIENT", "CACHING", "yes")), ("t", ("GET", "{t}b")),
        ("t", ("GET", "{t}c")),
        ("w", ("SET", "{t}a", "1")), ("w", ("SET", "{t}b", "1")), ("w", ("SET", "{t}c", "1")),
    ]),
    "optout": (("OPTOUT",), [
        ("t", ("GET", "{t}a")), ("t", ("CLIENT", "CACHING", "no")), ("t", ("GET", "{t}b")),
        ("t", ("GET", "{t}c")),
        ("w", ("SET", "{t}a", "1")), ("w", ("SET", "{t}b", "1")), ("w", ("SET", "{t}c", "1")),
    ]),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_invalidation_messages(server, redis_ref, name):
    options, steps = SCENARIOS[name]
    expected = _scenario(redis_ref.port, redis_ref.host, options, steps)
    actual = _scenario(server.port, "127.0.0.1", options, steps)
    assert actual == expected


def test_shard_port_messages(server, redis_ref):
    """A client of a shard's own port gets the same messages."""
    options, steps = SCENARIOS["default"]
    from cluster.slots import key_slot

    shard = 0 if key_slot(b"{t}") < 8192 else 1
    expected = _scenario(redis_ref.port, redis_ref.host, options, steps[:9])
    actual = _scenario(server.shard_ports[shard], "127.0.0.1", options, steps[:9])
    assert actual == expected
