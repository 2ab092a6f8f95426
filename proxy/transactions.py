"""EXEC/WATCH/UNWATCH for the proxy's clients (MULTI and DISCARD are
cluster/session.py's, shared with the shards).

The proxy queues a client's commands itself (the generic checks run at queue
time in :meth:`ProxyClient.dispatch`, and a failed one dooms the transaction,
as in Redis).  EXEC answers the connection-level commands of the queue in
place (PING, ECHO, SELECT ... -- SELECT moves the database of the commands
after it) and hands the rest to the coordinator as one plan, which runs it
atomically across shards (proxy/coordinator.py) -- or, when the queue holds
a script (whose keys are known only as it runs), to proxy/script_proxy.py,
which runs it with every shard locked.

Out of memory (noeviction, or nothing left to evict): each shard tells the
proxy links when it enters or leaves that state (``F`` frames,
``ShardServer.note_memory``), so a command queued for a shard out of memory
is refused at once, as Redis refuses it (-OOM, and EXEC then answers
EXECABORT); which shard decides is the one that owns the command's keys
(any of them), or any shard for a command without keys (:func:`oom_in_multi`).
EXEC itself is refused (``EXECABORT ... OOM``) when a shard that owns a
denyoom command's keys is out of memory as the EXEC runs: the coordinator
checks each such shard in its lock round, before any part runs, so a
cross-shard EXEC is all or nothing (proxy/coordinator.py).

WATCH goes to the shards that own the keys, in the client's session; a shard
marks the session dirty when a watched key changes, by any client or by
expiry or a flush, and EXEC's ``DF.LOCK`` / ``DF.EXEC`` read that mark.
"""

from __future__ import annotations

from cluster import errors
from cluster.commands import LOCAL, spec_of
from cluster.commands.scripting import SCRIPT_CALLS
from cluster.commands.transactions import OOM_EXEMPT_IN_MULTI
from cluster.errors import CommandError
from cluster.resp import NO_REPLY, encode, encode_command, encode_error
from cluster.slots import key_slot
from proxy.coordinator import MemoryChecks, Plan, command_shards
from proxy.fanout import Gather, merge_ok
from proxy.script_proxy import run_exec_with_scripts


def exec_(client, args):
    if client.multi is None:
        raise CommandError(errors.EXEC_WITHOUT_MULTI)
    queued, failed = client.multi, client.multi_failed
    client.multi_failed = False
    if failed:
        client.multi = None
        client.unwatch()
        if client.worker.full_shards and _refused_at_exec(client.worker, queued):
            raise CommandError(errors.EXECABORT_OOM)  # Redis's OOM check comes first
        raise CommandError(errors.EXECABORT)
    specs = [spec_of(args) for args in queued]  # checked when queued
    with_scripts = any(spec.name in SCRIPT_CALLS for spec in specs)
    plan = Plan(client.worker)
    steps = plan.steps if not with_scripts else []
    for spec, args in zip(specs, queued):
        if spec.name == "unwatch":  # too late: the watches decide this EXEC
            steps.append(("local", encode("OK", client.proto)))
        elif spec.route is LOCAL:
            steps.append(("local", _run_local(client, spec, args)))
        elif with_scripts:
            steps.append(("command", spec, args, client.db_index))
        else:
            plan.add(spec, args, client.db_index)
    client.multi = None  # connection commands above still saw the transaction (CLIENT INFO)
    if with_scripts:  # keys not known before the scripts run (proxy/script_proxy.py)
        run_exec_with_scripts(client, steps, bool(client.watch_shards))
    else:
        client.worker.coordinator.run_exec(client, plan)
    return NO_REPLY


def oom_in_multi(client, spec, args) -> bool:
    """Redis's OOM check for a command arriving inside MULTI (every command
    but EXEC/DISCARD/QUIT/RESET is refused while out of memory): through the
    proxy, while a shard that owns one of its keys is out of memory, or any
    shard for a command without keys.  Called only while some shard is
    (``worker.full_shards``), from :meth:`ProxyClient.dispatch`."""
    if spec.name in OOM_EXEMPT_IN_MULTI:
        return False
    full = client.worker.full_shards
    shards = command_shards(client.worker, spec, args)
    return bool(full) if shards is None else not full.isdisjoint(shards)


def _refused_at_exec(worker, queued) -> bool:
    """EXEC of a doomed transaction: whether Redis's OOM check (before the
    EXECABORT for earlier errors) refuses it -- a denyoom command was queued
    before the error, and a shard of its keys is out of memory now (an
    EVALSHA's or FCALL's flags are the shards' to read: not counted here)."""
    checks = MemoryChecks()
    for args in queued:
        checks.note(worker, spec_of(args), args)
    return not checks.denied.isdisjoint(worker.full_shards)


def exec_memory_checks(worker, steps) -> dict:
    """EXEC of a queue with scripts locks every shard whole
    (proxy/script_proxy.py): shard -> what its ``DF.LOCK`` adds to refuse
    the EXEC with -OOM first (see :class:`MemoryChecks`)."""
    if not any(worker.shard_memory):
        return {}
    checks = MemoryChecks()
    for step in steps:
        if step[0] == "command":
            checks.note(worker, step[1], step[2])
    return checks.lock_modes(worker)


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
