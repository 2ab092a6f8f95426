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
        summary="Reads the string stored at a key.", complexity="O(1)")
command("mget", -2, "readonly fast", keys=(1, -1, 1), acl="@string",
        key_flags=("RO", "access"),
        route=SPLIT, merge="mget", since="1.0.0",
        tips=("request_policy:multi_shard",),
        summary="Reads the strings stored at several keys in one atomic step.",
        complexity="O(N) where N is the number of keys to retrieve.")
command("strlen", 2, "readonly fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RO",), since="2.2.0",
        summary="Tells the length in bytes of the string at a key.", complexity="O(1)")
command("getrange", 4, "readonly", keys=(1, 1, 1), acl="@string",
        key_flags=("RO", "access"), since="2.4.0",
        summary="Reads the part of the string at a key between two offsets.",
        complexity="O(N) where N is the length of the returned string.")
command("substr", 4, "readonly", keys=(1, 1, 1), acl="@string",
        key_flags=("RO", "access"),
        summary="Reads the part of the string at a key between two offsets (GETRANGE's old name).",
        complexity="O(N) where N is the length of the returned string.")
command("lcs", -3, "readonly", keys=(1, 2, 1), acl="@string",
        key_flags=("RO", "access"), since="7.0.0",
        summary="Finds the longest common subsequence of two strings.",
        complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively")

# -- writes ----------------------------------------------------------------

command("set", -3, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "access", "update", "variable_flags"),
        key_notes="RW and ACCESS due to the optional `GET` argument",
        summary="Stores a string at a key, replacing a value of any type; options add an expiry "
                "or a condition.", complexity="O(1)")
command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=("OW", "insert"),
        summary="Stores a string at a key unless the key exists.",
        complexity="O(1)")
command("setex", 4, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("OW", "update"), since="2.0.0",
        summary="Stores a string at a key with a time to live in seconds.", complexity="O(1)")
command("psetex", 4, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("OW", "update"), since="2.6.0",
        summary="Stores a string at a key with a time to live in milliseconds.", complexity="O(1)")
command("getex", -2, "write fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        key_notes="RW and UPDATE because it changes the TTL", since="6.2.0",
        summary="Reads the string at a key and changes or removes its expiry.",
        complexity="O(1)")
command("getdel", 2, "write fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "access", "delete"), since="6.2.0",
        summary="Reads the string at a key, then deletes the key.",
        complexity="O(1)")
command("getset", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Stores a new string at a key and returns the one it replaced.", complexity="O(1)")
command("mset", -3, "write denyoom", keys=(1, -1, 2), acl="@string",
        key_flags=("OW", "update"),
        route=SPLIT, merge="ok", since="1.0.1",
        tips=("request_policy:multi_shard", "response_policy:all_succeeded"),
        summary="Stores strings at several keys in one atomic step.",
        complexity="O(N) where N is the number of keys to set.")
command("msetnx", -3, "write denyoom", keys=(1, -1, 2), acl="@string",
        key_flags=("OW", "insert"), since="1.0.1",
        tips=("request_policy:multi_shard", "response_policy:agg_min"),
        summary="Stores strings at several keys in one atomic step, only if none of them exists.",
        complexity="O(N) where N is the number of keys to set.")
command("append", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "insert"), since="2.0.0",
        summary="Adds bytes to the end of the string at a key (a missing key counts as empty).",
        complexity="O(1)")
command("setrange", 4, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "update"), since="2.2.0",
        summary="Overwrites the string at a key from an offset on, padding with zero bytes.",
        complexity="O(1), not counting the time taken to copy the new string in "
                   "place.")

# -- counters --------------------------------------------------------------

command("incr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Adds 1 to the integer at a key (a missing key counts as 0).", complexity="O(1)")
command("decr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Subtracts 1 from the integer at a key (a missing key counts as 0).",
        complexity="O(1)")
command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Adds a whole number to the integer at a key (a missing key counts as 0).",
        complexity="O(1)")
command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE,
        summary="Subtracts a whole number from the integer at a key (a missing key counts as 0).",
        complexity="O(1)")
command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=_RW_ACCESS_UPDATE, since="2.6.0",
        summary="Adds a decimal number to the number at a key (a missing key counts as 0).",
        complexity="O(1)")
