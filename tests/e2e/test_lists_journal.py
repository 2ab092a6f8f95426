"""List writes are journalled as redis-server 7.0 appends them to its AOF.

Reuses the AOF-comparing pair of tests/e2e/test_journal.py: every write of
the script, on either shard, must appear in that shard's journal exactly as
in redis-server's AOF, and a write that changed nothing in neither.
"""

import pytest

from tests.e2e.test_journal import aof_redis, damselfly, pair  # noqa: F401  (fixtures)
from tests.helpers import names_on_shard

SCRIPT = [
    "RPUSH {l} a b c d e f g", "LPUSH {l} z", "LPUSHX {nokey} a", "RPUSHX {l} h",
    "LPOP {l}", "RPOP {l} 2", "lpop {l} 0", "LPOP {nokey} 3", "LSET {l} 0 A",
    "LINSERT {l} BEFORE c C", "LINSERT {l} AFTER nope x", "LREM {l} 0 nope",
    "LREM {l} -1 C", "LTRIM {l} 0 -1", "LTRIM {l} 1 -2", "LMOVE {l} {m} left RIGHT",
    "LMOVE {nokey} {m} LEFT LEFT", "RPOPLPUSH {l} {l}", "RPOPLPUSH {l} {m}",
    "LMPOP 2 {nokey} {l} LEFT COUNT 100", "LMPOP 1 {m} right", "LMPOP 1 {nokey} LEFT",
    "RPUSH {p} x", "RPOP {p} 10", "RPUSH {p} x y", "LTRIM {p} 5 10",
]


@pytest.mark.parametrize("shard", [0, 1])
def test_list_writes_journal_as_redis_aof(pair, shard):  # noqa: F811
    tag = names_on_shard(shard, 1, "tag")[0]
    for line in SCRIPT:
        args = [w[1:-1] + "{%s}" % tag if w.startswith("{") else w for w in line.split()]
        pair.run((shard,), *args)
