"""List commands (Redis's t_list.c family, without the blocking B* ones).

Every command but LMOVE, RPOPLPUSH and LMPOP names one key and goes to its
key's shard.  LMOVE and RPOPLPUSH name a source and a destination, LMPOP a
``numkeys`` count of keys (the ``numkeys_at_1`` hook): when those live on
several shards the coordinator runs the command atomically, moving values as
DUMP payloads.  Metadata follows Redis 7.0's command reference.
"""

from cluster.commands import command, family

family("list")

_L = "@list"
_RO = ("RO", "access")
_POP = ("RW", "access", "delete")
_MOVE_FLAGS = (_POP, ("RW", "insert"))
_PUSH_COMPLEXITY = ("O(1) for each element added, so O(N) to add N elements when the "
                    "command is called with multiple arguments.")

# -- writes ----------------------------------------------------------------

for _name, _since, _summary in (
        ("lpush", "1.0.0", "Puts elements at the head of a list, creating the list if needed."),
        ("rpush", "1.0.0", "Puts elements at the tail of a list, creating the list if needed."),
        ("lpushx", "2.2.0", "Puts elements at the head of a list that already exists (else "
                            "does nothing)."),
        ("rpushx", "2.2.0", "Puts elements at the tail of a list that already exists (else "
                            "does nothing).")):
    command(_name, -3, "write denyoom fast", keys=(1, 1, 1), acl=_L,
            key_flags=("RW", "insert"), since=_since, summary=_summary,
            complexity=_PUSH_COMPLEXITY)
for _name, _end in (("lpop", "head"), ("rpop", "tail")):
    command(_name, -2, "write fast", keys=(1, 1, 1), acl=_L, key_flags=_POP, since="1.0.0",
            summary="Takes elements off the %s of a list and returns them; an emptied list "
                    "is deleted." % _end,
            complexity="O(N) where N is the number of elements returned")
command("lset", 4, "write denyoom", keys=(1, 1, 1), acl=_L, key_flags=("RW", "update"),
        since="1.0.0", summary="Replaces the element at an index of a list.",
        complexity="O(N) where N is the length of the list. Setting either the first or "
                   "the last element of the list is O(1).")
command("linsert", 5, "write denyoom", keys=(1, 1, 1), acl=_L, key_flags=("RW", "insert"),
        since="2.2.0",
        summary="Adds an element just before or just after the first occurrence of a pivot "
                "element in a list.",
        complexity="O(N) where N is the number of elements to traverse before seeing the "
                   "value pivot. This means that inserting somewhere on the left end on the "
                   "list (head) can be considered O(1) and inserting somewhere on the right "
                   "end (tail) is O(N).")
command("lrem", 4, "write", keys=(1, 1, 1), acl=_L, key_flags=("RW", "delete"),
        since="1.0.0",
        summary="Deletes occurrences of an element from a list, from the head, the tail, "
                "or all of them.",
        complexity="O(N+M) where N is the length of the list and M is the number of "
                   "elements removed.")
command("ltrim", 4, "write", keys=(1, 1, 1), acl=_L, key_flags=("RW", "delete"),
        since="1.0.0", summary="Keeps only the elements of a list between two indexes.",
        complexity="O(N) where N is the number of elements to be removed by the operation.")
command("lmove", 5, "write denyoom", keys=(1, 2, 1), acl=_L, key_flags=_MOVE_FLAGS,
        since="6.2.0",
        summary="Takes an element off one end of a list and puts it at either end of "
                "another (or the same) list.",
        complexity="O(1)")
command("rpoplpush", 3, "write denyoom", keys=(1, 2, 1), acl=_L, key_flags=_MOVE_FLAGS,
        since="1.2.0",
        summary="Takes the tail element of a list and puts it at the head of another (or "
                "the same) list; LMOVE's older form.",
        complexity="O(1)")
command("lmpop", -4, "write", acl=_L, keys_hook="numkeys_at_1", key_flags=_POP,
        since="7.0.0",
        summary="Takes elements off the head or tail of the first non-empty list among "
                "several keys.",
        complexity="O(N+M) where N is the number of provided keys and M is the number of "
                   "elements returned.")

# -- reads -----------------------------------------------------------------

command("llen", 2, "readonly fast", keys=(1, 1, 1), acl=_L, key_flags=("RO",),
        since="1.0.0", summary="Tells how many elements a list holds.", complexity="O(1)")
command("lrange", 4, "readonly", keys=(1, 1, 1), acl=_L, key_flags=_RO, since="1.0.0",
        summary="Lists the elements of a list between two indexes (negative ones count "
                "from the tail).",
        complexity="O(S+N) where S is the distance of start offset from HEAD for small "
                   "lists, from nearest end (HEAD or TAIL) for large lists; and N is the "
                   "number of elements in the specified range.")
command("lindex", 3, "readonly", keys=(1, 1, 1), acl=_L, key_flags=_RO, since="1.0.0",
        summary="Reads the element at an index of a list.",
        complexity="O(N) where N is the number of elements to traverse to get to the "
                   "element at index. This makes asking for the first or the last element "
                   "of the list O(1).")
command("lpos", -3, "readonly", keys=(1, 1, 1), acl=_L, key_flags=_RO, since="6.0.6",
        summary="Finds the indexes at which an element occurs in a list.",
        complexity="O(N) where N is the number of elements in the list, for the average "
                   "case. When searching for elements near the head or the tail of the "
                   "list, or when the MAXLEN option is provided, the command may run in "
                   "constant time.")
