"""List commands against a real redis-server 7.0: same replies, errors included.

Keys ``A0``/``B0`` live on shard 0 of the 2-shard damselfly and ``A1``/``B1``
on shard 1, so every command runs on both shards and the two-key commands
(LMOVE, RPOPLPUSH, LMPOP) run within a shard and across shards.
"""

import pytest

from tests.helpers import names_on_shard

A0, B0 = names_on_shard(0, 2, "l")
A1, B1 = names_on_shard(1, 2, "l")
KEYS = (A0, B0, A1, B1)


@pytest.mark.parametrize("key", [A0, A1])
def test_push_range_len(diff, key):
    diff.run("RPUSH", key, "a", "b", "c")
    diff.run("LPUSH", key, "x", "y", b"\x00\xff\r\n")
    diff.run("RPUSH", key, "1", "-7", "12345678901", "")
    diff.run("LLEN", key)
    diff.run("LLEN", "missing")
    for start, stop in ((0, -1), (0, 0), (2, 4), (-3, -1), (-100, 100), (5, 2), (100, 200),
                        (-1, -3), (0, 9223372036854775807), (-9223372036854775808, 1)):
        diff.run("LRANGE", key, start, stop)
    diff.run("LRANGE", "missing", 0, -1)
    diff.run("LRANGE", key, "x", 1)
    diff.run("LRANGE", key, 0, "1.5")
    diff.run("TYPE", key)
    diff.run("OBJECT", "ENCODING", key)
