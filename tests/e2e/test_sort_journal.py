"""SORT ... STORE is journalled as redis-server 7.0 appends it to its AOF:
as sent when it changed the destination, not at all when it changed nothing
(an empty result and no destination) or when it only replied.

Reuses the AOF-comparing pair of tests/e2e/test_journal.py, with every key
of one case on one shard (a hash tag); a STORE whose keys span shards is
journalled by the destination's shard as the key's state (DF.RUN).
"""

import pytest

from tests.e2e.test_journal import aof_redis, damselfly, pair  # noqa: F401  (fixtures)
from tests.helpers import names_on_shard

SCRIPT = [
    "RPUSH {l} 3 1 2", "SET {w}1 9", "SET {w}2 8", "SORT {l}", "SORT {l} STORE {d}",
    "SORT {l} BY {w}* GET # GET {w}* STORE {d}", "SORT {l} LIMIT 5 5 STORE {d}",
    "SORT {l} LIMIT 5 5 STORE {d}", "SORT {nokey} STORE {d}", "SET {d} x",
    "SORT {l} DESC STORE {d}", "SORT_RO {l} BY {w}*", "SADD {s} b a",
    "SORT {s} BY nosort STORE {d}", "ZADD {z} 1 a 2 b", "SORT {z} BY nosort DESC STORE {d}",
]


@pytest.mark.parametrize("shard", [0, 1])
def test_sort_store_journals_as_redis_aof(pair, shard):  # noqa: F811
    tag = names_on_shard(shard, 1, "tag")[0]
    for line in SCRIPT:
        args = [w[1:-1] + "{%s}" % tag if w.startswith("{") and w.endswith("}") else
                w.replace("{w}", "w{%s}" % tag) for w in line.split()]
        pair.run((shard,), *args)


def test_cross_shard_store_is_the_destination_state(pair):  # noqa: F811
    source = names_on_shard(0, 1, "src")[0]
    dest = names_on_shard(1, 1, "dst")[0]
    pair.ours.call("RPUSH", source, "2", "1")
    pair.redis.call("RPUSH", source, "2", "1")
    pair.run_unordered([("RPUSH", source, "3")])
    assert pair.ours.call("SORT", source, "STORE", dest) == 3
    new = pair.journals.entries(1)[pair.seen[1]:]
    assert [entry[1][0].upper() for entry in new][-1:] == [b"RESTORE"], new
    assert pair.journals.entries(0)[pair.seen[0]:] == []
