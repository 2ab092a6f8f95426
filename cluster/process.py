"""What every child process of the supervisor does the same way.

A shardnode or proxy worker gets the resolved configuration as JSON in
DAMSELFLY_CONFIG and the cluster's internal secret in DAMSELFLY_SECRET, so it
computes the same topology as its siblings without reading files again; it
logs to standard error with its own label, runs on uvloop, and serves until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys

from cluster.config import LOG_LEVELS, Config


def child_setup(label: str):
    """(config, secret) from the environment; logging and uvloop set up."""
    config = Config(json.loads(os.environ.get("DAMSELFLY_CONFIG", "{}")))
    secret = os.environ.get("DAMSELFLY_SECRET", "")
    # The same level and file as the supervisor (O_APPEND keeps lines whole).
    where = {"filename": config.logfile} if config.logfile else {"stream": sys.stderr}
    logging.basicConfig(level=LOG_LEVELS[config.loglevel],
                        format="%(asctime)s " + label + " %(levelname)s %(message)s", **where)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass
    return config, secret


def serve_until_signalled(start, close) -> None:
    """Run ``await start()``, then wait for SIGTERM/SIGINT, then ``await close()``."""

    async def serve():
        await start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await close()

    asyncio.run(serve())
