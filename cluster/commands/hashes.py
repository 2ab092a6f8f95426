"""Hash commands (Redis's t_hash.c family).

Every hash command names one key, so each goes to its key's shard and no
proxy merge is needed.  Metadata follows Redis 7.0's command reference.
"""

from cluster.commands import command, family

family("hash")

_RO_ACCESS = ("RO", "access")
_RW_ACCESS_UPDATE = ("RW", "access", "update")

# -- reads -----------------------------------------------------------------

command("hget", 3, "readonly fast", keys=(1, 1, 1), acl="@hash", key_flags=_RO_ACCESS,
        since="2.0.0", summary="Reads the value of one field of the hash at a key.",
        complexity="O(1)")
command("hmget", -3, "readonly fast", keys=(1, 1, 1), acl="@hash", key_flags=_RO_ACCESS,
        since="2.0.0", summary="Reads the values of several fields of the hash at a key.",
        complexity="O(N) where N is the number of fields being requested.")
command("hgetall", 2, "readonly", keys=(1, 1, 1), acl="@hash", key_flags=_RO_ACCESS,
        since="2.0.0", tips=("nondeterministic_output_order",),
        summary="Lists every field of the hash at a key together with its value.",
        complexity="O(N) where N is the size of the hash.")
command("hkeys", 2, "readonly", keys=(1, 1, 1), acl="@hash", key_flags=_RO_ACCESS,
        since="2.0.0", tips=("nondeterministic_output_order",),
        summary="Lists the field names of the hash at a key.",
        complexity="O(N) where N is the size of the hash.")
command("hvals", 2, "readonly", keys=(1, 1, 1), acl="@hash", key_flags=_RO_ACCESS,
        since="2.0.0", tips=("nondeterministic_output_order",),
        summary="Lists the values held by the hash at a key.",
        complexity="O(N) where N is the size of the hash.")
command("hlen", 2, "readonly fast", keys=(1, 1, 1), acl="@hash", key_flags=("RO",),
        since="2.0.0", summary="Counts the fields of the hash at a key.", complexity="O(1)")
command("hstrlen", 3, "readonly fast", keys=(1, 1, 1), acl="@hash", key_flags=("RO",),
        since="3.2.0", summary="Tells the length in bytes of one field's value in a hash.",
        complexity="O(1)")
command("hexists", 3, "readonly fast", keys=(1, 1, 1), acl="@hash", key_flags=("RO",),
        since="2.0.0", summary="Tells whether a hash at a key has a given field.",
        complexity="O(1)")
command("hrandfield", -2, "readonly", keys=(1, 1, 1), acl="@hash", key_flags=_RO_ACCESS,
        since="6.2.0", tips=("nondeterministic_output",),
        summary="Picks random fields of the hash at a key, distinct or with repeats, "
                "optionally with their values.",
        complexity="O(N) where N is the number of fields returned")
command("hscan", -3, "readonly", keys=(1, 1, 1), acl="@hash", key_flags=_RO_ACCESS,
        since="2.8.0", tips=("nondeterministic_output",),
        summary="Walks the fields and values of a hash a page at a time with a cursor.",
        complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                   "command calls for the cursor to return back to 0. N is the number of "
                   "elements inside the collection..")

# -- writes ----------------------------------------------------------------

command("hset", -4, "write denyoom fast", keys=(1, 1, 1), acl="@hash",
        key_flags=("RW", "update"), since="2.0.0",
        summary="Stores one or more field values in the hash at a key, creating it if needed.",
        complexity="O(1) for each field/value pair added, so O(N) to add N field/value pairs "
                   "when the command is called with multiple field/value pairs.")
command("hmset", -4, "write denyoom fast", keys=(1, 1, 1), acl="@hash",
        key_flags=("RW", "update"), since="2.0.0",
        summary="Stores several field values in the hash at a key (HSET's older form, "
                "answers OK).",
        complexity="O(N) where N is the number of fields being set.")
command("hsetnx", 4, "write denyoom fast", keys=(1, 1, 1), acl="@hash",
        key_flags=("RW", "insert"), since="2.0.0",
        summary="Stores a field value in a hash only when that field is not there yet.",
        complexity="O(1)")
command("hdel", -3, "write fast", keys=(1, 1, 1), acl="@hash", key_flags=("RW", "delete"),
        since="2.0.0",
        summary="Removes fields from the hash at a key; a hash left empty is deleted.",
        complexity="O(N) where N is the number of fields to be removed.")
command("hincrby", 4, "write denyoom fast", keys=(1, 1, 1), acl="@hash",
        key_flags=_RW_ACCESS_UPDATE, since="2.0.0",
        summary="Adds a whole number to the integer held in a hash field (missing counts as 0).",
        complexity="O(1)")
command("hincrbyfloat", 4, "write denyoom fast", keys=(1, 1, 1), acl="@hash",
        key_flags=_RW_ACCESS_UPDATE, since="2.6.0",
        summary="Adds a decimal number to the number held in a hash field (missing counts as 0).",
        complexity="O(1)")
