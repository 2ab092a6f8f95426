"""MEMORY and the maxmemory limit against a real redis-server.

OOM: with ``maxmemory 1`` redis-server is always over its limit (its own
startup memory counts); damselfly counts only data, so each of its two
shards first gets a key (``A`` on shard 0, ``B`` on shard 1) to be over its
share too.  Then the replies must match: denyoom commands refused, reads and
DEL served, MULTI/EXEC and scripts refused as Redis 7.0 refuses them.
"""

from __future__ import annotations

import pytest

from tests.conftest import Differential, reference_redis
from tests.helpers import DamselflyProcess, Err, RawClient, names_on_shard

A, A2 = names_on_shard(0, 2, "a")
B, B2 = names_on_shard(1, 2, "b")
OOM = Err("OOM command not allowed when used memory > 'maxmemory'.")


@pytest.fixture(scope="module")
def server():
    """This module's own server: it changes maxmemory."""
    with DamselflyProcess(shards=2) as proc:
        yield proc


@pytest.fixture(scope="module")
def redis_ref():
    """This module's own redis-server too: MEMORY DOCTOR's reply depends on
    the memory the server holds, which whatever ran before on a shared one
    leaves behind (under xdist, any file may run before this one)."""
    yield from reference_redis()


@pytest.fixture
def oom(diff):
    """Both servers over maxmemory (see module doc); limits lifted after."""
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    diff.run("CONFIG", "SET", "maxmemory", "1")
    yield diff
    diff.run("CONFIG", "SET", "maxmemory", "0")


def test_memory_subcommands_and_their_errors(diff):
    diff.run("SET", "s", "hello")
    diff.run("MEMORY", "HELP")
    diff.run("MEMORY", "USAGE", "nokey")
    diff.run("MEMORY", "USAGE", "s", "SAMPLES", "x")
    diff.run("MEMORY", "USAGE", "s", "SAMPLES", "-1")
    diff.run("MEMORY", "USAGE", "s", "FOO", "1")
    diff.run("MEMORY", "USAGE", "s", "SAMPLES")
    diff.run("MEMORY", "USAGE")
    diff.run("MEMORY", "nosuch")
    diff.run("MEMORY")
    diff.run("MEMORY", "PURGE")
    diff.run("MEMORY", "DOCTOR")  # little data: Redis's fixed reply
    diff.run("MEMORY", "STATS", "extra")
    expected, actual = diff.both("MEMORY", "USAGE", "s", "SAMPLES", "0")
    assert isinstance(expected, int) and isinstance(actual, int) and actual > 0
    expected, actual = diff.both("MEMORY", "STATS")
    names = lambda reply: [n for n in reply[::2] if not n.startswith(b"db.")]  # noqa: E731
    assert names(actual) == names(expected)
    for name in ("memory|usage", "memory|stats", "memory|doctor", "memory|purge",
                 "memory|malloc-stats", "memory|help"):
        diff.run("COMMAND", "INFO", name)
    expected, actual = diff.both("COMMAND", "INFO", "memory")
    for reply in (expected, actual):
        reply[0][9].sort()  # subcommands: Redis lists them in its dict's order
    assert actual == expected


def test_denyoom_commands_refused_reads_and_deletes_served(oom):
    oom.run("SET", A2, "2")
    oom.run("GET", A)
    oom.run("INCR", A)
    oom.run("LPUSH", B2, "x")
    oom.run("APPEND", A, "x")
    oom.run("SETRANGE", B, "0", "x")
    oom.run("EXPIRE", A, "100")  # not denyoom
    oom.run("PERSIST", A)
    oom.run("DEL", A)
    oom.run("EXISTS", A, B)
    oom.run("MSET", A, "1", B, "2")  # keys on both shards


