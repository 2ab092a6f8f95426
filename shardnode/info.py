"""INFO on a shard: every section, from this shard's point of view.

A client connected straight to a shard (sharded mode) reads this as it is;
through the proxy, the proxy asks every shard for the same sections and
merges them (sums keys, memory, statistics; see ``proxy/server_fanout.py``).
Counters a shard has not got yet (hits, evictions) read as Redis's zero.
"""

from __future__ import annotations

import os
import time

from cluster import info_sections as fmt
from cluster.resp import Verbatim


def shard_info(conn, args):
    server = conn.server
    sections = []
    for name in fmt.requested(args[1:]):
        build = SECTIONS.get(name)
        if build is not None:
            sections.append((name, build(server)))
    return Verbatim(fmt.format_info(sections))


def _server(server):
    return fmt.server_section(server.config, server.started, server.info.port, "shard")


def _clients(server):
    direct = [c for c in server.clients.values() if not c.internal]
    largest = max((c.output_bytes() for c in direct), default=0)
    running = server.running  # a proxy's INFO: shard 0 counts its clients too
    tracking = server.tracking.counted(running is not None and running.internal)
    return fmt.clients_section(server.config, len(direct), server.blocking.count, largest,
                               tracking)


def used_memory(server) -> int:
    """The shard's accounted bytes (shardnode/memory.py)."""
    return server.memory.used()


def total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return 0


def memory_fields(server) -> list:
    """INFO memory as Redis 7.0 names its fields, for this shard.

    ``used_memory`` counts the data (values, keys, their entries) as this
    process holds it, not the interpreter's own ~20 MB: ``used_memory_rss``
    shows that, and ``mem_fragmentation_ratio`` is their ratio, as in Redis.
    ``maxmemory`` is this shard's share of the configured limit.
    """
    memory = server.memory
    used = memory.used()
    rss = fmt.rss_bytes()
    peak = memory.peak
    overhead = memory.overhead()
    dataset = max(0, used - overhead)
    limit = memory.limit
    system = total_system_memory()
    return [
        ("used_memory", used),
        ("used_memory_human", fmt.human_bytes(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", fmt.human_bytes(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", fmt.human_bytes(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (100.0 * used / peak if peak else 100.0)),
        ("used_memory_overhead", overhead),
        ("used_memory_startup", 0),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", "%.2f%%" % (100.0 * dataset / used if used else 0.0)),
        ("total_system_memory", system),
        ("total_system_memory_human", fmt.human_bytes(system)),
        ("maxmemory", limit),
        ("maxmemory_human", fmt.human_bytes(limit)),
        ("maxmemory_policy", server.config.maxmemory_policy),
        ("mem_fragmentation_ratio", "%.2f" % (rss / used if used else 1.0)),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", 0),
        ("mem_allocator", "libc"),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _loading_fields(server) -> list:
    """Redis 7.0's loading_* fields, shown while the snapshot loads."""
    progress = server.load_progress
    elapsed = max(0.0, time.time() - progress.started)
    done, total = progress.loaded_bytes, progress.total_bytes
    eta = int(elapsed * (total - done) / done) if done else 1
    return [
        ("loading_start_time", int(progress.started)),
        ("loading_total_bytes", total),
        ("loading_rdb_used_mem", 0),
        ("loading_loaded_bytes", done),
        ("loading_loaded_perc", "%.2f" % (100.0 * done / total if total else 0.0)),
        ("loading_eta_seconds", eta),
    ]


def _persistence(server):
    fields = [
        ("loading", 1 if server.loading else 0),
        ("async_loading", 0),
        *server.snapshots.info_fields(),
    ]
    fields += server.aof.info_fields()  # aof_* (shardnode/aof.py)
    if server.loading:
        fields += _loading_fields(server)
    return fields


def stats_fields(server) -> list:
    ks = server.keyspace
    return [
        ("total_connections_received", server.stat_connections),
        ("total_commands_processed", server.stat_commands),
        ("instantaneous_ops_per_sec", 0),
        ("total_net_input_bytes", 0),
        ("total_net_output_bytes", 0),
        ("rejected_connections", 0),
        ("expired_keys", ks.stats_expired),
        ("evicted_keys", getattr(ks, "stats_evicted", 0)),
        ("keyspace_hits", getattr(ks, "stats_hits", 0)),
        ("keyspace_misses", getattr(ks, "stats_misses", 0)),
        *server.pubsub.info_fields(),  # pubsub_channels, _patterns, pubsubshard_channels
        *server.tracking.info_fields(),  # tracking_total_keys/items/prefixes
        ("total_error_replies", sum(server.errorstats.values())),
    ]


def _commandstats(server):
    out = []
    for name, (calls, seconds, rejected, failed) in server.cmdstats.items():
        if name.startswith("df.") or not (calls or rejected or failed):
            continue  # internal, or created for the call running now
        out.append(("cmdstat_" + name,
                    fmt.commandstat_line(calls, int(seconds * 1_000_000), rejected, failed)))
    return out


def _errorstats(server):
    return [("errorstat_" + prefix, "count=%d" % count)
            for prefix, count in server.errorstats.items()]


def _keyspace(server):
    now = server.keyspace.now_ms
    out = []
    for db in server.keyspace.dbs:
        if db.size:
            out.append(("db%d" % db.index, "keys=%d,expires=%d,avg_ttl=%d"
                        % (db.size, len(db.expires), _avg_ttl(db, now))))
    return out


def _avg_ttl(db, now: int, sample: int = 1000) -> int:
    """Mean remaining TTL (ms) of up to ``sample`` keys with a deadline."""
    total = n = 0
    for deadline in db.expires.values():
        if n == sample:
            break
        total += max(0, deadline - now)
        n += 1
    return total // n if n else 0


SECTIONS = {
    "server": _server,
    "clients": _clients,
    "memory": memory_fields,
    "persistence": _persistence,
    "stats": stats_fields,
    "replication": lambda server: fmt.replication_section(),
    "cpu": lambda server: fmt.cpu_section(),
    "modules": lambda server: [],
    "commandstats": _commandstats,
    "errorstats": _errorstats,
    "cluster": lambda server: fmt.cluster_section(server.config),
    "keyspace": _keyspace,
}
