"""String commands (Redis's t_string.c family)."""

from cluster.commands import KEYED, SPLIT, command, family

family("string")

command("get", 2, "readonly fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RO", "access"),
        summary="Returns the string value of a key.")
command("set", -3, "write denyoom", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "access", "update", "variable_flags"),
        key_notes="RW and ACCESS due to the optional `GET` argument",
        summary="Sets the string value of a key, ignoring its type.")
command("mget", -2, "readonly fast", keys=(1, -1, 1), acl="@string",
        route=SPLIT, merge="mget", since="1.0.0",
        tips=("request_policy:multi_shard",),
        summary="Atomically returns the string values of one or more keys.")
command("mset", -3, "write denyoom", keys=(1, -1, 2), acl="@string",
        key_flags=("OW", "update"),
        route=SPLIT, merge="ok", since="1.0.1",
        tips=("request_policy:multi_shard", "response_policy:all_succeeded"),
        summary="Atomically creates or modifies the string values of one or more keys.")
command("incr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string",
        key_flags=("RW", "access", "update"),
        summary="Increments the integer value of a key by one.")
