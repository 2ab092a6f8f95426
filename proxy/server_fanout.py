"""Fan-outs of server commands: INFO, CONFIG SET, CONFIG RESETSTAT.

INFO goes to every shard with the client's section names; the shards'
sections are merged (keys, memory and statistics summed, keyspace per
database) and the proxy adds what only it knows: the server section is the
proxy's own process and port, clients are its clients, and the commands and
connections counted are the ones clients sent to it.

CONFIG SET is checked and applied in this proxy worker first (so an invalid
request changes nothing anywhere), then on every shard.  With several proxy
workers, each follows shard 0's runtime values once a second
(:func:`follow_shard_config`), so a change made through one worker reaches
the others.  INFO's clients section, CLIENT LIST and CLIENT KILL see the
connections of the worker that answers (but ``tracking_clients``, which
the shards count for the whole server).
"""

from __future__ import annotations

import asyncio
import logging

from cluster import info_sections as fmt
from cluster.command_docs import find
from cluster.commands import ALL as ALL_SHARDS
from cluster.errors import CommandError
from cluster.resp import Verbatim, encode
from cluster.config import OPTIONS, ConfigError
from cluster.session import apply_config_set, warn_not_implemented
from proxy.fanout import FANOUTS, MERGES, _first_error, decode_reply, merge_ok, to_all
from proxy.links import DEFAULT_CONTEXT
from proxy.tracking import server_wide_tracking

log = logging.getLogger("damselfly.proxy")


def info(worker, client, spec, args) -> None:
    sections = fmt.requested(args[1:])
    if all(name in PROXY_SECTIONS and name != "clients" for name in sections):  # no shard needed
        slot = client.new_slot()
        text = fmt.format_info([(name, PROXY_SECTIONS[name](worker)) for name in sections])
        slot[1] = encode(Verbatim(text), client.proto)
        client.deliver(slot)
        if worker.monitored:  # answered here: the monitors hear of it from us
            from proxy.monitor import report_local

            report_local(client, spec, args)
        return
    to_all(worker, client, spec, args, merge_info, sections)


def merge_info(gather, replies):
    _first_error(replies)
    worker = gather.client.worker
    shards = [fmt.parse_info(r) for r in replies]
    sections = []
    for name in gather.extra:
        builder = PROXY_SECTIONS.get(name)
        parts = [s.get(name, {}) for s in shards]
        if builder is not None:
            section = builder(worker)
            if name == "clients":  # tracking_clients: the server's (proxy/tracking.py)
                section = server_wide_tracking(section, parts)
            sections.append((name, section))
            continue
        merged = MERGERS.get(name, _merge_numbers)(parts)
        patch = PROXY_PATCHES.get(name)
        if patch is not None:
            patch(worker, merged)
        sections.append((name, list(merged.items())))
    return Verbatim(fmt.format_info(sections))


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _merge_numbers(parts) -> dict:
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            if key not in out:
                out[key] = value
            elif key in fmt.WORST_STATUS:
                if value != "ok":
                    out[key] = value
            elif key in fmt.SUMMED or key in fmt.GREATEST:
                try:
                    a, b = _number(out[key]), _number(value)
                except ValueError:
                    continue
                result = a + b if key in fmt.SUMMED else max(a, b)
                out[key] = "%.6f" % result if isinstance(result, float) else result
    return out


def _merge_memory(parts) -> dict:
    """The shards' bytes summed (each reports its own process and keys); the
    ratios and human forms recomputed from the sums."""
    out = _merge_numbers(parts)
    for key in ("used_memory", "used_memory_rss", "used_memory_peak"):
        if key in out:
            out[key + "_human"] = fmt.human_bytes(int(out[key]))
    used, rss = int(out.get("used_memory", 0)), int(out.get("used_memory_rss", 0))
    peak, dataset = int(out.get("used_memory_peak", 0)), int(out.get("used_memory_dataset", 0))
    if "used_memory_peak_perc" in out:
        out["used_memory_peak_perc"] = "%.2f%%" % (100.0 * used / peak if peak else 100.0)
    if "used_memory_dataset_perc" in out:
        out["used_memory_dataset_perc"] = "%.2f%%" % (100.0 * dataset / used if used else 0.0)
    if "mem_fragmentation_ratio" in out:
        out["mem_fragmentation_ratio"] = "%.2f" % (rss / used if used else 1.0)
    return out


