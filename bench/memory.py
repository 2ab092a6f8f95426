"""Memory per key, damselfly beside redis-server, in one run.

    python bench/memory.py                       # every workload below, 2 shards
    python bench/memory.py --workloads str32 --keys 1000000
    python bench/memory.py --workloads hash100,zset100 --shards 1

Workloads (``--keys`` scales them; the defaults in brackets):

- ``str32``: ``key:N`` -> 32-byte string [1,000,000 keys];
- ``str1k``: ``key:N`` -> 1 KB string [200,000 keys];
- ``hash100`` / ``set100`` / ``zset100``: containers of 100 small members
  (``f<i>``/``m<i>``, short values and scores), what Redis keeps as a
  listpack (a set of non-integers too, from 7.2; 7.0 keeps it a hashtable)
  [10,000 keys].

``--eviction-latency``: SET p99 under constant eviction against the same
load without it.  One client SETs ``--writes`` new keys (1 KB values) one
request at a time, timing each, on a server without a limit and on one whose
``maxmemory`` (allkeys-lru) holds a quarter of what is written, so that past
the first quarter every write evicts; each configuration runs ``--repeat``
times, interleaved, and the median p99 is reported, redis-server beside.

Both servers are started here on free ports with ``maxmemory-policy
allkeys-lru`` and a ``maxmemory`` far above the data (a limit in force, so the
eviction bookkeeping and the OOM check are active, and nothing is evicted),
and stopped after each workload.  Each is loaded through its client port with
the same pipelined batches; the figure is the growth of resident memory
(VmRSS) divided by the number of keys -- for damselfly summed over the
supervisor, the proxy and every shard.  RSS is what the operating system
charges, so it is the figure a memory limit has to hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.helpers import DamselflyProcess, RawClient, RedisProcess, encode  # noqa: E402

MAXMEMORY = 64 * 1024**3  # a limit in force that the data never reaches
POLICY = "allkeys-lru"


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


def _strings(size):
    """MSETs of 100 keys, 10 to a pipeline.  (Bigger MSETs would leave more
    in the journal's buffer of the last 1024 commands, which holds their
    argument lists: 16 bytes per key for MSETs of 1000.)"""
    value = b"v" * size

    def batch(start, stop):
        commands = []
        for first in range(start, stop, 100):
            args = [b"MSET"]
            for i in range(first, min(first + 100, stop)):
                args += [b"key:%d" % i, value]
            commands.append(args)
        return commands
    return batch, 1000


def _container(command, member_args):
    def batch(start, stop):
        return [[command, b"key:%d" % i] + member_args for i in range(start, stop)]
    return batch, 100


WORKLOADS = {
    "str32": (_strings(32), 1_000_000),
    "str1k": (_strings(1024), 200_000),
    "hash100": (_container(b"HSET", sum(([b"f%d" % j, b"value%d" % j]
                                         for j in range(100)), [])), 10_000),
    "set100": (_container(b"SADD", [b"m%d" % j for j in range(100)]), 10_000),
    "zset100": (_container(b"ZADD", sum(([b"%d" % j, b"m%d" % j]
                                         for j in range(100)), [])), 10_000),
}


def load(port: int, batch, step: int, keys: int) -> int:
    """Send the workload's commands in pipelined batches; DBSIZE afterwards."""
    with RawClient(port, timeout=120) as client:
        for start in range(0, keys, step):
            commands = batch(start, min(start + step, keys))
            client.send_raw(b"".join(encode(args) for args in commands))
            for _ in commands:
                reply = client.read()
                if isinstance(reply, str) or reply is None:
                    raise RuntimeError("load failed: %r" % (reply,))
        return client.call("DBSIZE")


def measure(port: int, pids_of, batch, step: int, keys: int) -> dict:
    pids = pids_of()
    before = [rss_bytes([pid]) for pid in pids]
    t0 = time.monotonic()
    count = load(port, batch, step, keys)
    seconds = time.monotonic() - t0
    time.sleep(1.0)  # let the last replies and frees settle
    grown = [rss_bytes([pid]) - b for pid, b in zip(pids, before)]
    return {"keys": count, "bytes_per_key": sum(grown) / keys, "load_s": seconds,
            "per_process": [g / keys for g in grown]}


