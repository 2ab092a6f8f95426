"""EVAL, EVALSHA, their _RO twins and SCRIPT (Redis's eval.c family).

A script runs on the shard that owns its declared keys (``numkeys`` keys,
found by the ``numkeys_at_2`` hook); a script with no keys runs on shard 0.
SCRIPT LOAD / EXISTS / FLUSH go to every shard: the script cache is per
server, so each shard must answer EVALSHA and SCRIPT EXISTS alike.
Metadata follows Redis 7.0's command reference.
"""

from cluster.commands import ALL, command, family, subcommand

family("scripting")

# The commands that run a script or a function (FCALL is functions.py's): Redis
# reads their flags from what they run -- a shebang, register_function's flags.
SCRIPT_CALLS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})

_EVAL = "noscript skip_monitor may_replicate no_mandatory_keys stale"
_EVAL_RO = "noscript skip_monitor no_mandatory_keys stale readonly"
_RUNS = "Depends on the script that is executed."
_RW_NOTE = ("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")
_RO_NOTE = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"

command("eval", -3, _EVAL, acl="@scripting", keys_hook="numkeys_at_2",
        key_flags=("RW", "access", "update"), key_notes=_RW_NOTE, since="2.6.0", complexity=_RUNS,
        summary="Runs a Lua script on the server, with its keys and arguments.")
command("evalsha", -3, _EVAL, acl="@scripting", keys_hook="numkeys_at_2",
        key_flags=("RW", "access", "update"), since="2.6.0", complexity=_RUNS,
        summary="Runs a cached Lua script by its SHA1 digest.")
command("eval_ro", -3, _EVAL_RO, acl="@scripting", keys_hook="numkeys_at_2",
        key_flags=("RO", "access"), key_notes=_RO_NOTE, since="7.0.0", complexity=_RUNS,
        summary="Runs a Lua script that may only read.")
command("evalsha_ro", -3, _EVAL_RO, acl="@scripting", keys_hook="numkeys_at_2",
        key_flags=("RO", "access"), since="7.0.0", complexity=_RUNS,
        summary="Runs a cached Lua script, by its SHA1 digest, that may only read.")

script = command("script", -2, "", since="2.6.0",
                 summary="Commands that manage the Lua script cache.")
subcommand(script, "load", 3, "noscript stale", acl="@scripting", route=ALL, merge="first",
           since="2.6.0",
           tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
           complexity="O(N) with N being the length in bytes of the script body.",
           summary="Compiles a script into the cache without running it; replies its SHA1.")
subcommand(script, "exists", -3, "noscript", acl="@scripting", route=ALL, since="2.6.0",
           merge="logical_or",
           tips=("request_policy:all_shards", "response_policy:agg_logical_and"),
           complexity="O(N) with N being the number of scripts to check (so checking a "
                      "single script is an O(1) operation).",
           summary="Tells, for each SHA1, whether the cache holds that script.")
subcommand(script, "flush", -2, "noscript", acl="@scripting", route=ALL, since="2.6.0",
           merge="script_flush",
           tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
           complexity="O(N) with N being the number of scripts in cache",
           summary="Empties the script cache.")
subcommand(script, "kill", 2, "noscript allow_busy", acl="@scripting", route=ALL, since="2.6.0",
           merge="script_kill", tips=("request_policy:all_shards", "response_policy:one_succeeded"),
           complexity="O(1)", summary="Stops the script running now, if it has not written.")
subcommand(script, "help", 2, "loading stale", acl="@scripting", route=ALL, merge="first",
           since="5.0.0", complexity="O(1)",
           summary="Lists the SCRIPT subcommands and what they do.")
