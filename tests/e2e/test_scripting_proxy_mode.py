"""Scripts touching keys they did not declare, on other shards (proxy mode,
proxy/script_proxy.py): atomic transfers under concurrent readers, job-queue
scripts in the style of Sidekiq and BullMQ through redis-py's
``register_script`` (compared with a real redis-server), and the SHA memory
for a script that wrote before it went astray."""

from __future__ import annotations

import threading

import pytest
import redis

from tests.helpers import Err, RawClient, names_on_shard

A, A2 = names_on_shard(0, 2, "acct")
B, B2 = names_on_shard(1, 2, "acct")

# Moves ARGV[3] from ARGV[1] to ARGV[2] when there is enough: no keys declared.
TRANSFER = """
local from = tonumber(redis.call('get', ARGV[1]) or '0')
local amount = tonumber(ARGV[3])
if from < amount then return 0 end
redis.call('decrby', ARGV[1], amount)
redis.call('incrby', ARGV[2], amount)
return 1
"""


def test_transfers_between_undeclared_keys_are_atomic(server):
    accounts = [A, A2, B, B2]
    total = 1000 * len(accounts)
    setup = redis.Redis(port=server.port, socket_timeout=30)
    setup.flushall()
    setup.mset({name: 1000 for name in accounts})
    failures: list = []
    done = threading.Event()
    moved: list = []

    def transfers(seed: int):
        client = redis.Redis(port=server.port, socket_timeout=30)
        script = client.register_script(TRANSFER)
        try:
            for i in range(500):
                src = accounts[(seed + i) % 4]
                dst = accounts[(seed + 3 * i + 1) % 4]
                if src != dst:
                    moved.append(script(keys=[], args=[src, dst, (i % 7) + 1]))
        except Exception as exc:  # reported below
            failures.append("%s: %s" % (type(exc).__name__, exc))

    def reader():
        client = redis.Redis(port=server.port, socket_timeout=30)
        seen = 0
        while not done.is_set() or seen == 0:
            values = client.mget(accounts)
            if sum(int(v) for v in values) != total:
                failures.append("partial transfer seen: %r" % values)
                return
            seen += 1

    writers = [threading.Thread(target=transfers, args=(seed,)) for seed in range(4)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert failures == [], "\n".join(failures)
    assert sum(int(v) for v in setup.mget(accounts)) == total
    assert len(moved) > 1500 and moved.count(1) > 1000  # transfers did happen


# A job queue whose keys are built from ARGV (as Sidekiq's and many others' are).
ENQUEUE = """
redis.call('sadd', 'queues', ARGV[1])
return redis.call('lpush', 'queue:' .. ARGV[1], ARGV[2])
"""
DEQUEUE = """
local job = redis.call('rpop', 'queue:' .. ARGV[1])
if not job then return false end
redis.call('hset', 'working', ARGV[2], job)
redis.call('incr', 'stat:processed')
return job
"""
# BullMQ style: one declared prefix key, the rest derived from it.
ADD_JOB = """
local id = redis.call('incr', KEYS[1] .. ':id')
redis.call('hset', KEYS[1] .. ':' .. id, 'data', ARGV[1])
redis.call('lpush', KEYS[1] .. ':wait', id)
return id
"""
MOVE_TO_ACTIVE = """
local id = redis.call('rpoplpush', KEYS[1] .. ':wait', KEYS[1] .. ':active')
if not id then return false end
return {id, redis.call('hget', KEYS[1] .. ':' .. id, 'data')}
"""


def _queue_session(client):
    enqueue = client.register_script(ENQUEUE)
    dequeue = client.register_script(DEQUEUE)
    add_job = client.register_script(ADD_JOB)
    move = client.register_script(MOVE_TO_ACTIVE)
    out = []
    for name in ("default", "mail", "critical", "low"):
        for n in range(3):
            out.append(enqueue(args=[name, "job-%s-%d" % (name, n)]))
    for name in ("default", "mail", "critical", "low", "missing"):
        out.append(dequeue(args=[name, "worker-1"]))
    for n in range(5):
        out.append(add_job(keys=["bull:q%d" % (n % 2)], args=["payload-%d" % n]))
    for n in range(7):
        out.append(move(keys=["bull:q%d" % (n % 2)]))
    out.append(sorted(client.smembers("queues")))
    out.append(client.hgetall("working"))
    out.append(client.get("stat:processed"))
    for name in ("default", "mail", "critical", "low"):
        out.append(client.lrange("queue:" + name, 0, -1))
    return out


def test_job_queue_scripts_with_undeclared_keys_match_redis(server, redis_ref):
    ours = redis.Redis(port=server.port, socket_timeout=10)
    ref = redis.Redis(host=redis_ref.host, port=redis_ref.port, socket_timeout=10)
    ours.flushall()
    ref.flushall()
    names = [b"queue:default", b"queue:mail", b"queue:critical", b"queue:low"]
    from cluster.slots import key_slot
    assert len({key_slot(n) >= 8192 for n in names}) == 2  # the queues span both shards
    assert _queue_session(ours) == _queue_session(ref)


def test_a_script_that_wrote_first_fails_once_then_runs_in_proxy_mode(server):
    script = ("redis.call('incr', KEYS[1]) "
              "return {redis.call('get', KEYS[1]), redis.call('get', ARGV[1])}")
    with RawClient(server.port) as client:
        client.call("FLUSHALL")
        client.call("SET", B, "far")
        sha = client.call("SCRIPT", "LOAD", script).decode()
        first = client.call("EVALSHA", sha, "1", A, B)
        assert isinstance(first, Err)
        assert first.startswith("ERR damselfly: the script touched key '%s'" % B)
        assert client.call("GET", A) == b"1"  # its write stands
        assert client.call("EVALSHA", sha, "1", A, B) == [b"2", b"far"]
        assert client.call("EVAL", script, "1", A, B) == [b"3", b"far"]
        # A pcall cannot keep a handed-back script going on its shard.
        sneaky = ("local ok = pcall(redis.call, 'get', ARGV[1]) "
                  "redis.call('set', KEYS[1], 'after') return redis.call('get', ARGV[1])")
        assert client.call("EVAL", sneaky, "1", A2, B) == b"far"
        assert client.call("GET", A2) == b"after"
        client.call("SCRIPT", "FLUSH")
        assert client.call("EVALSHA", sha, "1", A, B).startswith("NOSCRIPT")


@pytest.mark.parametrize("resp", [2, 3])
def test_proxy_mode_replies_follow_setresp(server, resp):
    with RawClient(server.port) as client:
        client.call("FLUSHALL")
        client.call("HSET", B, "f", "v")
        reply = client.call("EVAL", "redis.setresp(%d) local h = redis.call('hgetall', ARGV[1]) "
                            "return redis.call('type', ARGV[1])" % resp, "0", B)
        assert reply == b"hash"


def test_writes_before_the_first_foreign_key_are_rolled_back_and_rerun_once(server):
    """No declared keys: the script runs on shard 0, writes there, then
    reaches shard 1; the shard undoes its writes and the proxy reruns it."""
    script = ("redis.call('rpush', ARGV[1], 'x') redis.call('hset', ARGV[3], 'n', 1) "
              "redis.call('pexpire', ARGV[1], 100000) redis.call('del', ARGV[4]) "
              "return {redis.call('llen', ARGV[1]), redis.call('incr', ARGV[2])}")
    with RawClient(server.port) as client:
        client.call("FLUSHALL")
        client.call("RPUSH", A, "a", "b")
        client.call("SET", A2, "kept")
        assert client.call("EVAL", script, "0", A, B, B2, A2) == [3, 1]
        assert client.call("LRANGE", A, "0", "-1") == [b"a", b"b", b"x"]
        assert 0 < client.call("PTTL", A) <= 100000
        assert client.call("HGETALL", B2) == [b"n", b"1"]
        assert client.call("EXISTS", A2) == 0
        assert client.call("EVAL", script, "0", A, B, B2, A2) == [4, 2]


def test_pipelined_commands_after_a_handed_back_eval_see_its_effects(server):
    """Each EVAL is a script this proxy has not seen (a fresh body), so its
    shard hands it back and the proxy reruns it; the GETs and INCRs pipelined
    behind it, on either shard, must run after the rerun, as on one Redis."""
    with RawClient(server.port) as client:
        client.call("FLUSHALL")
        commands = []
        for i in range(20):
            script = ("redis.call('incr', ARGV[1]) redis.call('set', ARGV[2], ARGV[3]) "
                      "return %d" % i)  # a new body each time
            commands += [("EVAL", script, "0", A, B, "v%d" % i),
                         ("GET", B), ("GET", A), ("INCR", A), ("SET", B, "after%d" % i)]
        replies = client.pipeline(commands)
        for i in range(20):
            assert replies[5 * i:5 * i + 5] == [i, b"v%d" % i, b"%d" % (2 * i + 1),
                                                2 * i + 2, b"OK"], i
        # known to this proxy now: straight to proxy mode, in order all the same
        replies = client.pipeline([commands[0], ("GET", B), ("GET", A)])
        assert replies == [0, b"v0", b"41"]


def test_a_script_pipelined_behind_a_cross_shard_command_runs_as_alone(server):
    """A cross-shard MSET takes the pipelined keyed commands behind it into
    its plan; a script is not one of them (its keys are known as it runs)."""
    with RawClient(server.port) as client:
        client.call("FLUSHALL")
        replies = client.pipeline([
            ("MSET", A, "1", B, "2"),
            ("EVAL", "return {redis.call('get', ARGV[1]), redis.call('get', ARGV[2])}", "0", A, B),
            ("MSET", A2, "3", B2, "4"),
            ("EVAL", "return redis.call('get', KEYS[1])", "1", B2),
            ("FCALL", "nosuch", "0")])
        assert replies == [b"OK", [b"1", b"2"], b"OK", b"4", Err("ERR Function not found")]
