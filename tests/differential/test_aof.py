"""BGREWRITEAOF's replies and INFO persistence's aof_* fields compared with a
real redis-server 7.0, with the AOF off and on."""

import time

from tests.helpers import DamselflyProcess, Err, RawClient, RedisProcess


def _aof_fields(client) -> list:
    text = client.call("INFO", "persistence").decode()
    return [line.split(":", 1)[0] for line in text.split("\r\n") if line.startswith("aof_")]


def _rewrite_done(client) -> None:
    deadline = time.monotonic() + 20
    while b"aof_rewrite_in_progress:1" in client.call("INFO", "persistence"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _compare(ref, ours) -> None:
    assert _aof_fields(ours) == _aof_fields(ref)
    for client in (ref, ours):  # first wait out the start-up rewrite of an empty AOF
        _rewrite_done(client)
    for client in (ref, ours):
        client.call("SET", "k", "v" * 1000)  # a rewrite that takes a moment
    replies = [c.call("BGREWRITEAOF") for c in (ref, ours)]
    assert replies[0] == replies[1] == b"Background append only file rewriting started"
    for client in (ref, ours):
        _rewrite_done(client)
        info = client.call("INFO", "persistence")
        assert b"aof_last_bgrewrite_status:ok" in info


def test_aof_fields_and_bgrewriteaof_with_the_aof_off(diff):
    _compare(diff.ref, diff.ours)
    for client in (diff.ref, diff.ours):
        assert b"aof_enabled:0" in client.call("INFO", "persistence")
    assert diff.run("BGREWRITEAOF", "extra") == Err(
        "ERR wrong number of arguments for 'bgrewriteaof' command")


def test_aof_fields_and_bgrewriteaof_with_the_aof_on():
    ref = RedisProcess("--appendonly", "yes").start()
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(ref.port, ref.host) as r, RawClient(proc.port) as o:
            _rewrite_done(o)
            _compare(r, o)
            for client in (r, o):
                info = client.call("INFO", "persistence")
                assert b"aof_enabled:1" in info and b"aof_current_size:" in info
    finally:
        proc.stop()
        ref.stop()


def test_redis_checks_and_loads_a_shards_aof_directory():
    """One shard's files are a Redis 7 multi-part AOF: redis-check-aof accepts
    its manifest, and redis-server 7.0 told its appendfilename loads it."""
    import os
    import shutil
    import signal
    import subprocess

    from tests.e2e.test_aof import _dataset, _load_every_type

    proc = DamselflyProcess(shards=1, appendonly="yes").start()
    ref = None
    try:
        with RawClient(proc.port) as c:
            _load_every_type(c)
            c.call("BGREWRITEAOF")
            _rewrite_done(c)
            c.call("MULTI")
            c.call("SET", "after-rewrite", "1")
            c.call("SADD", "set", "z")
            c.call("EXEC")
            time.sleep(0.01)
            before = _dataset(c)
        proc.proc.send_signal(signal.SIGTERM)
        proc.proc.wait(10)
        manifest = os.path.join(proc.dir, "appendonlydir", "appendonly-0001-of-0001.aof.manifest")
        check = subprocess.run(["redis-check-aof", manifest], capture_output=True, text=True)
        assert check.returncode == 0 and "All AOF files and manifest are valid" in check.stdout, \
            check.stdout + check.stderr
        ref = RedisProcess("--appendonly", "yes", "--dir", proc.dir,
                           "--appendfilename", "appendonly-0001-of-0001.aof").start()
        with RawClient(ref.port, ref.host) as r:
            assert _dataset(r) == before
    finally:
        if ref is not None:
            ref.stop()
        proc.stop()
        shutil.rmtree(proc.dir, ignore_errors=True)


def test_damselfly_replays_an_aof_redis_server_wrote_with_a_command_base():
    """The other direction, and a base of commands (aof-use-rdb-preamble no):
    a one-shard damselfly replays redis-server's multi-part AOF."""
    import os
    import shutil

    from tests.e2e.test_aof import _dataset, _load_every_type

    name = "appendonly-0001-of-0001.aof"
    ref = RedisProcess("--appendonly", "yes", "--aof-use-rdb-preamble", "no",
                       "--appendfilename", name).start()
    proc = DamselflyProcess(shards=1, appendonly="yes")
    try:
        with RawClient(ref.port, ref.host) as r:
            _load_every_type(r)
            _rewrite_done(r)
            assert r.call("BGREWRITEAOF") == b"Background append only file rewriting started"
            _rewrite_done(r)
            r.call("MULTI")
            r.call("INCR", "int")
            r.call("LPUSH", "list", "new")
            r.call("EXEC")
        ref.proc.terminate()
        ref.proc.wait(5)
        source = os.path.join(ref.dir, "appendonlydir")
        assert any(n.endswith(".base.aof") for n in os.listdir(source))
        shutil.copytree(source, os.path.join(proc.dir, "appendonlydir"))
        # What redis-server itself has after replaying its files (a string
        # APPEND made "raw" comes back "embstr", in both).
        again = RedisProcess("--appendonly", "yes", "--appendfilename", name, "--dir", ref.dir)
        with RawClient(again.start().port, again.host) as r:
            expected = _dataset(r)
        again.stop()
        proc.start()
        with RawClient(proc.port) as c:
            assert _dataset(c) == expected
            assert c.call("LINDEX", "list", "0") == b"new" and c.call("GET", "int") == b"12346"
    finally:
        ref.stop()
        proc.stop()


def test_appendonly_on_a_dir_with_only_a_snapshot_loads_it_then_bases_the_aof_on_it():
    """As Redis: no AOF yet, so the snapshot (here redis-server's dump.rdb) is
    loaded, and the first base holds it -- the snapshot can go afterwards."""
    import os
    import shutil

    from tests.e2e.test_aof import _again, _kill

    ref = RedisProcess().start()
    proc = DamselflyProcess(shards=2, appendonly="yes")
    try:
        with RawClient(ref.port, ref.host) as r:
            r.call("MSET", *[x for i in range(100) for x in ("k%d" % i, "v%d" % i)])
            r.call("RPUSH", "list", "a", "b")
            assert r.call("SAVE") == b"OK"
        shutil.copy(os.path.join(ref.dir, "dump.rdb"), os.path.join(proc.dir, "dump.rdb"))
        proc.start()
        with RawClient(proc.port) as c:
            _rewrite_done(c)
            assert c.call("DBSIZE") == 101
        _kill(proc)
        os.unlink(os.path.join(proc.dir, "dump.rdb"))
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert c.call("DBSIZE") == 101 and c.call("LRANGE", "list", "0", "-1") == [b"a", b"b"]
            assert c.call("GET", "k42") == b"v42"
    finally:
        ref.stop()
        if proc.proc is not None:
            proc.stop()
        shutil.rmtree(proc.dir, ignore_errors=True)


def _rewrite_fields(client) -> list:
    text = client.call("INFO", "persistence").decode()
    return [line for line in text.split("\r\n")
            if line.startswith(("aof_rewrite", "rdb_bgsave_in_progress", "aof_rewrites:"))]


def _rewrites(client) -> int:
    text = client.call("INFO", "persistence").decode()
    return int(text.split("aof_rewrites:", 1)[1].split("\r\n", 1)[0])


def _wait_rewrites(client, count) -> None:
    deadline = time.monotonic() + 20
    while _rewrites(client) < count:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _rewrite_done(client)


def test_bgrewriteaof_during_a_bgsave_or_inside_multi_is_scheduled(diff):
    """As Redis 7.0: BGREWRITEAOF while a BGSAVE runs (the two pipelined: the
    save is surely running) or inside MULTI answers "scheduled", INFO shows
    aof_rewrite_scheduled:1, and the rewrite runs once the save is over."""
    diff.run("SET", "k", "v")
    for client in (diff.ref, diff.ours):
        _rewrite_done(client)
    before = [_rewrites(c) for c in (diff.ref, diff.ours)]
    diff.run("MULTI")
    diff.run("BGREWRITEAOF")
    assert diff.run("EXEC") == [b"Background append only file rewriting scheduled"]
    for client, count in zip((diff.ref, diff.ours), before):
        _wait_rewrites(client, count + 1)
    replies = [c.pipeline([("BGSAVE",), ("BGREWRITEAOF",), ("INFO", "persistence")])
               for c in (diff.ref, diff.ours)]
    for reply in replies:
        assert reply[:2] == [b"Background saving started",
                             b"Background append only file rewriting scheduled"]
        assert b"aof_rewrite_scheduled:1" in reply[2]
    for client, count in zip((diff.ref, diff.ours), before):
        _wait_rewrites(client, count + 2)
        fields = _rewrite_fields(client)
        assert "aof_rewrite_scheduled:0" in fields and "rdb_bgsave_in_progress:0" in fields
