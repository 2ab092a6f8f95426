"""Stream throughput, damselfly next to redis-server.

    python bench/streams.py            # ~1 min on a quiet 2-core box
    python bench/streams.py --quick

- XADD and XREAD (COUNT 10 from the start of a 1000-entry stream) through
  redis-benchmark's custom commands: 50 clients, -P 1 and -P 16, 16 streams
  (``xs:__rand_int__`` with -r 16, so both shards of damselfly get some);
- XREADGROUP/XACK: 8 consumers of one group (redis-py asyncio), each reading
  COUNT 10 new entries and acknowledging them, until 20000 entries preloaded
  on 8 streams are consumed; entries per second.

The two servers run alternately, so they meet the same machine load; quote
the ratios, not the absolute figures (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import Target, damselfly_pids  # noqa: E402
from tests.helpers import DamselflyProcess, RawClient, RedisProcess  # noqa: E402

STREAMS = 16


def redis_benchmark(target, command, pipeline: int, requests: int) -> float:
    """ops/s of one custom command under redis-benchmark."""
    import csv
    import io
    import subprocess

    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(target.port), "-c", "50",
            "-n", str(requests), "-r", str(STREAMS), "-P", str(pipeline), "--csv"] + command
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    for row in csv.reader(io.StringIO(out.stdout)):
        if row and row[0] != "test":
            return float(row[1])
    raise RuntimeError(out.stdout + out.stderr)


def preload(port: int, streams: int, per_stream: int) -> None:
    with RawClient(port) as client:
        client.call("FLUSHALL")
        for s in range(streams):
            for i in range(1, per_stream + 1):
                client.send_raw(b"*5\r\n$4\r\nXADD\r\n$%d\r\nxs:%d\r\n$%d\r\n%d-1\r\n$1\r\nf\r\n$1\r\nv\r\n"
                                % (len(b"xs:%d" % s), s, len(b"%d-1" % i), i))
            for _ in range(per_stream):
                client.read()


async def group_consume(port: int, streams: int, total: int, consumers: int = 8) -> float:
    import redis.asyncio as aioredis

    ctl = aioredis.Redis(port=port)
    for s in range(streams):
        await ctl.xgroup_create("xs:%d" % s, "g", id="0")
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

    t0 = time.monotonic()
    await asyncio.gather(*(consume("c%d" % k, "xs:%d" % (k % streams))
                           for k in range(consumers)))
    elapsed = time.monotonic() - t0
    await ctl.aclose()
    assert consumed == total, (consumed, total)
    return consumed / elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(argv)
    requests = {1: 20_000, 16: 100_000} if opts.quick else {1: 60_000, 16: 300_000}
    per_stream = 1000 if opts.quick else 2500
    with DamselflyProcess(shards=2) as ours:
        ref = RedisProcess().start()
        try:
            targets = [Target("redis", ref.port, [ref.proc.pid] if getattr(ref, "proc", None)
                              else [], False),
                       Target("damselfly", ours.port, damselfly_pids(ours), False)]
            print("%-26s %12s %12s %7s" % ("test", "redis", "damselfly", "ratio"))
            for name, command in (("XADD", ["XADD", "xs:__rand_int__", "*", "f", "v"]),
                                  ("XREAD COUNT 10", ["XREAD", "COUNT", "10", "STREAMS",
                                                      "xs:__rand_int__", "0"])):
                for pipeline in (1, 16):
                    rates = {}
                    for target in targets:
                        if name.startswith("XREAD"):
                            preload(target.port, STREAMS, 1000)
                        rates[target.name] = redis_benchmark(target, command, pipeline,
                                                             requests[pipeline])
                    print("%-26s %12.0f %12.0f %7.2f" % (
                        "%s -P %d" % (name, pipeline), rates["redis"], rates["damselfly"],
                        rates["damselfly"] / rates["redis"]))
            rates = {}
            for target in targets:
                preload(target.port, 8, per_stream)
                rates[target.name] = asyncio.run(group_consume(target.port, 8, 8 * per_stream))
            print("%-26s %12.0f %12.0f %7.2f" % ("XREADGROUP+XACK entries/s", rates["redis"],
                                                  rates["damselfly"],
                                                  rates["damselfly"] / rates["redis"]))
        finally:
            ref.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
