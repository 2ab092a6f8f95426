"""damselfly and redis-server side by side under redis-benchmark.

    python bench/run.py                      # 2 shards, 1 proxy worker, full run (~2-3 min)
    python bench/run.py --quick --repeat 1   # a short smoke run (~20 s)
    python bench/run.py --shards 1 --json    # also write bench/results/<time>.json
    python bench/run.py --cluster            # sharded mode: also redis-benchmark --cluster to the shards
    python bench/run.py --suite containers   # LPUSH, LPOP, RPOP, SADD, SPOP, HSET, ZADD, ZPOPMIN, LRANGE_100

Both servers are started here on free ports and stopped at the end.  Each test
(GET, SET, INCR, MSET at -P 1 and -P 16, 50 clients, -r 100000) runs against
redis-server and then against damselfly, alternating, so both see the same
machine load, and each pair is repeated (--repeat, default 3); the table gives
the median ops/s, the median of the pairs' ratios damselfly/redis, and the CPU
seconds each server burnt per million operations (utime+stime from
/proc/<pid>/stat, summed over every damselfly process).  The machine is shared
and noisy: quote the ratios, not one absolute figure.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.helpers import DamselflyProcess, RawClient, RedisProcess  # noqa: E402

TESTS = ("get", "set", "incr", "mset")
# --suite containers: the data-type commands (issue 7), in an order where
# the pops find what the pushes left (redis-benchmark's LPOP/RPOP/SPOP/
# ZPOPMIN use one key each; LRANGE_100 pushes its list first).
SUITES = {
    "strings": TESTS,
    "containers": ("lpush", "lpop", "rpop", "sadd", "spop", "hset", "zadd", "zpopmin",
                   "lrange_100"),
}
PIPELINES = (1, 16)
CLIENTS = 50
KEYSPACE = 100000
# Requests per run: a couple of seconds on damselfly at each depth; each
# pair of runs is repeated (--repeat) and the medians reported.
REQUESTS = {1: 60_000, 16: 300_000}
QUICK_REQUESTS = {1: 20_000, 16: 100_000}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    """utime + stime of the given processes, in seconds (gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command name; utime, stime are 14, 15.
        fields = stat[stat.rindex(b")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


class Target:
    """A server under test: where redis-benchmark connects, whose CPU counts."""

    def __init__(self, name: str, port: int, pids, cluster: bool = False):
        self.name = name
        self.port = port
        self.pids = pids
        self.cluster = cluster


def run_benchmark(target: Target, test, pipeline: int, requests: int,
                  keyspace: int = KEYSPACE) -> dict:
    """One redis-benchmark run: ``test`` is a -t name ("get") or a command's
    words (``["PFADD", "hll", "__rand_int__"]``); ``keyspace`` 0 leaves -r out."""
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(target.port), "-c", str(CLIENTS),
            "-n", str(requests), "-P", str(pipeline), "--csv"]
    if keyspace:
        argv += ["-r", str(keyspace)]
    if target.cluster:
        argv.append("--cluster")
    argv += ["-t", test] if isinstance(test, str) else list(test)
    before = cpu_seconds(target.pids)
    t0 = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    cpu = cpu_seconds(target.pids) - before
    rps = None
    for row in csv.reader(io.StringIO(out.stdout)):
        if row and row[0] != "test":
            try:
                rps = float(row[1])
            except (IndexError, ValueError):
                pass
    if rps is None:
        raise RuntimeError("redis-benchmark gave no figure for %s on %s:\n%s%s"
                           % (test, target.name, out.stdout, out.stderr))
    return {"rps": rps, "cpu_s": cpu, "wall_s": wall,
            "cpu_per_mops": cpu / (requests / 1e6)}


def compare(targets, label: str, pipeline: int, repeat: int, measure) -> dict:
    """Run ``measure(target)`` ``repeat`` times per target, alternating who
    goes first (so none always meets another's wake); print and return the
    row of medians and the median ratio of each pair to redis-server."""
    runs = {t.name: [] for t in targets}
    ratios = {t.name: [] for t in targets[1:]}
    for r in range(repeat):
        for target in (targets if r % 2 == 0 else targets[::-1]):
            runs[target.name].append(measure(target))
        for name in ratios:
            ratios[name].append(runs[name][-1]["rps"] / runs["redis"][-1]["rps"])
    row = {"test": label, "pipeline": pipeline,
           "ratio": statistics.median(ratios["damselfly"]), "runs": runs}
    if "direct" in ratios:
        row["ratio_direct"] = statistics.median(ratios["direct"])
    for name, results in runs.items():
        row[name] = {key: statistics.median(x[key] for x in results) for key in results[0]}
    print_row(row, flush=True)
    return row


def damselfly_pids(server: DamselflyProcess) -> list:
    """The supervisor and its children (shards and proxy workers)."""
    return [server.proc.pid] + server.child_pids()


def warm_up(port: int) -> None:
    with RawClient(port) as c:
        c.call("PING")


def run(opts) -> dict:
    requests = QUICK_REQUESTS if opts.quick else REQUESTS
    _printed_header[0] = False
    flags = {}
    if opts.cluster:
        flags["cluster_mode"] = "sharded"
    redis = RedisProcess().start()
    damselfly = DamselflyProcess(shards=opts.shards, proxy_workers=opts.proxy_workers, **flags)
    try:
        damselfly.start()
        warm_up(redis.port)
        targets = [Target("redis", redis.port, [redis.proc.pid])]
        pids = damselfly_pids(damselfly)
        targets.append(Target("damselfly", damselfly.port, pids))
        if opts.cluster:
            # The same sharded damselfly, driven straight to its shards.
            targets.append(Target("direct", damselfly.shard_ports[0], pids, cluster=True))
        rows = []
        tests = opts.tests.split(",") if opts.tests else SUITES[opts.suite]
        pipelines = [int(p) for p in opts.pipelines.split(",")] if opts.pipelines else PIPELINES
        for pipeline in pipelines:
            for test in tests:
                rows.append(compare(
                    targets, test.upper(), pipeline, opts.repeat,
                    lambda target: run_benchmark(target, test, pipeline, requests[pipeline])))
    finally:
        damselfly.stop()
        redis.stop()
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "shards": opts.shards, "proxy_workers": opts.proxy_workers,
        "mode": "cluster" if opts.cluster else "proxy", "quick": opts.quick,
        "repeat": opts.repeat,
        "clients": CLIENTS, "keyspace": KEYSPACE, "cpus": os.cpu_count(), "rows": rows,
    }


HEADER = ("| test | -P | redis ops/s | damselfly ops/s | ratio | redis CPU-s/Mops "
          "| damselfly CPU-s/Mops |")
# With --cluster: the same sharded server driven straight to the shards.
DIRECT_HEADER = " direct ops/s | direct ratio | direct CPU-s/Mops |"


def header(direct: bool) -> str:
    text = HEADER + (DIRECT_HEADER if direct else "")
    return text + "\n" + "|---" * text.count(" |") + "|"


def format_row(row: dict) -> str:
    r, d = row["redis"], row["damselfly"]
    text = "| %s | %d | %.0f | %.0f | %.2f | %.1f | %.1f |" % (
        row["test"], row["pipeline"], r["rps"], d["rps"], row["ratio"],
        r["cpu_per_mops"], d["cpu_per_mops"])
    if "direct" in row:
        x = row["direct"]
        text += " %.0f | %.2f | %.1f |" % (x["rps"], row["ratio_direct"], x["cpu_per_mops"])
    return text


_printed_header = [False]


def print_row(row: dict, flush: bool = False) -> None:
    if not _printed_header[0]:
        print(header("direct" in row))
        _printed_header[0] = True
    print(format_row(row), flush=flush)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=2, help="shard processes (default 2)")
    parser.add_argument("--proxy-workers", type=int, default=1, help="proxy workers (default 1)")
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke run")
    parser.add_argument("--cluster", action="store_true",
                        help="cluster_mode sharded; adds a 'direct' column: redis-benchmark "
                             "--cluster straight to the shards, beside the proxy path")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per server and test; medians are reported (default 3)")
    parser.add_argument("--tests", help="comma-separated redis-benchmark tests (e.g. %s)"
                        % ",".join(TESTS))
    parser.add_argument("--suite", choices=sorted(SUITES), default="strings",
                        help="a named list of tests (default strings: %s)" % ",".join(TESTS))
    parser.add_argument("--pipelines", help="comma-separated pipeline depths (default 1,16)")
    parser.add_argument("--json", nargs="?", const="", metavar="PATH",
                        help="also write the results as JSON (default bench/results/<time>.json)")
    opts = parser.parse_args(argv)
    result = run(opts)
    if opts.json is not None:
        path = opts.json or os.path.join(
            ROOT, "bench", "results", "%s-%s.json" % (result["when"].replace(":", ""), result["mode"]))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
        print("results written to %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
