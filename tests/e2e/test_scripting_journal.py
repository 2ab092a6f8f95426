"""A script is journalled as its effects, as Redis 7.0 writes it to its AOF:
the writes its commands made (each in its own journal form: ``SET .. EX`` as
``PXAT``, ``INCRBYFLOAT`` as ``SET .. KEEPTTL``), wrapped in MULTI/EXEC when
there are several, nothing for a script that wrote nothing -- never the EVAL.
Compared entry for entry with a redis-server's AOF (tests/e2e/test_journal.py).
"""

import pytest

from tests.e2e.test_journal import aof_redis, damselfly, pair  # noqa: F401  (fixtures)
from tests.helpers import names_on_shard

A, A2 = names_on_shard(0, 2, "a")
B, B2 = names_on_shard(1, 2, "b")

SCRIPTS = [
    "return redis.call('set', KEYS[1], 'v')",
    "redis.call('set', KEYS[1], 'v'); redis.call('rpush', KEYS[2], 'x', 'y'); return 1",
    "return redis.call('set', KEYS[1], 'v', 'EX', 100)",
    "redis.call('set', KEYS[1], '1.5'); return redis.call('incrbyfloat', KEYS[1], '2')",
    "return redis.call('get', KEYS[1])",
    "return redis.call('set', KEYS[1], 'v', 'NX')",
    "redis.call('del', KEYS[2]); return redis.call('exists', KEYS[2])",
    "redis.call('set', KEYS[1], 'v'); return redis.call('nosuch')",
    "redis.call('select', 3); redis.call('set', KEYS[1], 'in3'); redis.call('select', 0); "
    "return redis.call('set', KEYS[2], 'in0')",
]


@pytest.mark.parametrize("shard,keys", [(0, (A, A2)), (1, (B, B2))])
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_is_journalled_as_its_effects(pair, script, shard, keys):  # noqa: F811
    pair.run((shard,), "EVAL", script, "2", *keys)
    sha = pair.run((shard,), "SCRIPT", "LOAD", script)
    pair.run((shard,), "EVALSHA", sha, "2", *keys)
