"""Pub/Sub through a proxy worker: subscriptions, fan-out, PUBLISH, PUBSUB.

The shards hold every listener (``shardnode/pubsub.py``); a worker registers
its clients there and fans out what comes back:

- (P)SUBSCRIBE sends ``DF.SUB <c|p> <name>...`` to every shard, SSUBSCRIBE
  ``DF.SUB s <name>...`` to each channel's slot owner; the client's reply
  waits until every shard concerned has answered, and each link's answer
  puts the client in that link's fan-out map (:class:`Ack`).  A frame on a
  link comes after the replies the shard sent before it, so the worker
  delivers exactly the messages the shard counted for it: the subscriber
  gets every message published after its subscribe reply, and none that the
  publisher's count left out.  (P|S)UNSUBSCRIBE works the same way back.
- A shard sends one ``M`` (``S``) frame per message per link, naming the
  patterns that matched; the worker writes the message to each subscriber
  of the channel or of those patterns (encoded once per protocol), through
  the client's reply FIFO so it stays in order with the client's replies.
- PUBLISH goes to every shard: one of them (the same for all of a client's
  messages, so they keep their order) as PUBLISH, which reaches its direct
  subscribers and the proxies' subscribers, the others as ``DF.PUBLISH``
  (their direct subscribers only); the reply is the sum.
- ``R`` frames relay a shard port's PUBLISH to the other shards.
- A client that goes away (or RESETs) leaves the fan-out maps at once and
  its names are dropped on the shards (``DF.UNSUB``), so no count leaks.

Subscribers are the ``pubsub`` class of client_output_buffer_limit: a
subscriber given messages is checked after the turn's writes
(:meth:`WorkerPubSub.check_limits`) and disconnected past the limits.
"""

from __future__ import annotations

from cluster.config import buffer_limits
from cluster.pubsub import (KINDS, PUBSUB_HELP, Subscriptions, push_frame,
                            subscribe_replies, unsubscribe_replies)
from cluster.resp import NO_REPLY, encode_command
from cluster.slots import key_slot
from proxy.fanout import FANOUTS, Gather, _first_error, merge_sum
from proxy.links import IGNORE


class Ack:
    """Target of the DF.SUB / DF.UNSUB replies of one (un)subscribe command.

    Each link's reply applies the change to that link's fan-out map (parts
    are ``[ack, reply, shard, names]``); the last one releases the client's
    reply.  ``state`` is the client's Subscriptions when the command ran: a
    client that RESET or left since has a new one (or none), so a late
    DF.SUB reply adds nothing for it.
    """

    __slots__ = ("hub", "client", "slot", "data", "kind", "adding", "remaining", "state")

    def __init__(self, hub, client, slot, data, kind, adding):
        self.hub = hub
        self.client = client
        self.slot = slot
        self.data = data
        self.kind = kind
        self.adding = adding
        self.remaining = 0
        self.state = client.subs

    def deliver(self, part) -> None:
        shard, names = part[2], part[3]
        if self.adding:
            if self.client.subs is self.state and self.client.transport is not None:
                self.hub.add(self.kind, shard, names, self.client)
        else:
            self.hub.remove(self.kind, shard, names, self.client)
        self.remaining -= 1
        if not self.remaining and self.slot is not None:
            self.slot[1] = self.data
            self.client.deliver(self.slot)


class Relay:
    """Target of the DF.PUBLISH replies of one relayed shard-port PUBLISH."""

    __slots__ = ("link", "tag", "remaining", "total")

    def __init__(self, link, tag):
        self.link = link
        self.tag = tag
        self.remaining = 0
        self.total = 0

    def deliver(self, part) -> None:
        if type(part[1]) is bytes and part[1][:1] == b":":
            self.total += int(part[1][1:])
        self.remaining -= 1
        if not self.remaining and self.tag:
            self.link.send_forget(None, [b"DF.RELAYED", b"%d" % self.tag, b"%d" % self.total])


