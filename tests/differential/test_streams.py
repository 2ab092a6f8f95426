"""Stream commands against a real redis-server 7.0: same replies, errors,
DUMP payloads and counters (entries-read, lag, max-deleted-entry-id).

Keys ``S0``/``T0`` live on shard 0 of the 2-shard damselfly and ``S1``/``T1``
on shard 1.  Ids are given explicitly where Redis would use the clock; the
fields that carry times (delivery times, idle, seen-time) are compared after
masking them, their shape kept.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import RawClient, names_on_shard

S0, T0 = names_on_shard(0, 2, "st")
S1, T1 = names_on_shard(1, 2, "st")
MAXID = "18446744073709551615-18446744073709551615"


def _masked(reply, names=(b"idle", b"seen-time", b"delivery-time")):
    """A reply with the clock-dependent numbers (after the given names, and
    whatever reads as a Unix time in ms) zeroed."""
    if isinstance(reply, dict):  # RESP3 maps
        return {k: 0 if k in names and isinstance(v, int) else _masked(v, names)
                for k, v in reply.items()}
    if isinstance(reply, list):
        out = []
        mask_next = False
        for item in reply:
            clock = isinstance(item, int) and (mask_next or item > 10**12)  # a time in ms
            out.append(0 if clock else _masked(item, names))
            mask_next = item in names
        return out
    return reply


def _masked_pending(reply):
    """XPENDING's extended form: each entry's idle time zeroed."""
    if isinstance(reply, list):
        return [entry[:2] + [0] + entry[3:] if isinstance(entry, list) else entry
                for entry in reply]
    return reply


def run_masked(diff, *args):
    expected, actual = diff.both(*args)
    mask = _masked_pending if args[0] == "XPENDING" else _masked
    assert mask(actual) == mask(expected), "%r: redis %r, damselfly %r" % (
        args, expected, actual)
    return actual


def _fill(diff, key, n, start=1, fields=("f", "v")):
    for i in range(start, start + n):
        diff.run("XADD", key, "%d-1" % i, *fields)


@pytest.mark.parametrize("key", [S0, S1])
def test_add_range_len(diff, key):
    diff.run("XADD", key, "1-1", "a", "1", "b", "2")
    diff.run("XADD", key, "1-*", "a", "x")
    diff.run("XADD", key, "2", "c", "3")
    diff.run("XADD", key, "5-*", "a", "1", "b", "2")
    diff.run("XADD", key, "5-0", "a", "1")
    diff.run("XADD", key, "4-9", "a", "1")
    diff.run("XADD", key, "0-0", "a", "1")
    diff.run("XADD", key, "x", "a", "1")
    diff.run("XADD", key, "6-1", "a")
    diff.run("XADD", key, "6-1", "", "\x00\xff")
    diff.run("XLEN", key)
    diff.run("XLEN", "missing")
    for start, end in (("-", "+"), ("1", "2"), ("(1-1", "+"), ("-", "(5-1"), ("2-0", "2-0"),
                       ("5", "1"), ("(" + MAXID, "+"), ("-", "(0-0"), ("0-x", "+"),
                       ("(-", "+"), ("1-", "+"), ("-1", "+"), (" 1", "+"), ("+1", "+"),
                       ("01", "+"), ("18446744073709551616", "+"), ("-01", "+")):
        diff.run("XRANGE", key, start, end)
        diff.run("XREVRANGE", key, end, start)
    for count in ("0", "1", "2", "-1", "x"):
        diff.run("XRANGE", key, "-", "+", "COUNT", count)
        diff.run("XREVRANGE", key, "+", "-", "COUNT", count)
    diff.run("XRANGE", key, "-", "+", "COUNT")
    diff.run("XRANGE", key, "-", "+", "LIMIT", "1")
    diff.run("TYPE", key)
    diff.run("OBJECT", "ENCODING", key)
    diff.run("XINFO", "STREAM", key)


def test_id_limits(diff):
    diff.run("XADD", S0, MAXID, "a", "1")
    diff.run("XADD", S0, "*", "a", "1")
    diff.run("XADD", S0, "18446744073709551615-*", "a", "1")
    diff.run("XADD", T0, "18446744073709551615-*", "a", "1")
    diff.run("XADD", T0, "18446744073709551615-*", "a", "1")
    diff.run("XRANGE", T0, "-", "+")
    diff.run("XRANGE", S0, "(18446744073709551614-18446744073709551615", "+")
    diff.run("XREVRANGE", S0, "+", "(18446744073709551615-18446744073709551614")
    diff.run("XADD", S1, "0-1", "a", "1")
    diff.run("XRANGE", S1, "-", "(0-1")
    diff.run("XRANGE", S1, "(0-0", "(0-2")
    diff.run("XINFO", "STREAM", S0)
    diff.run("XSETID", S1, "0-1")
    diff.run("XSETID", S1, "0-0")


def test_wrongtype_and_arity(diff):
    diff.run("SET", S0, "x")
    for command in (("XADD", S0, "*", "a", "1"), ("XLEN", S0), ("XRANGE", S0, "-", "+"),
                    ("XREVRANGE", S0, "+", "-"), ("XDEL", S0, "1-1"), ("XTRIM", S0, "MAXLEN", "1"),
                    ("XREAD", "STREAMS", S0, "0"), ("XSETID", S0, "1-1"),
                    ("XGROUP", "CREATE", S0, "g", "0"), ("XINFO", "STREAM", S0),
                    ("XINFO", "GROUPS", S0), ("XACK", S0, "g", "1-1"), ("XPENDING", S0, "g"),
                    ("XCLAIM", S0, "g", "c", "0", "1-1"), ("XAUTOCLAIM", S0, "g", "c", "0", "0"),
                    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", S0, ">"),
                    ("XADD", S0), ("XADD", S0, "*"), ("XADD", S0, "*", "a"), ("XLEN",),
                    ("XRANGE", S0, "-"), ("XDEL", S0), ("XTRIM", S0, "MAXLEN"),
                    ("XREAD", "STREAMS", S0), ("XGROUP",), ("XGROUP", "CREATE", S0, "g"),
                    ("XGROUP", "NOPE"), ("XINFO",), ("XINFO", "NOPE"), ("XINFO", "STREAM"),
                    ("XINFO", "CONSUMERS", S0), ("XSETID", S0), ("XACK", S0, "g"),
                    ("XPENDING", S0), ("XCLAIM", S0, "g", "c", "0"),
                    ("XAUTOCLAIM", S0, "g", "c", "0")):
        diff.run(*command)


def test_add_options_and_errors(diff):
    for args in (("MAXLEN", "1", "LIMIT", "1"), ("MAXLEN", "-1"), ("LIMIT", "1"),
                 ("MAXLEN", "~", "1", "LIMIT", "-1"), ("MINID", "1", "MAXLEN", "1"),
                 ("MAXLEN", "x"), ("MINID", "x"), ("MINID", "-"), ("MAXLEN", "=", "1"),
                 ("MAXLEN", "~", "1", "LIMIT", "0"), ("NOMKSTREAM",), ("NOMKSTREAM", "MAXLEN", "0"),
                 ("maxlen", "~", "5", "limit", "10"), ("MAXLEN",), ("MAXLEN", "~")):
        diff.run("XADD", S0, *args, "*", "a", "1") if False else None
        diff.run("XADD", T1, *args, "7-*", "a", "1")
    diff.run("XADD", S1, "NOMKSTREAM", "*", "a", "1")
    diff.run("EXISTS", S1)
    diff.run("XRANGE", T1, "-", "+")


def test_trim_exact_and_approximate(diff):
    """Whole nodes go under ~ (100 entries or 4096 bytes a node), exact trims
    leave tombstones, LIMIT caps the work; XINFO's radix-tree figures follow."""
    for key in (S0, S1):
        for i in range(1, 351):
            diff.both("XADD", key, "%d-%d" % (i // 7, i), "field", "v%d" % i)
        diff.run("XINFO", "STREAM", key)
    diff.run("XTRIM", S0, "MAXLEN", "~", "260")
    diff.run("XINFO", "STREAM", S0)
    diff.run("XTRIM", S0, "MAXLEN", "~", "200", "LIMIT", "30")
    diff.run("XTRIM", S0, "MAXLEN", "~", "200", "LIMIT", "100")
    diff.run("XTRIM", S0, "MAXLEN", "205")
    diff.run("XINFO", "STREAM", S0)
    diff.run("XTRIM", S0, "MINID", "~", "40")
    diff.run("XTRIM", S0, "MINID", "41-300")
    diff.run("XINFO", "STREAM", S0)
    diff.run("XTRIM", S0, "MINID", "=", "20")
    diff.run("XTRIM", S0, "MAXLEN", "=", "0")
    diff.run("XINFO", "STREAM", S0)
    diff.run("XADD", S1, "MAXLEN", "~", "10", "60-1", "big", "x" * 3000)
    diff.run("XINFO", "STREAM", S1)
    diff.run("XADD", S1, "MAXLEN", "~", "10", "60-2", "big", "y" * 3000)
    diff.run("XADD", S1, "MINID", "~", "60", "60-3", "a", "1")
    diff.run("XINFO", "STREAM", S1)
    diff.run("XTRIM", S1, "MAXLEN", "~", "0", "LIMIT", "0")
    diff.run("XINFO", "STREAM", S1)
    for args in (("MAXLEN",), ("FOO", "1"), ("LIMIT", "1"), ("MAXLEN", "1", "LIMIT", "1"),
                 ("MAXLEN", "~", "1", "LIMIT", "x"), ("MINID", "~", "x")):
        diff.run("XTRIM", S1, *args)
    diff.run("XTRIM", "missing", "FOO", "1")


def test_delete_and_counters(diff):
    _fill(diff, S0, 10)
    diff.run("XDEL", S0, "1-1", "3-1", "3-1", "99-1")
    diff.run("XDEL", S0, "x")
    diff.run("XDEL", S0, "4-1", "y")
    diff.run("XDEL", "missing", "1-1")
    diff.run("XINFO", "STREAM", S0)
    diff.run("XRANGE", S0, "-", "+")
    diff.run("XREVRANGE", S0, "+", "-", "COUNT", "3")
    diff.run("XDEL", S0, "10-1")
    diff.run("XINFO", "STREAM", S0)
    for i in range(2, 10):
        diff.run("XDEL", S0, "%d-1" % i)
    diff.run("XINFO", "STREAM", S0)
    diff.run("XLEN", S0)
    diff.run("EXISTS", S0)
    diff.run("XADD", S0, "11-1", "f", "v")
    diff.run("XINFO", "STREAM", S0)


def test_setid(diff):
    _fill(diff, S1, 3)
    for args in (("2-1",), ("3-1",), ("9-9", "ENTRIESADDED", "2"), ("9-9", "ENTRIESADDED", "-1"),
                 ("9-9", "MAXDELETEDID", "10-0"), ("9-9", "MAXDELETEDID", "0-0"),
                 ("9-9", "ENTRIESADDED", "7", "MAXDELETEDID", "5-5"), ("9-9", "FOO", "1"),
                 ("9-9", "ENTRIESADDED"), ("x",), ("-",), ("10",)):
        diff.run("XSETID", S1, *args)
        diff.run("XINFO", "STREAM", S1)
    diff.run("XSETID", "missing", "1-1")
    diff.run("XADD", S1, "10-*", "a", "b")
    diff.run("XGROUP", "CREATE", T1, "g", "$", "MKSTREAM")
    diff.run("XSETID", T1, "0-0")
    diff.run("XSETID", T1, "5-5", "ENTRIESADDED", "0")
    diff.run("XINFO", "STREAM", T1)


def test_groups_lifecycle(diff):
    _fill(diff, S0, 5)
    diff.run("XGROUP", "CREATE", S0, "g", "0")
    diff.run("XGROUP", "CREATE", S0, "g", "0")
    diff.run("XGROUP", "CREATE", S0, "h", "$")
    diff.run("XGROUP", "CREATE", S0, "i", "3-1", "ENTRIESREAD", "3")
    diff.run("XGROUP", "CREATE", S0, "j", "3", "ENTRIESREAD", "-2")
    diff.run("XGROUP", "CREATE", S0, "j", "x")
    diff.run("XGROUP", "CREATE", S0, "j", "0", "FOO")
    diff.run("XGROUP", "CREATE", "missing", "g", "0")
    diff.run("XGROUP", "CREATE", T0, "g", "$", "MKSTREAM")
    diff.run("XINFO", "STREAM", T0)
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XINFO", "GROUPS", T0)
    diff.run("XGROUP", "CREATECONSUMER", S0, "g", "alice")
    diff.run("XGROUP", "CREATECONSUMER", S0, "g", "alice")
    diff.run("XGROUP", "CREATECONSUMER", S0, "nog", "alice")
    diff.run("XGROUP", "CREATECONSUMER", "missing", "g", "alice")
    run_masked(diff, "XINFO", "CONSUMERS", S0, "g")
    diff.run("XINFO", "CONSUMERS", S0, "nog")
    diff.run("XINFO", "CONSUMERS", "missing", "g")
    diff.run("XGROUP", "SETID", S0, "g", "2-1")
    diff.run("XGROUP", "SETID", S0, "g", "$", "ENTRIESREAD", "5")
    diff.run("XGROUP", "SETID", S0, "g", "1", "ENTRIESREAD")
    diff.run("XGROUP", "SETID", S0, "nog", "1")
    diff.run("XGROUP", "SETID", "missing", "g", "1")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XGROUP", "DELCONSUMER", S0, "g", "alice")
    diff.run("XGROUP", "DELCONSUMER", S0, "g", "alice")
    diff.run("XGROUP", "DESTROY", S0, "h")
    diff.run("XGROUP", "DESTROY", S0, "h")
    diff.run("XGROUP", "DESTROY", "missing", "h")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XGROUP", "HELP")
    diff.run("XINFO", "HELP")


@pytest.mark.parametrize("key", [S0, S1])
def test_readgroup_ack_pending_claim(diff, key):
    _fill(diff, key, 6)
    diff.run("XGROUP", "CREATE", key, "g", "0")
    diff.run("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", key, ">")
    diff.run("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", key, ">")
    diff.run("XREADGROUP", "GROUP", "g", "carol", "NOACK", "COUNT", "1", "STREAMS", key, ">")
    diff.run("XINFO", "GROUPS", key)
    diff.run("XREADGROUP", "GROUP", "g", "alice", "STREAMS", key, "0")
    diff.run("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", key, "1-1")
    diff.run("XREADGROUP", "GROUP", "g", "dave", "STREAMS", key, "0")
    diff.run("XPENDING", key, "g")
    run_masked(diff, "XPENDING", key, "g", "-", "+", "10")
    run_masked(diff, "XPENDING", key, "g", "-", "+", "10", "alice")
    run_masked(diff, "XPENDING", key, "g", "(1-1", "+", "1")
    run_masked(diff, "XPENDING", key, "g", "IDLE", "0", "-", "+", "10")
    diff.run("XPENDING", key, "g", "IDLE", "100000", "-", "+", "10")
    diff.run("XPENDING", key, "g", "-", "+", "0")
    diff.run("XPENDING", key, "g", "-", "+", "x")
    diff.run("XPENDING", key, "g", "-", "+")
    diff.run("XPENDING", key, "g", "-")
    run_masked(diff, "XPENDING", key, "g", "-", "+", "10", "alice", "extra")
    diff.run("XPENDING", key, "nog")
    diff.run("XACK", key, "g", "1-1", "1-1", "9-9")
    diff.run("XACK", key, "g", "x")
    diff.run("XACK", key, "nog", "1-1")
    diff.run("XACK", "missing", "g", "1-1")
    diff.run("XPENDING", key, "g")
    diff.run("XCLAIM", key, "g", "bob", "0", "2-1", "3-1", "JUSTID")
    diff.run("XCLAIM", key, "g", "bob", "3600000", "2-1")
    diff.run("XCLAIM", key, "g", "erin", "0", "5-1", "FORCE", "RETRYCOUNT", "7")
    diff.run("XCLAIM", key, "g", "erin", "0", "6-1", "LASTID", "6-1", "JUSTID")
    diff.run("XDEL", key, "3-1")
    diff.run("XCLAIM", key, "g", "erin", "0", "3-1", "2-1")
    diff.run("XPENDING", key, "g")
    run_masked(diff, "XPENDING", key, "g", "-", "+", "10")
    for options in (("IDLE", "x"), ("TIME", "x"), ("RETRYCOUNT", "x"), ("BAD",), ("LASTID", "x")):
        diff.run("XCLAIM", key, "g", "erin", "0", "2-1", *options)
    diff.run("XCLAIM", key, "g", "erin", "x", "2-1")
    diff.run("XCLAIM", key, "nog", "erin", "0", "2-1")
    diff.run("XINFO", "GROUPS", key)
    run_masked(diff, "XINFO", "CONSUMERS", key, "g")


def test_autoclaim(diff):
    _fill(diff, S1, 8)
    diff.run("XGROUP", "CREATE", S1, "g", "0")
    diff.run("XREADGROUP", "GROUP", "g", "alice", "STREAMS", S1, ">")
    diff.run("XDEL", S1, "2-1", "5-1")
    diff.run("XAUTOCLAIM", S1, "g", "bob", "0", "0", "COUNT", "3")
    diff.run("XAUTOCLAIM", S1, "g", "bob", "0", "4-1", "COUNT", "3", "JUSTID")
    diff.run("XAUTOCLAIM", S1, "g", "bob", "0", "(7-1")
    diff.run("XAUTOCLAIM", S1, "g", "bob", "3600000", "0")
    diff.run("XPENDING", S1, "g")
    for args in (("x", "0"), ("0", "x"), ("0", "0", "COUNT", "0"), ("0", "0", "COUNT", "x"),
                 ("0", "0", "FOO")):
        diff.run("XAUTOCLAIM", S1, "g", "bob", *args)
    diff.run("XAUTOCLAIM", S1, "nog", "bob", "0", "0")
    diff.run("XAUTOCLAIM", "missing", "g", "bob", "0", "0")


def test_entries_read_and_lag(diff):
    """7.0's counters through deletions, trims and SETID."""
    _fill(diff, S0, 6)
    diff.run("XGROUP", "CREATE", S0, "g", "0")
    diff.run("XGROUP", "CREATE", S0, "late", "$")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", S0, ">")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XDEL", S0, "4-1")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", S0, ">")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", S0, ">")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XADD", S0, "7-1", "f", "v")
    diff.run("XTRIM", S0, "MAXLEN", "3")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XGROUP", "SETID", S0, "g", "0")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XGROUP", "SETID", S0, "g", "6-1", "ENTRIESREAD", "3")
    diff.run("XINFO", "GROUPS", S0)
    diff.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", S0, ">")
    diff.run("XINFO", "GROUPS", S0)
    run_masked(diff, "XINFO", "STREAM", S0, "FULL")
    run_masked(diff, "XINFO", "STREAM", S0, "FULL", "COUNT", "1")
    run_masked(diff, "XINFO", "STREAM", S0, "FULL", "COUNT", "0")
    diff.run("XINFO", "STREAM", S0, "FULL", "COUNT")
    diff.run("XINFO", "STREAM", S0, "FOO")


