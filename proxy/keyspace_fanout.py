"""Custom fan-outs for keyspace commands: SCAN and RANDOMKEY.

SCAN's cursor is a slot number.  Each call goes to the one shard that owns
slot ``cursor`` (cursor 0: the first shard), which returns whole slots from
there; when that shard reports its range done, the cursor handed back is the
next shard's first slot, and 0 only after the last shard.  A key present for
the whole scan lives in one slot the walk passes through, so it is returned.
"""

from __future__ import annotations

import random

from cluster.cursor import parse_cursor
from cluster.errors import CommandError
from cluster.resp import encode_command
from cluster.slots import SLOT_COUNT
from proxy.fanout import FANOUTS, MERGES, Gather, _first_error


def merge_scan(gather, replies):
    """Rewrite a shard's "done" cursor into the next shard's first slot."""
    _first_error(replies)
    cursor, keys = replies[0]
    following = gather.extra
    if cursor == b"0" and following is not None:
        cursor = b"%d" % following
    return [cursor, keys]


def scan(worker, client, spec, args) -> None:
    try:
        cursor = parse_cursor(args[1])
    except CommandError as exc:
        client.error_reply(exc.args[0])
        return
    shards = worker.topology.shards
    if cursor >= SLOT_COUNT:
        # Past every slot: the last shard checks the options and ends the scan.
        shard, following = len(shards) - 1, None
    else:
        shard = worker.slot_owner[cursor]
        following = shards[shard + 1].slots[0] if shard + 1 < len(shards) else None
    gather = Gather(client, client.new_slot(), merge_scan, spec, args, following)
    worker.links[shard].send(client.ctx, encode_command(args), gather.add_part())


def merge_randomkey(gather, replies):
    """A random key among the shards' picks; nil when every shard is empty."""
    _first_error(replies)
    keys = [key for key in replies if key is not None]
    return random.choice(keys) if keys else None


FANOUTS["scan"] = scan
MERGES["randomkey"] = merge_randomkey
