"""MULTI/EXEC and scripts under maxmemory (noeviction), refused as Redis 7.0
refuses them -- through the proxy, which queues MULTI itself, and on a
shard port.

Differential tests: with ``maxmemory 1`` redis-server is always out of
memory (its own startup memory counts); damselfly counts only data, so each
of its two shards first gets a key (``A`` on shard 0, ``B`` on shard 1) to
be over its share too.  Then queueing, EXEC and scripts must answer alike.

Cross-shard tests (damselfly alone): one shard over its share, the other
not -- a big value on shard 1, ``maxmemory`` 4 MB (2 MB a shard).  A
command queued for the full shard is refused as it is queued; an EXEC that
spans both shards and meets the full one is refused whole, the other
shard's part not run.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import Differential
from tests.helpers import DamselflyProcess, Err, RawClient, clients_on_both_workers, names_on_shard

A, A2, A3 = names_on_shard(0, 3, "a")
B, B2, B3 = names_on_shard(1, 3, "b")
OOM = Err("OOM command not allowed when used memory > 'maxmemory'.")
EXECABORT_OOM = Err("EXECABORT Transaction discarded because of: "
                    "OOM command not allowed when used memory > 'maxmemory'.")
EXECABORT = Err("EXECABORT Transaction discarded because of previous errors.")
BIG = "x" * (3 << 20)


@pytest.fixture(scope="module")
def server():
    """This module's own server: it changes maxmemory."""
    with DamselflyProcess(shards=2) as proc:
        yield proc


def _pair(server, redis_ref, shard_port=False):
    ours = RawClient(server.shard_ports[0] if shard_port else server.port)
    return Differential(RawClient(redis_ref.port, redis_ref.host), ours)


@pytest.fixture(params=["proxy", "shard"])
def both(request, server, redis_ref):
    """A client of each server -- damselfly's through the proxy or on shard
    0's port -- and a second one (through the proxy) to change maxmemory
    while the first is inside MULTI; every limit lifted and every key gone
    after."""
    main = _pair(server, redis_ref, shard_port=request.param == "shard")
    other = _pair(server, redis_ref)
    for pair in (main, other):
        pair.run("FLUSHALL")
    yield main, other
    other.run("CONFIG", "SET", "maxmemory", "0")
    other.run("FLUSHALL")
    for pair in (main, other):
        pair.ref.close()
        pair.ours.close()


def _out_of_memory(diff, *keys) -> None:
    """Both servers out of memory: every shard holds a key (module doc)."""
    for key in keys or (A, B):
        diff.run("SET", key, "1")
    diff.run("CONFIG", "SET", "maxmemory", "1")
    _settle(diff.ours)


def _settle(client) -> None:
    """The shards tell the proxy their memory state right behind the reply
    that changed it; a DBSIZE (it goes to every shard) through the
    client's worker makes sure its links carried it."""
    client.call("DBSIZE")


# -- queueing while out of memory (proxy and shard port) ------------------------------


@pytest.mark.parametrize("port", ["proxy", "shard"])
def test_commands_queued_while_out_of_memory_are_refused_and_exec_aborts(
        server, redis_ref, port):
    diff = _pair(server, redis_ref, shard_port=port == "shard")
    other = _pair(server, redis_ref)
    try:
        other.run("FLUSHALL")
        _out_of_memory(other, A, B) if port == "proxy" else _out_of_memory(other, A)
        diff.run("MULTI")
        assert diff.run("SET", A2, "1") == OOM  # denyoom
        diff.run("GET", A)  # not denyoom: refused all the same inside MULTI
        diff.run("DEL", A)
        diff.run("MULTI")  # nested: OOM before its own error
        diff.run("WATCH", A)
        assert diff.run("EXEC") == EXECABORT
        diff.run("GET", A)
        diff.run("MULTI")
        diff.run("DISCARD")  # never refused
        diff.run("MULTI")
        diff.run("EXEC")  # an empty queue: no denyoom command, EXEC runs
    finally:
        other.run("CONFIG", "SET", "maxmemory", "0")
        other.run("FLUSHALL")