def test_read(diff):
    _fill(diff, S0, 3)
    _fill(diff, T0, 2)
    diff.run("XREAD", "STREAMS", S0, "0")
    diff.run("XREAD", "COUNT", "1", "STREAMS", S0, T0, "0", "1-1")
    diff.run("XREAD", "STREAMS", S0, "$")
    diff.run("XREAD", "STREAMS", S0, "3-1")
    diff.run("XREAD", "STREAMS", "missing", "0")
    diff.run("XREAD", "STREAMS", S0, MAXID)
    diff.run("XREAD", "COUNT", "-5", "STREAMS", S0, "0")
    for args in (("STREAMS", S0, T0, "0"), ("COUNT", "x", "STREAMS", S0, "0"),
                 ("FOO", "STREAMS", S0, "0"), ("GROUP", "g", "c", "STREAMS", S0, "0"),
                 ("NOACK", "STREAMS", S0, "0"), ("STREAMS", S0, ">"), ("STREAMS", S0, "x"),
                 ("BLOCK", "x", "STREAMS", S0, "0"), ("BLOCK", "-1", "STREAMS", S0, "0"),
                 ("COUNT", "1", S0, "0"), ("STREAMS", S0, "+"), ("STREAMS", S0, "-")):
        diff.run("XREAD", *args)
    diff.run("XREAD", "BLOCK", "10", "STREAMS", S0, "0")
    diff.run("XREAD", "BLOCK", "10", "STREAMS", S0, "$")
    diff.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", S0, ">")
    diff.run("XGROUP", "CREATE", S0, "g", "0")
    for args in (("STREAMS", S0, "$"), ("STREAMS", S0), ("COUNT", "1", "STREAMS", S0, ">"),
                 ("STREAMS", S0, "x")):
        diff.run("XREADGROUP", "GROUP", "g", "c", *args)
    diff.run("XREADGROUP", "STREAMS", S0, ">")
    diff.run("XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", S0, ">")


