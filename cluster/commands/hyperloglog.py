"""HyperLogLog commands (Redis's hyperloglog.c): cardinality sketches kept in
string values.

PFCOUNT and PFMERGE are keyed on all their keys: keys on other shards are
brought in by the coordinator as string values, so a union over several
shards is counted, or merged, atomically.
"""

from cluster.commands import ALL, command, family

family("hyperloglog")

command("pfadd", -2, "write denyoom fast", keys=(1, 1, 1), acl="@hyperloglog",
        key_flags=("RW", "insert"), since="2.8.9",
        summary="Adds elements to the HyperLogLog sketch at a key, creating it if needed.",
        complexity="O(1) to add every element.")
command("pfcount", -2, "readonly may_replicate", keys=(1, -1, 1), acl="@hyperloglog",
        key_flags=("RW", "access"),
        key_notes="RW because it may change the internal representation of the key, "
                  "and propagate to replicas",
        since="2.8.9",
        summary="Estimates how many distinct elements the HyperLogLog sketches at the "
                "keys have seen together.",
        complexity="O(1) with a very small average constant time when called with a "
                   "single key. O(N) with N being the number of keys, and much bigger "
                   "constant times, when called with multiple keys.")
command("pfmerge", -2, "write denyoom", keys=(1, -1, 1), acl="@hyperloglog",
        key_flags=(("RW", "access", "insert"), ("RO", "access")), since="2.8.9",
        summary="Combines HyperLogLog sketches into the one at the destination key.",
        complexity="O(N) to merge N HyperLogLogs, but with high constant times.")
command("pfdebug", 3, "write denyoom admin", keys=(2, 2, 1), acl="@hyperloglog",
        key_flags=("RW", "access"), since="2.8.9",
        summary="Shows or converts the internal form of a HyperLogLog sketch (for debugging).",
        complexity="N/A")
command("pfselftest", 1, "admin", acl="@hyperloglog", route=ALL, merge="first",
        since="2.8.9",
        summary="Checks the HyperLogLog register code and estimator (for testing).",
        complexity="N/A")
