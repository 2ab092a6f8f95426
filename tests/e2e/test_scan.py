"""SCAN through the proxy walks every shard with one cursor and never misses a
key that exists for the whole scan, whatever else is written meanwhile."""

import random

from cluster.slots import key_slot
from tests.helpers import DamselflyProcess, RawClient


def _scan(client, *options, cursor=b"0"):
    """Every (cursor, keys) page of one full scan."""
    pages = []
    while True:
        cursor, keys = client.call("SCAN", cursor, *options)
        pages.append((cursor, keys))
        if cursor == b"0":
            return pages
        assert len(pages) < 50000


def test_scan_misses_nothing_while_keys_come_and_go(server, raw):
    stable = ["stable:%d" % i for i in range(3000)]
    doomed = ["doomed:%d" % i for i in range(1000)]
    for chunk in range(0, len(stable), 500):
        raw.pipeline([("SET", k, "v") for k in stable[chunk:chunk + 500]])
    raw.pipeline([("SET", k, "v") for k in doomed])
    rng = random.Random(7)
    rng.shuffle(doomed)
    seen, added = [], []
    cursor, calls = b"0", 0
    with RawClient(server.port) as writer:
        while True:
            cursor, keys = raw.call("SCAN", cursor, "COUNT", "40")
            seen.extend(keys)
            calls += 1
            # Between pages, another client deletes some keys and adds others.
            batch = [("DEL", doomed.pop())] if doomed else []
            name = "new:%d" % calls
            added.append(name)
            writer.pipeline(batch + [("SET", name, "v")])
            if cursor == b"0":
                break
            assert calls < 10000
    seen = {k.decode() for k in seen}
    assert set(stable) <= seen  # present for the whole scan: returned
    assert seen <= set(stable) | {"doomed:%d" % i for i in range(1000)} | set(added)
    assert calls > 50  # COUNT was honoured, pages were small


def test_scan_cursor_moves_from_shard_to_shard(raw):
    keys = ["k%d" % i for i in range(200)]
    raw.pipeline([("SET", k, "v") for k in keys])
    pages = _scan(raw, "COUNT", "10")
    cursors = [int(c) for c, _ in pages[:-1]]
    assert cursors == sorted(cursors)  # slot numbers, walked in order
    assert 8192 in cursors or any(c > 8192 for c in cursors)  # into shard 1
    seen = [k for _, page in pages for k in page]
    assert sorted(seen) == sorted(k.encode() for k in keys)
    for cursor, page in pages:  # every key of a page lives below the next cursor
        if cursor != b"0":
            assert all(key_slot(k) < int(cursor) for k in page)


def test_scan_an_empty_database_and_other_databases(raw):
    assert [k for _, page in _scan(raw) for k in page] == []
    raw.call("SELECT", "2")
    raw.pipeline([("SET", "db2:%d" % i, "v") for i in range(30)])
    seen = [k for _, page in _scan(raw, "MATCH", "db2:*") for k in page]
    assert len(seen) == 30
    raw.call("SELECT", "0")
    assert [k for _, page in _scan(raw) for k in page] == []


def test_scan_iter_with_redis_py(r):
    r.mset({"user:%d" % i: i for i in range(500)})
    r.mset({"other:%d" % i: i for i in range(100)})
    assert sorted(r.scan_iter(match="user:*", count=25)) == sorted(
        ("user:%d" % i).encode() for i in range(500))
    assert len(list(r.scan_iter(_type="string"))) == 600
    assert list(r.scan_iter(_type="hash")) == []


def test_scan_directly_on_each_shard_in_sharded_mode():
    """Cluster clients scan each node with cursor 0; together they see all."""
    with DamselflyProcess(shards=2, cluster_mode="sharded") as proc:
        keys = {("key:%d" % i).encode() for i in range(600)}
        with RawClient(proc.port) as client:  # the proxy routes each key to its shard
            assert client.pipeline([("SET", k, "v") for k in keys]) == [b"OK"] * len(keys)
        union = []
        for index, port in enumerate(proc.shard_ports):
            with RawClient(port) as shard:
                page_keys = [k for _, page in _scan(shard, "COUNT", "50") for k in page]
                assert page_keys
                for key in page_keys:
                    assert (key_slot(key) >= 8192) == bool(index)
                union.extend(page_keys)
                # A cursor outside the shard's range ends the scan at once.
                other = b"100" if index else b"9000"
                assert shard.call("SCAN", other) == [b"0", []]
        assert sorted(union) == sorted(keys)


def test_scan_crosses_every_shard_of_three():
    with DamselflyProcess(shards=3) as proc, RawClient(proc.port) as raw:
        keys = {("k:%d" % i).encode() for i in range(900)}
        raw.pipeline([("SET", k, "v") for k in keys])
        pages = _scan(raw, "COUNT", "100")
        cursors = [int(c) for c, _ in pages]
        firsts = [5461, 10922]  # each later shard's first slot (split_slots(3))
        assert all(any(c >= f for c in cursors[:-1]) for f in firsts)
        assert cursors[-1] == 0
        seen = [k for _, page in pages for k in page]
        assert len(seen) == len(keys) and set(seen) == keys
        assert raw.call("DBSIZE") == 900
        assert raw.call("EXISTS", *sorted(keys)[:50]) == 50
        assert raw.call("DEL", *sorted(keys)[:50]) == 50
        assert len(raw.call("KEYS", "k:*")) == 850
