"""Keyspace commands against a real redis-server: same replies, errors included.

Key names are picked so that pairs sit on different shards of the 2-shard
damselfly (slots below 8192 on shard 0), which makes RENAME/COPY/DEL/EXISTS
cross shards here while redis-server sees one keyspace.
"""

import time

import pytest

from tests.helpers import names_on_shard


A0, B0, C0 = names_on_shard(0, 3)  # shard 0
A1, B1, C1 = names_on_shard(1, 3)  # shard 1


def test_del_unlink_exists_touch_across_shards(diff):
    diff.run("MSET", A0, "1", B0, "2", A1, "3", B1, "4")
    diff.run("EXISTS", A0, A1, "nope", A0, B1)  # duplicates count twice
    diff.run("TOUCH", A0, A1, "nope", B1)
    diff.run("DEL", A0, "nope", A1)
    diff.run("EXISTS", A0, A1, B0, B1)
    diff.run("UNLINK", B0, B1, B1)
    diff.run("EXISTS", B0, B1)
    for name in ("DEL", "UNLINK", "EXISTS", "TOUCH"):
        diff.run(name)


def test_type(diff):
    diff.run("SET", A0, "v")
    diff.run("TYPE", A0)
    diff.run("TYPE", "missing")
    diff.run("TYPE")
    diff.run("TYPE", A0, A1)


@pytest.mark.parametrize("src,dst", [(A0, B0), (A0, A1), (A1, A0)])
def test_rename(diff, src, dst):
    diff.run("RENAME", src, dst)  # no such key
    diff.run("RENAMENX", src, dst)
    diff.run("SET", src, "v1")
    diff.run("EXPIRE", src, 100)
    diff.run("RENAME", src, dst)
    diff.run("EXISTS", src, dst)
    diff.run("GET", dst)
    diff.run("TTL", dst)
    diff.run("SET", src, "v2")
    diff.run("RENAMENX", src, dst)  # dst exists
    diff.run("RENAME", src, dst)  # overwrites, and the TTL goes with the value
    diff.run("TTL", dst)
    diff.run("GET", dst)
    diff.run("RENAMENX", dst, src)
    diff.run("GET", src)
    diff.run("EXISTS", dst)


def test_rename_same_key(diff):
    diff.run("RENAME", A0, A0)
    diff.run("RENAMENX", A0, A0)
    diff.run("SET", A0, "v")
    diff.run("RENAME", A0, A0)
    diff.run("RENAMENX", A0, A0)
    diff.run("GET", A0)
    diff.run("RENAME", A0)
    diff.run("RENAME", A0, A1, C0)


@pytest.mark.parametrize("src,dst", [(A0, B0), (A0, A1), (A1, A0)])
def test_copy(diff, src, dst):
    diff.run("COPY", src, dst)
    diff.run("SET", src, "v")
    diff.run("PEXPIREAT", src, int(time.time() * 1000) + 500_000)
    diff.run("COPY", src, dst)
    diff.run("GET", dst)
    diff.run("PEXPIRETIME", dst)
    diff.run("SET", src, "w")
    diff.run("COPY", src, dst)
    diff.run("COPY", src, dst, "REPLACE")
    diff.run("GET", dst)
    diff.run("PEXPIRETIME", dst)
    diff.run("COPY", src, dst, "DB", "3")
    diff.run("COPY", src, dst, "db", "3", "replace")
    diff.run("SELECT", "3")
    diff.run("GET", dst)
    diff.run("GET", src)
    diff.run("SELECT", "0")


def test_copy_errors(diff):
    diff.run("SET", A0, "v")
    diff.run("COPY", A0, A0)
    diff.run("COPY", A0, A0, "DB", "0")
    diff.run("COPY", A0, A0, "DB", "1")
    diff.run("SELECT", "1")
    diff.run("EXISTS", A0)
    diff.run("SELECT", "0")
    diff.run("COPY", A0, B0, "DB")
    diff.run("COPY", A0, B0, "DB", "x")
    diff.run("COPY", A0, B0, "DB", "16")
    diff.run("COPY", A0, B0, "DB", "-1")
    diff.run("COPY", A0, B0, "DB", "99999999999")
    diff.run("COPY", A0, B0, "FOO")
    diff.run("COPY", A0, A1, "REPLACE", "FOO")
    diff.run("COPY", A0)
    diff.run("COPY", "missing", A1)


