"""MONITOR for proxy clients (the lines are made on the shards: shardnode/monitor.py).

A proxy client that sends MONITOR is registered on every shard
(``DF.MONITOR``); each shard pushes it the line of every command it runs.
While any shard has a monitor it says so to every worker (frame ``O 1``):
the worker then sends its clients' requests in their sessions, tells every
shard each client's address once (``DF.ADDR``), and reports the commands it
answers itself (PING, ECHO, CLIENT ...) to shard 0 (``DF.MONLOG``), which
shows them to the proxy's monitors.  ``O 0`` ends that: the hot path is the
plain one again.
"""

from __future__ import annotations

import asyncio

from cluster.resp import NO_REPLY


def monitor(client, args):
    """MONITOR: +OK once every shard has it (and has told every worker that a
    monitor exists), then the lines; a monitor runs no keyspace command after."""
    if client.monitoring:
        return "OK"
    client.monitoring = True
    cid = b"%d" % client.id
    client.note_sessions(range(len(client.worker.links)))
    replies = [link.request(None, [b"DF.MONITOR", cid]) for link in client.worker.links]
    client.refresh_fast()
    slot = client.new_slot()

    async def registered():
        await asyncio.gather(*replies)
        slot[1] = b"+OK\r\n"
        client.deliver(slot)

    asyncio.ensure_future(registered())
    return NO_REPLY


def stop_monitoring(client) -> None:
    """RESET ends MONITOR."""
    if client.monitoring:
        client.monitoring = False
        for link in client.worker.links:
            link.send_forget(None, [b"DF.MONITOR", b"%d" % client.id, b"off"])
        client.refresh_fast()


def shard_monitored(worker, shard: int, on: bool) -> None:
    """A shard says whether it has monitors (frame ``O``)."""
    before = bool(worker.monitor_shards)
    if on:
        worker.monitor_shards.add(shard)
    else:
        worker.monitor_shards.discard(shard)
    worker.monitored = bool(worker.monitor_shards)
    if worker.monitored != before:
        for client in list(worker.clients.values()):
            if worker.monitored:
                send_address(client)
            client.refresh_context()
        worker.flush_soon()


def send_address(client) -> None:
    """Tell every shard the client's address (monitor lines show it)."""
    args = [b"DF.ADDR", b"%d" % client.id, client.addr.encode()]
    client.note_sessions(range(len(client.worker.links)))
    for link in client.worker.links:
        link.send_forget(None, args)


def report_local(client, spec, args) -> None:
    """A command the worker answered itself, for the monitors (via shard 0)."""
    if "admin" in spec.flags or "skip_monitor" in spec.flags:
        return
    client.worker.links[0].send_forget(
        None, [b"DF.MONLOG", b"%d" % client.db_index, client.addr.encode(), *args])
