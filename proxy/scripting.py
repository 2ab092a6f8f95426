"""Keeping the shards' script caches alike, seen from the proxy.

The script cache is per server in Redis: after ``EVAL body`` anywhere,
``EVALSHA sha`` works with any keys and SCRIPT EXISTS says 1.  A shard caches
only the scripts it ran or loaded, so the first time this proxy process sees
an EVAL of a body it sends ``SCRIPT LOAD body`` to every shard (replies
ignored), ahead of the EVAL on the same links.  SCRIPT LOAD and SCRIPT FLUSH
go to every shard anyway (their specs route to ALL); a flush through this
process forgets what it shared, so the next EVAL shares again.

With several proxy workers, a SCRIPT FLUSH through one worker is not seen
by the others' records: one of them will not re-share a body it shared
before the flush, so after its EVAL only the shard that ran it has the
script.  The cache is still per server because a script counts as cached
when *any* shard has it: SCRIPT EXISTS merges the shards' answers with OR,
and an EVALSHA that gets NOSCRIPT from its shard asks every shard for the
body (``DF.SCRIPT``), loads it everywhere and runs again -- or answers
NOSCRIPT when no shard has it, as Redis would after the flush
(proxy/script_proxy.py).  That costs a few round trips once per script and
flush, nothing on the way of a cached script.
"""

from __future__ import annotations

import hashlib

from cluster.commands import COMMANDS
from cluster.errors import CommandError
from proxy.fanout import MERGES, merge_ok

_shared: set = set()  # SHA1 digests of the bodies sent to every shard


def share_script(client, spec, args) -> None:
    """Before an EVAL/EVAL_RO goes to its shard: load its body everywhere, once."""
    digest = hashlib.sha1(args[1]).digest()
    if digest in _shared:
        return
    _shared.add(digest)
    for link in client.worker.links:
        link.send_forget(None, [b"SCRIPT", b"LOAD", args[1]])


def merge_script_flush(gather, replies):
    """SCRIPT FLUSH went to every shard: forget what was shared."""
    _shared.clear()
    return merge_ok(gather, replies)


# Keyed commands the proxy prepares before routing them (ProxyClient.dispatch).
KEYED_HOOKS = {COMMANDS["eval"]: share_script, COMMANDS["eval_ro"]: share_script}
def merge_logical_or(gather, replies):
    """SCRIPT EXISTS: 1 where any shard holds the script (see module doc)."""
    for r in replies:
        if isinstance(r, CommandError):
            raise r
    return [int(any(values)) for values in zip(*replies)]


MERGES["script_flush"] = merge_script_flush
MERGES["logical_or"] = merge_logical_or
