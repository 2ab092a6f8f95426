"""Pub/Sub: classic channels and patterns, and sharded (slot-routed) channels.

Through the proxy, (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE are answered by the
worker that holds the client (``proxy/pubsub.py``), which registers the
client's interest on the shards before it replies; PUBLISH goes to every
shard (each counts its direct subscribers, one also the proxy's) and
SPUBLISH to the channel's slot owner.  On a shard port every command runs on
that shard (``shardnode/pubsub.py``).  Metadata as Redis 7.0's: shard
channels are key specs flagged ``not_key``, so cluster clients route them by
slot and a shard answers MOVED/CROSSSLOT for them in sharded mode.
"""

from cluster.commands import ALL, KEYED, LOCAL, command, family, subcommand

family("pubsub")

_SUB = "pubsub noscript loading stale"
_CHANNEL_KEYS = ("not_key",)  # a shard channel routes like a key but names none

command("subscribe", -2, _SUB, route=LOCAL, since="2.0.0",
        complexity="O(N) where N is the number of channels to subscribe to.",
        summary="Starts receiving the messages sent to each named channel.")
command("unsubscribe", -1, _SUB, route=LOCAL, since="2.0.0",
        complexity="O(N) where N is the number of clients already subscribed to a channel.",
        summary="Stops receiving the named channels' messages, or every channel's.")
command("psubscribe", -2, _SUB, route=LOCAL, since="2.0.0",
        complexity="O(N) where N is the number of patterns the client is already "
                   "subscribed to.",
        summary="Starts receiving the messages of every channel a glob pattern matches.")
command("punsubscribe", -1, _SUB, route=LOCAL, since="2.0.0",
        complexity="O(N+M) where N is the number of patterns the client is already "
                   "subscribed and M is the number of total patterns subscribed in the "
                   "system (by any client).",
        summary="Stops receiving by the named patterns, or by every pattern.")
command("publish", 3, "pubsub loading stale fast", route=ALL, merge="publish", since="2.0.0",
        complexity="O(N+M) where N is the number of clients subscribed to the receiving "
                   "channel and M is the total number of subscribed patterns (by any client).",
        summary="Sends a message to a channel's subscribers; answers how many received it.")
command("ssubscribe", -2, _SUB, keys=(1, -1, 1), key_flags=_CHANNEL_KEYS, route=LOCAL,
        since="7.0.0",
        complexity="O(N) where N is the number of shard channels to subscribe to.",
        summary="Starts receiving the messages sent to each named shard channel.")
command("sunsubscribe", -1, _SUB, keys=(1, -1, 1), key_flags=_CHANNEL_KEYS, route=LOCAL,
        since="7.0.0",
        complexity="O(N) where N is the number of clients already subscribed to a shard "
                   "channel.",
        summary="Stops receiving the named shard channels' messages, or every one's.")
command("spublish", 3, "pubsub loading stale fast", keys=(1, 1, 1), key_flags=_CHANNEL_KEYS,
        route=KEYED, since="7.0.0",
        complexity="O(N) where N is the number of clients subscribed to the receiving shard "
                   "channel.",
        summary="Sends a message to a shard channel's subscribers, on the shard that owns "
                "its slot; answers how many received it.")

pubsub = command("pubsub", -2, "", route=LOCAL, since="2.8.0", complexity="Depends on subcommand.",
                 summary="Questions about the server's channels, patterns and subscribers.")
_INTRO = "pubsub loading stale"
subcommand(pubsub, "channels", -2, _INTRO, route=ALL, merge="pubsub_names", since="2.8.0",
           complexity="O(N) where N is the number of active channels, and assuming constant "
                      "time pattern matching (relatively short channels and patterns)",
           summary="Lists the channels with at least one subscriber, optionally those a "
                   "pattern matches.")
subcommand(pubsub, "numsub", -2, _INTRO, route=ALL, merge="pubsub_counts", since="2.8.0",
           complexity="O(N) for the NUMSUB subcommand, where N is the number of requested "
                      "channels",
           summary="Tells how many clients subscribe to each named channel.")
subcommand(pubsub, "numpat", 2, _INTRO, route=ALL, merge="pubsub_numpat", since="2.8.0",
           complexity="O(1)",
           summary="Tells how many distinct patterns clients subscribe by.")
subcommand(pubsub, "shardchannels", -2, _INTRO, route=ALL, merge="pubsub_names", since="7.0.0",
           complexity="O(N) where N is the number of active shard channels, and assuming "
                      "constant time pattern matching (relatively short shard channels).",
           summary="Lists the shard channels with at least one subscriber, optionally those "
                   "a pattern matches.")
subcommand(pubsub, "shardnumsub", -2, _INTRO, route=ALL, merge="pubsub_counts", since="7.0.0",
           complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of "
                      "requested shard channels",
           summary="Tells how many clients subscribe to each named shard channel.")
subcommand(pubsub, "help", 2, "loading stale", route=LOCAL, since="6.2.0", complexity="O(1)",
           summary="Lists the PUBSUB subcommands and what they do.")

# Internal link commands (shardnode/pubsub.py has the frames they go with).
# DF.SUB / DF.UNSUB <c|p|s> <name>+: one more (one fewer) client of the
# sending worker listens by each name (channel, pattern, shard channel).
command("df.sub", -3, "fast", route=KEYED, group="internal")
command("df.unsub", -3, "fast", route=KEYED, group="internal")
# DF.PUBLISH <channel> <message>: deliver to this shard's direct subscribers
# only (the proxy's were reached by the shard the message went through).
command("df.publish", 3, "fast", route=KEYED, group="internal")
# DF.RELAYED <tag> <count>: the other shards' count of a relayed PUBLISH.
command("df.relayed", 3, "fast", route=KEYED, group="internal")
# DF.PATTERNS: the patterns subscribed here (PUBSUB NUMPAT counts names once).
command("df.patterns", 1, "fast", route=KEYED, group="internal")
