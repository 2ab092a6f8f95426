"""List commands against a real redis-server 7.0: same replies, errors included.

Keys ``A0``/``B0`` live on shard 0 of the 2-shard damselfly and ``A1``/``B1``
on shard 1, so every command runs on both shards and the two-key commands
(LMOVE, RPOPLPUSH, LMPOP) run within a shard and across shards.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential.test_dump_restore import _frame  # a DUMP payload around a body
from tests.differential.test_keyspace import _raw_reply  # one reply's exact bytes
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


def test_arity_and_syntax_errors(diff):
    for command in (("LPUSH", A0), ("RPUSH", A0), ("LPUSHX", A0), ("RPUSHX", A0), ("LPOP",),
                    ("RPOP",), ("LPOP", A0, "1", "2"), ("RPOP", A0, "1", "2"), ("LLEN",),
                    ("LLEN", A0, A1), ("LRANGE", A0, 0), ("LINDEX", A0), ("LSET", A0, 0),
                    ("LINSERT", A0, "BEFORE", "p"), ("LREM", A0, 0), ("LTRIM", A0, 0),
                    ("LPOS", A0), ("LMOVE", A0, A1, "LEFT"), ("RPOPLPUSH", A0),
                    ("LMPOP", "1", A0), ("LMPOP", "1")):
        diff.run(*command)


def test_wrongtype_everywhere(diff):
    diff.run("SET", A0, "string")
    diff.run("RPUSH", B0, "x")
    for command in (("LPUSH", A0, "x"), ("RPUSH", A0, "x"), ("LPUSHX", A0, "x"),
                    ("RPUSHX", A0, "x"), ("LPOP", A0), ("RPOP", A0), ("LPOP", A0, "2"),
                    ("LPOP", A0, "0"), ("LLEN", A0), ("LRANGE", A0, 0, -1), ("LINDEX", A0, 0),
                    ("LSET", A0, 0, "x"), ("LINSERT", A0, "BEFORE", "a", "b"),
                    ("LREM", A0, 0, "x"), ("LTRIM", A0, 0, 1), ("LPOS", A0, "x"),
                    ("LPOS", A0, "x", "COUNT", "0"), ("LMOVE", A0, B0, "LEFT", "LEFT"),
                    ("LMOVE", B0, A0, "LEFT", "LEFT"), ("RPOPLPUSH", A0, B0),
                    ("RPOPLPUSH", B0, A0), ("RPOPLPUSH", "missing", A0),
                    ("LMPOP", "2", A0, B0, "LEFT"), ("LMPOP", "2", B0, A0, "LEFT"),
                    ("LMPOP", "2", "missing", A0, "RIGHT"),
                    ("GET", B0), ("LLEN", B0)):
        diff.run(*command)
    # Argument errors Redis finds before the type check, and after it.
    for command in (("LRANGE", A0, "x", 0), ("LINDEX", A0, "x"), ("LSET", A0, "x", "v"),
                    ("LINSERT", A0, "middle", "a", "b"), ("LREM", A0, "x", "v"),
                    ("LTRIM", A0, "x", 0), ("LPOS", A0, "x", "RANK", "0"),
                    ("LPOS", A0, "x", "BAD"), ("LMOVE", A0, B0, "UP", "LEFT"),
                    ("LPOP", A0, "-1"), ("LMPOP", "1", A0, "UP")):
        diff.run(*command)


@pytest.mark.parametrize("key", [A0, A1])
def test_pushx(diff, key):
    diff.run("LPUSHX", key, "a")
    diff.run("RPUSHX", key, "a", "b")
    diff.run("EXISTS", key)
    diff.run("RPUSH", key, "m")
    diff.run("LPUSHX", key, "a", "b")
    diff.run("RPUSHX", key, "y", "z")
    diff.run("LRANGE", key, 0, -1)


@pytest.mark.parametrize("key", [A0, A1])
def test_pops(diff, key):
    diff.run("RPUSH", key, *"abcdefgh")
    diff.run("LPOP", key)
    diff.run("RPOP", key)
    for count in ("0", "1", "2", "-1", "x", "1.5", "", "9223372036854775807",
                  "9223372036854775808", "-0"):
        diff.run("LPOP", key, count)
        diff.run("RPOP", key, count)
    diff.run("EXISTS", key)
    diff.run("RPUSH", key, "a", "b", "c")
    diff.run("RPOP", key, "100")
    diff.run("EXISTS", key)
    diff.run("LPOP", key)
    diff.run("LPOP", key, "3")
    diff.run("LPOP", key, "0")
    diff.run("RPUSH", key, "only")
    diff.run("LPOP", key)
    diff.run("EXISTS", key)


def test_pop_null_replies_byte_for_byte(diff):
    for proto in ("2", "3"):
        _raw_reply(diff.ref, "HELLO", proto)
        _raw_reply(diff.ours, "HELLO", proto)
        diff.both("DEL", A0)
        for command in (("LPOP", A0), ("LPOP", A0, "2"), ("LPOP", A0, "0"), ("RPOP", A0, "1"),
                        ("LMPOP", "2", A0, A1, "LEFT"), ("LINDEX", A0, "0"),
                        ("LPOS", A0, "x"), ("LPOS", A0, "x", "COUNT", "0"),
                        ("LMOVE", A0, B0, "LEFT", "RIGHT"), ("RPOPLPUSH", A0, B0),
                        ("RPUSH", A0, "a", "b", "c", "10"), ("LPOP", A0, "0"),
                        ("LPOP", A0, "1"), ("RPOP", A0), ("LMPOP", "1", A0, "LEFT"),
                        ("LMPOP", "1", A0, "RIGHT", "COUNT", "5"), ("LPOS", A0, "x"),
                        ("LINDEX", A0, "5"), ("LRANGE", A0, 5, 10), ("LLEN", A0),
                        ("LSET", A0, 0, "v"), ("LTRIM", A0, 0, 0)):
            expected, actual = _raw_reply(diff.ref, *command), _raw_reply(diff.ours, *command)
            assert actual == expected, (proto, command, expected, actual)


@pytest.mark.parametrize("key", [A0, A1])
def test_lindex_lset(diff, key):
    diff.run("LINDEX", key, 0)
    diff.run("LSET", key, 0, "x")
    diff.run("LSET", key, "x", "x")
    diff.run("RPUSH", key, "a", "b", "c")
    for index in (0, 1, 2, 3, -1, -3, -4, 100, -100, "9223372036854775807",
                  "-9223372036854775808", "x", "01"):
        diff.run("LINDEX", key, index)
        diff.run("LSET", key, index, "v%s" % index)
    diff.run("LRANGE", key, 0, -1)


@pytest.mark.parametrize("key", [A0, A1])
def test_linsert(diff, key):
    diff.run("LINSERT", key, "BEFORE", "a", "x")
    diff.run("EXISTS", key)
    diff.run("RPUSH", key, "a", "b", "a")
    diff.run("LINSERT", key, "before", "a", "x")
    diff.run("LINSERT", key, "AFTER", "a", "y")
    diff.run("LINSERT", key, "After", "b", "z")
    diff.run("LINSERT", key, "BEFORE", "nope", "z")
    diff.run("LINSERT", key, "AFTER", "a", b"\x00\xff")
    diff.run("LINSERT", key, "around", "a", "z")
    diff.run("LRANGE", key, 0, -1)


@pytest.mark.parametrize("key", [A0, A1])
def test_lrem(diff, key):
    diff.run("LREM", key, 0, "a")
    for count in (1, -1, 2, -2, 0, 100, -100):
        diff.run("DEL", key)
        diff.run("RPUSH", key, *"abacadaaba")
        diff.run("LREM", key, count, "a")
        diff.run("LRANGE", key, 0, -1)
    diff.run("LREM", key, 0, "nope")
    diff.run("LREM", key, 0, "b")
    diff.run("LREM", key, 0, "c")
    diff.run("LREM", key, 0, "d")
    diff.run("EXISTS", key)
    diff.run("LREM", key, "x", "a")


@pytest.mark.parametrize("key", [A0, A1])
def test_ltrim(diff, key):
    diff.run("LTRIM", key, 0, 1)
    for start, stop in ((0, -1), (1, -2), (-3, -1), (0, 0), (2, 100), (-100, 1), (5, 2),
                        (100, 200), (-1, -2), ("9223372036854775807", 0),
                        ("-9223372036854775808", "9223372036854775807")):
        diff.run("DEL", key)
        diff.run("RPUSH", key, *"abcdefg")
        diff.run("LTRIM", key, start, stop)
        diff.run("LRANGE", key, 0, -1)
        diff.run("EXISTS", key)
    diff.run("LTRIM", key, "x", 1)
    diff.run("LTRIM", key, 1, "y")


@pytest.mark.parametrize("key", [A0, A1])
def test_lpos(diff, key):
    diff.run("LPOS", key, "a")
    diff.run("LPOS", key, "a", "COUNT", "2")
    diff.run("RPUSH", key, *"abcabcabca")
    for options in ((), ("RANK", "1"), ("RANK", "2"), ("RANK", "-1"), ("RANK", "-2"),
                    ("RANK", "5"), ("RANK", "-5"), ("COUNT", "0"), ("COUNT", "2"),
                    ("COUNT", "100"), ("RANK", "2", "COUNT", "2"), ("RANK", "-2", "COUNT", "0"),
                    ("MAXLEN", "3"), ("MAXLEN", "4", "COUNT", "0"),
                    ("RANK", "-1", "MAXLEN", "1"), ("RANK", "-1", "MAXLEN", "2", "COUNT", "0"),
                    ("COUNT", "1", "COUNT", "0"), ("rank", "2", "rank", "1"),
                    ("MAXLEN", "0"), ("RANK", "9223372036854775807"),
                    ("RANK", "-9223372036854775807")):
        diff.run("LPOS", key, "a", *options)
        diff.run("LPOS", key, "nope", *options)
    for options in (("RANK", "0"), ("RANK", "-9223372036854775808"), ("RANK", "x"),
                    ("COUNT", "-1"), ("COUNT", "x"), ("MAXLEN", "-1"), ("MAXLEN", "x"),
                    ("RANK",), ("COUNT",), ("MAXLEN", "1", "BAD"), ("RANK", "0", "COUNT", "-1"),
                    ("COUNT", "-1", "RANK", "0")):
        diff.run("LPOS", key, "a", *options)
        diff.run("LPOS", "missing", "a", *options)


@pytest.mark.parametrize("source,destination", [(A0, B0), (A0, A1), (A1, A0), (A0, A0)])
def test_lmove_and_rpoplpush(diff, source, destination):
    diff.run("LMOVE", source, destination, "LEFT", "RIGHT")
    diff.run("RPOPLPUSH", source, destination)
    diff.run("RPUSH", source, *"abcd")
    for ends in (("LEFT", "RIGHT"), ("right", "left"), ("LEFT", "LEFT"), ("Right", "Right")):
        diff.run("LMOVE", source, destination, *ends)
        diff.run("LRANGE", source, 0, -1)
        diff.run("LRANGE", destination, 0, -1)
    diff.run("RPOPLPUSH", source, destination)
    diff.run("RPOPLPUSH", source, destination)
    diff.run("EXISTS", source)
    diff.run("LRANGE", destination, 0, -1)
    diff.run("LMOVE", source, destination, "LEFT", "UP")
    diff.run("LMOVE", source, destination, "DOWN", "LEFT")


@pytest.mark.parametrize("command", [("LTRIM", A0, 0, -1), ("LTRIM", A0, 0, 0),
                                     ("LSET", A0, 0, "a"), ("LINSERT", A0, "BEFORE", "x", "y"),
                                     ("LREM", A0, 0, "x"), ("LPUSHX", A0, "x"),
                                     ("LPOP", A0, "0"), ("LMOVE", A0, A0, "LEFT", "LEFT"),
                                     ("LPOS", A0, "a"), ("LRANGE", A0, 0, -1)])
def test_which_commands_touch_a_watched_key(diff, command):
    diff.run("RPUSH", A0, "a", "b")
    diff.run("WATCH", A0)
    diff.run(*command)
    diff.run("MULTI")
    diff.run("PING")
    diff.run("EXEC")


def test_rotation_of_one_element(diff):
    diff.run("RPUSH", A0, "only")
    diff.run("RPOPLPUSH", A0, A0)
    diff.run("LMOVE", A0, A0, "LEFT", "LEFT")
    diff.run("LRANGE", A0, 0, -1)


def test_move_wrongtype_destination_keeps_source(diff):
    diff.run("RPUSH", A0, "a")
    diff.run("SET", A1, "s")
    diff.run("SET", B0, "s")
    diff.run("LMOVE", A0, A1, "LEFT", "LEFT")
    diff.run("LMOVE", A0, B0, "LEFT", "LEFT")
    diff.run("RPOPLPUSH", A0, A1)
    diff.run("LRANGE", A0, 0, -1)
    diff.run("GET", A1)


def test_lmpop(diff):
    diff.run("LMPOP", "2", A0, A1, "LEFT")
    diff.run("RPUSH", A1, *"abcde")
    diff.run("LMPOP", "2", A0, A1, "LEFT")
    diff.run("LMPOP", "2", A0, A1, "RIGHT", "COUNT", "2")
    diff.run("RPUSH", A0, "x")
    diff.run("LMPOP", "2", A0, A1, "right", "count", "10")
    diff.run("LMPOP", "2", A0, A1, "LEFT", "COUNT", "100")
    diff.run("EXISTS", A0, A1)
    for args in (("0", A0, "LEFT"), ("-1", A0, "LEFT"), ("x", A0, "LEFT"), ("3", A0, "LEFT"),
                 ("5", A0, A1), ("1", A0, "MIDDLE"), ("1", A0, "LEFT", "COUNT"),
                 ("1", A0, "LEFT", "COUNT", "0"), ("1", A0, "LEFT", "COUNT", "-1"),
                 ("1", A0, "LEFT", "COUNT", "x"), ("1", A0, "LEFT", "COUNT", "1", "COUNT", "1"),
                 ("1", A0, "LEFT", "BAD"), ("2", A0, A1, "LEFT", "COUNT", "1", "x"),
                 ("1", A0, "LEFT", "COUNT", "9223372036854775807"),
                 ("9223372036854775807", A0, "LEFT")):
        diff.run("LMPOP", *args)


def test_lmpop_across_shards_in_key_order(diff):
    diff.run("RPUSH", A1, "1a", "1b")
    diff.run("RPUSH", B0, "0a", "0b")
    diff.run("LMPOP", "3", A0, A1, B0, "LEFT", "COUNT", "5")
    diff.run("LMPOP", "3", A0, A1, B0, "RIGHT")
    diff.run("LRANGE", B0, 0, -1)


def test_big_list_ranges(diff):
    elements = ["element %d" % i for i in range(5000)]
    for i in range(0, 5000, 1000):
        diff.run("RPUSH", A1, *elements[i:i + 1000])
    for start, stop in ((0, 99), (-100, -1), (2000, 2100), (-3000, -2900), (4990, 10000),
                        (0, -1)):
        diff.run("LRANGE", A1, start, stop)
    for index in (0, 2500, -1, -2501, 4999, 5000):
        diff.run("LINDEX", A1, index)
    diff.run("LPOS", A1, "element 4321")
    diff.run("LPOS", A1, "element 4321", "RANK", "-1", "MAXLEN", "1000")
    diff.run("LREM", A1, "-1", "element 17")
    diff.run("LTRIM", A1, 100, -100)
    diff.run("LLEN", A1)
    diff.run("LPOP", A1, "2000")
    diff.run("RPOP", A1, "2000")
    diff.run("LLEN", A1)
    diff.run("OBJECT", "ENCODING", A1)


def test_expiry_is_honoured(diff):
    import time

    for key in (A0, A1):
        diff.run("RPUSH", key, "a", "b")
        diff.run("PEXPIRE", key, 100)
    diff.run("RPUSH", B0, "x")
    time.sleep(0.15)
    for key in (A0, A1):
        diff.run("LLEN", key)
        diff.run("LRANGE", key, 0, -1)
        diff.run("LPUSHX", key, "x")
        diff.run("LSET", key, 0, "x")
        diff.run("LMOVE", B0, key, "LEFT", "LEFT")
        diff.run("TTL", key)
        diff.run("LRANGE", key, 0, -1)


def test_resp3_shapes(diff):
    diff.both("HELLO", "3")
    diff.run("RPUSH", A0, "a", "b", "c")
    diff.run("LRANGE", A0, 0, -1)
    diff.run("LPOP", A0, "2")
    diff.run("LMPOP", "1", A0, "LEFT", "COUNT", "2")
    diff.run("LPOS", A0, "a", "COUNT", "0")
    diff.run("LPOP", "missing", "2")
    diff.run("LMPOP", "1", "missing", "LEFT")


# -- DUMP / RESTORE, generic commands over lists ------------------------------------

LIST_SHAPES = [
    ["a"],
    ["1", "-1", "127", "128", "-4096", "4095", "-4097", "32767", "-32769", "8388607",
     "-8388609", "2147483647", "-2147483649", "9223372036854775807", "-9223372036854775808",
     "9223372036854775808", "007", "-0", "", " 1", "1.5"],
    ["x" * 63, "y" * 64, "z" * 4095, "w" * 4096, b"binary\x00\xff\r\n"],
    ["element %d" % i for i in range(3000)],  # many 8 KB nodes
    [str(i) for i in range(5000)],  # integer entries
    ["v" * (100 + i % 300) for i in range(400)],  # node edges at varied sizes
    ["big" * 3000, "s", "big" * 3000],  # elements bigger than a node
]


def _rpush(diff, key, elements):
    for i in range(0, len(elements), 500):
        diff.run("RPUSH", key, *elements[i:i + 500])


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("shape", range(len(LIST_SHAPES)))
def test_dump_is_byte_identical(diff, key, shape):
    _rpush(diff, key, LIST_SHAPES[shape])
    diff.run("DUMP", key)


@pytest.mark.parametrize("fill", ["-1", "-3", "-5", "-6", "0", "1", "3", "128", "1000"])
def test_dump_follows_list_max_listpack_size(diff, fill):
    try:
        diff.run("CONFIG", "SET", "list-max-listpack-size", fill)
        for shape in (0, 1, 3, 5):
            diff.run("DEL", A1)
            _rpush(diff, A1, LIST_SHAPES[shape])
            diff.run("DUMP", A1)
    finally:
        diff.both("CONFIG", "SET", "list-max-listpack-size", "-2")


@pytest.mark.parametrize("depth", ["1", "2"])
def test_dump_follows_list_compress_depth(diff, depth):
    try:
        diff.run("CONFIG", "SET", "list-compress-depth", depth)
        diff.run("CONFIG", "SET", "list-max-listpack-size", "5")
        for shape in (3, 4, 5):
            diff.run("DEL", A0)
            _rpush(diff, A0, LIST_SHAPES[shape])
            diff.run("DUMP", A0)
    finally:
        diff.both("CONFIG", "SET", "list-compress-depth", "0")
        diff.both("CONFIG", "SET", "list-max-listpack-size", "-2")


@pytest.mark.parametrize("shape", range(len(LIST_SHAPES)))
def test_payloads_travel_both_ways(diff, shape):
    elements = LIST_SHAPES[shape]
    for i in range(0, len(elements), 500):
        diff.ref.call("LPUSH", "src", *elements[i:i + 500])  # LPUSH: other node edges
    from_redis = diff.ref.call("DUMP", "src")
    assert diff.ours.call("RESTORE", A1, "0", from_redis) == b"OK"
    assert diff.ours.call("LRANGE", A1, 0, -1) == diff.ref.call("LRANGE", "src", 0, -1)
    diff.ours.call("LINSERT", A1, "BEFORE", elements[0], "inserted")
    from_us = diff.ours.call("DUMP", A1)
    assert diff.ref.call("RESTORE", "dst", "0", from_us) == b"OK"
    assert diff.ref.call("LRANGE", "dst", 0, -1) == diff.ours.call("LRANGE", A1, 0, -1)
    assert diff.ours.call("OBJECT", "ENCODING", A1) == diff.ref.call("OBJECT", "ENCODING", "dst")


def test_restore_of_malformed_list_payloads(diff):
    empty_listpack = b"\x07\x00\x00\x00\x00\x00\xff"
    one = b"\x09\x00\x00\x00\x01\x00\x01\x01\xff"  # the entry 1
    replies = []
    for body in (b"\x12\x00",  # no nodes
                 b"\x12\x01\x02\x07" + empty_listpack,  # one empty node
                 b"\x12\x02\x02\x07" + empty_listpack + b"\x02\x09" + one,
                 b"\x12\x01\x03\x09" + one,  # unknown container
                 b"\x12\x01\x01\x03abc",  # a PLAIN node
                 b"\x12\x01\x02\x09" + one[:-1] + b"\x00",  # bad terminator
                 b"\x12\x02\x02\x09" + one,  # a node missing
                 b"\x01\x02\x01a\x01b",  # type 1: plain strings
                 b"\x01\x00"):
        replies.append(diff.run("RESTORE", A0, "0", _frame(body), "REPLACE"))
        diff.run("LRANGE", A0, 0, -1)
    assert replies.count(b"OK") == 3  # a skipped empty node, the PLAIN node, type 1


def test_old_quicklist_of_ziplists_restores(diff):
    """A type-14 payload (Redis 6.2's form) loads as the same list."""
    from shardnode.rdb.encoding import encode_length

    def ziplist(entries):
        body, previous = b"", 0
        for encoding in entries:
            entry = bytes((previous,)) + encoding
            body += entry
            previous = len(entry)
        total = 10 + len(body) + 1
        return (total.to_bytes(4, "little") + (10 + len(body) - previous).to_bytes(4, "little")
                + len(entries).to_bytes(2, "little") + body + b"\xff")

    blob = ziplist([b"\x03abc", b"\xf5", b"\xfe\x80", b"\xc0\x39\x30",
                    b"\xd0" + (1 << 20).to_bytes(4, "little"),
                    b"\xe0" + (-(1 << 40)).to_bytes(8, "little", signed=True),
                    b"\xf0" + (1 << 22).to_bytes(3, "little"), b"\x40\x41" + b"q" * 65])
    payload = _frame(b"\x0e\x01" + encode_length(len(blob)) + blob)  # type 14, one node
    assert diff.run("RESTORE", A1, "0", payload) == b"OK"
    assert diff.run("LRANGE", A1, 0, -1) == [
        b"abc", b"4", b"-128", b"12345", b"1048576", b"-1099511627776", b"4194304", b"q" * 65]
    diff.run("DUMP", A1)


def _scan_all(client, kind) -> list:
    cursor, found = b"0", []
    while True:
        cursor, page = client.call("SCAN", cursor, "TYPE", kind)
        found += page
        if cursor == b"0":
            return sorted(found)


def test_generic_commands_over_lists(diff):
    diff.run("RPUSH", A0, "a", "b", "c")
    diff.run("RPUSH", A1, "x")
    diff.run("SET", B0, "s")
    diff.run("TYPE", A0)
    diff.run("OBJECT", "ENCODING", A0)
    for kind in ("list", "string"):
        assert _scan_all(diff.ours, kind) == _scan_all(diff.ref, kind)
    diff.run("COPY", A0, B1)
    diff.run("COPY", A0, A1)
    diff.run("COPY", A0, A1, "REPLACE")
    diff.run("RPUSH", A1, "more")
    diff.run("LRANGE", A0, 0, -1)  # the copy is independent
    diff.run("LRANGE", A1, 0, -1)
    diff.run("LRANGE", B1, 0, -1)
    diff.run("RENAME", A1, B0)  # across shards, over a string
    diff.run("TYPE", B0)
    diff.run("LRANGE", B0, 0, -1)
    diff.run("RENAMENX", B0, A0)
    diff.run("RENAME", B0, A1)
    diff.run("MOVE", A1, "1")
    diff.run("EXISTS", A1)
    diff.run("SELECT", "1")
    diff.run("LRANGE", A1, 0, -1)
    diff.run("MOVE", A1, "0")
    diff.run("SELECT", "0")
    diff.run("EXISTS", A0, A1, B0, B1)
    diff.run("DEL", A0, A1, B1)
    diff.run("EXISTS", A0, A1, B0, B1)


def test_cross_shard_moves_with_ttl(diff):
    diff.run("RPUSH", A0, "a", "b")
    diff.run("EXPIRE", A0, "100")
    diff.run("RPUSH", A1, "z")
    diff.run("LMOVE", A0, A1, "RIGHT", "LEFT")
    diff.run("TTL", A0)
    diff.run("TTL", A1)
    diff.run("RPOPLPUSH", A0, A1)
    diff.run("EXISTS", A0)
    diff.run("LRANGE", A1, 0, -1)
    diff.run("LMOVE", A1, B1, "LEFT", "RIGHT")  # to a new key on another shard
    diff.run("LMOVE", A1, A0, "LEFT", "RIGHT")
    diff.run("LRANGE", A0, 0, -1)
    diff.run("LRANGE", B1, 0, -1)


def test_object_encoding_after_every_kind_of_write(diff):
    diff.run("LPUSH", A0, *["e%d" % i for i in range(200)])
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("LTRIM", A0, 0, 0)
    diff.run("OBJECT", "ENCODING", A0)
    diff.run("CONFIG", "SET", "list-max-listpack-size", "1")
    try:
        diff.run("RPUSH", A1, "a", "b")
        diff.run("OBJECT", "ENCODING", A1)
        diff.run("CONFIG", "GET", "list-max-listpack-size")
        diff.run("CONFIG", "GET", "list-compress-depth")
        diff.run("CONFIG", "SET", "list-compress-depth", "-1")
    finally:
        diff.both("CONFIG", "SET", "list-max-listpack-size", "-2")


# -- random walk -------------------------------------------------------------------------

ELEMENTS = st.sampled_from([b"a", b"b", b"c", b"1", b"-7", b"", b"\x00x", b"e" * 70,
                            b"9223372036854775808"])
INDEXES = st.sampled_from([b"0", b"1", b"2", b"-1", b"-2", b"5", b"-6", b"100", b"x"])
COUNTS = st.sampled_from([b"0", b"1", b"2", b"3", b"-1", b"10"])
SIDES = st.sampled_from([b"LEFT", b"RIGHT", b"left"])
OTHER_KEYS = st.sampled_from(KEYS)
STEPS = st.one_of(
    st.tuples(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
              st.lists(ELEMENTS, min_size=1, max_size=4)),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), st.lists(COUNTS, max_size=1)),
    st.tuples(st.just("LLEN")),
    st.tuples(st.just("LRANGE"), st.tuples(INDEXES, INDEXES)),
    st.tuples(st.just("LINDEX"), st.tuples(INDEXES)),
    st.tuples(st.just("LSET"), st.tuples(INDEXES, ELEMENTS)),
    st.tuples(st.just("LINSERT"), st.tuples(st.sampled_from([b"BEFORE", b"AFTER"]),
                                            ELEMENTS, ELEMENTS)),
    st.tuples(st.just("LREM"), st.tuples(st.sampled_from([b"0", b"1", b"-1", b"2", b"-3"]),
                                         ELEMENTS)),
    st.tuples(st.just("LTRIM"), st.tuples(INDEXES, INDEXES)),
    st.tuples(st.just("LPOS"), st.tuples(ELEMENTS), st.sampled_from(
        [(), (b"RANK", b"-1"), (b"RANK", b"2"), (b"COUNT", b"0"), (b"MAXLEN", b"2"),
         (b"RANK", b"-2", b"COUNT", b"2")])),
    st.tuples(st.just("LMOVE"), st.tuples(OTHER_KEYS, SIDES, SIDES)),
    st.tuples(st.just("RPOPLPUSH"), st.tuples(OTHER_KEYS)),
    st.tuples(st.just("LMPOP"), st.tuples(OTHER_KEYS), st.sampled_from(
        [(b"LEFT",), (b"RIGHT", b"COUNT", b"2"), (b"LEFT", b"COUNT", b"10")])),
    st.tuples(st.just("SET"), st.tuples(ELEMENTS)),
    st.tuples(st.just("OBJECT")),
)


