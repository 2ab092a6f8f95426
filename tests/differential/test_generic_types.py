"""The generic keyspace commands over every container type, against redis-server.

Each type is built in each of its encodings, on a key of each shard, then
TYPE, SCAN TYPE, OBJECT, EXISTS, COPY (same shard, across shards, to another
database), RENAME/RENAMENX across shards, MOVE, DUMP/RESTORE, the TTL family
and DEL/UNLINK must answer as Redis does, and the values must read back the
same.
"""

import pytest

from tests.helpers import names_on_shard

K0, D0 = names_on_shard(0, 2, "gt")
K1, D1 = names_on_shard(1, 2, "gt")

# type name, encoding label, the commands building it, a command reading it whole
BUILDS = [
    ("hash", "listpack", [("HSET", "{k}", "f", "v", "g", "1")], ("HGETALL", "{k}")),
    ("hash", "hashtable", [("HSET", "{k}", "f", "x" * 100)], ("HGETALL", "{k}")),
    ("list", "quicklist", [("RPUSH", "{k}", "a", "b", "3")], ("LRANGE", "{k}", 0, -1)),
    ("set", "intset", [("SADD", "{k}", 1, 2, 3)], ("SMEMBERS", "{k}")),
    ("set", "hashtable", [("SADD", "{k}", "a", "b")], ("SMEMBERS", "{k}")),
    ("zset", "listpack", [("ZADD", "{k}", 1, "a", 2, "b")], ("ZRANGE", "{k}", 0, -1, "WITHSCORES")),
    ("zset", "skiplist", [("ZADD", "{k}", 1, "a" * 100, 2, "b")],
     ("ZRANGE", "{k}", 0, -1, "WITHSCORES")),
]
IDS = ["%s-%s" % (b[0], b[1]) for b in BUILDS]


def _build(diff, build, key):
    for command in build[2]:
        diff.run(*[key if a == "{k}" else a for a in command])


def _read(diff, build, key, unordered=False):
    command = [key if a == "{k}" else a for a in build[3]]
    if build[0] in ("set", "hash"):
        expected, actual = diff.both(*command)
        assert sorted(actual) == sorted(expected), command
        return
    diff.run(*command)


@pytest.mark.parametrize("build", BUILDS, ids=IDS)
@pytest.mark.parametrize("key", [K0, K1])
def test_type_scan_object_exists(diff, build, key):
    _build(diff, build, key)
    diff.run("TYPE", key)
    diff.run("OBJECT", "ENCODING", key)
    diff.run("OBJECT", "REFCOUNT", key)
    diff.run("EXISTS", key, key, "missing")
    for type_name in (build[0], "string"):
        assert _scan_all(diff.ours, type_name) == _scan_all(diff.ref, type_name)
    diff.run("DBSIZE")


def _scan_all(client, type_name) -> list:
    """Every key SCAN TYPE gives, over the whole iteration (cursors are opaque)."""
    cursor, keys = b"0", []
    while True:
        cursor, batch = client.call("SCAN", cursor, "TYPE", type_name, "COUNT", 1000)
        keys += batch
        if cursor == b"0":
            return sorted(keys)


@pytest.mark.parametrize("build", BUILDS, ids=IDS)
@pytest.mark.parametrize("source,target", [(K0, D0), (K0, K1), (K1, K0)])
def test_copy_rename_move(diff, build, source, target):
    _build(diff, build, source)
    diff.run("COPY", source, target)
    _read(diff, build, target)
    diff.run("OBJECT", "ENCODING", target)
    diff.run("COPY", source, target)  # exists: 0
    diff.run("SET", target, "string")
    diff.run("COPY", source, target, "REPLACE")
    diff.run("TYPE", target)
    diff.run("COPY", source, target, "DB", 3)
    diff.run("SELECT", 3)
    _read(diff, build, target)
    diff.run("SELECT", 0)
    diff.run("RENAMENX", source, target)
    diff.run("DEL", target)
    diff.run("RENAME", source, target)
    diff.run("EXISTS", source)
    _read(diff, build, target)
    diff.run("MOVE", target, 4)
    diff.run("EXISTS", target)
    diff.run("SELECT", 4)
    _read(diff, build, target)
    diff.run("OBJECT", "ENCODING", target)
    diff.run("FLUSHDB")
    diff.run("SELECT", 3)
    diff.run("FLUSHDB")
    diff.run("SELECT", 0)


@pytest.mark.parametrize("build", BUILDS, ids=IDS)
@pytest.mark.parametrize("key", [K0, K1])
def test_dump_restore_ttl_del(diff, build, key):
    _build(diff, build, key)
    payload, ours = diff.both("DUMP", key)
    assert ours is not None
    diff.run("RESTORE", key, 0, payload)  # BUSYKEY
    diff.run("EXPIRE", key, 100)
    diff.run("TTL", key)
    diff.run("PERSIST", key)
    diff.run("PTTL", key)
    diff.run("PEXPIREAT", key, 4102444800000)
    diff.run("PEXPIRETIME", key)
    diff.run("RESTORE", key, 5000, payload, "REPLACE")
    _read(diff, build, key)
    diff.run("OBJECT", "ENCODING", key)
    for client in (diff.ref, diff.ours):  # each server restores its own payload
        assert client.call("RESTORE", key + "x", 0, client.call("DUMP", key)) == b"OK"
    _read(diff, build, key + "x")
    diff.run("DEL", key, "missing")
    diff.run("UNLINK", key + "x", "missing")
    diff.run("EXISTS", key, key + "x")
    diff.run("TYPE", key)
