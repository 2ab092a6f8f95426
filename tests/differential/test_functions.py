"""FUNCTION and FCALL compared with a real redis-server 7.0.

Error texts of FUNCTION LOAD (metadata, names, register_function's forms,
the load-time sandbox), FUNCTION LIST's shapes in RESP2 and RESP3, the
function flags under FCALL / FCALL_RO, functions on keys of both shards
(``A*`` on shard 0, ``B*`` on shard 1 of damselfly), DUMP payloads
byte-identical to redis-server's and restored both ways.
"""

from __future__ import annotations

import pytest

from tests.differential.test_scripting import hello3, run_raw
from tests.helpers import names_on_shard

A, A2 = names_on_shard(0, 2, "a")
B, B2 = names_on_shard(1, 2, "b")

LIB = ("#!lua name=mylib\n"
       "redis.register_function('set_get', function(keys, args)\n"
       "  redis.call('SET', keys[1], args[1])\n"
       "  return redis.call('GET', keys[1])\n"
       "end)\n"
       "redis.register_function{function_name='reader', callback=function(keys, args)\n"
       "  return {keys[1], args[1], redis.call('EXISTS', keys[1])}\n"
       "end, flags={'no-writes'}, description='reads a key'}\n")


@pytest.fixture
def fdiff(diff):
    diff.run("FUNCTION", "FLUSH")
    yield diff
    for client in (diff.ref, diff.ours):
        client.call("FUNCTION", "FLUSH")


def normalised(listing):
    """FUNCTION LIST in RESP2 with its libraries and functions sorted by name
    (Redis lists them in its dictionaries' order, which a random hash seed sets)."""
    libraries = []
    for entry in listing:
        entry = list(entry)
        at = entry.index(b"functions") + 1
        entry[at] = sorted(entry[at], key=lambda f: f[1])
        libraries.append(entry)
    return sorted(libraries, key=lambda e: e[1])


def run_list(fdiff, *args):
    expected, actual = fdiff.both("FUNCTION", "LIST", *args)
    assert normalised(actual) == normalised(expected), (args, expected, actual)


def lib(name, body):
    return "#!lua name=%s\n%s" % (name, body)


LOAD_ERRORS = [
    "return 1",
    "#!lua name=x",
    "#!lua\nredis.register_function('f', function() end)",
    "#!lua name=a name=b\n",
    "#!lua name=x foo=bar\n",
    "#!js name=x\n",
    "#!lua name=a-b\nredis.register_function('f', function() end)",
    "#!lua name=x\n",
    "#!lua name=x\nreturn 1 +",
    "#!lua name=x\nredis.call('set', 'k', 'v')",
    "#!lua name=x\nlocal s = string.len('ab')",
    "#!lua name=x\nerror('boom')",
    "#!lua name=x\nfoo = 1",
    "#!lua name=x\nredis.register_function()",
    "#!lua name=x\nredis.register_function('f')",
    "#!lua name=x\nredis.register_function('f', function() end, 3)",
    "#!lua name=x\nredis.register_function(1, function() end)",
    "#!lua name=x\nredis.register_function('f', 1)",
    "#!lua name=x\nredis.register_function('a b', function() end)",
    "#!lua name=x\nredis.register_function('f', function() end)\n"
    "redis.register_function('f', function() end)",
    "#!lua name=x\nredis.register_function{function_name='f'}",
    "#!lua name=x\nredis.register_function{callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name=1, callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=1}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
    "flags='no-writes'}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
    "flags={'bad'}}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
    "description=1}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, foo=1}",
    "#!lua name=x\nredis.register_function{[1]='f', callback=function() end}",
]


@pytest.mark.parametrize("code", LOAD_ERRORS)
def test_load_errors(fdiff, code):
    fdiff.run("FUNCTION", "LOAD", code)


