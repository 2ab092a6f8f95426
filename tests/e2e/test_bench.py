"""bench/run.py end to end, on the smallest run it can make.

The benchmark starts its own damselfly and redis-server, drives both with
redis-benchmark and reports ops/s, the ratio and CPU seconds per million
operations; this checks the whole chain on one short GET run and that every
process it started is gone afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from bench import run as bench
from tests.reference import reference_binary


def _own_servers() -> set:
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(os.getpid())],
                         capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines()
            if "redis-server" in line or "cluster.cli" in line}


def test_cpu_seconds_counts_this_process():
    before = bench.cpu_seconds([os.getpid()])
    x = 0
    for i in range(3_000_000):
        x += i
    assert bench.cpu_seconds([os.getpid()]) > before
    assert bench.cpu_seconds([2**22 + 12345]) == 0  # a pid that does not exist


def test_quick_run_reports_both_servers(tmp_path, capsys):
    reference_binary("redis-benchmark")  # both come with the redis packages CI installs
    reference_binary("redis-server")
    path = tmp_path / "result.json"
    servers_before = _own_servers()  # the session's shared servers are children too
    assert bench.main(["--quick", "--repeat", "1", "--tests", "get", "--pipelines", "1",
                       "--shards", "1", "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["shards"] == 1 and result["mode"] == "proxy"
    (row,) = result["rows"]
    assert row["test"] == "GET" and row["pipeline"] == 1
    for name in ("redis", "damselfly"):
        assert row[name]["rps"] > 0
        assert row[name]["cpu_per_mops"] > 0
    assert row["ratio"] == pytest.approx(row["damselfly"]["rps"] / row["redis"]["rps"])
    table = capsys.readouterr().out
    assert "| GET | 1 |" in table and "CPU-s/Mops" in table
    assert _own_servers() <= servers_before


def test_memory_bench_loads_both_servers(capsys):
    reference_binary()
    from bench import memory

    servers_before = _own_servers()
    assert memory.main(["--workloads", "str32,hash100", "--keys", "2000", "--shards", "1"]) == 0
    table = capsys.readouterr().out
    assert "| str32 | 2000 |" in table and "| hash100 | 2000 |" in table
    assert memory.main(["--eviction-latency", "--writes", "2000", "--repeat", "1",
                        "--shards", "1"]) == 0
    table = capsys.readouterr().out
    assert "| redis | yes |" in table and "| damselfly | yes |" in table
    assert "damselfly: p99 with eviction / without:" in table
    assert _own_servers() <= servers_before
