"""Hit ratio under eviction: damselfly's cache mode beside LRU and LFU, and
redis-server's allkeys-lru and allkeys-lfu, on the same traces.

    python bench/cache.py                        # 50,000 keys, 200,000 requests
    python bench/cache.py --universe 50000 --requests 100000 --shards 1
    python bench/cache.py --simulate             # damselfly's policies in-process

Traces (one seeded generator, the same requests for every server):

- ``zipf``: keys drawn from a Zipf distribution (s = 0.99) over a universe of
  ``--universe`` keys; each request is a GET, and a GET that misses is
  followed by a SET of the key (a cache filled on demand);
- ``zipf+scan``: the same, with a one-pass scan every ``--scan-every``
  requests: ``universe / 10`` keys never requested before, each read once
  (GET, miss, SET), as a batch job walking cold data would.

Each server gets a ``maxmemory`` that holds about 10% of the universe by its
own accounting: the keys are loaded once without a limit, ``used_memory`` is
read, the data flushed and that figure set as the limit.  The hit ratio
counts the Zipf requests after the first fifth of the trace (the cache warm),
not the scan's, which miss everywhere.  Requests go in pipelined batches of
``--batch`` GETs, then the SETs of their misses; both servers see the same
batches.

``--simulate`` replays the same traces against damselfly's own classes
in-process (shardnode/db.py's Keyspace, shardnode/eviction.py's Evictor, one
keyspace per shard, keys routed by slot as the proxy routes them, the limit
measured the same way, eviction before each SET as ShardMemory does): a
policy change is measured in seconds instead of minutes, and gives the
server's figures for cache mode and allkeys-lfu to the third decimal
(Python's hash seed moves them by ~0.001).  Its clock moves 0.1 ms a
request, about the server's pace, for the LRU and LFU clocks.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.helpers import DamselflyProcess, RawClient, RedisProcess, encode  # noqa: E402

VALUE = b"v" * 100


def make_trace(universe: int, requests: int, scan_every: int, seed: int = 12):
    """[(key, counted)]: Zipf requests (counted) and, if asked, scans (not)."""
    rng = random.Random(seed)
    cumulative = list(itertools.accumulate(1.0 / (i + 1) ** 0.99 for i in range(universe)))
    total = cumulative[-1]
    rank_to_key = list(range(universe))
    rng.shuffle(rank_to_key)  # popularity unrelated to the key's name
    trace = []
    cold = universe
    for i in range(requests):
        rank = bisect.bisect_left(cumulative, rng.random() * total)
        trace.append((b"key:%d" % rank_to_key[rank], i >= requests // 5))
        if scan_every and i % scan_every == scan_every - 1:
            for _ in range(universe // 10):
                trace.append((b"key:%d" % cold, False))
                cold += 1
    return trace


def _info_int(client, field: str) -> int:
    text = client.call("INFO", "memory").decode()
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(field)


def size_limit(client, universe: int) -> int:
    """used_memory with a tenth of the universe stored (then flushed again)."""
    keys = universe // 10
    for start in range(0, keys, 500):
        args = [b"MSET"]
        for i in range(start, min(start + 500, keys)):
            args += [b"key:%d" % i, VALUE]
        assert client.call(*args) == b"OK"
    used = _info_int(client, "used_memory")
    assert client.call("FLUSHALL") == b"OK"
    return used


def replay(client, trace, batch: int) -> float:
    """Run the trace; the hit ratio of its counted requests."""
    hits = counted = 0
    for start in range(0, len(trace), batch):
        part = trace[start:start + batch]
        client.send_raw(b"".join(encode([b"GET", key]) for key, _ in part))
        misses = []
        for key, count in part:
            reply = client.read()
            if count:
                counted += 1
                hits += reply is not None
            if reply is None:
                misses.append(key)
        if misses:
            client.send_raw(b"".join(encode([b"SET", key, VALUE]) for key in misses))
            for _ in misses:
                reply = client.read()
                if reply != b"OK":
                    raise RuntimeError("SET answered %r" % (reply,))
    return hits / max(1, counted)


def run_server(client, settings, traces, universe: int, batch: int) -> dict:
    limit = size_limit(client, universe)
    for name, value in settings:
        assert client.call("CONFIG", "SET", name, value) == b"OK"
    assert client.call("CONFIG", "SET", "maxmemory", str(limit)) == b"OK"
    ratios = {}
    for name, trace in traces.items():
        assert client.call("FLUSHALL") == b"OK"
        t0 = time.monotonic()
        ratios[name] = replay(client, trace, batch)
        ratios[name + " s"] = time.monotonic() - t0
    ratios["limit"] = limit
    return ratios


def simulate(settings, trace, universe: int, shards: int, batch: int) -> float:
    """The hit ratio of ``trace`` replayed in-process (see the module doc)."""
    from cluster.config import Config
    from cluster.slots import SlotMap, split_slots
    from shardnode.db import Keyspace
    from shardnode.eviction import Evictor
    from shardnode.memory import shard_limit

    now = [1_700_000_000_000.0]

    def clock():
        return int(now[0])

    owner = SlotMap(split_slots(shards))
    keyspaces = []
    for _ in range(shards):
        keyspace = Keyspace(16, clock)
        config = Config()
        for name, value in settings:
            config.set(name, value)  # as CONFIG SET parses it
        Evictor(keyspace, config)
        keyspaces.append(keyspace)
    for i in range(universe // 10):  # the limit: as size_limit measures it
        key = b"key:%d" % i
        keyspaces[owner.shard_of_key(key)].dbs[0].set(key, VALUE)
    limit = shard_limit(sum(keyspace.used_memory for keyspace in keyspaces), shards)
    for keyspace in keyspaces:
        keyspace.dbs[0].clear()
    hits = counted = 0
    for start in range(0, len(trace), batch):
        part = trace[start:start + batch]
        now[0] += 0.1 * len(part)
        for keyspace in keyspaces:
            keyspace.tick()
        misses = []
        for key, count in part:
            value = keyspaces[owner.shard_of_key(key)].dbs[0].get(key)
            if count:
                counted += 1
                hits += value is not None
            if value is None:
                misses.append(key)
        for key in misses:
            keyspace = keyspaces[owner.shard_of_key(key)]
            used = keyspace.used_memory
            if used > limit:
                keyspace.evictor.evict(keyspace, used - limit)
            keyspace.dbs[0].set(key, VALUE)
    return hits / max(1, counted)


CONTENDERS = [
    ("redis allkeys-lru", "redis", [("maxmemory-policy", "allkeys-lru")]),
    ("redis allkeys-lfu", "redis", [("maxmemory-policy", "allkeys-lfu")]),
    ("damselfly allkeys-lru", "damselfly", [("maxmemory-policy", "allkeys-lru")]),
    ("damselfly allkeys-lfu", "damselfly", [("maxmemory-policy", "allkeys-lfu")]),
    ("damselfly cache_mode", "damselfly", [("cache_mode", "yes")]),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--universe", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--scan-every", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated contenders (substrings)")
    parser.add_argument("--simulate", action="store_true",
                        help="damselfly's policies in-process, no servers")
    opts = parser.parse_args(argv)
    traces = {"zipf": make_trace(opts.universe, opts.requests, 0),
              "zipf+scan": make_trace(opts.universe, opts.requests, opts.scan_every)}
    if opts.simulate:
        print("| simulated policy | zipf hit ratio | zipf+scan hit ratio | s |")
        print("|---|---|---|---|")
        for label, kind, settings in CONTENDERS:
            if kind == "redis" or opts.only and not any(
                    part in label for part in opts.only.split(",")):
                continue
            t0 = time.monotonic()
            r = [simulate(settings, trace, opts.universe, opts.shards, opts.batch)
                 for trace in traces.values()]
            print("| %s | %.3f | %.3f | %.0f |" % (label, r[0], r[1], time.monotonic() - t0),
                  flush=True)
        return 0
    print("| server, policy | maxmemory | zipf hit ratio | zipf+scan hit ratio | s |")
    print("|---|---|---|---|---|")
    for label, kind, settings in CONTENDERS:
        if opts.only and not any(part in label for part in opts.only.split(",")):
            continue
        if kind == "redis":
            server = RedisProcess().start()
            port, stop = server.port, server.stop
        else:
            server = DamselflyProcess(shards=opts.shards).start()
            port, stop = server.port, server.stop
        try:
            with RawClient(port, timeout=120) as client:
                r = run_server(client, settings, traces, opts.universe, opts.batch)
        finally:
            stop()
        print("| %s | %d | %.3f | %.3f | %.0f |" % (
            label, r["limit"], r["zipf"], r["zipf+scan"], r["zipf s"] + r["zipf+scan s"]),
            flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
