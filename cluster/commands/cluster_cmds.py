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
                  summary="Commands about the cluster and its nodes.")
subcommand(cluster, "slots", 2, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Lists slot ranges with the nodes that serve them.")
subcommand(cluster, "shards", 2, _TOPOLOGY, since="7.0.0", tips=_NONDETERMINISTIC,
           summary="Lists the cluster's shards with their slots and nodes.")
subcommand(cluster, "nodes", 2, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Describes every node of the cluster, one per line.")
subcommand(cluster, "info", 2, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Reports the cluster's state and counters.")
subcommand(cluster, "myid", 2, _TOPOLOGY, since="3.0.0",
           summary="Tells the id of the node answering.")
subcommand(cluster, "myshardid", 2, _TOPOLOGY, since="7.2.0", tips=_NONDETERMINISTIC,
           summary="Tells the shard id of the node answering.")
subcommand(cluster, "keyslot", 3, _TOPOLOGY, since="3.0.0",
           summary="Tells which hash slot a key belongs to.")
subcommand(cluster, "countkeysinslot", 3, _TOPOLOGY, since="3.0.0",
           summary="Counts the keys stored in one hash slot.")
subcommand(cluster, "getkeysinslot", 4, _TOPOLOGY, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Lists up to a given number of keys stored in one hash slot.")
subcommand(cluster, "links", 2, _TOPOLOGY, since="7.0.0", tips=_NONDETERMINISTIC,
           summary="Describes the connections between this node and its peers.")
subcommand(cluster, "help", 2, "loading stale", since="5.0.0",
           summary="Lists the CLUSTER subcommands and what they do.")
_ADMIN = "admin stale"
subcommand(cluster, "replicas", 3, _ADMIN, since="5.0.0", tips=_NONDETERMINISTIC,
           summary="Lists the replicas of a given master node.")
subcommand(cluster, "slaves", 3, _ADMIN, since="3.0.0", tips=_NONDETERMINISTIC,
           summary="Lists the replicas of a given master node (CLUSTER REPLICAS' old name).")
subcommand(cluster, "count-failure-reports", 3, _ADMIN, since="3.0.0",
           tips=_NONDETERMINISTIC,
           summary="Counts the failure reports other nodes hold about a node.")
subcommand(cluster, "saveconfig", 2, _ADMIN + " no_async_loading", since="3.0.0",
           summary="Writes the node's cluster configuration to disk now.")

# The slot layout follows the configuration (proactor_threads, cluster_mode),
# so the commands that would change it are declared (COMMAND lists them as
# Redis does) and answer one error saying so.
LAYOUT_SUBCOMMANDS = (
    ("addslots", -3, "3.0.0", "Gives hash slots to the node answering."),
    ("addslotsrange", -4, "7.0.0", "Gives ranges of hash slots to the node answering."),
    ("delslots", -3, "3.0.0", "Takes hash slots away from the node answering."),
    ("delslotsrange", -4, "7.0.0", "Takes ranges of hash slots away from the node answering."),
    ("flushslots", 2, "3.0.0", "Takes every hash slot away from the node answering."),
    ("setslot", -4, "3.0.0", "Changes the state or the owner of one hash slot."),
    ("meet", -4, "3.0.0", "Connects the node answering to another node, joining their clusters."),
    ("forget", 3, "3.0.0", "Drops a node from the node table of the node answering."),
    ("replicate", 3, "3.0.0", "Makes the node answering a replica of a given master."),
    ("failover", -2, "3.0.0", "Has a replica take over from its master."),
    ("set-config-epoch", 3, "3.0.0", "Sets the configuration epoch of a fresh node."),
    ("bumpepoch", 2, "3.0.0", "Moves the node's configuration epoch forward."),
    ("reset", -2, "3.0.0", "Returns a node to an empty cluster state."),
)
for _name, _arity, _since, _summary in LAYOUT_SUBCOMMANDS:
    subcommand(cluster, _name, _arity,
               "admin noscript stale" if _name == "reset" else _ADMIN + " no_async_loading",
               since=_since, summary=_summary,
               tips=_NONDETERMINISTIC if _name == "bumpepoch" else ())

command("readonly", 1, "loading stale fast", acl="@connection", route=LOCAL,
        since="3.0.0", summary="Lets this connection read from a cluster replica.")
command("readwrite", 1, "loading stale fast", acl="@connection", route=LOCAL,
        since="3.0.0", summary="Ends READONLY for this connection.")
command("asking", 1, "fast", acl="@connection", route=LOCAL, since="3.0.0",
        summary="Marks the next command as following an ASK redirection.")