def test_move(diff):
    diff.run("MOVE", A0, "1")
    diff.run("SET", A0, "v")
    diff.run("EXPIRE", A0, 300)
    diff.run("MOVE", A0, "0")
    diff.run("MOVE", A0, "16")
    diff.run("MOVE", A0, "x")
    diff.run("MOVE", A0, "1")
    diff.run("EXISTS", A0)
    diff.run("SELECT", "1")
    diff.run("GET", A0)
    diff.run("TTL", A0)
    diff.run("SET", A1, "x")
    diff.run("SELECT", "0")
    diff.run("SET", A1, "y")
    diff.run("MOVE", A1, "1")  # exists in the target: nothing moves
    diff.run("GET", A1)
    diff.run("MOVE", A1)


@pytest.mark.parametrize("cmd", ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
def test_expire_options_and_errors(diff, cmd):
    future = {"EXPIRE": 100, "PEXPIRE": 100_000,
              "EXPIREAT": int(time.time()) + 100,
              "PEXPIREAT": int(time.time() * 1000) + 100_000}[cmd]
    # Distinct values only: a relative time equal to the current TTL's is
    # later by however many ms passed, which neither server can promise.
    relative = cmd in ("EXPIRE", "PEXPIRE")
    later, later2, later3 = ((future * 2, future * 3, future * 4) if relative else
                             (future + 100_000, future + 200_000, future + 300_000))
    diff.run(cmd, A0, future)  # missing key
    diff.run("SET", A0, "v")
    diff.run(cmd, A0, future, "XX")
    diff.run(cmd, A0, future, "GT")
    diff.run(cmd, A0, future, "LT")  # no TTL counts as infinite: LT sets it
    diff.run("PERSIST", A0)
    diff.run(cmd, A0, future, "NX")
    diff.run(cmd, A0, later, "NX")
    diff.run(cmd, A0, later, "xx")
    diff.run(cmd, A0, future, "GT")
    diff.run(cmd, A0, later2, "gt")
    diff.run(cmd, A0, later3, "LT")
    diff.run(cmd, A0, future, "LT")
    diff.run(cmd, A0, later, "XX", "GT")
    diff.run(cmd, A0, future, "NX", "XX")
    diff.run(cmd, A0, future, "NX", "GT")
    diff.run(cmd, A0, future, "nx", "lt")
    diff.run(cmd, A0, future, "GT", "LT")
    diff.run(cmd, A0, future, "BOGUS")
    diff.run(cmd, A0, "notanumber")
    diff.run(cmd, A0, "1.5")
    diff.run(cmd, A0, "notanumber", "NX", "XX")
    diff.run(cmd, A0)
    diff.run("TTL", A0)
    diff.run(cmd, A0, "-1")  # in the past: the key goes
    diff.run("EXISTS", A0)
    diff.run("SET", A0, "v")
    diff.run(cmd, A0, "0", "GT")  # no TTL is infinite: GT fails
    diff.run("EXISTS", A0)
    diff.run(cmd, A0, "0", "XX")
    diff.run(cmd, A0, "0")
    diff.run("EXISTS", A0)


def test_expire_overflow(diff):
    diff.run("SET", A0, "v")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        for when in ("9223372036854775807", "-9223372036854775808",
                     "9223372036854775", "9223372036854776", "-9223372036854775",
                     "-9223372036854776", "9223372036854775808"):
            diff.run(cmd, A0, when)
            diff.run("SET", A0, "v")
    diff.run("PEXPIRE", A0, "9223372036854775000")


def test_ttl_family(diff):
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"):
        diff.run(cmd, A1)
        diff.run(cmd)
    diff.run("SET", A1, "v")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"):
        diff.run(cmd, A1)
    at = int(time.time()) + 1000
    diff.run("EXPIREAT", A1, at)
    diff.run("TTL", A1)
    diff.run("EXPIRETIME", A1)
    diff.run("PEXPIRETIME", A1)
    diff.run("PEXPIREAT", A1, at * 1000 + 499)
    diff.run("EXPIRETIME", A1)
    diff.run("PEXPIREAT", A1, at * 1000 + 500)
    diff.run("EXPIRETIME", A1)
    diff.run("PERSIST", A1)
    diff.run("PERSIST", A1)
    diff.run("TTL", A1)
    diff.run("SET", A1, "v", )
    diff.run("EXPIRE", A1, 100)
    diff.run("SET", A1, "w")  # SET drops the TTL
    diff.run("TTL", A1)


def test_keys_patterns(diff):
    names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h?llo",
             "h[a]llo", "a\\b", "a", "b-c", "]", "x^y", "", "foo:bar:1", "foo:baz:2"]
    for name in names:
        diff.run("SET", name, "1")
    for pattern in ["*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo",
                    "h[b-a]llo", "h\\*llo", "h\\?llo", "h[\\]]llo", "a\\\\b", "a\\",
                    "[", "[abc", "[]", "[^]", "]", "x^y", "foo:*:?", "*o*", "",
                    "[a-", "h[a-]llo", "b[-]c", "?", "\\"]:
        diff.run_unordered("KEYS", pattern)
    diff.run("KEYS")
    diff.run("KEYS", "a", "b")


