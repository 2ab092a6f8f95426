"""RDB files between damselfly and a real redis-server, both directions.

- a ``dump.rdb`` that redis-server SAVEs (every type and encoding it writes,
  TTLs, several databases, a function library) is imported on start by a
  2-shard damselfly with the same contents;
- files our writer produces pass ``redis-check-rdb`` and load in redis-server
  with the same contents, and so does ``damselfly rdb merge``'s output;
- a snapshot of 4 shard files loads into 2 shards and into 1;
- a file that exists but cannot be read stops the start with an error naming
  it (never an empty start), and ``damselfly rdb check`` exits 1 on it;
- while a large file loads, clients get -LOADING and INFO shows loading:1.
"""

import io
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from cluster.slots import key_slot
from shardnode.rdb.checksum import crc64
from shardnode.rdb.file import AUX_SHARD, AUX_SHARDS, AUX_SNAPSHOT, RdbFileWriter
from shardnode.rdb.snapshot import shard_file_name, summary_file_name, summary_json
from shardnode.registry import load_families
from shardnode.values import load_payload
from tests.helpers import ROOT, DamselflyProcess, Err, RawClient, RedisProcess

load_families()

DBS = (0, 1, 7)
LIBRARY = "#!lua name=rdblib\nredis.register_function('rdbfn', function() return 7 end)"


def _populate(c: RawClient, db: int) -> None:
    """Keys of every type and every encoding redis-server 7.0 writes."""
    c.call("SELECT", db)
    p = "db%d:" % db
    c.call("SET", p + "str", "hello")
    c.call("SET", p + "int", "-123456789")
    c.call("SET", p + "lzf", "abc" * 200)  # LZF-compressed in the file
    c.call("SET", p + "raw", os.urandom(100))  # incompressible
    c.call("SET", p + "ttl", "soon-gone-later", "PX", 3_600_000)
    c.call("RPUSH", p + "list", *["e%d" % i for i in range(10)])
    c.call("RPUSH", p + "biglist", *[("x%d" % i) * 30 for i in range(2000)])  # many nodes
    c.call("HSET", p + "hash", "a", "1", "b", "two")
    c.call("HSET", p + "bighash", *[x for i in range(600) for x in ("f%d" % i, "v%d" % i)])
    c.call("SADD", p + "intset", *range(50))
    c.call("SADD", p + "set", "a", "b", "c")
    c.call("SADD", p + "bigset", *["m%d" % i for i in range(600)])
    c.call("ZADD", p + "zset", 1, "a", 2.5, "b", -3, "c")
    c.call("ZADD", p + "bigzset", *[x for i in range(200) for x in (i / 7, "m%d" % i)])
    c.call("PEXPIRE", p + "bighash", 7_200_000)
    c.call("SELECT", 0)


def _snapshot(c: RawClient) -> dict:
    """{(db, key): (type, encoding, value, pexpiretime)} of a server, read
    type by type (a list's DUMP may cut its nodes differently)."""
    out = {}
    for db in range(16):
        c.call("SELECT", db)
        for key in c.call("KEYS", "*"):
            kind = c.call("TYPE", key)
            if kind == b"string":
                value = c.call("GET", key)
            elif kind == b"list":
                value = c.call("LRANGE", key, 0, -1)
            elif kind == b"hash":
                value = sorted(c.call("HGETALL", key))
            elif kind == b"set":
                value = sorted(c.call("SMEMBERS", key))
            else:
                value = c.call("ZRANGE", key, 0, -1, "WITHSCORES")
            out[(db, key)] = (kind, c.call("OBJECT", "ENCODING", key), value,
                              c.call("PEXPIRETIME", key))
    c.call("SELECT", 0)
    return out


def _saved_reference(tmp_path, extra=None, args=()):
    """A redis-server (started with ``args``, then given ``extra(client)``)
    with the test data SAVEd: (its dump.rdb copied to tmp_path, the contents
    it holds)."""
    ref = RedisProcess(*args).start()
    try:
        with RawClient(ref.port) as c:
            if extra:
                extra(c)
            for db in DBS:
                _populate(c, db)
            assert c.call("FUNCTION", "LOAD", LIBRARY) == b"rdblib"
            # A key that expires before the load: dropped, as Redis drops it.
            c.call("SET", "gone", "x", "PX", 300)
            contents = _snapshot(c)
            assert c.call("SAVE") == b"OK"
        del contents[(0, b"gone")]
        path = tmp_path / "dump.rdb"
        shutil.copy(os.path.join(ref.dir, "dump.rdb"), path)
    finally:
        ref.stop()
    time.sleep(0.4)  # past "gone"'s deadline
    return path, contents


