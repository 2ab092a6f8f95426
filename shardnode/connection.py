"""Connection-level commands on a shard: the shared Session commands, bound.

A shard answers these for clients that connect to it directly (sharded
cluster mode, tests, redis-cli on a shard port).
"""

from cluster import errors
from cluster.args import parse_db_number
from cluster.errors import CommandError
from cluster.session import SESSION_HANDLERS
from shardnode.registry import handler

for _name, _fn in SESSION_HANDLERS.items():
    if _name != "select":
        handler(_name)(_fn)


@handler("select")
def select(conn, args):
    """In sharded mode a shard is a Redis Cluster master: database 0 only.

    The proxy's links pick a client's database with DF.CTX, never SELECT, so
    SELECT through the proxy keeps working in every mode.
    """
    if conn.server.sharded and parse_db_number(args[1]) != 0:
        raise CommandError(errors.SELECT_IN_CLUSTER)
    return conn.cmd_select(args)
