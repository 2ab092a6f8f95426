"""MULTI/EXEC/WATCH (Redis's multi.c family).

The proxy answers all five itself (``LOCAL``): it queues a client's commands
and, at EXEC, runs them on their shards as one atomic step (see
proxy/transactions.py).  A shard answers them for its direct clients.
"""

from cluster.commands import LOCAL, command, family

family("transactions")

_TX = "noscript loading stale fast allow_busy"

# Commands a connection in MULTI runs at once instead of queueing them.
RUN_INSIDE_MULTI = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))
# Inside MULTI while out of memory Redis refuses every command but these
# (processCommand's OOM check; EXEC only when it queued a denyoom command).
OOM_EXEMPT_IN_MULTI = frozenset(("exec", "discard", "quit", "reset"))

command("multi", 1, _TX, acl="@transaction", route=LOCAL, since="1.2.0",
        summary="Starts queueing the connection's commands for one atomic EXEC.",
        complexity="O(1)")
command("exec", 1, "noscript loading stale skip_slowlog", acl="@transaction", route=LOCAL,
        since="1.2.0",
        summary="Runs the queued commands as one atomic step, unless a watched key changed.",
        complexity="Depends on commands in the transaction")
command("discard", 1, _TX, acl="@transaction", route=LOCAL, since="2.0.0",
        summary="Drops the queued commands and leaves MULTI.", complexity="O(N), when N is "
        "the number of queued commands")
command("watch", -2, _TX, keys=(1, -1, 1), acl="@transaction", route=LOCAL, since="2.2.0",
        key_flags=("RO",),
        summary="Makes the next EXEC fail if any of these keys changes before it.",
        complexity="O(1) for every key.")
command("unwatch", 1, _TX, acl="@transaction", route=LOCAL, since="2.2.0",
        summary="Forgets every key this connection watches.", complexity="O(1)")
