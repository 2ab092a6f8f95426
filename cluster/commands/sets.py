"""Set commands (Redis's t_set.c): unordered collections of distinct strings.

The multi-key forms (SINTER, SUNION, SDIFF, their STORE variants, SMOVE,
SINTERCARD) are routed KEYED: keys on several shards are brought together by
the coordinator, which moves set values in their RDB form.
"""

from cluster.commands import command, family

family("set")

_ORDER_TIPS = ("nondeterministic_output_order",)
_RANDOM_TIPS = ("nondeterministic_output",)

command("sadd", -3, "write denyoom fast", keys=(1, 1, 1), acl="@set",
        key_flags=("RW", "insert"),
        summary="Puts members into a set, creating it if needed; counts the new ones.",
        complexity="O(1) for each element added, so O(N) to add N elements when the "
                   "command is called with multiple arguments.")
command("srem", -3, "write fast", keys=(1, 1, 1), acl="@set",
        key_flags=("RW", "delete"),
        summary="Takes members out of a set and counts those that were there.",
        complexity="O(N) where N is the number of members to be removed.")
command("smembers", 2, "readonly", keys=(1, 1, 1), acl="@set",
        key_flags=("RO", "access"), tips=_ORDER_TIPS,
        summary="Lists every member of a set.",
        complexity="O(N) where N is the set cardinality.")
command("sismember", 3, "readonly fast", keys=(1, 1, 1), acl="@set",
        key_flags=("RO",),
        summary="Tells whether one string belongs to a set.", complexity="O(1)")
command("smismember", -3, "readonly fast", keys=(1, 1, 1), acl="@set", since="6.2.0",
        key_flags=("RO", "access"),
        summary="Tells, for each of several strings, whether it belongs to a set.",
        complexity="O(N) where N is the number of elements being checked for membership")
command("scard", 2, "readonly fast", keys=(1, 1, 1), acl="@set",
        key_flags=("RO",),
        summary="Counts the members of a set.", complexity="O(1)")
command("spop", -2, "write fast", keys=(1, 1, 1), acl="@set",
        key_flags=("RW", "access", "delete"), tips=_RANDOM_TIPS,
        summary="Removes members picked at random from a set and returns them.",
        complexity="Without the count argument O(1), otherwise O(N) where N is the "
                   "value of the passed count.")
command("srandmember", -2, "readonly", keys=(1, 1, 1), acl="@set",
        key_flags=("RO", "access"), tips=_RANDOM_TIPS,
        summary="Picks members of a set at random without removing them; a negative "
                "count may pick one member several times.",
        complexity="Without the count argument O(1), otherwise O(N) where N is the "
                   "absolute value of the passed count.")
command("smove", 4, "write fast", keys=(1, 2, 1), acl="@set",
        key_flags=(("RW", "access", "delete"), ("RW", "insert")),
        summary="Transfers one member from a set to another set.", complexity="O(1)")
command("sinter", -2, "readonly", keys=(1, -1, 1), acl="@set",
        key_flags=("RO", "access"), tips=_ORDER_TIPS,
        summary="Lists the members that every given set has.",
        complexity="O(N*M) worst case where N is the cardinality of the smallest set "
                   "and M is the number of sets.")
command("sintercard", -3, "readonly", acl="@set", since="7.0.0",
        keys_hook="numkeys_at_1", key_flags=("RO", "access"),
        summary="Counts the members that every given set has, optionally stopping at a limit.",
        complexity="O(N*M) worst case where N is the cardinality of the smallest set "
                   "and M is the number of sets.")
command("sinterstore", -3, "write denyoom", keys=(1, -1, 1), acl="@set",
        key_flags=(("RW", "update"), ("RO", "access")),
        summary="Stores the members every given set has into a destination set.",
        complexity="O(N*M) worst case where N is the cardinality of the smallest set "
                   "and M is the number of sets.")
command("sunion", -2, "readonly", keys=(1, -1, 1), acl="@set",
        key_flags=("RO", "access"), tips=_ORDER_TIPS,
        summary="Lists the members that at least one of the given sets has.",
        complexity="O(N) where N is the total number of elements in all given sets.")
command("sunionstore", -3, "write denyoom", keys=(1, -1, 1), acl="@set",
        key_flags=(("OW", "update"), ("RO", "access")),
        summary="Stores the members that any of the given sets has into a destination set.",
        complexity="O(N) where N is the total number of elements in all given sets.")
command("sdiff", -2, "readonly", keys=(1, -1, 1), acl="@set",
        key_flags=("RO", "access"), tips=_ORDER_TIPS,
        summary="Lists the members of the first set that none of the other sets has.",
        complexity="O(N) where N is the total number of elements in all given sets.")
command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1), acl="@set",
        key_flags=(("OW", "update"), ("RO", "access")),
        summary="Stores the members of the first set that no other given set has into a "
                "destination set.",
        complexity="O(N) where N is the total number of elements in all given sets.")
command("sscan", -3, "readonly", keys=(1, 1, 1), acl="@set", since="2.8.0",
        key_flags=("RO", "access"), tips=_RANDOM_TIPS,
        summary="Walks the members of a set a page at a time with a cursor.",
        complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                   "command calls for the cursor to return back to 0. N is the number of "
                   "elements inside the collection.")