def test_queueing_works_again_once_memory_is_freed(both):
    diff, other = both
    _out_of_memory(other)
    diff.run("MULTI")
    diff.run("SET", A2, "1")
    diff.run("DISCARD")
    other.run("CONFIG", "SET", "maxmemory", "0")
    _settle(other.ours)
    diff.run("MULTI")
    assert diff.run("SET", A2, "1") == b"QUEUED"
    diff.run("EXEC")


# -- EXEC when memory ran out after queueing ------------------------------------------


def test_exec_of_a_doomed_queue_reports_oom_first(both):
    """Redis checks memory before the earlier errors: a queue with a write
    queued before the error gets EXEC's OOM abort."""
    diff, other = both
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    diff.run("MULTI")
    diff.run("SET", A2, "1")
    diff.run("NOSUCH")
    diff.run("SET", B2, "1")  # after the error: not queued (Redis keeps nothing more)
    other.run("CONFIG", "SET", "maxmemory", "1")
    _settle(other.ours)
    assert diff.run("EXEC") == EXECABORT_OOM
    other.run("CONFIG", "SET", "maxmemory", "0")
    diff.run("MULTI")
    diff.run("GET", A)
    diff.run("NOSUCH")
    diff.run("SET", A2, "1")  # queued after the error: its denyoom does not count
    other.run("CONFIG", "SET", "maxmemory", "1")
    _settle(other.ours)
    assert diff.run("EXEC") == EXECABORT


def test_exec_of_reads_runs_while_out_of_memory(both):
    diff, other = both
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    diff.run("MULTI")
    diff.run("GET", A)
    diff.run("MGET", A, B)
    diff.run("DEL", B)
    other.run("CONFIG", "SET", "maxmemory", "1")
    _settle(other.ours)
    diff.run("EXEC")


def test_exec_checks_memory_before_its_watches(both):
    """A watched key changed and memory ran out: the OOM refusal wins (and
    ends the watches); a queue of reads gets the null reply instead."""
    diff, other = both
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    for queued in (("SET", A2, "1"), ("GET", B)):
        diff.run("WATCH", A, B)
        diff.run("MULTI")
        diff.run(*queued)
        other.run("SET", A, "2")
        other.run("CONFIG", "SET", "maxmemory", "1")
        _settle(other.ours)
        diff.run("EXEC")
        other.run("CONFIG", "SET", "maxmemory", "0")
        diff.run("MULTI")
        diff.run("GET", A)
        diff.run("EXEC")  # the watches ended either way


SCRIPTS_IN_MULTI = [
    "#!lua\nreturn 1",  # a shebang without allow-oom: a denyoom command
    "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])",
    "#!lua flags=allow-oom\nreturn redis.call('set',KEYS[1],'v')",
    "return redis.call('set',KEYS[1],'v')",  # no shebang: OOM from its redis.call
    "return redis.pcall('set',KEYS[1],'v')['err']",
    "return redis.call('get',KEYS[1])",
]


@pytest.mark.parametrize("body", SCRIPTS_IN_MULTI)
def test_scripts_queued_before_memory_ran_out(both, body):
    diff, other = both
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    diff.run("MULTI")
    diff.run("EVAL", body, "1", A)
    other.run("CONFIG", "SET", "maxmemory", "1")
    _settle(other.ours)
    diff.run("EXEC")
    diff.run("GET", A)


def test_evalsha_and_fcall_queued_count_by_their_flags(both):
    diff, other = both
    diff.run("SET", A, "1")
    diff.run("SET", B, "1")
    library = ("#!lua name=oomtx\n"
               "redis.register_function('w', function(k) return redis.call('set',k[1],'v') end)\n"
               "redis.register_function{function_name='r', callback=function(k) "
               "return redis.call('get',k[1]) end, flags={'no-writes'}}")
    diff.run("FUNCTION", "LOAD", "REPLACE", library)
    sha = diff.run("SCRIPT", "LOAD", "#!lua\nreturn redis.call('get',KEYS[1])")
    try:
        for queued, expected in ((("EVALSHA", sha, "1", A), EXECABORT_OOM),
                                 (("FCALL", "w", "1", A), EXECABORT_OOM),
                                 (("FCALL", "r", "1", A), None),
                                 (("FCALL_RO", "r", "1", A), None)):
            diff.run("MULTI")
            diff.run(*queued)
            other.run("CONFIG", "SET", "maxmemory", "1")
            _settle(other.ours)
            reply = diff.run("EXEC")
            if expected is not None:
                assert reply == expected, queued
            other.run("CONFIG", "SET", "maxmemory", "0")
    finally:
        other.run("CONFIG", "SET", "maxmemory", "0")
        diff.run("FUNCTION", "DELETE", "oomtx")