def _damselfly_with(files: dict, **options) -> DamselflyProcess:
    """A damselfly whose dir holds ``files`` (name -> bytes) when it starts
    (use it in a ``with``, which starts it)."""
    proc = DamselflyProcess(**options)
    for name, data in files.items():
        with open(os.path.join(proc.dir, name), "wb") as f:
            f.write(data)
    return proc


def _redis_loading(path) -> RedisProcess:
    """A redis-server started on the RDB file at ``path``."""
    ref = RedisProcess("--dbfilename", "loaded.rdb")
    shutil.copy(path, os.path.join(ref.dir, "loaded.rdb"))
    return ref.start()


def _check_rdb(path) -> None:
    result = subprocess.run(["redis-check-rdb", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RDB looks OK" in result.stdout


def _damselfly_rdb(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "cluster.cli", "rdb", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


# -- redis-server -> damselfly --------------------------------------------------


def test_redis_dump_imports_with_every_type_encoding_and_ttl(tmp_path):
    path, contents = _saved_reference(tmp_path)
    with _damselfly_with({"dump.rdb": path.read_bytes()}, shards=2) as ours:
        with RawClient(ours.port) as c:
            assert _snapshot(c) == contents
            info = c.call("INFO", "persistence").decode()
            assert "loading:0" in info and "rdb_changes_since_last_save:0" in info
        # Each shard holds only the keys of its slots.
        for shard, port in enumerate(ours.shard_ports):
            with RawClient(port) as c:
                mine = {k for (db, k) in contents if db == 0 and (key_slot(k) >= 8192) == bool(shard)}
                assert set(c.call("KEYS", "*")) == mine
        assert "loaded %d keys" % len([1 for (db, k) in contents
                                       if key_slot(k) < 8192]) in ours.log()


@pytest.mark.parametrize("policy,hint", [("allkeys-lfu", 0xF9), ("allkeys-lru", 0xF8)])
def test_redis_dump_without_checksum_or_compression_with_compressed_lists_imports(
        tmp_path, policy, hint):
    """rdbchecksum no (a zero trailer), rdbcompression no (no LZF strings),
    list-compress-depth 1 (LZF-compressed quicklist nodes inside), and an
    eviction policy that makes Redis write each key's FREQ or IDLE hint."""
    def settings(c):
        for name, value in (("rdbcompression", "no"), ("list-compress-depth", "1")):
            assert c.call("CONFIG", "SET", name, value) == b"OK"
        c.call("RPUSH", "deep", *[("y%d" % i) * 40 for i in range(3000)])
    path, contents = _saved_reference(tmp_path, settings, ("--rdbchecksum", "no",
                                                           "--maxmemory-policy", policy))
    data = path.read_bytes()
    assert data[-8:] == bytes(8)
    # the hint (one byte of value) right before "db0:str"'s type byte and name
    assert re.search(re.escape(bytes((hint,))) + b".\x00\x07db0:str", data, re.S)
    with _damselfly_with({"dump.rdb": path.read_bytes()}, shards=2) as ours:
        with RawClient(ours.port) as c:
            assert _snapshot(c) == contents


def test_checking_a_redis_dump(tmp_path):
    path, contents = _saved_reference(tmp_path)
    result = _damselfly_rdb("check", path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "OK, RDB version 0010" in out
    assert "keys: %d" % (len(contents) + 1) in out  # "gone" is still in the file
    for db in DBS:
        expires = 2 + (db == 0)
        assert "db%d: keys=%d expires=%d" % (db, 14 + (db == 0), expires) in out
    for label in ("string: %d" % (5 * 3 + 1), "list (quicklist): 6", "hash (listpack): 3",
                  "hash (hashtable): 3", "set (intset): 3", "set (hashtable): 6",
                  "zset (listpack): 3", "zset (skiplist): 3"):
        assert "type " + label in out
    assert "functions: 1" in out


def test_a_redis_dump_with_streams_loads(tmp_path):
    """Streams (several nodes, a tombstone, groups with pending entries and
    consumers) load from a redis-server dump: each DUMPs to redis's bytes."""
    streams = {}

    def add_streams(c):
        for name in ("events", "ticks"):
            for i in range(1, 180):
                c.call("XADD", name, "%d-1" % i, "n", str(i), "pad", "x" * (i % 40))
            c.call("XDEL", name, "7-1")
            c.call("XGROUP", "CREATE", name, "g", "0")
            c.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", name, ">")
            c.call("XGROUP", "CREATECONSUMER", name, "g", "bob")
            streams[name.encode()] = c.call("DUMP", name)

    path, _ = _saved_reference(tmp_path, add_streams)
    with _damselfly_with({"dump.rdb": path.read_bytes()}, shards=2) as ours:
        with RawClient(ours.port) as c:
            for key, payload in streams.items():
                assert c.call("DUMP", key) == payload
                assert c.call("XPENDING", key, "g")[0] == 3


# -- damselfly's writer -> redis-server -------------------------------------------


def _values_of(c: RawClient, keys_by_db) -> dict:
    """{(db, key): (DUMP payload, pexpiretime)} read from a server."""
    out = {}
    for db, keys in keys_by_db.items():
        c.call("SELECT", db)
        for key in keys:
            out[(db, key)] = (c.call("DUMP", key), c.call("PEXPIRETIME", key))
    c.call("SELECT", 0)
    return out


def _write_file(stream, entries, *, shard=None, shards=None, snapshot_id=None,
                functions=(LIBRARY.encode(),), decoded=True):
    """An RDB file of ``entries`` ({(db, key): (dump payload, pexpiretime)}):
    values decoded and written by the value layer, or (``decoded`` False)
    the DUMP payloads' objects copied raw."""
    aux = {}
    if shard is not None:
        aux = {AUX_SHARD: shard, AUX_SHARDS: shards, AUX_SNAPSHOT: snapshot_id.encode()}
    writer = RdbFileWriter(stream)
    writer.write_header(aux=aux)
    for code in functions:
        writer.write_function(code)
    for db in sorted({db for db, _ in entries}):
        keys = sorted(k for d, k in entries if d == db)
        writer.select_db(db, len(keys), sum(entries[(db, k)][1] > 0 for k in keys))
        for key in keys:
            payload, deadline = entries[(db, key)]
            expire = deadline if deadline > 0 else None
            if decoded:
                writer.write_key(key, load_payload(payload), expire)
            else:
                writer.write_raw_object(key, payload[0], payload[1:-10], expire)
    writer.finish()


@pytest.mark.parametrize("decoded", [True, False], ids=["values", "raw-objects"])
def test_written_file_passes_redis_check_rdb_and_loads_in_redis(tmp_path, decoded):
    source, contents = _saved_reference(tmp_path)
    with _damselfly_with({"dump.rdb": source.read_bytes()}, shards=2) as ours:
        with RawClient(ours.port) as c:
            keys = {}
            for db, key in contents:
                keys.setdefault(db, []).append(key)
            entries = _values_of(c, keys)
    path = tmp_path / "written.rdb"
    with open(path, "wb") as f:
        _write_file(f, entries, decoded=decoded)
    _check_rdb(path)
    ref = _redis_loading(path)
    try:
        with RawClient(ref.port) as c:
            assert _snapshot(c) == contents
            assert c.call("FCALL", "rdbfn", 0) == 7
    finally:
        ref.stop()


# -- shard files: 4 -> 2, 4 -> 1, merge -------------------------------------------


def _four_shard_files(entries, snapshot_id="test-snap-1"):
    """{name: bytes} of a 4-shard snapshot of ``entries``, plus its summary."""
    files, listed = {}, []
    for shard in range(4):
        mine = {k: v for k, v in entries.items() if key_slot(k[1]) * 4 // 16384 == shard}
        out = io.BytesIO()
        _write_file(out, mine, shard=shard, shards=4, snapshot_id=snapshot_id)
        name = shard_file_name("dump.rdb", shard, 4)
        files[name] = out.getvalue()
        listed.append((name, shard, len(out.getvalue()), int.from_bytes(out.getvalue()[-8:], "little")))
    files[summary_file_name("dump.rdb")] = summary_json(snapshot_id, 1, listed)
    return files


@pytest.fixture(scope="module")
def reference_entries(tmp_path_factory):
    """The test data's DUMP payloads and contents, read from redis-server."""
    tmp = tmp_path_factory.mktemp("ref")
    ref = RedisProcess().start()
    try:
        with RawClient(ref.port) as c:
            for db in DBS:
                _populate(c, db)
            contents = _snapshot(c)
            keys = {}
            for db, key in contents:
                keys.setdefault(db, []).append(key)
            entries = _values_of(c, keys)
    finally:
        ref.stop()
    del tmp
    return entries, contents


@pytest.mark.parametrize("shards", [2, 1])
def test_four_shard_files_load_into_fewer_shards(reference_entries, shards):
    entries, contents = reference_entries
    files = _four_shard_files(entries)
    assert sorted(files) == ["dump-0001-of-0004.rdb", "dump-0002-of-0004.rdb",
                             "dump-0003-of-0004.rdb", "dump-0004-of-0004.rdb",
                             "dump.snapshot.json"]
    with _damselfly_with(files, shards=shards) as ours:
        with RawClient(ours.port) as c:
            assert _snapshot(c) == contents
        assert "dump-0004-of-0004.rdb" in ours.log()


def test_merge_writes_one_file_redis_loads(reference_entries, tmp_path):
    entries, contents = reference_entries
    for name, data in _four_shard_files(entries).items():
        (tmp_path / name).write_bytes(data)
    # Any one shard file, our AUX fields and all, is a valid RDB to Redis.
    for shard in range(4):
        _check_rdb(tmp_path / shard_file_name("dump.rdb", shard, 4))
    ref = _redis_loading(tmp_path / shard_file_name("dump.rdb", 1, 4))
    try:
        with RawClient(ref.port) as c:
            assert _snapshot(c) == {k: v for k, v in contents.items()
                                    if key_slot(k[1]) * 4 // 16384 == 1}
    finally:
        ref.stop()
    out = tmp_path / "merged.rdb"
    result = _damselfly_rdb("merge", tmp_path, out)
    assert result.returncode == 0, result.stderr
    assert "%d keys from 4 files" % len(contents) in result.stdout
    _check_rdb(out)
    ref = _redis_loading(out)
    try:
        with RawClient(ref.port) as c:
            assert _snapshot(c) == contents
            libraries = c.call("FUNCTION", "LIST")
            assert [lib[1] for lib in libraries] == [b"rdblib"]  # once, not 4 times
    finally:
        ref.stop()


# -- unreadable data: no start ----------------------------------------------------


def _start_failing(files: dict, **options) -> str:
    """Start a damselfly on ``files``: it must exit non-zero by itself, its
    last words saying why; its output."""
    proc = DamselflyProcess(**options)
    try:
        for name, data in files.items():
            with open(os.path.join(proc.dir, name), "wb") as f:
                f.write(data)
        env = dict(os.environ, PYTHONPATH=ROOT)
        result = subprocess.run(proc.argv(), cwd=proc.dir, env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode != 0
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("damselfly: shard ") and "cannot load the data in" in last
        return result.stdout + result.stderr
    finally:
        shutil.rmtree(proc.dir, ignore_errors=True)


def _small_file() -> bytes:
    out = io.BytesIO()
    writer = RdbFileWriter(out)
    writer.write_header()
    writer.select_db(0, 200, 0)
    for i in range(200):
        writer.write_key(b"key:%d" % i, b"value %d" % i)
    writer.finish()
    return out.getvalue()


def _with_crc(body: bytes) -> bytes:
    return body + crc64(body).to_bytes(8, "little")


DEFECTS = {
    "truncated": (lambda d: d[: len(d) // 2], "truncated"),
    "bad checksum": (lambda d: d[:-1] + bytes([d[-1] ^ 0xFF]), "wrong checksum"),
    "unknown version": (lambda d: _with_crc(b"REDIS0011" + d[9:-8]), "unknown RDB format version 11"),
    "flipped byte": (lambda d: d[:300] + bytes([d[300] ^ 0x55]) + d[301:], ""),
    "not rdb": (lambda d: b"hello world, not a dump", "wrong signature"),
    "empty": (lambda d: b"", "wrong signature"),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_unreadable_dump_stops_the_start_and_check_fails(defect, tmp_path):
    mutate, reason = DEFECTS[defect]
    data = mutate(_small_file())
    output = _start_failing({"dump.rdb": data}, shards=2)
    last = output.strip().splitlines()[-1]
    assert "dump.rdb" in last and reason in last
    path = tmp_path / "dump.rdb"
    path.write_bytes(data)
    result = _damselfly_rdb("check", path)
    assert result.returncode == 1
    assert str(path) in result.stderr and reason in result.stderr
    assert result.stdout == ""


def test_unreadable_data_is_said_on_stderr_when_logging_to_a_file(tmp_path):
    output = _start_failing({"dump.rdb": b"REDIS0010\xff"}, shards=1,
                            logfile=tmp_path / "damselfly.log")
    assert "dump.rdb: truncated" in output
    assert "dump.rdb: truncated" in (tmp_path / "damselfly.log").read_text()


def test_snapshot_whose_file_does_not_match_its_summary_stops_the_start(reference_entries):
    entries, _ = reference_entries
    files = _four_shard_files(entries)
    files["dump-0003-of-0004.rdb"] = files["dump-0003-of-0004.rdb"][:-1]
    output = _start_failing(files, shards=2)
    assert "dump-0003-of-0004.rdb" in output and "truncated or replaced" in output
    files = _four_shard_files(entries)
    del files["dump-0002-of-0004.rdb"]
    output = _start_failing(files, shards=2)
    assert "dump-0002-of-0004.rdb" in output and "cannot be read" in output
    files = _four_shard_files(entries)
    del files["dump.snapshot.json"], files["dump-0002-of-0004.rdb"]
    output = _start_failing(files, shards=2)
    assert "do not form one complete snapshot (found 3 of 4)" in output


# -- while loading ----------------------------------------------------------------


def test_clients_get_loading_while_a_large_file_loads(tmp_path):
    out = io.BytesIO()
    writer = RdbFileWriter(out)
    writer.write_header()
    count = 400_000
    writer.select_db(0, count, 0)
    for i in range(count):
        writer.write_key(b"key:%d" % i, b"value-%d" % i)
    writer.finish()
    proc = DamselflyProcess(shards=2)
    with open(os.path.join(proc.dir, "dump.rdb"), "wb") as f:
        f.write(out.getvalue())
    env = dict(os.environ, PYTHONPATH=ROOT)
    log = open(proc.log_path, "wb")
    proc.proc = subprocess.Popen(proc.argv(), cwd=proc.dir, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    proc._log = log
    try:
        seen = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "loaded" not in seen:
            for where, port in (("shard", proc.shard_ports[0]), ("proxy", proc.port)):
                try:
                    with RawClient(port) as c:
                        reply = c.call("GET", "key:1")
                        if isinstance(reply, Err):
                            assert reply == "LOADING Redis is loading the dataset in memory"
                            seen.add(where)
                            ping = c.call("PING")  # as redis-server 7.0's PING
                            if ping != b"PONG":  # (unless the load has just ended)
                                assert ping == reply
                                seen.add(where + " ping")
                            info = c.call("INFO", "persistence").decode()
                            if "loading:1" in info:
                                # through the proxy: summed over the shards still loading
                                total = int(info.split("loading_total_bytes:")[1].split()[0])
                                assert total in (len(out.getvalue()), 2 * len(out.getvalue()))
                                assert "loading_loaded_perc:" in info
                                assert "loading_eta_seconds:" in info
                                seen.add(where + " info")
                        elif reply is not None:
                            seen.add("loaded")
                except OSError:
                    pass
            time.sleep(0.02)
        assert seen >= {"shard", "shard info", "shard ping", "proxy", "proxy ping",
                        "loaded"}, seen
        with RawClient(proc.port) as c:
            deadline = time.monotonic() + 60
            while isinstance(c.call("DBSIZE"), Err) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert c.call("DBSIZE") == count
            assert c.call("PING") == b"PONG"
            assert c.call("GET", "key:399999") == b"value-399999"
            assert "loading:0" in c.call("INFO", "persistence").decode()
    finally:
        proc.stop()


def _debug_object_fields(reply) -> dict:
    assert isinstance(reply, bytes), reply
    fields = dict(item.split(":", 1) for item in reply.decode().split(" ", 2)[2].split(" "))
    del fields["lru"]  # the clock's value, not comparable
    return fields


def test_debug_object_as_redis_words_it(diff):
    """DEBUG OBJECT (the RDB length, the encoding, a list's quicklist shape)
    on the key's shard, compared with redis-server (started with
    enable-debug-command: the reference fixture refuses DEBUG otherwise)."""
    if isinstance(diff.ref.call("DEBUG", "OBJECT", "none"), Err) and \
            b"not allowed" in diff.ref.call("DEBUG", "OBJECT", "none").encode():
        ref = RedisProcess("--enable-debug-command", "yes").start()
        diff = type(diff)(RawClient(ref.port), diff.ours)
    else:
        ref = None
    try:
        diff.ref.call("FLUSHALL")
        diff.run("SET", "str", "bar")
        diff.run("SET", "{b}int", "12345")
        diff.run("SET", "raw", "x" * 60)
        diff.run("RPUSH", "list", "a", "b", "c")
        diff.run("RPUSH", "{b}long", *["e%d" % i for i in range(3000)])
        diff.run("HSET", "hash", "f", "v")
        diff.run("ZADD", "{b}zset", "1", "m")
        for key in ("str", "{b}int", "raw", "list", "{b}long", "hash", "{b}zset"):
            ours, ref_reply = diff.ours.call("DEBUG", "OBJECT", key), diff.ref.call(
                "DEBUG", "OBJECT", key)
            assert _debug_object_fields(ours) == _debug_object_fields(ref_reply), key
        diff.run("DEBUG", "OBJECT", "missing")
    finally:
        if ref is not None:
            diff.ref.close()
            ref.stop()
