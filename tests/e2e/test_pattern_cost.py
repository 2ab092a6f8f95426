"""Hostile glob patterns through the proxy: KEYS and SCAN MATCH answer promptly
and other clients keep being served (a backtracking matcher pinned a shard)."""

import threading
import time

import pytest

from tests.helpers import RawClient, names_on_shard

PATHOLOGICAL = [
    b"a*a*a*a*a*a*a*a*a*a*b",
    b"*?*?*?*?*?*?*?*?x",
    b"[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*b",
    b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
]


def _fill(raw):
    """Keys of 40 'a's (and longer) on both shards, plus ordinary ones."""
    keys = [b"a" * n for n in range(40, 80)]
    keys += [k.encode() for k in names_on_shard(0, 50) + names_on_shard(1, 50)]
    raw.pipeline([("SET", k, "v") for k in keys])
    return keys


@pytest.mark.exclusive
def test_keys_and_scan_match_answer_promptly(raw):
    _fill(raw)
    for pattern in PATHOLOGICAL:
        started = time.monotonic()
        assert raw.call("KEYS", pattern) == []
        cursor, found = b"0", []
        while True:
            cursor, page = raw.call("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
            found += page
            if cursor == b"0":
                break
        assert found == []
        assert time.monotonic() - started < 1.0, pattern
    assert sorted(raw.call("KEYS", b"a*a*a*a*a*a*a*a*a*a*")) == sorted(
        b"a" * n for n in range(40, 80))


@pytest.mark.exclusive
def test_other_clients_are_served_during_hostile_keys(server, raw):
    _fill(raw)
    stop = threading.Event()
    rounds = []

    def hostile():
        with RawClient(server.port) as client:
            while not stop.is_set():
                for pattern in PATHOLOGICAL:
                    client.call("KEYS", pattern)
                rounds.append(1)

    thread = threading.Thread(target=hostile)
    thread.start()
    try:
        worst = 0.0
        with RawClient(server.port) as other:
            for i in range(100):
                started = time.monotonic()
                assert other.call("SET", "k%d" % i, "v") == b"OK"
                assert other.call("PING") == b"PONG"
                worst = max(worst, time.monotonic() - started)
                time.sleep(0.005)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert rounds  # the hostile client got its answers too
    assert worst < 0.5