def _scan_all(client, *options):
    seen, cursor, calls = [], "0", 0
    while True:
        cursor, keys = client.call("SCAN", cursor, *options)
        seen.extend(keys)
        calls += 1
        assert calls < 20000
        if cursor == b"0":
            return seen


def test_scan_returns_every_key_like_redis(diff):
    for i in range(300):
        diff.run("SET", "key:%d" % i, "v")
    diff.run("SET", "other", "v")
    for options in [(), ("COUNT", "7"), ("MATCH", "key:1*"), ("MATCH", "key:1*", "COUNT", "1000"),
                    ("TYPE", "string"), ("TYPE", "STRING"), ("TYPE", "list"), ("TYPE", "foo"),
                    ("MATCH", "nomatch*", "COUNT", "3")]:
        expected = _scan_all(diff.ref, *options)
        actual = _scan_all(diff.ours, *options)
        assert len(actual) == len(set(actual))  # slots are visited once each
        assert sorted(actual) == sorted(set(expected)), options


def test_scan_errors(diff):
    diff.run("SET", "k", "v")
    for args in [("x",), ("1x",), (" 1",), ("-",), ("18446744073709551616",), ("0", "COUNT", "0"),
                 ("0", "COUNT", "-1"), ("0", "COUNT", "x"), ("0", "COUNT"), ("0", "MATCH"),
                 ("0", "TYPE"), ("0", "FOO", "bar"), ("0", "MATCH", "*", "COUNT"),
                 ("x", "COUNT", "0")]:
        diff.run("SCAN", *args)
    diff.run("SCAN")
    # Cursors Redis accepts; past the end they finish the scan here.
    for cursor in ("-1", "+16384", "18446744073709551615"):
        assert diff.ours.call("SCAN", cursor)[0] == b"0"
        assert not isinstance(diff.ref.call("SCAN", cursor), str)


def test_randomkey(diff):
    diff.run("RANDOMKEY")
    diff.run("SET", A1, "v")
    diff.run("RANDOMKEY")
    diff.run("RANDOMKEY", "extra")
    diff.run("SET", A0, "v")
    assert diff.ours.call("RANDOMKEY") in (A0.encode(), A1.encode())


def test_randomkey_visits_every_shard(raw):
    raw.call("MSET", A0, "1", A1, "2")
    seen = {raw.call("RANDOMKEY") for _ in range(60)}
    assert seen == {A0.encode(), A1.encode()}


