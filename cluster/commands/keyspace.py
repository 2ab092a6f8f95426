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
        summary="Deletes one or more keys.")
command("unlink", -2, "write fast", keys=(1, -1, 1), acl="@keyspace", route=SPLIT,
        merge="sum", since="4.0.0", tips=_SUM_TIPS, key_flags=("RM", "delete"),
        summary="Asynchronously deletes one or more keys.")
command("exists", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace",
        route=SPLIT, merge="sum", tips=_SUM_TIPS, key_flags=("RO",),
        summary="Determines whether one or more keys exist.")
command("touch", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace",
        route=SPLIT, merge="sum", since="3.2.1", tips=_SUM_TIPS, key_flags=("RO",),
        summary="Returns the number of existing keys out of those specified after "
                "updating the time they were last accessed.")
command("type", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        key_flags=("RO",), summary="Determines the type of value stored at a key.")

# -- renaming, copying, moving ---------------------------------------------

command("rename", 3, "write", keys=(1, 2, 1), acl="@keyspace",
        key_flags=(("RW", "access", "delete"), ("OW", "update")),
        summary="Renames a key and overwrites the destination.")
command("renamenx", 3, "write fast", keys=(1, 2, 1), acl="@keyspace",
        key_flags=(("RW", "access", "delete"), ("OW", "insert")),
        summary="Renames a key only when the target key name doesn't exist.")
command("copy", -3, "write denyoom", keys=(1, 2, 1), acl="@keyspace", since="6.2.0",
        key_flags=(("RO", "access"), ("OW", "update")),
        summary="Copies the value of a key to a new key.")
command("move", 3, "write fast", keys=(1, 1, 1), acl="@keyspace",
        key_flags=("RW", "access", "update"),
        summary="Moves a key to another database.")

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
        summary="Sets the expiration time of a key in seconds.")
command("pexpire", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
        key_flags=("RW", "update"),
        summary="Sets the expiration time of a key in milliseconds.")
command("expireat", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="1.2.0",
        key_flags=("RW", "update"),
        summary="Sets the expiration time of a key to a Unix timestamp.")
command("pexpireat", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
        key_flags=("RW", "update"),
        summary="Sets the expiration time of a key to a Unix milliseconds timestamp.")
command("ttl", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        key_flags=("RO", "access"), tips=("nondeterministic_output",),
        summary="Returns the expiration time in seconds of a key.")
command("pttl", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
        key_flags=("RO", "access"), tips=("nondeterministic_output",),
        summary="Returns the expiration time in milliseconds of a key.")
command("expiretime", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        since="7.0.0", key_flags=("RO", "access"),
        summary="Returns the expiration time of a key as a Unix timestamp.")
command("pexpiretime", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
        since="7.0.0", key_flags=("RO", "access"),
        summary="Returns the expiration time of a key as a Unix milliseconds timestamp.")
command("persist", 2, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.2.0",
        key_flags=("RW", "update"),
        summary="Removes the expiration time of a key.")

# -- the whole keyspace ----------------------------------------------------

command("keys", 2, "readonly", acl="@keyspace @dangerous", route=ALL,
        merge="concat", tips=("request_policy:all_shards", "nondeterministic_output_order"),
        summary="Returns all key names that match a pattern.")
command("scan", -2, "readonly", acl="@keyspace", route=ALL, merge="scan",
        since="2.8.0", tips=("nondeterministic_output", "request_policy:special"),
        summary="Iterates over the key names in the database.")
command("randomkey", 1, "readonly", acl="@keyspace", route=ALL, merge="randomkey",
        tips=("request_policy:all_shards", "nondeterministic_output"),
        summary="Returns a random key name from the database.")

# -- OBJECT ----------------------------------------------------------------

obj = command("object", -2, "", since="2.2.3",
              summary="A container for object introspection commands.")
subcommand(obj, "help", 2, "loading stale", acl="@keyspace", since="6.2.0",
           summary="Returns helpful text about the different subcommands.")
subcommand(obj, "encoding", 3, "readonly", keys=(2, 2, 1), acl="@keyspace",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Returns the internal encoding of a Redis object.")
subcommand(obj, "idletime", 3, "readonly", keys=(2, 2, 1), acl="@keyspace",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Returns the time since the last access to a Redis object.")
subcommand(obj, "freq", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="4.0.0",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Returns the logarithmic access frequency counter of a Redis object.")
subcommand(obj, "refcount", 3, "readonly", keys=(2, 2, 1), acl="@keyspace",
           key_flags=("RO",), tips=("nondeterministic_output",),
           summary="Returns the reference count of a value of a key.")
