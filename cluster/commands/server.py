"""Server commands: introspection, configuration, flushing, COMMAND itself."""

from cluster.commands import ALL, LOCAL, command, family, subcommand

family("server")

command("time", 1, "loading stale fast", route=LOCAL, since="2.6.0",
        tips=("nondeterministic_output",),
        summary="Returns the server time.")
command("dbsize", 1, "readonly fast", acl="@keyspace", route=ALL, merge="sum",
        tips=("request_policy:all_shards", "response_policy:agg_sum"),
        summary="Returns the number of keys in the database.")
command("info", -1, "loading stale", acl="@dangerous", route=ALL, merge="info",
        tips=("nondeterministic_output", "request_policy:all_shards",
              "response_policy:special"),
        summary="Returns information and statistics about the server.")
command("flushdb", -1, "write", acl="@keyspace @dangerous", route=ALL,
        merge="ok", tips=("request_policy:all_shards",
                          "response_policy:all_succeeded"),
        summary="Removes all keys from the current database.")
command("flushall", -1, "write", acl="@keyspace @dangerous", route=ALL,
        merge="ok", tips=("request_policy:all_shards",
                          "response_policy:all_succeeded"),
        summary="Removes all keys from all databases.")
command("swapdb", 3, "write fast", acl="@keyspace @dangerous", route=ALL,
        merge="ok", since="4.0.0", summary="Swaps two Redis databases.")
command("debug", -2, "admin noscript loading stale", route=ALL, merge="first",
        summary="A container for debugging commands.")
command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", route=LOCAL,
        complexity="O(N) when saving, where N is the total number of keys in all databases "
                   "when saving data, otherwise O(1)",
        summary="Stops the whole server, saving the data first if asked to.")
command("monitor", 1, "admin noscript loading stale", route=LOCAL,
        summary="Listens for all requests received by the server in real time.")

config = command("config", -2, "", route=LOCAL, since="2.0.0",
                 summary="A container for server configuration commands.")
subcommand(config, "get", -3, "admin noscript loading stale", route=LOCAL,
           summary="Returns the effective values of configuration parameters.")
subcommand(config, "set", -4, "admin noscript loading stale", route=ALL,
           merge="config_set",
           tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
           summary="Sets configuration parameters in-flight.")
subcommand(config, "resetstat", 2, "admin noscript loading stale", route=ALL,
           merge="resetstat", summary="Resets the server's statistics.")
subcommand(config, "rewrite", 2, "admin noscript loading stale", route=LOCAL,
           summary="Persists the effective configuration to file.")
subcommand(config, "help", 2, "loading stale", route=LOCAL,
           summary="Returns helpful text about the different subcommands.")

_ORDER_TIP = ("nondeterministic_output_order",)
cmd = command("command", -1, "loading stale", acl="@connection", route=LOCAL,
              since="2.8.13", tips=_ORDER_TIP,
              summary="Returns detailed information about all commands.")
subcommand(cmd, "count", 2, "loading stale", acl="@connection",
           summary="Returns a count of commands.")
subcommand(cmd, "info", -2, "loading stale", acl="@connection", tips=_ORDER_TIP,
           summary="Returns information about one, multiple or all commands.")
subcommand(cmd, "docs", -2, "loading stale", acl="@connection", tips=_ORDER_TIP,
           summary="Returns documentary information about one, multiple or all commands.")
subcommand(cmd, "list", -2, "loading stale", acl="@connection", tips=_ORDER_TIP,
           summary="Returns a list of command names.")
subcommand(cmd, "getkeys", -3, "loading stale", acl="@connection",
           summary="Extracts the key names from an arbitrary command.")
subcommand(cmd, "getkeysandflags", -3, "loading stale", acl="@connection",
           summary="Extracts the key names and access flags for an arbitrary command.")
subcommand(cmd, "help", 2, "loading stale", acl="@connection",
           summary="Returns helpful text about the different subcommands.")
