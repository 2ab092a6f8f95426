"""Stream throughput, damselfly next to redis-server.

    python bench/streams.py            # ~1 min on a quiet 2-core box
    python bench/streams.py --quick

- XADD and XREAD (COUNT 10 from the start of a 1000-entry stream) through
  redis-benchmark's custom commands (bench.run.run_benchmark): 50 clients,
  -P 1 and -P 16, 16 streams (``xs:__rand_int__`` with -r 16, so both shards
  of damselfly get some);
- XREADGROUP/XACK: 8 consumers of one group (redis-py asyncio), each reading
  COUNT 10 new entries and acknowledging them, until 20000 entries preloaded
  on 8 streams are consumed; entries per second.

Each test runs on the two servers alternately (bench.run.compare, --repeat
pairs), so they meet the same machine load; quote the ratios, not the
absolute figures (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import (Target, compare, cpu_seconds, damselfly_pids, header,  # noqa: E402
                       run_benchmark)
from tests.helpers import DamselflyProcess, RawClient, RedisProcess  # noqa: E402

STREAMS = 16
TESTS = {
    "XADD": ["XADD", "xs:__rand_int__", "*", "f", "v"],
    "XREAD COUNT 10": ["XREAD", "COUNT", "10", "STREAMS", "xs:__rand_int__", "0"],
}


def preload(port: int, streams: int, per_stream: int) -> None:
    """``streams`` streams xs:0.. of ``per_stream`` entries each, pipelined."""
    with RawClient(port) as client:
        client.call("FLUSHALL")
        for s in range(streams):
            key = b"xs:%d" % s
            for i in range(1, per_stream + 1):
                entry_id = b"%d-1" % i
                client.send_raw(b"*5\r\n$4\r\nXADD\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
                                b"$1\r\nf\r\n$1\r\nv\r\n"
                                % (len(key), key, len(entry_id), entry_id))
            for _ in range(per_stream):
                client.read()


async def _group_consume(port: int, streams: int, consumers: int = 8) -> int:
    import redis.asyncio as aioredis

    ctl = aioredis.Redis(port=port)
    for s in range(streams):
        await ctl.xgroup_create("xs:%d" % s, "g", id="0")
    await ctl.aclose()
    consumed = 0

    async def consume(name, key):
        nonlocal consumed
        client = aioredis.Redis(port=port, single_connection_client=True)
        while True:
            reply = await client.xreadgroup("g", name, {key: ">"}, count=10)
            if not reply:
                break
            ids = [entry_id for entry_id, _ in reply[0][1]]
            await client.xack(key, "g", *ids)
            consumed += len(ids)
        await client.aclose()

    await asyncio.gather(*(consume("c%d" % k, "xs:%d" % (k % streams))
                           for k in range(consumers)))
    return consumed


def group_consume(target: Target, per_stream: int) -> dict:
    """Entries per second (as "rps") that 8 group consumers read and ack."""
    preload(target.port, 8, per_stream)
    before = cpu_seconds(target.pids)
    t0 = time.monotonic()
    consumed = asyncio.run(_group_consume(target.port, 8))
    wall = time.monotonic() - t0
    assert consumed == 8 * per_stream, consumed
    cpu = cpu_seconds(target.pids) - before
    return {"rps": consumed / wall, "cpu_s": cpu, "wall_s": wall,
            "cpu_per_mops": cpu / (consumed / 1e6)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    opts = parser.parse_args(argv)
    requests = {1: 20_000, 16: 100_000} if opts.quick else {1: 60_000, 16: 300_000}
    per_stream = 1000 if opts.quick else 2500
    redis = RedisProcess().start()
    damselfly = DamselflyProcess(shards=2)
    try:
        damselfly.start()
        targets = [Target("redis", redis.port, [redis.proc.pid]),
                   Target("damselfly", damselfly.port, damselfly_pids(damselfly))]
        for target in targets:
            preload(target.port, STREAMS, 1000)
        print(header(False))
        for name, command in TESTS.items():
            for pipeline in (1, 16):
                compare(targets, name, pipeline, opts.repeat,
                        lambda target: run_benchmark(target, command, pipeline,
                                                     requests[pipeline], STREAMS))
        compare(targets, "XREADGROUP+XACK (entries)", 1, opts.repeat,
                lambda target: group_consume(target, per_stream))
    finally:
        damselfly.stop()
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