# -- scripts started while out of memory ----------------------------------------------


SCRIPT_CALLS = [
    ("EVAL_RO", "#!lua\nreturn redis.call('get',KEYS[1])", "1"),  # OOM before the _ro error
    ("EVAL_RO", "return redis.call('get',KEYS[1])", "1"),  # reads keep working
    ("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1"),
    ("EVAL", "#!lua\nreturn 1", "5"),  # OOM before the numkeys error
    ("EVAL", "return 1", "5"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1"),
    ("EVAL", "local t = redis.pcall('incr',KEYS[1]) return type(t) .. t['err']", "1"),
    ("EVAL", "redis.call('del',KEYS[1]) return redis.call('set',KEYS[1],'v')", "1"),
]


@pytest.mark.parametrize("port", ["proxy", "shard"])
@pytest.mark.parametrize("command, body, numkeys", SCRIPT_CALLS)
def test_scripts_started_while_out_of_memory(server, redis_ref, port, command, body, numkeys):
    diff = _pair(server, redis_ref, shard_port=port == "shard")
    other = _pair(server, redis_ref)
    try:
        other.run("FLUSHALL")
        _out_of_memory(other)
        diff.run(command, body, numkeys, A)
        diff.run("EVALSHA", diff.run("SCRIPT", "LOAD", body), numkeys, A)
        diff.run("GET", A)
    finally:
        other.run("CONFIG", "SET", "maxmemory", "0")
        other.run("FLUSHALL")


ORDER_OF_ERRORS = [
    ("EVALSHA", "0" * 40, "0"),  # unknown: its own flags, then NOSCRIPT
    ("EVAL", "#!lua flags=bogus\nreturn 1", "0"),  # a bad shebang: its error, not OOM
    ("EVAL", "#!python\nreturn 1", "0"),
    ("EVAL", "#!lua\nreturn 1 +", "0"),  # OOM before the compile error
    ("EVAL", "#!lua\nreturn 1", "x"),  # ... and before a bad numkeys
    ("FCALL_RO", "nosuch", "0"),
    ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('incr',KEYS[1])", "1", A),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set',KEYS[1],'v')", "1", A),
]


@pytest.mark.parametrize("port", ["proxy", "shard"])
@pytest.mark.parametrize("call", ORDER_OF_ERRORS)
def test_scripts_out_of_memory_and_their_other_errors(server, redis_ref, port, call):
    diff = _pair(server, redis_ref, shard_port=port == "shard")
    other = _pair(server, redis_ref)
    try:
        other.run("FLUSHALL")
        _out_of_memory(other)
        diff.run(*call)
    finally:
        other.run("CONFIG", "SET", "maxmemory", "0")
        other.run("FLUSHALL")


@pytest.mark.parametrize("port", ["proxy", "shard"])
def test_functions_started_while_out_of_memory_follow_their_flags(server, redis_ref, port):
    diff = _pair(server, redis_ref, shard_port=port == "shard")
    other = _pair(server, redis_ref)
    library = ("#!lua name=oomfn\n"
               "redis.register_function('w', function(k) return redis.call('set',k[1],'v') end)\n"
               "redis.register_function{function_name='r', callback=function(k) "
               "return redis.call('get',k[1]) end, flags={'no-writes'}}\n"
               "redis.register_function{function_name='o', callback=function(k) "
               "return redis.call('set',k[1],'o') end, flags={'allow-oom'}}")
    try:
        other.run("FLUSHALL")
        other.run("FUNCTION", "LOAD", "REPLACE", library)
        _out_of_memory(other)
        diff.run("FCALL_RO", "w", "1", A)  # OOM before the _ro error
        diff.run("FCALL", "w", "9", A)  # OOM before the numkeys error
        diff.run("FCALL_RO", "r", "1", A)
        diff.run("FCALL", "r", "1", A)
        diff.run("FCALL", "o", "1", A)
        diff.run("FCALL", "nosuch", "1", A)
    finally:
        other.run("CONFIG", "SET", "maxmemory", "0")
        other.run("FUNCTION", "DELETE", "oomfn")
        other.run("FLUSHALL")


