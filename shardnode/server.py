"""Server commands on a shard: DBSIZE, FLUSH*, SWAPDB, INFO, CONFIG, DEBUG, SHUTDOWN."""

import logging
import time

from cluster import errors
from cluster.args import parse_int
from cluster.errors import CommandError
from cluster.resp import NO_REPLY
from cluster.session import apply_config_set, rewrite_config, warn_not_implemented
from cluster.shutdown import check_shutdown, request_stop
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
    conn.db.clear()
    return "OK"


@handler("flushall")
def flushall(conn, args):
    _flush_mode(args)
    for db in conn.server.keyspace.dbs:
        db.clear()
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
    if sub == b"set-active-expire" and len(args) == 3:
        conn.server.active_expire_enabled = args[2] != b"0"
        return "OK"
    raise CommandError(errors.unknown_subcommand(args[1], "debug"))


@handler("config|set")
def config_set(conn, args):
    applied = apply_config_set(conn.server.config, args)
    if not conn.internal:  # a client's own request; the proxy warns for what it forwards
        warn_not_implemented(applied, log)
    return "OK"


@handler("config|resetstat")
def config_resetstat(conn, args):
    server = conn.server
    server.cmdstats.clear()
    server.errorstats.clear()
    server.stat_commands = 0
    server.stat_connections = 0
    server.keyspace.stats_expired = 0
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
    check_shutdown(args, conn.server.config, log)
    conn.on_close_requested()
    conn.server.stop_listening()  # a client retrying meets a refusal, not a dead backlog
    request_stop()
    return NO_REPLY


@handler("monitor")
def monitor(conn, args):
    raise CommandError("ERR MONITOR is not supported yet")


@handler("command", "command|count", "command|info", "command|docs", "command|list",
         "command|getkeys", "command|getkeysandflags", "command|help")
def command(conn, args):
    from cluster.command_docs import command_reply

    return command_reply(args)
