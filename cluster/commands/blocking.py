"""The blocking pops (Redis's BLPOP family and BZPOPMIN family).

Each one is its non-blocking pop plus a wait: when every key it names is
empty it waits for one to be written, up to its timeout (0 = for ever).
The shard side (waiting, serving in FIFO order per key, timeouts, CLIENT
UNBLOCK) is :mod:`shardnode.blocking`; the proxy sends a blocking command
whose keys share a shard to that shard and holds the client's later
commands until it answers, and runs one whose keys span shards itself
(:mod:`proxy.blocking`).  Inside MULTI (and scripts) they never wait.
"""

from cluster.commands import command, family

_POP_FLAGS = ("RW", "access", "delete")
_MOVE_FLAGS = (("RW", "access", "delete"), ("RW", "insert"))

family("list")

for _name, _end in (("blpop", "first"), ("brpop", "last")):
    command(_name, -3, "write noscript blocking", keys=(1, -2, 1), acl="@list",
            key_flags=_POP_FLAGS, since="2.0.0",
            summary="Takes the %s element of the first non-empty list among several keys, "
                    "waiting for one when all are empty." % _end,
            complexity="O(N) where N is the number of provided keys.")
command("brpoplpush", 4, "write denyoom noscript blocking", keys=(1, 2, 1), acl="@list",
        key_flags=_MOVE_FLAGS, since="2.2.0",
        summary="Moves the last element of a list to the head of another, waiting for one "
                "when the source is empty.",
        complexity="O(1)")
command("blmove", 6, "write denyoom noscript blocking", keys=(1, 2, 1), acl="@list",
        key_flags=_MOVE_FLAGS, since="6.2.0",
        summary="Moves an element from one end of a list to an end of another, waiting for "
                "one when the source is empty.",
        complexity="O(1)")
command("blmpop", -5, "write blocking", acl="@list", keys_hook="numkeys_at_2",
        key_flags=_POP_FLAGS, since="7.0.0",
        summary="Takes elements from one end of the first non-empty list among several keys, "
                "waiting for one when all are empty.",
        complexity="O(N+M) where N is the number of provided keys and M is the number of "
                   "elements returned.")

family("sorted-set")

for _name, _end in (("bzpopmin", "lowest"), ("bzpopmax", "highest")):
    command(_name, -3, "write noscript blocking fast", keys=(1, -2, 1), acl="@sortedset",
            key_flags=_POP_FLAGS, since="5.0.0",
            summary="Takes the %s-scored member of the first non-empty sorted set among "
                    "several keys, waiting for one when all are empty." % _end,
            complexity="O(log(N)) with N being the number of elements in the sorted set.")
command("bzmpop", -5, "write blocking", acl="@sortedset", keys_hook="numkeys_at_2",
        key_flags=_POP_FLAGS, since="7.0.0",
        summary="Takes the lowest- or highest-scored members of the first non-empty sorted "
                "set among several keys, waiting for one when all are empty.",
        complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the "
                   "number of elements in the sorted set, and M being the number of elements "
                   "popped.")
