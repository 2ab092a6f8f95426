"""Sorted-set commands (Redis's t_zset.c family, without the blocking BZ* ones).

Routing: every single-key command goes to its key's shard.  ZRANGESTORE and
the set operations (ZUNION, ZINTER, ZDIFF, ZINTERCARD and their STORE forms)
and ZMPOP are keyed on all their keys: when those live on several shards the
coordinator runs the command atomically, moving values as DUMP payloads.
The set operations and ZMPOP find their keys through a ``numkeys`` argument
(hooks in :mod:`cluster.commands.keyspecs`).
"""

from cluster.commands import command, family

family("sorted-set")

_Z = "@sortedset"
_RO = ("RO", "access")
_STORE_FLAGS = (("OW", "update"), ("RO", "access"))

# -- writes ----------------------------------------------------------------

command("zadd", -4, "write denyoom fast", keys=(1, 1, 1), acl=_Z,
        key_flags=("RW", "update"), since="1.2.0",
        summary="Adds members with scores to a sorted set, or changes their scores; options "
                "add conditions, an increment or a count of changes.",
        complexity="O(log(N)) for each item added, where N is the number of elements in "
                   "the sorted set.")
command("zincrby", 4, "write denyoom fast", keys=(1, 1, 1), acl=_Z,
        key_flags=("RW", "access", "update"), since="1.2.0",
        summary="Adds a number to a member's score (a missing member starts at 0).",
        complexity="O(log(N)) where N is the number of elements in the sorted set.")
command("zrem", -3, "write fast", keys=(1, 1, 1), acl=_Z,
        key_flags=("RW", "delete"), since="1.2.0",
        summary="Removes members from a sorted set; the key goes when it empties.",
        complexity="O(M*log(N)) with N being the number of elements in the sorted set "
                   "and M the number of elements to be removed.")
for _name, _since, _what in (
        ("zremrangebyrank", "2.0.0", "a sorted set between two ranks"),
        ("zremrangebyscore", "1.2.0", "a sorted set whose scores lie in an interval"),
        ("zremrangebylex", "2.8.9", "an equal-score sorted set between two member bounds")):
    command(_name, 4, "write", keys=(1, 1, 1), acl=_Z, key_flags=("RW", "delete"),
            since=_since, summary="Removes the members of %s." % _what,
            complexity="O(log(N)+M) with N being the number of elements in the sorted set "
                       "and M the number of elements removed by the operation.")
command("zpopmin", -2, "write fast", keys=(1, 1, 1), acl=_Z,
        key_flags=("RW", "access", "delete"), since="5.0.0",
        summary="Takes the lowest-scored members out of a sorted set and returns them.",
        complexity="O(log(N)*M) with N being the number of elements in the sorted set, "
                   "and M being the number of elements popped.")
command("zpopmax", -2, "write fast", keys=(1, 1, 1), acl=_Z,
        key_flags=("RW", "access", "delete"), since="5.0.0",
        summary="Takes the highest-scored members out of a sorted set and returns them.",
        complexity="O(log(N)*M) with N being the number of elements in the sorted set, "
                   "and M being the number of elements popped.")
command("zmpop", -4, "write", acl=_Z, keys_hook="numkeys_at_1",
        key_flags=("RW", "access", "delete"), since="7.0.0",
        summary="Takes the lowest- or highest-scored members out of the first non-empty "
                "sorted set among several keys.",
        complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being "
                   "the number of elements in the sorted set, and M being the number of "
                   "elements popped.")
command("zrangestore", -5, "write denyoom", keys=(1, 2, 1), acl=_Z,
        key_flags=_STORE_FLAGS, since="6.2.0",
        summary="Stores a range of a sorted set (by rank, score or member) at another key.",
        complexity="O(log(N)+M) with N being the number of elements in the sorted set "
                   "and M the number of elements stored into the destination key.")
for _name, _what in (("zunionstore", "the union of"), ("zinterstore", "the intersection of"),
                     ("zdiffstore", "the first sorted set minus the others among")):
    command(_name, -4, "write denyoom", keys=(1, 1, 1), acl=_Z,
            keys_hook="dest_and_numkeys_at_2", key_flags=_STORE_FLAGS,
            since="6.2.0" if _name == "zdiffstore" else "2.0.0",
            summary="Stores %s several sorted sets at a destination key." % _what,
            complexity="O(N)+O(M log(M)) with N being the sum of the sizes of the input "
                       "sorted sets, and M being the number of elements in the resulting "
                       "sorted set." if _name == "zunionstore" else
                       "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted "
                       "set, K being the number of input sorted sets and M being the number "
                       "of elements in the resulting sorted set." if _name == "zinterstore"
                       else "O(L + (N-K)log(N)) worst case where L is the total number of "
                       "elements in all the sets, N is the size of the first set, and K is "
                       "the size of the result set.")

# -- reads -----------------------------------------------------------------

command("zcard", 2, "readonly fast", keys=(1, 1, 1), acl=_Z, key_flags=("RO",),
        since="1.2.0", summary="Tells how many members a sorted set has.", complexity="O(1)")
