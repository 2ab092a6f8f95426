"""Geo commands, damselfly next to redis-server, under redis-benchmark.

    python bench/geo.py              # GEOADD, GEOPOS, GEODIST and three GEOSEARCH sizes
    python bench/geo.py --repeat 1   # one pair per test (quicker, noisier)

Both servers get the same index (10,000 points spread over 20 x 20 degrees
of Europe) before the runs; each test then runs against redis-server and
damselfly alternately (50 clients, -P 1), as bench/run.py does, and the table
gives median ops/s, the median ratio of the pairs and CPU seconds per million
requests.  The searches differ in how many candidates the nine cells around
the centre hold and how many of them match.
"""

from __future__ import annotations

import argparse
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import Target, compare, damselfly_pids, run_benchmark  # noqa: E402
from tests.helpers import DamselflyProcess, RawClient, RedisProcess  # noqa: E402

POINTS = 10_000
TESTS = {
    "GEOADD": ["GEOADD", "geo:new", "13.361389", "38.115556", "__rand_int__"],
    "GEOPOS": ["GEOPOS", "geo", "p1", "p2"],
    "GEODIST": ["GEODIST", "geo", "p1", "p2", "km"],
    "GEOSEARCH 20km": ["GEOSEARCH", "geo", "FROMLONLAT", "0", "45", "BYRADIUS", "20", "km"],
    "GEOSEARCH 50km WITHDIST": ["GEOSEARCH", "geo", "FROMLONLAT", "0", "45", "BYRADIUS", "50",
                                "km", "WITHDIST"],
    "GEOSEARCH 200km COUNT 10": ["GEOSEARCH", "geo", "FROMLONLAT", "0", "45", "BYRADIUS",
                                 "200", "km", "COUNT", "10", "ASC"],
}
REQUESTS = {"GEOSEARCH 200km COUNT 10": 2_000}
DEFAULT_REQUESTS = 20_000


def load(port: int) -> None:
    rnd = random.Random(1)
    with RawClient(port) as client:
        for first in range(0, POINTS, 1000):
            args = []
            for i in range(first, first + 1000):
                args += ["%.6f" % rnd.uniform(-10, 10), "%.6f" % rnd.uniform(35, 55), "p%d" % i]
            client.call("GEOADD", "geo", *args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shards", type=int, default=2)
    opts = parser.parse_args(argv)
    redis = RedisProcess().start()
    damselfly = DamselflyProcess(shards=opts.shards)
    try:
        damselfly.start()
        load(redis.port)
        load(damselfly.port)
        targets = [Target("redis", redis.port, [redis.proc.pid]),
                   Target("damselfly", damselfly.port, damselfly_pids(damselfly))]
        for name, command in TESTS.items():
            requests = REQUESTS.get(name, DEFAULT_REQUESTS)
            compare(targets, name, 1, opts.repeat,
                    lambda target: run_benchmark(target, command, 1, requests))
    finally:
        damselfly.stop()
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
