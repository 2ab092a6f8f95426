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
    # redis.set_repl: REPL_NONE keeps the commands after it out of the AOF
    "redis.set_repl(redis.REPL_NONE); redis.call('set', KEYS[1], 'quiet'); "
    "redis.set_repl(redis.REPL_ALL); return redis.call('set', KEYS[2], 'heard')",
    "redis.set_repl(redis.REPL_NONE); return redis.call('set', KEYS[1], 'quiet')",
    "redis.set_repl(redis.REPL_AOF); return redis.call('set', KEYS[1], 'v')",
    "redis.set_repl(redis.REPL_NONE); redis.call('set', KEYS[1], 'q'); "
    "redis.set_repl(redis.REPL_AOF); redis.call('incr', KEYS[2]); return 1",
]


@pytest.mark.parametrize("shard,keys", [(0, (A, A2)), (1, (B, B2))])
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_is_journalled_as_its_effects(pair, script, shard, keys):  # noqa: F811
    pair.run((shard,), "EVAL", script, "2", *keys)
    sha = pair.run((shard,), "SCRIPT", "LOAD", script)
    pair.run((shard,), "EVALSHA", sha, "2", *keys)


def test_set_repl_none_in_proxy_mode(pair):  # noqa: F811
    """A script touching an undeclared key of another shard runs in proxy
    mode: REPL_NONE keeps its later commands out of every shard's journal."""
    script = ("redis.call('get', ARGV[1]); redis.call('set', KEYS[1], 'a'); "
              "redis.set_repl(redis.REPL_NONE); "
              "redis.call('set', ARGV[1], 'quiet'); redis.set_repl(redis.REPL_ALL); "
              "return redis.call('set', ARGV[2], 'b')")
    journals = pair.journals
    before = [len(journals.entries(shard)) for shard in (0, 1)]
    for _ in range(2):  # handed back the first time, straight to proxy mode the second
        assert pair.ours.call("EVAL", script, "1", A, B, A2) == b"OK"
    assert pair.ours.call("GET", B) == b"quiet"
    written = [[args for _, args in journals.entries(shard)[before[shard]:]] for shard in (0, 1)]
    assert written[1] == []  # B's SET ran unjournalled, twice
    assert written[0] == [[b"set", A.encode(), b"a"], [b"set", A2.encode(), b"b"]] * 2
