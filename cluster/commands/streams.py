"""Stream commands (Redis's t_stream.c family), consumer groups included.

Every command but XREAD and XREADGROUP names one key (XGROUP and XINFO
subcommands name it second) and goes to its key's shard.  XREAD and
XREADGROUP find their keys after the STREAMS keyword (the ``streams_keys``
hook) and are flagged ``blocking`` always, as in Redis 7.0, whether or not
BLOCK is given: the proxy sends them through proxy/blocking.py, which costs
one round trip when they need not wait.  Metadata follows Redis 7.0's
command reference.
"""

from cluster.commands import command, family, subcommand

family("stream")

_S = "@stream"
_ND = ("nondeterministic_output",)
_LOG_N = "O(log N) with N being the number of items in the stream."

command("xadd", -5, "write denyoom fast", keys=(1, 1, 1), acl=_S, key_flags=("RW", "update"),
        key_notes="UPDATE instead of INSERT because of the optional trimming feature",
        tips=_ND, since="5.0.0",
        summary="Appends an entry to a stream (creating it unless NOMKSTREAM), optionally "
                "trimming the oldest entries.",
        complexity="O(1) when adding a new entry, O(N) when trimming where N being the "
                   "number of entries evicted.")
command("xlen", 2, "readonly fast", keys=(1, 1, 1), acl=_S, key_flags=("RO",), since="5.0.0",
        summary="Tells how many entries a stream holds.", complexity="O(1)")
for _name, _order in (("xrange", "ascending"), ("xrevrange", "descending")):
    command(_name, -4, "readonly", keys=(1, 1, 1), acl=_S, key_flags=("RO", "access"),
            since="5.0.0",
            summary="Lists the entries of a stream whose ids fall in a range, in %s id "
                    "order." % _order,
            complexity="O(N) with N being the number of elements being returned. If N is "
                       "constant (e.g. always asking for the first 10 elements with COUNT), "
                       "you can consider it O(1).")
command("xdel", -3, "write fast", keys=(1, 1, 1), acl=_S, key_flags=("RW", "delete"),
        since="5.0.0", summary="Deletes entries of a stream by id.",
        complexity="O(1) for each single item to delete in the stream, regardless of the "
                   "stream size.")
command("xtrim", -4, "write", keys=(1, 1, 1), acl=_S, key_flags=("RW", "delete"), tips=_ND,
        since="5.0.0",
        summary="Drops the oldest entries of a stream, down to a length or up to an id.",
        complexity="O(N), with N being the number of evicted entries. Constant times are "
                   "very small however, since entries are organized in macro nodes "
                   "containing multiple entries that can be released with a single "
                   "deallocation.")
command("xread", -4, "readonly blocking", acl=_S, keys_hook="streams_keys",
        key_flags=("RO", "access"), since="5.0.0",
        summary="Reads entries newer than given ids from one or more streams, optionally "
                "waiting for some.",
        complexity="For each stream mentioned: O(N) with N being the number of elements "
                   "being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note "
                   "that when the BLOCK option is used, XADD will pay O(M) time in order to "
                   "serve the M clients blocked on the stream getting new data.")
command("xsetid", -3, "write denyoom fast", keys=(1, 1, 1), acl=_S, key_flags=("RW", "update"),
        since="5.0.0",
        summary="Sets a stream's last id (and, optionally, its added-entries count and "
                "largest deleted id).",
        complexity="O(1)")
command("xreadgroup", -7, "write blocking", acl=_S, keys_hook="group_streams_keys",
        key_flags=("RO", "access"), since="5.0.0",
        summary="Reads entries of streams for a consumer of a consumer group: new ones "
                "(marking them pending) or its own pending ones, optionally waiting.",
        complexity="For each stream mentioned: O(M) with M being the number of elements "
                   "returned. If M is constant (e.g. always asking for the first 10 elements "
                   "with COUNT), you can consider it O(1). On the other side when XREADGROUP "
                   "blocks, XADD will pay the O(N) time in order to serve the N clients "
                   "blocked on the stream getting new data.")