# -- one shard over its share: cross-shard work is all or nothing ---------------------


@pytest.fixture
def one_full(server):
    """Shard 1 over its share, shard 0 well within it (module doc); the
    limit lifted and the keys gone after.  Yields (client, filler): the
    filler is a second client that makes shard 1 full when called."""
    client, other = RawClient(server.port), RawClient(server.port)
    client.call("FLUSHALL")

    def fill():
        assert other.call("SET", B3, BIG) == b"OK"
        assert other.call("CONFIG", "SET", "maxmemory", "4mb") == b"OK"
        _settle(other)

    try:
        yield client, fill
    finally:
        other.call("CONFIG", "SET", "maxmemory", "0")
        other.call("FLUSHALL")
        client.close()
        other.close()


def test_queued_commands_refused_only_for_the_full_shard(one_full):
    client, fill = one_full
    fill()
    assert client.call("SET", A, "1") == b"OK"
    assert client.call("SET", B, "1") == OOM
    assert client.call("MULTI") == b"OK"
    assert client.call("SET", A2, "1") == b"QUEUED"
    assert client.call("GET", A) == b"QUEUED"
    assert client.call("SET", B2, "1") == OOM
    assert client.call("GET", B3) == OOM  # any command for the full shard
    assert client.call("MSET", A3, "1", B2, "1") == OOM  # one key there is enough
    assert client.call("PING") == OOM  # no keys: any full shard refuses it
    assert client.call("EXEC") == EXECABORT
    assert client.call("EXISTS", A2) == 0
    assert client.call("MULTI") == b"OK"
    assert client.call("SET", A2, "1") == b"QUEUED"
    assert client.call("INCR", A) == b"QUEUED"
    assert client.call("EXEC") == [b"OK", 2]
    assert client.call("DEL", B3) == 1  # memory freed: queueing works again
    assert client.call("MULTI") == b"OK"
    assert client.call("SET", B2, "1") == b"QUEUED"
    assert client.call("EXEC") == [b"OK"]


@pytest.mark.parametrize("watching", [False, True])
def test_cross_shard_exec_is_refused_whole_when_one_shard_runs_out(one_full, watching):
    client, fill = one_full
    if watching:
        assert client.call("WATCH", A, B) == b"OK"
    assert client.call("MULTI") == b"OK"
    for queued in (("SET", A, "1"), ("SET", B, "1"), ("RPUSH", A2, "x")):
        assert client.call(*queued) == b"QUEUED"
    fill()  # after queueing, before EXEC
    assert client.call("EXEC") == EXECABORT_OOM
    assert client.call("EXISTS", A, B, A2) == 0  # shard 0's part did not run
    assert client.call("EXEC") == Err("ERR EXEC without MULTI")
    if watching:  # the refused EXEC ended the watches: a new MULTI runs
        assert client.call("MULTI") == b"OK"
        assert client.call("GET", A) == b"QUEUED"
        assert client.call("EXEC") == [None]


def test_cross_shard_exec_with_only_the_other_shard_writing_runs(one_full):
    """The shard that owns the denyoom command's keys decides: writes to
    shard 0 and reads of shard 1 run while shard 1 is full."""
    client, fill = one_full
    assert client.call("MULTI") == b"OK"
    assert client.call("SET", A, "1") == b"QUEUED"
    assert client.call("STRLEN", B3) == b"QUEUED"
    fill()
    assert client.call("EXEC") == [b"OK", len(BIG)]


