"""Set writes are journalled as redis-server 7.0 appends them to its AOF.

Reuses the AOF-comparing pair of tests/e2e/test_journal.py.  Only
deterministic histories: SPOP takes a member at random unless it takes the
only one or all of them.
"""

import pytest

from tests.e2e.test_journal import aof_redis, damselfly, pair  # noqa: F401  (fixtures)
from tests.helpers import names_on_shard

SCRIPT = [
    "SADD {s} a b c", "SADD {s} a", "SREM {s} z", "SREM {s} a z", "SADD {t} b x",
    "SMOVE {s} {t} b", "SMOVE {s} {t} zz", "SMOVE {s} {s} c", "SMOVE {s} {u} c",
    "SINTERSTORE {d} {t} {u}", "SINTERSTORE {d} {t} {nokey}", "SADD {d} 1",
    "SINTERSTORE {d} {t} {nokey}", "SUNIONSTORE {d} {t} {u}", "SDIFFSTORE {d} {t} {t}",
    "SDIFFSTORE {d} {t} {t}", "SUNIONSTORE {d} {nokey}", "SADD {one} m", "SPOP {one}",
    "SPOP {one}", "SADD {p} 1 2 3", "SPOP {p} 5", "SPOP {p} 0", "SADD {p} 1",
    "SPOP {p} 0", "SPOP {p} 1", "SREM {t} b x",
]


@pytest.mark.parametrize("shard", [0, 1])
def test_set_writes_journal_as_redis_aof(pair, shard):  # noqa: F811
    tag = names_on_shard(shard, 1, "tag")[0]
    for line in SCRIPT:
        args = [w[1:-1] + "{%s}" % tag if w.startswith("{") else w for w in line.split()]
        pair.run((shard,), *args)


@pytest.mark.parametrize("shard", [0, 1])
def test_partial_spop_journals_one_srem_per_member_in_a_transaction(pair, shard):  # noqa: F811
    """The members differ (random picks), the form must not: MULTI, one SREM
    per popped member, EXEC; and one SREM alone for a single member."""
    key = names_on_shard(shard, 1, "pop")[0]
    pair.run((shard,), "SADD", key, "a", "b", "c", "d", "e")
    for count in ("3", "1"):
        popped = pair.ours.call("SPOP", key, count)
        pair.redis.call("SPOP", key, count)
        aof = pair.aof.entries()
        want = aof[pair.seen_aof:]
        pair.seen_aof = len(aof)
        entries = pair.journals.entries(shard)
        got = entries[pair.seen[shard]:]
        pair.seen[shard] = len(entries)
        assert len(got) == len(want), (got, want)
        assert [e[1][0].upper() for e in got] == [e[1][0].upper() for e in want], (got, want)
        assert sorted(e[1][2] for e in got if e[1][0].upper() == b"SREM") == sorted(popped)
