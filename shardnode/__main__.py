"""``python -m shardnode --index N``: one shard, started by the supervisor.

The resolved configuration arrives as JSON in DAMSELFLY_CONFIG and the
cluster's internal secret in DAMSELFLY_SECRET, so every process computes the
same topology without reading files again.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from cluster.config import Config
from cluster.topology import Topology


def main(argv=None):
    parser = argparse.ArgumentParser(prog="shardnode")
    parser.add_argument("--index", type=int, required=True)
    opts = parser.parse_args(argv)
    config = Config(json.loads(os.environ.get("DAMSELFLY_CONFIG", "{}")))
    secret = os.environ.get("DAMSELFLY_SECRET", "")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s shard-" + str(opts.index) + " %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    from shardnode.node import ShardServer

    topology = Topology(config)
    info = topology.shards[opts.index]
    bind = config.bind if config.cluster_mode == "sharded" else info.host

    async def serve():
        server = ShardServer(config, opts.index, topology, secret)
        await server.start(bind, info.port)
        logging.getLogger("damselfly.shard").info(
            "shard %d listening on %s:%d, slots %d-%d",
            opts.index, bind, info.port, *info.slots)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
