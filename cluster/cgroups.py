"""The container's limits, read from the cgroup filesystem (v2, else v1).

A pod limited to 2 CPUs on a 64-core node still sees 64 cores in
``os.cpu_count()`` and in its CPU affinity: the limit is a CFS quota, so
``proactor_threads: 0`` must follow the quota instead, or the pod starts 64
shards that share 2 CPUs (each with 1/64 of maxmemory).  Likewise a memory
limit the kernel enforces by OOM-killing: ``maxmemory`` must stay below it
for eviction (or -OOM replies) to happen first.

What is read:

- v2 (unified): ``cpu.max`` (``<quota> <period>`` or ``max <period>``) and
  ``memory.max`` (bytes or ``max``), in this process's cgroup (the path in
  ``/proc/self/cgroup``'s ``0::`` line) and else at the root of the mount
  (inside a container, the root is the container's own cgroup);
- v1: ``cpu/cpu.cfs_quota_us`` (-1: none) with ``cpu/cpu.cfs_period_us``,
  and ``memory/memory.limit_in_bytes`` (a huge value: none).

The mount point is ``/sys/fs/cgroup`` unless ``DAMSELFLY_CGROUP_ROOT`` names
another directory (tests use fake cgroup trees).
"""

from __future__ import annotations

import math
import os

DEFAULT_ROOT = "/sys/fs/cgroup"
ROOT_ENV = "DAMSELFLY_CGROUP_ROOT"
# v1 reports "no limit" as a page-rounded LONG_MAX; anything this large is none.
_V1_UNLIMITED = 1 << 60


def cgroup_root() -> str:
    return os.environ.get(ROOT_ENV) or DEFAULT_ROOT


def _read(path: str):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _own_v2_dirs(root: str) -> list:
    """This process's cgroup directory (v2), then the mount's root."""
    dirs = []
    text = _read("/proc/self/cgroup") if root == DEFAULT_ROOT else None
    for line in (text or "").splitlines():
        if line.startswith("0::"):
            relative = line[3:].strip().lstrip("/")
            if relative:
                dirs.append(os.path.join(root, relative))
    dirs.append(root)
    return dirs


def cpu_limit(root: str | None = None) -> float | None:
    """The CPUs the quota allows (1.5 for 150000/100000), or None without one."""
    root = root or cgroup_root()
    for directory in _own_v2_dirs(root):
        text = _read(os.path.join(directory, "cpu.max"))
        if text is not None:
            fields = text.split()
            if len(fields) < 2 or fields[0] == "max":
                return None
            return _ratio(fields[0], fields[1])
    quota = _read(os.path.join(root, "cpu", "cpu.cfs_quota_us"))
    period = _read(os.path.join(root, "cpu", "cpu.cfs_period_us"))
    if quota is None or period is None:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return None
    if q <= 0 or p <= 0:
        return None
    return q / p


def memory_limit(root: str | None = None) -> int | None:
    """The cgroup's memory limit in bytes, or None without one."""
    root = root or cgroup_root()
    for directory in _own_v2_dirs(root):
        text = _read(os.path.join(directory, "memory.max"))
        if text is not None:
            return None if text == "max" else _bytes(text)
    text = _read(os.path.join(root, "memory", "memory.limit_in_bytes"))
    if text is None:
        return None
    limit = _bytes(text)
    return None if limit is None or limit >= _V1_UNLIMITED else limit


def _bytes(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def cpus_for_shards(available: int, root: str | None = None) -> int:
    """``proactor_threads: 0``: one shard per CPU the process may use -- the
    ``available`` cores (affinity), fewer when a quota allows fewer (rounded
    up: a 1.5-CPU quota gets 2 shards)."""
    quota = cpu_limit(root)
    if quota is None:
        return max(1, available)
    return max(1, min(available, math.ceil(quota)))


def maxmemory_warnings(maxmemory: int, root: str | None = None) -> list:
    """What startup warns about: no maxmemory (the data may grow until the
    process is killed), or a maxmemory at or above the cgroup's memory limit
    (the kernel's OOM killer acts before eviction or -OOM replies do)."""
    limit = memory_limit(root)
    if not maxmemory:
        text = "maxmemory is 0: the data may grow without a limit"
        if limit is not None:
            text += (" until the container's memory limit (%d bytes) makes the kernel kill "
                     "the server; set maxmemory below it" % limit)
        return [text]
    if limit is not None and maxmemory >= limit:
        return ["maxmemory (%d bytes) is not below the container's memory limit (%d bytes): "
                "the kernel would kill the server before eviction or -OOM replies act; "
                "leave headroom for the processes themselves" % (maxmemory, limit)]
    return []
