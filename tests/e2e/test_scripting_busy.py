"""BUSY, SCRIPT KILL, UNKILLABLE and SHUTDOWN NOSAVE with looping scripts
(shardnode/scripting.py ScriptRun), the texts compared with a real
redis-server started with the same small busy-reply-threshold."""

from __future__ import annotations

import threading
import time

import pytest

from tests.helpers import DamselflyProcess, Err, RawClient, RedisProcess, encode, names_on_shard
from tests.reference import missing_reference

A = names_on_shard(0, 1, "a")[0]
B = names_on_shard(1, 1, "b")[0]
LOOP = "while true do end"
WROTE_THEN_LOOP = "redis.call('set', KEYS[1], 'x') while true do end"


def _in_background(port, *args):
    """Send ``args`` on a new connection; a list that gets the reply."""
    box: list = []

    def call():
        with RawClient(port) as client:
            try:
                box.append(client.call(*args))
            except ConnectionError:  # the server was shut down
                box.append(None)

    thread = threading.Thread(target=call)
    thread.start()
    box.append(thread)
    return box


def _busy_then(port, script, keys, action, wait=0.4):
    """Start ``script`` (looping) and call ``action(client)`` once it is busy."""
    box = _in_background(port, "EVAL", script, str(len(keys)), *keys)
    time.sleep(wait)
    with RawClient(port) as client:
        seen = action(client)
    return box, seen


@pytest.fixture(scope="module")
def busy_server():
    with DamselflyProcess(shards=2, busy_reply_threshold=100) as proc:
        yield proc


@pytest.fixture(scope="module")
def busy_ref():
    if not RedisProcess.available():
        missing_reference("no redis-server binary")
    proc = RedisProcess("--busy-reply-threshold", "100").start()
    yield proc
    proc.stop()


def test_a_looping_script_is_busy_for_its_shard_only_and_killed(busy_server):
    def action(client):
        return (client.call("GET", A), client.call("SET", B, "served"), client.call("GET", B),
                client.call("SCRIPT", "KILL"))

    box, seen = _busy_then(busy_server.port, LOOP, [A], action)
    box[0].join(10)
    busy, set_b, get_b, killed = seen
    assert isinstance(busy, Err) and busy.startswith("BUSY Redis is busy running a script.")
    assert (set_b, get_b, killed) == (b"OK", b"served", b"OK")
    assert box[1].startswith("ERR Script killed by user with SCRIPT KILL... script: ")
    with RawClient(busy_server.port) as client:
        assert client.call("GET", A) is None
        assert client.call("SCRIPT", "KILL").startswith("NOTBUSY")
        assert client.call("EVAL", "return redis.call('incr', KEYS[1])", "1", A) == 1


def test_a_script_caught_by_pcall_is_killed_too(busy_server):
    script = "while true do pcall(function() while true do end end) end"
    box, killed = _busy_then(busy_server.port, script, [], lambda c: c.call("SCRIPT", "KILL"))
    box[0].join(10)
    assert killed == b"OK"
    assert box[1].startswith("ERR Script killed by user with SCRIPT KILL")


def test_busy_texts_match_redis(busy_server, busy_ref):
    outcomes = []
    for port in (busy_ref.port, busy_server.port):
        with RawClient(port) as client:
            client.call("FLUSHALL")
            notbusy = client.call("SCRIPT", "KILL")

        def action(client):
            return client.call("GET", A), client.call("SCRIPT", "KILL")

        box, seen = _busy_then(port, LOOP, [A], action)
        box[0].join(10)
        outcomes.append((notbusy, seen, box[1]))
    assert outcomes[0] == outcomes[1]


def test_unkillable_then_shutdown_nosave():
    if not RedisProcess.available():
        missing_reference("no redis-server binary")
    outcomes = []
    ref = RedisProcess("--busy-reply-threshold", "100").start()
    ours = DamselflyProcess(shards=2, busy_reply_threshold=100).start()
    try:
        for proc in (ref, ours):
            def action(client):
                replies = [client.call("SCRIPT", "KILL"), client.call("GET", A)]
                try:
                    client.call("SHUTDOWN", "NOSAVE")
                except (ConnectionError, OSError):
                    pass
                return replies

            box, seen = _busy_then(proc.port, WROTE_THEN_LOOP, [A], action)
            box[0].join(15)
            outcomes.append(seen)
            assert not box[0].is_alive()
        assert outcomes[0] == outcomes[1]
        assert outcomes[1][0].startswith("UNKILLABLE Sorry the script already executed write")
        assert ours.proc.wait(15) is not None  # the whole server stopped
    finally:
        ours.stop()
        ref.stop()


