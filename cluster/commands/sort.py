"""SORT and SORT_RO (Redis's sort.c): a list, set or sorted set's elements,
sorted, optionally weighted and projected through other keys (BY/GET
patterns), optionally stored as a list.

Their key specs name the source and STORE's destination; the keys BY and GET
patterns read cannot be told before the source is read, so the spec also
names a *reach* hook (``keyspecs.sort_reach``): the proxy sends a SORT whose
patterns may name keys of other shards to the coordinator.
"""

from cluster.commands import command, family

family("generic")

_ACL = "@set @sortedset @list @dangerous"
_COMPLEXITY = ("O(N+M*log(M)) where N is the number of elements in the list or set to "
               "sort, and M the number of returned elements. When the elements are not "
               "sorted, complexity is O(N).")

command("sort", -2, "write denyoom", keys=(1, 1, 1), acl=_ACL, keys_hook="sort_keys",
        reach_hook="sort_reach",
        summary="Sorts the elements of a list, set or sorted set, by themselves or by "
                "weights read from other keys; replies with them or stores them as a list.",
        complexity=_COMPLEXITY)
command("sort_ro", -2, "readonly", keys=(1, 1, 1), acl=_ACL, keys_hook="sort_ro_keys",
        reach_hook="sort_reach", since="7.0.0",
        summary="Sorts the elements of a list, set or sorted set like SORT, without STORE.",
        complexity=_COMPLEXITY)