def test_exec_refused_when_memory_runs_out_after_queueing(diff, server, redis_ref):
    """Through the proxy, which queues MULTI itself, a shard refuses the
    queued writes at EXEC; Redis refuses them at EXEC too when memory ran out
    after they were queued (while over the limit it refuses them as they are
    queued: see the shard-port test below)."""
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    for client in (diff.ref, diff.ours):
        assert client.call("MULTI") == b"OK"
        assert client.call("SET", A2, "1") == b"QUEUED"
        assert client.call("GET", A) == b"QUEUED"
    with RawClient(redis_ref.port, redis_ref.host) as ref, RawClient(server.port) as ours:
        Differential(ref, ours).run("CONFIG", "SET", "maxmemory", "1")
        try:
            diff.run("EXEC")
            diff.run("EXEC")  # the transaction ended
            diff.run("GET", A2)
        finally:
            Differential(ref, ours).run("CONFIG", "SET", "maxmemory", "0")


def test_queueing_in_multi_is_refused_on_a_shard_port(server, redis_ref):
    """A shard port answers MULTI as one Redis does: every command queued
    while over maxmemory is refused, and EXEC then aborts."""
    (key,) = names_on_shard(0, 1, "q")
    with RawClient(redis_ref.port, redis_ref.host) as ref, \
            RawClient(server.shard_ports[0]) as shard:
        both = Differential(ref, shard)
        both.run("SET", key, "1")
        both.run("CONFIG", "SET", "maxmemory", "1")
        try:
            both.run("MULTI")
            both.run("SET", key, "2")
            both.run("GET", key)
            both.run("EXEC")
            both.run("MULTI")
            both.run("DISCARD")
        finally:
            both.run("CONFIG", "SET", "maxmemory", "0")


SCRIPTS = [
    "return redis.call('set',KEYS[1],'v')",
    "return redis.call('get',KEYS[1])",
    "redis.call('get',KEYS[1]) return redis.call('set',KEYS[1],'v')",
    "#!lua\nreturn redis.call('get',KEYS[1])",
    "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])",
    "#!lua flags=allow-oom\nreturn redis.call('set',KEYS[1],'v')",
    "return redis.pcall('set',KEYS[1],'v')",
    "return redis.call('del',KEYS[1])",
    "#!lua\nreturn redis.call('del',KEYS[1])",
]


@pytest.mark.parametrize("body", SCRIPTS)
def test_scripts_refused_as_redis_refuses_them(oom, body):
    oom.run("EVAL", body, "1", A)


def test_functions_refused_unless_allowed(diff):
    library = ("#!lua name=memlib\n"
               "redis.register_function('w', function(k) return redis.call('set',k[1],'v') end)\n"
               "redis.register_function{function_name='r', callback=function(k) "
               "return redis.call('get',k[1]) end, flags={'no-writes'}}\n"
               "redis.register_function{function_name='o', callback=function(k) "
               "return redis.call('set',k[1],'v') end, flags={'allow-oom'}}")
    diff.run("FUNCTION", "LOAD", "REPLACE", library)
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    diff.run("CONFIG", "SET", "maxmemory", "1")
    try:
        for name in ("w", "r", "o"):
            diff.run("FCALL", name, "1", A)
        diff.run("FUNCTION", "LOAD", "REPLACE", library)  # denyoom
    finally:
        diff.run("CONFIG", "SET", "maxmemory", "0")
        diff.run("FUNCTION", "DELETE", "memlib")


def test_info_memory_fields_as_redis_names_them(diff):
    expected, actual = diff.both("INFO", "memory")
    names = lambda text: [line.split(":")[0] for line in text.decode().splitlines()  # noqa: E731
                          if ":" in line]
    ours = names(actual)
    for field in ("used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak",
                  "used_memory_dataset", "maxmemory", "maxmemory_human", "maxmemory_policy",
                  "mem_fragmentation_ratio", "mem_allocator"):
        assert field in names(expected) and field in ours
    assert [n for n in ours if n in names(expected)] == [n for n in names(expected) if n in ours]