def test_a_quick_script_that_turns_slow_moves_off_the_loop(busy_server):
    """A script seen finishing quickly runs inline; when it loops it is
    stopped (it wrote nothing), rerun in the script thread, BUSY, killable."""
    script = "if tonumber(ARGV[1]) < 0 then while true do end end return redis.call('get', KEYS[1])"
    with RawClient(busy_server.port) as client:
        client.call("SET", A, "v")
        for _ in range(3):
            assert client.call("EVAL", script, "1", A, "1") == b"v"

    box = _in_background(busy_server.port, "EVAL", script, "1", A, "-1")
    time.sleep(0.4)
    with RawClient(busy_server.port) as client:
        busy, killed = client.call("GET", A), client.call("SCRIPT", "KILL")
    box[0].join(10)
    assert busy.startswith("BUSY ") and killed == b"OK"
    assert box[1].startswith("ERR Script killed by user with SCRIPT KILL")


def test_script_kill_stops_a_proxy_mode_script(busy_server):
    """A script touching both shards' keys runs in the proxy; SCRIPT KILL
    through the proxy stops it while it has not written."""
    script = "redis.call('get', ARGV[1]) redis.call('get', ARGV[2]) while true do end"
    box = _in_background(busy_server.port, "EVAL", script, "0", A, B)
    time.sleep(0.4)
    with RawClient(busy_server.port) as client:
        killed = client.call("SCRIPT", "KILL")
    box[0].join(10)
    assert killed == b"OK"
    assert box[1].startswith("ERR Script killed by user with SCRIPT KILL")
    with RawClient(busy_server.port) as client:
        assert client.call("SET", A, "after") == b"OK"  # the shards were unlocked
        assert client.call("SCRIPT", "KILL").startswith("NOTBUSY")


def test_lua_time_limit_is_busy_reply_threshold(diff):
    diff.run("CONFIG", "GET", "lua-time-limit")
    diff.run_unordered("CONFIG", "GET", "busy*")
    diff.run("CONFIG", "SET", "lua-time-limit", "300")
    diff.run("CONFIG", "GET", "busy-reply-threshold")
    diff.run("CONFIG", "SET", "busy-reply-threshold", "5000")
    diff.run("CONFIG", "GET", "lua-time-limit")


# -- functions: BUSY, FUNCTION KILL, FUNCTION STATS, the cross errors -------------

LIBRARY = """#!lua name=busylib
redis.register_function('spin', function(keys, args) while true do end end)
redis.register_function('spin_wrote', function(keys, args)
  redis.call('set', keys[1], 'x') while true do end end)
"""


def _function_outcomes(port, function, action):
    """FCALL ``function`` with key A in the background; ``action(client)``
    once busy, then FUNCTION KILL / SCRIPT KILL until it ended."""
    with RawClient(port) as client:
        client.call("FLUSHALL")
        client.call("FUNCTION", "LOAD", "REPLACE", LIBRARY)
    box = _in_background(port, "FCALL", function, "1", A)
    time.sleep(0.4)
    with RawClient(port) as client:
        seen = action(client)
    box[0].join(10)
    return seen, box[1]


def _stats_shape(reply):
    """FUNCTION STATS with the running time left out (it differs)."""
    running = reply[1]
    if running is not None:
        running = running[:5]  # name, <name>, command, <args>, duration_ms
    return [reply[0], running, reply[2], reply[3]]


def test_a_looping_function_is_busy_and_function_kill_stops_it(busy_server, busy_ref):
    outcomes = []
    for port in (busy_ref.port, busy_server.port):
        def action(client):
            return (client.call("GET", A), client.call("SCRIPT", "KILL"),
                    _stats_shape(client.call("FUNCTION", "STATS")),
                    client.call("FUNCTION", "KILL"))
        outcomes.append(_function_outcomes(port, "spin", action))
    assert outcomes[0] == outcomes[1]
    seen, reply = outcomes[1]
    assert seen[0].startswith("BUSY") and "FUNCTION KILL" in seen[0]
    assert seen[3] == b"OK" and reply.startswith("ERR Script killed by user")


def _shut_down(port) -> None:
    with RawClient(port) as client:
        try:
            client.call("SHUTDOWN", "NOSAVE")
        except (ConnectionError, OSError):
            pass


def _fresh_pair():
    """A redis-server and a damselfly of their own (the test shuts them down)."""
    if not RedisProcess.available():
        missing_reference("no redis-server binary")
    return (RedisProcess("--busy-reply-threshold", "100").start(),
            DamselflyProcess(shards=2, busy_reply_threshold=100).start())