command("xack", -4, "write fast", keys=(1, 1, 1), acl=_S, key_flags=("RW", "update"),
        since="5.0.0",
        summary="Removes entries from a consumer group's pending list: they were processed.",
        complexity="O(1) for each message ID processed.")
command("xpending", -3, "readonly", keys=(1, 1, 1), acl=_S, key_flags=("RO", "access"),
        tips=_ND, since="5.0.0",
        summary="Tells what a consumer group has delivered and not seen acknowledged: a "
                "summary, or the entries in an id range.",
        complexity="O(N) with N being the number of elements returned, so asking for a small "
                   "fixed number of entries per call is O(1). O(M), where M is the total "
                   "number of entries scanned when used with the IDLE filter. When the "
                   "command returns just the summary and the list of consumers is small, it "
                   "runs in O(1) time; otherwise, an additional O(N) time for iterating "
                   "every consumer.")
command("xclaim", -6, "write fast", keys=(1, 1, 1), acl=_S, key_flags=("RW", "update"),
        tips=_ND, since="5.0.0",
        summary="Gives pending entries of a consumer group to another consumer.",
        complexity=_LOG_N)
command("xautoclaim", -6, "write fast", keys=(1, 1, 1), acl=_S, key_flags=("RW", "delete"),
        tips=_ND, since="6.2.0",
        summary="Gives a consumer the pending entries of its group that have been idle long "
                "enough, scanning from an id.",
        complexity="O(1) if COUNT is small.")

xgroup = command("xgroup", -2, "", since="5.0.0",
                 summary="Commands that manage the consumer groups of a stream.",
                 complexity="Depends on subcommand.")
subcommand(xgroup, "create", -5, "write denyoom", keys=(2, 2, 1), acl=_S,
           key_flags=("RW", "insert"), since="5.0.0",
           summary="Creates a consumer group on a stream, reading from a given id.",
           complexity="O(1)")
subcommand(xgroup, "createconsumer", 5, "write denyoom", keys=(2, 2, 1), acl=_S,
           key_flags=("RW", "insert"), since="6.2.0",
           summary="Adds a consumer to a consumer group.", complexity="O(1)")
subcommand(xgroup, "delconsumer", 5, "write", keys=(2, 2, 1), acl=_S,
           key_flags=("RW", "delete"), since="5.0.0",
           summary="Removes a consumer from a consumer group, with its pending entries.",
           complexity="O(1)")
subcommand(xgroup, "destroy", 4, "write", keys=(2, 2, 1), acl=_S, key_flags=("RW", "delete"),
           since="5.0.0", summary="Deletes a consumer group.",
           complexity="O(N) where N is the number of entries in the group's pending "
                      "entries list (PEL).")
subcommand(xgroup, "setid", -5, "write", keys=(2, 2, 1), acl=_S, key_flags=("RW", "update"),
           since="5.0.0", summary="Moves a consumer group's last delivered id.",
           complexity="O(1)")
subcommand(xgroup, "help", 2, "loading stale", acl=_S, since="5.0.0",
           summary="Lists the XGROUP subcommands and what they do.", complexity="O(1)")

xinfo = command("xinfo", -2, "", since="5.0.0",
                summary="Commands that describe streams, their groups and consumers.",
                complexity="Depends on subcommand.")
subcommand(xinfo, "stream", -3, "readonly", keys=(2, 2, 1), acl=_S, key_flags=("RO", "access"),
           since="5.0.0",
           summary="Describes a stream: its length, ids, first and last entries (or, with "
                   "FULL, its entries, groups and consumers).",
           complexity="O(1)")
subcommand(xinfo, "groups", 3, "readonly", keys=(2, 2, 1), acl=_S, key_flags=("RO", "access"),
           since="5.0.0", summary="Describes the consumer groups of a stream.",
           complexity="O(1)")
subcommand(xinfo, "consumers", 4, "readonly", keys=(2, 2, 1), acl=_S,
           key_flags=("RO", "access"), tips=_ND, since="5.0.0",
           summary="Describes the consumers of a consumer group.", complexity="O(1)")
subcommand(xinfo, "help", 2, "loading stale", acl=_S, since="5.0.0",
           summary="Lists the XINFO subcommands and what they do.", complexity="O(1)")
