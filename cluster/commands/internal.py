"""Internal commands between the proxy and its shards (``DF.*``).

They are refused, as unknown commands, on any connection that has not
presented the cluster's internal secret with DF.LINK.  COMMAND never lists them.
"""

from cluster.commands import KEYED, command, family

family("internal")

# DF.LINK <secret> <worker-id>: marks a connection as a proxy link; replies
# are then each wrapped as one bulk string so the proxy forwards them as bytes.
command("df.link", 3, "fast no_auth", route=KEYED)
# DF.CTX <db> <proto> <flags> [<client-id>]: the database, RESP version and
# client flags (notouch) the link's next requests run with, and the client
# session they belong to (see shardnode/internal.py).
command("df.ctx", -4, "fast", route=KEYED)
# DF.GONE <client-id>: the client disconnected; its session goes.
command("df.gone", 2, "fast", route=KEYED)
# DF.WAIT <client-id> <token> <db> <list|zset> <key>+: push W <client-id> <token>
# when a key gets a value of that type.
command("df.wait", -6, "fast", route=KEYED)
# DF.UNWAIT <client-id> <token>: forget those wake-ups (the proxy is done).
command("df.unwait", 3, "fast", route=KEYED)
# DF.REWAIT <client-id> <token>: the proxy tried after a wake-up and waits on.
command("df.rewait", 3, "fast", route=KEYED)
# DF.UNBLOCK <client-id> <0|1>: CLIENT UNBLOCK of the client's blocked request (1: ERROR).
command("df.unblock", 3, "fast", route=KEYED)
# DF.LOCK <client-id> <r|w|a> <n> [<db> <key>]*: key-level locks for a session.
command("df.lock", -4, "fast", route=KEYED)
# DF.UNLOCK <client-id>: release the session's locks.
command("df.unlock", 2, "fast", route=KEYED)
# DF.EXEC <client-id> <flags> <n> [<db> <argc> <arg>*]*: commands run back to back.
command("df.exec", -4, "", route=KEYED)
# DF.EXPORT <db> key [key ...]: values (DUMP payload, deadline) of keys.
command("df.export", -3, "readonly", route=KEYED)
# DF.RUN <db> <n> [key payload deadline]* <command...>: run a command with n
# foreign keys borrowed; replies [reply, key, payload, deadline, events ...].
command("df.run", -4, "write", route=KEYED)
# DF.IMPORT <db> [key payload deadline events]*: the foreign keys' new state
# and the keyspace notifications to publish for them (shardnode/internal.py).
command("df.import", -2, "write", route=KEYED)
# DF.BUSY <client-id> <1 <function 0|1> <wrote 0|1> <command...> | 0 | w | ?>:
# a proxy-mode script of that client outlived busy_reply_threshold (1: this
# shard answers BUSY to everyone else until 0), wrote (w), was killed (?).
command("df.busy", -3, "fast", route=KEYED)
# DF.SCRIPT <sha1>: the body of a script in this shard's cache, or nil (an
# EVALSHA that got NOSCRIPT elsewhere, proxy/script_proxy.py).
command("df.script", 2, "readonly", route=KEYED)
# DF.JOURNAL [count]: the shard's last journal entries, SELECTs included
# (shardnode/journal.py): what tests read of the command-level hook.
command("df.journal", -1, "readonly admin", route=KEYED)
# DF.SAVE <snapshot-id> <shard-count>: this shard's part of one server-wide
# SAVE; DF.BGSAVE <snapshot-id> <shard-count> [SCHEDULE]: of a BGSAVE
# (shardnode/snapshots.py; the proxy fans them out, proxy/snapshots.py).
command("df.save", 3, "admin", route=KEYED)
command("df.bgsave", -3, "admin", route=KEYED)
# DF.SAVEGO <snapshot-id> <1|0>: the second round of a BGSAVE sent with HOLD:
# every shard agreed, start it (1), or one refused, drop it (0).
command("df.savego", 3, "admin", route=KEYED)
# DF.MISCONF <0|1>: whether another shard's part of the last snapshot
# failed, so this shard refuses writes too (MISCONF is server-wide).
command("df.misconf", 2, "admin", route=KEYED)
# DF.TRACK <client-id> <flags|-> [<proto> <redirect> <prefix>*]: the client's
# CLIENT TRACKING options on this shard, "-": off (shardnode/tracking.py).
command("df.track", -3, "fast", route=KEYED)
# DF.ACK <token>: the worker wrote the pushes the shard sent before its
# frame K <token>, so a writer's reply held for them may go (shardnode/tracking.py).
command("df.ack", 2, "fast", route=KEYED)
# DF.NOCLIENT <client-id>: the worker has no such client (a REDIRECT target went away).
command("df.noclient", 2, "fast", route=KEYED)
# DF.CACHING <client-id> <y|->: CLIENT CACHING holds for the client's next command, or no more.
command("df.caching", 3, "fast", route=KEYED)
# DF.MONITOR <client-id> [off]: the client monitors (its lines are pushed on
# this link), or no longer.
command("df.monitor", -2, "fast", route=KEYED)
# DF.ADDR <client-id> <addr>: the client's address, for monitor lines.
command("df.addr", 3, "fast", route=KEYED)
# DF.MONLOG <db> <addr> <command...>: a command the proxy answered, for the monitors.
command("df.monlog", -4, "fast", route=KEYED)
