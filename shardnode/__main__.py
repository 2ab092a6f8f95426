"""``python -m shardnode --index N``: one shard, started by the supervisor.

The resolved configuration arrives as JSON in DAMSELFLY_CONFIG and the
cluster's internal secret in DAMSELFLY_SECRET, so every process computes the
same topology without reading files again.
"""

import argparse
import logging
import os

from cluster.process import child_setup, serve_until_signalled
from cluster.topology import Topology


def main(argv=None):
    parser = argparse.ArgumentParser(prog="shardnode")
    parser.add_argument("--index", type=int, required=True)
    opts = parser.parse_args(argv)
    config, secret = child_setup("shard-%d" % opts.index)
    from shardnode.node import ShardServer

    topology = Topology(config)
    info = topology.shards[opts.index]
    bind = config.bind if config.cluster_mode == "sharded" else info.host

    server = None

    async def start():
        nonlocal server
        server = ShardServer(config, opts.index, topology, secret)
        await server.start(bind, info.port)
        log = logging.getLogger("damselfly.shard")
        log.info("shard %d listening on %s:%d, slots %d-%d",
                 opts.index, bind, info.port, *info.slots)
        from cluster.supervisor import EXIT_UNREADABLE_DATA, fatal_file
        from shardnode.rdb.snapshot import SnapshotError

        try:
            await server.load_data()
        except SnapshotError as exc:
            # Never serve an empty (or partial) keyspace in place of data we
            # could not read: a later save would overwrite the user's files.
            log.critical("cannot load the data in dir: %s", exc)
            path = fatal_file(opts.index)
            if path:
                try:
                    with open(path, "w") as f:
                        f.write(str(exc))
                except OSError:
                    pass
            logging.shutdown()
            os._exit(EXIT_UNREADABLE_DATA)

    async def close():
        from cluster import process

        server.save_on_stop(process.received[-1] if process.received else None)
        await server.close()

    serve_until_signalled(start, close)


if __name__ == "__main__":
    main()
