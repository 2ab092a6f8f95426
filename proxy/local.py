"""Commands the proxy answers itself, by spec name.

Connection commands come from the shared Session; COMMAND from the table;
CLUSTER from cluster emulation.  A unit test checks every LOCAL spec has an
entry here.
"""

from cluster.command_docs import command_reply
from cluster.errors import CommandError
from cluster.session import SESSION_HANDLERS, rewrite_config
from proxy.cluster_local import CLUSTER_HANDLERS
from proxy.transactions import TRANSACTION_HANDLERS


def _command(client, args):
    return command_reply(args)


def _monitor(client, args):
    raise CommandError("ERR MONITOR is not supported yet")


def _config_rewrite(client, args):
    rewrite_config(client.worker.config)
    return "OK"


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
    "monitor": _monitor,
    "config|rewrite": _config_rewrite,
})
LOCAL_HANDLERS.update(CLUSTER_HANDLERS)
LOCAL_HANDLERS.update(TRANSACTION_HANDLERS)
