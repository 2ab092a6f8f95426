"""Connection-level commands: the proxy answers them for its clients, and each
shard answers them for clients that connect to it directly (sharded mode)."""

from cluster.commands import LOCAL, command, family, subcommand

family("connection")

command("ping", -1, "fast", acl="@connection", route=LOCAL, since="1.0.0",
        tips=("request_policy:all_shards", "response_policy:all_succeeded"),
        summary="Checks that the server answers: PONG, or the message given.")
command("echo", 2, "loading stale fast", acl="@connection", route=LOCAL,
        summary="Replies with the message it was sent.")
command("hello", -1, "noscript loading stale fast no_auth allow_busy", acl="@connection",
        route=LOCAL, since="6.0.0",
        summary="Picks the protocol version, optionally logs in and names the connection, "
                "and describes the server.")
command("auth", -2, "noscript loading stale fast no_auth allow_busy", acl="@connection",
        route=LOCAL,
        summary="Logs the connection in with a password (and optionally a user name).")
command("select", 2, "loading stale fast", acl="@connection", route=LOCAL,
        summary="Switches the connection to another numbered database.")
command("quit", -1, "noscript loading stale fast no_auth allow_busy",
        acl="@connection", route=LOCAL, summary="Asks the server to close this connection.")
command("reset", 1, "noscript loading stale fast no_auth allow_busy",
        acl="@connection", route=LOCAL, since="6.2.0",
        summary="Returns the connection to its initial state.")

client = command("client", -2, "", acl="", route=LOCAL, since="2.4.0",
                 summary="Commands about client connections.")
_CLIENT = "noscript loading stale"
subcommand(client, "setname", 3, _CLIENT, acl="@slow @connection",
           since="2.6.9", summary="Gives this connection a name.")
subcommand(client, "getname", 2, _CLIENT, acl="@slow @connection",
           since="2.6.9", summary="Tells the name given to this connection.")
subcommand(client, "id", 2, _CLIENT, acl="@slow @connection", since="5.0.0",
           summary="Tells this connection's numeric id.")
subcommand(client, "info", 2, _CLIENT, acl="@slow @connection", since="6.2.0",
           tips=("nondeterministic_output",),
           summary="Describes this connection in one line.")
subcommand(client, "list", -2, "admin " + _CLIENT, acl="@slow @connection",
           since="2.4.0", tips=("nondeterministic_output",),
           summary="Describes every open connection, one per line.")
subcommand(client, "kill", -3, "admin " + _CLIENT, acl="@slow @connection",
           since="2.4.0", summary="Closes the connections that match a filter.")
subcommand(client, "unblock", -3, "admin " + _CLIENT, acl="@slow @connection",
           since="5.0.0",
           summary="Ends another connection's blocking command now, as a timeout or an error.")
subcommand(client, "setinfo", 4, _CLIENT, acl="@slow @connection",
           since="7.2.0",
           summary="Records the client library's name or version for this connection.")
subcommand(client, "no-evict", 3, "admin " + _CLIENT, acl="@slow @connection",
           since="7.0.0", summary="Turns client eviction on or off for this connection.")
subcommand(client, "no-touch", 3, _CLIENT, acl="@slow @connection",
           since="7.2.0",
           summary="Decides whether this connection's commands update keys' access time.")
subcommand(client, "reply", 3, _CLIENT, acl="@slow @connection",
           since="3.2.0",
           summary="Turns replies to this connection on, off, or off for the next command.")
subcommand(client, "tracking", -3, _CLIENT, acl="@slow @connection", since="6.0.0",
           summary="Turns server-assisted client-side caching on or off for this connection.")
subcommand(client, "caching", 3, _CLIENT, acl="@slow @connection", since="6.0.0",
           summary="Says whether the next command's keys are tracked (OPTIN / OPTOUT modes).")
subcommand(client, "trackinginfo", 2, _CLIENT, acl="@slow @connection", since="6.2.0",
           summary="Describes this connection's client-side caching state.")
subcommand(client, "getredir", 2, _CLIENT, acl="@slow @connection", since="6.0.0",
           summary="Tells the id of the client this one's invalidations are redirected to.")
subcommand(client, "help", 2, "loading stale", acl="@slow @connection",
           since="5.0.0", summary="Lists the CLIENT subcommands and what they do.")