def _request(key, step):
    name, *parts = step
    if name == "OBJECT":
        return ["OBJECT", "ENCODING", key]
    if name in ("LMOVE", "RPOPLPUSH"):
        return [name, key, *parts[0]]
    if name == "LMPOP":
        return [name, "2", key, *parts[0], *parts[1]]
    args = [name, key]
    for part in parts:
        args += list(part)
    return args


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(st.sampled_from(KEYS), STEPS), max_size=30))
def test_random_walk_matches_redis(diff, steps):
    diff.both("FLUSHALL")
    for key, step in steps:
        diff.run(*_request(key, step))
    for key in KEYS:
        diff.run("TYPE", key)
        diff.run("LLEN", key)
        diff.run("DUMP", key)


@pytest.mark.parametrize("args", [("LMPOP", "2", "a", "b", "LEFT"), ("LMPOP", "1", "a", "RIGHT",
                                                                      "COUNT", "2"),
                                  ("LMOVE", "a", "b", "LEFT", "RIGHT"), ("RPOPLPUSH", "a", "b"),
                                  ("LPUSH", "a", "x", "y"), ("LMPOP", "0", "a", "LEFT"),
                                  ("LMPOP", "3", "a", "LEFT")])
def test_command_getkeys(diff, args):
    diff.run("COMMAND", "GETKEYS", *args)
    diff.run("COMMAND", "GETKEYSANDFLAGS", *args)
