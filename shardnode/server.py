"""Server commands on a shard: DBSIZE, FLUSH*, SWAPDB, INFO, CONFIG, DEBUG, SHUTDOWN,
SAVE, BGSAVE, LASTSAVE (the work is shardnode/snapshots.py's)."""

import logging
import time

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError
from cluster.resp import NO_REPLY
from cluster.session import apply_config_set, rewrite_config, warn_not_implemented
from cluster.shutdown import check_shutdown, request_stop
from cluster.snapshot_id import new_snapshot_id
from shardnode import memory
from shardnode.eviction import EVICTION_OPTIONS
from shardnode.keyspace import in_cluster
from shardnode.registry import handler

log = logging.getLogger("damselfly.shard")


@handler("dbsize")
def dbsize(conn, args):
    return conn.db.size


def _flush_mode(args):
    if len(args) > 2 or (len(args) == 2 and args[1].lower() not in (b"async", b"sync")):
        raise CommandError(errors.SYNTAX)


@handler("flushdb")
def flushdb(conn, args):
    _flush_mode(args)
    used = conn.db.used
    conn.db.clear()
    memory.released_after_flush(used)
    return "OK"


@handler("flushall")
def flushall(conn, args):
    _flush_mode(args)
    used = conn.server.keyspace.used_memory
    for db in conn.server.keyspace.dbs:
        db.clear()
    memory.released_after_flush(used)
    return "OK"


@handler("swapdb")
def swapdb(conn, args):
    if in_cluster(conn):
        raise CommandError(errors.SWAPDB_IN_CLUSTER)
    try:
        a = parse_int(args[1])
    except CommandError:
        raise CommandError("ERR invalid first DB index") from None
    try:
        b = parse_int(args[2])
    except CommandError:
        raise CommandError("ERR invalid second DB index") from None
    n = conn.server.config.dbnum
    if not (0 <= a < n and 0 <= b < n):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    conn.server.keyspace.swap(a, b)
    for client in conn.server.clients.values():
        client.db = conn.server.keyspace.dbs[client.db_index]
    return "OK"


def _debug_object(conn, key: bytes) -> str:
    """DEBUG OBJECT, as Redis 7.0 words it: the encoding, the length of the
    value's RDB form (serializedlength), the LRU clock of its last access;
    for a list, its quicklist's shape."""
    from shardnode.eviction import lru_idle_seconds
    from shardnode.values import dump_payload, encoding_of

    value = conn.db.peek(key)
    if value is None:
        raise CommandError("ERR no such key")
    server = conn.server
    stamp = conn.db.stamp(key)  # the access word (shardnode/eviction.py), as Redis's o->lru
    encoding = encoding_of(value)
    text = "Value at:0x%x refcount:1 encoding:%s serializedlength:%d lru:%d " \
        "lru_seconds_idle:%d" % (id(value), encoding, len(dump_payload(value)) - 11,
                                 stamp & 0xFFFFFF,
                                 lru_idle_seconds(server.keyspace.lru_clock, stamp))
    if encoding == "quicklist":
        from shardnode.rdb import quicklist

        nodes = quicklist.nodes(value, value.fill)
        text += " ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d " \
            "ql_uncompressed_size:%d" % (len(nodes), len(value) / max(1, len(nodes)), value.fill,
                                         1 if value.compress_depth else 0,
                                         sum(len(blob) for _, blob in nodes))
    return text


@handler("debug")
def debug(conn, args):
    sub = args[1].lower()
    if sub == b"sleep" and len(args) == 3:
        try:
            seconds = float(args[2])
        except ValueError:
            raise CommandError(errors.NOT_FLOAT) from None
        time.sleep(max(0.0, seconds))
        return "OK"
    if sub == b"reload" and len(args) == 2:
        conn.server.snapshots.reload_in_place()
        return "OK"
    if sub == b"object" and len(args) == 3:
        return _debug_object(conn, args[2])
    if sub == b"set-active-expire" and len(args) == 3:
        conn.server.active_expire_enabled = args[2] != b"0"
        return "OK"
    raise CommandError(errors.unknown_subcommand(args[1], "debug"))


# The options writes_refused() reads (shardnode/snapshots.py).
_MISCONF_OPTIONS = frozenset({"save", "snapshot_cron", "stop_writes_on_bgsave_error"})


@handler("config|set")
def config_set(conn, args):
    applied = apply_config_set(conn.server.config, args)
    if any(opt.name == "appendonly" for opt, _ in applied):
        conn.server.aof.config_changed()  # on: a base file first (shardnode/aof.py)
    if any(opt.name == "notify_keyspace_events" for opt, _ in applied):
        from shardnode import notify

        notify.configure(conn.server)
    if any(opt.name in _MISCONF_OPTIONS for opt, _ in applied):
        server = conn.server  # MISCONF applies only with a schedule: tell the links
        server.set_write_check(not server.snapshots.snapshot_ok)
    if any(opt.name in EVICTION_OPTIONS for opt, _ in applied):
        conn.server.memory.evictor.configure()  # the policy and its bookkeeping
        conn.server.memory_dirty = -1  # may evict now: the links learn it after this batch
    if any(opt.name == "maxmemory" for opt, _ in applied):
        conn.server.memory.configure()  # the new share; shrinking evicts down to it
    if not conn.internal:  # a client's own request; the proxy warns for what it forwards
        warn_not_implemented(applied, log)
    return "OK"


@handler("bgrewriteaof")
def bgrewriteaof(conn, args):
    from shardnode.aof import bgrewriteaof as start

    return start(conn.server)


