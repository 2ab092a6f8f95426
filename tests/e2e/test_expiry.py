"""Expiry on real processes: the active cycle removes keys nobody reads, and a
lazy lookup never hands out a key whose deadline has passed."""

import time

import pytest

from tests.helpers import RawClient


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _info_keyspace(port, db):
    with RawClient(port) as client:
        for line in client.call("INFO", "keyspace").decode().splitlines():
            if line.startswith("db%d:" % db):
                fields = dict(f.split("=") for f in line.split(":", 1)[1].split(","))
                return int(fields["keys"]), int(fields["expires"])
    return 0, 0


def _keyspace(server, db=0):
    """(keys, expires) of ``db`` in INFO keyspace: the proxy's, which must be
    the sum of the shards'."""
    per_shard = [_info_keyspace(port, db) for port in server.shard_ports]
    total = tuple(map(sum, zip(*per_shard)))
    assert _info_keyspace(server.port, db) == total
    return total


@pytest.fixture
def active_expire(raw):
    """Leaves active expiry on, whatever a test did."""
    yield raw
    raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_active_expiry_removes_unread_keys(server, active_expire):
    raw = active_expire
    n = 400
    raw.pipeline([("SET", "short:%d" % i, "v") for i in range(n)])
    raw.pipeline([("PEXPIRE", "short:%d" % i, 150) for i in range(n)])
    raw.call("SET", "long", "v")
    raw.call("EXPIRE", "long", 1000)
    raw.call("SET", "forever", "v")
    assert raw.call("DBSIZE") == n + 2
    assert _keyspace(server) == (n + 2, n + 1)
    # Nothing reads the short keys: only the active cycle can remove them.
    assert _wait(lambda: raw.call("DBSIZE") == 2), raw.call("DBSIZE")
    assert _keyspace(server) == (2, 1)
    assert raw.call("TTL", "long") > 990
    assert raw.call("TTL", "forever") == -1


def test_active_expiry_can_be_switched_off(active_expire):
    raw = active_expire
    assert raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    raw.pipeline([("SET", "k%d" % i, "v") for i in range(50)])
    raw.pipeline([("PEXPIRE", "k%d" % i, 50) for i in range(50)])
    time.sleep(0.4)
    # Still counted (no cycle ran), yet no lookup sees them.
    assert raw.call("DBSIZE") == 50
    assert raw.call("GET", "k1") is None
    assert raw.call("EXISTS", "k2", "k3") == 0
    assert raw.call("TTL", "k4") == -2
    assert raw.call("PTTL", "k4") == -2
    assert raw.call("TYPE", "k5") == b"none"
    assert raw.call("KEYS", "*") == []
    assert raw.call("SCAN", "0", "COUNT", "1000")[1] == []
    assert raw.call("RANDOMKEY") is None
    assert raw.call("RENAME", "k6", "x") == "ERR no such key"
    assert raw.call("COPY", "k7", "x") == 0
    assert raw.call("OBJECT", "ENCODING", "k8") is None
    assert raw.call("DBSIZE") < 50  # lookups removed what they found expired
    assert raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"OK"
    assert _wait(lambda: raw.call("DBSIZE") == 0)


def test_lazy_expiry_never_returns_an_expired_key(active_expire):
    raw = active_expire
    raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # only lookups expire keys
    base = int(time.time() * 1000) + 150
    keys = ["lazy:%d" % i for i in range(40)]
    deadlines = {k: base + 10 * i for i, k in enumerate(keys)}
    raw.pipeline([("SET", k, "v") for k in keys])
    raw.pipeline([("PEXPIREAT", k, d) for k, d in deadlines.items()])
    stop = max(deadlines.values()) + 100
    seen_live = seen_gone = 0
    while time.time() * 1000 < stop:
        for key in keys:
            sent = time.time() * 1000
            value = raw.call("GET", key)
            if value is not None:
                # The shard read its clock after the request was sent.
                assert int(sent) < deadlines[key], (key, sent, deadlines[key])
                seen_live += 1
            else:
                assert time.time() * 1000 >= deadlines[key]
                seen_gone += 1
            pttl = raw.call("PTTL", key)
            assert pttl == -2 or pttl >= 0
    assert seen_live and seen_gone
    assert raw.call("EXISTS", *keys) == 0


def test_expired_key_is_gone_for_a_client_on_another_connection(server, active_expire):
    raw = active_expire
    raw.call("SET", "k", "v")
    raw.call("PEXPIRE", "k", 30)
    with RawClient(server.port) as other:
        time.sleep(0.1)
        assert other.call("GET", "k") is None
        assert other.call("EXISTS", "k") == 0


def test_idletime_and_no_touch(server, raw):
    raw.call("SET", "idle", "v")
    raw.call("SET", "busy", "v")
    time.sleep(2.1)
    assert raw.call("OBJECT", "IDLETIME", "idle") >= 2
    raw.call("CLIENT", "NO-TOUCH", "ON")
    raw.call("GET", "idle")
    assert raw.call("OBJECT", "IDLETIME", "idle") >= 2  # NO-TOUCH: reads do not count
    raw.call("TOUCH", "idle")  # ... but TOUCH does
    assert raw.call("OBJECT", "IDLETIME", "idle") == 0
    raw.call("CLIENT", "NO-TOUCH", "OFF")
    raw.call("GET", "busy")
    assert raw.call("OBJECT", "IDLETIME", "busy") == 0
    # OBJECT, TYPE, TTL and EXISTS are not accesses (Redis's LOOKUP_NOTOUCH).
    with RawClient(server.port) as other:
        time.sleep(1.1)
        other.call("TYPE", "busy")
        other.call("TTL", "busy")
        other.call("EXISTS", "busy")
        assert other.call("OBJECT", "IDLETIME", "busy") >= 1


def test_no_touch_applies_from_the_next_command_of_a_pipeline(server):
    """On a shard port too, where CLIENT NO-TOUCH and GET arrive in one read."""
    from cluster.slots import key_slot

    key = next("nt%d" % i for i in range(100) if key_slot(b"nt%d" % i) < 8192)
    with RawClient(server.shard_ports[0]) as shard:
        shard.call("SET", key, "v")
        time.sleep(1.1)
        replies = shard.pipeline([("CLIENT", "NO-TOUCH", "ON"), ("GET", key),
                                  ("OBJECT", "IDLETIME", key), ("CLIENT", "NO-TOUCH", "OFF"),
                                  ("GET", key), ("OBJECT", "IDLETIME", key)])
        assert replies[1] == b"v" and replies[2] >= 1
        assert replies[4] == b"v" and replies[5] == 0
        shard.call("DEL", key)
