"""Internal commands between the proxy and its shards (``DF.*``).

They are refused, as unknown commands, on any connection that has not
presented the cluster's internal secret with DF.LINK.  COMMAND never lists them.
"""

from cluster.commands import KEYED, command, family

family("internal")

# DF.LINK <secret> <worker-id>: marks a connection as a proxy link; replies
# are then each wrapped as one bulk string so the proxy forwards them as bytes.
command("df.link", 3, "fast no_auth", route=KEYED)
# DF.CTX <db> <proto> <flags>: the database, RESP version and client flags
# (notouch) that the link's following commands run with.
command("df.ctx", 4, "fast", route=KEYED)
# DF.LOCK / DF.UNLOCK: hold the shard for one coordinated command.
command("df.lock", 1, "fast", route=KEYED)
command("df.unlock", 1, "fast", route=KEYED)
# DF.EXPORT key [key ...]: values (with TTL) of keys, for a coordinated command.
command("df.export", -2, "readonly", route=KEYED)
# DF.RUN <n> key blob ... <command...>: run a command with n foreign keys
# imported; replies [reply, [key, blob-or-nil] ...] for the foreign keys.
command("df.run", -3, "write", route=KEYED)
# DF.IMPORT key blob-or-empty [...]: write back the foreign keys' new state.
command("df.import", -3, "write", route=KEYED)
# DF.JOURNAL [count]: the shard's last journal entries, SELECTs included
# (shardnode/journal.py): what tests read of the command-level hook.
command("df.journal", -1, "readonly admin", route=KEYED)
