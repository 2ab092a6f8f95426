"""CLIENT TRACKING for proxy clients: the options live here, the keys on the shards.

A tracking client's reads must reach each shard in its session (the link
context names the client, see ``ProxyClient.link_context``), so the shard
that owns a key remembers who read it; ``DF.TRACK`` gives every shard the
client's options.  The invalidations come back as push frames for the
client (``P <client-id>``, proxy/links.py) and leave in its reply order.

CLIENT CACHING covers the client's next command (or transaction): the proxy
sends ``DF.CACHING <id> y`` to every shard before that command and
``DF.CACHING <id> -`` after it, so whichever shard runs it sees the flag.
"""

from __future__ import annotations


def set_tracking(client, tracking) -> None:
    """CLIENT TRACKING ON (with these options) or OFF (None), on every shard."""
    client.tracking = tracking
    client.note_sessions(range(len(client.worker.links)))
    announce(client)
    client.refresh_context()
    client.worker.flush_soon()


def announce(client, links=None) -> None:
    """Send the client's tracking options to every shard, or to ``links``
    (again after HELLO changed its protocol: the shards encode its
    invalidations)."""
    tracking = client.tracking
    cid = b"%d" % client.id
    if tracking is None:
        args = [b"DF.TRACK", cid, b"-"]
    else:
        # A REDIRECT target gets the RESP2 form; its worker makes it RESP3 as
        # needed (ProxyClient.push), the target's protocol being known there.
        proto = 2 if tracking.redirect else client.proto
        args = [b"DF.TRACK", cid, tracking.flags_arg(), b"%d" % proto,
                b"%d" % tracking.redirect, *tracking.prefixes]
    client.tracking_proto = client.proto
    for link in client.worker.links if links is None else links:
        link.send_forget(None, args)


def set_caching(client) -> None:
    client.tracking.caching = True
    _send_caching(client, b"y")
    client.refresh_fast()  # the next command takes dispatch, which calls after_command


def after_command(client, args) -> None:
    """A command after CLIENT CACHING was routed: the flag is spent, unless
    that was a CLIENT command or the transaction is still being queued."""
    if client.multi is not None or args[0].lower() == b"client":
        return
    client.tracking.caching = False
    _send_caching(client, b"-")
    client.refresh_fast()


def _send_caching(client, flag: bytes) -> None:
    args = [b"DF.CACHING", b"%d" % client.id, flag]
    for link in client.worker.links:
        link.send_forget(None, args)
    client.worker.flush_soon()


def client_exists(client, client_id: int) -> bool:
    """A REDIRECT target: a client of this worker, or an id another worker
    hands out (ids carry their worker's index; that worker's clients are
    not visible from here)."""
    worker = client.worker
    if client_id in worker.clients:
        return True
    other = client_id >> 40
    return other != worker.index and 0 <= other < worker.config.values.get("proxy_workers", 1)


def acknowledge(link, token: int) -> None:
    """Frame ``K <token>``: the shard holds a writer's reply until this
    worker has written the invalidations it pushed before the frame (a
    single Redis writes them before the writer's reply).  Each push went to
    its client's socket at once, or into its output in reply order; that
    output is written now, then ``DF.ACK`` leaves at once."""
    link.worker.flush_clients()
    link.send_forget(None, [b"DF.ACK", b"%d" % token])
    link.flush()


def server_wide_tracking(section: list, shard_parts) -> list:
    """INFO clients: ``tracking_clients`` of the whole server, not of the
    worker answering.  Every shard counts its shard-port trackers, and shard
    0 adds every proxy worker's (each registered them all there with
    DF.TRACK), so the shards' figures add up to the server's count."""
    total = sum(int(part.get("tracking_clients", 0)) for part in shard_parts)
    return [(key, total if key == "tracking_clients" else value) for key, value in section]


def no_such_target(link, client_id: int) -> None:
    """An invalidation for a REDIRECT target of this worker that is gone: the
    shard tells the trackers redirecting there (tracking-redir-broken)."""
    link.send_forget(None, [b"DF.NOCLIENT", b"%d" % client_id])
    link.worker.flush_soon()


def redirect_broken(client, payload: bytes) -> None:
    """``tracking-redir-broken``: TRACKINGINFO shows broken_redirect, and a
    RESP3 client gets the push, as Redis sends it."""
    if client.tracking is not None:
        client.tracking.broken = True
    if client.proto == 3:
        client.push(payload)


def link_restored(worker, link) -> None:
    """A link came back (the shard restarted, or the link dropped): the shard
    forgot this worker's tracking clients and monitors.  Tracking clients get
    a null invalidation (what they cached of that shard may be gone) and are
    registered again, as are monitors."""
    from cluster.tracking import invalidation

    for client in list(worker.clients.values()):
        cid = b"%d" % client.id
        if client.tracking is not None:
            flush = invalidation(None, client.proto, bool(client.tracking.redirect))
            if flush is not None and not client.tracking.redirect:
                client.push(flush)
            announce(client, [link])
        if client.monitoring:
            link.send_forget(None, [b"DF.MONITOR", cid])
    worker.flush_soon()
