"""FCALL, FCALL_RO and FUNCTION (Redis 7.0's functions.c family).

FCALL routes like EVAL: by its ``numkeys`` declared keys (the
``numkeys_at_2`` hook), shard 0 without keys.  Libraries are per server, so
FUNCTION LOAD / DELETE / FLUSH / RESTORE go to every shard (each keeps the
same registry) and the reads (LIST, DUMP, STATS) take any shard's answer.
Metadata follows Redis 7.0's command reference.
"""

from cluster.commands import ALL, command, family, subcommand
from cluster.commands.scripting import _RO_NOTE, _RW_NOTE

family("scripting")

_RUNS = "Depends on the function that is executed."
_ALL_SHARDS = ("request_policy:all_shards", "response_policy:all_succeeded")

command("fcall", -3, "noscript skip_monitor may_replicate no_mandatory_keys stale",
        acl="@scripting", keys_hook="numkeys_at_2", key_flags=("RW", "access", "update"),
        key_notes=_RW_NOTE, since="7.0.0", complexity=_RUNS,
        summary="Invokes a function, with its keys and arguments.")
command("fcall_ro", -3, "noscript skip_monitor no_mandatory_keys stale readonly",
        acl="@scripting", keys_hook="numkeys_at_2", key_flags=("RO", "access"),
        key_notes=_RO_NOTE, since="7.0.0", complexity=_RUNS,
        summary="Invokes a function that may only read.")

function = command("function", -2, "", since="7.0.0",
                   summary="Commands that manage functions and their libraries.")
subcommand(function, "load", -3, "write denyoom noscript", acl="@scripting", route=ALL,
           merge="first", since="7.0.0", tips=_ALL_SHARDS,
           complexity="O(1) (considering compilation time is redundant)",
           summary="Creates a library from its code (REPLACE: over one of the same name).")
subcommand(function, "delete", 3, "write noscript", acl="@scripting", route=ALL, merge="first",
           since="7.0.0", tips=_ALL_SHARDS, complexity="O(1)",
           summary="Deletes a library and its functions.")
subcommand(function, "flush", -2, "write noscript", acl="@scripting", route=ALL, merge="first",
           since="7.0.0", tips=_ALL_SHARDS,
           complexity="O(N) where N is the number of functions deleted",
           summary="Deletes every library.")
subcommand(function, "restore", -3, "write denyoom noscript", acl="@scripting", route=ALL,
           merge="first", since="7.0.0", tips=_ALL_SHARDS,
           complexity="O(N) where N is the number of functions on the payload",
           summary="Creates the libraries of a FUNCTION DUMP payload.")
subcommand(function, "dump", 2, "noscript", acl="@scripting", route=ALL, merge="first",
           since="7.0.0", complexity="O(N) where N is the number of functions",
           summary="Serialises every library into a payload for FUNCTION RESTORE.")
subcommand(function, "list", -2, "noscript", acl="@scripting", route=ALL, merge="first",
           since="7.0.0", tips=("nondeterministic_output_order",),
           complexity="O(N) where N is the number of functions",
           summary="Lists the libraries, their functions and, with WITHCODE, their code.")
subcommand(function, "stats", 2, "noscript allow_busy", acl="@scripting", route=ALL,
           merge="function_stats", since="7.0.0",
           tips=("nondeterministic_output", "request_policy:all_shards",
                 "response_policy:special"),
           complexity="O(1)", summary="Tells which function runs now and counts the libraries.")
subcommand(function, "kill", 2, "noscript allow_busy", acl="@scripting", route=ALL,
           merge="function_kill", since="7.0.0",
           tips=("request_policy:all_shards", "response_policy:one_succeeded"),
           complexity="O(1)", summary="Stops the function running now, if it has not written.")
subcommand(function, "help", 2, "loading stale", acl="@scripting", route=ALL, merge="first",
           since="7.0.0", complexity="O(1)",
           summary="Lists the FUNCTION subcommands and what they do.")
