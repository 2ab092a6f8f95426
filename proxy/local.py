"""Commands the proxy answers itself, by spec name.

Connection commands come from the shared Session; COMMAND from the table;
CLUSTER from cluster emulation; SHUTDOWN asks the supervisor to stop.  A unit
test checks every LOCAL spec has an entry here.
"""

import asyncio
import logging

from cluster.command_docs import command_reply
from cluster.resp import NO_REPLY
from cluster.session import SESSION_HANDLERS, rewrite_config
from cluster.shutdown import check_shutdown, request_stop
from proxy.cluster_local import CLUSTER_HANDLERS
from proxy.monitor import monitor
from proxy.pubsub import PUBSUB_HANDLERS
from proxy.transactions import TRANSACTION_HANDLERS

log = logging.getLogger("damselfly.proxy")


def _command(client, args):
    return command_reply(args)


def _config_rewrite(client, args):
    rewrite_config(client.worker.config)
    return "OK"


def _shutdown(client, args):
    """No reply: the connection closes once the replies of the commands sent
    before SHUTDOWN are out, then the supervisor stops every process."""
    save, force = check_shutdown(args, client.worker.config, log)

    def stop():
        client.on_close_requested()
        client.worker.stop_listening()  # a client retrying meets a refusal, not a dead backlog
        asyncio.ensure_future(_stop_after_earlier_replies(client))

    if save:  # every shard saves first; a failure is the reply (proxy/snapshots.py)
        from proxy.snapshots import shutdown_after_save

        shutdown_after_save(client, force, stop)
    else:
        stop()
    return NO_REPLY


async def _stop_after_earlier_replies(client, limit: float = 1.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while client.queue and client.transport is not None and loop.time() < deadline:
        await asyncio.sleep(0.005)
    request_stop(save=False)  # any save was made already


LOCAL_HANDLERS = dict(SESSION_HANDLERS)
LOCAL_HANDLERS.update({
    "command": _command,
    "command|count": _command,
    "command|info": _command,
    "command|docs": _command,
    "command|list": _command,
    "command|getkeys": _command,
    "command|getkeysandflags": _command,
    "command|help": _command,
    "monitor": monitor,
    "config|rewrite": _config_rewrite,
    "shutdown": _shutdown,
})
LOCAL_HANDLERS.update(CLUSTER_HANDLERS)
LOCAL_HANDLERS.update(TRANSACTION_HANDLERS)
LOCAL_HANDLERS.update(PUBSUB_HANDLERS)