class WorkerPubSub:
    """A worker's fan-out maps: per shard link, name -> {client: None}."""

    def __init__(self, worker):
        self.worker = worker
        n = len(worker.links)
        self.channels = [{} for _ in range(n)]
        self.patterns = [{} for _ in range(n)]
        self.shard_channels = [{} for _ in range(n)]
        self.pushed: list = []  # subscribers given messages this turn (check_limits)
        self._limit_text = None
        self._limit = None

    def _table(self, kind: bytes, shard: int) -> dict:
        if kind == b"c":
            return self.channels[shard]
        if kind == b"p":
            return self.patterns[shard]
        return self.shard_channels[shard]

    def add(self, kind: bytes, shard: int, names, client) -> None:
        table = self._table(kind, shard)
        for name in names:
            subs = table.get(name)
            if subs is None:
                subs = table[name] = {}
            subs[client] = None

    def remove(self, kind: bytes, shard: int, names, client) -> None:
        table = self._table(kind, shard)
        for name in names:
            subs = table.get(name)
            if subs is not None and client in subs:
                del subs[client]
                if not subs:
                    del table[name]

    # -- frames from the shards ------------------------------------------------------

    def on_frame(self, link, frame) -> None:
        kind = frame[0]
        shard = link.shard.index
        if kind == b"M":
            channel, message = frame[1], frame[2]
            subs = self.channels[shard].get(channel)
            if subs:
                self._deliver(subs, b"message", (channel, message))
            if len(frame) > 3:
                patterns = self.patterns[shard]
                for pattern in frame[3:]:
                    subs = patterns.get(pattern)
                    if subs:
                        self._deliver(subs, b"pmessage", (pattern, channel, message))
        elif kind == b"S":
            subs = self.shard_channels[shard].get(frame[1])
            if subs:
                self._deliver(subs, b"smessage", (frame[1], frame[2]))
        elif kind == b"R":
            self._relay(link, frame[1], frame[2], frame[3])

    def _deliver(self, subs, kind: bytes, items) -> None:
        resp2 = resp3 = None
        pushed = self.pushed
        for client in subs:
            if client.proto == 3:
                if resp3 is None:
                    resp3 = push_frame(3, kind, *items)
                client.push(resp3)
            else:
                if resp2 is None:
                    resp2 = push_frame(2, kind, *items)
                client.push(resp2)
            if not client.limit_check:
                client.limit_check = True
                pushed.append(client)

    def _relay(self, origin, tag: int, channel: bytes, message: bytes) -> None:
        relay = Relay(origin, tag)
        payload = encode_command([b"DF.PUBLISH", channel, message])
        for link in self.worker.links:
            if link is not origin:
                relay.remaining += 1
                link.send(None, payload, [relay, None])
        if not relay.remaining and tag:
            origin.send_forget(None, [b"DF.RELAYED", b"%d" % tag, b"0"])
        self.worker.flush_soon()

    # -- back-pressure ------------------------------------------------------------------

    def output_limit(self):
        """client_output_buffer_limit's pubsub class, or None when it sets none."""
        text = self.worker.config.values["client_output_buffer_limit"]
        if text is not self._limit_text:
            hard, soft, seconds = buffer_limits(text)["pubsub"]
            self._limit = (hard, soft, seconds) if hard or soft else None
            self._limit_text = text
        return self._limit

    def check_limits(self) -> None:
        """After the turn's writes: subscribers whose messages pile up go."""
        pushed, self.pushed = self.pushed, []
        limit = self.output_limit()
        for client in pushed:
            client.limit_check = False
            if limit is not None:
                client.check_output_limit(*limit)

    # -- a client's subscriptions ----------------------------------------------------------

    def shards_for(self, kind: bytes, names) -> dict:
        """shard -> the names whose interest that shard keeps."""
        if kind != b"s":
            return {shard: names for shard in range(len(self.worker.links))}
        owner = self.worker.slot_owner
        out: dict = {}
        for name in names:
            out.setdefault(owner[key_slot(name)], []).append(name)
        return out

    def send_change(self, client, kind: bytes, names, adding: bool, slot, data) -> None:
        """DF.SUB / DF.UNSUB on the shards concerned; the reply waits for them."""
        ack = Ack(self, client, slot, data, kind, adding)
        verb = b"DF.SUB" if adding else b"DF.UNSUB"
        links = self.worker.links
        for shard, part_names in self.shards_for(kind, names).items():
            ack.remaining += 1
            links[shard].send(None, encode_command([verb, kind, *part_names]),
                              [ack, None, shard, part_names])
        self.worker.flush_soon()

    def drop(self, client) -> None:
        """The client leaves (or RESETs): out of every fan-out map now, its
        names dropped on the shards."""
        subs = client.subs
        client.subs = None
        client.subscribed = False
        if subs is None:
            return
        links = self.worker.links
        for kind, names in ((b"c", subs.channels), (b"p", subs.patterns),
                            (b"s", subs.shard_channels)):
            if not names:
                continue
            names = list(names)
            for shard, part_names in self.shards_for(kind, names).items():
                self.remove(kind, shard, part_names, client)
                links[shard].send(None, encode_command([b"DF.UNSUB", kind, *part_names]),
                                  [IGNORE, None])
        self.worker.flush_soon()


