"""CLUSTER, READONLY, READWRITE, ASKING as the proxy answers them.

The topology replies come from ``cluster.cluster_replies`` with the proxy as
the answering node; the two subcommands that count or list a slot's keys go
to the shard owning that slot (through the client's reply order, like any
forwarded command).  The proxy never answers MOVED: it routes every key itself.
"""

from cluster import errors
from cluster.cluster_replies import cluster_handlers, parse_getkeysinslot, parse_slot
from cluster.errors import CommandError
from cluster.resp import NO_REPLY


def _forward_to_slot_owner(client, args, slot: int):
    client.forward(client.worker.slot_owner[slot], args)
    return NO_REPLY


def _check_enabled(client) -> None:
    if client.worker.config.cluster_mode == "off":
        raise CommandError(errors.CLUSTER_DISABLED)


def cluster_countkeysinslot(client, args):
    _check_enabled(client)
    return _forward_to_slot_owner(client, args, parse_slot(args[2]))


def cluster_getkeysinslot(client, args):
    _check_enabled(client)
    slot, _count = parse_getkeysinslot(args)
    return _forward_to_slot_owner(client, args, slot)


CLUSTER_HANDLERS: dict = cluster_handlers(lambda client: None)
CLUSTER_HANDLERS.update({
    "cluster|countkeysinslot": cluster_countkeysinslot,
    "cluster|getkeysinslot": cluster_getkeysinslot,
})