def test_load_replace_and_collisions(fdiff):
    fdiff.run("FUNCTION", "LOAD", LIB)
    fdiff.run("FUNCTION", "LOAD", LIB)  # exists
    fdiff.run("FUNCTION", "LOAD", "REPLACE", LIB)
    fdiff.run("FUNCTION", "LOAD", "NOPE", LIB)
    fdiff.run("FUNCTION", "LOAD", lib("other", "redis.register_function('reader', "
                                      "function() return 1 end)"))
    fdiff.run("FUNCTION", "LOAD", "replace", lib("mylib", "redis.register_function('x', "
                                                 "function() return 1 end)"))
    fdiff.run("FCALL", "x", "0")
    fdiff.run("FCALL", "reader", "0")
    fdiff.run("FUNCTION", "DELETE", "mylib")
    fdiff.run("FUNCTION", "DELETE", "mylib")
    fdiff.run("FCALL", "x", "0")
    fdiff.run("FUNCTION", "LOAD", "replace", lib("mylib", "error('x')"))
    run_list(fdiff)


def test_list_shapes(fdiff):
    fdiff.run("FUNCTION", "LOAD", LIB)
    run_list(fdiff)
    run_list(fdiff, "WITHCODE")
    run_list(fdiff, "libraryname", "my*", "withcode")
    run_list(fdiff, "LIBRARYNAME", "MY*")
    fdiff.run("FUNCTION", "LIST", "LIBRARYNAME", "zz*")
    fdiff.run("FUNCTION", "LIST", "LIBRARYNAME")
    fdiff.run("FUNCTION", "LIST", "WITHCODE", "WITHCODE")
    fdiff.run("FUNCTION", "LIST", "bogus")
    fdiff.run("FUNCTION", "STATS")
    fdiff.run("FUNCTION", "HELP")
    fdiff.run("FUNCTION", "KILL")
    fdiff.run("FUNCTION", "LOAD", lib("single", "redis.register_function{function_name='one', "
                                      "callback=function() return 1 end, flags={'no-writes', "
                                      "'allow-stale'}, description='the one'}"))
    hello3(fdiff)
    run_raw(fdiff, "FUNCTION", "LIST", "LIBRARYNAME", "single", "WITHCODE")
    run_raw(fdiff, "FUNCTION", "STATS")


def test_all_flags_listed_in_order(fdiff):
    fdiff.run("FUNCTION", "LOAD", lib("flags", (
        "redis.register_function{function_name='f', callback=function() return 1 end, "
        "flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', "
        "'no-writes'}}")))
    fdiff.run("FUNCTION", "LIST")


def test_fcall_on_both_shards(fdiff):
    fdiff.run("FUNCTION", "LOAD", LIB)
    for key in (A, B):
        fdiff.run("FCALL", "set_get", "1", key, "v-" + key)
        fdiff.run("FCALL", "reader", "1", key, "arg")
        fdiff.run("FCALL_RO", "reader", "1", key, "arg")
        fdiff.run("FCALL_RO", "set_get", "1", key, "v")
        fdiff.run("GET", key)
    fdiff.run("FCALL", "missing", "0")
    fdiff.run("FCALL", "set_get", "2", A)
    fdiff.run("FCALL", "set_get", "-1", A)
    fdiff.run("FCALL", "set_get", "x", A)


FCALL_BODIES = [
    "return KEYS",
    "return ARGV",
    "x = 1",
    "error('boom')",
    "return redis.call('nosuchcommand')",
    "return {string.len('abc'), cjson.encode({1}), type(redis.setresp), redis.sha1hex('')}",
    "return redis.pcall('INCR', keys[1])",
    "redis.setresp(3); return redis.call('HGETALL', keys[2])",
    "return {keys, args}",
]


@pytest.mark.parametrize("body", FCALL_BODIES)
def test_function_bodies(fdiff, body):
    fdiff.run("SET", A, "str")
    fdiff.run("FUNCTION", "LOAD", lib("b", "redis.register_function('f', function(keys, args) "
                                      "%s end)" % body))
    fdiff.run("FCALL", "f", "2", A, A2, "arg1", "arg2")


