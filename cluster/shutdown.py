"""SHUTDOWN, for the proxy and the shards alike: check the request as Redis
7.0 does, then ask the supervisor to stop the whole server.

Whichever process receives SHUTDOWN (a proxy worker, or a shard a client
reached directly) stops everything, as ``redis-cli shutdown`` users expect:
it sends SIGTERM to the supervisor, whose pid arrives in
``DAMSELFLY_SUPERVISOR_PID``, and the supervisor stops every child (the path
a SIGTERM from outside takes).  A process running without a supervisor
signals itself.

The modifiers mean what they mean in Redis: a save is made when ``SAVE``
is given, or when a save schedule is configured (``save`` or
``snapshot_cron``) and ``NOSAVE`` is not; a failed save keeps the server
running unless ``FORCE``.  The process that received SHUTDOWN makes the
save (the proxy: every shard, proxy/snapshots.py; a shard of a one-shard
server: itself) and then asks the supervisor to stop *without* saving again;
a shard of a bigger server asks the supervisor to stop *with* a save, which
each shard then makes as it stops (a failure is only logged then).
Shutdown is immediate (no replicas to wait for), so there is never one in
progress for ``ABORT`` to cancel.

The supervisor's signals: SIGTERM/SIGINT stop and save if a schedule is
configured (as Redis on SIGTERM), SIGUSR1 stops with a save, SIGUSR2 stops
without one; it passes the same meaning on to the shards.
"""

from __future__ import annotations

import os
import signal

from cluster import errors
from cluster.errors import CommandError

_MODIFIERS = (b"nosave", b"save", b"now", b"force", b"abort")


def check_shutdown(args, config, log) -> tuple:
    """(save, force) if the request may stop the server; else raise the
    error reply.  ``save``: a save must be made first (see the module doc)."""
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
    save = b"save" in given or (schedule_configured(config) and b"nosave" not in given)
    if not save:
        log.warning("User requested shutdown...")
    return save, b"force" in given


def schedule_configured(config) -> bool:
    """A save schedule is set: SHUTDOWN and SIGTERM save (Redis's saveparams)."""
    return bool(config.save.strip() or config.snapshot_cron.strip())


# What request_stop(save) sends the supervisor.
STOP_SIGNALS = {None: signal.SIGTERM, True: signal.SIGUSR1, False: signal.SIGUSR2}


def request_stop(save: bool | None = None) -> None:
    """Signal the supervisor, which stops every process of the server:
    ``save`` True with a save, False without, None as SIGTERM (see the doc)."""
    supervisor = int(os.environ.get("DAMSELFLY_SUPERVISOR_PID") or 0)
    os.kill(supervisor or os.getpid(), STOP_SIGNALS[save])
