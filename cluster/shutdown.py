"""SHUTDOWN, for the proxy and the shards alike: check the request as Redis
7.0 does, then ask the supervisor to stop the whole server.

Whichever process receives SHUTDOWN (a proxy worker, or a shard a client
reached directly) stops everything, as ``redis-cli shutdown`` users expect:
it sends SIGTERM to the supervisor, whose pid arrives in
``DAMSELFLY_SUPERVISOR_PID``, and the supervisor stops every child (the path
a SIGTERM from outside takes).  A process running without a supervisor
signals itself.

There is no persistence yet, so the modifiers mean what they mean in Redis
with saving impossible: a save asked for (``SAVE``, or a ``save`` schedule
once one is implemented) fails and the server keeps running -- unless
``FORCE`` says to exit anyway.  Shutdown is immediate (no replicas to wait
for), so there is never one in progress for ``ABORT`` to cancel.
"""

from __future__ import annotations

import os
import signal

from cluster import errors
from cluster.errors import CommandError

_MODIFIERS = (b"nosave", b"save", b"now", b"force", b"abort")


def check_shutdown(args, config, log) -> None:
    """Return if the server may stop now; else raise the error reply."""
    given = set()
    for arg in args[1:]:
        word = arg.lower()
        if word not in _MODIFIERS:
            raise CommandError(errors.SYNTAX)
        given.add(word)
    if (b"abort" in given and len(given) > 1) or {b"nosave", b"save"} <= given:
        raise CommandError(errors.SYNTAX)
    if b"abort" in given:
        raise CommandError(errors.NO_SHUTDOWN_IN_PROGRESS)
    if b"save" in given or (config.effective("save") and b"nosave" not in given):
        if b"force" not in given:
            log.warning("Error trying to save the DB, can't exit: snapshots are not "
                        "implemented yet (SHUTDOWN NOSAVE, or SAVE FORCE, stops anyway)")
            raise CommandError(errors.SHUTDOWN_FAILED)
        log.warning("Error trying to save the DB (snapshots are not implemented yet). "
                    "Exit anyway.")
    log.warning("User requested shutdown...")


def request_stop() -> None:
    """SIGTERM to the supervisor, which stops every process of the server."""
    supervisor = int(os.environ.get("DAMSELFLY_SUPERVISOR_PID") or 0)
    os.kill(supervisor or os.getpid(), signal.SIGTERM)
