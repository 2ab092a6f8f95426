"""The append-only file with real processes: restarts through the AOF, kill -9
under `appendfsync always`, truncated and corrupt files, BGREWRITEAOF while
clients write, appendonly turned on at run time, transactions."""

import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from tests.helpers import ROOT, DamselflyProcess, Err, RawClient, names_on_shard

AOF_DIR = "appendonlydir"


def _kill(proc: DamselflyProcess) -> None:
    """kill -9 of the whole process group (supervisor, shards, proxy); the directory stays."""
    os.killpg(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait()
    proc._log.close()
    proc.proc = None


def _terminate(proc: DamselflyProcess) -> None:
    """A clean stop (SIGTERM); the directory stays."""
    proc.proc.send_signal(signal.SIGTERM)
    proc.proc.wait(10)
    proc._log.close()
    proc.proc = None


def _again(old: DamselflyProcess, **options) -> DamselflyProcess:
    """A new server on the same directory (new ports, its own log)."""
    return _with_shards(old, old.shards, **options)


def _with_shards(old: DamselflyProcess, shards: int, **options) -> DamselflyProcess:
    """A new server of ``shards`` shards on ``old``'s directory."""
    new = DamselflyProcess(shards=shards, **options)
    os.rmdir(new.dir)
    new.dir = old.dir
    new.log_path = os.path.join(old.dir, "damselfly-%d.log" % time.monotonic_ns())
    return new.start()


def _cleanup(proc: DamselflyProcess) -> None:
    if proc.proc is not None:
        proc.stop()
    else:
        shutil.rmtree(proc.dir, ignore_errors=True)


def _same_after_restart(proc: DamselflyProcess, before: dict) -> DamselflyProcess:
    """Start again on ``proc``'s directory (stopped already): the same data."""
    proc = _again(proc, appendonly="yes")
    with RawClient(proc.port) as c:
        assert _dataset(c) == before
    return proc


def _info(client) -> dict:
    text = client.call("INFO", "persistence").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def _wait_rewrites_done(client, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _info(client)
        if info["aof_rewrite_in_progress"] == "0":
            return info
        time.sleep(0.05)
    raise AssertionError("the rewrite did not finish")


def _files(proc) -> list:
    return sorted(os.listdir(os.path.join(proc.dir, AOF_DIR)))


def _incr_path(proc, shard: int) -> str:
    directory = os.path.join(proc.dir, AOF_DIR)
    prefix = "appendonly-%04d-of-%04d.aof" % (shard + 1, proc.shards)
    with open(os.path.join(directory, prefix + ".manifest")) as f:
        incrs = [line.split()[1] for line in f if line.split()[-1] == "i"]
    return os.path.join(directory, incrs[-1])


def _load_every_type(c) -> None:
    c.call("SET", "str", "hello")
    c.call("SET", "int", "12345")
    c.call("SET", "ttl", "x", "EX", "1000")
    c.call("SET", "gone", "x", "PX", "1")
    c.call("INCRBYFLOAT", "float", "1.5")
    c.call("APPEND", "str", " world")
    c.call("SETBIT", "bits", "100", "1")
    c.call("RPUSH", "list", *[str(i) for i in range(300)])
    c.call("LPOP", "list")
    c.call("RPUSH", "small", "a", "b")
    c.call("HSET", "hash", "f1", "v1", "f2", "v2")
    c.call("HSET", "bighash", *[x for i in range(600) for x in ("f%d" % i, "v%d" % i)])
    c.call("HINCRBYFLOAT", "hash", "n", "2.5")
    c.call("SADD", "intset", "1", "2", "3")
    c.call("SADD", "set", "a", "b", "c")
    c.call("SREM", "set", "b")
    c.call("ZADD", "zset", "1", "a", "2.5", "b")
    c.call("ZADD", "bigzset", *[x for i in range(200) for x in (str(i), "m%d" % i)])
    c.call("ZINCRBY", "zset", "3", "a")
    c.call("PFADD", "hll", "a", "b", "c")
    assert c.call("PFCOUNT", "hll") == 3  # caches the count in the value: a write too
    c.call("GEOADD", "geo", "13.361389", "38.115556", "Palermo")
    c.call("EXPIRE", "hash", "5000")
    c.call("XADD", "stream", "1-1", "f", "v")
    c.call("XADD", "stream", "*", "g", "w")
    c.call("XGROUP", "CREATE", "stream", "grp", "0")
    c.call("XREADGROUP", "GROUP", "grp", "alice", "COUNT", "1", "STREAMS", "stream", ">")
    c.call("EVAL", "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[2])", "2",
           "{s}script", "{s}counter", "by-script")
    c.call("SELECT", "3")
    c.call("SET", "in-db-3", "three")
    c.call("SELECT", "0")
    c.call("SET", "{t}a", "1")
    c.call("RENAME", "{t}a", "{t}b")


def _dataset(c) -> dict:
    """Every key of dbs 0 and 3 with its type, its DUMP-independent content and
    whether it has a TTL."""
    out = {}
    for db in (0, 3):
        c.call("SELECT", str(db))
        for key in sorted(c.call("KEYS", "*")):
            kind = c.call("TYPE", key)
            if kind == b"string":
                value = c.call("GET", key)
            elif kind == b"list":
                value = c.call("LRANGE", key, "0", "-1")
            elif kind == b"hash":
                value = sorted(c.call("HGETALL", key))
            elif kind == b"set":
                value = sorted(c.call("SMEMBERS", key))
            elif kind == b"zset":
                value = c.call("ZRANGE", key, "0", "-1", "WITHSCORES")
            elif kind == b"stream":
                # Without entries-read and lag: XREADGROUP is journalled as
                # Redis 7.0 propagates it (XCLAIM .. LASTID), which leaves
                # entries-read unknown after a replay -- in redis-server too.
                groups = [g[:8] for g in c.call("XINFO", "GROUPS", key)]
                value = (c.call("XRANGE", key, "-", "+"), groups,
                         [p[:2] for p in c.call("XPENDING", key, "grp", "-", "+", "10")])
            else:
                value = kind
            out[(db, key)] = (kind, value, c.call("TTL", key) > 0,
                              c.call("OBJECT", "ENCODING", key))
    c.call("SELECT", "0")
    return out


def test_every_type_survives_a_restart_through_the_aof_and_the_aof_wins_over_rdb():
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            _load_every_type(c)
            time.sleep(0.01)
            before = _dataset(c)
        assert (0, b"gone") not in before and (3, b"in-db-3") in before
        # A snapshot file that would say otherwise: the AOF wins, as in Redis.
        with open(os.path.join(proc.dir, "dump.rdb"), "wb") as f:
            f.write(b"not read at all")
        _terminate(proc)
        files = _files(proc)
        assert "appendonly-0001-of-0002.aof.manifest" in files
        assert "appendonly-0002-of-0002.aof.1.base.rdb" in files
        assert "appendonly-0002-of-0002.aof.1.incr.aof" in files
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert _dataset(c) == before
            # And once more after a rewrite (the data now comes from the base).
            assert c.call("BGREWRITEAOF") == b"Background append only file rewriting started"
            _wait_rewrites_done(c)
        _kill(proc)
        proc = _same_after_restart(proc, before)
    finally:
        _cleanup(proc)


def test_appendfsync_always_loses_no_acknowledged_write_to_kill_9():
    """Writers log each write once its reply arrived; the whole process
    group is killed mid-load; after the restart every logged write is there."""
    proc = DamselflyProcess(shards=2, appendonly="yes", appendfsync="always").start()
    acked = {n: [] for n in range(4)}
    stop = threading.Event()

    def writer(n):
        try:
            with RawClient(proc.port) as c:
                i = 0
                while not stop.is_set():
                    reply = c.pipeline([("SET", "w%d:%d" % (n, i), "v%d" % i),
                                        ("RPUSH", "log{%d}" % n, str(i))])
                    if any(isinstance(r, Err) for r in reply):
                        return
                    acked[n].append(i)
                    i += 1
        except (OSError, ConnectionError, EOFError, ValueError):
            pass  # the server went away: what was acknowledged is logged

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in acked]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        _kill(proc)
        stop.set()
        for t in threads:
            t.join(10)
        assert all(len(a) > 20 for a in acked.values()), {n: len(a) for n, a in acked.items()}
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            for n, done in acked.items():
                values = c.pipeline([("GET", "w%d:%d" % (n, i)) for i in done])
                assert values == [b"v%d" % i for i in done]
                logged = c.call("LRANGE", "log{%d}" % n, "0", "-1")
                assert logged[:len(done)] == [str(i).encode() for i in done]
    finally:
        stop.set()
        _cleanup(proc)


def test_a_truncated_last_record_is_dropped_with_a_warning():
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        keys = names_on_shard(0, 20)
        with RawClient(proc.port) as c:
            for k in keys:
                c.call("SET", k, "value-" + k)
        _terminate(proc)
        path = _incr_path(proc, 0)
        whole = os.path.getsize(path)
        with open(path, "ab") as f:  # a crash in the middle of writing a record
            f.write(b"*3\r\n$3\r\nSET\r\n$5\r\nnever\r\n$3\r\nva")
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert [c.call("GET", k) for k in keys] == [("value-" + k).encode() for k in keys]
            assert c.call("EXISTS", "never") == 0
            c.call("SET", keys[0], "after")  # appended after the cut, readable next time
        assert "the last record is cut short" in proc.log()
        assert os.path.basename(path) in proc.log()
        _terminate(proc)
        assert os.path.getsize(path) > whole
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert c.call("GET", keys[0]) == b"after"
    finally:
        _cleanup(proc)


def _start_fails(proc: DamselflyProcess, **options) -> str:
    """Start on ``proc``'s directory: it must exit non-zero by itself; its output."""
    again = DamselflyProcess(shards=proc.shards, **options)
    os.rmdir(again.dir)
    again.dir = proc.dir
    result = subprocess.run(again.argv(), cwd=proc.dir, env=dict(os.environ, PYTHONPATH=ROOT),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("damselfly: shard ") and "cannot load the data in" in last
    return result.stderr


def test_a_corrupt_record_in_the_middle_stops_the_start_naming_the_file():
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            for k in names_on_shard(1, 30):
                c.call("SET", k, "v")
        _terminate(proc)
        path = _incr_path(proc, 1)
        with open(path, "rb") as f:
            data = f.read()
        middle = data.index(b"*3\r\n$3\r\nSET", len(data) // 2)
        with open(path, "wb") as f:
            f.write(data[:middle] + b"*3\r\n#3\r\nSET" + data[middle + 11:])
        out = _start_fails(proc, appendonly="yes")
        assert path in out and "corrupt append-only file" in out, out
        assert "offset %d" % middle in out, out
        # A truncated record with aof_load_truncated no refuses to start as well.
        with open(path, "wb") as f:
            f.write(data + b"*2\r\n$3\r\nDEL")
        out = _start_fails(proc, appendonly="yes", aof_load_truncated="no")
        assert path in out and "aof_load_truncated" in out, out
    finally:
        _cleanup(proc)


def test_bgrewriteaof_compacts_and_keeps_the_data():
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            for round_ in range(40):
                c.pipeline([("SET", "key%d" % i, "round-%d" % round_) for i in range(200)])
            c.call("RPUSH", "list", "a", "b", "c")
            info = _info(c)
            big, rewrites = int(info["aof_current_size"]), int(info["aof_rewrites"])
            assert c.call("BGREWRITEAOF") == b"Background append only file rewriting started"
            info = _wait_rewrites_done(c)
            small = int(info["aof_current_size"])
            assert small < big / 10, (small, big)
            assert int(info["aof_rewrites"]) == rewrites + 1
            assert info["aof_last_bgrewrite_status"] == "ok"
            assert int(info["aof_base_size"]) > 0
            before = _dataset(c)
        assert sorted(n for n in _files(proc) if n.startswith("appendonly-0001")) == [
            "appendonly-0001-of-0002.aof.2.base.rdb", "appendonly-0001-of-0002.aof.2.incr.aof",
            "appendonly-0001-of-0002.aof.manifest"]
        _kill(proc)
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert _dataset(c) == before
            assert c.call("GET", "key7") == b"round-39"
    finally:
        _cleanup(proc)


def test_a_rewrite_under_concurrent_writes_is_a_point_in_time_base():
    """Counters bumped while the base is written bucket by bucket: after a
    kill -9 and a restart (base + incremental file) each counter holds
    exactly the acknowledged increments, none twice, none lost."""
    proc = DamselflyProcess(shards=2, appendonly="yes", appendfsync="always").start()
    counters = ["c%d" % i for i in range(400)]
    acked = {k: 0 for k in counters}
    stop = threading.Event()
    try:
        with RawClient(proc.port) as c:
            for start in range(0, 30000, 1000):  # enough keys for many rewrite steps
                c.call("MSET", *[x for i in range(start, start + 1000)
                                 for x in ("filler%d" % i, "x" * 20)])

        def bump(offset):
            with RawClient(proc.port) as c:
                i = offset
                while not stop.is_set():
                    key = counters[i % len(counters)]
                    c.call("INCR", key)
                    acked[key] += 1
                    i += 7

        threads = [threading.Thread(target=bump, args=(n,), daemon=True) for n in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        with RawClient(proc.port) as c:
            assert c.call("BGREWRITEAOF") == b"Background append only file rewriting started"
            assert c.call("BGREWRITEAOF") == Err(
                "ERR Background append only file rewriting already in progress")
            _wait_rewrites_done(c)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(10)
        _kill(proc)
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            got = c.pipeline([("GET", k) for k in counters])
            assert {k: int(v or 0) for k, v in zip(counters, got)} == acked
            assert c.call("DBSIZE") == 30000 + sum(1 for v in acked.values() if v)
    finally:
        stop.set()
        _cleanup(proc)


def test_appendonly_turned_on_at_run_time_writes_a_base_first():
    proc = DamselflyProcess(shards=2).start()
    try:
        with RawClient(proc.port) as c:
            assert _info(c)["aof_enabled"] == "0"
            for i in range(100):
                c.call("SET", "before%d" % i, str(i))
            assert not os.path.exists(os.path.join(proc.dir, AOF_DIR))
            assert c.call("CONFIG", "SET", "appendonly", "yes") == b"OK"
            c.call("SET", "after", "1")
            info = _wait_rewrites_done(c)
            assert info["aof_enabled"] == "1" and info["aof_rewrites"] == "1"
            c.call("SET", "later", "2")
            c.call("DEL", "before5")
        assert len([n for n in _files(proc) if n.endswith(".base.rdb")]) == 2
        _kill(proc)
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert c.call("DBSIZE") == 101
            assert c.call("GET", "before7") == b"7" and c.call("GET", "later") == b"2"
            assert c.call("EXISTS", "before5") == 0
            # Turned off again: nothing more is appended.
            assert c.call("CONFIG", "SET", "appendonly", "no") == b"OK"
            assert _info(c)["aof_enabled"] == "0"
            c.call("SET", "not-logged", "1")
        _kill(proc)
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert c.call("EXISTS", "not-logged") == 0 and c.call("DBSIZE") == 101
    finally:
        _cleanup(proc)


def test_transactions_replay_and_each_shard_wraps_its_part_in_multi_exec():
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    a0, b0 = names_on_shard(0, 2, "t")
    a1, b1 = names_on_shard(1, 2, "t")
    try:
        with RawClient(proc.port) as c:
            c.call("SET", a0, "10")
            assert c.call("MULTI") == b"OK"
            for args in (("INCR", a0), ("SET", b0, "x"), ("RPUSH", a1, "p", "q"),
                         ("SET", b1, "y"), ("SET", "solo", "z")):
                assert c.call(*args) == b"QUEUED"
            assert c.call("EXEC") == [11, b"OK", 2, b"OK", b"OK"]
            before = _dataset(c)
        _terminate(proc)
        for shard, keys in ((0, (a0, b0)), (1, (a1, b1))):
            with open(_incr_path(proc, shard), "rb") as f:
                data = f.read()
            start = data.index(b"*1\r\n$5\r\nMULTI\r\n")
            end = data.index(b"*1\r\n$4\r\nEXEC\r\n", start)
            inside = data[start:end]
            for key in keys:
                assert b"\r\n%s\r\n" % key.encode() in inside, data
        proc = _same_after_restart(proc, before)
    finally:
        _cleanup(proc)


def _aof_names(proc) -> list:
    return sorted(os.listdir(os.path.join(proc.dir, "appendonlydir")))


def test_a_restart_with_another_shard_count_keeps_every_key_of_the_aof():
    """2 shards write their AOF (a base, then records after a rewrite, a
    FLUSHALL in the middle of one shard's file); 3 shards start on it: each
    replays the old shards' files whose slots it owns into a scratch
    keyspace and keeps its slots' keys, writes its own AOF, and the old
    files go.  Then 1 shard, from the 3 shards' files, the same."""
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            c.call("SET", "early", "gone soon")
            c.call("FLUSHALL")
            _load_every_type(c)
            c.call("BGREWRITEAOF")
            _wait_rewrites_done(c)
            c.call("SET", "after-rewrite", "1")
            c.call("MSET", *[x for i in range(500) for x in ("k%d" % i, "v%d" % i)])
            c.call("DEL", "k7")
            before = _dataset(c)
        _kill(proc)
        assert any("-of-0002." in n for n in _aof_names(proc))
        for shards in (3, 1):
            proc = _with_shards(proc, shards, appendonly="yes")
            with RawClient(proc.port) as c:
                assert _dataset(c) == before
                c.call("SET", "written-with-%d" % shards, "1")
                before = _dataset(c)
            assert "are rewritten as %d shards' files" % shards in proc.log()
            names = _aof_names(proc)
            assert all("-of-%04d." % shards in n for n in names), names
            _kill(proc)
        proc = _with_shards(proc, 1, appendonly="yes")  # its own files, now
        with RawClient(proc.port) as c:
            assert _dataset(c) == before
    finally:
        _cleanup(proc)


def test_aof_files_of_another_count_that_are_incomplete_stop_the_start():
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            c.call("SET", "k", "v")
        _terminate(proc)
        os.unlink(os.path.join(proc.dir, "appendonlydir", "appendonly-0002-of-0002.aof.manifest"))
        three = DamselflyProcess(shards=3)
        os.rmdir(three.dir)
        three.dir = proc.dir
        out = _start_fails(three, appendonly="yes")
        assert "append-only files of another shard count that do not form one complete set " \
               "(found manifests of 1 of 2 shards)" in out, out
    finally:
        _cleanup(proc)


@pytest.mark.parametrize("option", ["appendonly", "appendfsync", "aof-load-truncated",
                                    "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
                                    "appenddirname", "appendfilename"])
def test_config_get_names_the_aof_options_as_redis(server, option):
    with RawClient(server.port) as c:
        name, _ = c.call("CONFIG", "GET", option)
        assert name == option.encode()


def test_automatic_rewrite_when_the_aof_has_doubled():
    proc = DamselflyProcess(shards=2, appendonly="yes", auto_aof_rewrite_min_size="20kb").start()
    try:
        with RawClient(proc.port) as c:
            assert c.call("CONFIG", "GET", "auto-aof-rewrite-percentage") == [
                b"auto-aof-rewrite-percentage", b"100"]
            rewrites = int(_wait_rewrites_done(c)["aof_rewrites"])  # the first base's done
            for round_ in range(30):
                c.pipeline([("SET", "key%d" % i, "round-%d" % round_) for i in range(100)])
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # every shard's AOF compacted (sizes summed)
                info = _info(c)
                if int(info["aof_rewrites"]) > rewrites and info["aof_rewrite_in_progress"] == "0" \
                        and int(info["aof_current_size"]) < 20 * 1024 * 2:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("no automatic rewrite: %r" % info)
            # Turned off: no more automatic rewrites however much it grows.
            assert c.call("CONFIG", "SET", "auto-aof-rewrite-percentage", "0") == b"OK"
            rewrites = int(info["aof_rewrites"])
            for round_ in range(30):
                c.pipeline([("SET", "key%d" % i, "again-%d" % round_) for i in range(100)])
            time.sleep(1.5)
            assert int(_info(c)["aof_rewrites"]) == rewrites
            before = _dataset(c)
        _kill(proc)
        proc = _same_after_restart(proc, before)
    finally:
        _cleanup(proc)


def test_kill_9_during_a_rewrite_keeps_every_write_and_cleans_up():
    """The manifest lists old base + old incrementals + the new incremental
    file from the rewrite's first moment: a crash mid-rewrite replays them all."""
    proc = DamselflyProcess(shards=2, appendonly="yes", appendfsync="always").start()
    try:
        with RawClient(proc.port) as c:
            for start in range(0, 40000, 1000):
                c.call("MSET", *[x for i in range(start, start + 1000)
                                 for x in ("key%d" % i, "v%d" % i)])
            assert c.call("BGREWRITEAOF") == b"Background append only file rewriting started"
            c.call("SET", "during", "1")
            in_progress = _info(c)["aof_rewrite_in_progress"]
        _kill(proc)
        leftovers = [n for n in _files(proc) if n.startswith("temp-")]
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert c.call("DBSIZE") == 40001
            assert c.call("GET", "key39999") == b"v39999" and c.call("GET", "during") == b"1"
        assert not [n for n in _files(proc) if n.startswith("temp-")]
        # Whether the kill met the rewrite depends on timing; say which case ran.
        print("rewrite in progress at the kill: %s, temp files left: %s" % (in_progress,
                                                                              leftovers))
    finally:
        _cleanup(proc)


def test_an_unwritable_aof_directory_refuses_appendonly():
    proc = DamselflyProcess(shards=2).start()
    try:
        with open(os.path.join(proc.dir, AOF_DIR), "w") as f:
            f.write("a file where the directory should be")
        with RawClient(proc.port) as c:
            reply = c.call("CONFIG", "SET", "appendonly", "yes")
            assert isinstance(reply, Err) and "appendonly" in reply, reply
            assert c.call("SET", "k", "v") == b"OK"
            assert _info(c)["aof_enabled"] == "0"
    finally:
        _cleanup(proc)


@pytest.mark.parametrize("fsync", ["everysec", "no"])
def test_every_fsync_policy_writes_before_the_reply_so_kill_9_of_the_processes_loses_nothing(
        fsync):
    """everysec and no differ from always only on a machine crash: the records
    reach the kernel before the replies leave, so a killed process keeps them."""
    proc = DamselflyProcess(shards=2, appendonly="yes", appendfsync=fsync).start()
    try:
        with RawClient(proc.port) as c:
            assert c.call("CONFIG", "GET", "appendfsync") == [b"appendfsync", fsync.encode()]
            for i in range(200):
                c.call("SET", "k%d" % i, str(i))
            c.call("SELECT", "2")
            c.call("LPUSH", "list", "a")
            c.call("SELECT", "0")
            before = _dataset(c)
        _kill(proc)
        proc = _same_after_restart(proc, before)
        with RawClient(proc.port) as c:
            assert c.call("SELECT", "2") == b"OK" and c.call("LLEN", "list") == 1
    finally:
        _cleanup(proc)


def test_flush_and_swapdb_during_a_rewrite_keep_the_base_point_in_time():
    """A flush or SWAPDB writes every bucket not yet in the base first."""
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            for db in (0, 1):
                c.call("SELECT", str(db))
                for start in range(0, 20000, 1000):
                    c.call("MSET", *[x for i in range(start, start + 1000)
                                     for x in ("d%d:%d" % (db, i), "v%d" % i)])
            c.call("SELECT", "0")
            # One pipeline: the shards run it in the batch that starts the rewrite.
            replies = c.pipeline([("BGREWRITEAOF",), ("SELECT", "1"), ("FLUSHDB",),
                                  ("SET", "after-flush", "1"), ("SWAPDB", "0", "2"),
                                  ("SELECT", "2"), ("DEL", "d0:5"), ("INFO", "persistence")])
            assert replies[:7] == [b"Background append only file rewriting started", b"OK",
                                   b"OK", b"OK", b"OK", b"OK", 1]
            in_progress = b"aof_rewrite_in_progress:1" in replies[7]
            _wait_rewrites_done(c)
            expected = {}
            for db in (0, 1, 2):
                c.call("SELECT", str(db))
                expected[db] = (c.call("DBSIZE"), c.call("GET", "d0:7"), c.call("GET", "d1:7"),
                                c.call("EXISTS", "d0:5"), c.call("GET", "after-flush"))
        assert expected[2][0] == 19999 and expected[1][0] == 1 and expected[0][0] == 0
        _kill(proc)
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            for db in (0, 1, 2):
                c.call("SELECT", str(db))
                assert (c.call("DBSIZE"), c.call("GET", "d0:7"), c.call("GET", "d1:7"),
                        c.call("EXISTS", "d0:5"), c.call("GET", "after-flush")) == expected[db]
        print("rewrite in progress during the flush: %s" % in_progress)
    finally:
        _cleanup(proc)


def test_a_scripts_effects_replay_not_the_script():
    """A script is journalled as its writes (MULTI/EXEC around several), so
    the replay needs neither the script cache nor Lua, and a random choice
    the script made replays as it was made."""
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            c.call("SADD", "{s}pool", *[str(i) for i in range(50)])
            picked = c.call("EVAL", "local m = redis.call('SPOP', KEYS[1]); "
                                    "redis.call('SET', KEYS[2], m); "
                                    "redis.call('INCRBY', KEYS[3], 5); return m",
                            "3", "{s}pool", "{s}picked", "{s}n")
            sha = c.call("SCRIPT", "LOAD", "return redis.call('LPUSH', KEYS[1], ARGV[1])")
            assert c.call("EVALSHA", sha, "1", "{s}list", "x") == 1
            before = _dataset(c)
        _terminate(proc)
        data = b"".join(open(_incr_path(proc, shard), "rb").read() for shard in (0, 1))
        assert b"EVAL" not in data and b"redis.call" not in data
        assert b"*1\r\n$5\r\nMULTI\r\n*3\r\n$4\r\nSREM\r\n" in data
        proc = _same_after_restart(proc, before)
        with RawClient(proc.port) as c:
            assert c.call("GET", "{s}picked") == picked
            assert c.call("SISMEMBER", "{s}pool", picked) == 0 and c.call("GET", "{s}n") == b"5"
    finally:
        _cleanup(proc)


def test_bgrewriteaof_and_config_set_appendonly_inside_multi_take_effect_after_exec():
    proc = DamselflyProcess(shards=2).start()
    try:
        with RawClient(proc.port) as c:
            c.call("SELECT", "4")
            replies = c.pipeline([("MULTI",), ("SET", "a", "1"),
                                  ("CONFIG", "SET", "appendonly", "yes"), ("SET", "b", "2"),
                                  ("EXEC",)])
            assert replies[-1] == [b"OK", b"OK", b"OK"]
            _wait_rewrites_done(c)
            replies = c.pipeline([("MULTI",), ("SET", "c", "3"), ("BGREWRITEAOF",),
                                  ("SET", "d", "4"), ("EXEC",)])
            assert replies[-1] == [b"OK", b"Background append only file rewriting scheduled",
                                   b"OK"]
            time.sleep(0.1)
            info = _wait_rewrites_done(c)
            assert info["aof_enabled"] == "1"
            c.call("SET", "e", "5")
        _kill(proc)
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            c.call("SELECT", "4")
            assert c.pipeline([("GET", k) for k in "abcde"]) == [b"1", b"2", b"3", b"4", b"5"]
    finally:
        _cleanup(proc)


@pytest.mark.parametrize("record, says", [
    (b"*2\r\n$6\r\nSELECT\r\n$2\r\n99\r\n", "SELECT of a database this server lacks"),
    (b"*2\r\n$7\r\nNOTACMD\r\n$1\r\nx\r\n", "unknown command"),
    (b"*2\r\n$3\r\nSET\r\n$1\r\nx\r\n", "wrong number of arguments for 'set'"),
])
def test_a_record_the_shard_cannot_run_stops_the_start(record, says):
    proc = DamselflyProcess(shards=1, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            c.call("SET", "k", "v")
        _terminate(proc)
        path = _incr_path(proc, 0)
        with open(path, "ab") as f:
            f.write(record + b"*3\r\n$3\r\nSET\r\n$1\r\ny\r\n$1\r\nz\r\n")
        out = _start_fails(proc, appendonly="yes")
        assert path in out and says in out, out
    finally:
        _cleanup(proc)


def test_function_libraries_survive_through_the_incremental_file_and_the_base():
    library = ("#!lua name=aoflib\n"
               "redis.register_function('setit', function(keys, args) "
               "return redis.call('SET', keys[1], args[1]) end)")
    proc = DamselflyProcess(shards=2, appendonly="yes").start()
    try:
        with RawClient(proc.port) as c:
            assert c.call("FUNCTION", "LOAD", library) == b"aoflib"
            assert c.call("FCALL", "setit", "1", "f1", "one") == b"OK"
        _kill(proc)  # the library comes back from the incremental file's FUNCTION LOAD
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert c.call("GET", "f1") == b"one"
            assert c.call("FCALL", "setit", "1", "f2", "two") == b"OK"
            assert c.call("BGREWRITEAOF") == b"Background append only file rewriting started"
            _wait_rewrites_done(c)
        _kill(proc)  # now from the base's FUNCTION2 record
        proc = _again(proc, appendonly="yes")
        with RawClient(proc.port) as c:
            assert c.call("GET", "f2") == b"two"
            assert c.call("FCALL", "setit", "1", "f3", "three") == b"OK"
    finally:
        _cleanup(proc)
