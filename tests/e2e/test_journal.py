"""The command-level hook on real processes: each shard's journal, read with
DF.JOURNAL, must hold what a redis-server 7.0 appends to its AOF for the same
commands sent through the proxy, entry for entry and database for database.

Each command runs on both servers; then the AOF's new entries are compared
with the new entries of the shard that owns the keys (every shard for a
command sent to all shards).  Deadlines computed from each server's own clock
(``SET .. EX`` becomes ``PXAT <ms>``) must agree within a few seconds.
"""

import glob
import os
import time

import hiredis
import pytest

from tests.helpers import RawClient, RedisProcess, names_on_shard, start_with_secret
from tests.reference import missing_reference

SECRET = "journal-test-secret"


@pytest.fixture(scope="module")
def damselfly():
    proc = start_with_secret(SECRET, shards=2)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def aof_redis():
    if not RedisProcess.available():
        missing_reference("no redis-server binary")
    proc = RedisProcess("--appendonly", "yes", "--appendfsync", "always").start()
    yield proc
    proc.stop()


def _stream(commands):
    """(db, args) for each command of an AOF-like stream; SELECTs consumed."""
    db, out = None, []
    for args in commands:
        if args[0].upper() == b"SELECT":
            db = int(args[1])
        else:
            out.append((db, args))
    return out


class AofReader:
    """The entries a redis-server appended to its AOF so far."""

    def __init__(self, directory):
        self.directory = directory

    def entries(self):
        data = b"".join(open(path, "rb").read() for path in sorted(
            glob.glob(os.path.join(self.directory, "appendonlydir", "*.incr.aof"))))
        reader = hiredis.Reader()
        reader.feed(data)
        commands = []
        while (command := reader.gets()) is not False:
            commands.append(command)
        return _stream(commands)


class JournalReader:
    """One internal link per shard, reading DF.JOURNAL (replies come wrapped)."""

    def __init__(self, ports):
        self.links = [RawClient(port) for port in ports]
        for link in self.links:
            assert self._unwrap(link.call("DF.LINK", SECRET, "0")) == b"OK"

    @staticmethod
    def _unwrap(data):
        reader = hiredis.Reader()
        reader.feed(data)
        return reader.gets()

    def entries(self, shard):
        return _stream(self._unwrap(self.links[shard].call("DF.JOURNAL")))

    def close(self):
        for link in self.links:
            link.close()


def _same_entry(ours, redis):
    """Equal, but for deadlines each server computed from its own clock."""
    (our_db, our_args), (redis_db, redis_args) = ours, redis
    if our_db != redis_db or len(our_args) != len(redis_args):
        return False
    for a, b in zip(our_args, redis_args):
        if a == b:
            continue
        if not (a.isdigit() and b.isdigit() and int(b) > 10**12
                and abs(int(a) - int(b)) < 5000):
            return False
    return True


class Pair:
    """Runs commands on redis-server and through damselfly's proxy, and
    compares what each journalled for them."""

    def __init__(self, damselfly, aof_redis):
        self.redis = RawClient(aof_redis.port)
        self.ours = RawClient(damselfly.port)
        self.aof = AofReader(aof_redis.dir)
        self.journals = JournalReader(damselfly.shard_ports)
        self.seen_aof = len(self.aof.entries())
        self.seen = [len(self.journals.entries(s)) for s in (0, 1)]

    # New entries are the tail beyond what was seen: fine while a module's
    # tests journal fewer entries than the buffer holds (DEFAULT_CAPACITY).

    def run(self, shards, *args):
        """Run ``args`` on both; ``shards``: which shard journals must show it."""
        expected = self.redis.call(*args)
        actual = self.ours.call(*args)
        assert actual == expected, "%r: redis %r, damselfly %r" % (args, expected, actual)
        aof = self.aof.entries()
        new_aof = aof[self.seen_aof:]
        self.seen_aof = len(aof)
        for shard in (0, 1):
            entries = self.journals.entries(shard)
            new = entries[self.seen[shard]:]
            self.seen[shard] = len(entries)
            want = new_aof if shard in shards else []
            assert len(new) == len(want) and all(map(_same_entry, new, want)), \
                "%r on shard %d: journal %r, redis AOF %r" % (args, shard, new, want)
        return actual

    def run_unordered(self, commands):
        """Run several commands; the shards' new entries together must be the
        AOF's (in any order across shards): expiry happens when it happens."""
        for args in commands:
            assert self.ours.call(*args) == self.redis.call(*args), args
        aof = self.aof.entries()
        new_aof = aof[self.seen_aof:]
        self.seen_aof = len(aof)
        new = []
        for shard in (0, 1):
            entries = self.journals.entries(shard)
            new += entries[self.seen[shard]:]
            self.seen[shard] = len(entries)
        assert sorted(new) == sorted(new_aof), (commands, new, new_aof)
        return new

    def close(self):
        self.redis.close()
        self.ours.close()
        self.journals.close()