def test_cross_shard_exec_with_scripts_is_refused_whole(one_full):
    client, fill = one_full
    sha = client.call("SCRIPT", "LOAD", "#!lua\nreturn redis.call('set',KEYS[1],'s')")
    assert client.call("MULTI") == b"OK"
    assert client.call("SET", A, "1") == b"QUEUED"
    assert client.call("EVAL", "return redis.call('get',KEYS[1])", "1", A) == b"QUEUED"
    assert client.call("EVALSHA", sha, "1", B) == b"QUEUED"  # denyoom by its shebang
    fill()
    assert client.call("EXEC") == EXECABORT_OOM
    assert client.call("EXISTS", A, B) == 0
    assert client.call("MULTI") == b"OK"
    assert client.call("SET", A, "1") == b"QUEUED"
    assert client.call("EVAL", "return redis.call('get',KEYS[1])", "1", A) == b"QUEUED"
    assert client.call("EVALSHA", sha, "1", A) == b"QUEUED"  # shard 0's memory decides
    assert client.call("EXEC") == [b"OK", b"1", b"OK"]
    assert client.call("GET", A) == b"s"


def test_cross_shard_commands_refused_whole(one_full):
    client, fill = one_full
    assert client.call("RPUSH", A, "x") == 1
    fill()
    assert client.call("MSET", A2, "1", B, "1") == OOM
    assert client.call("EXISTS", A2, B) == 0
    assert client.call("LMOVE", A, B, "LEFT", "LEFT") == OOM
    assert client.call("LRANGE", A, "0", "-1") == [b"x"]
    assert client.call("MSETNX", A2, "1", B, "1") == OOM
    assert client.call("EXISTS", A2, B) == 0
    assert client.call("MGET", A2, B3) == [None, BIG.encode()]  # reads run
    replies = client.pipeline([["MSET", A2, "1", A3, "1"], ["MSET", A2, "2", B, "2"],
                               ["MGET", A2, B]])  # pipelined plans: each answered alone
    assert replies == [b"OK", OOM, [b"1", None]]
    assert client.call("DEL", B3) == 1
    _settle(client)
    assert client.call("MSET", A2, "3", B, "3") == b"OK"


def test_shards_tell_the_proxy_their_memory_state(one_full, server):
    """Each proxy link hears when its shard fills up and empties (``F``
    frames): another worker's client is refused and accepted in step."""
    client, fill = one_full
    fill()
    with RawClient(server.shard_ports[1]) as shard:
        assert shard.call("DEL", B3) == 1  # freed behind the proxy's back
    deadline = time.time() + 5
    while True:
        assert client.call("MULTI") == b"OK"
        reply = client.call("SET", B, "1")
        client.call("DISCARD")
        if reply == b"QUEUED" or time.time() > deadline:
            break
        time.sleep(0.05)
    assert reply == b"QUEUED"


def test_scripts_across_shards_refused_whole(one_full):
    """Declared keys on both shards (the coordinator lends them to one
    shard): a script whose flags make it denyoom is refused when either
    shard is full, whichever shard would run it."""
    client, fill = one_full
    body = "#!lua\nredis.call('set',KEYS[1],'1') return redis.call('set',KEYS[2],'2')"
    sha = client.call("SCRIPT", "LOAD", body)
    library = ("#!lua name=oomacross\nredis.register_function('w', function(k) "
               "redis.call('set',k[1],'1') return redis.call('set',k[2],'2') end)")
    assert client.call("FUNCTION", "LOAD", "REPLACE", library) == b"oomacross"
    try:
        fill()
        assert client.call("EVAL", body, "2", A, B) == OOM
        assert client.call("EVALSHA", sha, "2", A, B) == OOM
        assert client.call("FCALL", "w", "2", A, B) == OOM
        assert client.call("EXISTS", A, B) == 0
        allowed = "#!lua flags=allow-oom\n" + body.split("\n", 1)[1]
        assert client.call("EVAL", allowed, "2", A, B) == b"OK"
        assert client.call("MGET", A, B) == [b"1", b"2"]
    finally:
        client.call("FUNCTION", "DELETE", "oomacross")