# -- commands (LOCAL handlers) -----------------------------------------------------------


def _subscribe(client, args):
    kind, reply_name, attr = KINDS[args[0].lower().decode()]
    if client.subs is None:
        client.subs = Subscriptions()
    data, added = subscribe_replies(client.subs, client.proto, kind, reply_name, attr,
                                    args[1:])
    client.subscribed = True
    return _reply_when_registered(client, kind, added, True, data)


def _unsubscribe(client, args):
    kind, reply_name, attr = KINDS[args[0].lower().decode()]
    subs = client.subs if client.subs is not None else Subscriptions()
    data, removed = unsubscribe_replies(subs, client.proto, kind, reply_name, attr, args[1:])
    client.subscribed = not subs.empty()
    return _reply_when_registered(client, kind, removed, False, data)


def _reply_when_registered(client, kind: bytes, changed, adding: bool, data: bytes):
    """The (un)subscribe replies ``data`` wait for the shards to register the
    ``changed`` names (nothing changed: no wait)."""
    slot = client.new_slot()
    if changed:
        client.worker.pubsub.send_change(client, kind, changed, adding, slot, data)
    else:
        slot[1] = data
        client.deliver(slot)
    return NO_REPLY


def _pubsub_help(client, args):
    return PUBSUB_HELP


PUBSUB_HANDLERS = {
    "subscribe": _subscribe,
    "psubscribe": _subscribe,
    "ssubscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "punsubscribe": _unsubscribe,
    "sunsubscribe": _unsubscribe,
    "pubsub|help": _pubsub_help,
}


# -- fan-outs ------------------------------------------------------------------------------


def publish(worker, client, spec, args) -> None:
    """Every shard: one delivers to the proxies' subscribers too (chosen by
    client, so one publisher's messages all go one way, in order)."""
    slot = client.new_slot()
    gather = Gather(client, slot, merge_sum, spec, args)
    links = worker.links
    via = client.id % len(links)
    direct_only = None
    for shard, link in enumerate(links):
        if shard == via:
            payload = encode_command(args)
        else:
            if direct_only is None:
                direct_only = encode_command([b"DF.PUBLISH", args[1], args[2]])
            payload = direct_only
        link.send(None, payload, gather.add_part())


def merge_names(gather, replies):
    """PUBSUB CHANNELS / SHARDCHANNELS: each name once."""
    _first_error(replies)
    seen = {}
    for names in replies:
        for name in names:
            seen[name] = None
    return list(seen)


def merge_counts(gather, replies):
    """PUBSUB NUMSUB / SHARDNUMSUB: the shards' counts summed per name."""
    _first_error(replies)
    out = list(replies[0])
    for reply in replies[1:]:
        for i in range(1, len(out), 2):
            out[i] += reply[i]
    return out


def merge_numpat(gather, replies):
    _first_error(replies)
    return len({name for names in replies for name in names})


def _to_all(merge, send=None):
    def fan(worker, client, spec, args):
        slot = client.new_slot()
        gather = Gather(client, slot, merge, spec, args)
        payload = encode_command(send or args)
        for link in worker.links:
            link.send(client.ctx, payload, gather.add_part())
    return fan


FANOUTS["publish"] = publish
FANOUTS["pubsub_names"] = _to_all(merge_names)
FANOUTS["pubsub_counts"] = _to_all(merge_counts)
FANOUTS["pubsub_numpat"] = _to_all(merge_numpat, [b"DF.PATTERNS"])

