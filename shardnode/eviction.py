"""Eviction: which keys go when a shard is over its share of ``maxmemory``.

The interface (issue 12, shared by the accounting in ``shardnode/memory.py``
and the policies): one :class:`Evictor` per shard keyspace;
``evict(keyspace, bytes_needed)`` frees at least ``bytes_needed`` when the
policy allows and returns the bytes freed.  This is the stub the policies
replace: it evicts nothing, as ``noeviction`` does.
"""

from __future__ import annotations


class Evictor:
    def __init__(self, keyspace, config):
        self.keyspace = keyspace
        self.config = config

    def evict(self, keyspace, bytes_needed: int) -> int:
        return 0