def test_scripts_without_shebang_across_shards_meet_the_full_shard(one_full):
    """Declared keys on both shards, run on shard 0 with shard 1's keys lent:
    the first denyoom call fails as if the script ran on the full shard, and
    after a write the next ones run (Redis's scriptVerifyOOM)."""
    client, fill = one_full
    fill()
    plain = "return redis.call('set',KEYS[2],'v')"
    reply = client.call("EVAL", plain, "2", A, B)
    assert isinstance(reply, Err) and reply.startswith(OOM + " script: "), reply
    caught = "return redis.pcall('set',KEYS[1],'v')['err']"
    assert client.call("EVAL", caught, "2", A, B) == OOM.encode()
    assert client.call("EXISTS", A, B) == 0
    written = "redis.call('del',KEYS[1]) return redis.call('set',KEYS[2],'v')"
    assert client.call("EVAL", written, "2", A, B) == b"OK"
    assert client.call("GET", B) == b"v"


def test_proxy_mode_scripts_meet_the_full_shard(one_full):
    """A script that reaches an undeclared key of another shard runs in the
    proxy: with a shebang it is refused at its start while any shard is
    full; without one its first denyoom call on the full shard fails (pcall
    sees the error), and after a write the next ones run, as Redis's
    scriptVerifyOOM lets them."""
    client, fill = one_full
    fill()
    shebang = "#!lua\nreturn redis.call('set',ARGV[1],'v')"
    assert client.call("EVAL", shebang, "0", B) == OOM
    assert client.call("EVAL", shebang, "0", B) == OOM  # again, known to need the proxy
    plain = "return redis.call('set',ARGV[1],'v')"
    reply = client.call("EVAL", plain, "0", B)
    assert isinstance(reply, Err) and reply.startswith(OOM + " script: "), reply
    caught = "local t = redis.pcall('set',ARGV[1],'v') return t['err']"
    assert client.call("EVAL", caught, "0", B) == OOM.encode()
    assert client.call("EXISTS", B) == 0
    written = "redis.call('del',ARGV[2]) return redis.call('set',ARGV[1],'v')"
    assert client.call("EVAL", written, "0", B, A) == b"OK"
    allowed = "#!lua flags=allow-oom\nreturn redis.call('set',ARGV[1],'w')"
    assert client.call("EVAL", allowed, "0", B2) == b"OK"
    assert client.call("MGET", B, B2) == [b"v", b"w"]


def test_every_proxy_worker_hears_the_memory_state():
    """A shard filled through one worker: a client of the other worker is
    refused as it queues, and accepted again once the memory is freed.  (The
    other worker hears it on its own link, so a request of its own through
    that link makes sure it has: until then its EXEC would be refused.)"""
    with DamselflyProcess(shards=2, proxy_workers=2, maxmemory="4mb") as proc:
        first, second = clients_on_both_workers(proc.port, 1)
        try:
            assert first.call("SET", B3, BIG) == b"OK"
            _settle(second)
            assert second.call("MULTI") == b"OK"
            assert second.call("SET", A, "1") == b"QUEUED"
            assert second.call("SET", B, "1") == OOM
            assert second.call("EXEC") == EXECABORT
            assert first.call("DEL", B3) == 1
            _settle(second)
            assert second.call("MULTI") == b"OK"
            assert second.call("SET", B, "1") == b"QUEUED"
            assert second.call("EXEC") == [b"OK"]
        finally:
            first.close()
            second.close()


def test_function_load_refused_everywhere_while_one_shard_is_full(one_full, server):
    """FUNCTION LOAD goes to every shard: refused whole, not loaded on the
    shards within their share only (every shard must hold the same libraries)."""
    client, fill = one_full
    library = "#!lua name=oomlib\nredis.register_function('f', function() return 1 end)"
    assert client.call("MULTI") == b"OK"
    assert client.call("FUNCTION", "LOAD", library) == b"QUEUED"
    fill()
    assert client.call("EXEC") == EXECABORT_OOM  # keyless: every shard checked first
    assert client.call("FUNCTION", "LOAD", library) == OOM
    with RawClient(server.shard_ports[0]) as shard:
        assert shard.call("FUNCTION", "LIST", "LIBRARYNAME", "oomlib") == []
    assert client.call("MULTI") == b"OK"
    assert client.call("FUNCTION", "LOAD", library) == OOM  # keyless: any full shard
    assert client.call("DISCARD") == b"OK"
