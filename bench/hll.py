"""HyperLogLog commands, damselfly beside redis-server, under redis-benchmark.

    python bench/hll.py                 # 2 shards, 1 proxy worker
    python bench/hll.py --requests 20000 --repeat 1

Both servers are started on free ports and stopped at the end; each case runs
against redis-server and then damselfly, alternating, as bench/run.py does
(its CPU accounting is reused).  Cases:

- PFADD of a random element to one key: sparse for its first ~2000
  elements, dense after (nearly every add then leaves the registers as they
  were: the common case of a big HLL);
- PFADD to 1000 keys that stay sparse (the opcode search and splice);
- PFCOUNT of one key (the cached count) and of two keys on one shard and on
  two shards (the register union: computed every time, never cached);
- PFMERGE of two dense HLLs into a third.

Besides, the time one PFCOUNT takes to recount a dense HLL whose cache was
invalidated is measured in-process (redis-benchmark cannot interleave a
PFADD before every PFCOUNT).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import Target, compare, damselfly_pids, run_benchmark, warm_up  # noqa: E402
from tests.helpers import DamselflyProcess, RawClient, RedisProcess, names_on_shard  # noqa: E402

K0 = names_on_shard(0, 1, "hll")[0]
K1 = names_on_shard(1, 1, "hll")[0]
CASES = [
    # (label, pipeline, -r keyspace, command words)
    ("PFADD one key", 1, 100_000, ["PFADD", "{h}a", "__rand_int__"]),
    ("PFADD one key", 16, 100_000, ["PFADD", "{h}a", "__rand_int__"]),
    ("PFADD 1000 sparse keys", 16, 1000, ["PFADD", "sp:__rand_int__", "__rand_int__"]),
    ("PFCOUNT one key (cached)", 16, 0, ["PFCOUNT", "{h}a"]),
    ("PFCOUNT two keys, one shard", 1, 0, ["PFCOUNT", "{h}a", "{h}b"]),
    ("PFCOUNT two keys, two shards", 1, 0, ["PFCOUNT", K0, K1]),
    ("PFMERGE two dense keys", 1, 0, ["PFMERGE", "{h}m", "{h}a", "{h}b"]),
]


def populate(port: int) -> None:
    """Dense HLLs ``{h}a``, ``{h}b`` and the two-shard pair, the same on both."""
    with RawClient(port) as c:
        for key, first in (("{h}a", 0), ("{h}b", 30_000), (K0, 0), (K1, 30_000)):
            for at in range(first, first + 60_000, 1000):
                c.call("PFADD", key, *("e%d" % i for i in range(at, at + 1000)))


def recount_micro() -> dict:
    """Microseconds for one recount of a dense HLL, and one sparse of ~1000."""
    from shardnode import hyperloglog as hll

    dense = bytearray(hll.EMPTY)
    sparse = bytearray(hll.EMPTY)
    for i in range(60_000):
        index, count = hll.element_register(b"e%d" % i)
        if dense[4] == hll.SPARSE:
            hll.sparse_set(dense, index, count, 3000)
        else:
            hll.dense_set(dense, index, count)
        if i < 1000:
            hll.sparse_set(sparse, index, count, 3000)
    dense, sparse = bytes(dense), bytes(sparse)
    out = {}
    for name, value in (("dense", dense), ("sparse", sparse)):
        n = 200
        seconds = timeit.timeit(lambda: hll.estimate(hll.histogram_of(value)), number=n)
        out[name] = seconds / n * 1e6
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args(argv)
    redis = RedisProcess().start()
    damselfly = DamselflyProcess(shards=opts.shards)
    try:
        damselfly.start()
        warm_up(redis.port)
        targets = [Target("redis", redis.port, [redis.proc.pid]),
                   Target("damselfly", damselfly.port, damselfly_pids(damselfly))]
        for t in targets:
            populate(t.port)
        for label, pipeline, keyspace, words in CASES:
            compare(targets, label, pipeline, opts.repeat,
                    lambda target: run_benchmark(target, words, pipeline, opts.requests,
                                                 keyspace))
        with RawClient(redis.port) as a, RawClient(damselfly.port) as b:
            for key in (K0, K1):  # the benchmark's random elements differ per run
                assert a.call("PFCOUNT", key) == b.call("PFCOUNT", key), key
                assert a.call("GET", key) == b.call("GET", key), key
    finally:
        damselfly.stop()
        redis.stop()
    micro = recount_micro()
    print("recount in-process: dense %.0f us, sparse (~1000 elements) %.0f us"
          % (micro["dense"], micro["sparse"]))
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print("(%.0f s)" % (time.monotonic() - started))
    sys.exit(code)