command("zcount", 4, "readonly fast", keys=(1, 1, 1), acl=_Z, key_flags=_RO, since="2.0.0",
        summary="Counts the members of a sorted set whose scores lie in an interval.",
        complexity="O(log(N)) with N being the number of elements in the sorted set.")
command("zlexcount", 4, "readonly fast", keys=(1, 1, 1), acl=_Z, key_flags=_RO,
        since="2.8.9",
        summary="Counts the members of an equal-score sorted set between two member bounds.",
        complexity="O(log(N)) with N being the number of elements in the sorted set.")
command("zscore", 3, "readonly fast", keys=(1, 1, 1), acl=_Z, key_flags=_RO, since="1.2.0",
        summary="Reads one member's score.", complexity="O(1)")
command("zmscore", -3, "readonly fast", keys=(1, 1, 1), acl=_Z, key_flags=_RO,
        since="6.2.0", summary="Reads the scores of several members (nil for absent ones).",
        complexity="O(N) where N is the number of members being requested.")
command("zrank", 3, "readonly fast", keys=(1, 1, 1), acl=_Z, key_flags=_RO, since="2.0.0",
        summary="Tells a member's position in a sorted set, counting from the lowest score.",
        complexity="O(log(N))")
command("zrevrank", 3, "readonly fast", keys=(1, 1, 1), acl=_Z, key_flags=_RO,
        since="2.0.0",
        summary="Tells a member's position in a sorted set, counting from the highest score.",
        complexity="O(log(N))")
_RANGE_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set and "
                     "M the number of elements returned.")
_RANGE_BY_COMPLEXITY = ("O(log(N)+M) with N being the number of elements in the sorted set "
                        "and M the number of elements being returned. If M is constant (e.g. "
                        "always asking for the first 10 elements with LIMIT), you can "
                        "consider it O(log(N)).")
for _name, _since, _complexity, _summary in (
        ("zrange", "1.2.0", _RANGE_COMPLEXITY,
         "Lists the members of a sorted set between two ranks, scores or member bounds, in "
         "either direction."),
        ("zrevrange", "1.2.0", _RANGE_COMPLEXITY,
         "Lists the members of a sorted set between two ranks, highest score first."),
        ("zrangebyscore", "1.0.5", _RANGE_BY_COMPLEXITY,
         "Lists the members of a sorted set whose scores lie in an interval, lowest first."),
        ("zrevrangebyscore", "2.2.0", _RANGE_BY_COMPLEXITY,
         "Lists the members of a sorted set whose scores lie in an interval, highest first."),
        ("zrangebylex", "2.8.9", _RANGE_BY_COMPLEXITY,
         "Lists the members of an equal-score sorted set between two member bounds."),
        ("zrevrangebylex", "2.8.9", _RANGE_BY_COMPLEXITY,
         "Lists the members of an equal-score sorted set between two member bounds, in "
         "reverse order.")):
    command(_name, -4, "readonly", keys=(1, 1, 1), acl=_Z, key_flags=_RO, since=_since,
            summary=_summary, complexity=_complexity)
command("zrandmember", -2, "readonly", keys=(1, 1, 1), acl=_Z, key_flags=_RO,
        since="6.2.0", tips=("nondeterministic_output",),
        summary="Picks random members of a sorted set (a negative count may repeat them).",
        complexity="O(N) where N is the number of elements returned")
command("zscan", -3, "readonly", keys=(1, 1, 1), acl=_Z, key_flags=_RO, since="2.8.0",
        tips=("nondeterministic_output",),
        summary="Walks the members and scores of a sorted set, a page per call.",
        complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                   "command calls for the cursor to return back to 0. N is the number of "
                   "elements inside of the collection.")
for _name, _what in (("zunion", "the union of"), ("zinter", "the intersection of"),
                     ("zdiff", "the first sorted set minus the others among")):
    command(_name, -3, "readonly", acl=_Z, keys_hook="numkeys_at_1", key_flags=_RO,
            since="6.2.0",
            summary="Returns %s several sorted sets, optionally with scores." % _what,
            complexity="O(N)+O(M*log(M)) with N being the sum of the sizes of the input "
                       "sorted sets, and M being the number of elements in the resulting "
                       "sorted set." if _name == "zunion" else
                       "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted "
                       "set, K being the number of input sorted sets and M being the number "
                       "of elements in the resulting sorted set." if _name == "zinter" else
                       "O(L + (N-K)log(N)) worst case where L is the total number of "
                       "elements in all the sets, N is the size of the first set, and K is "
                       "the size of the result set.")
command("zintercard", -3, "readonly", acl=_Z, keys_hook="numkeys_at_1", key_flags=_RO,
        since="7.0.0",
        summary="Counts the members common to several sorted sets, stopping at an optional "
                "limit.",
        complexity="O(N*K) worst case with N being the smallest input sorted set, K being "
                   "the number of input sorted sets.")
