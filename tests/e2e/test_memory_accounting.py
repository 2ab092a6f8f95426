"""used_memory against the real footprint: the shard processes' RSS growth.

Each type is loaded with generous sizes (tens of thousands of keys, small and
large values) through the proxy; the growth of INFO's ``used_memory`` must
stay within 20% of the growth of the shards' resident memory, and come back
down when the keys go (DEL, FLUSHALL).  Figures are printed (``-s``).
"""

from __future__ import annotations

import time

import pytest

from tests.helpers import DamselflyProcess, RawClient, encode

BATCH = 500


def _info(client, section="memory") -> dict:
    text = client.call("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines()
                if ":" in line and not line.startswith("#"))


def _shard_pids(proc) -> list:
    pids = []
    for port in proc.shard_ports:
        with RawClient(port) as shard:
            pids.append(int(_info(shard, "server")["process_id"]))
    return pids


def _rss(pids) -> int:
    total = 0
    for pid in pids:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def _pipeline(client, commands) -> None:
    for start in range(0, len(commands), BATCH):
        chunk = commands[start:start + BATCH]
        client.send_raw(b"".join(encode(c) for c in chunk))
        for _ in chunk:
            reply = client.read()
            assert not isinstance(reply, Exception), reply


def _used(client) -> int:
    return int(_info(client)["used_memory"])


def _strings(n, size):
    return [[b"SET", b"s%d:%d" % (size, i), b"%d" % i + b"v" * size] for i in range(n)]


def _hashes(n, fields, size):
    out = []
    for i in range(n):
        cmd = [b"HSET", b"h%d:%d:%d" % (fields, size, i)]
        for f in range(fields):
            cmd += [b"field:%d" % f, b"v" * size]
        out.append(cmd)
    return out


def _members(kind, n, members, size):
    out = []
    for i in range(n):
        key = b"%s%d:%d:%d" % (kind, members, size, i)
        if kind == b"z":
            cmd = [b"ZADD", key]
            for m in range(members):
                cmd += [b"%d.5" % m, b"m%d:" % m + b"x" * size]
        else:
            cmd = [b"RPUSH" if kind == b"l" else b"SADD", key]
            cmd += [b"m%d:" % m + b"x" * size for m in range(members)]
        out.append(cmd)
    return out


def _large(kind, count, members, size):
    """A few big containers, filled by many commands (each adds 100 members)."""
    out = []
    for i in range(count):
        key = b"big%s:%d" % (kind, i)
        for start in range(0, members, 100):
            if kind == b"h":
                cmd = [b"HSET", key]
                for m in range(start, start + 100):
                    cmd += [b"f%d" % m, b"v" * size]
            elif kind == b"z":
                cmd = [b"ZADD", key]
                for m in range(start, start + 100):
                    cmd += [b"%d" % m, b"member:%d:" % m + b"x" * size]
            else:
                cmd = [b"RPUSH" if kind == b"l" else b"SADD", key]
                cmd += [b"member:%d:" % m + b"x" * size for m in range(start, start + 100)]
            out.append(cmd)
    return out


LOADS = {
    "strings small": lambda: _strings(50000, 20),
    "strings large": lambda: _strings(2000, 4000),
    "hashes small": lambda: _hashes(50000, 5, 8),
    "hashes large": lambda: _large(b"h", 10, 20000, 16),
    "lists small": lambda: _members(b"l", 50000, 5, 8),
    "lists large": lambda: _large(b"l", 10, 20000, 16),
    "sets small": lambda: _members(b"s", 50000, 5, 8),
    "sets large": lambda: _large(b"s", 10, 20000, 16),
    "zsets small": lambda: _members(b"z", 50000, 5, 8),
    "zsets large": lambda: _large(b"z", 10, 20000, 16),
}


@pytest.fixture()
def loaded():
    with DamselflyProcess(shards=2) as proc:
        yield proc


@pytest.mark.parametrize("name", list(LOADS))
def test_used_memory_follows_rss_growth(loaded, name):
    pids = _shard_pids(loaded)
    with RawClient(loaded.port, timeout=60) as client:
        client.call("FLUSHALL")
        client.call("MEMORY", "PURGE")
        time.sleep(0.2)
        rss_before, used_before = _rss(pids), _used(client)
        _pipeline(client, LOADS[name]())
        time.sleep(0.3)
        rss_grown = _rss(pids) - rss_before
        used_grown = _used(client) - used_before
        ratio = used_grown / rss_grown
        print("\n%-14s RSS +%8.1f MB  used_memory +%8.1f MB  ratio %.2f"
              % (name, rss_grown / 2**20, used_grown / 2**20, ratio))
        assert 0.8 <= ratio <= 1.2, (name, rss_grown, used_grown)
        client.call("FLUSHALL")
        assert _used(client) == 0
