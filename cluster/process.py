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


# The signal that stopped this process: a shard saves on SIGUSR1, and on
# SIGTERM/SIGINT when a save schedule is set, not on SIGUSR2 (cluster/shutdown.py).
received = []


def serve_until_signalled(start, close) -> None:
    """Run ``await start()``, then wait for SIGTERM/SIGINT/SIGUSR1/SIGUSR2
    (kept in :data:`received`), then ``await close()``."""

    async def serve():
        await start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(sig):
            received.append(sig)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
            loop.add_signal_handler(sig, on_signal, sig)
        await stop.wait()
        await close()

    asyncio.run(serve())
