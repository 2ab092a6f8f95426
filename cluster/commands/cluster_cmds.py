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
_ADMIN = "admin stale"
subcommand(cluster, "replicas", 3, _ADMIN, since="5.0.0", tips=_NONDETERMINISTIC,
           summary="Lists the replica nodes of a master node.")
subcommand(cluster, "slaves", 3, _ADMIN, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Lists the replica nodes of a master node.")
subcommand(cluster, "count-failure-reports", 3, _ADMIN, since="3.0.0",
           tips=_NONDETERMINISTIC,
           summary="Returns the number of active failure reports active for a node.")
subcommand(cluster, "saveconfig", 2, _ADMIN + " no_async_loading", since="3.0.0",
           summary="Forces a node to save the cluster configuration to disk.")

# The slot layout follows the configuration (proactor_threads, cluster_mode),
# so the commands that would change it are declared (COMMAND lists them as
# Redis does) and answer one error saying so.
LAYOUT_SUBCOMMANDS = (
    ("addslots", -3, "3.0.0", "Assigns new hash slots to a node."),
    ("addslotsrange", -4, "7.0.0", "Assigns new hash slot ranges to a node."),
    ("delslots", -3, "3.0.0", "Sets hash slots as unbound for a node."),
    ("delslotsrange", -4, "7.0.0", "Sets hash slot ranges as unbound for a node."),
    ("flushslots", 2, "3.0.0", "Deletes all slots information from a node."),
    ("setslot", -4, "3.0.0", "Binds a hash slot to a node."),
    ("meet", -4, "3.0.0", "Forces a node to handshake with another node."),
    ("forget", 3, "3.0.0", "Removes a node from the nodes table."),
    ("replicate", 3, "3.0.0", "Configure a node as replica of a master node."),
    ("failover", -2, "3.0.0", "Forces a replica to perform a manual failover of its master."),
    ("set-config-epoch", 3, "3.0.0", "Sets the configuration epoch for a new node."),
    ("bumpepoch", 2, "3.0.0", "Advances the cluster config epoch."),
    ("reset", -2, "3.0.0", "Resets a node."),
)
for _name, _arity, _since, _summary in LAYOUT_SUBCOMMANDS:
    subcommand(cluster, _name, _arity,
               "admin noscript stale" if _name == "reset" else _ADMIN + " no_async_loading",
               since=_since, summary=_summary,
               tips=_NONDETERMINISTIC if _name == "bumpepoch" else ())

command("readonly", 1, "loading stale fast", acl="@connection", route=LOCAL,
        since="3.0.0", summary="Enables read-only queries for a connection to a "
        "Redis Cluster replica node.")
command("readwrite", 1, "loading stale fast", acl="@connection", route=LOCAL,
        since="3.0.0", summary="Enables read-write queries for a connection to a "
        "Redis Cluster replica node.")
command("asking", 1, "fast", acl="@connection", route=LOCAL, since="3.0.0",
        summary="Signals that a cluster client is following an -ASK redirect.")
