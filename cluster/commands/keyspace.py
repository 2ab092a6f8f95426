"""Keyspace commands (Redis's db.c / expire.c / object.c: the "generic" group).

Routing: multi-key counters (DEL, UNLINK, EXISTS, TOUCH) are split by shard
and summed; RENAME/RENAMENX/COPY are keyed and coordinated when their two
keys live on different shards; KEYS, SCAN and RANDOMKEY visit every shard
(SCAN one shard per call, see ``proxy/keyspace_fanout.py``).
"""

from cluster.commands import ALL, SPLIT, command, family, subcommand

family("generic")

_SUM_TIPS = ("request_policy:multi_shard", "response_policy:agg_sum")

# -- existence and deletion ------------------------------------------------

command("del", -2, "write", keys=(1, -1, 1), acl="@keyspace", route=SPLIT,
        merge="sum", tips=_SUM_TIPS, key_flags=("RM", "delete"),
        summary="Removes keys.")
command("unlink", -2, "write fast", keys=(1, -1, 1), acl="@keyspace", route=SPLIT,
        merge="sum", since="4.0.0", tips=_SUM_TIPS, key_flags=("RM", "delete"),
        summary="Removes keys, freeing their memory in the background.")
command("exists", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace",
        route=SPLIT, merge="sum", tips=_SUM_TIPS, key_flags=("RO",),
        summary="Counts how many of the given keys exist.")
command("touch", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace",
        route=SPLIT, merge="sum", since="3.2.1", tips=_SUM_TIPS, key_flags=("RO",),
        summary="Marks keys as just accessed and counts those that exist.")
command("type", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        key_flags=("RO",), summary="Tells the type of the value at a key.")

# -- renaming, copying, moving ---------------------------------------------

command("rename", 3, "write", keys=(1, 2, 1), acl="@keyspace",
        key_flags=(("RW", "access", "delete"), ("OW", "update")),
        summary="Gives a key a new name, replacing any key of that name.")
command("renamenx", 3, "write fast", keys=(1, 2, 1), acl="@keyspace",
        key_flags=(("RW", "access", "delete"), ("OW", "insert")),
        summary="Gives a key a new name, unless a key of that name exists.")
command("copy", -3, "write denyoom", keys=(1, 2, 1), acl="@keyspace", since="6.2.0",
        key_flags=(("RO", "access"), ("OW", "update")),
        summary="Duplicates the value at a key under another key, possibly in another database.")
command("move", 3, "write fast", keys=(1, 1, 1), acl="@keyspace",
        key_flags=("RW", "access", "update"),
        summary="Transfers a key to another database.")

# -- serialisation ---------------------------------------------------------

command("dump", 2, "readonly", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
        key_flags=("RO", "access"), tips=("nondeterministic_output",),
        summary="Returns a serialized representation of the value stored at a key.")
command("restore", -4, "write denyoom", keys=(1, 1, 1), acl="@keyspace @dangerous",
        since="2.6.0", key_flags=("OW", "update"),
        summary="Creates a key from the serialized representation of a value.")

# -- expiry ----------------------------------------------------------------

command("expire", -3, "write fast", keys=(1, 1, 1), acl="@keyspace",
        key_flags=("RW", "update"),
        summary="Gives a key a time to live in seconds.")
command("pexpire", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
        key_flags=("RW", "update"),
        summary="Gives a key a time to live in milliseconds.")
command("expireat", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="1.2.0",
        key_flags=("RW", "update"),
        summary="Makes a key expire at a Unix time in seconds.")
command("pexpireat", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
        key_flags=("RW", "update"),
        summary="Makes a key expire at a Unix time in milliseconds.")
command("ttl", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        key_flags=("RO", "access"), tips=("nondeterministic_output",),
        summary="Tells how many seconds a key has left to live.")
command("pttl", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
        key_flags=("RO", "access"), tips=("nondeterministic_output",),
        summary="Tells how many milliseconds a key has left to live.")
command("expiretime", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        since="7.0.0", key_flags=("RO", "access"),
        summary="Tells the Unix time, in seconds, at which a key expires.")
command("pexpiretime", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        since="7.0.0", key_flags=("RO", "access"),
        summary="Tells the Unix time, in milliseconds, at which a key expires.")
command("persist", 2, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.2.0",
        key_flags=("RW", "update"),
        summary="Makes a key permanent by removing its expiry.")

# -- the whole keyspace ----------------------------------------------------

command("keys", 2, "readonly", acl="@keyspace @dangerous", route=ALL,
        merge="concat", tips=("request_policy:all_shards", "nondeterministic_output_order"),
        summary="Lists the keys whose names match a glob pattern.")
command("scan", -2, "readonly", acl="@keyspace", route=ALL, merge="scan",
        since="2.8.0", tips=("nondeterministic_output", "request_policy:special"),
        summary="Walks the keyspace a page at a time with a cursor.")
command("randomkey", 1, "readonly", acl="@keyspace", route=ALL, merge="randomkey",
        tips=("request_policy:all_shards", "nondeterministic_output"),
        summary="Picks a key at random.")

# -- OBJECT ----------------------------------------------------------------

obj = command("object", -2, "", since="2.2.3",
              summary="Commands that look inside the value stored at a key.")
subcommand(obj, "help", 2, "loading stale", acl="@keyspace", since="6.2.0",
           summary="Lists the OBJECT subcommands and what they do.")
subcommand(obj, "encoding", 3, "readonly", keys=(2, 2, 1), acl="@keyspace",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Tells how the value at a key is laid out in memory.")
subcommand(obj, "idletime", 3, "readonly", keys=(2, 2, 1), acl="@keyspace",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Tells how many seconds ago a key was last accessed.")
subcommand(obj, "freq", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="4.0.0",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Tells a key's access frequency counter (under an LFU policy).")
subcommand(obj, "refcount", 3, "readonly", keys=(2, 2, 1), acl="@keyspace",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Tells how many references the value at a key has.")
