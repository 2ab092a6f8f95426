"""Geo writes are journalled as redis-server 7.0 appends them to its AOF:
GEOADD as the ZADD it runs (lower-case ``zadd``, options as given, the
geohash scores), GEOSEARCHSTORE and GEORADIUS[BYMEMBER] ... STORE as sent,
and nothing for a write that changed nothing.

Reuses the AOF-comparing pair of tests/e2e/test_journal.py.
"""

import pytest

from tests.e2e.test_journal import aof_redis, damselfly, pair  # noqa: F401  (fixtures)
from tests.helpers import names_on_shard

SCRIPT = [
    "GEOADD {g} 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "GEOADD {g} NX ch 13.4 38.1 Palermo 12.5 41.9 Rome",
    "GEOADD {g} XX 13.361389 38.115556 Palermo 1 1 absent",
    "GEOADD {g} XX 13.361389 38.115556 Palermo",
    "GEOADD {g} 200 1 bad",
    "GEOSEARCH {g} FROMMEMBER Rome BYRADIUS 1000 km",
    "GEOSEARCHSTORE {d} {g} FROMLONLAT 15 37 BYRADIUS 200 km",
    "GEOSEARCHSTORE {d} {g} FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST",
    "GEORADIUS {g} 15 37 200 km STORE {e}",
    "GEORADIUS {g} 15 37 200 km",
    "GEORADIUSBYMEMBER {g} Rome 500 km STOREDIST {e} COUNT 1",
    "GEORADIUS {g} 0 0 1 m STORE {e}",
    "GEORADIUS {g} 0 0 1 m STORE {e}",
    "GEOSEARCHSTORE {d} {nokey} FROMMEMBER x BYRADIUS 1 m",
    "GEOSEARCHSTORE {d} {nokey} FROMMEMBER x BYRADIUS 1 m",
]


@pytest.mark.parametrize("shard", [0, 1])
def test_geo_writes_journal_as_redis_aof(pair, shard):  # noqa: F811
    tag = names_on_shard(shard, 1, "tag")[0]
    for line in SCRIPT:
        args = [w[1:-1] + "{%s}" % tag if w.startswith("{") else w for w in line.split()]
        pair.run((shard,), *args)