def test_resp3_replies(diff):
    for client in (diff.ref, diff.ours):
        client.call("HELLO", "3")
    _fill(diff, S1, 3)
    diff.run("XREAD", "STREAMS", S1, "0")
    diff.run("XREAD", "STREAMS", S1, "$")
    diff.run("XGROUP", "CREATE", S1, "g", "0")
    diff.run("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", S1, ">")
    diff.run("XINFO", "STREAM", S1)
    diff.run("XINFO", "GROUPS", S1)
    diff.run("XPENDING", S1, "g")
    diff.run("XAUTOCLAIM", S1, "g", "d", "0", "0", "JUSTID")
    run_masked(diff, "XINFO", "STREAM", S1, "FULL")
    run_masked(diff, "XINFO", "CONSUMERS", S1, "g")


def test_copy_within_a_shard_is_independent(diff):
    source, target = names_on_shard(0, 2, "cp")
    _fill(diff, source, 3)
    diff.run("XGROUP", "CREATE", source, "g", "0")
    diff.run("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", source, ">")
    diff.run("COPY", source, target)
    diff.run("XACK", target, "g", "1-1")
    diff.run("XADD", target, "9-1", "x", "y")
    for key in (source, target):
        diff.run("XPENDING", key, "g")
        diff.run("XINFO", "STREAM", key)


