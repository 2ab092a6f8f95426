"""INFO's text format and the parts of it that proxy and shard share.

A shard reports its own sections (``shardnode/info.py``); the proxy asks every
shard for the same sections and merges them (``proxy/server_fanout.py``),
adding the sections it knows better (server, clients).  Both format and parse
the text here, so the wire format exists once: ``# Section`` then
``key:value`` lines, each ending in CRLF, sections separated by a blank line.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time

from cluster.session import SERVER_VERSION

# Redis's order of sections, and which ones each keyword selects.
ORDER = ("server", "clients", "memory", "persistence", "stats", "replication",
         "cpu", "modules", "commandstats", "errorstats", "latencystats",
         "cluster", "keyspace")
DEFAULT = frozenset(ORDER) - {"commandstats", "latencystats"}
ALL = frozenset(ORDER)

# How the proxy merges a numeric field the shards all report: summed,
# greatest, or (anything else) the first shard's value (WORST_STATUS below
# for the ok/err fields).
SUMMED = frozenset((
    "used_memory", "used_memory_rss", "used_memory_peak", "used_memory_dataset",
    "used_memory_overhead", "mem_fragmentation_bytes",
    "rdb_changes_since_last_save", "expired_keys", "evicted_keys",
    "keyspace_hits", "keyspace_misses", "total_net_input_bytes",
    "total_net_output_bytes", "used_cpu_sys", "used_cpu_user",
    "used_cpu_sys_children", "used_cpu_user_children", "used_cpu_sys_main_thread",
    "used_cpu_user_main_thread", "pubsub_channels", "pubsub_patterns",
    "pubsubshard_channels", "blocked_clients", "loading_total_bytes", "loading_loaded_bytes",
    "aof_current_size", "aof_base_size", "aof_buffer_length",
    "tracking_total_keys", "tracking_total_items",  # each shard tracks its own keys
))
GREATEST = frozenset((
    "loading", "async_loading", "rdb_bgsave_in_progress", "aof_rewrite_in_progress",
    "rdb_last_save_time", "aof_enabled", "loading_eta_seconds",
    "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec", "aof_pending_bio_fsync",
    # a server-wide snapshot is one save on every shard:
    "rdb_saves", "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec",
))

# Status fields ("ok" or "err") where one shard's failure is the server's.
WORST_STATUS = frozenset(("aof_last_bgrewrite_status", "aof_last_write_status"))

RUN_ID = os.urandom(20).hex()


def requested(args) -> list:
    """INFO's arguments (after the name) -> section names, in Redis's order."""
    if not args:
        wanted = set(DEFAULT)
    else:
        wanted = set()
        for raw in args:
            name = raw.decode("utf-8", "replace").lower()
            if name == "default":
                wanted |= DEFAULT
            elif name in ("all", "everything"):
                wanted |= ALL
            else:
                wanted.add(name)
    return [s for s in ORDER if s in wanted]


def format_info(sections) -> bytes:
    """[(name, [(key, value), ...]), ...] -> INFO's text."""
    parts = []
    for name, fields in sections:
        lines = ["# %s" % ("CPU" if name == "cpu" else name.capitalize())]
        lines.extend("%s:%s" % (k, v) for k, v in fields)
        parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts).encode()


def parse_info(text: bytes) -> dict:
    """INFO's text -> {section: {key: value}} (values as strings)."""
    out: dict = {}
    current = None
    for line in text.decode("utf-8", "replace").split("\r\n"):
        if line.startswith("# "):
            current = out.setdefault(line[2:].lower(), {})
        elif line and current is not None:
            key, _, value = line.partition(":")
            current[key] = value
    return out


def human_bytes(n: int) -> str:
    """Redis's bytesToHuman: 1.06M, 23.54G, 200B."""
    for unit, size in (("P", 1024**5), ("T", 1024**4), ("G", 1024**3),
                       ("M", 1024**2), ("K", 1024)):
        if n >= size:
            return "%.2f%s" % (n / size, unit)
    return "%dB" % n


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_stats_totals(overhead, keys, used, peak, dataset, rss) -> dict:
    """MEMORY STATS's derived fields, in Redis 7.0's order: a shard computes
    them from its own figures, the proxy from the shards' sums."""
    return {
        b"overhead.total": overhead,
        b"keys.count": keys,
        b"keys.bytes-per-key": used // keys if keys else 0,
        b"dataset.bytes": dataset,
        b"dataset.percentage": 100.0 * dataset / used if used else 0.0,
        b"peak.percentage": 100.0 * used / peak if peak else 100.0,
        b"allocator.allocated": used,
        b"allocator.active": used,
        b"allocator.resident": rss,
        b"allocator-fragmentation.ratio": 1.0,
        b"allocator-fragmentation.bytes": 0,
        b"allocator-rss.ratio": rss / used if used else 1.0,
        b"allocator-rss.bytes": rss - used,
        b"rss-overhead.ratio": 1.0,
        b"rss-overhead.bytes": 0,
        b"fragmentation": rss / used if used else 1.0,
        b"fragmentation.bytes": rss - used,
    }


def server_section(config, started: float, port: int, role: str) -> list:
    now = time.time()
    uptime = int(now - started)
    uname = platform.uname()
    return [
        ("redis_version", SERVER_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "standalone" if config.cluster_mode == "off" else "cluster"),
        ("os", "%s %s %s" % (uname.system, uname.release, uname.machine)),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", RUN_ID),
        ("tcp_port", port),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", config.hz),
        ("configured_hz", config.hz),
        ("lru_clock", int(now) & 0xFFFFFF),
        ("executable", sys.argv[0] if sys.argv and sys.argv[0] else sys.executable),
        ("config_file", config.values.get("config_file", "")),
        ("io_threads_active", 0),
        ("damselfly_role", role),
    ]


def cpu_section() -> list:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        ("used_cpu_sys", "%.6f" % usage.ru_stime),
        ("used_cpu_user", "%.6f" % usage.ru_utime),
        ("used_cpu_sys_children", "%.6f" % children.ru_stime),
        ("used_cpu_user_children", "%.6f" % children.ru_utime),
        ("used_cpu_sys_main_thread", "%.6f" % usage.ru_stime),
        ("used_cpu_user_main_thread", "%.6f" % usage.ru_utime),
    ]


def replication_section() -> list:
    return [
        ("role", "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", RUN_ID),
        ("master_replid2", "0" * 40),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", 1048576),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


def clients_section(config, connected: int, blocked: int = 0, max_output: int = 0,
                    tracking: int = 0) -> list:
    """``max_output``: the largest output buffer a client has now (Redis keeps
    the largest of the last seconds; a subscriber that does not read shows here)."""
    return [
        ("connected_clients", connected),
        ("cluster_connections", 0),
        ("maxclients", config.maxclients),
        ("client_recent_max_input_buffer", 0),
        ("client_recent_max_output_buffer", max_output),
        ("blocked_clients", blocked),
        ("tracking_clients", tracking),
        ("clients_in_timeout_table", 0),
    ]


def cluster_section(config) -> list:
    return [("cluster_enabled", 0 if config.cluster_mode == "off" else 1)]


def commandstat_line(calls: int, usec: int, rejected: int, failed: int) -> str:
    per_call = usec / calls if calls else 0.0
    return "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d" % (
        calls, usec, per_call, rejected, failed)


def parse_fields(value: str) -> dict:
    """``keys=3,expires=1,avg_ttl=0`` -> {"keys": "3", ...}."""
    out = {}
    for part in value.split(","):
        k, _, v = part.partition("=")
        out[k] = v
    return out
