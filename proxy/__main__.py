"""``python -m proxy --worker N``: one proxy worker, started by the supervisor."""

import argparse
import logging

from cluster.process import child_setup, serve_until_signalled
from cluster.topology import Topology


def main(argv=None):
    parser = argparse.ArgumentParser(prog="proxy")
    parser.add_argument("--worker", type=int, default=0)
    opts = parser.parse_args(argv)
    config, secret = child_setup("proxy-%d" % opts.worker)
    from proxy.worker import ProxyWorker

    worker = None

    async def start():
        nonlocal worker
        worker = ProxyWorker(config, Topology(config), secret, opts.worker)
        await worker.start()
        logging.getLogger("damselfly.proxy").info(
            "proxy worker %d listening on %s:%d, %d shards",
            opts.worker, config.bind, config.port, len(worker.links))

    async def close():
        await worker.close()

    serve_until_signalled(start, close)


if __name__ == "__main__":
    main()
