"""Server commands: introspection, configuration, flushing, COMMAND itself."""

from cluster.commands import ALL, LOCAL, command, family, subcommand

family("server")

command("time", 1, "loading stale fast", route=LOCAL, since="2.6.0",
        tips=("nondeterministic_output",),
        summary="Tells the server's clock as Unix seconds and microseconds.")
command("dbsize", 1, "readonly fast", acl="@keyspace", route=ALL, merge="sum",
        tips=("request_policy:all_shards", "response_policy:agg_sum"),
        summary="Counts the keys in the selected database.")
command("info", -1, "loading stale", acl="@dangerous", route=ALL, merge="info",
        tips=("nondeterministic_output", "request_policy:all_shards",
              "response_policy:special"),
        summary="Reports the server's state and counters, by section.")
command("flushdb", -1, "write", acl="@keyspace @dangerous", route=ALL,
        merge="ok", tips=("request_policy:all_shards",
                          "response_policy:all_succeeded"),
        summary="Deletes every key of the selected database.")
command("flushall", -1, "write", acl="@keyspace @dangerous", route=ALL,
        merge="ok", tips=("request_policy:all_shards",
                          "response_policy:all_succeeded"),
        summary="Deletes every key of every database.")
command("swapdb", 3, "write fast", acl="@keyspace @dangerous", route=ALL,
        merge="ok", since="4.0.0", summary="Exchanges the contents of two databases.")
command("debug", -2, "admin noscript loading stale", route=ALL, merge="debug",
        summary="Commands for testing and troubleshooting the server.")
command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", route=LOCAL,
        complexity="O(N) when saving, where N is the total number of keys in all databases "
                   "when saving data, otherwise O(1)",
        summary="Stops the whole server, saving the data first if asked to.")
# Snapshots (shardnode/snapshots.py): through the proxy one server-wide
# snapshot, every shard saving at once (proxy/snapshots.py).  Tips as Redis
# 7.0 lists them (none for SAVE/BGSAVE), whatever the routing.
command("save", 1, "admin noscript no_async_loading no_multi", route=ALL, merge="save",
        complexity="O(N) where N is the total number of keys in all databases",
        summary="Writes a snapshot of every shard's data to disk, waiting until it is done.")
command("bgsave", -1, "admin noscript no_async_loading", route=ALL, merge="bgsave",
        complexity="O(1) to start; the save itself is O(N) in the keys of all databases",
        summary="Starts a snapshot of every shard's data in the background (forkless).")
command("lastsave", 1, "loading stale fast", acl="@admin @dangerous", route=ALL, merge="lastsave", since="1.0.0",
        tips=("nondeterministic_output",),
        summary="Tells the Unix time of the last successful snapshot.")
command("monitor", 1, "admin noscript loading stale", route=LOCAL,
        summary="Streams every command the server receives, as it runs.")

config = command("config", -2, "", route=LOCAL, since="2.0.0",
                 summary="Commands that read or change the server's settings.")
subcommand(config, "get", -3, "admin noscript loading stale", route=LOCAL,
           since="2.0.0", summary="Reads the settings whose names match the given patterns.")
subcommand(config, "set", -4, "admin noscript loading stale", route=ALL,
           merge="config_set",
           tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
           since="2.0.0", summary="Changes settings while the server runs.")
subcommand(config, "resetstat", 2, "admin noscript loading stale", route=ALL,
           merge="resetstat", since="2.0.0",
           summary="Zeroes the statistics counters that INFO reports.")
subcommand(config, "rewrite", 2, "admin noscript loading stale", route=LOCAL,
           since="2.8.0", summary="Writes the running settings back to the configuration file.")
subcommand(config, "help", 2, "loading stale", route=LOCAL,
           since="5.0.0", summary="Lists the CONFIG subcommands and what they do.")

_ORDER_TIP = ("nondeterministic_output_order",)
cmd = command("command", -1, "loading stale", acl="@connection", route=LOCAL,
              since="2.8.13", tips=_ORDER_TIP,
              summary="Describes every command the server knows.")
subcommand(cmd, "count", 2, "loading stale", acl="@connection",
           since="2.8.13", summary="Counts the commands the server knows.")
subcommand(cmd, "info", -2, "loading stale", acl="@connection", tips=_ORDER_TIP,
           since="2.8.13", summary="Describes the named commands, or all of them.")
subcommand(cmd, "docs", -2, "loading stale", acl="@connection", tips=_ORDER_TIP,
           since="7.0.0",
           summary="Gives the documentation of the named commands, or of all of them.")
subcommand(cmd, "list", -2, "loading stale", acl="@connection", tips=_ORDER_TIP,
           since="7.0.0", summary="Lists command names, all or those that pass a filter.")
subcommand(cmd, "getkeys", -3, "loading stale", acl="@connection",
           since="2.8.13", summary="Tells which arguments of a full command are keys.")
subcommand(cmd, "getkeysandflags", -3, "loading stale", acl="@connection",
           since="7.0.0",
           summary="Tells which arguments of a full command are keys, and how each is accessed.")
subcommand(cmd, "help", 2, "loading stale", acl="@connection",
           since="5.0.0", summary="Lists the COMMAND subcommands and what they do.")
command("bgrewriteaof", 1, "admin noscript no_async_loading", route=ALL, merge="first",
        since="1.0.0",
        summary="Compacts the append-only file in the background, every shard's at once.")

# MEMORY (shardnode/memory.py): USAGE on the key's shard; STATS, DOCTOR and
# PURGE on every shard, merged by the proxy (proxy/server_fanout.py); HELP and
# MALLOC-STATS from shard 0 (no keys).
memory = command("memory", -2, "", since="4.0.0",
                 summary="Commands that report and manage the server's memory.")
subcommand(memory, "help", 2, "loading stale", since="4.0.0",
           summary="Lists the MEMORY subcommands and what they do.")
subcommand(memory, "malloc-stats", 2, "", since="4.0.0",
           tips=("nondeterministic_output", "request_policy:all_shards",
                 "response_policy:special"),
           summary="Reports the memory allocator's statistics.")
subcommand(memory, "purge", 2, "", route=ALL, merge="ok", since="4.0.0",
           tips=("request_policy:all_shards", "response_policy:all_succeeded"),
           summary="Returns freed memory to the operating system.")
subcommand(memory, "doctor", 2, "", route=ALL, merge="memory_doctor", since="4.0.0",
           tips=("nondeterministic_output", "request_policy:all_shards",
                 "response_policy:special"),
           summary="Reports memory problems, in words.")
subcommand(memory, "stats", 2, "", route=ALL, merge="memory_stats", since="4.0.0",
           tips=("nondeterministic_output", "request_policy:all_shards",
                 "response_policy:special"),
           summary="Reports the server's memory use, field by field.")
subcommand(memory, "usage", -3, "readonly", keys=(2, 2, 1), key_flags=("RO",), since="4.0.0",
           complexity="O(N) where N is the number of samples.",
           summary="Tells how many bytes a key and its value take.")
