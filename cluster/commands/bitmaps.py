"""Bitmap commands (Redis's bitops.c): bit-level views of string values.

BITOP is keyed on all its keys: sources on other shards than the
destination are brought in by the coordinator, which makes it atomic.
"""

from cluster.commands import command, family

family("bitmap")

command("setbit", 4, "write denyoom", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RW", "access", "update"), since="2.2.0",
        summary="Sets one bit of the string at a key to 0 or 1, growing the string if needed.",
        complexity="O(1)")
command("getbit", 3, "readonly fast", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="2.2.0",
        summary="Reads one bit of the string at a key.", complexity="O(1)")
command("bitcount", -2, "readonly", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="2.6.0",
        summary="Counts the bits set to 1 in a string, or in part of it.",
        complexity="O(N)")
command("bitpos", -3, "readonly", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="2.8.7",
        summary="Finds the first bit set to 0, or to 1, in a string.",
        complexity="O(N)")
command("bitop", -4, "write denyoom", keys=(2, -1, 1), acl="@bitmap",
        key_flags=(("OW", "update"), ("RO", "access")), since="2.6.0",
        summary="Combines strings bit by bit (AND, OR, XOR, NOT) into a destination key.",
        complexity="O(N)")
command("bitfield", -2, "write denyoom", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RW", "access", "update", "variable_flags"),
        key_notes="This command allows both access and modification of the key",
        since="3.2.0",
        summary="Reads, writes and increments integers of any width packed in a string.",
        complexity="O(1) for each subcommand specified")
command("bitfield_ro", -2, "readonly fast", keys=(1, 1, 1), acl="@bitmap",
        key_flags=("RO", "access"), since="6.0.0",
        summary="Reads integers of any width packed in a string, writing nothing.",
        complexity="O(1) for each subcommand specified")
