"""Eviction on real processes: a shard over its share of maxmemory evicts by
its policy (shardnode/eviction.py); the evicted keys are journalled as DEL,
invalidate WATCH and count in INFO's evicted_keys.

One shard keeps the arithmetic plain: the limit is set from the shard's own
used_memory (INFO memory) once the keys are loaded, so shrinking it evicts
down to it at once (Redis does it at the next command).
"""

import time

import hiredis
import pytest

from tests.helpers import RawClient, start_with_secret

SECRET = "eviction-test-secret"


def _info(client, section="memory") -> dict:
    text = client.call("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines()
                if ":" in line and not line.startswith("#"))


def _used(client) -> int:
    return int(_info(client)["used_memory"])


def _load(client, names, value=b"v" * 100, ttls=None):
    commands = [["SET", name, value] for name in names]
    if ttls is not None:
        commands = [["SET", name, value, "PX", ttl] for name, ttl in zip(names, ttls)]
    assert client.pipeline(commands) == [b"OK"] * len(names)


def _shrink_to(client, fraction: float, fits: bool = True) -> int:
    """Set maxmemory to ``fraction`` of what is used now; evicted keys."""
    before = int(_info(client, "stats")["evicted_keys"])
    limit = int(_used(client) * fraction)
    assert client.call("CONFIG", "SET", "maxmemory", limit) == b"OK"
    client.call("PING")
    assert (_used(client) <= limit) == fits
    return int(_info(client, "stats")["evicted_keys"]) - before


def _alive(client, names) -> set:
    replies = client.pipeline([["EXISTS", name] for name in names])
    return {name for name, n in zip(names, replies) if n == 1}


def _server(policy, **options):
    return start_with_secret(SECRET, shards=1, maxmemory_policy=policy, **options)


def test_allkeys_lru_evicts_the_keys_not_touched_since():
    proc = _server("allkeys-lru", maxmemory_samples=10)
    try:
        with RawClient(proc.port) as client:
            cold = ["cold:%d" % i for i in range(600)]
            hot = ["hot:%d" % i for i in range(300)]
            _load(client, cold + hot)
            time.sleep(2.1)  # the LRU clock counts seconds
            assert client.pipeline([["GET", name] for name in hot]) == [b"v" * 100] * 300
            evicted = _shrink_to(client, 0.6)
            assert evicted >= 300
            assert len(_alive(client, cold)) == 600 - evicted
            assert _alive(client, hot) == set(hot)
            assert client.call("OBJECT", "IDLETIME", "hot:1") <= 1
    finally:
        proc.stop()


def test_allkeys_lfu_keeps_the_frequently_read():
    proc = _server("allkeys-lfu", maxmemory_samples=10)
    try:
        with RawClient(proc.port) as client:
            rare = ["rare:%d" % i for i in range(600)]
            frequent = ["freq:%d" % i for i in range(300)]
            _load(client, rare + frequent)
            for _ in range(30):
                client.pipeline([["GET", name] for name in frequent])

            def mean_freq(names):
                return sum(client.pipeline([["OBJECT", "FREQ", n] for n in names])) / len(names)
            # A rare key sharing a table word with a frequent one reads as frequent.
            assert mean_freq(frequent) >= 7 > mean_freq(rare)
            evicted = _shrink_to(client, 0.6)
            assert evicted >= 300
            assert _alive(client, frequent) == set(frequent)
    finally:
        proc.stop()


def test_volatile_ttl_evicts_the_nearest_deadlines_and_spares_persistent_keys():
    proc = _server("volatile-ttl")
    try:
        with RawClient(proc.port) as client:
            persistent = ["p:%d" % i for i in range(500)]
            volatile = ["t:%d" % i for i in range(500)]
            _load(client, persistent)
            _load(client, volatile, ttls=[str(100_000 + 100 * i) for i in range(500)])
            evicted = _shrink_to(client, 0.7)
            assert 0 < evicted < 500
            assert _alive(client, persistent) == set(persistent)
            # the nearest deadlines went: exactly the first ``evicted`` keys
            assert _alive(client, volatile) == set(volatile[evicted:])
    finally:
        proc.stop()


