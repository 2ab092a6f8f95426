"""EVALSHA throughput, damselfly next to redis-server.

    python bench/scripting.py            # a few minutes on a 2-core box
    python bench/scripting.py --quick --repeat 1

Two scripts, loaded with SCRIPT LOAD on both servers and run by
redis-benchmark as ``EVALSHA <sha> <numkeys> <keys>`` (bench.run.run_benchmark),
50 clients, -P 1 and -P 16, 100000 random keys:

- one key: ``INCR KEYS[1]`` -- on damselfly the script runs on the key's
  shard, one round trip like any keyed command;
- two shards: ``INCR KEYS[1]``, ``INCR KEYS[2]`` with the keys' hash tags on
  shard 0 and shard 1 -- on damselfly the coordinator locks both keys and
  lends them to one shard (proxy/script_proxy.py, "which case costs what").

Each pair of runs alternates the servers (bench.run.compare), so they meet
the same machine load; quote the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import Target, compare, damselfly_pids, run_benchmark  # noqa: E402
from tests.helpers import DamselflyProcess, RawClient, RedisProcess, names_on_shard  # noqa: E402

ONE_KEY = "return redis.call('incr', KEYS[1])"
TWO_KEYS = "redis.call('incr', KEYS[1]) return redis.call('incr', KEYS[2])"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args(argv)
    # Requests per run: a few seconds of damselfly each; the two-shard script
    # is a coordinated command (locks, values lent), an order slower.
    scale = 1 if opts.quick else 3
    requests = {"EVALSHA one key": {1: 20_000 * scale, 16: 100_000 * scale},
                "EVALSHA two shards": {1: 3_000 * scale, 16: 6_000 * scale}}
    tag0 = names_on_shard(0, 1, "t")[0]  # hash tags owned by shard 0 and shard 1 of two
    tag1 = names_on_shard(1, 1, "t")[0]
    redis = RedisProcess().start()
    damselfly = DamselflyProcess(shards=2)
    try:
        damselfly.start()
        targets = [Target("redis", redis.port, [redis.proc.pid]),
                   Target("damselfly", damselfly.port, damselfly_pids(damselfly))]
        shas = []
        for script in (ONE_KEY, TWO_KEYS):
            loaded = set()
            for target in targets:
                with RawClient(target.port) as client:
                    loaded.add(client.call("SCRIPT", "LOAD", script).decode())
            assert len(loaded) == 1, loaded
            shas.append(loaded.pop())
        tests = {
            "EVALSHA one key": ["EVALSHA", shas[0], "1", "key:__rand_int__"],
            "EVALSHA two shards": ["EVALSHA", shas[1], "2", "{%s}:__rand_int__" % tag0,
                                   "{%s}:__rand_int__" % tag1],
        }
        for pipeline in (1, 16):
            for name, command in tests.items():
                compare(targets, name, pipeline, opts.repeat,
                        lambda target: run_benchmark(target, command, pipeline,
                                                     requests[name][pipeline]))
    finally:
        damselfly.stop()
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
