"""Scripts inside MULTI/EXEC whose keys are on several shards, declared or
not: EXEC runs with every shard locked (proxy/script_proxy.py), atomically,
with replies compared with a real redis-server, WATCH honoured, and a
concurrency test whose readers never see half a transfer."""

from __future__ import annotations

import threading

import redis

from tests.helpers import RawClient, names_on_shard

A, A2 = names_on_shard(0, 2, "m")
B, B2 = names_on_shard(1, 2, "m")

# Moves ARGV[3] from ARGV[1] to ARGV[2]; no keys declared.
TRANSFER = ("local from = tonumber(redis.call('get', ARGV[1]) or '0') "
            "if from < tonumber(ARGV[3]) then return 0 end "
            "redis.call('decrby', ARGV[1], ARGV[3]) redis.call('incrby', ARGV[2], ARGV[3]) "
            "return 1")
LIBRARY = """#!lua name=multilib
redis.register_function('move_declared', function(keys, args)
  redis.call('decrby', keys[1], args[1]) return redis.call('incrby', keys[2], args[1]) end)
redis.register_function('move_undeclared', function(keys, args)
  redis.call('decrby', args[1], args[3]) return redis.call('incrby', args[2], args[3]) end)
"""


def _transaction(diff, *commands):
    diff.run("MULTI")
    for args in commands:
        diff.run(*args)
    return diff.run("EXEC")


def test_undeclared_keys_on_two_shards_inside_multi(diff):
    diff.run("MSET", A, "10", B, "5")
    _transaction(diff, ("SET", A2, "before"),
                 ("EVAL", TRANSFER, "0", A, B, "3"),
                 ("MGET", A, B, A2),
                 ("EVAL", "return {redis.call('get', ARGV[1]), redis.call('dbsize')}", "0", B),
                 ("INCR", B2))
    diff.run("MGET", A, B, A2, B2)


def test_declared_keys_on_two_shards_inside_multi(diff):
    diff.run("MSET", A, "1", B, "2")
    _transaction(diff, ("EVAL", "redis.call('incr', KEYS[1]) return redis.call('incr', KEYS[2])",
                        "2", A, B),
                 ("EVAL", "return redis.call('mget', KEYS[1], KEYS[2])", "2", B, A),
                 ("GET", A))


def test_evalsha_and_errors_inside_multi(diff):
    sha = diff.run("SCRIPT", "LOAD", TRANSFER)
    diff.run("SET", B, "4")
    _transaction(diff, ("EVALSHA", sha, "0", B, A, "4"),
                 ("EVALSHA", "f" * 40, "0"),
                 ("EVAL", "return redis.call('nosuch')", "0"),
                 ("EVAL", "return redis.call('lpush', ARGV[1], 'x')", "0", A),
                 ("EVALSHA", sha, "0", A, B, "1"),
                 ("SELECT", "2"),
                 ("EVAL", TRANSFER, "0", A, B, "1"),
                 ("SET", A, "in2"),
                 ("SELECT", "0"))
    diff.run("MGET", A, B)
    diff.run("SELECT", "2")
    diff.run("MGET", A, B)
    diff.run("FLUSHDB")
    diff.run("SELECT", "0")


def test_functions_inside_multi(diff):
    diff.run("FUNCTION", "LOAD", "REPLACE", LIBRARY)
    diff.run("MSET", A, "10", B, "10")
    _transaction(diff, ("FCALL", "move_declared", "2", A, B, "2"),
                 ("FCALL", "move_undeclared", "0", B, A, "5"),
                 ("FCALL", "move_undeclared", "1", A2, A, B2, "1"),
                 ("MGET", A, B, B2))
    diff.run("FUNCTION", "DELETE", "multilib")


def test_watch_aborts_an_exec_with_scripts(diff, server):
    for client in (diff.ref, diff.ours):
        client.call("SET", B, "1")
    diff.run("WATCH", B)
    port = server.port
    with RawClient(port) as other:
        other.call("SET", B, "2")
    diff.ref.call("SET", B, "2")
    _transaction(diff, ("EVAL", TRANSFER, "0", B, A, "1"))
    diff.run("MGET", A, B)
    diff.run("WATCH", A)
    _transaction(diff, ("EVAL", TRANSFER, "0", B, A, "1"))
    diff.run("MGET", A, B)


def test_transfers_in_multi_are_atomic_under_concurrent_readers(server):
    accounts = [A, A2, B, B2]
    setup = redis.Redis(port=server.port, socket_timeout=30)
    setup.flushall()
    setup.mset({name: 100 for name in accounts})
    failures: list = []
    done = threading.Event()

    def transfers(seed):
        client = redis.Redis(port=server.port, socket_timeout=30)
        try:
            for i in range(150):
                src, dst = accounts[(seed + i) % 4], accounts[(seed + 2 * i + 1) % 4]
                pipe = client.pipeline(transaction=True)
                pipe.incr("ops:%d" % seed)
                pipe.eval(TRANSFER, 0, src, dst, (i % 5) + 1)
                pipe.eval(TRANSFER, 0, dst, src, 1)
                pipe.execute()
        except Exception as exc:
            failures.append(repr(exc))

    def reader():
        client = redis.Redis(port=server.port, socket_timeout=30)
        while not done.is_set():
            total = sum(int(v) for v in client.mget(accounts))
            if total != 400:
                failures.append("saw a total of %d" % total)
                return

    writers = [threading.Thread(target=transfers, args=(n,)) for n in range(3)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join(120)
    done.set()
    for t in readers:
        t.join(30)
    assert not failures, failures[:3]
    assert sum(int(v) for v in setup.mget(accounts)) == 400
    assert [int(setup.get("ops:%d" % n)) for n in range(3)] == [150] * 3


def test_functions_with_undeclared_keys_of_other_shards_run_in_proxy_mode(diff):
    """Outside MULTI too: a function touching another shard's key is handed
    back with its library's code and runs in the proxy, pipelined or not."""
    diff.run("FUNCTION", "LOAD", "REPLACE", LIBRARY)
    diff.run("MSET", A, "10", B, "10")
    for _ in range(3):
        diff.run("FCALL", "move_undeclared", "0", A, B, "2")
        diff.run("FCALL", "move_undeclared", "1", B2, B, A2, "1")
    diff.run("MGET", A, B, A2, B2)
    expected = diff.ref.pipeline([("FCALL", "move_undeclared", "0", B, A, "1"), ("MGET", A, B)])
    assert diff.ours.pipeline([("FCALL", "move_undeclared", "0", B, A, "1"),
                               ("MGET", A, B)]) == expected
    diff.run("FUNCTION", "LOAD", "REPLACE", LIBRARY.replace("decrby', args[1]", "incrby', args[1]"))
    diff.run("FCALL", "move_undeclared", "0", A, B, "2")  # the new code, not a stale copy
    diff.run("MGET", A, B)
    diff.run("FUNCTION", "DELETE", "multilib")
