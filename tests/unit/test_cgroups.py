"""cluster/cgroups.py on fake cgroup trees (v2 and v1)."""

from __future__ import annotations

import pytest

from cluster import cgroups


def _tree(tmp_path, files: dict) -> str:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return str(tmp_path)


@pytest.mark.parametrize("files, cpus, memory", [
    ({"cpu.max": "200000 100000", "memory.max": "4294967296"}, 2.0, 4 << 30),
    ({"cpu.max": "150000 100000", "memory.max": "max"}, 1.5, None),
    ({"cpu.max": "max 100000"}, None, None),
    ({"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000",
      "memory/memory.limit_in_bytes": "1073741824"}, 0.5, 1 << 30),
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000",
      "memory/memory.limit_in_bytes": "9223372036854771712"}, None, None),
    ({}, None, None),
])
def test_limits_from_v2_and_v1_files(tmp_path, files, cpus, memory):
    root = _tree(tmp_path, files)
    assert cgroups.cpu_limit(root) == cpus
    assert cgroups.memory_limit(root) == memory


def test_proactor_threads_zero_follows_the_quota_not_the_host(tmp_path, monkeypatch):
    from cluster.config import Config, shard_count

    root = _tree(tmp_path, {"cpu.max": "200000 100000"})
    assert cgroups.cpus_for_shards(64, root) == 2  # a 2-CPU pod on a 64-core node
    assert cgroups.cpus_for_shards(1, root) == 1  # affinity below the quota wins
    assert cgroups.cpus_for_shards(8, _tree(tmp_path / "half", {"cpu.max": "150000 100000"})) == 2
    assert cgroups.cpus_for_shards(8, _tree(tmp_path / "none", {})) == 8
    monkeypatch.setenv(cgroups.ROOT_ENV, root)
    assert shard_count(Config()) == min(2, len(__import__("os").sched_getaffinity(0)))
    assert shard_count(Config({"proactor_threads": 5})) == 5  # explicit wins


def test_maxmemory_warnings(tmp_path):
    limited = _tree(tmp_path, {"memory.max": "1073741824"})
    unlimited = _tree(tmp_path / "u", {"memory.max": "max"})
    assert cgroups.maxmemory_warnings(512 << 20, limited) == []
    (zero,) = cgroups.maxmemory_warnings(0, limited)
    assert "maxmemory is 0" in zero and "1073741824" in zero
    (above,) = cgroups.maxmemory_warnings(2 << 30, limited)
    assert "not below the container's memory limit" in above
    assert cgroups.maxmemory_warnings(1 << 30, limited)  # equal: no headroom
    assert cgroups.maxmemory_warnings(2 << 30, unlimited) == []
    (zero,) = cgroups.maxmemory_warnings(0, unlimited)
    assert zero == "maxmemory is 0: the data may grow without a limit"
