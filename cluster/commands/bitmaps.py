"""Bitmap commands (Redis's bitops.c): bit-level views of string values.

BITOP is keyed on all its keys: sources on other shards than the
destination are brought in by the coordinator, which makes it atomic.
"""

from cluster.commands import command, family

family("bitmap")

command("setbit", 4, "write denyoom", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RW", "access", "update"), since="2.2.0",
        summary="Sets or clears the bit at offset of the string value. Creates the "
                "key if it doesn't exist.", complexity="O(1)")
command("getbit", 3, "readonly fast", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="2.2.0",
        summary="Returns a bit value by offset.", complexity="O(1)")
command("bitcount", -2, "readonly", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="2.6.0",
        summary="Counts the number of set bits (population counting) in a string.",
        complexity="O(N)")
command("bitpos", -3, "readonly", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="2.8.7",
        summary="Finds the first set (1) or clear (0) bit in a string.",
        complexity="O(N)")
command("bitop", -4, "write denyoom", keys=(2, -1, 1), acl="@bitmap",
        key_flags=(("OW", "update"), ("RO", "access")), since="2.6.0",
        summary="Performs bitwise operations on multiple strings, and stores the "
                "result.", complexity="O(N)")
command("bitfield", -2, "write denyoom", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RW", "access", "update", "variable_flags"),
        key_notes="This command allows both access and modification of the key",
        since="3.2.0",
        summary="Performs arbitrary bitfield integer operations on strings.",
        complexity="O(1) for each subcommand specified")
command("bitfield_ro", -2, "readonly fast", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="6.0.0",
        summary="Performs arbitrary read-only bitfield integer operations on "
                "strings.", complexity="O(1) for each subcommand specified")
