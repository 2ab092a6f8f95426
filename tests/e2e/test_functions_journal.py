"""Functions in the journal, compared entry for entry with a redis-server
7.0's AOF (tests/e2e/test_journal.py): FUNCTION LOAD / DELETE / FLUSH /
RESTORE as sent -- on every shard, since each keeps the libraries -- and
FCALL as its effects, MULTI/EXEC around several, never the FCALL."""

from tests.e2e.test_journal import aof_redis, damselfly, pair  # noqa: F401  (fixtures)
from tests.helpers import names_on_shard

A, A2 = names_on_shard(0, 2, "a")
B, B2 = names_on_shard(1, 2, "b")

CODE = ("#!lua name=jlib\n"
        "redis.register_function('two', function(keys, args)\n"
        "  redis.call('set', keys[1], args[1])\n"
        "  return redis.call('rpush', keys[2], 'x', 'y')\n"
        "end)\n"
        "redis.register_function{function_name='get', callback=function(keys)\n"
        "  return redis.call('get', keys[1])\n"
        "end, flags={'no-writes'}}")


def test_functions_are_journalled_as_redis_propagates_them(pair):  # noqa: F811
    both = (0, 1)
    pair.run(both, "FUNCTION", "FLUSH")
    pair.run(both, "function", "load", CODE)
    pair.run((), "FUNCTION", "LOAD", CODE)  # an error: nothing
    pair.run(both, "FUNCTION", "LOAD", "REPLACE", CODE)
    pair.run((0,), "FCALL", "two", "2", A, A2, "v")
    pair.run((1,), "FCALL", "two", "2", B, B2, "w")
    pair.run((), "FCALL_RO", "get", "1", A)
    payload = pair.redis.call("FUNCTION", "DUMP")
    pair.run(both, "FUNCTION", "DELETE", "jlib")
    pair.run(both, "FUNCTION", "RESTORE", payload)
    pair.run(both, "FUNCTION", "FLUSH", "ASYNC")
