"""Pub/Sub pieces the proxy and the shards share: a client's subscriptions,
the messages and replies as clients read them, subscribed mode's rules.

Where messages flow is in ``shardnode/pubsub.py`` (the shard side and the
link frames) and ``proxy/pubsub.py`` (the worker's fan-out).
"""

from __future__ import annotations

# Commands a RESP2 client may send while subscribed (Redis's processCommand);
# the error names the command (cluster/errors.py SUBSCRIBED_CONTEXT).
SUBSCRIBED_ALLOWED = frozenset({"subscribe", "unsubscribe", "psubscribe", "punsubscribe",
                                "ssubscribe", "sunsubscribe", "ping", "quit", "reset"})

# command -> (kind letter of the link commands, reply name, Subscriptions attribute)
KINDS = {
    "subscribe": (b"c", b"subscribe", "channels"),
    "psubscribe": (b"p", b"psubscribe", "patterns"),
    "ssubscribe": (b"s", b"ssubscribe", "shard_channels"),
    "unsubscribe": (b"c", b"unsubscribe", "channels"),
    "punsubscribe": (b"p", b"punsubscribe", "patterns"),
    "sunsubscribe": (b"s", b"sunsubscribe", "shard_channels"),
}


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(data), data)


def push_frame(proto: int, kind: bytes, *items: bytes) -> bytes:
    """A pub/sub message as a client reads it: an array in RESP2, a push in RESP3."""
    return b"%c%d\r\n%b%b" % (62 if proto == 3 else 42, len(items) + 1, bulk(kind),
                              b"".join(bulk(i) for i in items))


def subscription_reply(proto: int, kind: bytes, name, count: int) -> bytes:
    """``[subscribe, name, count]``; name None: an UNSUBSCRIBE with nothing to drop."""
    head = b">3\r\n" if proto == 3 else b"*3\r\n"
    if name is None:
        named = b"_\r\n" if proto == 3 else b"$-1\r\n"
    else:
        named = bulk(name)
    return b"%b%b%b:%d\r\n" % (head, bulk(kind), named, count)


class Subscriptions:
    """One client's subscriptions (insertion-ordered, as Redis lists them)."""

    __slots__ = ("channels", "patterns", "shard_channels")

    def __init__(self):
        self.channels: dict = {}
        self.patterns: dict = {}
        self.shard_channels: dict = {}

    def count(self, kind: bytes) -> int:
        """What a (un)subscribe reply shows: channels plus patterns, or (``s``)
        the shard channels alone, as Redis 7.0 counts them."""
        if kind == b"s":
            return len(self.shard_channels)
        return len(self.channels) + len(self.patterns)

    def empty(self) -> bool:
        return not (self.channels or self.patterns or self.shard_channels)

    def counts(self) -> tuple:
        return (len(self.channels), len(self.patterns), len(self.shard_channels))


def unsubscribe_replies(subs, proto: int, kind: bytes, reply_name: bytes, attr: str,
                        names) -> tuple:
    """Drop ``names`` (all of the kind when empty) from ``subs``: (the replies,
    the names that were subscribed)."""
    mine = getattr(subs, attr)
    names = names or list(mine)
    removed = []
    out = []
    for name in names:
        if name in mine:
            del mine[name]
            removed.append(name)
        out.append(subscription_reply(proto, reply_name, name, subs.count(kind)))
    if not names:
        out.append(subscription_reply(proto, reply_name, None, subs.count(kind)))
    return b"".join(out), removed


def subscribe_replies(subs, proto: int, kind: bytes, reply_name: bytes, attr: str,
                      names) -> tuple:
    """Add ``names`` to ``subs``: (the replies, the names that are new)."""
    mine = getattr(subs, attr)
    added = []
    out = []
    for name in names:
        if name not in mine:
            mine[name] = None
            added.append(name)
        out.append(subscription_reply(proto, reply_name, name, subs.count(kind)))
    return b"".join(out), added


PUBSUB_HELP = [
    b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CHANNELS [<pattern>]",
    b"    List the channels that have subscribers, those matching the pattern if given.",
    b"NUMPAT",
    b"    Count the distinct patterns clients subscribe by.",
    b"NUMSUB [<channel> ...]",
    b"    For each channel given, its number of subscribers.",
    b"SHARDCHANNELS [<pattern>]",
    b"    List the shard channels that have subscribers, those matching the pattern if given.",
    b"SHARDNUMSUB [<shardchannel> ...]",
    b"    For each shard channel given, its number of subscribers.",
    b"HELP",
    b"    Print this help.",
]
