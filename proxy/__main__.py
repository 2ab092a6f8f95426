"""``python -m proxy --worker N``: one proxy worker, started by the supervisor."""

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
    parser = argparse.ArgumentParser(prog="proxy")
    parser.add_argument("--worker", type=int, default=0)
    opts = parser.parse_args(argv)
    config = Config(json.loads(os.environ.get("DAMSELFLY_CONFIG", "{}")))
    secret = os.environ.get("DAMSELFLY_SECRET", "")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s proxy-" + str(opts.worker) + " %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    from proxy.worker import ProxyWorker

    async def serve():
        worker = ProxyWorker(config, Topology(config), secret, opts.worker)
        await worker.start()
        logging.getLogger("damselfly.proxy").info(
            "proxy worker %d listening on %s:%d, %d shards",
            opts.worker, config.bind, config.port, len(worker.links))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await worker.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
