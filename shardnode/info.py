"""INFO on a shard: the sections a shard knows (the proxy merges them)."""

from cluster.resp import Verbatim


def shard_info(conn, args):
    ks = conn.server.keyspace
    lines = ["# Keyspace"]
    for db in ks.dbs:
        if db.size:
            lines.append("db%d:keys=%d,expires=%d,avg_ttl=0" % (db.index, db.size, len(db.expires)))
    return Verbatim(("\r\n".join(lines) + "\r\n").encode())
