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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--keys", type=int, default=0,
                        help="keys per workload (0: each workload's default)")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--by-process", action="store_true",
                        help="also print damselfly's growth per process")
    opts = parser.parse_args(argv)
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
