"""EXEC/WATCH/UNWATCH for the proxy's clients (MULTI and DISCARD are
cluster/session.py's, shared with the shards).

The proxy queues a client's commands itself (the generic checks run at queue
time in :meth:`ProxyClient.dispatch`, and a failed one dooms the transaction,
as in Redis).  EXEC answers the connection-level commands of the queue in
place (PING, ECHO, SELECT ... -- SELECT moves the database of the commands
after it) and hands the rest to the coordinator as one plan, which runs it
atomically across shards (proxy/coordinator.py).

WATCH goes to the shards that own the keys, in the client's session; a shard
marks the session dirty when a watched key changes, by any client or by
expiry or a flush, and EXEC's ``DF.LOCK`` / ``DF.EXEC`` read that mark.
"""

from __future__ import annotations

from cluster import errors
from cluster.commands import LOCAL, spec_of
from cluster.errors import CommandError
from cluster.resp import NO_REPLY, encode, encode_command, encode_error
from cluster.slots import key_slot
from proxy.coordinator import Plan
from proxy.fanout import Gather, merge_ok


def exec_(client, args):
    if client.multi is None:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    queued, failed = client.multi, client.multi_failed
    client.multi_failed = False
    if failed:
        client.multi = None
        client.unwatch()
        raise CommandError(errors.EXECABORT)
    plan = Plan(client.worker)
    for args in queued:
        spec = spec_of(args)  # checked when queued
        if spec.name == "unwatch":  # too late: the watches decide this EXEC
            plan.steps.append(("local", encode("OK", client.proto)))
        elif spec.route is LOCAL:
            plan.steps.append(("local", _run_local(client, spec, args)))
        else:
            plan.add(spec, args, client.db_index)
    client.multi = None  # connection commands above still saw the transaction (CLIENT INFO)
    client.worker.coordinator.run_exec(client, plan)
    return NO_REPLY


def abort_exec(client, reason: str) -> str:
    """EXEC refused by a generic check: the transaction and the watches end."""
    client.multi = None
    client.multi_failed = False
    client.unwatch()
    return errors.exec_abort(reason)


def _run_local(client, spec, args) -> bytes:
    """A connection-level command inside EXEC: its encoded reply, now."""
    fn = client.worker.local_handlers.get(spec.name)
    try:
        if fn is None:
            raise CommandError("ERR '%s' is not supported by the proxy" % spec.name)
        reply = fn(client, args)
    except CommandError as exc:
        return encode_error(exc.args[0])
    client.refresh_context()
    return encode(reply if reply is not NO_REPLY else "OK", client.proto)


def watch(client, args):
    if client.multi is not None:
        raise CommandError(errors.WATCH_IN_MULTI)
    worker = client.worker
    owner = worker.slot_owner
    groups: dict = {}
    for key in args[1:]:
        groups.setdefault(owner[key_slot(key)], [b"WATCH"]).append(key)
    ctx = client.session_ctx()
    client.note_sessions(groups)
    client.watch_shards.update(groups)
    gather = Gather(client, client.new_slot(), merge_ok, None, args)
    for shard, part in groups.items():
        worker.links[shard].send(ctx, encode_command(part), gather.add_part())
    return NO_REPLY


def unwatch(client, args):
    client.unwatch()
    return "OK"




TRANSACTION_HANDLERS = {
    "exec": exec_,
    "watch": watch,
    "unwatch": unwatch,
}