def test_a_function_that_wrote_is_unkillable():
    """UNKILLABLE for FUNCTION KILL and for SCRIPT KILL alike (Redis 7.0
    checks the writes before the kind); SHUTDOWN NOSAVE is the way out."""
    ref, ours = _fresh_pair()
    outcomes = []
    try:
        for port in (ref.port, ours.port):
            with RawClient(port) as client:
                client.call("FUNCTION", "LOAD", "REPLACE", LIBRARY)
            box = _in_background(port, "FCALL", "spin_wrote", "1", A)
            time.sleep(0.4)
            with RawClient(port) as client:
                outcomes.append((client.call("FUNCTION", "KILL"), client.call("SCRIPT", "KILL"),
                                 client.call("GET", A)))
            _shut_down(port)
            box[0].join(15)
            assert not box[0].is_alive()
        assert outcomes[0] == outcomes[1]
        assert outcomes[1][0].startswith("UNKILLABLE") and outcomes[1][1].startswith("UNKILLABLE")
        assert "FUNCTION KILL" in outcomes[1][2]
    finally:
        ours.stop()
        ref.stop()


def test_function_kill_while_an_eval_runs(busy_server, busy_ref):
    outcomes = []
    for port in (busy_ref.port, busy_server.port):
        with RawClient(port) as client:
            client.call("FLUSHALL")
            notbusy = client.call("FUNCTION", "KILL")

        def action(client):
            return (client.call("FUNCTION", "KILL"), client.call("FUNCTION", "STATS"),
                    client.call("SCRIPT", "KILL"))

        box, seen = _busy_then(port, LOOP, [A], action)
        box[0].join(10)
        outcomes.append((notbusy, seen, box[1]))
    assert outcomes[0] == outcomes[1]


def test_function_kill_while_an_eval_that_wrote_runs():
    ref, ours = _fresh_pair()
    outcomes = []
    try:
        for port in (ref.port, ours.port):
            def action(client):
                return (client.call("FUNCTION", "KILL"), client.call("FUNCTION", "STATS"),
                        client.call("SCRIPT", "KILL"))

            box, seen = _busy_then(port, WROTE_THEN_LOOP, [A], action)
            _shut_down(port)
            box[0].join(15)
            outcomes.append(seen)
        assert outcomes[0] == outcomes[1]
        assert outcomes[1][0].startswith("UNKILLABLE")
    finally:
        ours.stop()
        ref.stop()


def test_a_slow_proxy_mode_script_makes_other_clients_busy(busy_server, busy_ref):
    """Past busy_reply_threshold a proxy-mode script (keys on both shards)
    makes every shard answer BUSY to other clients, as one Redis does; a
    SCRIPT KILL through any proxy worker stops it; the shards serve again."""
    script = "redis.call('get', ARGV[1]) redis.call('get', ARGV[2]) while true do end"
    outcomes = []
    for port in (busy_ref.port, busy_server.port):
        def action(client):
            return (client.call("GET", A), client.call("SET", B, "x"),
                    client.call("FUNCTION", "KILL"), client.call("SCRIPT", "KILL"))
        box = _in_background(port, "EVAL", script, "0", A, B)
        time.sleep(0.5)
        with RawClient(port) as client:
            seen = action(client)
        box[0].join(10)
        with RawClient(port) as client:
            after = client.call("SET", A, "served")
        outcomes.append((seen, box[1], after))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][0][0].startswith("BUSY") and outcomes[1][2] == b"OK"


def test_a_slow_proxy_mode_function_that_wrote_is_unkillable():
    ref, ours = _fresh_pair()
    outcomes = []
    library = ("#!lua name=slowlib\nredis.register_function('wander', function(keys, args)\n"
               "redis.call('get', args[1]) redis.call('set', args[2], 'w') while true do end end)")
    try:
        for port in (ref.port, ours.port):
            with RawClient(port) as client:
                client.call("FUNCTION", "LOAD", library)
            box = _in_background(port, "FCALL", "wander", "0", A, B)
            time.sleep(0.5)
            with RawClient(port) as client:
                seen = (client.call("GET", B), client.call("FUNCTION", "KILL"),
                        client.call("SCRIPT", "KILL"), _stats_shape(client.call("FUNCTION", "STATS")))
            _shut_down(port)
            box[0].join(15)
            outcomes.append(seen)
        assert outcomes[0] == outcomes[1]
        assert outcomes[1][1].startswith("UNKILLABLE")
    finally:
        ours.stop()
        ref.stop()


def test_script_kill_through_another_worker_stops_a_proxy_mode_script():
    from tests.e2e.test_scripting_cache import _on_each_worker

    script = "redis.call('get', ARGV[1]) redis.call('get', ARGV[2]) while true do end"
    with DamselflyProcess(shards=2, proxy_workers=2, busy_reply_threshold=100) as server:
        first, second = _on_each_worker(server)
        try:
            first.sock.sendall(encode(("EVAL", script, "0", A, B)))
            time.sleep(0.5)
            assert second.call("GET", A).startswith("BUSY")
            assert second.call("SCRIPT", "KILL") == b"OK"
            assert first.read().startswith("ERR Script killed by user with SCRIPT KILL")
            assert second.call("SET", A, "served") == b"OK"
        finally:
            first.close()
            second.close()
