"""maxmemory per shard, MEMORY USAGE against what a delete frees, memory
given back after FLUSHALL, and the container limits (fake cgroup files)."""

from __future__ import annotations

import os
import time

import pytest

from cluster.cgroups import ROOT_ENV
from tests.e2e.test_memory_accounting import _info, _pipeline, _rss, _shard_pids, _used
from tests.helpers import DamselflyProcess, Err, RawClient, names_on_shard

OOM = Err("OOM command not allowed when used memory > 'maxmemory'.")


def test_maxmemory_is_split_among_shards_and_changes_live():
    with DamselflyProcess(shards=2, maxmemory="10mb") as proc:
        with RawClient(proc.port) as client, RawClient(proc.shard_ports[1]) as shard:
            assert _info(client)["maxmemory"] == str(10 << 20)
            assert _info(shard)["maxmemory"] == str(5 << 20)  # its share
            _pipeline(client, [[b"SET", b"key:%d" % i, b"v" * 100] for i in range(20000)])
            used = _used(client)
            assert used > 2 << 20
            # Shrinking below what is used: the evictor runs (noeviction frees
            # nothing), then writes are refused; reads and deletes still work.
            assert client.call("CONFIG", "SET", "maxmemory", str(used // 2)) == b"OK"
            assert _info(shard)["maxmemory"] == str(used // 2 // 2)
            assert client.call("SET", "other", "x") == OOM
            assert client.call("GET", "key:1") == b"v" * 100
            assert client.call("DEL", "key:1") == 1
            assert client.call("CONFIG", "SET", "maxmemory", "0") == b"OK"
            assert client.call("SET", "other", "x") == b"OK"
            assert _info(shard)["maxmemory"] == "0"


def test_shrinking_maxmemory_evicts_down_to_the_new_limit_at_once():
    with DamselflyProcess(shards=2, maxmemory_policy="allkeys-random") as proc, \
            RawClient(proc.port) as client:
        _pipeline(client, [[b"SET", b"key:%d" % i, b"v" * 200] for i in range(20000)])
        used = _used(client)
        assert client.call("CONFIG", "SET", "maxmemory", str(used // 2)) == b"OK"
        assert _used(client) <= used // 2  # before any further command
        evicted = int(_info(client, "stats")["evicted_keys"])
        assert evicted > 0 and client.call("DBSIZE") == 20000 - evicted
        assert client.call("SET", "new", "x") == b"OK"  # evicts room for itself


def test_writes_refused_only_on_the_shard_over_its_share():
    (small,) = names_on_shard(0, 1, "s")
    (big,) = names_on_shard(1, 1, "b")
    with DamselflyProcess(shards=2) as proc, RawClient(proc.port) as client:
        client.call("SET", big, "x" * (3 << 20))  # shard 1 alone holds 3 MB
        assert client.call("CONFIG", "SET", "maxmemory", "4mb") == b"OK"  # 2 MB each
        assert client.call("SET", small, "1") == b"OK"
        assert client.call("APPEND", big, "1") == OOM


def _big_values():
    n = 100000
    yield "string", [[b"SET", b"big", b"x" * (8 << 20)]]
    for kind, add in (("hash", b"HSET"), ("list", b"RPUSH"), ("set", b"SADD"),
                      ("zset", b"ZADD")):
        commands = []
        for start in range(0, n, 1000):
            cmd = [add, b"big"]
            for i in range(start, start + 1000):
                if kind == "hash":
                    cmd += [b"field:%d" % i, b"value:%d" % i]
                elif kind == "zset":
                    cmd += [b"%d" % i, b"member:%d" % i]
                else:
                    cmd.append(b"member:%d" % i)
            commands.append(cmd)
        yield kind, commands


def _push_out_of_the_journal(client) -> None:
    """The journal's buffer (DF.JOURNAL) keeps the arguments of the last
    1024 writes, and with them the members they added: small writes push
    them out, so that deleting the key frees them."""
    _pipeline(client, [[b"SET", b"filler", b"%d" % i] for i in range(1100)])


@pytest.mark.parametrize("kind, commands", list(_big_values()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_memory_usage_is_what_the_key_takes_and_deleting_it_frees(kind, commands):
    """MEMORY USAGE against the used_memory its DEL gives back (within 20%)
    and the RSS the key took when loaded (printed with the RSS its DEL gives
    back).  One key's RSS figures are allocator-bound: the load's own
    transient buffers, freed, are reused by the key's objects (so RSS grows
    by less than the key takes), and CPython keeps an arena while any object
    in it lives (so a DEL gives back less).  Many keys average that out:
    tests/e2e/test_memory_accounting.py holds used_memory to 20% of RSS."""
    with DamselflyProcess(shards=1) as proc, RawClient(proc.port, timeout=60) as client:
        pids = _shard_pids(proc)
        _push_out_of_the_journal(client)
        rss_before = _rss(pids)
        _pipeline(client, commands)
        _push_out_of_the_journal(client)
        client.call("MEMORY", "PURGE")
        time.sleep(0.2)
        rss, used = _rss(pids), _used(client)
        usage = client.call("MEMORY", "USAGE", "big", "SAMPLES", "0")
        assert client.call("DEL", "big") == 1
        _push_out_of_the_journal(client)
        client.call("MEMORY", "PURGE")
        time.sleep(0.2)
        rss_taken, rss_freed, used_freed = rss - rss_before, rss - _rss(pids), used - _used(client)
        print("\n%-6s MEMORY USAGE %9d  RSS taken %9d  used_memory freed %9d  RSS freed %9d"
              % (kind, usage, rss_taken, used_freed, rss_freed))
        assert abs(used_freed - usage) <= 0.2 * usage
        assert 0.6 * usage <= rss_taken <= 1.4 * usage


def test_used_memory_back_to_zero_and_memory_returned_after_flushall():
    with DamselflyProcess(shards=2) as proc, RawClient(proc.port, timeout=60) as client:
        pids = _shard_pids(proc)
        idle = _rss(pids)
        keys = [b"k:%d" % i for i in range(100000)]
        _pipeline(client, [[b"SET", key, b"v" * 64] for key in keys])
        _pipeline(client, [[b"HSET", b"h:%d" % i, b"f", b"v", b"g", b"w"] for i in range(50000)])
        loaded = _rss(pids)
        assert _used(client) > 20 << 20
        _pipeline(client, [[b"DEL"] + keys[i:i + 100] for i in range(0, len(keys), 100)])
        _pipeline(client, [[b"HDEL", b"h:%d" % i, b"f", b"g"] for i in range(50000)])
        assert _used(client) == 0 and client.call("DBSIZE") == 0
        _pipeline(client, [[b"SET", key, b"v" * 64] for key in keys])
        assert client.call("FLUSHALL") == b"OK"  # gives memory back by itself
        assert _used(client) == 0
        time.sleep(0.2)
        after = _rss(pids)
        print("\nshards' RSS: idle %.1f MB, loaded %.1f MB, after FLUSHALL %.1f MB"
              % (idle / 2**20, loaded / 2**20, after / 2**20))
        # Measured: about 40% of the growth goes back.  CPython frees an arena
        # only when every object in it is gone, and the journal's buffer keeps
        # the last writes' arguments (see _push_out_of_the_journal).
        assert loaded - after > 0.25 * (loaded - idle)


def test_proactor_threads_zero_follows_the_cpu_quota(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # one CPU
    (tmp_path / "memory.max").write_text("%d\n" % (64 << 20))
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    proc = DamselflyProcess(shards=2, maxmemory="128mb")
    proc.argv = lambda argv=proc.argv: [a if a != "2" or b != "--proactor_threads" else "0"
                                        for b, a in zip([""] + argv(), argv())]
    with proc:
        log = proc.log()
        assert "1 shard" in log.split("damselfly ready", 1)[1].splitlines()[0], log
        assert "is not below the container's memory limit (%d bytes)" % (64 << 20) in log
        with RawClient(proc.port) as client:
            assert client.call("SET", "k", "v") == b"OK"
    monkeypatch.setenv(ROOT_ENV, os.fspath(tmp_path / "absent"))