@pytest.mark.parametrize("value", [
    "0", "1", "-1", "123", "9999", "10000", "-0", "007", "+5", " 5", "1.5",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "12345678901234567890", "x" * 44, "x" * 45, "", "abc"])
def test_object_encoding_and_refcount_of_strings(diff, value):
    diff.run("SET", A0, value)
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("OBJECT", "REFCOUNT", A0)


def test_object(diff):
    for sub in ("ENCODING", "FREQ", "IDLETIME", "REFCOUNT"):
        diff.run("OBJECT", sub, "missing")
        diff.run("OBJECT", sub)
        diff.run("OBJECT", sub, A0, A1)
    diff.run("SET", A1, "v")
    diff.run("OBJECT", "FREQ", A1)
    diff.run("OBJECT", "IDLETIME", A1)
    diff.run("OBJECT", "HELP")
    diff.run("OBJECT", "help", "extra")
    diff.run("OBJECT", "NOSUCH", A1)
    diff.run("OBJECT")


def test_object_freq_and_idletime_under_lfu(diff):
    diff.run("SET", A1, "v")
    try:
        diff.run("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        diff.run("OBJECT", "IDLETIME", A1)
        diff.run("OBJECT", "FREQ", "missing")
        assert isinstance(diff.ours.call("OBJECT", "FREQ", A1), int)
    finally:
        diff.run("CONFIG", "SET", "maxmemory-policy", "noeviction")


KEYSPACE_COMMANDS = ("del unlink exists touch type rename renamenx copy move expire pexpire "
                     "expireat pexpireat ttl pttl expiretime pexpiretime persist keys scan "
                     "randomkey object").split()


@pytest.mark.parametrize("name", KEYSPACE_COMMANDS)
def test_command_info_matches_redis(diff, name):
    """Arity, flags, key positions, ACL categories, tips and key specs."""
    expected, actual = diff.both("COMMAND", "INFO", name)
    if name == "object":  # subcommand order is Redis's dict order: compare as sets
        assert expected[0][:9] == actual[0][:9]
        assert sorted(expected[0][9]) == sorted(actual[0][9])
    else:
        assert actual == expected


@pytest.mark.parametrize("args", [("RENAME", "a", "b"), ("COPY", "a", "b", "DB", "1"),
                                  ("DEL", "a", "b", "c"), ("OBJECT", "ENCODING", "a"),
                                  ("SCAN", "0"), ("EXPIRE", "a", "1", "NX")])
def test_command_getkeys(diff, args):
    diff.run("COMMAND", "GETKEYS", *args)


def _raw_reply(client, *args):
    """The exact bytes of one reply (status vs bulk, RESP3 types)."""
    import hiredis

    from tests.helpers import encode

    client.send_raw(encode(args))
    reader, data = hiredis.Reader(), b""
    while True:
        chunk = client.sock.recv(65536)
        assert chunk
        data += chunk
        reader.feed(chunk)
        if reader.gets() is not False:
            return data


@pytest.mark.parametrize("proto", ["2", "3"])
def test_reply_bytes(diff, proto):
    def same(*args):
        expected, actual = _raw_reply(diff.ref, *args), _raw_reply(diff.ours, *args)
        assert actual == expected, (args, expected, actual)

    _raw_reply(diff.ref, "HELLO", proto)  # server, version and id differ
    _raw_reply(diff.ours, "HELLO", proto)
    same("TYPE", A0)
    same("RANDOMKEY")
    same("OBJECT", "ENCODING", A0)
    diff.run("SET", A0, "12")
    diff.run("EXPIRE", A0, "100")
    for args in [("TYPE", A0), ("OBJECT", "ENCODING", A0), ("OBJECT", "HELP"),
                 ("RENAME", A0, A1), ("RENAMENX", A1, B0), ("COPY", B0, A0),
                 ("TTL", A1), ("KEYS", A1),
                 ("EXISTS", A0, A1, B0), ("RENAME", "no", A1),
                 ("EXPIRE", A1, "1", "NX", "XX"), ("OBJECT", "FREQ", A1)]:
        same(*args)