def test_no_writes_function_cannot_write(fdiff):
    fdiff.run("FUNCTION", "LOAD", lib("ro", (
        "redis.register_function{function_name='w', callback=function(keys) "
        "return redis.call('SET', keys[1], 'x') end, flags={'no-writes'}}")))
    fdiff.run("FCALL", "w", "1", A)
    fdiff.run("FCALL_RO", "w", "1", B)


def test_dump_is_byte_identical_and_restores_both_ways(fdiff):
    fdiff.run("FUNCTION", "DUMP")  # no libraries
    fdiff.run("FUNCTION", "LOAD", LIB)
    payload = fdiff.run("FUNCTION", "DUMP")
    fdiff.run("FUNCTION", "RESTORE", payload)  # APPEND: exists
    fdiff.run("FUNCTION", "RESTORE", payload, "REPLACE")
    fdiff.run("FUNCTION", "RESTORE", payload, "BOGUS")
    fdiff.run("FUNCTION", "RESTORE", payload, "FLUSH", "x")
    fdiff.run("FUNCTION", "RESTORE", payload[:-1] + b"x")
    fdiff.run("FUNCTION", "RESTORE", b"\x00" + payload[1:])
    fdiff.run("FUNCTION", "FLUSH")
    fdiff.run("FUNCTION", "LOAD", lib("other", "redis.register_function('set_get', "
                                      "function() return 1 end)"))
    fdiff.run("FUNCTION", "RESTORE", payload, "REPLACE")  # function collision
    fdiff.run("FUNCTION", "RESTORE", payload, "FLUSH")
    run_list(fdiff, "WITHCODE")
    fdiff.run("FCALL", "set_get", "1", B, "v")
    # a payload of two libraries, made by each server, restored on the other
    fdiff.run("FUNCTION", "LOAD", lib("second", "redis.register_function('two', "
                                      "function() return 2 end)"))
    theirs = fdiff.ref.call("FUNCTION", "DUMP")
    ours = fdiff.ours.call("FUNCTION", "DUMP")
    for client, payload in ((fdiff.ours, theirs), (fdiff.ref, ours)):
        client.call("FUNCTION", "FLUSH")
        assert client.call("FUNCTION", "RESTORE", payload) == b"OK"
        assert client.call("FCALL", "two", "0") == 2
    fdiff.run("FUNCTION", "STATS")


def test_flush_and_delete_errors(fdiff):
    fdiff.run("FUNCTION", "FLUSH", "BOGUS")
    fdiff.run("FUNCTION", "FLUSH", "ASYNC")
    fdiff.run("FUNCTION", "FLUSH", "SYNC")
    fdiff.run("FUNCTION", "FLUSH", "SYNC", "x")
    fdiff.run("FUNCTION", "DELETE", "nope")
    fdiff.run("FUNCTION", "DELETE")


def test_script_flush_leaves_functions(fdiff):
    fdiff.run("FUNCTION", "LOAD", LIB)
    fdiff.run("SCRIPT", "FLUSH")
    fdiff.run("FCALL", "set_get", "1", A, "1")


def test_fcall_with_keys_on_both_shards(fdiff):
    fdiff.run("FUNCTION", "LOAD", lib("xfer", (
        "redis.register_function('move', function(keys, args)\n"
        "  local n = redis.call('DECRBY', keys[1], args[1])\n"
        "  return {n, redis.call('INCRBY', keys[2], args[1])}\n"
        "end)")))
    fdiff.run("MSET", A, "10", B, "5")
    fdiff.run("FCALL", "move", "2", A, B, "3")
    fdiff.run("FCALL", "move", "2", B, A, "1")
    fdiff.run("MGET", A, B)


def test_register_function_at_run_time(fdiff):
    fdiff.run("FUNCTION", "LOAD", lib("rr", "redis.register_function('rr', function() "
                                      "return redis.register_function('x', function() end) end)"))
    fdiff.run("FCALL", "rr", "0")
