"""Functions with real processes: libraries in the snapshot, as Redis keeps
them in the RDB (they survive SAVE and a restart with another shard count
too, and a redis-server dump.rdb's libraries are imported with its keys),
and a shard port in ``sharded`` mode acting as one Redis Cluster node."""

from __future__ import annotations

from shardnode.rdb.file import RdbFunction, read_rdb
from tests.differential.test_rdb_files import LIBRARY, _damselfly_with, _saved_reference
from tests.e2e.test_snapshots import _files
from tests.helpers import DamselflyProcess, RawClient, names_on_shard

A = names_on_shard(0, 1, "a")[0]
B = names_on_shard(1, 1, "b")[0]

CODE = ("#!lua name=keep\n"
        "redis.register_function{function_name='bump', callback=function(keys, args)\n"
        "  return redis.call('INCRBY', keys[1], args[1])\n"
        "end, description='adds to a counter'}")


def test_libraries_survive_save_and_restart():
    with DamselflyProcess(shards=2) as proc, RawClient(proc.port) as c:
        assert c.call("FUNCTION", "LOAD", CODE) == b"keep"
        assert c.call("FCALL", "bump", "1", A, "2") == 2
        assert c.call("SAVE") == b"OK"
        listing = c.call("FUNCTION", "LIST", "WITHCODE")
        files = _files(proc.dir)
    for name, data in files.items():
        if name.endswith(".rdb"):  # each shard file holds the library (FUNCTION2)
            assert [r.code for r in read_rdb(data) if type(r) is RdbFunction] == [CODE.encode()]
    for shards in (2, 3):
        with _damselfly_with(files, shards=shards) as proc, RawClient(proc.port) as c:
            assert c.call("FUNCTION", "LIST", "WITHCODE") == listing
            assert c.call("FCALL", "bump", "1", A, "5") == 7
            assert c.call("FCALL", "bump", "1", B, "1") == 1
            for port in proc.shard_ports:  # every shard has it
                with RawClient(port) as shard:
                    assert shard.call("FUNCTION", "LIST") == c.call("FUNCTION", "LIST")


def test_a_redis_dump_with_a_library_imports_it(tmp_path):
    path, _ = _saved_reference(tmp_path)
    with _damselfly_with({"dump.rdb": path.read_bytes()}, shards=2) as ours:
        with RawClient(ours.port) as c:
            listing = c.call("FUNCTION", "LIST", "WITHCODE")
            assert [entry[1] for entry in listing] == [b"rdblib"]
            assert listing[0][-1] == LIBRARY.encode()
            assert c.call("FCALL", "rdbfn", "1", A) == 7
            assert c.call("FCALL", "rdbfn", "1", B) == 7


def test_a_shard_port_in_sharded_mode_is_one_cluster_node():
    """Libraries loaded on a shard port are that shard's alone; FCALL keeps
    to one slot unless the function says allow-cross-slot-keys, and a
    no-cluster function does not run (Redis Cluster's rules)."""
    from cluster import errors
    from tests.helpers import Err

    code = ("#!lua name=node\n"
            "local function two(keys, args) redis.call('SET', keys[1], '1') "
            "return redis.call('SET', args[1], '2') end\n"
            "redis.register_function('strict', two)\n"
            "redis.register_function{function_name='loose', callback=two, "
            "flags={'allow-cross-slot-keys'}}\n"
            "redis.register_function{function_name='local_only', callback=two, "
            "flags={'no-cluster'}}")
    a1, a2 = names_on_shard(0, 2, "n")
    with DamselflyProcess(shards=2, cluster_mode="sharded") as proc:
        with RawClient(proc.shard_ports[0]) as first, RawClient(proc.shard_ports[1]) as second:
            assert first.call("FUNCTION", "LOAD", code) == b"node"
            assert second.call("FUNCTION", "LIST") == []
            assert second.call("FCALL", "strict", "0") == Err("ERR Function not found")
            assert first.call("FCALL", "loose", "2", a1, a2) == Err(
                "CROSSSLOT Keys in request don't hash to the same slot")
            assert first.call("FCALL", "strict", "1", a1, a2) == Err(
                errors.SCRIPT_CROSS_SLOT + " script: strict, on @user_function:2.")
            assert first.call("FCALL", "loose", "1", a1, a2) == b"OK"
            assert first.call("FCALL", "local_only", "1", a1, a1) == Err(
                errors.SCRIPT_NO_CLUSTER)