@handler("config|resetstat")
def config_resetstat(conn, args):
    server = conn.server
    server.cmdstats.clear()
    server.errorstats.clear()
    server.stat_commands = 0
    server.stat_connections = 0
    server.keyspace.stats_expired = 0
    server.keyspace.stats_evicted = 0
    return "OK"


@handler("config|rewrite")
def config_rewrite(conn, args):
    rewrite_config(conn.server.config)
    return "OK"


@handler("info")
def info(conn, args):
    from shardnode.info import shard_info

    return shard_info(conn, args)


@handler("shutdown")
def shutdown(conn, args):
    """A client on this shard's port stops the whole server; it gets no reply."""
    from shardnode.snapshots import SaveFailed

    save, force = check_shutdown(args, conn.server.config, log)
    stop_with_save = False
    if save and len(conn.server.topology.shards) == 1:
        try:
            _saved(conn, new_snapshot_id().encode(), 1)
        except (SaveFailed, CommandError) as exc:
            if not force:
                log.warning("Error trying to save the DB, can't exit: %s", exc)
                raise CommandError(errors.SHUTDOWN_FAILED) from None
            log.warning("Error trying to save the DB. Exit anyway.")
        log.warning("User requested shutdown...")
    elif save:  # one shard of many: every shard saves as it stops
        stop_with_save = True
        log.warning("User requested shutdown, saving every shard as it stops...")
    conn.on_close_requested()
    conn.server.stop_listening()  # a client retrying meets a refusal, not a dead backlog
    request_stop(save=stop_with_save)
    return NO_REPLY


def _whole_server(conn, name: str) -> None:
    """A client on a shard's own port saves only a one-shard server: one
    shard's file alone never completes a snapshot (shardnode/snapshots.py)."""
    count = len(conn.server.topology.shards)
    if count != 1:
        raise CommandError("ERR this is one shard of %d: send %s to the proxy's port, which "
                           "saves every shard as one snapshot" % (count, name))


def _saved(conn, snapshot_id: bytes, count: int):
    from shardnode.snapshots import SaveFailed

    snapshots = conn.server.snapshots
    snapshots.check_count(count)
    try:
        snapshots.save(snapshot_id.decode(), count)
    except SaveFailed:
        raise CommandError("ERR") from None  # Redis's SAVE reply when rdbSave fails
    return "OK"


def _bgsave_started(conn, snapshot_id: bytes, count: int, options, later=False) -> str:
    if options and (len(options) > 1 or options[0].lower() != b"schedule"):
        raise CommandError(errors.SYNTAX)
    snapshots = conn.server.snapshots
    snapshots.check_count(count)
    return snapshots.bgsave(snapshot_id.decode(), count, later=later or conn.in_exec)


@handler("save")
def save(conn, args):
    _whole_server(conn, "SAVE")
    return _saved(conn, new_snapshot_id().encode(), 1)


@handler("bgsave")
def bgsave(conn, args):
    if len(args) > 1 and (len(args) > 2 or args[1].lower() != b"schedule"):
        raise CommandError(errors.SYNTAX)
    _whole_server(conn, "BGSAVE")
    return _bgsave_started(conn, new_snapshot_id().encode(), 1, args[1:])


@handler("lastsave")
def lastsave(conn, args):
    return conn.server.snapshots.lastsave


@handler("df.save")
def df_save(conn, args):
    """This shard's part of a server-wide SAVE: DF.SAVE <id> <count>."""
    return _saved(conn, args[1], parse_int(args[2]))


@handler("df.bgsave")
def df_bgsave(conn, args):
    """This shard's part of a server-wide BGSAVE: DF.BGSAVE <id> <count>
    [SCHEDULE] [LATER]; LATER: sent inside a proxy client's EXEC."""
    options = args[3:]
    later = bool(options) and options[-1] == b"LATER"
    return _bgsave_started(conn, args[1], parse_int(args[2]), options[:-1] if later else options,
                           later)


@handler("df.misconf")
def df_misconf(conn, args):
    conn.server.snapshots.set_peer_failed(args[1] == b"1")
    return "OK"


@handler("command", "command|count", "command|info", "command|docs", "command|list",
         "command|getkeys", "command|getkeysandflags", "command|help")
def command(conn, args):
    from cluster.command_docs import command_reply

    return command_reply(args)


@handler("monitor")
def monitor(conn, args):
    """MONITOR from a client of this shard's port."""
    conn.monitoring = True
    conn.refresh_plain()
    conn.server.monitors.add(conn.session, conn, None)
    return "OK"


# -- MEMORY (shardnode/memory.py does the counting) --------------------------------


@handler("memory|usage")
def memory_usage(conn, args):
    samples = 5
    i = 3
    while i < len(args):
        if args[i].lower() != b"samples" or i + 1 == len(args):
            raise CommandError(errors.SYNTAX)
        samples = parse_int(args[i + 1])
        if samples < 0:
            raise CommandError(errors.SYNTAX)
        i += 2
    value = conn.db.peek(args[2])
    if value is None:
        return None
    return memory.usage_of(conn.db, args[2], value, samples)


@handler("memory|stats")
def memory_stats(conn, args):
    return memory.stats_of(conn.server)


@handler("memory|doctor")
def memory_doctor(conn, args):
    shard = conn.server.memory
    return memory.doctor_report(shard.used(), shard.peak, shard.limit).encode()


@handler("memory|purge")
def memory_purge(conn, args):
    memory.release_free_memory()
    return "OK"


@handler("memory|malloc-stats")
def memory_malloc_stats(conn, args):
    return b"Stats not supported for the current allocator"


@handler("memory|help")
def memory_help(conn, args):
    return [
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]
