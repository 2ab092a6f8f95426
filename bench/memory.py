"""Memory per key, damselfly beside redis-server, in one run.

    python bench/memory.py                  # 1,000,000 keys, 32-byte values, 2 shards
    python bench/memory.py --keys 200000 --value-size 100 --shards 1
    python bench/memory.py --eviction-latency   # SET p99 with and without eviction

``--eviction-latency``: one client SETs ``--writes`` new keys (1 KB values)
one request at a time, timing each, on a server without a limit and on one
whose ``maxmemory`` (allkeys-lru) holds a quarter of what is written, so that
past the first quarter every write evicts.  Both servers, same load; the
figure is each one's p99 under eviction over its p99 without.

Both servers are started here on free ports and stopped at the end.  Each is
loaded through its client port with the same MSET batches (``key:N`` ->
``value-size`` bytes); the figure is the growth of resident memory (VmRSS)
divided by the number of keys -- for damselfly summed over the supervisor,
the proxy and every shard.  RSS is what the operating system charges, so it
is the figure a memory limit has to hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.helpers import DamselflyProcess, RawClient, RedisProcess, encode  # noqa: E402

BATCH = 1000


def rss_bytes(pids) -> int:
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def load(port: int, keys: int, value: bytes) -> int:
    """MSET ``keys`` keys in batches; returns DBSIZE afterwards."""
    with RawClient(port, timeout=120) as client:
        for start in range(0, keys, BATCH):
            args = [b"MSET"]
            for i in range(start, min(start + BATCH, keys)):
                args += [b"key:%d" % i, value]
            client.send_raw(encode(args))
            reply = client.read()
            if reply != b"OK":
                raise RuntimeError("MSET failed: %r" % (reply,))
        return client.call("DBSIZE")


def measure(port: int, pids_of, keys: int, value: bytes) -> dict:
    before = rss_bytes(pids_of())
    t0 = time.monotonic()
    count = load(port, keys, value)
    seconds = time.monotonic() - t0
    time.sleep(0.5)  # let the last replies and frees settle
    grown = rss_bytes(pids_of()) - before
    return {"keys": count, "bytes_per_key": grown / keys, "load_s": seconds}


def set_latencies(port: int, writes: int, value: bytes) -> list:
    """Seconds per SET of ``writes`` new keys, one request at a time."""
    out = []
    clock = time.perf_counter
    with RawClient(port, timeout=60) as client:
        for i in range(writes):
            t0 = clock()
            reply = client.call("SET", b"key:%d" % i, value)
            out.append(clock() - t0)
            if reply != b"OK":
                raise RuntimeError("SET failed: %r" % (reply,))
    return out


def percentile(samples, fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def eviction_latency(opts) -> int:
    value = b"v" * 1024
    limit = opts.writes * 1024 // 4
    rows = []
    for evicting in (False, True):
        options = {"maxmemory": limit, "maxmemory_policy": "allkeys-lru"} if evicting else {}
        redis = RedisProcess(*[a for k, v in options.items()
                               for a in ("--" + k.replace("_", "-"), str(v))]).start()
        try:
            rows.append(("redis", evicting, set_latencies(redis.port, opts.writes, value)))
        finally:
            redis.stop()
        with DamselflyProcess(shards=opts.shards, **options) as damselfly:
            rows.append(("damselfly", evicting, set_latencies(damselfly.port, opts.writes, value)))
    print("SET of %d new 1 KB keys, one at a time; eviction: maxmemory %d bytes (allkeys-lru)"
          % (opts.writes, limit))
    print("| server | eviction | p50 us | p99 us | p99.9 us |\n|---|---|---|---|---|")
    p99 = {}
    for name, evicting, samples in rows:
        p99[(name, evicting)] = percentile(samples, 0.99)
        print("| %s | %s | %.0f | %.0f | %.0f |" % (
            name, "yes" if evicting else "no", 1e6 * percentile(samples, 0.5),
            1e6 * p99[(name, evicting)], 1e6 * percentile(samples, 0.999)))
    for name in ("redis", "damselfly"):
        print("%s: p99 with eviction / without: %.2f"
              % (name, p99[(name, True)] / p99[(name, False)]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=32)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--eviction-latency", action="store_true",
                        help="SET p99 under constant eviction against no eviction")
    parser.add_argument("--writes", type=int, default=100_000,
                        help="SETs per run of --eviction-latency")
    opts = parser.parse_args(argv)
    if opts.eviction_latency:
        return eviction_latency(opts)
    value = b"v" * opts.value_size
    results = {}
    redis = RedisProcess().start()
    try:
        results["redis"] = measure(redis.port, lambda: [redis.proc.pid], opts.keys, value)
    finally:
        redis.stop()
    with DamselflyProcess(shards=opts.shards) as damselfly:
        results["damselfly"] = measure(
            damselfly.port, lambda: [damselfly.proc.pid] + damselfly.child_pids(),
            opts.keys, value)
    print("| server | keys | bytes/key (RSS growth) | load s |\n|---|---|---|---|")
    for name, r in results.items():
        print("| %s | %d | %.0f | %.1f |" % (name, r["keys"], r["bytes_per_key"], r["load_s"]))
    print("ratio damselfly/redis: %.2f" % (
        results["damselfly"]["bytes_per_key"] / results["redis"]["bytes_per_key"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
