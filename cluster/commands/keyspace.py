"""Keyspace commands (Redis's db.c / expire.c: the "generic" group)."""

from cluster.commands import ALL, SPLIT, command, family

family("generic")

command("del", -2, "write", keys=(1, -1, 1), acl="@keyspace", route=SPLIT,
        merge="sum", tips=("request_policy:multi_shard", "response_policy:agg_sum"),
        summary="Deletes one or more keys.")
command("exists", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace",
        route=SPLIT, merge="sum", tips=("request_policy:multi_shard",
                                        "response_policy:agg_sum"),
        summary="Determines whether one or more keys exist.")
command("keys", 2, "readonly", acl="@keyspace @dangerous", route=ALL,
        merge="concat", tips=("request_policy:all_shards", "nondeterministic_output_order"),
        summary="Returns all key names that match a pattern.")