def test_volatile_lru_with_no_ttl_keys_answers_oom():
    proc = _server("volatile-lru")
    try:
        with RawClient(proc.port) as client:
            _load(client, ["p:%d" % i for i in range(300)])
            assert _shrink_to(client, 0.5, fits=False) == 0
            reply = client.call("SET", "another", "v")
            assert str(reply).startswith("OOM"), reply
            assert client.call("DBSIZE") == 300
    finally:
        proc.stop()


def test_eviction_journals_del_and_invalidates_watch():
    proc = _server("allkeys-random")
    try:
        with RawClient(proc.port) as client, RawClient(proc.port) as watcher, \
                RawClient(proc.shard_ports[0]) as link:
            assert _link_reply(link, "DF.LINK", SECRET, "0") == b"OK"
            names = ["k:%d" % i for i in range(400)]
            _load(client, names)
            for name in names:
                assert watcher.call("WATCH", name) == b"OK"
            assert watcher.call("MULTI") == b"OK"
            assert watcher.call("PING") == b"QUEUED"
            evicted = _shrink_to(client, 0.5)
            assert evicted > 0
            assert watcher.call("EXEC") is None  # a watched key was evicted
            gone = set(names) - _alive(client, names)
            assert len(gone) == evicted
            journal = _link_reply(link, "DF.JOURNAL", str(evicted))
            dels = {args[1].decode() for args in journal if args[0] == b"DEL"}
            assert dels == gone
            assert int(_info(client, "stats")["evicted_keys"]) == evicted
    finally:
        proc.stop()


def test_cache_mode_keeps_serving_and_evicts_under_a_writer():
    proc = _server("noeviction", cache_mode="yes")
    try:
        with RawClient(proc.port) as client:
            _load(client, ["k:%d" % i for i in range(300)])
            limit = _used(client)
            assert client.call("CONFIG", "SET", "maxmemory", limit) == b"OK"
            for start in range(300, 1500, 300):
                _load(client, ["k:%d" % i for i in range(start, start + 300)])
                assert _used(client) <= limit * 1.05
            assert int(_info(client, "stats")["evicted_keys"]) >= 1000
            assert client.call("CONFIG", "GET", "cache_mode") == [b"cache_mode", b"yes"]
    finally:
        proc.stop()


@pytest.mark.parametrize("policy, cache_mode", [("allkeys-lru", "no"), ("noeviction", "yes")])
def test_a_scan_of_cold_keys_does_not_flush_hot_keys_in_cache_mode(policy, cache_mode):
    """1,000 hot keys (filled on a miss, read three times more) fill the
    limit; a one-pass scan of 3,000 never-seen keys (GET, miss, SET) follows.
    allkeys-lru loses the hot keys to the scan (the control: the scenario
    does flush an LRU cache); cache mode keeps them and rejects the scan."""
    proc = _server(policy, cache_mode=cache_mode)
    try:
        with RawClient(proc.port) as client:
            hot = ["hot:%d" % i for i in range(1000)]
            assert client.pipeline([["GET", name] for name in hot]) == [None] * len(hot)
            _load(client, hot)
            assert client.call("CONFIG", "SET", "maxmemory", _used(client)) == b"OK"
            for _ in range(3):
                assert None not in client.pipeline([["GET", name] for name in hot])
            for start in range(0, 3000, 500):
                cold = ["cold:%d" % i for i in range(start, start + 500)]
                assert client.pipeline([["GET", name] for name in cold]) == [None] * len(cold)
                _load(client, cold)
            assert int(_info(client, "stats")["evicted_keys"]) >= 2900
            alive = len(_alive(client, hot))
            if cache_mode == "yes":
                assert alive >= 900  # a probationary hot key may lose a tie
            else:
                assert alive <= 100
    finally:
        proc.stop()


def _link_reply(link, *args):
    """A request's reply on a raw shard link, past the out-of-band frames
    the shard sends there too (replies are wrapped bulk strings, frames are
    arrays: its memory state ``F`` under a limit, shardnode/node.py)."""
    reply = link.call(*args)
    while isinstance(reply, list):
        reply = link.read()
    return _unwrap(reply)


def _unwrap(data):
    reader = hiredis.Reader()
    reader.feed(data)
    return reader.gets()
