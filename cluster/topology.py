"""Who listens where and owns what: computed once from the configuration.

The supervisor, every shardnode and every proxy worker compute the same
:class:`Topology` from the same configuration, so nothing about the layout is
sent between processes.  Node ids are 40 hex digits derived from the announced
address and the shard's index, so they are stable across restarts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cluster.config import Config, shard_count
from cluster.slots import SlotMap, split_slots


@dataclass(frozen=True)
class ShardInfo:
    index: int
    host: str  # where the proxy connects
    port: int
    announce_ip: str  # what CLUSTER replies show
    slots: tuple  # (start, end), inclusive
    node_id: str


def node_id_for(*parts) -> str:
    return hashlib.sha1(":".join(str(p) for p in parts).encode()).hexdigest()


def connect_host(bind: str) -> str:
    """An address to reach a server bound to ``bind`` from this machine."""
    if bind in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if bind in ("::", "[::]"):
        return "::1"
    return bind.split()[0]


class Topology:
    def __init__(self, config: Config):
        self.config = config
        n = shard_count(config)
        base = config.shard_port or config.port + 1
        host = connect_host(config.bind)
        announce = config.cluster_announce_ip or host
        ranges = split_slots(n)
        self.shards = [
            ShardInfo(i, host, base + i, announce, ranges[i],
                      node_id_for("damselfly-shard", announce, base + i, i))
            for i in range(n)
        ]
        self.slot_map = SlotMap(ranges)
        self.proxy_host = host
        self.proxy_node_id = node_id_for("damselfly-proxy", announce, config.port)
        self.proxy_shard_id = node_id_for("damselfly-proxy-shard", self.proxy_node_id)

    @staticmethod
    def shard_id(shard: ShardInfo) -> str:
        """CLUSTER MYSHARDID: a shard id apart from the node id, as in Redis 7.2."""
        return node_id_for("damselfly-shard-id", shard.node_id)

    def announced_ip(self, local_ip: str) -> str:
        """The address CLUSTER replies and MOVED show a client that reached ``local_ip``.

        ``cluster_announce_ip`` if set; else the address the client reached,
        which is right behind a wildcard bind and, since every process of one
        damselfly shares the host, right for every shard too.
        """
        if self.config.cluster_announce_ip:
            return self.config.cluster_announce_ip
        if local_ip.startswith("::ffff:") and "." in local_ip:
            return local_ip[7:]  # an IPv4 client on a dual-stack socket
        return local_ip

    def __len__(self):
        return len(self.shards)
