"""Cluster commands: CLUSTER topology questions, READONLY, READWRITE, ASKING.

The proxy and every shard answer them the same way (handlers in
``cluster.cluster_replies``); only COUNTKEYSINSLOT and GETKEYSINSLOT need the
data, so the proxy forwards those to the slot's owner.  Metadata follows
Redis 7.2's command reference.
"""

from cluster.commands import LOCAL, command, family, subcommand

family("cluster")

_TOPOLOGY = "stale"  # answered by a stale replica too
_NONDETERMINISTIC = ("nondeterministic_output",)

cluster = command("cluster", -2, "", route=LOCAL, since="3.0.0",
                  summary="A container for Redis Cluster commands.")
subcommand(cluster, "slots", 2, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Returns the mapping of cluster slots to nodes.")
subcommand(cluster, "shards", 2, _TOPOLOGY, since="7.0.0", tips=_NONDETERMINISTIC,
           summary="Returns the mapping of cluster slots to shards.")
subcommand(cluster, "nodes", 2, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Returns the cluster configuration for a node.")
subcommand(cluster, "info", 2, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Returns information about the state of a node.")
subcommand(cluster, "myid", 2, _TOPOLOGY, since="3.0.0",
           summary="Returns the ID of a node.")
subcommand(cluster, "myshardid", 2, _TOPOLOGY, since="7.2.0", tips=_NONDETERMINISTIC,
           summary="Returns the shard ID of a node.")
subcommand(cluster, "keyslot", 3, _TOPOLOGY, since="3.0.0",
           summary="Returns the hash slot for a key.")
subcommand(cluster, "countkeysinslot", 3, _TOPOLOGY, since="3.0.0",
           summary="Returns the number of keys in a hash slot.")
subcommand(cluster, "getkeysinslot", 4, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Returns the key names in a hash slot.")
subcommand(cluster, "links", 2, _TOPOLOGY, since="7.0.0", tips=_NONDETERMINISTIC,
           summary="Returns a list of all TCP links to and from peer nodes.")
subcommand(cluster, "help", 2, "loading stale", since="5.0.0",
           summary="Returns helpful text about the different subcommands.")

command("readonly", 1, "loading stale fast", acl="@connection", route=LOCAL,
        since="3.0.0", summary="Enables read-only queries for a connection to a "
        "Redis Cluster replica node.")
command("readwrite", 1, "loading stale fast", acl="@connection", route=LOCAL,
        since="3.0.0", summary="Enables read-write queries for a connection to a "
        "Redis Cluster replica node.")
command("asking", 1, "fast", acl="@connection", route=LOCAL, since="3.0.0",
        summary="Signals that a cluster client is following an -ASK redirect.")