def _merge_commandstats(parts) -> dict:
    """Time is summed; a command sent to every shard counts once per call."""
    totals: dict = {}
    for part in parts:
        for key, value in part.items():
            f = fmt.parse_fields(value)
            calls = (int(f["calls"]), int(f["rejected_calls"]), int(f["failed_calls"]))
            t = totals.get(key)
            if t is None:
                totals[key] = [calls[0], int(f["usec"]), calls[1], calls[2]]
                continue
            t[1] += int(f["usec"])
            spec = find(key[len("cmdstat_"):].encode())
            combine = max if spec is not None and spec.route == ALL_SHARDS else int.__add__
            t[0] = combine(t[0], calls[0])
            t[2] = combine(t[2], calls[1])
            t[3] = combine(t[3], calls[2])
    return {k: fmt.commandstat_line(*t) for k, t in totals.items()}


def _merge_counts(parts) -> dict:
    """errorstat_ERR:count=3 lines, summed by key."""
    totals: dict = {}
    for part in parts:
        for key, value in part.items():
            totals[key] = totals.get(key, 0) + int(fmt.parse_fields(value)["count"])
    return {k: "count=%d" % n for k, n in totals.items()}


def _merge_keyspace(parts) -> dict:
    totals: dict = {}
    for part in parts:
        for db, value in part.items():
            f = fmt.parse_fields(value)
            t = totals.setdefault(db, [0, 0, 0])
            keys, expires = int(f["keys"]), int(f["expires"])
            t[0] += keys
            t[1] += expires
            t[2] += int(f["avg_ttl"]) * expires  # weight by keys with a TTL
    order = sorted(totals, key=lambda db: int(db[2:]))
    return {db: "keys=%d,expires=%d,avg_ttl=%d" % (
        totals[db][0], totals[db][1], totals[db][2] // totals[db][1] if totals[db][1] else 0)
        for db in order}


def _merge_persistence(parts) -> dict:
    """Numbers as the other sections; then what one snapshot of all shards
    means: its last save is the oldest shard's, it failed if any shard's did."""
    out = _merge_numbers(parts)
    times = [int(p["rdb_last_save_time"]) for p in parts if "rdb_last_save_time" in p]
    if times:
        out["rdb_last_save_time"] = min(times)
    if any(p.get("rdb_last_bgsave_status") == "err" for p in parts):
        out["rdb_last_bgsave_status"] = "err"
    return out


MERGERS = {
    "persistence": _merge_persistence,
    "memory": _merge_memory,
    "commandstats": _merge_commandstats,
    "errorstats": _merge_counts,
    "keyspace": _merge_keyspace,
}


# -- what the proxy reports itself ---------------------------------------------

def _server(worker):
    return fmt.server_section(worker.config, worker.started, worker.config.port, "proxy")


def _clients(worker):
    blocked = sum(1 for c in worker.clients.values() if c.is_blocked())
    largest = max((c.output_bytes() for c in worker.clients.values()), default=0)
    tracking = sum(1 for c in worker.clients.values() if c.tracking is not None)
    return fmt.clients_section(worker.config, len(worker.clients), blocked, largest, tracking)


PROXY_SECTIONS = {
    "server": _server,
    "clients": _clients,
    "replication": lambda worker: fmt.replication_section(),
    "modules": lambda worker: [],
    "cluster": lambda worker: fmt.cluster_section(worker.config),
}


def _patch_stats(worker, merged: dict) -> None:
    merged["total_connections_received"] = worker.stat_connections
    merged["total_commands_processed"] = worker.stat_commands
    merged["total_error_replies"] = (int(merged.get("total_error_replies", 0))
                                     + sum(worker.errorstats.values()))


def _patch_errorstats(worker, merged: dict) -> None:
    for prefix, count in worker.errorstats.items():
        key = "errorstat_" + prefix
        before = int(fmt.parse_fields(merged[key])["count"]) if key in merged else 0
        merged[key] = "count=%d" % (before + count)


def _patch_commandstats(worker, merged: dict) -> None:
    for name, (calls, usec, rejected, failed) in worker.cmdstats.items():
        merged["cmdstat_" + name] = fmt.commandstat_line(calls, int(usec), rejected, failed)


def _patch_cpu(worker, merged: dict) -> None:
    for key, value in fmt.cpu_section():
        if key in merged:
            merged[key] = "%.6f" % (float(merged[key]) + float(value))


def _patch_memory(worker, merged: dict) -> None:
    """maxmemory is the configured limit, not the sum of the shards' shares
    (which loses the remainder of the division)."""
    if "maxmemory" in merged:
        merged["maxmemory"] = worker.config.maxmemory
        merged["maxmemory_human"] = fmt.human_bytes(worker.config.maxmemory)


PROXY_PATCHES = {
    "memory": _patch_memory,
    "stats": _patch_stats,
    "errorstats": _patch_errorstats,
    "commandstats": _patch_commandstats,
    "cpu": _patch_cpu,
}


# -- CONFIG ----------------------------------------------------------------------

def config_set(worker, client, spec, args) -> None:
    try:
        applied = apply_config_set(worker.config, args)
    except CommandError as exc:
        client.error_reply(exc.args[0])
        return
    warn_not_implemented(applied, log)
    worker.config_epoch = getattr(worker, "config_epoch", 0) + 1
    to_all(worker, client, spec, args, merge_ok)


CONFIG_FOLLOW_SECONDS = 1.0
_MUTABLE = [o for o in OPTIONS if o.mutable]
_CONFIG_GET_MUTABLE = [b"CONFIG", b"GET"] + [o.redis_name.encode() for o in _MUTABLE]


async def follow_shard_config(worker) -> None:
    """Adopt shard 0's runtime values: every CONFIG SET through any worker
    reaches every shard, so shard 0 holds the latest of them."""
    link = worker.links[0]
    while True:
        await asyncio.sleep(CONFIG_FOLLOW_SECONDS)
        epoch = getattr(worker, "config_epoch", 0)
        reply = decode_reply(await link.request(DEFAULT_CONTEXT, _CONFIG_GET_MUTABLE))
        if not isinstance(reply, list) or getattr(worker, "config_epoch", 0) != epoch:
            continue  # shard down, or this worker's own CONFIG SET raced the read
        values = dict(zip(reply[::2], reply[1::2]))
        for opt in _MUTABLE:
            raw = values.get(opt.redis_name.encode())
            if raw is not None:
                try:
                    worker.config.values[opt.name] = opt.parse(raw.decode())
                except ConfigError:
                    pass


def config_resetstat(worker, client, spec, args) -> None:
    worker.stat_commands = 0
    worker.stat_connections = 0
    worker.errorstats.clear()
    worker.cmdstats.clear()
    to_all(worker, client, spec, args, merge_ok)


# -- MEMORY STATS / DOCTOR ------------------------------------------------------------

def _pairs(reply) -> list:
    """A map reply as (name, value) pairs, RESP2 (flat array) or RESP3 (dict)."""
    if isinstance(reply, dict):
        return list(reply.items())
    return list(zip(reply[::2], reply[1::2]))


def merge_memory_stats(gather, replies):
    """The shards' byte counts summed, field by field (db.N per field); the
    ratios and percentages recomputed from the sums."""
    _first_error(replies)
    sums: dict = {}
    dbs: dict = {}
    for reply in replies:
        for name, value in _pairs(reply):
            if name.startswith(b"db."):
                fields = dbs.setdefault(name, {})
                for field, count in _pairs(value):
                    fields[field] = fields.get(field, 0) + count
            elif type(value) is int:
                sums[name] = sums.get(name, 0) + value
    out = {}
    for name, value in sums.items():
        if name == b"overhead.total":
            break
        out[name] = value
    for name in sorted(dbs, key=lambda db: int(db[3:])):
        out[name] = dbs[name]
    used = sums.get(b"total.allocated", 0)
    out.update(fmt.memory_stats_totals(
        sums.get(b"overhead.total", 0), sums.get(b"keys.count", 0), used,
        sums.get(b"peak.allocated", 0), sums.get(b"dataset.bytes", 0),
        sums.get(b"allocator.resident", 0)))
    return out


def merge_memory_doctor(gather, replies):
    """One report: a shard's that found something, else the common one."""
    _first_error(replies)
    texts = [bytes(r) for r in replies]
    for text in texts:
        if not text.startswith(b"Hi Sam"):  # issues found
            return text
    return max(texts, key=lambda t: t.startswith(b"Hi Sam, I can't"))  # fine over empty


MERGES["memory_stats"] = merge_memory_stats
MERGES["memory_doctor"] = merge_memory_doctor
FANOUTS["info"] = info
FANOUTS["config_set"] = config_set
FANOUTS["resetstat"] = config_resetstat
MERGES.setdefault("config_set", merge_ok)
MERGES.setdefault("resetstat", merge_ok)