@pytest.fixture
def pair(damselfly, aof_redis):
    pair = Pair(damselfly, aof_redis)
    pair.run((0, 1), "FLUSHALL")
    yield pair
    pair.close()


def _script(future_s):
    """The rewrite cases; ``{x}`` stands for key x, tagged onto one shard."""
    future_ms = future_s * 1000 + 1
    return [
        "SET {a} 1", "SET {a} 2 EX 100", "SET {a} 3 PX 100000",
        "SET {a} 4 EXAT %d" % future_s, "SET {a} 5 PXAT %d" % future_ms,
        "SET {a} 6 KEEPTTL", "SET {a} 7 keepttl GET get", "SET {a} 8 EX 100 GET",
        "SET {a} 9 NX", "SET {b} 9 NX", "SET {c} 1 XX", "SET {c} 1 XX GET",
        "SET {a} 10 XX EX 10", "SET {k} v PX 100000 NX GET", "SET {k} w XX GET",
        "SETEX {d} 100 v", "PSETEX {d} 100000 v", "SETNX {d} v", "SETNX {e} v",
        "GETEX {d} EX 100", "GETEX {d} PX 100000", "GETEX {d} EXAT %d" % future_s,
        "GETEX {d} PERSIST", "GETEX {d} PERSIST", "GETEX {d}", "GETEX {nokey} EX 10",
        "GETEX {d} EXAT 1", "GETDEL {e}", "GETDEL {e}", "GETSET {a} x",
        "MSET {a} 1 {b} 2", "MSETNX {a} 1 {z} 2", "MSETNX {y} 1 {z} 2",
        "APPEND {a} x", "SETRANGE {a} 0 q", "INCR {n}", "DECR {n}", "INCRBY {n} 5",
        "DECRBY {n} 5", "INCRBYFLOAT {f} 1.5", "INCRBYFLOAT {f} 1e3",
        "SETBIT {bits} 7 1", "SETBIT {bits} 7 1", "BITOP AND {dst} {bits} {a}",
        "BITOP NOT {dst} {dst}",
        "BITFIELD {bf} GET u8 0", "BITFIELD {bf} SET u8 0 1", "BITFIELD {bf} INCRBY u8 0 0",
        "BITFIELD {bf} SET u8 0 1", "DEL {a} {b} {nokey}", "DEL {nokey}", "SET {a} 1",
        "UNLINK {a} {nokey}", "SET {a} 1", "RENAME {a} {b}", "RENAMENX {b} {c}", "SET {d} 1",
        "RENAMENX {c} {d}", "RENAME {c} {c}", "COPY {c} {e}", "COPY {c} {e}",
        "COPY {c} {e} REPLACE", "COPY {c} {e} DB 2", "MOVE {c} 3",
        "EXPIRE {e} 100", "PEXPIRE {e} 100000", "EXPIREAT {e} %d" % future_s,
        "PEXPIREAT {e} %d" % future_ms, "EXPIRE {e} 100 NX", "EXPIRE {e} 200 XX",
        "EXPIRE {e} 300 gt", "EXPIRE {nokey} 100", "PERSIST {e}", "PERSIST {e}",
        "EXPIRE {e} -1", "SET {f} 1", "EXPIREAT {f} 1", "SET {k} v", "PEXPIRE {k} -5 NX",
        "SET {k} v", "PEXPIREAT {k} 1",
    ]


@pytest.mark.parametrize("shard", [0, 1])
def test_journal_matches_redis_aof(pair, shard):
    tag = names_on_shard(shard, 1, "tag")[0]
    future_s = int(time.time()) + 100000
    for line in _script(future_s):
        words = line.split()
        args = [w[1:-1] + "{%s}" % tag if w.startswith("{") else w for w in words]
        pair.run((shard,), *args)


def test_database_context_expiry_and_flushes(pair):
    keys = [names_on_shard(s, 1, "ctx")[0] for s in (0, 1)]
    for shard, key in enumerate(keys):
        pair.run((shard,), "SET", key, "v")
    pair.run((), "SELECT", "2")
    for shard, key in enumerate(keys):
        pair.run((shard,), "SET", key, "in-2")
        pair.run((shard,), "PEXPIRE", key, "100")
    time.sleep(0.3)
    # Active or lazy, each expiry is a DEL in the key's database.
    assert sorted(pair.run_unordered([("GET", key) for key in keys])) == \
        [(2, [b"DEL", key.encode()]) for key in sorted(keys)]
    pair.run((0, 1), "FLUSHDB")
    pair.run((0, 1), "SWAPDB", "0", "2")
    for shard, key in enumerate(keys):  # db 2 holds what db 0 held
        assert pair.run((), "GET", key) == b"v"
        assert pair.run((shard,), "MOVE", key, "0") == 1
    pair.run((), "SELECT", "0")
    pair.run((0, 1), "FLUSHALL")