def test_dump_is_byte_identical_and_restores_both_ways(diff):
    """Streams built by XADD (several nodes, mixed field sets, big values)
    dump to redis-server's bytes; each server restores the other's payload."""
    for i in range(1, 260):
        fields = ("a", str(i)) if i % 3 else ("a", str(i), "b", "x" * (i % 50))
        diff.both("XADD", S0, "%d-%d" % (1000 + i // 2, i), *fields)
    diff.both("XADD", S0, "5000-*", "big", "z" * 5000)
    diff.both("XADD", S0, "5000-*", "n", "-12345678901")
    diff.run("DUMP", S0)
    diff.run("XADD", T0, MAXID, "a", "1")
    diff.run("DUMP", T0)
    # groups, PEL and consumers: payloads travel both ways
    diff.run("XGROUP", "CREATE", S0, "g", "0")
    diff.run("XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "STREAMS", S0, ">")
    diff.run("XDEL", S0, "1001-3")
    theirs, ours = diff.both("DUMP", S0)
    diff.ref.call("RESTORE", S1, "0", ours)
    diff.ours.call("RESTORE", S1, "0", theirs)
    diff.run("XRANGE", S1, "-", "+")
    diff.run("XINFO", "GROUPS", S1)
    run_masked(diff, "XINFO", "STREAM", S1, "FULL")
    diff.run("XINFO", "STREAM", S1)


def test_keys_on_both_shards_move_whole(diff):
    """Multi-key forms: XREAD across shards, RENAME/COPY of a stream."""
    _fill(diff, S0, 2)
    _fill(diff, S1, 2, start=5)
    diff.run("XREAD", "STREAMS", S0, S1, "0", "0")
    diff.run("XREAD", "COUNT", "1", "STREAMS", S1, S0, "0", "1-1")
    diff.run("XGROUP", "CREATE", S0, "g", "0")
    diff.run("XGROUP", "CREATE", S1, "g", "0")
    diff.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", S0, S1, ">", ">")
    diff.run("COPY", S0, T1)
    diff.run("RENAME", S1, T0)
    diff.run("XINFO", "GROUPS", T1)
    diff.run("XRANGE", T0, "-", "+")
    diff.run("XPENDING", T0, "g")


def test_expiry_is_honoured(diff):
    _fill(diff, S0, 2)
    diff.run("PEXPIRE", S0, "1")
    import time
    time.sleep(0.02)
    diff.run("XLEN", S0)
    diff.run("XADD", S0, "1-1", "a", "b")
    diff.run("XLEN", S0)


def test_config_node_limits(server, redis_ref):
    ref, ours = RawClient(redis_ref.port), RawClient(server.port)
    try:
        for client in (ref, ours):
            client.call("FLUSHALL")
        for name in ("stream-node-max-entries", "stream-node-max-bytes"):
            assert ours.call("CONFIG", "GET", name) == ref.call("CONFIG", "GET", name)
        for client in (ref, ours):
            client.call("CONFIG", "SET", "stream-node-max-entries", "3")
            for i in range(1, 12):
                client.call("XADD", S1, "%d-1" % i, "f", "v")
        assert ours.call("DUMP", S1) == ref.call("DUMP", S1)
        assert ours.call("XINFO", "STREAM", S1) == ref.call("XINFO", "STREAM", S1)
    finally:
        for client in (ref, ours):
            client.call("CONFIG", "SET", "stream-node-max-entries", "100")
            client.close()


# -- a random walk: replies and final DUMPs ---------------------------------------

KEYS = (S0, S1)
_IDS = st.builds(lambda ms, seq: "%d-%d" % (ms, seq), st.integers(0, 30), st.integers(0, 3))
_FIELDS = st.lists(st.sampled_from(["a", "b", "c", "1", "-7", "x" * 70]), min_size=1, max_size=3)
STEPS = st.one_of(
    st.tuples(st.just("XADD"), _IDS, _FIELDS),
    st.tuples(st.just("XADD-TRIM"), st.sampled_from(["MAXLEN", "MINID"]),
              st.sampled_from(["=", "~"]), st.integers(0, 30), _FIELDS),
    st.tuples(st.just("XDEL"), st.lists(_IDS, min_size=1, max_size=3)),
    st.tuples(st.just("XTRIM"), st.sampled_from(["MAXLEN", "MINID"]), st.sampled_from(["=", "~"]),
              st.integers(0, 30)),
    st.tuples(st.just("XRANGE"), _IDS, _IDS, st.integers(-1, 5)),
    st.tuples(st.just("XREVRANGE"), _IDS, _IDS),
    st.tuples(st.just("XGROUP"), st.sampled_from(["g", "h"]), _IDS),
    st.tuples(st.just("XREADGROUP"), st.sampled_from(["g", "h"]), st.sampled_from(["c", "d"]),
              st.integers(0, 3), st.sampled_from([">", "0"]), st.booleans()),
    st.tuples(st.just("XACK"), st.sampled_from(["g", "h"]), _IDS),
    st.tuples(st.just("XSETID"), _IDS),
    st.tuples(st.just("INFO"), st.sampled_from(["GROUPS", "STREAM"])),
)


def _request(key, step):
    kind = step[0]
    if kind == "XADD":
        fields = step[2]
        return ["XADD", key, step[1]] + [x for f in fields for x in (f, f)]
    if kind == "XADD-TRIM":
        threshold = str(step[3]) if step[1] == "MAXLEN" else "%d-0" % step[3]
        return ["XADD", key, step[1], step[2], threshold, "*"] + \
            [x for f in step[4] for x in (f, "v")]
    if kind == "XDEL":
        return ["XDEL", key] + step[1]
    if kind == "XTRIM":
        threshold = str(step[3]) if step[1] == "MAXLEN" else "%d-0" % step[3]
        return ["XTRIM", key, step[1], step[2], threshold]
    if kind == "XRANGE":
        return ["XRANGE", key, step[1], step[2]] + (["COUNT", str(step[3])] if step[3] >= 0 else [])
    if kind == "XREVRANGE":
        return ["XREVRANGE", key, step[1], step[2]]
    if kind == "XGROUP":
        return ["XGROUP", "CREATE", key, step[1], step[2], "MKSTREAM"]
    if kind == "XREADGROUP":
        extra = ["NOACK"] if step[5] else []
        return ["XREADGROUP", "GROUP", step[1], step[2], "COUNT", str(step[3])] + extra + \
            ["STREAMS", key, step[4]]
    if kind == "XACK":
        return ["XACK", key, step[1], step[2]]
    if kind == "XSETID":
        return ["XSETID", key, step[1]]
    return ["XINFO", step[1], key]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(st.tuples(st.sampled_from(KEYS), STEPS), max_size=25))
def test_random_walk_matches_redis(diff, steps):
    diff.both("FLUSHALL")
    for key, step in steps:
        request = _request(key, step)
        if request[0] == "XADD" and request[5:6] == ["*"]:
            # auto ids differ by the clock: give both the same explicit one
            last = diff.ref.call("XINFO", "STREAM", key)
            request[5] = "%d-*" % (int(last[7].split(b"-")[0]) + 1) \
                if isinstance(last, list) else "1-*"
        diff.run(*request)
    for key in KEYS:
        _same_final_state(diff, key)


def _same_final_state(diff, key):
    """DUMPs equal byte for byte, unless consumers (whose seen-times are the
    clock's) are in it: then each server's payload restores in redis-server
    to the same masked XINFO STREAM FULL."""
    theirs, ours = diff.both("DUMP", key)
    if theirs == ours:
        return
    assert theirs is not None and ours is not None, (theirs, ours)
    full = diff.ref.call("XINFO", "STREAM", key, "FULL", "COUNT", "0")
    assert any(group[-1] for group in full[full.index(b"groups") + 1]), "only consumers differ"
    diff.ref.call("RESTORE", "copied", "0", ours)
    restored = diff.ref.call("XINFO", "STREAM", "copied", "FULL", "COUNT", "0")
    diff.ref.call("DEL", "copied")
    assert _masked(restored) == _masked(full)


def test_command_getkeys(diff):
    for request in (("XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "0", "$"),
                    ("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "a", ">"),
                    ("XREAD", "STREAMS", "a"), ("XADD", "a", "*", "f", "v"),
                    ("XGROUP", "CREATE", "a", "g", "$"), ("XINFO", "STREAM", "a")):
        diff.run("COMMAND", "GETKEYS", *request)
    diff.run("COMMAND", "GETKEYSANDFLAGS", "XREAD", "STREAMS", "a", "b", "0", "0")


def test_nodes_are_cut_by_bytes_as_redis_cuts_them(diff):
    """Values of many lengths (integers among them) so that nodes end near
    stream-node-max-bytes in every way; the DUMPs must be equal."""
    import random

    rng = random.Random(7)
    for key in (S0, S1):
        for i in range(1, 400):
            size = rng.choice((1, 5, 60, 63, 64, 120, 127, 128, 300, 1000, 4000))
            value = str(rng.randrange(10 ** min(size, 18))) if rng.random() < 0.2 else "v" * size
            fields = ("f", value) if rng.random() < 0.7 else ("g", value, "h", "1")
            diff.both("XADD", key, "%d-%d" % (i, rng.randrange(3)), *fields)
        diff.run("XINFO", "STREAM", key)
        diff.run("DUMP", key)
