"""Connection-level commands: the proxy answers them for its clients, and each
shard answers them for clients that connect to it directly (sharded mode)."""

from cluster.commands import LOCAL, command, family, subcommand

family("connection")

command("ping", -1, "fast", acl="@connection", route=LOCAL, since="1.0.0",
        tips=("request_policy:all_shards", "response_policy:all_succeeded"),
        summary="Returns the server's liveliness response.")
command("echo", 2, "loading stale fast", acl="@connection", route=LOCAL,
        summary="Returns the given string.")
command("hello", -1, "noscript loading stale fast no_auth allow_busy", acl="@connection",
        route=LOCAL, since="6.0.0", summary="Handshakes with the Redis server.")
command("auth", -2, "noscript loading stale fast no_auth allow_busy", acl="@connection",
        route=LOCAL, summary="Authenticates the connection.")
command("select", 2, "loading stale fast", acl="@connection", route=LOCAL,
        summary="Changes the selected database.")
command("quit", -1, "noscript loading stale fast no_auth allow_busy",
        acl="@connection", route=LOCAL, summary="Closes the connection.")
command("reset", 1, "noscript loading stale fast no_auth allow_busy",
        acl="@connection", route=LOCAL, since="6.2.0",
        summary="Resets the connection.")

client = command("client", -2, "", acl="", route=LOCAL, since="2.4.0",
                 summary="A container for client connection commands.")
_CLIENT = "noscript loading stale"
subcommand(client, "setname", 3, _CLIENT, acl="@slow @connection",
           since="2.6.9", summary="Sets the connection name.")
subcommand(client, "getname", 2, _CLIENT, acl="@slow @connection",
           since="2.6.9", summary="Returns the name of the connection.")
subcommand(client, "id", 2, _CLIENT, acl="@slow @connection", since="5.0.0",
           summary="Returns the unique client ID of the connection.")
subcommand(client, "info", 2, _CLIENT, acl="@slow @connection", since="6.2.0",
           tips=("nondeterministic_output",),
           summary="Returns information about the connection.")
subcommand(client, "list", -2, "admin " + _CLIENT, acl="@slow @connection",
           since="2.4.0", tips=("nondeterministic_output",), summary="Lists open connections.")
subcommand(client, "kill", -3, "admin " + _CLIENT, acl="@slow @connection",
           since="2.4.0", summary="Terminates open connections.")
subcommand(client, "setinfo", 4, _CLIENT, acl="@slow @connection",
           since="7.2.0", summary="Sets information specific to the client.")
subcommand(client, "no-evict", 3, "admin " + _CLIENT, acl="@slow @connection",
           since="7.0.0", summary="Sets the client eviction mode.")
subcommand(client, "no-touch", 3, _CLIENT, acl="@slow @connection",
           since="7.2.0", summary="Controls whether commands alter LRU/LFU.")
subcommand(client, "reply", 3, _CLIENT, acl="@slow @connection",
           since="3.2.0", summary="Instructs the server whether to reply.")
subcommand(client, "help", 2, "loading stale", acl="@slow @connection",
           since="5.0.0", summary="Returns helpful text about subcommands.")
