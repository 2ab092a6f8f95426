"""Commands that go to several shards at once: SPLIT by key, or ALL shards.

A :class:`Gather` collects the parts' replies and, when every part is in,
calls the merge named by the spec (``merge`` in the command table) to build
the client's reply.  Merges receive decoded part replies; an error in any
part becomes the reply (Redis's "all succeeded" policy) unless the merge says
otherwise.  Custom fan-outs (SCAN, RANDOMKEY, INFO ...) register in
:data:`FANOUTS`; a unit test checks every ``merge`` in the table has one.
"""

from __future__ import annotations

import hiredis

from cluster.errors import CommandError, wrong_arity
from cluster.resp import RawReply, encode, encode_command, encode_error
from cluster.slots import key_slot


_decoder = [hiredis.Reader(replyError=CommandError)]


def decode_reply(data):
    """Decode one encoded reply (bytes from a link) into Python values.

    One reader serves every call (making a reader costs more than parsing a
    short reply); ``data`` is always one whole reply, so it is left empty.
    """
    if type(data) is not bytes:
        return data  # already decoded (errors from a down link are bytes too)
    reader = _decoder[0]
    reader.feed(data)
    value = reader.gets()
    if value is False:  # pragma: no cover - a truncated reply: start afresh
        _decoder[0] = hiredis.Reader(replyError=CommandError)
    return value


class Gather:
    """Target for the part slots of one fan-out; merges when complete."""

    __slots__ = ("client", "slot", "parts", "remaining", "merge", "spec", "args", "extra")

    def __init__(self, client, slot, merge, spec, args, extra=None):
        self.client = client
        self.slot = slot
        self.parts = []
        self.remaining = 0
        self.merge = merge
        self.spec = spec
        self.args = args
        self.extra = extra

    def add_part(self) -> list:
        part = [self, None]
        self.parts.append(part)
        self.remaining += 1
        return part

    def deliver(self, part):
        self.remaining -= 1
        if self.remaining:
            return
        self.slot[1] = self.merged()
        self.client.deliver(self.slot)

    def merged(self) -> bytes:
        """The client's reply, encoded, from the parts' replies."""
        replies = [decode_reply(p[1]) for p in self.parts]
        try:
            return encode(self.merge(self, replies), self.client.proto)
        except CommandError as exc:
            self.client.worker.count_error(exc.args[0])
            return encode_error(exc.args[0])


def _first_error(replies):
    for r in replies:
        if isinstance(r, CommandError):
            raise r


def merge_sum(g, replies):
    _first_error(replies)
    return sum(replies)


def merge_ok(g, replies):
    _first_error(replies)
    return "OK"


def merge_concat(g, replies):
    _first_error(replies)
    out = []
    for r in replies:
        out.extend(r)
    return out


def merge_raw_first(g, replies):
    _first_error(replies)
    return RawReply(g.parts[0][1])


def merge_mget(g, replies):
    """Put each shard's values back at their keys' positions."""
    _first_error(replies)
    out = [None] * g.extra[0]
    for positions, values in zip(g.extra[1], replies):
        for pos, value in zip(positions, values):
            out[pos] = value
    return out


def merge_logical_and(g, replies):
    """Element by element AND of the shards' 0/1 arrays (SCRIPT EXISTS:
    a script counts as cached when every shard has it)."""
    _first_error(replies)
    return [int(all(values)) for values in zip(*replies)]


MERGES = {
    "sum": merge_sum,
    "ok": merge_ok,
    "concat": merge_concat,
    "first": merge_raw_first,
    "mget": merge_mget,
    "logical_and": merge_logical_and,
}

# Custom fan-outs: name -> function(worker, client, spec, args).  Family
# modules of the proxy register here (see proxy/merges.py).
FANOUTS: dict = {}


def fanout(worker, client, spec, args) -> None:
    custom = FANOUTS.get(spec.merge)
    if custom is not None:
        custom(worker, client, spec, args)
        return
    merge = MERGES[spec.merge]
    if spec.route == "split":
        split(worker, client, spec, args, merge)
    else:
        to_all(worker, client, spec, args, merge)


def to_all(worker, client, spec, args, merge, extra=None, send=None) -> None:
    """``args`` (or the internal request ``send`` made of them) to every shard."""
    slot = client.new_slot()
    gather = Gather(client, slot, merge, spec, args, extra)
    payload = encode_command(args if send is None else send)
    parts = [gather.add_part() for _ in worker.links]
    for link, part in zip(worker.links, parts):
        link.send(client.ctx, payload, part)


def split(worker, client, spec, args, merge) -> None:
    """Group the key arguments (with their values, by key_step) by shard."""
    step = spec.key_step or 1
    if (len(args) - spec.first_key) % step:  # MSET with a key missing its value
        client.error_reply(wrong_arity(spec.name))  # before any shard writes
        return
    owner = worker.slot_owner
    shards = {owner[key_slot(args[pos])] for pos in spec.key_positions(args)}
    if len(shards) == 1:
        client.forward(shards.pop(), args)
        return
    # Keys on several shards: atomic, under key locks (proxy/coordinator.py).
    worker.coordinator.run_command(client, spec, args)
