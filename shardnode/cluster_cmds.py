"""CLUSTER, READONLY, READWRITE, ASKING as a shard answers them.

The topology replies are shared with the proxy (``cluster.cluster_replies``),
with this shard as the answering node; COUNTKEYSINSLOT and GETKEYSINSLOT read
the slot's bucket of the selected database, without lazy expiry, as Redis does.
"""

from itertools import islice

from cluster import errors
from cluster.cluster_replies import cluster_handlers, parse_getkeysinslot, parse_slot
from cluster.errors import CommandError
from shardnode.registry import handler

for _name, _fn in cluster_handlers(lambda conn: conn.server.index).items():
    handler(_name)(_fn)


def _check_enabled(conn) -> None:
    if conn.server.config.cluster_mode == "off" and not conn.internal:
        raise CommandError(errors.CLUSTER_DISABLED)


@handler("cluster|countkeysinslot")
def cluster_countkeysinslot(conn, args):
    _check_enabled(conn)
    return len(conn.db.slots.get(parse_slot(args[2]), ()))


@handler("cluster|getkeysinslot")
def cluster_getkeysinslot(conn, args):
    _check_enabled(conn)
    slot, count = parse_getkeysinslot(args)
    return list(islice(conn.db.slots.get(slot, ()), count))
