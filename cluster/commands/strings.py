"""String commands (Redis's t_string.c family).

Routing: every single-key command goes to its key's shard.  MGET and MSET
are split by shard (MSET is atomic per shard, as in a Redis Cluster);
MSETNX and LCS are keyed, so keys on several shards are run by the
coordinator as one atomic step (MSETNX sets all or none).
"""

from cluster.commands import SPLIT, command, family

family("string")

_RW_ACCESS_UPDATE = ("RW", "access", "update")

# -- reads -----------------------------------------------------------------

command("get", 2, "readonly fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RO", "access"),
        summary="Returns the string value of a key.", complexity="O(1)")
command("mget", -2, "readonly fast", keys=(1, -1, 1), acl="@string",
        key_flags=("RO", "access"),
        route=SPLIT, merge="mget", since="1.0.0",
        tips=("request_policy:multi_shard",),
        summary="Atomically returns the string values of one or more keys.",
        complexity="O(N) where N is the number of keys to retrieve.")
command("strlen", 2, "readonly fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RO",), since="2.2.0",
        summary="Returns the length of a string value.", complexity="O(1)")
command("getrange", 4, "readonly", keys=(1, 1, 1), acl="@string",
        key_flags=("RO", "access"), since="2.4.0",
        summary="Returns a substring of the string stored at a key.",
        complexity="O(N) where N is the length of the returned string.")
command("substr", 4, "readonly", keys=(1, 1, 1), acl="@string",
        key_flags=("RO", "access"),
        summary="Returns a substring from a string value.",
        complexity="O(N) where N is the length of the returned string.")
command("lcs", -3, "readonly", keys=(1, 2, 1), acl="@string",
        key_flags=("RO", "access"), since="7.0.0",
        summary="Finds the longest common substring.",
        complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively")

# -- writes ----------------------------------------------------------------

command("set", -3, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "access", "update", "variable_flags"),
        key_notes="RW and ACCESS due to the optional `GET` argument",
        summary="Sets the string value of a key, ignoring its type. The key is "
                "created if it doesn't exist.", complexity="O(1)")
command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=("OW", "insert"),
        summary="Set the string value of a key only when the key doesn't exist.",
        complexity="O(1)")
command("setex", 4, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("OW", "update"), since="2.0.0",
        summary="Sets the string value and expiration time of a key. Creates the "
                "key if it doesn't exist.", complexity="O(1)")
command("psetex", 4, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("OW", "update"), since="2.6.0",
        summary="Sets both string value and expiration time in milliseconds of a "
                "key. The key is created if it doesn't exist.", complexity="O(1)")
command("getex", -2, "write fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        key_notes="RW and UPDATE because it changes the TTL", since="6.2.0",
        summary="Returns the string value of a key after setting its expiration time.",
        complexity="O(1)")
command("getdel", 2, "write fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "access", "delete"), since="6.2.0",
        summary="Returns the string value of a key after deleting the key.",
        complexity="O(1)")
command("getset", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Returns the previous string value of a key after setting it to a "
                "new value.", complexity="O(1)")
command("mset", -3, "write denyoom", keys=(1, -1, 2), acl="@string",
        key_flags=("OW", "update"),
        route=SPLIT, merge="ok", since="1.0.1",
        tips=("request_policy:multi_shard", "response_policy:all_succeeded"),
        summary="Atomically creates or modifies the string values of one or more keys.",
        complexity="O(N) where N is the number of keys to set.")
command("msetnx", -3, "write denyoom", keys=(1, -1, 2), acl="@string",
        key_flags=("OW", "insert"), since="1.0.1",
        tips=("request_policy:multi_shard", "response_policy:agg_min"),
        summary="Atomically modifies the string values of one or more keys only "
                "when all keys don't exist.",
        complexity="O(N) where N is the number of keys to set.")
command("append", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "insert"), since="2.0.0",
        summary="Appends a string to the value of a key. Creates the key if it "
                "doesn't exist.", complexity="O(1)")
command("setrange", 4, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "update"), since="2.2.0",
        summary="Overwrites a part of a string value with another by an offset. "
                "Creates the key if it doesn't exist.",
        complexity="O(1), not counting the time taken to copy the new string in "
                   "place.")

# -- counters --------------------------------------------------------------

command("incr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Increments the integer value of a key by one. Uses 0 as initial "
                "value if the key doesn't exist.", complexity="O(1)")
command("decr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Decrements the integer value of a key by one. Uses 0 as initial "
                "value if the key doesn't exist.", complexity="O(1)")
command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Increments the integer value of a key by a number. Uses 0 as "
                "initial value if the key doesn't exist.", complexity="O(1)")
command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Decrements a number from the integer value of a key. Uses 0 as "
                "initial value if the key doesn't exist.", complexity="O(1)")
command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE, since="2.6.0",
        summary="Increment the floating point value of a key by a number. Uses 0 as "
                "initial value if the key doesn't exist.", complexity="O(1)")
