"""Connection-level commands on a shard: the shared Session commands, bound.

A shard answers these for clients that connect to it directly (sharded
cluster mode, tests, redis-cli on a shard port).
"""

from cluster.session import SESSION_HANDLERS
from shardnode.registry import handler

for _name, _fn in SESSION_HANDLERS.items():
    handler(_name)(_fn)