def run_workload(name: str, keys: int, shards: int) -> dict:
    (batch, step), _ = WORKLOADS[name]
    results = {}
    redis = RedisProcess("--maxmemory", str(MAXMEMORY), "--maxmemory-policy", POLICY).start()
    try:
        results["redis"] = measure(redis.port, lambda: [redis.proc.pid], batch, step, keys)
    finally:
        redis.stop()
    with DamselflyProcess(shards=shards, maxmemory=MAXMEMORY,
                          maxmemory_policy=POLICY) as damselfly:
        results["damselfly"] = measure(
            damselfly.port, lambda: [damselfly.proc.pid] + damselfly.child_pids(),
            batch, step, keys)
    return results


def set_latencies(port: int, writes: int, value: bytes, data_limit: int) -> list:
    """Seconds per SET of ``writes`` new keys, one request at a time; with a
    ``data_limit``, maxmemory is that much above what the server uses empty
    (redis-server's own ~1 MB counts against its maxmemory)."""
    out = []
    clock = time.perf_counter
    with RawClient(port, timeout=60) as client:
        if data_limit:
            info = client.call("INFO", "memory").decode()
            used = int(info.split("used_memory:", 1)[1].split()[0])
            client.call("CONFIG", "SET", "maxmemory-policy", POLICY)
            client.call("CONFIG", "SET", "maxmemory", str(used + data_limit))
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
    """See the module doc."""
    value = b"v" * 1024
    limit = opts.writes * 1024 // 4
    results: dict = {}
    for _ in range(opts.repeat):
        for evicting in (False, True):
            data_limit = limit if evicting else 0
            redis = RedisProcess().start()
            try:
                results.setdefault(("redis", evicting), []).append(
                    set_latencies(redis.port, opts.writes, value, data_limit))
            finally:
                redis.stop()
            with DamselflyProcess(shards=opts.shards) as damselfly:
                results.setdefault(("damselfly", evicting), []).append(
                    set_latencies(damselfly.port, opts.writes, value, data_limit))
    print("SET of %d new 1 KB keys, one at a time, %d runs each (medians); eviction: "
          "maxmemory %d bytes above the empty server's used_memory, %s"
          % (opts.writes, opts.repeat, limit, POLICY))
    print("| server | eviction | p50 us | p99 us | p99.9 us |\n|---|---|---|---|---|")
    p99 = {}
    for (name, evicting), runs in results.items():
        def median(fraction):
            return sorted(percentile(r, fraction) for r in runs)[len(runs) // 2]
        p99[(name, evicting)] = median(0.99)
        print("| %s | %s | %.0f | %.0f | %.0f |" % (
            name, "yes" if evicting else "no", 1e6 * median(0.5), 1e6 * median(0.99),
            1e6 * median(0.999)))
    for name in ("redis", "damselfly"):
        print("%s: p99 with eviction / without: %.2f"
              % (name, p99[(name, True)] / p99[(name, False)]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--keys", type=int, default=0,
                        help="keys per workload (0: each workload's default)")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--eviction-latency", action="store_true",
                        help="SET p99 under constant eviction against no eviction")
    parser.add_argument("--writes", type=int, default=60_000,
                        help="SETs per run of --eviction-latency")
    parser.add_argument("--repeat", type=int, default=3, help="runs of --eviction-latency")
    parser.add_argument("--by-process", action="store_true",
                        help="also print damselfly's growth per process")
    opts = parser.parse_args(argv)
    if opts.eviction_latency:
        return eviction_latency(opts)
    print("| workload | keys | redis B/key | damselfly B/key | ratio | load s (redis / damselfly) |")
    print("|---|---|---|---|---|---|")
    for name in opts.workloads.split(","):
        keys = opts.keys or WORKLOADS[name][1]
        r = run_workload(name, keys, opts.shards)
        print("| %s | %d | %.0f | %.0f | %.2f | %.1f / %.1f |" % (
            name, keys, r["redis"]["bytes_per_key"], r["damselfly"]["bytes_per_key"],
            r["damselfly"]["bytes_per_key"] / r["redis"]["bytes_per_key"],
            r["redis"]["load_s"], r["damselfly"]["load_s"]), flush=True)
        if opts.by_process:
            print("  damselfly B/key by process (supervisor, children):",
                  " ".join("%.1f" % b for b in r["damselfly"]["per_process"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
